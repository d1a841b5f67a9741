/* Sequence number arithmetic modulo 2^32 (RFC 9293 3.4, RFC 1982). Inline
 * for C; seq.c gives the FFI its external definitions. */
#ifndef TL_SEQ_H
#define TL_SEQ_H
#include "tcplua.h"

/* clang-format cannot read TL_BODY's braces as a body. */
/* clang-format off */
TL_INLINE int32_t tl_seq_diff(uint32_t a, uint32_t b) TL_BODY({ return (int32_t)(a - b); })
TL_INLINE int tl_seq_lt(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_diff(a, b) < 0; })
TL_INLINE int tl_seq_leq(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_diff(a, b) <= 0; })
TL_INLINE int tl_seq_gt(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_diff(a, b) > 0; })
TL_INLINE int tl_seq_geq(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_diff(a, b) >= 0; })
/* lo <= x < hi, on the circle */
TL_INLINE int tl_seq_in(uint32_t x, uint32_t lo, uint32_t hi) TL_BODY({
  return (uint32_t)(x - lo) < (uint32_t)(hi - lo);
})
TL_INLINE uint32_t tl_seq_max(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_gt(a, b) ? a : b; })
TL_INLINE uint32_t tl_seq_min(uint32_t a, uint32_t b) TL_BODY({ return tl_seq_lt(a, b) ? a : b; })
/* clang-format on */
#endif
