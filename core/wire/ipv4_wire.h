/* Pure IPv4 header codec (RFC 791 3.1): bytes in, fields out, and back.
 * No stack state; the types are in api_ipv4.h so specs can use them. */
#ifndef TL_IPV4_WIRE_H
#define TL_IPV4_WIRE_H
#include "tcplua.h"

#define TL_IP_FLAG_DF 0x4000
#define TL_IP_FLAG_MF 0x2000
#define TL_IP_OFF_MASK 0x1fff
#define TL_IP_MAX_LEN 65535

/* IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
#define TL_PROTO_ICMP 1
#define TL_PROTO_TCP 6
#define TL_PROTO_UDP 17

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

/* The fields of a received IPv4 header read without judging them (no
 * checksum, options skipped): the one reader of header bytes for code
 * that only classifies a datagram (the link boundary, the offload). */
struct tl_ip_view {
  uint32_t src, dst;
  size_t ihl;          /* header length in bytes */
  size_t len;          /* total length, capped at the bytes at hand */
  uint8_t proto;
  uint8_t first;       /* fragment offset 0: the transport header is here */
  uint8_t whole;       /* neither MF nor an offset: not a fragment */
  const uint8_t *l4;   /* the transport header */
  size_t l4_len;       /* bytes from l4 to len */
  uint8_t family;      /* 4, or 6 (tl_ip6_view: src/dst are 0, the addresses at p + 8 and p + 24) */
};

/* 0, or -1 if p holds no IPv4 header (short, another version, IHL below
 * 20 or past len). */
static inline int tl_ip_view(const uint8_t *p, size_t len, struct tl_ip_view *v) {
  if (len < 20 || (p[0] >> 4) != 4) return -1;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  if (ihl < 20 || ihl > len) return -1;
  size_t tot = tl_get16(p + 2);
  v->ihl = ihl;
  v->len = tot > len || tot < ihl ? len : tot;
  v->proto = p[9];
  v->first = ((p[6] & 0x1f) | p[7]) == 0;
  v->whole = ((p[6] & 0x3f) | p[7]) == 0;
  v->src = tl_get32(p + 12);
  v->dst = tl_get32(p + 16);
  v->l4 = p + ihl;
  v->l4_len = v->len - ihl;
  v->family = 4;
  return 0;
}

/* Multicast (224/4) or the reserved block 240/4, which holds the limited
 * broadcast address 255.255.255.255. */
static inline int tl_ip_is_multicast_or_bcast(uint32_t a) { return (a >> 28) >= 0xe; }
#endif
