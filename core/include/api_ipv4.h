#ifndef TL_API_IPV4_H
#define TL_API_IPV4_H
/* IPv4 codec, output and sim helpers exported for specs (and fuzzing).
 * The FFI declarations are generated from it (tcplua.h). Included once, through tcplua.h. */

/* A parsed IPv4 header (RFC 791 3.1), fields in host byte order. */
typedef struct tl_ip_hdr {
  uint8_t version;
  uint8_t hdr_len;       /* IHL * 4, bytes */
  uint8_t tos;
  uint8_t ttl;
  uint8_t proto;
  uint8_t df, mf;        /* flag bits */
  uint16_t total_len;
  uint16_t id;
  uint16_t frag_off;     /* fragment offset in BYTES (field * 8) */
  uint16_t checksum;     /* as found on the wire (host order) */
  uint32_t src, dst;
} tl_ip_hdr;

/* Parse failures, in the order tl_ip_parse checks them. */
enum tl_ip_parse_err {
  TL_IP_OK = 0,
  TL_IP_ESHORT = -1,     /* fewer than 20 bytes */
  TL_IP_EVERSION = -2,   /* version is not 4 */
  TL_IP_EIHL = -3,       /* IHL < 5 or header runs past the bytes read */
  TL_IP_ETOTLEN = -4,    /* total length < IHL*4 or > bytes read */
  TL_IP_ECSUM = -5       /* header checksum does not verify */
};

/* Validate and decode the header of the datagram in pkt[0..len). */
int tl_ip_parse(const uint8_t *pkt, size_t len, tl_ip_hdr *h);
/* Write a 20-byte header (no options) from h, computing the checksum; the
 * hdr_len, version and checksum fields of h are ignored. Returns 20. */
size_t tl_ip_build(uint8_t *buf, const tl_ip_hdr *h);
/* Nonzero if a datagram from `a` must be dropped (RFC 1122 3.2.1.3):
 * 0.0.0.0/8, 127/8, multicast 224/4, reserved 240/4, broadcast. */
int tl_ip_bad_src(uint32_t a);

/* Copy `len` payload bytes behind a fresh header and send them through the
 * stack's IPv4 output (fragmenting unless df). For specs. */
int tl_ipv4_output(tl_stack *st, uint32_t dst, uint8_t proto, const uint8_t *payload, size_t len, int df);
/* Datagrams being reassembled right now, and the bytes they hold. */
int tl_ipv4_reasm_pending(const tl_stack *st);
size_t tl_ipv4_reasm_bytes(const tl_stack *st);

/* Packets the sim could not route (no endpoint owns the destination, or
 * shorter than an IPv4 header). */
uint64_t tl_sim_dropped(const tl_sim *sim);
/* tl_impair_count of the impairment on endpoint ep's output (0 if none). */
uint64_t tl_sim_impair_count(const tl_sim *sim, int ep, int which);
/* Change the base one-way latency for packets sent from now on. */
void tl_sim_set_latency(tl_sim *sim, uint32_t latency_us);
#endif
