/* libFuzzer target for the stack as a whole: IPv4 validation, reassembly,
 * ICMP (errors quoting live connections), TCP in every state, the segment
 * hooks with every verdict, the link impairment, pcap capture, the sim
 * link, lent and urgent sends, and the offload paths (TSO scatter output,
 * rx/tx batching, GRO-sized datagrams with partial checksums).
 *
 * The world: a sim (core/sim/sim.c) with three endpoints,
 *   A   the stack under test (10.77.0.2): a listener on port 7 and, after a
 *       real handshake, one connection from the raw peer;
 *   RAW the fuzzer's peer (10.77.0.1): what A sends it queues up here,
 *       what the fuzzer crafts goes into A directly or through the sim;
 *   B   a second stack (10.77.0.3) with a listener on port 80, a real peer
 *       for bulk transfers through the sim's impairment.
 * The clock is the sim's virtual clock; nothing reads a real one.
 *
 * The input: one config byte, then a sequence of operations, each an op
 * byte (kind in the low 4 bits, flags in the high 4) and its operands. See
 * enum op and the run_* functions; fuzz/gen_seeds.lua writes a corpus in
 * this format and fuzz/README.md describes it. Records cut short by the
 * input's end read as zeros. After each operation the sim runs 10 ms:
 * events are drained, data read, connections accepted, held hook segments
 * judged by the current verdict policy.
 *
 * Oracles besides ASan/UBSan/LeakSanitizer: every datagram A emits toward
 * the raw peer parses as IPv4 (and its TCP checksum verifies unless it is
 * a TSO super-segment), as long as nothing configured may corrupt or
 * rewrite datagrams; the scatter output's pieces add up to its length;
 * SND.UNA never passes SND.NXT. Lent send buffers are freed as soon as the
 * stack says it is done with them, so a late read is a use-after-free. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcplua.h"
/* not in tcplua.h: the TCP codec, introspection and offload hooks */
#include "api_fast.h"
#include "api_tcp.h"
#include "api_timer.h"
#include "assembler.h"
#include "isn.h"
#include "ring.h"
#include "seq.h"
#include "tcp_wire.h"

enum {
  PEER_PORT = 40000,
  LISTEN_PORT = 7,
  ACTIVE_PORT = 41000,
  RAW_PORT = 9999,
  B_PORT = 80,
  MAX_SOCKS = 16,
  MAX_LENT = 8,
  MAX_BSOCKS = 8,
  MAX_OPS = 256,
  MAX_POLICY = 8,
  DGRAM_MAX = 65535,
  B_BYTES_MAX = 1 << 20, /* per run: bounds the work of bulk transfers */
  HOOK_COPIES_MAX = 512,  /* per run: extra copies hook verdicts may make */
  HOOK_REWRITES_MAX = 512, /* per run: datagrams hook verdicts may rewrite */
  EP_A = 0,
  EP_RAW = 1,
  EP_B = 2
};

#define ADDR_A ((10u << 24) | (77u << 16) | 2)
#define ADDR_RAW ((10u << 24) | (77u << 16) | 1)
#define ADDR_B ((10u << 24) | (77u << 16) | 3)
#define ADDR_ROUTER ((10u << 24) | (77u << 16) | 254)

#define CHECK(c)                                                                                               \
  do {                                                                                                         \
    if (!(c)) __builtin_trap();                                                                                \
  } while (0)

/* The operations (low 4 bits of the op byte). */
enum op {
  OP_DGRAM,  /* [sel][len16][pad]: a datagram into A; high bits: jump, fix, seq, addr */
  OP_APP,    /* [sel][action][param]: what A's application does */
  OP_SETOPT, /* [sel][opt][val24] */
  OP_TIME,   /* [exp]: run the sim 2^(exp&31) us */
  OP_HOOK,   /* [mask][n][n x 4-byte verdicts]: hooks and the verdict policy */
  OP_INJECT, /* [dir|delay][len16]: tl_hook_inject; high bits as OP_DGRAM */
  OP_IMPAIR, /* [where][11 parameter bytes] */
  OP_PCAP,   /* [b]: capture on/off, snap length */
  OP_ICMP,   /* [sel][type][code][mtu16][seqoff16][qflags] */
  OP_B,      /* [sel][action][param]: what B's application does */
  OP_LATENCY,/* [b]: the sim's one-way latency */
  OP_BATCH,  /* [b]: rx batch on/off */
  OP_WHEEL,  /* [n][t16][n x 3 bytes]: the timing wheel alone, against a model */
  OP_ASM,    /* [n][n x 3 bytes]: the out-of-order range set alone, against a bitmap */
  OP_REPLY,  /* [flags][opts][len16]: the raw peer answers the last segment A sent it */
  OP_NETEM,  /* [where][kind]: as OP_IMPAIR with netem's knobs (seed kind>>1): kind&1 ? [len][text], netem
                words through tl_impair_parse : [10 OP_IMPAIR parameter bytes][20 netem knob bytes] */
  OP__N
};

/* Config byte bits. */
enum {
  CF_OFFLOAD = 1,    /* TSO (tso_max 64 KB) and the scatter output */
  CF_PCAP = 2,       /* capture from the start */
  CF_NO_TS = 4,      /* the raw peer does not offer timestamps, A and B decline them */
  CF_NO_SACK = 8,    /* ... nor SACK (loss recovery by duplicate ACKs) */
  CF_SMALL_MTU = 16, /* MTU 576 */
  CF_SMALL_BUF = 32, /* 4 KB fixed buffers */
  CF_HOOKS = 64,     /* hooks both ways from the start (auto pass) */
  CF_NO_LOSS = 128   /* no memory for loss states (tl_tcp_set_loss_limit 0) */
};

struct lent {
  uint8_t *buf;
  uint64_t mark; /* free once tl_sock_snd_acked reaches it */
};

struct hsock {
  tl_sock *s;
  struct lent lent[MAX_LENT];
  int nlent;
  uint64_t tx, rx; /* stream offsets: what was queued, what was read */
};

struct bsock {
  tl_sock *s;
  uint64_t tx, rx;
};

struct verdict {
  uint8_t how, delay, off, val;
};

struct harness {
  tl_sim *sim;
  tl_stack *a, *b;
  int cfg;
  uint32_t mtu;
  tl_sock *listener, *blistener;
  struct hsock socks[MAX_SOCKS]; /* A's connections; [0] from the handshake */
  struct bsock bsocks[MAX_BSOCKS];
  int nbsocks;
  tl_pcap *pcap, *tap_pcap;
  int pcap_full; /* h->pcap writes to /dev/full */
  tl_pcap_tap tap;
  struct verdict policy[MAX_POLICY];
  int npolicy, nverdict;
  int autoread;
  int tainted; /* something may corrupt or rewrite datagrams: oracles off */
  int forged;  /* the fuzzer spoke for B or to B, or rewrote data: streams unchecked */
  int rx_batch;
  uint32_t b_bytes;
  uint32_t hook_copies;  /* extra copies made by verdicts so far */
  uint32_t hook_rewrites; /* datagrams verdicts changed so far */
  uint64_t vec_calls, vec_super, checked; /* for FUZZ_DEBUG */
  uint8_t last[2048]; /* the latest datagram queued for the raw peer */
  size_t last_len;
  uint32_t tsval; /* the raw peer's timestamp clock for OP_REPLY */
  uint8_t vec[DGRAM_MAX + 1]; /* the scatter output's concatenation */
  uint8_t pkt[DGRAM_MAX + 64];
  uint8_t rbuf[DGRAM_MAX + 1];
  uint8_t sbuf[4096]; /* what the applications send: the stream pattern */
};

/* ------------------------------------------------------------ input ---- */

struct in {
  const uint8_t *p;
  size_t n, i;
};

