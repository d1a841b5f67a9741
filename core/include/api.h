#ifndef TL_API_H
#define TL_API_H
/* The public C API of the tcplua core.
 *
 * The FFI declarations are generated from this file and its siblings
 * (tcplua.h says how): constants Lua reads by name are enums, and nothing
 * here needs a system header (tcplua.h includes <stdint.h>/<stddef.h>).
 *
 * Conventions: addresses are IPv4 in host byte order; times are int64_t
 * microseconds on a clock the caller chooses (the core never reads a clock);
 * functions returning int give 0 (or a count) on success and a negative
 * tl_err on failure. */

typedef struct tl_stack tl_stack;
typedef struct tl_sock tl_sock;
typedef struct tl_impair tl_impair;
typedef struct tl_sim tl_sim;

/* Called by the stack for every IPv4 datagram it emits. The bytes are only
 * valid during the call. Return 0, or <0 if the link dropped it. */
typedef int (*tl_output_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* One piece of an outgoing datagram handed to a tl_output_vec_fn. */
typedef struct tl_iov {
  const uint8_t *base;
  size_t len;
} tl_iov;

/* Bytes in front of iov[0] that a tl_output_vec_fn may overwrite, and the
 * most payload pieces that follow iov[0] (a TSO super-segment whose bytes
 * lie in more pieces of the send buffer is copied instead). */
enum { TL_OUT_HEADROOM = 16, TL_OUT_IOV_MAX = 16 };

/* Optional scatter output (tl_stack_set_output_vec): the datagram is the
 * concatenation of iov[0..n-1], len bytes in all, valid only during the
 * call. iov[0] starts with the IP header and holds at least the whole IP
 * and TCP header; it lies in the stack's own buffer, and the
 * TL_OUT_HEADROOM bytes before iov[0].base are the link's to write (room
 * for its own header, so that one write() carries both). The further
 * pieces are socket buffer spans, sent without a copy. The bytes must go
 * on the wire exactly as tl_output_fn would send their concatenation. */
typedef int (*tl_output_vec_fn)(void *ctx, const tl_iov *iov, int n, size_t len);

enum tl_err {
  TL_OK = 0,
  TL_EAGAIN = -1,      /* nothing now; wait for an event */
  TL_ECLOSED = -2,     /* connection closed (or peer sent FIN, for reads) */
  TL_ERESET = -3,      /* peer reset the connection */
  TL_ETIMEOUT = -4,    /* retransmission or connect timeout */
  TL_EREFUSED = -5,    /* RST in answer to our SYN */
  TL_EUNREACH = -6,    /* ICMP unreachable (hard error) */
  TL_EINVAL = -7,      /* bad argument */
  TL_EADDRINUSE = -8,  /* port already listening / 4-tuple taken */
  TL_ENOMEM = -9,      /* allocation failed or a configured cap was hit */
  TL_ENOTCONN = -10,   /* not in a state where this makes sense */
  TL_EABORTED = -11    /* aborted locally */
};

/* The stack's options: one field per row of config.def, which gives each
 * its default, range and meaning (docs/config.md is made from it). */
typedef struct tl_config {
#define TL_CFG(type, name, def, min, max, doc) type name;
#include "config.def"
#undef TL_CFG
} tl_config;

void tl_config_default(tl_config *cfg);
/* One option as config.def describes it. */
typedef struct tl_config_field {
  const char *name, *type, *doc;
  uint64_t def, min, max;
  size_t offset; /* in tl_config */
  uint8_t size;  /* bytes */
} tl_config_field;
/* The options in declaration order: i in [0, tl_config_fields()). */
int tl_config_fields(void);
const tl_config_field *tl_config_field_at(int i);
/* -1 when every option is within its range, else the index of the first
 * that is not (tl_stack_new refuses such a config). */
int tl_config_check(const tl_config *cfg);

/* ---- the stack: sans-I/O ------------------------------------------------ */
tl_stack *tl_stack_new(const tl_config *cfg, tl_output_fn out, void *ctx);
void tl_stack_free(tl_stack *st);
const tl_config *tl_stack_config(const tl_stack *st);
/* Feed one IPv4 datagram received from the link. Never fails: bad input is
 * counted under a named drop counter and discarded. */
void tl_stack_input(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now);
/* Facts about one received datagram that the link knows, passed with it. */
enum tl_rx_flags {
  /* The link vouched for a TCP checksum it left partial (a GRO'd segment
   * from the local kernel, virtio NEEDS_CSUM): TCP takes it unverified. */
  TL_RX_CSUM_PARTIAL = 1,
  /* A gateway datagram that came in on side b (api_fwd.h): the boundary
   * picks that side's impairment, and the forwarder knows where it came from. */
  TL_RX_SIDE_B = 2
};
/* tl_stack_input with TL_RX_* flags about this datagram. */
void tl_stack_input_flags(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now, unsigned flags);
/* What the host is doing until the next tl_stack_batch call (a mask; 0
 * ends both):
 *  TL_BATCH_RX: feeding datagrams read in one wake-up. ACKs owed for every
 *    second segment wait for the next tl_stack_poll, so a batch costs one
 *    ACK per connection.
 *  TL_BATCH_TX: running the application. Data it queues with tl_send on a
 *    connection with a whole TSO super-segment in flight waits for the next
 *    tl_stack_poll, which sends all of it at once, so successive writes
 *    fill whole super-segments (an autocork at the application's step).
 *    Other connections, and urgent data, are sent at once. */
enum tl_batch { TL_BATCH_RX = 1, TL_BATCH_TX = 2 };
void tl_stack_batch(tl_stack *st, int mask);
/* Run timers due at `now`. Returns the next deadline, or -1 if none. */
int64_t tl_stack_poll(tl_stack *st, int64_t now);
/* The next deadline without running anything (-1 if none). */
int64_t tl_stack_deadline(const tl_stack *st);
/* Registers (or, with NULL, removes) a scatter output. The stack then
 * emits through it every datagram it builds in its own buffer, and sends a
 * TSO super-segment (tl_config.tso_max) as its headers plus up to two spans
 * of the send ring, with no payload copy. Whenever something at the link
 * boundary needs each datagram whole (segment hooks, pcap, impairment:
 * api_hook.h), and for IP fragments, it uses the tl_output_fn instead. */
void tl_stack_set_output_vec(tl_stack *st, tl_output_vec_fn outv, void *ctx);

/* Counters: every drop reason and every notable event has a name. */
int tl_stats_count(void);
const char *tl_stats_name(int i);
uint64_t tl_stats_get(const tl_stack *st, int i);

const char *tl_version(void);
const char *tl_strerror(int err);

/* ---- checksums (RFC 1071, RFC 1624), exported for specs ------------------ */
uint16_t tl_csum(const void *data, size_t len);             /* folded, complemented */
uint32_t tl_csum_partial(const void *data, size_t len, uint32_t sum);
uint16_t tl_csum_fold(uint32_t sum);                        /* fold + complement */
uint16_t tl_csum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word); /* RFC 1624 eq. 3 */

