/* SYN cookies, RFC 4987 3.6: while a listener's SYN queue is full, its
 * SYN-ACKs carry the state the SYN would have created, so a flood of
 * spoofed SYNs costs no memory and cannot lock real clients out.
 *
 * The ISN we send (our cookie), bit by bit:
 *   31..30  the cookie period (now / 64 s), modulo 4
 *   29..4   26 bits of SipHash-2-4 (the RFC 6528 ISN key, isn.c) over the
 *           4-tuple, the peer's ISN, the full period and bits 3..0
 *   3       the SYN offered timestamps (and we take them)
 *   2..0    the peer's MSS, rounded down to an entry of msstab
 * The peer returns it as SEG.ACK - 1 in its ACK; a cookie is good during
 * its own period and the next one (64 to 128 s), as Linux's allow two to
 * three minutes. RFC 4987 3.6 lists what a cookie loses: the other SYN
 * options. As Linux (cookie_init_timestamp), we keep them when the peer
 * uses timestamps: the low 6 bits of our TSval in the SYN-ACK, echoed in
 * its TSecr, hold the window scale (4 bits, 15 for none) and SACK-permitted
 * (1 bit; bit 5 is ECN's in Linux, always 0 here: the stack does not
 * negotiate ECN). Without timestamps the connection goes without window
 * scaling and SACK (our SYN-ACK does not offer them). */
#include "tcp_syncookie.h"

#include <sodium.h>
#include <string.h>

#define COOKIE_PERIOD_US (64 * 1000000LL)
#define COOKIE_MAX_AGE 1 /* periods after the current one a cookie stays good */
#define COOKIE_MAC_MASK 0x3ffffffu
#define TS_OPT_BITS 6
#define TS_OPT_MASK ((1u << TS_OPT_BITS) - 1)
#define TS_WS_NONE 15u
#define TS_SACK 0x10u

/* The MSS values a cookie can name (3 bits). Each entry is the largest MSS
 * a common path gives: the floor we never go below (TL_MIN_MSS, tcp_tcb.h), the
 * RFC 9293 default, IPv6 tunnels, PPPoE/VPN, Ethernet with options and
 * without, jumbo frames, loopback. A peer gets the largest entry not above
 * its own MSS option, so we never send it more than it asked for. */
static const uint16_t msstab[8] = {48, 536, 1220, 1360, 1440, 1460, 8960, 65495};

static uint32_t period_of(int64_t now) { return (uint32_t)((uint64_t)now / COOKIE_PERIOD_US); }

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* The 4-tuple as bytes: 12 for IPv4, 36 for IPv6 (the peer's whole
 * address, not its id: tcp_peer6.h). Returns the length. */
static size_t tuple(const tl_stack *st, uint8_t *p, uint32_t laddr, uint16_t lport, uint32_t raddr,
                    uint16_t rport) {
  size_t n = tcp_addr_bytes(tl_tcp_of(st), laddr, p);
  p[n++] = (uint8_t)(lport >> 8);
  p[n++] = (uint8_t)lport;
  n += tcp_addr_bytes(tl_tcp_of(st), raddr, p + n);
  p[n++] = (uint8_t)(rport >> 8);
  p[n++] = (uint8_t)rport;
  return n;
}

/* Keyed with the ISN secret; the leading tag keeps these inputs apart from
 * the ISN function's and from each other. */
static uint64_t keyed(const tl_stack *st, const uint8_t *msg, size_t len) {
  uint8_t out[crypto_shorthash_BYTES];
  crypto_shorthash(out, msg, len, tl_tcp_of(st)->isn_key.k);
  uint64_t v;
  memcpy(&v, out, sizeof v);
  return v;
}

static uint32_t cookie_mac(const tl_stack *st, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h,
                           uint32_t peer_iss, uint32_t period, uint8_t data) {
  uint8_t msg[46];
  msg[0] = 'C';
  size_t n = 1 + tuple(st, msg + 1, ip->dst, h->dport, ip->src, h->sport);
  put32(msg + n, peer_iss);
  put32(msg + n + 4, period);
  msg[n + 8] = data;
  return (uint32_t)keyed(st, msg, n + 9) & COOKIE_MAC_MASK;
}

