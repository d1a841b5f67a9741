/* BBR v1 congestion control (draft-cardwell-iccrg-bbr-congestion-control-00;
 * Linux tcp_bbr.c is the reference implementation). Rather than read loss
 * as congestion, BBR models the path: the bottleneck bandwidth (a windowed
 * max of delivery rate samples, tcp_rate.c, over 10 round trips) and the
 * round-trip propagation time (a 10 s windowed min RTT). It sends about
 * one BDP (bw x min_rtt) per round trip, with gains that probe for more
 * bandwidth and drain the queue it builds. Random loss, which leaves both
 * estimates alone, does not shrink the window, so it keeps its rate where
 * CUBIC's collapses (the Mathis bound).
 *
 * Bytes throughout (Linux counts packets); bandwidth in bytes per us <<
 * TL_BBR_BW_SCALE, gains << 8. The state lives in the transmit log's
 * allocation (tcp_txlog.h). Not implemented: the long-term (policer)
 * bandwidth model of Linux's v1. The sender paces at pacing_rate
 * (tcp_rate.c) with the connection's timer. */
#include "tcp_cc.h"
#include "tcp_tcb.h"
#include "tcp_txlog.h"

#include "api_tcp.h" /* after tcp_tcb.h: it needs the API types */

#define UNIT 256
#define HIGH_GAIN (UNIT * 2885 / 1000 + 1) /* 2/ln2: doubles the sending rate each round (draft 4.3.2.1) */
#define DRAIN_GAIN (UNIT * 1000 / 2885)    /* its inverse: drains in one round the queue STARTUP built */
#define CWND_GAIN (UNIT * 2)
#define CYCLE_LEN 8
#define BW_ROUNDS (CYCLE_LEN + 2)     /* draft 4.1.1.4: BtlBwFilterLen, 10 round trips */
#define MIN_RTT_WIN_US 10000000       /* draft 4.1.2.3: RTpropFilterLen, 10 s */
#define PROBE_RTT_US 200000           /* draft 4.3.4.4: ProbeRTTDuration */
#define FULL_BW_THRESH (UNIT * 5 / 4) /* draft 4.3.2.2: growth of 25 % ... */
#define FULL_BW_ROUNDS 3              /* ... missing for three rounds: the pipe is full */
#define CWND_MIN_SEGS 4               /* draft 4.2.3.4: BBRMinPipeCwnd */
#define EXTRA_ACKED_ROUNDS 5
#define EXTRA_ACKED_MAX_US 100000
#define ACK_EPOCH_RESET (1u << 30)
#define CWND_CAP (UINT32_MAX / 4)

/* draft 4.3.3: PROBE_BW's pacing gains, one phase per min_rtt. */
static const uint16_t cycle_gain[CYCLE_LEN] = {UNIT * 5 / 4, UNIT * 3 / 4, UNIT, UNIT,
                                               UNIT,         UNIT,         UNIT, UNIT};

enum { ST_OPEN = 0, ST_RECOVERY = 1, ST_LOSS = 2 };

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static struct tl_bbr *bbr_of(struct tl_sock *s) { return s->rack && s->rack->bbr.on ? &s->rack->bbr : NULL; }
static uint64_t max_bw(const struct tl_bbr *b) { return b->bw[0]; }

/* ---- the windowed max filter (Kathleen Nichols' algorithm, as Linux
 * lib/minmax.c): the best, second and third best samples of the window,
 * each younger than the one before, so the max expires gracefully. ---- */
static void filter_set(struct tl_bbr *b, int i, uint32_t t, uint64_t v) {
  b->bw[i] = v;
  b->bw_round[i] = t;
}

