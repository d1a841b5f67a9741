/* Link impairment: a seeded wrapper that loses (at random, correlated,
 * or by netem's 4-state and Gilbert-Elliott chains), duplicates, corrupts,
 * delays (fixed + jitter of a distribution, correlated or not, +
 * serialisation at a rate with packet and cell overheads), reorders and
 * paces packets into slots, like Linux netem, for any link (the TUN in both
 * directions, or the sim). Deterministic per seed. The models are in
 * impair_model.c.
 *
 * Packet copies live in a slot pool sized at creation (queue_max slots);
 * each slot keeps its buffer across uses, so after warm-up a packet costs
 * no allocation. Scheduled packets sit in the packet heap (pheap.h) ordered by
 * (delivery time, arrival order); packets picked for reordering wait in a
 * short "held" list until `reorder_gap` later packets have gone out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "impair_model.h"
#include "pheap.h"
#include "rng.h"
#include "tcplua.h"

enum { IM_IN, IM_OUT, IM_LOST, IM_DUP, IM_REORDERED, IM_CORRUPTED, IM_OVERFLOW, IM_OVERSIZE, IM__N };

struct im_slot {
  int64_t t;    /* delivery time; for held packets, the latest release */
  uint64_t seq; /* arrival order: FIFO among equal times */
  uint32_t gap; /* held: packets still to go out before this one */
  int faults;   /* tl_fault_bits that touched it, for tl_impair_faults */
  uint8_t *buf;
  size_t len, cap;
};

struct tl_impair {
  tl_impair_config cfg;
  struct tl_rng rng;
  tl_output_fn deliver;
  void *ctx;
  struct im_slot *slot;
  uint32_t nslot;
  uint32_t *freel, nfree;
  struct tl_pheap heap;
  uint32_t *held, nheld;
  uint64_t seq;
  double busy_until;    /* wire busy until then (us); fractional so tiny packets add up */
  int delivering;       /* re-entrancy guard: deliver may push into us */
  tl_output_fn on_drop; /* told about each packet dropped (pcap notes) */
  void *drop_ctx;
  int cur_faults; /* of the packet being delivered or dropped */
  uint64_t count[IM__N];
  struct im_event ev_loss, ev_dup, ev_corrupt, ev_reorder;
  struct im_jitter jit;
  struct im_loss lossm;
  struct im_slot_pace pace;
};

#define IM_DEFAULT_QUEUE 4096
#define IM_DEFAULT_GAP 3
/* A held packet goes out at the latest this long after its due time, so a
 * lull in traffic cannot hold it forever. */
#define IM_HOLD_MAX_US 20000

static void apply(tl_impair *im, const tl_impair_config *cfg) {
  if (cfg)
    im->cfg = *cfg;
  else
    memset(&im->cfg, 0, sizeof im->cfg);
  if (!im->cfg.reorder_gap) im->cfg.reorder_gap = IM_DEFAULT_GAP;
}

tl_impair *tl_impair_new(const tl_impair_config *cfg, uint64_t seed, tl_output_fn deliver, void *ctx) {
  tl_impair *im = calloc(1, sizeof *im);
  if (!im) return NULL;
  apply(im, cfg);
  tl_rng_seed(&im->rng, seed);
  im->deliver = deliver;
  im->ctx = ctx;
  im->nslot = cfg && cfg->queue_max ? cfg->queue_max : IM_DEFAULT_QUEUE;
  im->slot = calloc(im->nslot, sizeof *im->slot);
  im->freel = malloc(im->nslot * sizeof *im->freel);
  im->held = malloc(im->nslot * sizeof *im->held);
  if (!im->slot || !im->freel || tl_pheap_reserve(&im->heap, im->nslot) < 0 || !im->held) {
    tl_impair_free(im);
    return NULL;
  }
  for (uint32_t i = 0; i < im->nslot; i++)
    im->freel[i] = im->nslot - 1 - i;
  im->nfree = im->nslot;
  return im;
}

