/* SPDX-License-Identifier: MIT */
/*
 * linux_if.h: what the raw-socket drivers (afpacket.c, afxdp.c) need to know
 * about a Linux interface before they open it: index, MAC, MTU, and whether
 * it is up and Ethernet. Messages are logged with the caller's prefix, in
 * words a user can act on. Private header.
 */
#ifndef DEMI_DEV_LINUX_IF_H
#define DEMI_DEV_LINUX_IF_H

#include "net/netdev.h"

#include <stdint.h>

struct linux_if {
    unsigned int ifindex;
    uint8_t mac[ETH_ALEN];
    uint32_t mtu; /* the interface's IP MTU */
};

/*
 * Look up @ifname in this network namespace. Returns 0, or a positive errno
 * after logging why: EINVAL (not a name, loopback, not Ethernet), ENODEV (no
 * such interface), ENETDOWN (down), or what an ioctl failed with. @who
 * prefixes the messages ("catpowder").
 */
int linux_if_query(const char *who, const char *ifname, struct linux_if *out);

/* Check @mac_or_null (demikernel.local_link_addr, if given) against the
 * interface's MAC: 0, or EADDRNOTAVAIL after logging both. */
int linux_if_check_mac(const char *who, const char *ifname, const struct linux_if *li, const uint8_t *mac_or_null);

/* "aa:bb:cc:dd:ee:ff" into @buf. */
const char *linux_if_mac_str(const uint8_t *m, char buf[18]);

#endif /* DEMI_DEV_LINUX_IF_H */
