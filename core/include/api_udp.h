#ifndef TL_API_UDP_H
#define TL_API_UDP_H
/* UDP sockets (RFC 768, RFC 1122 4.1; core/udp/). The FFI declarations are
 * generated from it (tcplua.h). The plain functions take IPv4 addresses in
 * host byte order; the *6 ones take 16-byte addresses of either family,
 * IPv4 as IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2), as a dual-stack
 * kernel socket does (IPV6_V6ONLY off): a socket bound to the wildcard
 * receives both families, and its datagrams' sources say which.
 *
 * A socket is bound to one local port (tl_udp_bind, or an ephemeral port
 * on first send/connect); received datagrams wait, whole, in a bounded
 * queue of the socket's own (TL_UDP_OPT_RCVBUF bytes, counting an entry's
 * bookkeeping too); one that does not fit is dropped and counted. A
 * socket with a queue that became non-empty, or an error to report, is
 * handed to the application through tl_udp_next_event. */
typedef struct tl_udp tl_udp;

enum tl_udp_ev_bits {
  TL_UDP_EV_READABLE = 1, /* datagrams queued */
  TL_UDP_EV_ERROR = 2     /* an ICMP error for a connected socket (tl_udp_recvfrom reports it) */
};

typedef struct tl_udp_event {
  tl_udp *sock;
  uint64_t user;
  uint32_t mask;
} tl_udp_event;

enum tl_udp_opt {
  TL_UDP_OPT_RCVBUF = 1,  /* receive queue bytes (at least one largest datagram) */
  TL_UDP_OPT_CHECKSUM = 2 /* 1 (default): send checksums; 0: send none (RFC 768 allows it over IPv4) */
};

/* The largest payload one datagram carries over IPv4: 65535 - 20 - 8.
 * (IPv6 carries 65535 - 8 without jumbograms; the API keeps one limit.) */
enum { TL_UDP_MAX_PAYLOAD = 65507 };

/* A new unbound socket, or NULL (*err: TL_ENOMEM). */
tl_udp *tl_udp_open(tl_stack *st, int *err);
/* Binds the local address (0 or the stack's own) and port (0: an ephemeral
 * port, RFC 6056). 0, TL_EADDRINUSE, or TL_EINVAL (already bound, another
 * address). */
int tl_udp_bind(tl_udp *u, uint32_t addr, uint16_t port);
/* Fixes the peer (addr 0: forget it): sends without an address go there,
 * only its datagrams are received, and ICMP errors about what we sent it
 * are reported (RFC 1122 4.1.3.3). Binds an ephemeral port if unbound. */
int tl_udp_connect(tl_udp *u, uint32_t addr, uint16_t port);
/* Sends one datagram (addr 0: to the connected peer). Fragmented over the
 * MTU. Returns len, TL_ENOTCONN (no address, not connected), TL_EINVAL
 * (len > TL_UDP_MAX_PAYLOAD, port 0), TL_EADDRINUSE (no ephemeral port). */
long tl_udp_sendto(tl_udp *u, const uint8_t *data, size_t len, uint32_t addr, uint16_t port, int64_t now);
/* Takes the next datagram: copies up to cap bytes (the rest is discarded,
 * as recvfrom does) and its source, and returns its full length (>= 0).
 * TL_EAGAIN when none is queued; a pending ICMP error (TL_EREFUSED,
 * TL_EUNREACH) is returned once, before queued datagrams. */
long tl_udp_recvfrom(tl_udp *u, uint8_t *buf, size_t cap, uint32_t *addr, uint16_t *port);
/* Length of the next queued datagram, or TL_EAGAIN. */
long tl_udp_next_len(const tl_udp *u);
/* Datagrams queued now. */
uint32_t tl_udp_queued(const tl_udp *u);
/* Datagrams this socket dropped because its queue was full. */
uint64_t tl_udp_drops(const tl_udp *u);
/* Releases the port and the queue. */
void tl_udp_close(tl_udp *u);
void tl_udp_addrs(const tl_udp *u, uint32_t *laddr, uint16_t *lport, uint32_t *raddr, uint16_t *rport);
int tl_udp_setopt(tl_udp *u, int opt, int64_t value);
int64_t tl_udp_getopt(const tl_udp *u, int opt);
void tl_udp_set_user(tl_udp *u, uint64_t user);
uint64_t tl_udp_user(const tl_udp *u);
/* Either family (16-byte addresses, IPv4 mapped; NULL or :: is the
 * wildcard / no peer). bind: the wildcard, or one of the stack's own
 * addresses (then only that family's datagrams arrive); connect and
 * sendto to a family the bound address is not, or to IPv6 while the
 * stack's IPv6 is off, are TL_EINVAL. */
int tl_udp_bind6(tl_udp *u, const uint8_t *addr, uint16_t port);
int tl_udp_connect6(tl_udp *u, const uint8_t *addr, uint16_t port);
long tl_udp_sendto6(tl_udp *u, const uint8_t *data, size_t len, const uint8_t *addr, uint16_t port,
                    int64_t now);
/* As tl_udp_recvfrom; addr (16 bytes, or NULL) gets the source. */
long tl_udp_recvfrom6(tl_udp *u, uint8_t *buf, size_t cap, uint8_t *addr, uint16_t *port);
/* Local and remote address (16 bytes each, or NULL) and ports; a wildcard
 * socket's local address is ::. */
void tl_udp_addrs6(const tl_udp *u, uint8_t *laddr, uint16_t *lport, uint8_t *raddr, uint16_t *rport);
/* Pops the next UDP socket with events; 0 when none is left. */
int tl_udp_next_event(tl_stack *st, tl_udp_event *ev);
/* Open UDP sockets. */
uint32_t tl_udp_count(const tl_stack *st);
#endif
