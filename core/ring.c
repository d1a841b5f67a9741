/* Byte ring with lazily allocated storage (see ring.h). */
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
  r->head = r->len = r->ahead = 0;
}

uint32_t tl_ring_space_x(const struct tl_ring *r) { return tl_ring_space(r); }

/* Storage goes away as soon as nothing is held and nothing waits ahead:
 * idle connections then cost no buffer memory. */
static void release_if_idle(struct tl_ring *r) {
  if (r->len == 0 && r->ahead == 0 && !r->keep) tl_ring_free(r);
}

static int ensure_storage(struct tl_ring *r) {
  if (r->buf) return 0;
  if (r->cap == 0) return -1;
  r->buf = malloc(r->cap);
  if (!r->buf) return -1;
  r->head = 0;
  return 0;
}

/* Copy n bytes into the ring starting pos bytes after the head. */
static void copy_in(struct tl_ring *r, uint32_t pos, const uint8_t *data, uint32_t n) {
  uint32_t at = (uint32_t)(((uint64_t)r->head + pos) % r->cap);
  uint32_t first = r->cap - at < n ? r->cap - at : n;
  memcpy(r->buf + at, data, first);
  if (n > first) memcpy(r->buf, data + first, n - first);
}

static void copy_out(const struct tl_ring *r, uint32_t pos, uint8_t *out, uint32_t n) {
  uint32_t at = (uint32_t)(((uint64_t)r->head + pos) % r->cap);
  uint32_t first = r->cap - at < n ? r->cap - at : n;
  memcpy(out, r->buf + at, first);
  if (n > first) memcpy(out + first, r->buf, n - first);
}

int tl_ring_resize(struct tl_ring *r, uint32_t cap) {
  uint32_t need = r->len + r->ahead;
  if (need > cap) return -1;
  if (!r->buf) {
    r->cap = cap;
    return 0;
  }
  if (cap == 0) { /* need == 0 here, so buf would have been released */
    tl_ring_free(r);
    r->cap = 0;
    return 0;
  }
  uint8_t *nb = malloc(cap);
  if (!nb) return -1;
  if (need) copy_out(r, 0, nb, need);
  free(r->buf);
  r->buf = nb;
  r->cap = cap;
  r->head = 0;
  return 0;
}

uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len) {
  uint32_t n = tl_ring_space(r) < len ? tl_ring_space(r) : len;
  if (n == 0 || ensure_storage(r) < 0) return 0;
  copy_in(r, r->len, data, n);
  r->len += n;
  /* In-order bytes overwrite the front of any out-of-order area. */
  r->ahead = r->ahead > n ? r->ahead - n : 0;
  return n;
}

int tl_ring_write_at(struct tl_ring *r, uint32_t off, const uint8_t *data, uint32_t len) {
  if ((uint64_t)off + len > tl_ring_space(r)) return -1;
  if (len == 0) return 0;
  if (ensure_storage(r) < 0) return -1;
  copy_in(r, r->len + off, data, len);
  if (off + len > r->ahead) r->ahead = off + len;
  return 0;
}

void tl_ring_commit(struct tl_ring *r, uint32_t n) {
  if (n > tl_ring_space(r)) n = tl_ring_space(r);
  if (n == 0 || !r->buf) return;
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
  r->head = (uint32_t)(((uint64_t)r->head + n) % r->cap);
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
  uint32_t at = (uint32_t)(((uint64_t)r->head + off) % r->cap);
  uint32_t first = r->cap - at < n ? r->cap - at : n;
  *p1 = r->buf + at;
  *n1 = first;
  if (n == first) return 1;
  *p2 = r->buf;
  *n2 = n - first;
  return 2;
}
