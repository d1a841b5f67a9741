/* Reno (RFC 5681) and NewReno (RFC 6582) congestion control, with the
 * initial window of RFC 6928. NewReno differs only in recovery. */
#include "tcp_cc.h"

/* RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)). */
static void reno_init(struct tl_sock *s) {
  uint32_t mss = s->snd_mss;
  uint32_t iw = 14600 > 2 * mss ? 14600 : 2 * mss;
  s->cwnd = iw < 10 * mss ? iw : 10 * mss;
  s->ssthresh = UINT32_MAX; /* RFC 5681 3.1: arbitrarily high */
  s->cc_acc = 0;
}

static void reno_on_ack(struct tl_sock *s, uint32_t acked, uint32_t rtt_us) {
  (void)rtt_us;
  uint32_t mss = s->snd_mss;
  if (s->cwnd < s->ssthresh) {
    /* RFC 5681 3.1 eq. 2: slow start, cwnd += min(N, SMSS) */
    s->cwnd += acked < mss ? acked : mss;
  } else {
    /* RFC 5681 3.1 eq. 3 via byte counting: one SMSS per cwnd acked. */
    s->cc_acc += acked;
    if (s->cc_acc >= s->cwnd) {
      s->cc_acc -= s->cwnd;
      s->cwnd += mss;
    }
  }
}

static void reno_on_loss(struct tl_sock *s, int kind, uint32_t flight) {
  uint32_t mss = s->snd_mss;
  /* RFC 5681 3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). After a
   * timeout on an already retransmitted segment it is held constant. */
  if (kind == TL_CC_LOSS_FAST || s->retries <= 1) s->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
  if (kind == TL_CC_LOSS_TIMEOUT)
    s->cwnd = mss; /* loss window, RFC 5681 3.1 */
  else
    s->cwnd = s->ssthresh + 3 * mss; /* RFC 5681 3.2 step 4 */
  s->cc_acc = 0;
}

static void reno_on_dupack(struct tl_sock *s) { s->cwnd += s->snd_mss; } /* 3.2 step 5 */

static void reno_on_recovery_exit(struct tl_sock *s) { s->cwnd = s->ssthresh; } /* 3.2 step 6 */

/* RFC 6582 3.2 step 5: deflate by the amount acked, add back one SMSS if
 * that was at least one SMSS, so about ssthresh stays in flight. */
static void newreno_on_partial_ack(struct tl_sock *s, uint32_t acked) {
  s->cwnd = s->cwnd > acked ? s->cwnd - acked : s->snd_mss;
  if (acked >= s->snd_mss) s->cwnd += s->snd_mss;
}

/* RFC 6582 3.2 step 6 ("full ACK"): cwnd = min(ssthresh, FlightSize + SMSS). */
static void newreno_on_recovery_exit(struct tl_sock *s) {
  uint32_t flight = s->snd_max - s->snd_una;
  uint32_t w = flight + s->snd_mss;
  s->cwnd = w < s->ssthresh ? w : s->ssthresh;
}

const struct tl_cc_ops tl_cc_newreno = {
    .name = "newreno",
    .init = reno_init,
    .on_ack = reno_on_ack,
    .on_loss = reno_on_loss,
    .on_dupack = reno_on_dupack,
    .on_recovery_exit = newreno_on_recovery_exit,
    .on_partial_ack = newreno_on_partial_ack,
};

const struct tl_cc_ops tl_cc_reno = {
    .name = "reno",
    .init = reno_init,
    .on_ack = reno_on_ack,
    .on_loss = reno_on_loss,
    .on_dupack = reno_on_dupack,
    .on_recovery_exit = reno_on_recovery_exit,
};