/* ---- TCP sockets --------------------------------------------------------- */
/* Socket events, ORed into a mask; delivered through tl_next_event. */
enum tl_event_bits {
  TL_EV_READABLE = 1,   /* data, FIN or error to read */
  TL_EV_WRITABLE = 2,   /* send buffer space available */
  TL_EV_CONNECTED = 4,  /* active open completed */
  TL_EV_ACCEPT = 8,     /* a listener has a connection to accept */
  TL_EV_CLOSED = 16,    /* connection ended (error in tl_sock_error) */
  TL_EV_SENT = 32       /* all sent data acknowledged (for close/linger) */
};

typedef struct tl_event {
  tl_sock *sock;
  uint64_t user;        /* the value given to tl_sock_set_user */
  uint32_t mask;
} tl_event;

/* Pops the next socket with pending events; returns 0 if none is left. */
int tl_next_event(tl_stack *st, tl_event *ev);
/* Nonzero if some socket has events waiting for tl_next_event. */
int tl_stack_pending_events(const tl_stack *st);

enum tl_opt {
  TL_OPT_NODELAY = 1,      /* disable Nagle */
  TL_OPT_SNDBUF = 2,
  TL_OPT_RCVBUF = 3,
  TL_OPT_KEEPALIVE = 4,    /* 0/1 */
  TL_OPT_KEEPIDLE_MS = 5,
  TL_OPT_KEEPINTVL_MS = 6,
  TL_OPT_KEEPCNT = 7,
  TL_OPT_BACKLOG = 8,      /* listeners */
  TL_OPT_MSS = 9,          /* clamp our advertised and used MSS */
  TL_OPT_LINGER_MS = 10,
  TL_OPT_USER_TIMEOUT_MS = 11,
  TL_OPT_CONGESTION = 12,  /* 0 Reno (RFC 5681), 1 NewReno (RFC 6582), 2 CUBIC (RFC 9438), 3 BBR v1 (draft-cardwell-iccrg-bbr-congestion-control-00); default: the tcp_cc option */
  TL_OPT_RECOVERY = 13,    /* loss detection with SACK: 0 RACK-TLP (RFC 8985, default), 1 DupThresh (RFC 6675) */
  TL_OPT_SYNCOOKIES = 14,  /* listeners: 1 SYN cookies while the SYN queue is full (RFC 4987 3.6), 0 drop */
  /* Which options the handshake offers (default 1): set before tl_connect_sock
   * (or on a listener, for its children); 0 leaves the option out. */
  TL_OPT_TIMESTAMPS = 20,  /* RFC 7323 3 */
  TL_OPT_SACK = 21,        /* RFC 2018 2 SACK-permitted */
  TL_OPT_WSCALE = 22,      /* RFC 7323 2: 0 = no window scaling (windows up to 64 KB) */
  TL_OPT_CORK = 23,        /* 1: send only full segments until cleared (Linux TCP_CORK) */
  TL_OPT_NOTSENT_LOWAT = 24 /* bytes (kept in whole KiB, rounded up; at most 2047 KiB): sends
                               are refused, and TL_EV_WRITABLE withheld, while this many or
                               more are queued but not yet sent (0 = off) */
};

