/* Reno (RFC 5681) and NewReno (RFC 6582) congestion control, with the
 * initial window of RFC 6928 and appropriate byte counting (RFC 3465).
 * NewReno differs only in recovery. The shared pieces are used by CUBIC
 * too (tcp_cc_cubic.c). */
#include "tcp_cc.h"

/* RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)). */
uint32_t tl_cc_iw(const struct tl_sock *s) {
  uint32_t mss = s->snd_mss;
  uint32_t iw = 14600 > 2 * mss ? 14600 : 2 * mss;
  return iw < 10 * mss ? iw : 10 * mss;
}

void tl_cc_initial_window(struct tl_sock *s) {
  s->cwnd = tl_cc_iw(s);
  s->ssthresh = UINT32_MAX; /* RFC 5681 3.1: arbitrarily high */
  s->cc_acc = 0;
  s->ss_after_rto = 0;
}

/* RFC 3465 2.2: cwnd += min(N, L*SMSS), L = 2 (2.3: L = 1 in the slow start
 * that follows a retransmission timeout, when ACKs may cover segments that
 * left the network long ago). Counting bytes, not ACKs, keeps delayed ACKs
 * from halving the growth rate. */
void tl_cc_slow_start(struct tl_sock *s, uint32_t acked) {
  uint32_t lim = (s->ss_after_rto ? 1u : 2u) * s->snd_mss;
  s->cwnd += acked < lim ? acked : lim;
  if (s->cwnd >= s->ssthresh) s->ss_after_rto = 0;
}

static void reno_on_ack(struct tl_sock *s, uint32_t acked, uint32_t rtt_us, int64_t now) {
  (void)rtt_us;
  (void)now;
  if (s->cwnd < s->ssthresh) {
    tl_cc_slow_start(s, acked);
  } else {
    /* RFC 5681 3.1 eq. 3 via byte counting (RFC 3465 2.1): one SMSS per
     * cwnd of bytes acked. */
    s->cc_acc += acked;
    if (s->cc_acc >= s->cwnd) {
      s->cc_acc -= s->cwnd;
      s->cwnd += s->snd_mss;
    }
  }
}

static void reno_on_loss(struct tl_sock *s, int kind, uint32_t flight) {
  uint32_t mss = s->snd_mss;
  if (kind == TL_CC_LOSS_TIMEOUT) tcp_undo_arm_timeout(s);
  /* RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). After a
   * timeout on an already retransmitted segment it is held constant. */
  if (kind == TL_CC_LOSS_FAST || s->retries <= 1) s->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
  if (kind == TL_CC_LOSS_TIMEOUT) {
    s->cwnd = mss; /* loss window, RFC 5681 3.1 */
    s->ss_after_rto = 1;
  } else {
    s->cwnd = s->ssthresh + 3 * mss; /* RFC 5681 3.2 step 4 */
  }
  s->cc_acc = 0;
}

static void reno_on_recovery_exit(struct tl_sock *s) { s->cwnd = s->ssthresh; } /* 3.2 step 6 */

/* RFC 6582 3.2 step 5: deflate by the amount acked, add back one SMSS if
 * that was at least one SMSS, so about ssthresh stays in flight. */
void tl_cc_newreno_partial_ack(struct tl_sock *s, uint32_t acked) {
  s->cwnd = s->cwnd > acked ? s->cwnd - acked : s->snd_mss;
  if (acked >= s->snd_mss) s->cwnd += s->snd_mss;
}

/* RFC 6582 3.2 step 6 ("full ACK"), option 1:
 * cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). */
void tl_cc_newreno_recovery_exit(struct tl_sock *s) {
  uint32_t flight = s->snd_max - s->snd_una;
  uint32_t w = (flight > s->snd_mss ? flight : s->snd_mss) + s->snd_mss;
  s->cwnd = w < s->ssthresh ? w : s->ssthresh;
}

const struct tl_cc_ops tl_cc_newreno = {
    .name = "newreno",
    .init = tl_cc_initial_window,
    .on_ack = reno_on_ack,
    .on_loss = reno_on_loss,
    .on_recovery_exit = tl_cc_newreno_recovery_exit,
    .on_partial_ack = tl_cc_newreno_partial_ack,
};

const struct tl_cc_ops tl_cc_reno = {
    .name = "reno",
    .init = tl_cc_initial_window,
    .on_ack = reno_on_ack,
    .on_loss = reno_on_loss,
    .on_recovery_exit = reno_on_recovery_exit,
};
