/* STUB: replaced by the TCP engine (tcp_*.c). */
#include "tcp.h"
int tl_tcp_init(tl_stack *st) { (void)st; return 0; }
void tl_tcp_free(tl_stack *st) { (void)st; }
int64_t tl_tcp_poll(tl_stack *st, int64_t now) { (void)st; (void)now; return -1; }
int64_t tl_tcp_deadline(const tl_stack *st) { (void)st; return -1; }
void tl_tcp_input(tl_stack *st, const struct tl_ip_meta *ip, const uint8_t *seg, size_t len, int64_t now) { (void)st; (void)ip; (void)seg; (void)len; (void)now; }
void tl_tcp_icmp_error(tl_stack *st, uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *orig, size_t len, int64_t now) { (void)st; (void)type; (void)code; (void)mtu; (void)orig; (void)len; (void)now; }
int tl_stack_pending_events(const tl_stack *st) { (void)st; return 0; }
int tl_next_event(tl_stack *st, tl_event *ev) { (void)st; (void)ev; return 0; }
