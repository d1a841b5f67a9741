/* TCP header codec (RFC 9293 3.1) and options (3.2, RFC 7323, RFC 2018):
 * pure functions of bytes, no stack state. The structs (tl_tcp_hdr,
 * tl_tcp_opts), the TL_TH_* flag bits, the parse errors and the prototypes
 * are in api_tcpwire.h, shared with the FFI. */
#ifndef TL_TCP_WIRE_H
#define TL_TCP_WIRE_H
#include "tcplua.h"

#define TL_TCP_HDR_LEN 20
#define TL_TCP_MAX_OPT 40

/* Option kinds (IANA "TCP Option Kind Numbers"). */
enum {
  TL_TCPOPT_EOL = 0, TL_TCPOPT_NOP = 1, TL_TCPOPT_MSS = 2, TL_TCPOPT_WS = 3,
  TL_TCPOPT_SACK_OK = 4, TL_TCPOPT_SACK = 5, TL_TCPOPT_TS = 8
};

/* Views of a TCP header's fixed fields (at least the bytes named must be
 * there), for code that classifies a segment without parsing it. */
static inline uint16_t tl_tcp_view_sport(const uint8_t *seg) { return (uint16_t)(seg[0] << 8 | seg[1]); }
static inline uint16_t tl_tcp_view_dport(const uint8_t *seg) { return (uint16_t)(seg[2] << 8 | seg[3]); }
static inline uint8_t tl_tcp_view_flags(const uint8_t *seg) { return seg[13]; }
static inline size_t tl_tcp_view_hdr_len(const uint8_t *seg) { return (size_t)(seg[12] >> 4) * 4; }
#endif
