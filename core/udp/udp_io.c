/* UDP input (RFC 768, RFC 1122 4.1.3), output, and the ICMP errors IP
 * hands up about datagrams we sent; over IPv4 and IPv6 (RFC 8200 8.1). */
#include <string.h>

#include "icmp.h"
#include "icmp6.h"
#include "ipv4.h"
#include "ipv4_wire.h"
#include "ipv6.h"
#include "udp_state.h"
#include "udp_wire.h"

enum { ICMP_UNREACH = 3, ICMP_PORT_UNREACH = 3, ICMP_FRAG_NEEDED = 4 };
enum { ICMP6_PORT_UNREACH = 4 };

static uint32_t pseudo(const struct tl_ip_meta *ip, uint16_t len) {
  return ip->family == TL_FAM_V6 ? tl_csum_pseudo6(ip->src6, ip->dst6, TL_PROTO_UDP, len)
                                 : tl_udp_pseudo4(ip->src, ip->dst, len);
}

/* RFC 768 / RFC 1122 4.1.3.4: a zero field means the sender computed no
 * checksum, allowed over IPv4; over IPv6 the checksum is mandatory (RFC
 * 8200 8.1) and a zero one is dropped. A link that left the checksum
 * partial (virtio NEEDS_CSUM) vouched for the bytes. 0: drop. */
static int checksum_ok(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg,
                       const struct tl_udp_hdr *h) {
  if (h->csum == 0) {
    if (ip->family == TL_FAM_V6) {
      TL_COUNT(st, drop_udp6_zero_checksum);
      return 0;
    }
    TL_COUNT(st, udp_no_checksum_in);
    return 1;
  }
  if (!(ip->rx_flags & TL_RX_CSUM_PARTIAL) && !tl_udp_verify(seg, h->len, pseudo(ip, h->len))) {
    TL_COUNT(st, drop_udp_checksum);
    return 0;
  }
  return 1;
}

static void udp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len,
                      int64_t now) {
  struct tl_udp_hdr h;
  TL_COUNT(st, udp_in);
  if (ip->family == TL_FAM_V6) TL_COUNT(st, udp6_in);
  switch (tl_udp_parse(seg, len, &h)) {
  case TL_UDP_OK: break;
  case TL_UDP_ESHORT: TL_COUNT(st, drop_udp_short); return;
  default: TL_COUNT(st, drop_udp_len); return;
  }
  if (!checksum_ok(st, ip, seg, &h)) return;
  uint8_t src[16];
  if (ip->family == TL_FAM_V6)
    memcpy(src, ip->src6, 16);
  else
    udp_map4(src, ip->src);
  struct tl_udp *u = udp_lookup(st, h.dport, src, h.sport);
  if (!u) {
    /* RFC 1122 4.1.3.1 / RFC 4443 3.1 code 4: a datagram for a port nobody
     * listens on SHOULD get a port unreachable (icmp.c and icmp6.c apply
     * the rate limit and the never-about rules). The quote needs the
     * datagram as received. */
    TL_COUNT(st, udp_no_port);
    if (ip->family == TL_FAM_V6)
      tl_icmp6_send_error(st, TL_ICMP6_DEST_UNREACH, ICMP6_PORT_UNREACH, 0, ip->hdr, ip->hdr_len + len, now);
    else
      tl_icmp_send_error(st, ICMP_UNREACH, ICMP_PORT_UNREACH, ip->hdr, ip->hdr_len + len, now);
    return;
  }
  if (udp_queue_push(&u->q, h.data, h.data_len, src, h.sport) < 0) {
    u->drops++;
    TL_COUNT(st, drop_udp_rcvq_full);
    return;
  }
  TL_COUNT(st, udp_delivered);
  udp_mark_ready(u);
}

/* The quoted datagram's destination (mapped for IPv4) and its UDP header,
 * or NULL. IPv6: we send no extension headers but a fragment header, and
 * only a first fragment shows the ports. */
