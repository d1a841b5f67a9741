/* Out-of-order range tracker for the receive side: which byte ranges past
 * rcv_nxt are held (their bytes sit in the receive ring, written with
 * tl_ring_write_at). Bounded: at most TL_ASM_MAX holes are tracked; a range
 * that would need more is refused and the segment dropped (the peer
 * retransmits). Offsets are relative to rcv_nxt. */
#ifndef TL_ASSEMBLER_H
#define TL_ASSEMBLER_H
#include <stdint.h>

#define TL_ASM_MAX 8

struct tl_asm_range {
  uint32_t start, end;   /* [start, end) relative to the current base */
};

struct tl_assembler {
  struct tl_asm_range r[TL_ASM_MAX];
  uint8_t n;             /* ranges held, sorted, non-overlapping, non-adjacent */
};

void tl_asm_init(struct tl_assembler *a);
/* Record [off, off+len). Returns 0, or -1 if it would need more than
 * TL_ASM_MAX ranges (nothing is changed then). */
int tl_asm_add(struct tl_assembler *a, uint32_t off, uint32_t len);
/* Bytes contiguous from offset 0 (the front range if it starts at 0). */
uint32_t tl_asm_front(const struct tl_assembler *a);
/* The base advanced by n bytes (rcv_nxt moved): shift every range down;
 * ranges entirely below n are removed. */
void tl_asm_advance(struct tl_assembler *a, uint32_t n);
/* Total bytes held. */
uint32_t tl_asm_bytes(const struct tl_assembler *a);
/* Highest held end offset (0 if empty); ranges also serve SACK blocks later. */
uint32_t tl_asm_highest(const struct tl_assembler *a);
#endif
