/* The link boundary: where Lua segment hooks, accept filters, the
 * command-line impairment and the pcap tap meet the datagram path.
 *
 * Path of a datagram (each stage only when configured):
 *   in:  tl_stack_input -> impairment(in) -> [hook queue] -> pcap -> tl_netif_deliver
 *   out: tl_netif_emit  -> [hook queue] -> impairment(out) -> pcap -> link
 * The boundary wraps the network interface (st->tap, net/netif.h) and
 * delivers through it: it names neither IP nor TCP.
 * The capture is taken where the packet's fate is known, so every record
 * can carry the note of the faults that touched it; dropped datagrams are
 * recorded with their note too.
 *
 * Held datagrams live in a slot pool allocated on the first tl_hook_enable
 * (each slot keeps its buffer across uses: no allocation per packet after
 * warm-up). Slots are linked into a free list, the FIFO awaiting Lua, and
 * the delay list ordered by due time. */
#include "hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "ipv4_wire.h"
#include "ipv6_wire.h"
#include "netif.h"
#include "tcp_wire.h"
#include "udp_wire.h"

#define HOOK_SLOTS 4096
#define HOOK_NONE (-1)
#define HOOK_MIN_BUF 2048

struct hook_slot {
  tl_hook_seg seg; /* seg.pkt points into base (at an offset for an adopted read) */
  uint8_t *base;   /* the slot's buffer, kept across uses */
  uint32_t bcap;
  int64_t due; /* delayed: when it goes on */
  int32_t next;
  int32_t copies; /* delayed: how many to send */
  uint32_t side;  /* TL_RX_SIDE_B of a gateway datagram, kept for its way on */
};

struct tl_hook {
  int mask;
  struct hook_slot *slot;
  int32_t nslot;
  int32_t free_head;
  int32_t q_head, q_tail; /* awaiting Lua */
  int32_t d_head, d_tail; /* delayed, by due time */
  struct tl_pcap *pcap;
  tl_impair *im[2]; /* 0 in, 1 out */
  tl_impair *im_b;  /* a gateway's: datagrams in from side b (im[0]: from side a) */
  tl_stack *st;
  int32_t rx_slot; /* lent to the host by tl_hook_rx_buf, not on any list */
};

/* Outbound hooks and the impairment judge datagrams one by one as the
 * wire would carry them, and a hook may rewrite fields (full checksums):
 * a TSO super-segment (pseudo-header checksum, cut by the link) fits
 * neither, so TSO is off while they are active. */
static void tso_update(struct tl_hook *h) { h->st->tso_off = (h->mask & TL_HOOK_OUT) || h->im[1]; }

static struct tl_hook *hook_get(tl_stack *st) {
  if (st->hook) return st->hook;
  struct tl_hook *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->free_head = h->q_head = h->q_tail = h->d_head = h->d_tail = h->rx_slot = HOOK_NONE;
  h->st = st;
  st->hook = h;
  st->tap = tl_hook_emit;
  return h;
}

void tl_hook_free(tl_stack *st) {
  struct tl_hook *h = st->hook;
  if (!h) return;
  for (int32_t i = 0; i < h->nslot; i++)
    free(h->slot[i].base);
  free(h->slot);
  tl_impair_free(h->im[0]);
  tl_impair_free(h->im[1]);
  tl_impair_free(h->im_b);
  free(h);
  st->hook = NULL;
}

/* ------------------------------------------------------------ notes ---- */

const char *tl_fault_note(int faults, char *buf, size_t cap) {
  static const char *const names[] = {"loss",  "duplicate",      "corrupt",   "reorder",
                                      "delay", "queue overflow", "size limit"};
  if (!cap) return buf;
  buf[0] = '\0';
  if (!faults) return buf;
  int drop = faults & (TL_FAULT_LOSS | TL_FAULT_OVERFLOW | TL_FAULT_SIZE);
  size_t n = (size_t)snprintf(buf, cap, "%s", drop ? "dropped by fault: " : "fault: ");
  const char *sep = "";
  for (int i = 0; i < 7 && n < cap; i++)
    if (faults & (1 << i)) {
      n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, names[i]);
      sep = "+";
    }
  if (n < cap) snprintf(buf + n, cap - n, " (link impairment)");
  return buf;
}

static void record(struct tl_hook *h, const uint8_t *pkt, size_t len, int dir, const char *note) {
  if (h->pcap) tl_pcap_write(h->pcap, pkt, len, h->st->now, dir, note && *note ? note : NULL);
}

