/* The external definitions of seq.h's inline helpers (C11 6.7.4): C code
 * inlines them, the FFI calls these. */
#include "seq.h"

extern inline int32_t tl_seq_diff(uint32_t a, uint32_t b);
extern inline int tl_seq_lt(uint32_t a, uint32_t b);
extern inline int tl_seq_leq(uint32_t a, uint32_t b);
extern inline int tl_seq_gt(uint32_t a, uint32_t b);
extern inline int tl_seq_geq(uint32_t a, uint32_t b);
extern inline int tl_seq_in(uint32_t x, uint32_t lo, uint32_t hi);
extern inline uint32_t tl_seq_max(uint32_t a, uint32_t b);
extern inline uint32_t tl_seq_min(uint32_t a, uint32_t b);
