/* The sim link: up to 8 endpoints (stacks or raw test endpoints) joined by
 * in-memory links under a virtual clock. A datagram is routed by its
 * destination address to the endpoint owning it, after the sender's
 * impairment (if any) and a base one-way latency. In-flight datagrams wait
 * in the packet heap (pheap.h) ordered by (delivery time, send order), so equal times
 * stay FIFO and a long transfer costs O(log n) per packet. An IPv6
 * datagram goes to the stack whose addr6 is its destination, else to the
 * first raw endpoint (a raw endpoint is named by an IPv4 address only, and
 * plays the IPv6 peer of every stack). Deterministic:
 * the only randomness is the seeded impairments. */
#include <stdlib.h>
#include <string.h>

#include "ipv4_wire.h"
#include "ipv6_wire.h"
#include "pheap.h"
#include "rng.h"
#include "tcplua.h"

#define SIM_MAX_EP 8
#define SIM_NONE UINT32_MAX

struct sim_pkt {
  int to;
  uint32_t next; /* raw endpoint queue link */
  uint8_t *buf;  /* kept across uses of the slot */
  size_t len, cap;
};

struct sim_ep;
struct sim_link {
  tl_sim *sim;
  int ep;
};

struct sim_ep {
  int raw;
  uint32_t addr;
  uint8_t addr6[16]; /* a stack's (tl_config addr6_hi/lo) */
  tl_stack *st;
  tl_impair *im;
  struct sim_link link;
  uint32_t rq_head, rq_tail; /* raw: received datagrams, FIFO */
};

struct tl_sim {
  uint64_t seed;
  uint32_t latency;
  int64_t now;
  int nep;
  struct sim_ep ep[SIM_MAX_EP];
  struct sim_pkt *pk;
  uint32_t npk;
  uint32_t *freel, nfree;
  struct tl_pheap heap;
  uint64_t seq, delivered, dropped;
  int all_set;
  tl_impair_config all; /* impairment for every sender, incl. later ones */
};

tl_sim *tl_sim_new(uint64_t seed, uint32_t latency_us) {
  tl_sim *sim = calloc(1, sizeof *sim);
  if (!sim) return NULL;
  sim->seed = seed;
  sim->latency = latency_us;
  return sim;
}

void tl_sim_free(tl_sim *sim) {
  if (!sim) return;
  for (int i = 0; i < sim->nep; i++) {
    tl_stack_free(sim->ep[i].st);
    tl_impair_free(sim->ep[i].im);
  }
  for (uint32_t i = 0; i < sim->npk; i++)
    free(sim->pk[i].buf);
  free(sim->pk);
  free(sim->freel);
  tl_pheap_free(&sim->heap);
  free(sim);
}

void tl_sim_set_latency(tl_sim *sim, uint32_t latency_us) { sim->latency = latency_us; }
int64_t tl_sim_now(const tl_sim *sim) { return sim->now; }
uint64_t tl_sim_delivered(const tl_sim *sim) { return sim->delivered; }
uint64_t tl_sim_dropped(const tl_sim *sim) { return sim->dropped; }

/* Slots double when the pool runs dry; their buffers are reused, so a
 * steady flow allocates nothing once warmed up. */
static uint32_t slot_get(tl_sim *sim, size_t len) {
  if (sim->nfree == 0) {
    uint32_t n = sim->npk ? sim->npk * 2 : 256;
    struct sim_pkt *pk = realloc(sim->pk, n * sizeof *pk);
    if (!pk) return SIM_NONE;
    sim->pk = pk;
    uint32_t *fl = realloc(sim->freel, n * sizeof *fl);
    if (fl) sim->freel = fl;
    if (!fl || tl_pheap_reserve(&sim->heap, n) < 0) return SIM_NONE;
    memset(pk + sim->npk, 0, (n - sim->npk) * sizeof *pk);
    for (uint32_t i = n; i > sim->npk; i--)
      sim->freel[sim->nfree++] = i - 1;
    sim->npk = n;
  }
  uint32_t s = sim->freel[sim->nfree - 1];
  struct sim_pkt *p = &sim->pk[s];
  if (p->cap < len) {
    uint8_t *b = realloc(p->buf, len);
    if (!b) return SIM_NONE;
    p->buf = b;
    p->cap = len;
  }
  sim->nfree--;
  return s;
}

