/* The passive flow table: every TCP flow the gateway forwards, keyed by
 * its 4-tuple, its state followed from the segments seen both ways (RFC
 * 9293 3.3.2's diagram as an observer on the path sees it), with bytes,
 * segments and retransmissions each way, and what each end last sent and
 * acknowledged (what a reset needs, fwd_reset.c).
 *
 * Memory is allocated once, at tl_flow_table_new: entries, a free list and
 * chained buckets of indices. A full table recycles the flow seen least
 * recently (found by a scan: only when full, never per packet otherwise). */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "ipv4_wire.h"
#include "seq.h"
#include "tcp_wire.h"

#define FLOW_NONE (-1)

struct flow_ent {
  tl_flow f;
  int32_t next; /* bucket chain or free list */
  uint8_t used;
};

struct tl_flow_table {
  struct flow_ent *ent;
  int32_t *bucket;
  uint32_t cap, mask, n;
  int32_t free_head;
};

tl_flow_table *tl_flow_table_new(uint32_t max_flows) {
  uint32_t cap = 16;
  if (!max_flows) max_flows = 4096;
  while (cap < max_flows && cap < (1u << 24))
    cap <<= 1;
  tl_flow_table *ft = calloc(1, sizeof *ft);
  if (!ft) return NULL;
  ft->ent = calloc(cap, sizeof *ft->ent);
  ft->bucket = malloc(cap * sizeof *ft->bucket);
  if (!ft->ent || !ft->bucket) {
    tl_flow_table_free(ft);
    return NULL;
  }
  ft->cap = cap;
  ft->mask = cap - 1;
  for (uint32_t i = 0; i < cap; i++)
    ft->bucket[i] = FLOW_NONE;
  ft->free_head = FLOW_NONE;
  for (int32_t i = (int32_t)cap - 1; i >= 0; i--) {
    ft->ent[i].next = ft->free_head;
    ft->free_head = i;
  }
  return ft;
}

void tl_flow_table_free(tl_flow_table *ft) {
  if (!ft) return;
  free(ft->ent);
  free(ft->bucket);
  free(ft);
}

/* The same bucket both ways: the ends are hashed in a fixed order. */
static uint32_t hash(uint32_t a1, uint16_t p1, uint32_t a2, uint16_t p2) {
  uint64_t x = ((uint64_t)a1 << 16 | p1), y = ((uint64_t)a2 << 16 | p2);
  if (x > y) {
    uint64_t t = x;
    x = y;
    y = t;
  }
  uint64_t h = x * 0x9e3779b97f4a7c15ull ^ (y + 0x632be59bd9b4e019ull) * 0xc2b2ae3d27d4eb4full;
  return (uint32_t)(h ^ h >> 29);
}

/* *dir: 0 if (src, sport) is the flow's client, 1 if its server. */
static int32_t find(const tl_flow_table *ft, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, int *dir) {
  for (int32_t i = ft->bucket[hash(src, sp, dst, dp) & ft->mask]; i != FLOW_NONE; i = ft->ent[i].next) {
    const tl_flow *f = &ft->ent[i].f;
    if (f->addr[0] == src && f->port[0] == sp && f->addr[1] == dst && f->port[1] == dp) {
      *dir = 0;
      return i;
    }
    if (f->addr[1] == src && f->port[1] == sp && f->addr[0] == dst && f->port[0] == dp) {
      *dir = 1;
      return i;
    }
  }
  return FLOW_NONE;
}

static void unlink_ent(tl_flow_table *ft, int32_t i) {
  const tl_flow *f = &ft->ent[i].f;
  int32_t *pp = &ft->bucket[hash(f->addr[0], f->port[0], f->addr[1], f->port[1]) & ft->mask];
  while (*pp != FLOW_NONE && *pp != i)
    pp = &ft->ent[*pp].next;
  if (*pp == i) *pp = ft->ent[i].next;
  ft->ent[i].used = 0;
  ft->n--;
}