static void filter_update(struct tl_bbr *b, uint32_t t, uint64_t v) {
  if (v >= b->bw[0] || t - b->bw_round[2] > BW_ROUNDS) {
    for (int i = 0; i < 3; i++)
      filter_set(b, i, t, v); /* a new max, or nothing left in the window */
    return;
  }
  if (v >= b->bw[1]) {
    filter_set(b, 1, t, v);
    filter_set(b, 2, t, v);
  } else if (v >= b->bw[2]) {
    filter_set(b, 2, t, v);
  }
  uint32_t dt = t - b->bw_round[0];
  if (dt > BW_ROUNDS) {
    /* The best has aged out: the others move up; maybe twice. */
    filter_set(b, 0, b->bw_round[1], b->bw[1]);
    filter_set(b, 1, b->bw_round[2], b->bw[2]);
    filter_set(b, 2, t, v);
    if (t - b->bw_round[0] > BW_ROUNDS) {
      filter_set(b, 0, b->bw_round[1], b->bw[1]);
      filter_set(b, 1, b->bw_round[2], b->bw[2]);
    }
  } else if (b->bw_round[1] == b->bw_round[0] && dt > BW_ROUNDS / 4) {
    filter_set(b, 1, t, v); /* a quarter of the window passed: a fresh 2nd best */
    filter_set(b, 2, t, v);
  } else if (b->bw_round[2] == b->bw_round[1] && dt > BW_ROUNDS / 2) {
    filter_set(b, 2, t, v);
  }
}

/* ---- the model's outputs ---- */
/* draft 4.2.3.2: BDP x gain, in bytes; the initial window until an RTT is
 * known. */
static uint32_t bdp(const struct tl_sock *s, const struct tl_bbr *b, uint64_t bw, uint32_t gain) {
  if (b->min_rtt_us == UINT32_MAX || !bw) return tl_cc_iw(s);
  uint64_t w = (bw * b->min_rtt_us) >> TL_BBR_BW_SCALE;
  w = (w * gain + UNIT - 1) / UNIT;
  return w < CWND_CAP ? (uint32_t)w : CWND_CAP;
}

/* draft 4.2.3.2 (quantization budget): room for the bursts the sender and
 * its offloads make -- three TSO super-segments of about a millisecond of
 * data each -- and, in PROBE_BW's probing phase, two segments more so
 * that the probe can raise the flight at all. */
static uint32_t quantum(const struct tl_sock *s, const struct tl_bbr *b, uint32_t w) {
  uint64_t ms = (max_bw(b) * 1000) >> TL_BBR_BW_SCALE;
  uint32_t goal = (uint32_t)(ms < tcp_seg_max(s->st, s) ? ms : tcp_seg_max(s->st, s));
  goal = max_u32(goal, 2u * s->snd_mss);
  uint64_t q = (uint64_t)w + 3ull * goal;
  if (b->mode == TL_BBR_PROBE_BW && b->cycle_idx == 0) q += 2u * s->snd_mss;
  return q < CWND_CAP ? (uint32_t)q : CWND_CAP;
}

static uint32_t inflight_target(const struct tl_sock *s, const struct tl_bbr *b, uint64_t bw, uint32_t gain) {
  return quantum(s, b, bdp(s, b, bw, gain));
}

/* draft 4.2.1: pacing_rate = gain x bw, 1 % under it (as Linux) so the
 * queue a probe builds can drain; it only goes down once the pipe is
 * known full. Bytes per second. */
static void set_pacing_rate(struct tl_sock *s, struct tl_bbr *b, uint64_t bw, uint32_t gain) {
  uint64_t rate;
  if (!bw) {
    uint32_t rtt = s->srtt_us ? s->srtt_us : 1000;
    rate = (uint64_t)tl_cc_iw(s) * 1000000 / rtt * gain / UNIT;
  } else {
    rate = ((bw * gain / UNIT) * 1000000 >> TL_BBR_BW_SCALE) * 99 / 100;
  }
  if (b->full_bw_reached || rate > s->rack->rate.pacing_rate) s->rack->rate.pacing_rate = rate;
}

/* ---- the model's inputs ---- */
/* draft 4.1.1: a round ends when a range sent after its start is
 * delivered; each sample enters the max filter, an app-limited one only
 * if it raises the estimate (it measures the application, not the path). */
static void update_bw(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs) {
  b->round_start = 0;
  if (rs->delivered < 0 || rs->interval_us <= 0) return;
  if (!tl_seq_lt(rs->prior_delivered, b->next_round_delivered)) {
    b->next_round_delivered = s->rack->rate.delivered;
    b->round++;
    b->round_start = 1;
    b->conservation = 0;
  }
  uint64_t bw = ((uint64_t)rs->delivered << TL_BBR_BW_SCALE) / (uint64_t)rs->interval_us;
  if (!rs->is_app_limited || bw >= max_bw(b)) filter_update(b, b->round, bw);
}