static uint8_t u8(struct in *in) { return in->i < in->n ? in->p[in->i++] : 0; }
static uint16_t u16(struct in *in) {
  uint16_t hi = u8(in);
  return (uint16_t)(hi << 8 | u8(in));
}
static uint32_t u24(struct in *in) {
  uint32_t hi = u16(in);
  return hi << 8 | u8(in);
}

static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  wr16(p, (uint16_t)(v >> 16));
  wr16(p + 2, (uint16_t)v);
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

/* A 20-byte IPv4 header for a datagram of total length len. */
static void ip_header(uint8_t *p, size_t len, uint8_t proto, uint32_t src, uint32_t dst) {
  memset(p, 0, 20);
  p[0] = 0x45;
  wr16(p + 2, (uint16_t)len);
  wr16(p + 6, 0x4000);
  p[8] = 64;
  p[9] = proto;
  wr32(p + 12, src);
  wr32(p + 16, dst);
  wr16(p + 10, tl_csum(p, 20));
}

static int64_t now(struct harness *h) { return tl_sim_now(h->sim); }

/* ------------------------------------------------------ A's sockets ---- */

static int add_sock(struct harness *h, tl_sock *s) {
  for (int i = 0; i < MAX_SOCKS; i++)
    if (!h->socks[i].s) {
      h->socks[i].s = s;
      h->socks[i].nlent = 0;
      h->socks[i].tx = h->socks[i].rx = 0;
      return i;
    }
  tl_close(s, now(h));
  return -1;
}

static struct hsock *pick(struct harness *h, uint8_t sel) {
  for (int k = 0; k < MAX_SOCKS; k++) {
    struct hsock *hs = &h->socks[(sel + k) % MAX_SOCKS];
    if (hs->s) return hs;
  }
  return NULL;
}

static void lent_free_all(struct hsock *hs) {
  for (int i = 0; i < hs->nlent; i++)
    free(hs->lent[i].buf);
  hs->nlent = 0;
}

/* The stack is done with lent bytes once the peer acknowledged them. */
static void lent_reap(struct hsock *hs) {
  uint64_t acked = tl_sock_snd_acked(hs->s);
  int j = 0;
  for (int i = 0; i < hs->nlent; i++) {
    if (acked >= hs->lent[i].mark)
      free(hs->lent[i].buf);
    else
      hs->lent[j++] = hs->lent[i];
  }
  hs->nlent = j;
}

static void sock_release(struct harness *h, struct hsock *hs, int abort) {
  if (abort)
    tl_abort(hs->s, now(h));
  else
    tl_close(hs->s, now(h));
  lent_free_all(hs); /* close copied what was still unacknowledged */
  hs->s = NULL;
}

/* ---------------------------------------------------------- streams ---- */

/* Every byte an application sends is a function of its offset in the
 * stream, so the receiver can check each byte it reads: A and B must hand
 * their applications exactly what the other queued, in order, whatever
 * the links lost, duplicated, reordered or delayed. Checked on A-B
 * connections while the fuzzer neither forged segments for them nor let
 * anything corrupt or rewrite datagrams. */
static uint8_t pattern(uint64_t off) { return (uint8_t)(off * 7 + (off >> 9) + (off >> 17)); }

static const uint8_t *stream_bytes(struct harness *h, uint64_t off, size_t n) {
  for (size_t i = 0; i < n && i < sizeof h->sbuf; i++)
    h->sbuf[i] = pattern(off + i);
  return h->sbuf;
}

static int stream_checked(struct harness *h, tl_sock *s) {
  if (h->tainted || h->forged) return 0;
  uint32_t laddr, raddr;
  uint16_t lport, rport;
  tl_sock_addrs(s, &laddr, &lport, &raddr, &rport);
  return (laddr == ADDR_A && raddr == ADDR_B) || (laddr == ADDR_B && raddr == ADDR_A);
}

static long recv_checked(struct harness *h, tl_sock *s, uint64_t *rx, size_t cap) {
  long n = tl_recv(s, h->rbuf, cap, now(h));
  if (n <= 0) return n;
  if (stream_checked(h, s)) {
    for (long i = 0; i < n; i++)
      CHECK(h->rbuf[i] == pattern(*rx + (uint64_t)i));
    h->checked += (uint64_t)n;
  }
  *rx += (uint64_t)n;
  return n;
}

/* tl_send, tl_send_urgent (urgent != 0) of the next n stream bytes. */
static long send_stream(struct harness *h, tl_sock *s, uint64_t *tx, size_t n, int urgent) {
  if (n > sizeof h->sbuf) n = sizeof h->sbuf;
  const uint8_t *b = stream_bytes(h, *tx, n);
  long r = urgent ? tl_send_urgent(s, b, n, now(h)) : tl_send(s, b, n, now(h));
  if (r > 0) *tx += (uint64_t)r;
  return r;
}

/* A datagram the fuzzer made: one from or to B's address takes the A-B
 * streams out of the check (it may carry data of its own). */
static void note_forged(struct harness *h, const uint8_t *p, size_t len) {
  if (len >= 20 && (rd32(p + 12) == ADDR_B || rd32(p + 16) == ADDR_B)) h->forged = 1;
}

/* ------------------------------------------------------------ links ---- */

/* What A sends the raw peer: kept for the handshake, checked when nothing
 * may have corrupted it. */
static void raw_check(struct harness *h, const uint8_t *p, size_t len) {
  h->last_len = len < sizeof h->last ? len : sizeof h->last;
  memcpy(h->last, p, h->last_len);
  if (h->tainted || len < 20 || rd32(p + 12) != ADDR_A) return;
  tl_ip_hdr ip;
  CHECK(tl_ip_parse(p, len, &ip) == TL_IP_OK);
  if (ip.proto != 6 || ip.mf || ip.frag_off || ip.total_len > h->mtu) return;
  struct tl_tcp_hdr th;
  CHECK(tl_tcp_parse(p + ip.hdr_len, ip.total_len - ip.hdr_len, ip.src, ip.dst, &th) == TL_TCP_OK);
}

static int to_sim(void *ctx, const uint8_t *pkt, size_t len) {
  struct harness *h = ctx;
  tl_sim_send(h->sim, EP_A, pkt, len);
  return 0;
}

/* A's scatter output (CF_OFFLOAD): checks the pieces, writes into the
 * headroom the API lends, completes a super-segment's checksum as the
 * link would, and puts the datagram on the sim. */
static int out_vec(void *ctx, const tl_iov *iov, int n, size_t len) {
  struct harness *h = ctx;
  CHECK(n >= 1 && n <= 1 + TL_OUT_IOV_MAX && len <= DGRAM_MAX && iov[0].len >= 20);
  memset((uint8_t *)(uintptr_t)iov[0].base - TL_OUT_HEADROOM, 0xa5, TL_OUT_HEADROOM);
  size_t sum = 0;
  for (int i = 0; i < n; i++) {
    CHECK(sum + iov[i].len <= len);
    memcpy(h->vec + sum, iov[i].base, iov[i].len);
    sum += iov[i].len;
  }
  CHECK(sum == len);
  h->vec_calls++;
  if (len > h->mtu) h->vec_super++;
  size_t ihl = (size_t)(h->vec[0] & 15) * 4;
  if (h->vec[9] == 6 && len >= ihl + 20 && ihl >= 20) {
    CHECK(iov[0].len >= ihl + (size_t)(h->vec[ihl + 12] >> 4) * 4);
    if (len > h->mtu) {
      wr16(h->vec + ihl + 16, 0);
      tl_tcp_checksum(h->vec + ihl, len - ihl, rd32(h->vec + 12), rd32(h->vec + 16));
    }
  }
  if (h->tap.pcap) {
    tl_pcap_tap_now(&h->tap, now(h));
    return tl_pcap_tap_output(&h->tap, h->vec, len);
  }
  return to_sim(h, h->vec, len);
}

