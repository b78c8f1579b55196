/* SPDX-License-Identifier: MIT */
/*
 * catnip.c: LIBOS=catnip, libdemi's TCP/IP stack (the inet libOS) over a
 * DPDK port (dev/dpdk.c): a PCI NIC, or a virtual device such as net_memif
 * (two processes over shared memory), net_ring, net_tap or net_af_packet.
 *
 * demi_init: EAL with dpdk.eal_init (once per process), the first port EAL
 * found, the small buffer class switched to mbufs (so application buffers of
 * up to 2 KiB and header buffers are device buffers), the port configured
 * and started, then the inet libOS over it. docs/catnip.md has the
 * configurations.
 */
#include "core/config.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "dev/dpdk.h"
#include "libos/inet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Mbufs beyond libdemi.pool_small_count: the port's receive ring, frames in
 * flight on its transmit ring, the per-lcore caches of the pool. */
#define CATNIP_MBUF_SLACK (DPDK_RX_DESC + DPDK_TX_DESC + 1024u)

int catnip_create(const struct demi_config *cfg, struct libos **out)
{
    struct dpdk_port_params pp;
    struct netdev *dev;
    char err[512] = "";
    uint16_t port;
    int ret;

    if (!cfg->has_local_ipv4) {
        log_err("LIBOS=catnip needs demikernel.local_ipv4_addr (in CONFIG_PATH or "
                "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR)");
        return EINVAL;
    }
    ret = dpdk_eal_init(cfg->eal_argc, cfg->eal_argv, err, sizeof(err));
    if (ret) {
        log_err("LIBOS=catnip: %s", err);
        return ret;
    }
    if (dpdk_first_port(&port) != 0) {
        log_err("LIBOS=catnip: no DPDK port: pass a --vdev or a PCI device in dpdk.eal_init "
                "(docs/catnip.md)");
        return ENODEV;
    }
    /* Jumbo frames: mbufs that hold a whole frame (its 14-byte Ethernet
     * header and a 4-byte VLAN tag). */
    ret = dpdk_mem_attach(&rt.mem, cfg->pool_small_count, CATNIP_MBUF_SLACK,
                          cfg->enable_jumbo_frames ? cfg->mtu + 18 : 0, err, sizeof(err));
    if (ret) {
        log_err("LIBOS=catnip: %s", err);
        return ret;
    }
    memset(&pp, 0, sizeof(pp));
    pp.port = port;
    pp.mtu = cfg->mtu;
    pp.mac = cfg->has_local_mac ? cfg->local_mac : NULL;
    pp.link_wait_ms = cfg->dpdk_link_wait_ms;
    ret = dpdk_netdev_create(&rt.mem, &pp, &dev, err, sizeof(err));
    if (ret) {
        log_err("LIBOS=catnip: %s", err);
        return ret;
    }
    return inet_libos_create(cfg, dev, out);
}
