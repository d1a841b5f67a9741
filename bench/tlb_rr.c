/* Request/response rate on one connection: send 1 byte, wait for the 1-byte
 * echo, repeat, for -t seconds (or -n transactions).
 *   tlb_rr -H HOST -p PORT -t SECS [-n MAX]
 * Prints: trans=N secs=S rate=R lat_us=MEAN [error=...] */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE = "tlb_rr -H HOST -p PORT -t SECS [-n MAX]";

int main(int argc, char **argv) {
  struct tlb_opts o = {.count = 100000000};
  tlb_parse(argc, argv, &o, USAGE);
  if (!o.host || !o.port) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  int fd = tlb_connect(o.nsrcs ? &o.srcs[0] : NULL, o.host, o.port, 0);
  if (fd < 0) {
    printf("trans=0 error=connect:%s\n", strerror(errno));
    return 1;
  }
  tlb_nodelay(fd);
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  double t0 = tlb_now(), deadline = t0 + o.secs;
  long trans = 0;
  const char *err = NULL;
  char c = 'x';
  while (trans < o.count && !err) {
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
      err = strerror(errno);
      break;
    }
    for (;;) {
      ssize_t r = recv(fd, &c, 1, 0);
      if (r == 1) break;
      if (r == 0)
        err = "peer closed";
      else if (errno != EAGAIN && errno != EINTR)
        err = strerror(errno);
      else if (tlb_now() >= deadline)
        err = "reply timed out at the deadline";
      if (err) break;
    }
    if (err) break;
    trans++;
    if ((trans & 63) == 0 && tlb_now() >= deadline) break;
  }
  double secs = tlb_now() - t0;
  close(fd);
  printf("trans=%ld secs=%.3f rate=%.1f lat_us=%.2f%s%s\n", trans, secs, trans / secs,
         trans ? secs * 1e6 / trans : 0.0, err ? " error=" : "", err ? err : "");
  return trans > 0 ? 0 : 1;
}
