/* SPDX-License-Identifier: MIT */
#include "dev/scriptdev.h"

#include "core/clock.h"
#include "net/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPTDEV_RING 4096

/* The MAC every address resolves to. */
static const uint8_t peer_mac[ETH_ALEN] = {0x02, 0xee, 0xee, 0xee, 0xee, 0x01};

struct sent {
    struct dbuf *frame; /* linear copy, Ethernet header included */
    uint64_t when_ns;
};

struct scriptdev {
    struct netdev dev;
    struct mem *mem;
    struct dbuf *rx[SCRIPTDEV_RING];
    uint32_t rx_head, rx_len;
    struct sent tx[SCRIPTDEV_RING];
    uint32_t tx_head, tx_len;
};

static struct scriptdev *sd_of(struct netdev *dev)
{
    return container_of(dev, struct scriptdev, dev);
}

static int sd_queue_rx(struct scriptdev *sd, struct dbuf *d)
{
    if (sd->rx_len == SCRIPTDEV_RING)
        return ENOBUFS;
    sd->rx[(sd->rx_head + sd->rx_len++) % SCRIPTDEV_RING] = d;
    return 0;
}

static uint16_t sd_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct scriptdev *sd = sd_of(dev);
    uint16_t i;

    for (i = 0; i < n && sd->rx_len > 0; i++) {
        frames[i] = sd->rx[sd->rx_head];
        sd->rx_head = (sd->rx_head + 1) % SCRIPTDEV_RING;
        sd->rx_len--;
    }
    return i;
}

/* Answer an ARP request for anyone with the peer's MAC. */
static void sd_answer_arp(struct scriptdev *sd, const uint8_t *frame, uint32_t len)
{
    const struct arp_hdr *a = (const struct arp_hdr *)(frame + ETH_HLEN);
    struct eth_hdr *eh;
    struct arp_hdr *r;
    struct dbuf *d;

    if (len < ETH_HLEN + sizeof(*a) || a->op != htons(ARP_OP_REQUEST))
        return;
    d = mem_alloc(sd->mem, ETH_HLEN + sizeof(*a));
    if (!d)
        return;
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, a->sha, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(ETH_TYPE_ARP);
    r = (struct arp_hdr *)(eh + 1);
    *r = *a;
    r->op = htons(ARP_OP_REPLY);
    memcpy(r->sha, peer_mac, ETH_ALEN);
    r->spa = a->tpa;
    memcpy(r->tha, a->sha, ETH_ALEN);
    r->tpa = a->spa;
    if (sd_queue_rx(sd, d))
        dbuf_put(d);
}

static uint16_t sd_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct scriptdev *sd = sd_of(dev);
    uint16_t i;

    for (i = 0; i < n; i++) {
        uint32_t len = dbuf_chain_len(frames[i]);
        struct dbuf *copy = mem_alloc(sd->mem, len);
        const struct eth_hdr *eh;

        if (!copy || sd->tx_len == SCRIPTDEV_RING) {
            if (copy)
                dbuf_put(copy);
            dev->stats.tx_full++;
            break;
        }
        dbuf_chain_copy(frames[i], copy->data);
        dbuf_chain_put(frames[i]);
        dev->stats.tx_frames++;
        eh = (const struct eth_hdr *)copy->data;
        if (len >= ETH_HLEN && eh->type == htons(ETH_TYPE_ARP)) {
            sd_answer_arp(sd, copy->data, len);
            dbuf_put(copy);
            continue;
        }
        sd->tx[(sd->tx_head + sd->tx_len) % SCRIPTDEV_RING] = (struct sent){copy, clock_now_ns()};
        sd->tx_len++;
    }
    return i;
}

static void sd_destroy(struct netdev *dev)
{
    struct scriptdev *sd = sd_of(dev);

    while (sd->rx_len > 0) {
        dbuf_put(sd->rx[sd->rx_head]);
        sd->rx_head = (sd->rx_head + 1) % SCRIPTDEV_RING;
        sd->rx_len--;
    }
    while (sd->tx_len > 0) {
        dbuf_put(sd->tx[sd->tx_head].frame);
        sd->tx_head = (sd->tx_head + 1) % SCRIPTDEV_RING;
        sd->tx_len--;
    }
    free(sd);
}

static const struct netdev_ops scriptdev_ops = {
    .rx_burst = sd_rx_burst,
    .tx_burst = sd_tx_burst,
    .destroy = sd_destroy,
};

struct netdev *scriptdev_create(struct mem *mem, const uint8_t mac[ETH_ALEN], uint32_t mtu)
{
    struct scriptdev *sd = calloc(1, sizeof(*sd));

    if (!sd)
        return NULL;
    sd->mem = mem;
    sd->dev.ops = &scriptdev_ops;
    strcpy(sd->dev.name, "scriptdev");
    memcpy(sd->dev.mac, mac, ETH_ALEN);
    sd->dev.mtu = mtu;
    return &sd->dev;
}

int scriptdev_inject(struct netdev *dev, const void *pkt, size_t len)
{
    struct scriptdev *sd = sd_of(dev);
    struct eth_hdr *eh;
    struct dbuf *d;
    int ret;

    if (!pkt || len < IPV4_HLEN || len > 65535)
        return EINVAL;
    d = mem_alloc(sd->mem, (uint32_t)(ETH_HLEN + len));
    if (!d)
        return ENOMEM;
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, dev->mac, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(ETH_TYPE_IPV4);
    memcpy(eh + 1, pkt, len);
    ret = sd_queue_rx(sd, d);
    if (ret)
        dbuf_put(d);
    return ret;
}

int scriptdev_take(struct netdev *dev, void *buf, size_t cap, size_t *len_out, uint64_t *when_ns)
{
    struct scriptdev *sd = sd_of(dev);
    struct sent *t;
    uint32_t len;

    if (sd->tx_len == 0)
        return EAGAIN;
    t = &sd->tx[sd->tx_head];
    len = t->frame->len - ETH_HLEN;
    *len_out = len;
    if (cap < len)
        return EMSGSIZE;
    memcpy(buf, t->frame->data + ETH_HLEN, len);
    if (when_ns)
        *when_ns = t->when_ns;
    dbuf_put(t->frame);
    sd->tx_head = (sd->tx_head + 1) % SCRIPTDEV_RING;
    sd->tx_len--;
    return 0;
}
