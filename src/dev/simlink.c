/* SPDX-License-Identifier: MIT */
/*
 * simlink.c: the in-memory Ethernet segment (simlink.h). A sent frame is
 * linearized into one wire copy, captured, serialised at the sender's rate,
 * then copied to each listening port through the fault stage into that
 * port's delay line; rx_burst takes what is due by clock_now_ns().
 */
#include "dev/simlink.h"

#include "core/clock.h"
#include "dev/fault_stage.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN 14
/* tcpdump's own largest snapshot; frames are never longer in practice. */
#define CAPTURE_SNAPLEN 262144

struct simlink_port {
    struct netdev dev;
    struct simlink *link;
    struct fault_queue rxq; /* frames on their way to this port */
    uint64_t tx_free_ns;    /* when this port's wire is free (rate limit) */
};

struct simlink {
    struct mem *mem;
    uint32_t queue_len;
    struct simlink_port **ports; /* each port allocated alone: its netdev
                                    pointer stays valid as ports are added */
    uint32_t nports, ports_cap;
    struct fault_stage stage; /* one PRNG for the link: one draw order */
    struct simlink_stats stats;
    pcap_t *pcap;
    pcap_dumper_t *dumper;
};

static struct simlink_port *port_of(struct netdev *dev)
{
    return container_of(dev, struct simlink_port, dev);
}

static void capture(struct simlink *l, const struct dbuf *frame, uint64_t now_ns)
{
    struct pcap_pkthdr h;

    if (!l->dumper)
        return;
    memset(&h, 0, sizeof(h));
    h.ts.tv_sec = (time_t)(now_ns / 1000000000ull);
    /* The dead handle is in nanosecond precision: tv_usec holds ns. */
    h.ts.tv_usec = (suseconds_t)(now_ns % 1000000000ull);
    h.len = frame->len;
    h.caplen = MIN(frame->len, (uint32_t)CAPTURE_SNAPLEN);
    pcap_dump((u_char *)l->dumper, &h, frame->data);
}

/* Whether @p hears a frame for @dst: its own MAC, or any group address. */
static bool port_listens(const struct simlink_port *p, const uint8_t *dst)
{
    return (dst[0] & 1) || memcmp(p->dev.mac, dst, ETH_ALEN) == 0;
}

/* One valid wire copy from @src to every listening port; consumes @wire. */
static void fan_out(struct simlink *l, struct simlink_port *src, struct dbuf *wire, uint64_t t)
{
    uint32_t remaining = 0;

    for (uint32_t i = 0; i < l->nports; i++)
        if (l->ports[i] != src && port_listens(l->ports[i], wire->data))
            remaining++;
    if (remaining == 0) {
        l->stats.no_dest++;
        dbuf_put(wire);
        return;
    }
    for (uint32_t i = 0; i < l->nports && remaining > 0; i++) {
        struct simlink_port *dst = l->ports[i];
        struct fault_losses lost = {0};
        struct dbuf *copy;

        if (dst == src || !port_listens(dst, wire->data))
            continue;
        /* Each receiver owns its buffer (its stack strips headers in
         * place); the last one gets the wire copy itself. */
        copy = --remaining == 0 ? wire : frame_linearize(l->mem, wire);
        if (!copy) {
            l->stats.nobuf++;
            dst->dev.stats.rx_nobuf++;
            continue;
        }
        fault_stage_send(&l->stage, &dst->rxq, l->mem, copy, t, &lost);
        l->stats.nobuf += lost.nobuf;
        dst->dev.stats.rx_nobuf += lost.nobuf;
        l->stats.overflow += lost.overflow;
        src->dev.stats.tx_full += lost.overflow;
    }
}