static void slot_put(tl_sim *sim, uint32_t s) { sim->freel[sim->nfree++] = s; }

/* Put a datagram on the wire toward whoever owns its destination. */
static int wire(void *ctx, const uint8_t *pkt, size_t len) {
  struct sim_link *l = ctx;
  tl_sim *sim = l->sim;
  int to = -1;
  if (tl_ip6_version(pkt, len)) {
    for (int i = 0; i < sim->nep && to < 0; i++)
      if (sim->ep[i].st && memcmp(sim->ep[i].addr6, pkt + 24, 16) == 0) to = i;
    for (int i = 0; i < sim->nep && to < 0; i++)
      if (sim->ep[i].raw && i != l->ep) to = i;
  } else if (len >= 20) {
    uint32_t dst = tl_get32(pkt + 16);
    for (int i = 0; i < sim->nep && to < 0; i++)
      if (sim->ep[i].addr == dst) to = i;
  }
  uint32_t s = to < 0 ? SIM_NONE : slot_get(sim, len);
  if (s == SIM_NONE) {
    sim->dropped++;
    return -1;
  }
  struct sim_pkt *p = &sim->pk[s];
  memcpy(p->buf, pkt, len);
  p->len = len;
  p->to = to;
  tl_pheap_push(&sim->heap, sim->now + sim->latency, sim->seq++, s);
  return 0;
}

/* Everything an endpoint sends passes its impairment first. */
static int endpoint_out(void *ctx, const uint8_t *pkt, size_t len) {
  struct sim_link *l = ctx;
  struct sim_ep *e = &l->sim->ep[l->ep];
  if (e->im) {
    tl_impair_push(e->im, pkt, len, l->sim->now);
    return 0;
  }
  return wire(ctx, pkt, len);
}

static int set_impair(tl_sim *sim, int i, const tl_impair_config *cfg) {
  struct sim_ep *e = &sim->ep[i];
  if (!cfg) {
    tl_impair_free(e->im);
    e->im = NULL;
    return 0;
  }
  if (e->im) {
    tl_impair_set(e->im, cfg);
    return 0;
  }
  uint64_t x = sim->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1));
  e->im = tl_impair_new(cfg, tl_rng_splitmix(&x), wire, &e->link);
  return e->im ? 0 : TL_ENOMEM;
}

static int add_ep(tl_sim *sim, uint32_t addr, int raw) {
  if (sim->nep >= SIM_MAX_EP) return TL_ENOMEM;
  int i = sim->nep;
  struct sim_ep *e = &sim->ep[i];
  memset(e, 0, sizeof *e);
  e->raw = raw;
  e->addr = addr;
  e->link.sim = sim;
  e->link.ep = i;
  e->rq_head = e->rq_tail = SIM_NONE;
  if (sim->all_set && set_impair(sim, i, &sim->all) < 0) return TL_ENOMEM;
  return i;
}

int tl_sim_add_stack(tl_sim *sim, const tl_config *cfg) {
  tl_config c;
  if (cfg)
    c = *cfg;
  else
    tl_config_default(&c);
  int i = add_ep(sim, c.addr, 0);
  if (i < 0) return i;
  for (int k = 0; k < 8; k++) {
    sim->ep[i].addr6[k] = (uint8_t)(c.addr6_hi >> (56 - 8 * k));
    sim->ep[i].addr6[8 + k] = (uint8_t)(c.addr6_lo >> (56 - 8 * k));
  }
  sim->ep[i].st = tl_stack_new(&c, endpoint_out, &sim->ep[i].link);
  if (!sim->ep[i].st) {
    tl_impair_free(sim->ep[i].im);
    return TL_ENOMEM;
  }
  sim->nep++;
  return i;
}

int tl_sim_add_raw(tl_sim *sim, uint32_t addr) {
  int i = add_ep(sim, addr, 1);
  if (i >= 0) sim->nep++;
  return i;
}

