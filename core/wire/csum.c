/* RFC 1071 Internet checksum, summed 64 bits at a time (RFC 1071 section 2
 * (B), "deferred carries"), and the RFC 1624 incremental update. */
#include "csum.h"

#include <string.h>

/* Host-order 16-bit value <-> the same value as a native load of its
 * big-endian bytes. The one's complement sum commutes with byte swapping
 * (RFC 1071 1.2 (B)), so we sum native words and convert only at the ends. */
static uint16_t to_wire_order(uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  uint16_t w;
  memcpy(&w, b, 2);
  return w;
}

uint32_t tl_csum_partial(const void *data, size_t len, uint32_t sum) {
  const uint8_t *p = data;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint64_t acc = to_wire_order((uint16_t)sum);
  /* Add 32-bit words into a 64-bit accumulator: carries collect in the high
   * half and are folded once at the end. memcpy keeps unaligned loads legal. */
  while (len >= 32) {
    uint32_t w[8];
    memcpy(w, p, sizeof w);
    acc += (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
    p += 32;
    len -= 32;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    /* An odd final byte is padded with a zero byte on the right (RFC 1071). */
    uint16_t w = 0;
    memcpy(&w, p, 1);
    acc += w;
  }
  acc = (acc & 0xffffffffULL) + (acc >> 32);
  acc = (acc & 0xffffffffULL) + (acc >> 32);
  /* The sum above is in memory (network) order words read natively; fold it
   * to 16 bits and convert so callers get a host-order partial sum. */
  uint32_t s = (uint32_t)acc;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return to_wire_order((uint16_t)s); /* the swap is its own inverse */
}

uint16_t tl_csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t tl_csum(const void *data, size_t len) { return tl_csum_fold(tl_csum_partial(data, len, 0)); }

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Values in host order. */
uint16_t tl_csum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  uint32_t s = (uint32_t)(uint16_t)~hc + (uint16_t)~old_word + new_word;
  return tl_csum_fold(s);
}

uint32_t tl_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}