/* ACK aggregation (Linux bbr_update_ack_aggregation): data acked beyond
 * what bw x time accounts for, as delayed or stretched ACKs and receive
 * offloads deliver it; cwnd keeps that much extra so the sender is not
 * starved between such ACKs. A windowed max over 5-10 rounds. */
static void update_ack_aggregation(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs) {
  if (!rs->acked_sacked || rs->delivered < 0 || rs->interval_us <= 0) return;
  if (b->round_start) {
    if (b->extra_win_rtts < 31) b->extra_win_rtts++;
    if (b->extra_win_rtts >= EXTRA_ACKED_ROUNDS) {
      b->extra_win_rtts = 0;
      b->extra_win_idx ^= 1;
      b->extra_acked[b->extra_win_idx] = 0;
    }
  }
  int64_t now_d = s->rack->rate.delivered_time;
  uint64_t epoch_us = now_d > b->ack_epoch_at ? (uint64_t)(now_d - b->ack_epoch_at) : 0;
  uint64_t expected = (max_bw(b) * epoch_us) >> TL_BBR_BW_SCALE;
  if (b->ack_epoch_acked <= expected || b->ack_epoch_acked + rs->acked_sacked >= ACK_EPOCH_RESET) {
    b->ack_epoch_acked = 0;
    b->ack_epoch_at = now_d;
    expected = 0;
  }
  b->ack_epoch_acked += rs->acked_sacked;
  uint64_t extra = b->ack_epoch_acked - expected;
  if (extra > s->cwnd) extra = s->cwnd;
  if (extra > b->extra_acked[b->extra_win_idx]) b->extra_acked[b->extra_win_idx] = (uint32_t)extra;
}

static uint32_t aggregation_cwnd(const struct tl_bbr *b) {
  if (!b->full_bw_reached) return 0;
  uint64_t cap = (max_bw(b) * EXTRA_ACKED_MAX_US) >> TL_BBR_BW_SCALE;
  uint64_t extra = max_u32(b->extra_acked[0], b->extra_acked[1]);
  return (uint32_t)(extra < cap ? extra : cap);
}

static void reset_probe_bw(struct tl_sock *s, struct tl_bbr *b) {
  b->mode = TL_BBR_PROBE_BW;
  /* draft 4.3.3.6: start in a random phase other than the draining one,
   * so that flows sharing a bottleneck do not probe in step. */
  b->cycle_idx = (uint8_t)((CYCLE_LEN - 1 - tl_rng_below(&s->st->rng, CYCLE_LEN - 1) + 1) % CYCLE_LEN);
  b->cycle_at = s->rack->rate.delivered_time;
}

static void reset_mode(struct tl_sock *s, struct tl_bbr *b) {
  if (b->full_bw_reached)
    reset_probe_bw(s, b);
  else
    b->mode = TL_BBR_STARTUP;
}

/* draft 4.3.3.5: a phase lasts one min_rtt; the probing phase longer
 * until the flight reached its target (or a loss says it won't fit), the
 * draining one shorter if the flight is down to one BDP already. */
static void update_cycle(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs) {
  if (b->mode != TL_BBR_PROBE_BW) return;
  int full_length = s->rack->rate.delivered_time - b->cycle_at > (int64_t)b->min_rtt_us;
  uint32_t gain = cycle_gain[b->cycle_idx], inflight = rs->prior_in_flight;
  int next;
  if (gain == UNIT)
    next = full_length;
  else if (gain > UNIT)
    next = full_length && (rs->losses || inflight >= inflight_target(s, b, max_bw(b), gain));
  else
    next = full_length || inflight <= inflight_target(s, b, max_bw(b), UNIT);
  if (!next) return;
  b->cycle_idx = (uint8_t)((b->cycle_idx + 1) % CYCLE_LEN);
  b->cycle_at = s->rack->rate.delivered_time;
}

