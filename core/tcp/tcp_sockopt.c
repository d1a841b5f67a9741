/* Socket options (tl_setopt, tl_getopt): buffers, Nagle, keepalive,
 * congestion control and loss recovery, and what the handshake offers
 * (timestamps, SACK, window scale), cork, notsent_lowat, and SHUT_RD. Each
 * is a flag the engine reads at one place. */
#include "ring.h"
#include "seq.h"
#include "tcp_cc.h"
#include "tcp_tcb.h"
#include "tcp_txlog.h"

/* Before our SYN (or SYN-ACK) has gone out the offer may still change. */
static const struct tl_cc_ops *const cc_by_index[] = {&tl_cc_reno, &tl_cc_newreno, &tl_cc_cubic, &tl_cc_bbr};
enum { CC_COUNT = sizeof cc_by_index / sizeof cc_by_index[0] };

const struct tl_cc_ops *tl_cc_by_index(int64_t v) { return v >= 0 && v < CC_COUNT ? cc_by_index[v] : NULL; }

int tl_cc_index(const struct tl_cc_ops *cc) {
  for (int i = 0; i < CC_COUNT; i++)
    if (cc_by_index[i] == cc) return i;
  return 0;
}

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

int tl_setopt(tl_sock *s, int opt, int64_t v) {
  if (!s || v < 0) return TL_EINVAL;
  tl_stack *st = s->st;
  switch (opt) {
  case TL_OPT_NODELAY:
    s->nodelay = v != 0;
    if (s->nodelay && tl_tcp_synchronized(s->state)) tcp_output(st, s, st->now);
    return 0;
  case TL_OPT_SNDBUF: {
    if (v < 1 || v > (1 << 30)) return TL_EINVAL;
    uint32_t before = tl_ring_space(&s->snd);
    if (tl_ring_resize(&s->snd, (uint32_t)v) < 0) return TL_EINVAL;
    s->sndbuf_locked = 1;
    /* A writer blocked on the smaller buffer may go on now (as Linux's
     * SO_SNDBUF calls sk_write_space): no ACK need come to say so, and on
     * a closed window none that frees anything does. */
    if (tl_ring_space(&s->snd) > before && tcp_can_send(s)) tcp_event(st, s, TL_EV_WRITABLE);
    return 0;
  }
  case TL_OPT_RCVBUF: {
    if (v < 1 || v > (1 << 30)) return TL_EINVAL;
    uint32_t promised = tl_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
    if ((uint32_t)v < s->rcv.len + promised) return TL_EINVAL; /* never shrink the offered window */
    if (tl_ring_resize(&s->rcv, (uint32_t)v) < 0) return TL_EINVAL;
    s->rcvbuf_locked = 1;
    /* The scale is fixed by the SYN (RFC 7323 2.2); before it, follow the buffer. */
    if (!s->no_ws_offer && (s->state == TL_CLOSED || s->state == TL_LISTEN ||
                            (s->state == TL_SYN_SENT && s->snd_max == s->iss)))
      s->rcv_wscale = tcp_wscale_for((uint32_t)v);
    return 0;
  }
  case TL_OPT_KEEPALIVE:
    s->keepalive = v != 0;
    if (s->keepalive)
      tcp_keep_arm(st, s, st->now);
    else if (s->state != TL_FIN_WAIT_2 && s->t_keep != TL_T_OFF) {
      s->t_keep = TL_T_OFF;
      tcp_timer_update(st, s);
    }
    return 0;
  case TL_OPT_KEEPIDLE_MS:
    if (v < 1) return TL_EINVAL;
    s->keepidle_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
    if (s->keepalive) tcp_keep_arm(st, s, st->now);
    return 0;
  case TL_OPT_KEEPINTVL_MS:
    if (v < 1) return TL_EINVAL;
    s->keepintvl_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
    return 0;
  case TL_OPT_KEEPCNT:
    if (v < 1 || v > 255) return TL_EINVAL;
    s->keepcnt = (uint8_t)v;
    return 0;
  case TL_OPT_BACKLOG:
    if (!s->listener || v < 1 || v > 65535) return TL_EINVAL;
    s->backlog = (uint16_t)v;
    return 0;
  case TL_OPT_MSS:
    if (v != 0 && (v < TL_MIN_MSS || v > 65535)) return TL_EINVAL;
    s->user_mss = (uint16_t)v;
    tcp_mss_update(st, s);
    return 0;
  case TL_OPT_LINGER_MS: s->linger_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v); return 0;
  case TL_OPT_USER_TIMEOUT_MS: s->user_timeout_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v); return 0;
  case TL_OPT_TIMESTAMPS:
  case TL_OPT_SACK:
  case TL_OPT_WSCALE:
  case TL_OPT_CORK:
  case TL_OPT_NOTSENT_LOWAT: return tcp_sockopt_set(s, opt, v);
  case TL_OPT_CONGESTION: {
    const struct tl_cc_ops *cc = tl_cc_by_index(v);
    if (!cc) return TL_EINVAL;
    if (cc != s->cc && tl_tcp_synchronized(s->state)) {
      s->in_recovery = 0; /* keep cwnd/ssthresh; the new module takes over from here */
      s->dupacks = 0;
      s->cc_acc = 0;
      s->cubic.epoch = -1;
      if (s->rack) s->rack->bbr.on = 0; /* BBR's model starts afresh */
    }
    s->cc = cc;
    return 0;
  }
  case TL_OPT_RECOVERY:
    if (v != 0 && v != 1) return TL_EINVAL;
    if ((unsigned)v != s->recovery_dupack) {
      /* The other detector starts from a clean slate; a recovery under
       * way ends with the ACK of its recovery point as before. */
      tcp_rack_free(s);
      s->recovery_dupack = v == 1;
      if (s->rtx_kind != TL_RTX_RTO && !s->persist && s->t_rtx != TL_T_OFF) tcp_rto_arm(st, s, st->now);
    }
    return 0;
  case TL_OPT_SYNCOOKIES:
    if (!s->listener) return TL_EINVAL;
    s->no_syncookies = v == 0;
    return 0;
  default: return TL_EINVAL;
  }
}

int64_t tl_getopt(const tl_sock *s, int opt) {
  if (!s) return TL_EINVAL;
  switch (opt) {
  case TL_OPT_NODELAY: return s->nodelay;
  case TL_OPT_RECOVERY: return s->recovery_dupack;
  case TL_OPT_SNDBUF: return s->snd.cap;
  case TL_OPT_RCVBUF: return s->rcv.cap;
  case TL_OPT_KEEPALIVE: return s->keepalive;
  case TL_OPT_KEEPIDLE_MS: return s->keepidle_ms;
  case TL_OPT_KEEPINTVL_MS: return s->keepintvl_ms;
  case TL_OPT_KEEPCNT: return s->keepcnt;
  case TL_OPT_BACKLOG: return s->listener ? s->backlog : TL_EINVAL;
  case TL_OPT_MSS: return s->user_mss ? s->user_mss : s->snd_mss;
  case TL_OPT_LINGER_MS: return s->linger_ms;
  case TL_OPT_USER_TIMEOUT_MS: return s->user_timeout_ms;
  case TL_OPT_CONGESTION: return tl_cc_index(s->cc);
  case TL_OPT_SYNCOOKIES: return s->listener ? !s->no_syncookies : TL_EINVAL;
  default: return tcp_sockopt_get(s, opt);
  }
}
