/* TCP support pieces exported to the FFI for specs and the fuzzer: the TCP
 * header codec (tcp_wire.h), the byte ring (ring.h), the out-of-order range
 * set (assembler.h), RFC 6528 ISNs (isn.h) and sequence arithmetic (seq.h).
 * The struct definitions live here, once; the C headers include this file
 * through tcplua.h. Read verbatim by ffi.cdef: no preprocessor lines, no
 * macros, no inline functions. */

/* ---- TCP header codec (RFC 9293 3.1, 3.2; RFC 7323; RFC 2018) ----------- */
enum tl_tcp_flag_bits {
  TL_TH_FIN = 0x01, TL_TH_SYN = 0x02, TL_TH_RST = 0x04, TL_TH_PSH = 0x08,
  TL_TH_ACK = 0x10, TL_TH_URG = 0x20, TL_TH_ECE = 0x40, TL_TH_CWR = 0x80
};

struct tl_tcp_opts {
  uint16_t mss;           /* 0 if absent */
  uint8_t has_mss;
  uint8_t has_wscale, wscale;
  uint8_t sack_ok;
  uint8_t has_ts;
  uint32_t ts_val, ts_ecr;
  uint8_t sack_n;         /* SACK blocks received (RFC 2018), up to 4 */
  uint32_t sack[4][2];    /* [left, right) edges */
  uint8_t unknown;        /* options skipped: unknown kinds, and known kinds
                             with a length that does not fit them */
};

struct tl_tcp_hdr {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t off;            /* header length in bytes */
  uint8_t flags;
  uint16_t win, csum, urg;
  struct tl_tcp_opts opt;
  const uint8_t *data;    /* payload */
  uint32_t len;           /* payload length */
};

enum tl_tcp_parse_err {
  TL_TCP_OK = 0,
  TL_TCP_ESHORT = -1,     /* shorter than 20 bytes */
  TL_TCP_EOFF = -2,       /* data offset < 5 or beyond the segment */
  TL_TCP_EOPT = -3,       /* malformed option (bad length) */
  TL_TCP_ECSUM = -4       /* checksum mismatch */
};

/* Parse and verify the checksum against the pseudo-header (addresses in host
 * order). Returns TL_TCP_OK or a tl_tcp_parse_err. */
int tl_tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst, struct tl_tcp_hdr *h);
/* Same without checksum verification (already checked, or offloaded). */
int tl_tcp_parse_nocsum(const uint8_t *seg, size_t len, struct tl_tcp_hdr *h);
/* Parse only the options area. */
int tl_tcp_parse_opts(const uint8_t *p, size_t len, struct tl_tcp_opts *o);
/* Bytes of options tl_tcp_build writes for this header (a multiple of 4). */
size_t tl_tcp_opts_len(const struct tl_tcp_hdr *h);
/* Write header + options (from h->opt: MSS/WS/SACK-OK only with SYN, TS if
 * has_ts, SACK blocks if sack_n, as many as fit in 40 bytes) into buf;
 * returns the header length. The checksum field is left 0: call
 * tl_tcp_checksum after the payload is in place. */
size_t tl_tcp_build(uint8_t *buf, const struct tl_tcp_hdr *h);
/* Compute and store the checksum of the segment at seg (header+data). */
void tl_tcp_checksum(uint8_t *seg, size_t len, uint32_t src, uint32_t dst);
/* tcpdump-style flag string ("S.", "F.", "R", "P.", "." ; "none" for no
 * flags) into out[8]: at most 7 characters, so with all eight flags set the
 * last (CWR, "W") is left off. tl_tcp_flags_fmt takes any buffer size;
 * both return out. */
const char *tl_tcp_flags_str(uint8_t flags, char out[8]);
const char *tl_tcp_flags_fmt(uint8_t flags, char *out, size_t cap);
const char *tl_tcp_strerror(int err);

/* ---- byte ring (ring.h) -------------------------------------------------- */
struct tl_ring {
  uint8_t *buf;      /* NULL while empty */
  uint32_t cap;      /* capacity (bytes): what the ring may hold, the window */
  uint32_t size;     /* bytes of storage allocated (<= cap), 0 without */
  uint32_t head;     /* offset of the first byte in the storage */
  uint32_t len;      /* bytes held */
  uint32_t ahead;    /* bytes past the end touched by write_at, not yet
                        committed: storage is kept while this is nonzero */
  uint32_t keep;     /* nonzero: keep the storage when the ring drains (the
                        owner frees it with tl_ring_free when idle) */
  struct tl_ring_ext *ext; /* NULL unless the ring holds borrowed bytes
                        (tl_ring_write_ref): then the held bytes are a
                        list of pieces, some in the storage, some the
                        writer's own memory */
};

