/* The tcplua command line: usage, the flags and their checks. Each bad
 * value is named with what was expected and a pointer to --help. */
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "host_opts.h"

static const char usage[] =
    "usage: tcplua [options] SCRIPT [ARGS...]\n"
    "Runs a userspace TCP/IP stack on a TUN device; SCRIPT (Lua) is the application.\n"
    "\n"
    "  --dev NAME        TUN device name (default tcplua0)\n"
    "  --addr A          the stack's own address (default 10.77.0.2)\n"
    "  --host A/PREFIX   address of the kernel side of the TUN (default 10.77.0.1/24)\n"
    "  --addr6 A         the stack's own IPv6 address (default fd77::2)\n"
    "  --host6 A/PREFIX  IPv6 address of the kernel side of the TUN (default fd77::1/64)\n"
    "  --no-ipv6         no IPv6: the TUN gets no IPv6 address, the stack drops IPv6\n"
    "                    (also --ipv6 off; --ipv6 on is the default)\n"
    "  --mtu N           link MTU (default 1500)\n"
    "  --offload on|off  TUN offloads: 64 KB TSO segments out, GRO'd segments in,\n"
    "                    checksums left to the kernel (default on)\n"
    "  --attach          use an existing, already configured TUN named by --dev;\n"
    "                    it is left in place on exit\n"
    "  --seed N          seed for every PRNG in the stack (default: random)\n"
    "  --cc NAME         congestion control: reno, newreno, cubic or bbr (default: the host's\n"
    "                    net.ipv4.tcp_congestion_control when it is one of these, else cubic)\n"
    "  -q, --quiet       no start-up line\n"
    "  --stats           print every counter as 'name value' on exit\n"
    "  --lua-timeout MS  a Lua step (handler, callback, hook, timer) that runs longer than MS ms\n"
    "                    of CPU without yielding is interrupted with an error and its connection\n"
    "                    reset (default 500; 0 = off, which also leaves the script's code to the JIT)\n"
    "  -h, --help        this text\n"
    "  -V, --version     print the version\n"
    "\n"
    "Link impairment, applied in both directions; each flag also takes the rest of\n"
    "netem's words for it, e.g. --loss 'state 1% 30%' (see docs/cli.md):\n"
    "  --loss P [CORR]   drop probability: 5% or 0.05; also 'state P13 [P31 [P32 [P23\n"
    "                    [P14]]]]' (4-state) or 'gemodel P [R [1-H [1-K]]]' (Gilbert-Elliott)\n"
    "  --delay T [JITTER [CORR]] [distribution uniform|normal|pareto|paretonormal]\n"
    "                    one-way delay: 20ms, 1s, 500us\n"
    "  --jitter T        uniform +- jitter on the delay\n"
    "  --reorder P [CORR] probability a packet is held back behind later ones\n"
    "  --duplicate P [CORR] duplication probability\n"
    "  --corrupt P [CORR] probability of flipping one bit\n"
    "  --rate R [OVERHEAD [CELLSIZE [CELLOVERHEAD]]]\n"
    "                    bandwidth: 500kbit, 10mbit, 1gbit (or kbps, mbps: bytes)\n"
    "  --slot MIN [MAX] [packets N] [bytes N]   release packets in slots (netem slot)\n"
    "  --netem 'WORDS'   a whole tc-netem argument line: 'delay 20ms 5ms 25% loss 1%'\n"
    "  --size-limit N    datagrams over N bytes vanish (an MTU black hole)\n"
    "\n"
    "Gateway (docs/gateway.md): tcplua --gateway [options] [SCRIPT]\n"
    "  --gateway         forward IPv4 between two TUNs, side a and side b, as a router;\n"
    "                    every datagram passes the hooks and faults; SCRIPT is optional\n"
    "  --ns-a NS, --ns-b NS   make side a's / b's TUN in network namespace NS (ip netns)\n"
    "  --dev-a N, --dev-b N   TUN names (default tlgw-a, tlgw-b)\n"
    "  --side-a A/P, --side-b A/P   the endpoint address on each TUN (default\n"
    "                    10.78.1.2/24, 10.78.2.2/24); the gateway is the network's .1\n"
    "  --mtu-a N, --mtu-b N   each side's MTU (default --mtu)\n"
    "  Impairment flags take a direction: --loss a->b:2% (datagrams from side a to b),\n"
    "  --delay b->a:20ms; without one they apply both ways.\n"
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
  OPT_LUA_TIMEOUT,
  OPT_ADDR6,
  OPT_HOST6,
  OPT_NO_IPV6,
  OPT_IPV6,
  OPT_SLOT,
  OPT_NETEM,
  OPT_CC,
  OPT_GATEWAY,
  OPT_NS_A,
  OPT_NS_B,
  OPT_DEV_A,
  OPT_DEV_B,
  OPT_SIDE_A,
  OPT_SIDE_B,
  OPT_MTU_A,
  OPT_MTU_B
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
    {"addr6", required_argument, 0, OPT_ADDR6},
    {"host6", required_argument, 0, OPT_HOST6},
    {"no-ipv6", no_argument, 0, OPT_NO_IPV6},
    {"ipv6", required_argument, 0, OPT_IPV6},
    {"slot", required_argument, 0, OPT_SLOT},
    {"netem", required_argument, 0, OPT_NETEM},
    {"cc", required_argument, 0, OPT_CC},
    {"gateway", no_argument, 0, OPT_GATEWAY},
    {"ns-a", required_argument, 0, OPT_NS_A},
    {"ns-b", required_argument, 0, OPT_NS_B},
    {"dev-a", required_argument, 0, OPT_DEV_A},
    {"dev-b", required_argument, 0, OPT_DEV_B},
    {"side-a", required_argument, 0, OPT_SIDE_A},
    {"side-b", required_argument, 0, OPT_SIDE_B},
    {"mtu-a", required_argument, 0, OPT_MTU_A},
    {"mtu-b", required_argument, 0, OPT_MTU_B},
    {0, 0, 0, 0},
};

