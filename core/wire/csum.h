/* Internet checksum (RFC 1071) and incremental update (RFC 1624). The
 * public prototypes live in api.h; these helpers are for the codecs. */
#ifndef TL_CSUM_H
#define TL_CSUM_H
#include "tcplua.h"

/* Sum of the IPv4 pseudo-header (RFC 9293 3.1) for TCP/UDP checksums,
 * unfolded, to be passed as the initial sum to tl_csum_partial. Addresses
 * in host byte order. */
uint32_t tl_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
#endif
