/* The sending half of ACK processing (RFC 9293 3.10.7.4 fifth): what an
 * arriving ACK does to the send sequence space, the retransmission timer
 * (RFC 6298 5.2-5.3), RTT samples (RFC 7323 4 from timestamps, else one
 * timed segment per RTT, Karn), duplicate ACKs, fast retransmit
 * and recovery (RFC 5681 3.2, RFC 6582; with SACK, RFC 6675 in tcp_sack.c),
 * and the send window. */
#include "tcp_cc.h"
#include "tcp_tcb.h"

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

uint32_t tcp_peer_window(const struct tl_sock *s, const struct tl_tcp_hdr *h) {
  /* RFC 7323 2.2: the window of a SYN is never scaled. */
  if (h->flags & TL_TH_SYN) return h->win;
  return (uint32_t)h->win << s->snd_wscale;
}

void tcp_update_window(struct tl_sock *s, const struct tl_tcp_hdr *h) {
  s->snd_wnd = tcp_peer_window(s, h);
  s->snd_wl1 = h->seq;
  s->snd_wl2 = h->ack;
  if (s->snd_wnd > s->max_sndwnd) s->max_sndwnd = s->snd_wnd;
}

/* Entry into ESTABLISHED from either handshake (3.10.7.3, 3.10.7.4 fifth). */
void tcp_established(tl_stack *st, struct tl_sock *s, int64_t now) {
  tcp_set_state(st, s, TL_ESTABLISHED);
  TL_COUNT(st, tcp_conn_established);
  s->retries = 0;
  s->cc->init(s);
  /* RFC 6298 5.7: a SYN that timed out leaves RTO at 3 s until a sample. */
  if (s->syn_rexmit && s->srtt_us == 0) {
    s->rto_us = 3000000;
    if (s->rto_us > st->cfg.tcp_rto_max_us) s->rto_us = st->cfg.tcp_rto_max_us;
  }
  tcp_keep_arm(st, s, now);
  if (s->user_owned) tcp_event(st, s, TL_EV_CONNECTED | TL_EV_WRITABLE);
  if (s->fin_queued) tcp_set_state(st, s, TL_FIN_WAIT_1); /* close before the handshake ended */
}

/* RFC 7661 (cwnd validation), simplified as Linux tcp_is_cwnd_limited: the
 * window grows only if it was what held the sender back -- the flight
 * filled it (slow start: half of it) -- not the application, the send
 * buffer or the peer's window; else cwnd climbs without meaning. */
static int cwnd_limited(const struct tl_sock *s, uint32_t flight) {
  if (s->cwnd < s->ssthresh) return flight >= s->cwnd / 2;
  /* A sender holding back a partial super-segment (TSO deferral,
   * tcp_output.c) leaves up to one of them unused on purpose: the window
   * still limits it. */
  uint32_t slack = tcp_seg_max(s->st, s);
  if (slack < 3u * s->snd_mss) slack = 3u * s->snd_mss;
  return flight + slack >= s->cwnd;
}

/* RFC 7323 4.1: the RTT an echoed TSval (our millisecond clock, RFC 7323
 * 5.4) stands for. The echoed tick began up to 1 ms before the segment
 * left; taking its middle makes the sample unbiased (+-0.5 ms) rather than
 * always rounded. An echo older than rto_max, or from the future, is not a
 * value we sent recently and cannot be mapped back to a time: no sample. */
static int64_t ts_rtt_us(const tl_stack *st, const struct tl_sock *s, uint32_t tsecr, int64_t now) {
  uint32_t ticks = (uint32_t)(now / 1000) + s->ts_offset - tsecr;
  if (ticks > st->cfg.tcp_rto_max_us / 1000) return -1;
  int64_t rtt = (int64_t)ticks * 1000 + now % 1000 - 500;
  return rtt < 1 ? 1 : rtt;
}

