/* tcplua [options] SCRIPT [ARGS...]: brings up a TUN device, runs the
 * stack on it and hands the application to a LuaJIT script. This file
 * parses the command line and wires the pieces together; the TUN is
 * host_tun.c, its configuration host_netlink.c, the loop host_loop.c and
 * the Lua side host_lua.c. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_loop.h"
#include "host_netlink.h"
#include "host_opts.h"
#include "host_offload.h"
#include "host_sim.h"
#include "host_tun.h"

static const char usage[] =
    "usage: tcplua [options] SCRIPT [ARGS...]\n"
    "Runs a userspace TCP/IPv4 stack on a TUN device; SCRIPT (Lua) is the application.\n"
    "\n"
    "  --dev NAME        TUN device name (default tcplua0)\n"
    "  --addr A          the stack's own address (default 10.77.0.2)\n"
    "  --host A/PREFIX   address of the kernel side of the TUN (default 10.77.0.1/24)\n"
    "  --mtu N           link MTU (default 1500)\n"
    "  --offload on|off  TUN offloads: 64 KB TSO segments out, GRO'd segments in,\n"
    "                    checksums left to the kernel (default on)\n"
    "  --attach          use an existing, already configured TUN named by --dev;\n"
    "                    it is left in place on exit\n"
    "  --seed N          seed for every PRNG in the stack (default: random)\n"
    "  -q, --quiet       no start-up line\n"
    "  --stats           print every counter as 'name value' on exit\n"
    "  --lua-timeout MS  a Lua step (handler, callback, hook, timer) that runs longer than MS ms\n"
    "                    of CPU without yielding is interrupted with an error and its connection\n"
    "                    reset (default 500; 0 = off, which also leaves the script's code to the JIT)\n"
    "  -h, --help        this text\n"
    "  -V, --version     print the version\n"
    "\n"
    "Link impairment, applied in both directions:\n"
    "  --loss P          drop probability: 5% or 0.05\n"
    "  --delay T         one-way delay: 20ms, 1s, 500us\n"
    "  --jitter T        uniform +- jitter on the delay\n"
    "  --reorder P       probability a packet is held back behind later ones\n"
    "  --duplicate P     duplication probability\n"
    "  --corrupt P       probability of flipping one bit\n"
    "  --rate R          bandwidth: 500kbit, 10mbit, 1gbit (or kbps, mbps: bytes)\n"
    "  --size-limit N    datagrams over N bytes vanish (an MTU black hole)\n"
    "\n"
    "Recording (see docs/fault-injection.md):\n"
    "  --pcap FILE       every packet both ways as pcapng; faults noted as comments\n"
    "  --trace           one tcpdump-like line per segment on stderr, with state and verdict\n"
    "  --tseq FILE.csv   time-sequence trace (segments, cwnd, ssthresh, srtt) for scripts/tseq-plot\n"
    "\n"
    "Without root or a TUN:\n"
    "  tcplua --sim SCRIPT [ARGS...]   run a tcplua.sim script (in-memory network, virtual\n"
    "                    clock); --sim must come first\n"
    "\n"
    "Needs root (sudo) to create the TUN. Without sudo, once as root: sudo ip tuntap add dev\n"
    "tcplua0 mode tun user $USER, give it 10.77.0.1/24 and bring it up, then run tcplua --attach.\n"
    "Example: sudo tcplua examples/echo.lua, then from the host: ping 10.77.0.2\n";

enum {
  OPT_DEV = 256,
  OPT_ADDR,
  OPT_HOST,
  OPT_MTU,
  OPT_ATTACH,
  OPT_SEED,
  OPT_STATS,
  OPT_LOSS,
  OPT_DELAY,
  OPT_JITTER,
  OPT_REORDER,
  OPT_DUPLICATE,
  OPT_CORRUPT,
  OPT_RATE,
  OPT_SIZE_LIMIT,
  OPT_PCAP,
  OPT_TRACE,
  OPT_TSEQ,
  OPT_OFFLOAD,
  OPT_LUA_TIMEOUT
};

static const struct option long_opts[] = {
    {"dev", required_argument, 0, OPT_DEV},
    {"addr", required_argument, 0, OPT_ADDR},
    {"host", required_argument, 0, OPT_HOST},
    {"mtu", required_argument, 0, OPT_MTU},
    {"attach", no_argument, 0, OPT_ATTACH},
    {"seed", required_argument, 0, OPT_SEED},
    {"quiet", no_argument, 0, 'q'},
    {"stats", no_argument, 0, OPT_STATS},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {"loss", required_argument, 0, OPT_LOSS},
    {"delay", required_argument, 0, OPT_DELAY},
    {"jitter", required_argument, 0, OPT_JITTER},
    {"reorder", required_argument, 0, OPT_REORDER},
    {"duplicate", required_argument, 0, OPT_DUPLICATE},
    {"corrupt", required_argument, 0, OPT_CORRUPT},
    {"rate", required_argument, 0, OPT_RATE},
    {"size-limit", required_argument, 0, OPT_SIZE_LIMIT},
    {"pcap", required_argument, 0, OPT_PCAP},
    {"trace", no_argument, 0, OPT_TRACE},
    {"tseq", required_argument, 0, OPT_TSEQ},
    {"offload", required_argument, 0, OPT_OFFLOAD},
    {"lua-timeout", required_argument, 0, OPT_LUA_TIMEOUT},
    {0, 0, 0, 0},
};

static int bad_value(const char *flag, const char *val, const char *expected) {
  fprintf(stderr, "tcplua: --%s: bad value '%s' (expected %s); try --help\n", flag, val, expected);
  return 2;
}

/* Returns -1 to go on, else the exit status (0 for --help/--version). */
static int parse_args(int argc, char **argv, struct host_opts *o, int *mtu_given) {
  const char *prob = "a probability such as 5% or 0.05";
  const char *dur = "a time such as 20ms, 1s or 500us";
  o->dev = "tcplua0";
  host_parse_ipv4("10.77.0.2", &o->addr);
  host_parse_ipv4("10.77.0.1", &o->host);
  o->prefix = 24;
  o->mtu = 1500;
  o->impair.reorder_gap = 3;
  o->impair.queue_max = 4096;
  o->lua_timeout_us = 500 * 1000;
  opterr = 0; /* our messages name the flag and point at --help */
  int c;
  /* '+': options end at SCRIPT, so the script's own flags reach it. */
  while ((c = getopt_long(argc, argv, "+:hqV", long_opts, NULL)) != -1) {
    const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    uint64_t u;
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'V': printf("tcplua %s\n", tl_version()); return 0;
    case 'q': o->quiet = 1; break;
    case OPT_STATS: o->stats = 1; break;
    case OPT_ATTACH: o->attach = 1; break;
    case OPT_DEV:
      if (!*optarg || strlen(optarg) >= IFNAMSIZ || strchr(optarg, '/') || strchr(optarg, ' '))
        return bad_value("dev", optarg, "an interface name of 1 to 15 characters");
      o->dev = optarg;
      break;
    case OPT_ADDR:
      if (host_parse_ipv4(optarg, &o->addr) < 0)
        return bad_value("addr", optarg, "an IPv4 address such as 10.77.0.2");
      break;
    case OPT_HOST:
      if (host_parse_prefix_addr(optarg, &o->host, &o->prefix) < 0)
        return bad_value("host", optarg, "ADDRESS/PREFIX such as 10.77.0.1/24, prefix 1..30");
      break;
    case OPT_MTU:
      if (host_parse_u64(optarg, 65535, &u) < 0 || u < 576)
        return bad_value("mtu", optarg, "a number from 576 to 65535");
      o->mtu = (uint16_t)u;
      *mtu_given = 1;
      break;
    case OPT_SEED:
      if (host_parse_u64(optarg, UINT64_MAX, &u) < 0)
        return bad_value("seed", optarg, "a non-negative integer");
      o->seed = u;
      o->has_seed = 1;
      break;
    case OPT_LOSS:
      if (host_parse_prob(optarg, &o->impair.loss) < 0) return bad_value("loss", optarg, prob);
      o->impaired = 1;
      break;
    case OPT_REORDER:
      if (host_parse_prob(optarg, &o->impair.reorder) < 0) return bad_value("reorder", optarg, prob);
      o->impaired = 1;
      break;
    case OPT_DUPLICATE:
      if (host_parse_prob(optarg, &o->impair.duplicate) < 0) return bad_value("duplicate", optarg, prob);
      o->impaired = 1;
      break;
    case OPT_CORRUPT:
      if (host_parse_prob(optarg, &o->impair.corrupt) < 0) return bad_value("corrupt", optarg, prob);
      o->impaired = 1;
      break;
    case OPT_DELAY:
      if (host_parse_duration_us(optarg, &o->impair.delay_us) < 0) return bad_value("delay", optarg, dur);
      o->impaired = 1;
      break;
    case OPT_JITTER:
      if (host_parse_duration_us(optarg, &o->impair.jitter_us) < 0) return bad_value("jitter", optarg, dur);
      o->impaired = 1;
      break;
    case OPT_RATE:
      if (host_parse_rate_bps(optarg, &o->impair.rate_bps) < 0)
        return bad_value("rate", optarg, "a rate such as 500kbit, 10mbit or 1gbit");
      o->impaired = 1;
      break;
    case OPT_SIZE_LIMIT:
      if (host_parse_u64(optarg, 65535, &u) < 0 || u < 20)
        return bad_value("size-limit", optarg, "a datagram size in bytes, 20 to 65535");
      o->impair.size_limit = (uint32_t)u;
      o->impaired = 1;
      break;
    case OPT_PCAP:
      if (!*optarg) return bad_value("pcap", optarg, "a file name");
      o->pcap = optarg;
      break;
    case OPT_TSEQ:
      if (!*optarg) return bad_value("tseq", optarg, "a file name");
      o->tseq = optarg;
      break;
    case OPT_TRACE: o->trace = 1; break;
    case OPT_OFFLOAD:
      if (strcmp(optarg, "on") && strcmp(optarg, "off")) return bad_value("offload", optarg, "on or off");
      o->no_offload = !strcmp(optarg, "off");
      break;
    case OPT_LUA_TIMEOUT:
      /* Up to an hour: longer is "off" in all but name, and says 0. */
      if (host_parse_duration_us(optarg, &o->lua_timeout_us) < 0 || o->lua_timeout_us > 3600u * 1000000u ||
          (o->lua_timeout_us > 0 && o->lua_timeout_us < 1000))
        return bad_value("lua-timeout", optarg,
                         "milliseconds of CPU such as 500 or 2s, at least 1ms; 0 = off");
      break;
    case ':': fprintf(stderr, "tcplua: option %s needs a value; try --help\n", name); return 2;
    default:
      if (optopt && optopt < 256)
        fprintf(stderr, "tcplua: unknown option '-%c'; try --help\n", optopt);
      else
        fprintf(stderr, "tcplua: unknown option '%s'; try --help\n", name);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "tcplua: no script given (usage: tcplua [options] SCRIPT [ARGS...]); try --help\n");
    return 2;
  }
  if (o->addr == o->host) {
    fprintf(stderr, "tcplua: --addr and --host must differ (both are %u.%u.%u.%u); try --help\n",
            o->addr >> 24, (o->addr >> 16) & 255, (o->addr >> 8) & 255, o->addr & 255);
    return 2;
  }
  uint32_t mask = ~0u << (32 - o->prefix);
  if (!o->attach && (o->addr & mask) != (o->host & mask))
    fprintf(stderr, "tcplua: warning: --addr is outside the --host prefix: the kernel will not route to the "
                    "stack unless you add a route\n");
  o->script = argv[optind];
  o->nargs = argc - optind - 1;
  o->args = argv + optind + 1;
  return -1;
}

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
  for (int dir = 0; dir < 2; dir++) {
    tl_impair *im = tl_hook_impair(h->st, dir);
    if (!im) continue;
    for (int k = 0; k < 8; k++)
      stat_line(raw, "host_impair_", dir ? "tx" : "rx", im_names[k],
                (unsigned long long)tl_impair_count(im, k));
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
  int rc = parse_args(argc, argv, &o, &mtu_given);
  if (rc >= 0) return rc;

  struct host *h = calloc(1, sizeof *h);
  if (!h) {
    fprintf(stderr, "tcplua: out of memory\n");
    return 1;
  }
  h->tun_fd = -1;
  char err[512], ifname[IFNAMSIZ];
  tl_pcap *pcap = NULL;
  rc = 1;

  if (host_loop_init(h) < 0) {
    fprintf(stderr, "tcplua: cannot create the event loop\n");
    goto out;
  }
  /* Script errors are reported before anything needs privileges. */
  if (host_lua_open(&h->lua, o.lua_timeout_us > 0) < 0) goto out;
  /* From here SIGINT/SIGTERM end the run even with Lua stuck. */
  h->print_stats = o.stats;
  h->wd.L = h->lua.L;
  h->wd.limit_us = o.lua_timeout_us;
  h->wd.loop = h->loop;
  h->wd.stop_async = &h->stop_async;
  h->wd.emergency = emergency_stats;
  h->wd.emergency_ctx = h;
  if (host_watchdog_start(&h->wd) < 0) {
    fprintf(stderr, "tcplua: cannot start the watchdog: %s\n", strerror(errno));
    goto out;
  }
  h->lua.wd = &h->wd;
  if (host_lua_load(&h->lua, o.script) < 0) goto out;
  if (sodium_init() < 0) {
    fprintf(stderr, "tcplua: libsodium failed to initialise\n");
    goto out;
  }

  h->tun_fd = host_tun_open_vnet(o.dev, o.attach, !o.no_offload, ifname, err, sizeof err);
  if (h->tun_fd < 0 && !o.no_offload) {
    /* No virtio headers on this kernel or device: run without offloads. */
    char err2[512];
    h->tun_fd = host_tun_open_vnet(o.dev, o.attach, 0, ifname, err2, sizeof err2);
    if (h->tun_fd >= 0) {
      if (!o.quiet) fprintf(stderr, "tcplua: TUN offloads unavailable (%s); running with --offload off\n", err);
      o.no_offload = 1;
    }
  }
  if (h->tun_fd < 0) {
    fprintf(stderr, "tcplua: %s\n", err);
    goto out;
  }
  /* --offload on (default): the header is there either way; TSO only if
   * the kernel takes it (host_offload.h). */
  h->vnet = !o.no_offload;
  int tso = h->vnet && host_offload_enable(h->tun_fd, o.quiet);
  if (o.attach) {
    /* The device is someone else's; only learn its MTU. */
    int mtu = host_netlink_mtu(ifname, err, sizeof err);
    if (mtu < 0) {
      fprintf(stderr, "tcplua: %s\n", err);
      goto out;
    }
    if (!mtu_given)
      o.mtu = (uint16_t)mtu;
    else if (mtu != o.mtu)
      fprintf(stderr, "tcplua: warning: %s has MTU %d but --mtu is %u\n", ifname, mtu, o.mtu);
  } else if (host_netlink_configure(ifname, o.host, o.prefix, o.mtu, err, sizeof err) < 0) {
    fprintf(stderr, "tcplua: %s\n", err);
    goto out;
  }

  tl_config cfg;
  tl_config_default(&cfg);
  h->mtu = o.mtu;
  if (tso) cfg.tso_max = HOST_TSO_MAX;
  cfg.addr = o.addr;
  cfg.host = o.host;
  cfg.prefix = o.prefix;
  cfg.mtu = o.mtu;
  if (o.has_seed) {
    cfg.seed = o.seed;
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
    goto out;
  }
  /* Datagrams go out in one write each, TSO super-segments straight from
   * the send ring; the stack falls back to host_to_tun whenever hooks,
   * pcap or impairment need them whole. */
  tl_stack_set_output_vec(h->st, host_to_tun_vec, h);
  /* The impairment sits at the stack's link boundary (core/link/hook.c), with
   * the Lua hooks and the capture, so its faults are noted in both. */
  if (o.impaired && tl_hook_set_impair(h->st, &o.impair, cfg.seed) < 0) {
    fprintf(stderr, "tcplua: cannot create the link impairment (out of memory)\n");
    goto out;
  }
  if (o.pcap) {
    pcap = tl_pcap_open(o.pcap);
    if (!pcap) {
      fprintf(stderr, "tcplua: --pcap: cannot open %s: %s\n", o.pcap, strerror(errno));
      goto out;
    }
    tl_hook_set_pcap(h->st, pcap);
  }

  struct host_lua_info info = {
      .stack = h->st,
      .dev = ifname,
      .addr = o.addr,
      .host = o.host,
      .prefix = o.prefix,
      .mtu = o.mtu,
      .seed = cfg.seed,
      .quiet = o.quiet,
      .now_us = host_now_us(h),
      .script = o.script,
      .nargs = o.nargs,
      .args = o.args,
      .trace = o.trace,
      .stats = o.stats,
      .tseq = o.tseq,
  };
  if (host_lua_attach(&h->lua, &info) < 0) goto out;
  if (!o.quiet) {
    char a[16], b[16];
    addr_str(o.addr, a, sizeof a);
    addr_str(o.host, b, sizeof b);
    printf("tcplua: %s %s, stack %s, host %s/%u -- try: ping %s\n", ifname, o.attach ? "attached" : "up", a,
           b, o.prefix, a);
  }
  /* A top level interrupted because a signal is stopping the run still
   * ends in the ordinary way (exit 0). */
  if (host_lua_run(&h->lua, &info) < 0 && !host_watchdog_stop_signal(&h->wd)) goto out;

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
  host_loop_close(h);
  free(h);
  return rc;
}
