/* IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2).
 *
 * Overlap policy: a fragment that exactly repeats bytes we already hold is
 * a harmless duplicate and is ignored. Any other overlap discards the whole
 * datagram, in the spirit of RFC 5722 (written for IPv6) and as Linux does
 * for IPv4 since 4.19: overlapping fragments have no legitimate use and are
 * a classic way to smuggle data past a filter that reassembles differently. */
#include "ipv4_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "ipv4_state.h"
#include "ipv4_wire.h"

int tl_reasm_init(tl_stack *st, struct tl_reasm *r) {
  memset(r, 0, sizeof *r);
  r->max = st->cfg.reasm_max_datagrams;
  if (r->max == 0) return 0;
  r->d = calloc((size_t)r->max, sizeof *r->d);
  return r->d ? 0 : TL_ENOMEM;
}

static void dgram_free(struct tl_reasm *r, struct tl_reasm_dgram *d) {
  r->bytes -= sizeof *d + d->cap;
  free(d->buf);
  free(d);
}

void tl_reasm_free(struct tl_reasm *r) {
  for (int i = 0; i < r->n; i++)
    dgram_free(r, r->d[i]);
  free(r->d);
  memset(r, 0, sizeof *r);
}

static void unlink_at(struct tl_reasm *r, int i) { r->d[i] = r->d[--r->n]; }

static void discard(tl_stack *st, struct tl_reasm_dgram *d) {
  struct tl_reasm *r = &st->ip->reasm;
  for (int i = 0; i < r->n; i++)
    if (r->d[i] == d) {
      unlink_at(r, i);
      break;
    }
  dgram_free(r, d);
}

void tl_reasm_release(tl_stack *st, struct tl_reasm_dgram *d) { discard(st, d); }

static struct tl_reasm_dgram *find(struct tl_reasm *r, const tl_ip_hdr *h) {
  for (int i = 0; i < r->n; i++) {
    struct tl_reasm_dgram *d = r->d[i];
    if (d->id == h->id && d->src == h->src && d->dst == h->dst && d->proto == h->proto) return d;
  }
  return NULL;
}

static struct tl_reasm_dgram *create(tl_stack *st, const tl_ip_hdr *h, int64_t now) {
  struct tl_reasm *r = &st->ip->reasm;
  if (r->n >= r->max || r->bytes + sizeof(struct tl_reasm_dgram) > st->cfg.reasm_max_bytes) return NULL;
  struct tl_reasm_dgram *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->src = h->src;
  d->dst = h->dst;
  d->id = h->id;
  d->proto = h->proto;
  /* RFC 1122 3.3.2: the timer starts with the first fragment to arrive and
   * is not restarted by later ones. */
  d->expires = now + st->cfg.reasm_timeout_us;
  r->d[r->n++] = d;
  r->bytes += sizeof *d;
  return d;
}

/* Make room for payload bytes [0, end). Per-datagram allocation: it happens
 * a few times per fragmented datagram, never on the TCP fast path. */
static int reserve(tl_stack *st, struct tl_reasm_dgram *d, size_t end) {
  if (end <= d->cap) return 0;
  struct tl_reasm *r = &st->ip->reasm;
  size_t cap = d->cap ? d->cap : 2048;
  while (cap < end)
    cap *= 2;
  if (cap > TL_IP_MAX_LEN) cap = TL_IP_MAX_LEN;
  if (r->bytes - d->cap + cap > st->cfg.reasm_max_bytes) {
    cap = end; /* try the exact size before giving up */
    if (r->bytes - d->cap + cap > st->cfg.reasm_max_bytes) return -1;
  }
  uint8_t *b = realloc(d->buf, TL_REASM_HEADROOM + cap);
  if (!b) return -1;
  if (!d->buf) memset(b, 0, TL_REASM_HEADROOM); /* keep valgrind-clean headroom */
  d->buf = b;
  r->bytes = r->bytes - d->cap + cap;
  d->cap = cap;
  return 0;
}

static int bit(const struct tl_reasm_dgram *d, uint32_t b) { return d->seen[b >> 3] >> (b & 7) & 1; }

