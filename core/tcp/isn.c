/* RFC 6528 section 3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), with M a timer ticking every 4 microseconds and F a keyed
 * pseudorandom function -- here SipHash-2-4 (libsodium crypto_shorthash),
 * as Linux uses SipHash for secure_tcp_seq. */
#include "isn.h"

#include <sodium.h>
#include <string.h>

#include "rng.h"

int tl_isn_key_init(struct tl_isn_key *key, uint64_t seed, int random) {
  /* sodium_init is idempotent and thread-safe; randombytes_buf needs it. */
  int rc = sodium_init() < 0 ? -1 : 0;
  if (random && rc == 0) {
    randombytes_buf(key->k, sizeof key->k);
    return 0;
  }
  /* Deterministic key for simulations: a different splitmix stream than the
   * stack's PRNG (domain-separated seed) so the two do not correlate. */
  uint64_t x = seed ^ 0x69736e2d6b657931ULL; /* "isn-key1" */
  for (size_t i = 0; i < sizeof key->k; i += 8) {
    uint64_t v = tl_rng_splitmix(&x);
    memcpy(key->k + i, &v, 8);
  }
  return rc;
}

uint32_t tl_isn_bytes(const struct tl_isn_key *key, const uint8_t *laddr, uint16_t lport, const uint8_t *raddr,
                      uint16_t rport, size_t alen, int64_t now_us) {
  /* The 4-tuple in network byte order, hashed as one message: 12 bytes
   * for IPv4, 36 for IPv6. */
  uint8_t msg[36];
  size_t n = 0;
  memcpy(msg, laddr, alen);
  n += alen;
  msg[n++] = (uint8_t)(lport >> 8);
  msg[n++] = (uint8_t)lport;
  memcpy(msg + n, raddr, alen);
  n += alen;
  msg[n++] = (uint8_t)(rport >> 8);
  msg[n++] = (uint8_t)rport;
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, msg, n, key->k);
  uint32_t f;
  memcpy(&f, out, 4);
  /* M: RFC 6528 3 (and RFC 793's ISN clock) -- one tick per 4 us, so the
   * ISN space wraps in about 4.55 hours, longer than any MSL. */
  uint32_t m = (uint32_t)((uint64_t)now_us / 4);
  return m + f;
}

uint32_t tl_isn(const struct tl_isn_key *key, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                int64_t now_us) {
  uint8_t l[4] = {(uint8_t)(laddr >> 24), (uint8_t)(laddr >> 16), (uint8_t)(laddr >> 8), (uint8_t)laddr};
  uint8_t r[4] = {(uint8_t)(raddr >> 24), (uint8_t)(raddr >> 16), (uint8_t)(raddr >> 8), (uint8_t)raddr};
  return tl_isn_bytes(key, l, lport, r, rport, 4, now_us);
}
