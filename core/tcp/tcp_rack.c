/* RACK-TLP loss detection (RFC 8985), the default for connections that
 * agreed SACK; TL_OPT_RECOVERY = TL_RECOVERY_DUPACK keeps RFC 6675's
 * DupThresh counting instead (tcp_sack.c).
 *
 * DupThresh detection counts segments: it needs three SACKed above a hole,
 * so a lost retransmission, a loss in a small window, or a lost tail waits
 * for the RTO. RACK counts time: a segment is lost once a segment sent
 * after it has been delivered and a reordering window has passed (RFC 8985
 * 6), which repairs a lost retransmission within one round trip. The Tail
 * Loss Probe (RFC 8985 7) sends one segment 2*SRTT after the last ACK, so a
 * lost tail draws a SACK, and RACK, rather than the RTO.
 *
 * Both need the time each sent range left: the transmit log below, one
 * record per transmission (a TSO super-segment, or the segments of one
 * burst, sent at the same microsecond, share a record), in sequence order,
 * split where a SACK block or a retransmission cuts it. It lives outside
 * the TCB, is allocated with the first data sent and grows by doubling, so
 * the per-segment path never allocates; it goes with the send buffer. */
#include <stdlib.h>
#include <string.h>

#include "tcp_cc.h"
#include "tcp_tcb.h"
#include "tcp_txlog.h"

enum { LOG_CAP0 = 32, LOG_CAP_MAX = 16384 };

static struct tl_txseg *seg_at(struct tl_rack *r, uint32_t i) { return &r->seg[r->head + i]; }

static struct tl_rack *rack_get(struct tl_sock *s) {
  struct tl_rack *r = s->rack;
  if (r && r->seg) return r;
  if (!r) r = calloc(1, sizeof *r);
  if (r && !r->seg) r->seg = malloc(LOG_CAP0 * sizeof *r->seg);
  if (!r || !r->seg) {
    if (r && r != s->rack) free(r);
    /* Out of memory: RFC 6675 DupThresh recovery needs no log (and BBR
     * goes without rate samples, its window where it was). */
    s->recovery_dupack = 1;
    TL_COUNT(s->st, tcp_loss_nomem);
    return NULL;
  }
  int fresh = r != s->rack;
  r->cap = LOG_CAP0;
  r->head = r->n = 0;
  r->reo_mult = 1;
  r->reo_at = TL_T_OFF;
  r->fack = r->end_seq = r->tlp_end = r->dsack_round = s->snd_una;
  if (fresh) tcp_rate_init(s, &r->rate);
  s->rack = r;
  return r;
}

struct tl_rack *tcp_txlog_get(struct tl_sock *s) { return rack_get(s); }

void tcp_rack_free(struct tl_sock *s) {
  if (!s->rack) return;
  free(s->rack->seg);
  free(s->rack);
  s->rack = NULL;
}

int tcp_rack_active(const struct tl_sock *s) { return s->sack_ok && !s->recovery_dupack; }

/* The log is kept for RACK, and for a congestion control that wants
 * delivery rate samples (BBR) with or without SACK. */
static int log_wanted(const struct tl_sock *s) { return tcp_rack_active(s) || tcp_cc_wants_rate(s); }

/* Room for one more record at the end: slide down or grow. */
static int make_room(struct tl_rack *r) {
  if (r->head + r->n < r->cap) return 0;
  if (r->head > 0) {
    memmove(r->seg, r->seg + r->head, r->n * sizeof *r->seg);
    r->head = 0;
    return 0;
  }
  if (r->cap >= LOG_CAP_MAX) return -1;
  struct tl_txseg *g = realloc(r->seg, 2 * r->cap * sizeof *g);
  if (!g) return -1;
  r->seg = g;
  r->cap *= 2;
  return 0;
}

/* Cut record i at seq (start < seq < end) into two. -1: no room, nothing
 * changes (the caller treats the record whole, which only delays a
 * verdict). */
static int split(struct tl_rack *r, uint32_t i, uint32_t seq) {
  struct tl_txseg *e = seg_at(r, i);
  if (!tl_seq_lt(e->start, seq) || !tl_seq_lt(seq, e->end)) return 0;
  if (make_room(r) < 0) return -1;
  e = seg_at(r, i);
  memmove(e + 1, e, (r->n - i) * sizeof *e);
  r->n++;
  e->end = seq;
  e[1].start = seq;
  return 0;
}

