/* Segment output: building segments into the stack's tx scratch (no malloc),
 * segmentation to the peer's MSS, Nagle, sender and receiver silly window
 * avoidance, window advertisement, ACKs, RSTs and probes. */
#include <string.h>

#include "csum.h"
#include "ipv6.h"
#include "tcp_cc.h"
#include "tcp_tcb.h"

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

uint32_t tcp_data_seq0(const struct tl_sock *s) { return s->snd_una + (s->syn_acked ? 0 : 1); }

/* RFC 7323 5.4: a millisecond clock with a per-connection random offset. */
static uint32_t ts_clock(const struct tl_sock *s, int64_t now) {
  return (uint32_t)(now / 1000) + s->ts_offset;
}

/* The window field to advertise. RFC 9293 3.8.6.2.2 (receiver SWS
 * avoidance): the right edge moves only when it can move by
 * min(RCV.BUFF/2, MSS), and otherwise stays put (3.8.6: do not shrink).
 * RFC 7323 2.3: SEG.WND = RCV.WND >> Rcv.Wind.Shift, rounded down, so it
 * never promises bytes the receive ring lacks. Once RCV.NXT has moved by
 * other than a multiple of 2^shift, rounding down the edge already
 * advertised would pull it back (RFC 7323 2.4); it is rounded up instead
 * whenever the ring has room for that, so a retraction (by less than
 * 2^shift) is left only when the ring is within 2^shift of full. Either
 * way a segment inside any edge advertised is taken: acceptability and
 * the text step go by the ring's room (2.4, receiver rule 1). A SYN's
 * window is unscaled. */
