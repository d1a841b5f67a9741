/* netem's argument words for the link impairment: "delay 100ms 10ms 25%
 * distribution normal loss state 1% 30% rate 1mbit 20 slot 10ms 20ms
 * packets 4" sets the fields of a tl_impair_config that tc-netem(8) would.
 * The command line's impairment flags and tcplua.sim's impair() use it.
 * Units: times ms (bare number), s, us, usec, msec, sec; probabilities
 * "5%" or "0.05"; rates tc's (bit, kbit, mbit, gbit; bps, kbps, mbps,
 * gbps are bytes/s). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tcplua.h"

#define MAXW 32

struct words {
  char buf[512];
  char *w[MAXW];
  int n, i;
  char *err;
  size_t errlen;
};

static int fail(struct words *ws, const char *what, const char *word) {
  if (ws->err && ws->errlen) snprintf(ws->err, ws->errlen, "%s '%s'", what, word ? word : "(missing)");
  return -1;
}

static const char *peek(const struct words *ws) { return ws->i < ws->n ? ws->w[ws->i] : NULL; }

/* As netem's NEXT_IS_NUMBER: optional arguments are told by a leading digit. */
static int next_is_number(const struct words *ws) {
  const char *s = peek(ws);
  return s && (isdigit((unsigned char)s[0]) || (s[0] == '.' && isdigit((unsigned char)s[1])) ||
               (s[0] == '-' && isdigit((unsigned char)s[1])));
}

static int num(const char *s, double *v, char **end) {
  if (!s || !*s) return -1;
  errno = 0;
  *v = strtod(s, end);
  return *end == s || errno || !isfinite(*v) ? -1 : 0;
}

static int prob(struct words *ws, double *out) {
  const char *s = peek(ws);
  char *end;
  double v;
  if (num(s, &v, &end) < 0) return fail(ws, "expected a probability (5% or 0.05), got", s);
  if (*end == '%') v /= 100.0, end++;
  if (*end || v < 0 || v > 1) return fail(ws, "expected a probability (5% or 0.05), got", s);
  ws->i++;
  *out = v;
  return 0;
}

static int duration(struct words *ws, uint32_t *out) {
  static const struct {
    const char *u;
    double k;
  } units[] = {{"", 1e3},   {"ms", 1e3},  {"msec", 1e3}, {"msecs", 1e3}, {"us", 1},
               {"usec", 1}, {"usecs", 1}, {"s", 1e6},    {"sec", 1e6},   {"secs", 1e6}};
  const char *s = peek(ws);
  char *end;
  double v, k = -1;
  if (num(s, &v, &end) < 0) return fail(ws, "expected a time (20ms, 1s, 500us), got", s);
  for (size_t i = 0; i < sizeof units / sizeof units[0] && k < 0; i++)
    if (!strcasecmp(end, units[i].u)) k = units[i].k;
  v *= k;
  if (k < 0 || v < 0 || v > 4294967295.0) return fail(ws, "expected a time (20ms, 1s, 500us), got", s);
  ws->i++;
  *out = (uint32_t)llround(v);
  return 0;
}

static int rate(struct words *ws, uint64_t *out) {
  static const struct {
    const char *u;
    double k;
  } units[] = {{"", 1},    {"bit", 1},    {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
               {"bps", 8}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}};
  const char *s = peek(ws);
  char *end;
  double v, k = -1;
  if (num(s, &v, &end) < 0) return fail(ws, "expected a rate (500kbit, 10mbit, 1gbit), got", s);
  for (size_t i = 0; i < sizeof units / sizeof units[0] && k < 0; i++)
    if (!strcasecmp(end, units[i].u)) k = units[i].k;
  v *= k;
  if (k < 0 || v < 1 || v > 1e15) return fail(ws, "expected a rate (500kbit, 10mbit, 1gbit), got", s);
  ws->i++;
  *out = (uint64_t)llround(v);
  return 0;
}

