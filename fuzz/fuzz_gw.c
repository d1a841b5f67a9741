/* libFuzzer target for the gateway's forwarder (core/fwd/): arbitrary
 * datagrams from either side, with or without offload facts, through the
 * direct path and through the link boundary (hooks holding datagrams and
 * releasing them with verdicts, a per-side impairment, resets of the flow
 * of a held datagram), into the forwarder, the passive flow table,
 * fragmentation and ICMP errors.
 *
 * The input: one config byte (side b's MTU, which boundary pieces are on),
 * then records [op][side][len16][gso16] followed by len bytes of datagram.
 * A flag in op fixes the IPv4 header checksum and total length first, so
 * the forwarder's deeper paths are reached.
 *
 * Oracles besides the sanitizers: every datagram the gateway writes is
 * IPv4 with a valid header checksum (unless a hook verdict corrupted it)
 * and, without GSO facts, fits the side's MTU. */
#include <stdint.h>
#include <string.h>

#include "tcplua.h"

#define CHECK(c)                                                                                             \
  do {                                                                                                       \
    if (!(c)) __builtin_trap();                                                                              \
  } while (0)

struct world {
  uint16_t mtu[2];
  int corrupting;
};

static int out(void *ctx, int side, const uint8_t *pkt, size_t len, const tl_gw_off *off) {
  struct world *w = ctx;
  CHECK(side == 0 || side == 1);
  CHECK(len >= 20 && (pkt[0] >> 4) == 4);
  size_t ihl = (size_t)(pkt[0] & 15) * 4;
  CHECK(ihl >= 20 && ihl <= len);
  if (!w->corrupting) CHECK(tl_csum(pkt, ihl) == 0);
  if (!off || !off->gso_size) CHECK(len <= w->mtu[side] || w->corrupting);
  return 0;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t cfg = data[0];
  struct world w = {{1500, (uint16_t)(576 + (cfg & 7) * 128)}, 0};
  tl_stack *st = tl_stack_new(NULL, NULL, NULL);
  if (!st) return 0;
  tl_gw_config gc;
  memset(&gc, 0, sizeof gc);
  gc.net[0] = (10u << 24) | (78u << 16) | (1u << 8);
  gc.net[1] = (10u << 24) | (78u << 16) | (2u << 8);
  gc.prefix[0] = gc.prefix[1] = 24;
  gc.addr[0] = gc.net[0] + 1;
  gc.addr[1] = gc.net[1] + 1;
  gc.mtu[0] = w.mtu[0];
  gc.mtu[1] = w.mtu[1];
  gc.max_flows = 16;
  CHECK(tl_gw_attach(st, &gc, out, &w) == 0);
  if (cfg & 8) tl_hook_enable(st, TL_HOOK_IN);
  if (cfg & 16) {
    tl_impair_config ic;
    memset(&ic, 0, sizeof ic);
    ic.loss = 0.1;
    ic.duplicate = 0.1;
    ic.reorder = 0.1;
    ic.delay_us = 1000;
    ic.reorder_gap = 3;
    ic.queue_max = 64;
    tl_hook_set_impair_side(st, cfg & 32 ? 1 : 0, &ic, cfg);
  }
  static uint8_t buf[65536];
  int64_t now = 0;
  size_t i = 1;
  while (i + 6 <= size) {
    uint8_t op = data[i], side = data[i + 1] & 1;
    size_t len = rd16(data + i + 2);
    uint16_t gso = rd16(data + i + 4);
    i += 6;
    if (len > size - i) len = size - i;
    memcpy(buf, data + i, len);
    i += len;
    if ((op & 1) && len >= 20) {
      /* A plausible header: version 4, IHL within, total length, checksum. */
      buf[0] = (uint8_t)(0x40 | ((buf[0] & 15) < 5 ? 5 : (buf[0] & 15)));
      if ((size_t)(buf[0] & 15) * 4 > len) buf[0] = 0x45;
      buf[2] = (uint8_t)(len >> 8);
      buf[3] = (uint8_t)len;
      buf[10] = buf[11] = 0;
      uint16_t c = tl_csum(buf, (size_t)(buf[0] & 15) * 4);
      buf[10] = (uint8_t)(c >> 8);
      buf[11] = (uint8_t)c;
    }
    tl_gw_off off = {gso, (uint8_t)((op >> 1) & 1), 0};
    now += 100 + (op >> 4) * 1000;
    tl_gw_input(st, side, buf, len, now, (op & 4) ? &off : NULL);
    /* The Lua runner's part: judge what the boundary holds. */
    tl_hook_seg *seg;
    int k = 0;
    while ((seg = tl_hook_next(st)) != NULL) {
      int v = (op >> 3) + k++;
      if (v % 7 == 3) tl_gw_reset(st, seg->pkt, seg->len, now);
      tl_gw_observe(st, seg->pkt, seg->len, seg->side);
      tl_hook_release(st, seg, v % 5 == 0 ? 0 : 1 + (v % 5 == 1), (v % 3 == 0) ? 500 : 0, NULL, now);
    }
    tl_stack_poll(st, now);
  }
  tl_stack_poll(st, now + 10000000);
  tl_stack_free(st);
  return 0;
}
