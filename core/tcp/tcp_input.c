/* Segment arrival for an existing connection: RFC 9293 3.10.7.3 (SYN-SENT)
 * and 3.10.7.4 (every other state) step by step, with the RFC 5961 and
 * RFC 7323 (PAWS) checks. The ACK step lives in tcp_ack.c, the text and FIN
 * steps in tcp_rcv.c. */
#include "tcp_tcb.h"

/* RFC 7323 5.5: TS.Recent is trusted for 24 days (2^31 ms, half the space
 * of a 1 ms timestamp clock); after that a peer's clock may have moved by
 * more than half its range, so an "older" TSval proves nothing and PAWS
 * must let the segment through (it then sets TS.Recent anew). */
#define TL_PAWS_IDLE_S (24u * 24 * 3600)

static void ts_recent_set(struct tl_sock *s, uint32_t val, int64_t now) {
  s->ts_recent = val;
  s->ts_recent_age_s = (uint32_t)(now / 1000000);
}

static int ts_recent_stale(tl_stack *st, const struct tl_sock *s, int64_t now) {
  if ((uint32_t)(now / 1000000) - s->ts_recent_age_s <= TL_PAWS_IDLE_S) return 0;
  TL_COUNT(st, tcp_paws_stale);
  return 1;
}

#define TL_OOW_ACK_US 500000

static uint32_t seg_len(const struct tl_tcp_hdr *h) {
  return h->len + !!(h->flags & TL_TH_SYN) + !!(h->flags & TL_TH_FIN);
}

/* The peer's options from its SYN: MSS (RFC 9293 3.7.1, 536 if absent),
 * window scale (RFC 7323 2.2: both sides must send it, shift capped at 14),
 * timestamps (RFC 7323 3.2) and SACK-permitted (RFC 2018 2). */
void tcp_take_syn_options(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h) {
  int passive = s->state == TL_LISTEN || s->state == TL_CLOSED;
  s->peer_mss = h->opt.has_mss ? h->opt.mss : 536;
  /* RFC 7323 3.2, RFC 2018 2: the passive side may decline timestamps or
   * SACK by leaving the option out of its SYN-ACK (an active opener has
   * offered both already). */
  s->ts_ok = h->opt.has_ts && !s->no_ts_offer && !(passive && tl_tcp_of(st)->no_ts);
  if (s->ts_ok) ts_recent_set(s, h->opt.ts_val, st->now);
  s->sack_ok = h->opt.sack_ok && !s->no_sack_offer && !(passive && tl_tcp_of(st)->no_sack);
  /* RFC 7323 2.2: scaling only if both SYNs carry the option; a side that
   * did not offer it ignores the peer's. */
  if (h->opt.has_wscale && !s->no_ws_offer) {
    s->ws_ok = 1;
    /* RFC 7323 2.3: "SHOULD log the error but MUST use 14". */
    s->snd_wscale = h->opt.wscale;
    if (h->opt.wscale > 14) {
      TL_COUNT(st, tcp_wscale_clamped);
      s->snd_wscale = 14;
    }
  } else {
    s->ws_ok = 0;
    s->snd_wscale = s->rcv_wscale = 0;
  }
  if (passive) s->rcv_wscale = s->ws_ok ? tcp_wscale_for(tcp_rcvbuf_ceiling(st, s)) : 0;
  tcp_mss_update(st, s);
}

void tl_tcp_accept_options(tl_stack *st, int timestamps, int sack) {
  if (!st || !st->tcp) return;
  tl_tcp_of(st)->no_ts = timestamps == 0;
  tl_tcp_of(st)->no_sack = sack == 0;
}