tl_stack *tl_sim_stack(tl_sim *sim, int ep) { return ep >= 0 && ep < sim->nep ? sim->ep[ep].st : NULL; }

uint64_t tl_sim_impair_count(const tl_sim *sim, int ep, int which) {
  if (ep < 0 || ep >= sim->nep || !sim->ep[ep].im) return 0;
  return tl_impair_count(sim->ep[ep].im, which);
}

void tl_sim_impair(tl_sim *sim, int from, const tl_impair_config *cfg) {
  if (from < 0) {
    sim->all_set = cfg != NULL;
    if (cfg) sim->all = *cfg;
    for (int i = 0; i < sim->nep; i++)
      set_impair(sim, i, cfg);
  } else if (from < sim->nep) {
    set_impair(sim, from, cfg);
  }
}

void tl_sim_send(tl_sim *sim, int from, const uint8_t *pkt, size_t len) {
  if (from < 0 || from >= sim->nep) {
    sim->dropped++;
    return;
  }
  endpoint_out(&sim->ep[from].link, pkt, len);
}

size_t tl_sim_recv_raw(tl_sim *sim, int ep, uint8_t *buf, size_t cap) {
  if (ep < 0 || ep >= sim->nep) return 0;
  struct sim_ep *e = &sim->ep[ep];
  uint32_t s = e->rq_head;
  if (s == SIM_NONE) return 0;
  struct sim_pkt *p = &sim->pk[s];
  e->rq_head = p->next;
  if (e->rq_head == SIM_NONE) e->rq_tail = SIM_NONE;
  memcpy(buf, p->buf, p->len < cap ? p->len : cap);
  size_t len = p->len;
  slot_put(sim, s);
  return len;
}

static void deliver(tl_sim *sim, uint32_t s) {
  struct sim_pkt *p = &sim->pk[s];
  struct sim_ep *e = &sim->ep[p->to];
  sim->delivered++;
  if (e->raw) {
    p->next = SIM_NONE;
    if (e->rq_tail == SIM_NONE)
      e->rq_head = s;
    else
      sim->pk[e->rq_tail].next = s;
    e->rq_tail = s;
    return;
  }
  /* The stack may send in reply, which can grow (move) the slot array:
   * read what we need before the call, free the slot after it. */
  uint8_t *buf = p->buf;
  size_t len = p->len;
  tl_stack_input(e->st, buf, len, sim->now);
  slot_put(sim, s);
}

static int events_waiting(const tl_sim *sim) {
  for (int i = 0; i < sim->nep; i++) {
    const struct sim_ep *e = &sim->ep[i];
    if (e->raw ? e->rq_head != SIM_NONE : tl_stack_pending_events(e->st)) return 1;
  }
  return 0;
}

static int64_t earliest(int64_t a, int64_t b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/* Do everything due at sim->now; returns the next time something is due
 * (possibly now again, when zero latency chained a reply), or -1. */
static int64_t step(tl_sim *sim) {
  int64_t now = sim->now;
  while (tl_pheap_due(&sim->heap, now))
    deliver(sim, tl_pheap_pop(&sim->heap));
  int64_t next = -1;
  for (int i = 0; i < sim->nep; i++) {
    struct sim_ep *e = &sim->ep[i];
    if (e->st) {
      int64_t d = tl_stack_deadline(e->st);
      if (d >= 0 && d <= now) d = tl_stack_poll(e->st, now);
      /* A deadline that does not move past now would spin: look again a
       * microsecond later. */
      if (d >= 0 && d <= now) d = now + 1;
      next = earliest(next, d);
    }
    if (e->im) next = earliest(next, tl_impair_poll(e->im, now));
  }
  next = earliest(next, tl_pheap_next(&sim->heap));
  return next;
}

int tl_sim_run(tl_sim *sim, int64_t until) {
  for (;;) {
    int64_t next = step(sim);
    if (events_waiting(sim)) return 1;
    if (next >= 0 && next <= sim->now) continue;
    if (next < 0 || next > until) {
      if (until > sim->now) sim->now = until;
      return 0;
    }
    sim->now = next;
  }
}
