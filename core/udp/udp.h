/* UDP (RFC 768, RFC 1122 4.1): the transport's face to the stack. It sits
 * in IP's protocol table (proto.h) like TCP; the socket API is api_udp.h. */
#ifndef TL_UDP_H
#define TL_UDP_H
#include "proto.h"

extern const struct tl_proto tl_udp_proto;
int tl_udp_init(tl_stack *st);
void tl_udp_free(tl_stack *st);
/* Nonzero while some socket waits for tl_udp_next_event. */
int tl_udp_pending_events(const tl_stack *st);
#endif
