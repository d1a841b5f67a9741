/* New connections per second: connect, send 1 byte, read the 1-byte echo,
 * close (client first, graceful FIN), repeat, with -c connections in flight.
 *   tlb_crr -H HOST -p PORT -t SECS [-c CONC] [-n MAX] [-s SRC,SRC,...]
 * Several -s source addresses spread the client's TIME-WAIT ports.
 * Prints: conns=N secs=S rate=R failed=F timeouts=T [error=first failure] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE = "tlb_crr -H HOST -p PORT -t SECS [-c CONC] [-n MAX] [-s SRC,...]";
static const double CONN_TIMEOUT_S = 2.0;

struct slot {
  int fd;   /* -1: free */
  int sent; /* request byte written */
  double start;
};

struct run {
  const struct tlb_opts *o;
  int ep;
  long started, done, failed, timeouts;
  int next_src;
  char first_err[96];
};

static void fail(struct run *r, const char *what, int e) {
  r->failed++;
  if (!r->first_err[0]) snprintf(r->first_err, sizeof r->first_err, "%s:%s", what, strerror(e));
}

static void finish(struct slot *s) {
  close(s->fd);
  s->fd = -1;
}

static void start(struct run *r, struct slot *s, uint32_t idx, double now) {
  const struct tlb_opts *o = r->o;
  const struct in_addr *src = NULL;
  if (o->nsrcs) {
    src = &o->srcs[r->next_src];
    r->next_src = (r->next_src + 1) % o->nsrcs;
  }
  r->started++;
  int fd = tlb_connect(src, o->host, o->port, 1);
  if (fd < 0) {
    fail(r, "connect", errno);
    return;
  }
  tlb_nodelay(fd);
  s->fd = fd;
  s->sent = 0;
  s->start = now;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = idx};
  epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_event(struct run *r, struct slot *s, uint32_t idx, uint32_t events) {
  char c = 'x';
  if (!s->sent) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err || (events & EPOLLERR)) {
      fail(r, "connect", err ? err : ECONNREFUSED);
      finish(s);
      return;
    }
    if (send(s->fd, &c, 1, MSG_NOSIGNAL) != 1) {
      fail(r, "send", errno);
      finish(s);
      return;
    }
    s->sent = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, s->fd, &ev);
    return;
  }
  ssize_t n = recv(s->fd, &c, 1, 0);
  if (n == 1) {
    r->done++;
    finish(s);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    fail(r, "recv", n == 0 ? EPIPE : errno);
    finish(s);
  }
}

int main(int argc, char **argv) {
  struct tlb_opts o = {.conc = 1, .count = 100000000};
  tlb_parse(argc, argv, &o, USAGE);
  if (!o.host || !o.port) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  tlb_raise_nofile(o.conc + 64);
  struct run r = {.o = &o};
  r.ep = epoll_create1(0);
  if (r.ep < 0) tlb_die("epoll_create1");
  struct slot *slots = calloc((size_t)o.conc, sizeof *slots);
  if (!slots) tlb_die("calloc");
  double t0 = tlb_now(), deadline = t0 + o.secs, now = t0;
  for (int i = 0; i < o.conc; i++)
    slots[i].fd = -1;
  struct epoll_event evs[256];
  while ((now = tlb_now()) < deadline) {
    for (int i = 0; i < o.conc; i++) {
      struct slot *s = &slots[i];
      if (s->fd >= 0 && now - s->start > CONN_TIMEOUT_S) {
        r.timeouts++;
        finish(s);
      }
      if (s->fd < 0 && r.started < o.count) start(&r, s, (uint32_t)i, now);
    }
    if (r.started >= o.count && r.done + r.failed + r.timeouts >= r.started) break;
    int n = epoll_wait(r.ep, evs, 256, 50);
    for (int i = 0; i < n; i++)
      on_event(&r, &slots[evs[i].data.u32], evs[i].data.u32, evs[i].events);
  }
  double secs = tlb_now() - t0;
  for (int i = 0; i < o.conc; i++)
    if (slots[i].fd >= 0) close(slots[i].fd);
  printf("conns=%ld secs=%.3f rate=%.1f failed=%ld timeouts=%ld%s%s\n", r.done, secs, r.done / secs, r.failed,
         r.timeouts, r.first_err[0] ? " error=" : "", r.first_err);
  free(slots);
  return r.done > 0 ? 0 : 1;
}
