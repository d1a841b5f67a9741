/* Pure IPv4 header codec (RFC 791 3.1): bytes in, fields out, and back.
 * No stack state; the types are in api_ipv4.h so specs can use them. */
#ifndef TL_IPV4_WIRE_H
#define TL_IPV4_WIRE_H
#include "tcplua.h"

#define TL_IP_FLAG_DF 0x4000
#define TL_IP_FLAG_MF 0x2000
#define TL_IP_OFF_MASK 0x1fff
#define TL_IP_MAX_LEN 65535

static inline uint16_t tl_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t tl_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void tl_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void tl_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Multicast (224/4) or the reserved block 240/4, which holds the limited
 * broadcast address 255.255.255.255. */
static inline int tl_ip_is_multicast_or_bcast(uint32_t a) { return (a >> 28) >= 0xe; }
#endif
