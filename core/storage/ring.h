/* A byte ring buffer for socket send/receive data. Its storage is allocated
 * on first write, small (TL_RING_MIN_ALLOC), doubles up to the capacity as
 * more must be held, and is released when the ring drains, so an idle
 * connection costs no buffer memory and a short exchange little
 * (issue 5: < 1 KB per idle connection).
 * The FFI declarations are generated from this header (tcplua.h). */
#ifndef TL_RING_H
#define TL_RING_H
#include "tcplua.h"

struct tl_ring {
  uint8_t *buf;      /* NULL while empty */
  uint32_t cap;      /* capacity (bytes): what the ring may hold, the window */
  uint32_t size;     /* bytes of storage allocated (<= cap), 0 without */
  uint32_t head;     /* offset of the first byte in the storage */
  uint32_t len;      /* bytes held */
  uint32_t ahead;    /* bytes past the end touched by write_at, not yet
                        committed: storage is kept while this is nonzero */
  uint32_t keep;     /* nonzero: keep the storage when the ring drains (the
                        owner frees it with tl_ring_free when idle) */
  struct tl_ring_ext *ext; /* NULL unless the ring holds borrowed bytes
                        (tl_ring_write_ref): then the held bytes are a
                        list of pieces, some in the storage, some the
                        writer's own memory */
};

void tl_ring_init(struct tl_ring *r, uint32_t cap);
void tl_ring_free(struct tl_ring *r);
int tl_ring_resize(struct tl_ring *r, uint32_t cap);
uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len);
int tl_ring_write_at(struct tl_ring *r, uint32_t off, const uint8_t *data, uint32_t len);
void tl_ring_commit(struct tl_ring *r, uint32_t n);
/* Forget bytes written with write_at and never committed (releases the
 * storage if nothing is held). */
void tl_ring_forget_ahead(struct tl_ring *r);
uint32_t tl_ring_peek(const struct tl_ring *r, uint32_t off, uint8_t *out, uint32_t n);
void tl_ring_drop(struct tl_ring *r, uint32_t n);
uint32_t tl_ring_read(struct tl_ring *r, uint8_t *out, uint32_t n);
long tl_ring_find(const struct tl_ring *r, uint8_t c);
int tl_ring_spans(const struct tl_ring *r, uint32_t off, uint32_t n, const uint8_t **p1, uint32_t *n1,
                  const uint8_t **p2, uint32_t *n2);
/* Zero-copy writes (send rings only). tl_ring_write_ref appends up to len
 * bytes by reference: the ring reads them from data until they are dropped
 * or tl_ring_own_all copies them in, so the writer keeps them unchanged
 * till then. Returns bytes taken (0 if the piece list cannot grow).
 * tl_ring_iov fills iov[0..max) with spans covering held bytes
 * [off, off+n) (clamped) and returns the count, or -1 if they need more
 * than max spans. tl_ring_own_all copies every borrowed byte into the
 * storage (0, or -1 if it cannot allocate; the ring is unchanged then).
 * write_at, commit and spans are for rings without borrowed bytes. */
uint32_t tl_ring_write_ref(struct tl_ring *r, const uint8_t *data, uint32_t len);
int tl_ring_iov(const struct tl_ring *r, uint32_t off, uint32_t n, tl_iov *iov, int max);
int tl_ring_own_all(struct tl_ring *r);
/* Bytes of the ring's piece list (memory accounting), 0 without one. */
uint32_t tl_ring_ext_bytes(const struct tl_ring *r);
/* Storage starts at TL_RING_MIN_ALLOC bytes (or the capacity, if smaller)
 * and doubles, up to the capacity, when more must be held. */
enum { TL_RING_MIN_ALLOC = 4096 };

/* tl_ring_init(r, cap)      empty ring of capacity cap, no storage yet
 * tl_ring_free(r)           release storage (the ring stays usable)
 * tl_ring_resize(r, cap)    change capacity; -1 if more bytes are held (or
 *                           written ahead) than cap, or allocation fails.
 *                           Growing allocates nothing (storage follows the
 *                           data); shrinking below the storage relocates
 * tl_ring_write(r, p, n)    append up to n bytes; returns bytes taken (0 on
 *                           allocation failure)
 * tl_ring_write_at(r, off, p, n)
 *                           write n bytes at offset off past the current end
 *                           without making them readable (out-of-order data);
 *                           needs off+n <= space. Returns 0 or -1
 * tl_ring_commit(r, n)      make n bytes written with write_at (contiguous
 *                           after the end) readable
 * tl_ring_peek(r, off, out, n)  copy held bytes [off, off+n) without consuming
 * tl_ring_drop(r, n)        consume n bytes (frees storage once empty and
 *                           nothing is written ahead)
 * tl_ring_read(r, out, n)   copy and consume
 * tl_ring_find(r, c)        offset of byte c among the held bytes, or -1
 * tl_ring_spans(r, off, n, &p1, &n1, &p2, &n2)
 *                           up to two contiguous spans covering held bytes
 *                           [off, off+n) (clamped): for building segments and
 *                           checksums without an extra copy. Returns the count */
/* clang-format cannot read TL_BODY's braces as a body. */
/* clang-format off */
TL_INLINE uint32_t tl_ring_space(const struct tl_ring *r) TL_BODY({ return r->cap - r->len; })
TL_INLINE uint32_t tl_ring_used(const struct tl_ring *r) TL_BODY({ return r->len; })
/* clang-format on */
#endif
