/* Out-of-line copies of the seq.h helpers, so specs can call them through
 * the FFI (LuaJIT cannot call static inline functions). */
#include "seq.h"

#include "tcplua.h"

int32_t tl_seq_diff_x(uint32_t a, uint32_t b) { return tl_seq_diff(a, b); }
int tl_seq_lt_x(uint32_t a, uint32_t b) { return tl_seq_lt(a, b); }
int tl_seq_leq_x(uint32_t a, uint32_t b) { return tl_seq_leq(a, b); }
int tl_seq_gt_x(uint32_t a, uint32_t b) { return tl_seq_gt(a, b); }
int tl_seq_geq_x(uint32_t a, uint32_t b) { return tl_seq_geq(a, b); }
int tl_seq_in_x(uint32_t x, uint32_t lo, uint32_t hi) { return tl_seq_in(x, lo, hi); }
uint32_t tl_seq_max_x(uint32_t a, uint32_t b) { return tl_seq_max(a, b); }
uint32_t tl_seq_min_x(uint32_t a, uint32_t b) { return tl_seq_min(a, b); }
