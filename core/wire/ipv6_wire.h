/* Pure IPv6 codec (RFC 8200): the fixed header, the extension-header
 * walk a destination does (RFC 8200 4), the pseudo-header sum for the
 * transports' checksums (RFC 8200 8.1). No stack state; the types are in
 * api_ipv6.h so specs can use them. */
#ifndef TL_IPV6_WIRE_H
#define TL_IPV6_WIRE_H
#include "ipv4_wire.h" /* tl_get16 and friends, TL_PROTO_* */

#define TL_IP6_HDR_LEN 40
/* RFC 8200 5: every link carries 1280 bytes; no path MTU is below it. */
#define TL_IP6_MIN_MTU 1280
#define TL_IP6_FRAG_HDR_LEN 8

/* Next Header values (IANA "Assigned Internet Protocol Numbers"). */
#define TL_PROTO_HOPOPTS 0
#define TL_PROTO_ROUTING 43
#define TL_PROTO_FRAGMENT 44
#define TL_PROTO_ICMPV6 58
#define TL_PROTO_NONE 59
#define TL_PROTO_DSTOPTS 60

/* The fixed header's fields read without judging them (the one reader for
 * code that only classifies a datagram: the link boundary, pcap, sim). */
static inline int tl_ip6_version(const uint8_t *p, size_t len) {
  return len >= TL_IP6_HDR_LEN && (p[0] >> 4) == 6;
}

/* The tl_ip_view of an IPv6 datagram: ihl is the bytes up to the
 * upper-layer header, past the extension headers a host skips (hop-by-hop,
 * routing, destination options, fragment; at most 16), proto the Next
 * Header that ends the chain; first/whole from the fragment header if one
 * is there. Judges nothing (tl_ip6_walk does, on input). -1 if p holds no
 * IPv6 header or the chain runs past the datagram. */
int tl_ip6_view(const uint8_t *p, size_t len, struct tl_ip_view *v);

/* Either family's view, by the version nibble. */
static inline int tl_ipx_view(const uint8_t *p, size_t len, struct tl_ip_view *v) {
  if (len && (p[0] >> 4) == 6) return tl_ip6_view(p, len, v);
  return tl_ip_view(p, len, v);
}
#endif
