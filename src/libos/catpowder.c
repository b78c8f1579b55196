/* SPDX-License-Identifier: MIT */
/*
 * catpowder.c: LIBOS=catpowder, libdemi's TCP/IP stack (the inet libOS) over
 * a Linux interface reached through AF_PACKET rings (dev/afpacket.c).
 *
 * The interface is shared with the kernel's stack, which sees every frame we
 * receive. If the kernel owns our IPv4 address too, it answers ARP for it
 * and resets TCP segments meant for us, so the address must be libdemi's
 * only: docs/catpowder.md. raw_socket.mode selects the transport: af_packet
 * (dev/afpacket.c) or af_xdp (dev/afxdp.c, when libxdp was found at build
 * time). With AF_XDP the kernel no longer sees the frames of our queue, but
 * frames of other queues and those it sends itself are still its own.
 */
#include "core/config.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "dev/afpacket.h"
#ifdef DEMI_HAVE_AFXDP
#include "dev/afxdp.h"
#endif
#include "libos/inet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdbool.h>
#include <string.h>

/* Warn when the kernel holds our address on the interface we use. */
static void catpowder_check_kernel_ip(const char *ifname, struct in_addr ip)
{
    struct ifaddrs *ifa_list, *ifa;
    char buf[INET_ADDRSTRLEN];

    if (getifaddrs(&ifa_list) != 0)
        return;
    for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ifa->ifa_addr;

        if (!sin || sin->sin_family != AF_INET || strcmp(ifa->ifa_name, ifname) != 0)
            continue;
        if (sin->sin_addr.s_addr == ip.s_addr) {
            inet_ntop(AF_INET, &ip, buf, sizeof(buf));
            log_warn("catpowder: the Linux kernel also has %s on %s: it will answer ARP for it "
                     "and reset our TCP connections; remove it (ip addr del %s/PREFIX dev %s), "
                     "see docs/catpowder.md",
                     buf, ifname, buf, ifname);
        }
    }
    freeifaddrs(ifa_list);
}

int catpowder_create(const struct demi_config *cfg, struct libos **out)
{
    struct netdev *dev;
    int ret;

    bool xdp = strcmp(cfg->raw_socket_mode, "af_xdp") == 0;

#ifndef DEMI_HAVE_AFXDP
    if (xdp) {
        log_err("LIBOS=catpowder: raw_socket.mode af_xdp: this libdemi was built without libxdp "
                "(install libxdp-dev and libbpf-dev, then rebuild); use af_packet");
        return ENOTSUP;
    }
#endif
    if (!cfg->has_local_ipv4) {
        log_err("LIBOS=catpowder needs demikernel.local_ipv4_addr (in CONFIG_PATH or "
                "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR)");
        return EINVAL;
    }
    if (!cfg->linux_interface_name[0]) {
        log_err("LIBOS=catpowder needs raw_socket.linux_interface_name (in CONFIG_PATH or "
                "DEMI_RAW_SOCKET_LINUX_INTERFACE_NAME)");
        return EINVAL;
    }
#ifdef DEMI_HAVE_AFXDP
    if (xdp) {
        struct afxdp_params xp = {
            .ifname = cfg->linux_interface_name,
            .queue = cfg->xdp_queue,
            .bind = afxdp_bind_from(cfg->xdp_bind),
            .mac = cfg->has_local_mac ? cfg->local_mac : NULL,
            .mtu = cfg->mtu,
            .buffers = cfg->pool_small_count,
        };
        ret = afxdp_create(&rt.mem, &xp, &dev);
    } else
#endif
        ret = afpacket_create(cfg->linux_interface_name, &rt.mem, cfg->has_local_mac ? cfg->local_mac : NULL, cfg->mtu,
                              &dev);
    if (ret)
        return ret;
    catpowder_check_kernel_ip(cfg->linux_interface_name, cfg->local_ipv4);
    return inet_libos_create(cfg, dev, out);
}