/* draft 4.3.2.2: three rounds without 25 % more bandwidth, not limited by
 * the application: the pipe is full. */
static void check_full_bw(struct tl_bbr *b, const struct tl_rate_sample *rs) {
  if (b->full_bw_reached || !b->round_start || rs->is_app_limited) return;
  if (max_bw(b) >= b->full_bw * FULL_BW_THRESH / UNIT) {
    b->full_bw = max_bw(b);
    b->full_bw_cnt = 0;
    return;
  }
  if (++b->full_bw_cnt >= FULL_BW_ROUNDS) b->full_bw_reached = 1;
}

/* draft 4.3.2.3 (DRAIN) and the exit to PROBE_BW once the queue STARTUP
 * built is gone. */
static void check_drain(struct tl_sock *s, struct tl_bbr *b, uint32_t inflight) {
  if (b->mode == TL_BBR_STARTUP && b->full_bw_reached) {
    b->mode = TL_BBR_DRAIN;
    s->ssthresh = inflight_target(s, b, max_bw(b), UNIT);
  }
  if (b->mode == TL_BBR_DRAIN && inflight <= inflight_target(s, b, max_bw(b), UNIT)) reset_probe_bw(s, b);
}

/* Remember the window before recovery, PROBE_RTT or a timeout cuts it. */
static void save_cwnd(struct tl_sock *s, struct tl_bbr *b) {
  if (b->prev_state == ST_OPEN && b->mode != TL_BBR_PROBE_RTT)
    b->prior_cwnd = s->cwnd;
  else
    b->prior_cwnd = max_u32(b->prior_cwnd, s->cwnd);
}

/* draft 4.3.4.4: PROBE_RTT has lasted long enough; back to the mode
 * before it with the window from before it. */
static void probe_rtt_done(struct tl_sock *s, struct tl_bbr *b, int64_t now) {
  if (!b->probe_rtt_done || now <= b->probe_rtt_done) return;
  b->min_rtt_at = now;
  s->cwnd = max_u32(s->cwnd, b->prior_cwnd);
  reset_mode(s, b);
}

/* draft 4.1.2.3 and 4.3.4: min_rtt's window; when 10 s pass without a
 * lower sample, PROBE_RTT holds the flight at 4 segments for 200 ms and
 * one round so the queue drains and the propagation delay shows. */
static void update_min_rtt(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs,
                           uint32_t inflight, int64_t now) {
  int expired = now - b->min_rtt_at > MIN_RTT_WIN_US;
  if (rs->rtt_us && (rs->rtt_us < b->min_rtt_us || expired)) {
    b->min_rtt_us = rs->rtt_us;
    b->min_rtt_at = now;
  }
  if (expired && !b->idle_restart && b->mode != TL_BBR_PROBE_RTT) {
    b->mode = TL_BBR_PROBE_RTT;
    save_cwnd(s, b);
    b->probe_rtt_done = 0;
  }
  if (b->mode == TL_BBR_PROBE_RTT) {
    struct tl_rate *c = &s->rack->rate;
    /* Samples of this phase measure the throttled flight, not the path. */
    c->app_limited = c->delivered + inflight ? c->delivered + inflight : 1;
    if (!b->probe_rtt_done && inflight <= CWND_MIN_SEGS * s->snd_mss) {
      b->probe_rtt_done = now + PROBE_RTT_US;
      b->probe_rtt_round_done = 0;
      b->next_round_delivered = c->delivered;
    } else if (b->probe_rtt_done) {
      if (b->round_start) b->probe_rtt_round_done = 1;
      if (b->probe_rtt_round_done) probe_rtt_done(s, b, now);
    }
  }
  if (rs->delivered > 0) b->idle_restart = 0;
}

static void update_gains(struct tl_bbr *b) {
  switch (b->mode) {
  case TL_BBR_STARTUP: b->pacing_gain = b->cwnd_gain = HIGH_GAIN; break;
  case TL_BBR_DRAIN:
    b->pacing_gain = DRAIN_GAIN;
    b->cwnd_gain = HIGH_GAIN; /* keep the window while the queue drains */
    break;
  case TL_BBR_PROBE_BW:
    b->pacing_gain = cycle_gain[b->cycle_idx];
    b->cwnd_gain = CWND_GAIN;
    break;
  default: b->pacing_gain = b->cwnd_gain = UNIT; break;
  }
}

