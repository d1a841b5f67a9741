/* TCP header and options codec: RFC 9293 3.1 (header format), 3.2
 * (options), RFC 7323 (window scale, timestamps), RFC 2018 (SACK). */
#include "tcp_wire.h"

#include <stdio.h>
#include <string.h>

#include "csum.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* RFC 9293 3.2: options other than EOL and NOP carry kind, length (counting
 * both), data. A length < 2 or running past the header cannot be skipped
 * safely, so the segment is malformed (3.2 asks to be prepared for an
 * illegal length such as zero). A known kind with the wrong length is
 * skipped as Linux does (tcp_parse_options) and counted with the unknown. */
int tl_tcp_parse_opts(const uint8_t *p, size_t len, struct tl_tcp_opts *o) {
  memset(o, 0, sizeof *o);
  size_t i = 0;
  while (i < len) {
    uint8_t kind = p[i];
    if (kind == TL_TCPOPT_EOL) break;
    if (kind == TL_TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= len) return TL_TCP_EOPT;
    uint8_t olen = p[i + 1];
    if (olen < 2 || olen > len - i) return TL_TCP_EOPT;
    const uint8_t *d = p + i + 2;
    int ok = 1;
    switch (kind) {
    case TL_TCPOPT_MSS: /* RFC 9293 3.7.1 */
      if ((ok = olen == 4)) {
        o->mss = rd16(d);
        o->has_mss = 1;
      }
      break;
    case TL_TCPOPT_WS: /* RFC 7323 2.2; shift clamped to 14 by the user (2.3) */
      if ((ok = olen == 3)) {
        o->wscale = d[0];
        o->has_wscale = 1;
      }
      break;
    case TL_TCPOPT_SACK_OK: /* RFC 2018 2 */
      if ((ok = olen == 2)) o->sack_ok = 1;
      break;
    case TL_TCPOPT_SACK: /* RFC 2018 3: 2 + 8n bytes */
      if ((ok = olen >= 10 && (olen - 2) % 8 == 0)) {
        int n = (olen - 2) / 8;
        if (n > 4) n = 4;
        for (int k = 0; k < n; k++) {
          o->sack[k][0] = rd32(d + 8 * k);
          o->sack[k][1] = rd32(d + 8 * k + 4);
        }
        o->sack_n = (uint8_t)n;
      }
      break;
    case TL_TCPOPT_TS: /* RFC 7323 3.2 */
      if ((ok = olen == 10)) {
        o->ts_val = rd32(d);
        o->ts_ecr = rd32(d + 4);
        o->has_ts = 1;
      }
      break;
    default:
      ok = 0;
      break;
    }
    if (!ok && o->unknown < 255) o->unknown++;
    i += olen;
  }
  return TL_TCP_OK;
}

static int parse_hdr(const uint8_t *seg, size_t len, struct tl_tcp_hdr *h) {
  if (len < TL_TCP_HDR_LEN) return TL_TCP_ESHORT;
  size_t off = (size_t)(seg[12] >> 4) * 4;
  if (off < TL_TCP_HDR_LEN || off > len) return TL_TCP_EOFF;
  h->sport = rd16(seg);
  h->dport = rd16(seg + 2);
  h->seq = rd32(seg + 4);
  h->ack = rd32(seg + 8);
  h->off = (uint8_t)off;
  h->flags = seg[13];
  h->win = rd16(seg + 14);
  h->csum = rd16(seg + 16);
  h->urg = rd16(seg + 18);
  h->data = seg + off;
  h->len = (uint32_t)(len - off);
  return tl_tcp_parse_opts(seg + TL_TCP_HDR_LEN, off - TL_TCP_HDR_LEN, &h->opt);
}

int tl_tcp_parse_nocsum(const uint8_t *seg, size_t len, struct tl_tcp_hdr *h) {
  memset(h, 0, sizeof *h);
  return parse_hdr(seg, len, h);
}

int tl_tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst, struct tl_tcp_hdr *h) {
  memset(h, 0, sizeof *h);
  if (len < TL_TCP_HDR_LEN) return TL_TCP_ESHORT;
  /* No IPv4 datagram carries more; the pseudo-header length field could
   * not describe it either. */
  if (len > 0xffff) return TL_TCP_EOFF;
  /* RFC 9293 3.1: the checksum covers the pseudo-header, header and data;
   * summed with the checksum field in place, a good segment folds to 0. */
  uint32_t sum = tl_csum_pseudo(src, dst, 6, (uint16_t)len);
  int hdr = parse_hdr(seg, len, h);
  if (hdr == TL_TCP_ESHORT || hdr == TL_TCP_EOFF) return hdr;
  if (tl_csum_fold(tl_csum_partial(seg, len, sum)) != 0) return TL_TCP_ECSUM;
  return hdr;
}