void tl_ring_init(struct tl_ring *r, uint32_t cap);
void tl_ring_free(struct tl_ring *r);
int tl_ring_resize(struct tl_ring *r, uint32_t cap);
uint32_t tl_ring_write(struct tl_ring *r, const uint8_t *data, uint32_t len);
int tl_ring_write_at(struct tl_ring *r, uint32_t off, const uint8_t *data, uint32_t len);
void tl_ring_commit(struct tl_ring *r, uint32_t n);
/* Forget bytes written with write_at and never committed (releases the
 * storage if nothing is held). */
void tl_ring_forget_ahead(struct tl_ring *r);
uint32_t tl_ring_peek(const struct tl_ring *r, uint32_t off, uint8_t *out, uint32_t n);
void tl_ring_drop(struct tl_ring *r, uint32_t n);
uint32_t tl_ring_read(struct tl_ring *r, uint8_t *out, uint32_t n);
long tl_ring_find(const struct tl_ring *r, uint8_t c);
int tl_ring_spans(const struct tl_ring *r, uint32_t off, uint32_t n, const uint8_t **p1, uint32_t *n1,
                  const uint8_t **p2, uint32_t *n2);
/* Zero-copy writes (send rings only). tl_ring_write_ref appends up to len
 * bytes by reference: the ring reads them from data until they are dropped
 * or tl_ring_own_all copies them in, so the writer keeps them unchanged
 * till then. Returns bytes taken (0 if the piece list cannot grow).
 * tl_ring_iov fills iov[0..max) with spans covering held bytes
 * [off, off+n) (clamped) and returns the count, or -1 if they need more
 * than max spans. tl_ring_own_all copies every borrowed byte into the
 * storage (0, or -1 if it cannot allocate; the ring is unchanged then).
 * write_at, commit and spans are for rings without borrowed bytes. */
uint32_t tl_ring_write_ref(struct tl_ring *r, const uint8_t *data, uint32_t len);
int tl_ring_iov(const struct tl_ring *r, uint32_t off, uint32_t n, tl_iov *iov, int max);
int tl_ring_own_all(struct tl_ring *r);
/* Bytes of the ring's piece list (memory accounting), 0 without one. */
uint32_t tl_ring_ext_bytes(const struct tl_ring *r);
/* Non-inline tl_ring_space for the FFI. */
uint32_t tl_ring_space_x(const struct tl_ring *r);
/* Storage starts at TL_RING_MIN_ALLOC bytes (or the capacity, if smaller)
 * and doubles, up to the capacity, when more must be held. */
enum { TL_RING_MIN_ALLOC = 4096 };

/* ---- out-of-order range set (assembler.h) -------------------------------- */
/* 64 ranges: a window of a few MB under 1 % random loss has tens of holes,
 * and both the receiver's out-of-order set and the sender's SACK scoreboard
 * must hold them all (with 8, the 9th hole's data was dropped and resent,
 * and the scoreboard forgot SACKed ranges). 513 bytes each, in the loss
 * state that exists only during an episode. */
enum { TL_ASM_MAX = 64 };

struct tl_asm_range {
  uint32_t start, end;   /* [start, end) relative to the current base */
};

struct tl_assembler {
  struct tl_asm_range r[TL_ASM_MAX];
  uint8_t n;             /* ranges held, sorted, non-overlapping, non-adjacent */
};

void tl_asm_init(struct tl_assembler *a);
int tl_asm_add(struct tl_assembler *a, uint32_t off, uint32_t len);
uint32_t tl_asm_front(const struct tl_assembler *a);
void tl_asm_advance(struct tl_assembler *a, uint32_t n);
uint32_t tl_asm_bytes(const struct tl_assembler *a);
uint32_t tl_asm_highest(const struct tl_assembler *a);

/* ---- RFC 6528 initial sequence numbers (isn.h) --------------------------- */
struct tl_isn_key {
  uint8_t k[16];
};

/* random != 0: key from libsodium's randombytes_buf; else derived from seed
 * (simulations stay deterministic). Returns 0, or -1 if libsodium could not
 * initialise (the key is then derived from the seed). */
int tl_isn_key_init(struct tl_isn_key *key, uint64_t seed, int random);
uint32_t tl_isn(const struct tl_isn_key *key, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                int64_t now_us);

/* ---- sequence arithmetic (seq.h), non-inline copies for the FFI ---------- */
int32_t tl_seq_diff_x(uint32_t a, uint32_t b);
int tl_seq_lt_x(uint32_t a, uint32_t b);
int tl_seq_leq_x(uint32_t a, uint32_t b);
int tl_seq_gt_x(uint32_t a, uint32_t b);
int tl_seq_geq_x(uint32_t a, uint32_t b);
int tl_seq_in_x(uint32_t x, uint32_t lo, uint32_t hi);
uint32_t tl_seq_max_x(uint32_t a, uint32_t b);
uint32_t tl_seq_min_x(uint32_t a, uint32_t b);
