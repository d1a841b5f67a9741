/* IPv6 reassembly (RFC 8200 4.5).
 *
 * RFC 5722: if any fragment overlaps another of the same datagram, the
 * whole datagram is abandoned and no ICMP error is sent. RFC 8200 4.5 lets
 * an exact duplicate (the network copies packets) be dropped alone, and
 * that is all we keep. Memory: a datagram's buffer is allocated and grown
 * when its fragments arrive (a few times per datagram, never per segment
 * of the TCP path), within cfg.reasm_max_bytes and reasm_max_datagrams. */
#include "ipv6_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "ipv6_state.h"
#include "ipv6_wire.h"

int tl_reasm6_init(tl_stack *st, struct tl_reasm6 *r) {
  memset(r, 0, sizeof *r);
  r->max = st->cfg.reasm_max_datagrams;
  if (r->max == 0) return 0;
  r->d = calloc((size_t)r->max, sizeof *r->d);
  return r->d ? 0 : TL_ENOMEM;
}

static void dgram_free(struct tl_reasm6 *r, struct tl_reasm6_dgram *d) {
  r->bytes -= sizeof *d + d->cap;
  free(d->buf);
  free(d);
}

void tl_reasm6_free(struct tl_reasm6 *r) {
  for (int i = 0; i < r->n; i++)
    dgram_free(r, r->d[i]);
  free(r->d);
  memset(r, 0, sizeof *r);
}

static void discard(tl_stack *st, struct tl_reasm6_dgram *d) {
  struct tl_reasm6 *r = &st->ip6->reasm;
  for (int i = 0; i < r->n; i++)
    if (r->d[i] == d) {
      r->d[i] = r->d[--r->n];
      break;
    }
  dgram_free(r, d);
}

void tl_reasm6_release(tl_stack *st, struct tl_reasm6_dgram *d) { discard(st, d); }

static struct tl_reasm6_dgram *find(struct tl_reasm6 *r, const struct tl_frag6 *f) {
  for (int i = 0; i < r->n; i++) {
    struct tl_reasm6_dgram *d = r->d[i];
    if (d->id == f->id && !memcmp(d->src, f->pkt + 8, 16) && !memcmp(d->dst, f->pkt + 24, 16)) return d;
  }
  return NULL;
}

static struct tl_reasm6_dgram *create(tl_stack *st, const struct tl_frag6 *f, int64_t now) {
  struct tl_reasm6 *r = &st->ip6->reasm;
  if (r->n >= r->max || r->bytes + sizeof(struct tl_reasm6_dgram) > st->cfg.reasm_max_bytes) return NULL;
  struct tl_reasm6_dgram *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  memcpy(d->src, f->pkt + 8, 16);
  memcpy(d->dst, f->pkt + 24, 16);
  d->id = f->id;
  /* RFC 8200 4.5: 60 seconds from the first fragment to arrive. */
  d->expires = now + st->cfg.reasm6_timeout_us;
  r->d[r->n++] = d;
  r->bytes += sizeof *d;
  return d;
}

static int reserve(tl_stack *st, struct tl_reasm6_dgram *d, size_t end) {
  if (end <= d->cap) return 0;
  struct tl_reasm6 *r = &st->ip6->reasm;
  size_t cap = d->cap ? d->cap : 2048;
  while (cap < end)
    cap *= 2;
  if (cap > TL_IP_MAX_LEN) cap = TL_IP_MAX_LEN;
  if (r->bytes - d->cap + cap > st->cfg.reasm_max_bytes) {
    cap = end;
    if (r->bytes - d->cap + cap > st->cfg.reasm_max_bytes) return -1;
  }
  uint8_t *b = realloc(d->buf, TL_REASM6_UNFRAG_MAX + cap);
  if (!b) return -1;
  if (!d->buf) memset(b, 0, TL_REASM6_UNFRAG_MAX);
  d->buf = b;
  r->bytes = r->bytes - d->cap + cap;
  d->cap = cap;
  return 0;
}

static int bit(const struct tl_reasm6_dgram *d, uint32_t b) { return d->seen[b >> 3] >> (b & 7) & 1; }

static void fail(tl_stack *st, struct tl_reasm6_dgram *d, enum tl_counter c) {
  st->counters[c]++;
  discard(st, d);
}

/* The whole datagram: the first fragment's headers before its fragment
 * header, with the Next Header that named the fragment header now naming
 * what it named (RFC 8200 4.5 reassembly, (1)), then the payload. */
static const uint8_t *rebuild(struct tl_reasm6_dgram *d, size_t *len, size_t *at, size_t *nh_at) {
  size_t u = d->unfrag_len;
  uint8_t *hdr = d->buf + TL_REASM6_UNFRAG_MAX - u;
  memcpy(hdr, d->hdr, u);
  size_t nh = d->frag_nh_at;
  hdr[nh] = d->hdr[u]; /* the fragment header's Next Header */
  tl_put16(hdr + 4, (uint16_t)(u - TL_IP6_HDR_LEN + d->total));
  *len = u + d->total;
  *at = u;
  *nh_at = nh;
  return hdr;
}