static int bad_value(const char *flag, const char *val, const char *expected) {
  fprintf(stderr, "tcplua: --%s: bad value '%s' (expected %s); try --help\n", flag, val, expected);
  return 2;
}

/* A flag that is a netem keyword: its value is the rest of netem's words
 * (tl_impair_parse). */
static int netem_flag(const char *flag, const char *word, const char *val, tl_impair_config *im) {
  char line[512], err[160];
  if (snprintf(line, sizeof line, "%s %s", word, val) >= (int)sizeof line)
    return bad_value(flag, val, "fewer words");
  if (tl_impair_parse(im, line, err, sizeof err) < 0) {
    fprintf(stderr, "tcplua: --%s: bad value '%s': %s (netem's words, see docs/cli.md); try --help\n", flag,
            val, err);
    return 2;
  }
  return -1;
}

/* The impairment flags (--loss ... --size-limit): -1 to go on, else the
 * exit status after saying what was wrong. */
static int parse_impair(int c, const char *val, tl_impair_config *im) {
  const char *dur = "a time such as 20ms, 1s or 500us";
  uint64_t u;
  switch (c) {
  case OPT_LOSS: return netem_flag("loss", "loss", val, im);
  case OPT_REORDER: return netem_flag("reorder", "reorder", val, im);
  case OPT_DUPLICATE: return netem_flag("duplicate", "duplicate", val, im);
  case OPT_CORRUPT: return netem_flag("corrupt", "corrupt", val, im);
  case OPT_DELAY: return netem_flag("delay", "delay", val, im);
  case OPT_RATE: return netem_flag("rate", "rate", val, im);
  case OPT_SLOT: return netem_flag("slot", "slot", val, im);
  case OPT_NETEM: return netem_flag("netem", "", val, im);
  case OPT_JITTER:
    if (host_parse_duration_us(val, &im->jitter_us) < 0) return bad_value("jitter", val, dur);
    break;
  case OPT_SIZE_LIMIT:
    if (host_parse_u64(val, 65535, &u) < 0 || u < 20)
      return bad_value("size-limit", val, "a datagram size in bytes, 20 to 65535");
    im->size_limit = (uint32_t)u;
    break;
  default: return 2;
  }
  return -1;
}

/* An impairment flag, with an optional direction for the gateway:
 * "a->b:2%" applies to datagrams in from side a, "b->a:2%" from side b. */