/* ---------------------------------------------------------- service ---- */

static void apply_verdict(struct harness *h, tl_hook_seg *seg) {
  struct verdict v = h->npolicy ? h->policy[h->nverdict++ % h->npolicy] : (struct verdict){1, 0, 0, 0};
  int copies = v.how & 3;
  /* Copies both ways feed each other (a duplicated ACK draws duplicated
   * replies): a budget keeps a run's work bounded. */
  if (copies > 1 && (h->hook_copies += (uint32_t)copies - 1) > HOOK_COPIES_MAX) copies = 1;
  /* So do rewrites: a verdict growing every ACK into a data segment makes
   * both stacks answer each other's unacceptable data for ever. */
  if ((v.how & 24) && ++h->hook_rewrites > HOOK_REWRITES_MAX) v.how &= (uint8_t)~24;
  if ((v.how & 24) && seg->len) h->forged = 1; /* rewritten bytes may be data */
  if ((v.how & 8) && seg->len) {
    seg->pkt[v.off % seg->len] ^= v.val ? v.val : 1;
    seg->csum_partial = 0;
    if (seg->dir == TL_PCAP_DIR_OUT) h->tainted = 1;
  }
  if (v.how & 16) {
    size_t nl = v.val < 128 ? seg->len * v.val / 128 : seg->len + (size_t)(v.val - 128) * 64;
    if (nl > DGRAM_MAX) nl = DGRAM_MAX;
    memset(h->rbuf, 0x5a, nl);
    memcpy(h->rbuf, seg->pkt, nl < seg->len ? nl : seg->len);
    if (nl >= 4) wr16(h->rbuf + 2, (uint16_t)nl);
    CHECK(tl_hook_set_bytes(h->a, seg, h->rbuf, nl) == 0);
    CHECK(seg->len == nl && seg->cap >= nl);
    if (seg->dir == TL_PCAP_DIR_OUT) h->tainted = 1;
  }
  if (v.how & 64) {
    tl_sock *s = tl_hook_sock(h->a, seg);
    if (s) (void)tl_sock_state(s);
    tl_hook_fix_checksums(seg->pkt, seg->len);
  }
  const char *note = (v.how & 32) ? "fuzz verdict" : NULL;
  tl_hook_release(h->a, seg, copies, (v.how & 4) ? (int64_t)v.delay * 1000 : 0, note, now(h));
}

static void drain_b(struct harness *h) {
  tl_event ev;
  for (int k = 0; k < 256 && tl_next_event(h->b, &ev); k++) {
  }
  tl_sock *c;
  while (h->blistener && h->nbsocks < MAX_BSOCKS && (c = tl_accept(h->blistener)) != NULL)
    h->bsocks[h->nbsocks++] = (struct bsock){c, 0, 0};
  for (int i = 0; i < h->nbsocks; i++)
    for (int k = 0; k < 64 && recv_checked(h, h->bsocks[i].s, &h->bsocks[i].rx, sizeof h->rbuf) > 0; k++) {
    }
}

/* What a host does after the link and timers had their turn. */
static void service(struct harness *h) {
  tl_hook_seg *seg;
  for (int k = 0; k < 4096 && (seg = tl_hook_next(h->a)) != NULL; k++)
    apply_verdict(h, seg);
  tl_event ev;
  for (int k = 0; k < 256 && tl_next_event(h->a, &ev); k++) {
  }
  size_t n;
  while ((n = tl_sim_recv_raw(h->sim, EP_RAW, h->rbuf, sizeof h->rbuf)) > 0)
    raw_check(h, h->rbuf, n);
  tl_sock *c;
  while (h->listener && (c = tl_accept(h->listener)) != NULL)
    add_sock(h, c);
  for (int i = 0; i < MAX_SOCKS; i++) {
    struct hsock *hs = &h->socks[i];
    if (!hs->s) continue;
    if (h->autoread)
      for (int k = 0; k < 8 && recv_checked(h, hs->s, &hs->rx, 4096) > 0; k++) {
      }
    lent_reap(hs);
    tl_tcp_info info;
    if (tl_sock_info(hs->s, &info) == 0 && info.state >= TL_ESTABLISHED)
      CHECK((int32_t)(info.snd_nxt - info.snd_una) >= 0);
  }
  drain_b(h);
}

/* Runs the sim for dt, serving the hosts whenever it stops for events. */
static void advance(struct harness *h, int64_t dt) {
  int64_t until = now(h) + dt;
  for (int k = 0; k < 2048; k++) {
    int early = tl_sim_run(h->sim, until);
    service(h);
    if (!early) break;
  }
}

/* -------------------------------------------------------- datagrams ---- */

/* Points a TCP datagram at socket s (addresses, ports) and/or its windows:
 * seq is RCV.NXT plus the signed low byte of the seq field; ack is SND.NXT
 * minus the ack field modulo the flight (0 acknowledges everything), or
 * with the top bit set SND.UNA plus the low 31 bits modulo the flight
 * (0x80000000: a duplicate ACK). */
static void patch(uint8_t *pkt, size_t len, unsigned flags, tl_sock *s) {
  if (!s || len < 40) return;
  uint32_t laddr, raddr;
  uint16_t lport, rport;
  tl_sock_addrs(s, &laddr, &lport, &raddr, &rport);
  if (flags & 8) {
    ip_header(pkt, len, 6, raddr, laddr);
    wr16(pkt + 20, rport);
    wr16(pkt + 22, lport);
    if ((pkt[32] >> 4) < 5) pkt[32] = (uint8_t)(0x50 | (pkt[32] & 15));
  }
  if (flags & 4) {
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    tl_tcp_info info;
    if (ihl >= 20 && len >= ihl + 20 && tl_sock_info(s, &info) == 0) {
      uint8_t *t = pkt + ihl;
      uint32_t span = info.snd_nxt - info.snd_una + 1;
      wr32(t + 4, info.rcv_nxt + (uint32_t)(int32_t)(int8_t)t[7]);
      uint32_t a = rd32(t + 8);
      wr32(t + 8, (a >> 31) ? info.snd_una + (a & 0x7fffffff) % span : info.snd_nxt - a % span);
      /* SACK blocks too: edges at SND.UNA plus their value modulo the
       * flight, so holes lie in what is really outstanding. */
      size_t doff = (size_t)(t[12] >> 4) * 4;
      for (size_t o = 20; doff <= len - ihl && o + 1 < doff;) {
        uint8_t kind = t[o], olen = kind <= 1 ? 1 : t[o + 1];
        if (kind == 0 || olen < 1 || o + olen > doff) break;
        if (kind == 5)
          for (size_t b = o + 2; b + 8 <= o + olen; b += 4)
            wr32(t + b, info.snd_una + rd32(t + b) % span);
        o += olen;
      }
    }
  }
  if (flags & 0xa) {
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl < 20 || ihl > len) return;
    wr16(pkt + 10, 0);
    wr16(pkt + 10, tl_csum(pkt, ihl));
    if (pkt[9] == 6 && len - ihl >= 20) tl_tcp_checksum(pkt + ihl, len - ihl, rd32(pkt + 12), rd32(pkt + 16));
  }
}

/* Reads [len16][pad] and the bytes into h->pkt: the datagram is the
 * input's bytes followed by pad*256 filler bytes (so a short input makes a
 * 64 KB GRO-sized datagram); with patching, the IP length covers it all. */
