/* Byte ring with lazily allocated storage that grows (see ring.h).
 *
 * The capacity is what the ring may hold (for a socket, the window we
 * advertise); the storage behind it starts small and doubles when a write
 * needs more, so a 1-byte exchange costs 4 KB, not the whole capacity.
 * Growing relocates the held bytes to the front of the new storage: each
 * byte is copied O(1) times on average (geometric growth), and once the
 * storage covers what the traffic holds no write grows it again.
 *
 * A send ring may also hold borrowed bytes (tl_ring_write_ref): a large
 * write from the application is then referenced, not copied, and a TSO
 * super-segment goes to the link as a scatter list of the application's
 * own memory, so its payload is copied once (by the kernel into the
 * skb) instead of twice. The held bytes are then a FIFO of pieces, each
 * either the next bytes of the storage or a borrowed span; `len` still
 * counts them all, ext->own the ones in the storage. A ring without
 * borrowed bytes has no piece list and pays nothing for this. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

struct tl_ring_piece {
  const uint8_t *p; /* NULL: the next `len` bytes of the storage */
  uint32_t len;
};

struct tl_ring_ext {
  uint32_t own;   /* held bytes that are in the storage */
  uint32_t first; /* index of the oldest piece */
  uint32_t n;     /* pieces held */
  uint32_t slots; /* size of piece[], a power of two */
  struct tl_ring_piece piece[];
};

enum { EXT_MIN_SLOTS = 8 };

/* Bytes in the storage (the held ones, without written-ahead bytes). */
static uint32_t stored(const struct tl_ring *r) { return r->ext ? r->ext->own : r->len; }

static struct tl_ring_piece *piece_at(const struct tl_ring_ext *x, uint32_t i) {
  return (struct tl_ring_piece *)&x->piece[(x->first + i) & (x->slots - 1)];
}

void tl_ring_init(struct tl_ring *r, uint32_t cap) {
  memset(r, 0, sizeof *r);
  r->cap = cap;
}

void tl_ring_free(struct tl_ring *r) {
  free(r->buf);
  free(r->ext);
  r->ext = NULL;
  r->buf = NULL;
  r->size = r->head = r->len = r->ahead = 0;
}

