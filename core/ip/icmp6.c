/* ICMPv6 (RFC 4443): echo, the errors we send (2.4(e)'s rules plus a
 * token-bucket rate limit, 2.4(f)) and the errors we receive about our
 * datagrams (packet too big lowers the path MTU, RFC 8201). No Neighbor
 * Discovery: over a TUN there is no link layer to resolve. */
#include "icmp6.h"

#include <string.h>

#include "ipv6_state.h"

#define ICMP6_HDR_LEN 8
/* RFC 4443 2.4(c): quote as much of the invoking packet as fits without
 * the error exceeding the minimum IPv6 MTU. */
#define ICMP6_ERR_MAX TL_IP6_MIN_MTU

enum { ND_ROUTER_SOLICIT = 133, ND_REDIRECT = 137, MLD_QUERY = 130, MLD_REPORT2 = 143 };

static uint16_t csum6(const uint8_t *src, const uint8_t *dst, const uint8_t *m, size_t len) {
  return tl_csum_fold(tl_csum_partial(m, len, tl_csum_pseudo6(src, dst, TL_PROTO_ICMPV6, (uint32_t)len)));
}

/* The upper-layer protocol of a quoted datagram and where its header
 * starts, skipping extension headers without judging them (the quote is
 * not ours to validate). 255 when the chain leaves the quote or a
 * non-first fragment hides it. */
static uint8_t quoted_upper(const uint8_t *q, size_t len, size_t *at) {
  uint8_t nh = q[6];
  size_t p = TL_IP6_HDR_LEN;
  for (int i = 0; i <= TL_IP6_MAX_EXTS; i++) {
    *at = p;
    if (nh != TL_PROTO_HOPOPTS && nh != TL_PROTO_DSTOPTS && nh != TL_PROTO_ROUTING && nh != TL_PROTO_FRAGMENT)
      return nh;
    if (len < p + 8) return 255;
    if (nh == TL_PROTO_FRAGMENT && (tl_get16(q + p + 2) & 0xfff8)) return 255;
    size_t hl = nh == TL_PROTO_FRAGMENT ? 8 : ((size_t)q[p + 1] + 1) * 8;
    nh = q[p];
    p += hl;
  }
  return 255;
}

/* RFC 4443 2.4(e): no error about an ICMPv6 error or a redirect (e.1,
 * e.2), about a datagram to a multicast address (e.3; but packet too big
 * and parameter problem code 2, which the option type asked for), or from
 * an address that names no single host (e.6). */
static int error_forbidden(uint8_t type, uint8_t code, const uint8_t *orig, size_t len) {
  if (len < TL_IP6_HDR_LEN || orig[0] >> 4 != 6) return 1;
  const uint8_t *src = orig + 8, *dst = orig + 24;
  if (tl_ip6_is_multicast(src) || tl_ip6_is_unspecified(src) || tl_ip6_is_loopback(src)) return 1;
  if (tl_ip6_is_multicast(dst) && type != TL_ICMP6_PACKET_TOO_BIG &&
      !(type == TL_ICMP6_PARAM_PROBLEM && code == 2))
    return 1;
  size_t at;
  if (quoted_upper(orig, len, &at) == TL_PROTO_ICMPV6) {
    /* A type we cannot see (a first fragment cut short, RFC 7112) is not
     * known to be an error. */
    if (at < len && (orig[at] < 128 || orig[at] == ND_REDIRECT)) return 1;
  }
  return 0;
}

void tl_icmp6_send_error(tl_stack *st, uint8_t type, uint8_t code, uint32_t param, const uint8_t *orig,
                         size_t orig_len, int64_t now) {
  if (error_forbidden(type, code, orig, orig_len)) {
    TL_COUNT(st, icmp6_err_forbidden);
    return;
  }
  if (!tl_tokens_take(&st->ip6->icmp_errors, st->cfg.icmp_rate_per_s, now)) {
    TL_COUNT(st, icmp6_err_suppressed);
    return;
  }
  size_t q = orig_len;
  if (q > ICMP6_ERR_MAX - TL_IP6_HDR_LEN - ICMP6_HDR_LEN) q = ICMP6_ERR_MAX - TL_IP6_HDR_LEN - ICMP6_HDR_LEN;
  uint8_t to[16];
  memcpy(to, orig + 8, 16);
  uint8_t *m = tl_ipv6_tx_payload(st);
  memmove(m + ICMP6_HDR_LEN, orig, q);
  m[0] = type;
  m[1] = code;
  tl_put16(m + 2, 0);
  tl_put32(m + 4, param);
  tl_put16(m + 2, csum6(st->ip6->addr, to, m, ICMP6_HDR_LEN + q));
  TL_COUNT(st, icmp6_err_out);
  TL_COUNT(st, icmp6_out);
  tl_ipv6_send(st, to, TL_PROTO_ICMPV6, ICMP6_HDR_LEN + q, 0);
}

