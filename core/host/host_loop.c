/* The libev loop: TUN readable -> stack input; one timer for the earliest
 * of the stack's, Lua's and the impairments' deadlines; SIGINT/SIGTERM
 * (through the watchdog thread) -> clean stop. */
#include "host_loop.h"
#include "api_fast.h"
#include "host_offload.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *const host_counter_names[] = {
#define X(name, desc) #name,
#include "host_counters.def"
#undef X
};

const char *host_counter_name(int i) { return (i >= 0 && i < HC__COUNT) ? host_counter_names[i] : NULL; }

int64_t host_now_us(struct host *h) { return (int64_t)(ev_now(h->loop) * 1e6); }

/* Counts the outcome of one write of a len-byte datagram. */
int host_tun_written(struct host *h, ssize_t n, size_t len) {
  if (n == (ssize_t)len) {
    h->counters[HC_host_tun_tx]++;
    return 0;
  }
  /* The fd is non-blocking: a full queue costs the datagram, never the
   * loop. TCP retransmits; ICMP echo is best effort anyway. */
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
    h->counters[HC_host_tun_tx_drop]++;
  else
    h->counters[HC_host_tun_tx_error]++;
  return -1;
}

int host_to_tun(void *ctx, const uint8_t *pkt, size_t len) {
  struct host *h = ctx;
  ssize_t n;
  if (h->vnet) {
    uint8_t vh[HOST_VNET_HDR_LEN];
    host_offload_tx_hdr(vh, pkt, len, len, h->mtu);
    struct iovec iov[2] = {{vh, sizeof vh}, {(void *)pkt, len}};
    n = writev(h->tun_fd, iov, 2);
    if (n > 0) n -= (ssize_t)sizeof vh;
  } else {
    n = write(h->tun_fd, pkt, len);
  }
  return host_tun_written(h, n, len);
}

/* The stack's scatter output (tl_stack_set_output_vec). The virtio header
 * goes into the headroom the stack leaves in front of iov[0], so a whole
 * datagram is one write() and a TSO super-segment one writev() of its
 * headers and the send ring's spans: no copy of the payload in user space. */
int host_to_tun_vec(void *ctx, const tl_iov *iov, int n, size_t len) {
  struct host *h = ctx;
  uint8_t *head = (uint8_t *)(uintptr_t)iov[0].base;
  size_t head_len = iov[0].len;
  if (h->vnet) {
    head -= HOST_VNET_HDR_LEN;
    host_offload_tx_hdr(head, iov[0].base, iov[0].len, len, h->mtu);
    head_len += HOST_VNET_HDR_LEN;
  }
  ssize_t w;
  if (n == 1) {
    w = write(h->tun_fd, head, head_len);
  } else {
    struct iovec v[1 + TL_OUT_IOV_MAX];
    int k = 0;
    v[k++] = (struct iovec){head, head_len};
    for (int i = 1; i < n && k < 1 + TL_OUT_IOV_MAX; i++)
      v[k++] = (struct iovec){(void *)(uintptr_t)iov[i].base, iov[i].len};
    w = writev(h->tun_fd, v, k);
    if (w > 0) h->counters[HC_host_tun_tx_gather]++;
  }
  if (w > 0 && h->vnet) w -= HOST_VNET_HDR_LEN;
  return host_tun_written(h, w, len);
}

