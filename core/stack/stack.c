/* The stack object and its sans-I/O driving functions. */
#include "stack.h"

#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "ipv4.h"
#include "tcp.h"

/* The stack is where the floors are put together: the network layer's
 * input behind the interface, and the transports in IP's protocol table. */
static void wire_floors(tl_stack *st) {
  st->l3_input = tl_ipv4_input;
  tl_proto_register(st, TL_PROTO_TCP, &tl_tcp_proto);
}

void tl_config_default(tl_config *c) {
  memset(c, 0, sizeof *c);
  c->addr = (10u << 24) | (77u << 16) | 2;   /* 10.77.0.2 */
  c->host = (10u << 24) | (77u << 16) | 1;   /* 10.77.0.1 */
  c->prefix = 24;
  c->mtu = 1500;
  c->ttl = 64;
  c->seed = 1;
  c->reasm_timeout_us = 30u * 1000 * 1000;   /* Linux ipfrag_time */
  c->reasm_max_bytes = 4u * 1024 * 1024;
  c->reasm_max_datagrams = 64;
  c->icmp_rate_per_s = 1000;
  c->tcp_sndbuf = 256 * 1024;
  c->tcp_rcvbuf = 256 * 1024;
  c->tcp_backlog = 128;
  c->tcp_msl_us = 30u * 1000 * 1000;         /* TIME-WAIT 60 s, as Linux */
  c->tcp_rto_initial_us = 1000 * 1000;
  c->tcp_rto_min_us = 200 * 1000;
  c->tcp_rto_max_us = 120u * 1000 * 1000;
  c->tcp_syn_retries = 6;
  c->tcp_synack_retries = 5;
  c->tcp_data_retries = 15;
  c->tcp_delack_us = 40 * 1000;
  c->tcp_quickacks = 15;
  c->tcp_challenge_ack_per_s = 1000;
  c->tcp_keepalive_idle_ms = 7200u * 1000; /* ms: 2 h in us overflows 32 bits */
  c->tcp_keepalive_intvl_ms = 75u * 1000;
  c->tcp_keepalive_probes = 9;
  c->tcp_ooo_max_bytes = 4u * 1024 * 1024; /* as much as the largest receive buffer */
  c->isn_key_random = 0;
  c->tcp_sndbuf_max = 4u * 1024 * 1024;
  c->tcp_rcvbuf_max = 4u * 1024 * 1024;
  c->tcp_buf_hold_us = 1000 * 1000;
}

tl_stack *tl_stack_new(const tl_config *cfg, tl_output_fn out, void *ctx) {
  tl_stack *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  if (cfg)
    st->cfg = *cfg;
  else
    tl_config_default(&st->cfg);
  st->out = out;
  st->out_ctx = ctx;
  st->tx = st->txbuf + TL_OUT_HEADROOM;
  tl_rng_seed(&st->rng, st->cfg.seed);
  wire_floors(st);
  if (tl_ipv4_init(st) < 0 || tl_tcp_init(st) < 0) {
    tl_stack_free(st);
    return NULL;
  }
  return st;
}

void tl_stack_free(tl_stack *st) {
  if (!st) return;
  tl_hook_free(st);
  tl_tcp_free(st);
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
  int64_t a = tl_ipv4_poll(st, now);
  int64_t b = tl_tcp_poll(st, now);
  if (st->hook) b = earliest(b, tl_hook_poll(st, now));
  return earliest(a, b);
}

int64_t tl_stack_deadline(const tl_stack *st) {
  int64_t d = earliest(tl_ipv4_deadline(st), tl_tcp_deadline(st));
  return st->hook ? earliest(d, tl_hook_deadline(st)) : d;
}

/* Held hook segments count as events: the driver (sim, host loop) then
 * lets the Lua runtime step and drain them. */
int tl_stack_pending_events(const tl_stack *st) { return tl_tcp_pending_events(st) || tl_hook_pending(st); }

void tl_stack_set_output_vec(tl_stack *st, tl_output_vec_fn outv, void *ctx) {
  st->outv = outv;
  st->outv_ctx = ctx;
}


static const char *const counter_names[] = {
#define X(name, desc) #name,
#include "counters_ip.def"
#include "counters_icmp.def"
#include "counters_tcp.def"
#include "counters_hook.def"
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