/* Passive open. Returns the listener or NULL; *err gets the reason. */
tl_sock *tl_listen(tl_stack *st, uint16_t port, int backlog, int *err);
/* Next established connection from the accept queue, or NULL. */
tl_sock *tl_accept(tl_sock *listener);
/* Active open: sends the SYN now. sport 0 picks an ephemeral port
 * (RFC 6056). Completion is reported with TL_EV_CONNECTED or TL_EV_CLOSED. */
tl_sock *tl_connect(tl_stack *st, uint32_t daddr, uint16_t dport, uint16_t sport, int64_t now, int *err);
/* The same in two steps, so options can be set before the SYN (MSS, buffer
 * sizes and so window scale, timestamps, SACK, congestion control...):
 * tl_socket makes an unconnected socket (state CLOSED; NULL without
 * memory); tl_connect_sock sends its SYN and returns 0 or a negative
 * tl_err (the socket stays unconnected and may be retried or closed). */
tl_sock *tl_socket(tl_stack *st);
int tl_connect_sock(tl_sock *s, uint32_t daddr, uint16_t dport, uint16_t sport, int64_t now);
/* The same to an IPv6 address (16 bytes, network order); an IPv4-mapped
 * one (::ffff:a.b.c.d) connects over IPv4. TL_EINVAL while IPv6 is off. */
tl_sock *tl_connect6(tl_stack *st, const uint8_t *daddr, uint16_t dport, uint16_t sport, int64_t now, int *err);
int tl_connect_sock6(tl_sock *s, const uint8_t *daddr, uint16_t dport, uint16_t sport, int64_t now);

/* Queue data; returns bytes taken (maybe fewer than len, 0 when the buffer
 * is full) or a negative tl_err. */
