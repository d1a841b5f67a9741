#ifndef TL_API_FWD_H
#define TL_API_FWD_H
/* The gateway (core/fwd/): a stack that forwards IPv4 between two links,
 * side a and side b, as a router does (RFC 1812), instead of ending the
 * traffic itself. Every forwarded datagram crosses the stack's link
 * boundary (core/link/hook.c: the impairment of its side, the Lua hook
 * queue, the pcap) when anything is set there; with nothing set it takes
 * the direct path, with the link's offload facts (a GSO super-packet stays
 * whole). A passive flow table follows every TCP flow seen (flow.c). The
 * FFI declarations are generated from this header (tcplua.h). */

/* Sides of the gateway. */
enum tl_gw_side { TL_GW_A = 0, TL_GW_B = 1 };

/* What the link knows about a datagram (the virtio_net_hdr facts, without
 * its layout): a GSO super-packet's segment size, and whether the
 * transport checksum holds only the pseudo-header sum (the receiving
 * kernel completes it). */
typedef struct tl_gw_off {
  uint16_t gso_size;    /* 0: a datagram as it goes on the wire */
  uint8_t csum_partial; /* the TCP/UDP checksum is left to the link */
  uint8_t pad;
} tl_gw_off;

typedef struct tl_gw_config {
  uint32_t net[2];    /* each side's network, host order */
  uint8_t prefix[2];  /* its prefix length */
  uint32_t addr[2];   /* the gateway's own address on each side: the source of its ICMP errors */
  uint16_t mtu[2];    /* each side's link MTU */
  uint32_t max_flows; /* passive flow table size (a power of two; 0: 4096) */
} tl_gw_config;

/* out(ctx, side, pkt, len, off): write one datagram to a side's link; off
 * NULL for a plain datagram. */
typedef int (*tl_gw_out_fn)(void *ctx, int side, const uint8_t *pkt, size_t len, const tl_gw_off *off);

/* Makes st a gateway: its network layer input becomes the forwarder and
 * its link output (injected segments, hook verdicts) routes by
 * destination. 0, TL_EINVAL or TL_ENOMEM. */
int tl_gw_attach(tl_stack *st, const tl_gw_config *cfg, tl_gw_out_fn out, void *ctx);
/* Nonzero once st is a gateway. */
int tl_gw_is(const tl_stack *st);
/* One datagram read from side `side` (off: NULL or its offload facts): the
 * direct path, or the link boundary. */
void tl_gw_input(tl_stack *st, int side, uint8_t *pkt, size_t len, int64_t now, const tl_gw_off *off);
/* Nonzero when the next datagram would take the direct path (nothing at
 * the link boundary): the host may then keep offloads on. */
int tl_gw_direct(const tl_stack *st);

/* Hooks may judge GSO super-packets whole (a segment of up to 64 KB, cut
 * to wire segments by the receiving kernel): the host then keeps the
 * links' offloads on while the boundary holds hooks only (no impairment,
 * no capture, which judge wire packets). Off by default. */
void tl_gw_set_whole(tl_stack *st, int on);
/* Nonzero when the host may keep the links' offloads on now. */
int tl_gw_offload_ok(const tl_stack *st);

/* RFC 9293 states as a passive observer sees them. */
enum tl_flow_state {
  TL_FLOW_SYN_SENT = 1, /* the client's SYN seen */
  TL_FLOW_SYN_RCVD,     /* the server's SYN-ACK seen */
  TL_FLOW_ESTABLISHED,  /* the client's ACK of it seen (or a flow met mid-stream) */
  TL_FLOW_FIN_WAIT,     /* a FIN seen one way */
  TL_FLOW_CLOSING,      /* FINs seen both ways */
  TL_FLOW_CLOSED,       /* both FINs acknowledged */
  TL_FLOW_RESET         /* an RST seen or injected */
};

/* One TCP flow. Index 0: client to server (the side that sent the first
 * SYN), 1: server to client. Sequence numbers are the raw 32-bit ones. */
typedef struct tl_flow {
  uint32_t addr[2]; /* [0] client, [1] server, host order */
  uint16_t port[2];
  uint8_t state;     /* tl_flow_state */
  uint8_t fin[2];    /* a FIN seen that way */
  uint8_t rst;       /* 1: from the client, 2: from the server, 3: injected by the gateway */
  uint8_t side;      /* the gateway side the client is on */
  uint8_t midstream; /* first seen without its SYN: who is client is a guess (the higher port) */
  uint32_t syns;     /* SYNs seen from the client: 1 + retransmissions */
  uint32_t synacks;  /* SYN-ACKs seen from the server */
  uint64_t bytes[2]; /* payload bytes seen each way, retransmissions included */
  uint64_t segs[2];  /* segments seen each way (a super-packet counts its wire segments) */
  uint64_t retx[2];  /* segments carrying data below the highest sequence seen that way */
  uint32_t isn[2];   /* initial sequence numbers */
  uint32_t nxt[2];   /* highest sequence + length seen each way (the sender's snd.max) */
  uint32_t ack[2];   /* the last acknowledgment each sender sent (its rcv.nxt then) */
  uint8_t has_ack[2];
  uint16_t pad;
  uint32_t win[2];
  int64_t first_us, last_us;
} tl_flow;

/* The flow of an IPv4 TCP datagram, or NULL. *dir: 0 client->server, 1
 * server->client. */
const tl_flow *tl_gw_flow(tl_stack *st, const uint8_t *pkt, size_t len, int *dir);
/* Shows a datagram coming in from side to the flow table: the gateway
 * does so itself on the direct path and after the boundary, and the Lua
 * hook runner just before the hooks (so a hook sees the counts up to and
 * including its segment, not those of the rest of a read batch). */
const tl_flow *tl_gw_observe(tl_stack *st, const uint8_t *pkt, size_t len, int side);
/* Number of flows in the table; tl_gw_flow_at(st, i) walks them (NULL past the end). */
int tl_gw_flow_count(const tl_stack *st);
const tl_flow *tl_gw_flow_at(const tl_stack *st, int i);
/* Resets the flow of pkt at both ends: an RST to each, with the sequence
 * numbers it accepts (RFC 9293 3.10.7.4 / RFC 5961 3.2: exactly the
 * receiver's rcv.nxt, taken from the flow table; pkt itself, if it goes
 * to that end, gives it too). Returns the RSTs sent, or TL_EINVAL. */
int tl_gw_reset(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now);

/* Exposed for the unit specs: the RFC 1812 5.3.1 TTL decrement with the
 * RFC 1624 incremental header checksum update, in place. -1 if the TTL
 * was <= 1 (the datagram must not be forwarded). */
int tl_gw_ttl_dec(uint8_t *ip);
/* A passive flow table alone (for specs): feed segments, read flows. */
typedef struct tl_flow_table tl_flow_table;
tl_flow_table *tl_flow_table_new(uint32_t max_flows);
void tl_flow_table_free(tl_flow_table *ft);
/* Follows one IPv4 datagram (non-TCP and fragments are ignored) coming
 * from `side`; gso_size as in tl_gw_off. Returns its flow or NULL. */
const tl_flow *tl_flow_observe(tl_flow_table *ft, const uint8_t *pkt, size_t len, int side, uint16_t gso_size,
                               int64_t now);
const tl_flow *tl_flow_lookup(tl_flow_table *ft, const uint8_t *pkt, size_t len, int *dir);
#endif
