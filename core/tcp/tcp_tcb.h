/* The TCP control block (RFC 9293 3.3.1) and the engine's internal
 * interfaces. A tl_sock is the TCB itself: the public handle, a listener,
 * and an orphaned connection the stack finishes on its own are the same
 * object, told apart by flags. Idle cost: this struct only; the send and
 * receive rings allocate their storage on first use. */
#ifndef TL_TCP_TCB_H
#define TL_TCP_TCB_H
#include "assembler.h"
#include "isn.h"
#include "ring.h"
#include "seq.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_peer6.h"
#include "tcp_wire.h"
#include "timer_wheel.h"

struct tl_cc_ops;
struct tl_rack;

/* Timer slots; each is an absolute time or TL_T_OFF. The connection sits in
 * the stack's timing wheel under the earliest of them. */
#define TL_T_OFF INT64_MAX

/* RFC 9438 4 state (tcp_cc_cubic.c), bytes and us. */
struct tl_cubic {
  int64_t epoch;    /* start of the current avoidance epoch, -1 none */
  int64_t last_ack; /* last ACK that moved the curve (5.8: app-limited time is skipped) */
  uint32_t w_max;   /* window just before the last reduction */
  uint32_t prior;   /* cwnd_prior: the window when ssthresh was last set */
  uint32_t k_us;    /* time the cubic curve takes back to w_max */
  uint32_t w_est;   /* Reno-friendly estimate (4.3) */
  uint32_t est_acc; /* w_est byte counter */
};

/* Spurious loss detection and undo (RFC 3522 Eifel, RFC 9438 4.9;
 * tcp_cc_undo.c): the congestion state before the last reduction. */
struct tl_cc_undo {
  struct tl_cubic cubic;
  uint64_t rexmit0; /* total_retrans before the episode */
  uint32_t cwnd, ssthresh, cc_acc;
  union {
    uint32_t ts;          /* RetransmitTS: our TSval on the first retransmission */
    uint32_t dsack_until; /* D-SACK mode after recovery: SND.MAX when it ended */
  };
  uint32_t seq;    /* its sequence number (SND.UNA then) */
  uint8_t armed;   /* enum tl_undo_armed (tcp_cc_undo.c) */
  uint8_t rto;     /* armed by a timeout */
  uint8_t dsacked; /* RFC 3708: retransmissions of the episode reported by D-SACK */
};

/* State a connection needs only while segments are lost or reordered, in
 * either direction (tcp_loss.c): the SACK scoreboard, the out-of-order set
 * and the undo snapshot. It is allocated once per episode, when the first
 * of them is needed, and freed when all are empty again outside recovery,
 * so an idle or loss-free connection does not carry its 248 bytes. Without
 * memory the connection still works: it stops using SACK (recovery becomes
 * NewReno's), drops out-of-order data (the peer resends it) and does not
 * undo (tcp_loss.c:tcp_loss_get). */
struct tl_sock_loss {
  struct tl_assembler sacked; /* SACK scoreboard, offsets from SND.UNA */
  struct tl_assembler ooo;    /* out-of-order data in the receive ring, offsets from RCV.NXT */
  uint32_t ooo_last_seq;      /* start of the latest out-of-order segment (first SACK block) */
  uint32_t sack_prev[4][2];   /* the SACK blocks last sent, in order (RFC 2018 4: repeated first) */
  uint8_t sack_prev_n;
  uint8_t ooo_held;           /* an out-of-order segment's ACK waits for the end of the rx batch */
  struct tl_cc_undo undo;
};

/* The TCB, ordered by alignment so that it has no holes: it is the whole
 * cost of an idle connection (tl_tcp_sock_size(), under 640 bytes; the
 * spec sim/tcp_idle_memory_spec.lua holds it there). */
struct tl_sock {
  tl_stack *st;
  struct tl_sock *all_next, *all_prev; /* every socket of the stack, for teardown */
  struct tl_sock *hnext;               /* 4-tuple or listener hash chain */
  /* events */
  struct tl_sock *ev_next, *ev_prev;
  uint64_t user;
  /* listener link: children in a listener's SYN or accept queue */
  struct tl_sock *parent;
  struct tl_sock *qnext, *qprev;
  /* listener only */
  struct tl_sock *synq, *acceptq, *acceptq_tail;
  const struct tl_cc_ops *cc; /* congestion control (tcp_cc.h) */
  struct tl_sock_loss *loss;  /* NULL while nothing is lost or reordered */
  struct tl_rack *rack;       /* RACK-TLP transmit log (tcp_rack.c), NULL before data is sent */

