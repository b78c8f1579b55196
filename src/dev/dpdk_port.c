/* SPDX-License-Identifier: MIT */
/*
 * dpdk_port.c: bringing a DPDK ethdev port up for dpdk.c: its MAC, the MTU
 * to configure it with, and starting it while waiting for its link (a memif
 * client retries until its server is there).
 */
#include "dev/dpdk_int.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_log.h>

#define DPDK_LINK_POLL_US 10000u

static void mac_str(const uint8_t *mac, char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* The port's MAC, or the configured one when they differ and the port
 * accepts it (virtual devices generally do). */
int dpdk_port_mac(uint16_t port, const char *pname, const uint8_t *want, uint8_t out[ETH_ALEN], char *err,
                  size_t errlen)
{
    struct rte_ether_addr ea;
    int ret;

    ret = rte_eth_macaddr_get(port, &ea);
    if (ret) {
        dpdk_set_err(err, errlen, "DPDK port %u (%s): cannot read its MAC: %s", port, pname, rte_strerror(-ret));
        return -ret;
    }
    if (want && memcmp(want, ea.addr_bytes, ETH_ALEN) != 0) {
        char have_s[18], want_s[18];
        struct rte_ether_addr wa;
        memcpy(wa.addr_bytes, want, ETH_ALEN);
        ret = rte_eth_dev_default_mac_addr_set(port, &wa);
        mac_str(ea.addr_bytes, have_s, sizeof(have_s));
        mac_str(want, want_s, sizeof(want_s));
        if (ret) {
            dpdk_set_err(err, errlen,
                         "DPDK port %u (%s) has MAC %s, demikernel.local_link_addr says %s and the port "
                         "refuses to change (%s): set the key to %s or remove it (a virtual device takes "
                         "its MAC in its --vdev arguments, e.g. net_memif0,...,mac=%s)",
                         port, pname, have_s, want_s, rte_strerror(-ret), have_s, want_s);
            return EINVAL;
        }
        log_info("dpdk: port %u (%s): MAC %s set from demikernel.local_link_addr (was %s)", port, pname, want_s,
                 have_s);
        memcpy(ea.addr_bytes, want, ETH_ALEN);
    }
    memcpy(out, ea.addr_bytes, ETH_ALEN);
    return 0;
}

/* The memif driver's log type, quietened while we retry a client (one
 * "failed to connect" is enough); returns the level to restore, or -1. */
static int memif_log_quiet(void)
{
    int logtype = rte_log_register("pmd.net.memif");
    int level = logtype >= 0 ? rte_log_get_level((uint32_t)logtype) : -1;

    if (level >= 0)
        rte_log_set_level((uint32_t)logtype, RTE_LOG_CRIT);
    return level;
}

static void memif_log_restore(int level)
{
    int logtype = rte_log_register("pmd.net.memif");

    if (level >= 0 && logtype >= 0)
        rte_log_set_level((uint32_t)logtype, (uint32_t)level);
}

#define MEMIF_RECONNECT_NS 500000000ull

/*
 * Start the port and wait up to @wait_ms for its link. A memif client
 * cannot start while its server's socket is missing, and a connection made
 * while the server is still setting its port up never comes up: such a
 * client starts again (a new connection) every half second until the wait
 * ends, so both ends of a memif pair may be started in any order.
 */
int dpdk_port_start(uint16_t port, const char *pname, const char *driver, uint32_t wait_ms, char *err, size_t errlen)
{
    uint64_t now = clock_fresh_ns(), deadline = now + (uint64_t)wait_ms * 1000000u, restart = now;
    bool memif = strcmp(driver, "net_memif") == 0;
    struct rte_eth_link link;
    int ret, quiet = -1;

    memset(&link, 0, sizeof(link));
    ret = rte_eth_dev_start(port);
    while (wait_ms > 0) {
        if (ret == 0) {
            memset(&link, 0, sizeof(link));
            if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
                break;
        }
        now = clock_fresh_ns();
        if (now >= deadline || (ret != 0 && !memif))
            break;
        if (memif && (ret != 0 || now - restart >= MEMIF_RECONNECT_NS)) {
            if (quiet < 0)
                quiet = memif_log_quiet();
            if (ret == 0)
                rte_eth_dev_stop(port);
            ret = rte_eth_dev_start(port);
            restart = now;
        }
        usleep(DPDK_LINK_POLL_US);
    }
    if (quiet >= 0)
        memif_log_restore(quiet);
    if (ret != 0) {
        dpdk_set_err(err, errlen, "DPDK port %u (%s): cannot start: %s%s", port, pname, rte_strerror(-ret),
                     memif ? " (a memif client needs its server: start the server first, or give the client "
                             "time with dpdk.link_wait_ms)"
                           : "");
        return -ret;
    }
    if (wait_ms > 0 && link.link_status != RTE_ETH_LINK_UP) {
        dpdk_set_err(err, errlen,
                     "DPDK port %u (%s): link still down after %u ms (dpdk.link_wait_ms): check the cable or "
                     "the peer (a memif client needs its server; a memif server, whose link comes up when "
                     "its client connects, should set dpdk.link_wait_ms: 0)",
                     port, pname, wait_ms);
        rte_eth_dev_stop(port);
        return ENETDOWN;
    }
    return 0;
}

/* The MTU to configure the port with for a stack MTU of @mtu. DPDK 22.11's
 * net_memif reports a largest frame of 1514 bytes (ETH_FRAME_LEN, a value
 * it never checks), so ethdev refuses any larger MTU; yet memif carries a
 * frame of any length as a chain of its buffers, both ways. Its port is
 * configured at the largest MTU ethdev accepts and the stack runs at @mtu:
 * jumbo frames between two processes. Every other port gets @mtu (and
 * rte_eth_dev_configure's verdict on it). */
uint32_t dpdk_port_mtu_for(const struct rte_eth_dev_info *info, uint32_t mtu)
{
    uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN, cap;

    if (strcmp(info->driver_name, "net_memif") != 0 || info->max_rx_pktlen <= overhead ||
        mtu + overhead <= info->max_rx_pktlen)
        return mtu;
    cap = info->max_rx_pktlen - overhead;
    log_info("dpdk: %s: frames up to %u bytes over memif's chained buffers (the port is configured at MTU "
             "%u, all DPDK 22.11's net_memif admits)",
             info->driver_name, mtu + RTE_ETHER_HDR_LEN, cap);
    return cap;
}

/*
 * DPDK 22.11 says nothing of a device's largest TSO frame but its IPv4
 * total length (64 KiB) and, in tx_desc_lim.nb_seg_max, the mbufs of one
 * TSO packet. The wire segments of one frame are bounded too: net_tap cuts
 * with librte_gso into at most 64 (its MAX_GSO_MBUFS) and refuses more; 64
 * segments of a standard MSS already exceed 64 KiB, so the bound costs no
 * NIC anything.
 */
#define DPDK_TSO_SEGS_MAX 64u

bool dpdk_port_tso(const struct rte_eth_dev_info *info, uint64_t tx, uint32_t *max_len, uint16_t *max_segs,
                   uint16_t *max_mbufs)
{
    const uint64_t need = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
                          RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    uint16_t nseg = info->tx_desc_lim.nb_seg_max;

    *max_len = 0;
    *max_segs = 0;
    *max_mbufs = 0;
    if ((tx & need) != need)
        return false;
    /* A device that admits fewer than 4 mbufs a packet gets no TSO: the
     * header and the payload's pieces would not fit. 0: no limit given. */
    if (nseg != 0 && nseg < 4)
        return false;
    *max_len = UINT16_MAX - sizeof(struct rte_ipv4_hdr) - 60; /* the largest TCP header */
    *max_segs = DPDK_TSO_SEGS_MAX;
    *max_mbufs = nseg ? nseg : UINT16_MAX;
    return true;
}
