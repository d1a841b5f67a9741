/* ICMP (RFC 792): echo, the errors we send (RFC 1122 3.2.2 rules plus a
 * token-bucket rate limit) and the errors we receive about our TCP. */
#include "icmp.h"

#include <string.h>

#include "ipv4_state.h"
#include "ipv4_wire.h"

enum {
  ICMP_ECHO_REPLY = 0,
  ICMP_DEST_UNREACH = 3,
  ICMP_SOURCE_QUENCH = 4,
  ICMP_REDIRECT = 5,
  ICMP_ECHO = 8,
  ICMP_TIME_EXCEEDED = 11,
  ICMP_PARAM_PROBLEM = 12,
  ICMP_FRAG_NEEDED = 4 /* code of DEST_UNREACH, RFC 1191 */
};

#define ICMP_HDR_LEN 8
/* RFC 1812 4.3.2.3: quote as much of the original as fits in 576 bytes. */
#define ICMP_ERR_MAX 576

/* Query types (RFC 792, 950, 1256); anything else, known or not, is treated
 * as an error message, so we never answer an error with an error. */
static int is_query(uint8_t type) {
  /* bits 0, 8-10 (echo, router advert/solicit), 13-18 (timestamp, info,
   * address mask) */
  return type <= 18 && (0x7e701u >> type & 1u);
}

/* RFC 1122 3.2.2: an ICMP error MUST NOT be sent about an ICMP error, a
 * datagram to or from a broadcast or multicast address, a non-first
 * fragment, or a datagram whose source does not name a single host. */
static int error_forbidden(const uint8_t *orig, size_t len) {
  if (len < 20 || orig[0] >> 4 != 4) return 1;
  size_t hl = (size_t)(orig[0] & 0x0f) * 4;
  if (hl < 20 || hl > len) return 1;
  uint32_t src = tl_get32(orig + 12), dst = tl_get32(orig + 16);
  if (tl_ip_bad_src(src) || tl_ip_is_multicast_or_bcast(dst)) return 1;
  if (tl_get16(orig + 6) & TL_IP_OFF_MASK) return 1;
  if (orig[9] == TL_PROTO_ICMP && len > hl && !is_query(orig[hl])) return 1;
  return 0;
}

void tl_icmp_send_error(tl_stack *st, uint8_t type, uint8_t code, const uint8_t *orig, size_t orig_len,
                        int64_t now) {
  if (error_forbidden(orig, orig_len)) {
    TL_COUNT(st, icmp_err_forbidden);
    return;
  }
  if (!tl_tokens_take(&st->ip->icmp_errors, st->cfg.icmp_rate_per_s, now)) {
    TL_COUNT(st, icmp_err_suppressed);
    return;
  }
  size_t q = orig_len;
  if (q > ICMP_ERR_MAX - TL_IP_HDR_LEN - ICMP_HDR_LEN) q = ICMP_ERR_MAX - TL_IP_HDR_LEN - ICMP_HDR_LEN;
  uint32_t to = tl_get32(orig + 12);
  uint8_t *m = tl_ipv4_tx_payload(st);
  memmove(m + ICMP_HDR_LEN, orig, q);
  memset(m, 0, ICMP_HDR_LEN);
  m[0] = type;
  m[1] = code;
  tl_put16(m + 2, tl_csum(m, ICMP_HDR_LEN + q));
  TL_COUNT(st, icmp_err_out);
  TL_COUNT(st, icmp_out);
  tl_ipv4_send(st, to, TL_PROTO_ICMP, ICMP_HDR_LEN + q, 0);
}

/* RFC 1122 3.2.2.6: the reply carries the request's identifier, sequence
 * number and data unchanged. Replies over the MTU leave fragmented. */
static void echo_reply(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len) {
  uint8_t *m = tl_ipv4_tx_payload(st);
  memmove(m, msg, len);
  m[0] = ICMP_ECHO_REPLY;
  tl_put16(m + 2, 0);
  tl_put16(m + 2, tl_csum(m, len));
  TL_COUNT(st, icmp_echo_out);
  TL_COUNT(st, icmp_out);
  tl_ipv4_send(st, ip->src, TL_PROTO_ICMP, len, 0);
}

/* An error about a datagram we sent: check the quote names us as source
 * and holds the IP header plus the 8 bytes RFC 792 promises, then hand the
 * quote to the transport it names (proto.h) (RFC 1122 4.2.3.9, RFC 5927 for what TCP does with it). */
static void error_in(tl_stack *st, const uint8_t *msg, size_t len, int64_t now) {
  const uint8_t *q = msg + ICMP_HDR_LEN;
  size_t qlen = len - ICMP_HDR_LEN;
  size_t hl = qlen >= 20 ? (size_t)(q[0] & 0x0f) * 4 : 0;
  if (qlen < 20 || q[0] >> 4 != 4 || hl < 20 || qlen < hl + 8 || tl_get32(q + 12) != st->cfg.addr) {
    TL_COUNT(st, drop_icmp_bad_quote);
    return;
  }
  const struct tl_proto *p = tl_proto_of(st, q[9]);
  if (!p || !p->icmp_error) {
    TL_COUNT(st, icmp_ignored);
    return;
  }
  uint16_t mtu = 0;
  if (msg[0] == ICMP_DEST_UNREACH && msg[1] == ICMP_FRAG_NEEDED) mtu = tl_get16(msg + 6); /* RFC 1191 4 */
  TL_COUNT(st, icmp_err_in);
  p->icmp_error(st, msg[0], msg[1], mtu, q, qlen, now);
}

void tl_icmp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len, int64_t now) {
  TL_COUNT(st, icmp_in);
  if (len < ICMP_HDR_LEN) {
    TL_COUNT(st, drop_icmp_short);
    return;
  }
  if (tl_csum(msg, len) != 0) {
    TL_COUNT(st, drop_icmp_checksum);
    return;
  }
  switch (msg[0]) {
  case ICMP_ECHO:
    TL_COUNT(st, icmp_echo_in);
    echo_reply(st, ip, msg, len);
    break;
  case ICMP_ECHO_REPLY: TL_COUNT(st, icmp_echo_reply_in); break;
  case ICMP_DEST_UNREACH:
  case ICMP_TIME_EXCEEDED:
  case ICMP_PARAM_PROBLEM: error_in(st, msg, len, now); break;
  case ICMP_SOURCE_QUENCH: /* RFC 6633: deprecated, ignore */
  case ICMP_REDIRECT:      /* we do not route; RFC 1122 3.2.2.2 allows ignoring */
    TL_COUNT(st, icmp_ignored);
    break;
  default: TL_COUNT(st, icmp_unknown_type); break;
  }
}
