/* TCP timers. Each connection has a few time slots (retransmission or
 * persist or TIME-WAIT, delayed ACK, keepalive); it sits in the stack's
 * timing wheel (timer_wheel.h) at the earliest, so arming, moving and
 * cancelling cost O(1) and a poll costs the due connections plus amortised
 * cascading, never a scan. RTO computation and backoff follow RFC 6298. */
#include <stddef.h>

#include "tcp_cc.h"
#include "tcp_tcb.h"

/* RFC 6298 2.3: the clock granularity G in RTO = SRTT + max(G, 4*RTTVAR).
 * Our clock is in microseconds; 1 ms keeps RTO above SRTT on a jitter-free
 * path without hiding the variance term. */
#define TL_RTO_G_US 1000

/* ---- the timing wheel ------------------------------------------------------ */
static struct tl_sock *sock_of(struct tl_tw_entry *e) {
  return (struct tl_sock *)(void *)((char *)e - offsetof(struct tl_sock, timer));
}

void tcp_timer_remove(tl_stack *st, struct tl_sock *s) { tl_tw_cancel(&tl_tcp_of(st)->wheel, &s->timer); }

static int64_t min3(int64_t a, int64_t b, int64_t c) {
  int64_t m = a < b ? a : b;
  return m < c ? m : c;
}

void tcp_timer_update(tl_stack *st, struct tl_sock *s) {
  int64_t d = min3(s->t_rtx, s->t_delack, s->t_keep);
  if (s->t_release < d) d = s->t_release;
  if (d == TL_T_OFF) {
    tcp_timer_remove(st, s);
    return;
  }
  if (tl_tw_scheduled(&s->timer) && d == s->timer.deadline) return;
  tl_tw_schedule(&tl_tcp_of(st)->wheel, &s->timer, d);
}

/* ---- arming ----------------------------------------------------------------- */
void tcp_rto_arm(tl_stack *st, struct tl_sock *s, int64_t now) {
  s->persist = 0;
  s->rtx_kind = TL_RTX_RTO;
  s->t_rtx = now + s->rto_us;
  tcp_timer_update(st, s);
}

void tcp_delack_arm(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->t_delack != TL_T_OFF) return;
  s->t_delack = now + st->cfg.tcp_delack_us;
  tcp_timer_update(st, s);
}

void tcp_keep_arm(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (!s->keepalive || !tl_tcp_synchronized(s->state)) return;
  s->ka_probes = 0;
  s->t_keep = now + (int64_t)s->keepidle_ms * 1000;
  tcp_timer_update(st, s);
}

static uint32_t clamp_rto(const tl_stack *st, uint64_t rto) {
  if (rto < st->cfg.tcp_rto_min_us) rto = st->cfg.tcp_rto_min_us;
  if (rto > st->cfg.tcp_rto_max_us) rto = st->cfg.tcp_rto_max_us;
  return rto ? (uint32_t)rto : 1;
}

/* RFC 6298 2.2 and 2.3 (alpha 1/8, beta 1/4, K 4), 2.4 (minimum), 2.5
 * (maximum). A fresh sample also ends any backoff (5.7 note). */
void tcp_rtt_sample(tl_stack *st, struct tl_sock *s, int64_t rtt_us) {
  uint32_t r = rtt_us < 1 ? 1 : rtt_us > UINT32_MAX / 8 ? UINT32_MAX / 8 : (uint32_t)rtt_us;
  if (s->srtt_us == 0) {
    s->srtt_us = r;
    s->rttvar_us = r / 2;
  } else {
    uint32_t delta = s->srtt_us > r ? s->srtt_us - r : r - s->srtt_us;
    s->rttvar_us = (3 * s->rttvar_us + delta) / 4;
    s->srtt_us = (7 * s->srtt_us + r) / 8;
  }
  /* The floor applies to the variance term rather than to the sum (as in
   * Linux): RTO stays at least rto_min + G above SRTT, so a peer that
   * delays its ACK by up to 200 ms (RFC 1122 4.2.3.2; Linux, and us) does
   * not cause a spurious timeout on a path with a steady RTT. With
   * rto_min = 0 this is exactly RFC 6298 2.3. */
  tcp_rto_progress(st, s);
}

