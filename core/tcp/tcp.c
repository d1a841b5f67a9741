/* The TCP layer: setup and teardown, demux of arriving segments, the life
 * cycle of a connection, and the socket API of api.h (RFC 9293 3.10.1-3.10.6
 * user calls). */
#include <stdlib.h>
#include <string.h>

#include "tcp_cc.h"
#include "tcp_tcb.h"

/* ---- layer setup ------------------------------------------------------------- */
const struct tl_proto tl_tcp_proto = {
    .input = tl_tcp_input, .icmp_error = tl_tcp_icmp_error, .families = TL_FAM_V4 | TL_FAM_V6};

int tl_tcp_init(tl_stack *st) {
  struct tl_tcp *t = calloc(1, sizeof *t);
  if (!t) return TL_ENOMEM;
  st->tcp = t;
  t->st = st;
  if (tcp_table_init(t) < 0) return TL_ENOMEM;
  tl_isn_key_init(&t->isn_key, st->cfg.seed, st->cfg.isn_key_random);
  t->chack_refill = INT64_MIN / 2; /* refill on first use */
  tl_tw_init(&t->wheel, 0);
  t->loss_limit = UINT32_MAX;
  return 0;
}

void tl_tcp_free(tl_stack *st) {
  struct tl_tcp *t = st->tcp;
  if (!t) return;
  /* Children point at listeners that may go first: cut those links. */
  for (struct tl_sock *s = t->all; s; s = s->all_next) {
    s->parent = NULL;
    s->in_queue = 0;
  }
  while (t->all)
    tcp_sock_free(st, t->all);
  tcp_table_free(t);
  tcp_peers6_free(t);
  free(t);
  st->tcp = NULL;
}

/* ---- sockets ----------------------------------------------------------------- */
uint8_t tcp_wscale_for(uint32_t rcvbuf) {
  uint8_t ws = 0;
  while (ws < 14 && ((uint64_t)65535 << ws) < rcvbuf)
    ws++;
  return ws;
}

struct tl_sock *tcp_sock_new(tl_stack *st) {
  struct tl_tcp *t = tl_tcp_of(st);
  struct tl_sock *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  const tl_config *c = &st->cfg;
  s->st = st;
  s->t_rtx = s->t_delack = s->t_keep = TL_T_OFF;
  tl_ring_init(&s->snd, c->tcp_sndbuf);
  tl_ring_init(&s->rcv, c->tcp_rcvbuf);
  tcp_buf_init(st, s);
  s->cc = tl_cc_by_index(c->tcp_cc); /* CUBIC (RFC 9438) unless the tcp_cc option says */
  s->cubic.epoch = -1;
  s->recovery_dupack = c->tcp_recovery == 1;
  s->rto_us = c->tcp_rto_initial_us ? c->tcp_rto_initial_us : 1; /* RFC 6298 2.1 */
  s->keepidle_ms = c->tcp_keepalive_idle_ms;
  s->keepintvl_ms = c->tcp_keepalive_intvl_ms;
  s->keepcnt = c->tcp_keepalive_probes;
  s->pmtu = c->mtu;
  s->peer_mss = 536;
  s->rcv_wscale = tcp_wscale_for(tcp_rcvbuf_ceiling(st, s));
  s->ts_offset = (uint32_t)tl_rng_next(&st->rng);
  tcp_mss_update(st, s);
  s->all_next = t->all;
  if (t->all) t->all->all_prev = s;
  t->all = s;
  return s;
}

void tcp_sock_free(tl_stack *st, struct tl_sock *s) {
  struct tl_tcp *t = tl_tcp_of(st);
  tcp_event_unlink(st, s);
  tcp_timer_remove(st, s);
  tcp_table_remove(t, s);
  if (s->listener) tcp_listener_remove(t, s);
  tcp_listen_unlink(s);
  if (s->all_prev)
    s->all_prev->all_next = s->all_next;
  else
    t->all = s->all_next;
  if (s->all_next) s->all_next->all_prev = s->all_prev;
  tl_ring_free(&s->snd);
  tl_ring_free(&s->rcv);
  tcp_loss_free(s);
  tcp_rack_free(s);
  tcp_peer6_put(t, s->raddr); /* an IPv6 peer's reference; nothing for IPv4 */
  free(s);
}

