/* TUN offloads (see host_offload.h). */
#include "host_offload.h"

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <errno.h>

#include "csum.h"
#include "ipv6_wire.h"
#include "tcp_wire.h"

/* The header's 16-bit fields are in native byte order on a TUN unless
 * TUNSETVNETBE/LE says otherwise (tuntap.rst). */
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint16_t get16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

int host_offload_enable(int fd, int quiet) {
  unsigned int feat = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (ioctl(fd, TUNSETOFFLOAD, feat) == 0) return 1;
  int e = errno;
  if (!quiet)
    fprintf(stderr, "tcplua: the kernel refused TUN offloads (TUNSETOFFLOAD: %s); running with --offload off\n",
            strerror(e));
  return 0;
}

void host_offload_tx_hdr(uint8_t hdr[HOST_VNET_HDR_LEN], const uint8_t *pkt, size_t avail, size_t len,
                         uint16_t mtu) {
  memset(hdr, 0, HOST_VNET_HDR_LEN);
  struct tl_ip_view v;
  if (len <= mtu || avail < 40 || tl_ipx_view(pkt, avail, &v) < 0 || v.proto != TL_PROTO_TCP || !v.whole)
    return;
  size_t ihl = v.ihl;
  if (ihl + 20 > avail) return;
  size_t thl = tl_tcp_view_hdr_len(v.l4);
  if (thl < 20 || ihl + thl > avail || ihl + thl >= len || ihl + thl >= mtu) return;
  hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr[1] = v.family == 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  put16(hdr + 2, (uint16_t)(ihl + thl));       /* hdr_len */
  put16(hdr + 4, (uint16_t)(mtu - ihl - thl)); /* gso_size: each piece fills the MTU */
  put16(hdr + 6, (uint16_t)ihl);               /* csum_start */
  put16(hdr + 8, 16);                          /* csum_offset: TCP checksum field */
}

int host_offload_rx(const uint8_t hdr[HOST_VNET_HDR_LEN], uint8_t *pkt, size_t len, int complete) {
  if (!(hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return 0;
  size_t start = get16(hdr + 6), off = get16(hdr + 8);
  if (start >= len || start + off + 2 > len) return -1;
  if (complete) {
    /* The field holds the pseudo-header sum; the rest is the data's. */
    uint16_t c = tl_csum_fold(tl_csum_partial(pkt + start, len - start, 0));
    pkt[start + off] = (uint8_t)(c >> 8);
    pkt[start + off + 1] = (uint8_t)c;
  }
  return 1;
}