/* ------------------------------------------------------------ slots ---- */

/* Grows a slot's buffer (its contents need not survive). A slot always
 * gets one, even for an empty datagram: memcpy's pointers must be valid. */
static int slot_reserve(struct hook_slot *s, size_t len) {
  if (s->base && s->bcap >= len) return 0;
  size_t cap = len < HOOK_MIN_BUF ? HOOK_MIN_BUF : len;
  uint8_t *b = malloc(cap);
  if (!b) return -1;
  free(s->base);
  s->base = b;
  s->bcap = (uint32_t)cap;
  return 0;
}

static void slot_fill(struct hook_slot *s, int32_t i, size_t len, int dir, const char *note) {
  s->seg.len = (uint32_t)len;
  s->seg.dir = dir;
  s->seg.id = i;
  s->seg.dropped = 0;
  /* Most datagrams carry no note: skip the formatting then. */
  if (note && *note)
    snprintf(s->seg.note, sizeof s->seg.note, "%s", note);
  else
    s->seg.note[0] = '\0';
  s->next = HOOK_NONE;
}

static int32_t slot_get(struct tl_hook *h, const uint8_t *pkt, size_t len, int dir, const char *note) {
  int32_t i = h->free_head;
  if (i == HOOK_NONE) return HOOK_NONE;
  struct hook_slot *s = &h->slot[i];
  if (slot_reserve(s, len) < 0) return HOOK_NONE;
  h->free_head = s->next;
  /* The host may have read the datagram straight into this buffer. */
  if (s->base != pkt) memcpy(s->base, pkt, len);
  s->seg.pkt = s->base;
  s->seg.cap = s->bcap;
  slot_fill(s, i, len, dir, note);
  return i;
}

/* A datagram the host read into the buffer lent by tl_hook_rx_buf: the
 * slot takes it as it lies (no copy). */
static int32_t slot_adopt(struct tl_hook *h, const uint8_t *pkt, size_t len, int dir, const char *note) {
  int32_t i = h->rx_slot;
  if (i == HOOK_NONE) return HOOK_NONE;
  struct hook_slot *s = &h->slot[i];
  if (pkt < s->base || pkt + len > s->base + s->bcap) return HOOK_NONE;
  h->rx_slot = HOOK_NONE;
  s->seg.pkt = (uint8_t *)(uintptr_t)pkt;
  s->seg.cap = (uint32_t)(s->base + s->bcap - pkt);
  slot_fill(s, i, len, dir, note);
  return i;
}

uint8_t *tl_hook_rx_buf(tl_stack *st, size_t cap) {
  struct tl_hook *h = st->hook;
  if (!h || !(h->mask & TL_HOOK_IN) || h->im[0] || h->im_b || cap > 65536 + 64) return NULL;
  if (h->rx_slot == HOOK_NONE) {
    int32_t i = h->free_head;
    if (i == HOOK_NONE) return NULL;
    h->free_head = h->slot[i].next;
    h->slot[i].next = HOOK_NONE;
    h->rx_slot = i;
  }
  struct hook_slot *s = &h->slot[h->rx_slot];
  if (slot_reserve(s, cap) < 0) return NULL;
  return s->base;
}

static void slot_put(struct tl_hook *h, int32_t i) {
  h->slot[i].next = h->free_head;
  h->free_head = i;
}

static void queue(tl_stack *st, const uint8_t *pkt, size_t len, int dir, const char *note, unsigned rx_flags) {
  struct tl_hook *h = st->hook;
  int32_t i = dir == TL_PCAP_DIR_IN ? slot_adopt(h, pkt, len, dir, note) : HOOK_NONE;
  if (i == HOOK_NONE) i = slot_get(h, pkt, len, dir, note);
  if (i == HOOK_NONE) {
    TL_COUNT(st, drop_hook_overflow);
    record(h, pkt, len, dir, "dropped: hook queue full");
    return;
  }
  h->slot[i].seg.csum_partial = dir == TL_PCAP_DIR_IN && (rx_flags & TL_RX_CSUM_PARTIAL);
  h->slot[i].side = rx_flags & TL_RX_SIDE_B;
  h->slot[i].seg.side = (rx_flags & TL_RX_SIDE_B) ? 1 : 0;
  if (dir == TL_PCAP_DIR_IN)
    TL_COUNT(st, hook_queued_in);
  else
    TL_COUNT(st, hook_queued_out);
  if (h->q_tail == HOOK_NONE)
    h->q_head = i;
  else
    h->slot[h->q_tail].next = i;
  h->q_tail = i;
}