/* The external definitions of ring.h's inline helpers, for the FFI. */
extern inline uint32_t tl_ring_space(const struct tl_ring *r);
extern inline uint32_t tl_ring_used(const struct tl_ring *r);

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
  uint32_t keep = stored(r) + r->ahead;
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
  if ((uint64_t)r->len + r->ahead > cap) return -1;
  uint32_t need = stored(r) + r->ahead;
  /* Growing the capacity allocates nothing: storage follows the data. */
  if (!r->buf || cap >= r->size) {
    r->cap = cap;
    return 0;
  }
  if (need == 0) { /* kept, drained storage larger than the new capacity */
    free(r->buf);
    r->buf = NULL;
    r->size = r->head = 0;
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

/* Appends a piece (p NULL: storage bytes), merging it into the last one
 * when they are contiguous, so a stream of writes of one buffer, or of
 * copies, stays one piece. Grows the list by doubling. */
static int push_piece(struct tl_ring *r, const uint8_t *p, uint32_t len) {
  struct tl_ring_ext *x = r->ext;
  if (x->n) {
    struct tl_ring_piece *last = piece_at(x, x->n - 1);
    if ((!p && !last->p) || (p && last->p && last->p + last->len == p)) {
      last->len += len;
      return 0;
    }
  }
  if (x->n == x->slots) {
    uint32_t slots = x->slots * 2;
    struct tl_ring_ext *nx = malloc(sizeof *nx + slots * sizeof nx->piece[0]);
    if (!nx) return -1;
    *nx = *x;
    for (uint32_t i = 0; i < x->n; i++)
      nx->piece[i] = *piece_at(x, i);
    nx->first = 0;
    nx->slots = slots;
    free(x);
    r->ext = x = nx;
  }
  *piece_at(x, x->n++) = (struct tl_ring_piece){p, len};
  return 0;
}

uint32_t tl_ring_write_ref(struct tl_ring *r, const uint8_t *data, uint32_t len) {
  uint32_t n = tl_ring_space(r) < len ? tl_ring_space(r) : len;
  if (n == 0) return 0;
  if (!r->ext) {
    struct tl_ring_ext *x = malloc(sizeof *x + EXT_MIN_SLOTS * sizeof x->piece[0]);
    if (!x) return 0;
    *x = (struct tl_ring_ext){.own = r->len, .slots = EXT_MIN_SLOTS};
    if (r->len) x->piece[x->n++] = (struct tl_ring_piece){NULL, r->len};
    r->ext = x;
  }
  if (push_piece(r, data, n) < 0) return 0;
  r->len += n;
  return n;
}

uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len) {
  uint32_t n = tl_ring_space(r) < len ? tl_ring_space(r) : len;
  if (n == 0 || ensure_storage(r, stored(r) + n) < 0) return 0;
  if (r->ext && push_piece(r, NULL, n) < 0) return 0;
  copy_in(r, stored(r), data, n);
  if (r->ext) r->ext->own += n;
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

/* Walks the pieces covering held bytes [off, off+n) of a ring with
 * borrowed bytes, calling fn for each span: a borrowed one as it is, a
 * storage one as its storage position. Stops early if fn returns < 0. */
typedef int (*span_fn)(const struct tl_ring *r, const uint8_t *p, uint32_t pos, uint32_t len, void *arg);

static int walk(const struct tl_ring *r, uint32_t off, uint32_t n, span_fn fn, void *arg) {
  const struct tl_ring_ext *x = r->ext;
  uint32_t pos = 0; /* storage position of the current piece, if a storage one */
  for (uint32_t i = 0; i < x->n && n; i++) {
    const struct tl_ring_piece *pc = piece_at(x, i);
    if (off >= pc->len) {
      off -= pc->len;
      if (!pc->p) pos += pc->len;
      continue;
    }
    uint32_t take = pc->len - off < n ? pc->len - off : n;
    if (fn(r, pc->p ? pc->p + off : NULL, pos + off, take, arg) < 0) return -1;
    if (!pc->p) pos += pc->len;
    n -= take;
    off = 0;
  }
  return 0;
}

static int peek_span(const struct tl_ring *r, const uint8_t *p, uint32_t pos, uint32_t len, void *arg) {
  uint8_t **out = arg;
  if (p)
    memcpy(*out, p, len);
  else
    copy_out(r, pos, *out, len);
  *out += len;
  return 0;
}

uint32_t tl_ring_peek(const struct tl_ring *r, uint32_t off, uint8_t *out, uint32_t n) {
  if (off >= r->len) return 0;
  if (n > r->len - off) n = r->len - off;
  if (n == 0) return 0;
  if (r->ext)
    walk(r, off, n, peek_span, &out);
  else
    copy_out(r, off, out, n);
  return n;
}

struct iov_fill {
  tl_iov *iov;
  int n, max;
};

static int iov_add(struct iov_fill *f, const uint8_t *p, uint32_t len) {
  if (f->n && f->iov[f->n - 1].base + f->iov[f->n - 1].len == p) {
    f->iov[f->n - 1].len += len;
    return 0;
  }
  if (f->n == f->max) return -1;
  f->iov[f->n++] = (tl_iov){p, len};
  return 0;
}

static int iov_span(const struct tl_ring *r, const uint8_t *p, uint32_t pos, uint32_t len, void *arg) {
  struct iov_fill *f = arg;
  if (p) return iov_add(f, p, len);
  uint32_t at = at_pos(r, pos);
  uint32_t first = r->size - at < len ? r->size - at : len;
  if (iov_add(f, r->buf + at, first) < 0) return -1;
  return len > first ? iov_add(f, r->buf, len - first) : 0;
}

int tl_ring_iov(const struct tl_ring *r, uint32_t off, uint32_t n, tl_iov *iov, int max) {
  if (off >= r->len) return 0;
  if (n > r->len - off) n = r->len - off;
  if (n == 0) return 0;
  struct iov_fill f = {iov, 0, max};
  if (r->ext) return walk(r, off, n, iov_span, &f) < 0 ? -1 : f.n;
  return iov_span(r, NULL, off, n, &f) < 0 ? -1 : f.n;
}

/* Drops n bytes from the front of the piece list. */
static void drop_pieces(struct tl_ring *r, uint32_t n) {
  struct tl_ring_ext *x = r->ext;
  while (n && x->n) {
    struct tl_ring_piece *pc = piece_at(x, 0);
    uint32_t take = pc->len < n ? pc->len : n;
    if (pc->p) {
      pc->p += take;
    } else {
      r->head = at_pos(r, take);
      x->own -= take;
    }
    pc->len -= take;
    n -= take;
    if (pc->len == 0) {
      x->first = (x->first + 1) & (x->slots - 1);
      x->n--;
    }
  }
  /* Nothing borrowed left: back to a plain ring. */
  if (x->own == r->len) {
    free(x);
    r->ext = NULL;
  }
}

int tl_ring_own_all(struct tl_ring *r) {
  if (!r->ext) return 0;
  uint32_t sz = size_for(r, r->len);
  uint8_t *nb = malloc(sz ? sz : 1);
  if (!nb) return -1;
  tl_ring_peek(r, 0, nb, r->len);
  free(r->buf);
  free(r->ext);
  r->ext = NULL;
  r->buf = nb;
  r->size = sz;
  r->head = 0;
  return 0;
}

uint32_t tl_ring_ext_bytes(const struct tl_ring *r) {
  return r->ext ? (uint32_t)(sizeof *r->ext + r->ext->slots * sizeof r->ext->piece[0]) : 0;
}

void tl_ring_drop(struct tl_ring *r, uint32_t n) {
  if (n > r->len) n = r->len;
  if (n == 0) return;
  r->len -= n;
  if (r->ext)
    drop_pieces(r, n);
  else
    r->head = at_pos(r, n);
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
