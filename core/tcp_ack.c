/* The sending half of ACK processing (RFC 9293 3.10.7.4 fifth): what an
 * arriving ACK does to the send sequence space, the retransmission timer
 * (RFC 6298 5.2-5.3), RTT samples (Karn), duplicate ACKs, fast retransmit
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
  return flight + 3u * s->snd_mss >= s->cwnd;
}

void tcp_ack_new(tl_stack *st, struct tl_sock *s, uint32_t ack, uint32_t tsecr, int64_t now) {
  uint32_t flight_before = s->snd_max - s->snd_una;
  uint32_t acked = ack - s->snd_una;
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
  tl_asm_advance(&s->sacked, ack - s->snd_una);
  s->snd_una = ack;
  s->una_since = now;
  if (tl_seq_lt(s->snd_nxt, s->snd_una)) s->snd_nxt = s->snd_una;

  uint32_t rtt = 0;
  if (s->rtt_timing && tl_seq_geq(ack, s->rtt_seq)) {
    s->rtt_timing = 0;
    rtt = (uint32_t)(now - s->rtt_start);
    tcp_rtt_sample(st, s, now - s->rtt_start);
  } else if (data && tsecr && s->ts_ok && !s->rtt_timing && (s->in_recovery || s->retries)) {
    /* RFC 7323 4.1-4.2 (RTTM): the echoed timestamp names the segment it
     * answers, so it stays unambiguous during loss recovery, where Karn
     * (RFC 6298 3) forbids the timed sample. Elsewhere the timed sample is
     * preferred: it has microseconds, the TS clock only milliseconds. */
    int64_t ts_rtt = (int64_t)(uint32_t)((uint32_t)(now / 1000) + s->ts_offset - tsecr) * 1000;
    if (ts_rtt >= 0 && ts_rtt < (int64_t)st->cfg.tcp_rto_max_us) {
      rtt = (uint32_t)ts_rtt;
      TL_COUNT(st, tcp_ts_rtt_samples);
      tcp_rtt_sample(st, s, ts_rtt);
    }
  } else if (data && !s->persist) {
    tcp_rto_progress(st, s);
  }
  s->retries = 0;
  if (s->in_recovery && s->sack_ok && tl_seq_lt(ack, s->recover)) {
    /* RFC 6675 5 step C: a partial ACK keeps SACK recovery going (PRR
     * and the retransmissions follow in tcp_process_ack). */
  } else if (s->in_recovery && s->cc->on_partial_ack && tl_seq_lt(ack, s->recover)) {
    /* NewReno partial ACK (RFC 6582 3.2 step 5): the next hole is lost too;
     * resend it at once and stay in recovery. */
    s->cc->on_partial_ack(s, data);
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
  }
  s->dupacks = 0;

  if (s->snd_una == s->snd_max) {
    s->t_rtx = TL_T_OFF; /* RFC 6298 5.2 */
    s->persist = 0;
    tcp_timer_update(st, s);
  } else {
    tcp_rto_arm(st, s, now); /* RFC 6298 5.3 */
  }
  if (data && s->snd.len == 0) tcp_buf_drained(st, s, now);
  if (data) tcp_event(st, s, TL_EV_WRITABLE);
  if (s->snd_una == s->snd_max && s->snd.len == 0 && (data || s->fin_acked)) tcp_event(st, s, TL_EV_SENT);
}

/* RFC 5681 2 (duplicate ACK) and 3.2 (fast retransmit / fast recovery). */
static void dup_ack(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->dupacks < 255) s->dupacks++;
  if (s->in_recovery) {
    if (!s->sack_ok) s->cc->on_dupack(s); /* with SACK: PRR in tcp_process_ack */
    return;
  }
  if (s->sack_ok ? !tcp_sack_loss_detected(s) : s->dupacks != 3) return;
  /* RFC 6582 3.2 step 2: no new recovery for losses from the window that
   * the last one (or a timeout) already handled. */
  if (s->cc->on_partial_ack && tl_seq_leq(s->snd_una, s->recover) && s->recover != s->iss) return;
  TL_COUNT(st, tcp_fast_retrans);
  s->fast_retrans++;
  s->total_retrans++;
  s->cc->on_loss(s, TL_CC_LOSS_FAST, s->snd_max - s->snd_una);
  s->in_recovery = 1;
  s->recover = s->snd_max;
  s->rtt_timing = 0; /* Karn */
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  uint32_t avail = tl_seq_gt(data_end, s->snd_una) ? data_end - s->snd_una : 0;
  uint32_t len = min_u32(avail, s->snd_mss);
  if (s->sack_ok) {
    /* RFC 6675 5 steps 4.2-4.3: resend the first segment (up to the first
     * SACKed byte); RFC 6937 3: from here PRR sets cwnd on every ACK
     * (tcp_process_ack), starting from RecoverFS = the flight now. */
    s->prr_delivered = s->prr_out = 0;
    s->recover_fs = s->snd_max - s->snd_una;
    if (s->sacked.n && s->sacked.r[0].start > 0) len = min_u32(len, s->sacked.r[0].start);
    tcp_xmit(st, s, s->snd_una, len, now);
    s->high_rxt = s->snd_una + len;
    return;
  }
  tcp_xmit(st, s, s->snd_una, len, now);
}

/* Returns 0 to continue with the segment, 1 if it was consumed or the
 * connection is gone. */
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
   * block reports a duplicate arrival, not a loss, so it does not count. */
  int sack_news = 1;
  uint32_t una_before = s->snd_una, sacked_before = tl_asm_bytes(&s->sacked);
  if (s->sack_ok && h->opt.sack_n) sack_news = tcp_sack_record(s, h) > 0;
  uint32_t win = tcp_peer_window(s, h);
  if (tl_seq_lt(s->snd_una, ack)) {
    tcp_ack_new(st, s, ack, h->opt.has_ts ? h->opt.ts_ecr : 0, now);
  } else if (ack == s->snd_una && h->len == 0 && !(h->flags & (TL_TH_SYN | TL_TH_FIN)) &&
             s->snd_max != s->snd_una && win == s->snd_wnd && sack_news) {
    dup_ack(st, s, now);
  }
  if (s->in_recovery && s->sack_ok) {
    /* RFC 6937 DeliveredData: the change in SND.UNA plus the change in
     * SACKed bytes (those the cumulative ACK swallowed count once). */
    int64_t delivered = (int64_t)(s->snd_una - una_before) + (int64_t)tl_asm_bytes(&s->sacked) - sacked_before;
    tcp_prr_ack(s, delivered > 0 ? (uint32_t)delivered : 0);
    tcp_sack_rexmit(st, s, now);
  }
  /* Send window update: only from a segment not older than the last one
   * used (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)). */
  if (tl_seq_lt(s->snd_wl1, h->seq) || (s->snd_wl1 == h->seq && tl_seq_leq(s->snd_wl2, ack)))
    tcp_update_window(s, h);

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
