/* Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey), M a 4 us clock, F SipHash-2-4
 * (libsodium crypto_shorthash) keyed with a per-stack secret.
 */
#ifndef TL_ISN_H
#define TL_ISN_H
#include "tcplua.h"

struct tl_isn_key {
  uint8_t k[16];
};

/* random != 0: key from libsodium's randombytes_buf; else derived from seed
 * (simulations stay deterministic). Returns 0, or -1 if libsodium could not
 * initialise (the key is then derived from the seed). */
int tl_isn_key_init(struct tl_isn_key *key, uint64_t seed, int random);
uint32_t tl_isn(const struct tl_isn_key *key, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                int64_t now_us);
/* The same over addresses of alen bytes (4 or 16) in network order: IPv6
 * connections hash their 128-bit addresses (RFC 6528 applies as is). */
uint32_t tl_isn_bytes(const struct tl_isn_key *key, const uint8_t *laddr, uint16_t lport, const uint8_t *raddr,
                      uint16_t rport, size_t alen, int64_t now_us);
#endif
