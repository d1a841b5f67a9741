/* TCP header codec (RFC 9293 3.1) and options (3.2, RFC 7323, RFC 2018):
 * pure functions of bytes, no stack state. */
#ifndef TL_TCP_WIRE_H
#define TL_TCP_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define TL_TCP_HDR_LEN 20
#define TL_TCP_MAX_OPT 40

enum {
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
  uint32_t sack[4][2];
  uint8_t unknown;        /* count of unknown options skipped */
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
/* Parse only the options area. */
int tl_tcp_parse_opts(const uint8_t *p, size_t len, struct tl_tcp_opts *o);
/* Write header + options (from h->opt: MSS/WS/SACK-OK only with SYN, TS if
 * has_ts, SACK blocks if sack_n) into buf; returns the header length. The
 * checksum field is left 0: call tl_tcp_checksum after the payload is
 * in place. */
size_t tl_tcp_build(uint8_t *buf, const struct tl_tcp_hdr *h);
/* Compute and store the checksum of the segment at seg (header+data). */
void tl_tcp_checksum(uint8_t *seg, size_t len, uint32_t src, uint32_t dst);
/* tcpdump-style flag string ("S.", "F.", "R", "P.") into out[8]. */
const char *tl_tcp_flags_str(uint8_t flags, char out[8]);
#endif
