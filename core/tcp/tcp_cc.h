/* Pluggable congestion control. The sender calls these hooks; the module
 * owns cwnd/ssthresh (and may keep private state in cc_acc and s->cubic).
 * CUBIC (RFC 9438, tcp_cc_cubic.c) is the default; Reno (RFC 5681) and
 * NewReno (RFC 6582) are in tcp_cc_reno.c. Chosen per socket with
 * TL_OPT_CONGESTION (0 Reno, 1 NewReno, 2 CUBIC). */
#ifndef TL_TCP_CC_H
#define TL_TCP_CC_H
#include "tcp_tcb.h"

enum tl_cc_loss { TL_CC_LOSS_FAST = 0, TL_CC_LOSS_TIMEOUT = 1 };

struct tl_cc_ops {
  const char *name;
  /* Connection synchronized: set the initial window. */
  void (*init)(struct tl_sock *s);
  /* New data acknowledged outside recovery: `acked` bytes, rtt_us 0 if no
   * sample, `now` the stack's time in microseconds. */
  void (*on_ack)(struct tl_sock *s, uint32_t acked, uint32_t rtt_us, int64_t now);
  /* Loss detected: third duplicate ACK, or retransmission timeout. `flight`
   * is the data outstanding when it was detected. */
  void (*on_loss)(struct tl_sock *s, int kind, uint32_t flight);
  /* Recovery ends (the ACK for new data arrived). */
  void (*on_recovery_exit)(struct tl_sock *s);
  /* A partial ACK (below `recover`) in recovery: `acked` bytes. NULL means
   * Reno: any new ACK ends recovery. Non-NULL keeps recovery going and the
   * sender retransmits the next hole (RFC 6582 3.2 step 5). */
  void (*on_partial_ack)(struct tl_sock *s, uint32_t acked);
};

extern const struct tl_cc_ops tl_cc_reno;
extern const struct tl_cc_ops tl_cc_newreno;
extern const struct tl_cc_ops tl_cc_cubic;

/* Shared pieces (tcp_cc_reno.c). */
/* RFC 6928 initial window; ssthresh "arbitrarily high". */
uint32_t tl_cc_iw(const struct tl_sock *s);
void tl_cc_initial_window(struct tl_sock *s);
/* Slow start with appropriate byte counting (RFC 3465 2.2): cwnd grows by
 * the bytes acked, at most L = 2*SMSS per ACK (1*SMSS right after an RTO,
 * RFC 3465 2.3). */
void tl_cc_slow_start(struct tl_sock *s, uint32_t acked);
void tl_cc_newreno_partial_ack(struct tl_sock *s, uint32_t acked);
void tl_cc_newreno_recovery_exit(struct tl_sock *s);

/* Spurious retransmission undo (tcp_cc_undo.c: RFC 3522, RFC 3708, RFC 9438 4.9). */
/* Before the window is reduced for a fast retransmit sent at `now`. */
void tcp_undo_arm(tl_stack *st, struct tl_sock *s, int64_t now);
/* Before the window is reduced for a retransmission timeout (from the
 * modules' on_loss); also resets a learnt DupThresh that hid a loss. */
void tcp_undo_arm_timeout(struct tl_sock *s);
/* On each ACK of new data, before recovery and the window react to it. */
void tcp_undo_check(tl_stack *st, struct tl_sock *s, uint32_t ack, uint32_t tsecr);
/* A D-SACK block [start, end) arrived (RFC 2883 4, tcp_sack.c): one more
 * retransmission reported as a duplicate (RFC 3708). */
void tcp_undo_dsack(tl_stack *st, struct tl_sock *s, uint32_t start, uint32_t end);

/* Idle and application-limited periods (tcp_cc_idle.c). */
/* The application queues data: if nothing was outstanding, the window
 * restarts after an idle RTO (RFC 5681 4.1), and CUBIC's clock skips the
 * idle time (RFC 9438 5.8). */
void tcp_cc_send_resume(tl_stack *st, struct tl_sock *s, int64_t now);
/* An ACK of new data while the window did not limit the sender. */
void tcp_cc_app_limited(struct tl_sock *s, int64_t now);
#endif
