/* Socket buffer policy: receive and send auto-tuning (Linux-style dynamic
 * right-sizing) and retention of drained buffers.
 *
 * Rings start at cfg.tcp_rcvbuf / tcp_sndbuf and grow, up to
 * cfg.tcp_rcvbuf_max / tcp_sndbuf_max, when a transfer is limited by them:
 * the receive ring when the application reads more than half of it per
 * round trip (so the window we offer, RFC 9293 3.8.6, is what bounds the
 * sender), the send ring when the congestion and peer windows allow more
 * in flight than it holds. The window scale is chosen for the ceiling at
 * SYN time (RFC 7323 2.2: it cannot change later).
 *
 * A ring that drains a second time keeps its storage for
 * cfg.tcp_buf_hold_us of idleness, so request/response traffic does not
 * malloc and free a buffer per message; then it is freed and an idle
 * connection costs only its control block. A first drain frees at once. */
#include "tcp_tcb.h"
#include "api_fast.h"

#define GROW_ROUND (64u * 1024)

static uint32_t round_up(uint64_t v, uint32_t max) {
  v = (v + GROW_ROUND - 1) / GROW_ROUND * GROW_ROUND;
  return v > max ? max : (uint32_t)v;
}

void tcp_buf_init(tl_stack *st, struct tl_sock *s) {
  (void)st;
  s->snd.keep = s->rcv.keep = 1;
  s->t_release = TL_T_OFF;
}

uint32_t tcp_rcvbuf_ceiling(const tl_stack *st, const struct tl_sock *s) {
  uint32_t max = st->cfg.tcp_rcvbuf_max;
  return s->rcvbuf_locked || max < s->rcv.cap ? s->rcv.cap : max;
}

/* Dynamic right-sizing: once per smoothed RTT, if the application read
 * more than half the ring, make the ring twice what it read (one RTT in
 * flight plus one being read), as Linux tcp_rcv_space_adjust. */
void tcp_buf_app_read(tl_stack *st, struct tl_sock *s, uint32_t n, int64_t now) {
  s->rcv_copied += n;
  uint32_t max = tcp_rcvbuf_ceiling(st, s);
  if (max <= s->rcv.cap) return;
  int64_t rtt = s->srtt_us ? s->srtt_us : 1000;
  if (now - s->rcv_epoch < rtt) return;
  if (s->rcv_copied > s->rcv.cap / 2) {
    uint32_t want = round_up(2ull * s->rcv_copied > 2ull * s->rcv.cap ? 2ull * s->rcv_copied : 2ull * s->rcv.cap, max);
    if (want > s->rcv.cap && tl_ring_resize(&s->rcv, want) == 0) TL_COUNT(st, tcp_rcvbuf_grow);
  }
  s->rcv_copied = 0;
  s->rcv_epoch = now;
}

/* The application could not queue all it wanted: grow the send ring if
 * the windows would let more than it holds be in flight. */
void tcp_buf_app_blocked(tl_stack *st, struct tl_sock *s) {
  uint32_t max = st->cfg.tcp_sndbuf_max;
  if (s->sndbuf_locked || max <= s->snd.cap || !tl_tcp_synchronized(s->state)) return;
  uint32_t wnd = s->cwnd < s->snd_wnd ? s->cwnd : s->snd_wnd;
  if (2ull * wnd <= s->snd.cap) return;
  uint32_t want = round_up(2ull * wnd > 2ull * s->snd.cap ? 2ull * wnd : 2ull * s->snd.cap, max);
  if (want > s->snd.cap && tl_ring_resize(&s->snd, want) == 0) TL_COUNT(st, tcp_sndbuf_grow);
}

static int idle_ring(const struct tl_ring *r) { return r->buf && r->len == 0 && r->ahead == 0; }

/* A ring just emptied. The first time, its storage goes at once: a single
 * message (or a connection that says hello and idles) keeps nothing. From
 * the second time on the traffic is recurring, so keep it and schedule the
 * release check instead. */
static int keep_after_drain(struct tl_ring *r, unsigned *drains) {
  if (!idle_ring(r)) return 0;
  if (*drains < 3) (*drains)++;
  if (*drains >= 2) return 1;
  tl_ring_free(r);
  return 0;
}

void tcp_buf_drained(tl_stack *st, struct tl_sock *s, int64_t now) {
  unsigned sd = s->snd_drains, rd = s->rcv_drains;
  int keep = keep_after_drain(&s->snd, &sd) | keep_after_drain(&s->rcv, &rd);
  s->snd_drains = sd & 3;
  s->rcv_drains = rd & 3;
  if (!keep || s->t_release != TL_T_OFF) return;
  s->t_release = now + st->cfg.tcp_buf_hold_us;
  tcp_timer_update(st, s);
}

void tcp_buf_release_timer(tl_stack *st, struct tl_sock *s, int64_t now) {
  s->t_release = TL_T_OFF;
  int64_t last = s->last_rx > s->una_since ? s->last_rx : s->una_since;
  if (now - last < (int64_t)st->cfg.tcp_buf_hold_us) {
    /* traffic since: look again one hold time after it */
    if (idle_ring(&s->rcv) || idle_ring(&s->snd)) s->t_release = last + st->cfg.tcp_buf_hold_us;
    return;
  }
  if (idle_ring(&s->rcv)) {
    tl_ring_free(&s->rcv);
    s->rcv_drains = 0;
    TL_COUNT(st, tcp_buf_release);
  }
  if (idle_ring(&s->snd)) {
    tl_ring_free(&s->snd);
    tcp_rack_idle(s);
    s->snd_drains = 0;
    TL_COUNT(st, tcp_buf_release);
  }
}

/* The connection is over: drained rings go at once. */
void tcp_buf_closed(struct tl_sock *s) {
  s->snd.keep = s->rcv.keep = 0;
  if (idle_ring(&s->rcv)) tl_ring_free(&s->rcv);
  if (idle_ring(&s->snd)) tl_ring_free(&s->snd);
}

int tl_sock_buffers_held(const tl_sock *s) {
  if (!s) return 0;
  return (s->snd.buf ? 1 : 0) | (s->rcv.buf ? 2 : 0);
}
