/* The transmit log (tcp_rack.c) and what rides on it: delivery rate
 * estimation (tcp_rate.c, draft-cheng-iccrg-delivery-rate-estimation) and
 * BBR's model (cc/tcp_cc_bbr.c). One record per transmission, in sequence
 * order; each carries the time it left (RACK, RFC 8985) and the delivery
 * state of the connection at that moment (the draft's P.* fields). The
 * log is allocated with the first data sent, outside the TCB, so an idle
 * connection does not pay for it. */
#ifndef TL_TCP_TXLOG_H
#define TL_TCP_TXLOG_H
#include "tcp_cc.h"

enum { SEG_SACKED = 1, SEG_LOST = 2, SEG_RETRANS = 4, SEG_APPLIM = 8 };

struct tl_txseg {
  int64_t xmit; /* when the range last left */
  /* draft-cheng 3.2 "P.*", the connection's state when it left */
  int64_t delivered_time; /* P.delivered_time */
  int64_t first_sent;     /* P.first_sent_time */
  uint32_t delivered;     /* P.delivered, bytes */
  uint32_t start, end;
  uint32_t flags; /* SEG_*; SEG_APPLIM is P.is_app_limited */
};

/* draft-cheng 3.2, the connection's side ("C.*"), and the sample one ACK
 * builds (tcp_cc.h: struct tl_rate_sample). */
struct tl_rate {
  int64_t delivered_time; /* C.delivered_time: when C.delivered last grew */
  int64_t first_sent;     /* C.first_sent_time: send time of the newest delivered range */
  uint32_t delivered;     /* C.delivered: bytes delivered (ACKed or SACKed) so far */
  uint32_t app_limited;   /* C.app_limited: the delivered mark ending the app-limited phase, 0 none */
  uint32_t lost;          /* bytes marked lost so far */
  int64_t newest_xmit;    /* this ACK: send time of the newest delivered range */
  uint32_t newest_end;
  struct tl_rate_sample rs;
  /* Pacing (tcp_rate.c): the module's rate, bytes per second (0: none),
   * and the earliest time the next segment may leave. */
  uint64_t pacing_rate;
  int64_t pace_next;
};

/* BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00) state; bandwidth
 * in bytes per microsecond << TL_BBR_BW_SCALE. Lives in the log's
 * allocation: only a sending connection needs it, and an idle BBR
 * connection keeps the log's head (not its records) so the model survives. */
#define TL_BBR_BW_SCALE 24
struct tl_bbr {
  uint64_t bw[3];                /* windowed max filter: best, 2nd, 3rd best (Kathleen Nichols' algorithm) */
  uint32_t bw_round[3];          /* the round each was measured in */
  uint32_t min_rtt_us;           /* BBR.RTprop, UINT32_MAX none */
  int64_t min_rtt_at;            /* when it was measured */
  int64_t probe_rtt_done;        /* PROBE_RTT: when it may end, 0 not yet set */
  int64_t cycle_at;              /* PROBE_BW: when this gain phase began (C.delivered_time) */
  uint64_t full_bw;              /* STARTUP: bw at the last 25 % growth */
  uint32_t next_round_delivered; /* C.delivered that ends this round */
  uint32_t round;                /* round trips counted */
  uint32_t prior_cwnd;           /* cwnd before recovery, PROBE_RTT or RTO */
  uint32_t loss_recover;         /* after an RTO: SND.MAX then; the loss state ends when it is acked */
  uint32_t extra_acked[2];       /* ACK aggregation: windowed max of excess delivered bytes */
  uint32_t ack_epoch_acked;
  int64_t ack_epoch_at;
  uint16_t pacing_gain, cwnd_gain; /* << 8 */
  uint8_t mode;                    /* enum tl_bbr_mode (tcp_cc.h) */
  uint8_t cycle_idx, full_bw_cnt, extra_win_rtts, extra_win_idx;
  uint8_t on : 1, round_start : 1, full_bw_reached : 1, conservation : 1, prev_state : 2;
  uint8_t probe_rtt_round_done : 1, idle_restart : 1, in_loss : 1;
};

struct tl_rack {
  struct tl_txseg *seg; /* seg[head .. head+n), by sequence */
  uint32_t head, n, cap;
  /* RFC 8985 6.1 */
  int64_t xmit;     /* RACK.xmit_ts: of the most recently sent delivered range */
  uint32_t end_seq; /* RACK.end_seq */
  uint32_t rtt;     /* RACK.rtt */
  uint32_t min_rtt; /* RACK.min_RTT (0: no sample yet) */
  uint32_t fack;    /* RACK.fack: the highest end delivered */
  uint32_t dsack_round;
  uint32_t tlp_end; /* TLP.end_seq */
  int64_t reo_at;   /* the reordering timer's deadline, TL_T_OFF none */
  uint8_t reo_mult, reo_persist;
  uint8_t has_sample, reordering_seen, dsack_round_on, dsack_seen;
  uint8_t tlp_on, tlp_retrans;
  struct tl_rate rate;
  struct tl_bbr bbr;
};

/* tcp_rack.c: the log, allocated if need be (NULL: out of memory). */
struct tl_rack *tcp_txlog_get(struct tl_sock *s);

/* tcp_rate.c */
void tcp_rate_init(struct tl_sock *s, struct tl_rate *c);
/* A record is (re)sent at now: take the P.* snapshot. */
void tcp_rate_sent(struct tl_sock *s, struct tl_rate *c, struct tl_txseg *e, int64_t now);
/* Start of an ACK's processing: a fresh sample. */
void tcp_rate_ack_begin(struct tl_rate *c, uint32_t prior_in_flight);
/* A record (or its front part) newly delivered by the ACK. */
void tcp_rate_delivered(struct tl_rate *c, const struct tl_txseg *e, int64_t now);
/* End of the ACK: `lost` bytes newly judged lost; fills c->rs. */
void tcp_rate_gen(struct tl_sock *s, struct tl_rate *c, uint32_t lost, int64_t now);
#endif
