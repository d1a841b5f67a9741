/* Per-stack IPv6/ICMPv6 state (st->ip6), shared by ipv6.c, ipv6_reasm.c
 * and icmp6.c. Nothing here is global: every stack owns one. */
#ifndef TL_IPV6_STATE_H
#define TL_IPV6_STATE_H
#include "ipv6_reasm.h"
#include "tokens.h"

/* Path MTUs learnt from packet too big messages (RFC 8201), per
 * destination; the oldest entry makes room. */
#define TL_PMTU6_SLOTS 16
/* RFC 8201 4/5.3: an estimate is forgotten after 10 minutes, so a path
 * whose MTU grew is found again. */
#define TL_PMTU6_AGE_US (600LL * 1000000)

struct tl_pmtu6 {
  uint8_t dst[16];
  uint32_t mtu; /* 0: a free slot */
  int64_t expires;
};

struct tl_ip6_state {
  uint8_t addr[16]; /* cfg.addr6_hi/lo */
  uint8_t *frag;    /* cfg.mtu bytes: one outgoing fragment at a time */
  struct tl_reasm6 reasm;
  struct tl_pmtu6 pmtu[TL_PMTU6_SLOTS];
  struct tl_tokens icmp_errors; /* RFC 4443 2.4(f) */
};
#endif
