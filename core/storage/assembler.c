/* Bounded out-of-order range set (see assembler.h). Ranges are kept sorted,
 * disjoint and non-adjacent, so the front range is the only one that can
 * start at 0 and the array doubles as the SACK block list (RFC 2018 4). */
#include "assembler.h"

#include <string.h>

void tl_asm_init(struct tl_assembler *a) { memset(a, 0, sizeof *a); }

int tl_asm_add(struct tl_assembler *a, uint32_t off, uint32_t len) {
  if (len == 0) return 0;
  uint32_t end = off + len;
  if (end < off) return -1; /* wraps 2^32: no window is that large */
  /* Ranges [i, j) touch or overlap the new one; they merge into one. */
  int i = 0;
  while (i < a->n && a->r[i].end < off) i++;
  int j = i;
  while (j < a->n && a->r[j].start <= end) j++;
  int merged = j - i;
  if (merged == 0 && a->n >= TL_ASM_MAX) return -1;
  if (merged > 0) {
    if (a->r[i].start < off) off = a->r[i].start;
    if (a->r[j - 1].end > end) end = a->r[j - 1].end;
  }
  /* Replace r[i..j) by one range: shift the tail by 1 - merged. */
  int tail = a->n - j;
  memmove(&a->r[i + 1], &a->r[j], (size_t)tail * sizeof a->r[0]);
  a->r[i].start = off;
  a->r[i].end = end;
  a->n = (uint8_t)(a->n + 1 - merged);
  return 0;
}

uint32_t tl_asm_front(const struct tl_assembler *a) { return (a->n && a->r[0].start == 0) ? a->r[0].end : 0; }

void tl_asm_advance(struct tl_assembler *a, uint32_t n) {
  if (n == 0) return;
  int k = 0;
  for (int i = 0; i < a->n; i++) {
    if (a->r[i].end <= n) continue;
    a->r[k].start = a->r[i].start > n ? a->r[i].start - n : 0;
    a->r[k].end = a->r[i].end - n;
    k++;
  }
  a->n = (uint8_t)k;
}

uint32_t tl_asm_bytes(const struct tl_assembler *a) {
  uint32_t s = 0;
  for (int i = 0; i < a->n; i++) s += a->r[i].end - a->r[i].start;
  return s;
}

uint32_t tl_asm_highest(const struct tl_assembler *a) { return a->n ? a->r[a->n - 1].end : 0; }