  /* timers (tcp_timer.c) */
  struct tl_tw_entry timer; /* in the stack's wheel at the min of the slots below */
  int64_t t_rtx;            /* RTO, SYN/SYN-ACK retry, persist, TIME-WAIT */
  int64_t t_delack;
  int64_t t_keep;       /* keepalive, or orphaned FIN-WAIT-2 limit */
  int64_t t_release;    /* free drained buffers (tcp_buf.c) */
  int64_t last_rx;      /* keepalive idle reference */
  union {
    int64_t last_oow_ack; /* last ACK for an unacceptable segment */
    int64_t cookie_sent;  /* listener: 1 + period of its last SYN cookie, 0 none (tcp_syncookie.c) */
  };
  int64_t una_since;    /* when the oldest unacknowledged data was sent or last acked */
  int64_t rcv_epoch;    /* receive auto-tuning: start of the measurement */
  int64_t rtt_start;

  struct tl_cubic cubic;
  struct tl_ring snd, rcv;

  /* statistics */
  uint64_t total_retrans, bytes_sent, bytes_retrans, bytes_acked, bytes_received;
  uint64_t segs_in, segs_out, data_segs_in, data_segs_out;

  /* identity, demux */
  uint32_t laddr, raddr;
  uint32_t rcv_copied; /* tcp_buf.c: bytes the application read since rcv_epoch (fills a hole) */

  /* send sequence space (RFC 9293 3.3.1) */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
  uint32_t max_sndwnd; /* largest window the peer offered (SWS, RFC 5961 5.2) */
  uint32_t snd_up;     /* SND.UP: the octet after the urgent data (RFC 9293 3.8.5, RFC 6093) */
  /* congestion control (tcp_cc.h) */
  uint32_t cwnd, ssthresh, recover;
  uint32_t cc_acc; /* congestion avoidance byte counter */
  /* RTT estimation and retransmission (RFC 6298) */
  uint32_t srtt_us, rttvar_us, rto_us; /* srtt 0: no sample yet */
  uint32_t rtt_seq;

  /* receive sequence space */
  uint32_t irs, rcv_nxt, rcv_adv, rcv_up, rcv_fin_seq;
  uint32_t rcv_unacked; /* in-order bytes received since our last ACK */
  uint32_t rcv_seg_max; /* largest data segment seen (delayed ACK) */
  /* RFC 7323 timestamps, RFC 2018 SACK */
  uint32_t ts_recent, ts_offset, last_ack_sent;
  uint32_t ts_recent_age_s; /* when TS.Recent was last set, stack clock in s (RFC 7323 5.5) */
  uint32_t pmtu_lowered_s;  /* 1 + the second the path MTU last went down, 0 never (RFC 1191 6.3) */
  union {
    uint32_t sack_high;   /* with SACK: highest sequence the peer SACKed */
    uint32_t reno_sacked; /* without: bytes duplicate ACKs credited in recovery (RFC 6937 3) */
  };
  uint32_t high_rxt;                           /* RFC 6675 HighRxt: end of the last hole resent */
  uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 PRR state */
  /* RFC 2883 D-SACK: a duplicate range to report first in the next SACK
   * option (tcp_sack.c); start == end when there is none. */
  uint32_t dsack_start, dsack_end;

  /* options */
  uint32_t keepidle_ms, keepintvl_ms, user_timeout_ms, linger_ms;

  uint32_t fast_retrans, probes, challenge_acks; /* statistics */

  uint16_t lport, rport;
  uint16_t synq_len, acceptq_len, backlog; /* listener only */
  uint16_t snd_mss;                        /* what we put in one segment */
  uint16_t peer_mss;                       /* the peer's MSS option, 536 if absent */
  uint16_t rcv_mss;                        /* what we advertised */
  uint16_t user_mss;                       /* TL_OPT_MSS clamp, 0 none */
  uint16_t pmtu;

  int8_t err;      /* error that ended the connection (TL_E*) */
  int8_t soft_err; /* last ICMP soft error (TL_E*) */
  uint8_t ev_mask; /* TL_EV_* bits gathered (tcp_events.c) */
  uint8_t state;   /* enum tl_tcp_state */
  uint8_t snd_wscale, rcv_wscale;
  uint8_t dupacks;
  uint8_t retries; /* consecutive timeouts of the current segment */
  uint8_t backoff;
  uint8_t ka_probes;  /* unanswered keepalive probes */
  uint8_t reordering; /* DupThresh learnt from spurious fast retransmits (tcp_sack.c); 0: 3 */

