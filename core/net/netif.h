/* The network interface every floor talks to: IP hands finished
 * datagrams to tl_netif_emit* and the link boundary (core/link/hook.c)
 * hands received ones to tl_netif_deliver. Neither side names the other:
 * the boundary wraps the interface by setting st->tap, and the stack
 * (stack.c) sets st->l3_input to the network layer's input. */
#ifndef TL_NETIF_H
#define TL_NETIF_H
#include "stack.h"

/* Hands a finished datagram to the link (through the boundary when one is
 * set) and counts it. */
int tl_netif_emit(tl_stack *st, const uint8_t *pkt, size_t len);
/* Nonzero when a datagram may go out in pieces (tl_netif_emit_vec): a
 * scatter output is registered and nothing at the link boundary needs it
 * whole. */
int tl_netif_can_scatter(const tl_stack *st);
/* Hands a datagram built as headers in st->tx (hdr_len bytes) plus the
 * payload spans iov[0..n) (n <= TL_OUT_IOV_MAX) to the scatter output, and
 * counts it. Only when tl_netif_can_scatter. */
int tl_netif_emit_vec(tl_stack *st, size_t hdr_len, const tl_iov *iov, int n);
/* A received datagram, past the boundary, up to the network layer its
 * version nibble names (IPv4 judges every other version). */
static inline void tl_netif_deliver(tl_stack *st, const uint8_t *pkt, size_t len, unsigned rx_flags) {
  if (len && pkt[0] >> 4 == 6 && st->l3_input6)
    st->l3_input6(st, pkt, len, st->now, rx_flags);
  else
    st->l3_input(st, pkt, len, st->now, rx_flags);
}
/* The largest TCP super-segment the link takes now: 0 while the boundary
 * needs every datagram whole and final (st->tso_off). */
static inline uint32_t tl_netif_tso_max(const tl_stack *st) { return st->tso_off ? 0 : st->cfg.tso_max; }
#endif