/* ---- RFC 9293 3.10.7.3: SYN-SENT ---------------------------------------------- */
static void syn_sent(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, struct tl_tcp_hdr *h,
                     int64_t now) {
  int ack_ok = 0;
  /* first: check the ACK bit */
  if (h->flags & TL_TH_ACK) {
    if (tl_seq_leq(h->ack, s->iss) || tl_seq_gt(h->ack, s->snd_max)) {
      TL_COUNT(st, drop_tcp_bad_ack);
      if (!(h->flags & TL_TH_RST)) tcp_send_rst_reply(st, ip, h);
      return;
    }
    ack_ok = 1;
  }
  /* second: check the RST bit (RFC 5961 3.2: only with an acceptable ACK) */
  if (h->flags & TL_TH_RST) {
    if (!ack_ok) {
      TL_COUNT(st, drop_tcp_rst_syn_sent);
      return;
    }
    TL_COUNT(st, tcp_rst_in);
    TL_COUNT(st, tcp_conn_refused);
    tcp_conn_closed(st, s, TL_EREFUSED);
    return;
  }
  /* third: security/compartment is not implemented (RFC 9293 3.10.7.3 allows
   * its omission along with the IP security option). */
  /* fourth: check the SYN bit */
  if (!(h->flags & TL_TH_SYN)) {
    TL_COUNT(st, drop_tcp_syn_sent_other);
    return;
  }
  s->irs = h->seq;
  s->rcv_nxt = h->seq + 1;
  s->rcv_adv = s->rcv_nxt;
  tcp_take_syn_options(st, s, h);
  if (ack_ok) {
    tcp_update_window(s, h);
    tcp_ack_new(st, s, h->ack, h->opt.has_ts ? h->opt.ts_ecr : 0, now);
    tcp_established(st, s, now);
    s->ack_now = 1;
    if (tcp_process_text_fin(st, s, h, now)) return;
  } else {
    /* Simultaneous open (RFC 9293 3.5 figure 7): SYN-RECEIVED, send
     * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
    tcp_update_window(s, h);
    tcp_set_state(st, s, TL_SYN_RECEIVED);
    s->ack_now = 1;
  }
  tcp_output(st, s, now);
}

/* ---- RFC 9293 3.10.7.4: all other states ------------------------------------- */
static int acceptable(const struct tl_sock *s, const struct tl_tcp_hdr *h) {
  uint32_t len = seg_len(h);
  /* RCV.WND: what we advertised, or more if the ring has room since. */
  uint32_t wnd = tl_ring_space(&s->rcv);
  uint32_t adv = tl_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
  if (adv > wnd) wnd = adv;
  if (s->rcv_fin) wnd = 0; /* nothing can follow the FIN */
  if (len == 0) {
    if (wnd == 0) return h->seq == s->rcv_nxt;
    return tl_seq_in(h->seq, s->rcv_nxt, s->rcv_nxt + wnd);
  }
  if (wnd == 0) return 0;
  return tl_seq_in(h->seq, s->rcv_nxt, s->rcv_nxt + wnd) ||
         tl_seq_in(h->seq + len - 1, s->rcv_nxt, s->rcv_nxt + wnd);
}

/* What every segment on a connection updates first: counts, quick ACKs,
 * the idle clocks. */
static void note_arrival(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, int64_t now) {
  s->segs_in++;
  if (h->len) {
    s->data_segs_in++;
    /* Quick ACKs (as Linux's quickack mode) for the first segments and
     * after a silence longer than the RTO: the peer is in slow start, and
     * holding every other ACK for the delayed-ACK timer would slow its
     * window's growth; tcp_rcv.c spends them. */
    if (s->data_segs_in == 1 || now - s->last_rx > (int64_t)s->rto_us)
      s->quickack = st->cfg.tcp_quickacks > 15 ? 15 : st->cfg.tcp_quickacks;
  }
  s->last_rx = now;
  s->ka_probes = 0;
}

/* The special cases before the four steps: a SYN that may end TIME-WAIT,
 * a retransmitted SYN while our SYN-ACK is unanswered, and the SYN-ACK of
 * a simultaneous open. Returns 1 when the segment is dealt with. */
static int before_steps(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, struct tl_tcp_hdr *h,
                        int64_t now) {
  /* A new SYN for a 4-tuple in TIME-WAIT (RFC 9293 3.10.7.4 note, RFC 6191):
   * if it is clearly newer than the old connection (sequence number beyond
   * RCV.NXT, or a later timestamp), end TIME-WAIT and let a listener take
   * it, so a client reusing its port is not stalled for 2 MSL. */
  if (s->state == TL_TIME_WAIT && (h->flags & TL_TH_SYN) && !(h->flags & (TL_TH_ACK | TL_TH_RST))) {
    int newer = (s->ts_ok && h->opt.has_ts) ? tl_seq_gt(h->opt.ts_val, s->ts_recent) : tl_seq_gt(h->seq, s->rcv_nxt);
    struct tl_sock *l = tcp_listener_find(tl_tcp_of(st), s->lport);
    if (newer && l) {
      TL_COUNT(st, tcp_time_wait_reused);
      tcp_conn_closed(st, s, 0);
      tcp_listen_input(st, l, ip, h, now);
      return 1;
    }
  }
  /* A retransmitted SYN while our SYN-ACK is unanswered: send it again,
   * echoing the new SYN's TSval (RFC 7323 4.3: SEG.SEQ =< Last.ACK.sent),
   * as Linux does. */
  if (s->state == TL_SYN_RECEIVED && (h->flags & TL_TH_SYN) && !(h->flags & (TL_TH_ACK | TL_TH_RST)) &&
      h->seq == s->irs) {
    if (s->ts_ok && h->opt.has_ts && tl_seq_geq(h->opt.ts_val, s->ts_recent))
      ts_recent_set(s, h->opt.ts_val, now);
    s->ack_now = 1;
    tcp_output(st, s, now);
    return 1;
  }

  /* Simultaneous open (3.5 figure 7): the peer's SYN-ACK repeats its SYN,
   * which we already hold; only its ACK is new, so take that part. */
  if (s->state == TL_SYN_RECEIVED && (h->flags & TL_TH_SYN) && (h->flags & TL_TH_ACK) && h->seq == s->irs) {
    h->flags &= (uint8_t)~TL_TH_SYN;
    h->seq++;
  }
  return 0;
}

/* RFC 7323: the timestamp checks before the sequence number test.
 * Returns 1 when the segment is dropped; *stale says TS.Recent had gone
 * stale (5.5), so the segment may replace it whatever its value. */
static int timestamps_refuse(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, int64_t now, int *stale) {
  /* RFC 7323 3.2: once both SYNs carried timestamps, "If a non-<RST>
   * segment is received without a TSopt, a TCP SHOULD silently drop the
   * segment" (it cannot be checked by PAWS). Two exceptions: a SYN, which
   * the SYN step below answers with a challenge ACK (RFC 5961 4.2) so that
   * a peer that lost the connection learns it; and a keepalive or window
   * probe (SEQ = RCV.NXT - 1, at most one byte), still answered so that a
   * peer whose probes lack the option (some stacks send them bare) does not
   * time the connection out (RFC 7323 3.2: "MUST NOT abort a TCP connection
   * because any segment lacks an expected TSopt"). */
  if (s->ts_ok && !h->opt.has_ts && !(h->flags & (TL_TH_RST | TL_TH_SYN)) &&
      !(seg_len(h) <= 1 && h->seq == s->rcv_nxt - 1)) {
    TL_COUNT(st, drop_tcp_no_ts);
    return 1;
  }

  /* RFC 7323 5.3 PAWS: a segment whose timestamp is older than TS.Recent
   * is a duplicate from an earlier wrap of the sequence space. RSTs are
   * exempt (5.2, 5.3 R1): their timestamps may lag. */
  if (s->ts_ok && h->opt.has_ts && !(h->flags & TL_TH_RST) && tl_seq_lt(h->opt.ts_val, s->ts_recent) &&
      !(*stale = ts_recent_stale(st, s, now))) {
    TL_COUNT(st, drop_tcp_paws);
    if (now - s->last_oow_ack >= TL_OOW_ACK_US || !s->last_oow_ack) {
      s->last_oow_ack = now ? now : 1;
      tcp_send_ack(st, s, now);
    }
    return 1;
  }
  return 0;
}

/* First step, a segment outside the window (3.10.7.4). */
static void unacceptable(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, struct tl_tcp_hdr *h,
                         int64_t now) {
  /* RFC 5961 3.2 (1): an RST outside the window is dropped silently.
   * The usual one is from a peer that sent its FIN and then closed: it
   * answers each of our segments still in flight with <SEQ=SEG.ACK>
   * (RFC 9293 3.10.7.1), one below RCV.NXT since its FIN counted; the
   * RST that answers our ACK of that FIN lands on RCV.NXT and resets. */
  if (h->flags & TL_TH_RST) {
    TL_COUNT(st, drop_tcp_rst_oow);
    return;
  }
  /* "If the RCV.WND is zero, no segments will be acceptable, but special
   * allowance should be made to accept valid ACKs": a segment right at
   * RCV.NXT has its ACK processed and its text dropped (3.10.7.4). So
   * does one a little beyond it: the peer's SND.NXT stays past RCV.NXT
   * when we dropped in-window data for lack of room, and its ACKs then
   * carry that sequence number; ignoring them deadlocks both ends until
   * a backed-off retransmission (RFC 5961 5.2 still vets the ACK). */
  if (tl_seq_geq(h->seq, s->rcv_nxt) && h->seq - s->rcv_nxt <= s->rcv.cap && (h->flags & TL_TH_ACK) &&
      !(h->flags & TL_TH_SYN) &&
      tl_ring_space(&s->rcv) == 0 && tl_tcp_synchronized(s->state)) {
    struct tl_tcp_hdr bare = *h;
    bare.len = 0;
    bare.flags &= (uint8_t) ~(TL_TH_FIN | TL_TH_URG);
    if (h->len || (h->flags & TL_TH_FIN)) s->ack_now = 1;
    if (tcp_process_ack(st, s, ip, &bare, now)) return;
    tcp_output(st, s, now);
    return;
  }
  /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; a retransmitted FIN in
   * TIME-WAIT lands here too and restarts the 2 MSL wait. */
  /* A keepalive or zero-window probe (SEQ = RCV.NXT - 1, at most one
   * byte) is unacceptable by design and always answered. */
  int probe = seg_len(h) <= 1 && h->seq == s->rcv_nxt - 1 && !(h->flags & (TL_TH_SYN | TL_TH_FIN));
  if (probe) {
    TL_COUNT(st, tcp_probe_in);
    tcp_send_ack(st, s, now);
    return;
  }
  TL_COUNT(st, drop_tcp_unacceptable);
  /* RFC 2883 4.1.1: old data, all below RCV.NXT: a D-SACK tells the
   * sender its retransmission was unnecessary. */
  if (h->len && tl_seq_leq(h->seq + h->len, s->rcv_nxt)) tcp_dsack_note(s, h->seq, h->seq + h->len);
  if (s->state == TL_TIME_WAIT && (h->flags & TL_TH_FIN)) tcp_enter_time_wait(st, s, now);
  /* Two ends that disagree about the window would otherwise trade these
   * ACKs forever: answer an empty one at most every TL_OOW_ACK_US (as
   * Linux tcp_oow_rate_limited); segments with data always get one. */
  if (seg_len(h) == 0 && s->last_oow_ack && now - s->last_oow_ack < TL_OOW_ACK_US) {
    TL_COUNT(st, tcp_oow_ack_limited);
    return;
  }
  s->last_oow_ack = now ? now : 1;
  tcp_send_ack(st, s, now);
  return;
}

/* Second step, the RST bit (RFC 5961 3.2). */
static void rst_arrives(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, int64_t now) {
  if (s->state == TL_TIME_WAIT) {
    TL_COUNT(st, drop_tcp_rst_time_wait); /* RFC 1337 TIME-WAIT assassination */
    return;
  }
  if (h->seq != s->rcv_nxt) {
    tcp_challenge_ack(st, s, now); /* in the window but not exact */
    return;
  }
  TL_COUNT(st, tcp_rst_in);
  if (s->state == TL_SYN_RECEIVED && s->active_open) {
    TL_COUNT(st, tcp_conn_refused);
    tcp_conn_closed(st, s, TL_EREFUSED);
  } else {
    /* SYN-RECEIVED from a passive open "returns to LISTEN": the child
     * goes, the listener stays. ESTABLISHED and later: reset. */
    TL_COUNT(st, tcp_conn_reset);
    tcp_conn_closed(st, s, TL_ERESET);
  }
}

void tcp_segment_arrives(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, struct tl_tcp_hdr *h,
                         int64_t now) {
  note_arrival(st, s, h, now);
  if (s->state == TL_SYN_SENT) {
    syn_sent(st, s, ip, h, now);
    return;
  }
  if (before_steps(st, s, ip, h, now)) return;
  int ts_stale = 0;
  if (timestamps_refuse(st, s, h, now, &ts_stale)) return;

  /* first: check sequence number (the four cases of 3.10.7.4) */
  if (!acceptable(s, h)) {
    unacceptable(st, s, ip, h, now);
    return;
  }

  /* RFC 7323 4.3, 5.3 R3: remember the timestamp to echo, if SEG.TSval >=
   * TS.Recent and SEG.SEQ =< Last.ACK.sent. A RST skipped PAWS, so the
   * first test matters for it: an exact RST in TIME-WAIT is ignored (RFC
   * 1337) but would otherwise pull TS.Recent back and let an old SYN pass
   * for a newer one (RFC 6191, above). A stale TS.Recent (5.5) is
   * replaced whatever the value. */
  if (s->ts_ok && h->opt.has_ts && tl_seq_leq(h->seq, s->last_ack_sent) &&
      (tl_seq_geq(h->opt.ts_val, s->ts_recent) || ts_stale))
    ts_recent_set(s, h->opt.ts_val, now);

  /* second: check the RST bit (RFC 5961 3.2) */
  if (h->flags & TL_TH_RST) {
    rst_arrives(st, s, h, now);
    return;
  }

  /* third: security/compartment, not implemented (see SYN-SENT). */

  /* fourth: check the SYN bit */
  if (h->flags & TL_TH_SYN) {
    if (s->state == TL_SYN_RECEIVED && !s->active_open) {
      /* 3.10.7.4: a passive open returns to LISTEN. */
      tcp_conn_closed(st, s, TL_ERESET);
      return;
    }
    tcp_challenge_ack(st, s, now); /* RFC 5961 4.2 */
    return;
  }

  /* fifth: check the ACK field */
  if (!(h->flags & TL_TH_ACK)) {
    TL_COUNT(st, drop_tcp_no_ack);
    return;
  }
  if (tcp_process_ack(st, s, ip, h, now)) return;

  /* sixth to eighth: URG, text, FIN */
  if (tcp_process_text_fin(st, s, h, now)) return;
  tcp_output(st, s, now);
}