  unsigned user_owned : 1; /* the application holds the handle */
  unsigned listener : 1;
  unsigned in_table : 1;    /* linked in the 4-tuple table */
  unsigned active_open : 1; /* we sent the first SYN (3.10.7.4 RST in SYN-RECEIVED) */
  unsigned syn_acked : 1;   /* our SYN is acknowledged */
  unsigned fin_queued : 1;  /* the application closed its sending half */
  unsigned fin_sent : 1;
  unsigned fin_acked : 1;
  unsigned rcv_fin : 1;         /* peer's FIN accepted (rcv_nxt counts it) */
  unsigned rcv_fin_pending : 1; /* peer's FIN seen beyond a hole, at rcv_fin_seq */
  unsigned ack_now : 1;
  unsigned in_recovery : 1;      /* RFC 5681 3.2 fast recovery */
  unsigned rtt_timing : 1;       /* one segment timed at a time (Karn) */
  unsigned persist : 1;          /* t_rtx runs the persist timer */
  unsigned syn_rexmit : 1;       /* SYN was retransmitted (RFC 6298 5.7) */
  unsigned ws_ok : 1;            /* window scaling agreed (RFC 7323 2.2) */
  unsigned ts_ok : 1;            /* timestamps agreed (RFC 7323 3) */
  unsigned sack_ok : 1;          /* SACK-permitted agreed (RFC 2018 2) */
  unsigned nodelay : 1;
  unsigned keepalive : 1;
  unsigned queued_ev : 1; /* in the stack's pending-event list */
  unsigned in_queue : 2;  /* 0 none, 1 listener SYN queue, 2 accept queue */
  unsigned sndbuf_locked : 1; /* TL_OPT_SNDBUF set: no auto-tuning (tcp_buf.c) */
  unsigned rcvbuf_locked : 1;
  unsigned snd_drains : 2; /* times each ring emptied since its storage came (tcp_buf.c) */
  unsigned rcv_drains : 2;
  unsigned ss_after_rto : 1; /* slow start restarted by a timeout: ABC L = 1 SMSS */
  unsigned rescue_sent : 1;  /* RFC 6675 4 rule 4: this recovery's rescue retransmission went out */
  unsigned snd_urg : 1;      /* SND.UP is live: SND.UNA has not reached it yet */
  unsigned rcv_urg : 1;      /* RCV.UP is live: RCV.NXT has not reached it yet */
  unsigned out_owed : 1;     /* queued during a tx batch: the timer at t_delack sends it (tcp_timer.c) */
  /* Options chosen before the SYN (tcp_sockopt.c): leave timestamps, SACK or
   * window scaling out of our SYN (active) or SYN-ACK (passive). These six
   * bits fill the hole before keepcnt. */
  unsigned no_ts_offer : 1;
  unsigned no_sack_offer : 1;
  unsigned no_ws_offer : 1;
  unsigned cork : 1;            /* TL_OPT_CORK: whole segments only (Linux TCP_CORK) */
  unsigned rd_shut : 1;         /* tl_shutdown_read: input is discarded */
  unsigned notsent_blocked : 1; /* a send was refused by notsent_lowat: wake the writer below it */
  unsigned keepcnt : 8;      /* TL_OPT_KEEPCNT (1..255) */
  unsigned recovery_dupack : 1; /* TL_OPT_RECOVERY: RFC 6675 DupThresh instead of RACK-TLP */
  unsigned rtx_kind : 2;        /* what t_rtx runs when not persist: TL_RTX_* */
  unsigned quickack : 4;        /* segments still ACKed at once (tcp_rcv.c, Linux quickack) */
  unsigned no_syncookies : 1; /* listener: TL_OPT_SYNCOOKIES 0, a full SYN queue drops SYNs */
  /* TL_OPT_NOTSENT_LOWAT in KiB (0 = off): 11 bits fill the TCB's last
   * hole, so the limit costs no memory per connection. */
  unsigned notsent_lowat_kb : 11;
};

/* The loss state for reading: an empty one when none is allocated. */
extern const struct tl_sock_loss tl_sock_loss_none;
static inline const struct tl_sock_loss *tcp_loss_of(const struct tl_sock *s) {
  return s->loss ? s->loss : &tl_sock_loss_none;
}
static inline const struct tl_assembler *tcp_sacked(const struct tl_sock *s) { return &tcp_loss_of(s)->sacked; }
static inline const struct tl_assembler *tcp_ooo(const struct tl_sock *s) { return &tcp_loss_of(s)->ooo; }
/* The undo snapshot, NULL when there is no loss state. */
static inline struct tl_cc_undo *tcp_undo_of(struct tl_sock *s) { return s->loss ? &s->loss->undo : NULL; }

