/* The stack's link boundary (hook.c): entry points used by stack.c when
 * st->hook is set (a pcap, the command-line impairment or Lua hooks). The
 * output side is reached through st->tap (net/netif.h), which the boundary
 * points at tl_hook_emit when it is made. */
#ifndef TL_HOOK_H
#define TL_HOOK_H
#include "stack.h"

void tl_hook_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags);
int tl_hook_emit(tl_stack *st, const uint8_t *pkt, size_t len);
int64_t tl_hook_poll(tl_stack *st, int64_t now);
int64_t tl_hook_deadline(const tl_stack *st);
void tl_hook_free(tl_stack *st);
/* Nonzero when anything is set at the boundary (hooks, an impairment, a
 * capture): a gateway then sends its datagrams through it. */
int tl_hook_busy(const tl_stack *st);
/* Nonzero when something at the boundary judges wire packets one by one
 * (an impairment, a capture), as opposed to hooks alone. */
int tl_hook_needs_wire(const tl_stack *st);
#endif
