/* Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02;
 * Linux tcp_rate.c works the same way). Each transmitted range carries a
 * snapshot of how much the connection had delivered, and when, at the
 * moment it left (tl_txseg's P.* fields); when the range is delivered, the
 * bytes delivered since that snapshot over the time elapsed is a sample of
 * the rate the path delivers at. The snapshots live in RACK's transmit log
 * (tcp_rack.c), one record per transmission, so there is no second log. */
#include "tcp_tcb.h"
#include "tcp_txlog.h"

void tcp_rate_init(struct tl_sock *s, struct tl_rate *c) {
  /* A log made again after an idle period goes on counting where the
   * acknowledged bytes got to, so BBR's round marks stay in order. */
  c->delivered = (uint32_t)s->bytes_acked;
  c->delivered_time = c->first_sent = 0;
  c->app_limited = 0;
}

/* draft 3.2 "Upon transmitting a data packet". */
void tcp_rate_sent(struct tl_sock *s, struct tl_rate *c, struct tl_txseg *e, int64_t now) {
  if (s->snd_una == s->snd_max || !c->delivered_time) {
    /* Nothing in flight: the send interval and the ACK interval start
     * together now. */
    c->first_sent = c->delivered_time = now;
  }
  e->first_sent = c->first_sent;
  e->delivered_time = c->delivered_time;
  e->delivered = c->delivered;
  if (c->app_limited)
    e->flags |= SEG_APPLIM;
  else
    e->flags &= ~(uint32_t)SEG_APPLIM;
}

void tcp_rate_ack_begin(struct tl_rate *c, uint32_t prior_in_flight) {
  struct tl_rate_sample *rs = &c->rs;
  rs->prior_time = 0;
  rs->interval_us = -1;
  rs->delivered = -1;
  rs->prior_delivered = 0;
  rs->acked_sacked = rs->losses = rs->rtt_us = 0;
  rs->is_app_limited = rs->is_retrans = 0;
  rs->prior_in_flight = prior_in_flight;
  c->newest_xmit = 0;
}

/* draft 3.3 "Upon receiving ACK", per range delivered: the sample takes
 * the snapshot of the most recently sent range among them (the one whose
 * interval is the freshest). */
void tcp_rate_delivered(struct tl_rate *c, const struct tl_txseg *e, int64_t now) {
  struct tl_rate_sample *rs = &c->rs;
  uint32_t len = e->end - e->start;
  c->delivered += len;
  rs->acked_sacked += len;
  if (!e->delivered_time) return; /* sent before the log knew it */
  if (rs->prior_time &&
      (e->xmit < c->newest_xmit || (e->xmit == c->newest_xmit && tl_seq_lt(e->end, c->newest_end))))
    return;
  rs->prior_delivered = e->delivered;
  rs->prior_time = e->delivered_time;
  rs->is_app_limited = (e->flags & SEG_APPLIM) != 0;
  rs->is_retrans = (e->flags & SEG_RETRANS) != 0;
  /* send_elapsed: from the first send of the interval to this range's */
  rs->interval_us = e->xmit - e->first_sent;
  c->first_sent = e->xmit;
  c->newest_xmit = e->xmit;
  c->newest_end = e->end;
  rs->rtt_us = rs->is_retrans ? 0 : (uint32_t)(now - e->xmit > 0 ? now - e->xmit : 1);
}

