/* The loss state of a connection (struct tl_sock_loss, tcp_tcb.h): the
 * RFC 6675 SACK scoreboard, the out-of-order set (RFC 9293 3.10.7.4
 * seventh, RFC 2018 4) and the RFC 3522 undo snapshot live outside the TCB
 * and exist only while some of them are in use. Allocation happens once
 * per loss or reordering episode, never per segment: the state stays
 * while anything is held or recovery is under way, and goes when the
 * episode is over. */
#include "tcp_tcb.h"

#include <stdlib.h>

const struct tl_sock_loss tl_sock_loss_none;

struct tl_sock_loss *tcp_loss_get(struct tl_sock *s) {
  if (s->loss) return s->loss;
  struct tl_tcp *t = tl_tcp_of(s->st);
  if (t->loss_live < t->loss_limit) s->loss = calloc(1, sizeof *s->loss);
  if (s->loss) {
    t->loss_live++;
    TL_COUNT(s->st, tcp_loss_alloc);
    return s->loss;
  }
  /* Out of memory: go on without SACK, which needs this state on both
   * sides. Recovery becomes NewReno's (RFC 6582) from the next ACK, we stop
   * sending SACK options (RFC 2018 lets a receiver do so), out-of-order
   * segments are dropped and the peer resends them, and there is no undo. */
  s->sack_ok = 0;
  s->reno_sacked = 0; /* shares sack_high's storage: no duplicates credited yet */
  TL_COUNT(s->st, tcp_loss_nomem);
  return NULL;
}

void tcp_loss_trim(struct tl_sock *s) {
  const struct tl_sock_loss *l = s->loss;
  if (!l || l->sacked.n || l->ooo.n || l->undo.armed || s->in_recovery) return;
  tcp_loss_free(s);
}

void tcp_loss_free(struct tl_sock *s) {
  if (!s->loss) return;
  tl_tcp_of(s->st)->loss_live--;
  free(s->loss);
  s->loss = NULL;
}

int tcp_sacked_add(struct tl_sock *s, uint32_t off, uint32_t len) {
  struct tl_sock_loss *l = tcp_loss_get(s);
  return l ? tl_asm_add(&l->sacked, off, len) : -1;
}

void tcp_sacked_advance(struct tl_sock *s, uint32_t n) {
  if (!s->loss) return;
  tl_asm_advance(&s->loss->sacked, n);
  tcp_loss_trim(s);
}

void tcp_sacked_clear(struct tl_sock *s) {
  if (!s->loss) return;
  tl_asm_init(&s->loss->sacked);
  tcp_loss_trim(s);
}

int tcp_ooo_add(struct tl_sock *s, uint32_t off, uint32_t len) {
  struct tl_sock_loss *l = tcp_loss_get(s);
  return l ? tl_asm_add(&l->ooo, off, len) : -1;
}

uint32_t tcp_ooo_take(struct tl_sock *s, uint32_t len) {
  if (!s->loss || !s->loss->ooo.n) return len; /* the usual case: nothing held */
  struct tl_assembler *a = &s->loss->ooo;
  /* If the range set is full, no held range touches [0, len) (it would
   * have merged), so exactly len bytes move. */
  uint32_t n = tl_asm_add(a, 0, len) < 0 ? len : tl_asm_front(a);
  tl_asm_advance(a, n);
  tcp_loss_trim(s);
  return n;
}
