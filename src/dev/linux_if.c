/* SPDX-License-Identifier: MIT */
/*
 * linux_if.c: interface facts through ioctl on a throwaway datagram socket
 * (any socket answers these ioctls; this one needs no privilege).
 */
#include "dev/linux_if.h"

#include "core/log.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

const char *linux_if_mac_str(const uint8_t *m, char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

static int ioctl_or_log(int fd, unsigned long req, struct ifreq *ifr, const char *who, const char *ifname,
                        const char *what)
{
    if (ioctl(fd, req, ifr) < 0) {
        int err = errno;
        log_err("%s: interface %s: %s: %s", who, ifname, what, strerror(err));
        return err;
    }
    return 0;
}

static int query_fd(int fd, const char *who, const char *ifname, struct linux_if *out)
{
    struct ifreq ifr;
    int ret;

    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    ret = ioctl_or_log(fd, SIOCGIFFLAGS, &ifr, who, ifname, "SIOCGIFFLAGS");
    if (ret)
        return ret;
    if (!(ifr.ifr_flags & IFF_UP)) {
        log_err("%s: interface %s is down (ip link set %s up)", who, ifname, ifname);
        return ENETDOWN;
    }
    if (ifr.ifr_flags & IFF_LOOPBACK) {
        log_err("%s: interface %s is a loopback interface; use LIBOS=catloop for in-process tests "
                "or a real (or veth) Ethernet interface",
                who, ifname);
        return EINVAL;
    }
    if (!(ifr.ifr_flags & IFF_RUNNING))
        log_warn("%s: interface %s has no carrier (cable, or the veth peer down)", who, ifname);

    ret = ioctl_or_log(fd, SIOCGIFHWADDR, &ifr, who, ifname, "SIOCGIFHWADDR");
    if (ret)
        return ret;
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
        log_err("%s: interface %s is not Ethernet (ARP hardware type %u)", who, ifname,
                (unsigned)ifr.ifr_hwaddr.sa_family);
        return EINVAL;
    }
    memcpy(out->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

    ret = ioctl_or_log(fd, SIOCGIFMTU, &ifr, who, ifname, "SIOCGIFMTU");
    if (ret)
        return ret;
    out->mtu = (uint32_t)ifr.ifr_mtu;
    return 0;
}

int linux_if_query(const char *who, const char *ifname, struct linux_if *out)
{
    int fd, ret;

    memset(out, 0, sizeof(*out));
    if (!ifname || !ifname[0] || strlen(ifname) >= IFNAMSIZ) {
        log_err("%s: raw_socket.linux_interface_name \"%s\" is not an interface name", who, ifname ? ifname : "");
        return EINVAL;
    }
    out->ifindex = if_nametoindex(ifname);
    if (out->ifindex == 0) {
        int err = errno == ENXIO ? ENODEV : errno;
        log_err("%s: no interface named \"%s\" in this network namespace (%s; see `ip link`)", who, ifname,
                strerror(err));
        return err;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ret = errno;
        log_err("%s: socket for interface queries: %s", who, strerror(ret));
        return ret;
    }
    ret = query_fd(fd, who, ifname, out);
    close(fd);
    return ret;
}

int linux_if_check_mac(const char *who, const char *ifname, const struct linux_if *li, const uint8_t *mac_or_null)
{
    char a[18], b[18];

    if (!mac_or_null || memcmp(mac_or_null, li->mac, ETH_ALEN) == 0)
        return 0;
    log_err("%s: MAC mismatch: demikernel.local_link_addr is %s but interface %s has MAC %s; "
            "correct the key or remove it to use the interface's MAC",
            who, linux_if_mac_str(mac_or_null, a), ifname, linux_if_mac_str(li->mac, b));
    return EADDRNOTAVAIL;
}
