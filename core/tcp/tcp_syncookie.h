/* SYN cookies (RFC 4987 3.6): a listener whose SYN queue is full answers a
 * SYN with a SYN-ACK whose ISN is a keyed MAC of the connection, and keeps
 * nothing; the ACK that returns the cookie (SEG.ACK - 1) rebuilds what the
 * SYN asked for. Used only while the queue is full, as Linux does. */
#ifndef TL_TCP_SYNCOOKIE_H
#define TL_TCP_SYNCOOKIE_H
#include "tcp_tcb.h"

/* What a valid cookie carries back: the SYN's options as a listener's
 * child takes them (tcp_take_syn_options reads a SYN rebuilt from this). */
struct tl_syncookie {
  uint32_t peer_iss; /* the SYN's SEG.SEQ */
  uint16_t mss;      /* the peer's MSS, rounded down to the table */
  uint8_t ts;        /* timestamps agreed: the rest rode in our TSval */
  uint8_t ws_ok, wscale;
  uint8_t sack_ok;
};

/* Answer SYN h for listener l with a cookie SYN-ACK. syn is a scratch
 * child filled from the SYN as the listener would fill a real one (it
 * gives our MSS, window, window scale and which options to answer); it is
 * not linked anywhere and nothing is allocated. */
void tcp_syncookie_send(tl_stack *st, struct tl_sock *l, struct tl_sock *syn, const struct tl_ip_meta *ip,
                        const struct tl_tcp_hdr *h, int64_t now);
/* Whether listener l sent a cookie recently enough that one may come back
 * (only then is an ACK to it checked as a cookie). */
int tcp_syncookie_live(const struct tl_sock *l, int64_t now);
/* Checks the ACK h to listener l: 0 and *out filled if SEG.ACK - 1 is a
 * cookie we made for this 4-tuple within the validity period, -1 if not. */
int tcp_syncookie_check(tl_stack *st, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h, int64_t now,
                        struct tl_syncookie *out);
/* The timestamp clock offset of a cookie connection: a keyed function of
 * the 4-tuple, so that the child's TSvals continue the cookie's. */
uint32_t tcp_syncookie_ts_offset(const tl_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
                                 uint16_t rport);
#endif
