/* SACK: the option we send (RFC 2018 4, with D-SACK, RFC 2883) and
 * SACK-based loss recovery (RFC 6675), compact. The scoreboard is a range
 * set of SACKed bytes relative to SND.UNA (core/storage/assembler.h, the same
 * structure the receiver uses for out-of-order data), so it is bounded and
 * allocation-free. Used only when both ends sent SACK-permitted (RFC 2018);
 * without it, recovery is plain Reno/NewReno (tcp_ack.c). */
#include "tcp_cc.h"

#define TL_DUPTHRESH 3 /* RFC 6675 2: DupThresh */

/* DupThresh for this connection. RFC 6675 2 allows a larger value on a
 * path known to reorder (RFC 4653 adapts it the same way): once a fast
 * retransmit proved spurious, the undo (tcp_cc_undo.c) raises it to the
 * depth of reordering seen. Bounded by half the flight, so a loss in a
 * small window is still found without waiting for the RTO. Without SACK
 * it is the duplicate ACK count of RFC 5681 3.2 (tcp_ack.c). */
uint32_t tcp_dupthresh(const struct tl_sock *s) {
  uint32_t t = s->reordering > TL_DUPTHRESH ? s->reordering : TL_DUPTHRESH;
  uint32_t half = (s->snd_max - s->snd_una) / s->snd_mss / 2;
  if (t > half) t = half > TL_DUPTHRESH ? half : TL_DUPTHRESH;
  return t;
}

/* RFC 2883 4: only the first block can be a D-SACK, and it is one if it
 * lies below the cumulative ACK the segment carries, or inside the second
 * block. Either way it reports data that arrived twice, not data newly
 * received: it is handed to the spurious retransmission check (RFC 3708,
 * tcp_cc_undo.c) and never marked on the scoreboard. */
static int is_dsack(const struct tl_tcp_hdr *h) {
  uint32_t start = h->opt.sack[0][0], end = h->opt.sack[0][1];
  if (!tl_seq_lt(start, end)) return 0;
  if (tl_seq_leq(end, h->ack)) return 1;
  return h->opt.sack_n > 1 && tl_seq_geq(start, h->opt.sack[1][0]) && tl_seq_leq(end, h->opt.sack[1][1]);
}

uint32_t tcp_sack_record(struct tl_sock *s, const struct tl_tcp_hdr *h) {
  uint32_t before = tl_asm_bytes(tcp_sacked(s));
  int i = 0;
  if (h->opt.sack_n && is_dsack(h)) {
    TL_COUNT(s->st, tcp_dsack_recv);
    tcp_rack_dsack(s);
    tcp_undo_dsack(s->st, s, h->opt.sack[0][0], h->opt.sack[0][1]);
    i = 1;
  }
  for (; i < h->opt.sack_n; i++) {
    uint32_t start = h->opt.sack[i][0], end = h->opt.sack[i][1];
    /* Blocks at or below SND.UNA (stale) and beyond SND.MAX say nothing
     * about what is in flight. */
    if (!tl_seq_gt(end, s->snd_una) || tl_seq_gt(end, s->snd_max)) continue;
    if (tl_seq_lt(start, s->snd_una)) start = s->snd_una;
    if (!tl_seq_lt(start, end)) continue;
    tcp_sacked_add(s, start - s->snd_una, end - start); /* full set or no memory: keep what we have */
    if (tl_seq_gt(end, s->sack_high) || tl_seq_leq(s->sack_high, s->snd_una)) s->sack_high = end;
  }
  return tl_asm_bytes(tcp_sacked(s)) - before;
}

/* ---- receiver side: the SACK option we send ------------------------------- */

void tcp_dsack_note(struct tl_sock *s, uint32_t start, uint32_t end) {
  if (!s->sack_ok || !tl_seq_lt(start, end)) return;
  s->dsack_start = start;
  s->dsack_end = end;
}

