/* Hierarchical timing wheel; the design is described in timer_wheel.h. */
#include "timer_wheel.h"

#include <stddef.h>

#define MASK (TL_TW_SLOTS - 1)
/* Entries of a far slot the next-deadline query reads to answer exactly. */
#define NEXT_SCAN 8

/* The link is an entry's first member (C11 6.7.2.1p15). */
static struct tl_tw_entry *entry_of(struct tl_tw_link *k) { return (struct tl_tw_entry *)(void *)k; }
static const struct tl_tw_entry *centry_of(const struct tl_tw_link *k) {
  return (const struct tl_tw_entry *)(const void *)k;
}

void tl_tw_init(struct tl_timer_wheel *w, int64_t now) {
  w->cur = now > 0 ? now : 0;
  w->count = 0;
  w->levels = 0;
  w->visited = 0;
  for (int l = 0; l < TL_TW_LEVELS; l++)
    w->occupied[l] = 0;
  for (int i = 0; i < TL_TW_LEVELS * TL_TW_SLOTS; i++)
    w->slot[i].prev = w->slot[i].next = &w->slot[i];
}

/* Start of slot s of level l, given cur's digits above l. */
static int64_t slot_start(const struct tl_timer_wheel *w, int l, int s) {
  int shift = TL_TW_BITS * (l + 1);
  uint64_t hi = shift < 64 ? ((uint64_t)w->cur >> shift) << shift : 0;
  return (int64_t)(hi | ((uint64_t)s << (TL_TW_BITS * l)));
}

static void place(struct tl_timer_wheel *w, struct tl_tw_entry *e) {
  /* A deadline already past is due in cur's level-0 slot. */
  uint64_t t = (uint64_t)(e->deadline > w->cur ? e->deadline : w->cur);
  uint64_t x = t ^ (uint64_t)w->cur;
  int l = x ? (63 - __builtin_clzll(x)) / TL_TW_BITS : 0;
  int s = (int)(t >> (TL_TW_BITS * l)) & MASK;
  struct tl_tw_link *h = &w->slot[l * TL_TW_SLOTS + s];
  /* FIFO within a slot: equal deadlines fire in scheduling order. */
  e->link.next = h;
  e->link.prev = h->prev;
  h->prev->next = &e->link;
  h->prev = &e->link;
  w->occupied[l] |= 1ull << s;
  w->levels |= (uint16_t)(1u << l);
}

static void slot_emptied(struct tl_timer_wheel *w, const struct tl_tw_link *h) {
  size_t i = (size_t)(h - w->slot);
  int l = (int)(i / TL_TW_SLOTS);
  w->occupied[l] &= ~(1ull << (i % TL_TW_SLOTS));
  if (!w->occupied[l]) w->levels &= (uint16_t) ~(1u << l);
}

static void unlink_entry(struct tl_timer_wheel *w, struct tl_tw_entry *e) {
  struct tl_tw_link *p = e->link.prev, *n = e->link.next;
  p->next = n;
  n->prev = p;
  e->link.prev = e->link.next = NULL;
  if (p == n) slot_emptied(w, p); /* only the slot's head is left */
}

void tl_tw_schedule(struct tl_timer_wheel *w, struct tl_tw_entry *e, int64_t deadline) {
  if (e->link.prev)
    unlink_entry(w, e);
  else
    w->count++;
  e->deadline = deadline;
  place(w, e);
}

void tl_tw_cancel(struct tl_timer_wheel *w, struct tl_tw_entry *e) {
  if (!e->link.prev) return;
  unlink_entry(w, e);
  w->count--;
}

/* The earliest occupied slot: level 0 from cur's own slot, a higher level
 * strictly after cur's digit (its entries' digit there is larger than
 * cur's by construction, so no level wraps). Any level-(l-1) slot is
 * before every eligible level-l slot, so the lowest such level wins.
 * Returns the level, or -1 when the wheel is empty. */
static int earliest(const struct tl_timer_wheel *w, int *slot) {
  for (unsigned lv = w->levels; lv; lv &= lv - 1) {
    int l = __builtin_ctz(lv);
    int d = (int)((uint64_t)w->cur >> (TL_TW_BITS * l)) & MASK;
    if (l > 0) d++;
    uint64_t m = d < TL_TW_SLOTS ? w->occupied[l] & (~0ull << d) : 0;
    if (m) {
      *slot = __builtin_ctzll(m);
      return l;
    }
  }
  return -1;
}

int64_t tl_tw_next(const struct tl_timer_wheel *w) {
  int s;
  int l = earliest(w, &s);
  if (l < 0) return -1;
  int64_t start = slot_start(w, l, s);
  if (l == 0) return start;
  /* The slot holds the earliest entries: a sparse one answers with their
   * exact minimum, saving the host one early wake per level; a crowded one
   * with its start, where waking early is shared by many timers. */
  const struct tl_tw_link *h = &w->slot[l * TL_TW_SLOTS + s], *k = h->next;
  int64_t m = INT64_MAX;
  for (int i = 0; i < NEXT_SCAN && k != h; i++, k = k->next)
    if (centry_of(k)->deadline < m) m = centry_of(k)->deadline;
  return k == h ? m : start;
}

/* Moving cur to a time before the earliest occupied slot keeps every
 * entry's level and slot valid: cur's digits only change below the level
 * of that slot, and stay below its digit there. */
static void advance(struct tl_timer_wheel *w, int64_t now) {
  if (now > w->cur) w->cur = now;
}

struct tl_tw_entry *tl_tw_expire(struct tl_timer_wheel *w, int64_t now) {
  for (;;) {
    int s;
    int l = earliest(w, &s);
    int64_t start = l < 0 ? 0 : slot_start(w, l, s);
    if (l < 0 || start > now) {
      advance(w, now);
      return NULL;
    }
    w->cur = start;
    struct tl_tw_link *h = &w->slot[l * TL_TW_SLOTS + s];
    if (l == 0) {
      struct tl_tw_entry *e = entry_of(h->next);
      unlink_entry(w, e);
      w->count--;
      w->visited++;
      return e;
    }
    /* Cascade: every entry of the slot goes to a lower level relative to
     * the new cur (it shares all digits from l up with it). */
    struct tl_tw_link *k = h->next;
    h->prev = h->next = h;
    slot_emptied(w, h);
    while (k != h) {
      struct tl_tw_link *n = k->next;
      place(w, entry_of(k));
      w->visited++;
      k = n;
    }
  }
}
