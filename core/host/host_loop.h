/* The running binary: a TUN fd, one stack, optional impairment in each
 * direction, the Lua state, its watchdog, and the libev loop that drives them. All of it
 * lives in one struct host (no global state); watchers reach it through
 * their data pointer. */
#ifndef TL_HOST_LOOP_H
#define TL_HOST_LOOP_H
#include <ev.h>
#include <stdint.h>

#include "host_lua.h"
#include "tcplua.h"

enum host_counter {
#define X(name, desc) HC_##name,
#include "host_counters.def"
#undef X
  HC__COUNT
};

/* Datagrams read per wake-up before yielding to other watchers. */
#define HOST_RX_BATCH 256

struct host {
  struct ev_loop *loop;
  ev_io tun_io;
  ev_timer timer;
  ev_async stop_async; /* the watchdog thread took SIGINT/SIGTERM */
  int tun_fd;
  tl_stack *st;
  struct host_lua lua;
  struct host_watchdog wd;
  int64_t now; /* loop time of the current callback, us */
  int stopping;
  int exit_code;   /* set when the loop ends on an error */
  int print_stats; /* --stats */
  uint64_t counters[HC__COUNT];
  int vnet;               /* the TUN carries virtio_net_hdr (host_offload.h) */
  uint16_t mtu;           /* for sizing TSO pieces */
  /* --gateway (host_gw.c): one TUN per side */
  int gw;
  int gw_fd[2];
  ev_io gw_io[2];
  int gw_tso[2];  /* the kernel took offloads on that side's TUN */
  int gw_offload; /* offloads are on now (they follow tl_gw_direct) */
  uint8_t rx[65536 + 16]; /* a 64 KB GRO datagram plus its virtio_net_hdr */
};

/* Output callbacks, installed by main on the stack (the impairment, when
 * asked for, is the stack's own: tl_hook_set_impair). */
int host_to_tun(void *ctx, const uint8_t *pkt, size_t len);     /* write one datagram */
/* The stack's scatter output (tl_stack_set_output_vec): one write per
 * datagram, the virtio header in the stack's headroom. */
int host_to_tun_vec(void *ctx, const tl_iov *iov, int n, size_t len);

/* Counts the outcome of one write of a len-byte datagram to a TUN (sent,
 * dropped on a full queue, failed); 0 if it was all written. */
int host_tun_written(struct host *h, ssize_t n, size_t len);
int64_t host_now_us(struct host *h);
/* Creates the loop and the watcher the watchdog wakes on SIGINT/SIGTERM
 * (host_watchdog.h); -1 on failure. */
int host_loop_init(struct host *h);
/* Watches the TUN and runs until a signal, tcplua.stop() or a TUN error. */
void host_loop_run(struct host *h);
/* Lets Lua react, runs what is due, arms the timer (after each input). */
void host_service(struct host *h);
/* Frees the loop. */
void host_loop_close(struct host *h);
const char *host_counter_name(int i);
#endif
