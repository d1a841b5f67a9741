/* UDP echo rate: datagrams per second through an echo server, with a
 * window of datagrams in flight; and a kernel UDP echo server to compare.
 *   tlb_udp echo -H HOST -p PORT -t SECS [-c WINDOW] [-l LEN]
 *     prints: dgrams=N secs=S rate=R lost=L [error=...]
 *   tlb_udp echod -p PORT -t SECS       (echoes until SECS have passed)
 * A datagram whose echo does not come within 100 ms counts as lost and is
 * replaced, so the window never stalls. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static const char *USAGE =
    "tlb_udp echo -H HOST -p PORT -t SECS [-c WINDOW] [-l LEN] | tlb_udp echod -p PORT -t SECS";

static int echod(const struct tlb_opts *o) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port)};
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0) tlb_die("echod: bind");
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  double deadline = tlb_now() + o->secs;
  static char buf[65536];
  while (tlb_now() < deadline) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    /* Everything queued, then back to poll: one wake-up per burst. */
    for (;;) {
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
      if (n < 0) break;
      sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  struct tlb_opts o = {.conc = 16, .len = 64};
  tlb_parse(argc, argv, &o, USAGE);
  if (o.mode && strcmp(o.mode, "echod") == 0 && o.port) return echod(&o);
  if (!o.mode || strcmp(o.mode, "echo") || !o.host || !o.port || o.len > 65507) {
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(o.port)};
  if (fd < 0 || inet_pton(AF_INET, o.host, &to.sin_addr) != 1 ||
      connect(fd, (struct sockaddr *)&to, sizeof to) < 0)
    tlb_die("echo: connect");
  static char buf[65536];
  memset(buf, 'u', o.len);
  double t0 = tlb_now(), deadline = t0 + o.secs;
  long got = 0, lost = 0, inflight = 0;
  const char *err = NULL;
  while (!err && tlb_now() < deadline) {
    while (inflight < o.conc) {
      if (send(fd, buf, o.len, 0) < 0) {
        if (errno == ECONNREFUSED)
          err = "refused";
        else if (errno != ENOBUFS && errno != EAGAIN)
          err = strerror(errno);
        break;
      }
      inflight++;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 100);
    if (r == 0) { /* the window's echoes are late: count them lost */
      lost += inflight;
      inflight = 0;
      continue;
    }
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ECONNREFUSED) err = "refused";
        break;
      }
      got++;
      if (inflight > 0) inflight--;
    }
  }
  double secs = tlb_now() - t0;
  close(fd);
  printf("dgrams=%ld secs=%.3f rate=%.1f lost=%ld window=%d len=%zu%s%s\n", got, secs, got / secs, lost,
         o.conc, o.len, err ? " error=" : "", err ? err : "");
  return got > 0 ? 0 : 1;
}
