/* IPv6 input (validate, walk the extension headers, reassemble, demux) and
 * output (header, fragmentation over the path MTU). RFC 8200, RFC 4291 for
 * the addresses a host accepts, RFC 8201 for the path MTU. */
#include "ipv6.h"

#include <stdlib.h>
#include <string.h>

#include "icmp6.h"
#include "ipv4.h" /* TL_IPO_* */
#include "ipv6_state.h"

/* ICMPv6 is IPv6's own (RFC 4443), in the same table as the transports. */
static const struct tl_proto icmp6_proto = {.input = tl_icmp6_input, .families = TL_FAM_V6};

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static size_t link_mtu(const tl_stack *st) {
  return st->cfg.mtu < TL_IP6_MIN_MTU ? TL_IP6_MIN_MTU : st->cfg.mtu;
}

int tl_ipv6_init(tl_stack *st) {
  if (!st->cfg.ipv6) return 0;
  struct tl_ip6_state *ip = calloc(1, sizeof *ip);
  if (!ip) return TL_ENOMEM;
  st->ip6 = ip;
  put64(ip->addr, st->cfg.addr6_hi);
  put64(ip->addr + 8, st->cfg.addr6_lo);
  ip->frag = malloc(link_mtu(st));
  if (!ip->frag || tl_reasm6_init(st, &ip->reasm) < 0) return TL_ENOMEM;
  tl_tokens_fill(&ip->icmp_errors, st->cfg.icmp_rate_per_s);
  tl_proto_register(st, TL_PROTO_ICMPV6, &icmp6_proto);
  return 0;
}

void tl_ipv6_free(tl_stack *st) {
  struct tl_ip6_state *ip = st->ip6;
  if (!ip) return;
  tl_reasm6_free(&ip->reasm);
  free(ip->frag);
  free(ip);
  st->ip6 = NULL;
}

const uint8_t *tl_ipv6_addr(const tl_stack *st) { return st->ip6 ? st->ip6->addr : NULL; }

/* RFC 4291 2.7.1: a host belongs to the all-nodes groups, interface- and
 * link-local (ff01::1, ff02::1). */
static int all_nodes(const uint8_t *a) {
  static const uint8_t tail[14] = {[13] = 1};
  return a[0] == 0xff && (a[1] == 0x01 || a[1] == 0x02) && !memcmp(a + 2, tail, 14);
}

static void param_problem(tl_stack *st, const tl_ip6_chain *w, const uint8_t *pkt, size_t len, int64_t now) {
  if (w->code != TL_IP6W_SILENT)
    tl_icmp6_send_error(st, TL_ICMP6_PARAM_PROBLEM, w->code, w->ptr, pkt, len, now);
}

/* A walk that found something to drop: count it by name, and answer with
 * a parameter problem where RFC 8200 asks for one (the walk says which). */
static void walk_failed(tl_stack *st, int r, const tl_ip6_chain *w, const uint8_t *pkt, size_t len,
                        int64_t now) {
  switch (r) {
  case TL_IP6W_ETRUNC: TL_COUNT(st, drop_ip6_ext_trunc); return;
  case TL_IP6W_EHBH: TL_COUNT(st, drop_ip6_hbh_not_first); break;
  case TL_IP6W_EOPT: TL_COUNT(st, drop_ip6_option); break;
  case TL_IP6W_EOPTLEN: TL_COUNT(st, drop_ip6_option_len); return;
  case TL_IP6W_EROUTE: TL_COUNT(st, drop_ip6_routing); break;
  case TL_IP6W_ECHAIN: TL_COUNT(st, drop_ip6_ext_chain); return;
  default: TL_COUNT(st, drop_ip6_frag_nested); return;
  }
  param_problem(st, w, pkt, len, now);
}

