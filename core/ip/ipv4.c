/* IPv4 input (validate, reassemble, demux) and output (header, IP ID,
 * fragmentation). RFC 791, RFC 1122 3.2.1, RFC 815. */
#include "ipv4.h"

#include <stdlib.h>
#include <string.h>

#include "icmp.h"
#include "ipv4_state.h"
#include "ipv4_wire.h"

/* RFC 791 3.1: every host must accept 68-byte datagrams unfragmented; a
 * smaller MTU cannot carry a header plus 8 bytes of data per fragment. */
#define TL_MIN_MTU 68

static size_t mtu_of(const tl_stack *st) { return st->cfg.mtu < TL_MIN_MTU ? TL_MIN_MTU : st->cfg.mtu; }

/* ICMP is IP's own (RFC 1122 3.2.2), in the same table as the transports. */
static const struct tl_proto icmp_proto = {.input = tl_icmp_input};

int tl_ipv4_init(tl_stack *st) {
  struct tl_ip_state *ip = calloc(1, sizeof *ip);
  if (!ip) return TL_ENOMEM;
  st->ip = ip;
  /* A per-stack starting ID from the seeded rng: IDs differ across stacks
   * (fewer reassembly collisions at a shared peer) yet runs repeat per seed. */
  ip->next_id = (uint16_t)tl_rng_next(&st->rng);
  ip->frag = malloc(mtu_of(st));
  if (!ip->frag || tl_reasm_init(st, &ip->reasm) < 0) return TL_ENOMEM;
  tl_tokens_fill(&ip->icmp_errors, st->cfg.icmp_rate_per_s);
  tl_proto_register(st, TL_PROTO_ICMP, &icmp_proto);
  return 0;
}

void tl_ipv4_free(tl_stack *st) {
  struct tl_ip_state *ip = st->ip;
  if (!ip) return;
  tl_reasm_free(&ip->reasm);
  free(ip->frag);
  free(ip);
  st->ip = NULL;
}

/* The directed broadcast of the configured subnet (RFC 922); only known
 * when the prefix leaves host bits. */
static int is_subnet_bcast(const tl_stack *st, uint32_t a) {
  unsigned p = st->cfg.prefix;
  if (p == 0 || p >= 31) return 0;
  uint32_t hostmask = 0xffffffffu >> p;
  return (a & ~hostmask) == (st->cfg.host & ~hostmask) && (a & hostmask) == hostmask;
}

static void demux(tl_stack *st, const tl_ip_hdr *h, const uint8_t *dgram, size_t len, int64_t now,
                  unsigned rx_flags) {
  struct tl_ip_meta m = {.family = TL_FAM_V4,
                         .src = h->src,
                         .dst = h->dst,
                         .proto = h->proto,
                         .ttl = h->ttl,
                         .tos = h->tos,
                         .id = h->id,
                         .hdr = dgram,
                         .hdr_len = h->hdr_len,
                         .rx_flags = rx_flags};
  const uint8_t *payload = dgram + h->hdr_len;
  size_t plen = len - h->hdr_len;
  const struct tl_proto *p = tl_proto_of(st, h->proto);
  if (p) {
    p->input(st, &m, payload, plen, now);
    return;
  }
  /* RFC 1122 3.2.2.1: a host SHOULD send protocol unreachable. */
  TL_COUNT(st, ip_proto_unreach);
  tl_icmp_send_error(st, 3, 2, dgram, len, now);
}

/* Reassembly gave up on a datagram (RFC 792 / RFC 1122 3.3.2): time
 * exceeded, code 1, quoting the header and first 8 bytes. */
static void reasm_expired(tl_stack *st, const uint8_t *orig, size_t len, int64_t now) {
  tl_icmp_send_error(st, 11, 1, orig, len, now);
}

void tl_ipv4_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags) {
  tl_ip_hdr h;
  TL_COUNT(st, ip_in);
  switch (tl_ip_parse(pkt, len, &h)) {
  case TL_IP_OK: break;
  case TL_IP_ESHORT: TL_COUNT(st, drop_ip_short); return;
  case TL_IP_EVERSION: TL_COUNT(st, drop_ip_version); return;
  case TL_IP_EIHL: TL_COUNT(st, drop_ip_ihl); return;
  case TL_IP_ETOTLEN: TL_COUNT(st, drop_ip_total_len); return;
  default: TL_COUNT(st, drop_ip_checksum); return;
  }
  len = h.total_len; /* trim link padding */
  if (h.dst != st->cfg.addr) {
    TL_COUNT(st, drop_ip_not_ours);
    return;
  }
  if (tl_ip_bad_src(h.src) || is_subnet_bcast(st, h.src)) {
    TL_COUNT(st, drop_ip_src);
    return;
  }
  /* Options (RFC 791 3.1) are skipped as a block: the upper layers find
   * their data at hdr_len, and we honour none of them (no source routing,
   * RFC 1122 3.3.5 lets a host ignore it when it does not route). */
  if (h.hdr_len > TL_IP_HDR_LEN) TL_COUNT(st, ip_options);
  if (h.mf || h.frag_off) {
    const uint8_t *whole;
    size_t wlen;
    struct tl_reasm_dgram *d = tl_reasm_add(st, &h, pkt, now, &whole, &wlen);
    if (!d) return;
    tl_ip_hdr wh;
    if (tl_ip_parse(whole, wlen, &wh) == TL_IP_OK) demux(st, &wh, whole, wlen, now, rx_flags);
    tl_reasm_release(st, d);
    return;
  }
  demux(st, &h, pkt, len, now, rx_flags);
}

