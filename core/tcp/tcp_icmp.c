/* ICMP errors about our connections: RFC 1122 4.2.3.9 (soft errors, except
 * that in SYN-SENT port/protocol unreachable aborts) and RFC 5927 (validate
 * the quoted sequence number; path MTU discovery via fragmentation-needed,
 * RFC 1191). */
#include "tcp_tcb.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define ICMP_UNREACH 3
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_NEEDFRAG 4
#define TL_MIN_PMTU 68 /* RFC 791: every host must take 68-byte datagrams */

/* ICMPv6 (RFC 4443) in the terms of the ICMP code below: packet too big
 * is fragmentation-needed (RFC 8201: its MTU never below 1280), port
 * unreachable and an unrecognized Next Header (parameter problem 1, IPv6's
 * protocol unreachable) are hard errors in SYN-SENT, the rest soft. */
#define ICMP6_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_PARAM_PROBLEM 4
static void icmp6_as_icmp(uint8_t *type, uint8_t *code, uint16_t *mtu) {
  uint8_t t = *type, c = *code;
  *type = 0;
  *code = 0;
  if (t == ICMP6_PACKET_TOO_BIG) {
    *type = ICMP_UNREACH;
    *code = ICMP_UNREACH_NEEDFRAG;
    if (*mtu < 1280) *mtu = 1280;
  } else if ((t == ICMP6_UNREACH && c == 4) || (t == ICMP6_PARAM_PROBLEM && c == 1)) {
    *type = ICMP_UNREACH;
    *code = t == ICMP6_UNREACH ? ICMP_UNREACH_PORT : ICMP_UNREACH_PROTO;
  }
}

/* The connection a quoted datagram (either family) came from, and where
 * its TCP header is; NULL if the quote is too short or names none. IPv6:
 * icmp6.c found the TCP header right after the fixed one (we send no
 * extension headers). */
static struct tl_sock *quoted_sock(tl_stack *st, const uint8_t *orig, size_t len, const uint8_t **th) {
  struct tl_tcp *t = tl_tcp_of(st);
  if (len >= 48 && orig[0] >> 4 == 6 && orig[6] == TL_PROTO_TCP) {
    *th = orig + 40;
    uint32_t id = tcp_peer6_find(t, orig + 24);
    return id ? tcp_lookup(t, TCP_V6_LOCAL, be16(*th), id, be16(*th + 2)) : NULL;
  }
  if (len < 20 || orig[0] >> 4 != 4) return NULL;
  size_t ihl = (size_t)(orig[0] & 0x0f) * 4;
  if (ihl < 20 || len < ihl + 8) return NULL;
  *th = orig + ihl;
  return tcp_lookup(t, be32(orig + 12), be16(*th), be32(orig + 16), be16(*th + 2));
}

void tl_tcp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig,
                       size_t len, int64_t now) {
  const uint8_t *th = NULL;
  struct tl_sock *s = quoted_sock(st, orig, len, &th);
  if (s && orig[0] >> 4 == 6) icmp6_as_icmp(&type, &code, &mtu);
  if (!s) {
    TL_COUNT(st, drop_tcp_icmp_quote);
    return;
  }
  /* RFC 5927 4.1: act only if the quoted segment is still in flight. */
  uint32_t seq = be32(th + 4);
  if (!(tl_seq_geq(seq, s->snd_una) && tl_seq_lt(seq, s->snd_max))) {
    TL_COUNT(st, drop_tcp_icmp_seq);
    return;
  }
  if (type == ICMP_UNREACH && code == ICMP_UNREACH_NEEDFRAG) {
    if (mtu < TL_MIN_PMTU || mtu >= s->pmtu) return;
    TL_COUNT(st, tcp_icmp_frag_needed);
    s->pmtu = mtu;
    s->pmtu_lowered_s = (uint32_t)(now / 1000000) + 1;
    tcp_mss_update(st, s);
    /* RFC 1191 6.4 / RFC 5927 7: resend what was too big, in smaller
     * segments; not a congestion signal. */
    if (tl_tcp_synchronized(s->state) && s->snd_una != s->snd_max) {
      s->snd_nxt = s->snd_una;
      s->rtt_timing = 0;
      tcp_output(st, s, now);
    }
    return;
  }
  if (type == ICMP_UNREACH && s->state == TL_SYN_SENT &&
      (code == ICMP_UNREACH_PROTO || code == ICMP_UNREACH_PORT)) {
    TL_COUNT(st, tcp_icmp_hard);
    tcp_conn_closed(st, s, TL_EUNREACH);
    return;
  }
  TL_COUNT(st, tcp_icmp_soft);
  s->soft_err = TL_EUNREACH;
}

/* RFC 1191 6.3: a path MTU estimate that went down is tried at the
 * first-hop MTU again after ten minutes (the RFC's recommended timer);
 * if the path still can't carry it, the next fragmentation-needed lowers
 * it once more. Checked when an ACK moves SND.UNA: only a sender cares. */
#define TL_PMTU_RAISE_S 600

void tcp_pmtu_age(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (!s->pmtu_lowered_s || (uint32_t)(now / 1000000) + 1 - s->pmtu_lowered_s < TL_PMTU_RAISE_S) return;
  s->pmtu_lowered_s = 0;
  s->pmtu = st->cfg.mtu;
  tcp_mss_update(st, s);
  TL_COUNT(st, tcp_pmtu_raise);
}
