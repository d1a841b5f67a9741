/* The UDP floor's state (st->udp) and socket, shared by its files. */
#ifndef TL_UDP_STATE_H
#define TL_UDP_STATE_H
#include "udp.h"

#define TL_UDP_BUCKETS 64

/* A socket's receive queue: a byte ring of entries, each a tl_udp_qent
 * then the payload, so a datagram costs no allocation on the data path
 * (the ring is allocated once, on the first datagram). */
struct tl_udp_qent {
  uint32_t len;  /* payload bytes */
  uint32_t addr; /* source */
  uint16_t port;
  uint16_t pad;
  uint32_t pad2;
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
  uint32_t laddr, raddr;        /* 0: any / not connected */
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
struct tl_udp *udp_lookup(tl_stack *st, uint16_t lport, uint32_t raddr, uint16_t rport);
void udp_mark_ready(struct tl_udp *u);
/* udp_queue.c */
int udp_queue_push(struct tl_udp_queue *q, const uint8_t *data, uint32_t len, uint32_t addr, uint16_t port);
long udp_queue_pop(struct tl_udp_queue *q, uint8_t *buf, size_t cap, uint32_t *addr, uint16_t *port);
long udp_queue_next_len(const struct tl_udp_queue *q);
void udp_queue_free(struct tl_udp_queue *q);
/* udp_output.c */
long udp_output(struct tl_udp *u, const uint8_t *data, size_t len, uint32_t dst, uint16_t dport);
#endif