static int impair_flag(int c, const char *val, struct host_opts *o) {
  int which = 3, rc;
  if (!strncmp(val, "a->b:", 5)) {
    which = 1;
    val += 5;
  } else if (!strncmp(val, "b->a:", 5)) {
    which = 2;
    val += 5;
  }
  if (which == 3) {
    if ((rc = parse_impair(c, val, &o->impair)) >= 0) return rc;
    o->impaired = 1;
  } else {
    o->dir_given = 1;
  }
  for (int d = 0; d < 2; d++)
    if (which & (1 << d)) {
      if ((rc = parse_impair(c, val, &o->gw_impair[d])) >= 0) return rc;
      o->gw_impaired[d] = 1;
    }
  return -1;
}

static void gateway_defaults(struct host_opts *o) {
  host_parse_ipv4("10.78.1.2", &o->gw_addr[0]);
  host_parse_ipv4("10.78.2.2", &o->gw_addr[1]);
  o->gw_prefix[0] = o->gw_prefix[1] = 24;
  for (int d = 0; d < 2; d++) {
    o->gw_impair[d].reorder_gap = 3;
    o->gw_impair[d].queue_max = 4096;
  }
}

/* --ns-a ... --mtu-b: -1 to go on, else the exit status. */
static int gateway_flag(int c, const char *val, struct host_opts *o) {
  int d = c == OPT_NS_B || c == OPT_DEV_B || c == OPT_SIDE_B || c == OPT_MTU_B;
  const char *name =
      (const char *[]){"ns-a", "ns-b", "dev-a", "dev-b", "side-a", "side-b", "mtu-a", "mtu-b"}[c - OPT_NS_A];
  uint64_t u;
  switch (c) {
  case OPT_NS_A:
  case OPT_NS_B:
    if (!*val || strchr(val, '/') || strlen(val) > 200)
      return bad_value(name, val, "a namespace name (ip netns)");
    o->gw_ns[d] = val;
    break;
  case OPT_DEV_A:
  case OPT_DEV_B:
    if (!*val || strlen(val) >= IFNAMSIZ || strchr(val, '/') || strchr(val, ' '))
      return bad_value(name, val, "an interface name of 1 to 15 characters");
    o->gw_dev[d] = val;
    break;
  case OPT_SIDE_A:
  case OPT_SIDE_B:
    if (host_parse_prefix_addr(val, &o->gw_addr[d], &o->gw_prefix[d]) < 0)
      return bad_value(name, val, "ADDRESS/PREFIX such as 10.78.1.2/24, prefix 1..30");
    break;
  default:
    if (host_parse_u64(val, 65535, &u) < 0 || u < 576)
      return bad_value(name, val, "a number from 576 to 65535");
    o->gw_mtu[d] = (uint16_t)u;
    break;
  }
  return -1;
}

/* The address flags: -1 to go on, else the exit status after saying what
 * was wrong. --addr and --host take an IPv6 address too (they set
 * --addr6/--host6), so an IPv6 address is never refused. */
static int parse_addr_flag(int c, struct host_opts *o) {
  int v4 = !strchr(optarg ? optarg : "", ':');
  if (c == OPT_ADDR && v4) {
    if (host_parse_ipv4(optarg, &o->addr) < 0)
      return bad_value("addr", optarg, "an IPv4 address such as 10.77.0.2 (or an IPv6 one)");
    return -1;
  }
  if (c == OPT_HOST && v4) {
    if (host_parse_prefix_addr(optarg, &o->host, &o->prefix) < 0)
      return bad_value("host", optarg, "ADDRESS/PREFIX such as 10.77.0.1/24, prefix 1..30");
    return -1;
  }
  switch (c) {
  case OPT_ADDR:
  case OPT_ADDR6:
    if (host_parse_ipv6(optarg, o->addr6) < 0 || o->addr6[0] == 0xff)
      return bad_value(c == OPT_ADDR ? "addr" : "addr6", optarg, "an IPv6 unicast address such as fd77::2");
    break;
  case OPT_HOST:
  case OPT_HOST6:
    if (host_parse_prefix_addr6(optarg, o->host6, &o->prefix6) < 0)
      return bad_value(c == OPT_HOST ? "host" : "host6", optarg, "ADDRESS/PREFIX such as fd77::1/64, prefix 1..127");
    break;
  case OPT_NO_IPV6: o->no_ipv6 = 1; break;
  default:
    if (strcmp(optarg, "on") && strcmp(optarg, "off")) return bad_value("ipv6", optarg, "on or off");
    o->no_ipv6 = !strcmp(optarg, "off");
    break;
  }
  return -1;
}