long tl_send(tl_sock *s, const uint8_t *data, size_t len, int64_t now);
/* As tl_send, and marks what it queued urgent: SND.UP moves to the end of
 * it and segments carry URG until the peer acknowledges it (RFC 9293 3.8.5,
 * 3.10.2; data stays inline, RFC 6093). */
long tl_send_urgent(tl_sock *s, const uint8_t *data, size_t len, int64_t now);
/* As tl_send, without a copy: the stack reads the bytes from data until
 * the peer has acknowledged them (tl_sock_snd_acked passes the value
 * tl_sock_snd_queued had after this call) or until tl_close, which copies
 * what is still unacknowledged. The caller keeps them unchanged till then.
 * TSO super-segments then reach the link as scatter lists of the caller's
 * memory. tl_abort and a reset drop the bytes at once. Without memory
 * for the piece list it copies instead (the caller cannot tell: it keeps
 * the bytes the same way either way). */
long tl_send_ref(tl_sock *s, const uint8_t *data, size_t len, int64_t now);
/* Data bytes ever queued on the socket, and acknowledged by the peer (both
 * count from 0 at the socket's creation). */
uint64_t tl_sock_snd_queued(const tl_sock *s);
uint64_t tl_sock_snd_acked(const tl_sock *s);
/* Copy out received data; returns bytes (>0), TL_EAGAIN when nothing yet,
 * TL_ECLOSED after the peer's FIN has been read past, or another tl_err. */
long tl_recv(tl_sock *s, uint8_t *buf, size_t cap, int64_t now);
/* Bytes readable now without blocking. */
size_t tl_readable(const tl_sock *s);
/* Find the first occurrence of byte c among the readable bytes: its offset,
 * or -1. Lets a line reader avoid copying data it cannot use yet. */
long tl_find_byte(const tl_sock *s, uint8_t c);
/* MSG_PEEK: copies up to cap readable bytes from offset off on without
 * consuming them; returns bytes (>0), or what tl_recv would return when
 * fewer than off+1 are readable (TL_EAGAIN, TL_ECLOSED, another tl_err). */
long tl_peek(const tl_sock *s, size_t off, uint8_t *buf, size_t cap);
/* Offset of the first occurrence of pat (1 to TL_FIND_MAX bytes) among the
 * readable bytes at or after offset from, -1 if none, TL_EINVAL for a bad
 * pattern. */
enum { TL_FIND_MAX = 1024 };
long tl_find(const tl_sock *s, const uint8_t *pat, size_t len, size_t from);
size_t tl_writable(const tl_sock *s);
/* Half-close: FIN after the queued data (RFC 9293 3.10.4). */
int tl_shutdown(tl_sock *s, int64_t now);
/* SHUT_RD: the application reads no more. What is readable is dropped,
 * tl_readable says 0 and tl_recv discards whatever arrives later (still
 * acknowledged, so the peer is not stalled) and returns TL_ECLOSED. TCP
 * has no way to tell the peer (RFC 9293 3.10.4 closes only the send side). */
int tl_shutdown_read(tl_sock *s, int64_t now);
/* Graceful close and release of the handle; the stack finishes the
 * connection and frees it. For a listener, resets queued connections. */
void tl_close(tl_sock *s, int64_t now);
/* Abort (RFC 9293 3.10.5): RST if synchronized; releases the handle. */
void tl_abort(tl_sock *s, int64_t now);

int tl_setopt(tl_sock *s, int opt, int64_t value);
int64_t tl_getopt(const tl_sock *s, int opt);
void tl_sock_set_user(tl_sock *s, uint64_t user);
uint64_t tl_sock_user(const tl_sock *s);
/* The error that ended the connection (tl_err), 0 if none. */
int tl_sock_error(const tl_sock *s);
int tl_sock_state(const tl_sock *s);   /* enum tl_tcp_state */
int tl_sock_is_listener(const tl_sock *s);
void tl_sock_addrs(const tl_sock *s, uint32_t *laddr, uint16_t *lport, uint32_t *raddr, uint16_t *rport);
/* 6 for a connection over IPv6 (then laddr/raddr, 16 bytes each, get its
 * addresses; tl_sock_addrs' are internal ids), 4 otherwise. */
