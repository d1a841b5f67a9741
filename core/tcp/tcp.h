/* Entry points of the TCP layer used by the rest of the stack. The TCP
 * engine's own internals live in tcp_*.h. */
#ifndef TL_TCP_H
#define TL_TCP_H
#include "ipv4.h"

int tl_tcp_init(tl_stack *st);
void tl_tcp_free(tl_stack *st);
/* TCP's row in the protocol table (proto.h), registered by stack.c. */
extern const struct tl_proto tl_tcp_proto;
/* Its handlers (proto.h says what each gets). */
void tl_tcp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len, int64_t now);
void tl_tcp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig, size_t len,
                       int64_t now);
int64_t tl_tcp_poll(tl_stack *st, int64_t now);
/* Nonzero while socket events wait for tl_next_event. */
int tl_tcp_pending_events(const tl_stack *st);
int64_t tl_tcp_deadline(const tl_stack *st);
#endif
