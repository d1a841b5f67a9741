/* Entry points of the TCP layer used by the rest of the stack. The TCP
 * engine's own internals live in tcp_*.h. */
#ifndef TL_TCP_H
#define TL_TCP_H
#include "ipv4.h"

int tl_tcp_init(tl_stack *st);
void tl_tcp_free(tl_stack *st);
/* A TCP segment (header + data) from a validated, reassembled datagram. */
void tl_tcp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len, int64_t now);
/* An ICMP error about a datagram we sent (RFC 1122 4.2.3.9, RFC 5927):
 * `orig` is the quoted IP header + at least 8 bytes of our TCP header.
 * `mtu` is the next-hop MTU for fragmentation-needed, else 0. */
void tl_tcp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig, size_t len,
                       int64_t now);
int64_t tl_tcp_poll(tl_stack *st, int64_t now);
int64_t tl_tcp_deadline(const tl_stack *st);
#endif