struct tl_reasm6_dgram *tl_reasm6_add(tl_stack *st, const struct tl_frag6 *f, int64_t now,
                                      const uint8_t **dgram, size_t *len, size_t *at, size_t *nh_at) {
  struct tl_reasm6 *r = &st->ip6->reasm;
  uint32_t off = f->off;
  size_t data_at = f->frag_at + TL_IP6_FRAG_HDR_LEN;
  uint32_t plen = (uint32_t)(f->len - data_at), end = off + plen;
  const uint8_t *payload = f->pkt + data_at;
  if (f->frag_at > TL_REASM6_UNFRAG_MAX) {
    TL_COUNT(st, drop_ip6_frag_cap);
    return NULL;
  }
  struct tl_reasm6_dgram *d = find(r, f);
  if (!d && !(d = create(st, f, now))) {
    TL_COUNT(st, drop_ip6_frag_cap);
    return NULL;
  }
  if (!f->more) {
    if ((d->have_last && d->total != end) || d->max_end > end) {
      fail(st, d, TLC_drop_ip6_frag_bad_len);
      return NULL;
    }
  } else if (d->have_last && end > d->total) {
    fail(st, d, TLC_drop_ip6_frag_bad_len);
    return NULL;
  }
  uint32_t b0 = off / 8, b1 = (end + 7) / 8, have = 0;
  for (uint32_t b = b0; b < b1; b++)
    have += (uint32_t)bit(d, b);
  if (have) {
    if (have == b1 - b0 && end <= d->cap && memcmp(d->buf + TL_REASM6_UNFRAG_MAX + off, payload, plen) == 0 &&
        (f->more || d->have_last)) {
      TL_COUNT(st, ip6_reasm_dup);
      return NULL;
    }
    fail(st, d, TLC_drop_ip6_frag_overlap); /* RFC 5722 */
    return NULL;
  }
  if (reserve(st, d, end) < 0) {
    TL_COUNT(st, drop_ip6_frag_cap);
    return NULL;
  }
  memcpy(d->buf + TL_REASM6_UNFRAG_MAX + off, payload, plen);
  for (uint32_t b = b0; b < b1; b++)
    d->seen[b >> 3] |= (uint8_t)(1u << (b & 7));
  d->blocks += b1 - b0;
  if (end > d->max_end) d->max_end = end;
  if (!f->more) {
    d->have_last = 1;
    d->total = end;
  }
  if (off == 0) {
    d->unfrag_len = (uint16_t)f->frag_at;
    d->frag_nh_at = (uint16_t)f->nh_at;
    memcpy(d->hdr, f->pkt, data_at);
  }
  if (!d->have_last || !d->unfrag_len || d->blocks != (d->total + 7) / 8) return NULL;
  /* RFC 8200 4.5: the first fragment's headers may push the whole past
   * 65535 bytes of payload. */
  if (d->unfrag_len - TL_IP6_HDR_LEN + d->total > TL_IP_MAX_LEN) {
    fail(st, d, TLC_drop_ip6_frag_too_big);
    return NULL;
  }
  *dgram = rebuild(d, len, at, nh_at);
  TL_COUNT(st, ip6_reasm_ok);
  return d;
}

int64_t tl_reasm6_deadline(const struct tl_reasm6 *r) {
  int64_t t = -1;
  for (int i = 0; i < r->n; i++)
    if (t < 0 || r->d[i]->expires < t) t = r->d[i]->expires;
  return t;
}

int64_t tl_reasm6_poll(tl_stack *st, int64_t now, tl_reasm6_expired_fn expired) {
  struct tl_reasm6 *r = &st->ip6->reasm;
  for (int i = 0; i < r->n;) {
    struct tl_reasm6_dgram *d = r->d[i];
    if (d->expires > now) {
      i++;
      continue;
    }
    r->d[i] = r->d[--r->n];
    TL_COUNT(st, ip6_reasm_timeout);
    /* RFC 8200 4.5: time exceeded (code 1) only if the first fragment
     * arrived, quoting it. */
    if (d->unfrag_len) {
      uint8_t orig[TL_REASM6_UNFRAG_MAX + 8 + 8];
      size_t h = (size_t)d->unfrag_len + TL_IP6_FRAG_HDR_LEN;
      size_t n = d->max_end < 8 ? d->max_end : 8;
      memcpy(orig, d->hdr, h);
      memcpy(orig + h, d->buf + TL_REASM6_UNFRAG_MAX, n);
      tl_put16(orig + 4, (uint16_t)(h + n - TL_IP6_HDR_LEN));
      expired(st, orig, h + n, now);
    }
    dgram_free(r, d);
  }
  return tl_reasm6_deadline(r);
}
