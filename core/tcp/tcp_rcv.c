/* The receiving half (RFC 9293 3.10.7.4 sixth to eighth): urgent pointer,
 * segment text into the receive ring with out-of-order reassembly (bounded,
 * core/storage/assembler.h), delayed and immediate ACKs, and the peer's FIN. */
#include "tcp_tcb.h"

static void process_fin(tl_stack *st, struct tl_sock *s, int64_t now) {
  s->rcv_nxt++;
  s->rcv_fin = 1;
  s->rcv_fin_pending = 0;
  s->ack_now = 1;
  tcp_event(st, s, TL_EV_READABLE);
  switch (s->state) {
  case TL_SYN_RECEIVED:
  case TL_ESTABLISHED: tcp_set_state(st, s, TL_CLOSE_WAIT); break;
  case TL_FIN_WAIT_1: tcp_set_state(st, s, TL_CLOSING); break; /* our FIN not yet acked */
  case TL_FIN_WAIT_2: tcp_enter_time_wait(st, s, now); break;
  default: break;
  }
}

static int ooo_holds(const struct tl_assembler *a, uint32_t off, uint32_t len) {
  for (int i = 0; i < a->n; i++)
    if (off >= a->r[i].start && off + len <= a->r[i].end) return 1;
  return 0;
}

/* Does [off, off+len) touch the held range that contains `at`? */
static int ooo_joins(const struct tl_assembler *a, uint32_t at, uint32_t off, uint32_t len) {
  for (int i = 0; i < a->n; i++)
    if (at >= a->r[i].start && at < a->r[i].end) return off <= a->r[i].end && off + len >= a->r[i].start;
  return 0;
}

/* Out of order: keep it (bounded) and ACK it so the sender sees a
 * duplicate ACK whose first SACK block reports it (RFC 5681 4.2, RFC 2018
 * 4). Outside a receive batch each such segment is ACKed at once. In a
 * batch, segments that extend the same range share one ACK at the end of
 * the batch, as Linux compresses SACKs (tcp_sack_compress): the sender
 * learns the same ranges, and the receiver writes one ACK instead of one
 * per segment, each a TUN write inside which a kernel sender runs (with
 * offloads off that cost 0.25x the kernel's goodput under 1 % loss). A
 * segment that starts another range first sends the held ACK, so every
 * range is reported first in some ACK: an ACK held over several ranges
 * left some never reported, and a Linux sender's RACK resent them (4-6x
 * the data lost, spec/tun/tcp_loss_interop_spec). */
static void receive_ooo(tl_stack *st, struct tl_sock *s, uint32_t seq, uint32_t off, const uint8_t *d,
                        uint32_t len, int64_t now) {
  int batch = (st->batch & TL_BATCH_RX) != 0;
  if (batch && s->loss && s->loss->ooo_held &&
      !ooo_joins(tcp_ooo(s), s->loss->ooo_last_seq - s->rcv_nxt, off, len))
    tcp_send_ack(st, s, now);
  if (tl_asm_bytes(tcp_ooo(s)) + len > st->cfg.tcp_ooo_max_bytes || tl_ring_write_at(&s->rcv, off, d, len) < 0 ||
      tcp_ooo_add(s, off, len) < 0) {
    TL_COUNT(st, drop_tcp_ooo_overflow);
    s->ack_now = 1;
    return;
  }
  TL_COUNT(st, tcp_ooo_segs);
  s->loss->ooo_last_seq = seq; /* tcp_ooo_add: the loss state exists */
  if (!batch) {
    s->ack_now = 1;
    return;
  }
  s->loss->ooo_held = 1;
  if (s->t_delack > now) {
    s->t_delack = now; /* the poll at the end of the batch sends it */
    tcp_timer_update(st, s);
  }
}

