/* Pluggable congestion control. The sender calls these hooks; the module
 * owns cwnd/ssthresh (and may keep private state in cc_acc). Reno (RFC 5681)
 * is the default; NewReno and CUBIC slot in as further tables. */
#ifndef TL_TCP_CC_H
#define TL_TCP_CC_H
#include "tcp_tcb.h"

enum tl_cc_loss { TL_CC_LOSS_FAST = 0, TL_CC_LOSS_TIMEOUT = 1 };

struct tl_cc_ops {
  const char *name;
  /* Connection synchronized: set the initial window. */
  void (*init)(struct tl_sock *s);
  /* New data acknowledged outside recovery: `acked` bytes, rtt_us 0 if no sample. */
  void (*on_ack)(struct tl_sock *s, uint32_t acked, uint32_t rtt_us);
  /* Loss detected: third duplicate ACK, or retransmission timeout. `flight`
   * is the data outstanding when it was detected. */
  void (*on_loss)(struct tl_sock *s, int kind, uint32_t flight);
  /* A further duplicate ACK during fast recovery. */
  void (*on_dupack)(struct tl_sock *s);
  /* Recovery ends (the ACK for new data arrived). */
  void (*on_recovery_exit)(struct tl_sock *s);
  /* A partial ACK (below `recover`) in recovery: `acked` bytes. NULL means
   * Reno: any new ACK ends recovery. Non-NULL keeps recovery going and the
   * sender retransmits the next hole (RFC 6582 3.2 step 5). */
  void (*on_partial_ack)(struct tl_sock *s, uint32_t acked);
};

extern const struct tl_cc_ops tl_cc_reno;
extern const struct tl_cc_ops tl_cc_newreno;
#endif