struct tl_reasm_dgram *tl_reasm_add(tl_stack *st, const tl_ip_hdr *h, const uint8_t *pkt, int64_t now,
                                    const uint8_t **dgram, size_t *len) {
  struct tl_reasm *r = &st->ip->reasm;
  uint32_t off = h->frag_off;
  uint32_t plen = (uint32_t)h->total_len - h->hdr_len;
  uint32_t end = off + plen;
  const uint8_t *payload = pkt + h->hdr_len;
  TL_COUNT(st, ip_frag_in);

  if (h->hdr_len + end > TL_IP_MAX_LEN) {
    TL_COUNT(st, drop_reasm_too_big);
    return NULL;
  }
  /* RFC 791: fragments other than the last carry a multiple of 8 bytes. */
  if (h->mf && (plen == 0 || plen % 8 != 0)) {
    TL_COUNT(st, drop_reasm_bad_len);
    return NULL;
  }
  struct tl_reasm_dgram *d = find(r, h);
  if (!d && !(d = create(st, h, now))) {
    TL_COUNT(st, drop_reasm_cap);
    return NULL;
  }
  /* The last fragment fixes the length; everything must agree with it. */
  if (!h->mf) {
    if ((d->have_last && d->total != end) || d->max_end > end) {
      TL_COUNT(st, drop_reasm_bad_len);
      discard(st, d);
      return NULL;
    }
  } else if (d->have_last && end > d->total) {
    TL_COUNT(st, drop_reasm_bad_len);
    discard(st, d);
    return NULL;
  }
  uint32_t b0 = off / 8, b1 = (end + 7) / 8, have = 0;
  for (uint32_t b = b0; b < b1; b++)
    have += (uint32_t)bit(d, b);
  if (have) {
    if (have == b1 - b0 && end <= d->cap && memcmp(d->buf + TL_REASM_HEADROOM + off, payload, plen) == 0 &&
        (h->mf || d->have_last)) {
      TL_COUNT(st, ip_reasm_dup);
      return NULL;
    }
    TL_COUNT(st, drop_reasm_overlap);
    discard(st, d);
    return NULL;
  }
  if (reserve(st, d, end) < 0) {
    TL_COUNT(st, drop_reasm_cap);
    return NULL;
  }
  memcpy(d->buf + TL_REASM_HEADROOM + off, payload, plen);
  for (uint32_t b = b0; b < b1; b++)
    d->seen[b >> 3] |= (uint8_t)(1u << (b & 7));
  d->blocks += b1 - b0;
  if (end > d->max_end) d->max_end = end;
  if (!h->mf) {
    d->have_last = 1;
    d->total = end;
  }
  if (off == 0) {
    d->hdr_len = h->hdr_len;
    memcpy(d->hdr, pkt, h->hdr_len);
  }
  if (!d->have_last || !d->hdr_len || d->blocks != (d->total + 7) / 8) return NULL;
  /* Fragment zero's options may push the whole past what total_len holds. */
  if (d->hdr_len + d->total > TL_IP_MAX_LEN) {
    TL_COUNT(st, drop_reasm_too_big);
    discard(st, d);
    return NULL;
  }

  /* Complete: the first fragment's header (options included, RFC 791 3.2
   * says they come from it) goes right before the payload, unfragmented. */
  uint8_t *hdr = d->buf + TL_REASM_HEADROOM - d->hdr_len;
  memcpy(hdr, d->hdr, d->hdr_len);
  tl_put16(hdr + 2, (uint16_t)(d->hdr_len + d->total));
  tl_put16(hdr + 6, (uint16_t)(tl_get16(hdr + 6) & TL_IP_FLAG_DF));
  tl_put16(hdr + 10, 0);
  tl_put16(hdr + 10, tl_csum(hdr, d->hdr_len));
  *dgram = hdr;
  *len = d->hdr_len + d->total;
  TL_COUNT(st, ip_reasm_ok);
  return d;
}

int64_t tl_reasm_deadline(const struct tl_reasm *r) {
  int64_t t = -1;
  for (int i = 0; i < r->n; i++)
    if (t < 0 || r->d[i]->expires < t) t = r->d[i]->expires;
  return t;
}

int64_t tl_reasm_poll(tl_stack *st, int64_t now, tl_reasm_expired_fn expired) {
  struct tl_reasm *r = &st->ip->reasm;
  for (int i = 0; i < r->n;) {
    struct tl_reasm_dgram *d = r->d[i];
    if (d->expires > now) {
      i++;
      continue;
    }
    unlink_at(r, i);
    TL_COUNT(st, ip_reasm_timeout);
    /* RFC 792 / RFC 1122 3.3.2: time exceeded (code 1) only when fragment
     * zero arrived -- otherwise we cannot quote the header. ipv4.c sends it. */
    if (d->hdr_len) {
      uint8_t orig[60 + 8];
      memcpy(orig, d->hdr, d->hdr_len);
      memcpy(orig + d->hdr_len, d->buf + TL_REASM_HEADROOM, 8);
      expired(st, orig, d->hdr_len + 8u, now);
    }
    dgram_free(r, d);
  }
  return tl_reasm_deadline(r);
}
