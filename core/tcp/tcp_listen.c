/* Passive open: RFC 9293 3.10.7.2 (segment arrives in LISTEN), the SYN queue
 * (children in SYN-RECEIVED) and the accept queue (children established but
 * not yet taken by tl_accept), each bounded by the listener's backlog.
 * While the SYN queue is full, SYNs are answered with SYN cookies (RFC 4987
 * 3.6, tcp_syncookie.c) unless TL_OPT_SYNCOOKIES turned them off. */
#include <string.h>

#include "tcp_syncookie.h"

static void q_push(struct tl_sock **head, struct tl_sock **tail, struct tl_sock *s) {
  s->qnext = NULL;
  s->qprev = tail ? *tail : NULL;
  if (tail) {
    if (*tail)
      (*tail)->qnext = s;
    else
      *head = s;
    *tail = s;
  } else {
    s->qnext = *head;
    if (*head) (*head)->qprev = s;
    *head = s;
  }
}

static void q_remove(struct tl_sock **head, struct tl_sock **tail, struct tl_sock *s) {
  if (s->qprev)
    s->qprev->qnext = s->qnext;
  else
    *head = s->qnext;
  if (s->qnext)
    s->qnext->qprev = s->qprev;
  else if (tail)
    *tail = s->qprev;
  s->qnext = s->qprev = NULL;
}

void tcp_listen_unlink(struct tl_sock *s) {
  struct tl_sock *l = s->parent;
  if (!l) return;
  if (s->in_queue == 1) {
    q_remove(&l->synq, NULL, s);
    l->synq_len--;
  } else if (s->in_queue == 2) {
    q_remove(&l->acceptq, &l->acceptq_tail, s);
    l->acceptq_len--;
  }
  s->in_queue = 0;
  s->parent = NULL;
}

int tcp_listen_established(tl_stack *st, struct tl_sock *s) {
  struct tl_sock *l = s->parent;
  if (l->acceptq_len >= l->backlog) return -1;
  q_remove(&l->synq, NULL, s);
  l->synq_len--;
  q_push(&l->acceptq, &l->acceptq_tail, s);
  l->acceptq_len++;
  s->in_queue = 2;
  tcp_event(st, l, TL_EV_ACCEPT);
  return 0;
}

/* A child of listener l from SYN h, as RFC 9293 3.10.7.2 third sets it up:
 * the listener's options, RCV.NXT = SEG.SEQ + 1, ISS, the SYN's options.
 * s is either a new TCB or a scratch one for a cookie SYN-ACK. */
static void child_fill(tl_stack *st, struct tl_sock *l, struct tl_sock *s, const struct tl_ip_meta *ip,
                       const struct tl_tcp_hdr *h, uint32_t iss, int64_t now) {
  s->laddr = ip->dst;
  s->lport = h->dport;
  s->raddr = ip->src;
  s->rport = h->sport;
  /* Children inherit the listener's options. */
  s->nodelay = l->nodelay;
  s->keepalive = l->keepalive;
  s->keepidle_ms = l->keepidle_ms;
  s->keepintvl_ms = l->keepintvl_ms;
  s->keepcnt = l->keepcnt;
  s->user_mss = l->user_mss;
  s->cc = l->cc;
  s->recovery_dupack = l->recovery_dupack;
  s->sndbuf_locked = l->sndbuf_locked; /* an explicit size stays fixed (tcp_buf.c) */
  s->rcvbuf_locked = l->rcvbuf_locked;
  s->user_timeout_ms = l->user_timeout_ms;
  s->no_ts_offer = l->no_ts_offer;
  s->no_sack_offer = l->no_sack_offer;
  s->no_ws_offer = l->no_ws_offer;
  s->cork = l->cork;
  s->notsent_lowat_kb = l->notsent_lowat_kb;
  tl_ring_resize(&s->snd, l->snd.cap);
  tl_ring_resize(&s->rcv, l->rcv.cap);
  s->irs = h->seq;
  s->rcv_nxt = h->seq + 1;
  s->rcv_adv = s->rcv_nxt;
  s->iss = iss;
  s->snd_una = s->snd_nxt = s->snd_max = s->recover = s->iss;
  tcp_take_syn_options(st, s, h);
  s->snd_wnd = s->max_sndwnd = h->win; /* unscaled in a SYN */
  s->snd_wl1 = h->seq;
  s->snd_wl2 = s->iss;
  s->state = TL_SYN_RECEIVED;
  s->last_rx = now;
}

/* A new child in l's SYN queue, or NULL (no memory, 4-tuple taken). */
static struct tl_sock *child_new(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                                 const struct tl_tcp_hdr *h, uint32_t iss, int64_t now) {
  struct tl_sock *s = tcp_sock_new(st);
  if (!s) return NULL;
  child_fill(st, l, s, ip, h, iss, now);
  if (tcp_table_insert(tl_tcp_of(st), s) < 0) {
    tcp_sock_free(st, s);
    return NULL;
  }
  s->parent = l;
  s->in_queue = 1;
  q_push(&l->synq, NULL, s);
  l->synq_len++;
  return s;
}

/* SYN cookies (RFC 4987 3.6, tcp_syncookie.c): the SYN queue is full, so
 * answer from a scratch child that is never linked or allocated. */
static void cookie_reply(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                         const struct tl_tcp_hdr *h, int64_t now) {
  struct tl_sock tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.st = st;
  tmp.pmtu = st->cfg.mtu;
  tl_ring_init(&tmp.snd, l->snd.cap);
  tl_ring_init(&tmp.rcv, l->rcv.cap);
  child_fill(st, l, &tmp, ip, h, 0, now);
  tcp_syncookie_send(st, l, &tmp, ip, h, now);
}

