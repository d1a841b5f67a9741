/* TCP over IPv6 with 32-bit addresses inside: every path of the TCP layer
 * passes (laddr, raddr) pairs of 32 bits (the 4-tuple table, the TCB, the
 * emitter, the ISN and cookie functions' callers), so an IPv6 peer is
 * given a 32-bit id in 240.0.0.0/4, a block no IPv4 peer can hold (IPv4
 * input drops such sources, RFC 1122 3.2.1.3, and tl_connect refuses
 * them). Our own IPv6 address is TCP_V6_LOCAL; the source of the segment
 * being processed, before any TCB holds it, is TCP_V6_CUR. Where bytes
 * matter (the pseudo-header, ISNs, cookies, the IPv6 header) the id is
 * turned back into the 16-byte address. A TCB holds a reference to its
 * peer's id; the TCB stays 640 bytes. */
#ifndef TL_TCP_PEER6_H
#define TL_TCP_PEER6_H
#include <stddef.h>
#include <stdint.h>

#define TCP_V6_LOCAL 0xf0000000u
#define TCP_V6_CUR 0xf0000001u
#define TCP_V6_BASE 0xf0000002u /* first peer id */

static inline int tcp_is_v6(uint32_t addr) { return addr >> 28 == 0xf; }

struct tcp_peer6 {
  uint8_t a[16];
  uint32_t refs; /* 0: on the free list */
  uint32_t next; /* hash chain (index + 1), or the free list */
};

struct tcp_peers6 {
  struct tcp_peer6 *e;
  uint32_t n, cap;    /* entries in use or freed, allocated */
  uint32_t free;      /* free list head (index + 1), 0 none */
  uint32_t *bucket;   /* cap heads (index + 1), 0 none */
  const uint8_t *cur; /* the source address of the segment under input */
};

struct tl_tcp;
/* The id of peer a, or 0 if no TCB holds it. */
uint32_t tcp_peer6_find(const struct tl_tcp *t, const uint8_t *a);
/* A reference to a's id (made if new), or 0 out of memory. */
uint32_t tcp_peer6_get(struct tl_tcp *t, const uint8_t *a);
void tcp_peer6_put(struct tl_tcp *t, uint32_t id);
void tcp_peers6_free(struct tl_tcp *t);
/* The 16 bytes an IPv6 id stands for (NULL while IPv6 is off). */
const uint8_t *tcp_addr6(const struct tl_tcp *t, uint32_t id);
/* The address in the form the ISN and cookie functions hash: 4 bytes of
 * IPv4, or 16 of IPv6. Returns the length written to out. */
size_t tcp_addr_bytes(const struct tl_tcp *t, uint32_t addr, uint8_t *out);
/* RFC 6437: a flow label per connection, a keyed hash of its 4-tuple
 * (never 0, which says "no label"). */
uint32_t tcp_flow_label(const struct tl_tcp *t, uint32_t raddr, uint16_t lport, uint16_t rport);
/* RFC 6528 ISN over the real addresses of either family. */
uint32_t tcp_isn(const struct tl_tcp *t, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 int64_t now);
#endif
