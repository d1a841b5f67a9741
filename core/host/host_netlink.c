/* rtnetlink requests (RFC 3549; rtnetlink(7)) built with libmnl. Each
 * request asks for an ACK so errors (EEXIST, EPERM...) reach the caller. */
#include "host_netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct nl {
  struct mnl_socket *sock;
  unsigned portid;
  unsigned seq;
  char buf[8192];
};

static int nl_open(struct nl *nl, char *err, size_t errlen) {
  nl->sock = mnl_socket_open(NETLINK_ROUTE);
  if (!nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    snprintf(err, errlen, "rtnetlink socket: %s", strerror(errno));
    if (nl->sock) mnl_socket_close(nl->sock);
    return -1;
  }
  nl->portid = mnl_socket_get_portid(nl->sock);
  nl->seq = (unsigned)time(NULL);
  return 0;
}

/* Sends one request and waits for its ACK; -errno on failure. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh) {
  if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) return -errno;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof nl->buf);
    if (n < 0) return -errno;
    int r = mnl_cb_run(nl->buf, (size_t)n, nlh->nlmsg_seq, nl->portid, NULL, NULL);
    if (r < 0) return -errno;
    if (r == MNL_CB_STOP) return 0;
  }
}

static struct nlmsghdr *nl_req(struct nl *nl, uint16_t type, uint16_t flags) {
  memset(nl->buf, 0, sizeof nl->buf);
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = ++nl->seq;
  return nlh;
}

static void fail(char *err, size_t errlen, const char *what, const char *ifname, int e) {
  if (e == EPERM || e == EACCES)
    snprintf(err, errlen,
             "%s on %s: %s -- run with sudo; or configure the device once as root (sudo ip addr add "
             "10.77.0.1/24 dev %s && sudo ip link set %s up) and run tcplua --attach",
             what, ifname, strerror(e), ifname, ifname);
  else
    snprintf(err, errlen, "%s on %s: %s", what, ifname, strerror(e));
}

/* RTM_NEWADDR for the kernel side's IPv6 address. No duplicate address
 * detection: the TUN is a point-to-point link with one other node, us. */
static int add_addr6(struct nl *nl, unsigned idx, const uint8_t *addr6, uint8_t prefix6) {
  struct nlmsghdr *nlh = nl_req(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
  ifa->ifa_family = AF_INET6;
  ifa->ifa_prefixlen = prefix6;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_flags = IFA_F_NODAD;
  ifa->ifa_index = idx;
  mnl_attr_put(nlh, IFA_LOCAL, 16, addr6);
  mnl_attr_put(nlh, IFA_ADDRESS, 16, addr6);
  return nl_talk(nl, nlh);
}

int host_netlink_configure(const char *ifname, uint32_t addr, uint8_t prefix, const uint8_t *addr6,
                           uint8_t prefix6, uint16_t mtu, char *err, size_t errlen) {
  unsigned idx = if_nametoindex(ifname);
  if (!idx) {
    snprintf(err, errlen, "no network device %s: %s", ifname, strerror(errno));
    return -1;
  }
  struct nl nl;
  if (nl_open(&nl, err, errlen) < 0) return -1;
  int r;

  /* RTM_NEWLINK: MTU first, so the link comes up with the right one. */
  struct nlmsghdr *nlh = nl_req(&nl, RTM_NEWLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = (int)idx;
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  /* The TUN's default queue of 500 packets overflows when hundreds of
   * connections burst at once; the stack would then repair the losses as
   * retransmissions. A deeper queue costs nothing while it is empty. */
  mnl_attr_put_u32(nlh, IFLA_TXQLEN, 4096);
  if ((r = nl_talk(&nl, nlh)) < 0) {
    fail(err, errlen, "setting the MTU and queue length", ifname, -r);
    goto out;
  }

  /* RTM_NEWADDR: IFA_LOCAL is our address, IFA_ADDRESS the same on a
   * non-point-to-point assignment; the kernel adds the prefix route. */
  nlh = nl_req(&nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = idx;
  uint32_t be = htonl(addr);
  mnl_attr_put_u32(nlh, IFA_LOCAL, be);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
  if ((r = nl_talk(&nl, nlh)) < 0) {
    fail(err, errlen, "adding the address", ifname, -r);
    goto out;
  }

  /* No IPv6 link-local address: without a link layer there is no
   * Neighbor Discovery to speak, and without one the kernel sends no
   * router solicitations we would only count as drops. Best effort: IPv6
   * may be disabled already. */
  nlh = nl_req(&nl, RTM_NEWLINK, 0);
  ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = (int)idx;
  struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
  struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);
  mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(nlh, in6);
  mnl_attr_nest_end(nlh, spec);
  (void)nl_talk(&nl, nlh);

  if (addr6 && (r = add_addr6(&nl, idx, addr6, prefix6)) < 0) {
    fail(err, errlen, "adding the IPv6 address (IPv6 disabled here? then run with --no-ipv6)", ifname, -r);
    goto out;
  }

  nlh = nl_req(&nl, RTM_NEWLINK, 0);
  ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = (int)idx;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if ((r = nl_talk(&nl, nlh)) < 0) {
    fail(err, errlen, "bringing the link up", ifname, -r);
    goto out;
  }
  r = 0;
out:
  mnl_socket_close(nl.sock);
  return r < 0 ? -1 : 0;
}

/* A read needs no privilege, so the plain SIOCGIFMTU ioctl is enough. */
int host_netlink_mtu(const char *ifname, char *err, size_t errlen) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  int r = ioctl(fd, SIOCGIFMTU, &ifr);
  int e = errno;
  close(fd);
  if (r < 0) {
    snprintf(err, errlen, "reading the MTU of %s: %s", ifname, strerror(e));
    return -1;
  }
  return ifr.ifr_mtu;
}

/* RTM_NEWROUTE: dst/prefix through ifname, scope link (a TUN has no
 * neighbours to resolve: `ip route add dst/prefix dev ifname`). */
int host_netlink_route(const char *ifname, uint32_t dst, uint8_t prefix, char *err, size_t errlen) {
  unsigned idx = if_nametoindex(ifname);
  if (!idx) {
    snprintf(err, errlen, "no network device %s: %s", ifname, strerror(errno));
    return -1;
  }
  struct nl nl;
  if (nl_open(&nl, err, errlen) < 0) return -1;
  struct nlmsghdr *nlh = nl_req(&nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = prefix;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  uint32_t m = prefix ? ~0u << (32 - prefix) : 0;
  mnl_attr_put_u32(nlh, RTA_DST, htonl(dst & m));
  mnl_attr_put_u32(nlh, RTA_OIF, idx);
  int r = nl_talk(&nl, nlh);
  if (r < 0) fail(err, errlen, "adding a route", ifname, -r);
  mnl_socket_close(nl.sock);
  return r < 0 ? -1 : 0;
}
