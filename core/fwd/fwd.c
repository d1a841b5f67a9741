/* The gateway's forwarder: IPv4 between two links as a router forwards it
 * (RFC 1812 5.2-5.3): header validation, martian filtering, TTL decrement
 * with an incremental checksum update (RFC 1624), ICMP time exceeded,
 * fragmentation needed for DF datagrams over the next hop's MTU (RFC
 * 1191), fragmentation of the others (RFC 791 3.2).
 *
 * A datagram comes in on a side (tl_gw_input). The flow table sees it
 * first (flow.c). With nothing at the stack's link boundary it is
 * forwarded at once, in the host's buffer, with its offload facts: a GSO
 * super-packet goes out whole and the receiving kernel cuts it. Otherwise
 * it enters the boundary (impairment of its side, hooks, capture) and
 * comes back through the stack's network-layer input (gw_l3_input), copied
 * into the stack's tx scratch to be changed. */
#include "fwd.h"

#include <stdlib.h>
#include <string.h>

#include "api_hook.h"
#include "csum.h"
#include "hook.h"
#include "ipv4_wire.h"
#include "tcp_wire.h"

int tl_fwd_route(const struct tl_fwd *fw, uint32_t dst) {
  for (int s = 0; s < 2; s++) {
    uint32_t m = fw->cfg.prefix[s] ? ~0u << (32 - fw->cfg.prefix[s]) : 0;
    if ((dst & m) == (fw->cfg.net[s] & m)) return s;
  }
  return TL_GW_B;
}

/* RFC 1812 5.3.1: decrement, and fix the header checksum for the changed
 * word (TTL, protocol) by RFC 1624 eqn. 3 instead of summing it again. */
int tl_gw_ttl_dec(uint8_t *ip) {
  if (ip[8] <= 1) return -1;
  uint16_t old = tl_get16(ip + 8);
  ip[8]--;
  tl_put16(ip + 10, tl_csum_update16(tl_get16(ip + 10), old, tl_get16(ip + 8)));
  return 0;
}

/* RFC 1812 5.3.7: no forwarding from or to 0/8, 127/8, class E or the
 * limited broadcast; no source that is multicast. */
static int martian(uint32_t src, uint32_t dst) {
  uint8_t s8 = (uint8_t)(src >> 24), d8 = (uint8_t)(dst >> 24);
  if (s8 == 0 || s8 == 127 || s8 >= 224) return 1;
  if (d8 == 0 || d8 == 127 || d8 >= 224) return 1; /* no multicast routing here */
  return 0;
}

void tl_fwd_emit_own(tl_stack *st, const uint8_t *pkt, size_t len) {
  struct tl_fwd *fw = st->fwd;
  if (tl_hook_busy(st)) {
    tl_hook_inject(st, TL_PCAP_DIR_OUT, pkt, len, 0, "sent by the gateway", st->now);
    return;
  }
  if (fw->out(fw->ctx, tl_fwd_route(fw, tl_get32(pkt + 16)), pkt, len, NULL) < 0) TL_COUNT(st, drop_fwd_link);
}

/* RFC 1812 4.3.2.7: no error about an ICMP error, a non-first fragment, or
 * a datagram from a source that names no single host. */
static int may_answer(const uint8_t *orig, size_t ihl, size_t len) {
  uint32_t src = tl_get32(orig + 12);
  if (martian(src, 0x01000001u) || (tl_get16(orig + 6) & 0x1fff)) return 0;
  if (orig[9] == TL_PROTO_ICMP && len >= ihl + 1) {
    uint8_t t = orig[ihl];
    if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return 0;
  }
  return 1;
}

/* An ICMP error (RFC 792) about orig, from the gateway's address on the
 * side it came from, quoting as much of it as fits 576 bytes (RFC 1812
 * 4.3.2.3). mtu: the next-hop MTU of a "fragmentation needed" (RFC 1191). */