static const uint8_t *quoted(const uint8_t *orig, size_t len, uint8_t *dst) {
  if (orig[0] >> 4 == 6) {
    size_t at = 40;
    if (orig[6] == TL_PROTO_FRAGMENT && len >= 48 && orig[40] == TL_PROTO_UDP &&
        !(tl_get16(orig + 42) & 0xfff8))
      at = 48;
    else if (orig[6] != TL_PROTO_UDP)
      return NULL;
    if (len < at + 8) return NULL;
    memcpy(dst, orig + 24, 16);
    return orig + at;
  }
  size_t hl = (size_t)(orig[0] & 0x0f) * 4; /* icmp.c checked the quote holds it + 8 bytes */
  udp_map4(dst, tl_get32(orig + 16));
  return orig + hl;
}

/* RFC 1122 4.1.3.3: ICMP errors go up to the application. Like a kernel
 * socket, we report them to a connected socket (its receive says
 * "refused" after a port unreachable, ICMP's or ICMPv6's); an unconnected
 * socket cannot tell which of its sends the error is about, and it is
 * counted only. Fragmentation needed cannot be about us (we never set DF
 * on UDP); packet too big already lowered IPv6's path MTU (icmp6.c), and
 * later datagrams are fragmented to it. */
static void udp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig,
                           size_t len, int64_t now) {
  (void)mtu;
  (void)now;
  uint8_t dst[16];
  const uint8_t *uh = quoted(orig, len, dst);
  int v6 = orig[0] >> 4 == 6;
  struct tl_udp *u = uh ? udp_lookup(st, tl_get16(uh), dst, tl_get16(uh + 2)) : NULL;
  int ignore = v6 ? type == TL_ICMP6_PACKET_TOO_BIG : type == ICMP_UNREACH && code == ICMP_FRAG_NEEDED;
  if (!u || udp_is_any(u->raddr) || ignore) {
    TL_COUNT(st, udp_icmp_ignored);
    return;
  }
  int refused = v6 ? type == TL_ICMP6_DEST_UNREACH && code == ICMP6_PORT_UNREACH
                   : type == ICMP_UNREACH && code == ICMP_PORT_UNREACH;
  u->err = refused ? TL_EREFUSED : TL_EUNREACH;
  TL_COUNT(st, udp_icmp_err);
  udp_mark_ready(u);
}

const struct tl_proto tl_udp_proto = {
    .input = udp_input, .icmp_error = udp_icmp_error, .families = TL_FAM_V4 | TL_FAM_V6};

long udp_output(struct tl_udp *u, const uint8_t *data, size_t len, const uint8_t *dst, uint16_t dport) {
  tl_stack *st = u->st;
  int v4 = udp_is4(dst);
  uint8_t *seg = v4 ? tl_ipv4_tx_payload(st) : tl_ipv6_tx_payload(st);
  uint16_t ulen = (uint16_t)(TL_UDP_HDR_LEN + len);
  tl_udp_build(seg, u->lport, dport, ulen);
  memcpy(seg + TL_UDP_HDR_LEN, data, len);
  int r;
  /* No DF: IP fragments what exceeds the (path) MTU (RFC 8085 3.2 leaves
   * sizing to the application; datagrams up to the reassembly limit are
   * allowed). */
  if (v4) {
    if (u->checksum) tl_udp_checksum(seg, ulen, tl_udp_pseudo4(st->cfg.addr, tl_get32(dst + 12), ulen));
    r = tl_ipv4_send(st, tl_get32(dst + 12), TL_PROTO_UDP, ulen, 0);
  } else {
    /* RFC 8200 8.1: always a checksum over IPv6, whatever the option says. */
    tl_udp_checksum(seg, ulen, tl_csum_pseudo6(tl_ipv6_addr(st), dst, TL_PROTO_UDP, ulen));
    r = tl_ipv6_send(st, dst, TL_PROTO_UDP, ulen, 0);
  }
  if (r < 0) return r;
  TL_COUNT(st, udp_out);
  return (long)len;
}