/* RFC 9293 3.7.1: send MSS = min(peer's MSS option, what our path takes);
 * RFC 6691: both count only the data (we send no options after the SYN). */
void tcp_mss_update(tl_stack *st, struct tl_sock *s) {
  /* IP and TCP headers: 40 bytes, 60 over IPv6 (RFC 8200 5: MSS = MTU - 60). */
  uint32_t hdrs = tcp_is_v6(s->raddr) ? 60u : 40u;
  uint32_t mine = st->cfg.mtu > hdrs + TL_MIN_MSS ? st->cfg.mtu - hdrs : TL_MIN_MSS;
  if (s->user_mss && s->user_mss < mine) mine = s->user_mss;
  if (mine < TL_MIN_MSS) mine = TL_MIN_MSS;
  if (s->state == TL_CLOSED || s->state == TL_LISTEN || s->snd_max == s->iss) s->rcv_mss = (uint16_t)mine;
  uint32_t snd = s->peer_mss < mine ? s->peer_mss : mine;
  if (s->pmtu > hdrs && s->pmtu - hdrs < snd) snd = s->pmtu - hdrs;
  if (s->ts_ok) snd -= 12; /* RFC 6691: room for the timestamp option in every segment */
  if (snd < TL_MIN_MSS) snd = TL_MIN_MSS;
  s->snd_mss = (uint16_t)snd;
}

void tcp_set_state(tl_stack *st, struct tl_sock *s, int state) {
  (void)st;
  s->state = (uint8_t)state;
}

/* RFC 9293 3.10.7.4: TIME-WAIT lasts 2 MSL; re-entering restarts it. */
void tcp_enter_time_wait(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->state != TL_TIME_WAIT) TL_COUNT(st, tcp_time_wait);
  tcp_set_state(st, s, TL_TIME_WAIT);
  s->persist = 0;
  s->t_rtx = now + 2 * (int64_t)st->cfg.tcp_msl_us;
  if (s->t_rtx <= now) s->t_rtx = now + 1;
  s->t_keep = TL_T_OFF;
  s->t_release = TL_T_OFF;
  tcp_timer_update(st, s);
  tl_ring_free(&s->snd);
  tcp_loss_free(s); /* both halves are done: nothing left to recover */
  tcp_rack_free(s);
  tcp_buf_closed(s);
  tcp_event(st, s, TL_EV_CLOSED | TL_EV_READABLE);
}

void tcp_conn_closed(tl_stack *st, struct tl_sock *s, int err) {
  if (err) s->err = err;
  s->state = TL_CLOSED;
  tcp_table_remove(tl_tcp_of(st), s);
  s->t_rtx = s->t_delack = s->t_keep = s->t_release = TL_T_OFF;
  tcp_timer_remove(st, s);
  tl_ring_free(&s->snd);
  tcp_loss_free(s);
  tcp_rack_free(s);
  tcp_buf_closed(s);
  tl_ring_forget_ahead(&s->rcv);
  if (s->parent || !s->user_owned) {
    tcp_sock_free(st, s);
    return;
  }
  tcp_event(st, s, TL_EV_CLOSED | TL_EV_READABLE | TL_EV_WRITABLE);
}

/* ---- demux --------------------------------------------------------------------- */
/* An IPv6 segment enters with 32-bit ids for its addresses (tcp_peer6.h),
 * and its checksum is checked over the IPv6 pseudo-header (RFC 8200 8.1). */
static int parse6(struct tl_tcp *t, struct tl_ip_meta *m, const uint8_t *seg, size_t len, struct tl_tcp_hdr *h) {
  uint32_t id = tcp_peer6_find(t, m->src6);
  t->peers6.cur = m->src6;
  m->src = id ? id : TCP_V6_CUR;
  m->dst = TCP_V6_LOCAL;
  if (!(m->rx_flags & TL_RX_CSUM_PARTIAL) &&
      tl_csum_fold(tl_csum_partial(seg, len, tl_csum_pseudo6(m->src6, m->dst6, TL_PROTO_TCP, (uint32_t)len))))
    return TL_TCP_ECSUM;
  return tl_tcp_parse_nocsum(seg, len, h);
}