/* RTO from SRTT and RTTVAR with no backoff. Besides after a sample, the
 * ACK of new data calls this: it shows the path works again, and without a
 * sample (Karn) a backed-off RTO would otherwise stay up to rto_max long
 * after the loss episode, so that one lost ACK later costs minutes (Linux
 * likewise drops its backoff on forward progress). */
void tcp_rto_progress(tl_stack *st, struct tl_sock *s) {
  if (s->srtt_us == 0) return; /* RFC 6298 2.1/5.7: no sample yet, keep it */
  uint64_t var = 4ull * s->rttvar_us;
  uint64_t floor = (uint64_t)st->cfg.tcp_rto_min_us + TL_RTO_G_US;
  s->rto_us = clamp_rto(st, s->srtt_us + (var > floor ? var : floor));
  s->backoff = 0;
}

/* ---- expiry ----------------------------------------------------------------- */
static uint32_t retry_limit(const tl_stack *st, const struct tl_sock *s) {
  if (s->state == TL_SYN_SENT) return st->cfg.tcp_syn_retries;
  if (s->state == TL_SYN_RECEIVED) return st->cfg.tcp_synack_retries;
  return st->cfg.tcp_data_retries;
}

/* RFC 6298 5.4-5.6 (and RFC 9293 3.8.1 for SYNs). Returns 1 if the
 * connection ended (s may be freed). */
static int rto_expired(tl_stack *st, struct tl_sock *s, int64_t now) {
  /* The peer shut its window on data we had sent: our retransmissions are
   * window probes, and a peer that keeps answering them is alive, so they
   * do not count toward the retry limit (RFC 1122 4.2.2.17; as Linux).
   * An orphan gets no such grace: nobody would ever close it. */
  int zero_window = s->user_owned && tl_tcp_synchronized(s->state) && s->snd_wnd == 0 &&
                    now - s->last_rx < (int64_t)st->cfg.tcp_rto_max_us;
  /* RFC 9293 3.10.8 / RFC 5482: the user timeout bounds how long data may
   * stay unacknowledged, whatever the retry count. */
  int user_expired = s->user_timeout_ms && tl_tcp_synchronized(s->state) &&
                     now - s->una_since >= (int64_t)s->user_timeout_ms * 1000;
  if ((s->retries >= retry_limit(st, s) && !zero_window) || user_expired) {
    TL_COUNT(st, tcp_conn_timeout);
    tcp_conn_closed(st, s, TL_ETIMEOUT);
    return 1;
  }
  if (!zero_window) s->retries++;
  s->total_retrans++;
  TL_COUNT(st, tcp_rto_expired);
  s->rtt_timing = 0; /* Karn: no sample from a retransmitted segment */
  s->rto_us = clamp_rto(st, 2ull * s->rto_us); /* 5.5 */
  if (s->backoff < 255) s->backoff++;
  if (s->state == TL_SYN_SENT || s->state == TL_SYN_RECEIVED) {
    s->syn_rexmit = 1;
    tcp_xmit(st, s, s->iss, 0, now);
  } else {
    uint32_t flight = s->snd_max - s->snd_una;
    s->cc->on_loss(s, TL_CC_LOSS_TIMEOUT, flight);
    s->in_recovery = 0;
    s->dupacks = 0;
    s->recover = s->snd_max; /* RFC 6582 3.2 step 2 after a timeout */
    /* RFC 2018 8 / RFC 6675 5.1: after a timeout the receiver may have
     * reneged, so forget the scoreboard and resend from SND.UNA. */
    tcp_sacked_clear(s);
    tcp_rack_on_rto(s);
    s->high_rxt = s->snd_una;
    /* 5.4: retransmit the earliest unacknowledged segment, then go back N
     * from there as ACKs open the window (RFC 5681 3.1). */
    s->snd_nxt = s->snd_una;
    uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
    uint32_t avail = tl_seq_gt(data_end, s->snd_una) ? data_end - s->snd_una : 0;
    uint32_t len = avail < s->snd_mss ? avail : s->snd_mss;
    if (s->snd_wnd && len > s->snd_wnd) len = s->snd_wnd; /* stay inside the offered window */
    s->snd_nxt = s->snd_una + tcp_xmit(st, s, s->snd_una, len, now);
  }
  tcp_rto_arm(st, s, now); /* 5.6 */
  return 0;
}