uint32_t tcp_syncookie_ts_offset(const tl_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
                                 uint16_t rport) {
  uint8_t msg[37];
  msg[0] = 'T';
  size_t n = 1 + tuple(st, msg + 1, laddr, lport, raddr, rport);
  return (uint32_t)keyed(st, msg, n);
}

int tcp_syncookie_live(const struct tl_sock *l, int64_t now) {
  return l->cookie_sent && period_of(now) - (uint32_t)(l->cookie_sent - 1) <= COOKIE_MAX_AGE;
}

void tcp_syncookie_send(tl_stack *st, struct tl_sock *l, struct tl_sock *syn, const struct tl_ip_meta *ip,
                        const struct tl_tcp_hdr *h, int64_t now) {
  uint32_t period = period_of(now);
  uint8_t idx = 0;
  for (uint8_t i = 1; i < 8; i++)
    if (msstab[i] <= syn->peer_mss) idx = i;
  if (!syn->ts_ok) syn->ws_ok = syn->sack_ok = 0; /* no bits to carry them in */
  uint8_t data = (uint8_t)(syn->ts_ok << 3 | idx);

  struct tl_tcp_hdr r;
  memset(&r, 0, sizeof r);
  r.sport = h->dport;
  r.dport = h->sport;
  r.seq = (period & 3u) << 30 | cookie_mac(st, ip, h, h->seq, period, data) << 4 | data;
  r.ack = h->seq + 1;
  r.flags = TL_TH_SYN | TL_TH_ACK;
  if (!syn->ws_ok) syn->rcv_wscale = 0;
  r.win = tcp_rcv_window(syn, 1);
  r.opt.has_mss = 1;
  r.opt.mss = syn->rcv_mss;
  if (syn->ws_ok) {
    r.opt.has_wscale = 1;
    r.opt.wscale = syn->rcv_wscale;
  }
  if (syn->ts_ok) {
    /* Our TS clock for this connection (RFC 7323 5.4), with the option
     * bits in its low end; moved back a step rather than ahead, so that
     * the child's later TSvals never go backwards. */
    uint32_t clock =
        (uint32_t)(now / 1000) + tcp_syncookie_ts_offset(st, ip->dst, h->dport, ip->src, h->sport);
    uint32_t bits = (syn->ws_ok ? syn->snd_wscale : TS_WS_NONE) | (syn->sack_ok ? TS_SACK : 0);
    uint32_t tsv = (clock & ~TS_OPT_MASK) | bits;
    if (tl_seq_gt(tsv, clock)) tsv -= 1u << TS_OPT_BITS;
    r.opt.has_ts = 1;
    r.opt.ts_val = tsv;
    r.opt.ts_ecr = h->opt.ts_val;
  }
  r.opt.sack_ok = syn->sack_ok;

  tcp_emit(st, &r, ip->dst, ip->src, NULL, 0, 0);
  TL_COUNT(st, tcp_syncookies_sent);
  l->cookie_sent = (int64_t)period + 1;
}

int tcp_syncookie_check(tl_stack *st, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h, int64_t now,
                        struct tl_syncookie *out) {
  uint32_t cookie = h->ack - 1;
  uint32_t period = period_of(now);
  uint32_t age = (period - (cookie >> 30)) & 3u;
  if (age > COOKIE_MAX_AGE) return -1; /* expired: a replay, or a guess */
  uint8_t data = (uint8_t)(cookie & 15u);
  uint32_t peer_iss = h->seq - 1;
  if (((cookie >> 4) & COOKIE_MAC_MASK) != cookie_mac(st, ip, h, peer_iss, period - age, data)) return -1;
  memset(out, 0, sizeof *out);
  out->peer_iss = peer_iss;
  out->mss = msstab[data & 7u];
  out->ts = (data >> 3) & 1u;
  if (out->ts) {
    /* RFC 7323 3.2: once agreed, every segment carries TSopt; without it
     * the options in our TSval are lost. */
    if (!h->opt.has_ts) return -1;
    uint32_t bits = h->opt.ts_ecr & TS_OPT_MASK;
    uint32_t ws = bits & 15u;
    out->ws_ok = ws != TS_WS_NONE;
    out->wscale = out->ws_ok ? (uint8_t)ws : 0;
    out->sack_ok = (bits & TS_SACK) != 0;
  }
  return 0;
}