void tl_tcp_input(tl_stack *st, const struct tl_ip_meta *ip4, const uint8_t *seg, size_t len, int64_t now) {
  struct tl_tcp *t = tl_tcp_of(st);
  struct tl_tcp_hdr h;
  struct tl_ip_meta m6;
  const struct tl_ip_meta *ip = ip4;
  TL_COUNT(st, tcp_in);
  int parsed;
  if (ip4->family == TL_FAM_V6) {
    m6 = *ip4;
    ip = &m6;
    parsed = parse6(t, &m6, seg, len, &h);
  } else {
    /* A GRO'd segment from the local kernel carries only the pseudo-header
     * sum (virtio NEEDS_CSUM): the data never crossed a wire to be checked. */
    parsed = (ip->rx_flags & TL_RX_CSUM_PARTIAL) ? tl_tcp_parse_nocsum(seg, len, &h)
                                                  : tl_tcp_parse(seg, len, ip->src, ip->dst, &h);
  }
  switch (parsed) {
  case TL_TCP_OK: break;
  case TL_TCP_ESHORT: TL_COUNT(st, drop_tcp_short); return;
  case TL_TCP_EOFF: TL_COUNT(st, drop_tcp_offset); return;
  case TL_TCP_EOPT: TL_COUNT(st, drop_tcp_option); return;
  default: TL_COUNT(st, drop_tcp_checksum); return;
  }
  if (h.sport == 0 || h.dport == 0) {
    TL_COUNT(st, drop_tcp_port_zero);
    return;
  }
  struct tl_sock *s = tcp_lookup(t, ip->dst, h.dport, ip->src, h.sport);
  if (s) {
    tcp_segment_arrives(st, s, ip, &h, now);
    return;
  }
  struct tl_sock *l = tcp_listener_find(t, h.dport);
  if (l) {
    tcp_listen_input(st, l, ip, &h, now);
    return;
  }
  /* RFC 9293 3.10.7.1: CLOSED. */
  TL_COUNT(st, drop_tcp_no_socket);
  tcp_send_rst_reply(st, ip, &h);
}

/* ---- socket API -------------------------------------------------------------- */
tl_sock *tl_listen(tl_stack *st, uint16_t port, int backlog, int *err) {
  int e = 0;
  struct tl_sock *s = NULL;
  if (port == 0) {
    e = TL_EINVAL;
  } else if (tcp_listener_find(tl_tcp_of(st), port)) {
    e = TL_EADDRINUSE;
  } else if (!(s = tcp_sock_new(st))) {
    e = TL_ENOMEM;
  } else {
    s->listener = 1;
    s->user_owned = 1;
    s->state = TL_LISTEN;
    s->laddr = st->cfg.addr;
    s->lport = port;
    s->backlog = (uint16_t)(backlog > 0 ? (backlog > 65535 ? 65535 : backlog) : st->cfg.tcp_backlog);
    s->no_syncookies = st->cfg.tcp_no_syncookies != 0;
    tcp_listener_add(tl_tcp_of(st), s);
  }
  if (err) *err = e;
  return s;
}

tl_sock *tl_socket(tl_stack *st) {
  struct tl_sock *s = tcp_sock_new(st);
  if (s) s->user_owned = 1;
  return s;
}

/* The active open for either family: laddr/daddr are IPv4 addresses, or
 * TCP_V6_LOCAL and a peer id whose reference s takes over. */
static int connect_to(tl_sock *s, uint32_t laddr, uint32_t daddr, uint16_t dport, uint16_t sport, int64_t now) {
  tl_stack *st = s->st;
  struct tl_tcp *t = tl_tcp_of(st);
  if (sport == 0) {
    int p = tcp_ephemeral_port(t, laddr, daddr, dport);
    if (p < 0) return TL_EADDRINUSE;
    sport = (uint16_t)p;
  } else if (tcp_lookup(t, laddr, sport, daddr, dport)) {
    return TL_EADDRINUSE;
  }
  st->now = now;
  s->active_open = 1;
  s->laddr = laddr;
  s->lport = sport;
  s->raddr = daddr;
  s->rport = dport;
  tcp_mss_update(st, s); /* the family sets the headers' size */
  s->iss = tcp_isn(t, laddr, sport, daddr, dport, now); /* RFC 6528 */
  s->snd_una = s->snd_nxt = s->snd_max = s->recover = s->iss;
  s->state = TL_SYN_SENT;
  s->last_rx = now;
  tcp_table_insert(t, s);
  TL_COUNT(st, tcp_active_open);
  s->rtt_timing = 1; /* time the SYN (RFC 6298 3, Karn applies) */
  s->rtt_seq = s->iss + 1;
  s->rtt_start = now;
  tcp_output(st, s, now);
  return 0;
}