int tl_sock_family(const tl_sock *s, uint8_t *laddr, uint8_t *raddr);

enum tl_tcp_state {
  TL_CLOSED = 0, TL_LISTEN, TL_SYN_SENT, TL_SYN_RECEIVED, TL_ESTABLISHED,
  TL_FIN_WAIT_1, TL_FIN_WAIT_2, TL_CLOSE_WAIT, TL_CLOSING, TL_LAST_ACK,
  TL_TIME_WAIT
};
const char *tl_state_name(int state);

/* Field names follow Linux tcp_info / ss -ti where they apply. Times in us. */
typedef struct tl_tcp_info {
  int32_t state;
  uint32_t snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2, iss;
  uint32_t rcv_nxt, rcv_wnd, irs;
  uint32_t snd_mss, rcv_mss;
  uint32_t cwnd, ssthresh;          /* bytes */
  uint32_t srtt_us, rttvar_us, rto_us;
  uint32_t retransmits;             /* consecutive, current */
  uint32_t backoff;
  uint64_t total_retrans;
  uint64_t bytes_sent, bytes_retrans, bytes_acked, bytes_received;
  uint64_t segs_in, segs_out, data_segs_in, data_segs_out;
  uint32_t unacked;                 /* bytes in flight */
  uint32_t sndbuf, sndbuf_used, rcvbuf, rcvbuf_used;
  uint32_t ooo_bytes;
  uint32_t dupacks, fast_retrans;
  uint32_t probes;                  /* zero-window or keepalive probes sent */
  uint32_t challenge_acks;
  uint32_t pmtu;
  uint32_t nodelay, keepalive;
  int32_t last_error;               /* soft error (ICMP) or final error */
  uint32_t snd_up;                  /* end of the urgent data sent, snd_una when none pending */
  uint32_t rcv_up;                  /* end of the urgent data the peer marked (RFC 6093), rcv_nxt if none */
} tl_tcp_info;

int tl_sock_info(const tl_sock *s, tl_tcp_info *info);

/* ---- impairment: a seeded drop/delay/reorder/dup wrapper for any link ---- */
typedef struct tl_impair_config {
  double loss;          /* probability 0..1 */
  double duplicate;
  double reorder;       /* probability a packet is held back behind later ones */
  double corrupt;       /* flip one bit */
  uint32_t delay_us;    /* fixed one-way delay */
  uint32_t jitter_us;   /* uniform +- jitter */
  uint32_t reorder_gap; /* held packet goes out after this many others (default 3) */
  uint64_t rate_bps;    /* 0 = unlimited: serialisation delay per packet */
  uint32_t queue_max;   /* packets held at most (default 4096); beyond: dropped */
  uint32_t size_limit;  /* 0 = none: larger datagrams vanish (an MTU black hole) */
  /* netem's other knobs (docs/fault-injection.md, "netem"); zero = off. */
  double loss_corr;      /* correlation 0..1 of successive loss / duplicate / corrupt / reorder */
  double duplicate_corr; /* events: the rate stays p, lag-1 correlation of the events is corr */
  double corrupt_corr;
  double reorder_corr;
  double delay_corr;          /* rank correlation of successive jitter draws */
  uint32_t delay_dist;        /* tl_impair_dist of the jitter */
  uint32_t loss_model;        /* tl_impair_loss_model; TL_LOSS_RANDOM uses `loss` */
  double loss_p[5];           /* STATE: p13 p31 p32 p23 p14; GEMODEL: p r 1-h 1-k */
  int32_t rate_overhead;      /* bytes added to each packet's length for the rate (may be < 0) */
  uint32_t rate_cell;         /* cell size: length rounded up to whole cells, 0 = none */
  int32_t rate_cell_overhead; /* bytes added to each cell */
  uint32_t slot_min_us;       /* slot pacing: the next slot opens min..max us later; */
  uint32_t slot_max_us;       /* with slot_dist, slot_min_us is the mean, slot_jitter_us the spread */
  uint32_t slot_dist;         /* tl_impair_dist, 0 = uniform in [min, max) */
  uint32_t slot_jitter_us;
  uint32_t slot_packets; /* packets per slot, 0 = no limit */
  uint32_t slot_bytes;   /* bytes per slot, 0 = no limit */
} tl_impair_config;