/* draft 4.2.3.4-5: losses come off the window; the first round of fast
 * recovery conserves packets (one out per one delivered); at the end of
 * recovery or of a timeout's loss state the window before it returns.
 * Returns 1 while conservation sets the window. */
static int recover_or_restore(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs,
                              uint32_t inflight, uint32_t *cwnd) {
  uint32_t w = s->cwnd, acked = rs->acked_sacked;
  int state = b->in_loss ? ST_LOSS : s->in_recovery ? ST_RECOVERY : ST_OPEN;
  if (rs->losses) w = w > rs->losses + s->snd_mss ? w - rs->losses : s->snd_mss;
  if (state == ST_RECOVERY && b->prev_state != ST_RECOVERY) {
    b->conservation = 1;
    b->next_round_delivered = s->rack->rate.delivered; /* the round starts now */
    w = inflight + acked;
  } else if (b->prev_state != ST_OPEN && state == ST_OPEN) {
    w = max_u32(w, b->prior_cwnd);
    b->conservation = 0;
  }
  b->prev_state = (uint8_t)state;
  *cwnd = w;
  if (!b->conservation) return 0;
  *cwnd = max_u32(w, inflight + acked);
  return 1;
}

/* draft 4.2.3: the window grows toward gain x BDP (plus the ACK
 * aggregation allowance and the quantum) by what each ACK delivered, and
 * snaps down to it once the pipe is known full. */
static void set_cwnd(struct tl_sock *s, struct tl_bbr *b, const struct tl_rate_sample *rs,
                     uint32_t inflight) {
  uint32_t acked = rs->acked_sacked, cwnd = s->cwnd, mss = s->snd_mss;
  if (acked && !recover_or_restore(s, b, rs, inflight, &cwnd)) {
    uint64_t target = (uint64_t)bdp(s, b, max_bw(b), b->cwnd_gain) + aggregation_cwnd(b);
    target = quantum(s, b, target < CWND_CAP ? (uint32_t)target : CWND_CAP);
    if (b->full_bw_reached)
      cwnd = (uint32_t)((uint64_t)cwnd + acked < target ? (uint64_t)cwnd + acked : target);
    else if (cwnd < target || s->rack->rate.delivered < tl_cc_iw(s))
      cwnd = cwnd + acked < CWND_CAP ? cwnd + acked : CWND_CAP;
    cwnd = max_u32(cwnd, CWND_MIN_SEGS * mss);
  }
  s->cwnd = cwnd;
  if (b->mode == TL_BBR_PROBE_RTT) s->cwnd = min_u32(s->cwnd, CWND_MIN_SEGS * mss);
}

static void bbr_start(struct tl_sock *s, struct tl_bbr *b, int64_t now) {
  struct tl_rate *c = &s->rack->rate;
  *b = (struct tl_bbr){0};
  b->on = 1;
  b->mode = TL_BBR_STARTUP;
  b->pacing_gain = b->cwnd_gain = HIGH_GAIN;
  uint32_t rtt = s->rack->min_rtt ? s->rack->min_rtt : s->srtt_us;
  b->min_rtt_us = rtt ? rtt : UINT32_MAX;
  b->min_rtt_at = now;
  b->next_round_delivered = c->delivered;
  b->ack_epoch_at = now;
  s->rack->rate.pacing_rate = 0;
  set_pacing_rate(s, b, 0, HIGH_GAIN);
}

static void bbr_cong_control(struct tl_sock *s, struct tl_rate_sample *rs, int64_t now) {
  struct tl_rack *r = s->rack;
  if (!r) return;
  struct tl_bbr *b = &r->bbr;
  /* The pipe once per ACK (the log's is a scan); before the ACK it held
   * what this ACK delivered or found lost too. */
  uint32_t inflight = tcp_cc_inflight(s);
  rs->prior_in_flight = inflight + rs->acked_sacked + rs->losses;
  if (!b->on) bbr_start(s, b, now);
  /* A timeout's loss state ends when what was outstanding then is acked. */
  if (b->in_loss && tl_seq_geq(s->snd_una, b->loss_recover)) b->in_loss = 0;
  update_bw(s, b, rs);
  update_ack_aggregation(s, b, rs);
  update_cycle(s, b, rs);
  check_full_bw(b, rs);
  check_drain(s, b, inflight);
  update_min_rtt(s, b, rs, inflight, now);
  update_gains(b);
  set_pacing_rate(s, b, max_bw(b), b->pacing_gain);
  set_cwnd(s, b, rs, inflight);
}