/* ------------------------------------------------------------ paths ---- */

/* rx_flags: what the link vouched for (TL_RX_*), carried with the datagram. */
static void deliver_in(tl_stack *st, const uint8_t *pkt, size_t len, const char *note, unsigned rx_flags) {
  record(st->hook, pkt, len, TL_PCAP_DIR_IN, note);
  tl_netif_deliver(st, pkt, len, rx_flags);
}

static int deliver_link(tl_stack *st, const uint8_t *pkt, size_t len, const char *note) {
  record(st->hook, pkt, len, TL_PCAP_DIR_OUT, note);
  return st->out ? st->out(st->out_ctx, pkt, len) : 0;
}

/* A TCP SYN without ACK, unfragmented: what an accept filter judges. */
static int is_syn(const uint8_t *p, size_t len) {
  struct tl_ip_view v;
  if (tl_ipx_view(p, len, &v) < 0 || v.proto != TL_PROTO_TCP || !v.whole || v.l4_len < 14) return 0;
  return (tl_tcp_view_flags(v.l4) & (TL_TH_SYN | TL_TH_ACK)) == TL_TH_SYN;
}

static void in_stage2(tl_stack *st, const uint8_t *pkt, size_t len, const char *note, unsigned rx_flags) {
  int m = st->hook->mask;
  if ((m & TL_HOOK_IN) || ((m & TL_HOOK_SYN_IN) && is_syn(pkt, len)))
    queue(st, pkt, len, TL_PCAP_DIR_IN, note, rx_flags);
  else
    deliver_in(st, pkt, len, note, rx_flags);
}

static int out_stage2(tl_stack *st, const uint8_t *pkt, size_t len, const char *note) {
  struct tl_hook *h = st->hook;
  if (h->im[1]) {
    tl_impair_push(h->im[1], pkt, len, st->now);
    return 0;
  }
  return deliver_link(st, pkt, len, note);
}

static int im_in_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct tl_hook *h = ctx;
  char note[128];
  in_stage2(h->st, pkt, len, tl_fault_note(tl_impair_faults(h->im[0]), note, sizeof note), 0);
  return 0;
}

static int im_out_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct tl_hook *h = ctx;
  char note[128];
  return deliver_link(h->st, pkt, len, tl_fault_note(tl_impair_faults(h->im[1]), note, sizeof note));
}

static int im_b_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct tl_hook *h = ctx;
  char note[128];
  in_stage2(h->st, pkt, len, tl_fault_note(tl_impair_faults(h->im_b), note, sizeof note), TL_RX_SIDE_B);
  return 0;
}

static int im_dropped(void *ctx, const uint8_t *pkt, size_t len, int dir, tl_impair *im) {
  struct tl_hook *h = ctx;
  char note[128];
  TL_COUNT(h->st, impair_dropped);
  record(h, pkt, len, dir, tl_fault_note(tl_impair_faults(im), note, sizeof note));
  if (h->mask & TL_HOOK_DROPS) {
    /* Observers see the loss too (a tseq "drop" mark); a full pool only
     * costs them the record. */
    int32_t i = slot_get(h, pkt, len, dir, note);
    if (i != HOOK_NONE) {
      h->slot[i].seg.dropped = 1;
      h->slot[i].seg.side = im == h->im_b;
      if (h->q_tail == HOOK_NONE)
        h->q_head = i;
      else
        h->slot[h->q_tail].next = i;
      h->q_tail = i;
    }
  }
  return 0;
}
static int im_in_dropped(void *ctx, const uint8_t *pkt, size_t len) {
  return im_dropped(ctx, pkt, len, TL_PCAP_DIR_IN, ((struct tl_hook *)ctx)->im[0]);
}
static int im_b_dropped(void *ctx, const uint8_t *pkt, size_t len) {
  return im_dropped(ctx, pkt, len, TL_PCAP_DIR_IN, ((struct tl_hook *)ctx)->im_b);
}
static int im_out_dropped(void *ctx, const uint8_t *pkt, size_t len) {
  return im_dropped(ctx, pkt, len, TL_PCAP_DIR_OUT, ((struct tl_hook *)ctx)->im[1]);
}

void tl_hook_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned rx_flags) {
  struct tl_hook *h = st->hook;
  /* The impairment copies and may corrupt: what the link vouched for does
   * not survive it (the host completes such checksums itself). */
  tl_impair *im = (rx_flags & TL_RX_SIDE_B) ? h->im_b : h->im[0];
  if (im)
    tl_impair_push(im, pkt, len, now);
  else
    in_stage2(st, pkt, len, NULL, rx_flags);
}

