/* IPv6 header parse/build (RFC 8200 3), the destination's walk of the
 * extension headers (RFC 8200 4) and the pseudo-header (RFC 8200 8.1).
 * The walk decides what RFC 8200 makes a function of the bytes alone
 * (options by their type's high bits, routing headers with segments left,
 * hop-by-hop only first); ipv6.c counts and answers what it reports. */
#include "ipv6_wire.h"

#include <string.h>

int tl_ip6_parse(const uint8_t *pkt, size_t len, tl_ip6_hdr *h) {
  memset(h, 0, sizeof *h);
  if (len < TL_IP6_HDR_LEN) return TL_IP6_ESHORT;
  if (pkt[0] >> 4 != 6) return TL_IP6_EVERSION;
  uint32_t w = tl_get32(pkt);
  h->tclass = (uint8_t)(w >> 20);
  h->flow = w & 0xfffff;
  h->payload_len = tl_get16(pkt + 4);
  /* Link padding past the payload is trimmed by the caller; a payload
   * length beyond what we read is a truncated datagram. A length of 0
   * only means a jumbogram (RFC 2675) with a hop-by-hop jumbo option,
   * which we do not know: the walk answers that option by its type. */
  if ((size_t)h->payload_len > len - TL_IP6_HDR_LEN) return TL_IP6_EPLEN;
  h->next = pkt[6];
  h->hop_limit = pkt[7];
  memcpy(h->src, pkt + 8, 16);
  memcpy(h->dst, pkt + 24, 16);
  return TL_IP6_OK;
}

size_t tl_ip6_build(uint8_t *b, const tl_ip6_hdr *h) {
  tl_put32(b, 6u << 28 | (uint32_t)h->tclass << 20 | (h->flow & 0xfffff));
  tl_put16(b + 4, h->payload_len);
  b[6] = h->next;
  b[7] = h->hop_limit;
  memcpy(b + 8, h->src, 16);
  memcpy(b + 24, h->dst, 16);
  return TL_IP6_HDR_LEN;
}

/* RFC 8200 4.2: the TLV options of a hop-by-hop or destination options
 * header at p[at..at+hl). We know only Pad1 and PadN; any other type is
 * handled by its two high bits: 00 skip, 01 discard, 10 discard and send a
 * parameter problem (code 2, pointing at the type), 11 the same unless
 * the destination was multicast. */
static int options(const uint8_t *p, size_t at, size_t hl, int flags, tl_ip6_chain *w) {
  size_t i = at + 2, end = at + hl;
  while (i < end) {
    uint8_t t = p[i];
    if (t == 0) { /* Pad1 */
      i++;
      continue;
    }
    if (end - i < 2 || (size_t)p[i + 1] + 2 > end - i) {
      w->ptr = (uint32_t)i;
      return TL_IP6W_EOPTLEN;
    }
    if (t != 1) { /* not PadN */
      unsigned act = t >> 6;
      if (act == 2 || (act == 3 && !(flags & TL_IP6W_MULTICAST))) {
        w->code = 2;
        w->ptr = (uint32_t)i;
      }
      if (act) return TL_IP6W_EOPT;
    }
    i += (size_t)p[i + 1] + 2;
  }
  return 0;
}