/* RFC 2018 4: the first block holds the segment that triggered the ACK;
 * the rest "SHOULD be filled out by repeating the most recently reported
 * SACK blocks ... that are not subsets of a SACK block already included",
 * so each block is reported in several ACKs and survives lost ones. The
 * blocks last sent are kept for that (sack_prev); a block that has since
 * grown or merged is repeated as the range now holding it, and ranges
 * never reported fill what room is left, highest first. RFC 2883 4: a
 * pending D-SACK goes in front of them all, once; when it repeats
 * out-of-order data the arrival also made its block the latest, so the
 * block containing it follows (4 rule 2). Bounded by the option space
 * left (three blocks beside the timestamps, four without) and, on a
 * segment with data, by the MSS. */
static int ooo_range_at(const struct tl_assembler *a, uint32_t off) {
  for (int i = 0; i < a->n; i++)
    if (off >= a->r[i].start && off < a->r[i].end) return i;
  return -1;
}

void tcp_sack_options(struct tl_sock *s, struct tl_tcp_opts *o, uint32_t len) {
  int dsack = s->dsack_start != s->dsack_end;
  const struct tl_assembler *a = tcp_ooo(s);
  if (!dsack && !a->n) return;
  int max = o->has_ts ? 3 : 4;
  /* snd_mss already leaves room for the timestamp option (RFC 6691). */
  while (max > 0 && len && len + 4 + 8u * (uint32_t)max > s->snd_mss)
    max--;
  int n = 0;
  if (dsack && n < max) {
    o->sack[n][0] = s->dsack_start;
    o->sack[n][1] = s->dsack_end;
    n++;
    s->dsack_start = s->dsack_end;
    TL_COUNT(s->st, tcp_dsack_sent);
  }
  o->sack_n = (uint8_t)n;
  if (!a->n) return;
  struct tl_sock_loss *L = s->loss; /* out-of-order ranges: the loss state exists */
  int order[TL_ASM_MAX], k = 0;
  uint8_t used[TL_ASM_MAX] = {0};
  int first = ooo_range_at(a, L->ooo_last_seq - s->rcv_nxt);
  if (first >= 0) {
    order[k++] = first;
    used[first] = 1;
  }
  for (int j = 0; j < L->sack_prev_n; j++) {
    if (tl_seq_lt(L->sack_prev[j][0], s->rcv_nxt)) continue; /* acknowledged since */
    int i = ooo_range_at(a, L->sack_prev[j][0] - s->rcv_nxt);
    if (i >= 0 && !used[i]) {
      order[k++] = i;
      used[i] = 1;
    }
  }
  for (int i = a->n - 1; i >= 0; i--)
    if (!used[i]) order[k++] = i;
  int start = n;
  for (int j = 0; j < k && n < max; j++, n++) {
    o->sack[n][0] = s->rcv_nxt + a->r[order[j]].start;
    o->sack[n][1] = s->rcv_nxt + a->r[order[j]].end;
  }
  L->sack_prev_n = (uint8_t)(n - start);
  for (int j = start; j < n; j++) {
    L->sack_prev[j - start][0] = o->sack[j][0];
    L->sack_prev[j - start][1] = o->sack[j][1];
  }
  o->sack_n = (uint8_t)n;
}

/* ---- sender side: scoreboard and recovery ---------------------------------- */

static uint32_t sacked_above(const struct tl_assembler *a, uint32_t off) {
  uint32_t n = 0;
  for (int i = 0; i < a->n; i++)
    if (a->r[i].end > off) n += a->r[i].end - (a->r[i].start > off ? a->r[i].start : off);
  return n;
}

/* RFC 6675 4 IsLost(), by bytes: DupThresh segments' worth SACKed above. */
static int is_lost(const struct tl_sock *s, uint32_t off) {
  return sacked_above(tcp_sacked(s), off) >= tcp_dupthresh(s) * s->snd_mss;
}

/* The first un-SACKed range at or after offset `from` (RFC 6675 4
 * NextSeg()): rule 1 wants it lost (`lost`), rule 3 takes any. Holes end at
 * the highest SACKed byte. */
