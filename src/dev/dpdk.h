/* SPDX-License-Identifier: MIT */
/*
 * dpdk.h: any DPDK ethdev port as a netdev (PCI NIC, net_memif, net_ring,
 * net_tap, net_af_packet, ...), and DPDK mbufs as libdemi buffers.
 *
 * Buffers: one mbuf pool whose private area (64 B, between the rte_mbuf and
 * its data room) is a struct dbuf, so dbuf->buf is the mbuf's data room and
 * the conversion either way is pointer arithmetic. dpdk_mem_attach() makes
 * that pool a struct mem size class (MEM_SMALL): demi_sgaalloc(<= 2 KiB) and
 * the stack's header buffers are then mbufs, received frames are handed up
 * in the mbuf they arrived in, and a pushed mbuf-backed payload goes out as
 * an indirect mbuf attached to it (zero copy). Our dbuf refcount counts our
 * references; the mbuf's own refcnt counts DPDK's (in-flight indirect mbufs).
 *
 * This header keeps DPDK's headers out of its users. Private header.
 */
#ifndef DEMI_DEV_DPDK_H
#define DEMI_DEV_DPDK_H

#include "net/netdev.h"

#include <stddef.h>
#include <stdint.h>

/* rte_eal_init() with @argv (argv[0] included; the strings are copied and
 * kept for the life of the process, as EAL may hold them). EAL initialises
 * once per process: later calls return the first call's result without
 * running it again, so after a failure every later call fails too (EAL
 * cannot be initialised twice). Returns 0 or an errno, with a message in
 * @err. EAL logs go to stderr at the level matching libdemi's unless
 * --log-level is in @argv. */
int dpdk_eal_init(int argc, char *const *argv, char *err, size_t errlen);

/* The first ethdev port; ENODEV when EAL found none. */
int dpdk_first_port(uint16_t *port);

/* Back size class MEM_SMALL of @m with the process's mbuf pool: @count
 * buffers for our own use, plus @slack for what the ports hold (receive
 * rings, frames in flight), each holding a frame of @frame_max bytes (0 or
 * at most MEM_SMALL_SIZE: the standard 2 KiB; more for jumbo frames, so a
 * received frame is still one mbuf, handed up in place). The pool is
 * created once per process and lives as long as it (ports and rings may
 * still hold mbufs of it after a shutdown); a later attach that needs more
 * or other buffers creates another. 0 or an errno, with a message in @err. */
int dpdk_mem_attach(struct mem *m, uint32_t count, uint32_t slack, uint32_t frame_max, char *err, size_t errlen);

/* Receive and transmit ring sizes asked of the port (it may adjust them). */
#define DPDK_RX_DESC 1024u
#define DPDK_TX_DESC 1024u

struct dpdk_port_params {
    uint16_t port;
    uint32_t mtu;          /* IP MTU wanted; capped by the port and one mbuf */
    const uint8_t *mac;    /* the MAC the configuration wants, or NULL */
    uint32_t link_wait_ms; /* 0: do not wait for the link */
};

/* Configure and start port @p->port with one queue pair, its receive ring
 * filled from @m's mbuf class (dpdk_mem_attach first). On success *@out is
 * the netdev; else an errno with a message naming the port in @err. */
int dpdk_netdev_create(struct mem *m, const struct dpdk_port_params *p, struct netdev **out, char *err, size_t errlen);

/* Whether the link of a dpdk netdev is up now. */
bool dpdk_netdev_link_up(struct netdev *dev);

/* Whether @d's bytes live in an mbuf of the pool (for tests). */
bool dpdk_dbuf_is_mbuf(const struct dbuf *d);

/* The mbuf refcnt of @d's mbuf (DPDK's count, not ours; for tests). */
uint16_t dpdk_dbuf_mbuf_refcnt(const struct dbuf *d);

/* Mbufs of the process's pool not in the pool: held by us, a port or a
 * ring (for tests: back to its start value when everything is released). */
uint32_t dpdk_mbufs_out(void);

#endif /* DEMI_DEV_DPDK_H */
