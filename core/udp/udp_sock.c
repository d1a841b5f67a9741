/* UDP sockets: the port table, binding (ephemeral ports by RFC 6056), the
 * ready list the application drains, and the socket API (api_udp.h). */
#include <stdlib.h>
#include <string.h>

#include "ipv6.h"
#include "udp_state.h"

/* RFC 6335 6: the dynamic ports, which RFC 6056 draws ephemeral ports from. */
#define EPH_LO 49152u
#define EPH_N (65536u - EPH_LO)

int tl_udp_init(tl_stack *st) {
  st->udp = calloc(1, sizeof *st->udp);
  return st->udp ? 0 : TL_ENOMEM;
}

void tl_udp_free(tl_stack *st) {
  struct tl_udp_state *s = st->udp;
  if (!s) return;
  /* The stack goes with every socket: handles still held are dead. */
  for (struct tl_udp *u = s->all, *next; u; u = next) {
    next = u->anext;
    udp_queue_free(&u->q);
    free(u);
  }
  free(s);
  st->udp = NULL;
}

static struct tl_udp *by_port(const struct tl_udp_state *s, uint16_t port) {
  for (struct tl_udp *u = s->bucket[port % TL_UDP_BUCKETS]; u; u = u->hnext)
    if (u->lport == port) return u;
  return NULL;
}

/* The socket a datagram from raddr:rport to our lport goes to: the port's
 * socket, unless it is connected to someone else (RFC 1122 4.1.3.5 lets a
 * connected socket take only its peer's datagrams) or bound to our
 * address of the other family. */
struct tl_udp *udp_lookup(tl_stack *st, uint16_t lport, const uint8_t *raddr, uint16_t rport) {
  struct tl_udp *u = by_port(st->udp, lport);
  if (!u) return NULL;
  if (!udp_is_any(u->raddr) && (memcmp(u->raddr, raddr, 16) || u->rport != rport)) return NULL;
  if (!udp_is_any(u->laddr) && udp_is4(u->laddr) != udp_is4(raddr)) return NULL;
  return u;
}

void udp_mark_ready(struct tl_udp *u) {
  struct tl_udp_state *s = u->st->udp;
  if (u->ready) return;
  u->ready = 1;
  u->rnext = NULL;
  if (s->ready_tail)
    s->ready_tail->rnext = u;
  else
    s->ready_head = u;
  s->ready_tail = u;
}

static void unready(struct tl_udp *u) {
  struct tl_udp_state *s = u->st->udp;
  if (!u->ready) return;
  struct tl_udp *prev = NULL;
  for (struct tl_udp *x = s->ready_head; x; prev = x, x = x->rnext)
    if (x == u) {
      if (prev)
        prev->rnext = x->rnext;
      else
        s->ready_head = x->rnext;
      if (s->ready_tail == x) s->ready_tail = prev;
      break;
    }
  u->ready = 0;
}

int tl_udp_pending_events(const tl_stack *st) { return st->udp && st->udp->ready_head; }

int tl_udp_next_event(tl_stack *st, tl_udp_event *ev) {
  struct tl_udp_state *s = st->udp;
  struct tl_udp *u = s->ready_head;
  if (!u) return 0;
  s->ready_head = u->rnext;
  if (!s->ready_head) s->ready_tail = NULL;
  u->ready = 0;
  ev->sock = u;
  ev->user = u->user;
  ev->mask = (u->q.n ? TL_UDP_EV_READABLE : 0) | (u->err ? TL_UDP_EV_ERROR : 0);
  return 1;
}

tl_udp *tl_udp_open(tl_stack *st, int *err) {
  tl_udp *u = calloc(1, sizeof *u);
  if (!u) {
    if (err) *err = TL_ENOMEM;
    return NULL;
  }
  u->st = st;
  u->checksum = 1;
  u->q.cap = st->cfg.udp_rcvbuf;
  u->anext = st->udp->all;
  if (u->anext) u->anext->aprev = u;
  st->udp->all = u;
  st->udp->count++;
  return u;
}

