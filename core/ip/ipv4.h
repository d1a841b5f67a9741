/* IPv4 layer: input validation and demux, reassembly, output with
 * fragmentation. The pure codec is in ipv4_wire.h. */
#ifndef TL_IPV4_H
#define TL_IPV4_H
#include "netif.h"
#include "proto.h"

#define TL_IP_HDR_LEN 20

int tl_ipv4_init(tl_stack *st);
void tl_ipv4_free(tl_stack *st);
/* A received datagram; rx_flags (TL_RX_*) ride with it to the transport. */
void tl_ipv4_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags);
int64_t tl_ipv4_poll(tl_stack *st, int64_t now);      /* reassembly timeouts */
int64_t tl_ipv4_deadline(const tl_stack *st);

/* Output: write the L4 payload at tl_ipv4_tx_payload(st), then call
 * tl_ipv4_send with its length. The datagram is fragmented if it exceeds
 * the MTU (unless TL_IPO_DF). TL_IPO_SEG: the link may cut it itself
 * (TSO: the transport built a super-segment), so up to
 * tl_netif_tso_max(st) passes. Returns 0 or a negative tl_err. */
enum { TL_IPO_DF = 1, TL_IPO_SEG = 2 };
static inline uint8_t *tl_ipv4_tx_payload(tl_stack *st) { return st->tx + TL_IP_HDR_LEN; }
int tl_ipv4_send(tl_stack *st, uint32_t dst, uint8_t proto, size_t payload_len, int flags);
/* The same for a TSO super-segment sent in pieces (tl_netif_can_scatter):
 * the L4 header (l4_hdr_len bytes) is at tl_ipv4_tx_payload(st), its
 * payload in iov[0..n) (n <= TL_OUT_IOV_MAX). Never fragments: DF is set. */
int tl_ipv4_send_vec(tl_stack *st, uint32_t dst, uint8_t proto, size_t l4_hdr_len, const tl_iov *iov, int n);
#endif