/* RFC 6298 2.3 with the gains of RFC 7323 Appendix G: with a sample on
 * every ACK rather than one per RTT, alpha and beta are divided by the
 * samples expected per RTT, ceil(FlightSize / (2 SMSS)), so one window's
 * worth of samples moves SRTT and RTTVAR about as far as one per-RTT
 * sample would -- a steady window no longer collapses RTTVAR within one
 * round trip. The first sample initialises both (2.2). */
static void ts_rtt_sample(tl_stack *st, struct tl_sock *s, int64_t rtt_us, uint32_t flight) {
  if (s->srtt_us == 0) {
    tcp_rtt_sample(st, s, rtt_us);
    return;
  }
  uint32_t seg2 = 2u * s->snd_mss;
  int64_t n = flight > seg2 ? (flight + seg2 - 1) / seg2 : 1;
  int64_t r = rtt_us > UINT32_MAX / 8 ? UINT32_MAX / 8 : rtt_us;
  int64_t srtt = s->srtt_us, var = s->rttvar_us;
  int64_t delta = srtt > r ? srtt - r : r - srtt;
  var += (delta - var) / (4 * n);
  srtt += (r - srtt) / (8 * n);
  s->rttvar_us = (uint32_t)var;
  s->srtt_us = srtt > 0 ? (uint32_t)srtt : 1;
  tcp_rto_progress(st, s);
}

enum { WRITABLE_MAX_WAIT = 64 * 1024 };

/* Free send-buffer space that makes a blocked writer worth waking: a third
 * of the buffer, at most 64 KB (a TSO super-segment). */
static uint32_t writable_min(const struct tl_sock *s) {
  uint32_t third = s->snd.cap / 3;
  return third < WRITABLE_MAX_WAIT ? third : WRITABLE_MAX_WAIT;
}

