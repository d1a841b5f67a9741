/* Concurrent idle connections: open -n connections (-c connects in flight,
 * source addresses -s round robin), then check that every one still answers
 * a 1-byte echo, and report the VmRSS growth of the server process -P.
 *   tlb_idle -H HOST -p PORT -n COUNT -t SECS [-c WINDOW] [-s SRC,...] [-P PID]
 * The whole run, opening and checking, ends within -t seconds.
 * Prints one line: target= opened= failed= verified= open_secs= verify_secs=
 * rss0_kib= rss_kib= bytes_per_conn= [error=...]
 * Connections are spread over worker processes when the per-process file
 * limit is lower than COUNT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE = "tlb_idle -H HOST -p PORT -n COUNT -t SECS [-c WINDOW] [-s SRC,...] [-P PID]";

struct run {
  const struct tlb_opts *o;
  int ep;
  int *fds; /* established connections, in order */
  long opened, failed, inflight;
  char first_err[96];
};

static void fail(struct run *r, const char *what, int e) {
  r->failed++;
  if (!r->first_err[0]) snprintf(r->first_err, sizeof r->first_err, "%s:%s", what, strerror(e));
}

/* Phase 1: open; returns when all are settled or at phase_deadline. */
/* Connection number g (over all workers) comes from source address
 * g % nsrcs, port 1024 + g / nsrcs: picking the port here spares the kernel
 * a search of a nearly full ephemeral range on every connect. */
static void open_all(struct run *r, long base, double phase_deadline) {
  const struct tlb_opts *o = r->o;
  long launched = 0;
  struct epoll_event evs[512];
  while (tlb_now() < phase_deadline && (launched < o->count || r->inflight > 0)) {
    while (launched < o->count && r->inflight < o->conc) {
      const struct in_addr *src = NULL;
      uint16_t sport = 0;
      long g = base + launched;
      if (o->nsrcs) {
        src = &o->srcs[g % o->nsrcs];
        sport = (uint16_t)(1024 + g / o->nsrcs);
      }
      launched++;
      int fd = tlb_connect_from(src, sport, o->host, o->port, 1);
      if (fd < 0) {
        fail(r, "connect", errno);
        if (errno == EMFILE || errno == ENFILE) launched = o->count; /* no point going on */
        continue;
      }
      struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
      epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
      r->inflight++;
    }
    int n = epoll_wait(r->ep, evs, 512, 50);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd, err = 0;
      socklen_t l = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
      epoll_ctl(r->ep, EPOLL_CTL_DEL, fd, NULL);
      r->inflight--;
      if (err || (evs[i].events & EPOLLERR)) {
        fail(r, "connect", err ? err : ECONNREFUSED);
        close(fd);
      } else {
        r->fds[r->opened++] = fd;
      }
    }
  }
}

/* Phase 2: ping each established connection once, -c at a time. */
static long verify_all(struct run *r, double deadline) {
  long next = 0, done = 0, inflight = 0, ok = 0;
  struct epoll_event evs[512];
  char c = 'i';
  while (tlb_now() < deadline && done < r->opened) {
    while (next < r->opened && inflight < r->o->conc) {
      int fd = r->fds[next];
      struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
      next++;
      if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (!r->first_err[0]) snprintf(r->first_err, sizeof r->first_err, "verify-send:%s", strerror(errno));
        done++; /* counted as checked, not as verified */
        continue;
      }
      inflight++;
    }
    int n = epoll_wait(r->ep, evs, 512, 50);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      char b;
      ssize_t got = recv(fd, &b, 1, MSG_DONTWAIT);
      if (got < 0 && errno == EAGAIN) continue;
      epoll_ctl(r->ep, EPOLL_CTL_DEL, fd, NULL);
      inflight--;
      done++;
      if (got == 1)
        ok++;
      else if (!r->first_err[0])
        snprintf(r->first_err, sizeof r->first_err, "verify-recv:%s", got == 0 ? "closed" : strerror(errno));
    }
  }
  return ok;
}

/* One worker: open its share, check it, report "opened failed verified
 * open_secs verify_secs error" on out, then hold the connections until the
 * parent closes `hold` (so the parent measures memory with all of them up). */
