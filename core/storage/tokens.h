/* A token bucket holding up to one second of tokens at `rate` per second,
 * counted in millionths of a token so that integer refill is exact (rate
 * tokens/s is exactly `rate` millionths per microsecond). The ICMP and
 * ICMPv6 error limits use one each (RFC 1812 4.3.2.8, RFC 4443 2.4(f)).
 *
 * tl_tokens_fill(b, rate)        a full bucket
 * tl_tokens_take(b, rate, now)   1 and one token less, or 0 when empty;
 *                                rate 0 means no limit */
#ifndef TL_TOKENS_H
#define TL_TOKENS_H
#include <stdint.h>

struct tl_tokens {
  uint64_t millis; /* millionths of a token */
  int64_t refill_at;
};

static inline void tl_tokens_fill(struct tl_tokens *b, uint64_t rate) {
  b->millis = rate * 1000000u;
  b->refill_at = 0;
}

static inline int tl_tokens_take(struct tl_tokens *b, uint64_t rate, int64_t now) {
  if (rate == 0) return 1;
  uint64_t cap = rate * 1000000u;
  if (now > b->refill_at) {
    uint64_t add = (uint64_t)(now - b->refill_at) * rate;
    b->millis = (add >= cap || b->millis + add >= cap) ? cap : b->millis + add;
    b->refill_at = now;
  }
  if (b->millis < 1000000u) return 0;
  b->millis -= 1000000u;
  return 1;
}
#endif