static void demux(tl_stack *st, const tl_ip6_chain *w, const uint8_t *pkt, size_t len, int64_t now,
                  unsigned rx_flags) {
  if (w->atomic) TL_COUNT(st, ip6_atomic_frag);
  if (w->proto == TL_PROTO_NONE) { /* RFC 8200 4.7: nothing follows */
    TL_COUNT(st, ip6_no_next);
    return;
  }
  const struct tl_proto *p = tl_proto_for(st, TL_FAM_V6, w->proto);
  if (!p) {
    /* RFC 8200 4: an unrecognized Next Header, parameter problem code 1
     * pointing at the field that names it. */
    TL_COUNT(st, drop_ip6_unknown_next);
    tl_icmp6_send_error(st, TL_ICMP6_PARAM_PROBLEM, 1, w->nh_at, pkt, len, now);
    return;
  }
  struct tl_ip_meta m = {.family = TL_FAM_V6,
                         .src6 = pkt + 8,
                         .dst6 = pkt + 24,
                         .proto = w->proto,
                         .ttl = pkt[7],
                         .tos = (uint8_t)(tl_get16(pkt) >> 4),
                         .hdr = pkt,
                         .hdr_len = w->off,
                         .rx_flags = rx_flags};
  p->input(st, &m, pkt + w->off, len - w->off, now);
}

/* The smallest upper-layer header RFC 7112 wants whole in a first
 * fragment, for the transports whose header length we know. */
static size_t upper_min(uint8_t proto) {
  switch (proto) {
  case TL_PROTO_TCP: return 20;
  case 17: return 8; /* UDP */
  case TL_PROTO_ICMPV6: return 4;
  default: return 0;
  }
}

/* A real fragment (RFC 8200 4.5), its header at w->off. */
static void fragment_in(tl_stack *st, const tl_ip6_chain *w, const uint8_t *pkt, size_t len, int64_t now,
                        unsigned rx_flags, int flags) {
  TL_COUNT(st, ip6_frag_in);
  size_t data_at = w->off + TL_IP6_FRAG_HDR_LEN;
  size_t plen = len - data_at;
  if (w->frag_more && (plen == 0 || plen % 8)) {
    /* RFC 8200 4.5: parameter problem code 0 at the Payload Length. */
    TL_COUNT(st, drop_ip6_frag_len);
    if (plen) tl_icmp6_send_error(st, TL_ICMP6_PARAM_PROBLEM, 0, 4, pkt, len, now);
    return;
  }
  if (w->frag_off + plen > TL_IP_MAX_LEN) { /* code 0 at the Fragment Offset */
    TL_COUNT(st, drop_ip6_frag_too_big);
    tl_icmp6_send_error(st, TL_ICMP6_PARAM_PROBLEM, 0, w->off + 2, pkt, len, now);
    return;
  }
  if (w->frag_off == 0) {
    /* RFC 7112 5: the first fragment holds the whole header chain, the
     * upper-layer header included; else parameter problem code 3, pointer 0. */
    tl_ip6_chain c;
    int r = tl_ip6_walk(pkt, len, pkt[w->off], w->off, data_at, flags | TL_IP6W_REASSEMBLED, &c);
    if (r == TL_IP6W_ETRUNC || (r == TL_IP6W_UPPER && len - c.off < upper_min(c.proto))) {
      TL_COUNT(st, drop_ip6_frag_tiny);
      tl_icmp6_send_error(st, TL_ICMP6_PARAM_PROBLEM, 3, 0, pkt, len, now);
      return;
    }
  }
  struct tl_frag6 f = {.pkt = pkt,
                       .len = len,
                       .frag_at = w->off,
                       .nh_at = w->nh_at,
                       .id = w->frag_id,
                       .off = w->frag_off,
                       .more = w->frag_more};
  const uint8_t *whole;
  size_t wlen, at, nh_at;
  struct tl_reasm6_dgram *d = tl_reasm6_add(st, &f, now, &whole, &wlen, &at, &nh_at);
  if (!d) return;
  tl_ip6_chain c;
  int r = tl_ip6_walk(whole, wlen, whole[nh_at], nh_at, at, flags | TL_IP6W_REASSEMBLED, &c);
  if (r == TL_IP6W_UPPER)
    demux(st, &c, whole, wlen, now, rx_flags);
  else
    walk_failed(st, r, &c, whole, wlen, now);
  tl_reasm6_release(st, d);
}

