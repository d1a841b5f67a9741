/* The stack object and its sans-I/O driving functions. */
#include "stack.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fwd.h"
#include "hook.h"
#include "ipv4.h"
#include "ipv6.h"
#include "tcp.h"
#include "udp.h"

/* The stack is where the floors are put together: the network layer's
 * input behind the interface, and the transports in IP's protocol table. */
static void wire_floors(tl_stack *st) {
  st->l3_input = tl_ipv4_input;
  st->l3_input6 = tl_ipv6_input;
  tl_proto_register(st, TL_PROTO_TCP, &tl_tcp_proto);
  tl_proto_register(st, TL_PROTO_UDP, &tl_udp_proto);
}

static const tl_config_field config_fields[] = {
#define TL_CFG(type, name, def, lo, hi, doc) \
  {#name, #type, doc, (uint64_t)(def), (uint64_t)(lo), (uint64_t)(hi), offsetof(tl_config, name), sizeof(type)},
#include "config.def"
#undef TL_CFG
};
enum { CONFIG_FIELDS = sizeof config_fields / sizeof config_fields[0] };

int tl_config_fields(void) { return CONFIG_FIELDS; }

const tl_config_field *tl_config_field_at(int i) { return i >= 0 && i < CONFIG_FIELDS ? &config_fields[i] : NULL; }

void tl_config_default(tl_config *c) {
  memset(c, 0, sizeof *c);
#define TL_CFG(type, name, def, lo, hi, doc) c->name = (type)(def);
#include "config.def"
#undef TL_CFG
}

static uint64_t field_value(const tl_config *c, const tl_config_field *f) {
  const uint8_t *p = (const uint8_t *)c + f->offset;
  switch (f->size) {
  case 1: return *p;
  case 2: return *(const uint16_t *)(const void *)p;
  case 4: return *(const uint32_t *)(const void *)p;
  default: return *(const uint64_t *)(const void *)p;
  }
}

int tl_config_check(const tl_config *c) {
  for (int i = 0; i < CONFIG_FIELDS; i++) {
    uint64_t v = field_value(c, &config_fields[i]);
    if (v < config_fields[i].min || v > config_fields[i].max) return i;
  }
  return -1;
}

tl_stack *tl_stack_new(const tl_config *cfg, tl_output_fn out, void *ctx) {
  tl_stack *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  if (cfg)
    st->cfg = *cfg;
  else
    tl_config_default(&st->cfg);
  if (tl_config_check(&st->cfg) >= 0) {
    free(st);
    return NULL;
  }
  st->out = out;
  st->out_ctx = ctx;
  st->tx = st->txbuf + TL_OUT_HEADROOM;
  tl_rng_seed(&st->rng, st->cfg.seed);
  wire_floors(st);
  if (tl_ipv4_init(st) < 0 || tl_ipv6_init(st) < 0 || tl_tcp_init(st) < 0 || tl_udp_init(st) < 0) {
    tl_stack_free(st);
    return NULL;
  }
  return st;
}

void tl_stack_free(tl_stack *st) {
  if (!st) return;
  tl_hook_free(st);
  tl_udp_free(st);
  tl_fwd_free(st);
  tl_tcp_free(st);
  tl_ipv6_free(st);
  tl_ipv4_free(st);
  free(st);
}

const tl_config *tl_stack_config(const tl_stack *st) { return &st->cfg; }

void tl_stack_input_flags(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned flags) {
  st->now = now;
  if (st->hook) {
    tl_hook_input(st, pkt, len, now, flags);
    return;
  }
  tl_netif_deliver(st, pkt, len, flags);
}

void tl_stack_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now) {
  tl_stack_input_flags(st, pkt, len, now, 0);
}

void tl_stack_batch(tl_stack *st, int mask) { st->batch = (uint8_t)(mask & (TL_BATCH_RX | TL_BATCH_TX)); }

static void batch_one(tl_stack *st, int kind, int on) {
  if (st) tl_stack_batch(st, on ? st->batch | kind : st->batch & ~kind);
}

void tl_tcp_rx_batch(tl_stack *st, int on) { batch_one(st, TL_BATCH_RX, on); }

void tl_tcp_tx_batch(tl_stack *st, int on) { batch_one(st, TL_BATCH_TX, on); }

static int64_t earliest(int64_t a, int64_t b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

int64_t tl_stack_poll(tl_stack *st, int64_t now) {
  st->now = now;
  int64_t a = earliest(tl_ipv4_poll(st, now), tl_ipv6_poll(st, now));
  int64_t b = tl_tcp_poll(st, now);
  if (st->hook) b = earliest(b, tl_hook_poll(st, now));
  return earliest(a, b);
}

int64_t tl_stack_deadline(const tl_stack *st) {
  int64_t d = earliest(earliest(tl_ipv4_deadline(st), tl_ipv6_deadline(st)), tl_tcp_deadline(st));
  return st->hook ? earliest(d, tl_hook_deadline(st)) : d;
}

/* Held hook segments count as events: the driver (sim, host loop) then
 * lets the Lua runtime step and drain them. */
int tl_stack_pending_events(const tl_stack *st) {
  return tl_tcp_pending_events(st) || tl_udp_pending_events(st) || tl_hook_pending(st);
}

void tl_stack_set_output_vec(tl_stack *st, tl_output_vec_fn outv, void *ctx) {
  st->outv = outv;
  st->outv_ctx = ctx;
}


static const char *const counter_names[] = {
#define X(name, desc) #name,
#include "counters_ip.def"
#include "counters_icmp.def"
#include "counters_ip6.def"
#include "counters_tcp.def"
#include "counters_udp.def"
#include "counters_hook.def"
#include "counters_fwd.def"
#undef X
};

int tl_stats_count(void) { return TLC__COUNT; }

const char *tl_stats_name(int i) { return (i >= 0 && i < TLC__COUNT) ? counter_names[i] : NULL; }

uint64_t tl_stats_get(const tl_stack *st, int i) { return (i >= 0 && i < TLC__COUNT) ? st->counters[i] : 0; }

const char *tl_version(void) { return TL_VERSION; }

const char *tl_strerror(int err) {
  switch (err) {
  case TL_OK: return "ok";
  case TL_EAGAIN: return "again";
  case TL_ECLOSED: return "closed";
  case TL_ERESET: return "reset";
  case TL_ETIMEOUT: return "timeout";
  case TL_EREFUSED: return "refused";
  case TL_EUNREACH: return "unreachable";
  case TL_EINVAL: return "invalid";
  case TL_EADDRINUSE: return "in use";
  case TL_ENOMEM: return "no memory";
  case TL_ENOTCONN: return "not connected";
  case TL_EABORTED: return "aborted";
  default: return "unknown";
  }
}
