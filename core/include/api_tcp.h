#ifndef TL_API_TCP_H
#define TL_API_TCP_H
/* TCP engine introspection for specs and benchmarks (not part of the stable
 * API). The FFI declarations are generated from it (tcplua.h). */

/* Bytes of one connection's control block (buffers are extra, allocated
 * only while they hold data). */
size_t tl_tcp_sock_size(void);
/* Bytes of memory the stack's TCP holds for its sockets: control blocks,
 * loss states (scoreboard, out-of-order set, undo), ring storage and the
 * 4-tuple table, as allocated (malloc's own headers not counted). */
size_t tl_tcp_mem_bytes(const tl_stack *st);
/* Of those, the send and receive rings' storage alone. */
size_t tl_tcp_ring_bytes(const tl_stack *st);
/* Connections holding a loss state (SACK scoreboard, out-of-order set,
 * undo snapshot) now. */
uint32_t tl_tcp_loss_count(const tl_stack *st);
/* At most max loss states at once (default: no limit); beyond it a
 * connection behaves as when out of memory. For specs. */
void tl_tcp_set_loss_limit(tl_stack *st, uint32_t max);
/* Sockets the stack holds: every connection, listener and closed handle. */
uint32_t tl_tcp_sock_count(const tl_stack *st);
/* Connections in the 4-tuple table (SYN-SENT .. TIME-WAIT). */
uint32_t tl_tcp_conn_count(const tl_stack *st);
/* Connections with a timer armed (entries in the timing wheel). */
uint32_t tl_tcp_timer_count(const tl_stack *st);
/* Name of the congestion control module a socket uses ("reno"). */
const char *tl_tcp_cc_name(const tl_sock *s);
/* The next socket the application holds after prev (NULL: the first), not
 * counting listeners; NULL when there are no more. For teardown. */
tl_sock *tl_next_user_sock(tl_stack *st, tl_sock *prev);
/* Which options a passive open takes up when a peer's SYN offers them:
 * RFC 7323 timestamps, RFC 2018 SACK-permitted (1 take up, the default; 0
 * decline, as a peer without them would). Active opens still offer both.
 * For specs of paths without timestamps or SACK. */
void tl_tcp_accept_options(tl_stack *st, int timestamps, int sack);
/* CUBIC's t (RFC 9438 4.2): the time its curve has run in the current
 * epoch as of now, in microseconds; -1 when no epoch has started. */
int64_t tl_tcp_cubic_elapsed_us(const tl_sock *s, int64_t now);
/* BBR's model (TL_OPT_CONGESTION 3, core/tcp/cc/tcp_cc_bbr.c). mode: 0
 * STARTUP, 1 DRAIN, 2 PROBE_BW, 3 PROBE_RTT; gains in 1/256. All zero
 * before the first ACK of data. TL_EINVAL if the socket does not use BBR. */
typedef struct tl_bbr_info {
  uint64_t bw_bps;          /* bottleneck bandwidth estimate, bits per second */
  uint64_t pacing_rate_bps; /* pacing_gain x bw (computed; the sender is cwnd-limited) */
  uint32_t min_rtt_us;      /* round-trip propagation estimate, 0 none */
  uint32_t bdp;             /* bw x min_rtt, bytes */
  uint32_t round;           /* round trips counted */
  uint16_t pacing_gain, cwnd_gain;
  uint8_t mode;
  uint8_t full_bw_reached;
} tl_bbr_info;
int tl_tcp_bbr_info(const tl_sock *s, tl_bbr_info *i);
#endif
