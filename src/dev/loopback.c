/* SPDX-License-Identifier: MIT */
#include "dev/loopback.h"

#include <stdlib.h>
#include <string.h>

struct loopback {
    struct netdev dev;
    struct mem *mem;
    struct dbuf **ring;
    uint32_t cap, head, len;
};

static uint16_t lo_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct loopback *lo = container_of(dev, struct loopback, dev);
    uint16_t i;

    for (i = 0; i < n && lo->len > 0; i++) {
        frames[i] = lo->ring[lo->head];
        lo->head = (lo->head + 1) % lo->cap;
        lo->len--;
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += frames[i]->len;
    }
    return i;
}

/* Each frame is copied into one buffer, as it would arrive from a wire: the
 * receive path then owns a linear frame and the sender's buffers (possibly
 * held for retransmission) are never shared with the receiver. */
static uint16_t lo_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct loopback *lo = container_of(dev, struct loopback, dev);
    uint16_t i;

    for (i = 0; i < n; i++) {
        uint32_t len = dbuf_chain_len(frames[i]);
        struct dbuf *copy;

        if (lo->len == lo->cap) {
            dev->stats.tx_full++;
            break;
        }
        copy = mem_alloc(lo->mem, len);
        if (!copy) {
            dev->stats.rx_nobuf++;
            break;
        }
        dbuf_chain_copy(frames[i], copy->data);
        dbuf_chain_put(frames[i]);
        lo->ring[(lo->head + lo->len++) % lo->cap] = copy;
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
    }
    return i;
}

static void lo_destroy(struct netdev *dev)
{
    struct loopback *lo = container_of(dev, struct loopback, dev);

    while (lo->len > 0) {
        dbuf_put(lo->ring[lo->head]);
        lo->head = (lo->head + 1) % lo->cap;
        lo->len--;
    }
    free(lo->ring);
    free(lo);
}

static const struct netdev_ops loopback_ops = {
    .rx_burst = lo_rx_burst,
    .tx_burst = lo_tx_burst,
    .destroy = lo_destroy,
};

struct netdev *loopback_create(struct mem *mem, const uint8_t mac[ETH_ALEN], uint32_t mtu, uint32_t ring_len)
{
    struct loopback *lo = calloc(1, sizeof(*lo));

    if (!lo)
        return NULL;
    lo->ring = calloc(ring_len, sizeof(*lo->ring));
    if (!lo->ring) {
        free(lo);
        return NULL;
    }
    lo->cap = ring_len;
    lo->mem = mem;
    lo->dev.ops = &loopback_ops;
    strcpy(lo->dev.name, "loopback");
    memcpy(lo->dev.mac, mac, ETH_ALEN);
    lo->dev.mtu = mtu;
    lo->dev.loopback = true;
    return &lo->dev;
}