static void insert(struct tl_udp *u, uint16_t port) {
  struct tl_udp **b = &u->st->udp->bucket[port % TL_UDP_BUCKETS];
  u->lport = port;
  u->bound = 1;
  u->hnext = *b;
  *b = u;
}

/* RFC 6056 3.3.1 (Algorithm 1): a random start, then the next free port. */
static int ephemeral(struct tl_udp *u) {
  uint32_t start = tl_rng_below(&u->st->rng, EPH_N);
  for (uint32_t i = 0; i < EPH_N; i++) {
    uint16_t port = (uint16_t)(EPH_LO + (start + i) % EPH_N);
    if (!by_port(u->st->udp, port)) {
      insert(u, port);
      return 0;
    }
  }
  return TL_EADDRINUSE;
}

static const uint8_t any16[16];

/* Whether a (mapped IPv4 or IPv6, not ::) is one of the stack's own. */
static int ours(const tl_stack *st, const uint8_t *a) {
  if (udp_is4(a)) return tl_get32(a + 12) == st->cfg.addr;
  const uint8_t *six = tl_ipv6_addr(st);
  return six && !memcmp(a, six, 16);
}

/* A peer the socket can reach: its family is one the stack speaks and
 * the bound address's (a wildcard speaks both). */
static int reachable(const struct tl_udp *u, const uint8_t *a) {
  if (!udp_is4(a) && !tl_ipv6_addr(u->st)) return 0;
  return udp_is_any(u->laddr) || udp_is4(u->laddr) == udp_is4(a);
}

int tl_udp_bind6(tl_udp *u, const uint8_t *addr, uint16_t port) {
  if (!addr) addr = any16;
  if (u->bound || (!udp_is_any(addr) && !ours(u->st, addr))) return TL_EINVAL;
  memcpy(u->laddr, addr, 16);
  if (!port) return ephemeral(u);
  if (by_port(u->st->udp, port)) return TL_EADDRINUSE;
  insert(u, port);
  return 0;
}

int tl_udp_bind(tl_udp *u, uint32_t addr, uint16_t port) {
  uint8_t a[16] = {0};
  if (addr) udp_map4(a, addr);
  return tl_udp_bind6(u, a, port);
}

int tl_udp_connect6(tl_udp *u, const uint8_t *addr, uint16_t port) {
  if (!addr) addr = any16;
  int any = udp_is_any(addr);
  if (!any && (!port || !reachable(u, addr))) return TL_EINVAL;
  if (!u->bound) {
    int r = ephemeral(u);
    if (r < 0) return r;
  }
  memcpy(u->raddr, addr, 16);
  u->rport = any ? 0 : port;
  u->err = 0;
  return 0;
}

int tl_udp_connect(tl_udp *u, uint32_t addr, uint16_t port) {
  uint8_t a[16] = {0};
  if (addr) udp_map4(a, addr);
  return tl_udp_connect6(u, a, port);
}

long tl_udp_sendto6(tl_udp *u, const uint8_t *data, size_t len, const uint8_t *addr, uint16_t port,
                    int64_t now) {
  (void)now;
  if (!addr || udp_is_any(addr)) {
    if (udp_is_any(u->raddr)) return TL_ENOTCONN;
    addr = u->raddr;
    port = u->rport;
  }
  if (!port || len > TL_UDP_MAX_PAYLOAD || !reachable(u, addr)) return TL_EINVAL;
  if (!u->bound) {
    int r = ephemeral(u);
    if (r < 0) return r;
  }
  return udp_output(u, data, len, addr, port);
}

long tl_udp_sendto(tl_udp *u, const uint8_t *data, size_t len, uint32_t addr, uint16_t port, int64_t now) {
  uint8_t a[16] = {0};
  if (addr) udp_map4(a, addr);
  return tl_udp_sendto6(u, data, len, a, port, now);
}

