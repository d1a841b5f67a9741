/* IPv4 layer: input validation and demux, reassembly, output with
 * fragmentation. The pure codec is in ipv4_wire.h. */
#ifndef TL_IPV4_H
#define TL_IPV4_H
#include "stack.h"

#define TL_IP_HDR_LEN 20
#define TL_PROTO_ICMP 1
#define TL_PROTO_TCP 6

/* What an upper layer learns about the datagram its payload came in. */
struct tl_ip_meta {
  uint32_t src, dst;           /* host byte order */
  uint8_t proto, ttl, tos;
  uint16_t id;
  const uint8_t *hdr;          /* the IP header as received (or rebuilt) */
  size_t hdr_len;
};

int tl_ipv4_init(tl_stack *st);
void tl_ipv4_free(tl_stack *st);
void tl_ipv4_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now);
int64_t tl_ipv4_poll(tl_stack *st, int64_t now);      /* reassembly timeouts */
int64_t tl_ipv4_deadline(const tl_stack *st);

/* Output: write the L4 payload at tl_ipv4_tx_payload(st), then call
 * tl_ipv4_send with its length. The datagram is fragmented if it exceeds
 * the MTU (unless df). Returns 0 or a negative tl_err. */
static inline uint8_t *tl_ipv4_tx_payload(tl_stack *st) { return st->tx + TL_IP_HDR_LEN; }
int tl_ipv4_send(tl_stack *st, uint32_t dst, uint8_t proto, size_t payload_len, int df);
/* The same for a TSO super-segment sent in pieces (tl_stack_can_scatter):
 * the L4 header (l4_hdr_len bytes) is at tl_ipv4_tx_payload(st), its
 * payload in iov[0..n) (n <= TL_OUT_IOV_MAX). Never fragments: DF is set. */
int tl_ipv4_send_vec(tl_stack *st, uint32_t dst, uint8_t proto, size_t l4_hdr_len, const tl_iov *iov, int n);
#endif
