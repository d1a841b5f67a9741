/* libFuzzer target for IPv6: the codec alone (core/wire/ipv6_wire.c) and a
 * stack fed a sequence of IPv6 datagrams (validation, the extension-header
 * walk, reassembly, ICMPv6).
 *
 * Input: one mode byte. Mode even: the codec -- any bytes must parse and
 * walk without reading out of bounds, what parses survives build -> parse,
 * and a walk's offsets stay inside the datagram. Mode odd: records of
 * [flags][len16][bytes] into a stack (addr6 fd77::2). Flags: bit 0 writes
 * version 6 and the payload length, bit 1 writes the source fd77::1 and the
 * destination fd77::2, bit 2 fixes an ICMPv6 or TCP checksum where the
 * walk finds one, bit 3 advances the clock past the reassembly timeout first.
 * Oracles besides ASan/UBSan/LeakSanitizer: every datagram the stack sends
 * parses as IPv6, from fd77::2, no larger than the MTU. */
#include <stdlib.h>
#include <string.h>

#include "ipv6_wire.h"
#include "tcplua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                             \
  do {                                                                                                       \
    if (!(c)) __builtin_trap();                                                                              \
  } while (0)

static const uint8_t US[16] = {0xfd, 0x77, [15] = 2};
static const uint8_t PEER[16] = {0xfd, 0x77, [15] = 1};

static void codec(const uint8_t *p, size_t n) {
  tl_ip6_hdr h;
  if (tl_ip6_parse(p, n, &h) != TL_IP6_OK) return;
  uint8_t b[TL_IP6_HDR_LEN];
  tl_ip6_build(b, &h);
  tl_ip6_hdr g;
  CHECK(tl_ip6_parse(b, sizeof b, &g) == TL_IP6_OK || h.payload_len);
  CHECK(memcmp(b + 6, p + 6, 34) == 0 && b[0] >> 4 == 6);
  for (int flags = 0; flags < 4; flags++) {
    tl_ip6_chain w;
    int r = tl_ip6_walk(p, n, h.next, 6, TL_IP6_HDR_LEN, flags, &w);
    CHECK(r >= TL_IP6W_EOPTLEN && r <= TL_IP6W_FRAG);
    if (r >= 0) CHECK(w.off <= n && w.nh_at < w.off);
    if (r < 0 && w.code != TL_IP6W_SILENT) CHECK(w.code <= 3 && w.ptr < n);
  }
}

static int out(void *ctx, const uint8_t *pkt, size_t len) {
  const tl_config *c = ctx;
  tl_ip6_hdr h;
  if (len && pkt[0] >> 4 == 4) return 0;
  CHECK(tl_ip6_parse(pkt, len, &h) == TL_IP6_OK);
  CHECK(memcmp(h.src, US, 16) == 0);
  CHECK(len <= c->mtu);
  return 0;
}

static void fix_csum(uint8_t *p, size_t n) {
  tl_ip6_chain w;
  int r = tl_ip6_walk(p, n, p[6], 6, TL_IP6_HDR_LEN, 0, &w);
  size_t at = w.proto == TL_PROTO_ICMPV6 ? 2 : w.proto == TL_PROTO_TCP ? 16 : 0;
  if (r != TL_IP6W_UPPER || !at || n - w.off < at + 2) return;
  uint8_t *m = p + w.off;
  size_t ml = n - w.off;
  tl_put16(m + at, 0);
  tl_put16(m + at,
           tl_csum_fold(tl_csum_partial(m, ml, tl_csum_pseudo6(p + 8, p + 24, w.proto, (uint32_t)ml))));
}

static void stack(const uint8_t *d, size_t n) {
  static tl_config cfg; /* read-only after the first call: the output's oracle */
  tl_config_default(&cfg);
  cfg.reasm_max_datagrams = 8;
  cfg.reasm_max_bytes = 256 * 1024;
  tl_stack *st = tl_stack_new(&cfg, out, &cfg);
  if (!st) return;
  /* A listener, so TCP over IPv6 (handshakes, cookies, RSTs) is reached. */
  tl_listen(st, 7, 2, NULL);
  int64_t now = 0;
  uint8_t *buf = malloc(65536 + TL_IP6_HDR_LEN);
  while (buf && n >= 3) {
    uint8_t flags = d[0];
    size_t len = tl_get16(d + 1);
    d += 3;
    n -= 3;
    if (len > n) len = n;
    memcpy(buf, d, len);
    d += len;
    n -= len;
    if ((flags & 1) && len >= TL_IP6_HDR_LEN) {
      buf[0] = (uint8_t)(0x60 | (buf[0] & 0x0f));
      tl_put16(buf + 4, (uint16_t)(len - TL_IP6_HDR_LEN));
    }
    if ((flags & 2) && len >= TL_IP6_HDR_LEN) {
      memcpy(buf + 8, PEER, 16);
      memcpy(buf + 24, US, 16);
    }
    if ((flags & 4) && len >= TL_IP6_HDR_LEN && tl_ip6_parse(buf, len, &(tl_ip6_hdr){0}) == TL_IP6_OK)
      fix_csum(buf, len);
    now += (flags & 8) ? 61000000 : 1000;
    tl_stack_poll(st, now);
    /* a private copy of the exact length so ASan sees reads past the end */
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt) break;
    memcpy(pkt, buf, len);
    tl_stack_input(st, pkt, len, now);
    free(pkt);
  }
  tl_stack_poll(st, now + 120000000);
  free(buf);
  tl_stack_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t *copy = malloc(size);
  if (!copy) return 0;
  memcpy(copy, data + 1, size - 1);
  if (data[0] & 1)
    stack(copy, size - 1);
  else
    codec(copy, size - 1);
  free(copy);
  return 0;
}