/* An ACK to listener l that may return one of its cookies (RFC 4987 3.6).
 * Returns 1 if it did (the connection is made, from a SYN rebuilt out of
 * the cookie, and the ACK then goes through SYN-RECEIVED as usual, with
 * any data it carries), 0 for the caller to treat it as any ACK to a
 * listener. Checked only while l sent cookies recently, as Linux does. */
static int cookie_ack(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                      const struct tl_tcp_hdr *h, int64_t now) {
  if (l->no_syncookies || (h->flags & TL_TH_SYN) || !tcp_syncookie_live(l, now)) return 0;
  struct tl_syncookie c;
  if (tcp_syncookie_check(st, ip, h, now, &c) < 0) {
    TL_COUNT(st, tcp_syncookies_rejected);
    return 0;
  }
  /* With the accept queue full the child waits in SYN-RECEIVED, like one
   * whose ACK found no room (below); past twice the backlog in the SYN
   * queue, the ACK is dropped instead, as Linux always does. */
  if (l->acceptq_len >= l->backlog && l->synq_len >= 2u * l->backlog) {
    TL_COUNT(st, drop_tcp_backlog);
    return 1;
  }
  struct tl_tcp_hdr syn;
  memset(&syn, 0, sizeof syn);
  syn.sport = h->sport;
  syn.dport = h->dport;
  syn.seq = c.peer_iss;
  syn.flags = TL_TH_SYN;
  syn.win = h->win;
  syn.opt.has_mss = 1;
  syn.opt.mss = c.mss;
  syn.opt.has_wscale = c.ws_ok;
  syn.opt.wscale = c.wscale;
  syn.opt.sack_ok = c.sack_ok;
  syn.opt.has_ts = c.ts;
  syn.opt.ts_val = h->opt.ts_val;
  syn.opt.ts_ecr = h->opt.ts_ecr;
  struct tl_sock *s = child_new(st, l, ip, &syn, h->ack - 1, now);
  if (!s) return 1;
  TL_COUNT(st, tcp_syncookies_accepted);
  TL_COUNT(st, tcp_passive_open); /* a passive open all the same, its SYN now rebuilt */
  /* As if our SYN-ACK had left from this TCB: its window, its TS clock. */
  tcp_rcv_window(s, 1);
  s->snd_nxt = s->snd_max = s->iss + 1;
  s->last_ack_sent = s->rcv_nxt;
  if (c.ts) s->ts_offset = tcp_syncookie_ts_offset(st, s->laddr, s->lport, s->raddr, s->rport);
  uint16_t queued = l->synq_len;
  struct tl_tcp_hdr seg = *h;
  tcp_segment_arrives(st, s, ip, &seg, now);
  /* The ACK moved it to the accept queue (or ended it), unless that was
   * full: then it stays in SYN-RECEIVED (tcp_process_ack), and our SYN-ACK
   * retransmissions, as from any half-open child, make the peer ACK again
   * until there is room or tcp_synack_retries run out. It is a real peer:
   * it returned a cookie. */
  if (l->synq_len == queued) tcp_rto_arm(st, l->synq, now);
  return 1;
}

void tcp_listen_input(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                      const struct tl_tcp_hdr *h, int64_t now) {
  /* first: an incoming RST is ignored */
  if (h->flags & TL_TH_RST) return;
  /* second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>, unless it
   * returns a SYN cookie (RFC 4987 3.6) */
  if (h->flags & TL_TH_ACK) {
    if (cookie_ack(st, l, ip, h, now)) return;
    TL_COUNT(st, drop_tcp_listen_ack);
    tcp_send_rst_reply(st, ip, h);
    return;
  }
  /* third: SYN (security check omitted, see tcp_input.c) */
  if (!(h->flags & TL_TH_SYN)) {
    TL_COUNT(st, drop_tcp_listen_other);
    return;
  }
  if (l->acceptq_len >= l->backlog || (l->synq_len >= l->backlog && l->no_syncookies)) {
    TL_COUNT(st, drop_tcp_backlog); /* silently: the peer retries its SYN */
    return;
  }
  if (l->synq_len >= l->backlog) {
    cookie_reply(st, l, ip, h, now);
    return;
  }
  uint32_t iss = tcp_isn(tl_tcp_of(st), ip->dst, h->dport, ip->src, h->sport, now);
  struct tl_sock *s = child_new(st, l, ip, h, iss, now);
  if (!s) return;
  TL_COUNT(st, tcp_passive_open);
  /* Data or FIN riding on the SYN is not queued: the peer sends it again
   * once the handshake completes. */
  tcp_output(st, s, now); /* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
}

void tcp_listen_close(tl_stack *st, struct tl_sock *l, int64_t now) {
  (void)now;
  struct tl_sock *q[2] = {l->synq, l->acceptq};
  for (int i = 0; i < 2; i++) {
    struct tl_sock *s = q[i], *next;
    for (; s; s = next) {
      next = s->qnext;
      TL_COUNT(st, tcp_listen_reset);
      tcp_send_rst_conn(st, s, s->snd_max);
      tcp_conn_closed(st, s, TL_ERESET);
    }
  }
}

tl_sock *tl_accept(tl_sock *l) {
  if (!l || !l->listener) return NULL;
  struct tl_sock *s = l->acceptq;
  if (!s) return NULL;
  tcp_listen_unlink(s);
  s->user_owned = 1;
  tcp_event(s->st, s, 0); /* queue what it gathered while unaccepted */
  return s;
}