static size_t read_dgram(struct harness *h, struct in *in, unsigned flags, tl_sock *s) {
  size_t len = u16(in);
  size_t pad = (size_t)u8(in) * 256;
  if (len > in->n - in->i) len = in->n - in->i;
  memcpy(h->pkt, in->p + in->i, len);
  in->i += len;
  if (len + pad > DGRAM_MAX) pad = DGRAM_MAX - len;
  memset(h->pkt + len, 'a', pad);
  len += pad;
  if ((flags & 8) || (pad && len >= 20 && (flags & 2))) wr16(h->pkt + 2, (uint16_t)len);
  patch(h->pkt, len, flags, s);
  return len;
}

static void run_dgram(struct harness *h, struct in *in, unsigned flags) {
  uint8_t x = u8(in);
  struct hsock *hs = pick(h, x & 15);
  size_t len = read_dgram(h, in, flags, hs ? hs->s : NULL);
  note_forged(h, h->pkt, len);
  if (flags & 1) advance(h, 1500000);
  int partial = x & 16, rxbuf = x & 32, via_sim = x & 64, batch = x & 128;
  if (batch) tl_stack_batch(h->a, TL_BATCH_RX);
  const uint8_t *p = h->pkt;
  uint8_t *buf = rxbuf ? tl_hook_rx_buf(h->a, len + 4) : NULL;
  if (buf) {
    memcpy(buf + 4, h->pkt, len);
    p = buf + 4;
  }
  if (via_sim)
    tl_sim_send(h->sim, EP_RAW, p, len);
  else
    tl_stack_input_flags(h->a, p, len, now(h), partial ? TL_RX_CSUM_PARTIAL : 0);
  if (batch) {
    /* a second copy in the same batch: its ACK too waits for the poll */
    if (!buf) tl_stack_input(h->a, h->pkt, len, now(h));
    tl_stack_batch(h->a, h->rx_batch ? TL_BATCH_RX : 0);
    tl_stack_poll(h->a, now(h));
  }
}

static void run_inject(struct harness *h, struct in *in, unsigned flags) {
  uint8_t x = u8(in);
  struct hsock *hs = pick(h, 0);
  size_t len = read_dgram(h, in, flags, hs ? hs->s : NULL);
  note_forged(h, h->pkt, len);
  int dir = (x & 1) ? TL_PCAP_DIR_OUT : TL_PCAP_DIR_IN;
  if (dir == TL_PCAP_DIR_OUT) h->tainted = 1;
  tl_hook_inject(h->a, (x & 2) ? 3 : dir, h->pkt, len, (int64_t)(x >> 2) * 1000, (x & 2) ? NULL : "inject",
                 now(h));
}

/* The raw peer as a reactive peer: a segment answering the last one A sent
 * it (ports and addresses swapped, seq = its ACK, ack = its end, the
 * timestamp echoed), with the fuzzer's flags, window and data. This
 * completes handshakes no static input can (SYN cookies, the ISN of an
 * active open) and acknowledges whatever A just sent. */
static void run_reply(struct harness *h, struct in *in) {
  uint8_t fl = u8(in), o = u8(in);
  size_t dlen = u16(in);
  if (dlen > in->n - in->i) dlen = in->n - in->i;
  const uint8_t *data = in->p + in->i;
  in->i += dlen;
  if (h->last_len < 40 || h->last[9] != 6) return;
  size_t ihl = (size_t)(h->last[0] & 15) * 4;
  size_t tot = rd16(h->last + 2);
  struct tl_tcp_hdr r;
  if (ihl < 20 || tot < ihl + 20 || h->last_len < ihl + 20 ||
      tl_tcp_parse_nocsum(h->last + ihl, h->last_len - ihl, &r) != TL_TCP_OK)
    return;
  uint32_t rlen = (uint32_t)(tot - ihl - r.off) + !!(r.flags & TL_TH_SYN) + !!(r.flags & TL_TH_FIN);
  struct tl_tcp_hdr th;
  memset(&th, 0, sizeof th);
  th.sport = r.dport;
  th.dport = r.sport;
  th.seq = r.ack + (uint32_t)(int32_t)(int8_t)(o & 0xf0); /* usually r.ack: o's high nibble 0 */
  th.ack = r.seq + rlen;
  th.flags = fl ? fl : TL_TH_ACK;
  th.win = (o & 1) ? 0 : 65535;
  if (r.opt.has_ts && !(o & 2)) {
    th.opt.has_ts = 1;
    th.opt.ts_val = h->tsval += 10;
    th.opt.ts_ecr = r.opt.ts_val;
  }
  if (th.flags & TL_TH_SYN) {
    th.opt.has_mss = 1;
    th.opt.mss = (o & 4) ? 536 : 1460;
    th.opt.sack_ok = !(o & 8);
    th.opt.has_wscale = !(o & 8);
    th.opt.wscale = 7;
  }
  uint8_t *p = h->pkt;
  size_t hl = tl_tcp_build(p + 20, &th);
  if (dlen > DGRAM_MAX - 20 - hl) dlen = DGRAM_MAX - 20 - hl;
  memcpy(p + 20 + hl, data, dlen);
  uint32_t src = rd32(h->last + 16), dst = rd32(h->last + 12);
  tl_tcp_checksum(p + 20, hl + dlen, src, dst);
  ip_header(p, 20 + hl + dlen, 6, src, dst);
  note_forged(h, p, 20 + hl + dlen);
  tl_stack_input(h->a, p, 20 + hl + dlen, now(h));
}

/* An ICMP error from the path about a segment A sent on a live
 * connection: destination unreachable (frag-needed with an MTU),
 * time exceeded, parameter problem, or anything the fuzzer picks. */
static void run_icmp(struct harness *h, struct in *in, unsigned flags) {
  struct hsock *hs = pick(h, u8(in));
  uint8_t type = u8(in), code = u8(in);
  uint16_t mtu = u16(in);
  int16_t seqoff = (int16_t)u16(in);
  uint8_t q = u8(in);
  if (!hs) return;
  uint32_t laddr, raddr;
  uint16_t lport, rport;
  tl_sock_addrs(hs->s, &laddr, &lport, &raddr, &rport);
  tl_tcp_info info;
  if (tl_sock_info(hs->s, &info) != 0) return;
  uint8_t *p = h->pkt;
  size_t qihl = (q & 4) ? 24 : 20;
  size_t qtcp = (q & 2) ? 4 : (q & 8) ? 20 : 8;
  size_t len = 20 + 8 + qihl + qtcp;
  ip_header(p, len, 1, (q & 1) ? ADDR_ROUTER : raddr, laddr);
  uint8_t *m = p + 20;
  memset(m, 0, 8 + qihl + qtcp);
  m[0] = (flags & 1) ? type : (type % 3 == 0 ? 3 : type % 3 == 1 ? 11 : 12);
  m[1] = (flags & 1) ? code : (flags & 2) ? 4 : code % 16;
  wr16(m + 6, mtu);
  uint8_t *oq = m + 8;
  ip_header(oq, qihl + 20 + 100, 6, laddr, raddr);
  if (q & 4) {
    oq[0] = 0x46;
    wr16(oq + 10, 0);
    wr16(oq + 10, tl_csum(oq, qihl));
  }
  uint8_t *ot = oq + qihl;
  wr16(ot, lport);
  if (qtcp >= 8) {
    wr16(ot + 2, rport);
    wr32(ot + 4, info.snd_una + (uint32_t)(int32_t)seqoff);
  }
  if (q & 16) wr32(oq + 12, ADDR_B); /* a quote not naming A */
  wr16(m + 2, 0);
  wr16(m + 2, tl_csum(m, len - 20));
  if (q & 32)
    tl_sim_send(h->sim, EP_RAW, p, len);
  else
    tl_stack_input(h->a, p, len, now(h));
}

/* -------------------------------------------------- applications ---- */

static const uint8_t chunk[4096] = {'f', 'u', 'z', 'z'};