int64_t tl_ipv4_poll(tl_stack *st, int64_t now) { return tl_reasm_poll(st, now, reasm_expired); }

int64_t tl_ipv4_deadline(const tl_stack *st) { return tl_reasm_deadline(&st->ip->reasm); }

int tl_ipv4_send(tl_stack *st, uint32_t dst, uint8_t proto, size_t payload_len, int flags) {
  struct tl_ip_state *ip = st->ip;
  size_t mtu = mtu_of(st);
  size_t total = TL_IP_HDR_LEN + payload_len;
  int df = flags & TL_IPO_DF;
  /* A link with TSO (tl_config.tso_max) cuts super-segments itself. */
  if ((flags & TL_IPO_SEG) && tl_netif_tso_max(st) > mtu) mtu = tl_netif_tso_max(st);
  if (total > TL_IP_MAX_LEN || (df && total > mtu)) {
    TL_COUNT(st, drop_ip_out_too_big);
    return TL_EINVAL;
  }
  tl_ip_hdr h = {.tos = 0,
                 .ttl = st->cfg.ttl,
                 .proto = proto,
                 .df = (uint8_t)(df != 0),
                 .id = ip->next_id++,
                 .src = st->cfg.addr,
                 .dst = dst};
  if (total <= mtu) {
    h.total_len = (uint16_t)total;
    tl_ip_build(st->tx, &h);
    tl_netif_emit(st, st->tx, total);
    return 0;
  }
  /* RFC 791 3.2 (fragmentation): every fragment but the last carries a
   * multiple of 8 bytes; offsets count 8-byte units. */
  const uint8_t *payload = st->tx + TL_IP_HDR_LEN;
  size_t chunk = (mtu - TL_IP_HDR_LEN) & ~(size_t)7;
  TL_COUNT(st, ip_fragmented);
  for (size_t off = 0; off < payload_len; off += chunk) {
    size_t n = payload_len - off < chunk ? payload_len - off : chunk;
    h.frag_off = (uint16_t)off;
    h.mf = off + n < payload_len;
    h.total_len = (uint16_t)(TL_IP_HDR_LEN + n);
    tl_ip_build(ip->frag, &h);
    memcpy(ip->frag + TL_IP_HDR_LEN, payload + off, n);
    TL_COUNT(st, ip_frag_out);
    tl_netif_emit(st, ip->frag, TL_IP_HDR_LEN + n);
  }
  return 0;
}

int tl_ipv4_send_vec(tl_stack *st, uint32_t dst, uint8_t proto, size_t l4_hdr_len, const tl_iov *iov, int n) {
  size_t total = TL_IP_HDR_LEN + l4_hdr_len;
  for (int i = 0; i < n; i++)
    total += iov[i].len;
  if (total > TL_IP_MAX_LEN || total > tl_netif_tso_max(st)) {
    TL_COUNT(st, drop_ip_out_too_big);
    return TL_EINVAL;
  }
  tl_ip_hdr h = {.ttl = st->cfg.ttl,
                 .proto = proto,
                 .df = 1,
                 .id = st->ip->next_id++,
                 .src = st->cfg.addr,
                 .dst = dst,
                 .total_len = (uint16_t)total};
  tl_ip_build(st->tx, &h);
  return tl_netif_emit_vec(st, TL_IP_HDR_LEN + l4_hdr_len, iov, n);
}

int tl_ipv4_output(tl_stack *st, uint32_t dst, uint8_t proto, const uint8_t *payload, size_t len, int df) {
  if (len > TL_IP_MAX_LEN - TL_IP_HDR_LEN) return TL_EINVAL;
  memmove(tl_ipv4_tx_payload(st), payload, len);
  return tl_ipv4_send(st, dst, proto, len, df ? TL_IPO_DF : 0);
}

int tl_ipv4_reasm_pending(const tl_stack *st) { return st->ip->reasm.n; }

size_t tl_ipv4_reasm_bytes(const tl_stack *st) { return st->ip->reasm.bytes; }
