/* UDP header codec (RFC 768). */
#include "udp_wire.h"

#include "csum.h"
#include "ipv4_wire.h"

int tl_udp_parse(const uint8_t *seg, size_t len, struct tl_udp_hdr *h) {
  if (len < TL_UDP_HDR_LEN) return TL_UDP_ESHORT;
  h->sport = tl_get16(seg);
  h->dport = tl_get16(seg + 2);
  h->len = tl_get16(seg + 4);
  h->csum = tl_get16(seg + 6);
  if (h->len < TL_UDP_HDR_LEN || h->len > len) return TL_UDP_ELEN;
  h->data = seg + TL_UDP_HDR_LEN;
  h->data_len = (uint32_t)h->len - TL_UDP_HDR_LEN;
  return TL_UDP_OK;
}

uint32_t tl_udp_pseudo4(uint32_t src, uint32_t dst, uint16_t udp_len) {
  return tl_csum_pseudo(src, dst, TL_PROTO_UDP, udp_len);
}

/* RFC 768 / RFC 1071: the one's complement sum over pseudo-header, header
 * and data, the checksum field included, is all ones when it is right;
 * 0xffff sent for a computed 0 sums the same as 0 would. */
int tl_udp_verify(const uint8_t *seg, size_t udp_len, uint32_t pseudo) {
  if (udp_len < TL_UDP_HDR_LEN || tl_get16(seg + 6) == 0) return 0;
  return tl_csum_fold(tl_csum_partial(seg, udp_len, pseudo)) == 0;
}

size_t tl_udp_build(uint8_t *seg, uint16_t sport, uint16_t dport, uint16_t udp_len) {
  tl_put16(seg, sport);
  tl_put16(seg + 2, dport);
  tl_put16(seg + 4, udp_len);
  tl_put16(seg + 6, 0);
  return TL_UDP_HDR_LEN;
}

uint16_t tl_udp_checksum(uint8_t *seg, size_t udp_len, uint32_t pseudo) {
  tl_put16(seg + 6, 0);
  uint16_t c = tl_csum_fold(tl_csum_partial(seg, udp_len, pseudo));
  if (c == 0) c = 0xffff; /* RFC 768: a computed zero goes as all ones */
  tl_put16(seg + 6, c);
  return c;
}

const char *tl_udp_strerror(int err) {
  switch (err) {
  case TL_UDP_OK: return "ok";
  case TL_UDP_ESHORT: return "short";
  case TL_UDP_ELEN: return "bad length";
  case TL_UDP_ECSUM: return "bad checksum";
  default: return "unknown";
  }
}