void tl_ipv6_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags) {
  TL_COUNT(st, ip6_in);
  struct tl_ip6_state *ip = st->ip6;
  if (!ip) {
    TL_COUNT(st, drop_ip6_off);
    return;
  }
  tl_ip6_hdr h;
  switch (tl_ip6_parse(pkt, len, &h)) {
  case TL_IP6_OK: break;
  case TL_IP6_ESHORT: TL_COUNT(st, drop_ip6_short); return;
  case TL_IP6_EVERSION: TL_COUNT(st, drop_ip6_version); return;
  default: TL_COUNT(st, drop_ip6_payload_len); return;
  }
  len = TL_IP6_HDR_LEN + (size_t)h.payload_len; /* trim link padding */
  int mcast = all_nodes(h.dst);
  if (!mcast && memcmp(h.dst, ip->addr, 16)) {
    TL_COUNT(st, drop_ip6_not_ours);
    return;
  }
  /* RFC 4291 2.5.2/2.5.3/2.7: a datagram from the unspecified or loopback
   * address, or from a group, names no host to answer. */
  if (tl_ip6_is_multicast(h.src) || tl_ip6_is_unspecified(h.src) || tl_ip6_is_loopback(h.src)) {
    TL_COUNT(st, drop_ip6_src);
    return;
  }
  /* Hop limit: a destination accepts any value; only a router drops at 0
   * (RFC 8200 3), and we never forward. */
  int flags = mcast ? TL_IP6W_MULTICAST : 0;
  tl_ip6_chain w;
  int r = tl_ip6_walk(pkt, len, h.next, 6, TL_IP6_HDR_LEN, flags, &w);
  if (r == TL_IP6W_UPPER)
    demux(st, &w, pkt, len, now, rx_flags);
  else if (r == TL_IP6W_FRAG)
    fragment_in(st, &w, pkt, len, now, rx_flags, flags);
  else
    walk_failed(st, r, &w, pkt, len, now);
}

/* RFC 8200 4.5: reassembly gave up; time exceeded code 1, quoting the
 * first fragment. */
static void reasm_expired(tl_stack *st, const uint8_t *orig, size_t len, int64_t now) {
  tl_icmp6_send_error(st, TL_ICMP6_TIME_EXCEEDED, 1, 0, orig, len, now);
}

int64_t tl_ipv6_poll(tl_stack *st, int64_t now) {
  return st->ip6 ? tl_reasm6_poll(st, now, reasm_expired) : -1;
}

int64_t tl_ipv6_deadline(const tl_stack *st) { return st->ip6 ? tl_reasm6_deadline(&st->ip6->reasm) : -1; }

static struct tl_pmtu6 *pmtu_find(struct tl_ip6_state *ip, const uint8_t *dst, int64_t now) {
  for (int i = 0; i < TL_PMTU6_SLOTS; i++) {
    struct tl_pmtu6 *e = &ip->pmtu[i];
    if (e->mtu && e->expires <= now) e->mtu = 0; /* RFC 8201 4: aged out */
    if (e->mtu && !memcmp(e->dst, dst, 16)) return e;
  }
  return NULL;
}

static size_t path_mtu(tl_stack *st, const uint8_t *dst) {
  struct tl_pmtu6 *e = pmtu_find(st->ip6, dst, st->now);
  size_t m = link_mtu(st);
  return e && e->mtu < m ? e->mtu : m;
}

uint32_t tl_ipv6_pmtu_lower(tl_stack *st, const uint8_t *dst, uint32_t mtu, int64_t now) {
  struct tl_ip6_state *ip = st->ip6;
  if (mtu < TL_IP6_MIN_MTU) mtu = TL_IP6_MIN_MTU; /* RFC 8201 4 */
  struct tl_pmtu6 *e = pmtu_find(ip, dst, now);
  uint32_t cur = e ? e->mtu : (uint32_t)link_mtu(st);
  if (mtu >= cur) return cur; /* RFC 8201 4: never raised by a message */
  if (!e) {
    e = &ip->pmtu[0];
    for (int i = 0; i < TL_PMTU6_SLOTS; i++)
      if (!ip->pmtu[i].mtu || ip->pmtu[i].expires < e->expires) e = &ip->pmtu[i];
    memcpy(e->dst, dst, 16);
  }
  e->mtu = mtu;
  e->expires = now + TL_PMTU6_AGE_US;
  TL_COUNT(st, icmp6_ptb_in);
  return mtu;
}

