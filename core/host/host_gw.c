/* tcplua --gateway: two TUNs, side a and side b, each made (and
 * configured) in its own network namespace when asked; the stack forwards
 * between them (core/fwd/, api_fwd.h). A TUN's fd keeps working in the
 * namespace it was made in, so the loop reads both from ours. docs/gateway.md. */
#include "host_gw.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host_netlink.h"
#include "host_offload.h"
#include "host_tun.h"
#include "ipv4_wire.h"
#include "tcp_wire.h"

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint16_t get16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* The gateway's own address on a side: its network's first host, or the
 * second when the endpoint took the first. */
static uint32_t gw_own_addr(uint32_t addr, uint8_t prefix) {
  uint32_t net = addr & (~0u << (32 - prefix));
  return net + 1 == addr ? net + 2 : net + 1;
}

/* Enters namespace ns (ip netns names it under /run/netns); *back gets
 * ours to return to. -1 with err. */
static int enter_ns(const char *ns, int *back, char *err, size_t errlen) {
  char path[256];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen,
             "network namespace %s: %s (make it with: ip netns add %s, or scripts/netns gateway up)", ns,
             strerror(errno), ns);
    return -1;
  }
  *back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*back < 0 || setns(fd, CLONE_NEWNET) < 0) {
    snprintf(err, errlen, "entering network namespace %s: %s (needs root)", ns, strerror(errno));
    close(fd);
    if (*back >= 0) close(*back);
    return -1;
  }
  close(fd);
  return 0;
}

/* One side's TUN, made and configured in its namespace: the endpoint's
 * address, the MTU, up, and a route to the other side's network. */
static int open_side(struct host *h, const struct host_opts *o, int d, char *err, size_t errlen) {
  int back = -1;
  if (o->gw_ns[d] && enter_ns(o->gw_ns[d], &back, err, errlen) < 0) return -1;
  char ifname[IFNAMSIZ];
  int r = -1;
  int fd = host_tun_open_vnet(o->gw_dev[d], 0, !o->no_offload, ifname, err, errlen);
  if (fd < 0) goto out;
  h->gw_fd[d] = fd;
  if (!o->no_offload) h->gw_tso[d] = host_offload_enable(fd, o->quiet);
  if (host_netlink_configure(ifname, o->gw_addr[d], o->gw_prefix[d], NULL, 0, o->gw_mtu[d], err, errlen) < 0 ||
      host_netlink_route(ifname, o->gw_addr[!d], o->gw_prefix[!d], err, errlen) < 0)
    goto out;
  r = 0;
out:
  if (back >= 0) {
    if (setns(back, CLONE_NEWNET) < 0 && r == 0) {
      snprintf(err, errlen, "returning to our network namespace: %s", strerror(errno));
      r = -1;
    }
    close(back);
  }
  return r;
}

int host_gw_open(struct host *h, const struct host_opts *o) {
  char err[512];
  h->gw = 1;
  h->vnet = !o->no_offload;
  for (int d = 0; d < 2; d++) {
    if (open_side(h, o, d, err, sizeof err) < 0) {
      fprintf(stderr, "tcplua: --gateway side %c: %s\n", 'a' + d, err);
      return -1;
    }
  }
  h->gw_offload = 1;
  return 0;
}

void host_gw_config(const struct host_opts *o, tl_gw_config *c) {
  memset(c, 0, sizeof *c);
  for (int d = 0; d < 2; d++) {
    c->prefix[d] = o->gw_prefix[d];
    c->net[d] = o->gw_addr[d] & (~0u << (32 - o->gw_prefix[d]));
    c->addr[d] = gw_own_addr(o->gw_addr[d], o->gw_prefix[d]);
    c->mtu[d] = o->gw_mtu[d];
  }
}

/* The virtio header for what the forwarder says of a datagram
 * (virtio 1.x 5.1.6: csum_start/offset, GSO type and size). */