static int can_connect(const tl_sock *s) {
  return s && !s->listener && s->state == TL_CLOSED && !s->in_table && !s->err;
}

int tl_connect_sock(tl_sock *s, uint32_t daddr, uint16_t dport, uint16_t sport, int64_t now) {
  if (!can_connect(s)) return TL_EINVAL;
  /* Not 0, multicast or 240/4 (reserved; tcp_peer6.h gives it to IPv6). */
  if (dport == 0 || daddr == 0 || (daddr >> 28) >= 14) return TL_EINVAL;
  return connect_to(s, s->st->cfg.addr, daddr, dport, sport, now);
}

int tl_connect_sock6(tl_sock *s, const uint8_t *daddr, uint16_t dport, uint16_t sport, int64_t now) {
  if (!can_connect(s) || !daddr || dport == 0) return TL_EINVAL;
  if (tl_ip6_is_v4mapped(daddr)) return tl_connect_sock(s, tl_get32(daddr + 12), dport, sport, now);
  if (!s->st->ip6 || tl_ip6_is_multicast(daddr) || tl_ip6_is_unspecified(daddr)) return TL_EINVAL;
  struct tl_tcp *t = tl_tcp_of(s->st);
  uint32_t id = tcp_peer6_get(t, daddr);
  if (!id) return TL_ENOMEM;
  int e = connect_to(s, TCP_V6_LOCAL, id, dport, sport, now);
  if (e < 0) tcp_peer6_put(t, id);
  return e;
}

tl_sock *tl_connect(tl_stack *st, uint32_t daddr, uint16_t dport, uint16_t sport, int64_t now, int *err) {
  tl_sock *s = tl_socket(st);
  int e = s ? tl_connect_sock(s, daddr, dport, sport, now) : TL_ENOMEM;
  if (e < 0 && s) {
    tl_abort(s, now);
    s = NULL;
  }
  if (err) *err = e;
  return s;
}

tl_sock *tl_connect6(tl_stack *st, const uint8_t *daddr, uint16_t dport, uint16_t sport, int64_t now, int *err) {
  tl_sock *s = tl_socket(st);
  int e = s ? tl_connect_sock6(s, daddr, dport, sport, now) : TL_ENOMEM;
  if (e < 0 && s) {
    tl_abort(s, now);
    s = NULL;
  }
  if (err) *err = e;
  return s;
}

int tcp_can_send(const struct tl_sock *s) {
  switch (s->state) {
  case TL_SYN_SENT:
  case TL_SYN_RECEIVED:
  case TL_ESTABLISHED:
  case TL_CLOSE_WAIT: return !s->fin_queued;
  default: return 0;
  }
}

enum { SEND_COPY, SEND_URGENT, SEND_REF };

