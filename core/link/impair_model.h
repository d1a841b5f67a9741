/* The random models behind the link impairment's netem knobs: correlated
 * events, jitter distributions with correlation, the 4-state and
 * Gilbert-Elliott loss chains, slot pacing and cell-rounded rates. Each
 * model's state is a small struct inside the tl_impair; nothing here
 * allocates. */
#ifndef TL_IMPAIR_MODEL_H
#define TL_IMPAIR_MODEL_H
#include <stdint.h>

#include "rng.h"
#include "tcplua.h"

/* An event (loss, duplicate, corrupt, reorder) of probability p whose
 * successive outcomes have lag-1 correlation corr: a two-state chain whose
 * stationary rate stays p (netem's smoothing of the random number shifts
 * the rate instead; docs/fault-injection.md). */
struct im_event {
  int last;
};
int im_event(struct tl_rng *r, struct im_event *e, double p, double corr);

/* Jitter draws: a Gaussian AR(1) underneath, so successive draws have rank
 * correlation corr while each keeps its distribution. */
struct im_jitter {
  double z;
  int primed;
};
/* A standardised draw of distribution dist (tl_impair_dist): uniform in
 * [-1, 1), normal sd 1, netem's pareto and paretonormal (mean 0). */
double im_jitter_draw(struct tl_rng *r, struct im_jitter *j, uint32_t dist, double corr);
double im_std_normal(struct tl_rng *r);

/* Loss chains: state 1..4 (4-state) or 0 good / 1 bad (Gilbert-Elliott). */
struct im_loss {
  int state;
};
/* 1 if the packet is lost under cfg's loss model (loss_model, loss_p, or
 * loss/loss_corr for TL_LOSS_RANDOM). */
int im_loss(struct tl_rng *r, struct im_loss *l, struct im_event *e, const tl_impair_config *cfg);

/* Slot pacing (netem `slot`): packets leave only in open slots. */
struct im_slot_pace {
  int64_t next; /* when the current slot opens (us); valid when armed */
  int armed;
  int64_t packets_left, bytes_left;
  uint64_t opened; /* slots begun */
};
int im_slot_on(const tl_impair_config *cfg);
/* A new slot opens some time after now. */
void im_slot_next(struct tl_rng *r, struct im_slot_pace *s, const tl_impair_config *cfg, int64_t now);
/* A packet of len bytes left in the current slot. */
void im_slot_used(struct tl_rng *r, struct im_slot_pace *s, const tl_impair_config *cfg, size_t len,
                  int64_t now);

/* Bytes the rate charges for a datagram of len: netem's packet overhead,
 * then whole cells of cell size plus cell overhead. */
double im_rate_bytes(const tl_impair_config *cfg, size_t len);
#endif
