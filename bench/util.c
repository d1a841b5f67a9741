#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double tlb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tlb_die(const char *what) {
  perror(what);
  exit(2);
}

static void usage_exit(const char *usage, const char *why) {
  fprintf(stderr, "error: %s\nusage: %s\n", why, usage);
  exit(2);
}

static void parse_srcs(struct tlb_opts *o, char *list, const char *usage) {
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    if (o->nsrcs == TLB_MAX_SRCS) usage_exit(usage, "too many -s addresses");
    if (inet_pton(AF_INET, tok, &o->srcs[o->nsrcs]) != 1) usage_exit(usage, "bad -s address");
    o->nsrcs++;
  }
}

void tlb_parse(int argc, char **argv, struct tlb_opts *o, const char *usage) {
  int opt;
  char *end;
  while ((opt = getopt(argc, argv, "H:p:t:n:c:l:P:s:b:")) != -1) {
    errno = 0;
    switch (opt) {
    case 'H': o->host = optarg; break;
    case 'b': o->bind = optarg; break;
    case 'p': {
      long v = strtol(optarg, &end, 10);
      if (*end || v <= 0 || v > 65535) usage_exit(usage, "bad -p port");
      o->port = (uint16_t)v;
      break;
    }
    case 't':
      o->secs = strtod(optarg, &end);
      if (*end || !(o->secs > 0) || o->secs > 3600) usage_exit(usage, "bad -t seconds (0 < t <= 3600)");
      break;
    case 'n':
      o->count = strtol(optarg, &end, 10);
      if (*end || o->count <= 0) usage_exit(usage, "bad -n count");
      break;
    case 'c': {
      long v = strtol(optarg, &end, 10);
      if (*end || v <= 0 || v > 65536) usage_exit(usage, "bad -c concurrency");
      o->conc = (int)v;
      break;
    }
    case 'l': {
      long v = strtol(optarg, &end, 10);
      if (*end || v <= 0 || v > (16 << 20)) usage_exit(usage, "bad -l length");
      o->len = (size_t)v;
      break;
    }
    case 'P': {
      long v = strtol(optarg, &end, 10);
      if (*end || v <= 0) usage_exit(usage, "bad -P pid");
      o->pid = (int)v;
      break;
    }
    case 's': parse_srcs(o, optarg, usage); break;
    default: usage_exit(usage, "unknown option");
    }
  }
  if (optind < argc) o->mode = argv[optind];
  if (!(o->secs > 0)) usage_exit(usage, "-t seconds is required: every run is time bounded");
}

/* TLB_CC=name: the congestion control of every socket this tool opens
 * (TCP_CONGESTION; root may pick one the namespace does not allow), so
 * the kernel reference can run the same algorithm as tcplua. Accepted
 * sockets inherit it from the listener. */
static void set_cc(int fd) {
  const char *cc = getenv("TLB_CC");
  if (cc && *cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0) {
    fprintf(stderr, "TLB_CC=%s: %s\n", cc, strerror(errno));
    exit(2);
  }
}

/* An address of either family (IPv6 when it holds a ':') as a sockaddr;
 * 0, or -1 when inet_pton refuses it. */
static int tlb_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (addr && strchr(addr, ':')) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    *len = sizeof *s6;
    return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  *len = sizeof *s4;
  return !addr || inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? 0 : -1;
}

int tlb_listen(const char *addr, uint16_t port) {
  struct sockaddr_storage sa;
  socklen_t sl;
  if (tlb_sockaddr(addr, port, &sa, &sl) < 0) {
    fprintf(stderr, "bad bind address %s\n", addr);
    exit(2);
  }
  int fd = socket(sa.ss_family, SOCK_STREAM, 0);
  if (fd < 0) tlb_die("socket");
  set_cc(fd);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&sa, sl) < 0) tlb_die("bind");
  if (listen(fd, 65535) < 0) tlb_die("listen");
  return fd;
}

int tlb_connect(const struct in_addr *src, const char *host, uint16_t port, int nonblock) {
  return tlb_connect_from(src, 0, host, port, nonblock);
}

void tlb_abort(int fd) {
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

int tlb_connect_from(const struct in_addr *src, uint16_t sport, const char *host, uint16_t port,
                     int nonblock) {
  struct sockaddr_storage sa;
  socklen_t sl;
  if (!host || tlb_sockaddr(host, port, &sa, &sl) < 0) {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(sa.ss_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  set_cc(fd);
  /* -s source addresses are IPv4's: an IPv6 client lets the kernel pick. */
  if (src && sa.ss_family == AF_INET) {
    /* Without a port, defer its choice to connect() so each source address
     * gets its own full ephemeral range for this destination. */
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in ls = {.sin_family = AF_INET, .sin_addr = *src, .sin_port = htons(sport)};
    if (bind(fd, (struct sockaddr *)&ls, sizeof ls) < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && !(nonblock && errno == EINPROGRESS)) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

void tlb_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void tlb_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

long tlb_raise_nofile(long n) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -1;
  if ((long)rl.rlim_cur < n) {
    rl.rlim_cur = (rlim_t)n;
    if ((long)rl.rlim_max < n) rl.rlim_max = (rlim_t)n;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      getrlimit(RLIMIT_NOFILE, &rl);
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return (long)rl.rlim_cur;
}

long tlb_rss_kib(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}
