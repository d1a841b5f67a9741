/* The stack object: everything a running stack owns hangs off it, so many
 * stacks can live in one process. Modules keep their state behind the
 * pointers below and are reached through the functions in their headers. */
#ifndef TL_STACK_H
#define TL_STACK_H
#include "counters.h"
#include "rng.h"
#include "tcplua.h"

struct tl_ip_state;   /* ipv4.c: reassembly, ICMP rate limit, IP ID */
struct tl_ip6_state;  /* ipv6.c: addresses, reassembly, path MTUs, ICMPv6 rate limit */
struct tl_tcp;        /* tcp_*.c: connections, listeners, event queue */
struct tl_udp_state;  /* udp_*.c: UDP sockets, their port table and ready list */
struct tl_hook;       /* hook.c: segment hooks, impairment, pcap at the link boundary */
struct tl_proto;      /* proto.h: a transport's handlers */
struct tl_fwd;        /* fwd.c: the gateway's forwarder and flow table (NULL: an end host) */

/* Largest datagram the stack builds in one go (IP header + payload). */
#define TL_TX_MAX 65535

struct tl_stack {
  tl_config cfg;
  tl_output_fn out;
  void *out_ctx;
  struct tl_rng rng;
  int64_t now;                      /* time of the current input/poll call */
  uint64_t counters[TLC__COUNT];
  struct tl_ip_state *ip;
  struct tl_ip6_state *ip6;         /* NULL while IPv6 is off (cfg.ipv6 = 0) */
  struct tl_tcp *tcp;
  struct tl_udp_state *udp;
  struct tl_hook *hook;             /* NULL: the plain path, no hook/pcap/impairment */
  struct tl_fwd *fwd;               /* set by tl_gw_attach */
  /* The link boundary's wrap of the output (netif.h), set with st->hook;
   * NULL: datagrams go straight to the link. */
  int (*tap)(tl_stack *st, const uint8_t *pkt, size_t len);
  /* The network layer's input (set by stack.c), where the boundary
   * delivers (netif.h). */
  void (*l3_input)(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags);
  /* The same for datagrams whose version nibble is 6. */
  void (*l3_input6)(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags);
  uint8_t tso_off;                  /* the boundary needs datagrams whole: no TSO */
  uint8_t batch;                    /* TL_BATCH_* open now (tl_stack_batch) */
  const struct tl_proto *proto[256]; /* by IP protocol number (proto.h) */
  tl_output_vec_fn outv;            /* NULL: every datagram goes through out */
  void *outv_ctx;
  /* Where the next outgoing datagram is built: txbuf after the link's
   * headroom (TL_OUT_HEADROOM, for its own header in front). */
  uint8_t *tx;
  /* Scratch for building one outgoing datagram: no malloc per packet. */
  _Alignas(8) uint8_t txbuf[TL_OUT_HEADROOM + TL_TX_MAX + 1];
};
#endif