static int64_t earliest(int64_t a, int64_t b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/* Lets Lua react, runs everything due now, and arms the one timer. Lua
 * goes first: ACKs a batch of input left owing (core/tcp/tcp_rcv.c, the peer's
 * FIN in tcp_output.c) are due now, and what the script sends in answer
 * carries them, so the poll after it has fewer pure ACKs to write. Lua may
 * queue output or consume events that make more work due at once, and the
 * poll may raise events, so go round again (bounded) while the stack
 * still has events for it. */
void host_service(struct host *h) {
  int64_t lua_dl = -1;
  int stop = 0;
  for (int round = 0; round < 8; round++) {
    tl_stack_batch(h->st, TL_BATCH_TX);
    host_lua_step(&h->lua, h->now, &lua_dl, &stop);
    tl_stack_batch(h->st, 0);
    if (stop) {
      h->stopping = 1;
      ev_break(h->loop, EVBREAK_ALL);
      return;
    }
    tl_stack_poll(h->st, h->now);
    if (!tl_stack_pending_events(h->st)) break;
  }
  int64_t dl = earliest(tl_stack_deadline(h->st), lua_dl);
  /* Events left after the bounded rounds: come back at once, after the
   * loop has looked at the TUN and the signals. */
  if (tl_stack_pending_events(h->st)) dl = h->now;
  ev_timer_stop(h->loop, &h->timer);
  if (dl >= 0) {
    double after = (double)(dl - h->now) / 1e6;
    ev_timer_set(&h->timer, after > 0 ? after : 0.0, 0.0);
    ev_timer_start(h->loop, &h->timer);
  }
}

static void on_tun(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  struct host *h = w->data;
  h->now = host_now_us(h);
  tl_stack_batch(h->st, TL_BATCH_RX); /* one ACK per connection per batch; service() polls them out */
  for (int i = 0; i < HOST_RX_BATCH; i++) {
    /* While segment hooks hold inbound datagrams, read straight into a
     * hook slot: the queue then takes the datagram without a copy. */
    uint8_t *rx = tl_hook_rx_buf(h->st, sizeof h->rx);
    if (!rx) rx = h->rx;
    ssize_t n = read(h->tun_fd, rx, sizeof h->rx);
    if (n < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) break;
      h->counters[HC_host_tun_rx_error]++;
      if (e == ENOBUFS || e == ENOMEM) break;
      /* EBADFD and friends: the device was deleted under us. The fd
       * would stay readable forever; end the run instead of spinning. */
      fprintf(stderr, "tcplua: reading the TUN failed: %s -- was the device removed?\n", strerror(e));
      h->exit_code = 1;
      h->stopping = 1;
      ev_break(h->loop, EVBREAK_ALL);
      return;
    }
    if (n == 0) break;
    h->counters[HC_host_tun_rx]++;
    uint8_t *pkt = rx;
    int partial = 0;
    if (h->vnet) {
      if (n < HOST_VNET_HDR_LEN) continue;
      pkt += HOST_VNET_HDR_LEN;
      n -= HOST_VNET_HDR_LEN;
      /* A partial checksum is trusted only on the direct path; datagrams
       * the impairment copies get it completed. The segment-hook queue
       * keeps the flag per held datagram (core/link/hook.c) and drops it when
       * a hook changes the bytes, so it needs no completion. */
      int direct = !tl_hook_impair(h->st, 0);
      partial = host_offload_rx(rx, pkt, (size_t)n, !direct) == 1 && direct;
    }
    tl_stack_input_flags(h->st, pkt, (size_t)n, h->now, partial ? TL_RX_CSUM_PARTIAL : 0);
  }
  tl_stack_batch(h->st, 0);
  host_service(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  struct host *h = w->data;
  /* A timer may fire a hair before the deadline we computed in us. */
  ev_now_update(loop);
  h->now = host_now_us(h);
  host_service(h);
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents) {
  (void)revents;
  struct host *h = w->data;
  h->stopping = 1;
  ev_break(loop, EVBREAK_ALL);
}

int host_loop_init(struct host *h) {
  h->loop = ev_loop_new(EVFLAG_AUTO);
  if (!h->loop) return -1;
  /* SIGINT/SIGTERM are taken by the watchdog thread (host_watchdog.c),
   * which wakes the loop here: a signal while the device is being set up
   * or the script's top level runs ends the run once the loop starts. */
  ev_async_init(&h->stop_async, on_stop);
  h->stop_async.data = h;
  ev_async_start(h->loop, &h->stop_async);
  ev_init(&h->timer, on_timer);
  h->timer.data = h;
  return 0;
}

void host_loop_run(struct host *h) {
  ev_io_init(&h->tun_io, on_tun, h->tun_fd, EV_READ);
  h->tun_io.data = h;
  ev_io_start(h->loop, &h->tun_io);
  /* The script may have opened sockets or set timers: first service now,
   * unless a signal came in meanwhile. */
  ev_run(h->loop, EVRUN_NOWAIT);
  if (!h->stopping) {
    ev_now_update(h->loop);
    h->now = host_now_us(h);
    host_service(h);
  }
  if (!h->stopping) ev_run(h->loop, 0);
  ev_io_stop(h->loop, &h->tun_io);
  ev_timer_stop(h->loop, &h->timer);
}

void host_loop_close(struct host *h) {
  if (!h->loop) return;
  ev_async_stop(h->loop, &h->stop_async);
  ev_loop_destroy(h->loop);
  h->loop = NULL;
}