static void run_app(struct harness *h, struct in *in) {
  struct hsock *hs = pick(h, u8(in));
  uint8_t action = u8(in), param = u8(in);
  int64_t t = now(h);
  tl_sock *s = hs ? hs->s : NULL;
  switch (action % 24) {
  case 0:
    if (s) send_stream(h, s, &hs->tx, (size_t)param * 16 + 1, 0);
    break;
  case 1:
    for (int k = 0; s && k < 1 + param % 64; k++)
      if (send_stream(h, s, &hs->tx, sizeof h->sbuf, 0) <= 0) break;
    break;
  case 2:
    if (s && hs->nlent < MAX_LENT) {
      size_t n = (size_t)param * 256 + 1;
      uint8_t *b = malloc(n);
      if (!b) break;
      for (size_t i = 0; i < n; i++)
        b[i] = pattern(hs->tx + i);
      long r = tl_send_ref(s, b, n, t);
      if (r <= 0) {
        free(b);
        break;
      }
      hs->tx += (uint64_t)r;
      hs->lent[hs->nlent].buf = b;
      hs->lent[hs->nlent].mark = tl_sock_snd_queued(s);
      hs->nlent++;
    }
    break;
  case 3:
    if (s) send_stream(h, s, &hs->tx, (size_t)param + 1, 1);
    break;
  case 4:
    if (s) tl_shutdown(s, t);
    break;
  case 5:
  case 6:
    if (s) sock_release(h, hs, (action & 15) == 6);
    break;
  case 7:
    for (int k = 0; s && k < 1 + param % 16; k++)
      if (recv_checked(h, s, &hs->rx, (size_t)param * 64 + 1) <= 0) break;
    break;
  case 8: {
    int err = 0;
    /* a fixed port, so inputs can answer it (a second one fails: in use) */
    tl_sock *a = tl_connect(h->a, ADDR_RAW, RAW_PORT, ACTIVE_PORT, t, &err);
    if (a) add_sock(h, a);
    break;
  }
  case 9: {
    int err = 0;
    tl_sock *a = tl_connect(h->a, ADDR_B, (param & 1) ? B_PORT + 1 : B_PORT, 0, t, &err);
    if (a) add_sock(h, a);
    break;
  }
  case 10:
    h->autoread = !h->autoread;
    break;
  case 11:
    /* the autocork at the application's step, as host_loop.c runs it */
    tl_stack_batch(h->a, TL_BATCH_TX);
    for (int k = 0; s && k < 1 + param % 8; k++)
      send_stream(h, s, &hs->tx, (size_t)param * 16 + 1, 0);
    tl_stack_batch(h->a, 0);
    tl_stack_poll(h->a, t);
    break;
  case 12:
    if (s) {
      (void)tl_readable(s);
      (void)tl_writable(s);
      (void)tl_find_byte(s, param);
      (void)tl_sock_error(s);
      (void)tl_sock_buffers_held(s);
      (void)tl_tcp_cc_name(s);
      (void)tl_tcp_cubic_elapsed_us(s, t);
      for (int o = 1; o <= 12; o++)
        (void)tl_getopt(s, o);
    }
    (void)tl_tcp_mem_bytes(h->a);
    (void)tl_tcp_ring_bytes(h->a);
    for (tl_sock *u = tl_next_user_sock(h->a, NULL); u; u = tl_next_user_sock(h->a, u))
      (void)tl_state_name(tl_sock_state(u));
    (void)tl_tcp_sock_count(h->a);
    (void)tl_tcp_conn_count(h->a);
    (void)tl_tcp_loss_count(h->a);
    (void)tl_tcp_timer_count(h->a);
    (void)tl_ipv4_reasm_pending(h->a);
    (void)tl_ipv4_reasm_bytes(h->a);
    (void)tl_sim_delivered(h->sim);
    (void)tl_sim_dropped(h->sim);
    for (int k = 0; k < 8; k++)
      (void)tl_sim_impair_count(h->sim, param % 3, k);
    /* the rest of the small API: counters, names, helpers */
    for (int k = 0; k < tl_stats_count(); k++)
      if (tl_stats_get(h->a, k) && !tl_stats_name(k)) __builtin_trap();
    (void)tl_version();
    (void)tl_strerror(-(int)(param % 13));
    (void)tl_tcp_strerror(-(int)(param % 8));
    (void)tl_stack_config(h->a);
    (void)tl_tcp_sock_size();
    {
      char fl[8], fb[16];
      (void)tl_tcp_flags_str(param, fl);
      (void)tl_tcp_flags_fmt(param, fb, param % sizeof fb);
      (void)tl_csum_update16((uint16_t)(param * 257), param, (uint16_t)~param);
      CHECK(tl_seq_lt(param, param + 1u) && tl_seq_leq(param, param) && tl_seq_gt(param, param - 1u) &&
            tl_seq_geq(param, param) && tl_seq_in(param, param, param + 1u) &&
            tl_seq_max(0xfffffff0u, param) == param && tl_seq_min(0xfffffff0u, param) == 0xfffffff0u &&
            tl_seq_diff(param, 0xfffffff0u) == (int32_t)param + 16);
    }
    /* a datagram of another protocol from A, fragmented unless DF */
    (void)tl_ipv4_output(h->a, (param & 2) ? ADDR_B : ADDR_RAW, 17, h->rbuf, (size_t)param * 32, param & 1);
    break;
  case 13:
    /* urgent data longer than a segment: URG on each, SND.UP ahead */
    if (s) send_stream(h, s, &hs->tx, sizeof h->sbuf, 1);
    break;
  case 14:
    if (h->listener) {
      tl_close(h->listener, t); /* resets what waits in its queue */
      h->listener = NULL;
    } else {
      int err = 0;
      h->listener = tl_listen(h->a, LISTEN_PORT, 1 + param % 8, &err);
    }
    break;
  case 15:
    if (s) tl_sock_set_user(s, param);
    (void)tl_sock_user(s);
    break;
  case 16:
    /* what only a listener takes, on a connection, and the other way */
    if (s) (void)tl_accept(s);
    if (h->listener) {
      tl_sock *l = h->listener;
      (void)tl_send(l, chunk, 1, t);
      (void)tl_send_urgent(l, chunk, 1, t);
      (void)tl_send_ref(l, chunk, 1, t);
      (void)tl_recv(l, h->rbuf, 1, t);
      (void)tl_shutdown(l, t);
      (void)tl_readable(l);
      (void)tl_writable(l);
      (void)tl_find_byte(l, 0);
      tl_tcp_info info;
      (void)tl_sock_info(l, &info);
      (void)tl_sock_is_listener(l);
      for (int o = 0; o <= 13; o++)
        (void)tl_getopt(l, o), (void)tl_setopt(l, o, param);
    }
    break;
  case 17: {
    /* odd destinations and ports */
    static const uint32_t dst[] = {0, ADDR_A, 0xffffffffu, 0x7f000001u, 0xe0000001u, ADDR_RAW, ADDR_B, ADDR_ROUTER};
    int err = 0;
    tl_sock *a = tl_connect(h->a, dst[param & 7], (uint16_t)((param >> 3) & 3 ? param * 257 : 0),
                            (uint16_t)((param >> 5) ? LISTEN_PORT : 0), t, &err);
    (void)tl_strerror(err);
    if (a) add_sock(h, a);
    break;
  }
  case 18: {
    /* a second listener: on the same port (in use), on port 0, elsewhere */
    int err = 0;
    tl_sock *l = tl_listen(h->a, param % 3 == 0 ? LISTEN_PORT : param % 3 == 1 ? 0 : 8, param, &err);
    (void)tl_strerror(err);
    if (l) {
      (void)tl_accept(l);
      tl_close(l, t);
    }
    break;
  }
  case 20: {
    /* options before the SYN (tl_socket, tl_connect_sock): handshakes
     * without timestamps, SACK or window scaling, small MSS, corked */
    tl_sock *a = tl_socket(h->a);
    if (!a) break;
    tl_setopt(a, TL_OPT_TIMESTAMPS, param & 1);
    tl_setopt(a, TL_OPT_SACK, (param >> 1) & 1);
    tl_setopt(a, TL_OPT_WSCALE, (param >> 2) & 1);
    if (param & 8) tl_setopt(a, TL_OPT_MSS, 536);
    if (param & 16) tl_setopt(a, TL_OPT_RCVBUF, 1 << 20);
    if (param & 32) tl_setopt(a, TL_OPT_CORK, 1);
    int r = tl_connect_sock(a, (param & 64) ? ADDR_RAW : ADDR_B, (param & 64) ? RAW_PORT : B_PORT,
                            (param & 128) ? ACTIVE_PORT : 0, t);
    if (r < 0) (void)tl_connect_sock(a, ADDR_B, B_PORT, 0, t); /* retried, as the API allows */
    add_sock(h, a);
    break;
  }
  case 21:
    /* MSG_PEEK at an offset: the bytes must be the stream's too */
    if (s) {
      long n = tl_peek(s, param, h->rbuf, 64);
      if (n > 0 && stream_checked(h, s))
        for (long i = 0; i < n; i++)
          CHECK(h->rbuf[i] == pattern(hs->rx + param + (uint64_t)i));
    }
    break;
  case 22:
    if (s) {
      const uint8_t *pat = stream_bytes(h, hs->rx + param, 1 + param % 8);
      long at = tl_find(s, pat, 1 + param % 8, param % 4);
      if (at >= 0) CHECK((size_t)at >= param % 4);
      (void)tl_find(s, pat, 0, 0);
      (void)tl_find(s, pat, TL_FIND_MAX + 1, 0);
    }
    break;
  case 23:
    if (s) tl_shutdown_read(s, t);
    break;
  case 19:
    /* many connections at once: the 4-tuple table grows */
    for (int k = 0; k < 1 + param % 12; k++) {
      int err = 0;
      tl_sock *a = tl_connect(h->a, (param & 1) ? ADDR_B : ADDR_RAW, B_PORT, 0, t, &err);
      if (!a || add_sock(h, a) < 0) break;
    }
    break;
  }
}

