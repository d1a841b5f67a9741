/* Byte ring with lazily allocated storage that grows (see ring.h).
 *
 * The capacity is what the ring may hold (for a socket, the window we
 * advertise); the storage behind it starts small and doubles when a write
 * needs more, so a 1-byte exchange costs 4 KB, not the whole capacity.
 * Growing relocates the held bytes to the front of the new storage: each
 * byte is copied O(1) times on average (geometric growth), and once the
 * storage covers what the traffic holds no write grows it again. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

void tl_ring_init(struct tl_ring *r, uint32_t cap) {
  memset(r, 0, sizeof *r);
  r->cap = cap;
}

void tl_ring_free(struct tl_ring *r) {
  free(r->buf);
  r->buf = NULL;
  r->size = r->head = r->len = r->ahead = 0;
}

uint32_t tl_ring_space_x(const struct tl_ring *r) { return tl_ring_space(r); }

/* Storage goes away as soon as nothing is held and nothing waits ahead:
 * idle connections then cost no buffer memory. */
static void release_if_idle(struct tl_ring *r) {
  if (r->len == 0 && r->ahead == 0 && !r->keep) tl_ring_free(r);
}

/* Offset in the storage of the byte pos past the head (pos <= size). */
static uint32_t at_pos(const struct tl_ring *r, uint32_t pos) {
  uint64_t at = (uint64_t)r->head + pos;
  return (uint32_t)(at >= r->size ? at - r->size : at);
}

static void copy_in(struct tl_ring *r, uint32_t pos, const uint8_t *data, uint32_t n) {
  uint32_t at = at_pos(r, pos);
  uint32_t first = r->size - at < n ? r->size - at : n;
  memcpy(r->buf + at, data, first);
  if (n > first) memcpy(r->buf, data + first, n - first);
}

static void copy_out(const struct tl_ring *r, uint32_t pos, uint8_t *out, uint32_t n) {
  uint32_t at = at_pos(r, pos);
  uint32_t first = r->size - at < n ? r->size - at : n;
  memcpy(out, r->buf + at, first);
  if (n > first) memcpy(out + first, r->buf, n - first);
}

/* The storage size that holds need bytes (need <= cap): the minimum
 * allocation doubled as often as it takes, at most the capacity. */
static uint32_t size_for(const struct tl_ring *r, uint32_t need) {
  uint64_t sz = r->size ? r->size : TL_RING_MIN_ALLOC;
  while (sz < need)
    sz *= 2;
  return sz > r->cap ? r->cap : (uint32_t)sz;
}

/* Move the held (and written-ahead) bytes into storage of sz bytes,
 * linearised at offset 0. */
static int relocate(struct tl_ring *r, uint32_t sz) {
  uint8_t *nb = malloc(sz);
  if (!nb) return -1;
  uint32_t keep = r->len + r->ahead;
  if (r->buf && keep) copy_out(r, 0, nb, keep);
  free(r->buf);
  r->buf = nb;
  r->size = sz;
  r->head = 0;
  return 0;
}

/* Storage for need bytes from the head. The common case, storage already
 * large enough, is one comparison. */
static int ensure_storage(struct tl_ring *r, uint32_t need) {
  if (need <= r->size) return 0;
  if (need > r->cap) return -1;
  return relocate(r, size_for(r, need));
}

int tl_ring_resize(struct tl_ring *r, uint32_t cap) {
  uint32_t need = r->len + r->ahead;
  if (need > cap) return -1;
  /* Growing the capacity allocates nothing: storage follows the data. */
  if (!r->buf || cap >= r->size) {
    r->cap = cap;
    return 0;
  }
  if (need == 0) { /* kept, drained storage larger than the new capacity */
    tl_ring_free(r);
    r->cap = cap;
    return 0;
  }
  uint32_t old = r->cap;
  r->cap = cap;
  uint32_t sz = TL_RING_MIN_ALLOC < cap ? TL_RING_MIN_ALLOC : cap;
  while (sz < need)
    sz = sz * 2 > cap ? cap : sz * 2;
  if (relocate(r, sz) < 0) {
    r->cap = old;
    return -1;
  }
  return 0;
}

uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len) {
  uint32_t n = tl_ring_space(r) < len ? tl_ring_space(r) : len;
  if (n == 0 || ensure_storage(r, r->len + n) < 0) return 0;
  copy_in(r, r->len, data, n);
  r->len += n;
  /* In-order bytes overwrite the front of any out-of-order area. */
  r->ahead = r->ahead > n ? r->ahead - n : 0;
  return n;
}

int tl_ring_write_at(struct tl_ring *r, uint32_t off, const uint8_t *data, uint32_t len) {
  if ((uint64_t)off + len > tl_ring_space(r)) return -1;
  if (len == 0) return 0;
  if (ensure_storage(r, r->len + off + len) < 0) return -1;
  copy_in(r, r->len + off, data, len);
  if (off + len > r->ahead) r->ahead = off + len;
  return 0;
}

void tl_ring_commit(struct tl_ring *r, uint32_t n) {
  /* Only bytes that write_at put in the storage can become readable. */
  if (n > r->size - r->len) n = r->size - r->len;
  if (n == 0) return;
  r->len += n;
  r->ahead = r->ahead > n ? r->ahead - n : 0;
}

void tl_ring_forget_ahead(struct tl_ring *r) {
  r->ahead = 0;
  release_if_idle(r);
}

uint32_t tl_ring_peek(const struct tl_ring *r, uint32_t off, uint8_t *out, uint32_t n) {
  if (off >= r->len) return 0;
  if (n > r->len - off) n = r->len - off;
  if (n) copy_out(r, off, out, n);
  return n;
}

void tl_ring_drop(struct tl_ring *r, uint32_t n) {
  if (n > r->len) n = r->len;
  if (n == 0) return;
  r->head = at_pos(r, n);
  r->len -= n;
  release_if_idle(r);
}

uint32_t tl_ring_read(struct tl_ring *r, uint8_t *out, uint32_t n) {
  n = tl_ring_peek(r, 0, out, n);
  tl_ring_drop(r, n);
  return n;
}

long tl_ring_find(const struct tl_ring *r, uint8_t c) {
  const uint8_t *p1, *p2;
  uint32_t n1, n2;
  int k = tl_ring_spans(r, 0, r->len, &p1, &n1, &p2, &n2);
  if (k >= 1) {
    const uint8_t *q = memchr(p1, c, n1);
    if (q) return (long)(q - p1);
  }
  if (k == 2) {
    const uint8_t *q = memchr(p2, c, n2);
    if (q) return (long)n1 + (long)(q - p2);
  }
  return -1;
}

int tl_ring_spans(const struct tl_ring *r, uint32_t off, uint32_t n, const uint8_t **p1, uint32_t *n1,
                  const uint8_t **p2, uint32_t *n2) {
  *p1 = *p2 = NULL;
  *n1 = *n2 = 0;
  if (off >= r->len) return 0;
  if (n > r->len - off) n = r->len - off;
  if (n == 0) return 0;
  uint32_t at = at_pos(r, off);
  uint32_t first = r->size - at < n ? r->size - at : n;
  *p1 = r->buf + at;
  *n1 = first;
  if (n == first) return 1;
  *p2 = r->buf;
  *n2 = n - first;
  return 2;
}
