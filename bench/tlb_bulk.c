/* Bulk transfer load tool: one TCP connection, as fast as it goes, for -t
 * seconds.
 *   tlb_bulk sink   -p PORT [-b ADDR] -t SECS   server: read and discard
 *   tlb_bulk source -p PORT [-b ADDR] -t SECS   server: write zeros
 *   tlb_bulk send   -H HOST -p PORT -t SECS [-n BYTES]  client: write for t s
 *   tlb_bulk recv   -H HOST -p PORT -t SECS [-n BYTES]  client: read for t s
 * (-n ends a client after that many bytes, whichever comes first).
 * Clients print one line: bytes=N secs=S gbps=G retrans=R.
 * The sender counts what the peer acknowledged (tcpi_bytes_acked), not
 * what it queued, so a slow peer is not flattered by the socket buffer. */
#include <errno.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE =
    "tlb_bulk sink|source -p PORT [-b ADDR] -t SECS | send|recv -H HOST -p PORT -t SECS [-n BYTES] [-l LEN]";

/* Short socket timeouts let blocking loops notice the deadline. */
static void io_timeouts(int fd) {
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int transfer(int fd, int writing, char *buf, size_t len, double deadline, unsigned long long limit,
                    unsigned long long *bytes) {
  io_timeouts(fd);
  while (tlb_now() < deadline && *bytes < limit) {
    if (len > limit - *bytes) len = (size_t)(limit - *bytes);
    ssize_t n = writing ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
    if (n > 0) {
      *bytes += (unsigned long long)n;
    } else if (n == 0) {
      return 0; /* peer closed */
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return -errno;
    }
  }
  return 0;
}

static int serve(const struct tlb_opts *o, int writing, char *buf) {
  int lfd = tlb_listen(o->bind, o->port);
  double deadline = tlb_now() + o->secs;
  while (tlb_now() < deadline) {
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int ms = (int)((deadline - tlb_now()) * 1000) + 1;
    if (poll(&p, 1, ms) <= 0) continue;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) continue;
    unsigned long long bytes = 0;
    transfer(fd, writing, buf, o->len, deadline, ~0ULL, &bytes);
    close(fd);
  }
  close(lfd);
  return 0;
}

static int client(const struct tlb_opts *o, int writing, char *buf) {
  if (!o->host) {
    fprintf(stderr, "error: -H HOST is required\nusage: %s\n", USAGE);
    return 2;
  }
  int fd = tlb_connect(o->nsrcs ? &o->srcs[0] : NULL, o->host, o->port, 0);
  if (fd < 0) {
    printf("error=connect:%s\n", strerror(errno));
    return 1;
  }
  double t0 = tlb_now();
  unsigned long long bytes = 0;
  unsigned long long limit = o->count > 0 ? (unsigned long long)o->count : ~0ULL;
  int rc = transfer(fd, writing, buf, o->len, t0 + o->secs, limit, &bytes);
  double secs = tlb_now() - t0;
  struct tcp_info ti;
  socklen_t tl = sizeof ti;
  memset(&ti, 0, sizeof ti);
  getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
  if (writing) bytes = ti.tcpi_bytes_acked;
  close(fd);
  printf("bytes=%llu secs=%.3f gbps=%.4f retrans=%u%s%s\n", bytes, secs, (double)bytes * 8 / secs / 1e9,
         ti.tcpi_total_retrans, rc < 0 ? " error=" : "", rc < 0 ? strerror(-rc) : "");
  return bytes > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  struct tlb_opts o = {.len = 128 * 1024};
  tlb_parse(argc, argv, &o, USAGE);
  if (!o.mode || !o.port) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  char *buf = calloc(1, o.len);
  if (!buf) tlb_die("calloc");
  int rc;
  if (!strcmp(o.mode, "sink"))
    rc = serve(&o, 0, buf);
  else if (!strcmp(o.mode, "source"))
    rc = serve(&o, 1, buf);
  else if (!strcmp(o.mode, "send"))
    rc = client(&o, 1, buf);
  else if (!strcmp(o.mode, "recv"))
    rc = client(&o, 0, buf);
  else {
    fprintf(stderr, "unknown mode %s\nusage: %s\n", o.mode, USAGE);
    rc = 2;
  }
  free(buf);
  return rc;
}
