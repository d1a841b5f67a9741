/* Fast-path introspection for specs and benchmarks (not part of the stable
 * API). Parsed verbatim by ffi.cdef like api.h: no preprocessor lines, no
 * macros, no inline functions. */

/* Which of a socket's buffers hold storage right now: 1 send, 2 receive. */
int tl_sock_buffers_held(const tl_sock *s);
/* The host is about to feed (1) or has fed (0) a batch of datagrams read in
 * one wake-up: in between, ACKs owed for every second segment wait for the
 * next tl_stack_poll, so a batch costs one ACK per connection. */
void tl_tcp_rx_batch(tl_stack *st, int on);
/* The application is about to run (1) or has run (0): in between, data it
 * queues with tl_send on a connection with a whole TSO super-segment in
 * flight waits for the next tl_stack_poll, which sends all of it at once,
 * so successive writes fill whole super-segments instead of each going out
 * on its own (an autocork at the application's step). Other connections,
 * and urgent data, are sent at once as without it. */
void tl_tcp_tx_batch(tl_stack *st, int on);
/* The next datagrams fed (until called with 0) carry a TCP checksum the
 * link left partial (a GRO'd segment from the local kernel, virtio
 * NEEDS_CSUM): TCP takes them without verifying it. */
void tl_tcp_rx_csum_partial(tl_stack *st, int on);