static int worker(const struct tlb_opts *o, long base, double t0, int out, int hold) {
  struct run r = {.o = o};
  r.ep = epoll_create1(0);
  r.fds = malloc((size_t)o->count * sizeof *r.fds);
  if (r.ep < 0 || !r.fds) tlb_die("setup");
  /* Leave a quarter of the time for the check. */
  open_all(&r, base, t0 + o->secs * 0.75);
  double t1 = tlb_now();
  long verified = verify_all(&r, t0 + o->secs);
  double t2 = tlb_now();
  dprintf(out, "%ld %ld %ld %.3f %.3f %s\n", r.opened, r.failed, verified, t1 - t0, t2 - t1,
          r.first_err[0] ? r.first_err : "-");
  close(out);
  char b;
  while (read(hold, &b, 1) > 0) {
  }
  for (long i = 0; i < r.opened; i++)
    tlb_abort(r.fds[i]);
  free(r.fds);
  return 0;
}

int main(int argc, char **argv) {
  struct tlb_opts o = {.conc = 512};
  tlb_parse(argc, argv, &o, USAGE);
  if (!o.host || !o.port || o.count <= 0 || (o.nsrcs && o.count / o.nsrcs > 64000)) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  /* The file limit is per process and may not be raisable here (no
   * CAP_SYS_RESOURCE), so the connections are spread over workers. */
  long lim = tlb_raise_nofile(o.count + 64) - 64;
  if (lim < 1) lim = 1;
  long nworkers = (o.count + lim - 1) / lim;
  if (nworkers > 256) {
    printf("target=%ld opened=0 error=nofile-limit:%ld-per-process\n", o.count, lim + 64);
    return 1;
  }
  int res[2], hold[2];
  if (pipe(res) < 0 || pipe(hold) < 0) tlb_die("pipe");
  long rss0 = o.pid ? tlb_rss_kib(o.pid) : -1;
  double t0 = tlb_now();
  struct tlb_opts wo = o;
  wo.conc = o.conc / (int)nworkers > 8 ? o.conc / (int)nworkers : 8;
  long left = o.count;
  fflush(stdout);
  for (long w = 0; w < nworkers; w++) {
    wo.count = left / (nworkers - w);
    left -= wo.count;
    pid_t pid = fork();
    if (pid < 0) tlb_die("fork");
    if (pid == 0) {
      close(res[0]);
      close(hold[1]);
      _exit(worker(&wo, o.count - left - wo.count, t0, res[1], hold[0]));
    }
  }
  close(res[1]);
  close(hold[0]);
  /* Gather the workers' lines; each worker ends within -t of t0. */
  long opened = 0, failed = 0, verified = 0, lines = 0;
  double open_secs = 0, verify_secs = 0;
  char err[128] = "", line[256];
  FILE *f = fdopen(res[0], "r");
  while (lines < nworkers && fgets(line, sizeof line, f)) {
    long a, b, c;
    double x, y;
    char e[128];
    if (sscanf(line, "%ld %ld %ld %lf %lf %127s", &a, &b, &c, &x, &y, e) != 6) continue;
    lines++;
    opened += a, failed += b, verified += c;
    if (x > open_secs) open_secs = x;
    if (y > verify_secs) verify_secs = y;
    if (!err[0] && strcmp(e, "-")) snprintf(err, sizeof err, "%s", e);
  }
  long rss = o.pid ? tlb_rss_kib(o.pid) : -1;
  double per = (rss0 >= 0 && rss >= 0 && opened > 0) ? (double)(rss - rss0) * 1024 / opened : -1;
  printf("target=%ld workers=%ld opened=%ld failed=%ld verified=%ld open_secs=%.2f verify_secs=%.2f "
         "rss0_kib=%ld rss_kib=%ld bytes_per_conn=%.0f%s%s\n",
         o.count, nworkers, opened, failed, verified, open_secs, verify_secs, rss0, rss, per,
         err[0] ? " error=" : "", err);
  fflush(stdout);
  close(hold[1]);
  fclose(f);
  while (wait(NULL) > 0) {
  }
  return verified == o.count ? 0 : 1;
}
