/* SPDX-License-Identifier: MIT */
/*
 * netdev.h: the device interface under the network stack. A netdev moves
 * whole Ethernet frames as dbufs and knows nothing of protocols.
 *
 * Ownership: rx_burst hands the caller one reference per frame; tx_burst
 * takes one reference per frame it accepts (it returns how many it took, in
 * order; the caller still owns the rest). A frame may be a chain of dbufs
 * linked by dbuf->next (header buffer, then payload buffers), so a payload
 * held by a retransmission queue is sent without copying. Drivers in the
 * Redis ae_* style: one file each, the same small set of operations.
 *
 * It lives in net/, the layer that uses it, not in dev/, the layer that
 * implements it: the stack depends on this interface only, and the drivers
 * depend on the stack's layer (checksums, protocol headers), never the
 * other way round (docs/architecture.md, "Layers"). Private header.
 */
#ifndef DEMI_NET_NETDEV_H
#define DEMI_NET_NETDEV_H

#include "mem/dbuf.h"

#include <stdbool.h>
#include <stdint.h>

#define NETDEV_NAME_MAX 32
#define ETH_ALEN 6

/* Offloads a device may offer; the stack uses what is set. */
#define NETDEV_OFF_IPV4_CSUM 0x1 /* device fills the IPv4 header checksum */
#define NETDEV_OFF_UDP_CSUM 0x2  /* device fills UDP checksums */
#define NETDEV_OFF_TCP_CSUM 0x4  /* device fills TCP checksums */
#define NETDEV_OFF_RX_CSUM 0x8   /* device verified rx checksums (dbuf flag says ok) */
#define NETDEV_OFF_TCP_TSO 0x10  /* device cuts large TCP segments (see DBUF_F_TX_TSO) */

/*
 * TCP segmentation offload, per frame. The stack marks the head dbuf of a
 * TCP frame longer than the MTU with DBUF_F_TX_TSO and puts in its meta32
 * the payload bytes of each wire segment (the MSS less options); the device
 * cuts the payload into segments of that size, each with a copy of the
 * Ethernet, IPv4 and TCP headers (options included), fixes lengths,
 * sequence numbers, IP ids and checksums, and keeps PSH/FIN for the last.
 * The stack leaves the TCP checksum of such a frame at 0 whatever the
 * checksum offload keys say. dbuf_alloc clears flags, so no other frame
 * carries the bit. Only a netdev with NETDEV_OFF_TCP_TSO gets such frames,
 * never larger than its tso_max_len payload nor more than tso_max_segs wire
 * segments.
 */

struct netdev;

struct netdev_ops {
    /* Up to @n received frames into @frames; returns how many. */
    uint16_t (*rx_burst)(struct netdev *dev, struct dbuf **frames, uint16_t n);
    /* Send up to @n frames; returns how many were taken. */
    uint16_t (*tx_burst)(struct netdev *dev, struct dbuf **frames, uint16_t n);
    void (*destroy)(struct netdev *dev);
    /* Optional: whether the link is up now (NULL: assumed up). */
    bool (*link_up)(struct netdev *dev);
    /* Optional: receive the Ethernet group @mac (IPv6's all-nodes and
     * solicited-node groups) from now on; 0 or an errno. NULL: the device
     * passes every group up already (loopback, test devices), or cannot
     * filter. The stack still drops groups it did not join (eth.c). */
    int (*mcast_add)(struct netdev *dev, const uint8_t mac[ETH_ALEN]);
};

struct netdev_stats {
    uint64_t rx_frames, rx_bytes;
    uint64_t tx_frames, tx_bytes;
    uint64_t tx_full;  /* frames refused because the device queue was full */
    uint64_t rx_nobuf; /* frames lost: no buffer to receive into */
};

struct netdev {
    const struct netdev_ops *ops;
    char name[NETDEV_NAME_MAX];
    uint8_t mac[ETH_ALEN];
    uint32_t mtu;          /* IP MTU: largest IPv4 packet, without Ethernet header */
    uint32_t offloads;     /* NETDEV_OFF_* */
    uint32_t tso_max_len;  /* NETDEV_OFF_TCP_TSO: largest TCP payload of one frame */
    uint16_t tso_max_segs; /* ... and the most wire segments one frame may become */
    bool loopback;         /* frames come back to us: our own address is a valid source */
    bool stats_at_exit;    /* libdemi.stats: destroy prints the driver's own counters */
    struct netdev_stats stats;
};

static inline uint16_t netdev_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    return dev->ops->rx_burst(dev, frames, n);
}

static inline uint16_t netdev_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    return dev->ops->tx_burst(dev, frames, n);
}

static inline bool netdev_link_up(struct netdev *dev)
{
    return !dev->ops->link_up || dev->ops->link_up(dev);
}

static inline void netdev_destroy(struct netdev *dev)
{
    dev->ops->destroy(dev);
}

#endif /* DEMI_NET_NETDEV_H */