uint16_t tcp_rcv_window(struct tl_sock *s, int syn) {
  uint32_t space = tl_ring_space(&s->rcv);
  uint32_t cur = tl_seq_gt(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
  uint32_t thresh = min_u32(s->rcv.cap / 2, s->rcv_mss);
  uint32_t win = cur;
  if (space > cur && space - cur >= thresh) win = space;
  if (win > space) win = space;
  uint8_t shift = syn ? 0 : s->rcv_wscale;
  uint32_t field = min_u32(win >> shift, 65535);
  uint32_t up = (cur + (1u << shift) - 1) >> shift;
  if ((field << shift) < cur && up <= 65535 && (up << shift) <= space) field = up;
  s->rcv_adv = s->rcv_nxt + (field << shift);
  return (uint16_t)field;
}

/* The one way a segment leaves: h built at IP's payload slot, then `len`
 * bytes of s's send ring from sequence `seq` (none for a control segment;
 * s may then be NULL), the checksum, IP from laddr to raddr, the count.
 * A TSO super-segment (larger than the MTU) keeps only the pseudo-header
 * sum in the field: the link checksums each piece it cuts (virtio
 * NEEDS_CSUM), so no pass over the payload is needed, nor, with a scatter
 * output, a copy of it: the link gathers the headers and the ring's spans. */
/* An IPv6 segment (RFC 8200 8.1): checksummed over the IPv6 pseudo-header
 * and sent with the connection's flow label (RFC 6437), never fragmented.
 * A super-segment (over the MTU, tcp_seg_max) leaves whole with only the
 * pseudo-header's sum in its checksum field: the link cuts it into
 * MTU-sized segments and completes each checksum (GSO_TCPV6). */
static void emit6(tl_stack *st, const struct tl_tcp_hdr *h, uint32_t raddr, struct tl_sock *s, uint32_t seq,
                  uint32_t len) {
  struct tl_tcp *t = tl_tcp_of(st);
  const uint8_t *dst = tcp_addr6(t, raddr), *src = tcp_addr6(t, TCP_V6_LOCAL);
  if (!dst || !src) return;
  uint8_t *out = tl_ipv6_tx_payload(st);
  size_t hl = tl_tcp_build(out, h);
  TL_COUNT(st, tcp_out);
  out[16] = out[17] = 0;
  uint32_t n = (uint32_t)(hl + len);
  uint32_t ph = tl_csum_pseudo6(src, dst, TL_PROTO_TCP, n);
  uint32_t flow = tcp_flow_label(t, raddr, h->sport, h->dport);
  if (TL_IP6_HDR_LEN + n > st->cfg.mtu) {
    TL_COUNT(st, tcp_tso6_out);
    uint16_t c = (uint16_t)~tl_csum_fold(ph);
    out[16] = (uint8_t)(c >> 8);
    out[17] = (uint8_t)c;
    tl_iov iov[TL_OUT_IOV_MAX];
    int k = tl_netif_can_scatter(st) ? tl_ring_iov(&s->snd, seq - tcp_data_seq0(s), len, iov, TL_OUT_IOV_MAX)
                                     : -1;
    if (k >= 0) {
      tl_ipv6_send_vec(st, dst, TL_PROTO_TCP, hl, iov, k, flow);
      return;
    }
    tl_ring_peek(&s->snd, seq - tcp_data_seq0(s), out + hl, len);
    tl_ipv6_send_flow(st, dst, TL_PROTO_TCP, n, TL_IPO_DF | TL_IPO_SEG, flow);
    return;
  }
  if (len) tl_ring_peek(&s->snd, seq - tcp_data_seq0(s), out + hl, len);
  uint16_t c = tl_csum_fold(tl_csum_partial(out, n, ph));
  out[16] = (uint8_t)(c >> 8);
  out[17] = (uint8_t)c;
  tl_ipv6_send_flow(st, dst, TL_PROTO_TCP, n, TL_IPO_DF, flow);
}

void tcp_emit(tl_stack *st, const struct tl_tcp_hdr *h, uint32_t laddr, uint32_t raddr, struct tl_sock *s,
              uint32_t seq, uint32_t len) {
  if (tcp_is_v6(raddr)) {
    emit6(st, h, raddr, s, seq, len);
    return;
  }
  uint8_t *out = tl_ipv4_tx_payload(st);
  size_t hl = tl_tcp_build(out, h);
  TL_COUNT(st, tcp_out);
  if (TL_IP_HDR_LEN + hl + len > st->cfg.mtu) {
    uint16_t ph = (uint16_t)~tl_csum_fold(tl_csum_pseudo(laddr, raddr, TL_PROTO_TCP, (uint16_t)(hl + len)));
    out[16] = (uint8_t)(ph >> 8);
    out[17] = (uint8_t)ph;
    tl_iov iov[TL_OUT_IOV_MAX];
    int n = tl_netif_can_scatter(st) ? tl_ring_iov(&s->snd, seq - tcp_data_seq0(s), len, iov, TL_OUT_IOV_MAX) : -1;
    if (n >= 0) {
      tl_ipv4_send_vec(st, raddr, TL_PROTO_TCP, hl, iov, n);
      return;
    }
    tl_ring_peek(&s->snd, seq - tcp_data_seq0(s), out + hl, len);
  } else {
    if (len) tl_ring_peek(&s->snd, seq - tcp_data_seq0(s), out + hl, len);
    tl_tcp_checksum(out, hl + len, laddr, raddr);
  }
  tl_ipv4_send(st, raddr, TL_PROTO_TCP, hl + len, TL_IPO_DF | TL_IPO_SEG);
}

/* A SYN's header (ours or our SYN-ACK): RFC 9293 3.7.1, MSS only in SYNs;
 * RFC 7323 2.2, the window in a SYN is never scaled. */
static void syn_header(struct tl_sock *s, struct tl_tcp_hdr *h, int64_t now) {
  h->flags = TL_TH_SYN;
  h->seq = s->iss;
  h->opt.has_mss = 1;
  h->opt.mss = s->rcv_mss;
  if ((s->state == TL_SYN_SENT && !s->no_ws_offer) || s->ws_ok) {
    h->opt.has_wscale = 1;
    h->opt.wscale = s->rcv_wscale;
  }
  /* RFC 7323 3.2 / RFC 2018 2: offer in our SYN, answer only what the
   * peer's SYN offered. */
  if ((s->state == TL_SYN_SENT && !s->no_ts_offer) || s->ts_ok) {
    h->opt.has_ts = 1;
    h->opt.ts_val = ts_clock(s, now);
    h->opt.ts_ecr = s->state == TL_SYN_SENT ? 0 : s->ts_recent;
  }
  h->opt.sack_ok = (s->state == TL_SYN_SENT && !s->no_sack_offer) || s->sack_ok;
  if (s->state == TL_SYN_RECEIVED) h->flags |= TL_TH_ACK;
}

/* A synchronized segment's flags and options for [seq, seq+len); returns
 * the sequence space it uses (a FIN adds one). */
static uint32_t data_header(tl_stack *st, struct tl_sock *s, struct tl_tcp_hdr *h, uint32_t seq, uint32_t len,
                            int fin_ok, int64_t now) {
  uint32_t used = len;
  h->flags = TL_TH_ACK;
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  if (fin_ok && s->fin_queued && !s->fin_acked && seq + len == data_end) {
    h->flags |= TL_TH_FIN;
    used++;
    s->fin_sent = 1;
  }
  if (len && seq + len == data_end) h->flags |= TL_TH_PSH;
  if (tcp_urgent_ahead(s, seq)) {
    /* RFC 9293 3.8.5: every segment sent while SND.UP is beyond it carries
     * URG and the offset of the octet after the urgent data (RFC 6093 3);
     * an offset past 65535 is sent as 65535, as Linux does (RFC 6093 4),
     * and lands on the urgent data as the queue drains. */
    h->flags |= TL_TH_URG;
    uint32_t off = s->snd_up - seq;
    h->urg = (uint16_t)(off > 65535u ? 65535u : off);
    TL_COUNT(st, tcp_urg_out);
  }
  if (s->ts_ok) {
    h->opt.has_ts = 1;
    h->opt.ts_val = ts_clock(s, now);
    h->opt.ts_ecr = s->ts_recent;
  }
  if (s->sack_ok) tcp_sack_options(s, &h->opt, len);
  return used;
}

/* What a segment sent changes in the connection: counters, SND.MAX, the
 * RACK record, and the ACK no longer owed. */
static void sent(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, uint32_t seq, uint32_t len,
                 uint32_t used, int64_t now) {
  s->segs_out++;
  if (s->in_recovery) s->prr_out += len; /* RFC 6937 prr_out */
  /* Retransmissions (RTO, fast retransmit) may carry bytes or a FIN never
   * sent before: SND.MAX must cover them or their ACK looks premature. */
  if (len) {
    tcp_pace_sent(s, len, now);
    s->data_segs_out++;
    if (tl_seq_lt(seq, s->snd_max)) {
      s->bytes_retrans += len;
      TL_COUNT(st, tcp_retrans_segs);
    } else {
      s->bytes_sent += len;
    }
  }
  if (!(h->flags & TL_TH_SYN)) tcp_rack_on_xmit(s, seq, used, now);
  if (!(h->flags & TL_TH_SYN) && tl_seq_gt(seq + used, s->snd_max)) s->snd_max = seq + used;
  if (h->flags & TL_TH_ACK) {
    /* Every segment carries the ACK: nothing delayed is left owing. */
    s->ack_now = 0;
    s->rcv_unacked = 0;
    if (s->loss) s->loss->ooo_held = 0;
    if (s->t_delack != TL_T_OFF) {
      s->t_delack = TL_T_OFF;
      tcp_timer_update(st, s);
    }
  }
}

/* Builds and sends one segment of the connection. `fin_ok` lets a FIN
 * ride on it when it ends at the end of queued data. Returns the sequence
 * space used. */
static uint32_t xmit(tl_stack *st, struct tl_sock *s, uint32_t seq, uint32_t len, int fin_ok, int64_t now) {
  struct tl_tcp_hdr h;
  memset(&h, 0, sizeof h);
  h.sport = s->lport;
  h.dport = s->rport;
  h.seq = seq;
  uint32_t used;
  int syn = s->state == TL_SYN_SENT || s->state == TL_SYN_RECEIVED;
  h.win = tcp_rcv_window(s, syn);
  if (syn) {
    syn_header(s, &h, now);
    len = 0;
    used = 1;
  } else {
    used = data_header(st, s, &h, seq, len, fin_ok, now);
  }
  if (h.flags & TL_TH_ACK) {
    h.ack = s->rcv_nxt;
    s->last_ack_sent = s->rcv_nxt;
  }
  tcp_emit(st, &h, s->laddr, s->raddr, s, seq, len);
  sent(st, s, &h, seq, len, used, now);
  return used;
}

uint32_t tcp_xmit(tl_stack *st, struct tl_sock *s, uint32_t seq, uint32_t len, int64_t now) {
  return xmit(st, s, seq, len, 1, now);
}

/* A pure ACK carries SEQ = the highest sequence sent, not SND.NXT: after a
 * timeout SND.NXT goes back to SND.UNA (go-back-N), and an ACK numbered
 * below the peer's RCV.NXT would fail its acceptability test and be
 * dropped, ACK field and all (RFC 9293 3.10.7.4 first). */
void tcp_send_ack(tl_stack *st, struct tl_sock *s, int64_t now) {
  if (s->state == TL_SYN_SENT) return; /* nothing to acknowledge yet */
  xmit(st, s, s->state == TL_SYN_RECEIVED ? s->iss : s->snd_max, 0, 0, now);
}

/* RFC 9293 3.10.4 (ABORT) and 3.10.7: <SEQ=seq><CTL=RST>. */
void tcp_send_rst_conn(tl_stack *st, struct tl_sock *s, uint32_t seq) {
  struct tl_tcp_hdr h;
  memset(&h, 0, sizeof h);
  h.sport = s->lport;
  h.dport = s->rport;
  h.seq = seq;
  h.flags = TL_TH_RST;
  /* RFC 7323 3.2: TSopt "SHOULD be sent in an <RST> segment" once agreed;
   * without the ACK bit its TSecr "SHOULD" be zero. */
  if (s->ts_ok) {
    h.opt.has_ts = 1;
    h.opt.ts_val = ts_clock(s, st->now);
  }
  tcp_emit(st, &h, s->laddr, s->raddr, NULL, 0, 0);
  TL_COUNT(st, tcp_rst_out);
  s->segs_out++;
}

/* RFC 9293 3.10.7.1: If the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
 * <CTL=RST,ACK>; if on, <SEQ=SEG.ACK><CTL=RST>. Never in answer to a RST. */
void tcp_send_rst_reply(tl_stack *st, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h) {
  if (h->flags & TL_TH_RST) return;
  struct tl_tcp_hdr r;
  memset(&r, 0, sizeof r);
  r.sport = h->dport;
  r.dport = h->sport;
  if (h->flags & TL_TH_ACK) {
    r.seq = h->ack;
    r.flags = TL_TH_RST;
  } else {
    r.ack = h->seq + h->len + !!(h->flags & TL_TH_SYN) + !!(h->flags & TL_TH_FIN);
    r.flags = TL_TH_RST | TL_TH_ACK;
  }
  tcp_emit(st, &r, ip->dst, ip->src, NULL, 0, 0);
  TL_COUNT(st, tcp_rst_out);
}

/* RFC 5961 3.2/4.2/5.2 challenge ACK; RFC 5961 10 rate limit: a token
 * bucket of about cfg.tcp_challenge_ack_per_s per second per stack (0: no
 * limit). The refill is randomized around the limit, as Linux does since
 * CVE-2016-5696: an exact shared budget lets an off-path attacker count our
 * challenge ACKs and learn which 4-tuples and sequence numbers are live. */
void tcp_challenge_ack(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_tcp *t = tl_tcp_of(st);
  uint32_t limit = st->cfg.tcp_challenge_ack_per_s;
  if (limit) {
    if (now - t->chack_refill >= 1000000 || now < t->chack_refill) {
      t->chack_refill = now;
      t->chack_tokens = (limit + 1) / 2 + tl_rng_below(&st->rng, limit);
    }
    if (t->chack_tokens == 0) {
      TL_COUNT(st, tcp_challenge_ack_limited);
      return;
    }
    t->chack_tokens--;
  }
  TL_COUNT(st, tcp_challenge_ack);
  s->challenge_acks++;
  tcp_send_ack(st, s, now);
}

/* A probe whose sequence number is one below SND.UNA: the peer finds it
 * unacceptable and answers with an ACK carrying its current window (the
 * Linux form of RFC 9293 3.8.6.1 probes and RFC 1122 4.2.3.6 keepalives);
 * it consumes no sequence space, so an unanswered probe is never counted as
 * a data retransmission. */
static void send_probe(tl_stack *st, struct tl_sock *s, int64_t now) {
  struct tl_tcp_hdr h;
  memset(&h, 0, sizeof h);
  h.sport = s->lport;
  h.dport = s->rport;
  h.seq = s->snd_una - 1;
  h.ack = s->rcv_nxt;
  h.flags = TL_TH_ACK;
  h.win = tcp_rcv_window(s, 0);
  if (s->ts_ok) {
    h.opt.has_ts = 1;
    h.opt.ts_val = ts_clock(s, now);
    h.opt.ts_ecr = s->ts_recent;
  }
  tcp_emit(st, &h, s->laddr, s->raddr, NULL, 0, 0);
  s->segs_out++;
  s->probes++;
}

void tcp_keepalive_probe(tl_stack *st, struct tl_sock *s, int64_t now) {
  TL_COUNT(st, tcp_keepalive_probe);
  send_probe(st, s, now);
}

static int64_t persist_interval(const tl_stack *st, const struct tl_sock *s) {
  uint64_t iv = s->rto_us ? s->rto_us : st->cfg.tcp_rto_initial_us;
  for (int i = 0; i < s->backoff && iv < st->cfg.tcp_rto_max_us; i++)
    iv *= 2;
  if (iv > st->cfg.tcp_rto_max_us) iv = st->cfg.tcp_rto_max_us;
  return iv ? (int64_t)iv : 1;
}

static uint32_t unsent(const struct tl_sock *s) {
  uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
  return tl_seq_lt(s->snd_nxt, data_end) ? data_end - s->snd_nxt : 0;
}

/* RFC 9293 3.8.6.1 (zero window probing, with RFC 1122 4.2.2.17 backoff)
 * and the SWS "override timeout" of 3.8.6.2.1 when the window is open but
 * too small to be worth using. */
void tcp_persist_probe(tl_stack *st, struct tl_sock *s, int64_t now) {
  uint32_t avail = unsent(s);
  if (!avail || s->snd_una != s->snd_max) {
    s->persist = 0;
    return;
  }
  TL_COUNT(st, tcp_persist_probe);
  if (s->snd_wnd > 0) {
    uint32_t len = min_u32(min_u32(avail, s->snd_wnd), s->snd_mss);
    s->snd_nxt += xmit(st, s, s->snd_nxt, len, 1, now);
    tcp_rto_arm(st, s, now);
    return;
  }
  send_probe(st, s, now);
  if (s->backoff < 255) s->backoff++;
  s->t_rtx = now + persist_interval(st, s);
}

/* The most new data one segment may carry: one MSS, or as many whole MSS
 * as fit a TSO super-segment when the link segments for us. */
uint32_t tcp_seg_max(const tl_stack *st, const struct tl_sock *s) {
  uint32_t tso = tl_netif_tso_max(st);
  if (tso <= (uint32_t)st->cfg.mtu || tso > 65535) return s->snd_mss;
  /* The link cuts pieces that fill its MTU; that is our MSS only when the
   * MTU is what bounds it (not the peer's MSS option, a path MTU or
   * TL_OPT_MSS). IPv6's header is 40 bytes to IPv4's 20. */
  uint32_t ih = tcp_is_v6(s->raddr) ? TL_IP6_HDR_LEN : TL_IP_HDR_LEN;
  if (s->snd_mss + ih + 20u + (s->ts_ok ? 12u : 0u) != st->cfg.mtu) return s->snd_mss;
  uint32_t room = tso - ih - 60; /* the largest TCP header */
  uint32_t n = room / s->snd_mss;
  return n > 1 ? n * s->snd_mss : s->snd_mss;
}

/* 1 while a segment starting at seq still lies before SND.UP. */
int tcp_urgent_ahead(const struct tl_sock *s, uint32_t seq) {
  return s->snd_urg && tl_seq_gt(s->snd_up, seq);
}

/* Pacing (BBR, tcp_rate.c): not yet time for the next segment. The
 * connection's timer wakes the sender then, through the slot a tx batch
 * uses (out_owed at t_delack, tcp_timer.c), so pacing costs the TCB
 * nothing. */
static int pace_hold(tl_stack *st, struct tl_sock *s, int64_t now) {
  int64_t at = tcp_pace_wait(s, now);
  if (!at) return 0;
  s->out_owed = 1;
  if (at < s->t_delack) {
    s->t_delack = at;
    tcp_timer_update(st, s);
  }
  TL_COUNT(st, tcp_pace_wait);
  return 1;
}

/* Sends what the windows, Nagle and SWS avoidance allow. Returns 1 if
 * anything went out. */
static int send_data(tl_stack *st, struct tl_sock *s, int64_t now) {
  int sent = 0;
  for (;;) {
    uint32_t data_end = tcp_data_seq0(s) + s->snd.len;
    uint32_t avail = unsent(s);
    uint32_t flight = s->in_recovery ? tcp_recovery_pipe(s) : s->snd_nxt - s->snd_una;
    /* RFC 3042 limited transmit: the first two duplicate ACKs each let one
     * new segment out beyond cwnd, so a small window still yields the
     * three duplicates fast retransmit needs. */
    uint32_t cwnd = s->cwnd;
    if (!s->in_recovery && s->dupacks > 0 && s->dupacks < 3) cwnd += (uint32_t)s->dupacks * s->snd_mss;
    uint32_t wnd = min_u32(s->snd_wnd, cwnd);
    uint32_t usable = wnd > flight ? wnd - flight : 0;
    /* Urgent data goes out in MSS pieces, never to TSO, so each piece the
     * peer sees carries URG (as Linux); neither Nagle nor SWS avoidance
     * holds it back (Linux tcp_nagle_test). */
    int urgent = tcp_urgent_ahead(s, s->snd_nxt);
    uint32_t max = urgent ? s->snd_mss : tcp_pace_burst(s, tcp_seg_max(st, s));
    uint32_t len = min_u32(min_u32(avail, usable), max);
    int fin_now =
        s->fin_queued && !s->fin_acked && s->snd_nxt + len == data_end && tl_seq_leq(s->snd_nxt, data_end);
    if (len == 0 && !fin_now) break;
    /* TSO deferral (as Linux tcp_tso_should_defer): with a whole
     * super-segment in flight an ACK is on its way; wait for it rather than
     * hand the link a partial one now, so each write carries as much as it
     * can. Never for a FIN, a retransmission or in recovery, never when the
     * window itself is smaller than a super-segment (nothing would come),
     * never when a third of the window is free (worth sending now, as
     * Linux), and never for the application's last bytes: with nothing
     * queued behind them no later ACK makes the write bigger, and a tail
     * held for the next ACK would cost a whole RTT. */
    if (max > s->snd_mss && len < max && flight >= max && !fin_now && !s->in_recovery &&
        tl_seq_geq(s->snd_nxt, s->snd_max) && usable < wnd / 3 && len < avail)
      break;
    if (len > 0 && len < s->snd_mss && !urgent && tl_seq_geq(s->snd_nxt, s->snd_max)) {
      /* A new short segment. Sender SWS avoidance (3.8.6.2.1): only if it
       * empties the queue or fills half the largest window seen. Nagle
       * (3.7.4, RFC 1122 4.2.3.4): only when nothing is in flight. A FIN
       * riding on the last bytes does not change the decision. */
      if (s->cork && !fin_now) break; /* TL_OPT_CORK: whole segments only */
      int all = s->snd_nxt + len == data_end;
      int idle = s->snd_nxt == s->snd_una;
      if (!((all || len >= s->max_sndwnd / 2) && (s->nodelay || idle))) break;
    }
    if (pace_hold(st, s, now)) break;
    int fresh = tl_seq_geq(s->snd_nxt, s->snd_max);
    if (s->snd_una == s->snd_max) {
      s->una_since = now; /* user timeout starts (RFC 5482) */
      if (s->cc->on_tx_start) s->cc->on_tx_start(s, now);
    }
    uint32_t used = xmit(st, s, s->snd_nxt, len, 1, now);
    if (fresh && !s->rtt_timing && used) {
      /* RFC 6298 3: time one segment per RTT. */
      s->rtt_timing = 1;
      s->rtt_seq = s->snd_nxt + used;
      s->rtt_start = now;
    }
    s->snd_nxt += used;
    if (s->t_rtx == TL_T_OFF || s->persist) tcp_rto_arm(st, s, now); /* RFC 6298 5.1 */
    sent = 1;
    if (used == 0) break;
  }
  if (sent && tcp_rack_active(s)) tcp_rack_timer(st, s, now); /* RFC 8985 7.2: a probe after new data */
  if (tcp_cc_wants_rate(s)) tcp_rate_check_app_limited(s, unsent(s));
  if (sent && s->notsent_blocked) tcp_notsent_wake(st, s, unsent(s));
  if (s->snd_una == s->snd_max && unsent(s) && s->t_rtx == TL_T_OFF) {
    s->persist = 1;
    s->backoff = 0;
    s->t_rtx = now + persist_interval(st, s);
    tcp_timer_update(st, s);
  }
  return sent;
}

void tcp_output(tl_stack *st, struct tl_sock *s, int64_t now) {
  switch (s->state) {
  case TL_SYN_SENT:
  case TL_SYN_RECEIVED:
    if (s->snd_max == s->iss) {
      xmit(st, s, s->iss, 0, 0, now);
      s->snd_nxt = s->snd_max = s->iss + 1;
      /* RFC 6298 2.2/3: the handshake is the first RTT sample, on a
       * passive open too (the SYN-ACK timed to the ACK that completes
       * it), so the first RTO is not the 1 s of 2.1 and a loss probe
       * (RFC 8985 7) can be armed from the first data on. A
       * retransmitted SYN or SYN-ACK ends the timing (Karn, tcp_timer.c). */
      s->rtt_timing = 1;
      s->rtt_seq = s->iss + 1;
      s->rtt_start = now;
      tcp_rto_arm(st, s, now);
    } else if (s->ack_now && s->state == TL_SYN_RECEIVED) {
      xmit(st, s, s->iss, 0, 0, now);
    }
    s->ack_now = 0;
    return;
  case TL_CLOSED:
  case TL_LISTEN: return;
  case TL_FIN_WAIT_2:
  case TL_TIME_WAIT:
    if (s->ack_now) tcp_send_ack(st, s, now);
    return;
  default:
    if (send_data(st, s, now) || !s->ack_now) return;
    if (s->state == TL_CLOSE_WAIT && (st->batch & TL_BATCH_RX)) {
      /* The peer's FIN, read in a batch: its ACK waits for the end of the
       * batch (the poll that follows sends it), so that the FIN or data an
       * application sends on seeing the close carries it. RFC 1122
       * 4.2.3.2 allows the delay; Linux too delays the ACK of a FIN
       * (pingpong mode in tcp_fin). */
      s->ack_now = 0;
      if (s->t_delack > now) {
        s->t_delack = now;
        tcp_timer_update(st, s);
      }
      return;
    }
    tcp_send_ack(st, s, now);
  }
}
