/* SPDX-License-Identifier: MIT */
/* soak_wire.c: see soak_wire.h. */
#include "soak_wire.h"

#include "libos/runtime.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <string.h>

/* ------------------------------------------------------------------ random */

static uint64_t rng_state;

void soak_rng_seed(uint64_t seed)
{
    rng_state = seed;
}

uint64_t soak_rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t soak_rnd_range(uint64_t lo, uint64_t hi)
{
    return lo + soak_rnd() % (hi - lo + 1);
}

/* ------------------------------------------------- a lossy device wrapper */

/* In front of the loopback's transmit side, switched on and off during the
 * run: drops, duplicates (a copy), or holds a frame back behind the next. */
struct lossdev {
    struct netdev dev;
    struct netdev *inner;
    bool on;
    uint32_t loss_ppm, dup_ppm, reorder_ppm;
    struct dbuf *held;
    struct soak_wire_stats st;
};

static struct lossdev lossdev;

static bool chance(uint32_t ppm)
{
    return ppm && soak_rnd() % 1000000u < ppm;
}

static uint16_t inner_tx1(struct dbuf *f)
{
    return netdev_tx_burst(lossdev.inner, &f, 1);
}

/* A copy of frame @f in one buffer, or NULL. */
static struct dbuf *frame_copy(const struct dbuf *f)
{
    uint32_t len = dbuf_chain_len(f);
    struct dbuf *c = mem_alloc(&rt.mem, len);
    uint8_t *p;

    if (c)
        c->len = 0; /* whatever the device's alloc set: we append */
    if (!c || !(p = dbuf_append(c, len))) {
        if (c)
            dbuf_put(c);
        return NULL;
    }
    for (; f; f = f->next) {
        memcpy(p, f->data, f->len);
        p += f->len;
    }
    return c;
}

static void lossdev_release_held(void)
{
    if (lossdev.held && inner_tx1(lossdev.held) == 1)
        lossdev.held = NULL;
}

static uint16_t lossdev_tx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct lossdev *l = (struct lossdev *)dev;
    uint16_t i;

    for (i = 0; i < n; i++) {
        struct dbuf *f = frames[i];

        l->st.offered++;
        if (l->on && chance(l->loss_ppm)) {
            dbuf_chain_put(f);
            l->st.dropped++;
            continue;
        }
        if (l->on && !l->held && chance(l->reorder_ppm)) {
            l->held = f; /* leaves behind the next frame */
            l->st.reordered++;
            continue;
        }
        if (l->on && chance(l->dup_ppm)) {
            struct dbuf *c = frame_copy(f);
            if (c && inner_tx1(c) == 0)
                dbuf_put(c);
            else if (c)
                l->st.duplicated++;
        }
        if (inner_tx1(f) == 0)
            break; /* the inner device is full: the caller keeps the rest */
        lossdev_release_held();
    }
    return i;
}

static uint16_t lossdev_rx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct lossdev *l = (struct lossdev *)dev;

    lossdev_release_held(); /* a held frame waits at most one poll round */
    return netdev_rx_burst(l->inner, frames, n);
}

static void lossdev_destroy(struct netdev *dev)
{
    (void)dev; /* never installed as the libOS's device: nothing to free */
}

static const struct netdev_ops lossdev_ops = {
    .rx_burst = lossdev_rx,
    .tx_burst = lossdev_tx,
    .destroy = lossdev_destroy,
};

void soak_wire_install(struct inet_stack *s, uint32_t loss_ppm)
{
    memset(&lossdev, 0, sizeof(lossdev));
    lossdev.inner = s->dev;
    lossdev.dev = *s->dev;
    lossdev.dev.ops = &lossdev_ops;
    lossdev.loss_ppm = loss_ppm;
    lossdev.dup_ppm = loss_ppm / 2;
    lossdev.reorder_ppm = loss_ppm;
    s->dev = &lossdev.dev;
}

void soak_wire_faults(bool on)
{
    lossdev.on = on;
}

void soak_wire_remove(struct inet_stack *s)
{
    lossdev.on = false;
    if (lossdev.held) {
        dbuf_chain_put(lossdev.held);
        lossdev.held = NULL;
    }
    s->dev = lossdev.inner;
}

/* --------------------------------------------------------------- SYN burst */

static uint32_t syn_source(uint32_t ours)
{
    /* Martians (RFC 1122 3.2.1.3): loopback, unspecified, broadcast,
     * multicast, reserved, and our own address (the last, NULL). */
    static const char *const martians[] = {"127.0.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", NULL};
    struct in_addr a;

    if (soak_rnd() % 32 == 0) {
        const char *m = martians[soak_rnd() % (sizeof(martians) / sizeof(martians[0]))];

        lossdev.st.syns_martian++;
        if (!m)
            return ours;
        inet_pton(AF_INET, m, &a);
        return a.s_addr;
    }
    for (;;) {
        uint32_t ip = htonl(0x0a070000u | (uint32_t)(soak_rnd() & 0xffff)); /* 10.7.0.0/16 */
        if (ip != ours && (ntohl(ip) & 0xff) != 0 && (ntohl(ip) & 0xff) != 255)
            return ip;
    }
}

void soak_syn_inject(struct inet_stack *s, uint16_t dport)
{
    const uint32_t tcp_len = TCP_HLEN + 4, ip_len = IPV4_HLEN + tcp_len;
    struct dbuf *d = mem_alloc(&rt.mem, ETH_HLEN + ip_len);
    struct eth_hdr *eth;
    struct ipv4_hdr *ip;
    struct tcp_hdr *th;
    uint8_t *opt;
    struct csum c;

    if (!d)
        return;
    d->len = 0; /* mem_alloc set it to the size asked: we append */
    eth = dbuf_append(d, ETH_HLEN + ip_len);
    memset(eth, 0, ETH_HLEN + ip_len);
    memcpy(eth->dst, s->mac, ETH_ALEN);
    eth->src[0] = 0x02;
    for (int i = 1; i < ETH_ALEN; i++)
        eth->src[i] = (uint8_t)soak_rnd();
    eth->type = htons(ETH_TYPE_IPV4);
    ip = (struct ipv4_hdr *)(eth + 1);
    ip->ver_ihl = 0x45;
    ip->total_len = htons((uint16_t)ip_len);
    ip->id = (uint16_t)soak_rnd();
    ip->ttl = 64;
    ip->proto = IPV4_PROTO_TCP;
    ip->src = syn_source(s->ip);
    ip->dst = s->ip;
    ip->csum = inet_csum(ip, IPV4_HLEN);
    th = (struct tcp_hdr *)(ip + 1);
    th->sport = htons((uint16_t)soak_rnd_range(1024, 65535));
    th->dport = htons(dport);
    th->seq = (uint32_t)soak_rnd();
    th->off = (uint8_t)((tcp_len / 4) << 4);
    th->flags = TH_SYN;
    th->win = htons(65535);
    opt = (uint8_t *)(th + 1);
    opt[0] = 2; /* MSS 1460 */
    opt[1] = 4;
    opt[2] = 1460 >> 8;
    opt[3] = 1460 & 0xff;
    csum_init(&c);
    csum_add_pseudo(&c, ip->src, ip->dst, IPV4_PROTO_TCP, (uint16_t)tcp_len);
    csum_add(&c, th, tcp_len);
    th->csum = csum_finish(&c);
    lossdev.st.syns++;
    eth_input(s, d);
}

const struct soak_wire_stats *soak_wire_stats(void)
{
    return &lossdev.st;
}