enum tl_impair_dist { TL_DIST_UNIFORM, TL_DIST_NORMAL, TL_DIST_PARETO, TL_DIST_PARETONORMAL };
enum tl_impair_loss_model { TL_LOSS_RANDOM, TL_LOSS_STATE, TL_LOSS_GEMODEL };

/* deliver(ctx, pkt, len) is called when a packet leaves the impairment. */
tl_impair *tl_impair_new(const tl_impair_config *cfg, uint64_t seed, tl_output_fn deliver, void *ctx);
void tl_impair_free(tl_impair *im);
void tl_impair_set(tl_impair *im, const tl_impair_config *cfg);
/* Offer a packet at time now: it is dropped, delivered now, or queued. */
void tl_impair_push(tl_impair *im, const uint8_t *pkt, size_t len, int64_t now);
/* Deliver what is due; returns the next deadline or -1. */
int64_t tl_impair_poll(tl_impair *im, int64_t now);
/* 0 in, 1 out, 2 lost, 3 dup, 4 reordered, 5 corrupted, 6 overflow, 7 oversize, 8 slots drawn */
uint64_t tl_impair_count(const tl_impair *im, int which);
/* Sets what a tc-netem(8) argument line names, e.g. "delay 100ms 10ms 25%
 * distribution normal loss state 1% 30% rate 1mbit 20 slot 10ms 20ms packets
 * 4" (core/link/impair_parse.c; docs/fault-injection.md lists the words).
 * Fields it does not name are left alone. 0, or -1 with cfg untouched and
 * what was wrong in err. */
int tl_impair_parse(tl_impair_config *cfg, const char *netem, char *err, size_t errlen);

/* ---- sim: stacks joined by in-memory links under a virtual clock -------- */
/* A sim holds up to 8 endpoints. An endpoint is a stack (attached) or a raw
 * endpoint (packets addressed to it queue up for the test to read). Each
 * directed pair of endpoints has a base one-way latency plus impairment. */
tl_sim *tl_sim_new(uint64_t seed, uint32_t latency_us);
void tl_sim_free(tl_sim *sim);
/* Creates a stack on the sim; returns its endpoint index (>=0) or <0. */
int tl_sim_add_stack(tl_sim *sim, const tl_config *cfg);
tl_stack *tl_sim_stack(tl_sim *sim, int ep);
/* A raw endpoint owns an address; what is routed to it is queued. */
int tl_sim_add_raw(tl_sim *sim, uint32_t addr);
/* Impairment applied to packets sent by endpoint `from` (-1: all). */
void tl_sim_impair(tl_sim *sim, int from, const tl_impair_config *cfg);
/* Send a datagram from endpoint `from` (e.g. a raw endpoint's forged packet). */
void tl_sim_send(tl_sim *sim, int from, const uint8_t *pkt, size_t len);
/* Pop a datagram queued for a raw endpoint: its length, or 0. */
size_t tl_sim_recv_raw(tl_sim *sim, int ep, uint8_t *buf, size_t cap);
int64_t tl_sim_now(const tl_sim *sim);
/* Advance virtual time, delivering packets and running stack timers, until
 * `until`, or earlier as soon as some stack has socket events pending or a
 * raw endpoint has a packet. Returns 1 if it stopped early for events, 0
 * if it reached `until`. */
int tl_sim_run(tl_sim *sim, int64_t until);
uint64_t tl_sim_delivered(const tl_sim *sim);
#endif
