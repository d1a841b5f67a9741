/* Out-of-order range tracker for the receive side: which byte ranges past
 * rcv_nxt are held (their bytes sit in the receive ring, written with
 * tl_ring_write_at). Bounded: at most TL_ASM_MAX ranges are tracked; a range
 * that would need more is refused and the segment dropped (the peer
 * retransmits). Offsets are relative to rcv_nxt.
 *
 *
 * tl_asm_init(a)            empty set
 * tl_asm_add(a, off, len)   record [off, off+len), merging with overlapping
 *                           or adjacent ranges. Returns 0, or -1 if it would
 *                           need more than TL_ASM_MAX ranges (nothing changes)
 * tl_asm_front(a)           bytes contiguous from offset 0
 * tl_asm_advance(a, n)      base moved by n (rcv_nxt advanced): shift ranges
 *                           down, drop what falls below 0
 * tl_asm_bytes(a)           total bytes held
 * tl_asm_highest(a)         highest held end offset, 0 if empty (ranges also
 *                           serve as SACK blocks, RFC 2018 4) */
#ifndef TL_ASSEMBLER_H
#define TL_ASSEMBLER_H
#include "tcplua.h"

/* 64 ranges: a window of a few MB under 1 % random loss has tens of holes,
 * and both the receiver's out-of-order set and the sender's SACK scoreboard
 * must hold them all (with 8, the 9th hole's data was dropped and resent,
 * and the scoreboard forgot SACKed ranges). 513 bytes each, in the loss
 * state that exists only during an episode. */
enum { TL_ASM_MAX = 64 };

struct tl_asm_range {
  uint32_t start, end;   /* [start, end) relative to the current base */
};

struct tl_assembler {
  struct tl_asm_range r[TL_ASM_MAX];
  uint8_t n;             /* ranges held, sorted, non-overlapping, non-adjacent */
};

void tl_asm_init(struct tl_assembler *a);
int tl_asm_add(struct tl_assembler *a, uint32_t off, uint32_t len);
uint32_t tl_asm_front(const struct tl_assembler *a);
void tl_asm_advance(struct tl_assembler *a, uint32_t n);
uint32_t tl_asm_bytes(const struct tl_assembler *a);
uint32_t tl_asm_highest(const struct tl_assembler *a);
#endif
