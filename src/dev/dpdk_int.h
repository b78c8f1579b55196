/* SPDX-License-Identifier: MIT */
/*
 * dpdk_int.h: what the parts of the DPDK driver share: the mbuf pool
 * (dpdk_mem.c: EAL, the pool as libdemi's small buffer class) and the port
 * (dpdk.c: the netdev; dpdk_port.c: bringing it up). Includes DPDK's
 * headers: only those three files may include it. Private header.
 *
 * Memory layout of one mbuf of the pool:
 *
 *   [struct rte_mbuf 128 B][struct dbuf 64 B = priv area][data room 2176 B]
 *
 * (the data room is larger with jumbo frames: a whole frame fits one mbuf),
 *                                         dbuf->buf == mbuf->buf_addr ^
 *
 * so dbuf->buf + DBUF_HEADROOM is where the mbuf's data starts by default
 * (RTE_PKTMBUF_HEADROOM is 128 too), and d->data - d->buf is data_off.
 */
#ifndef DEMI_DEV_DPDK_INT_H
#define DEMI_DEV_DPDK_INT_H

/* libdemi's headers first: DPDK's guard their likely()/container_of(). */
#include "dev/dpdk.h"

#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* The dbuf sits in the mbuf private area, right in front of the data room. */
BUILD_BUG_ON(sizeof(struct dbuf) % RTE_MBUF_PRIV_ALIGN != 0);
BUILD_BUG_ON(sizeof(struct rte_mbuf) % 64 != 0); /* dbufs stay 64 B aligned: sga_buf tags */

/* The data room of the pool's mbufs: the headroom and the small class,
 * or a whole jumbo frame when that is larger. */
#define MBUF_DATA_ROOM_MIN (DBUF_HEADROOM + MEM_SMALL_SIZE)
#define MBUF_CACHE 256u /* per-lcore cache of each mempool */

/* Objects of the mempool, as runs of equal stride sorted by address: the
 * lookup of a pointer is a binary search over a handful of runs (one per
 * memory chunk, more only where the pool skipped page boundaries). */
struct obj_run {
    uintptr_t first; /* mbuf address of the first object */
    uintptr_t last;  /* of the last one */
    uintptr_t end;   /* one past the last object's data room */
    size_t stride;   /* between objects (1 for a single object) */
};

struct dpdk_mem {
    struct rte_mempool *mp;  /* direct mbufs, a struct dbuf in each priv area */
    struct rte_mempool *ind; /* indirect mbufs (no data room): zero-copy tx */
    uint32_t count;          /* mbufs in mp */
    uint32_t data_room;      /* of each mbuf in mp: DBUF_HEADROOM + the small class's size */
    struct obj_run *runs;
    uint32_t nruns;
    struct dbuf_pool *pool; /* the struct mem class backed by mp, NULL if none */
    unsigned generation;    /* pools created so far (their names) */
};

/* The mbuf pool backing @m's small class, or NULL. */
struct dpdk_mem *dpdk_mem_of(const struct mem *m);

static inline struct dbuf *mbuf_dbuf(struct rte_mbuf *m)
{
    return (struct dbuf *)(m + 1);
}

static inline struct rte_mbuf *dbuf_mbuf(const struct dbuf *d)
{
    return (struct rte_mbuf *)(uintptr_t)d - 1;
}

/* A message into @err (@errlen bytes; @err may be NULL). */
void dpdk_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- dpdk_port.c: bringing a port up ------------------------------------ */

/* The port's MAC into @out, or @want (if not NULL) when they differ and the
 * port accepts it; 0, or an errno with a message in @err. */
int dpdk_port_mac(uint16_t port, const char *pname, const uint8_t *want, uint8_t out[6], char *err, size_t errlen);

/* The MTU to configure the port with for a stack MTU of @mtu (net_memif's
 * reported limit is not its real one). */
uint32_t dpdk_port_mtu_for(const struct rte_eth_dev_info *info, uint32_t mtu);

/* TCP segmentation offload: whether port @info may take TSO frames given
 * the tx offloads @tx it is configured with (TSO itself, multi-segment
 * mbufs, IPv4 and TCP checksums: DPDK's TSO fills both per segment), and
 * the limits the netdev advertises (netdev.h): the largest payload of one
 * frame, its wire segments, and the mbufs one frame's chain may have. */
bool dpdk_port_tso(const struct rte_eth_dev_info *info, uint64_t tx, uint32_t *max_len, uint16_t *max_segs,
                   uint16_t *max_mbufs);

/* Start @port and wait up to @wait_ms for its link (a memif client starts
 * again until its server is there); 0, or an errno with a message. */
int dpdk_port_start(uint16_t port, const char *pname, const char *driver, uint32_t wait_ms, char *err, size_t errlen);

#endif /* DEMI_DEV_DPDK_INT_H */
