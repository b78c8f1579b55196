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
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/runtime.h"
#include "dev/dpdk.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Mbufs beyond libdemi.pool_small_count: the port's receive ring, frames in
 * flight on its transmit ring, the per-lcore caches of the pool. */
#define CATNIP_MBUF_SLACK (DPDK_RX_DESC + DPDK_TX_DESC + 1024u)

/* At exit: how long the stack may keep sending what the application pushed
 * and closed, and how long it lingers after, to acknowledge a peer's FIN. */
#define CATNIP_EXIT_DRAIN_NS 2000000000ull
#define CATNIP_EXIT_GRACE_NS 5000000ull

static struct libos *catnip_los;
static struct netdev *catnip_dev;

/* Whether a connection still owes its peer something: data not sent or not
 * acknowledged, or a FIN not sent or not acknowledged. */
static bool catnip_tcp_busy(const struct inet_stack *s)
{
    for (uint32_t b = 0; b < TCP_HASH_BUCKETS; b++) {
        const struct list_node *head = &s->tcp.conns[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            const struct tcp_pcb *pcb = container_of(n, struct tcp_pcb, link);
            switch (pcb->state) {
            case TCPS_ESTABLISHED:
            case TCPS_CLOSE_WAIT:
                if (pcb->sndq_bytes || pcb->snd_una != pcb->snd_max || pcb->fin_queued)
                    return true;
                break;
            case TCPS_FIN_WAIT_1:
            case TCPS_CLOSING:
            case TCPS_LAST_ACK:
                return true;
            default:
                break;
            }
        }
    }
    return s->ntx > 0;
}

/*
 * A process that exits right after demi_close() (or after its last push
 * completed: pushes complete once queued) would take the unsent bytes and
 * its FIN with it: unlike a kernel stack, ours runs only inside the
 * process. So at exit the stack keeps running until every connection has
 * delivered what it owes (bounded, and cut short when the link is down),
 * lingers briefly for a peer's FIN, then shuts down, which also stops the
 * port so a memif peer sees the link go down.
 */
static void catnip_atexit(void)
{
    uint64_t now, deadline, quiet_since = 0;

    if (!rt.initialised || !catnip_los || rt.net != catnip_los)
        return;
    now = clock_now_ns();
    deadline = now + CATNIP_EXIT_DRAIN_NS;
    while (now < deadline && dpdk_netdev_link_up(catnip_dev)) {
        for (int i = 0; i < 64; i++)
            rt_poll();
        now = clock_now_ns();
        if (catnip_tcp_busy(inet_libos_stack(catnip_los))) {
            quiet_since = 0;
        } else if (quiet_since == 0) {
            quiet_since = now;
        } else if (now - quiet_since >= CATNIP_EXIT_GRACE_NS) {
            break;
        }
    }
    rt_shutdown();
    catnip_los = NULL;
}

int catnip_create(const struct demi_config *cfg, struct libos **out)
{
    struct dpdk_port_params pp;
    struct netdev *dev;
    char err[512] = "";
    static bool registered;
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
    ret = dpdk_mem_attach(&rt.mem, cfg->pool_small_count, CATNIP_MBUF_SLACK, err, sizeof(err));
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
    ret = inet_libos_create(cfg, dev, out);
    if (ret)
        return ret;
    if (!registered) {
        if (atexit(catnip_atexit) != 0)
            log_warn("LIBOS=catnip: cannot register the exit handler: data pushed just before exit "
                     "may not be sent");
        registered = true;
    }
    catnip_los = *out;
    catnip_dev = dev;
    return 0;
}
