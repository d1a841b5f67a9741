/* Passive open: RFC 9293 3.10.7.2 (segment arrives in LISTEN), the SYN queue
 * (children in SYN-RECEIVED) and the accept queue (children established but
 * not yet taken by tl_accept), each bounded by the listener's backlog. */
#include "tcp_tcb.h"

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

void tcp_listen_input(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                      const struct tl_tcp_hdr *h, int64_t now) {
  /* first: an incoming RST is ignored */
  if (h->flags & TL_TH_RST) return;
  /* second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST> */
  if (h->flags & TL_TH_ACK) {
    TL_COUNT(st, drop_tcp_listen_ack);
    tcp_send_rst_reply(st, ip, h);
    return;
  }
  /* third: SYN (security check omitted, see tcp_input.c) */
  if (!(h->flags & TL_TH_SYN)) {
    TL_COUNT(st, drop_tcp_listen_other);
    return;
  }
  if (l->synq_len >= l->backlog || l->acceptq_len >= l->backlog) {
    TL_COUNT(st, drop_tcp_backlog); /* silently: the peer retries its SYN */
    return;
  }
  struct tl_sock *s = tcp_sock_new(st);
  if (!s) return;
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
  tl_ring_resize(&s->snd, l->snd.cap);
  tl_ring_resize(&s->rcv, l->rcv.cap);
  s->irs = h->seq;
  s->rcv_nxt = h->seq + 1;
  s->rcv_adv = s->rcv_nxt;
  s->iss = tl_isn(&tl_tcp_of(st)->isn_key, s->laddr, s->lport, s->raddr, s->rport, now);
  s->snd_una = s->snd_nxt = s->snd_max = s->recover = s->iss;
  tcp_take_syn_options(st, s, h);
  s->snd_wnd = s->max_sndwnd = h->win; /* unscaled in a SYN */
  s->snd_wl1 = h->seq;
  s->snd_wl2 = s->iss;
  s->state = TL_SYN_RECEIVED;
  s->last_rx = now;
  if (tcp_table_insert(tl_tcp_of(st), s) < 0) {
    tcp_sock_free(st, s);
    return;
  }
  s->parent = l;
  s->in_queue = 1;
  q_push(&l->synq, NULL, s);
  l->synq_len++;
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
