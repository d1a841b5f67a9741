/* Socket options beyond the basic ones of tcp.c: what the handshake
 * offers (timestamps, SACK, window scale), cork, notsent_lowat, and
 * SHUT_RD. Each is a flag the engine reads at one place. */
#include "ring.h"
#include "seq.h"
#include "tcp_tcb.h"

/* Before our SYN (or SYN-ACK) has gone out the offer may still change. */
static int before_syn(const struct tl_sock *s) { return s->state == TL_CLOSED || s->state == TL_LISTEN; }

#define NOTSENT_MAX_KB 2047 /* what notsent_lowat_kb holds */

static uint32_t lowat(const struct tl_sock *s) { return (uint32_t)s->notsent_lowat_kb * 1024; }

static uint32_t unsent_of(const struct tl_sock *s) {
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  return tl_seq_lt(s->snd_nxt, data_end) ? data_end - s->snd_nxt : 0;
}

int tcp_sockopt_set(struct tl_sock *s, int opt, int64_t v) {
  tl_stack *st = s->st;
  switch (opt) {
  case TL_OPT_TIMESTAMPS:
    if (!before_syn(s)) return TL_EINVAL;
    s->no_ts_offer = v == 0;
    return 0;
  case TL_OPT_SACK:
    if (!before_syn(s)) return TL_EINVAL;
    s->no_sack_offer = v == 0;
    return 0;
  case TL_OPT_WSCALE:
    if (!before_syn(s)) return TL_EINVAL;
    s->no_ws_offer = v == 0;
    /* RFC 7323 2.2: without the option the shift is 0 both ways. */
    s->rcv_wscale = s->no_ws_offer ? 0 : tcp_wscale_for(tcp_rcvbuf_ceiling(st, s));
    return 0;
  case TL_OPT_CORK:
    s->cork = v != 0;
    /* Uncorking sends what was held back (Linux tcp_push_pending_frames). */
    if (!s->cork && tl_tcp_synchronized(s->state)) tcp_output(st, s, st->now);
    return 0;
  case TL_OPT_NOTSENT_LOWAT:
    /* Whole KiB, rounded up, at most 2047 KiB. */
    if (v > (int64_t)NOTSENT_MAX_KB * 1024) return TL_EINVAL;
    s->notsent_lowat_kb = (unsigned)((v + 1023) / 1024);
    if (s->notsent_blocked) tcp_notsent_wake(st, s, unsent_of(s));
    return 0;
  default: return TL_EINVAL;
  }
}

int64_t tcp_sockopt_get(const struct tl_sock *s, int opt) {
  switch (opt) {
  case TL_OPT_TIMESTAMPS: return before_syn(s) ? !s->no_ts_offer : s->ts_ok;
  case TL_OPT_SACK: return before_syn(s) ? !s->no_sack_offer : s->sack_ok;
  case TL_OPT_WSCALE: return before_syn(s) ? !s->no_ws_offer : s->ws_ok;
  case TL_OPT_CORK: return s->cork;
  case TL_OPT_NOTSENT_LOWAT: return (int64_t)s->notsent_lowat_kb * 1024;
  default: return TL_EINVAL;
  }
}

/* Linux TCP_NOTSENT_LOWAT: the socket counts as writable only while fewer
 * than notsent_lowat bytes wait unsent. A refused send remembers it, so
 * the wake comes from the output path when the backlog drains below. */
int tcp_notsent_full(struct tl_sock *s) {
  if (unsent_of(s) < lowat(s)) return 0;
  s->notsent_blocked = 1;
  return 1;
}

/* May the ACK path wake a writer? Not while notsent_lowat holds it. */
int tcp_notsent_ok(const struct tl_sock *s) { return !s->notsent_blocked || unsent_of(s) < lowat(s); }

void tcp_notsent_wake(tl_stack *st, struct tl_sock *s, uint32_t unsent) {
  if (s->notsent_lowat_kb && unsent >= lowat(s)) return;
  if (tl_ring_space(&s->snd) == 0) return; /* the ACK path wakes it once space frees */
  s->notsent_blocked = 0;
  tcp_event(st, s, TL_EV_WRITABLE);
}

int tl_shutdown_read(tl_sock *s, int64_t now) {
  if (!s || s->listener) return TL_EINVAL;
  if (s->state == TL_CLOSED && !s->in_table && !s->err) return TL_ENOTCONN;
  s->rd_shut = 1;
  uint8_t none;
  tl_recv(s, &none, 0, now); /* drops what is readable now */
  return 0;
}
