/* Connection demux: the 4-tuple hash table (grows by doubling, never per
 * packet), listeners by port, and ephemeral port choice (RFC 6056). */
#include <stdlib.h>

#include "ipv6_wire.h"
#include "tcp_tcb.h"

#define TL_TCP_BUCKETS_INITIAL 64
#define TL_EPHEMERAL_LO 49152 /* RFC 6335 6: the dynamic port range */
#define TL_EPHEMERAL_N 16384

/* The salt comes from the stack's seeded PRNG so chains are not predictable
 * from the wire. */
static uint32_t tuple_hash(const struct tl_tcp *t, uint32_t laddr, uint16_t lport, uint32_t raddr,
                           uint16_t rport) {
  uint64_t h = t->hash_salt;
  h ^= ((uint64_t)raddr << 32) | ((uint32_t)rport << 16) | lport;
  h *= 0x9e3779b97f4a7c15ULL;
  h ^= laddr;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  return (uint32_t)h;
}

int tcp_table_init(struct tl_tcp *t) {
  t->nbuckets = TL_TCP_BUCKETS_INITIAL;
  t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
  t->hash_salt = tl_rng_next(&t->st->rng);
  return t->buckets ? 0 : TL_ENOMEM;
}

void tcp_table_free(struct tl_tcp *t) {
  free(t->buckets);
  t->buckets = NULL;
}

struct tl_sock *tcp_lookup(struct tl_tcp *t, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport) {
  struct tl_sock *s = t->buckets[tuple_hash(t, laddr, lport, raddr, rport) & (t->nbuckets - 1)];
  for (; s; s = s->hnext)
    if (s->rport == rport && s->lport == lport && s->raddr == raddr && s->laddr == laddr) return s;
  return NULL;
}

static void grow(struct tl_tcp *t) {
  uint32_t n = t->nbuckets * 2;
  struct tl_sock **nb = calloc(n, sizeof *nb);
  if (!nb) return; /* keep the longer chains; still correct */
  for (uint32_t i = 0; i < t->nbuckets; i++) {
    struct tl_sock *s = t->buckets[i], *next;
    for (; s; s = next) {
      next = s->hnext;
      uint32_t b = tuple_hash(t, s->laddr, s->lport, s->raddr, s->rport) & (n - 1);
      s->hnext = nb[b];
      nb[b] = s;
    }
  }
  free(t->buckets);
  t->buckets = nb;
  t->nbuckets = n;
}

int tcp_table_insert(struct tl_tcp *t, struct tl_sock *s) {
  if (tcp_lookup(t, s->laddr, s->lport, s->raddr, s->rport)) return TL_EADDRINUSE;
  /* A child of the segment under input: its IPv6 peer gets an id the TCB
   * holds (tcp_peer6.h). */
  if (s->raddr == TCP_V6_CUR) {
    uint32_t id = tcp_peer6_get(t, t->peers6.cur);
    if (!id) return TL_ENOMEM;
    s->raddr = id;
  }
  if (t->nconns >= t->nbuckets) grow(t);
  uint32_t b = tuple_hash(t, s->laddr, s->lport, s->raddr, s->rport) & (t->nbuckets - 1);
  s->hnext = t->buckets[b];
  t->buckets[b] = s;
  s->in_table = 1;
  t->nconns++;
  return 0;
}

void tcp_table_remove(struct tl_tcp *t, struct tl_sock *s) {
  if (!s->in_table) return;
  struct tl_sock **pp =
      &t->buckets[tuple_hash(t, s->laddr, s->lport, s->raddr, s->rport) & (t->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->hnext)
    if (*pp == s) {
      *pp = s->hnext;
      break;
    }
  s->hnext = NULL;
  s->in_table = 0;
  t->nconns--;
}

struct tl_sock *tcp_listener_find(struct tl_tcp *t, uint16_t port) {
  struct tl_sock *s = t->listeners[port & 63];
  while (s && s->lport != port)
    s = s->hnext;
  return s;
}

void tcp_listener_add(struct tl_tcp *t, struct tl_sock *s) {
  s->hnext = t->listeners[s->lport & 63];
  t->listeners[s->lport & 63] = s;
}

void tcp_listener_remove(struct tl_tcp *t, struct tl_sock *s) {
  for (struct tl_sock **pp = &t->listeners[s->lport & 63]; *pp; pp = &(*pp)->hnext)
    if (*pp == s) {
      *pp = s->hnext;
      break;
    }
  s->hnext = NULL;
}

/* RFC 6056 3.3.1 (Algorithm 1): a random starting point, then the next free
 * port in sequence. A port is free if the 4-tuple is unused and nobody
 * listens on it. Returns the port or TL_EADDRINUSE. */
int tcp_ephemeral_port(struct tl_tcp *t, uint32_t laddr, uint32_t raddr, uint16_t rport) {
  uint32_t start = tl_rng_below(&t->st->rng, TL_EPHEMERAL_N);
  for (uint32_t i = 0; i < TL_EPHEMERAL_N; i++) {
    uint16_t port = (uint16_t)(TL_EPHEMERAL_LO + (start + i) % TL_EPHEMERAL_N);
    if (!tcp_lookup(t, laddr, port, raddr, rport) && !tcp_listener_find(t, port)) return port;
  }
  return TL_EADDRINUSE;
}

/* The connection a held datagram belongs to (api_hook.h): a TCP question,
 * so it lives here and the link boundary stays below TCP. */
tl_sock *tl_hook_sock(tl_stack *st, const tl_hook_seg *seg) {
  struct tl_ip_view v;
  if (tl_ipx_view(seg->pkt, seg->len, &v) < 0 || v.proto != TL_PROTO_TCP || !v.first || v.l4_len < 4)
    return NULL;
  uint16_t sport = tl_tcp_view_sport(v.l4), dport = tl_tcp_view_dport(v.l4);
  struct tl_tcp *t = tl_tcp_of(st);
  uint32_t src = v.src, dst = v.dst;
  if (v.family == 6) {
    /* IPv6 addresses stand as 32-bit ids inside TCP (tcp_peer6.h): ours
     * is TCP_V6_LOCAL, a peer's the id its TCBs hold (none: no TCB). */
    int in = seg->dir == TL_PCAP_DIR_IN;
    uint32_t peer = tcp_peer6_find(t, seg->pkt + (in ? 8 : 24));
    if (!peer) return NULL;
    src = in ? peer : TCP_V6_LOCAL;
    dst = in ? TCP_V6_LOCAL : peer;
  }
  if (seg->dir == TL_PCAP_DIR_IN) return tcp_lookup(t, dst, dport, src, sport);
  return tcp_lookup(t, src, sport, dst, dport);
}
