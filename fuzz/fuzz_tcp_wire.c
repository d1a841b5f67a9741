/* libFuzzer target for the TCP header codec alone (core/wire/tcp_wire.c): any
 * bytes must parse without reading out of bounds, and whatever parses must
 * survive build -> parse with the same fields (the codec's round trip). */
#include <stdlib.h>
#include <string.h>

#include "tcp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_opts(const struct tl_tcp_opts *a, const struct tl_tcp_opts *b, int syn) {
  if (syn) {
    if (a->has_mss != b->has_mss || (a->has_mss && a->mss != b->mss)) abort();
    if (a->has_wscale != b->has_wscale || (a->has_wscale && a->wscale != b->wscale)) abort();
    if (a->sack_ok != b->sack_ok) abort();
  }
  if (a->has_ts != b->has_ts || (a->has_ts && (a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr))) abort();
  /* build keeps as many SACK blocks as fit beside the other options */
  if (b->sack_n > a->sack_n) abort();
  for (int i = 0; i < b->sack_n; i++)
    if (a->sack[i][0] != b->sack[i][0] || a->sack[i][1] != b->sack[i][1]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8) return 0;
  uint32_t src, dst;
  memcpy(&src, data, 4);
  memcpy(&dst, data + 4, 4);
  data += 8;
  size -= 8;
  /* a private copy so ASan sees reads past the end */
  uint8_t *seg = malloc(size ? size : 1);
  if (!seg) return 0;
  memcpy(seg, data, size);
  struct tl_tcp_hdr h;
  int rc = tl_tcp_parse(seg, size, src, dst, &h);
  if (rc == TL_TCP_ECSUM) rc = tl_tcp_parse_nocsum(seg, size, &h);
  if (rc == TL_TCP_OK) {
    if (h.off < 20 || h.off > size || h.len != size - h.off || h.data != seg + h.off) abort();
    uint8_t out[60 + 8];
    size_t hl = tl_tcp_build(out, &h);
    if (hl < 20 || hl > 60 || hl % 4) abort();
    if (hl != 20 + tl_tcp_opts_len(&h)) abort();
    tl_tcp_checksum(out, hl, src, dst);
    struct tl_tcp_hdr g;
    if (tl_tcp_parse(out, hl, src, dst, &g) != TL_TCP_OK) abort();
    if (g.sport != h.sport || g.dport != h.dport || g.seq != h.seq || g.ack != h.ack || g.flags != h.flags ||
        g.win != h.win || g.urg != h.urg || g.len != 0 || g.opt.unknown != 0)
      abort();
    same_opts(&h.opt, &g.opt, (h.flags & TL_TH_SYN) != 0);
  }
  char fl[8], big[16];
  tl_tcp_flags_str(size ? seg[0] : 0, fl);
  tl_tcp_flags_fmt(size ? seg[0] : 0, big, sizeof big);
  if (strncmp(fl, big, 7) != 0) abort();
  free(seg);
  return 0;
}