void tcp_ack_new(tl_stack *st, struct tl_sock *s, uint32_t ack, uint32_t tsecr, int64_t now) {
  uint32_t flight_before = s->snd_max - s->snd_una;
  uint32_t acked = ack - s->snd_una;
  if (s->pmtu_lowered_s) tcp_pmtu_age(st, s, now);
  uint32_t fin_seq = tcp_data_seq0(s) + s->snd.len;
  if (!s->syn_acked) {
    s->syn_acked = 1;
    acked--;
  }
  if (s->fin_sent && tl_seq_gt(ack, fin_seq)) {
    s->fin_acked = 1;
    acked--;
  }
  uint32_t data = min_u32(acked, s->snd.len);
  tl_ring_drop(&s->snd, data);
  s->bytes_acked += data;
  tcp_sacked_advance(s, ack - s->snd_una);
  s->snd_una = ack;
  s->una_since = now;
  if (s->snd_urg && tl_seq_geq(ack, s->snd_up)) s->snd_urg = 0; /* urgent data all acknowledged */
  if (tl_seq_lt(s->snd_nxt, s->snd_una)) s->snd_nxt = s->snd_una;

  /* RFC 7323 4.2 (RTTM): every ACK that advances the left edge gives a
   * sample from the timestamp it echoes, unambiguous even for
   * retransmitted data (Karn, RFC 6298 3, rules out only the timed
   * sample); duplicate ACKs give none. Without timestamps, one segment per
   * RTT is timed. */
  uint32_t rtt = 0;
  int64_t timed = -1;
  if (s->rtt_timing && tl_seq_geq(ack, s->rtt_seq)) {
    s->rtt_timing = 0;
    timed = now - s->rtt_start;
  }
  /* After a timeout the first ACK may answer the retransmission only
   * because the ACK of the original was lost; then it echoes the original
   * segment's (or an older) TSval, and the sample would include the whole
   * timeout wait. Leave that ACK out; the next ones carry fresh echoes. */
  int64_t ts_rtt = data && tsecr && s->ts_ok && !s->retries ? ts_rtt_us(st, s, tsecr, now) : -1;
  if (ts_rtt >= 0) {
    rtt = (uint32_t)ts_rtt;
    TL_COUNT(st, tcp_ts_rtt_samples);
    ts_rtt_sample(st, s, ts_rtt, flight_before);
  } else if (timed >= 0) {
    rtt = (uint32_t)timed;
    tcp_rtt_sample(st, s, timed);
  } else if (data && !s->persist) {
    tcp_rto_progress(st, s);
  }
  if (data) tcp_undo_check(st, s, ack, tsecr);
  s->retries = 0;
  if (s->in_recovery && s->sack_ok && tl_seq_lt(ack, s->recover)) {
    /* RFC 6675 5 step C: a partial ACK keeps SACK recovery going (PRR
     * and the retransmissions follow in tcp_process_ack). */
  } else if (s->in_recovery && s->cc->on_partial_ack && tl_seq_lt(ack, s->recover)) {
    /* NewReno partial ACK (RFC 6582 3.2 step 5): the next hole is lost too;
     * resend it at once and stay in recovery. PRR (RFC 6937 3), not the
     * deflation of step 5, sets cwnd (tcp_process_ack). */
    uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
    uint32_t avail = tl_seq_gt(data_end, s->snd_una) ? data_end - s->snd_una : 0;
    s->total_retrans++;
    s->rtt_timing = 0; /* Karn */
    tcp_xmit(st, s, s->snd_una, min_u32(avail, s->snd_mss), now);
  } else if (s->in_recovery) {
    /* Reno: the first ACK of new data ends recovery (RFC 5681 3.2 step 6);
     * NewReno: the ACK covering `recover` does (RFC 6582 3.2 step 6). */
    s->in_recovery = 0;
    s->cc->on_recovery_exit(s);
  } else if (data && tl_tcp_synchronized(s->state) && cwnd_limited(s, flight_before)) {
    s->cc->on_ack(s, data, rtt, now);
  } else if (data) {
    tcp_cc_app_limited(s, now);
  }
  s->dupacks = 0;
  tcp_loss_trim(s); /* the episode may be over */

  if (s->snd_una == s->snd_max) {
    s->t_rtx = TL_T_OFF; /* RFC 6298 5.2 */
    s->persist = 0;
    tcp_timer_update(st, s);
  } else {
    tcp_rto_arm(st, s, now); /* RFC 6298 5.3 */
  }
  if (data && s->snd.len == 0) {
    tcp_buf_drained(st, s, now);
    /* The send buffer went with the drain: so does RACK's transmit log,
     * or an idle connection would keep ~900 bytes of it. */
    if (!s->snd.buf && s->snd_una == s->snd_max) tcp_rack_idle(s);
  }
  /* A blocked writer is woken once a worthwhile amount is free, as Linux
   * waits for a third of the buffer (sk_stream_write_space): woken by
   * every ACK it would queue, and so send, what one ACK freed, and with
   * TSO each write to the link would carry that instead of a whole
   * super-segment. The ring draining always frees enough. */
  if (data && tl_ring_space(&s->snd) >= writable_min(s) && tcp_notsent_ok(s))
    tcp_event(st, s, TL_EV_WRITABLE);
  if (s->snd_una == s->snd_max && s->snd.len == 0 && (data || s->fin_acked)) tcp_event(st, s, TL_EV_SENT);
}

void tcp_recovery_enter(tl_stack *st, struct tl_sock *s, int64_t now) {
  TL_COUNT(st, tcp_fast_retrans);
  s->fast_retrans++;
  tcp_undo_arm(st, s, now);
  s->cc->on_loss(s, TL_CC_LOSS_FAST, s->snd_max - s->snd_una);
  s->in_recovery = 1;
  s->recover = s->snd_max;
  s->rtt_timing = 0; /* Karn */
  s->rescue_sent = 0;
  /* RFC 6937 3: from here PRR sets cwnd on every ACK (tcp_process_ack),
   * with SACK or without, starting from RecoverFS = the flight now. */
  tcp_prr_enter(s);
}