static int integer(struct words *ws, long lo, long hi, long *out) {
  const char *s = peek(ws);
  char *end;
  if (!s || !*s) return fail(ws, "expected a whole number, got", s);
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*end || errno || v < lo || v > hi) return fail(ws, "expected a whole number in range, got", s);
  ws->i++;
  *out = v;
  return 0;
}

static int dist(struct words *ws, uint32_t *out) {
  static const char *const names[] = {"uniform", "normal", "pareto", "paretonormal"};
  const char *s = peek(ws);
  for (uint32_t i = 0; s && i < 4; i++)
    if (!strcasecmp(s, names[i])) {
      ws->i++;
      *out = i;
      return 0;
    }
  return fail(ws, "expected a distribution (uniform, normal, pareto, paretonormal), got", s);
}

/* P [CORR]: loss random, duplicate, corrupt, reorder. */
static int prob_corr(struct words *ws, double *p, double *corr) {
  if (prob(ws, p) < 0) return -1;
  if (next_is_number(ws) && prob(ws, corr) < 0) return -1;
  return 0;
}

/* Up to n probabilities after the first, which is required. */
static int probs(struct words *ws, double *p, int n) {
  if (prob(ws, &p[0]) < 0) return -1;
  for (int i = 1; i < n && next_is_number(ws); i++)
    if (prob(ws, &p[i]) < 0) return -1;
  return 0;
}

/* loss [random] P [CORR] | loss state P13 [P31 [P32 [P23 [P14]]]] |
 * loss gemodel P [R [1-H [1-K]]], with iproute2's defaults. */
static int loss(struct words *ws, tl_impair_config *c) {
  const char *s = peek(ws);
  if (s && !strcasecmp(s, "state")) {
    ws->i++;
    double p[5] = {0, -1, 0, 1, 0};
    if (probs(ws, p, 5) < 0) return -1;
    if (p[1] < 0) p[1] = 1 - p[0];
    memcpy(c->loss_p, p, sizeof p);
    c->loss_model = TL_LOSS_STATE;
    return 0;
  }
  if (s && !strcasecmp(s, "gemodel")) {
    ws->i++;
    double p[4] = {0, -1, 1, 0};
    if (probs(ws, p, 4) < 0) return -1;
    if (p[1] < 0) p[1] = 1 - p[0];
    memset(c->loss_p, 0, sizeof c->loss_p);
    memcpy(c->loss_p, p, sizeof p);
    c->loss_model = TL_LOSS_GEMODEL;
    return 0;
  }
  if (s && !strcasecmp(s, "random")) ws->i++;
  c->loss_model = TL_LOSS_RANDOM;
  return prob_corr(ws, &c->loss, &c->loss_corr);
}

/* delay TIME [JITTER [CORR]] [distribution D] */
static int delay(struct words *ws, tl_impair_config *c) {
  if (duration(ws, &c->delay_us) < 0) return -1;
  if (next_is_number(ws)) {
    if (duration(ws, &c->jitter_us) < 0) return -1;
    if (next_is_number(ws) && prob(ws, &c->delay_corr) < 0) return -1;
  }
  if (peek(ws) && !strcasecmp(peek(ws), "distribution")) {
    ws->i++;
    return dist(ws, &c->delay_dist);
  }
  return 0;
}

/* rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]] */
static int rate_words(struct words *ws, tl_impair_config *c) {
  long v;
  if (rate(ws, &c->rate_bps) < 0) return -1;
  if (!next_is_number(ws)) return 0;
  if (integer(ws, -65535, 65535, &v) < 0) return -1;
  c->rate_overhead = (int32_t)v;
  if (!next_is_number(ws)) return 0;
  if (integer(ws, 0, 65535, &v) < 0) return -1;
  c->rate_cell = (uint32_t)v;
  if (!next_is_number(ws)) return 0;
  if (integer(ws, -65535, 65535, &v) < 0) return -1;
  c->rate_cell_overhead = (int32_t)v;
  return 0;
}

