/* The stack object: everything a running stack owns hangs off it, so many
 * stacks can live in one process. Modules keep their state behind the
 * pointers below and are reached through the functions in their headers. */
#ifndef TL_STACK_H
#define TL_STACK_H
#include "counters.h"
#include "rng.h"
#include "tcplua.h"

struct tl_ip_state;   /* ipv4.c: reassembly, ICMP rate limit, IP ID */
struct tl_tcp;        /* tcp_*.c: connections, listeners, event queue */
struct tl_hook;       /* hook.c: segment hooks, impairment, pcap at the link boundary */

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
  struct tl_tcp *tcp;
  struct tl_hook *hook;             /* NULL: the plain path, no hook/pcap/impairment */
  tl_output_vec_fn outv;            /* NULL: every datagram goes through out */
  void *outv_ctx;
  /* Where the next outgoing datagram is built: txbuf after the link's
   * headroom (TL_OUT_HEADROOM, for its own header in front). */
  uint8_t *tx;
  /* Scratch for building one outgoing datagram: no malloc per packet. */
  _Alignas(8) uint8_t txbuf[TL_OUT_HEADROOM + TL_TX_MAX + 1];
};

/* Hands a finished datagram to the link and counts it. */
int tl_stack_emit(tl_stack *st, const uint8_t *pkt, size_t len);
/* Nonzero when a datagram may go out in pieces (tl_stack_emit_vec): a
 * scatter output is registered and nothing at the link boundary needs it
 * whole. */
int tl_stack_can_scatter(const tl_stack *st);
/* Hands a datagram built as headers in st->tx (hdr_len bytes) plus the
 * payload spans iov[0..n) (n <= TL_OUT_IOV_MAX) to the scatter output, and
 * counts it. Only when tl_stack_can_scatter. */
int tl_stack_emit_vec(tl_stack *st, size_t hdr_len, const tl_iov *iov, int n);
#endif
