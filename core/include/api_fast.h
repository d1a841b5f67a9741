#ifndef TL_API_FAST_H
#define TL_API_FAST_H
/* Fast-path introspection for specs and benchmarks (not part of the stable
 * API). The FFI declarations are generated from it (tcplua.h). */

/* Which of a socket's buffers hold storage right now: 1 send, 2 receive. */
int tl_sock_buffers_held(const tl_sock *s);
/* Older names of tl_stack_batch (api.h) for one kind: open (1) or close
 * (0) TL_BATCH_RX or TL_BATCH_TX, leaving the other as it is. */
void tl_tcp_rx_batch(tl_stack *st, int on);
void tl_tcp_tx_batch(tl_stack *st, int on);
#endif