size_t tl_tcp_opts_len(const struct tl_tcp_hdr *h) {
  uint8_t buf[TL_TCP_HDR_LEN + TL_TCP_MAX_OPT];
  return tl_tcp_build(buf, h) - TL_TCP_HDR_LEN;
}

/* Options in the order and alignment Linux writes them (tcp_options_write):
 * MSS; SACK-permitted folded into the NOP pair before a timestamp; TS;
 * SACK-permitted alone; window scale; SACK blocks. Every multi-byte value
 * lands 4-byte aligned, and the total is a multiple of 4 (RFC 9293 3.1:
 * the header is padded to a 32-bit boundary). */
size_t tl_tcp_build(uint8_t *buf, const struct tl_tcp_hdr *h) {
  const struct tl_tcp_opts *o = &h->opt;
  int syn = (h->flags & TL_TH_SYN) != 0;
  uint8_t *p = buf + TL_TCP_HDR_LEN;
  if (syn && o->has_mss) {
    p[0] = TL_TCPOPT_MSS;
    p[1] = 4;
    wr16(p + 2, o->mss);
    p += 4;
  }
  int sack_ok = syn && o->sack_ok;
  if (o->has_ts) {
    if (sack_ok) {
      p[0] = TL_TCPOPT_SACK_OK;
      p[1] = 2;
      sack_ok = 0;
    } else {
      p[0] = p[1] = TL_TCPOPT_NOP;
    }
    p[2] = TL_TCPOPT_TS;
    p[3] = 10;
    wr32(p + 4, o->ts_val);
    wr32(p + 8, o->ts_ecr);
    p += 12;
  }
  if (sack_ok) {
    p[0] = p[1] = TL_TCPOPT_NOP;
    p[2] = TL_TCPOPT_SACK_OK;
    p[3] = 2;
    p += 4;
  }
  if (syn && o->has_wscale) {
    p[0] = TL_TCPOPT_NOP;
    p[1] = TL_TCPOPT_WS;
    p[2] = 3;
    p[3] = o->wscale;
    p += 4;
  }
  int n = o->sack_n > 4 ? 4 : o->sack_n;
  size_t room = TL_TCP_MAX_OPT - (size_t)(p - (buf + TL_TCP_HDR_LEN));
  while (n > 0 && 4 + 8 * (size_t)n > room) n--;
  if (n > 0) {
    p[0] = p[1] = TL_TCPOPT_NOP;
    p[2] = TL_TCPOPT_SACK;
    p[3] = (uint8_t)(2 + 8 * n);
    p += 4;
    for (int k = 0; k < n; k++) {
      wr32(p, o->sack[k][0]);
      wr32(p + 4, o->sack[k][1]);
      p += 8;
    }
  }
  size_t hlen = (size_t)(p - buf);
  wr16(buf, h->sport);
  wr16(buf + 2, h->dport);
  wr32(buf + 4, h->seq);
  wr32(buf + 8, h->ack);
  buf[12] = (uint8_t)((hlen / 4) << 4);
  buf[13] = h->flags;
  wr16(buf + 14, h->win);
  wr16(buf + 16, 0);
  wr16(buf + 18, h->urg);
  return hlen;
}

void tl_tcp_checksum(uint8_t *seg, size_t len, uint32_t src, uint32_t dst) {
  wr16(seg + 16, 0);
  uint32_t sum = tl_csum_pseudo(src, dst, 6, (uint16_t)len);
  wr16(seg + 16, tl_csum_fold(tl_csum_partial(seg, len, sum)));
}

/* tcpdump's order (print-tcp.c tcp_flag_values): F S R P . U E W. */
const char *tl_tcp_flags_fmt(uint8_t flags, char *out, size_t cap) {
  static const struct {
    uint8_t bit;
    char c;
  } order[] = {{TL_TH_FIN, 'F'}, {TL_TH_SYN, 'S'}, {TL_TH_RST, 'R'}, {TL_TH_PSH, 'P'},
               {TL_TH_ACK, '.'}, {TL_TH_URG, 'U'}, {TL_TH_ECE, 'E'}, {TL_TH_CWR, 'W'}};
  if (cap == 0) return out;
  if (flags == 0) {
    snprintf(out, cap, "none");
    return out;
  }
  size_t k = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0] && k + 1 < cap; i++)
    if (flags & order[i].bit) out[k++] = order[i].c;
  out[k] = 0;
  return out;
}

const char *tl_tcp_flags_str(uint8_t flags, char out[8]) { return tl_tcp_flags_fmt(flags, out, 8); }

const char *tl_tcp_strerror(int err) {
  switch (err) {
  case TL_TCP_OK: return "ok";
  case TL_TCP_ESHORT: return "segment shorter than a TCP header";
  case TL_TCP_EOFF: return "bad data offset";
  case TL_TCP_EOPT: return "malformed option";
  case TL_TCP_ECSUM: return "bad checksum";
  default: return "unknown";
  }
}
