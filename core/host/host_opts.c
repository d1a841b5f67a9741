/* Parsers for option values. Each accepts the whole string or nothing, so
 * "5x%" or "10mbitz" are rejected rather than half-read. */
#include "host_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

static int parse_double(const char *s, double *out, char **end) {
  if (!s || !*s) return -1;
  errno = 0;
  double v = strtod(s, end);
  if (*end == s || errno || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int host_parse_prob(const char *s, double *out) {
  char *end;
  double v;
  if (parse_double(s, &v, &end) < 0) return -1;
  if (*end == '%') {
    v /= 100.0;
    end++;
  }
  if (*end || v < 0.0 || v > 1.0) return -1;
  *out = v;
  return 0;
}

int host_parse_duration_us(const char *s, uint32_t *out) {
  char *end;
  double v;
  if (parse_double(s, &v, &end) < 0) return -1;
  double scale;
  if (!*end || !strcasecmp(end, "ms"))
    scale = 1e3;
  else if (!strcasecmp(end, "us"))
    scale = 1.0;
  else if (!strcasecmp(end, "s"))
    scale = 1e6;
  else
    return -1;
  v *= scale;
  if (v < 0.0 || v > 4294967295.0) return -1;
  *out = (uint32_t)llround(v);
  return 0;
}

/* tc(8) units: "bit" suffixes count bits, "bps" suffixes count bytes. */
int host_parse_rate_bps(const char *s, uint64_t *out) {
  static const struct {
    const char *unit;
    double mult;
  } units[] = {
      {"bit", 1.0}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
      {"bps", 8.0}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9},
  };
  char *end;
  double v;
  if (parse_double(s, &v, &end) < 0) return -1;
  double mult = -1.0;
  if (!*end) mult = 1.0; /* bare number: bits per second */
  for (size_t i = 0; i < sizeof units / sizeof units[0] && mult < 0; i++)
    if (!strcasecmp(end, units[i].unit)) mult = units[i].mult;
  if (mult < 0) return -1;
  v *= mult;
  if (v < 1.0 || v > 1e15) return -1;
  *out = (uint64_t)llround(v);
  return 0;
}

int host_parse_ipv4(const char *s, uint32_t *out) {
  struct in_addr a;
  if (!s || inet_pton(AF_INET, s, &a) != 1) return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

int host_parse_prefix_addr(const char *s, uint32_t *addr, uint8_t *prefix) {
  char buf[32];
  if (!s || strlen(s) >= sizeof buf) return -1;
  strcpy(buf, s);
  char *slash = strchr(buf, '/');
  uint64_t p = 24;
  if (slash) {
    *slash = '\0';
    if (host_parse_u64(slash + 1, 32, &p) < 0 || p < 1 || p > 30) return -1;
  }
  if (host_parse_ipv4(buf, addr) < 0) return -1;
  *prefix = (uint8_t)p;
  return 0;
}

int host_parse_ipv6(const char *s, uint8_t out[16]) {
  struct in6_addr a;
  if (!s || inet_pton(AF_INET6, s, &a) != 1) return -1;
  memcpy(out, &a, 16);
  return 0;
}

int host_parse_prefix_addr6(const char *s, uint8_t addr[16], uint8_t *prefix) {
  char buf[64];
  if (!s || strlen(s) >= sizeof buf) return -1;
  strcpy(buf, s);
  char *slash = strchr(buf, '/');
  uint64_t p = 64;
  if (slash) {
    *slash = '\0';
    if (host_parse_u64(slash + 1, 127, &p) < 0 || p < 1) return -1;
  }
  if (host_parse_ipv6(buf, addr) < 0) return -1;
  *prefix = (uint8_t)p;
  return 0;
}

int host_parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || v > max) return -1;
  *out = v;
  return 0;
}

int host_parse_cc(const char *s) {
  /* TL_OPT_CONGESTION's numbering (the tcp_cc option, config.def). */
  static const char *const names[] = {"reno", "newreno", "cubic", "bbr"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

int host_default_cc(void) {
  FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");
  if (!f) return -1;
  char name[32] = "";
  int ok = fscanf(f, "%31s", name) == 1;
  fclose(f);
  if (!ok) return -1;
  if (!strcmp(name, "reno")) return host_parse_cc("newreno");
  return host_parse_cc(name);
}