static void icmp_error(tl_stack *st, int side, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig,
                       size_t ihl, size_t len) {
  struct tl_fwd *fw = st->fwd;
  if (!may_answer(orig, ihl, len)) return;
  if (!tl_tokens_take(&fw->icmp_errors, st->cfg.icmp_rate_per_s, st->now)) {
    TL_COUNT(st, fwd_icmp_limited);
    return;
  }
  uint8_t *p = fw->icmp;
  size_t q = len < FWD_ICMP_MAX - 28 ? len : FWD_ICMP_MAX - 28;
  size_t tot = 28 + q;
  memset(p, 0, 28);
  p[0] = 0x45;
  tl_put16(p + 2, (uint16_t)tot);
  tl_put16(p + 4, ++fw->icmp_id);
  p[8] = 64;
  p[9] = TL_PROTO_ICMP;
  tl_put32(p + 12, fw->cfg.addr[side]);
  tl_put32(p + 16, tl_get32(orig + 12));
  tl_put16(p + 10, tl_csum(p, 20));
  p[20] = type;
  p[21] = code;
  tl_put16(p + 26, mtu);
  memcpy(p + 28, orig, q);
  tl_put16(p + 22, tl_csum(p + 20, tot - 20));
  TL_COUNT(st, fwd_icmp_out);
  tl_fwd_emit_own(st, p, tot);
}

/* The transport checksum, left partial by the sending kernel, finished
 * here: fragments cannot carry a partial one. */
static void complete_csum(uint8_t *p, size_t ihl, size_t tot) {
  size_t off = p[9] == TL_PROTO_TCP ? 16 : p[9] == TL_PROTO_UDP ? 6 : 0;
  if (!off || ihl + off + 2 > tot) return;
  tl_put16(p + ihl + off, tl_csum_fold(tl_csum_partial(p + ihl, tot - ihl, 0)));
}

/* RFC 791 3.2 "Fragmentation": pieces of at most mtu bytes, payloads in
 * multiples of 8; options with the copy bit go into every fragment, the
 * rest only into the first (RFC 791 3.1 "Options"). */
static void fragment(tl_stack *st, int side, const uint8_t *p, size_t ihl, size_t tot, uint16_t mtu) {
  struct tl_fwd *fw = st->fwd;
  uint8_t *f = fw->frag;
  /* The header of the later fragments: the copied options, padded. */
  uint8_t hdr[60];
  memcpy(hdr, p, 20);
  size_t h2 = 20;
  for (size_t i = 20; i < ihl;) {
    uint8_t t = p[i];
    if (t == 0) break;
    size_t ol = t == 1 ? 1 : (i + 1 < ihl ? p[i + 1] : 0);
    if (ol < 1 || i + ol > ihl) break;
    if (t & 0x80) {
      memcpy(hdr + h2, p + i, ol);
      h2 += ol;
    }
    i += ol;
  }
  while (h2 % 4)
    hdr[h2++] = 0;
  hdr[0] = (uint8_t)(0x40 | h2 / 4);
  uint16_t ff = tl_get16(p + 6);
  size_t base = (size_t)(ff & 0x1fff) * 8, data = tot - ihl, done = 0;
  TL_COUNT(st, fwd_fragmented);
  while (done < data) {
    const uint8_t *h = done ? hdr : p;
    size_t hl = done ? h2 : ihl;
    size_t room = (mtu - hl) & ~(size_t)7;
    if (room == 0) return;
    size_t n = data - done <= room ? data - done : room;
    int more = done + n < data || (ff & 0x2000);
    memcpy(f, h, hl);
    memcpy(f + hl, p + ihl + done, n);
    tl_put16(f + 2, (uint16_t)(hl + n));
    tl_put16(f + 6, (uint16_t)((ff & 0x4000) | (more ? 0x2000 : 0) | ((base + done) / 8)));
    tl_put16(f + 10, 0);
    tl_put16(f + 10, tl_csum(f, hl));
    if (fw->out(fw->ctx, side, f, hl + n, NULL) < 0) TL_COUNT(st, drop_fwd_link);
    TL_COUNT(st, fwd_frags_out);
    done += n;
  }
}

