/* The TUN ceiling: the least a TCP sender on a TUN device can do, to
 * measure what the TUN character device itself allows for bulk send.
 *
 *   tlb_tunsend -d DEV -k KADDR/PREFIX -a ADDR -p PORT -t SECS [-o on|off]
 *
 * Creates TUN device DEV (kernel side KADDR/PREFIX, MTU 1500, queue 4096,
 * configured with plain ioctls), answers the first SYN for ADDR:PORT,
 * then sends a pre-built payload as fast as the peer's receive window
 * allows until the peer closes or -t runs out:
 *   -o on  (default): IFF_VNET_HDR + TUNSETOFFLOAD, 64 KB GSO_TCPV4 +
 *          NEEDS_CSUM super-segments, one writev (virtio header + IP/TCP
 *          header, payload) each, the TCP checksum left to the kernel;
 *   -o off: one MSS-sized datagram per write, the checksum completed from
 *          the payload's sum, computed once.
 * No congestion control, no retransmission, no timestamps or SACK: ACKs
 * are read (non-blocking, until EAGAIN) only to move the window. Anything
 * lost (three duplicate ACKs, or no progress for 1 s) ends the run with
 * error=. The kernel receiver is `tlb_bulk recv -H ADDR -p PORT`, as for
 * tcplua's bulk-send figure.
 * Prints: bytes=N secs=S gbps=G writes=W wnd_waits=X full_waits=Y: bytes
 * the peer acknowledged, and how often the sender waited for the peer's
 * window to open or for the TUN to take a write. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE = "tlb_tunsend -d DEV -k KADDR/PREFIX -a ADDR -p PORT -t SECS [-o on|off]";

#define VNET_LEN 10  /* struct virtio_net_hdr without num_buffers */
#define MTU 1500
#define MSS (MTU - 40) /* no TCP options on data segments */
#define SEGS_TSO 44    /* 44 * 1460 + 40 <= 65535 */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

struct conn {
  int fd, tso;
  uint32_t laddr, raddr; /* network byte order */
  uint16_t lport, rport; /* network byte order */
  uint32_t snd_una, snd_nxt, wnd_edge, rcv_nxt;
  uint32_t last_ack, last_wnd;
  unsigned long long acked; /* bytes, past the 32-bit sequence space */
  int wscale, dupacks, closed;
  uint16_t ip_id;
  const char *error;
};

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s) {
  for (; len > 1; p += 2, len -= 2) s += (uint32_t)(p[0] << 8 | p[1]);
  if (len) s += (uint32_t)(p[0] << 8);
  return s;
}
static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

/* Pseudo-header sum (RFC 9293 3.1) of a TCP segment of tcplen bytes. */
static uint32_t pseudo(const struct conn *c, size_t tcplen) {
  uint32_t s = sum16((const uint8_t *)&c->laddr, 4, 0);
  s = sum16((const uint8_t *)&c->raddr, 4, s);
  return s + 6 + (uint32_t)tcplen;
}

/* IPv4 + TCP header at h (thl bytes of TCP header, options already there)
 * for a segment of paylen bytes. With csum_partial the TCP checksum field
 * holds the pseudo-header sum for the kernel to finish (virtio NEEDS_CSUM,
 * the whole length even under GSO, as Linux's own TSO); otherwise the
 * complete checksum, with paysum the payload's precomputed sum. */
static void build(struct conn *c, uint8_t *h, size_t thl, uint8_t flags, uint32_t seq, size_t paylen,
                  int csum_partial, uint32_t paysum) {
  size_t tot = 20 + thl + paylen;
  h[0] = 0x45, h[1] = 0;
  put16(h + 2, (uint16_t)tot);
  put16(h + 4, c->ip_id);
  c->ip_id = (uint16_t)(c->ip_id + (paylen + MSS - 1) / MSS + (paylen == 0));
  put16(h + 6, 0x4000); /* DF */
  h[8] = 64, h[9] = 6;
  put16(h + 10, 0);
  memcpy(h + 12, &c->laddr, 4);
  memcpy(h + 16, &c->raddr, 4);
  put16(h + 10, (uint16_t)~fold(sum16(h, 20, 0)));
  uint8_t *t = h + 20;
  memcpy(t, &c->lport, 2);
  memcpy(t + 2, &c->rport, 2);
  put32(t + 4, seq);
  put32(t + 8, c->rcv_nxt);
  t[12] = (uint8_t)(thl / 4 << 4), t[13] = flags;
  put16(t + 14, 65535); /* we receive nothing: any window will do */
  put16(t + 16, 0), put16(t + 18, 0);
  uint32_t s = pseudo(c, thl + paylen);
  if (csum_partial) put16(t + 16, fold(s));
  else put16(t + 16, (uint16_t)~fold(sum16(t, thl, s) + paysum));
}

