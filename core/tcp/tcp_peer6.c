/* IPv6 peers as 32-bit ids (tcp_peer6.h): a table of addresses with a
 * reference per TCB, indexed by a chained hash. Entries never move while
 * held (an id is an index), so only the hash heads are rebuilt when the
 * table grows, and that happens per new peer, not per segment. */
#include "tcp_peer6.h"

#include <stdlib.h>
#include <string.h>

#include "ipv6.h"
#include "tcp_tcb.h"

static uint32_t hash16(const struct tl_tcp *t, const uint8_t *a) {
  uint64_t x, y;
  memcpy(&x, a, 8);
  memcpy(&y, a + 8, 8);
  uint64_t h = (x ^ t->hash_salt) * 0x9e3779b97f4a7c15ULL;
  h ^= y + (h >> 29);
  h *= 0xbf58476d1ce4e5b9ULL;
  return (uint32_t)(h ^ h >> 32);
}

uint32_t tcp_peer6_find(const struct tl_tcp *t, const uint8_t *a) {
  const struct tcp_peers6 *p = &t->peers6;
  if (!p->cap) return 0;
  for (uint32_t i = p->bucket[hash16(t, a) & (p->cap - 1)]; i; i = p->e[i - 1].next)
    if (!memcmp(p->e[i - 1].a, a, 16)) return TCP_V6_BASE + i - 1;
  return 0;
}

static int grow(struct tl_tcp *t) {
  struct tcp_peers6 *p = &t->peers6;
  uint32_t cap = p->cap ? p->cap * 2 : 16;
  struct tcp_peer6 *e = realloc(p->e, cap * sizeof *e);
  if (!e) return -1;
  p->e = e;
  uint32_t *b = calloc(cap, sizeof *b);
  if (!b) return -1;
  free(p->bucket);
  p->bucket = b;
  p->cap = cap;
  for (uint32_t i = 0; i < p->n; i++) {
    if (!e[i].refs) continue; /* free entries keep their free-list link */
    uint32_t h = hash16(t, e[i].a) & (cap - 1);
    e[i].next = b[h];
    b[h] = i + 1;
  }
  return 0;
}

uint32_t tcp_peer6_get(struct tl_tcp *t, const uint8_t *a) {
  struct tcp_peers6 *p = &t->peers6;
  uint32_t id = tcp_peer6_find(t, a);
  if (id) {
    p->e[id - TCP_V6_BASE].refs++;
    return id;
  }
  uint32_t i;
  if (p->free) {
    i = p->free - 1;
    p->free = p->e[i].next;
  } else {
    if (p->n == p->cap && grow(t) < 0) return 0;
    i = p->n++;
  }
  memcpy(p->e[i].a, a, 16);
  p->e[i].refs = 1;
  uint32_t h = hash16(t, a) & (p->cap - 1);
  p->e[i].next = p->bucket[h];
  p->bucket[h] = i + 1;
  return TCP_V6_BASE + i;
}

void tcp_peer6_put(struct tl_tcp *t, uint32_t id) {
  struct tcp_peers6 *p = &t->peers6;
  if (id < TCP_V6_BASE || id - TCP_V6_BASE >= p->n) return;
  uint32_t i = id - TCP_V6_BASE;
  if (!p->e[i].refs || --p->e[i].refs) return;
  uint32_t *pp = &p->bucket[hash16(t, p->e[i].a) & (p->cap - 1)];
  while (*pp && *pp != i + 1)
    pp = &p->e[*pp - 1].next;
  if (*pp) *pp = p->e[i].next;
  p->e[i].next = p->free;
  p->free = i + 1;
}

void tcp_peers6_free(struct tl_tcp *t) {
  free(t->peers6.e);
  free(t->peers6.bucket);
  memset(&t->peers6, 0, sizeof t->peers6);
}

const uint8_t *tcp_addr6(const struct tl_tcp *t, uint32_t id) {
  if (id == TCP_V6_LOCAL) return tl_ipv6_addr(t->st);
  if (id == TCP_V6_CUR) return t->peers6.cur;
  if (id - TCP_V6_BASE < t->peers6.n) return t->peers6.e[id - TCP_V6_BASE].a;
  return NULL;
}

size_t tcp_addr_bytes(const struct tl_tcp *t, uint32_t addr, uint8_t *out) {
  if (tcp_is_v6(addr)) {
    const uint8_t *a = tcp_addr6(t, addr);
    if (a)
      memcpy(out, a, 16);
    else
      memset(out, 0, 16);
    return 16;
  }
  tl_put32(out, addr);
  return 4;
}

uint32_t tcp_flow_label(const struct tl_tcp *t, uint32_t raddr, uint16_t lport, uint16_t rport) {
  const uint8_t *a = tcp_addr6(t, raddr);
  uint32_t h = a ? hash16(t, a) : 0;
  h ^= (uint32_t)lport << 16 | rport;
  h *= 0x9e3779b1u;
  h ^= h >> 15;
  h &= 0xfffff;
  return h ? h : 1;
}

uint32_t tcp_isn(const struct tl_tcp *t, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 int64_t now) {
  uint8_t l[16], r[16];
  size_t n = tcp_addr_bytes(t, laddr, l);
  tcp_addr_bytes(t, raddr, r);
  return tl_isn_bytes(&t->isn_key, l, lport, r, rport, n, now);
}
