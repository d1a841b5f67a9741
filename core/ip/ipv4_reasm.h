/* IPv4 reassembly (RFC 791 3.2, RFC 815). Keyed by (src, dst, proto, id).
 * Received data is tracked in a bitmap of 8-byte blocks: every fragment
 * but the last carries a multiple of 8 bytes at an 8-byte aligned offset
 * (RFC 791), so a block is the natural unit and overlap tests are exact. */
#ifndef TL_IPV4_REASM_H
#define TL_IPV4_REASM_H
#include "stack.h"

#define TL_REASM_HEADROOM 60 /* room for the largest IP header */
#define TL_REASM_BLOCKS (65536 / 8)

struct tl_reasm_dgram {
  uint32_t src, dst;
  uint16_t id;
  uint8_t proto;
  uint8_t hdr_len; /* 0 until the first fragment arrived */
  uint8_t hdr[60]; /* the first fragment's header, as received */
  int have_last;
  uint32_t total;   /* payload length, known once the last arrived */
  uint32_t max_end; /* highest payload byte + 1 seen so far */
  uint32_t blocks;  /* 8-byte blocks received */
  int64_t expires;
  uint8_t *buf; /* TL_REASM_HEADROOM + cap bytes */
  size_t cap;   /* payload capacity */
  uint8_t seen[TL_REASM_BLOCKS / 8];
};

struct tl_reasm {
  struct tl_reasm_dgram **d; /* cfg.reasm_max_datagrams slots */
  int n, max;
  size_t bytes; /* memory held, checked against reasm_max_bytes */
};

struct tl_ip_meta;
int tl_reasm_init(tl_stack *st, struct tl_reasm *r);
void tl_reasm_free(struct tl_reasm *r);
/* Add one fragment (a validated datagram with MF or an offset). Returns the
 * complete datagram (header then payload, *len bytes) when this fragment
 * finished it, else NULL. The caller delivers it, then calls
 * tl_reasm_release. */
struct tl_reasm_dgram *tl_reasm_add(tl_stack *st, const tl_ip_hdr *h, const uint8_t *pkt, int64_t now,
                                    const uint8_t **dgram, size_t *len);
void tl_reasm_release(tl_stack *st, struct tl_reasm_dgram *d);
/* Expire datagrams due at now (RFC 1122 3.3.2), handing `expired` the
 * header and first 8 bytes of each whose fragment zero arrived (the
 * quote a time-exceeded needs); returns the next expiry. */
typedef void (*tl_reasm_expired_fn)(tl_stack *st, const uint8_t *orig, size_t len, int64_t now);
int64_t tl_reasm_poll(tl_stack *st, int64_t now, tl_reasm_expired_fn expired);
int64_t tl_reasm_deadline(const struct tl_reasm *r);
#endif