long tl_udp_recvfrom6(tl_udp *u, uint8_t *buf, size_t cap, uint8_t *addr, uint16_t *port) {
  if (u->err) {
    int e = u->err;
    u->err = 0;
    return e;
  }
  return udp_queue_pop(&u->q, buf, cap, addr, port);
}

/* The IPv4 view: an IPv6 source reads as 0. */
long tl_udp_recvfrom(tl_udp *u, uint8_t *buf, size_t cap, uint32_t *addr, uint16_t *port) {
  uint8_t a[16];
  long r = tl_udp_recvfrom6(u, buf, cap, a, port);
  if (r >= 0 && addr) *addr = udp_is4(a) ? tl_get32(a + 12) : 0;
  return r;
}

long tl_udp_next_len(const tl_udp *u) { return udp_queue_next_len(&u->q); }

uint32_t tl_udp_queued(const tl_udp *u) { return u->q.n; }

uint64_t tl_udp_drops(const tl_udp *u) { return u->drops; }

void tl_udp_close(tl_udp *u) {
  if (!u) return;
  struct tl_udp_state *s = u->st->udp;
  if (u->bound) {
    for (struct tl_udp **pp = &s->bucket[u->lport % TL_UDP_BUCKETS]; *pp; pp = &(*pp)->hnext)
      if (*pp == u) {
        *pp = u->hnext;
        break;
      }
  }
  unready(u);
  if (u->aprev)
    u->aprev->anext = u->anext;
  else
    s->all = u->anext;
  if (u->anext) u->anext->aprev = u->aprev;
  s->count--;
  udp_queue_free(&u->q);
  free(u);
}

void tl_udp_addrs6(const tl_udp *u, uint8_t *laddr, uint16_t *lport, uint8_t *raddr, uint16_t *rport) {
  if (laddr) memcpy(laddr, u->laddr, 16);
  if (lport) *lport = u->lport;
  if (raddr) memcpy(raddr, u->raddr, 16);
  if (rport) *rport = u->rport;
}

/* The IPv4 view: a wildcard bound socket reads as the stack's address,
 * an IPv6 one (bound or connected) as 0. */
void tl_udp_addrs(const tl_udp *u, uint32_t *laddr, uint16_t *lport, uint32_t *raddr, uint16_t *rport) {
  if (laddr)
    *laddr = udp_is4(u->laddr) ? tl_get32(u->laddr + 12)
                               : (u->bound && udp_is_any(u->laddr) ? u->st->cfg.addr : 0);
  if (lport) *lport = u->lport;
  if (raddr) *raddr = udp_is4(u->raddr) ? tl_get32(u->raddr + 12) : 0;
  if (rport) *rport = u->rport;
}

int tl_udp_setopt(tl_udp *u, int opt, int64_t v) {
  switch (opt) {
  case TL_UDP_OPT_RCVBUF:
    /* The ring is sized once: only before its first datagram. */
    if (v < (int64_t)(TL_UDP_MAX_PAYLOAD + TL_UDP_QENT) || v > 0x7fffffff) return TL_EINVAL;
    if (u->q.buf) return TL_ENOTCONN;
    u->q.cap = (uint32_t)v;
    return 0;
  case TL_UDP_OPT_CHECKSUM: u->checksum = v != 0; return 0;
  default: return TL_EINVAL;
  }
}

int64_t tl_udp_getopt(const tl_udp *u, int opt) {
  switch (opt) {
  case TL_UDP_OPT_RCVBUF: return u->q.cap;
  case TL_UDP_OPT_CHECKSUM: return u->checksum;
  default: return TL_EINVAL;
  }
}

void tl_udp_set_user(tl_udp *u, uint64_t user) { u->user = user; }

uint64_t tl_udp_user(const tl_udp *u) { return u->user; }

uint32_t tl_udp_count(const tl_stack *st) { return st->udp->count; }
