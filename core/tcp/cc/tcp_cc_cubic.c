/* CUBIC congestion control (RFC 9438), the default. Slow start is the
 * shared byte-counting one (RFC 3465); recovery without SACK follows
 * NewReno (RFC 6582), with SACK the RFC 6675 loop in tcp_sack.c. Window
 * arithmetic is in bytes; the cubic curve is in segments and seconds as the
 * RFC writes it, converted at the edges. */
#include <math.h>
#include "tcp_cc.h"

#define CUBIC_C 0.4    /* RFC 9438 5.1 */
#define CUBIC_BETA 0.7 /* RFC 9438 4.6 */
/* RFC 9438 4.3: alpha_cubic = 3 (1 - beta) / (1 + beta), in 1/1024. */
#define CUBIC_ALPHA_1024 ((uint32_t)(1024.0 * 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)))
#define WIN_CAP (UINT32_MAX / 4)

static void cubic_init(struct tl_sock *s) {
  tl_cc_initial_window(s);
  s->cubic.epoch = -1;
  s->cubic.w_max = s->cubic.prior = 0;
  s->cubic.k_us = 0;
  s->cubic.w_est = s->cubic.est_acc = 0;
}

/* RFC 9438 4.2 eq. 1: W_cubic(t) = C (t - K)^3 + W_max, in bytes. */
static double w_cubic(const struct tl_sock *s, int64_t t_us) {
  double t = (double)(t_us - (int64_t)s->cubic.k_us) / 1e6;
  return CUBIC_C * t * t * t * s->snd_mss + s->cubic.w_max;
}

static void epoch_start(struct tl_sock *s, int64_t now) {
  s->cubic.epoch = now;
  s->cc_acc = 0;
  s->cubic.est_acc = 0;
  s->cubic.w_est = s->cwnd; /* 4.3: W_est starts at cwnd_epoch */
  if (s->cwnd < s->cubic.w_max) {
    /* 4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), segments and seconds. */
    double k = cbrt((double)(s->cubic.w_max - s->cwnd) / s->snd_mss / CUBIC_C);
    s->cubic.k_us = (uint32_t)(k * 1e6);
  } else {
    s->cubic.k_us = 0;
    s->cubic.w_max = s->cwnd;
  }
}

static void cubic_on_ack(struct tl_sock *s, uint32_t acked, uint32_t rtt_us, int64_t now) {
  if (s->cwnd < s->ssthresh) {
    tl_cc_slow_start(s, acked);
    return;
  }
  if (s->cubic.epoch < 0) epoch_start(s, now);
  s->cubic.last_ack = now;
  uint32_t cwnd = s->cwnd, mss = s->snd_mss;
  int64_t t = now - s->cubic.epoch;

  /* 4.3 Reno-friendly region: W_est grows by alpha_cubic segments per
   * window acked; alpha becomes 1 once W_est reaches cwnd_prior. */
  uint32_t alpha = s->cubic.w_est >= s->cubic.prior ? 1024 : CUBIC_ALPHA_1024;
  uint64_t inc = (uint64_t)acked * mss * alpha / cwnd + s->cubic.est_acc;
  s->cubic.w_est += (uint32_t)(inc >> 10);
  s->cubic.est_acc = (uint32_t)(inc & 1023);
  if (w_cubic(s, t) < s->cubic.w_est) {
    if (s->cubic.w_est > cwnd) s->cwnd = s->cubic.w_est < WIN_CAP ? s->cubic.w_est : WIN_CAP;
    return;
  }

  /* 4.4-4.5 concave and convex regions: aim at W_cubic one RTT ahead,
   * clamped to [cwnd, 1.5 cwnd], and close (target - cwnd) / cwnd of the gap
   * per segment acked. */
  uint32_t rtt = s->srtt_us ? s->srtt_us : rtt_us;
  double target = w_cubic(s, t + rtt);
  if (target < cwnd) target = cwnd;
  if (target > 1.5 * cwnd) target = 1.5 * cwnd;
  uint64_t grow = (uint64_t)((target - cwnd) * 1024.0 * acked / cwnd) + s->cc_acc;
  uint64_t next = cwnd + (grow >> 10);
  s->cwnd = next < WIN_CAP ? (uint32_t)next : WIN_CAP;
  s->cc_acc = (uint32_t)(grow & 1023);
}

static void cubic_on_loss(struct tl_sock *s, int kind, uint32_t flight) {
  uint32_t mss = s->snd_mss;
  if (kind == TL_CC_LOSS_TIMEOUT) tcp_undo_arm_timeout(s);
  /* RFC 5681 3.1: a timeout of an already retransmitted segment holds
   * ssthresh (and the CUBIC state) where the first one put it. */
  if (kind == TL_CC_LOSS_FAST || s->retries <= 1) {
    uint32_t base = flight > 2 * mss ? flight : 2 * mss;
    s->cubic.prior = base;
    /* 4.7 fast convergence: a flow whose window shrank since the last
     * loss gives up bandwidth by aiming below it. */
    if (base < s->cubic.w_max)
      s->cubic.w_max = (uint32_t)(base * (1.0 + CUBIC_BETA) / 2.0);
    else
      s->cubic.w_max = base;
    /* 4.6: ssthresh = max(flight * beta_cubic, 2 SMSS) */
    uint32_t th = (uint32_t)(base * CUBIC_BETA);
    s->ssthresh = th > 2 * mss ? th : 2 * mss;
  }
  s->cubic.epoch = -1;
  s->cc_acc = 0;
  if (kind == TL_CC_LOSS_TIMEOUT) {
    s->cwnd = mss; /* 4.8: loss window, then slow start to ssthresh */
    s->ss_after_rto = 1;
  } else {
    s->cwnd = s->ssthresh + 3 * mss; /* RFC 5681 3.2 step 4 (without SACK) */
  }
}

/* RFC 6582 3.2 step 6 option 2 (and RFC 9438 4.6): the window leaves
 * recovery at ssthresh, so CUBIC's epoch starts from the reduced window
 * rather than from one segment when the recovery emptied the pipe. */
static void cubic_on_recovery_exit(struct tl_sock *s) { s->cwnd = s->ssthresh; }

const struct tl_cc_ops tl_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .on_loss = cubic_on_loss,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_partial_ack = tl_cc_newreno_partial_ack,
};
