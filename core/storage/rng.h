/* A small seeded PRNG (xoshiro256**), so runs are repeatable per --seed and
 * every stack carries its own state (no global mutable state). Not for
 * secrets: the RFC 6528 ISN uses a keyed SipHash (isn.c). */
#ifndef TL_RNG_H
#define TL_RNG_H
#include <stdint.h>

struct tl_rng {
  uint64_t s[4];
};

static inline uint64_t tl_rng_splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline void tl_rng_seed(struct tl_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = tl_rng_splitmix(&seed);
}

static inline uint64_t tl_rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t tl_rng_next(struct tl_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = tl_rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = tl_rng_rotl(s[3], 45);
  return result;
}

/* Uniform double in [0, 1). */
static inline double tl_rng_unit(struct tl_rng *r) {
  return (double)(tl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). n > 0. */
static inline uint32_t tl_rng_below(struct tl_rng *r, uint32_t n) {
  return (uint32_t)(((tl_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}
#endif
