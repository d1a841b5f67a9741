/* tcplua [options] SCRIPT [ARGS...]: brings up a TUN device, runs the
 * stack on it and hands the application to a LuaJIT script. This file
 * wires the pieces together; the command line is host_args.c, the TUN
 * host_tun.c, its configuration host_netlink.c, the loop host_loop.c and
 * the Lua side host_lua.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_gw.h"
#include "host_loop.h"
#include "host_netlink.h"
#include "host_opts.h"
#include "host_offload.h"
#include "host_sim.h"
#include "host_tun.h"

/* Writes buf to stdout without stdio, for the watchdog's emergency exit:
 * the main thread may be parked holding stdout's lock. A reader that takes
 * nothing for 100 ms gets no more. */
static void raw_out(const char *buf, size_t n) {
  while (n > 0) {
    struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};
    if (poll(&p, 1, 100) <= 0) return;
    ssize_t w = write(STDOUT_FILENO, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    buf += w;
    n -= (size_t)w;
  }
}

static void stat_line(int raw, const char *a, const char *b, const char *c, unsigned long long v) {
  if (!raw) {
    printf("%s%s%s %llu\n", a, b, c, v);
    return;
  }
  char line[160];
  int n = snprintf(line, sizeof line, "%s%s%s %llu\n", a, b, c, v);
  if (n > 0 && n < (int)sizeof line) raw_out(line, (size_t)n);
}

/* raw: from the watchdog thread, the main thread parked (host_watchdog.c). */
static void print_stats(struct host *h, int raw) {
  for (int i = 0; i < tl_stats_count(); i++)
    stat_line(raw, tl_stats_name(i), "", "", (unsigned long long)tl_stats_get(h->st, i));
  for (int i = 0; i < HC__COUNT; i++) {
    uint64_t v = i == HC_host_lua_timeouts ? atomic_load(&h->wd.timeouts) : h->counters[i];
    stat_line(raw, host_counter_name(i), "", "", (unsigned long long)v);
  }
  static const char *const im_names[] = {"_in",        "_out",       "_lost",     "_dup",
                                         "_reordered", "_corrupted", "_overflow", "_oversize"};
  /* A gateway's impairments are per side: rx is a->b, b_rx is b->a. */
  static const char *const dir_names[] = {"rx", "tx", "b_rx"};
  for (int dir = 0; dir < 3; dir++) {
    tl_impair *im = tl_hook_impair(h->st, dir);
    if (!im) continue;
    for (int k = 0; k < 8; k++)
      stat_line(raw, "host_impair_", dir_names[dir], im_names[k], (unsigned long long)tl_impair_count(im, k));
  }
  if (!raw) fflush(stdout);
}

/* The watchdog's emergency exit (Lua stuck after SIGINT/SIGTERM): the
 * counters the C side keeps, read while the main thread is parked. */
static void emergency_stats(void *ctx) {
  struct host *h = ctx;
  if (h->print_stats && h->st) print_stats(h, 1);
}

