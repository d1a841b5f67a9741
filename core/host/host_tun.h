/* The TUN device: create (or attach to) an IFF_TUN|IFF_NO_PI interface and
 * hand back a non-blocking fd. Configuration is host_netlink's job. */
#ifndef TL_HOST_TUN_H
#define TL_HOST_TUN_H
#include <net/if.h>
#include <stddef.h>

/* Opens /dev/net/tun and binds it to `name`. With attach, the interface
 * must already exist (a persistent TUN someone configured); otherwise a new
 * non-persistent one is created, which the kernel removes when the fd is
 * closed. Returns the fd, or -1 with a message for a human in err. The
 * kernel's chosen name is written to ifname (IFNAMSIZ bytes). */
int host_tun_open(const char *name, int attach, char *ifname, char *err, size_t errlen);
/* The same with IFF_VNET_HDR when vnet_hdr is set: every datagram then
 * carries a virtio_net_hdr in front (core/host/host_offload.h). */
int host_tun_open_vnet(const char *name, int attach, int vnet_hdr, char *ifname, char *err, size_t errlen);
#endif
