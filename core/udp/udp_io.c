/* UDP input (RFC 768, RFC 1122 4.1.3), output, and the ICMP errors IP
 * hands up about datagrams we sent. */
#include <string.h>

#include "icmp.h"
#include "ipv4.h"
#include "ipv4_wire.h"
#include "udp_state.h"
#include "udp_wire.h"

enum { ICMP_UNREACH = 3, ICMP_PORT_UNREACH = 3, ICMP_FRAG_NEEDED = 4 };

static void udp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len,
                      int64_t now) {
  struct tl_udp_hdr h;
  TL_COUNT(st, udp_in);
  switch (tl_udp_parse(seg, len, &h)) {
  case TL_UDP_OK: break;
  case TL_UDP_ESHORT: TL_COUNT(st, drop_udp_short); return;
  default: TL_COUNT(st, drop_udp_len); return;
  }
  /* RFC 768 / RFC 1122 4.1.3.4: a zero field means the sender computed no
   * checksum (allowed over IPv4); any other is checked. A link that left
   * the checksum partial (virtio NEEDS_CSUM) vouched for the bytes. */
  if (h.csum == 0)
    TL_COUNT(st, udp_no_checksum_in);
  else if (!(ip->rx_flags & TL_RX_CSUM_PARTIAL) &&
           !tl_udp_verify(seg, h.len, tl_udp_pseudo4(ip->src, ip->dst, h.len))) {
    TL_COUNT(st, drop_udp_checksum);
    return;
  }
  struct tl_udp *u = udp_lookup(st, h.dport, ip->src, h.sport);
  if (!u) {
    /* RFC 1122 4.1.3.1: a datagram for a port nobody listens on SHOULD
     * get a port unreachable (icmp.c applies the rate limit and 3.2.2's
     * rules). The quote needs the datagram as received. */
    TL_COUNT(st, udp_no_port);
    tl_icmp_send_error(st, ICMP_UNREACH, ICMP_PORT_UNREACH, ip->hdr, ip->hdr_len + len, now);
    return;
  }
  if (udp_queue_push(&u->q, h.data, h.data_len, ip->src, h.sport) < 0) {
    u->drops++;
    TL_COUNT(st, drop_udp_rcvq_full);
    return;
  }
  TL_COUNT(st, udp_delivered);
  udp_mark_ready(u);
}

/* RFC 1122 4.1.3.3: ICMP errors go up to the application. Like a kernel
 * socket, we report them to a connected socket (its receive says
 * "refused" after a port unreachable); an unconnected socket cannot tell
 * which of its sends the error is about, and it is counted only. */
static void udp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig,
                           size_t len, int64_t now) {
  (void)mtu;
  (void)now;
  (void)len; /* icmp.c checked the quote holds the IP header + 8 bytes */
  size_t hl = (size_t)(orig[0] & 0x0f) * 4;
  uint32_t dst = tl_get32(orig + 16);
  uint16_t sport = tl_get16(orig + hl), dport = tl_get16(orig + hl + 2);
  struct tl_udp *u = udp_lookup(st, sport, dst, dport);
  /* Fragmentation needed cannot be about us: we never set DF on UDP. */
  if (!u || !u->raddr || (type == ICMP_UNREACH && code == ICMP_FRAG_NEEDED)) {
    TL_COUNT(st, udp_icmp_ignored);
    return;
  }
  u->err = type == ICMP_UNREACH && code == ICMP_PORT_UNREACH ? TL_EREFUSED : TL_EUNREACH;
  TL_COUNT(st, udp_icmp_err);
  udp_mark_ready(u);
}

/* IPv4 only for now: over IPv6 the checksum is mandatory (RFC 8200 8.1)
 * and the pseudo-header is IPv6's; that row comes with UDP over IPv6. */
const struct tl_proto tl_udp_proto = {.input = udp_input, .icmp_error = udp_icmp_error, .families = TL_FAM_V4};

long udp_output(struct tl_udp *u, const uint8_t *data, size_t len, uint32_t dst, uint16_t dport) {
  tl_stack *st = u->st;
  uint8_t *seg = tl_ipv4_tx_payload(st);
  uint16_t ulen = (uint16_t)(TL_UDP_HDR_LEN + len);
  tl_udp_build(seg, u->lport, dport, ulen);
  memcpy(seg + TL_UDP_HDR_LEN, data, len);
  if (u->checksum) tl_udp_checksum(seg, ulen, tl_udp_pseudo4(st->cfg.addr, dst, ulen));
  /* No DF: IP fragments what exceeds the MTU (RFC 8085 3.2 leaves sizing to
   * the application; datagrams up to the reassembly limit are allowed). */
  int r = tl_ipv4_send(st, dst, TL_PROTO_UDP, ulen, 0);
  if (r < 0) return r;
  TL_COUNT(st, udp_out);
  return (long)len;
}
