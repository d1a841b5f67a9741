/* What a socket and the TCP layer tell about themselves: the user word,
 * error, state, addresses, tl_sock_info (as Linux's tcp_info), and the
 * engine's introspection for specs and benchmarks (api_tcp.h). */
#include <string.h>

#include "tcp_cc.h"
#include "tcp_tcb.h"

void tl_sock_set_user(tl_sock *s, uint64_t user) {
  if (s) s->user = user;
}
uint64_t tl_sock_user(const tl_sock *s) { return s ? s->user : 0; }
int tl_sock_error(const tl_sock *s) { return s ? s->err : TL_EINVAL; }
int tl_sock_state(const tl_sock *s) { return s ? s->state : TL_CLOSED; }
int tl_sock_is_listener(const tl_sock *s) { return s && s->listener; }

void tl_sock_addrs(const tl_sock *s, uint32_t *laddr, uint16_t *lport, uint32_t *raddr, uint16_t *rport) {
  if (laddr) *laddr = s->laddr;
  if (lport) *lport = s->lport;
  if (raddr) *raddr = s->raddr;
  if (rport) *rport = s->rport;
}

int tl_sock_family(const tl_sock *s, uint8_t *laddr, uint8_t *raddr) {
  if (!s || !tcp_is_v6(s->raddr)) return 4;
  const struct tl_tcp *t = tl_tcp_of(s->st);
  const uint8_t *l = tcp_addr6(t, TCP_V6_LOCAL), *r = tcp_addr6(t, s->raddr);
  if (laddr && l) memcpy(laddr, l, 16);
  if (raddr && r) memcpy(raddr, r, 16);
  return 6;
}

const char *tl_state_name(int state) {
  static const char *const names[] = {"CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                      "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                      "CLOSING",     "LAST-ACK",   "TIME-WAIT"};
  return state >= 0 && state <= TL_TIME_WAIT ? names[state] : "UNKNOWN";
}

int tl_sock_info(const tl_sock *s, tl_tcp_info *i) {
  if (!s || !i) return TL_EINVAL;
  memset(i, 0, sizeof *i);
  i->state = s->state;
  i->snd_una = s->snd_una;
  i->snd_nxt = s->snd_nxt;
  i->snd_wnd = s->snd_wnd;
  i->snd_wl1 = s->snd_wl1;
  i->snd_wl2 = s->snd_wl2;
  i->iss = s->iss;
  i->rcv_nxt = s->rcv_nxt;
  i->rcv_wnd = tl_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
  i->irs = s->irs;
  i->snd_mss = s->snd_mss;
  i->rcv_mss = s->rcv_mss;
  i->cwnd = s->cwnd;
  i->ssthresh = s->ssthresh;
  i->srtt_us = s->srtt_us;
  i->rttvar_us = s->rttvar_us;
  i->rto_us = s->rto_us;
  i->retransmits = s->retries;
  i->backoff = s->backoff;
  i->total_retrans = s->total_retrans;
  i->bytes_sent = s->bytes_sent;
  i->bytes_retrans = s->bytes_retrans;
  i->bytes_acked = s->bytes_acked;
  i->bytes_received = s->bytes_received;
  i->segs_in = s->segs_in;
  i->segs_out = s->segs_out;
  i->data_segs_in = s->data_segs_in;
  i->data_segs_out = s->data_segs_out;
  i->unacked = s->snd_max - s->snd_una;
  i->sndbuf = s->snd.cap;
  i->sndbuf_used = s->snd.len;
  i->rcvbuf = s->rcv.cap;
  i->rcvbuf_used = s->rcv.len;
  i->ooo_bytes = tl_asm_bytes(tcp_ooo(s));
  i->dupacks = s->dupacks;
  i->fast_retrans = s->fast_retrans;
  i->probes = s->probes;
  i->challenge_acks = s->challenge_acks;
  i->pmtu = s->pmtu;
  i->nodelay = s->nodelay;
  i->keepalive = s->keepalive;
  i->last_error = s->err ? s->err : s->soft_err;
  i->snd_up = s->snd_urg ? s->snd_up : s->snd_una;
  i->rcv_up = s->rcv_urg ? s->rcv_up : s->rcv_nxt;
  return 0;
}

/* ---- introspection (api_tcp.h) ---------------------------------------------- */
size_t tl_tcp_sock_size(void) { return sizeof(struct tl_sock); }

uint32_t tl_tcp_sock_count(const tl_stack *st) {
  uint32_t n = 0;
  for (const struct tl_sock *s = tl_tcp_of(st)->all; s; s = s->all_next)
    n++;
  return n;
}

size_t tl_tcp_ring_bytes(const tl_stack *st) {
  size_t n = 0;
  for (const struct tl_sock *s = tl_tcp_of(st)->all; s; s = s->all_next)
    n += (size_t)s->snd.size + s->rcv.size + tl_ring_ext_bytes(&s->snd);
  return n;
}

size_t tl_tcp_mem_bytes(const tl_stack *st) {
  const struct tl_tcp *t = tl_tcp_of(st);
  size_t n = (size_t)t->nbuckets * sizeof *t->buckets + tl_tcp_ring_bytes(st);
  for (const struct tl_sock *s = t->all; s; s = s->all_next)
    n += sizeof *s + (s->loss ? sizeof *s->loss : 0);
  return n;
}

uint32_t tl_tcp_loss_count(const tl_stack *st) { return tl_tcp_of(st)->loss_live; }
void tl_tcp_set_loss_limit(tl_stack *st, uint32_t max) { tl_tcp_of(st)->loss_limit = max; }
uint32_t tl_tcp_conn_count(const tl_stack *st) { return tl_tcp_of(st)->nconns; }
uint32_t tl_tcp_timer_count(const tl_stack *st) { return tl_tcp_of(st)->wheel.count; }
const char *tl_tcp_cc_name(const tl_sock *s) { return s->cc->name; }

int64_t tl_tcp_cubic_elapsed_us(const tl_sock *s, int64_t now) {
  return s->cubic.epoch < 0 ? -1 : now - s->cubic.epoch;
}
