/* The UDP floor's state (st->udp) and socket, shared by its files. */
#ifndef TL_UDP_STATE_H
#define TL_UDP_STATE_H
#include <string.h>

#include "ipv4_wire.h"
#include "udp.h"

#define TL_UDP_BUCKETS 64

/* A socket's receive queue: a byte ring of entries, each a tl_udp_qent
 * then the payload, so a datagram costs no allocation on the data path
 * (the ring is allocated once, on the first datagram). */
struct tl_udp_qent {
  uint32_t len; /* payload bytes */
  uint16_t port;
  uint16_t pad;
  uint8_t addr[16]; /* source; IPv4 as ::ffff:a.b.c.d */
};
#define TL_UDP_QENT ((uint32_t)sizeof(struct tl_udp_qent))

struct tl_udp_queue {
  uint8_t *buf;
  uint32_t cap;        /* bytes, TL_UDP_OPT_RCVBUF */
  uint32_t head, used; /* the oldest entry's offset; bytes held */
  uint32_t n;          /* entries */
};

struct tl_udp {
  tl_stack *st;
  struct tl_udp *hnext;         /* the port's bucket chain */
  struct tl_udp *rnext;         /* the ready list */
  struct tl_udp *anext, *aprev; /* every socket, for teardown */
  /* Addresses of either family, IPv4 mapped (::ffff:a.b.c.d, RFC 4291
   * 2.5.5.2) as a dual-stack kernel socket shows them; all zero: any /
   * not connected. A wildcard socket takes both families. */
  uint8_t laddr[16], raddr[16];
  uint16_t lport, rport;
  uint8_t bound, ready, checksum;
  int err; /* pending ICMP error for a connected socket */
  uint64_t user, drops;
  struct tl_udp_queue q;
};

struct tl_udp_state {
  struct tl_udp *bucket[TL_UDP_BUCKETS];
  struct tl_udp *ready_head, *ready_tail;
  struct tl_udp *all;
  uint32_t count;
};

/* udp_sock.c */
struct tl_udp *udp_lookup(tl_stack *st, uint16_t lport, const uint8_t *raddr, uint16_t rport);
static inline void udp_map4(uint8_t *a, uint32_t v4) {
  memset(a, 0, 10);
  a[10] = a[11] = 0xff;
  tl_put32(a + 12, v4);
}
static inline int udp_is4(const uint8_t *a) { return tl_ip6_is_v4mapped(a); }
static inline int udp_is_any(const uint8_t *a) { return tl_ip6_is_unspecified(a); }
void udp_mark_ready(struct tl_udp *u);
/* udp_queue.c */
int udp_queue_push(struct tl_udp_queue *q, const uint8_t *data, uint32_t len, const uint8_t *addr,
                   uint16_t port);
long udp_queue_pop(struct tl_udp_queue *q, uint8_t *buf, size_t cap, uint8_t *addr, uint16_t *port);
long udp_queue_next_len(const struct tl_udp_queue *q);
void udp_queue_free(struct tl_udp_queue *q);
/* udp_io.c: dst of either family (mapped IPv4) */
long udp_output(struct tl_udp *u, const uint8_t *data, size_t len, const uint8_t *dst, uint16_t dport);
#endif