/* Per-stack TCP state (st->tcp). */
struct tl_tcp {
  tl_stack *st;
  struct tl_sock **buckets; /* 4-tuple table, chained */
  uint32_t nbuckets, nconns;
  uint64_t hash_salt;
  struct tl_sock *listeners[64]; /* by port */
  struct tl_sock *ev_head, *ev_tail;
  struct tl_sock *all;
  struct tl_isn_key isn_key;
  uint8_t no_ts, no_sack;  /* decline timestamps or SACK offered in a SYN (tl_tcp_accept_options) */
  /* RFC 5961 10: challenge ACK token bucket */
  uint32_t chack_tokens;
  int64_t chack_refill;
  struct tl_timer_wheel wheel; /* every connection with a timer armed (tcp_timer.c) */
  /* loss states allocated now, and how many may be (tcp_loss.c; a spec
   * lowers the limit to take the out-of-memory path) */
  uint32_t loss_live, loss_limit;
  struct tcp_peers6 peers6; /* IPv6 peers as 32-bit ids (tcp_peer6.c) */
};

static inline struct tl_tcp *tl_tcp_of(const tl_stack *st) { return st->tcp; }
static inline int tl_tcp_synchronized(int state) { return state >= TL_ESTABLISHED; }

/* tcp_table.c */
int tcp_table_init(struct tl_tcp *t);
void tcp_table_free(struct tl_tcp *t);
struct tl_sock *tcp_lookup(struct tl_tcp *t, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);
int tcp_table_insert(struct tl_tcp *t, struct tl_sock *s);
void tcp_table_remove(struct tl_tcp *t, struct tl_sock *s);
struct tl_sock *tcp_listener_find(struct tl_tcp *t, uint16_t port);
void tcp_listener_add(struct tl_tcp *t, struct tl_sock *s);
void tcp_listener_remove(struct tl_tcp *t, struct tl_sock *s);
int tcp_ephemeral_port(struct tl_tcp *t, uint32_t laddr, uint32_t raddr, uint16_t rport);

/* tcp.c: connection life cycle */
struct tl_sock *tcp_sock_new(tl_stack *st);
void tcp_sock_free(tl_stack *st, struct tl_sock *s);
/* The connection is over (state CLOSED, err recorded). An orphan is freed;
 * the caller must not touch s afterwards. */