uint32_t tl_ipv6_pmtu(const tl_stack *st, const uint8_t *dst) {
  return st->ip6 ? (uint32_t)path_mtu((tl_stack *)st, dst) : 0;
}

static void header(tl_stack *st, uint8_t *b, const uint8_t *dst, uint8_t next, size_t plen, uint32_t flow) {
  tl_ip6_hdr h = {.next = next, .hop_limit = st->cfg.ttl, .payload_len = (uint16_t)plen, .flow = flow};
  memcpy(h.src, st->ip6->addr, 16);
  memcpy(h.dst, dst, 16);
  tl_ip6_build(b, &h);
}

int tl_ipv6_send(tl_stack *st, const uint8_t *dst, uint8_t proto, size_t payload_len, int flags) {
  return tl_ipv6_send_flow(st, dst, proto, payload_len, flags, 0);
}

int tl_ipv6_send_flow(tl_stack *st, const uint8_t *dst, uint8_t proto, size_t payload_len, int flags,
                      uint32_t flow) {
  struct tl_ip6_state *ip = st->ip6;
  if (!ip) return TL_EINVAL;
  size_t mtu = path_mtu(st, dst);
  if (payload_len > TL_TX_MAX - TL_IP6_HDR_LEN ||
      ((flags & TL_IPO_DF) && TL_IP6_HDR_LEN + payload_len > mtu)) {
    TL_COUNT(st, drop_ip6_out_too_big);
    return TL_EINVAL;
  }
  if (TL_IP6_HDR_LEN + payload_len <= mtu) {
    header(st, st->tx, dst, proto, payload_len, flow);
    TL_COUNT(st, ip6_out);
    tl_netif_emit(st, st->tx, TL_IP6_HDR_LEN + payload_len);
    return 0;
  }
  /* RFC 8200 4.5: each fragment carries the header, a fragment header and
   * a multiple of 8 bytes (but the last); the Identification is drawn
   * from the seeded generator, as RFC 7739 asks it be unpredictable. */
  const uint8_t *payload = tl_ipv6_tx_payload(st);
  size_t chunk = (mtu - TL_IP6_HDR_LEN - TL_IP6_FRAG_HDR_LEN) & ~(size_t)7;
  uint32_t id = (uint32_t)tl_rng_next(&st->rng);
  TL_COUNT(st, ip6_fragmented);
  for (size_t off = 0; off < payload_len; off += chunk) {
    size_t n = payload_len - off < chunk ? payload_len - off : chunk;
    uint8_t *f = ip->frag;
    header(st, f, dst, TL_PROTO_FRAGMENT, TL_IP6_FRAG_HDR_LEN + n, flow);
    f[40] = proto;
    f[41] = 0;
    tl_put16(f + 42, (uint16_t)(off | (off + n < payload_len)));
    tl_put32(f + 44, id);
    memcpy(f + TL_IP6_HDR_LEN + TL_IP6_FRAG_HDR_LEN, payload + off, n);
    TL_COUNT(st, ip6_frag_out);
    TL_COUNT(st, ip6_out);
    tl_netif_emit(st, f, TL_IP6_HDR_LEN + TL_IP6_FRAG_HDR_LEN + n);
  }
  return 0;
}

int tl_ipv6_output(tl_stack *st, const uint8_t *dst, uint8_t proto, const uint8_t *payload, size_t len) {
  if (!st->ip6 || len > TL_TX_MAX - TL_IP6_HDR_LEN) return TL_EINVAL;
  memmove(tl_ipv6_tx_payload(st), payload, len);
  return tl_ipv6_send(st, dst, proto, len, 0);
}

int tl_ipv6_reasm_pending(const tl_stack *st) { return st->ip6 ? st->ip6->reasm.n : 0; }

size_t tl_ipv6_reasm_bytes(const tl_stack *st) { return st->ip6 ? st->ip6->reasm.bytes : 0; }
