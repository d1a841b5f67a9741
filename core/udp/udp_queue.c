/* A UDP socket's receive queue: whole datagrams in a byte ring, bounded
 * by the socket's receive buffer (RFC 8085 3.1.x leaves pacing to the
 * application; a full queue drops, as a kernel socket does). */
#include <stdlib.h>
#include <string.h>

#include "udp_state.h"

/* Copy n bytes into the ring at offset off, across its end if need be. */
static void ring_put(struct tl_udp_queue *q, uint32_t off, const void *src, uint32_t n) {
  off %= q->cap;
  uint32_t first = q->cap - off < n ? q->cap - off : n;
  memcpy(q->buf + off, src, first);
  memcpy(q->buf, (const uint8_t *)src + first, n - first);
}

static void ring_get(const struct tl_udp_queue *q, uint32_t off, void *dst, uint32_t n) {
  off %= q->cap;
  uint32_t first = q->cap - off < n ? q->cap - off : n;
  memcpy(dst, q->buf + off, first);
  memcpy((uint8_t *)dst + first, q->buf, n - first);
}

int udp_queue_push(struct tl_udp_queue *q, const uint8_t *data, uint32_t len, const uint8_t *addr,
                   uint16_t port) {
  uint32_t need = TL_UDP_QENT + len;
  if (need > q->cap - q->used) return TL_ENOMEM;
  if (!q->buf) {
    q->buf = malloc(q->cap);
    if (!q->buf) return TL_ENOMEM;
  }
  struct tl_udp_qent e = {.len = len, .port = port};
  memcpy(e.addr, addr, 16);
  uint32_t tail = q->head + q->used;
  ring_put(q, tail, &e, TL_UDP_QENT);
  ring_put(q, tail + TL_UDP_QENT, data, len);
  q->used += need;
  q->n++;
  return 0;
}

long udp_queue_next_len(const struct tl_udp_queue *q) {
  if (!q->n) return TL_EAGAIN;
  struct tl_udp_qent e;
  ring_get(q, q->head, &e, TL_UDP_QENT);
  return e.len;
}

long udp_queue_pop(struct tl_udp_queue *q, uint8_t *buf, size_t cap, uint8_t *addr, uint16_t *port) {
  if (!q->n) return TL_EAGAIN;
  struct tl_udp_qent e;
  ring_get(q, q->head, &e, TL_UDP_QENT);
  uint32_t n = cap < e.len ? (uint32_t)cap : e.len;
  if (n) ring_get(q, q->head + TL_UDP_QENT, buf, n);
  if (addr) memcpy(addr, e.addr, 16);
  if (port) *port = e.port;
  q->head = (q->head + TL_UDP_QENT + e.len) % q->cap;
  q->used -= TL_UDP_QENT + e.len;
  if (--q->n == 0) q->head = q->used = 0;
  return e.len;
}

void udp_queue_free(struct tl_udp_queue *q) {
  free(q->buf);
  q->buf = NULL;
  q->head = q->used = q->n = 0;
}