/* A super-packet's TCP header length, or 0. */
static size_t tcp_hlen(const uint8_t *p, size_t ihl, size_t tot) {
  if (p[9] != TL_PROTO_TCP || ihl + 20 > tot) return 0;
  size_t thl = tl_tcp_view_hdr_len(p + ihl);
  return thl >= 20 && ihl + thl <= tot ? thl : 0;
}

/* The next hop's MTU is too small for a super-packet: RFC 1191 for a DF
 * one; otherwise the link may cut it smaller (valid TCP segments either
 * way). Returns the segment size to send, or 0 when answered. */
static uint16_t gso_fit(tl_stack *st, int in, uint8_t *p, size_t ihl, size_t thl, uint16_t gso,
                        uint16_t mtu) {
  if (ihl + thl + gso <= mtu) return gso;
  if (tl_get16(p + 6) & 0x4000) {
    TL_COUNT(st, fwd_frag_needed);
    icmp_error(st, in, 3, 4, mtu, p, ihl, tl_get16(p + 2));
    return 0;
  }
  return (uint16_t)(mtu - ihl - thl);
}

/* A datagram to one of the gateway's own addresses: an echo request is
 * answered (RFC 1812 4.3.3.6: a router MUST implement an ICMP echo
 * server), in place, from the address it was sent to; anything else is
 * dropped and counted (the gateway runs no services). */
static void local_input(tl_stack *st, uint8_t *p, size_t ihl, size_t tot) {
  if (p[9] != TL_PROTO_ICMP || tot < ihl + 8 || p[ihl] != 8 || (tl_get16(p + 6) & 0x3fff) ||
      tl_csum(p + ihl, tot - ihl) != 0) {
    TL_COUNT(st, fwd_local_drop);
    return;
  }
  uint32_t src = tl_get32(p + 12);
  tl_put32(p + 12, tl_get32(p + 16));
  tl_put32(p + 16, src);
  p[8] = 64;
  tl_put16(p + 10, 0);
  tl_put16(p + 10, tl_csum(p, ihl));
  p[ihl] = 0; /* echo reply */
  tl_put16(p + ihl + 2, 0);
  tl_put16(p + ihl + 2, tl_csum(p + ihl, tot - ihl));
  TL_COUNT(st, fwd_echo_replies);
  tl_fwd_emit_own(st, p, tot);
}

/* Forwards the datagram at p (changed in place). in: the side it came
 * from; off: its offload facts (NULL: none). */