/* RFC 5681 2 (duplicate ACK) and 3.2 (fast retransmit / fast recovery);
 * RFC 6675 5 with SACK when TL_OPT_RECOVERY asks for DupThresh. */
static void dup_ack(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->dupacks < 255) s->dupacks++;
  if (s->in_recovery) return; /* PRR in tcp_process_ack sets cwnd (RFC 6937 3) */
  /* Without SACK, DupThresh duplicates (RFC 5681 3.2 step 2: 3, or more on
   * a path seen to reorder; dupacks climbs past it one at a time). */
  if (s->sack_ok ? !tcp_sack_loss_detected(s) : s->dupacks != tcp_dupthresh(s)) return;
  /* RFC 6582 3.2 step 2: no new recovery for losses from the window that
   * the last one (or a timeout) already handled. */
  if (s->cc->on_partial_ack && tl_seq_leq(s->snd_una, s->recover) && s->recover != s->iss) return;
  tcp_recovery_enter(st, s, now);
  s->total_retrans++; /* after the undo snapshot: this episode's first */
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  uint32_t avail = tl_seq_gt(data_end, s->snd_una) ? data_end - s->snd_una : 0;
  uint32_t len = min_u32(avail, s->snd_mss);
  if (s->sack_ok) {
    /* RFC 6675 5 steps 4.2-4.3: resend the first segment (up to the first
     * SACKed byte). */
    const struct tl_assembler *sacked = tcp_sacked(s);
    if (sacked->n && sacked->r[0].start > 0) len = min_u32(len, sacked->r[0].start);
    tcp_xmit(st, s, s->snd_una, len, now);
    s->high_rxt = s->snd_una + len;
    return;
  }
  tcp_xmit(st, s, s->snd_una, len, now);
}

/* Returns 0 to continue with the segment, 1 if it was consumed or the
 * connection is gone. */
/* RFC 9293 3.10.7.4 fifth, the states where our FIN waits for its ACK.
 * Returns 1 when the connection is gone. */
static int our_fin_acked(tl_stack *st, struct tl_sock *s, int64_t now) {
  switch (s->state) {
  case TL_FIN_WAIT_1:
    if (s->fin_acked) {
      tcp_set_state(st, s, TL_FIN_WAIT_2);
      if (!s->user_owned && !s->parent) {
        s->t_keep = now + 2 * (int64_t)st->cfg.tcp_msl_us;
        tcp_timer_update(st, s);
      }
    }
    break;
  case TL_CLOSING:
    if (s->fin_acked) tcp_enter_time_wait(st, s, now);
    break;
  case TL_LAST_ACK:
    if (s->fin_acked) {
      tcp_conn_closed(st, s, 0);
      return 1;
    }
    break;
  default: break;
  }
  return 0;
}