int tl_hook_emit(tl_stack *st, const uint8_t *pkt, size_t len) {
  if (st->hook->mask & TL_HOOK_OUT) {
    queue(st, pkt, len, TL_PCAP_DIR_OUT, NULL, 0);
    return 0;
  }
  return out_stage2(st, pkt, len, NULL);
}

/* Sends copies of a released datagram on along the rest of its path. */
static void go_on(tl_stack *st, const uint8_t *pkt, size_t len, int dir, int copies, const char *note,
                  int partial, uint32_t side) {
  for (int c = 0; c < copies; c++) {
    if (dir == TL_PCAP_DIR_IN)
      deliver_in(st, pkt, len, note, (partial ? TL_RX_CSUM_PARTIAL : 0) | side);
    else
      out_stage2(st, pkt, len, note);
  }
}

static void delay_insert(struct tl_hook *h, int32_t i) {
  struct hook_slot *s = &h->slot[i];
  s->next = HOOK_NONE;
  /* Delays mostly grow with time: look from the tail. Equal times keep
   * their order. */
  if (h->d_tail == HOOK_NONE) {
    h->d_head = h->d_tail = i;
    return;
  }
  if (h->slot[h->d_tail].due <= s->due) {
    h->slot[h->d_tail].next = i;
    h->d_tail = i;
    return;
  }
  int32_t *pp = &h->d_head;
  while (*pp != HOOK_NONE && h->slot[*pp].due <= s->due)
    pp = &h->slot[*pp].next;
  s->next = *pp;
  *pp = i;
}

int64_t tl_hook_poll(tl_stack *st, int64_t now) {
  struct tl_hook *h = st->hook;
  if (h->im[0]) tl_impair_poll(h->im[0], now);
  if (h->im_b) tl_impair_poll(h->im_b, now);
  while (h->d_head != HOOK_NONE && h->slot[h->d_head].due <= now) {
    int32_t i = h->d_head;
    struct hook_slot *s = &h->slot[i];
    h->d_head = s->next;
    if (h->d_head == HOOK_NONE) h->d_tail = HOOK_NONE;
    go_on(st, s->seg.pkt, s->seg.len, s->seg.dir, s->copies, s->seg.note, s->seg.csum_partial, s->side);
    slot_put(h, i);
  }
  if (h->im[1]) tl_impair_poll(h->im[1], now);
  return tl_hook_deadline(st);
}