static void forward(tl_stack *st, int in, uint8_t *p, size_t len, const tl_gw_off *off) {
  struct tl_fwd *fw = st->fwd;
  /* RFC 1812 5.2.2: the checks of RFC 1122 3.2.1, on every datagram. */
  size_t ihl = len >= 20 ? (size_t)(p[0] & 15) * 4 : 0, tot = len >= 20 ? tl_get16(p + 2) : 0;
  if (len < 20 || (p[0] >> 4) != 4 || ihl < 20 || tot < ihl || tot > len || tl_csum(p, ihl) != 0) {
    TL_COUNT(st, drop_fwd_header);
    return;
  }
  uint32_t dst = tl_get32(p + 16);
  if (martian(tl_get32(p + 12), dst)) {
    TL_COUNT(st, drop_fwd_martian);
    return;
  }
  if (dst == fw->cfg.addr[0] || dst == fw->cfg.addr[1]) {
    local_input(st, p, ihl, tot);
    return;
  }
  /* RFC 1812 5.3.1: a TTL that would reach 0 is answered, not forwarded. */
  if (p[8] <= 1) {
    TL_COUNT(st, fwd_ttl_exceeded);
    icmp_error(st, in, 11, 0, 0, p, ihl, tot);
    return;
  }
  int out = tl_fwd_route(fw, dst);
  uint16_t mtu = fw->cfg.mtu[out];
  tl_gw_off o = {0, off ? off->csum_partial : 0, 0};
  uint16_t gso = off ? off->gso_size : 0;
  size_t thl = tcp_hlen(p, ihl, tot);
  /* Larger than its own link carries: a super-packet whose facts the
   * boundary did not keep; its pieces were at most the ingress MTU. */
  if (!gso && thl && tot > fw->cfg.mtu[in]) gso = (uint16_t)(fw->cfg.mtu[in] - ihl - thl);
  if (gso && thl && tot > ihl + thl + gso) {
    if (!(gso = gso_fit(st, in, p, ihl, thl, gso, mtu))) return;
    if (!o.csum_partial) {
      /* The link finishes the checksum of each piece from the
       * pseudo-header sum (as tcp_output.c leaves it for TSO), so a wrong
       * one (a "corrupt" verdict) cannot be carried: the receiver would
       * drop every piece, and so does the gateway. */
      uint32_t ph = tl_csum_pseudo(tl_get32(p + 12), dst, TL_PROTO_TCP, (uint16_t)(tot - ihl));
      if (tl_csum_fold(tl_csum_partial(p + ihl, tot - ihl, ph)) != 0) {
        TL_COUNT(st, drop_fwd_csum);
        return;
      }
      tl_put16(p + ihl + 16, (uint16_t)~tl_csum_fold(
                                 tl_csum_pseudo(tl_get32(p + 12), dst, TL_PROTO_TCP, (uint16_t)(tot - ihl))));
      o.csum_partial = 1;
    }
    o.gso_size = gso;
    TL_COUNT(st, fwd_gso);
  } else if (tot > mtu) {
    if (tl_get16(p + 6) & 0x4000) {
      TL_COUNT(st, fwd_frag_needed);
      icmp_error(st, in, 3, 4, mtu, p, ihl, tot);
      return;
    }
    if (o.csum_partial) complete_csum(p, ihl, tot);
    tl_gw_ttl_dec(p);
    fragment(st, out, p, ihl, tot, mtu);
    TL_COUNT(st, fwd_out);
    return;
  }
  tl_gw_ttl_dec(p);
  TL_COUNT(st, fwd_out);
  if (fw->out(fw->ctx, out, p, tot, o.gso_size || o.csum_partial ? &o : NULL) < 0)
    TL_COUNT(st, drop_fwd_link);
}

/* The boundary delivers here (st->l3_input): the datagram is copied into
 * the tx scratch, the one buffer of the stack the forwarder may change. */
static void gw_l3_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags) {
  (void)now;
  if (len > TL_TX_MAX) {
    TL_COUNT(st, drop_fwd_header);
    return;
  }
  memcpy(st->tx, pkt, len);
  int side = (rx_flags & TL_RX_SIDE_B) ? TL_GW_B : TL_GW_A;
  /* The flow table sees a datagram where the hooks would: Lua shows it
   * to the table itself just before them (tl_gw_observe). */
  if (!(tl_hook_get_mask(st) & TL_HOOK_IN)) tl_flow_observe(st->fwd->ft, st->tx, len, side, 0, st->now);
  tl_gw_off o = {0, (rx_flags & TL_RX_CSUM_PARTIAL) ? 1 : 0, 0};
  forward(st, side, st->tx, len, &o);
}

/* The stack's link output (hook verdicts sent on, injected segments):
 * routed by destination. */
static int gw_link_out(void *ctx, const uint8_t *pkt, size_t len) {
  tl_stack *st = ctx;
  struct tl_fwd *fw = st->fwd;
  if (len < 20) return -1;
  return fw->out(fw->ctx, tl_fwd_route(fw, tl_get32(pkt + 16)), pkt, len, NULL);
}