/* The first record whose end lies above seq (binary search), n if none. */
static uint32_t find(struct tl_rack *r, uint32_t seq) {
  uint32_t lo = 0, hi = r->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (tl_seq_gt(seg_at(r, mid)->end, seq))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Every range [seq, seq + used) that leaves: a new record, or, for a
 * retransmission, the records it covers take the new time. */
void tcp_rack_on_xmit(struct tl_sock *s, uint32_t seq, uint32_t used, int64_t now) {
  if (!used || !log_wanted(s)) return;
  struct tl_rack *r = rack_get(s);
  if (!r) return;
  uint32_t end = seq + used;
  uint32_t log_end = r->n ? seg_at(r, r->n - 1)->end : seq;
  if (tl_seq_lt(seq, log_end)) {
    uint32_t i = find(r, seq);
    if (i < r->n) split(r, i, seq);
    for (i = find(r, seq); i < r->n && tl_seq_lt(seg_at(r, i)->start, end); i++) {
      split(r, i, end);
      struct tl_txseg *e = seg_at(r, i);
      e->xmit = now;
      e->flags = SEG_RETRANS;
      tcp_rate_sent(s, &r->rate, e, now);
    }
    if (!tl_seq_gt(end, log_end)) return;
    seq = log_end; /* the retransmission carried new bytes too */
  }
  struct tl_txseg *last = r->n ? seg_at(r, r->n - 1) : NULL;
  if (last && last->end == seq && last->xmit == now && (last->flags & ~(uint32_t)SEG_APPLIM) == 0 &&
      last->delivered == r->rate.delivered && !!(last->flags & SEG_APPLIM) == !!r->rate.app_limited) {
    last->end = end;
    return;
  }
  if (make_room(r) < 0) {
    /* Full: the last record absorbs it, with the later time (its verdict
     * can only come later than it should, never early). */
    if (last) {
      last->end = end;
      last->xmit = now;
    }
    return;
  }
  struct tl_txseg *e = seg_at(r, r->n++);
  e->start = seq;
  e->end = end;
  e->xmit = now;
  e->flags = 0;
  tcp_rate_sent(s, &r->rate, e, now);
}

/* RFC 8985 6.2 step 2: RACK_sent_after. */
static int sent_after(int64_t t1, uint32_t seq1, int64_t t2, uint32_t seq2) {
  return t1 > t2 || (t1 == t2 && tl_seq_gt(seq1, seq2));
}

/* RFC 8985 6.2 steps 1-3 for one newly delivered range. */
static void delivered(struct tl_sock *s, struct tl_rack *r, const struct tl_txseg *e, uint32_t tsecr,
                      int64_t now) {
  int64_t rtt = now - e->xmit;
  if (rtt < 1) rtt = 1;
  if (rtt > UINT32_MAX / 2) rtt = UINT32_MAX / 2;
  if (e->flags & SEG_RETRANS) {
    /* Step 2: the ACK may be for the original transmission. */
    if (r->min_rtt && (uint32_t)rtt < r->min_rtt) return;
    uint32_t sent_ts = (uint32_t)(e->xmit / 1000) + s->ts_offset;
    if (s->ts_ok && tsecr && tl_seq_lt(tsecr, sent_ts)) return;
  } else if (tl_seq_lt(e->end, r->fack)) {
    /* Step 3: delivered below a range already delivered, never resent. */
    if (!r->reordering_seen) TL_COUNT(s->st, tcp_rack_reorder_seen);
    r->reordering_seen = 1;
  }
  r->rtt = (uint32_t)rtt;
  if (!r->min_rtt || r->rtt < r->min_rtt) r->min_rtt = r->rtt;
  if (!r->has_sample || sent_after(e->xmit, e->end, r->xmit, r->end_seq)) {
    r->xmit = e->xmit;
    r->end_seq = e->end;
    r->has_sample = 1;
  }
  if (tl_seq_gt(e->end, r->fack)) r->fack = e->end;
}

/* Mark the records the scoreboard covers as SACKed, cutting records at the
 * block edges; each one newly covered is a delivery. */
static void take_sacks(struct tl_sock *s, struct tl_rack *r, uint32_t tsecr, int64_t now) {
  const struct tl_assembler *a = tcp_sacked(s);
  for (int k = 0; k < a->n; k++) {
    uint32_t bs = s->snd_una + a->r[k].start, be = s->snd_una + a->r[k].end;
    uint32_t i = find(r, bs);
    if (i < r->n) split(r, i, bs);
    for (i = find(r, bs); i < r->n && tl_seq_lt(seg_at(r, i)->start, be); i++) {
      split(r, i, be);
      struct tl_txseg *e = seg_at(r, i);
      if (e->flags & SEG_SACKED || tl_seq_lt(e->start, bs) || tl_seq_gt(e->end, be)) continue;
      e->flags = (e->flags & (SEG_RETRANS | SEG_APPLIM)) | SEG_SACKED;
      tcp_rate_delivered(&r->rate, e, now);
      delivered(s, r, e, tsecr, now);
    }
  }
}

/* RFC 8985 6.2 step 4: the reordering window. */
static int64_t reo_wnd(const struct tl_sock *s, struct tl_rack *r) {
  if (!r->reordering_seen) {
    if (s->in_recovery || s->retries) return 0;
    if (tl_asm_bytes(tcp_sacked(s)) >= 3u * s->snd_mss) return 0; /* DupThresh segments SACKed */
  }
  int64_t w = (int64_t)r->reo_mult * (r->min_rtt / 4);
  return s->srtt_us && w > s->srtt_us ? s->srtt_us : w;
}

/* RFC 8985 6.2 step 4, the D-SACK part: each round trip with a D-SACK
 * widens the window by min_RTT/4; sixteen recoveries without one bring it
 * back. */
static void reo_adapt(struct tl_sock *s, struct tl_rack *r, int exiting_recovery) {
  if (r->dsack_round_on && tl_seq_geq(s->snd_una, r->dsack_round)) r->dsack_round_on = 0;
  if (!r->dsack_round_on && r->dsack_seen) {
    r->dsack_round_on = 1;
    r->dsack_round = s->snd_nxt;
    if (r->reo_mult < 255) r->reo_mult++;
    r->reo_persist = 16;
  } else if (exiting_recovery && r->reo_persist && --r->reo_persist == 0) {
    r->reo_mult = 1;
  }
  r->dsack_seen = 0;
}

/* RFC 8985 6.2 step 5: a range sent before the most recently delivered
 * one is lost once RACK.rtt + reo_wnd have passed since it left; else the
 * timer waits for the earliest such moment. Returns the bytes newly
 * marked lost. */
static uint32_t detect_loss(tl_stack *st, struct tl_sock *s, struct tl_rack *r, int64_t now) {
  r->reo_at = TL_T_OFF;
  if (!r->has_sample) return 0;
  int64_t wnd = reo_wnd(s, r), wait = 0;
  uint32_t lost = 0;
  for (uint32_t i = 0; i < r->n; i++) {
    struct tl_txseg *e = seg_at(r, i);
    /* Records beyond RACK.end_seq never resent left after it. */
    if (!(e->flags & SEG_RETRANS) && !tl_seq_lt(e->start, r->end_seq)) break;
    if (e->flags & (SEG_SACKED | SEG_LOST)) continue;
    if (!sent_after(r->xmit, r->end_seq, e->xmit, e->end)) continue;
    int64_t remaining = e->xmit + r->rtt + wnd - now;
    if (remaining <= 0) {
      e->flags |= SEG_LOST;
      lost += e->end - e->start;
    } else if (remaining > wait) {
      wait = remaining;
    }
  }
  if (wait) r->reo_at = now + wait;
  if (lost) TL_COUNT_N(st, tcp_rack_lost_bytes, lost);
  return lost;
}

/* RFC 6675 pipe from the log: what was sent and is neither delivered nor
 * judged lost (a lost range resent is in flight again). Bytes below the
 * log (sent before it began) count as in flight. */
uint32_t tcp_rack_pipe(const struct tl_sock *s) {
  struct tl_rack *r = s->rack;
  if (!r || !r->n) return s->snd_max - s->snd_una;
  uint32_t pipe = 0;
  if (tl_seq_gt(seg_at(r, 0)->start, s->snd_una)) pipe += seg_at(r, 0)->start - s->snd_una;
  for (uint32_t i = 0; i < r->n; i++) {
    const struct tl_txseg *e = seg_at(r, i);
    if (!(e->flags & (SEG_SACKED | SEG_LOST))) pipe += e->end - e->start;
  }
  if (tl_seq_lt(seg_at(r, r->n - 1)->end, s->snd_max)) pipe += s->snd_max - seg_at(r, r->n - 1)->end;
  return pipe;
}

/* RFC 6675 5 step C with RACK's verdicts (RFC 8985 6.3): resend lost
 * ranges, lowest first, while the pipe leaves room for a segment. A lost
 * TSO record goes out as super-segments again. */
static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static void rexmit_lost(tl_stack *st, struct tl_sock *s, struct tl_rack *r, int64_t now) {
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len + (s->fin_sent ? 1 : 0);
  /* A resent lost range is in flight again: the pipe grows by what goes. */
  uint32_t pipe = tcp_rack_pipe(s), max = tcp_seg_max(st, s);
  for (uint32_t i = 0; i < r->n; i++) {
    struct tl_txseg *e = seg_at(r, i);
    if (!(e->flags & SEG_LOST)) continue;
    if (pipe + s->snd_mss > s->cwnd) return;
    uint32_t room = s->cwnd - pipe; /* at least one MSS */
    uint32_t len = min_u32(e->end - e->start, min_u32(max, room - room % s->snd_mss));
    uint32_t seq = e->start;
    if (!tl_seq_lt(seq, data_end)) return;
    /* tcp_xmit sends bytes (and a FIN at the end of the queue); the FIN's
     * own sequence number is not a byte. */
    uint32_t bytes = tl_seq_gt(seq + len, data_end) ? data_end - seq : len;
    if (s->fin_sent && seq + bytes == data_end) bytes--;
    s->rtt_timing = 0; /* Karn */
    s->total_retrans++;
    TL_COUNT(st, tcp_rack_rexmit);
    pipe += tcp_xmit(st, s, seq, bytes, now); /* re-times the records (tcp_rack_on_xmit) */
    if (tl_seq_gt(seq + len, s->high_rxt)) s->high_rxt = seq + len;
    i = find(r, seq); /* the records moved: go on after the one resent */
  }
}

/* Loss found outside recovery: enter fast recovery (RFC 6675 5 step 4,
 * with RACK as the trigger, RFC 8985 6.3), unless the losses lie below the
 * recovery point of a timeout whose go-back-N has not yet resent them. At
 * SND.UNA = RecoveryPoint that window is wholly acknowledged (RFC 6675 5
 * (A) ends recovery only past it; RFC 6582's "more than recover" is for
 * NewReno, which cannot tell a new loss from an old one); once SND.NXT is
 * back at the recovery point everything below it went again, and a loss
 * RACK finds is a loss of that copy, which nothing else would resend. */
static void start_recovery(tl_stack *st, struct tl_sock *s, struct tl_rack *r, int64_t now) {
  if (s->in_recovery) return;
  if (tl_seq_lt(s->snd_una, s->recover) && s->recover != s->iss && tl_seq_lt(s->snd_nxt, s->recover)) return;
  r->tlp_on = 0;
  TL_COUNT(st, tcp_rack_recovery);
  tcp_recovery_enter(st, s, now);
}

int tcp_rack_ack(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, uint32_t una_before, int was_recovering,
                 int64_t now) {
  struct tl_rack *r = s->rack;
  if (!r) return 0;
  uint32_t tsecr = h->opt.has_ts ? h->opt.ts_ecr : 0;
  tcp_rate_ack_begin(&r->rate, 0); /* the caller knows the pipe before the ACK */
  /* Cumulatively acknowledged records: delivered unless SACKed before. */
  while (r->n && !tl_seq_gt(seg_at(r, 0)->end, s->snd_una)) {
    struct tl_txseg *e = seg_at(r, 0);
    if (!(e->flags & SEG_SACKED)) {
      tcp_rate_delivered(&r->rate, e, now);
      delivered(s, r, e, tsecr, now);
    }
    r->head++;
    r->n--;
  }
  if (r->n && tl_seq_lt(seg_at(r, 0)->start, s->snd_una)) {
    /* Its front part was delivered: that part only, or RACK.fack would
     * run ahead of what arrived and the rest look reordered. */
    struct tl_txseg *e = seg_at(r, 0), front = *e;
    front.end = s->snd_una;
    if (!(e->flags & SEG_SACKED)) {
      tcp_rate_delivered(&r->rate, &front, now);
      delivered(s, r, &front, tsecr, now);
    }
    e->start = s->snd_una;
  }
  if (!r->n) r->head = 0;
  if (h->opt.sack_n && s->sack_ok) take_sacks(s, r, tsecr, now);
  if (!tcp_rack_active(s)) {
    /* Kept for the rate samples only (no SACK, or DupThresh recovery). */
    tcp_rate_gen(s, &r->rate, 0, now);
    return 1;
  }

  /* RFC 8985 7.4: the probe's fate. A retransmitted probe that the ACK
   * covers, without a D-SACK saying it arrived twice, repaired a real
   * loss: the congestion response is owed (a new-data probe needs none,
   * RACK finds the losses it reveals). */
  if (r->tlp_on && tl_seq_geq(s->snd_una, r->tlp_end)) {
    r->tlp_on = 0;
    if (r->tlp_retrans && !r->dsack_seen && !s->in_recovery) {
      TL_COUNT(st, tcp_tlp_recovered);
      s->cc->on_loss(s, TL_CC_LOSS_FAST, s->snd_max - una_before);
      s->cwnd = s->ssthresh > s->cwnd ? s->cwnd : s->ssthresh;
    }
  } else if (r->tlp_on && r->dsack_seen) {
    r->tlp_on = 0; /* the probe arrived twice: no loss */
  }
  reo_adapt(s, r, was_recovering && !s->in_recovery);
  int before = s->in_recovery;
  uint32_t lost = detect_loss(st, s, r, now);
  if (lost) start_recovery(st, s, r, now);
  tcp_rate_gen(s, &r->rate, lost, now);
  return !before && s->in_recovery ? 2 : 1;
}

void tcp_rack_dsack(struct tl_sock *s) {
  if (s->rack) s->rack->dsack_seen = 1;
}

void tcp_rack_rexmit(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->rack && s->in_recovery) rexmit_lost(st, s, s->rack, now);
}

