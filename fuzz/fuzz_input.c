/* libFuzzer target for the input path: IPv4 validation, reassembly, ICMP,
 * TCP demux, the listener and an ESTABLISHED connection.
 *
 * Each run builds a fresh stack with a listener on port 7 and one
 * connection accepted through a real handshake (fed through
 * tl_stack_input), then replays the fuzzer's input as records:
 *
 *   [2 bytes big-endian: control][len bytes: an IPv4 datagram]
 *
 *   control bits 0-10  len (records past the input's end are cut short)
 *   bit 11             no datagram: an application step instead, chosen by
 *                      len & 7 (send a little, send a lot, shut down, close,
 *                      shrink the receive buffer, active open, toggle
 *                      Nagle, jump the clock a minute)
 *   bit 12             advance the clock 1.5 s before this record (RTO,
 *                      delayed ACK, TIME-WAIT and reassembly timers fire)
 *   bit 13             recompute the IP and TCP checksums
 *   bit 14             patch seq/ack into the connection's windows (the
 *                      actively opened one for segments to its port)
 *   bit 15             patch the IP header and ports toward the connection
 *                      (implies bit 13)
 *
 * so mutations of a few bits reach deep TCB states instead of bouncing off
 * checksums and the demux. Between records the clock moves 10 ms and the
 * stack is polled; events are drained, data read, new connections
 * accepted. tl_stack_free at the end lets LeakSanitizer find leaks.
 * The TCP entry points are weak so this still links against the TCP stub. */
#include <stdint.h>
#include <string.h>

#include "tcplua.h"
#include "tcp_wire.h"

#pragma weak tl_listen
#pragma weak tl_accept
#pragma weak tl_send
#pragma weak tl_recv
#pragma weak tl_close
#pragma weak tl_abort
#pragma weak tl_sock_info
#pragma weak tl_shutdown
#pragma weak tl_setopt
#pragma weak tl_connect
#pragma weak tl_getopt

enum { PEER_PORT = 40000, LISTEN_PORT = 7, ACTIVE_PORT = 41000, MAX_ACCEPTED = 16 };

struct harness {
  uint8_t last[2048]; /* the latest datagram the stack sent */
  size_t last_len;
  uint64_t sent;
};

static int out_cb(void *ctx, const uint8_t *pkt, size_t len) {
  struct harness *h = ctx;
  h->last_len = len < sizeof h->last ? len : sizeof h->last;
  memcpy(h->last, pkt, h->last_len);
  h->sent++;
  return 0;
}

static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  wr16(p, (uint16_t)(v >> 16));
  wr16(p + 2, (uint16_t)v);
}
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A 20-byte IPv4 header for a TCP datagram of total length len. */
static void ip_header(uint8_t *p, size_t len, uint32_t src, uint32_t dst) {
  memset(p, 0, 20);
  p[0] = 0x45;
  wr16(p + 2, (uint16_t)len);
  wr16(p + 6, 0x4000);
  p[8] = 64;
  p[9] = 6;
  wr32(p + 12, src);
  wr32(p + 16, dst);
  wr16(p + 10, tl_csum(p, 20));
}

static void fix_checksums(uint8_t *pkt, size_t len) {
  if (len < 20) return;
  size_t ihl = (size_t)(pkt[0] & 15) * 4;
  if (ihl < 20 || ihl > len) return;
  wr16(pkt + 10, 0);
  wr16(pkt + 10, tl_csum(pkt, ihl));
  if (pkt[9] == 6 && len - ihl >= 20) tl_tcp_checksum(pkt + ihl, len - ihl, rd32(pkt + 12), rd32(pkt + 16));
}

static void send_seg(tl_stack *st, uint32_t src, uint32_t dst, const struct tl_tcp_hdr *h, int64_t now) {
  uint8_t pkt[128];
  size_t hl = tl_tcp_build(pkt + 20, h);
  tl_tcp_checksum(pkt + 20, hl, src, dst);
  ip_header(pkt, 20 + hl, src, dst);
  tl_stack_input(st, pkt, 20 + hl, now);
}

static tl_sock *handshake(tl_stack *st, struct harness *hs, tl_sock *l, uint32_t peer, uint32_t self, int64_t now) {
  struct tl_tcp_hdr h;
  memset(&h, 0, sizeof h);
  h.sport = PEER_PORT;
  h.dport = LISTEN_PORT;
  h.seq = 1000;
  h.flags = TL_TH_SYN;
  h.win = 65535;
  h.opt.has_mss = 1;
  h.opt.mss = 1460;
  h.opt.has_wscale = 1;
  h.opt.wscale = 7;
  h.opt.sack_ok = 1;
  h.opt.has_ts = 1;
  h.opt.ts_val = 1;
  hs->last_len = 0;
  send_seg(st, peer, self, &h, now);
  if (hs->last_len < 40) return NULL;
  struct tl_tcp_hdr r;
  size_t ihl = (size_t)(hs->last[0] & 15) * 4;
  if (tl_tcp_parse_nocsum(hs->last + ihl, hs->last_len - ihl, &r) != TL_TCP_OK) return NULL;
  if (r.flags != (TL_TH_SYN | TL_TH_ACK)) return NULL;
  h.flags = TL_TH_ACK;
  h.seq = 1001;
  h.ack = r.seq + 1;
  h.opt.ts_val = 2;
  h.opt.ts_ecr = r.opt.ts_val;
  h.win = 512; /* scaled by 2^7 */
  send_seg(st, peer, self, &h, now);
  return tl_accept(l);
}

/* active: the connection app_step opened with tl_connect (port ACTIVE_PORT),
 * the target of seq/ack patching for segments addressed to that port. */
