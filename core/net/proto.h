/* The protocol table: IP's only knowledge of the transports above it. A
 * transport (TCP, later UDP) registers its handlers under its IP protocol
 * number when the stack is made (stack.c), saying which families it
 * speaks; ipv4.c and ipv6.c demux their input through the table, and
 * icmp.c and icmp6.c hand it ICMP errors about datagrams it sent. So IP
 * names no transport, neither family names the other, and a new
 * transport is one more row. */
#ifndef TL_PROTO_H
#define TL_PROTO_H
#include "ipv4_wire.h" /* TL_PROTO_* */
#include "stack.h"

/* What an upper layer learns about the datagram its payload came in. */
struct tl_ip_meta {
  uint32_t src, dst; /* IPv4, host byte order (0 for IPv6) */
  uint8_t family;    /* TL_FAM_V4 or TL_FAM_V6 */
  const uint8_t *src6, *dst6; /* IPv6: 16 bytes each, in the header; NULL for IPv4 */
  uint8_t proto, ttl, tos; /* IPv6: next header, hop limit, traffic class */
  uint16_t id;
  const uint8_t *hdr; /* the IP header as received (or rebuilt) */
  size_t hdr_len;     /* IPv6: the fixed header and every extension header */
  unsigned rx_flags; /* TL_RX_* (api.h): what the link vouched for */
};

enum { TL_FAM_V4 = 1, TL_FAM_V6 = 2 };

struct tl_proto {
  /* A segment (header + data) from a validated, reassembled datagram. */
  void (*input)(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len, int64_t now);
  /* An ICMP error about a datagram we sent (RFC 1122 4.2.3.9, RFC 5927):
   * `orig` is the quoted IP header + at least 8 bytes of our header; `mtu`
   * the next-hop MTU for fragmentation-needed, else 0. NULL: ignored. */
  void (*icmp_error)(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig, size_t len,
                     int64_t now);
  /* TL_FAM_* bits of the families it speaks; 0 means IPv4 only (rows
   * written before IPv6). An ICMP error hands `orig` from its own family:
   * its version nibble says which. */
  uint8_t families;
};

static inline void tl_proto_register(tl_stack *st, uint8_t num, const struct tl_proto *p) {
  st->proto[num] = p;
}
/* The row for `num` if it speaks family `fam`, else NULL. */
static inline const struct tl_proto *tl_proto_for(const tl_stack *st, unsigned fam, uint8_t num) {
  const struct tl_proto *p = st->proto[num];
  return p && ((p->families ? p->families : TL_FAM_V4) & fam) ? p : NULL;
}
static inline const struct tl_proto *tl_proto_of(const tl_stack *st, uint8_t num) {
  return tl_proto_for(st, TL_FAM_V4, num);
}
#endif
