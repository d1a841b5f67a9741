/* The congestion window across idle and application-limited periods. A
 * window is a measurement of the path that ages: after an RTO's worth of
 * silence the sender may no longer burst it out (RFC 5681 4.1), and CUBIC's
 * curve, a function of the time since the last reduction, must not count
 * time in which the application gave it nothing to send (RFC 9438 5.8). */
#include "tcp_cc.h"

void tcp_cc_send_resume(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (!tl_tcp_synchronized(s->state) || s->snd.len || s->snd_una != s->snd_max) return;
  /* Nothing outstanding: una_since is when the last data was acked. */
  int64_t idle = now - s->una_since;
  if (idle <= 0) return;
  if (idle > (int64_t)s->rto_us) {
    /* RFC 5681 4.1: cwnd = min(RW, cwnd), RW the initial window. RFC 2861
     * 3: ssthresh keeps 3/4 of the old window, so slow start finds the way
     * back within a few RTTs if the path is still as good. */
    uint32_t rw = tl_cc_iw(s);
    if (s->cwnd > rw) {
      uint32_t keep = s->cwnd / 4 * 3;
      if (s->ssthresh < keep) s->ssthresh = keep;
      s->cwnd = rw;
      TL_COUNT(st, tcp_cwnd_restart);
    }
    s->cubic.epoch = -1; /* a new epoch starts when avoidance resumes */
    s->cc_acc = 0;
  } else if (s->cubic.epoch >= 0) {
    s->cubic.epoch += idle; /* RFC 9438 5.8: the curve resumes where it stopped */
    /* That idle time is now counted; tcp_cc_app_limited must not count it
     * again from the last ACK, or the epoch drifts into the future. */
    s->cubic.last_ack = now;
  }
}

void tcp_cc_app_limited(struct tl_sock *s, int64_t now) {
  if (s->cubic.epoch < 0 || !s->cubic.last_ack) return;
  s->cubic.epoch += now - s->cubic.last_ack; /* RFC 9438 5.8 */
  s->cubic.last_ack = now;
}