static int keep_expired(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->state == TL_FIN_WAIT_2 && !s->user_owned) {
    /* An orphan whose peer never closes must not live forever (Linux
     * tcp_fin_timeout); we allow 2*MSL. */
    TL_COUNT(st, tcp_fin_wait2_timeout);
    tcp_conn_closed(st, s, 0);
    return 1;
  }
  if (!s->user_owned && s->linger_ms && s->state != TL_TIME_WAIT) {
    /* TL_OPT_LINGER_MS ran out before our data and FIN were acknowledged. */
    TL_COUNT(st, tcp_linger_abort);
    tcp_send_rst_conn(st, s, s->snd_max);
    tcp_conn_closed(st, s, TL_ETIMEOUT);
    return 1;
  }
  if (!s->keepalive || (s->state != TL_ESTABLISHED && s->state != TL_CLOSE_WAIT)) return 0;
  /* RFC 1122 4.2.3.6: probe only an idle connection. */
  if (s->snd_max != s->snd_una || s->snd.len) {
    s->t_keep = now + (int64_t)s->keepidle_ms * 1000;
    return 0;
  }
  if (s->ka_probes == 0 && now < s->last_rx + (int64_t)s->keepidle_ms * 1000) {
    s->t_keep = s->last_rx + (int64_t)s->keepidle_ms * 1000;
    return 0;
  }
  if (s->ka_probes >= s->keepcnt) {
    TL_COUNT(st, tcp_keepalive_timeout);
    tcp_send_rst_conn(st, s, s->snd_max);
    tcp_conn_closed(st, s, TL_ETIMEOUT);
    return 1;
  }
  tcp_keepalive_probe(st, s, now);
  s->ka_probes++;
  s->t_keep = now + (s->keepintvl_ms ? (int64_t)s->keepintvl_ms * 1000 : 1);
  return 0;
}

static void timer_fire(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->t_release <= now) tcp_buf_release_timer(st, s, now);
  if (s->t_delack <= now) {
    s->t_delack = TL_T_OFF;
    if (s->out_owed) {
      /* Data queued in a tx batch (tcp.c): it carries any ACK owed; a
       * pure ACK goes only if nothing went and one is owed. */
      s->out_owed = 0;
      if (tl_tcp_synchronized(s->state)) {
        tcp_output(st, s, now);
        if (s->last_ack_sent != s->rcv_nxt) tcp_send_ack(st, s, now);
      }
    } else if (tl_tcp_synchronized(s->state) || s->state == TL_SYN_RECEIVED) {
      TL_COUNT(st, tcp_delayed_ack);
      tcp_send_ack(st, s, now);
    }
  }
  if (s->t_keep <= now) {
    s->t_keep = TL_T_OFF;
    if (keep_expired(st, s, now)) return;
  }
  if (s->t_rtx <= now) {
    s->t_rtx = TL_T_OFF;
    if (s->state == TL_TIME_WAIT) {
      tcp_conn_closed(st, s, 0);
      return;
    }
    if (s->persist) {
      if (!s->user_owned && s->backoff >= st->cfg.tcp_data_retries) {
        TL_COUNT(st, tcp_conn_timeout); /* an orphan stuck behind a zero window */
        tcp_conn_closed(st, s, TL_ETIMEOUT);
        return;
      }
      tcp_persist_probe(st, s, now);
    } else if (s->rtx_kind != TL_RTX_RTO) {
      tcp_rack_timer_fire(st, s, now); /* a loss probe or RACK's reordering timer (RFC 8985) */
    } else if (rto_expired(st, s, now)) {
      return;
    }
  }
  tcp_timer_update(st, s);
}

int64_t tl_tcp_poll(tl_stack *st, int64_t now) {
  struct tl_timer_wheel *w = &tl_tcp_of(st)->wheel;
  uint64_t visited = w->visited;
  struct tl_tw_entry *e;
  /* Each expired connection is out of the wheel until timer_fire re-arms
   * it with the slots still running, all of them later than now. */
  while ((e = tl_tw_expire(w, now)))
    timer_fire(st, sock_of(e), now);
  TL_COUNT_N(st, tcp_timer_entries_visited, w->visited - visited);
  return tl_tcp_deadline(st);
}

int64_t tl_tcp_deadline(const tl_stack *st) { return tl_tw_next(&tl_tcp_of(st)->wheel); }