/* The least recently seen flow, preferring one that is over. */
static int32_t victim(tl_flow_table *ft) {
  int32_t best = FLOW_NONE;
  int best_over = 0;
  for (uint32_t i = 0; i < ft->cap; i++) {
    const tl_flow *f = &ft->ent[i].f;
    int over = f->state >= TL_FLOW_CLOSED;
    if (best == FLOW_NONE || over > best_over ||
        (over == best_over && f->last_us < ft->ent[best].f.last_us)) {
      best = (int32_t)i;
      best_over = over;
    }
  }
  return best;
}

static int32_t insert(tl_flow_table *ft, uint32_t ca, uint16_t cp, uint32_t sa, uint16_t sp) {
  int32_t i = ft->free_head;
  if (i == FLOW_NONE) {
    i = victim(ft);
    unlink_ent(ft, i);
  } else {
    ft->free_head = ft->ent[i].next;
  }
  struct flow_ent *e = &ft->ent[i];
  memset(&e->f, 0, sizeof e->f);
  e->f.addr[0] = ca;
  e->f.port[0] = cp;
  e->f.addr[1] = sa;
  e->f.port[1] = sp;
  e->used = 1;
  uint32_t b = hash(ca, cp, sa, sp) & ft->mask;
  e->next = ft->bucket[b];
  ft->bucket[b] = i;
  ft->n++;
  return i;
}

/* An unfragmented TCP segment with a whole header, or -1. */
static int tcp_of(const uint8_t *pkt, size_t len, struct tl_ip_view *v) {
  if (tl_ip_view(pkt, len, v) < 0 || v->proto != TL_PROTO_TCP || !v->whole || v->l4_len < 20) return -1;
  size_t thl = tl_tcp_view_hdr_len(v->l4);
  return thl < 20 || thl > v->l4_len ? -1 : 0;
}

/* RFC 9293 3.3.2 as seen from the path: the state after a segment with
 * flags fl going way d (0 client->server) that acknowledges ack. */
static void follow(tl_flow *f, int d, uint8_t fl, uint32_t seq, uint32_t ack, uint32_t seglen) {
  if (fl & TL_TH_RST) {
    f->state = TL_FLOW_RESET;
    f->rst = (uint8_t)(d + 1);
    return;
  }
  if (f->state == TL_FLOW_RESET) return;
  if ((fl & (TL_TH_SYN | TL_TH_ACK)) == (TL_TH_SYN | TL_TH_ACK) && d == 1) {
    f->synacks++;
    f->isn[1] = seq;
    if (f->state == TL_FLOW_SYN_SENT) f->state = TL_FLOW_SYN_RCVD;
  } else if ((fl & TL_TH_ACK) && d == 0 && f->state == TL_FLOW_SYN_RCVD && ack == f->isn[1] + 1) {
    f->state = TL_FLOW_ESTABLISHED;
  }
  if (fl & TL_TH_FIN) {
    f->fin[d] = 1;
    if (f->state < TL_FLOW_FIN_WAIT) f->state = TL_FLOW_FIN_WAIT;
    if (f->fin[0] && f->fin[1]) f->state = TL_FLOW_CLOSING;
  }
  /* Both FINs acknowledged: each end's last ACK covers the other's FIN. */
  if (f->state == TL_FLOW_CLOSING && f->has_ack[0] && f->has_ack[1] && f->ack[0] == f->nxt[1] &&
      f->ack[1] == f->nxt[0])
    f->state = TL_FLOW_CLOSED;
  (void)seglen;
}

static void count(tl_flow *f, int d, uint32_t seq, uint32_t plen, uint8_t fl, uint16_t gso_size) {
  uint32_t end = seq + plen + ((fl & TL_TH_SYN) ? 1 : 0) + ((fl & TL_TH_FIN) ? 1 : 0);
  int first = f->segs[d] == 0;
  f->bytes[d] += plen;
  f->segs[d] += gso_size && plen > gso_size ? (plen + gso_size - 1) / gso_size : 1;
  if (!first && plen && tl_seq_lt(seq, f->nxt[d])) f->retx[d]++;
  if (first || tl_seq_gt(end, f->nxt[d])) f->nxt[d] = end;
}

/* A new flow for a segment of no known flow: a SYN names its client;
 * anything else is a flow met mid-stream, its client guessed as the end
 * with the higher port (an ephemeral one). */