static int next_hole(const struct tl_sock *s, uint32_t from, int lost, uint32_t *start, uint32_t *end) {
  const struct tl_assembler *a = tcp_sacked(s);
  uint32_t prev = 0;
  for (int i = 0; i < a->n; i++) {
    uint32_t hs = prev > from ? prev : from;
    if (hs < a->r[i].start && (!lost || is_lost(s, hs))) {
      *start = hs;
      *end = a->r[i].start;
      return 1;
    }
    prev = a->r[i].end;
  }
  return 0;
}

static int next_lost_hole(const struct tl_sock *s, uint32_t from, uint32_t *start, uint32_t *end) {
  return next_hole(s, from, 1, start, end);
}

/* RFC 6675 4 SetPipe(), by ranges: bytes in flight are the outstanding ones
 * minus those SACKed, minus lost holes not yet retransmitted (lost holes
 * below HighRxt were resent and count once more, as the resent copy). */
uint32_t tcp_sack_pipe(const struct tl_sock *s) {
  uint32_t out = s->snd_max - s->snd_una;
  uint32_t sacked = tl_asm_bytes(tcp_sacked(s));
  uint32_t from = tl_seq_gt(s->high_rxt, s->snd_una) ? s->high_rxt - s->snd_una : 0;
  uint32_t lost = 0, hs, he, at = from;
  while (next_lost_hole(s, at, &hs, &he)) {
    lost += he - hs;
    at = he;
  }
  uint32_t gone = sacked + lost;
  return out > gone ? out - gone : 0;
}

/* RFC 6675 4 NextSeg rule 4: one rescue retransmission per recovery
 * (RescueRxt = RecoveryPoint; HighRxt left alone) of the last segment, when
 * nothing SACKed lies above it: no SACK can ever show such a tail lost, so
 * it would otherwise wait for the RTO. The RFC allows the rescue as soon
 * as rules 1-3 find nothing, while the tail may still be in flight; we wait
 * until the holes below it are filled and the scoreboard is empty -- the
 * tail left before the retransmissions that filled them, so had it arrived
 * it would have been SACKed by now -- which costs one round trip over the
 * RFC and spares a spurious resend at the start of every recovery. */
static void rescue_rexmit(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->rescue_sent || !s->in_recovery || tcp_sacked(s)->n) return;
  uint32_t from = tl_seq_gt(s->high_rxt, s->snd_una) ? s->high_rxt : s->snd_una;
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  if (!tl_seq_lt(from, data_end)) return; /* no unSACKed data above */
  uint32_t len = data_end - from < s->snd_mss ? data_end - from : s->snd_mss;
  s->rescue_sent = 1;
  s->rtt_timing = 0; /* Karn */
  s->total_retrans++;
  TL_COUNT(st, tcp_rescue_rexmit);
  tcp_xmit(st, s, data_end - len, len, now);
}

/* Retransmit lost holes while the pipe leaves room for a full segment
 * (RFC 6675 5 step C). New data is left to tcp_output, which counts the
 * pipe instead of SND.NXT - SND.UNA during SACK recovery. */
void tcp_sack_rexmit(tl_stack *st, struct tl_sock *s, int64_t now) {
  for (int guard = 0; guard < 64; guard++) {
    if (tcp_sack_pipe(s) + s->snd_mss > s->cwnd) return;
    uint32_t from = tl_seq_gt(s->high_rxt, s->snd_una) ? s->high_rxt - s->snd_una : 0;
    uint32_t hs, he;
    /* Rule 1: a lost hole. Rule 2 (new data) is tcp_output's, after us;
     * rule 3: with no new data left to send, any hole below the highest
     * SACKed byte, so the last holes of a transfer (too few SACKed
     * segments above them to count as lost) need not wait for the RTO. */
    uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
    int rule3 = !tl_seq_lt(s->snd_max, data_end);
    if (!next_lost_hole(s, from, &hs, &he) && !(rule3 && next_hole(s, from, 0, &hs, &he))) {
      if (rule3) rescue_rexmit(st, s, now);
      return;
    }
    uint32_t len = he - hs < s->snd_mss ? he - hs : s->snd_mss;
    s->rtt_timing = 0; /* Karn */
    s->total_retrans++;
    tcp_xmit(st, s, s->snd_una + hs, len, now);
    s->high_rxt = s->snd_una + hs + len;
  }
}