static void receive_text(tl_stack *st, struct tl_sock *s, uint32_t seq, const uint8_t *d, uint32_t len,
                         int64_t now) {
  if (tl_seq_lt(seq, s->rcv_nxt)) {
    uint32_t skip = s->rcv_nxt - seq;
    /* RFC 2883 4.1.1: the duplicate part is reported in a D-SACK. */
    tcp_dsack_note(s, seq, skip >= len ? seq + len : s->rcv_nxt);
    if (skip >= len) {
      TL_COUNT(st, tcp_dup_data);
      s->ack_now = 1;
      return;
    }
    d += skip;
    len -= skip;
    seq = s->rcv_nxt;
  }
  uint32_t off = seq - s->rcv_nxt;
  uint32_t space = tl_ring_space(&s->rcv);
  if (off >= space) {
    s->ack_now = 1;
    return;
  }
  if (len > space - off) len = space - off; /* trim to the window */
  if (len > s->rcv_seg_max) s->rcv_seg_max = len;
  if (off > 0) {
    if (ooo_holds(tcp_ooo(s), off, len)) {
      /* RFC 2883 4.1.2: a repeat of queued out-of-order data; the D-SACK
       * goes first, the block containing it second (it is the latest). */
      TL_COUNT(st, tcp_dup_data);
      tcp_dsack_note(s, seq, seq + len);
      s->loss->ooo_last_seq = seq; /* ooo_holds: the loss state exists */
      s->ack_now = 1;
      return;
    }
    receive_ooo(st, s, seq, off, d, len, now);
    return;
  }
  int had_holes = tcp_ooo(s)->n > 0;
  if (tl_ring_write_at(&s->rcv, 0, d, len) < 0) { /* no memory for the buffer */
    s->ack_now = 1;
    return;
  }
  /* In-order data is always taken, with the held ranges it joins. */
  uint32_t n = tcp_ooo_take(s, len);
  tl_ring_commit(&s->rcv, n);
  s->rcv_nxt += n;
  if (s->rcv_urg && tl_seq_geq(s->rcv_nxt, s->rcv_up)) s->rcv_urg = 0; /* all urgent data is in */
  s->bytes_received += n;
  s->rcv_unacked += n;
  tcp_event(st, s, TL_EV_READABLE);
  /* RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at once when a
   * hole fills, and for at least every second full-sized segment; otherwise
   * delay at most cfg.tcp_delack_us. */
  if (had_holes) {
    s->ack_now = 1;
  } else if (s->rcv_unacked >= 2 * s->rcv_seg_max || s->quickack) {
    if (s->quickack) s->quickack--;
    /* While the host feeds a batch of datagrams read in one wake-up, one
     * ACK at the end of the batch (the stack's poll fires this "delayed"
     * ACK at once) stands for every second segment of it: fewer writes,
     * as GRO gives the kernel's own receiver (RFC 5681 4.2 allows ACKing
     * more than two segments; the sender counts bytes, RFC 3465). */
    if (st->batch & TL_BATCH_RX) {
      if (s->t_delack > now) {
        s->t_delack = now;
        tcp_timer_update(st, s);
      }
    } else {
      s->ack_now = 1;
    }
  } else {
    tcp_delack_arm(st, s, now);
  }
}

/* Steps six (URG), seven (text) and eight (FIN). Returns 1 if the
 * connection is gone. */
int tcp_process_text_fin(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, int64_t now) {
  uint32_t seq = h->seq + !!(h->flags & TL_TH_SYN);
  int open_rcv = s->state == TL_ESTABLISHED || s->state == TL_FIN_WAIT_1 || s->state == TL_FIN_WAIT_2;
  /* sixth: URG. RFC 6093: the urgent pointer is tracked, the data itself is
   * delivered inline and in order like any other byte. */
  if ((h->flags & TL_TH_URG) && open_rcv) {
    uint32_t up = seq + h->urg;
    /* RCV.UP <- max(RCV.UP, SEG.UP); with no urgent data pending the old
     * mark compares with nothing (it may be 2^31 behind). */
    if (!s->rcv_urg || tl_seq_gt(up, s->rcv_up)) s->rcv_up = up;
    s->rcv_urg = tl_seq_gt(s->rcv_up, s->rcv_nxt);
  }
  /* seventh: segment text */
  if (h->len) {
    if (open_rcv && !s->user_owned && !s->parent && !s->rcv_fin) {
      /* RFC 1122 4.2.2.13 / RFC 9293 3.10.4: nobody will read it. */
      TL_COUNT(st, tcp_rst_data_after_close);
      tcp_send_rst_conn(st, s, s->snd_max);
      tcp_conn_closed(st, s, TL_EABORTED);
      return 1;
    }
    if (open_rcv)
      receive_text(st, s, seq, h->data, h->len, now);
    else
      s->ack_now = 1; /* CLOSE-WAIT and later: the peer already sent FIN */
  }
  /* eighth: FIN */
  if (h->flags & TL_TH_FIN) {
    uint32_t fin_seq = seq + h->len;
    if (s->rcv_fin) {
      s->ack_now = 1;                                                /* a retransmitted FIN */
      if (s->state == TL_TIME_WAIT) tcp_enter_time_wait(st, s, now); /* restart 2 MSL */
    } else if (fin_seq == s->rcv_nxt) {
      process_fin(st, s, now);
    } else if (tl_seq_gt(fin_seq, s->rcv_nxt) && tl_seq_leq(fin_seq, s->rcv_nxt + tl_ring_space(&s->rcv))) {
      s->rcv_fin_pending = 1; /* beyond a hole: take it when the hole fills */
      s->rcv_fin_seq = fin_seq;
    }
  }
  if (s->rcv_fin_pending && s->rcv_nxt == s->rcv_fin_seq && !s->rcv_fin &&
      (open_rcv || s->state == TL_SYN_RECEIVED))
    process_fin(st, s, now);
  return 0;
}
