/* SPDX-License-Identifier: MIT */
#include "dev/scriptdev.h"

#include "core/clock.h"
#include "net/checksum.h"
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

/* An IPv6 Neighbor Solicitation or Advertisement (never a script's: ND is
 * answered here, as ARP is). @frame is a whole IPv6 frame of @len bytes. */
static bool sd_is_nd(const uint8_t *frame, uint32_t len)
{
    const struct ipv6_hdr *ip = (const struct ipv6_hdr *)(frame + ETH_HLEN);
    const uint8_t *l4 = frame + ETH_HLEN + IPV6_HLEN;

    return len >= ETH_HLEN + IPV6_HLEN + sizeof(struct nd_msg) && ip->next == IPV6_NH_ICMPV6 &&
           (l4[0] == ND_NEIGHBOR_SOLICIT || l4[0] == ND_NEIGHBOR_ADVERT);
}

/* Answer a Neighbor Solicitation for anyone with the peer's MAC: a solicited
 * NA from the target (RFC 4861 7.2.4), to the soliciting address. A DAD
 * probe (from ::, RFC 4862 5.4.2) is not answered: the stack's addresses are
 * unique on this link. */
static void sd_answer_ns(struct scriptdev *sd, const uint8_t *frame)
{
    const struct ipv6_hdr *ns_ip = (const struct ipv6_hdr *)(frame + ETH_HLEN);
    const struct nd_msg *ns = (const struct nd_msg *)(ns_ip + 1);
    static const uint8_t unspec[16];
    const uint32_t nalen = sizeof(struct nd_msg) + sizeof(struct nd_opt_lladdr);
    struct ipv6_hdr *ip;
    struct eth_hdr *eh;
    struct nd_msg *na;
    struct nd_opt_lladdr *o;
    struct csum c;
    struct dbuf *d;

    if (ns->h.type != ND_NEIGHBOR_SOLICIT || memcmp(ns_ip->src, unspec, 16) == 0)
        return;
    d = mem_alloc(sd->mem, ETH_HLEN + IPV6_HLEN + nalen);
    if (!d)
        return;
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, frame + ETH_ALEN, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(ETH_TYPE_IPV6);
    ip = (struct ipv6_hdr *)(eh + 1);
    ip->vtc_flow = htonl(6u << 28);
    ip->payload_len = htons((uint16_t)nalen);
    ip->next = IPV6_NH_ICMPV6;
    ip->hop_limit = ND_HOP_LIMIT;
    memcpy(ip->src, ns->target, 16);
    memcpy(ip->dst, ns_ip->src, 16);
    na = (struct nd_msg *)(ip + 1);
    memset(na, 0, sizeof(*na));
    na->h.type = ND_NEIGHBOR_ADVERT;
    na->h.data = htonl(ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
    memcpy(na->target, ns->target, 16);
    o = (struct nd_opt_lladdr *)(na + 1);
    o->type = ND_OPT_TARGET_LL;
    o->len = 1;
    memcpy(o->mac, peer_mac, ETH_ALEN);
    csum_init(&c);
    csum_add_pseudo6(&c, ip->src, ip->dst, IPV6_NH_ICMPV6, nalen);
    csum_add(&c, na, nalen);
    na->h.csum = csum_finish(&c);
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
        if (len >= ETH_HLEN && eh->type == htons(ETH_TYPE_IPV6) && sd_is_nd(copy->data, len)) {
            sd_answer_ns(sd, copy->data);
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

    bool v6 = pkt && len > 0 && (((const uint8_t *)pkt)[0] >> 4) == 6;

    if (!pkt || len < (v6 ? IPV6_HLEN : IPV4_HLEN) || len > 65535)
        return EINVAL;
    d = mem_alloc(sd->mem, (uint32_t)(ETH_HLEN + len));
    if (!d)
        return ENOMEM;
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, dev->mac, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IPV4);
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
