/* SPDX-License-Identifier: MIT */
/* eth.c: Ethernet II framing. */
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t eth_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct inet_stack *s, struct dbuf *d)
{
    const struct eth_hdr *eh;

    STAT_INC(s, eth_rx);
    eh = dbuf_adj(d, ETH_HLEN);
    if (!eh) {
        STAT_INC(s, eth_drop_runt);
        goto drop;
    }
    /* Ours, broadcast, or an IPv6 group we joined (ipv6.h): the group
     * check only where the unicast one failed, off IPv4's path. */
    if (memcmp(eh->dst, s->mac, ETH_ALEN) != 0 && memcmp(eh->dst, eth_broadcast, ETH_ALEN) != 0 &&
        !(eh->dst[0] == 0x33 && eh->dst[1] == 0x33 && ipv6_mcast_joined(s, eh->dst))) {
        STAT_INC(s, eth_drop_not_for_us);
        if (!(eh->dst[0] & 1)) /* multicast we did not join is no misconfiguration */
            inet_hint(s, INET_HINT_MAC, 0, eh->dst, 0);
        goto drop;
    }
    switch (ntohs(eh->type)) {
    case ETH_TYPE_IPV4:
        ipv4_input(s, d);
        return;
    case ETH_TYPE_ARP:
        arp_input(s, d);
        return;
    case ETH_TYPE_IPV6:
        if (!s->ip6.enabled) { /* the MTU is below IPv6's */
            STAT_INC(s, eth_drop_type);
            break;
        }
        ipv6_input(s, d);
        return;
    default:
        STAT_INC(s, eth_drop_type);
    }
drop:
    dbuf_chain_put(d);
}

void eth_output(struct inet_stack *s, struct dbuf *d, const uint8_t dst_mac[ETH_ALEN], uint16_t type)
{
    struct eth_hdr *eh = dbuf_prepend(d, ETH_HLEN);

    if (!eh) { /* every head buffer is allocated with headroom: a bug */
        STAT_INC(s, mem_drop_nobuf);
        dbuf_chain_put(d);
        return;
    }
    memcpy(eh->dst, dst_mac, ETH_ALEN);
    memcpy(eh->src, s->mac, ETH_ALEN);
    eh->type = htons(type);
    inet_tx(s, d);
}

const uint8_t *eth_broadcast_addr(void)
{
    return eth_broadcast;
}