int tl_gw_attach(tl_stack *st, const tl_gw_config *cfg, tl_gw_out_fn out, void *ctx) {
  if (!st || !cfg || !out || st->fwd) return TL_EINVAL;
  for (int s = 0; s < 2; s++)
    if (cfg->mtu[s] < 68 || cfg->prefix[s] > 32) return TL_EINVAL;
  struct tl_fwd *fw = calloc(1, sizeof *fw);
  if (!fw) return TL_ENOMEM;
  fw->cfg = *cfg;
  fw->out = out;
  fw->ctx = ctx;
  tl_tokens_fill(&fw->icmp_errors, st->cfg.icmp_rate_per_s);
  fw->ft = tl_flow_table_new(cfg->max_flows);
  fw->frag = malloc(cfg->mtu[0] > cfg->mtu[1] ? cfg->mtu[0] : cfg->mtu[1]);
  if (!fw->ft || !fw->frag) {
    tl_flow_table_free(fw->ft);
    free(fw->frag);
    free(fw);
    return TL_ENOMEM;
  }
  st->fwd = fw;
  st->l3_input = gw_l3_input;
  st->l3_input6 = NULL; /* IPv4 only: the forwarder drops the rest as a bad header */
  st->out = gw_link_out;
  st->out_ctx = st;
  st->outv = NULL;
  return 0;
}

void tl_fwd_free(tl_stack *st) {
  struct tl_fwd *fw = st->fwd;
  if (!fw) return;
  tl_flow_table_free(fw->ft);
  free(fw->frag);
  free(fw);
  st->fwd = NULL;
}

int tl_gw_is(const tl_stack *st) { return st && st->fwd; }

int tl_gw_direct(const tl_stack *st) { return !tl_hook_busy(st); }

void tl_gw_set_whole(tl_stack *st, int on) {
  if (st && st->fwd) st->fwd->hooks_whole = on != 0;
}

int tl_gw_offload_ok(const tl_stack *st) {
  if (!tl_hook_busy(st)) return 1;
  return st->fwd && st->fwd->hooks_whole && !tl_hook_needs_wire(st);
}

void tl_gw_input(tl_stack *st, int side, uint8_t *pkt, size_t len, int64_t now, const tl_gw_off *off) {
  struct tl_fwd *fw = st->fwd;
  if (!fw) return;
  st->now = now;
  side = side == TL_GW_B;
  TL_COUNT(st, fwd_in);
  if (!tl_hook_busy(st)) {
    tl_flow_observe(fw->ft, pkt, len, side, off ? off->gso_size : 0, now);
    TL_COUNT(st, fwd_direct);
    forward(st, side, pkt, len, off);
    return;
  }
  /* The boundary may copy, corrupt or rewrite it: the checksum is made
   * whole first, so that any change shows and the forwarder need not
   * carry the fact through the boundary. */
  if (off && off->csum_partial && len >= 20 && (size_t)(pkt[0] & 15) * 4 <= len) {
    size_t tot = tl_get16(pkt + 2);
    complete_csum(pkt, (size_t)(pkt[0] & 15) * 4, tot < len ? tot : len);
  }
  tl_hook_input(st, pkt, len, now, side ? TL_RX_SIDE_B : 0);
}

const tl_flow *tl_gw_flow(tl_stack *st, const uint8_t *pkt, size_t len, int *dir) {
  int d = 0;
  const tl_flow *f = st && st->fwd ? tl_flow_lookup(st->fwd->ft, pkt, len, &d) : NULL;
  if (dir) *dir = d;
  return f;
}

const tl_flow *tl_gw_observe(tl_stack *st, const uint8_t *pkt, size_t len, int side) {
  if (!st || !st->fwd) return NULL;
  side = side == TL_GW_B;
  /* A super-packet held for the hooks: its pieces were at most the
   * side's MTU (forward() reads it the same way). */
  uint16_t gso = 0;
  size_t ihl = len >= 20 ? (size_t)(pkt[0] & 15) * 4 : 0;
  size_t thl = ihl && len >= ihl + 20 ? tcp_hlen(pkt, ihl, len) : 0;
  if (thl && len > st->fwd->cfg.mtu[side]) gso = (uint16_t)(st->fwd->cfg.mtu[side] - ihl - thl);
  return tl_flow_observe(st->fwd->ft, pkt, len, side, gso, st->now);
}

int tl_gw_flow_count(const tl_stack *st) { return st && st->fwd ? tl_flow_table_count(st->fwd->ft) : 0; }

const tl_flow *tl_gw_flow_at(const tl_stack *st, int i) {
  return st && st->fwd ? tl_flow_table_at(st->fwd->ft, i) : NULL;
}
