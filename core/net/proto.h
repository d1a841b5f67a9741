/* The protocol table: IP's only knowledge of the transports above it. A
 * transport (TCP, later UDP) registers its handlers under its IP protocol
 * number when the stack is made (stack.c); ipv4.c demuxes its input
 * through the table and icmp.c hands it ICMP errors about datagrams it
 * sent. So IP names no transport, and a new one is one more row. */
#ifndef TL_PROTO_H
#define TL_PROTO_H
#include "ipv4_wire.h" /* TL_PROTO_* */
#include "stack.h"

/* What an upper layer learns about the datagram its payload came in. */
struct tl_ip_meta {
  uint32_t src, dst; /* host byte order */
  uint8_t proto, ttl, tos;
  uint16_t id;
  const uint8_t *hdr; /* the IP header as received (or rebuilt) */
  size_t hdr_len;
  unsigned rx_flags; /* TL_RX_* (api.h): what the link vouched for */
};

struct tl_proto {
  /* A segment (header + data) from a validated, reassembled datagram. */
  void (*input)(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len, int64_t now);
  /* An ICMP error about a datagram we sent (RFC 1122 4.2.3.9, RFC 5927):
   * `orig` is the quoted IP header + at least 8 bytes of our header; `mtu`
   * the next-hop MTU for fragmentation-needed, else 0. NULL: ignored. */
  void (*icmp_error)(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig, size_t len,
                     int64_t now);
};

static inline void tl_proto_register(tl_stack *st, uint8_t num, const struct tl_proto *p) {
  st->proto[num] = p;
}
static inline const struct tl_proto *tl_proto_of(const tl_stack *st, uint8_t num) { return st->proto[num]; }
#endif