/* RFC 8985 6.3 (reordering timer): no ACK came; look again. */
static void reo_fire(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_rack *r = s->rack;
  TL_COUNT(st, tcp_rack_reo_timeout);
  if (detect_loss(st, s, r, now)) start_recovery(st, s, r, now);
  if (s->in_recovery) {
    /* PRR has no ACK to follow here: let one segment out (RFC 6937's
     * "at least one" on a loss found with nothing else to clock it). */
    uint32_t pipe = tcp_rack_pipe(s);
    if (s->cwnd < pipe + s->snd_mss) s->cwnd = pipe + s->snd_mss;
    rexmit_lost(st, s, r, now);
  }
}

/* RFC 8985 7.3: the probe timer fired. New data if the window allows it,
 * else the last segment again; then the RTO runs. */
static void tlp_fire(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_rack *r = s->rack;
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  uint32_t unsent = tl_seq_gt(data_end, s->snd_nxt) ? data_end - s->snd_nxt : 0;
  uint32_t wnd_room = tl_seq_gt(s->snd_una + s->snd_wnd, s->snd_nxt) ? s->snd_una + s->snd_wnd - s->snd_nxt : 0;
  TL_COUNT(st, tcp_tlp_probes);
  const struct tl_txseg *rx = NULL;
  for (uint32_t i = r->n; s->in_recovery && i-- > 0;)
    if ((seg_at(r, i)->flags & (SEG_RETRANS | SEG_SACKED)) == SEG_RETRANS) {
      rx = seg_at(r, i);
      break;
    }
  if (rx) {
    /* In recovery: the last MSS of the newest retransmission still
     * unacknowledged again, so that its delivery shows RACK whether the
     * retransmissions before it were lost. */
    uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
    uint32_t end = tl_seq_gt(rx->end, data_end) ? data_end : rx->end;
    uint32_t len = end - rx->start < s->snd_mss ? end - rx->start : s->snd_mss;
    s->total_retrans++;
    s->rtt_timing = 0; /* Karn */
    tcp_xmit(st, s, end - len, len, now);
    r->tlp_retrans = 1;
  } else if (unsent && wnd_room && tl_seq_geq(s->snd_nxt, s->snd_max)) {
    uint32_t len = unsent < s->snd_mss ? unsent : s->snd_mss;
    if (len > wnd_room) len = wnd_room;
    s->snd_nxt += tcp_xmit(st, s, s->snd_nxt, len, now);
    r->tlp_retrans = 0;
  } else {
    uint32_t out = s->snd_max - s->snd_una;
    uint32_t fin = s->fin_sent && !s->fin_acked ? 1 : 0;
    uint32_t bytes = out - fin;
    uint32_t len = bytes < s->snd_mss ? bytes : s->snd_mss;
    s->total_retrans++;
    s->rtt_timing = 0; /* Karn */
    tcp_xmit(st, s, s->snd_max - fin - len, len, now);
    r->tlp_retrans = 1;
  }
  r->tlp_on = 1;
  r->tlp_end = s->snd_max;
  r->dsack_seen = 0;
  tcp_rto_arm(st, s, now);
}

