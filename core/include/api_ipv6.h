#ifndef TL_API_IPV6_H
#define TL_API_IPV6_H
/* IPv6 codec and introspection exported for specs (and fuzzing). The FFI
 * declarations are generated from it (tcplua.h). Included once, through
 * tcplua.h. Addresses are 16 bytes in network order. */

/* A parsed IPv6 fixed header (RFC 8200 3), fields in host byte order. */
typedef struct tl_ip6_hdr {
  uint8_t tclass;
  uint8_t next;        /* Next Header */
  uint8_t hop_limit;
  uint16_t payload_len;
  uint32_t flow;       /* 20-bit flow label */
  uint8_t src[16], dst[16];
} tl_ip6_hdr;

enum tl_ip6_parse_err {
  TL_IP6_OK = 0,
  TL_IP6_ESHORT = -1,   /* fewer than 40 bytes */
  TL_IP6_EVERSION = -2, /* version is not 6 */
  TL_IP6_EPLEN = -3     /* payload length beyond the bytes read */
};

/* What a walk of the extension-header chain found (tl_ip6_walk). Offsets
 * count from the start of the IPv6 header. */
typedef struct tl_ip6_chain {
  uint8_t proto;    /* the Next Header value the walk stopped at */
  uint8_t code;     /* error: the ICMPv6 parameter problem code to send, or TL_IP6W_SILENT */
  uint8_t frag_more; /* a fragment header: its M flag */
  uint8_t atomic;   /* an atomic fragment (offset 0, M 0) was passed (RFC 6946) */
  uint16_t frag_off; /* a fragment header: its offset in bytes */
  uint16_t exts;    /* extension headers passed */
  uint32_t frag_id;
  uint32_t nh_at;   /* where the Next Header field naming proto sits */
  uint32_t off;     /* where the header named proto starts */
  uint32_t ptr;     /* error: the parameter problem's pointer */
} tl_ip6_chain;

/* Walk results: the upper-layer header (or No Next Header) reached, a
 * fragment header that needs reassembly, or why the datagram is dropped. */
enum tl_ip6_walk_res {
  TL_IP6W_UPPER = 0,    /* w.proto is not an extension header we walk */
  TL_IP6W_FRAG = 1,     /* a real fragment: its header at w.off */
  TL_IP6W_ETRUNC = -1,  /* a header runs past the datagram */
  TL_IP6W_EHBH = -2,    /* hop-by-hop options not right after the IPv6 header */
  TL_IP6W_EOPT = -3,    /* an option type whose high bits say discard */
  TL_IP6W_EROUTE = -4,  /* routing header with segments left (type 0: RFC 5095) */
  TL_IP6W_ECHAIN = -5,  /* more extension headers than TL_IP6_MAX_EXTS */
  TL_IP6W_ENESTED = -6, /* a fragment header inside a reassembled datagram */
  TL_IP6W_EOPTLEN = -7  /* an option runs past its header */
};
enum { TL_IP6W_SILENT = 255, TL_IP6_MAX_EXTS = 16 };
/* Flags for tl_ip6_walk. */
enum { TL_IP6W_MULTICAST = 1, /* the destination is multicast (RFC 8200 4.2, high bits 11) */
       TL_IP6W_REASSEMBLED = 2 /* the datagram is a reassembled one: no fragment header may follow */ };

/* Validate and decode the fixed header of pkt[0..len). */
int tl_ip6_parse(const uint8_t *pkt, size_t len, tl_ip6_hdr *h);
/* Write the 40-byte fixed header from h. Returns 40. */
size_t tl_ip6_build(uint8_t *buf, const tl_ip6_hdr *h);
/* Walk the extension headers of pkt[0..len) (a datagram whose fixed header
 * parsed) from offset `at`, where Next Header `nh` (whose field sits at
 * nh_at) starts, processing hop-by-hop and destination options and
 * routing headers as RFC 8200 4 says a destination does. */
int tl_ip6_walk(const uint8_t *pkt, size_t len, uint8_t nh, size_t nh_at, size_t at, int flags, tl_ip6_chain *w);
/* The unfolded sum of the IPv6 pseudo-header (RFC 8200 8.1) for an upper
 * layer checksum, to pass as the initial sum to tl_csum_partial. */
uint32_t tl_csum_pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t len);
/* Address classes (RFC 4291 2.4). */
int tl_ip6_is_multicast(const uint8_t *a);
int tl_ip6_is_unspecified(const uint8_t *a);
int tl_ip6_is_loopback(const uint8_t *a);
/* The IPv4-mapped prefix ::ffff:0:0/96 (RFC 4291 2.5.5.2). */
int tl_ip6_is_v4mapped(const uint8_t *a);

/* Datagrams being reassembled right now, and the bytes they hold. */
int tl_ipv6_reasm_pending(const tl_stack *st);
size_t tl_ipv6_reasm_bytes(const tl_stack *st);
/* The path MTU the stack holds for dst (RFC 8201), or the link MTU. */
uint32_t tl_ipv6_pmtu(const tl_stack *st, const uint8_t *dst);
/* Copy `len` payload bytes behind a fresh header and send them through the
 * stack's IPv6 output (fragmenting over the path MTU). For specs. */
int tl_ipv6_output(tl_stack *st, const uint8_t *dst, uint8_t proto, const uint8_t *payload, size_t len);
#endif