/* draft 3.3, the sample of the whole ACK. */
void tcp_rate_gen(struct tl_sock *s, struct tl_rate *c, uint32_t lost, int64_t now) {
  struct tl_rate_sample *rs = &c->rs;
  (void)s;
  c->lost += lost;
  rs->losses = lost;
  /* The app-limited phase ends once its last byte is delivered. */
  if (c->app_limited && tl_seq_gt(c->delivered, c->app_limited)) c->app_limited = 0;
  if (rs->acked_sacked) c->delivered_time = now;
  if (!rs->prior_time) {
    rs->delivered = -1;
    rs->interval_us = -1;
    return;
  }
  rs->delivered = (int32_t)(c->delivered - rs->prior_delivered);
  /* The rate is the slower of send and ACK rates over the interval: ACK
   * compression cannot make the path look faster than it sent. */
  int64_t ack_elapsed = now - rs->prior_time;
  if (ack_elapsed > rs->interval_us) rs->interval_us = ack_elapsed;
  /* draft 3.3: an interval shorter than the minimum RTT is an artifact
   * (e.g. a stretch ACK after ACK decimation), not a rate. */
  uint32_t min_rtt = s->rack ? s->rack->min_rtt : 0;
  if (rs->interval_us <= 0 || (min_rtt && rs->interval_us < (int64_t)min_rtt)) {
    rs->interval_us = -1;
    rs->delivered = -1;
  }
}

/* draft 3.4: the application gave the sender nothing more while cwnd had
 * room; samples until what is in flight now is delivered are app-limited
 * (they measure the application, not the path). */
void tcp_rate_check_app_limited(struct tl_sock *s, uint32_t unsent) {
  struct tl_rack *r = s->rack;
  if (!r || unsent >= s->snd_mss) return;
  uint32_t flight = tcp_cc_inflight(s);
  if (flight >= s->cwnd) return;
  uint32_t mark = r->rate.delivered + flight;
  r->rate.app_limited = mark ? mark : 1;
}

/* The pipe as the sender counts it (tcp_output.c): RFC 6675's in
 * recovery, the log's (SACKed and lost ranges out) with RACK, else all
 * that was sent since SND.UNA (after a timeout: since go-back-N began). */
uint32_t tcp_cc_inflight(const struct tl_sock *s) {
  if (s->in_recovery) return tcp_recovery_pipe(s);
  if (tcp_rack_active(s) && s->rack && !s->retries) return tcp_rack_pipe(s);
  return s->snd_nxt - s->snd_una;
}

/* After an ACK's deliveries and loss marking: the module's turn, with the
 * ACK's rate sample (the log exists once data was sent). */
void tcp_cc_model_ack(struct tl_sock *s, int64_t now) {
  struct tl_rack *r = s->rack;
  if (!r || !s->cc->cong_control || !tl_tcp_synchronized(s->state)) return;
  s->cc->cong_control(s, &r->rate.rs, now);
}

/* ---- pacing ----------------------------------------------------------------
 * As Linux's internal pacing (tcp_wstamp_ns): each segment's departure
 * is the previous one's plus its length at the rate, never before now.
 * The host's loop wakes about once a millisecond at best (epoll), so up
 * to PACE_SLACK_US of lateness may be made up rather than lost. */
#define PACE_SLACK_US 1000

static const struct tl_rate *pacer(const struct tl_sock *s) {
  if (!s->cc->cong_control || !s->rack || !s->rack->rate.pacing_rate) return NULL;
  return &s->rack->rate;
}

int64_t tcp_pace_wait(const struct tl_sock *s, int64_t now) {
  const struct tl_rate *c = pacer(s);
  return c && c->pace_next > now ? c->pace_next : 0;
}

uint32_t tcp_pace_burst(const struct tl_sock *s, uint32_t max) {
  const struct tl_rate *c = pacer(s);
  if (!c || max <= s->snd_mss) return max;
  uint64_t ms = c->pacing_rate / 1000;
  uint32_t b = ms < max ? (uint32_t)ms : max;
  b -= b % s->snd_mss;
  return b < 2u * s->snd_mss ? (max < 2u * s->snd_mss ? max : 2u * s->snd_mss) : b;
}

void tcp_pace_sent(struct tl_sock *s, uint32_t len, int64_t now) {
  struct tl_rack *r = s->rack;
  if (!len || !pacer(s)) return;
  int64_t base = r->rate.pace_next > now - PACE_SLACK_US ? r->rate.pace_next : now - PACE_SLACK_US;
  r->rate.pace_next = base + (int64_t)((uint64_t)len * 1000000 / r->rate.pacing_rate);
}