/* RFC 4443 4.2: the reply carries the request's identifier, sequence
 * number and data; from our unicast address even when the request went to
 * a group. Replies over the path MTU leave fragmented. */
static void echo_reply(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len) {
  uint8_t to[16];
  memcpy(to, ip->src6, 16);
  uint8_t *m = tl_ipv6_tx_payload(st);
  memmove(m, msg, len);
  m[0] = TL_ICMP6_ECHO_REPLY;
  tl_put16(m + 2, 0);
  tl_put16(m + 2, csum6(st->ip6->addr, to, m, len));
  TL_COUNT(st, icmp6_echo_out);
  TL_COUNT(st, icmp6_out);
  tl_ipv6_send(st, to, TL_PROTO_ICMPV6, len, 0);
}

/* An error about a datagram we sent: the quote must name us as source and
 * reach the transport's header (RFC 4443 2.4(b) passes what can be
 * identified up). Packet too big lowers the path MTU first (RFC 8201 4). */
static void error_in(tl_stack *st, const uint8_t *msg, size_t len, int64_t now) {
  const uint8_t *q = msg + ICMP6_HDR_LEN;
  size_t qlen = len - ICMP6_HDR_LEN;
  if (qlen < TL_IP6_HDR_LEN || q[0] >> 4 != 6 || memcmp(q + 8, st->ip6->addr, 16)) {
    TL_COUNT(st, drop_icmp6_bad_quote);
    return;
  }
  uint32_t mtu = 0;
  if (msg[0] == TL_ICMP6_PACKET_TOO_BIG) mtu = tl_ipv6_pmtu_lower(st, q + 24, tl_get32(msg + 4), now);
  size_t at;
  uint8_t proto = quoted_upper(q, qlen, &at);
  const struct tl_proto *p = tl_proto_for(st, TL_FAM_V6, proto);
  if (!p || !p->icmp_error || proto == TL_PROTO_ICMPV6 || qlen < at + 8) {
    TL_COUNT(st, icmp6_ignored);
    return;
  }
  TL_COUNT(st, icmp6_err_in);
  p->icmp_error(st, msg[0], msg[1], (uint16_t)(mtu > 0xffff ? 0xffff : mtu), q, qlen, now);
}

void tl_icmp6_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len, int64_t now) {
  TL_COUNT(st, icmp6_in);
  if (len < ICMP6_HDR_LEN) {
    TL_COUNT(st, drop_icmp6_short);
    return;
  }
  if (csum6(ip->src6, ip->dst6, msg, len) != 0) { /* RFC 4443 2.3: mandatory */
    TL_COUNT(st, drop_icmp6_checksum);
    return;
  }
  uint8_t t = msg[0];
  if (t == TL_ICMP6_ECHO_REQUEST) {
    TL_COUNT(st, icmp6_echo_in);
    echo_reply(st, ip, msg, len);
  } else if (t == TL_ICMP6_ECHO_REPLY) {
    TL_COUNT(st, icmp6_echo_reply_in);
  } else if (t >= TL_ICMP6_DEST_UNREACH && t <= TL_ICMP6_PARAM_PROBLEM) {
    error_in(st, msg, len, now);
  } else if ((t >= ND_ROUTER_SOLICIT && t <= ND_REDIRECT) || (t >= MLD_QUERY && t <= 132) ||
             t == MLD_REPORT2) {
    TL_COUNT(st, icmp6_ignored); /* no link layer: no ND, no MLD */
  } else {
    /* RFC 4443 2.4(a)/(b): an unknown informational message is discarded;
     * an unknown error has no transport we could tell. */
    TL_COUNT(st, icmp6_unknown_type);
  }
}