void tl_impair_free(tl_impair *im) {
  if (!im) return;
  if (im->slot)
    for (uint32_t i = 0; i < im->nslot; i++)
      free(im->slot[i].buf);
  free(im->slot);
  free(im->freel);
  tl_pheap_free(&im->heap);
  free(im->held);
  free(im);
}

/* The slot pool is fixed at creation; a larger queue_max later is capped. */
void tl_impair_set(tl_impair *im, const tl_impair_config *cfg) { apply(im, cfg); }

uint64_t tl_impair_count(const tl_impair *im, int which) {
  if (which == IM__N) return im->pace.opened;
  return which >= 0 && which < IM__N ? im->count[which] : 0;
}

static void dropped(tl_impair *im, const uint8_t *pkt, size_t len, int faults) {
  if (!im->on_drop) return;
  int saved = im->cur_faults;
  im->cur_faults = faults;
  im->on_drop(im->drop_ctx, pkt, len);
  im->cur_faults = saved;
}

static void enqueue(tl_impair *im, const uint8_t *pkt, size_t len, int64_t now, int faults) {
  if (im->nfree == 0) {
    im->count[IM_OVERFLOW]++;
    dropped(im, pkt, len, faults | TL_FAULT_OVERFLOW);
    return;
  }
  uint32_t s = im->freel[im->nfree - 1];
  struct im_slot *q = &im->slot[s];
  /* Even an empty packet gets a buffer: memcpy's pointers must be valid. */
  if (q->cap < len || !q->buf) {
    size_t cap = len ? len : 64;
    uint8_t *b = realloc(q->buf, cap);
    if (!b) {
      im->count[IM_OVERFLOW]++;
      return;
    }
    q->buf = b;
    q->cap = cap;
  }
  im->nfree--;
  memcpy(q->buf, pkt, len);
  q->len = len;
  q->seq = im->seq++;
  q->faults = faults;
  if (im->cfg.delay_us || im->cfg.jitter_us || im->cfg.rate_bps || im_slot_on(&im->cfg))
    q->faults |= TL_FAULT_DELAY;
  if (len && im_event(&im->rng, &im->ev_corrupt, im->cfg.corrupt, im->cfg.corrupt_corr)) {
    q->faults |= TL_FAULT_CORRUPT;
    uint32_t bit = tl_rng_below(&im->rng, (uint32_t)(len * 8 > UINT32_MAX ? UINT32_MAX : len * 8));
    q->buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    im->count[IM_CORRUPTED]++;
  }
  int64_t t = now;
  if (im->cfg.rate_bps) {
    /* Serialisation: the packet starts when the wire is free and takes
     * len*8/rate seconds, which holds the long-run rate at rate_bps. The
     * length is netem's: with packet overhead, in whole cells. */
    double start = im->busy_until > (double)now ? im->busy_until : (double)now;
    im->busy_until = start + im_rate_bytes(&im->cfg, len) * 8e6 / (double)im->cfg.rate_bps;
    t = (int64_t)im->busy_until;
    if ((double)t < im->busy_until) t++; /* it is out only once fully sent */
  }
  t += im->cfg.delay_us;
  if (im->cfg.jitter_us) {
    uint32_t j = im->cfg.jitter_us;
    if (im->cfg.delay_dist == TL_DIST_UNIFORM && !(im->cfg.delay_corr > 0))
      t += (int64_t)tl_rng_below(&im->rng, 2 * j + 1) - (int64_t)j;
    else
      t += (int64_t)llround(j * im_jitter_draw(&im->rng, &im->jit, im->cfg.delay_dist, im->cfg.delay_corr));
    if (t < now) t = now;
  }
  q->t = t;
  if (im_event(&im->rng, &im->ev_reorder, im->cfg.reorder, im->cfg.reorder_corr)) {
    q->gap = im->cfg.reorder_gap;
    q->t = t + IM_HOLD_MAX_US;
    im->held[im->nheld++] = s;
    q->faults |= TL_FAULT_REORDER;
    im->count[IM_REORDERED]++;
    return;
  }
  tl_pheap_push(&im->heap, q->t, q->seq, s);
}

