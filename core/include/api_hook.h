#ifndef TL_API_HOOK_H
#define TL_API_HOOK_H
/* Segment hooks (core/link/hook.c): the stack's boundary with the link, where
 * Lua policy hooks, accept filters, the command-line impairment and the
 * pcap tap sit. The FFI declarations are generated from it (tcplua.h).
 *
 * A hook QUEUE instead of a C->Lua callback: when hooks are enabled for a
 * direction, each datagram crossing the boundary that way is copied into a
 * slot of a pool allocated once, and reported as pending
 * (tl_stack_pending_events). The Lua runtime pops slots with tl_hook_next,
 * runs its hooks over the bytes in place and hands each slot back with
 * tl_hook_release (its verdict). Nothing calls into Lua from C. */

enum tl_hook_mask {
  TL_HOOK_IN = 1,    /* every datagram from the link */
  TL_HOOK_OUT = 2,   /* every datagram the stack emits */
  TL_HOOK_SYN_IN = 4, /* only TCP SYNs (no ACK) from the link: accept filters */
  TL_HOOK_DROPS = 8   /* also queue a copy of each datagram the command-line impairment
                         dropped, marked dropped, for observers (--tseq, --trace) */
};

/* What tl_impair_faults reports: which faults touched the packet being
 * delivered or dropped. */
enum tl_fault_bits {
  TL_FAULT_LOSS = 1,
  TL_FAULT_DUP = 2,
  TL_FAULT_CORRUPT = 4,
  TL_FAULT_REORDER = 8,
  TL_FAULT_DELAY = 16,
  TL_FAULT_OVERFLOW = 32,
  TL_FAULT_SIZE = 64
};

/* A held datagram. pkt/len may be changed in place (keep len <= cap), or
 * replaced with tl_hook_set_bytes. */
typedef struct tl_hook_seg {
  uint8_t *pkt; /* the IPv4 datagram */
  uint32_t len;
  uint32_t cap;
  int32_t dir; /* 1 in (link -> stack), 2 out (stack -> link): tl_pcap_dir */
  int32_t id;  /* slot number */
  /* in: the link vouched for the TCP checksum (offload: the field holds
   * only the pseudo-header sum); the runner clears it after changing the
   * bytes, so the stack verifies them. */
  int32_t csum_partial;
  /* 1: a copy of a datagram the impairment already dropped (TL_HOOK_DROPS):
   * to be observed only; releasing it just frees the slot. */
  int32_t dropped;
  /* a gateway's datagram (api_fwd.h): 0 in from side a, 1 from side b */
  int32_t side;
  char note[192]; /* what a fault already did (command-line impairment), or "" */
} tl_hook_seg;

/* Enables hooks for the directions in mask (0 disables: datagrams already
 * held stay until released). The slot pool is allocated on first use.
 * Returns 0 or TL_ENOMEM. */
int tl_hook_enable(tl_stack *st, int mask);
int tl_hook_get_mask(const tl_stack *st);
/* Nonzero while held datagrams await tl_hook_next. */
int tl_hook_pending(const tl_stack *st);
/* The next held datagram, or NULL. Until released, the slot is Lua's. */
tl_hook_seg *tl_hook_next(tl_stack *st);
/* The verdict on a datagram from tl_hook_next: copies 0 drops it, 1 passes
 * it, n sends n copies; delay_us > 0 holds it that long first. note (NULL
 * or text) becomes the pcap comment. The datagram continues its path:
 * into the stack (in), or through the impairment to the link (out). */
void tl_hook_release(tl_stack *st, tl_hook_seg *seg, int copies, int64_t delay_us, const char *note,
                     int64_t now);
/* Replaces the held bytes (grows the slot if needed); 0 or TL_ENOMEM. */
int tl_hook_set_bytes(tl_stack *st, tl_hook_seg *seg, const uint8_t *pkt, size_t len);
/* A crafted datagram sent in direction dir (1: into the stack as if
 * received, 2: to the link), after delay_us, without running the hooks.
 * 0, TL_EINVAL or TL_ENOMEM. */
int tl_hook_inject(tl_stack *st, int dir, const uint8_t *pkt, size_t len, int64_t delay_us, const char *note,
                   int64_t now);
/* Zero-copy input: a buffer of at least cap bytes to read the next
 * datagram into (it may start at an offset in it, after a link header);
 * tl_stack_input then holds it for the hooks without copying. NULL when
 * inbound datagrams are not held (use your own buffer). The buffer stays
 * lent until a datagram in it is held. */
uint8_t *tl_hook_rx_buf(tl_stack *st, size_t cap);
/* The connection a held datagram belongs to (4-tuple lookup), or NULL. */
tl_sock *tl_hook_sock(tl_stack *st, const tl_hook_seg *seg);
/* Recompute the IPv4 header checksum and, for an unfragmented TCP
 * datagram, the TCP checksum; for an unfragmented UDP datagram that
 * carries a checksum (not 0), the UDP checksum; for an unfragmented ICMP
 * message, the ICMP checksum. */
void tl_hook_fix_checksums(uint8_t *pkt, size_t len);

/* Records every datagram crossing the boundary, both ways, with the notes
 * of the faults that touched it (dropped ones too). NULL stops. The stack
 * does not own the capture. */
void tl_hook_set_pcap(tl_stack *st, struct tl_pcap *p);
/* The command-line impairment, applied at the boundary in both directions
 * (in: before the hooks, out: after them), so its faults are noted in the
 * capture and the trace like the hooks'. Returns 0 or TL_ENOMEM. */
int tl_hook_set_impair(tl_stack *st, const tl_impair_config *cfg, uint64_t seed);
/* dir 0: inbound, 1: outbound, 2: a gateway's side b inbound; NULL if none. */
tl_impair *tl_hook_impair(const tl_stack *st, int dir);
/* A gateway's impairment of the datagrams coming in on a side (0: a, 1:
 * b), set or changed. Returns 0 or TL_ENOMEM. */
int tl_hook_set_impair_side(tl_stack *st, int side, const tl_impair_config *cfg, uint64_t seed);

/* Impairment reporting (core/link/impair.c). on_drop(ctx, pkt, len) is called
 * for each datagram the impairment drops; during that call and during
 * deliver, tl_impair_faults gives the tl_fault_bits of the packet. */
void tl_impair_on_drop(tl_impair *im, tl_output_fn on_drop, void *ctx);
int tl_impair_faults(const tl_impair *im);
int64_t tl_impair_deadline(const tl_impair *im);
/* A note for tl_fault_bits ("dropped by fault: loss", "fault: delay") into
 * buf; returns buf ("" for 0). */
const char *tl_fault_note(int faults, char *buf, size_t cap);
#endif