static void run_setopt(struct harness *h, struct in *in) {
  struct hsock *hs = pick(h, u8(in));
  int opt = u8(in) % 25; /* every option and a few numbers that are none */
  int64_t v = (int64_t)u24(in);
  if (opt == TL_OPT_SNDBUF || opt == TL_OPT_RCVBUF) v &= 0xfffff; /* keep allocations small */
  int lopt = opt == TL_OPT_BACKLOG || opt == TL_OPT_SYNCOOKIES;
  tl_sock *s = lopt && h->listener ? h->listener : hs ? hs->s : NULL;
  if (s) tl_setopt(s, opt, v);
}

static void run_b(struct harness *h, struct in *in) {
  uint8_t sel = u8(in), action = u8(in), param = u8(in);
  struct bsock *bs = h->nbsocks ? &h->bsocks[sel % h->nbsocks] : NULL;
  tl_sock *s = bs ? bs->s : NULL;
  int64_t t = now(h);
  switch (action & 7) {
  case 0:
    for (int k = 0; s && k < 1 + param % 64 && h->b_bytes < B_BYTES_MAX; k++) {
      long r = send_stream(h, s, &bs->tx, sizeof h->sbuf, 0);
      if (r <= 0) break;
      h->b_bytes += (uint32_t)r;
    }
    break;
  case 1:
    if (s) tl_shutdown(s, t);
    break;
  case 2:
  case 3:
    if (s) {
      if (action & 1)
        tl_abort(s, t);
      else
        tl_close(s, t);
      int i = sel % h->nbsocks;
      h->nbsocks--;
      h->bsocks[i] = h->bsocks[h->nbsocks];
    }
    break;
  case 4:
    if (s) tl_setopt(s, TL_OPT_RCVBUF, 1 + (int64_t)param * 64); /* B's window closes: A probes */
    break;
  case 5:
    if (s) send_stream(h, s, &bs->tx, (size_t)param + 1, 1);
    break;
  case 6:
    if (s) tl_setopt(s, TL_OPT_CONGESTION, param % 3);
    break;
  case 7:
    if (h->nbsocks < MAX_BSOCKS) {
      int err = 0;
      tl_sock *c = tl_connect(h->b, ADDR_A, LISTEN_PORT, 0, t, &err);
      if (c) h->bsocks[h->nbsocks++] = (struct bsock){c, 0, 0};
    }
    break;
  }
}

/* The timing wheel on its own (core/storage/timer_wheel.c through the probe):
 * schedule, cancel and expire at fuzzed times, checked against a list of
 * deadlines. The wheel is exact: every entry due by now expires, none
 * later, and the count agrees. */
static void run_wheel(struct in *in) {
  enum { N = 16 };
  int n = u8(in);
  int64_t t = (int64_t)u16(in) << 20, model[N];
  tl_timer_probe *p = tl_timer_probe_new(N, t);
  if (!p) return;
  for (int i = 0; i < N; i++)
    model[i] = -1;
  for (int k = 0; k < n && in->i < in->n; k++) {
    uint8_t b = u8(in);
    uint32_t i = b & (N - 1);
    int64_t d = (int64_t)u16(in) << ((b >> 4) & 7) * 3;
    switch (b >> 7) {
    case 0:
      /* now and then in the past: due at once */
      model[i] = (b & 0x40) && d < t ? t - d : t + d;
      tl_timer_probe_schedule(p, i, model[i]);
      break;
    default:
      if (b & 0x40) {
        tl_timer_probe_cancel(p, i);
        model[i] = -1;
        break;
      }
      t += d;
      uint32_t out[4], got;
      do {
        got = tl_timer_probe_expire(p, t, out, 4);
        for (uint32_t j = 0; j < got; j++) {
          CHECK(out[j] < N && model[out[j]] >= 0 && model[out[j]] <= t);
          model[out[j]] = -1;
        }
      } while (got == 4);
      uint32_t left = 0;
      int64_t first = -1;
      for (int j = 0; j < N; j++) {
        CHECK(model[j] < 0 || model[j] > t);
        CHECK(tl_timer_probe_scheduled(p, (uint32_t)j) == (model[j] >= 0));
        if (model[j] >= 0) left++;
        if (model[j] >= 0 && (first < 0 || model[j] < first)) first = model[j];
      }
      CHECK(tl_timer_probe_count(p) == left);
      int64_t next = tl_timer_probe_next(p);
      CHECK((next < 0) == (left == 0) && next <= first);
      break;
    }
  }
  (void)tl_timer_probe_visited(p);
  tl_timer_probe_free(p);
}

/* The out-of-order range set (core/storage/assembler.c, the SACK scoreboard and
 * receive queue's bookkeeping) alone: adds and advances against a bitmap.
 * Ranges stay sorted, disjoint and non-adjacent and cover exactly the
 * bytes added and not yet advanced past; a full set refuses, unchanged. */
