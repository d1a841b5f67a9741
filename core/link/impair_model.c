/* The random models of the link impairment's netem knobs (impair_model.h).
 * Semantics follow Linux netem (sch_netem.c) where it is sound, and say so
 * where they differ on purpose. */
#include "impair_model.h"

#include <math.h>
#include <stdint.h>

int im_event(struct tl_rng *r, struct im_event *e, double p, double corr) {
  if (!(p > 0)) return e->last = 0;
  double q = p;
  /* Stay in the last outcome with extra weight corr: P(event | event) =
   * p + corr(1-p), P(event | none) = p(1-corr). The chain's stationary rate
   * is p and its lag-1 autocorrelation corr, so "1% 25%" still loses 1%. */
  if (corr > 0) q = e->last ? p + corr * (1 - p) : p * (1 - corr);
  return e->last = tl_rng_unit(r) < q;
}

double im_std_normal(struct tl_rng *r) {
  /* Box-Muller, one of the pair: the stream position stays a function of
   * the number of draws (as tcplua.fault.rng's normal). */
  double u1 = 1.0 - tl_rng_unit(r), u2 = tl_rng_unit(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double phi(double z) { return 0.5 * erfc(-z / M_SQRT2); }

/* netem's pareto table (iproute2 netem/pareto.c): shape 3, shifted and
 * scaled to mean 0, cut at +4 sd as its 16-bit table is. */
static double pareto_q(double u) {
  double v = 1.0 - u;
  if (v < 1e-12) v = 1e-12;
  double x = (pow(v, -1.0 / 3.0) - 1.5) * (4.0 / 3.0);
  return x > 4.0 ? 4.0 : x;
}

double im_jitter_draw(struct tl_rng *r, struct im_jitter *j, uint32_t dist, double corr) {
  double z = im_std_normal(r);
  if (corr > 0 && j->primed) {
    /* A Gaussian AR(1) with coefficient 2 sin(pi corr / 6): its image
     * through any increasing map has rank correlation exactly corr, so a
     * uniform jitter's lag-1 correlation is corr and every distribution
     * keeps its shape (netem's smoothing narrows it instead). */
    double rho = 2.0 * sin(M_PI * (corr > 1 ? 1 : corr) / 6.0);
    z = rho * j->z + sqrt(1.0 - rho * rho) * z;
  }
  j->z = z;
  j->primed = 1;
  switch (dist) {
  case TL_DIST_NORMAL: return z;
  case TL_DIST_PARETO: return pareto_q(phi(z));
  /* netem's paretonormal: a quarter normal, three quarters pareto, taken
   * at the same quantile. */
  case TL_DIST_PARETONORMAL: return 0.25 * z + 0.75 * pareto_q(phi(z));
  default: return 2.0 * phi(z) - 1.0;
  }
}

/* The 4-state model of netem's `loss state` (Salsano et al., "Definition
 * of a general and intuitive loss model for packet networks"): 1 received
 * in a gap, 2 received in a burst, 3 lost in a burst, 4 lost alone. A packet
 * is lost when the chain enters (or stays in) 3, or enters 4. */
static int loss_4state(struct tl_rng *r, struct im_loss *l, const double *p) {
  double p13 = p[0], p31 = p[1], p32 = p[2], p23 = p[3], p14 = p[4];
  double u = tl_rng_unit(r);
  switch (l->state) {
  case 2:
    if (u < p23) return l->state = 3, 1;
    return 0;
  case 3:
    if (u < p32) return l->state = 2, 0;
    if (u < p32 + p31) return l->state = 1, 0;
    return 1;
  case 4: l->state = 1; return 0;
  default:
    l->state = 1;
    if (u < p14) return l->state = 4, 1;
    if (u < p14 + p13) return l->state = 3, 1;
    return 0;
  }
}

/* netem's `loss gemodel p r 1-h 1-k`: the state at arrival decides the
 * loss probability, then the chain steps (as tcplua.fault.burst_loss). */
static int loss_ge(struct tl_rng *r, struct im_loss *l, const double *p) {
  int lose;
  if (l->state) {
    lose = tl_rng_unit(r) < p[2];
    if (tl_rng_unit(r) < p[1]) l->state = 0;
  } else {
    lose = tl_rng_unit(r) < p[3];
    if (tl_rng_unit(r) < p[0]) l->state = 1;
  }
  return lose;
}

int im_loss(struct tl_rng *r, struct im_loss *l, struct im_event *e, const tl_impair_config *cfg) {
  switch (cfg->loss_model) {
  case TL_LOSS_STATE: return loss_4state(r, l, cfg->loss_p);
  case TL_LOSS_GEMODEL: return loss_ge(r, l, cfg->loss_p);
  default: return im_event(r, e, cfg->loss, cfg->loss_corr);
  }
}

int im_slot_on(const tl_impair_config *cfg) {
  return cfg->slot_min_us || cfg->slot_max_us || cfg->slot_jitter_us;
}

void im_slot_next(struct tl_rng *r, struct im_slot_pace *s, const tl_impair_config *cfg, int64_t now) {
  double d;
  if (cfg->slot_dist) {
    struct im_jitter j = {0, 0};
    d = cfg->slot_min_us + cfg->slot_jitter_us * im_jitter_draw(r, &j, cfg->slot_dist, 0);
    if (d < 0) d = 0;
  } else {
    double lo = cfg->slot_min_us, hi = cfg->slot_max_us > cfg->slot_min_us ? cfg->slot_max_us : lo;
    d = lo + (hi - lo) * tl_rng_unit(r);
  }
  s->next = now + (int64_t)d;
  s->armed = 1;
  s->opened++;
  s->packets_left = cfg->slot_packets ? (int64_t)cfg->slot_packets : INT64_MAX;
  s->bytes_left = cfg->slot_bytes ? (int64_t)cfg->slot_bytes : INT64_MAX;
}

/* As netem: a packet that overdraws the byte budget still goes, and closes
 * the slot. */
void im_slot_used(struct tl_rng *r, struct im_slot_pace *s, const tl_impair_config *cfg, size_t len,
                  int64_t now) {
  s->packets_left--;
  s->bytes_left -= (int64_t)len;
  if (s->packets_left <= 0 || s->bytes_left <= 0) im_slot_next(r, s, cfg, now);
}

double im_rate_bytes(const tl_impair_config *cfg, size_t len) {
  double b = (double)len + cfg->rate_overhead;
  if (b < 0) b = 0;
  if (cfg->rate_cell) {
    double cells = ceil(b / cfg->rate_cell);
    b = cells * ((double)cfg->rate_cell + cfg->rate_cell_overhead);
    if (b < 0) b = 0;
  }
  return b;
}
