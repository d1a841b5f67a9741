/* Per-stack IPv4/ICMP state (st->ip), shared by ipv4.c, ipv4_reasm.c and
 * icmp.c. Nothing here is global: every stack owns one. */
#ifndef TL_IPV4_STATE_H
#define TL_IPV4_STATE_H
#include "ipv4_reasm.h"
#include "tokens.h"

struct tl_ip_state {
  uint16_t next_id; /* IP ID counter, seeded from the stack's rng */
  uint8_t *frag;    /* cfg.mtu bytes: one outgoing fragment at a time */
  struct tl_reasm reasm;
  struct tl_tokens icmp_errors; /* RFC 1812 4.3.2.8 / RFC 1122 3.2.2 */
};
#endif