static int64_t earliest(int64_t a, int64_t b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

int64_t tl_hook_deadline(const tl_stack *st) {
  const struct tl_hook *h = st->hook;
  int64_t d = h->d_head != HOOK_NONE ? h->slot[h->d_head].due : -1;
  if (h->im[0]) d = earliest(d, tl_impair_deadline(h->im[0]));
  if (h->im[1]) d = earliest(d, tl_impair_deadline(h->im[1]));
  if (h->im_b) d = earliest(d, tl_impair_deadline(h->im_b));
  return d;
}

/* --------------------------------------------------------- the API ---- */

int tl_hook_enable(tl_stack *st, int mask) {
  struct tl_hook *h = hook_get(st);
  if (!h) return TL_ENOMEM;
  if (mask && !h->slot) {
    h->slot = calloc(HOOK_SLOTS, sizeof *h->slot);
    if (!h->slot) return TL_ENOMEM;
    h->nslot = HOOK_SLOTS;
    for (int32_t i = HOOK_SLOTS - 1; i >= 0; i--) {
      h->slot[i].next = h->free_head;
      h->free_head = i;
    }
  }
  h->mask = mask & (TL_HOOK_IN | TL_HOOK_OUT | TL_HOOK_SYN_IN | TL_HOOK_DROPS);
  tso_update(h);
  return 0;
}

int tl_hook_get_mask(const tl_stack *st) { return st->hook ? st->hook->mask : 0; }

int tl_hook_pending(const tl_stack *st) { return st->hook && st->hook->q_head != HOOK_NONE; }

tl_hook_seg *tl_hook_next(tl_stack *st) {
  struct tl_hook *h = st->hook;
  if (!h || h->q_head == HOOK_NONE) return NULL;
  int32_t i = h->q_head;
  h->q_head = h->slot[i].next;
  if (h->q_head == HOOK_NONE) h->q_tail = HOOK_NONE;
  h->slot[i].next = HOOK_NONE;
  return &h->slot[i].seg;
}

static void set_now(tl_stack *st, int64_t now) {
  if (now > st->now) st->now = now;
}

void tl_hook_release(tl_stack *st, tl_hook_seg *seg, int copies, int64_t delay_us, const char *note,
                     int64_t now) {
  struct tl_hook *h = st->hook;
  if (!h || !seg || seg->id < 0 || seg->id >= h->nslot || &h->slot[seg->id].seg != seg) return;
  set_now(st, now);
  if (seg->dropped) {
    slot_put(h, seg->id); /* counted and recorded when the impairment dropped it */
    return;
  }
  if (copies < 0) copies = 0;
  if (note && *note) snprintf(seg->note, sizeof seg->note, "%s", note);
  if (copies == 0) {
    TL_COUNT(st, hook_dropped);
    record(h, seg->pkt, seg->len, seg->dir, seg->note[0] ? seg->note : "dropped by hook");
    slot_put(h, seg->id);
    return;
  }
  if (copies > 1) TL_COUNT_N(st, hook_duplicated, (uint64_t)(copies - 1));
  if (delay_us > 0) {
    TL_COUNT(st, hook_delayed);
    struct hook_slot *s = &h->slot[seg->id];
    s->due = st->now + delay_us;
    s->copies = copies;
    delay_insert(h, seg->id);
    return;
  }
  if (copies == 1 && !seg->note[0]) TL_COUNT(st, hook_passed);
  go_on(st, seg->pkt, seg->len, seg->dir, copies, seg->note, seg->csum_partial, h->slot[seg->id].side);
  slot_put(h, seg->id);
}

int tl_hook_set_bytes(tl_stack *st, tl_hook_seg *seg, const uint8_t *pkt, size_t len) {
  struct tl_hook *h = st->hook;
  if (len > 65535) return TL_EINVAL;
  if (!h || seg->id < 0 || seg->id >= h->nslot || &h->slot[seg->id].seg != seg) return TL_EINVAL;
  struct hook_slot *s = &h->slot[seg->id];
  if (s->bcap < len) {
    uint8_t *b = malloc(len);
    if (!b) return TL_ENOMEM;
    memcpy(b, pkt, len);
    free(s->base);
    s->base = b;
    s->bcap = (uint32_t)len;
  } else {
    memmove(s->base, pkt, len);
  }
  seg->pkt = s->base;
  seg->cap = s->bcap;
  seg->len = (uint32_t)len;
  seg->csum_partial = 0; /* new bytes, full checksums: verify them */
  return 0;
}

int tl_hook_inject(tl_stack *st, int dir, const uint8_t *pkt, size_t len, int64_t delay_us, const char *note,
                   int64_t now) {
  if ((dir != TL_PCAP_DIR_IN && dir != TL_PCAP_DIR_OUT) || !pkt || len < 20 || len > 65535) return TL_EINVAL;
  struct tl_hook *h = hook_get(st);
  if (!h) return TL_ENOMEM;
  set_now(st, now);
  TL_COUNT(st, hook_injected);
  if (delay_us <= 0) {
    go_on(st, pkt, len, dir, 1, note, 0, 0);
    return 0;
  }
  if (!h->slot && tl_hook_enable(st, h->mask) < 0) return TL_ENOMEM;
  if (!h->slot) {
    /* tl_hook_enable(st, 0) allocates nothing: make the pool now. */
    int m = h->mask;
    if (tl_hook_enable(st, TL_HOOK_SYN_IN) < 0) return TL_ENOMEM;
    h->mask = m;
  }
  int32_t i = slot_get(h, pkt, len, dir, note);
  if (i == HOOK_NONE) {
    TL_COUNT(st, drop_hook_overflow);
    return TL_ENOMEM;
  }
  h->slot[i].seg.csum_partial = 0;
  h->slot[i].side = 0;
  h->slot[i].due = st->now + delay_us;
  h->slot[i].copies = 1;
  delay_insert(h, i);
  return 0;
}

/* IPv6 (RFC 8200 8.1): no header checksum; TCP, UDP and ICMPv6 cover the
 * pseudo-header of the addresses, the upper-layer length and Next Header,
 * and UDP's is mandatory (a datagram gets one even if it had 0). */
static void fix6(uint8_t *p, const struct tl_ip_view *v) {
  uint8_t *l4 = p + v->ihl;
  size_t at;
  if (v->proto == TL_PROTO_TCP && v->l4_len >= 20)
    at = 16;
  else if (v->proto == TL_PROTO_UDP && v->l4_len >= 8)
    at = 6;
  else if (v->proto == TL_PROTO_ICMPV6 && v->l4_len >= 4)
    at = 2;
  else
    return;
  size_t n = v->l4_len;
  if (v->proto == TL_PROTO_UDP && tl_get16(l4 + 4) >= 8 && tl_get16(l4 + 4) <= n) n = tl_get16(l4 + 4);
  tl_put16(l4 + at, 0);
  uint16_t c = tl_csum_fold(tl_csum_partial(l4, n, tl_csum_pseudo6(p + 8, p + 24, v->proto, (uint32_t)n)));
  if (c == 0 && v->proto == TL_PROTO_UDP) c = 0xffff;
  tl_put16(l4 + at, c);
}

void tl_hook_fix_checksums(uint8_t *p, size_t len) {
  struct tl_ip_view v;
  if (tl_ipx_view(p, len, &v) < 0) return;
  if (v.family == 6) {
    if (v.whole) fix6(p, &v);
    return;
  }
  tl_put16(p + 10, 0);
  tl_put16(p + 10, tl_csum(p, v.ihl));
  if (!v.whole) return;
  if (v.proto == TL_PROTO_TCP && v.l4_len >= 20) tl_tcp_checksum(p + v.ihl, v.l4_len, v.src, v.dst);
  /* UDP: only a datagram that carried a checksum gets one (RFC 768: 0 is
   * "none" over IPv4), over the length its header gives. */
  struct tl_udp_hdr u;
  if (v.proto == TL_PROTO_UDP && tl_udp_parse(v.l4, v.l4_len, &u) == TL_UDP_OK && u.csum)
    tl_udp_checksum(p + v.ihl, u.len, tl_udp_pseudo4(v.src, v.dst, u.len));
  /* ICMP (RFC 792): over the whole message, no pseudo-header. */
  if (v.proto == TL_PROTO_ICMP && v.l4_len >= 8) {
    tl_put16(p + v.ihl + 2, 0);
    tl_put16(p + v.ihl + 2, tl_csum(p + v.ihl, v.l4_len));
  }
}

void tl_hook_set_pcap(tl_stack *st, struct tl_pcap *p) {
  struct tl_hook *h = hook_get(st);
  if (h) h->pcap = p;
}

int tl_hook_set_impair(tl_stack *st, const tl_impair_config *cfg, uint64_t seed) {
  struct tl_hook *h = hook_get(st);
  if (!h) return TL_ENOMEM;
  static const tl_output_fn deliver[2] = {im_in_deliver, im_out_deliver};
  static const tl_output_fn dropped[2] = {im_in_dropped, im_out_dropped};
  static const uint64_t salt[2] = {0x696e, 0x6f7574};
  for (int d = 0; d < 2; d++) {
    if (h->im[d]) {
      tl_impair_set(h->im[d], cfg);
      continue;
    }
    h->im[d] = tl_impair_new(cfg, seed ^ salt[d], deliver[d], h);
    if (!h->im[d]) return TL_ENOMEM;
    tl_impair_on_drop(h->im[d], dropped[d], h);
  }
  tso_update(h);
  return 0;
}

tl_impair *tl_hook_impair(const tl_stack *st, int dir) {
  if (!st->hook) return NULL;
  if (dir == 2) return st->hook->im_b;
  return dir == 0 || dir == 1 ? st->hook->im[dir] : NULL;
}

int tl_hook_set_impair_side(tl_stack *st, int side, const tl_impair_config *cfg, uint64_t seed) {
  struct tl_hook *h = hook_get(st);
  if (!h) return TL_ENOMEM;
  tl_impair **im = side ? &h->im_b : &h->im[0];
  if (*im) {
    tl_impair_set(*im, cfg);
    return 0;
  }
  *im = tl_impair_new(cfg, seed ^ (side ? 0x62u : 0x61u), side ? im_b_deliver : im_in_deliver, h);
  if (!*im) return TL_ENOMEM;
  tl_impair_on_drop(*im, side ? im_b_dropped : im_in_dropped, h);
  return 0;
}

int tl_hook_needs_wire(const tl_stack *st) {
  const struct tl_hook *h = st->hook;
  return h && (h->im[0] || h->im[1] || h->im_b || h->pcap);
}

int tl_hook_busy(const tl_stack *st) {
  const struct tl_hook *h = st->hook;
  return h && (h->mask || h->im[0] || h->im[1] || h->im_b || h->pcap);
}