static void vnet_hdr(uint8_t *vh, const uint8_t *pkt, size_t len, const tl_gw_off *off) {
  memset(vh, 0, HOST_VNET_HDR_LEN);
  if (!off || len < 20) return;
  size_t ihl = (size_t)(pkt[0] & 15) * 4;
  if (off->csum_partial && (pkt[9] == TL_PROTO_TCP || pkt[9] == TL_PROTO_UDP)) {
    vh[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    put16(vh + 6, (uint16_t)ihl);
    put16(vh + 8, pkt[9] == TL_PROTO_TCP ? 16 : 6);
  }
  if (off->gso_size && pkt[9] == TL_PROTO_TCP && len >= ihl + 20) {
    vh[1] = VIRTIO_NET_HDR_GSO_TCPV4;
    put16(vh + 2, (uint16_t)(ihl + tl_tcp_view_hdr_len(pkt + ihl)));
    put16(vh + 4, off->gso_size);
  }
}

int host_gw_out(void *ctx, int side, const uint8_t *pkt, size_t len, const tl_gw_off *off) {
  struct host *h = ctx;
  int fd = h->gw_fd[side ? 1 : 0];
  ssize_t n;
  if (h->vnet) {
    uint8_t vh[HOST_VNET_HDR_LEN];
    vnet_hdr(vh, pkt, len, off);
    struct iovec iov[2] = {{vh, sizeof vh}, {(void *)(uintptr_t)pkt, len}};
    n = writev(fd, iov, 2);
    if (n > 0) n -= (ssize_t)sizeof vh;
  } else {
    n = write(fd, pkt, len);
  }
  return host_tun_written(h, n, len);
}

/* Offloads follow the boundary: with hooks, an impairment or a capture
 * the kernels hand over wire-sized segments (so each is judged as the
 * wire carries it); with nothing there, super-packets pass whole. */
static void offload_follow(struct host *h) {
  int want = tl_gw_offload_ok(h->st);
  if (want == h->gw_offload || !h->vnet) return;
  for (int d = 0; d < 2; d++)
    if (h->gw_tso[d]) ioctl(h->gw_fd[d], TUNSETOFFLOAD, want ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0u);
  h->gw_offload = want;
}

static void read_side(struct host *h, int d) {
  for (int i = 0; i < HOST_RX_BATCH; i++) {
    /* While hooks hold datagrams, read straight into a hook slot (the
     * queue then takes it without a copy), as host_loop.c does. */
    uint8_t *rx = tl_hook_rx_buf(h->st, sizeof h->rx);
    if (!rx) rx = h->rx;
    ssize_t n = read(h->gw_fd[d], rx, sizeof h->rx);
    if (n < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return;
      h->counters[HC_host_tun_rx_error]++;
      if (e == ENOBUFS || e == ENOMEM) return;
      fprintf(stderr, "tcplua: reading side %c's TUN failed: %s -- was the device or namespace removed?\n",
              'a' + d, strerror(e));
      h->exit_code = 1;
      h->stopping = 1;
      ev_break(h->loop, EVBREAK_ALL);
      return;
    }
    if (n == 0) return;
    h->counters[HC_host_tun_rx]++;
    uint8_t *pkt = rx;
    tl_gw_off off = {0, 0, 0};
    if (h->vnet) {
      if (n < HOST_VNET_HDR_LEN) continue;
      uint8_t *vh = rx;
      pkt += HOST_VNET_HDR_LEN;
      n -= HOST_VNET_HDR_LEN;
      off.csum_partial = (vh[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
      uint8_t gt = vh[1] & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
      if (gt == VIRTIO_NET_HDR_GSO_TCPV4) {
        off.gso_size = get16(vh + 4);
      } else if (gt != VIRTIO_NET_HDR_GSO_NONE) {
        h->counters[HC_host_gw_gso_drop]++;
        continue;
      }
    }
    tl_gw_input(h->st, d, pkt, (size_t)n, h->now, off.gso_size || off.csum_partial ? &off : NULL);
  }
}

static void on_side(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  struct host *h = w->data;
  h->now = host_now_us(h);
  read_side(h, w == &h->gw_io[1]);
  host_service(h);
  offload_follow(h);
}

void host_gw_run(struct host *h) {
  for (int d = 0; d < 2; d++) {
    ev_io_init(&h->gw_io[d], on_side, h->gw_fd[d], EV_READ);
    h->gw_io[d].data = h;
    ev_io_start(h->loop, &h->gw_io[d]);
  }
  ev_run(h->loop, EVRUN_NOWAIT);
  if (!h->stopping) {
    ev_now_update(h->loop);
    h->now = host_now_us(h);
    host_service(h);
    offload_follow(h);
  }
  if (!h->stopping) ev_run(h->loop, 0);
  for (int d = 0; d < 2; d++)
    ev_io_stop(h->loop, &h->gw_io[d]);
  ev_timer_stop(h->loop, &h->timer);
}

void host_gw_close(struct host *h) {
  for (int d = 0; d < 2; d++)
    if (h->gw_fd[d] > 0) close(h->gw_fd[d]);
}
