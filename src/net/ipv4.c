/* SPDX-License-Identifier: MIT */
/* ipv4.c: IPv4 input validation and output (RFC 791, RFC 1122 3.2.1). */
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>

bool ipv4_src_martian(const struct inet_stack *s, uint32_t src)
{
    uint8_t first = ((const uint8_t *)&src)[0];

    /* RFC 1122 3.2.1.3: "this network" (0/8), loopback (127/8), multicast
     * and broadcast are never sources on the wire; RFC 1812 5.3.7 adds
     * 240/4. Our own address coming back is a spoof or a loop: answering
     * it would talk to ourselves, or ARP for it (except on a loopback
     * device, where everything is from us). */
    return first == 0 || first == 127 || first >= 224 || (src == s->self_martian && src) ||
           (s->subnet_bcast && src == s->subnet_bcast);
}

void ipv4_input(struct inet_stack *s, struct dbuf *d)
{
    const struct ipv4_hdr *ip = (const struct ipv4_hdr *)d->data;
    uint32_t ihl, total;

    STAT_INC(s, ipv4_rx);
    if (d->len < IPV4_HLEN) {
        STAT_INC(s, ipv4_drop_runt);
        goto drop;
    }
    if ((ip->ver_ihl >> 4) != 4) {
        STAT_INC(s, ipv4_drop_version);
        goto drop;
    }
    ihl = (uint32_t)(ip->ver_ihl & 0xf) * 4;
    if (ihl < IPV4_HLEN || ihl > d->len) {
        STAT_INC(s, ipv4_drop_ihl);
        goto drop;
    }
    total = ntohs(ip->total_len);
    if (total < ihl || total > d->len) {
        STAT_INC(s, ipv4_drop_len);
        goto drop;
    }
    if (!(s->offloads & NETDEV_OFF_RX_CSUM) && inet_csum(ip, ihl) != 0) {
        STAT_INC(s, ipv4_drop_csum);
        inet_hint(s, INET_HINT_CSUM, ip->src, NULL, 0);
        goto drop;
    }
    /* No reassembly: a fragment (MF set or an offset) is dropped, counted. */
    if (ntohs(ip->frag) & (IPV4_FLAG_MF | IPV4_FRAG_OFF_MASK)) {
        STAT_INC(s, ipv4_drop_fragment);
        goto drop;
    }
    if (ip->ttl == 0) {
        STAT_INC(s, ipv4_drop_ttl);
        goto drop;
    }
    if (ipv4_src_martian(s, ip->src)) {
        STAT_INC(s, ipv4_drop_martian);
        goto drop;
    }
    if (ip->dst != s->ip && ip->dst != IPV4_BROADCAST) {
        STAT_INC(s, ipv4_drop_not_for_us);
        if (!ipv4_is_multicast(ip->dst) && ip->dst != s->subnet_bcast)
            inet_hint(s, INET_HINT_IP, ip->dst, NULL, 0);
        goto drop;
    }
    {
        uint32_t src = ip->src, dst = ip->dst;
        uint8_t proto = ip->proto;

        dbuf_trim(d, total); /* Ethernet pads short frames */
        dbuf_adj(d, ihl);    /* options, if any, are skipped */
        switch (proto) {
        case IPV4_PROTO_UDP:
            udp_input(s, d, src, dst);
            return;
        case IPV4_PROTO_TCP:
            if (dst != s->ip) { /* TCP is unicast only */
                STAT_INC(s, ipv4_drop_not_for_us);
                break;
            }
            tcp_input(s, d, src, dst);
            return;
        case IPV4_PROTO_ICMP:
            if (dst != s->ip) { /* no answers to broadcast pings (smurf) */
                STAT_INC(s, ipv4_drop_not_for_us);
                break;
            }
            icmp_input(s, d, src);
            return;
        default:
            STAT_INC(s, ipv4_drop_proto);
        }
    }
drop:
    dbuf_chain_put(d);
}

int ipv4_output_via(struct inet_stack *s, struct dbuf *d, uint32_t dst, uint8_t proto, struct arp_entry **route)
{
    uint32_t len = dbuf_chain_len(d) + IPV4_HLEN;
    struct ipv4_hdr *ip;

    /* We never fragment: callers check the size, this is the last guard
     * (a TSO frame becomes packets within the MTU in the device). */
    if (len > s->mtu && !(d->flags & DBUF_F_TX_TSO)) {
        STAT_INC(s, ipv4_drop_too_big);
        dbuf_chain_put(d);
        return EMSGSIZE;
    }
    ip = dbuf_prepend(d, IPV4_HLEN);
    if (!ip) {
        STAT_INC(s, mem_drop_nobuf);
        dbuf_chain_put(d);
        return ENOBUFS;
    }
    ip->ver_ihl = 0x45;
    ip->tos = 0;
    ip->total_len = htons((uint16_t)len);
    ip->id = htons(s->ip_id++);
    ip->frag = htons(IPV4_FLAG_DF);
    ip->ttl = IPV4_DEFAULT_TTL;
    ip->proto = proto;
    ip->csum = 0;
    ip->src = s->ip;
    ip->dst = dst;
    if (!(s->offloads & NETDEV_OFF_IPV4_CSUM))
        ip->csum = inet_csum(ip, IPV4_HLEN);
    STAT_INC(s, ipv4_tx);
    if (route)
        arp_output_via(s, d, dst, route);
    else
        arp_output(s, d, dst);
    return 0;
}

int ipv4_output(struct inet_stack *s, struct dbuf *d, uint32_t dst, uint8_t proto)
{
    return ipv4_output_via(s, d, dst, proto, NULL);
}