static long send_data_call(tl_sock *s, const uint8_t *data, size_t len, int how, int64_t now) {
  if (!s || s->listener) return TL_EINVAL;
  if (s->err) return s->err;
  if (!tcp_can_send(s)) return s->state == TL_CLOSED && !s->fin_queued ? TL_ENOTCONN : TL_ECLOSED;
  if (len == 0) return 0;
  if (s->notsent_lowat_kb && tcp_notsent_full(s)) return 0;
  tcp_cc_send_resume(s->st, s, now); /* before the data makes the socket busy */
  uint32_t want = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
  if (want > tl_ring_space(&s->snd)) tcp_buf_app_blocked(s->st, s);
  uint32_t n = how == SEND_REF ? tl_ring_write_ref(&s->snd, data, want) : tl_ring_write(&s->snd, data, want);
  /* A piece list that cannot grow (no memory) leaves the bytes to be
   * copied, as tl_send would: lending is an optimisation, not a promise. */
  if (how == SEND_REF && n == 0) n = tl_ring_write(&s->snd, data, want);
  if (how == SEND_URGENT && n) {
    /* RFC 9293 3.10.2 SEND with URGENT: SND.UP <- the end of the queue;
     * a later urgent send extends the same mark (RFC 1122 4.2.2.4: a
     * sequence of urgent data of any length). */
    s->snd_up = tcp_data_seq0(s) + s->snd.len;
    s->snd_urg = 1;
  }
  s->st->now = now;
  if (!tl_tcp_synchronized(s->state)) return n;
  uint32_t seg_max = tcp_seg_max(s->st, s);
  if (how != SEND_URGENT && (s->st->batch & TL_BATCH_TX) && seg_max > s->snd_mss &&
      s->snd_nxt - s->snd_una >= seg_max) {
    /* With a whole TSO super-segment in flight an ACK is on its way and
     * nothing here is urgent: the poll after the application's step
     * sends all it queued in this step, so successive writes fill whole
     * super-segments instead of the write that completes one block going
     * out alone (an autocork at the step boundary). A connection with
     * less in flight sends at once, as before. */
    s->out_owed = 1;
    if (s->t_delack > now) {
      s->t_delack = now;
      tcp_timer_update(s->st, s);
    }
    return n;
  }
  tcp_output(s->st, s, now);
  return n;
}

long tl_send(tl_sock *s, const uint8_t *data, size_t len, int64_t now) {
  return send_data_call(s, data, len, SEND_COPY, now);
}

long tl_send_ref(tl_sock *s, const uint8_t *data, size_t len, int64_t now) {
  return send_data_call(s, data, len, SEND_REF, now);
}

uint64_t tl_sock_snd_acked(const tl_sock *s) { return s ? s->bytes_acked : 0; }

uint64_t tl_sock_snd_queued(const tl_sock *s) { return s ? s->bytes_acked + s->snd.len : 0; }

long tl_send_urgent(tl_sock *s, const uint8_t *data, size_t len, int64_t now) {
  return send_data_call(s, data, len, SEND_URGENT, now);
}

/* After the application took n bytes off the receive ring. */
static void app_read(tl_sock *s, uint32_t n, int64_t now) {
  tcp_buf_app_read(s->st, s, n, now);
  if (s->rcv.len == 0) tcp_buf_drained(s->st, s, now);
  /* A window update when the window we could offer has at least doubled
   * and grown by the SWS threshold (RFC 9293 3.8.6.2.2), so a sender
   * stalled on our window resumes without waiting for its persist timer.
   * It goes out from the next poll (at this same time) rather than at
   * once: an application that answers what it read sends data first,
   * and that segment carries the new window (one datagram, not two). */
  if (n && (s->state == TL_ESTABLISHED || s->state == TL_FIN_WAIT_1 || s->state == TL_FIN_WAIT_2)) {
    uint32_t cur = tl_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
    uint32_t space = tl_ring_space(&s->rcv);
    uint32_t thresh = s->rcv.cap / 2 < s->rcv_mss ? s->rcv.cap / 2 : s->rcv_mss;
    uint32_t limit = (uint32_t)65535 << s->rcv_wscale;
    if (space > limit) space = limit;
    if (space >= cur + thresh && space >= 2 * cur) {
      TL_COUNT(s->st, tcp_window_update);
      if (s->t_delack > now) {
        s->t_delack = now;
        tcp_timer_update(s->st, s);
      }
    }
  }
}

long tl_recv(tl_sock *s, uint8_t *buf, size_t cap, int64_t now) {
  if (!s || s->listener) return TL_EINVAL;
  if (s->rd_shut) {
    /* After SHUT_RD what arrives is acknowledged and dropped, so the peer
     * is never stalled on a window nobody will open. */
    uint32_t n = s->rcv.len;
    if (n) {
      tl_ring_drop(&s->rcv, n);
      app_read(s, n, now);
    }
    return s->err ? s->err : TL_ECLOSED;
  }
  if (s->rcv.len) {
    uint32_t n = tl_ring_read(&s->rcv, buf, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap);
    app_read(s, n, now);
    return n;
  }
  if (s->err) return s->err;
  if (s->rcv_fin || s->state == TL_CLOSED) return TL_ECLOSED;
  return TL_EAGAIN;
}

size_t tl_readable(const tl_sock *s) { return s && !s->listener && !s->rd_shut ? s->rcv.len : 0; }

