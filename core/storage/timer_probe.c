/* api_timer.h: the timing wheel with numbered entries, for specs. */
#include <stdlib.h>

#include "tcplua.h"
/* after tcplua.h: api headers rely on its <stdint.h> (they are read by ffi.cdef too) */
#include "api_timer.h"
#include "timer_wheel.h"

struct tl_timer_probe {
  uint32_t n;
  struct tl_tw_entry *e;
  struct tl_timer_wheel w;
};

tl_timer_probe *tl_timer_probe_new(uint32_t n, int64_t now) {
  tl_timer_probe *p = malloc(sizeof *p);
  if (!p) return NULL;
  p->n = n;
  p->e = calloc(n ? n : 1, sizeof *p->e);
  if (!p->e) {
    free(p);
    return NULL;
  }
  tl_tw_init(&p->w, now);
  return p;
}

void tl_timer_probe_free(tl_timer_probe *p) {
  if (!p) return;
  free(p->e);
  free(p);
}

void tl_timer_probe_schedule(tl_timer_probe *p, uint32_t i, int64_t deadline) {
  if (i < p->n) tl_tw_schedule(&p->w, &p->e[i], deadline);
}

void tl_timer_probe_cancel(tl_timer_probe *p, uint32_t i) {
  if (i < p->n) tl_tw_cancel(&p->w, &p->e[i]);
}

int tl_timer_probe_scheduled(const tl_timer_probe *p, uint32_t i) {
  return i < p->n && tl_tw_scheduled(&p->e[i]);
}

uint32_t tl_timer_probe_expire(tl_timer_probe *p, int64_t now, uint32_t *out, uint32_t max) {
  uint32_t k = 0;
  while (k < max) {
    struct tl_tw_entry *e = tl_tw_expire(&p->w, now);
    if (!e) break;
    out[k++] = (uint32_t)(e - p->e);
  }
  return k;
}

int64_t tl_timer_probe_next(const tl_timer_probe *p) { return tl_tw_next(&p->w); }
uint32_t tl_timer_probe_count(const tl_timer_probe *p) { return p->w.count; }
uint64_t tl_timer_probe_visited(const tl_timer_probe *p) { return p->w.visited; }
