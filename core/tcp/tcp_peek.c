/* Reading received bytes without consuming them: MSG_PEEK (tl_peek) and a
 * substring search (tl_find), which the Lua receive patterns (peek,
 * receiveuntil) build on. Nothing here moves the window or wakes anyone. */
#include <string.h>

#include "ring.h"
#include "tcp_tcb.h"

long tl_peek(const tl_sock *s, size_t off, uint8_t *buf, size_t cap) {
  if (!s || s->listener) return TL_EINVAL;
  if (s->rd_shut) return s->err ? s->err : TL_ECLOSED;
  if (s->rcv.len > off) {
    uint32_t n = tl_ring_peek(&s->rcv, (uint32_t)off, buf, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap);
    return n;
  }
  if (s->err) return s->err;
  if (s->rcv_fin || s->state == TL_CLOSED) return TL_ECLOSED;
  return TL_EAGAIN;
}

/* First match of pat in the n bytes at p, or NULL. */
static const uint8_t *search(const uint8_t *p, size_t n, const uint8_t *pat, size_t len) {
  if (n < len) return NULL;
  return memmem(p, n, pat, len);
}

long tl_find(const tl_sock *s, const uint8_t *pat, size_t len, size_t from) {
  if (!s || s->listener || len == 0 || len > TL_FIND_MAX) return TL_EINVAL;
  if (s->rd_shut || from >= s->rcv.len) return -1;
  const uint8_t *p1, *p2;
  uint32_t n1, n2;
  int k = tl_ring_spans(&s->rcv, (uint32_t)from, s->rcv.len - (uint32_t)from, &p1, &n1, &p2, &n2);
  if (k < 1) return -1;
  const uint8_t *q = search(p1, n1, pat, len);
  if (q) return (long)(from + (size_t)(q - p1));
  if (k == 2) {
    /* A match across the ring's wrap: the last len-1 bytes of the first
     * span followed by the first len-1 of the second. */
    uint8_t seam[2 * TL_FIND_MAX];
    size_t a = n1 < len - 1 ? n1 : len - 1, b = n2 < len - 1 ? n2 : len - 1;
    memcpy(seam, p1 + n1 - a, a);
    memcpy(seam + a, p2, b);
    q = search(seam, a + b, pat, len);
    if (q) return (long)(from + n1 - a + (size_t)(q - seam));
    q = search(p2, n2, pat, len);
    if (q) return (long)(from + n1 + (size_t)(q - p2));
  }
  return -1;
}
