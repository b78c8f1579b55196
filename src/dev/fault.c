/* SPDX-License-Identifier: MIT */
/*
 * fault.c: fault_wrap (fault.h), the simlink's fault stage in front of
 * any netdev's transmit. Sent frames are linearized (so corruption never
 * touches the sender's buffers, which a retransmission queue may still
 * hold), pass the fault stage into a delay line, and are handed to the inner
 * device once due, on any later call of the wrapper. Receive passes through.
 */
#include "dev/fault.h"

#include "core/clock.h"
#include "dev/fault_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames in flight in the wrapper; past that tx_burst pushes back. */
#define FAULT_QUEUE_LEN 1024
#define FLUSH_BURST 32

struct fault_dev {
    struct netdev dev;
    struct netdev *inner;
    struct mem *mem;
    struct fault_stage stage;
    struct fault_queue txq;
    uint64_t tx_free_ns; /* rate limit: when the wrapper's wire is free */
};

static const struct netdev_ops fault_ops;

static struct fault_dev *fault_of(struct netdev *dev)
{
    return container_of(dev, struct fault_dev, dev);
}

/* Hand every due frame to the inner device, in delivery order. */
static void flush(struct fault_dev *fd)
{
    uint64_t now = clock_now_ns();

    for (;;) {
        struct fault_qentry e[FLUSH_BURST];
        struct dbuf *f[FLUSH_BURST];
        uint16_t k = 0, took;

        while (k < FLUSH_BURST && fault_queue_pop(&fd->txq, now, &e[k])) {
            f[k] = e[k].frame;
            k++;
        }
        if (k == 0)
            return;
        took = netdev_tx_burst(fd->inner, f, k);
        /* The inner device is full: what it left waits, in order (the
         * popped keys still sort first), for the next call. */
        for (uint16_t i = took; i < k; i++)
            fault_queue_unpop(&fd->txq, &e[i]);
        if (took < k)
            return;
    }
}

static uint16_t fault_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct fault_dev *fd = fault_of(dev);
    uint64_t now = clock_now_ns();
    uint16_t i;

    flush(fd);
    for (i = 0; i < n; i++) {
        struct fault_losses lost = {0};
        struct dbuf *wire;
        uint64_t t;

        /* Room for the frame and a duplicate: once taken, a frame is never
         * lost for space, the caller is pushed back instead. */
        if (fault_queue_count(&fd->txq) + 2 > fd->txq.cap)
            break;
        wire = frame_linearize(fd->mem, frames[i]);
        if (!wire)
            break;
        dbuf_chain_put(frames[i]);
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += wire->len;
        t = fault_serialise(&fd->stage.p, &fd->tx_free_ns, wire->len, now);
        /* lost.nobuf means only that a duplicate was not made (and not
         * counted as duplicated); overflow cannot happen, room was checked. */
        fault_stage_send(&fd->stage, &fd->txq, fd->mem, wire, t, &lost);
    }
    dev->stats.tx_full += (uint16_t)(n - i);
    flush(fd);
    return i;
}

static uint16_t fault_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct fault_dev *fd = fault_of(dev);
    uint16_t k;

    flush(fd);
    k = netdev_rx_burst(fd->inner, frames, n);
    for (uint16_t i = 0; i < k; i++) {
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += dbuf_chain_len(frames[i]);
    }
    return k;
}

/* The inner device's buffers: the stack prepares frames for it. */
static void fault_destroy(struct netdev *dev)
{
    struct fault_dev *fd = fault_of(dev);

    fault_queue_fini(&fd->txq);
    netdev_destroy(fd->inner);
    free(fd);
}

static const struct netdev_ops fault_ops = {
    .rx_burst = fault_rx_burst,
    .tx_burst = fault_tx_burst,
    .destroy = fault_destroy,
};

struct netdev *fault_wrap(struct netdev *inner, struct mem *mem, const struct fault_params *faults)
{
    struct fault_dev *fd;

    if (!inner || !mem)
        return NULL;
    fd = calloc(1, sizeof(*fd));
    if (!fd)
        return NULL;
    if (fault_queue_init(&fd->txq, FAULT_QUEUE_LEN) != 0) {
        free(fd);
        return NULL;
    }
    fd->inner = inner;
    fd->mem = mem;
    fault_stage_init(&fd->stage, faults);
    fd->dev.ops = &fault_ops;
    snprintf(fd->dev.name, sizeof(fd->dev.name), "f-%.29s", inner->name);
    memcpy(fd->dev.mac, inner->mac, ETH_ALEN);
    fd->dev.mtu = inner->mtu;
    fd->dev.offloads = inner->offloads;
    return &fd->dev;
}

const struct fault_stats *fault_wrap_stats(const struct netdev *wrapped)
{
    if (!wrapped || wrapped->ops != &fault_ops)
        return NULL;
    return &container_of(wrapped, const struct fault_dev, dev)->stage.stats;
}