int tl_ip6_walk(const uint8_t *p, size_t len, uint8_t nh, size_t nh_at, size_t at, int flags,
                tl_ip6_chain *w) {
  memset(w, 0, sizeof *w);
  w->code = TL_IP6W_SILENT;
  for (;;) {
    w->proto = nh;
    w->nh_at = (uint32_t)nh_at;
    w->off = (uint32_t)at;
    size_t hl = 8;
    if (nh != TL_PROTO_HOPOPTS && nh != TL_PROTO_DSTOPTS && nh != TL_PROTO_ROUTING && nh != TL_PROTO_FRAGMENT)
      return TL_IP6W_UPPER;
    /* Every extension header we walk is at least 8 bytes (RFC 8200 4). */
    if (at > len || len - at < 8) return TL_IP6W_ETRUNC;
    if (nh != TL_PROTO_FRAGMENT) hl = ((size_t)p[at + 1] + 1) * 8;
    if (hl > len - at) return TL_IP6W_ETRUNC;
    switch (nh) {
    case TL_PROTO_HOPOPTS:
      /* RFC 8200 4.1: hop-by-hop only right after the IPv6 header; anywhere
       * else it is an unrecognized Next Header (code 1) at the field naming it. */
      if (at != TL_IP6_HDR_LEN) {
        w->code = 1;
        w->ptr = (uint32_t)nh_at;
        return TL_IP6W_EHBH;
      }
      /* fallthrough */
    case TL_PROTO_DSTOPTS: {
      int r = options(p, at, hl, flags, w);
      if (r < 0) return r;
      break;
    }
    case TL_PROTO_ROUTING:
      /* RFC 8200 4.4: segments left 0 means ignore the header. Otherwise a
       * host that does not route treats every type as unrecognized, and
       * RFC 5095 3 says type 0 must be: parameter problem, code 0, at the
       * routing type. */
      if (p[at + 3]) {
        w->code = 0;
        w->ptr = (uint32_t)(at + 2);
        return TL_IP6W_EROUTE;
      }
      break;
    default: { /* fragment (RFC 8200 4.5) */
      uint16_t fo = tl_get16(p + at + 2);
      if (flags & TL_IP6W_REASSEMBLED) return TL_IP6W_ENESTED;
      w->frag_off = fo & 0xfff8;
      w->frag_more = fo & 1;
      w->frag_id = tl_get32(p + at + 4);
      if (w->frag_off || w->frag_more) return TL_IP6W_FRAG;
      /* RFC 6946 4: an atomic fragment is processed in isolation. */
      w->atomic = 1;
      break;
    }
    }
    if (++w->exts > TL_IP6_MAX_EXTS) return TL_IP6W_ECHAIN;
    nh_at = at;
    nh = p[at];
    at += hl;
  }
}

int tl_ip6_view(const uint8_t *p, size_t len, struct tl_ip_view *v) {
  if (!tl_ip6_version(p, len)) return -1;
  size_t tot = TL_IP6_HDR_LEN + (size_t)tl_get16(p + 4);
  if (tot > len) tot = len;
  uint8_t nh = p[6];
  size_t at = TL_IP6_HDR_LEN;
  v->first = v->whole = 1;
  for (int i = 0; i < 16; i++) {
    if (nh == TL_PROTO_FRAGMENT) {
      if (at + TL_IP6_FRAG_HDR_LEN > tot) return -1;
      uint16_t om = tl_get16(p + at + 2);
      if (om & 0xfff8) v->first = 0;
      if (om & 0xfff9) v->whole = 0;
      nh = p[at];
      at += TL_IP6_FRAG_HDR_LEN;
    } else if (nh == TL_PROTO_HOPOPTS || nh == TL_PROTO_ROUTING || nh == TL_PROTO_DSTOPTS) {
      if (at + 2 > tot) return -1;
      nh = p[at];
      at += ((size_t)p[at + 1] + 1) * 8;
      if (at > tot) return -1;
    } else {
      break;
    }
  }
  v->src = v->dst = 0;
  v->ihl = at;
  v->len = tot;
  v->proto = nh;
  v->l4 = p + at;
  v->l4_len = tot - at;
  v->family = 6;
  return 0;
}

uint32_t tl_csum_pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t len) {
  uint32_t s = proto + (len >> 16) + (len & 0xffff);
  for (int i = 0; i < 16; i += 2)
    s += tl_get16(src + i) + tl_get16(dst + i);
  return s;
}

int tl_ip6_is_multicast(const uint8_t *a) { return a[0] == 0xff; }

static int zero(const uint8_t *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i]) return 0;
  return 1;
}

int tl_ip6_is_unspecified(const uint8_t *a) { return zero(a, 16); }

int tl_ip6_is_loopback(const uint8_t *a) { return zero(a, 15) && a[15] == 1; }

int tl_ip6_is_v4mapped(const uint8_t *a) { return zero(a, 10) && a[10] == 0xff && a[11] == 0xff; }