static void patch(uint8_t *pkt, size_t len, unsigned ctl, tl_sock *conn, tl_sock *active, uint32_t peer,
                  uint32_t self) {
  if ((ctl & 0x8000) && len >= 40) {
    ip_header(pkt, len, peer, self);
    wr16(pkt + 20, PEER_PORT);
    wr16(pkt + 22, LISTEN_PORT);
    if ((pkt[32] >> 4) < 5) pkt[32] = (uint8_t)(0x50 | (pkt[32] & 15));
  }
  if ((ctl & 0x4000) && conn && tl_sock_info && len >= 40) {
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl >= 20 && len >= ihl + 20) {
      if (active && (pkt[ihl + 2] << 8 | pkt[ihl + 3]) == ACTIVE_PORT) conn = active;
      tl_tcp_info info;
      if (tl_sock_info(conn, &info) == 0) {
        uint8_t *t = pkt + ihl;
        /* seq: near rcv_nxt (-128..127); ack: within [snd_una, snd_nxt]. */
        uint32_t seq = info.rcv_nxt + (uint32_t)(int32_t)(int8_t)t[7];
        uint32_t span = info.snd_nxt - info.snd_una + 1;
        uint32_t ack = info.snd_una + (span ? rd32(t + 8) % span : 0);
        wr32(t + 4, seq);
        wr32(t + 8, ack);
      }
    }
  }
  if (ctl & 0xa000) fix_checksums(pkt, len);
}

/* What an application might do between segments, so the fuzzer also
 * reaches states the peer alone cannot cause (FIN-WAIT, SYN-SENT, full send
 * buffer, small receive window). Returns the new clock. */
static int64_t app_step(tl_stack *st, unsigned action, tl_sock **conn, tl_sock **active, tl_sock **extra,
                        int *nextra, uint32_t peer, int64_t now) {
  static const uint8_t chunk[1024] = {'f', 'u', 'z', 'z'};
  tl_sock *c = *conn;
  switch (action & 7) {
  case 0:
    if (c && tl_send) tl_send(c, chunk, 100, now);
    break;
  case 1:
    for (int k = 0; c && tl_send && k < 64; k++)
      if (tl_send(c, chunk, sizeof chunk, now) <= 0) break;
    break;
  case 2:
    if (c && tl_shutdown) tl_shutdown(c, now);
    break;
  case 3:
    if (c) tl_close(c, now);
    *conn = NULL;
    break;
  case 4:
    if (c && tl_setopt) tl_setopt(c, TL_OPT_RCVBUF, 2048);
    break;
  case 5:
    if (tl_connect && *nextra < MAX_ACCEPTED) {
      int err = 0;
      /* a fixed port, so inputs can answer it (a second one fails: in use) */
      tl_sock *a = tl_connect(st, peer, 9999, ACTIVE_PORT, now, &err);
      if (a) {
        extra[(*nextra)++] = a;
        if (!*active) *active = a;
      }
    }
    break;
  case 6:
    if (c && tl_setopt) tl_setopt(c, TL_OPT_NODELAY, !(tl_getopt ? tl_getopt(c, TL_OPT_NODELAY) : 0));
    break;
  case 7:
    now += 60 * 1000000LL;
    tl_stack_poll(st, now);
    break;
  }
  return now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct harness hs;
  memset(&hs, 0, sizeof hs);
  tl_config cfg;
  tl_config_default(&cfg);
  cfg.seed = 42;
  tl_stack *st = tl_stack_new(&cfg, out_cb, &hs);
  if (!st) return 0;
  const uint32_t self = cfg.addr, peer = cfg.host;
  int64_t now = 1000000;

  int have_tcp = tl_listen && tl_accept && tl_close;
  tl_sock *l = NULL, *conn = NULL, *active = NULL;
  tl_sock *accepted[MAX_ACCEPTED];
  int naccepted = 0;
  if (have_tcp) {
    int err = 0;
    l = tl_listen(st, LISTEN_PORT, 8, &err);
    if (l) conn = handshake(st, &hs, l, peer, self, now);
    if (conn && tl_send) tl_send(conn, (const uint8_t *)"hello, fuzzer\n", 14, now);
  }

  uint8_t pkt[2048];
  size_t i = 0;
  while (i + 2 <= size) {
    unsigned ctl = (unsigned)data[i] << 8 | data[i + 1];
    i += 2;
    if (ctl & 0x0800) {
      now = app_step(st, ctl, &conn, &active, accepted, &naccepted, peer, now);
      continue;
    }
    size_t len = ctl & 0x07ff;
    if (len > size - i) len = size - i;
    memcpy(pkt, data + i, len);
    i += len;
    if (ctl & 0x1000) {
      now += 1500000;
      tl_stack_poll(st, now);
    }
    patch(pkt, len, ctl, conn, active, peer, self);
    tl_stack_input(st, pkt, len, now);

    now += 10000;
    tl_stack_poll(st, now);
    tl_event ev;
    for (int k = 0; k < 64 && tl_next_event(st, &ev); k++) {
    }
    if (conn && tl_recv) {
      uint8_t buf[2048];
      for (int k = 0; k < 8 && tl_recv(conn, buf, sizeof buf, now) > 0; k++) {
      }
    }
    if (l) {
      tl_sock *c;
      while (naccepted < MAX_ACCEPTED && (c = tl_accept(l)) != NULL) accepted[naccepted++] = c;
    }
  }

  /* Close everything, let the closes run a little, then free. */
  for (int k = 0; k < naccepted; k++) {
    if ((k & 1) && tl_abort)
      tl_abort(accepted[k], now);
    else
      tl_close(accepted[k], now);
  }
  if (conn) tl_close(conn, now);
  if (l) tl_close(l, now);
  tl_stack_poll(st, now + 1000);
  tl_stack_free(st);
  return 0;
}