/* Takes every frame: a wire never refuses, it drops (and counts). */
static uint16_t port_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct simlink_port *p = port_of(dev);
    struct simlink *l = p->link;
    uint64_t now = clock_now_ns();

    for (uint16_t i = 0; i < n; i++) {
        uint32_t len = dbuf_chain_len(frames[i]);
        struct dbuf *wire = NULL;

        if (len < ETH_HLEN)
            l->stats.runts++;
        else if ((uint64_t)len > (uint64_t)dev->mtu + ETH_HLEN)
            l->stats.oversize++;
        else if (!(wire = frame_linearize(l->mem, frames[i])))
            l->stats.nobuf++;
        dbuf_chain_put(frames[i]);
        if (!wire)
            continue;
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
        capture(l, wire, now);
        fan_out(l, p, wire, fault_serialise(&l->stage.p, &p->tx_free_ns, len, now));
    }
    return n;
}

static uint16_t port_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct simlink_port *p = port_of(dev);
    uint64_t now = clock_now_ns();
    struct fault_qentry e;
    uint16_t k = 0;

    while (k < n && fault_queue_pop(&p->rxq, now, &e)) {
        frames[k++] = e.frame;
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += e.frame->len;
    }
    return k;
}

/* The returned dbuf has len = @len (0 allowed), data at the headroom. */
/* Ports live as long as the link: simlink_destroy frees them. */
static void port_destroy(struct netdev *dev)
{
    (void)dev;
}

static const struct netdev_ops simlink_port_ops = {
    .rx_burst = port_rx_burst,
    .tx_burst = port_tx_burst,
    .destroy = port_destroy,
};

struct simlink *simlink_create(struct mem *mem, const struct fault_params *faults, uint32_t queue_len)
{
    struct simlink *l;

    if (!mem || queue_len == 0)
        return NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->mem = mem;
    l->queue_len = queue_len;
    fault_stage_init(&l->stage, faults);
    return l;
}

static void capture_close(struct simlink *l)
{
    if (l->dumper)
        pcap_dump_close(l->dumper);
    if (l->pcap)
        pcap_close(l->pcap);
    l->dumper = NULL;
    l->pcap = NULL;
}

void simlink_destroy(struct simlink *l)
{
    if (!l)
        return;
    for (uint32_t i = 0; i < l->nports; i++) {
        fault_queue_fini(&l->ports[i]->rxq);
        free(l->ports[i]);
    }
    free(l->ports);
    capture_close(l);
    free(l);
}

struct netdev *simlink_port(struct simlink *l, const uint8_t mac[ETH_ALEN], uint32_t mtu)
{
    struct simlink_port *p;

    if (l->nports == l->ports_cap) {
        uint32_t cap = l->ports_cap ? 2 * l->ports_cap : 4;
        struct simlink_port **ports = realloc(l->ports, cap * sizeof(*ports));
        if (!ports)
            return NULL;
        l->ports = ports;
        l->ports_cap = cap;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (fault_queue_init(&p->rxq, l->queue_len) != 0) {
        free(p);
        return NULL;
    }
    p->link = l;
    p->dev.ops = &simlink_port_ops;
    snprintf(p->dev.name, sizeof(p->dev.name), "sim%u", l->nports);
    memcpy(p->dev.mac, mac, ETH_ALEN);
    p->dev.mtu = mtu;
    p->dev.offloads = 0; /* the stack computes checksums: corruption shows */
    l->ports[l->nports++] = p;
    return &p->dev;
}

int simlink_capture(struct simlink *l, const char *path)
{
    int err;

    capture_close(l);
    l->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, CAPTURE_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
    if (!l->pcap)
        return ENOMEM;
    errno = 0;
    l->dumper = pcap_dump_open(l->pcap, path);
    if (!l->dumper) {
        err = errno ? errno : EIO;
        capture_close(l);
        return err;
    }
    return 0;
}

void simlink_set_faults(struct simlink *l, const struct fault_params *faults)
{
    fault_stage_set(&l->stage, faults);
}

const struct fault_stats *simlink_fault_stats(const struct simlink *l)
{
    return &l->stage.stats;
}

const struct simlink_stats *simlink_link_stats(const struct simlink *l)
{
    return &l->stats;
}

uint64_t simlink_next_delivery(const struct simlink *l)
{
    uint64_t next = UINT64_MAX;

    for (uint32_t i = 0; i < l->nports; i++)
        next = MIN(next, fault_queue_next(&l->ports[i]->rxq));
    return next;
}
