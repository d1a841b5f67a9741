/* A byte ring buffer for socket send/receive data. Its storage is allocated
 * on first write, small (TL_RING_MIN_ALLOC), doubles up to the capacity as
 * more must be held, and is released when the ring drains, so an idle
 * connection costs no buffer memory and a short exchange little
 * (issue 5: < 1 KB per idle connection).
 * struct tl_ring and the prototypes are in api_tcpwire.h (shared with the
 * FFI); this header documents them and adds the inline helpers. */
#ifndef TL_RING_H
#define TL_RING_H
#include "tcplua.h"

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
static inline uint32_t tl_ring_space(const struct tl_ring *r) { return r->cap - r->len; }
static inline uint32_t tl_ring_used(const struct tl_ring *r) { return r->len; }
#endif