/* The retransmission slot's next deadline after an ACK or a send: the
 * reordering timer if RACK waits on one, else a loss probe (RFC 8985
 * 7.2) when one may go, else the RTO already armed. */
void tcp_rack_timer(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_rack *r = s->rack;
  if (!r || s->persist || s->t_rtx == TL_T_OFF || s->snd_una == s->snd_max) return;
  if (r->reo_at != TL_T_OFF) {
    if (s->rtx_kind != TL_RTX_RTO || r->reo_at < s->t_rtx) {
      s->t_rtx = r->reo_at;
      s->rtx_kind = TL_RTX_REO;
      tcp_timer_update(st, s);
    }
    return;
  }
  if (s->rtx_kind == TL_RTX_REO) tcp_rto_arm(st, s, now); /* nothing left to wait for */
  /* 7.2: SACK agreed (tcp_rack_active), nothing SACKed, no probe
   * outstanding, an RTT known, not after a timeout. 7.2 also leaves
   * recovery out; we probe there too (tlp_fire), since a lost
   * retransmission with nothing sent after it can only be found by a
   * later transmission's delivery, and without one it costs the RTO,
   * at least 200 ms on a path whose RTT may be 50 us. */
  if (r->tlp_on || !s->srtt_us || s->retries || !tl_tcp_synchronized(s->state)) return;
  if (!s->in_recovery && tcp_sacked(s)->n) return;
  int64_t pto = 2 * (int64_t)s->srtt_us;
  /* One segment out: the peer may hold its ACK for a delayed-ACK timer
   * (WCDelAckT, 200 ms); more: a small margin over the RTT, as Linux. */
  pto += s->snd_max - s->snd_una <= s->snd_mss ? 200000 : 2000;
  int64_t at = now + pto;
  int64_t rto_at = s->rtx_kind == TL_RTX_RTO ? s->t_rtx : now + s->rto_us;
  if (at >= rto_at) return;
  s->t_rtx = at;
  s->rtx_kind = TL_RTX_PTO;
  tcp_timer_update(st, s);
}

