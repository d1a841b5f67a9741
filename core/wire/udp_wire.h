/* UDP header codec (RFC 768): pure functions of bytes, no stack state.
 * The checksum takes the pseudo-header's sum as a parameter, so IPv4
 * (tl_udp_pseudo4) and IPv6 (its own 128-bit pseudo-header) share it. The
 * FFI declarations are generated from this header (tcplua.h says how). */
#ifndef TL_UDP_WIRE_H
#define TL_UDP_WIRE_H
#include "tcplua.h"

enum { TL_UDP_HDR_LEN = 8 };

struct tl_udp_hdr {
  uint16_t sport, dport;
  uint16_t len;        /* the length field: header + data */
  uint16_t csum;       /* as on the wire; 0 = none was computed (IPv4 only) */
  const uint8_t *data; /* payload */
  uint32_t data_len;   /* len - 8 */
};

enum tl_udp_parse_err {
  TL_UDP_OK = 0,
  TL_UDP_ESHORT = -1, /* fewer than 8 bytes */
  TL_UDP_ELEN = -2,   /* length field below 8 or beyond the bytes received */
  TL_UDP_ECSUM = -3   /* checksum present and wrong */
};

/* Decode the header of seg[0..len) and check its length field (RFC 768:
 * length counts header and data, so at least 8; the IP payload may be
 * longer, the extra bytes are not the datagram's). No checksum check. */
int tl_udp_parse(const uint8_t *seg, size_t len, struct tl_udp_hdr *h);
/* The IPv4 pseudo-header's sum (RFC 768: source, destination, zero,
 * protocol 17, UDP length), unfolded, for tl_udp_verify/tl_udp_checksum. */
uint32_t tl_udp_pseudo4(uint32_t src, uint32_t dst, uint16_t udp_len);
/* Nonzero when the checksum of the datagram seg[0..udp_len) verifies
 * against the pseudo-header sum `pseudo`. A zero checksum field is NOT
 * accepted here: whether "none" is allowed is the caller's (IPv4 yes,
 * RFC 768; IPv6 no, RFC 8200 8.1). */
int tl_udp_verify(const uint8_t *seg, size_t udp_len, uint32_t pseudo);
/* Write the 8-byte header; the checksum field is left 0. Returns 8. */
size_t tl_udp_build(uint8_t *seg, uint16_t sport, uint16_t dport, uint16_t udp_len);
/* Compute and store the checksum of seg[0..udp_len); a computed 0 is sent
 * as 0xffff (RFC 768), since 0 means "no checksum". Returns the value. */
uint16_t tl_udp_checksum(uint8_t *seg, size_t udp_len, uint32_t pseudo);
const char *tl_udp_strerror(int err);
#endif