int tcp_process_ack(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h,
                    int64_t now) {
  uint32_t ack = h->ack;
  if (s->state == TL_SYN_RECEIVED) {
    /* If SND.UNA < SEG.ACK =< SND.NXT, enter ESTABLISHED; else RST. */
    if (!(tl_seq_lt(s->snd_una, ack) && tl_seq_leq(ack, s->snd_max))) {
      TL_COUNT(st, drop_tcp_bad_ack);
      tcp_send_rst_reply(st, ip, h);
      return 1;
    }
    if (s->parent && tcp_listen_established(st, s) < 0) {
      TL_COUNT(st, drop_tcp_backlog); /* stay in SYN-RECEIVED; the peer retransmits */
      return 1;
    }
    tcp_update_window(s, h);
    tcp_established(st, s, now);
  }
  /* RFC 5961 5.2: acceptable if SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT. */
  if (tl_seq_gt(ack, s->snd_max)) {
    tcp_challenge_ack(st, s, now); /* acks something not yet sent */
    return 1;
  }
  if (tl_seq_lt(ack, s->snd_una - s->max_sndwnd)) {
    TL_COUNT(st, drop_tcp_old_ack);
    tcp_challenge_ack(st, s, now);
    return 1;
  }
  /* RFC 6675 2: with SACK in use, an ACK is a duplicate only if its blocks
   * cover octets not SACKed before; a D-SACK (RFC 2883 4) or a repeated
   * block reports a duplicate arrival, not a loss, so it does not count.
   * That definition has no window condition (RFC 5681's (e)): a receiver
   * whose application reads while a hole is open (Linux) announces a
   * growing window on every duplicate, and they must still count. An ACK
   * without blocks is judged as RFC 5681 2 says. */
  int sack_news = 1;
  uint32_t una_before = s->snd_una, sacked_before = tl_asm_bytes(tcp_sacked(s));
  if (s->sack_ok && h->opt.sack_n) sack_news = tcp_sack_record(s, h) > 0;
  uint32_t win = tcp_peer_window(s, h);
  int dup = 0, was_recovering = s->in_recovery, rack = tcp_rack_active(s);
  int model = tcp_cc_wants_rate(s); /* the module sets cwnd from rate samples (BBR) */
  if (tl_seq_lt(s->snd_una, ack)) {
    tcp_ack_new(st, s, ack, h->opt.has_ts ? h->opt.ts_ecr : 0, now);
  } else if (ack == s->snd_una && h->len == 0 && !(h->flags & (TL_TH_SYN | TL_TH_FIN)) &&
             s->snd_max != s->snd_una && (s->sack_ok && h->opt.sack_n ? sack_news : win == s->snd_wnd)) {
    if (rack) {
      if (s->dupacks < 255) s->dupacks++; /* for limited transmit (RFC 3042) only */
    } else {
      dup_ack(st, s, now);
    }
    dup = 1;
  }
  /* RFC 8985 6.2: RACK judges losses by time on every ACK. */
  int started = (rack || s->rack) && tcp_rack_ack(st, s, h, una_before, was_recovering, now) == 2;
  if (model) tcp_cc_model_ack(s, now); /* instead of PRR below */
  if (s->in_recovery && s->sack_ok) {
    /* RFC 6937 DeliveredData: the change in SND.UNA plus the change in
     * SACKed bytes (those the cumulative ACK swallowed count once). */
    int64_t delivered = (int64_t)(s->snd_una - una_before) + (int64_t)tl_asm_bytes(tcp_sacked(s)) - sacked_before;
    if (!model) tcp_prr_ack(s, delivered > 0 ? (uint32_t)delivered : 0);
    if (rack) {
      /* RFC 6675 5 step 4.3: the first retransmission goes at once,
       * whatever PRR allows. */
      uint32_t pipe = tcp_rack_pipe(s);
      if (started && s->cwnd < pipe + s->snd_mss) s->cwnd = pipe + s->snd_mss;
      tcp_rack_rexmit(st, s, now);
    } else {
      tcp_sack_rexmit(st, s, now);
    }
  } else if (s->in_recovery && !model && (dup || s->snd_una != una_before)) {
    /* RFC 6937 3 without SACK: DeliveredData is the change in SND.UNA
     * plus one MSS per duplicate ACK (the one that started recovery
     * included), less what duplicates already credited. */
    uint32_t d = was_recovering ? tcp_reno_delivered(s, s->snd_una - una_before, dup) : s->snd_mss;
    tcp_prr_ack(s, d);
  }
  /* Send window update: only from a segment not older than the last one
   * used (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)). */
  if (tl_seq_lt(s->snd_wl1, h->seq) || (s->snd_wl1 == h->seq && tl_seq_leq(s->snd_wl2, ack)))
    tcp_update_window(s, h);
  if (rack) tcp_rack_timer(st, s, now);
  return our_fin_acked(st, s, now);
}
