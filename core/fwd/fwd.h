/* The forwarder's state (fwd.c), hung off the stack as st->fwd. */
#ifndef TL_FWD_H
#define TL_FWD_H
#include "flow.h"
#include "stack.h"
#include "tokens.h"

/* RFC 1812 4.3.2.3: an ICMP error quotes the original datagram up to a
 * 576-byte ICMP datagram. */
#define FWD_ICMP_MAX 576

struct tl_fwd {
  tl_gw_config cfg;
  tl_gw_out_fn out;
  void *ctx;
  tl_flow_table *ft;
  uint8_t *frag; /* one fragment at a time, as large as the larger MTU */
  struct tl_tokens icmp_errors; /* RFC 1812 4.3.2.8, at the stack's cfg.icmp_rate_per_s */
  uint16_t icmp_id;
  uint8_t hooks_whole; /* hooks may judge super-packets whole (tl_gw_set_whole) */
  uint8_t icmp[FWD_ICMP_MAX];
  uint8_t rst[64];
};

/* The side whose network holds dst (side b when neither does: it is the
 * default route). */
int tl_fwd_route(const struct tl_fwd *fw, uint32_t dst);
/* Writes a datagram the gateway made itself (ICMP error, RST) to the side
 * dst routes to, through the link boundary when it is busy (so the
 * capture sees it). */
void tl_fwd_emit_own(tl_stack *st, const uint8_t *pkt, size_t len);
void tl_fwd_free(tl_stack *st);
#endif