void tcp_rack_timer_fire(tl_stack *st, struct tl_sock *s, int64_t now) {
  int kind = s->rtx_kind;
  s->rtx_kind = TL_RTX_RTO;
  if (!s->rack) return;
  if (kind == TL_RTX_PTO)
    tlp_fire(st, s, now);
  else
    reo_fire(st, s, now);
  if (s->t_rtx == TL_T_OFF && s->snd_una != s->snd_max) tcp_rto_arm(st, s, now);
  tcp_rack_timer(st, s, now);
}

/* RFC 8985 6.3 on a timeout: the scoreboard is forgotten (RFC 6675 5.1)
 * and go-back-N resends everything, so the log's verdicts go too. */
void tcp_rack_on_rto(struct tl_sock *s) {
  struct tl_rack *r = s->rack;
  if (!r) return;
  for (uint32_t i = 0; i < r->n; i++)
    seg_at(r, i)->flags &= SEG_RETRANS | SEG_APPLIM;
  r->reo_at = TL_T_OFF;
  r->tlp_on = 0;
}

/* Nothing is in flight and the send buffer goes: the log goes with it
 * (its records are all acknowledged, whether or not tcp_rack_ack has
 * popped them yet); RACK's RTT memory is cheap to learn again. */
void tcp_rack_idle(struct tl_sock *s) {
  if (!s->rack || s->snd_una != s->snd_max) return;
  if (!tcp_cc_wants_rate(s)) {
    tcp_rack_free(s);
    return;
  }
  /* BBR's model (tcp_txlog.h) outlives the idle period; the records go. */
  free(s->rack->seg);
  s->rack->seg = NULL;
  s->rack->n = s->rack->head = s->rack->cap = 0;
}
