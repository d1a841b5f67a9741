/* Command-line options of the tcplua binary and the parsers for their
 * values ("5%", "20ms", "10mbit", "10.77.0.1/24"). */
#ifndef TL_HOST_OPTS_H
#define TL_HOST_OPTS_H
#include <stdint.h>

#include "tcplua.h"

struct host_opts {
  const char *dev; /* TUN name, default tcplua0 */
  uint32_t addr;   /* the stack's address (host order) */
  uint32_t host;   /* the kernel side's address on the TUN */
  uint8_t prefix;
  uint8_t addr6[16]; /* the stack's IPv6 address (--addr6) */
  uint8_t host6[16]; /* the kernel side's (--host6) */
  uint8_t prefix6;
  int no_ipv6;       /* --no-ipv6 / --ipv6 off */
  uint16_t mtu;
  int attach; /* use an existing, configured TUN */
  int has_seed;
  uint64_t seed;
  int quiet;
  int stats;
  int impaired;            /* some impairment flag was given */
  tl_impair_config impair; /* applied to both directions */
  const char *pcap;        /* --pcap FILE */
  const char *tseq;        /* --tseq FILE.csv */
  int trace;               /* --trace */
  int no_offload;          /* --offload off */
  uint32_t lua_timeout_us; /* --lua-timeout; 0: off */
  int cc;                  /* --cc: TL_OPT_CONGESTION value, -1 the stack's default */
  /* --gateway (docs/gateway.md): two TUNs, side a and side b, and the
   * stack forwards between them. */
  int gateway;
  const char *gw_ns[2];        /* --ns-a/--ns-b: the namespace each TUN is made in (NULL: ours) */
  const char *gw_dev[2];       /* --dev-a/--dev-b */
  uint32_t gw_addr[2];         /* --side-a/--side-b: the endpoint's address on that side's TUN */
  uint8_t gw_prefix[2];
  uint16_t gw_mtu[2];          /* --mtu-a/--mtu-b (default --mtu) */
  int gw_impaired[2];          /* an impairment flag applies to datagrams in from that side */
  tl_impair_config gw_impair[2]; /* [0]: a->b, [1]: b->a */
  int dir_given;               /* some impairment flag had an a->b: or b->a: prefix */
  const char *script;
  int nargs; /* script arguments */
  char **args;
};

/* Parses the command line into o (host_args.c); *mtu_given says --mtu was
 * set. Returns -1 to go on, else the exit status (0 for --help/--version). */
int host_parse_args(int argc, char **argv, struct host_opts *o, int *mtu_given);

/* Value parsers: 0 on success, -1 on a malformed or out-of-range value. */
int host_parse_prob(const char *s, double *out);          /* "5%" or "0.05" */
int host_parse_duration_us(const char *s, uint32_t *out); /* "20ms", "1s", "500us", "20" = ms */
int host_parse_rate_bps(const char *s, uint64_t *out);    /* "10mbit", "1gbit", "500kbit", "1mbps" */
int host_parse_ipv4(const char *s, uint32_t *out);        /* dotted quad, host order */
int host_parse_prefix_addr(const char *s, uint32_t *addr, uint8_t *prefix); /* "A/P" ("A" = /24) */
int host_parse_ipv6(const char *s, uint8_t out[16]); /* "fd77::2" */
int host_parse_prefix_addr6(const char *s, uint8_t addr[16], uint8_t *prefix); /* "A/P" ("A" = /64) */
int host_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* "reno", "newreno", "cubic", "bbr": TL_OPT_CONGESTION's value, or -1. */
int host_parse_cc(const char *s);
/* The congestion control a kernel socket in tcplua's network namespace
 * gets by default (net.ipv4.tcp_congestion_control), as a
 * TL_OPT_CONGESTION value; Linux's "reno" (Reno's window with SACK
 * recovery) is tcplua's NewReno. -1 when it cannot be read or tcplua has
 * no such algorithm. */
int host_default_cc(void);
#endif
