/* A hierarchical timing wheel (Varghese and Lauck, "Hashed and
 * Hierarchical Timing Wheels", 1987) over microsecond deadlines, with
 * intrusive entries: insert, cancel and reschedule are O(1) and allocate
 * nothing, and expiry costs the due entries plus cascading, each entry
 * cascading at most once per level over its life.
 *
 * Time is cut into 6-bit digits of microseconds, one level per digit, 64
 * slots a level. An entry sits at the level of the highest digit in which
 * its deadline differs from the wheel's current time `cur`, in the slot of
 * that digit, so level 0 holds deadlines in cur's 64 us window exactly and
 * a level L > 0 slot holds deadlines that share its start's upper digits.
 * When cur reaches a level L > 0 slot's start, the slot is cascaded: its
 * entries go down to lower levels. Because level 0 is 1 us wide, an entry
 * leaves level 0 exactly at its deadline: timers never fire early nor late.
 *
 * A 64-bit occupancy map per level makes the next-deadline query a few bit
 * operations: it returns the exact deadline when level 0 or a far slot with
 * a few entries holds the earliest ones, otherwise the start of the earliest
 * far slot (an early wake that only cascades, always making progress). */
#ifndef TL_TIMER_WHEEL_H
#define TL_TIMER_WHEEL_H
#include <stdint.h>

#define TL_TW_BITS 6
#define TL_TW_SLOTS 64
#define TL_TW_LEVELS 11 /* 11 * 6 bits cover every non-negative int64 time */

/* A circular list node: a slot's head, or the first member of an entry. */
struct tl_tw_link {
  struct tl_tw_link *prev, *next;
};

/* Embedded in the timed object; link.prev is NULL while not scheduled. */
struct tl_tw_entry {
  struct tl_tw_link link;
  int64_t deadline; /* exact, in microseconds */
};

struct tl_timer_wheel {
  int64_t cur;      /* every deadline before cur has been handed out */
  uint32_t count;   /* entries scheduled */
  uint16_t levels;  /* bit L: level L has an occupied slot */
  uint64_t visited; /* entries cascaded or expired, ever (cost evidence) */
  uint64_t occupied[TL_TW_LEVELS];
  struct tl_tw_link slot[TL_TW_LEVELS * TL_TW_SLOTS];
};

void tl_tw_init(struct tl_timer_wheel *w, int64_t now);
/* Schedule e at deadline (any value; one in the past is due at once), or
 * move it there if it is already scheduled. */
void tl_tw_schedule(struct tl_timer_wheel *w, struct tl_tw_entry *e, int64_t deadline);
void tl_tw_cancel(struct tl_timer_wheel *w, struct tl_tw_entry *e);
static inline int tl_tw_scheduled(const struct tl_tw_entry *e) { return e->link.prev != 0; }
/* Remove and return one entry whose deadline is <= now, in order of
 * deadline (entries scheduled in the past first), or NULL when none is due.
 * The caller may schedule and cancel entries between calls. now must not
 * go backwards: the wheel's time only advances. */
struct tl_tw_entry *tl_tw_expire(struct tl_timer_wheel *w, int64_t now);
/* When the host should call tl_tw_expire next, or -1 when nothing is
 * scheduled. Never later than the earliest deadline; calling at that time
 * always makes progress. An entry scheduled in the past is due at once and
 * reports the wheel's current time (the latest now it was given), not its
 * own earlier deadline. */
int64_t tl_tw_next(const struct tl_timer_wheel *w);
#endif
