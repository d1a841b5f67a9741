/* IPv6 layer (RFC 8200): input validation, the extension-header chain,
 * reassembly and demux; output with fragmentation over the path MTU. The
 * pure codec is in ipv6_wire.h. */
#ifndef TL_IPV6_H
#define TL_IPV6_H
#include "ipv6_wire.h"
#include "netif.h"
#include "proto.h"

int tl_ipv6_init(tl_stack *st); /* nothing to do (0) while cfg.ipv6 is 0 */
void tl_ipv6_free(tl_stack *st);
void tl_ipv6_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags);
int64_t tl_ipv6_poll(tl_stack *st, int64_t now); /* reassembly timeouts */
int64_t tl_ipv6_deadline(const tl_stack *st);
/* The stack's own address (16 bytes), or NULL while IPv6 is off. */
const uint8_t *tl_ipv6_addr(const tl_stack *st);

/* Output: write the upper-layer payload at tl_ipv6_tx_payload(st), then
 * call tl_ipv6_send with its length. Over the path MTU the datagram is
 * fragmented (RFC 8200 4.5) unless TL_IPO_DF (ipv4.h's flags), which
 * refuses it instead. Returns 0 or a negative tl_err. */
static inline uint8_t *tl_ipv6_tx_payload(tl_stack *st) { return st->tx + TL_IP6_HDR_LEN; }
int tl_ipv6_send(tl_stack *st, const uint8_t *dst, uint8_t proto, size_t payload_len, int flags);
/* The same with a flow label (RFC 6437; 20 bits, 0 for none). */
int tl_ipv6_send_flow(tl_stack *st, const uint8_t *dst, uint8_t proto, size_t payload_len, int flags,
                      uint32_t flow);
/* A TSO super-segment sent in pieces (tl_netif_can_scatter): the
 * upper-layer header is at tl_ipv6_tx_payload (l4_hdr_len bytes), its
 * data in iov; never fragmented. Returns 0 or a negative tl_err. */
int tl_ipv6_send_vec(tl_stack *st, const uint8_t *dst, uint8_t proto, size_t l4_hdr_len, const tl_iov *iov,
                     int n, uint32_t flow);
/* Lower the path MTU toward dst (RFC 8201 4: never below 1280, never
 * raised by a message). Returns the estimate now held. */
uint32_t tl_ipv6_pmtu_lower(tl_stack *st, const uint8_t *dst, uint32_t mtu, int64_t now);
#endif
