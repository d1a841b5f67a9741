/* A byte ring buffer for socket send/receive data. Its storage is allocated
 * on first write and released when it drains, so an idle connection costs
 * no buffer memory (fast-path issue: < 1 KB per idle connection). */
#ifndef TL_RING_H
#define TL_RING_H
#include <stddef.h>
#include <stdint.h>

struct tl_ring {
  uint8_t *buf;      /* NULL while empty */
  uint32_t cap;      /* configured capacity (bytes), allocation size */
  uint32_t head;     /* offset of the first byte */
  uint32_t len;      /* bytes held */
};

void tl_ring_init(struct tl_ring *r, uint32_t cap);
void tl_ring_free(struct tl_ring *r);
/* Change capacity; fails (returns -1) if more bytes are held than cap. */
int tl_ring_resize(struct tl_ring *r, uint32_t cap);
static inline uint32_t tl_ring_space(const struct tl_ring *r) { return r->cap - r->len; }
/* Append up to len bytes; returns bytes taken (0 on allocation failure). */
uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len);
/* Write len bytes at offset off past the current end without making them
 * readable (for out-of-order data); off+len <= space. Returns 0 or -1. */
int tl_ring_write_at(struct tl_ring *r, uint32_t off, const uint8_t *data, uint32_t len);
/* Make n bytes written with write_at (contiguous after the end) readable. */
void tl_ring_commit(struct tl_ring *r, uint32_t n);
/* Copy n bytes starting at offset off from the head, without consuming. */
uint32_t tl_ring_peek(const struct tl_ring *r, uint32_t off, uint8_t *out, uint32_t n);
/* Consume n bytes from the head (frees storage when it becomes empty). */
void tl_ring_drop(struct tl_ring *r, uint32_t n);
/* Copy and consume. */
uint32_t tl_ring_read(struct tl_ring *r, uint8_t *out, uint32_t n);
/* Offset of byte c among the held bytes, or -1. */
long tl_ring_find(const struct tl_ring *r, uint8_t c);
/* Up to two contiguous spans covering [off, off+n) of held bytes: for
 * building segments and checksums without an extra copy. Returns span count. */
int tl_ring_spans(const struct tl_ring *r, uint32_t off, uint32_t n, const uint8_t **p1, uint32_t *n1,
                  const uint8_t **p2, uint32_t *n2);
#endif