/* RFC 6675 5: enter recovery on DupThresh duplicates, or as soon as the
 * scoreboard shows the first segment lost (ACKs themselves may be lost). */
int tcp_sack_loss_detected(const struct tl_sock *s) {
  return s->dupacks >= tcp_dupthresh(s) || is_lost(s, 0);
}

/* RFC 6937 3: spread the window reduction over the recovery round trip
 * instead of stopping to send until the pipe drains to ssthresh (RFC
 * 6675) -- sndcnt follows the delivery rate, scaled by ssthresh/RecoverFS,
 * while the pipe is above ssthresh; below it the slow start reduction
 * bound (PRR-SSRB) lets it climb back at most one MSS beyond what the ACK
 * delivered. cwnd = pipe + sndcnt; tcp_output and tcp_sack_rexmit send it. */
/* Without SACK (RFC 6937 3, as Linux's tcp_add_reno_sack): each duplicate
 * ACK stands for one MSS that left the network, so pipe is the flight less
 * what duplicates credited; the retransmitted hole is lost and resent,
 * which cancels out. */
uint32_t tcp_recovery_pipe(const struct tl_sock *s) {
  if (tcp_rack_active(s) && s->rack) return tcp_rack_pipe(s);
  if (s->sack_ok) return tcp_sack_pipe(s);
  uint32_t out = s->snd_max - s->snd_una;
  return out > s->reno_sacked ? out - s->reno_sacked : 0;
}

/* RFC 6937 3 initialisation at the start of recovery: RecoverFS = the
 * flight now. Without SACK the DupThresh duplicates that triggered it are
 * already out of the pipe. */
void tcp_prr_enter(struct tl_sock *s) {
  s->prr_delivered = s->prr_out = 0;
  s->recover_fs = s->snd_max - s->snd_una;
  if (!s->sack_ok) {
    uint32_t dup = (uint32_t)s->dupacks * s->snd_mss;
    s->reno_sacked = dup < s->recover_fs ? dup : s->recover_fs;
  }
}

/* RFC 6937 3 DeliveredData without SACK: one MSS per duplicate ACK; a
 * cumulative ACK counts only the bytes duplicates did not already credit.
 * Returns the bytes delivered. */
uint32_t tcp_reno_delivered(struct tl_sock *s, uint32_t acked, int dupack) {
  if (dupack) {
    uint32_t out = s->snd_max - s->snd_una;
    uint32_t room = out > s->reno_sacked ? out - s->reno_sacked : 0;
    uint32_t d = s->snd_mss < room ? s->snd_mss : room;
    s->reno_sacked += d;
    return d;
  }
  uint32_t credited = acked < s->reno_sacked ? acked : s->reno_sacked;
  s->reno_sacked -= credited;
  return acked - credited;
}

void tcp_prr_ack(struct tl_sock *s, uint32_t delivered) {
  s->prr_delivered += delivered;
  uint32_t pipe = tcp_recovery_pipe(s);
  int64_t sndcnt;
  if (pipe > s->ssthresh) {
    uint64_t fs = s->recover_fs ? s->recover_fs : 1;
    sndcnt = (int64_t)(((uint64_t)s->prr_delivered * s->ssthresh + fs - 1) / fs) - (int64_t)s->prr_out;
  } else {
    int64_t owed = (int64_t)s->prr_delivered - (int64_t)s->prr_out;
    int64_t limit = (owed > (int64_t)delivered ? owed : (int64_t)delivered) + s->snd_mss;
    int64_t room = (int64_t)s->ssthresh - (int64_t)pipe;
    sndcnt = room < limit ? room : limit;
  }
  if (sndcnt < 0) sndcnt = 0;
  s->cwnd = pipe + (uint32_t)sndcnt;
}
