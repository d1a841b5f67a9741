/* Shared helpers of the bench load tools: a monotonic clock, option
 * parsing, socket setup and the one-line `key=value` result format that
 * scripts/bench parses. The tools are plain POSIX sockets on purpose: they
 * measure whatever TCP is at the other end, the kernel's or tcplua's. */
#ifndef TLB_UTIL_H
#define TLB_UTIL_H
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define TLB_MAX_SRCS 64

struct tlb_opts {
  const char *mode; /* first positional argument, tool specific */
  const char *host; /* -H: server address */
  uint16_t port;    /* -p */
  double secs;      /* -t: hard time limit for the whole run */
  long count;       /* -n: connections / transactions bound */
  int conc;         /* -c: concurrency window */
  size_t len;       /* -l: buffer length */
  int pid;          /* -P: process whose VmRSS is reported */
  int nsrcs;        /* -s a,b,c: source addresses, round robin */
  struct in_addr srcs[TLB_MAX_SRCS];
  const char *bind; /* -b: server bind address */
};

double tlb_now(void); /* seconds, CLOCK_MONOTONIC */
/* Parses argv into o (defaults already set by the caller); exits with a
 * usage message on bad input. */
void tlb_parse(int argc, char **argv, struct tlb_opts *o, const char *usage);
void tlb_die(const char *what); /* perror + exit 2 */
/* Listening socket on addr:port (addr NULL = any), backlog large. */
int tlb_listen(const char *addr, uint16_t port);
/* Socket (blocking unless nonblock) bound to src (may be NULL) connecting
 * to host:port; with nonblock the connect is in progress on return.
 * Returns the fd or -1 (errno set). */
int tlb_connect(const struct in_addr *src, const char *host, uint16_t port, int nonblock);
/* The same from an explicit source port (0: the kernel picks). */
int tlb_connect_from(const struct in_addr *src, uint16_t sport, const char *host, uint16_t port,
                     int nonblock);
/* Close with RST (SO_LINGER 0): no TIME-WAIT left behind. */
void tlb_abort(int fd);
void tlb_nodelay(int fd);
void tlb_nonblock(int fd);
/* Raise RLIMIT_NOFILE to at least n (best effort); returns the new soft limit. */
long tlb_raise_nofile(long n);
/* VmRSS of pid in KiB, or -1. */
long tlb_rss_kib(int pid);
#endif
