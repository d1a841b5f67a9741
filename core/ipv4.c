/* STUB: replaced by the IPv4 implementation. */
#include "ipv4.h"
int tl_ipv4_init(tl_stack *st) { (void)st; return 0; }
void tl_ipv4_free(tl_stack *st) { (void)st; }
void tl_ipv4_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now) { (void)pkt; (void)len; (void)now; TL_COUNT(st, ip_in); }
int64_t tl_ipv4_poll(tl_stack *st, int64_t now) { (void)st; (void)now; return -1; }
int64_t tl_ipv4_deadline(const tl_stack *st) { (void)st; return -1; }
int tl_ipv4_send(tl_stack *st, uint32_t dst, uint8_t proto, size_t payload_len, int df) { (void)st; (void)dst; (void)proto; (void)payload_len; (void)df; return 0; }
