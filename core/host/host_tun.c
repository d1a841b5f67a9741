/* TUN open/create/attach through ioctl (Documentation/networking/tuntap). */
#include "host_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Creating a TUN needs CAP_NET_ADMIN; using one the user owns does not. */
#define PRIV_HINT                                                                                  \
  "run with sudo; or, without sudo, once as root: sudo ip tuntap add dev tcplua0 mode tun user $USER " \
  "&& sudo ip addr add 10.77.0.1/24 dev tcplua0 && sudo ip link set tcplua0 up, then tcplua --attach " \
  "(tcplua --sim runs sim scripts without any of this)"
/* Where /dev/net/tun is mode 0600, as in many containers, no capability
 * given to the binary (setcap) opens it for another user. */
#define OPEN_HINT                                                                                  \
  "it is not open to your user: run with sudo; or, as root, let users open it (sudo chmod 0666 "     \
  "/dev/net/tun, its usual mode) and create a TUN you own (sudo ip tuntap add dev tcplua0 mode tun " \
  "user $USER, then give it 10.77.0.1/24 and bring it up), then tcplua --attach (tcplua --sim runs "  \
  "sim scripts without any of this)"

int host_tun_open(const char *name, int attach, char *ifname, char *err, size_t errlen) {
  return host_tun_open_vnet(name, attach, 0, ifname, err, errlen);
}

int host_tun_open_vnet(const char *name, int attach, int vnet_hdr, char *ifname, char *err, size_t errlen) {
  if (strlen(name) >= IFNAMSIZ) {
    snprintf(err, errlen, "device name '%s' is too long (at most %d characters)", name, IFNAMSIZ - 1);
    return -1;
  }
  /* TUNSETIFF on a name that does not exist would create it; --attach
   * promises to use what is there, so check first. */
  if (attach && if_nametoindex(name) == 0) {
    snprintf(err, errlen,
             "--attach %s: no such network device (create it first, e.g. "
             "ip tuntap add dev %s mode tun)",
             name, name);
    return -1;
  }
  /* Without --attach the device is ours to create: an existing one is
   * another tcplua (or someone's persistent TUN) we must not take over. */
  if (!attach && if_nametoindex(name) != 0) {
    snprintf(err, errlen,
             "network device %s already exists (another tcplua running?) -- "
             "pick another name with --dev NAME, or use it as it is with --attach",
             name);
    return -1;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENODEV || e == ENXIO)
      snprintf(err, errlen,
               "cannot open /dev/net/tun: %s -- the TUN driver is missing "
               "(load it with: sudo modprobe tun; in a container, pass --device /dev/net/tun)",
               strerror(e));
    else if (e == EPERM || e == EACCES)
      snprintf(err, errlen, "cannot open /dev/net/tun: %s -- " OPEN_HINT, strerror(e));
    else
      snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(e));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0));
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES)
      snprintf(err, errlen, "cannot create TUN device %s (TUNSETIFF): %s -- " PRIV_HINT, name, strerror(e));
    else if (e == EBUSY)
      snprintf(err, errlen, "TUN device %s is busy (TUNSETIFF): another process holds it", name);
    else if (e == EINVAL)
      snprintf(err, errlen,
               "cannot use %s as a TUN device (TUNSETIFF): %s -- "
               "is it an existing interface of another type?",
               name, strerror(e));
    else
      snprintf(err, errlen, "cannot create TUN device %s (TUNSETIFF): %s", name, strerror(e));
    close(fd);
    return -1;
  }
  memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
  ifname[IFNAMSIZ - 1] = '\0';
  return fd;
}
