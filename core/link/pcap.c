/* pcapng writer: a Section Header Block, one Interface Description Block
 * (LINKTYPE_RAW, microsecond resolution) and an Enhanced Packet Block per
 * packet, written in host byte order (readers detect it from the SHB's
 * byte-order magic). Block layouts follow draft-ietf-opsawg-pcapng
 * (the pcapng specification): sections 4.1 (SHB), 4.2 (IDB), 4.3 (EPB),
 * 3.5 (options). Writes go through a stdio buffer and reach the file at
 * close, so recording costs no system call per packet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap.h"

enum {
  BT_SHB = 0x0A0D0D0A,
  BT_IDB = 0x00000001,
  BT_EPB = 0x00000006,
  BYTE_ORDER_MAGIC = 0x1A2B3C4D,
  LINKTYPE_RAW = 101, /* bare IPv4/IPv6 datagrams, no link header */
  OPT_ENDOFOPT = 0,
  OPT_COMMENT = 1,
  SHB_USERAPPL = 4,
  IF_NAME = 2,
  IF_TSRESOL = 9,
  EPB_FLAGS = 2,
  DEFAULT_SNAPLEN = 65535,
  /* A comment longer than this is cut: an option length is 16 bits. */
  MAX_COMMENT = 4096,
  STDIO_BUF = 1 << 16
};

struct tl_pcap {
  FILE *f;
  char *buf; /* stdio buffer, owned */
  uint64_t count;
  uint32_t snaplen;
  int failed;
};

static uint32_t pad4(size_t n) { return (uint32_t)((n + 3) & ~(size_t)3); }

static void put(tl_pcap *p, const void *data, size_t len) {
  if (!p->failed && len && fwrite(data, 1, len, p->f) != len) p->failed = 1;
}

static void put32(tl_pcap *p, uint32_t v) { put(p, &v, 4); }

static void put_zeros(tl_pcap *p, size_t n) {
  static const uint8_t zeros[4];
  put(p, zeros, n);
}

/* One option: code, length, value padded to 32 bits (section 3.5). */
static void put_opt(tl_pcap *p, uint16_t code, const void *val, uint16_t len) {
  uint16_t h[2] = {code, len};
  put(p, h, 4);
  put(p, val, len);
  put_zeros(p, pad4(len) - len);
}

static uint32_t opt_size(size_t len) { return 4 + pad4(len); }

static int write_headers(tl_pcap *p) {
  static const char appl[] = "tcplua";
  static const char ifname[] = "tcplua";
  /* SHB: type, total length, magic, version 1.0, section length unknown. */
  uint32_t shb_len = 28 + opt_size(sizeof appl - 1) + 4;
  put32(p, BT_SHB);
  put32(p, shb_len);
  put32(p, BYTE_ORDER_MAGIC);
  uint16_t ver[2] = {1, 0};
  put(p, ver, 4);
  int64_t section_len = -1;
  put(p, &section_len, 8);
  put_opt(p, SHB_USERAPPL, appl, sizeof appl - 1);
  put_opt(p, OPT_ENDOFOPT, NULL, 0);
  put32(p, shb_len);

  /* IDB: linktype, reserved, snaplen, if_name, if_tsresol = 10^-6. */
  uint8_t tsresol = 6;
  uint32_t idb_len = 20 + opt_size(sizeof ifname - 1) + opt_size(1) + 4;
  put32(p, BT_IDB);
  put32(p, idb_len);
  uint16_t lt[2] = {LINKTYPE_RAW, 0};
  put(p, lt, 4);
  put32(p, p->snaplen);
  put_opt(p, IF_NAME, ifname, sizeof ifname - 1);
  put_opt(p, IF_TSRESOL, &tsresol, 1);
  put_opt(p, OPT_ENDOFOPT, NULL, 0);
  put32(p, idb_len);
  return p->failed ? -1 : 0;
}

tl_pcap *tl_pcap_open(const char *path) {
  if (!path) {
    errno = EINVAL;
    return NULL;
  }
  tl_pcap *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->snaplen = DEFAULT_SNAPLEN;
  p->f = fopen(path, "wb");
  if (!p->f) {
    int e = errno;
    free(p);
    errno = e;
    return NULL;
  }
  p->buf = malloc(STDIO_BUF);
  if (p->buf) setvbuf(p->f, p->buf, _IOFBF, STDIO_BUF);
  if (write_headers(p) < 0) {
    int e = errno ? errno : EIO;
    fclose(p->f);
    free(p->buf);
    free(p);
    errno = e;
    return NULL;
  }
  return p;
}

void tl_pcap_set_snaplen(tl_pcap *p, uint32_t snaplen) {
  if (p && snaplen > 0) p->snaplen = snaplen;
}

int tl_pcap_write(tl_pcap *p, const uint8_t *pkt, size_t len, int64_t ts_us, int dir, const char *comment) {
  if (!p) return -1;
  if (p->failed) return -1;
  if (!pkt) len = 0;
  uint32_t cap = len > p->snaplen ? p->snaplen : (uint32_t)len;
  size_t clen = comment ? strnlen(comment, MAX_COMMENT) : 0;
  uint32_t flags = (dir == TL_PCAP_DIR_IN || dir == TL_PCAP_DIR_OUT) ? (uint32_t)dir : 0;
  uint32_t total = 28 + pad4(cap) + (clen ? opt_size(clen) : 0) + (flags ? opt_size(4) : 0) + 4 + 4;
  uint64_t ts = (uint64_t)ts_us;
  put32(p, BT_EPB);
  put32(p, total);
  put32(p, 0); /* interface 0 */
  put32(p, (uint32_t)(ts >> 32));
  put32(p, (uint32_t)ts);
  put32(p, cap);
  put32(p, (uint32_t)len);
  put(p, pkt, cap);
  put_zeros(p, pad4(cap) - cap);
  if (clen) put_opt(p, OPT_COMMENT, comment, (uint16_t)clen);
  if (flags) put_opt(p, EPB_FLAGS, &flags, 4);
  put_opt(p, OPT_ENDOFOPT, NULL, 0);
  put32(p, total);
  if (p->failed) return -1;
  p->count++;
  return 0;
}

uint64_t tl_pcap_count(const tl_pcap *p) { return p ? p->count : 0; }

int tl_pcap_close(tl_pcap *p) {
  if (!p) return 0;
  int rc = p->failed ? -1 : 0;
  if (fclose(p->f) != 0) rc = -1;
  free(p->buf);
  free(p);
  return rc;
}

void tl_pcap_tap_init(tl_pcap_tap *tap, tl_pcap *p, tl_output_fn next, void *next_ctx) {
  tap->pcap = p;
  tap->next = next;
  tap->next_ctx = next_ctx;
  tap->now_us = 0;
}

void tl_pcap_tap_now(tl_pcap_tap *tap, int64_t now_us) { tap->now_us = now_us; }

int tl_pcap_tap_output(void *ctx, const uint8_t *pkt, size_t len) {
  tl_pcap_tap *tap = ctx;
  if (tap->pcap) tl_pcap_write(tap->pcap, pkt, len, tap->now_us, TL_PCAP_DIR_OUT, NULL);
  return tap->next ? tap->next(tap->next_ctx, pkt, len) : 0;
}
