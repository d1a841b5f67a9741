/* Spurious retransmissions: detection by timestamps (the Eifel algorithm,
 * RFC 3522) or, from a peer that sends no timestamps but does SACK, by
 * D-SACK (RFC 3708), and undo of the congestion response (RFC 9438 4.9
 * for CUBIC; the same state covers Reno and NewReno; RFC 4015 for the
 * response). Reordering deeper than DupThresh makes the sender resend a
 * segment that was only late, and a delay spike longer than the RTO does
 * the same by timeout; the ACK that covers the segment then echoes the
 * TSval of the original transmission, older than that of the
 * retransmission, or the receiver reports the second copy as a duplicate,
 * and the window cut was for nothing. An undone fast retransmit also tells
 * how deep the path reorders, and DupThresh rises to match (tcp_sack.c). */
#include "tcp_cc.h"

enum tl_undo_armed {
  UNDO_OFF = 0,
  UNDO_TS_ACK = 1,     /* timestamps: wait for the ACK of undo.seq */
  UNDO_TS_EXIT = 2,    /* timestamps: decide on the ACK that ends recovery */
  UNDO_DSACK = 3,      /* D-SACK: count the retransmissions reported twice */
  UNDO_DSACK_LATE = 4, /* D-SACK, recovery over: until undo.dsack_until is acked */
};

void tcp_undo_arm(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_cc_undo *u = tcp_undo_of(s);
  if (u) u->armed = u->rto = 0;
  if (!(s->ts_ok || s->sack_ok) || st->cfg.tcp_no_undo) return;
  /* A module that sets the window from its model on every ACK (BBR) does
   * not cut it for a loss: there is nothing to undo. */
  if (tcp_cc_wants_rate(s)) return;
  /* The segment at SND.UNA was already resent by the last SACK recovery
   * (a hole beyond its `recover`): an ACK for that earlier copy would echo
   * a TSval older than this one, and that copy arriving beside this one
   * would be D-SACKed, although the original was lost. */
  if (tl_seq_gt(s->high_rxt, s->snd_una) && tl_seq_leq(s->high_rxt, s->snd_max)) return;
  /* The snapshot lives in the loss state (tcp_loss.c), one allocation per
   * episode; without memory there is simply no undo this time. */
  if (!tcp_loss_get(s)) return;
  u = tcp_undo_of(s);
  u->cwnd = s->cwnd;
  u->ssthresh = s->ssthresh;
  u->cc_acc = s->cc_acc;
  u->cubic = s->cubic;
  u->seq = s->snd_una;
  u->rexmit0 = s->total_retrans;
  u->dsacked = 0;
  if (!s->ts_ok) {
    /* RFC 3708 3: from here the episode's retransmissions are counted
     * (s->total_retrans) against the D-SACKs that report them. */
    u->armed = UNDO_DSACK;
    return;
  }
  /* RFC 3522 2: RetransmitTS, the TSval the retransmission carries (our
   * TS clock, RFC 7323 5.4: ms plus the connection's offset). */
  u->ts = (uint32_t)(now / 1000) + s->ts_offset;
  u->armed = UNDO_TS_ACK;
}

/* Called by the modules' on_loss for a timeout, before they cut the
 * window. The timer counted the retransmission already, and st->now is
 * the time it goes out. A fast retransmit's snapshot already armed is
 * kept: its RetransmitTS is the earlier one, and its state the one from
 * before both responses. Only the first timeout of a segment arms. */
void tcp_undo_arm_timeout(struct tl_sock *s) {
  /* A timeout outside recovery with DupThresh segments SACKed: a raised
   * DupThresh hid a loss, so it goes back to the RFC's 3 (as Linux does). */
  if (!s->in_recovery && (s->sack_ok ? tl_asm_bytes(tcp_sacked(s)) >= 3u * s->snd_mss : s->dupacks >= 3))
    s->reordering = 0;
  struct tl_cc_undo *u = tcp_undo_of(s);
  /* D-SACK counting cannot tell go-back-N's resends of data that was in
   * flight from the episode's: the timeout ends it undecided. */
  if (u && u->armed >= UNDO_DSACK) u->armed = UNDO_OFF;
  if ((u && u->armed) || s->retries > 1 || !s->ts_ok) return;
  tcp_undo_arm(s->st, s, s->st->now);
  u = tcp_undo_of(s);
  if (!u) return;
  u->rexmit0--;
  u->rto = 1;
}

/* RFC 9438 4.9: cwnd, ssthresh, cwnd_prior, W_max, K, the epoch and W_est
 * go back to what they were before the reduction; recovery ends (RFC 4015
 * 3.2: resume as if the loss had not been signalled). */
#define TL_REORDERING_MAX 64