static void addr_str(uint32_t a, char *buf, size_t len) {
  snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* Opens Lua and loads the script (its errors come before anything needs
 * privileges), and starts the watchdog: from here SIGINT/SIGTERM end the
 * run even with Lua stuck. */
static int start_lua(struct host *h, const struct host_opts *o) {
  if (host_lua_open(&h->lua, o->lua_timeout_us > 0) < 0) return -1;
  h->print_stats = o->stats;
  h->wd.L = h->lua.L;
  h->wd.limit_us = o->lua_timeout_us;
  h->wd.loop = h->loop;
  h->wd.stop_async = &h->stop_async;
  h->wd.emergency = emergency_stats;
  h->wd.emergency_ctx = h;
  if (host_watchdog_start(&h->wd) < 0) {
    fprintf(stderr, "tcplua: cannot start the watchdog: %s\n", strerror(errno));
    return -1;
  }
  h->lua.wd = &h->wd;
  if (host_lua_load(&h->lua, o->script) < 0) return -1; /* NULL: a gateway without a script */
  if (sodium_init() < 0) {
    fprintf(stderr, "tcplua: libsodium failed to initialise\n");
    return -1;
  }
  return 0;
}

/* Opens (or attaches to) the TUN, with virtio headers unless --offload
 * off or the kernel has none, and configures it. *tso: the kernel takes
 * super-segments. */
static int open_tun(struct host *h, struct host_opts *o, int mtu_given, char *ifname, int *tso) {
  char err[512];
  h->tun_fd = host_tun_open_vnet(o->dev, o->attach, !o->no_offload, ifname, err, sizeof err);
  if (h->tun_fd < 0 && !o->no_offload) {
    /* No virtio headers on this kernel or device: run without offloads. */
    char err2[512];
    h->tun_fd = host_tun_open_vnet(o->dev, o->attach, 0, ifname, err2, sizeof err2);
    if (h->tun_fd >= 0) {
      if (!o->quiet) fprintf(stderr, "tcplua: TUN offloads unavailable (%s); running with --offload off\n", err);
      o->no_offload = 1;
    }
  }
  if (h->tun_fd < 0) {
    fprintf(stderr, "tcplua: %s\n", err);
    return -1;
  }
  /* --offload on (default): the header is there either way; TSO only if
   * the kernel takes it (host_offload.h). */
  h->vnet = !o->no_offload;
  *tso = h->vnet && host_offload_enable(h->tun_fd, o->quiet);
  if (o->attach) {
    /* The device is someone else's; only learn its MTU. */
    int mtu = host_netlink_mtu(ifname, err, sizeof err);
    if (mtu < 0) {
      fprintf(stderr, "tcplua: %s\n", err);
      return -1;
    }
    if (!mtu_given)
      o->mtu = (uint16_t)mtu;
    else if (mtu != o->mtu)
      fprintf(stderr, "tcplua: warning: %s has MTU %d but --mtu is %u\n", ifname, mtu, o->mtu);
  } else if (host_netlink_configure(ifname, o->host, o->prefix, o->no_ipv6 ? NULL : o->host6, o->prefix6, o->mtu,
                                    err, sizeof err) < 0) {
    fprintf(stderr, "tcplua: %s\n", err);
    return -1;
  }
  return 0;
}

static int open_pcap(struct host *h, const struct host_opts *o, tl_pcap **pcap) {
  if (!o->pcap) return 0;
  *pcap = tl_pcap_open(o->pcap);
  if (!*pcap) {
    fprintf(stderr, "tcplua: --pcap: cannot open %s: %s\n", o->pcap, strerror(errno));
    return -1;
  }
  tl_hook_set_pcap(h->st, *pcap);
  return 0;
}

/* --gateway: the stack forwards between the sides (api_fwd.h), with each
 * side's impairment on the datagrams coming in from it. */
static int make_gateway(struct host *h, const struct host_opts *o, tl_pcap **pcap, uint64_t *seed,
                        uint64_t s) {
  tl_gw_config gc;
  host_gw_config(o, &gc);
  int r = tl_gw_attach(h->st, &gc, host_gw_out, h);
  for (int d = 0; d < 2 && r == 0; d++)
    if (o->gw_impaired[d]) r = tl_hook_set_impair_side(h->st, d, &o->gw_impair[d], s);
  if (r < 0) {
    fprintf(stderr, "tcplua: cannot make the gateway: %s\n", tl_strerror(r));
    return -1;
  }
  *seed = s;
  return open_pcap(h, o, pcap);
}

/* The stack on the TUN, with the impairment and the capture at its link
 * boundary. *seed: the run's seed (given, or random). */
static int make_stack(struct host *h, const struct host_opts *o, int tso, tl_pcap **pcap, uint64_t *seed) {
  tl_config cfg;
  tl_config_default(&cfg);
  h->mtu = o->mtu;
  if (tso) cfg.tso_max = HOST_TSO_MAX;
  cfg.addr = o->addr;
  cfg.host = o->host;
  cfg.prefix = o->prefix;
  cfg.mtu = o->mtu;
  cfg.ipv6 = !o->no_ipv6;
  for (int i = 0; i < 8; i++) {
    cfg.addr6_hi = cfg.addr6_hi << 8 | o->addr6[i];
    cfg.addr6_lo = cfg.addr6_lo << 8 | o->addr6[8 + i];
    cfg.host6_hi = cfg.host6_hi << 8 | o->host6[i];
    cfg.host6_lo = cfg.host6_lo << 8 | o->host6[8 + i];
  }
  cfg.prefix6 = o->prefix6;
  /* Like a kernel socket beside it, tcplua takes the host's congestion
   * control unless told otherwise: compared with the kernel, both then run
   * one algorithm (under random loss the algorithm decides the goodput). */
  int cc = o->cc >= 0 ? o->cc : host_default_cc();
  if (cc >= 0) cfg.tcp_cc = (uint8_t)cc;
  if (o->has_seed) {
    cfg.seed = o->seed;
  } else {
    randombytes_buf(&cfg.seed, sizeof cfg.seed);
    /* 53 bits: exact as a Lua number, so a script can print the seed and
     * the run can be repeated with --seed. */
    cfg.seed &= (1ull << 53) - 1;
    cfg.isn_key_random = 1; /* RFC 6528: unpredictable unless asked to repeat a run */
  }
  h->st = tl_stack_new(&cfg, host_to_tun, h);
  if (!h->st) {
    fprintf(stderr, "tcplua: cannot create the stack (out of memory)\n");
    return -1;
  }
  if (h->gw) return make_gateway(h, o, pcap, seed, cfg.seed);
  /* Datagrams go out in one write each, TSO super-segments straight from
   * the send ring; the stack falls back to host_to_tun whenever hooks,
   * pcap or impairment need them whole. */
  tl_stack_set_output_vec(h->st, host_to_tun_vec, h);
  /* The impairment sits at the stack's link boundary (core/link/hook.c), with
   * the Lua hooks and the capture, so its faults are noted in both. */
  if (o->impaired && tl_hook_set_impair(h->st, &o->impair, cfg.seed) < 0) {
    fprintf(stderr, "tcplua: cannot create the link impairment (out of memory)\n");
    return -1;
  }
  if (open_pcap(h, o, pcap) < 0) return -1;

  *seed = cfg.seed;
  return 0;
}

/* Hands the script its world (tcplua.host.attach) and runs its top level. */
static int run_script(struct host *h, const struct host_opts *o, const char *ifname, uint64_t seed) {
  struct host_lua_info info = {
      .stack = h->st,
      .dev = ifname,
      .addr = o->addr,
      .host = o->host,
      .prefix = o->prefix,
      .mtu = o->mtu,
      .seed = seed,
      .quiet = o->quiet,
      .now_us = host_now_us(h),
      .script = o->script,
      .nargs = o->nargs,
      .args = o->args,
      .trace = o->trace,
      .stats = o->stats,
      .tseq = o->tseq,
  };
  if (host_lua_attach(&h->lua, &info) < 0) return -1;
  if (!o->quiet && h->gw) {
    char a[16], b[16];
    addr_str(o->gw_addr[0], a, sizeof a);
    addr_str(o->gw_addr[1], b, sizeof b);
    printf("tcplua: gateway up: side a %s%s%s %s/%u, side b %s%s%s %s/%u\n", o->gw_dev[0],
           o->gw_ns[0] ? " in " : "", o->gw_ns[0] ? o->gw_ns[0] : "", a, o->gw_prefix[0], o->gw_dev[1],
           o->gw_ns[1] ? " in " : "", o->gw_ns[1] ? o->gw_ns[1] : "", b, o->gw_prefix[1]);
  } else if (!o->quiet) {
    char a[16], b[16];
    addr_str(o->addr, a, sizeof a);
    addr_str(o->host, b, sizeof b);
    if (o->no_ipv6) {
      printf("tcplua: %s %s, stack %s, host %s/%u -- try: ping %s\n", ifname, o->attach ? "attached" : "up", a,
             b, o->prefix, a);
    } else {
      char a6[INET6_ADDRSTRLEN], b6[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, o->addr6, a6, sizeof a6);
      inet_ntop(AF_INET6, o->host6, b6, sizeof b6);
      printf("tcplua: %s %s, stack %s and %s, host %s/%u and %s/%u -- try: ping %s, ping -6 %s\n", ifname,
             o->attach ? "attached" : "up", a, a6, b, o->prefix, b6, o->prefix6, a, a6);
    }
  }
  /* A top level interrupted because a signal is stopping the run still
   * ends in the ordinary way (exit 0). */
  if (host_lua_run(&h->lua, &info) < 0 && !host_watchdog_stop_signal(&h->wd)) return -1;
  return 0;
}

int main(int argc, char **argv) {
  /* Output goes to terminals and to files the specs read while we run. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* A closed stdout pipe must not kill a running stack. */
  signal(SIGPIPE, SIG_IGN);
  /* Each connection's rings (256 KB by default) are allocated when data
   * first flows and freed when they drain. With glibc's defaults every such
   * pair grows the heap with brk, faults its pages in, and shrinks it again
   * on free; that showed as ~15 % of the process in the new-connections
   * profile. Keep ring-sized blocks on the heap and freed memory mapped:
   * the next connection reuses the same pages. */
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  /* tcplua --sim SCRIPT: no TUN, no stack of our own (host_sim.c). */
  if (argc > 1 && strcmp(argv[1], "--sim") == 0) return host_sim_main(argc - 2, argv + 2);
  struct host_opts o;
  memset(&o, 0, sizeof o);
  int mtu_given = 0;
  int rc = host_parse_args(argc, argv, &o, &mtu_given);
  if (rc >= 0) return rc;

  struct host *h = calloc(1, sizeof *h);
  if (!h) {
    fprintf(stderr, "tcplua: out of memory\n");
    return 1;
  }
  h->tun_fd = -1;
  char ifname[IFNAMSIZ];
  tl_pcap *pcap = NULL;
  rc = 1;

  if (host_loop_init(h) < 0) {
    fprintf(stderr, "tcplua: cannot create the event loop\n");
    goto out;
  }
  int tso = 0;
  uint64_t seed = 0;
  h->gw_fd[0] = h->gw_fd[1] = -1;
  if (o.gateway) {
    snprintf(ifname, sizeof ifname, "%s", o.gw_dev[0]);
    o.mtu = o.gw_mtu[0];
  }
  if (start_lua(h, &o) < 0 ||
      (o.gateway ? host_gw_open(h, &o) : open_tun(h, &o, mtu_given, ifname, &tso)) < 0 ||
      make_stack(h, &o, tso, &pcap, &seed) < 0 || run_script(h, &o, ifname, seed) < 0)
    goto out;
  if (h->gw)
    host_gw_run(h);
  else
    host_loop_run(h);
  rc = h->exit_code;
out:
  if (h->lua.L && h->st) host_lua_shutdown(&h->lua);
  /* Lua objects may still hold sockets: close the state while the stack
   * is alive, so finalizers find it. */
  host_lua_close(&h->lua);
  host_watchdog_stop(&h->wd);
  if (o.stats && h->st) print_stats(h, 0);
  if (h->st) tl_hook_set_pcap(h->st, NULL);
  if (pcap && tl_pcap_close(pcap) < 0) {
    fprintf(stderr, "tcplua: --pcap: writing %s failed\n", o.pcap);
    if (rc == 0) rc = 1;
  }
  tl_stack_free(h->st);
  /* Closing the fd removes a non-persistent TUN (the one we created). */
  if (h->tun_fd >= 0) close(h->tun_fd);
  host_gw_close(h);
  host_loop_close(h);
  free(h);
  return rc;
}
