/* Pluggable congestion control. The sender calls these hooks; the module
 * owns cwnd/ssthresh (and may keep private state in cc_acc and s->cubic).
 * CUBIC (RFC 9438, tcp_cc_cubic.c) is the default; Reno (RFC 5681) and
 * NewReno (RFC 6582) are in tcp_cc_reno.c, BBR v1 (draft-cardwell-iccrg-
 * bbr-congestion-control-00) in tcp_cc_bbr.c. Chosen per socket with
 * TL_OPT_CONGESTION (0 Reno, 1 NewReno, 2 CUBIC, 3 BBR), the default by
 * the tcp_cc option. */
#ifndef TL_TCP_CC_H
#define TL_TCP_CC_H
#include "tcp_tcb.h"

enum tl_cc_loss { TL_CC_LOSS_FAST = 0, TL_CC_LOSS_TIMEOUT = 1 };

/* A delivery rate sample (draft-cheng-iccrg-delivery-rate-estimation 3.3),
 * one per ACK, from the transmit log (tcp_rate.c). */
struct tl_rate_sample {
  int64_t prior_time;       /* P.delivered_time of the newest range delivered, 0: none */
  int64_t interval_us;      /* over which `delivered` arrived; -1: no valid sample */
  int32_t delivered;        /* bytes delivered in the interval; -1: no valid sample */
  uint32_t prior_delivered; /* P.delivered of that range */
  uint32_t acked_sacked;    /* bytes this ACK delivered (cumulatively or by SACK) */
  uint32_t losses;          /* bytes this ACK had judged lost */
  uint32_t prior_in_flight; /* the pipe before the ACK (the module fills it in) */
  uint32_t rtt_us;          /* RTT of the newest range delivered, never resent; 0: none */
  uint8_t is_app_limited;   /* P.is_app_limited */
  uint8_t is_retrans;
};

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
  /* Non-NULL: the module sets cwnd itself on every ACK, duplicates and
   * recovery included, from the ACK's rate sample (as Linux's
   * cong_control); the sender keeps the transmit log for it and skips
   * PRR and undo. */
  void (*cong_control)(struct tl_sock *s, struct tl_rate_sample *rs, int64_t now);
  /* Optional: data leaves with nothing outstanding (Linux's
   * CA_EVENT_TX_START), before the segment is sent. */
  void (*on_tx_start)(struct tl_sock *s, int64_t now);
};

extern const struct tl_cc_ops tl_cc_reno;
extern const struct tl_cc_ops tl_cc_newreno;
extern const struct tl_cc_ops tl_cc_cubic;
extern const struct tl_cc_ops tl_cc_bbr;
/* TL_OPT_CONGESTION's values, in order; NULL beyond. */
const struct tl_cc_ops *tl_cc_by_index(int64_t v);
int tl_cc_index(const struct tl_cc_ops *cc);

enum tl_bbr_mode { TL_BBR_STARTUP = 0, TL_BBR_DRAIN = 1, TL_BBR_PROBE_BW = 2, TL_BBR_PROBE_RTT = 3 };
/* The rate sample and the module's state live in the transmit log
 * (tcp_txlog.h); the sender asks whether it must keep one. */
static inline int tcp_cc_wants_rate(const struct tl_sock *s) { return s->cc->cong_control != NULL; }
/* The pipe as the sender counts it now (tcp_output.c's flight). */
uint32_t tcp_cc_inflight(const struct tl_sock *s);
/* Pacing: 0 if a segment may leave now, else the time it may. */
int64_t tcp_pace_wait(const struct tl_sock *s, int64_t now);
/* The most one segment may carry when paced: about a millisecond of the
 * rate (as Linux's TSO autosizing), at least two segments, at most max. */
uint32_t tcp_pace_burst(const struct tl_sock *s, uint32_t max);
/* Pacing (tcp_rate.c): a data segment of len bytes left at now. */
void tcp_pace_sent(struct tl_sock *s, uint32_t len, int64_t now);
/* After an ACK's deliveries and loss marking (tcp_ack.c). */
void tcp_cc_model_ack(struct tl_sock *s, int64_t now);
/* draft-cheng 3.4: the sender ran out of data with room in cwnd. */
void tcp_rate_check_app_limited(struct tl_sock *s, uint32_t unsent);

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