static int32_t open_flow(tl_flow_table *ft, const struct tl_ip_view *v, uint16_t sp, uint16_t dp, uint8_t fl,
                         uint32_t seq, int side, int *dir) {
  int syn = (fl & (TL_TH_SYN | TL_TH_ACK)) == TL_TH_SYN;
  *dir = !syn && sp < dp;
  int32_t i = *dir ? insert(ft, v->dst, dp, v->src, sp) : insert(ft, v->src, sp, v->dst, dp);
  tl_flow *f = &ft->ent[i].f;
  f->side = (uint8_t)(*dir ? !side : side);
  if (syn) {
    f->state = TL_FLOW_SYN_SENT;
    f->isn[0] = seq;
    f->nxt[0] = seq;
  } else {
    f->state = TL_FLOW_ESTABLISHED;
    f->midstream = 1;
    f->nxt[*dir] = seq;
  }
  return i;
}

const tl_flow *tl_flow_observe(tl_flow_table *ft, const uint8_t *pkt, size_t len, int side, uint16_t gso_size,
                               int64_t now) {
  struct tl_ip_view v;
  if (!ft || tcp_of(pkt, len, &v) < 0) return NULL;
  const uint8_t *t = v.l4;
  uint16_t sp = tl_tcp_view_sport(t), dp = tl_tcp_view_dport(t);
  uint8_t fl = tl_tcp_view_flags(t);
  uint32_t seq = tl_get32(t + 4), ack = tl_get32(t + 8);
  uint32_t plen = (uint32_t)(v.l4_len - tl_tcp_view_hdr_len(t));
  int d;
  int32_t i = find(ft, v.src, sp, v.dst, dp, &d);
  /* A new SYN on the tuple of a flow that is over (or another ISN): a new
   * connection. */
  if (i != FLOW_NONE && (fl & (TL_TH_SYN | TL_TH_ACK)) == TL_TH_SYN) {
    tl_flow *f = &ft->ent[i].f;
    if (d != 0 || (f->state != TL_FLOW_SYN_SENT && f->state != TL_FLOW_SYN_RCVD) || f->isn[0] != seq) {
      unlink_ent(ft, i);
      ft->ent[i].next = ft->free_head;
      ft->free_head = i;
      i = FLOW_NONE;
    } else {
      f->syns++;
    }
  }
  if (i == FLOW_NONE) {
    i = open_flow(ft, &v, sp, dp, fl, seq, side, &d);
    if (ft->ent[i].f.state == TL_FLOW_SYN_SENT) ft->ent[i].f.syns = 1;
    ft->ent[i].f.first_us = now;
  }
  tl_flow *f = &ft->ent[i].f;
  f->last_us = now;
  count(f, d, seq, plen, fl, gso_size);
  if (fl & TL_TH_ACK) {
    f->ack[d] = ack;
    f->has_ack[d] = 1;
  }
  f->win[d] = tl_get16(t + 14);
  follow(f, d, fl, seq, ack, plen);
  return f;
}

const tl_flow *tl_flow_lookup(tl_flow_table *ft, const uint8_t *pkt, size_t len, int *dir) {
  struct tl_ip_view v;
  int d = 0;
  if (!ft || tcp_of(pkt, len, &v) < 0) return NULL;
  int32_t i = find(ft, v.src, tl_tcp_view_sport(v.l4), v.dst, tl_tcp_view_dport(v.l4), &d);
  if (i == FLOW_NONE) return NULL;
  if (dir) *dir = d;
  return &ft->ent[i].f;
}

void tl_flow_mark_reset(tl_flow *f) {
  f->state = TL_FLOW_RESET;
  f->rst = 3;
}

int tl_flow_table_count(const tl_flow_table *ft) { return ft ? (int)ft->n : 0; }

const tl_flow *tl_flow_table_at(const tl_flow_table *ft, int k) {
  if (!ft || k < 0) return NULL;
  for (uint32_t i = 0; i < ft->cap; i++)
    if (ft->ent[i].used && k-- == 0) return &ft->ent[i].f;
  return NULL;
}
