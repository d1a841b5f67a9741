#ifndef TL_API_PCAP_H
#define TL_API_PCAP_H
/* pcapng capture writer, shared by the binary (--pcap FILE) and Lua (ffi).
 * The FFI declarations are generated from it (tcplua.h). C code includes it through pcap.h. */

typedef struct tl_pcap tl_pcap;

/* Direction of a recorded packet (pcapng epb_flags bits 0-1). */
enum tl_pcap_dir {
  TL_PCAP_DIR_UNKNOWN = 0,
  TL_PCAP_DIR_IN = 1,    /* link -> stack */
  TL_PCAP_DIR_OUT = 2    /* stack -> link */
};

/* Creates (truncates) path and writes the section header and one
 * interface (LINKTYPE_RAW: each packet is a bare IPv4 datagram, microsecond
 * timestamps). NULL on failure with errno set. */
tl_pcap *tl_pcap_open(const char *path);
/* Records one packet. ts_us: microseconds since the Unix epoch (any clock
 * works; tools show it as a date). comment: NULL or a UTF-8 note shown by
 * Wireshark as the packet comment, e.g. "dropped by fault: loss". Returns 0,
 * or -1 after a write error (the error sticks: later calls fail too). */
int tl_pcap_write(tl_pcap *p, const uint8_t *pkt, size_t len, int64_t ts_us, int dir, const char *comment);
/* Flushes and closes; 0 if every write reached the file, -1 otherwise.
 * Frees p either way. NULL is a no-op. */
int tl_pcap_close(tl_pcap *p);
/* Packets recorded so far. */
uint64_t tl_pcap_count(const tl_pcap *p);
/* Bytes of each packet kept (the rest is cut, its length still recorded);
 * default 65535. */
void tl_pcap_set_snaplen(tl_pcap *p, uint32_t snaplen);

/* A link tap: tl_pcap_tap_output is a tl_output_fn that records each
 * packet as outgoing, stamped with the time last set by tl_pcap_tap_now,
 * then hands it to next(next_ctx). Use the tap as the stack's output. */
typedef struct tl_pcap_tap {
  tl_pcap *pcap;
  tl_output_fn next;
  void *next_ctx;
  int64_t now_us;
} tl_pcap_tap;
void tl_pcap_tap_init(tl_pcap_tap *tap, tl_pcap *p, tl_output_fn next, void *next_ctx);
void tl_pcap_tap_now(tl_pcap_tap *tap, int64_t now_us);
int tl_pcap_tap_output(void *tap, const uint8_t *pkt, size_t len);
#endif