/* slot MIN [MAX] [packets N] [bytes N] |
 * slot distribution D DELAY JITTER [packets N] [bytes N] */
static int slot(struct words *ws, tl_impair_config *c) {
  const char *s = peek(ws);
  c->slot_dist = 0;
  c->slot_jitter_us = 0;
  if (s && !strcasecmp(s, "distribution")) {
    ws->i++;
    if (dist(ws, &c->slot_dist) < 0 || duration(ws, &c->slot_min_us) < 0 ||
        duration(ws, &c->slot_jitter_us) < 0)
      return -1;
    c->slot_max_us = c->slot_min_us;
  } else {
    if (duration(ws, &c->slot_min_us) < 0) return -1;
    c->slot_max_us = c->slot_min_us;
    if (next_is_number(ws) && duration(ws, &c->slot_max_us) < 0) return -1;
    if (c->slot_max_us < c->slot_min_us) return fail(ws, "slot: MAX below MIN, got", ws->w[ws->i - 1]);
  }
  for (;;) {
    long v;
    s = peek(ws);
    if (s && !strcasecmp(s, "packets")) {
      ws->i++;
      if (integer(ws, 1, 0x7fffffff, &v) < 0) return -1;
      c->slot_packets = (uint32_t)v;
    } else if (s && !strcasecmp(s, "bytes")) {
      ws->i++;
      if (integer(ws, 1, 0x7fffffff, &v) < 0) return -1;
      c->slot_bytes = (uint32_t)v;
    } else {
      return 0;
    }
  }
}

static int keyword(struct words *ws, tl_impair_config *c) {
  const char *k = ws->w[ws->i++];
  long v;
  if (!strcasecmp(k, "delay") || !strcasecmp(k, "latency")) return delay(ws, c);
  if (!strcasecmp(k, "loss") || !strcasecmp(k, "drop")) return loss(ws, c);
  if (!strcasecmp(k, "duplicate")) return prob_corr(ws, &c->duplicate, &c->duplicate_corr);
  if (!strcasecmp(k, "corrupt")) return prob_corr(ws, &c->corrupt, &c->corrupt_corr);
  if (!strcasecmp(k, "reorder")) {
    if (prob_corr(ws, &c->reorder, &c->reorder_corr) < 0) return -1;
    if (peek(ws) && !strcasecmp(peek(ws), "gap")) {
      ws->i++;
      if (integer(ws, 1, 1000000, &v) < 0) return -1;
      c->reorder_gap = (uint32_t)v;
    }
    return 0;
  }
  if (!strcasecmp(k, "rate")) return rate_words(ws, c);
  if (!strcasecmp(k, "slot")) return slot(ws, c);
  if (!strcasecmp(k, "limit")) {
    if (integer(ws, 1, 1000000, &v) < 0) return -1;
    c->queue_max = (uint32_t)v;
    return 0;
  }
  ws->i--;
  return fail(ws, "unknown or unsupported netem word", k);
}

int tl_impair_parse(tl_impair_config *cfg, const char *netem, char *err, size_t errlen) {
  struct words ws = {.err = err, .errlen = errlen};
  if (err && errlen) err[0] = '\0';
  if (!cfg || !netem || strlen(netem) >= sizeof ws.buf)
    return fail(&ws, "netem words missing or too long:", netem);
  strcpy(ws.buf, netem);
  for (char *save = NULL, *t = strtok_r(ws.buf, " \t\n,", &save); t; t = strtok_r(NULL, " \t\n,", &save)) {
    if (ws.n == MAXW) return fail(&ws, "too many netem words at", t);
    ws.w[ws.n++] = t;
  }
  if (ws.n == 0) return fail(&ws, "no netem words in", netem);
  tl_impair_config c = *cfg;
  while (ws.i < ws.n)
    if (keyword(&ws, &c) < 0) return -1;
  *cfg = c;
  return 0;
}
