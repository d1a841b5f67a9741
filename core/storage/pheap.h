/* The packet heap: packets waiting for their time, ordered by (time,
 * arrival order), so equal times leave first in, first out. One heap for
 * every queue of timed packets (the impairment's delay line, the sim's
 * wire). Entries name a slot in the owner's own pool; the keys sit in the
 * entry, so a sift touches only the heap's array. */
#ifndef TL_PHEAP_H
#define TL_PHEAP_H
#include <stddef.h>
#include <stdint.h>

struct tl_pheap_ent {
  int64_t t;
  uint64_t seq;
  uint32_t slot;
};

struct tl_pheap {
  struct tl_pheap_ent *e;
  uint32_t n, cap;
};

/* Room for cap entries (grows or allocates; never shrinks). 0 or -1. */
int tl_pheap_reserve(struct tl_pheap *h, uint32_t cap);
void tl_pheap_free(struct tl_pheap *h);
/* Push needs room (tl_pheap_reserve): owners size the heap to their pool. */
void tl_pheap_push(struct tl_pheap *h, int64_t t, uint64_t seq, uint32_t slot);
/* The earliest entry's slot, removed. Only when h->n. */
uint32_t tl_pheap_pop(struct tl_pheap *h);
/* The earliest time, or -1 when empty. */
static inline int64_t tl_pheap_next(const struct tl_pheap *h) { return h->n ? h->e[0].t : -1; }
/* Nonzero when the earliest entry is due at now. */
static inline int tl_pheap_due(const struct tl_pheap *h, int64_t now) { return h->n && h->e[0].t <= now; }
#endif