static void run_asm(struct in *in) {
  enum { SPAN = 1024 };
  uint8_t bits[SPAN] = {0};
  struct tl_assembler a;
  tl_asm_init(&a);
  int n = u8(in);
  for (int k = 0; k < n && in->i < in->n; k++) {
    uint8_t b = u8(in), x = u8(in), y = u8(in);
    if (b & 1) {
      uint32_t adv = x;
      memmove(bits, bits + adv, SPAN - adv);
      memset(bits + SPAN - adv, 0, adv);
      tl_asm_advance(&a, adv);
    } else {
      uint32_t off = (uint32_t)x * 2 + (b >> 7), len = y;
      uint32_t before = tl_asm_bytes(&a);
      if (tl_asm_add(&a, off, len) == 0)
        memset(bits + off, 1, len);
      else
        CHECK(tl_asm_bytes(&a) == before && a.n == TL_ASM_MAX);
    }
    CHECK(a.n <= TL_ASM_MAX);
    uint32_t pos = 0, total = 0;
    for (int i = 0; i < a.n; i++) {
      CHECK(a.r[i].start < a.r[i].end && a.r[i].end <= SPAN);
      CHECK(i == 0 || a.r[i].start > a.r[i - 1].end);
      for (; pos < a.r[i].start; pos++)
        CHECK(!bits[pos]);
      for (; pos < a.r[i].end; pos++)
        CHECK(bits[pos]);
      total += a.r[i].end - a.r[i].start;
    }
    for (; pos < SPAN; pos++)
      CHECK(!bits[pos]);
    CHECK(tl_asm_bytes(&a) == total);
    CHECK(tl_asm_front(&a) == (a.n && a.r[0].start == 0 ? a.r[0].end : 0));
    CHECK(tl_asm_highest(&a) == (a.n ? a.r[a.n - 1].end : 0));
  }
}

/* --------------------------------------------------- link features ---- */

static void run_hook(struct harness *h, struct in *in) {
  uint8_t mask = u8(in);
  int n = u8(in) % (MAX_POLICY + 1);
  for (int i = 0; i < n; i++) {
    h->policy[i].how = u8(in);
    h->policy[i].delay = u8(in);
    h->policy[i].off = u8(in);
    h->policy[i].val = u8(in);
  }
  h->npolicy = n;
  h->nverdict = 0;
  tl_hook_enable(h->a, mask & 15);
  (void)tl_hook_get_mask(h->a);
  (void)tl_hook_pending(h->a);
}

static void impair_config(struct in *in, tl_impair_config *c) {
  memset(c, 0, sizeof *c);
  c->loss = u8(in) / 512.0;
  c->duplicate = u8(in) / 512.0;
  c->reorder = u8(in) / 256.0;
  c->corrupt = u8(in) / 1024.0;
  c->delay_us = (uint32_t)u8(in) * 500;
  c->jitter_us = (uint32_t)u8(in) * 200;
  c->reorder_gap = u8(in) % 8;
  uint8_t r = u8(in), q = u8(in), z = u8(in);
  c->rate_bps = r ? (uint64_t)r * 100000 : 0;
  c->queue_max = q ? (uint32_t)q * 16 : 0;
  c->size_limit = z ? 500 + (uint32_t)z * 8 : 0;
}

/* netem's knobs: correlations, jitter distribution, loss chains, rate
 * overheads, slots. Extremes included (probabilities summing past 1,
 * negative overheads, zero-sized cells' absence). */
static void netem_config(struct in *in, tl_impair_config *c) {
  c->loss_model = u8(in) % 3;
  for (int i = 0; i < 5; i++)
    c->loss_p[i] = u8(in) / 255.0;
  c->loss_corr = u8(in) / 255.0;
  c->duplicate_corr = u8(in) / 255.0;
  c->corrupt_corr = u8(in) / 255.0;
  c->reorder_corr = u8(in) / 255.0;
  c->delay_corr = u8(in) / 255.0;
  c->delay_dist = u8(in) % 4;
  c->rate_overhead = (int8_t)u8(in) * 4;
  c->rate_cell = u8(in) % 80;
  c->rate_cell_overhead = (int8_t)u8(in);
  uint8_t smin = u8(in), smax = u8(in), sd = u8(in);
  c->slot_min_us = (uint32_t)smin * 200;
  c->slot_max_us = c->slot_min_us + (uint32_t)smax * 200;
  c->slot_dist = sd % 4;
  c->slot_jitter_us = (uint32_t)(sd >> 2) * 200;
  c->slot_packets = u8(in) % 16;
  c->slot_bytes = (uint32_t)u8(in) * 64;
}

/* Where an impairment goes: 0 A's boundary, 1-3 a sim endpoint, 4 all the
 * sim's, 5 off. */
static void place_impair(struct harness *h, uint8_t where, const tl_impair_config *c, uint64_t seed) {
  switch (where % 6) {
  case 0:
    tl_hook_set_impair(h->a, c, seed);
    for (int d = 0; d < 2; d++) {
      tl_impair *im = tl_hook_impair(h->a, d);
      for (int k = 0; im && k < 9; k++)
        (void)tl_impair_count(im, k);
    }
    break;
  case 1:
  case 2:
  case 3: tl_sim_impair(h->sim, where % 6 - 1, c); break;
  case 4: tl_sim_impair(h->sim, -1, c); break;
  case 5: tl_sim_impair(h->sim, where % 3 == 0 ? -1 : where % 3, NULL); break;
  }
}

static void run_netem(struct harness *h, struct in *in) {
  uint8_t where = u8(in), kind = u8(in);
  tl_impair_config c;
  if (kind & 1) {
    /* netem words: whatever the parser makes of them, or nothing */
    char text[256];
    size_t n = u8(in);
    for (size_t i = 0; i < n; i++)
      text[i] = (char)u8(in);
    text[n] = '\0';
    memset(&c, 0, sizeof c);
    char err[64];
    if (tl_impair_parse(&c, text, err, sizeof err) < 0) {
      if (!memchr(err, '\0', sizeof err)) __builtin_trap();
      return;
    }
  } else {
    impair_config(in, &c);
    netem_config(in, &c);
  }
  if (c.corrupt > 0) h->tainted = 1;
  place_impair(h, where, &c, kind >> 1);
}

static void run_impair(struct harness *h, struct in *in) {
  uint8_t where = u8(in);
  tl_impair_config c;
  impair_config(in, &c);
  uint64_t seed = u8(in);
  if (c.corrupt > 0) h->tainted = 1;
  place_impair(h, where, &c, seed);
}

static void pcap_on(struct harness *h) {
  if (!h->pcap) h->pcap = tl_pcap_open("/dev/null");
  tl_hook_set_pcap(h->a, h->pcap);
}

static void run_pcap(struct harness *h, struct in *in) {
  uint8_t b = u8(in);
  if (b == 0xfe) {
    /* a capture that cannot be opened (no file is created) */
    tl_pcap *p = tl_pcap_open("/nonexistent-tcplua-fuzz/x.pcapng");
    CHECK(!p);
    tl_pcap_close(p);
    return;
  }
  if (b == 0xfd && !h->pcap) {
    /* a capture on a full disk: every write fails, and close says so */
    h->pcap = tl_pcap_open("/dev/full");
    h->pcap_full = h->pcap != NULL;
    tl_hook_set_pcap(h->a, h->pcap);
    return;
  }
  if (b & 1) {
    pcap_on(h);
    if (h->pcap && (b >> 1)) tl_pcap_set_snaplen(h->pcap, (uint32_t)(b >> 1) * 64);
  } else if (h->pcap) {
    (void)tl_pcap_count(h->pcap);
    tl_hook_set_pcap(h->a, NULL);
    int r = tl_pcap_close(h->pcap);
    CHECK(!h->pcap_full || r == -1);
    h->pcap = NULL;
    h->pcap_full = 0;
  }
}

/* ------------------------------------------------------------ setup ---- */