static void send_slot(tl_impair *im, uint32_t s, int64_t now) {
  struct im_slot *q = &im->slot[s];
  im->count[IM_OUT]++;
  if (im_slot_on(&im->cfg)) im_slot_used(&im->rng, &im->pace, &im->cfg, q->len, now);
  int saved = im->cur_faults;
  im->cur_faults = q->faults;
  if (im->deliver) im->deliver(im->ctx, q->buf, q->len);
  im->cur_faults = saved;
  im->freel[im->nfree++] = s;
}

/* One packet leaves: held packets that arrived before it count it, and those whose gap is used
 * up follow it immediately. */
static void release_held(tl_impair *im, int64_t now, const uint64_t *left_seq) {
  for (uint32_t i = 0; i < im->nheld;) {
    uint32_t s = im->held[i];
    struct im_slot *q = &im->slot[s];
    if (left_seq && *left_seq > q->seq && q->gap) q->gap--;
    if (q->gap == 0 || q->t <= now) {
      im->held[i] = im->held[--im->nheld];
      send_slot(im, s, now);
    } else {
      i++;
    }
  }
}

/* netem's slot gate (sch_netem.c netem_dequeue): a slot that opened before
 * the head packet was due is stale, so a new one is drawn from now; packets
 * leave only once the slot is open. */
static int slot_open(tl_impair *im, int64_t now) {
  struct im_slot_pace *p = &im->pace;
  if (!p->armed || p->next < tl_pheap_next(&im->heap)) im_slot_next(&im->rng, p, &im->cfg, now);
  return p->next <= now;
}

static void run_due(tl_impair *im, int64_t now) {
  if (im->delivering) return;
  im->delivering = 1;
  release_held(im, now, NULL);
  while (tl_pheap_next(&im->heap) >= 0) {
    if (im_slot_on(&im->cfg) && !slot_open(im, now)) break;
    if (!tl_pheap_due(&im->heap, now)) break;
    uint32_t s = tl_pheap_pop(&im->heap);
    uint64_t seq = im->slot[s].seq;
    send_slot(im, s, now);
    release_held(im, now, &seq);
  }
  im->delivering = 0;
}

void tl_impair_push(tl_impair *im, const uint8_t *pkt, size_t len, int64_t now) {
  im->count[IM_IN]++;
  /* smoltcp's --size-limit: no ICMP, the datagram just vanishes. */
  if (im->cfg.size_limit && len > im->cfg.size_limit) {
    im->count[IM_OVERSIZE]++;
    dropped(im, pkt, len, TL_FAULT_SIZE);
    return;
  }
  if (im_loss(&im->rng, &im->lossm, &im->ev_loss, &im->cfg)) {
    im->count[IM_LOST]++;
    dropped(im, pkt, len, TL_FAULT_LOSS);
    return;
  }
  int copies = 1;
  if (im_event(&im->rng, &im->ev_dup, im->cfg.duplicate, im->cfg.duplicate_corr)) {
    copies = 2;
    im->count[IM_DUP]++;
  }
  for (int i = 0; i < copies; i++)
    enqueue(im, pkt, len, now, copies > 1 ? TL_FAULT_DUP : 0);
  run_due(im, now);
}

static int64_t deadline(const tl_impair *im) {
  int64_t t = tl_pheap_next(&im->heap);
  /* Gated by a slot not yet open: due when it opens (a stale one is redrawn then). */
  if (t >= 0 && im_slot_on(&im->cfg) && im->pace.armed && im->pace.next > t) t = im->pace.next;
  for (uint32_t i = 0; i < im->nheld; i++) {
    int64_t h = im->slot[im->held[i]].t;
    if (t < 0 || h < t) t = h;
  }
  return t;
}

int64_t tl_impair_deadline(const tl_impair *im) { return deadline(im); }

void tl_impair_on_drop(tl_impair *im, tl_output_fn on_drop, void *ctx) {
  im->on_drop = on_drop;
  im->drop_ctx = ctx;
}

int tl_impair_faults(const tl_impair *im) { return im ? im->cur_faults : 0; }

int64_t tl_impair_poll(tl_impair *im, int64_t now) {
  run_due(im, now);
  return deadline(im);
}