/* The gateway's flags together: a script is optional; the two sides'
 * networks must not overlap. */
static int finish_gateway(int argc, char **argv, struct host_opts *o) {
  for (int d = 0; d < 2; d++) {
    if (!o->gw_mtu[d]) o->gw_mtu[d] = o->mtu;
    if (!o->gw_dev[d]) o->gw_dev[d] = d ? "tlgw-b" : "tlgw-a";
  }
  uint8_t p = o->gw_prefix[0] < o->gw_prefix[1] ? o->gw_prefix[0] : o->gw_prefix[1];
  uint32_t m = ~0u << (32 - p);
  if ((o->gw_addr[0] & m) == (o->gw_addr[1] & m)) {
    fprintf(stderr,
            "tcplua: --side-a and --side-b are in one network; give them different ones; try --help\n");
    return 2;
  }
  if (!strcmp(o->gw_dev[0], o->gw_dev[1]) && (!o->gw_ns[0] == !o->gw_ns[1]) &&
      (!o->gw_ns[0] || !strcmp(o->gw_ns[0], o->gw_ns[1]))) {
    fprintf(stderr, "tcplua: --dev-a and --dev-b name one device in one namespace; try --help\n");
    return 2;
  }
  o->script = optind < argc ? argv[optind] : NULL;
  o->nargs = optind < argc ? argc - optind - 1 : 0;
  o->args = argv + (optind < argc ? optind + 1 : optind);
  return -1;
}

/* After the flags: the script and what the flags say together. */
static int finish_args(int argc, char **argv, struct host_opts *o) {
  if (o->gateway) return finish_gateway(argc, argv, o);
  if (o->dir_given) {
    fprintf(stderr, "tcplua: a->b: and b->a: directions are for --gateway only; try --help\n");
    return 2;
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
  if (!o->no_ipv6 && !memcmp(o->addr6, o->host6, 16)) {
    fprintf(stderr, "tcplua: --addr6 and --host6 must differ; try --help\n");
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

int host_parse_args(int argc, char **argv, struct host_opts *o, int *mtu_given) {
  o->dev = "tcplua0";
  host_parse_ipv4("10.77.0.2", &o->addr);
  host_parse_ipv4("10.77.0.1", &o->host);
  o->prefix = 24;
  host_parse_ipv6("fd77::2", o->addr6);
  host_parse_ipv6("fd77::1", o->host6);
  o->prefix6 = 64;
  o->mtu = 1500;
  o->impair.reorder_gap = 3;
  o->impair.queue_max = 4096;
  o->lua_timeout_us = 500 * 1000;
  o->cc = -1;
  gateway_defaults(o);
  opterr = 0; /* our messages name the flag and point at --help */
  int c, rc;
  /* '+': options end at SCRIPT, so the script's own flags reach it. */
  while ((c = getopt_long(argc, argv, "+:hqV", long_opts, NULL)) != -1) {
    const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    uint64_t u;
    if (c >= OPT_NS_A && c <= OPT_MTU_B) {
      if ((rc = gateway_flag(c, optarg, o)) >= 0) return rc;
      continue;
    }
    if ((c >= OPT_LOSS && c <= OPT_SIZE_LIMIT) || c == OPT_SLOT || c == OPT_NETEM) {
      if ((rc = impair_flag(c, optarg, o)) >= 0) return rc;
      continue;
    }
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
    case OPT_ADDR:
    case OPT_HOST:
    case OPT_ADDR6:
    case OPT_HOST6:
    case OPT_NO_IPV6:
    case OPT_IPV6:
      if ((rc = parse_addr_flag(c, o)) >= 0) return rc;
      break;
    case OPT_GATEWAY: o->gateway = 1; break;
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
    case OPT_CC:
      o->cc = host_parse_cc(optarg);
      if (o->cc < 0) return bad_value("cc", optarg, "reno, newreno, cubic or bbr");
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
  return finish_args(argc, argv, o);
}
