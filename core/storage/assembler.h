/* Out-of-order range tracker for the receive side: which byte ranges past
 * rcv_nxt are held (their bytes sit in the receive ring, written with
 * tl_ring_write_at). Bounded: at most TL_ASM_MAX ranges are tracked; a range
 * that would need more is refused and the segment dropped (the peer
 * retransmits). Offsets are relative to rcv_nxt.
 * struct tl_assembler, TL_ASM_MAX and the prototypes are in api_tcpwire.h:
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
#endif
