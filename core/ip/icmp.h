/* ICMP (RFC 792, RFC 1122 3.2.2): echo, errors we send, errors we receive. */
#ifndef TL_ICMP_H
#define TL_ICMP_H
#include "ipv4.h"

void tl_icmp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len, int64_t now);
/* Send an ICMP error about the datagram `orig` (its IP header and payload as
 * received). Applies RFC 1122 3.2.2's "never about" rules and the rate limit. */
void tl_icmp_send_error(tl_stack *st, uint8_t type, uint8_t code, const uint8_t *orig, size_t orig_len,
                        int64_t now);
#endif
