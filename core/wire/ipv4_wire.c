/* IPv4 header parse/build (RFC 791 3.1). Checks run in a fixed order so
 * each malformation maps to exactly one drop counter in ipv4.c. */
#include "ipv4_wire.h"

#include <string.h>

int tl_ip_parse(const uint8_t *pkt, size_t len, tl_ip_hdr *h) {
  memset(h, 0, sizeof *h);
  if (len < 20) return TL_IP_ESHORT;
  h->version = pkt[0] >> 4;
  if (h->version != 4) return TL_IP_EVERSION;
  size_t hl = (size_t)(pkt[0] & 0x0f) * 4;
  if (hl < 20 || hl > len) return TL_IP_EIHL;
  h->hdr_len = (uint8_t)hl;
  h->total_len = tl_get16(pkt + 2);
  /* Link padding beyond total_len is legal (short Ethernet frames); a
   * total_len beyond what we read means a truncated datagram. */
  if (h->total_len < hl || h->total_len > len) return TL_IP_ETOTLEN;
  h->checksum = tl_get16(pkt + 10);
  /* RFC 1071: summing a header including its checksum gives 0xffff. */
  if (tl_csum(pkt, hl) != 0) return TL_IP_ECSUM;
  h->tos = pkt[1];
  h->id = tl_get16(pkt + 4);
  uint16_t fo = tl_get16(pkt + 6);
  h->df = (fo & TL_IP_FLAG_DF) != 0;
  h->mf = (fo & TL_IP_FLAG_MF) != 0;
  h->frag_off = (uint16_t)((fo & TL_IP_OFF_MASK) * 8u);
  h->ttl = pkt[8];
  h->proto = pkt[9];
  h->src = tl_get32(pkt + 12);
  h->dst = tl_get32(pkt + 16);
  return TL_IP_OK;
}

size_t tl_ip_build(uint8_t *b, const tl_ip_hdr *h) {
  b[0] = 0x45;
  b[1] = h->tos;
  tl_put16(b + 2, h->total_len);
  tl_put16(b + 4, h->id);
  uint16_t fo = (uint16_t)((h->frag_off / 8u) & TL_IP_OFF_MASK);
  if (h->df) fo |= TL_IP_FLAG_DF;
  if (h->mf) fo |= TL_IP_FLAG_MF;
  tl_put16(b + 6, fo);
  b[8] = h->ttl;
  b[9] = h->proto;
  tl_put16(b + 10, 0);
  tl_put32(b + 12, h->src);
  tl_put32(b + 16, h->dst);
  tl_put16(b + 10, tl_csum(b, 20));
  return 20;
}

/* RFC 1122 3.2.1.3: a host must silently discard datagrams whose source
 * is "this network" (0/8), loopback, multicast or a broadcast address. */
int tl_ip_bad_src(uint32_t a) { return (a >> 24) == 0 || (a >> 24) == 127 || tl_ip_is_multicast_or_bcast(a); }
