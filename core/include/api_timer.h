#ifndef TL_API_TIMER_H
#define TL_API_TIMER_H
/* The timing wheel (timer_wheel.h) on its own, for specs: a wheel and n
 * numbered entries to schedule, cancel and expire. Not part of the stable
 * API. The FFI declarations are generated from it (tcplua.h). */
typedef struct tl_timer_probe tl_timer_probe;

/* A wheel whose clock starts at now, with entries 0 .. n-1 unscheduled. */
tl_timer_probe *tl_timer_probe_new(uint32_t n, int64_t now);
void tl_timer_probe_free(tl_timer_probe *p);
/* Schedule entry i at deadline, or move it there. */
void tl_timer_probe_schedule(tl_timer_probe *p, uint32_t i, int64_t deadline);
void tl_timer_probe_cancel(tl_timer_probe *p, uint32_t i);
int tl_timer_probe_scheduled(const tl_timer_probe *p, uint32_t i);
/* Expire entries due at now, writing their numbers to out (at most max);
 * returns how many. Call again while it returns max. */
uint32_t tl_timer_probe_expire(tl_timer_probe *p, int64_t now, uint32_t *out, uint32_t max);
/* When to expire next (never after the earliest deadline), -1 if empty. */
int64_t tl_timer_probe_next(const tl_timer_probe *p);
uint32_t tl_timer_probe_count(const tl_timer_probe *p);
/* Entries the wheel has touched (cascaded or expired) since it was made. */
uint64_t tl_timer_probe_visited(const tl_timer_probe *p);
#endif
