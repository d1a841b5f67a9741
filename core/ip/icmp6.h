/* ICMPv6 (RFC 4443): echo, the errors we send and the errors we receive. */
#ifndef TL_ICMP6_H
#define TL_ICMP6_H
#include "ipv6.h"

enum {
  TL_ICMP6_DEST_UNREACH = 1,
  TL_ICMP6_PACKET_TOO_BIG = 2,
  TL_ICMP6_TIME_EXCEEDED = 3,
  TL_ICMP6_PARAM_PROBLEM = 4,
  TL_ICMP6_ECHO_REQUEST = 128,
  TL_ICMP6_ECHO_REPLY = 129
};

void tl_icmp6_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *msg, size_t len, int64_t now);
/* Send an error about the datagram `orig` (IPv6 header onward, as
 * received or reassembled); `param` is the pointer, MTU or 0. Applies RFC
 * 4443 2.4(e)'s "never about" rules and the rate limit (2.4(f)). */
void tl_icmp6_send_error(tl_stack *st, uint8_t type, uint8_t code, uint32_t param, const uint8_t *orig,
                         size_t orig_len, int64_t now);
#endif