static tl_sock *handshake(struct harness *h) {
  struct tl_tcp_hdr th;
  memset(&th, 0, sizeof th);
  th.sport = PEER_PORT;
  th.dport = LISTEN_PORT;
  th.seq = 1000;
  th.flags = TL_TH_SYN;
  th.win = 65535;
  th.opt.has_mss = 1;
  th.opt.mss = 1460;
  th.opt.has_wscale = 1;
  th.opt.wscale = 7;
  th.opt.sack_ok = !(h->cfg & CF_NO_SACK);
  th.opt.has_ts = !(h->cfg & CF_NO_TS);
  th.opt.ts_val = 1;
  uint8_t *p = h->pkt;
  size_t hl = tl_tcp_build(p + 20, &th);
  tl_tcp_checksum(p + 20, hl, ADDR_RAW, ADDR_A);
  ip_header(p, 20 + hl, 6, ADDR_RAW, ADDR_A);
  h->last_len = 0;
  tl_stack_input(h->a, p, 20 + hl, now(h));
  advance(h, 5000);
  if (h->last_len < 40) return NULL;
  struct tl_tcp_hdr r;
  size_t ihl = (size_t)(h->last[0] & 15) * 4;
  if (tl_tcp_parse_nocsum(h->last + ihl, h->last_len - ihl, &r) != TL_TCP_OK) return NULL;
  if (r.flags != (TL_TH_SYN | TL_TH_ACK)) return NULL;
  th.flags = TL_TH_ACK;
  th.seq = 1001;
  th.ack = r.seq + 1;
  th.opt.ts_val = 2;
  th.opt.ts_ecr = r.opt.ts_val;
  th.win = 512; /* scaled by 2^7 */
  hl = tl_tcp_build(p + 20, &th);
  tl_tcp_checksum(p + 20, hl, ADDR_RAW, ADDR_A);
  ip_header(p, 20 + hl, 6, ADDR_RAW, ADDR_A);
  tl_stack_input(h->a, p, 20 + hl, now(h));
  return h->listener ? tl_accept(h->listener) : NULL;
}

static int setup(struct harness *h, int cf) {
  h->cfg = cf;
  h->autoread = 1;
  h->tsval = 1000;
  h->sim = tl_sim_new(42, 1000);
  if (!h->sim) return -1;
  tl_config c;
  tl_config_default(&c);
  c.seed = 42;
  c.addr = ADDR_A;
  c.host = ADDR_RAW;
  if (cf & CF_OFFLOAD) c.tso_max = 65535;
  if (cf & CF_SMALL_MTU) c.mtu = 576;
  if (cf & CF_SMALL_BUF) {
    c.tcp_sndbuf = c.tcp_rcvbuf = 4096;
    c.tcp_sndbuf_max = c.tcp_rcvbuf_max = 0;
  }
  h->mtu = c.mtu;
  if (tl_sim_add_stack(h->sim, &c) != EP_A || tl_sim_add_raw(h->sim, ADDR_RAW) != EP_RAW) return -1;
  tl_config cb;
  tl_config_default(&cb);
  cb.seed = 7;
  cb.addr = ADDR_B;
  cb.host = ADDR_A;
  cb.tcp_recovery = 1; /* B recovers by RFC 6675 DupThresh, A by RACK-TLP (unless set) */
  if (tl_sim_add_stack(h->sim, &cb) != EP_B) return -1;
  h->a = tl_sim_stack(h->sim, EP_A);
  h->b = tl_sim_stack(h->sim, EP_B);
  if (cf & CF_OFFLOAD) tl_stack_set_output_vec(h->a, out_vec, h);
  if (cf & (CF_NO_TS | CF_NO_SACK)) {
    tl_tcp_accept_options(h->a, !(cf & CF_NO_TS), !(cf & CF_NO_SACK));
    tl_tcp_accept_options(h->b, !(cf & CF_NO_TS), !(cf & CF_NO_SACK));
  }
  if (cf & CF_NO_LOSS) tl_tcp_set_loss_limit(h->a, 0);
  /* With offload the capture is a tap on the scatter output (a hook
   * capture would turn the scatter output off). */
  if ((cf & CF_PCAP) && (cf & CF_OFFLOAD)) {
    h->tap_pcap = tl_pcap_open("/dev/null");
    tl_pcap_tap_init(&h->tap, h->tap_pcap, to_sim, h);
  } else if (cf & CF_PCAP) {
    pcap_on(h);
  }
  if (cf & CF_HOOKS) tl_hook_enable(h->a, TL_HOOK_IN | TL_HOOK_OUT);
  int err = 0;
  h->listener = tl_listen(h->a, LISTEN_PORT, 8, &err);
  h->blistener = tl_listen(h->b, B_PORT, 8, &err);
  tl_sock *conn = h->listener ? handshake(h) : NULL;
  if (conn) {
    add_sock(h, conn);
    tl_send(conn, (const uint8_t *)"hello, fuzzer\n", 14, now(h));
  }
  return 0;
}

/* FUZZ_DEBUG=1 build/fuzz_input FILE: what the input made A and B count,
 * to check that a seed reaches what it means to. */
static void debug_counters(struct harness *h) {
  static int debug = -1;
  if (debug < 0) debug = getenv("FUZZ_DEBUG") != NULL;
  if (!debug || !h->sim) return;
  fprintf(stderr, "scatter output: %llu datagrams, %llu super-segments; stream bytes checked: %llu\n",
          (unsigned long long)h->vec_calls, (unsigned long long)h->vec_super, (unsigned long long)h->checked);
  for (int i = 0; i < tl_stats_count(); i++) {
    uint64_t va = tl_stats_get(h->a, i), vb = tl_stats_get(h->b, i);
    if (va || vb)
      fprintf(stderr, "%-32s A %8llu  B %8llu\n", tl_stats_name(i), (unsigned long long)va, (unsigned long long)vb);
  }
}

static void teardown(struct harness *h) {
  debug_counters(h);
  for (int i = 0; i < MAX_SOCKS; i++)
    if (h->socks[i].s) sock_release(h, &h->socks[i], i & 1);
  for (int i = 0; i < h->nbsocks; i++)
    tl_close(h->bsocks[i].s, now(h));
  h->nbsocks = 0;
  if (h->listener) tl_close(h->listener, now(h));
  if (h->blistener) tl_close(h->blistener, now(h));
  h->listener = h->blistener = NULL;
  if (h->sim) {
    advance(h, 1000);
    tl_sim_free(h->sim);
  }
  int r = tl_pcap_close(h->pcap);
  CHECK(!h->pcap_full || r == -1);
  tl_pcap_close(h->tap_pcap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct harness hbuf; /* large buffers: not on the stack */
  struct harness *h = &hbuf;
  memset(h, 0, offsetof(struct harness, vec));
  struct in in = {data, size, 0};
  if (setup(h, u8(&in)) == 0) {
    for (int ops = 0; ops < MAX_OPS && in.i < in.n; ops++) {
      uint8_t op = u8(&in);
      unsigned flags = op >> 4;
      switch (op & 15) {
      case OP_DGRAM: run_dgram(h, &in, flags); break;
      case OP_APP: run_app(h, &in); break;
      case OP_SETOPT: run_setopt(h, &in); break;
      case OP_TIME: advance(h, (int64_t)1 << (u8(&in) & 31)); continue;
      case OP_HOOK: run_hook(h, &in); break;
      case OP_INJECT: run_inject(h, &in, flags); break;
      case OP_IMPAIR: run_impair(h, &in); break;
      case OP_PCAP: run_pcap(h, &in); break;
      case OP_ICMP: run_icmp(h, &in, flags); break;
      case OP_B: run_b(h, &in); break;
      case OP_LATENCY: tl_sim_set_latency(h->sim, (uint32_t)u8(&in) * 200); break;
      case OP_BATCH:
        h->rx_batch = u8(&in) & 1;
        tl_stack_batch(h->a, h->rx_batch ? TL_BATCH_RX : 0);
        break;
      case OP_WHEEL: run_wheel(&in); continue;
      case OP_ASM: run_asm(&in); continue;
      case OP_REPLY: run_reply(h, &in); break;
      case OP_NETEM: run_netem(h, &in); break;
      default: break;
      }
      advance(h, 10000);
    }
  }
  teardown(h);
  return 0;
}
