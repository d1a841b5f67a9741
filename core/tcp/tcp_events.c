/* Socket events: a socket sits in the stack's pending list at most once,
 * with the OR of what happened since the application last looked. Sockets
 * nobody holds (orphans, unaccepted children) collect bits without queuing;
 * tl_accept queues what a child gathered. */
#include "tcp_tcb.h"

void tcp_event(tl_stack *st, struct tl_sock *s, uint32_t mask) {
  struct tl_tcp *t = tl_tcp_of(st);
  s->ev_mask |= mask;
  if (!s->user_owned || s->queued_ev || !s->ev_mask) return;
  s->queued_ev = 1;
  s->ev_next = NULL;
  s->ev_prev = t->ev_tail;
  if (t->ev_tail)
    t->ev_tail->ev_next = s;
  else
    t->ev_head = s;
  t->ev_tail = s;
}

void tcp_event_unlink(tl_stack *st, struct tl_sock *s) {
  struct tl_tcp *t = tl_tcp_of(st);
  if (!s->queued_ev) return;
  if (s->ev_prev)
    s->ev_prev->ev_next = s->ev_next;
  else
    t->ev_head = s->ev_next;
  if (s->ev_next)
    s->ev_next->ev_prev = s->ev_prev;
  else
    t->ev_tail = s->ev_prev;
  s->ev_next = s->ev_prev = NULL;
  s->queued_ev = 0;
}

int tl_next_event(tl_stack *st, tl_event *ev) {
  struct tl_sock *s = tl_tcp_of(st)->ev_head;
  if (!s) return 0;
  tcp_event_unlink(st, s);
  ev->sock = s;
  ev->user = s->user;
  ev->mask = s->ev_mask;
  s->ev_mask = 0;
  return 1;
}

int tl_tcp_pending_events(const tl_stack *st) { return tl_tcp_of(st)->ev_head != NULL; }

/* Walks the sockets the application holds (not listeners), so a runtime
 * that keeps no per-connection record can still reach them all at exit. */
tl_sock *tl_next_user_sock(tl_stack *st, tl_sock *prev) {
  struct tl_sock *s = prev ? prev->all_next : tl_tcp_of(st)->all;
  while (s && (!s->user_owned || s->listener))
    s = s->all_next;
  return s;
}
