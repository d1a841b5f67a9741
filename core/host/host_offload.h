/* TUN offloads: IFF_VNET_HDR with TSO and checksum offload
 * (Documentation/networking/tuntap.rst; virtio 1.x 5.1.6 "Device
 * Operation" for the header). With them the kernel takes TCP segments of
 * up to 64 KB from us and cuts them to the MTU (GSO), and hands us large
 * GRO'd segments with a partial checksum. */
#ifndef TL_HOST_OFFLOAD_H
#define TL_HOST_OFFLOAD_H
#include <stddef.h>
#include <stdint.h>

#include "tcplua.h"

/* Bytes of the virtio_net_hdr in front of every datagram once IFF_VNET_HDR is on. */
#define HOST_VNET_HDR_LEN 10

/* Largest IPv4 datagram we hand the kernel as one TSO segment. */
#define HOST_TSO_MAX 65535u

/* Asks for TSO4 and checksum offload on a TUN opened with IFF_VNET_HDR.
 * Returns 1 if the kernel agreed, 0 if it refused (a log line says so, and
 * the device still carries the header, with no offload in it). */
int host_offload_enable(int fd, int quiet);

/* The header for an outgoing datagram of len bytes whose first avail
 * bytes (at least its IP and TCP headers, when it is sent in pieces) are
 * at pkt: NEEDS_CSUM + GSO_TCPV4 for a TCP segment larger than the MTU
 * (the stack left a pseudo-header checksum in it), all zero otherwise. */
void host_offload_tx_hdr(uint8_t hdr[HOST_VNET_HDR_LEN], const uint8_t *pkt, size_t avail, size_t len,
                         uint16_t mtu);

/* An incoming datagram after its header: if the kernel left the transport
 * checksum partial (NEEDS_CSUM), returns 1 and, when `complete` is set,
 * finishes it in place so that anyone can verify it; 0 if the checksum is
 * already whole; -1 for a malformed header. */
int host_offload_rx(const uint8_t hdr[HOST_VNET_HDR_LEN], uint8_t *pkt, size_t len, int complete);
#endif