void tcp_conn_closed(tl_stack *st, struct tl_sock *s, int err);
void tcp_set_state(tl_stack *st, struct tl_sock *s, int state);
void tcp_enter_time_wait(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_mss_update(tl_stack *st, struct tl_sock *s);
/* The most one segment may carry: a TSO super-segment when the link takes
 * them, else the MSS (tcp_output.c). */
uint32_t tcp_seg_max(const tl_stack *st, const struct tl_sock *s);
int tcp_urgent_ahead(const struct tl_sock *s, uint32_t seq);
void tcp_pmtu_age(tl_stack *st, struct tl_sock *s, int64_t now); /* tcp_icmp.c */
uint32_t tcp_data_seq0(const struct tl_sock *s);
/* RFC 7323 2.3: the smallest shift that lets the window cover the buffer. */
uint8_t tcp_wscale_for(uint32_t rcvbuf);

/* tcp_buf.c: buffer auto-tuning and retention */
void tcp_buf_init(tl_stack *st, struct tl_sock *s);
/* The largest receive buffer this socket may grow to (sets the window scale). */
uint32_t tcp_rcvbuf_ceiling(const tl_stack *st, const struct tl_sock *s);
void tcp_buf_app_read(tl_stack *st, struct tl_sock *s, uint32_t n, int64_t now);
void tcp_buf_app_blocked(tl_stack *st, struct tl_sock *s);
void tcp_buf_drained(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_buf_release_timer(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_buf_closed(struct tl_sock *s);

/* tcp_loss.c: the loss state (struct tl_sock_loss), allocated on first
 * use. Every change to the scoreboard or the out-of-order set goes through
 * here, so the state can be freed as soon as it is empty. */
/* The state, allocated if need be; NULL when out of memory (counted; the
 * connection then goes on without SACK). */
struct tl_sock_loss *tcp_loss_get(struct tl_sock *s);
/* Free the state if it holds nothing: no SACKed or out-of-order range, no
 * undo armed, and no recovery under way. */
void tcp_loss_trim(struct tl_sock *s);
void tcp_loss_free(struct tl_sock *s);
/* Scoreboard: add a SACKed range (-1: set full or no memory), move the base
 * up with SND.UNA, forget it all (RFC 6675 5.1 after a timeout). */
int tcp_sacked_add(struct tl_sock *s, uint32_t off, uint32_t len);
void tcp_sacked_advance(struct tl_sock *s, uint32_t n);
void tcp_sacked_clear(struct tl_sock *s);
/* Out-of-order set: hold [off, off+len) past RCV.NXT (-1: set full or no
 * memory); tcp_ooo_take: len in-order bytes arrived, returns how many
 * become contiguous with the held ranges they join, and moves the base. */
int tcp_ooo_add(struct tl_sock *s, uint32_t off, uint32_t len);
uint32_t tcp_ooo_take(struct tl_sock *s, uint32_t len);

/* tcp_events.c */
void tcp_event(tl_stack *st, struct tl_sock *s, uint32_t mask);
/* tcp_sockopt.c: the options tl_setopt/tl_getopt leave to it, and the
 * writable wake-up of a writer held back by notsent_lowat (unsent: bytes
 * queued and not yet sent). */
int tcp_sockopt_set(struct tl_sock *s, int opt, int64_t v);
int64_t tcp_sockopt_get(const struct tl_sock *s, int opt);
void tcp_notsent_wake(tl_stack *st, struct tl_sock *s, uint32_t unsent);
int tcp_notsent_full(struct tl_sock *s);
int tcp_notsent_ok(const struct tl_sock *s);
void tcp_event_unlink(tl_stack *st, struct tl_sock *s);

/* tcp_timer.c */
void tcp_timer_update(tl_stack *st, struct tl_sock *s);
void tcp_timer_remove(tl_stack *st, struct tl_sock *s);
void tcp_rto_arm(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_rtt_sample(tl_stack *st, struct tl_sock *s, int64_t rtt_us);
/* New data acknowledged: RTO back to the SRTT-based value (no backoff). */
void tcp_rto_progress(tl_stack *st, struct tl_sock *s);
void tcp_delack_arm(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_keep_arm(tl_stack *st, struct tl_sock *s, int64_t now);

/* tcp_output.c */
void tcp_output(tl_stack *st, struct tl_sock *s, int64_t now);
/* One segment at seq with len data bytes from the send ring (SYN/FIN flags
 * chosen from the state). */
#define TL_MIN_MSS 48 /* as Linux tcp_min_snd_mss: a floor against tiny MSS options */
/* Whether the application may still queue data (not closed for sending). */
int tcp_can_send(const struct tl_sock *s);
/* Every segment leaves through tcp_emit (tcp_output.c says how). */
void tcp_emit(tl_stack *st, const struct tl_tcp_hdr *h, uint32_t laddr, uint32_t raddr, struct tl_sock *s,
              uint32_t seq, uint32_t len);
uint32_t tcp_xmit(tl_stack *st, struct tl_sock *s, uint32_t seq, uint32_t len, int64_t now);
void tcp_send_ack(tl_stack *st, struct tl_sock *s, int64_t now);
/* <SEQ=seq><CTL=RST> from a TCB. */
void tcp_send_rst_conn(tl_stack *st, struct tl_sock *s, uint32_t seq);
/* RST in reply to a segment that has no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_reply(tl_stack *st, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h);
/* RFC 5961 challenge ACK, rate-limited per stack (RFC 5961 10). */
void tcp_challenge_ack(tl_stack *st, struct tl_sock *s, int64_t now);
/* Persist-timer action: a zero-window probe or a forced send. */
void tcp_persist_probe(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_keepalive_probe(tl_stack *st, struct tl_sock *s, int64_t now);
uint16_t tcp_rcv_window(struct tl_sock *s, int syn);

/* tcp_ack.c */
uint32_t tcp_peer_window(const struct tl_sock *s, const struct tl_tcp_hdr *h);
void tcp_update_window(struct tl_sock *s, const struct tl_tcp_hdr *h);
void tcp_established(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_ack_new(tl_stack *st, struct tl_sock *s, uint32_t ack, uint32_t tsecr, int64_t now);
/* Step five. Returns 1 if the segment was consumed or the connection is gone. */
int tcp_process_ack(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, const struct tl_tcp_hdr *h,
                    int64_t now);

/* tcp_sack.c: RFC 6675 scoreboard and recovery */
/* Merge the ACK's SACK blocks into the scoreboard; returns the bytes newly
 * SACKed (0 for a D-SACK, RFC 2883, or a repeat). */
uint32_t tcp_sack_record(struct tl_sock *s, const struct tl_tcp_hdr *h);
uint32_t tcp_sack_pipe(const struct tl_sock *s);
uint32_t tcp_recovery_pipe(const struct tl_sock *s);
void tcp_prr_enter(struct tl_sock *s);
uint32_t tcp_reno_delivered(struct tl_sock *s, uint32_t acked, int dupack);
/* RFC 2883 4: remember [start, end) as a duplicate arrival for the next ACK. */
void tcp_dsack_note(struct tl_sock *s, uint32_t start, uint32_t end);
/* The SACK blocks of an outgoing segment carrying `len` data bytes (RFC
 * 2018 4, a pending D-SACK first); none if there is nothing to report. */
void tcp_sack_options(struct tl_sock *s, struct tl_tcp_opts *o, uint32_t len);
void tcp_sack_rexmit(tl_stack *st, struct tl_sock *s, int64_t now);
int tcp_sack_loss_detected(const struct tl_sock *s);
/* DupThresh for this connection, with or without SACK: 3, or the
 * reordering depth learnt from undone fast retransmits (RFC 6675 2). */
uint32_t tcp_dupthresh(const struct tl_sock *s);
/* RFC 6937 (PRR-SSRB): cwnd for this ACK of SACK recovery, from the bytes
 * it delivered. */
void tcp_prr_ack(struct tl_sock *s, uint32_t delivered);

/* tcp_rack.c: RACK-TLP (RFC 8985) */
enum { TL_RTX_RTO = 0, TL_RTX_PTO = 1, TL_RTX_REO = 2 };
/* RACK-TLP is in charge: SACK agreed and TL_OPT_RECOVERY not set to dupack. */
int tcp_rack_active(const struct tl_sock *s);
/* Every data range [seq, seq+used) as it leaves (tcp_output.c xmit). */
void tcp_rack_on_xmit(struct tl_sock *s, uint32_t seq, uint32_t used, int64_t now);
/* After an ACK's SACK blocks and cumulative ACK are taken: delivery, loss
 * marking, recovery entry. Returns 2 if recovery began, 1 else, 0 no log. */
int tcp_rack_ack(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, uint32_t una_before, int was_recovering,
                 int64_t now);
void tcp_rack_dsack(struct tl_sock *s);
void tcp_rack_rexmit(tl_stack *st, struct tl_sock *s, int64_t now);
uint32_t tcp_rack_pipe(const struct tl_sock *s);
/* Choose the t_rtx deadline after an ACK or a send: REO, PTO or RTO. */
void tcp_rack_timer(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_rack_timer_fire(tl_stack *st, struct tl_sock *s, int64_t now);
void tcp_rack_on_rto(struct tl_sock *s);
void tcp_rack_idle(struct tl_sock *s);
void tcp_rack_free(struct tl_sock *s);
/* Fast recovery begins (RFC 6675 5 step 4 / RFC 6582 / RFC 6937 init),
 * whichever detection found the loss (tcp_ack.c). */
void tcp_recovery_enter(tl_stack *st, struct tl_sock *s, int64_t now);

/* tcp_rcv.c: steps six to eight. Returns 1 if the connection is gone. */
int tcp_process_text_fin(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h, int64_t now);

/* tcp_input.c */
/* MSS, window scale, timestamps and SACK-permitted from the peer's SYN. */
void tcp_take_syn_options(tl_stack *st, struct tl_sock *s, const struct tl_tcp_hdr *h);
void tcp_segment_arrives(tl_stack *st, struct tl_sock *s, const struct tl_ip_meta *ip, struct tl_tcp_hdr *h,
                         int64_t now);

/* tcp_listen.c */
void tcp_listen_input(tl_stack *st, struct tl_sock *l, const struct tl_ip_meta *ip,
                      const struct tl_tcp_hdr *h, int64_t now);
/* A SYN-RECEIVED child completed the handshake: move to the accept queue.
 * Returns -1 if the accept queue is full (the ACK is then dropped). */
int tcp_listen_established(tl_stack *st, struct tl_sock *s);
void tcp_listen_unlink(struct tl_sock *s);
void tcp_listen_close(tl_stack *st, struct tl_sock *l, int64_t now);
#endif
