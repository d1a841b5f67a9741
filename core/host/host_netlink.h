/* Interface configuration over rtnetlink (libmnl): what `ip addr add` and
 * `ip link set mtu N up` would do, without a subprocess. */
#ifndef TL_HOST_NETLINK_H
#define TL_HOST_NETLINK_H
#include <stddef.h>
#include <stdint.h>

/* Assigns addr/prefix (host order) and, unless addr6 is NULL, the IPv6
 * addr6/prefix6 to ifname, sets its MTU and brings it up. Returns 0, or
 * -1 with a message for a human in err. */
int host_netlink_configure(const char *ifname, uint32_t addr, uint8_t prefix, const uint8_t *addr6,
                           uint8_t prefix6, uint16_t mtu, char *err, size_t errlen);
/* The interface's MTU, or -1 (with err) if it cannot be read. */
int host_netlink_mtu(const char *ifname, char *err, size_t errlen);
/* Routes dst/prefix (host order) through ifname. 0, or -1 with err. */
int host_netlink_route(const char *ifname, uint32_t dst, uint8_t prefix, char *err, size_t errlen);
#endif