/* One datagram (no payload) out: SYN-ACK or RST. */
static void send_ctl(struct conn *c, uint8_t flags, uint32_t seq) {
  uint8_t b[VNET_LEN + 20 + 28] = {0};
  uint8_t *h = b + (c->tso ? VNET_LEN : 0);
  size_t thl = 20;
  if ((flags & F_SYN) && c->wscale >= 0) {
    /* MSS (RFC 9293 3.7.1), window scale (RFC 7323 2.2: only if the SYN had it) */
    uint8_t *o = h + 40;
    o[0] = 2, o[1] = 4, put16(o + 2, MSS);
    o[4] = 1, o[5] = 3, o[6] = 3, o[7] = 7;
    thl = 28;
  }
  build(c, h, thl, flags, seq, 0, 0, 0);
  size_t len = (size_t)(h - b) + 20 + thl;
  if (write(c->fd, b, len) != (ssize_t)len) perror("tlb_tunsend: write");
}

static int ioctl_if(int s, unsigned long req, struct ifreq *ifr, const char *what) {
  if (ioctl(s, req, ifr) == 0) return 0;
  fprintf(stderr, "tlb_tunsend: %s: %s\n", what, strerror(errno));
  return -1;
}

/* TUN device up with kaddr/prefix on the kernel side. */
static int open_tun(const char *dev, const char *kspec, int tso) {
  char a[32];
  snprintf(a, sizeof a, "%s", kspec);
  char *slash = strchr(a, '/');
  int prefix = slash ? atoi(slash + 1) : 24;
  if (slash) *slash = 0;
  struct in_addr ka;
  if (inet_pton(AF_INET, a, &ka) != 1 || prefix < 1 || prefix > 30) {
    fprintf(stderr, "tlb_tunsend: bad -k %s\n", kspec);
    return -1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) tlb_die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (tso ? IFF_VNET_HDR : 0));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) tlb_die("TUNSETIFF");
  if (tso && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) tlb_die("TUNSETOFFLOAD");
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) tlb_die("socket");
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = ka};
  int rc = 0;
  ifr.ifr_mtu = MTU;
  rc |= ioctl_if(s, SIOCSIFMTU, &ifr, "SIOCSIFMTU");
  ifr.ifr_qlen = 4096; /* as tcplua (core/host/host_netlink.c) */
  rc |= ioctl_if(s, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN");
  memcpy(&ifr.ifr_addr, &sin, sizeof sin);
  rc |= ioctl_if(s, SIOCSIFADDR, &ifr, "SIOCSIFADDR");
  sin.sin_addr.s_addr = htonl(~0u << (32 - prefix));
  memcpy(&ifr.ifr_netmask, &sin, sizeof sin);
  rc |= ioctl_if(s, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK");
  rc |= ioctl_if(s, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  rc |= ioctl_if(s, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
  close(s);
  if (rc) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Window scale shift from a SYN's options (RFC 7323 2.2), or -1. */
static int syn_wscale(const uint8_t *o, size_t len) {
  for (size_t i = 0; i < len;) {
    if (o[i] == 0) break;
    if (o[i] == 1) { i++; continue; }
    if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len) break;
    if (o[i] == 3 && o[i + 1] == 3) return o[i + 2] > 14 ? 14 : o[i + 2];
    i += o[i + 1];
  }
  return -1;
}

/* One datagram from the kernel. Returns 1 for a SYN that opened c. */
static int input(struct conn *c, const uint8_t *p, size_t n, int listening) {
  if (c->tso) {
    if (n < VNET_LEN) return 0;
    p += VNET_LEN, n -= VNET_LEN;
  }
  if (n < 40 || p[0] >> 4 != 4 || p[9] != 6) return 0;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  if (ihl < 20 || n < ihl + 20 || memcmp(p + 16, &c->laddr, 4)) return 0;
  const uint8_t *t = p + ihl;
  size_t thl = (size_t)(t[12] >> 4) * 4;
  if (thl < 20 || n < ihl + thl || memcmp(t + 2, &c->lport, 2)) return 0;
  uint8_t fl = t[13];
  if (listening) {
    if ((fl & (F_SYN | F_ACK | F_RST)) != F_SYN) return 0;
    memcpy(&c->raddr, p + 12, 4);
    memcpy(&c->rport, t, 2);
    c->rcv_nxt = get32(t + 4) + 1;
    c->wscale = syn_wscale(t + 20, thl - 20);
    c->wnd_edge = c->snd_una + 1 + get16(t + 14); /* unscaled in a SYN (RFC 7323 2.2) */
    return 1;
  }
  if (memcmp(p + 12, &c->raddr, 4) || memcmp(t, &c->rport, 2)) return 0;
  if (fl & F_SYN) return 0; /* a retransmitted SYN: its SYN-ACK is on the way */
  if (fl & F_RST) {
    c->closed = 1;
    return 0;
  }
  if (fl & F_FIN) c->closed = 1; /* its ACK still counts */
  if (!(fl & F_ACK)) return 0;
  uint32_t ack = get32(t + 8);
  uint32_t wnd = (uint32_t)get16(t + 14) << (c->wscale < 0 ? 0 : c->wscale);
  int data = n > ihl + thl;
  if (seq_lt(c->snd_nxt, ack)) {
    c->error = "the peer acknowledged data never sent";
    return 0;
  }
  /* Duplicate ACK (RFC 5681 2): the receiver saw a hole, i.e. a loss. */
  if (ack == c->last_ack && wnd == c->last_wnd && !data && c->snd_nxt != c->snd_una) {
    if (++c->dupacks >= 3) c->error = "lost: three duplicate ACKs (this tool does not retransmit)";
  } else {
    c->dupacks = 0;
  }
  c->last_ack = ack, c->last_wnd = wnd;
  if (seq_lt(c->snd_una, ack)) c->acked += ack - c->snd_una, c->snd_una = ack;
  if (!seq_lt(ack, c->snd_una) && seq_lt(c->wnd_edge, ack + wnd)) c->wnd_edge = ack + wnd;
  return 0;
}

/* SYN in, SYN-ACK out, its ACK in (RFC 9293 3.5). Returns 0 once
 * established, -1 if the deadline passed first. */
static int handshake(struct conn *c, uint8_t *rx, size_t rxlen, double deadline) {
  int synced = 0;
  while (tlb_now() < deadline) {
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    if (poll(&pf, 1, 100) <= 0) continue;
    ssize_t n;
    while ((n = read(c->fd, rx, rxlen)) > 0) {
      if (!synced && input(c, rx, (size_t)n, 1)) {
        send_ctl(c, F_SYN | F_ACK, c->snd_una);
        c->snd_nxt = c->snd_una + 1;
        synced = 1;
      } else if (synced) {
        input(c, rx, (size_t)n, 0);
        if (c->snd_una == c->snd_nxt) return 0;
      }
    }
  }
  return -1;
}

struct result {
  unsigned long long writes, wnd_waits, full_waits;
  double secs; /* first write to the last ACK that moved snd_una */
  const char *error;
};

/* Sends the payload, a whole segment at a time, until the peer closes or
 * the deadline; ACKs only move the window. */
static void blast(struct conn *c, uint8_t *rx, size_t rxlen, double deadline, struct result *r) {
  size_t seg = c->tso ? (size_t)SEGS_TSO * MSS : MSS;
  uint8_t *payload = malloc(seg);
  if (!payload) tlb_die("malloc");
  for (size_t i = 0; i < seg; i++) payload[i] = (uint8_t)(' ' + i % 95);
  uint32_t paysum = c->tso ? 0 : sum16(payload, seg, 0);
  uint8_t head[VNET_LEN + 40] = {0};
  uint8_t *ip = head + (c->tso ? VNET_LEN : 0);
  if (c->tso) { /* virtio 1.x 5.1.6: the kernel cuts and checksums */
    head[0] = 1; /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
    head[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
    uint16_t v[4] = {40, MSS, 20, 16}; /* hdr_len, gso_size, csum_start, csum_offset: native order */
    memcpy(head + 2, v, sizeof v);
  }
  struct iovec iov[2] = {{head, (size_t)(ip - head) + 40}, {payload, seg}};
  double t0 = tlb_now(), t_progress = t0;
  uint32_t una_seen = c->snd_una;
  for (unsigned iter = 0;; iter++) {
    ssize_t n;
    while ((n = read(c->fd, rx, rxlen)) > 0) input(c, rx, (size_t)n, 0);
    if (n < 0 && errno != EAGAIN && errno != EINTR) tlb_die("read");
    if (c->error || c->closed) break;
    if ((iter & 63) == 0 || c->snd_una != una_seen) {
      double now = tlb_now();
      if (c->snd_una != una_seen) una_seen = c->snd_una, r->secs = now - t0, t_progress = now;
      if (now >= deadline) break;
      if (c->snd_nxt == c->snd_una) t_progress = now;
      if (now - t_progress > 1.0) {
        r->error = "lost: no ACK progress for 1 s (this tool does not retransmit)";
        break;
      }
    }
    uint32_t room = seq_lt(c->wnd_edge, c->snd_nxt) ? 0 : c->wnd_edge - c->snd_nxt;
    /* A whole super-segment at a time; less only with nothing in flight. */
    size_t len = room >= seg ? seg : (c->snd_nxt == c->snd_una ? room / MSS * MSS : 0);
    if (len == 0) {
      r->wnd_waits++;
      struct pollfd pf = {.fd = c->fd, .events = POLLIN};
      poll(&pf, 1, 10);
      continue;
    }
    build(c, ip, 20, F_ACK | F_PSH, c->snd_nxt, len, c->tso, c->tso || len == seg ? paysum : sum16(payload, len, 0));
    iov[1].iov_len = len;
    ssize_t w = writev(c->fd, iov, 2);
    if (w != (ssize_t)(iov[0].iov_len + len)) {
      if (w < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
        r->full_waits++;
        struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
        poll(&pf, 1, 10);
        continue;
      }
      r->error = "short or failed write to the TUN";
      break;
    }
    r->writes++;
    c->snd_nxt += (uint32_t)len;
  }
  if (!r->error) r->error = c->error;
  free(payload);
}

int main(int argc, char **argv) {
  const char *dev = NULL, *kspec = NULL, *addr = NULL;
  int port = 0, tso = 1, opt;
  double secs = 0;
  while ((opt = getopt(argc, argv, "d:k:a:p:t:o:")) != -1) {
    switch (opt) {
    case 'd': dev = optarg; break;
    case 'k': kspec = optarg; break;
    case 'a': addr = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 't': secs = atof(optarg); break;
    case 'o': tso = !strcmp(optarg, "on"); break;
    default: fprintf(stderr, "usage: %s\n", USAGE); return 2;
    }
  }
  struct conn c = {.tso = tso, .wscale = -1};
  if (!dev || !kspec || !addr || port <= 0 || port > 65535 || !(secs > 0) || secs > 3600 ||
      strlen(dev) >= IFNAMSIZ || inet_pton(AF_INET, addr, &c.laddr) != 1) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  c.lport = htons((uint16_t)port);
  c.fd = open_tun(dev, kspec, tso);
  if (c.fd < 0) {
    printf("error=cannot set up TUN device %s\n", dev);
    return 1;
  }
  double deadline = tlb_now() + secs;
  static uint8_t rx[65536 + VNET_LEN]; /* one datagram, the largest a TUN read gives */
  c.snd_una = c.snd_nxt = 0x10000000u;
  if (handshake(&c, rx, sizeof rx, deadline) < 0) {
    printf("error=no connection within %.0f s\n", secs);
    close(c.fd);
    return 1;
  }
  c.acked = 0; /* the SYN's sequence number is no data */
  struct result r = {0};
  blast(&c, rx, sizeof rx, deadline, &r);
  if (!c.closed) send_ctl(&c, F_RST | F_ACK, c.snd_nxt);
  printf("bytes=%llu secs=%.3f gbps=%.4f writes=%llu wnd_waits=%llu full_waits=%llu%s%s\n", c.acked, r.secs,
         r.secs > 0 ? (double)c.acked * 8 / r.secs / 1e9 : 0.0, r.writes, r.wnd_waits, r.full_waits,
         r.error ? " error=" : "", r.error ? r.error : "");
  close(c.fd);
  return r.error ? 1 : 0;
}