static void bbr_init(struct tl_sock *s) {
  tl_cc_initial_window(s);
  if (s->rack) s->rack->bbr.on = 0; /* the model starts with the first ACK */
}

static void bbr_on_ack(struct tl_sock *s, uint32_t acked, uint32_t rtt_us, int64_t now) {
  (void)s, (void)acked, (void)rtt_us, (void)now; /* bbr_cong_control does it all */
}

/* A loss does not change the model. Fast recovery: remember the window
 * (conservation follows in set_cwnd). A timeout: the window goes to one
 * segment and grows back toward the model's target (Linux enters its loss
 * state the same way), and the round restarts. */
static void bbr_on_loss(struct tl_sock *s, int kind, uint32_t flight) {
  (void)flight;
  struct tl_bbr *b = bbr_of(s);
  if (b) save_cwnd(s, b);
  if (kind != TL_CC_LOSS_TIMEOUT) return;
  s->cwnd = s->snd_mss;
  if (!b) return;
  b->in_loss = 1;
  b->prev_state = ST_LOSS;
  b->loss_recover = s->snd_max;
  b->full_bw = 0;
  b->round_start = 1;
}

static void bbr_on_recovery_exit(struct tl_sock *s) { (void)s; /* set_cwnd restores prior_cwnd */ }

/* draft 4.3.4.4 (and Linux's CA_EVENT_TX_START): sending again after an
 * application-limited idle period. The model is old but not wrong: pace
 * at the estimated bandwidth rather than a probing gain, and do not take
 * the stale min_rtt for a reason to enter PROBE_RTT until a sample of
 * the restarted flow has come back. */
static void bbr_on_tx_start(struct tl_sock *s, int64_t now) {
  struct tl_bbr *b = bbr_of(s);
  if (!b || !s->rack->rate.app_limited) return;
  b->idle_restart = 1;
  b->ack_epoch_at = now;
  b->ack_epoch_acked = 0;
  if (b->mode == TL_BBR_PROBE_BW)
    set_pacing_rate(s, b, max_bw(b), UNIT);
  else if (b->mode == TL_BBR_PROBE_RTT)
    probe_rtt_done(s, b, now);
}

const struct tl_cc_ops tl_cc_bbr = {
    .name = "bbr",
    .init = bbr_init,
    .on_ack = bbr_on_ack,
    .on_loss = bbr_on_loss,
    .on_recovery_exit = bbr_on_recovery_exit,
    .on_partial_ack = tl_cc_newreno_partial_ack, /* without SACK: NewReno's hole-by-hole recovery */
    .cong_control = bbr_cong_control,
    .on_tx_start = bbr_on_tx_start,
};

int tl_tcp_bbr_info(const tl_sock *s, tl_bbr_info *i) {
  if (!s || !i || s->cc != &tl_cc_bbr) return TL_EINVAL;
  const struct tl_bbr *b = s->rack && s->rack->bbr.on ? &s->rack->bbr : NULL;
  *i = (tl_bbr_info){0};
  if (!b) return 0;
  i->mode = b->mode;
  i->bw_bps = (max_bw(b) * 8000000) >> TL_BBR_BW_SCALE;
  i->min_rtt_us = b->min_rtt_us == UINT32_MAX ? 0 : b->min_rtt_us;
  i->pacing_rate_bps = s->rack->rate.pacing_rate * 8;
  i->pacing_gain = b->pacing_gain;
  i->cwnd_gain = b->cwnd_gain;
  i->full_bw_reached = b->full_bw_reached;
  i->round = b->round;
  i->bdp = bdp(s, b, max_bw(b), UNIT);
  return 0;
}