static void undo(tl_stack *st, struct tl_sock *s) {
  struct tl_cc_undo *u = tcp_undo_of(s); /* armed: the loss state exists */
  /* The original arrived after this many later segments: the path
   * reorders that deep, so DupThresh follows (tcp_sack.c:tcp_dupthresh).
   * With SACK, the highest block says how far they reached; without it,
   * one duplicate ACK came per segment that overtook the original
   * (RFC 5681 4.2: out-of-order data is acknowledged at once), and the
   * count is still whole on the ACK that covers the original, the only
   * one that decides without SACK (RFC 6582 partial ACKs reset it). */
  uint32_t depth = 0;
  if (!u->rto && s->sack_ok && tl_seq_gt(s->sack_high, u->seq))
    depth = (s->sack_high - u->seq + s->snd_mss - 1) / s->snd_mss + 1;
  else if (!u->rto && !s->sack_ok && u->armed == UNDO_TS_ACK)
    depth = (uint32_t)s->dupacks + 2;
  if (depth > TL_REORDERING_MAX) depth = TL_REORDERING_MAX;
  if (depth > s->reordering && depth > 3) {
    s->reordering = (uint8_t)depth;
    TL_COUNT(st, tcp_reordering_raised);
  }
  if (u->cwnd > s->cwnd) s->cwnd = u->cwnd;
  if (u->ssthresh > s->ssthresh) s->ssthresh = u->ssthresh;
  s->cc_acc = u->cc_acc;
  s->cubic = u->cubic;
  s->in_recovery = 0;
  s->dupacks = 0;
  s->ss_after_rto = 0;
  /* RFC 4015 3.2: after a spurious timeout, send new data next rather
   * than resending what is still in flight (go-back-N set SND.NXT back). */
  if (tl_seq_lt(s->snd_nxt, s->snd_max)) s->snd_nxt = s->snd_max;
  /* RFC 6582 3.2 step 2 no longer applies: that window had no loss, so a
   * real one in it may start a new recovery at once. */
  s->recover = s->snd_una - 1;
  if (u->armed >= UNDO_DSACK) TL_COUNT(st, tcp_spurious_dsack);
  u->armed = UNDO_OFF;
  TL_COUNT(st, tcp_spurious_undo);
  if (u->rto) TL_COUNT(st, tcp_spurious_rto);
}

/* RFC 3708 3: the episode was spurious once every retransmission it sent
 * has come back D-SACKed (dropped or unreported D-SACKs only leave a real
 * cut in place). Decided no earlier than the ACK that ends recovery, when
 * no further retransmission can join the episode. */
static int dsack_all(const struct tl_sock *s) {
  const struct tl_cc_undo *u = &tcp_loss_of(s)->undo;
  uint64_t sent = s->total_retrans - u->rexmit0;
  return sent > 0 && u->dsacked >= sent;
}

void tcp_undo_dsack(tl_stack *st, struct tl_sock *s, uint32_t start, uint32_t end) {
  struct tl_cc_undo *u = tcp_undo_of(s);
  if (!u || u->armed < UNDO_DSACK) return;
  /* Only duplicates of what the episode resent count: from SND.UNA at
   * its start to the end of the last hole (or rescue) resent. A duplicate
   * made by the network inside that range still counts; RFC 3708 5 accepts
   * this, and it takes as many of them as there were retransmissions. */
  uint32_t high = s->rescue_sent ? s->snd_max : s->high_rxt;
  if (tl_seq_lt(start, u->seq) || tl_seq_gt(end, high)) return;
  if (u->dsacked < UINT8_MAX) u->dsacked++;
  if (u->armed == UNDO_DSACK_LATE && dsack_all(s)) undo(st, s);
}

/* D-SACK mode, for each ACK of new data. Recovery over: undo if every
 * retransmission was reported already; otherwise keep counting until the
 * data sent before the end of recovery is acknowledged -- every copy
 * resent in the episode left before it, so its D-SACK would have come. */
static void dsack_ack(tl_stack *st, struct tl_sock *s, uint32_t ack) {
  struct tl_cc_undo *u = tcp_undo_of(s); /* armed: the loss state exists */
  if (u->armed == UNDO_DSACK_LATE) {
    if (tl_seq_geq(ack, u->dsack_until)) u->armed = UNDO_OFF;
    return;
  }
  if (s->in_recovery && tl_seq_lt(ack, s->recover)) return;
  if (dsack_all(s)) {
    undo(st, s);
    return;
  }
  u->dsack_until = s->snd_max;
  u->armed = UNDO_DSACK_LATE;
}

/* For each ACK of new data: RFC 3522 3.2 looks at the first ACK that
 * covers the retransmitted segment. TSecr older than RetransmitTS: the
 * original got through. If that was the episode's only retransmission the
 * response is undone at once; if more holes were resent, the decision
 * waits for the ACK that ends recovery, and is made on its echo (the
 * segment that filled the last hole: a retransmission if any hole was a
 * real loss -- unless an original reordered by more than an RTT fills the
 * last hole after another hole's retransmission; then a real loss is
 * undone. Linux's tcp_packet_delayed makes the same guess). */
void tcp_undo_check(tl_stack *st, struct tl_sock *s, uint32_t ack, uint32_t tsecr) {
  struct tl_cc_undo *u = tcp_undo_of(s);
  if (!u || !u->armed) return;
  if (u->armed >= UNDO_DSACK) {
    dsack_ack(st, s, ack);
    return;
  }
  int old_echo = tsecr && tl_seq_lt(tsecr, u->ts);
  if (u->armed == UNDO_TS_ACK) {
    if (!tl_seq_gt(ack, u->seq)) return;
    if (!old_echo) {
      u->armed = UNDO_OFF;
    } else if (s->total_retrans - u->rexmit0 <= 1 || !s->in_recovery || !tl_seq_lt(ack, s->recover)) {
      undo(st, s);
    } else {
      u->armed = UNDO_TS_EXIT;
    }
    return;
  }
  if (s->in_recovery && tl_seq_lt(ack, s->recover)) return;
  if (old_echo)
    undo(st, s);
  else
    u->armed = UNDO_OFF;
}
