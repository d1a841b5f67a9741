/* Binary min-heap of timed packets (pheap.h). */
#include "pheap.h"

#include <stdlib.h>

int tl_pheap_reserve(struct tl_pheap *h, uint32_t cap) {
  if (cap <= h->cap) return 0;
  struct tl_pheap_ent *e = realloc(h->e, cap * sizeof *e);
  if (!e) return -1;
  h->e = e;
  h->cap = cap;
  return 0;
}

void tl_pheap_free(struct tl_pheap *h) {
  free(h->e);
  h->e = NULL;
  h->n = h->cap = 0;
}

static int before(const struct tl_pheap_ent *x, const struct tl_pheap_ent *y) {
  return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

void tl_pheap_push(struct tl_pheap *h, int64_t t, uint64_t seq, uint32_t slot) {
  uint32_t i = h->n++;
  struct tl_pheap_ent x = {t, seq, slot};
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!before(&x, &h->e[p])) break;
    h->e[i] = h->e[p];
    i = p;
  }
  h->e[i] = x;
}

uint32_t tl_pheap_pop(struct tl_pheap *h) {
  uint32_t top = h->e[0].slot;
  struct tl_pheap_ent x = h->e[--h->n];
  uint32_t i = 0, n = h->n;
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = l;
    if (l >= n) break;
    if (r < n && before(&h->e[r], &h->e[l])) m = r;
    if (!before(&h->e[m], &x)) break;
    h->e[i] = h->e[m];
    i = m;
  }
  if (n) h->e[i] = x;
  return top;
}
