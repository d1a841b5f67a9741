/* The kernel-side echo server for the request/response, new-connection and
 * idle-connection figures: one epoll loop, echoes what it reads.
 *   tlb_echod -p PORT [-b ADDR] -t SECS
 * Exits by itself after -t seconds. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE = "tlb_echod -p PORT [-b ADDR] -t SECS";

/* Echo replies are small; a short write only happens when the client stops
 * reading, and then waiting a little is the honest thing for an echo. */
static void write_all(int fd, const char *p, size_t n, double deadline) {
  while (n > 0 && tlb_now() < deadline) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      poll(&pf, 1, 100);
    } else {
      return;
    }
  }
}

int main(int argc, char **argv) {
  struct tlb_opts o = {0};
  tlb_parse(argc, argv, &o, USAGE);
  if (!o.port) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  tlb_raise_nofile(1100000);
  int lfd = tlb_listen(o.bind, o.port);
  tlb_nonblock(lfd);
  int ep = epoll_create1(0);
  if (ep < 0) tlb_die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  enum { NEV = 256 };
  struct epoll_event evs[NEV];
  char buf[65536];
  double deadline = tlb_now() + o.secs;
  while (tlb_now() < deadline) {
    int n = epoll_wait(ep, evs, NEV, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (int c; (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
          tlb_nodelay(c);
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) close(c);
        }
        continue;
      }
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        write_all(fd, buf, (size_t)r, deadline);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd); /* also removes it from the epoll set */
      }
    }
  }
  return 0;
}