long tl_find_byte(const tl_sock *s, uint8_t c) {
  return s && !s->listener && !s->rd_shut ? tl_ring_find(&s->rcv, c) : -1;
}

size_t tl_writable(const tl_sock *s) {
  return s && !s->listener && tcp_can_send(s) && !s->err ? tl_ring_space(&s->snd) : 0;
}

/* RFC 9293 3.10.4 CLOSE for the sending half. */
static int close_send(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->fin_queued) return 0;
  switch (s->state) {
  case TL_SYN_SENT:
  case TL_SYN_RECEIVED:
    s->fin_queued = 1; /* FIN once ESTABLISHED, after queued data */
    return 0;
  case TL_ESTABLISHED:
    s->fin_queued = 1;
    tcp_set_state(st, s, TL_FIN_WAIT_1);
    break;
  case TL_CLOSE_WAIT:
    s->fin_queued = 1;
    tcp_set_state(st, s, TL_LAST_ACK);
    break;
  default: return TL_ENOTCONN;
  }
  tcp_output(st, s, now);
  return 0;
}

int tl_shutdown(tl_sock *s, int64_t now) {
  if (!s || s->listener) return TL_EINVAL;
  if (s->err) return s->err;
  return close_send(s->st, s, now);
}

static void release(tl_stack *st, struct tl_sock *s) {
  tcp_event_unlink(st, s);
  s->user_owned = 0;
  s->ev_mask = 0;
}

void tl_close(tl_sock *s, int64_t now) {
  if (!s) return;
  tl_stack *st = s->st;
  st->now = now;
  if (s->listener) {
    tcp_listen_close(st, s, now);
    tcp_sock_free(st, s);
    return;
  }
  release(st, s);
  switch (s->state) {
  case TL_CLOSED: tcp_sock_free(st, s); return;
  case TL_SYN_SENT: tcp_conn_closed(st, s, TL_EABORTED); return;
  case TL_TIME_WAIT: return; /* the timer frees it */
  default: break;
  }
  /* The caller lets go of what tl_send_ref lent us: keep a copy of what
   * is still unacknowledged. Without memory for it the data cannot be
   * delivered, so the peer is told with a RST. */
  if (tl_ring_own_all(&s->snd) < 0) {
    TL_COUNT(st, tcp_conn_aborted);
    tcp_send_rst_conn(st, s, s->snd_max);
    tcp_conn_closed(st, s, TL_ENOMEM);
    return;
  }
  if (s->rcv.len) {
    /* RFC 9293 3.10.4 / RFC 1122 4.2.2.13: closing with unread data loses
     * it, so tell the peer with a RST rather than a FIN. */
    TL_COUNT(st, tcp_conn_aborted);
    tcp_send_rst_conn(st, s, s->snd_max);
    tcp_conn_closed(st, s, TL_EABORTED);
    return;
  }
  close_send(st, s, now);
  if (s->state == TL_FIN_WAIT_2) {
    s->t_keep = now + 2 * (int64_t)st->cfg.tcp_msl_us;
    tcp_timer_update(st, s);
  } else if (s->linger_ms) {
    /* Bounded linger: what is still unacknowledged after linger_ms is
     * given up with a RST (the orphan FIN-WAIT-2 limit replaces this once
     * our FIN is acked). */
    s->t_keep = now + (int64_t)s->linger_ms * 1000;
    tcp_timer_update(st, s);
  }
}

/* RFC 9293 3.10.5 ABORT. */
void tl_abort(tl_sock *s, int64_t now) {
  if (!s) return;
  tl_stack *st = s->st;
  st->now = now;
  if (s->listener) {
    tl_close(s, now);
    return;
  }
  release(st, s);
  switch (s->state) {
  case TL_SYN_RECEIVED:
  case TL_ESTABLISHED:
  case TL_FIN_WAIT_1:
  case TL_FIN_WAIT_2:
  case TL_CLOSE_WAIT: tcp_send_rst_conn(st, s, s->snd_max); break;
  default: break;
  }
  if (s->state == TL_CLOSED) {
    tcp_sock_free(st, s);
    return;
  }
  TL_COUNT(st, tcp_conn_aborted);
  tcp_conn_closed(st, s, TL_EABORTED);
}
