/* TCP header codec (RFC 9293 3.1) and options (3.2, RFC 7323, RFC 2018):
 * pure functions of bytes, no stack state. The FFI declarations are
 * generated from this header (tcplua.h says how). */
#ifndef TL_TCP_WIRE_H
#define TL_TCP_WIRE_H
#include "tcplua.h"

enum tl_tcp_flag_bits {
  TL_TH_FIN = 0x01, TL_TH_SYN = 0x02, TL_TH_RST = 0x04, TL_TH_PSH = 0x08,
  TL_TH_ACK = 0x10, TL_TH_URG = 0x20, TL_TH_ECE = 0x40, TL_TH_CWR = 0x80
};

struct tl_tcp_opts {
  uint16_t mss;           /* 0 if absent */
  uint8_t has_mss;
  uint8_t has_wscale, wscale;
  uint8_t sack_ok;
  uint8_t has_ts;
  uint32_t ts_val, ts_ecr;
  uint8_t sack_n;         /* SACK blocks received (RFC 2018), up to 4 */
  uint32_t sack[4][2];    /* [left, right) edges */
  uint8_t unknown;        /* options skipped: unknown kinds, and known kinds
                             with a length that does not fit them */
};

struct tl_tcp_hdr {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t off;            /* header length in bytes */
  uint8_t flags;
  uint16_t win, csum, urg;
  struct tl_tcp_opts opt;
  const uint8_t *data;    /* payload */
  uint32_t len;           /* payload length */
};

enum tl_tcp_parse_err {
  TL_TCP_OK = 0,
  TL_TCP_ESHORT = -1,     /* shorter than 20 bytes */
  TL_TCP_EOFF = -2,       /* data offset < 5 or beyond the segment */
  TL_TCP_EOPT = -3,       /* malformed option (bad length) */
  TL_TCP_ECSUM = -4       /* checksum mismatch */
};

/* Parse and verify the checksum against the pseudo-header (addresses in host
 * order). Returns TL_TCP_OK or a tl_tcp_parse_err. */
int tl_tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst, struct tl_tcp_hdr *h);
/* Same without checksum verification (already checked, or offloaded). */
int tl_tcp_parse_nocsum(const uint8_t *seg, size_t len, struct tl_tcp_hdr *h);
/* Parse only the options area. */
int tl_tcp_parse_opts(const uint8_t *p, size_t len, struct tl_tcp_opts *o);
/* Bytes of options tl_tcp_build writes for this header (a multiple of 4). */
size_t tl_tcp_opts_len(const struct tl_tcp_hdr *h);
/* Write header + options (from h->opt: MSS/WS/SACK-OK only with SYN, TS if
 * has_ts, SACK blocks if sack_n, as many as fit in 40 bytes) into buf;
 * returns the header length. The checksum field is left 0: call
 * tl_tcp_checksum after the payload is in place. */
size_t tl_tcp_build(uint8_t *buf, const struct tl_tcp_hdr *h);
/* Compute and store the checksum of the segment at seg (header+data). */
void tl_tcp_checksum(uint8_t *seg, size_t len, uint32_t src, uint32_t dst);
/* tcpdump-style flag string ("S.", "F.", "R", "P.", "." ; "none" for no
 * flags) into out[8]: at most 7 characters, so with all eight flags set the
 * last (CWR, "W") is left off. tl_tcp_flags_fmt takes any buffer size;
 * both return out. */
const char *tl_tcp_flags_str(uint8_t flags, char out[8]);
const char *tl_tcp_flags_fmt(uint8_t flags, char *out, size_t cap);
const char *tl_tcp_strerror(int err);

#define TL_TCP_HDR_LEN 20
#define TL_TCP_MAX_OPT 40

/* Option kinds (IANA "TCP Option Kind Numbers"). */
enum {
  TL_TCPOPT_EOL = 0, TL_TCPOPT_NOP = 1, TL_TCPOPT_MSS = 2, TL_TCPOPT_WS = 3,
  TL_TCPOPT_SACK_OK = 4, TL_TCPOPT_SACK = 5, TL_TCPOPT_TS = 8
};

#ifndef TL_FFI
/* Views of a TCP header's fixed fields (at least the bytes named must be
 * there), for code that classifies a segment without parsing it. */
static inline uint16_t tl_tcp_view_sport(const uint8_t *seg) { return (uint16_t)(seg[0] << 8 | seg[1]); }
static inline uint16_t tl_tcp_view_dport(const uint8_t *seg) { return (uint16_t)(seg[2] << 8 | seg[3]); }
static inline uint8_t tl_tcp_view_flags(const uint8_t *seg) { return seg[13]; }
static inline size_t tl_tcp_view_hdr_len(const uint8_t *seg) { return (size_t)(seg[12] >> 4) * 4; }
#endif
#endif
