/* IPv6 reassembly (RFC 8200 4.5, RFC 5722). Keyed by (source, destination,
 * identification). As for IPv4, received data is tracked in a bitmap of
 * 8-byte blocks (every fragment but the last carries a multiple of 8). */
#ifndef TL_IPV6_REASM_H
#define TL_IPV6_REASM_H
#include "stack.h"

/* The first fragment's headers up to and including its fragment header:
 * larger unfragmentable parts are refused (drop_ip6_frag_cap). */
#define TL_REASM6_UNFRAG_MAX 512
#define TL_REASM6_BLOCKS (65536 / 8)

struct tl_reasm6_dgram {
  uint8_t src[16], dst[16];
  uint32_t id;
  uint16_t unfrag_len; /* 0 until the first fragment arrived: its headers before the fragment header */
  uint16_t frag_nh_at; /* there, the Next Header field naming the fragment header */
  uint8_t hdr[TL_REASM6_UNFRAG_MAX + 8]; /* those headers and its fragment header, as received */
  int have_last;
  uint32_t total, max_end, blocks;
  int64_t expires;
  uint8_t *buf; /* TL_REASM6_UNFRAG_MAX + cap bytes */
  size_t cap;
  uint8_t seen[TL_REASM6_BLOCKS / 8];
};

struct tl_reasm6 {
  struct tl_reasm6_dgram **d; /* cfg.reasm_max_datagrams slots */
  int n, max;
  size_t bytes; /* against cfg.reasm_max_bytes (apart from IPv4's) */
};

/* One fragment: pkt[0..len) whose fragment header is at frag_at. */
struct tl_frag6 {
  const uint8_t *pkt;
  size_t len, frag_at, nh_at; /* nh_at: the Next Header field naming the fragment header */
  uint32_t id;
  uint16_t off;
  uint8_t more;
};

int tl_reasm6_init(tl_stack *st, struct tl_reasm6 *r);
void tl_reasm6_free(struct tl_reasm6 *r);
/* Add one fragment. When it completes a datagram, returns it: *dgram is
 * the unfragmentable part (the last Next Header naming what the fragment
 * header named) then the payload, *len bytes, *at the offset where the
 * payload starts and *nh_at the Next Header field naming it. The caller
 * delivers, then calls tl_reasm6_release. NULL otherwise (counted). */
struct tl_reasm6_dgram *tl_reasm6_add(tl_stack *st, const struct tl_frag6 *f, int64_t now,
                                      const uint8_t **dgram, size_t *len, size_t *at, size_t *nh_at);
void tl_reasm6_release(tl_stack *st, struct tl_reasm6_dgram *d);
/* Expire datagrams due at now, handing `expired` the first fragment's
 * headers and up to 8 bytes of its data (for a time exceeded, RFC 8200
 * 4.5) when fragment zero arrived. Returns the next expiry or -1. */
typedef void (*tl_reasm6_expired_fn)(tl_stack *st, const uint8_t *orig, size_t len, int64_t now);
int64_t tl_reasm6_poll(tl_stack *st, int64_t now, tl_reasm6_expired_fn expired);
int64_t tl_reasm6_deadline(const struct tl_reasm6 *r);
#endif
