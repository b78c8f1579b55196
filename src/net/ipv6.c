/* SPDX-License-Identifier: MIT */
/* ipv6.c: IPv6 input validation, extension headers, dispatch, output and the
 * Path MTU cache (RFC 8200, RFC 8201). The rules that are choices: ipv6.h. */
#include "net/ipv6.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

const struct in6_addr in6_all_nodes = {.s6_addr = {0xff, 0x02, [15] = 1}};

void in6_solicited_node(const struct in6_addr *a, struct in6_addr *out)
{
    static const uint8_t prefix[13] = {0xff, 0x02, [11] = 1, [12] = 0xff};

    memcpy(out->s6_addr, prefix, sizeof(prefix));
    memcpy(out->s6_addr + 13, a->s6_addr + 13, 3);
}

void in6_mcast_mac(const void *a, uint8_t mac[6])
{
    mac[0] = 0x33;
    mac[1] = 0x33;
    memcpy(mac + 2, (const uint8_t *)a + 12, 4);
}

void in6_linklocal_from_mac(const uint8_t mac[6], struct in6_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->s6_addr[0] = 0xfe;
    out->s6_addr[1] = 0x80;
    out->s6_addr[8] = mac[0] ^ 0x02; /* the universal/local bit inverted */
    out->s6_addr[9] = mac[1];
    out->s6_addr[10] = mac[2];
    out->s6_addr[11] = 0xff;
    out->s6_addr[12] = 0xfe;
    out->s6_addr[13] = mac[3];
    out->s6_addr[14] = mac[4];
    out->s6_addr[15] = mac[5];
}

/* ---- addresses ---------------------------------------------------------------- */

static void ipv6_join(struct inet_stack *s, const struct in6_addr *group)
{
    uint8_t mac[6];

    in6_mcast_mac(group, mac);
    if (ipv6_mcast_joined(s, mac) || s->ip6.nmcast == IP6_MCAST_MAX)
        return;
    memcpy(s->ip6.mcast_macs[s->ip6.nmcast++], mac, 6);
    /* A device that filters multicast must pass the group (netdev.h);
     * one that cannot say (NULL) passes every group or none is joined. */
    if (s->dev->ops->mcast_add && s->dev->ops->mcast_add(s->dev, mac) != 0)
        log_warn("inetstack: %s: cannot join Ethernet group %02x:%02x:%02x:%02x:%02x:%02x: IPv6 neighbor "
                 "discovery may not hear its peers",
                 s->dev->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

bool ipv6_mcast_joined(const struct inet_stack *s, const uint8_t mac[6])
{
    for (int i = 0; i < s->ip6.nmcast; i++)
        if (memcmp(s->ip6.mcast_macs[i], mac, 6) == 0)
            return true;
    return false;
}

bool ipv6_is_ours(const struct inet_stack *s, const void *a)
{
    for (int i = 0; i < IP6_NADDR; i++)
        if (s->ip6.addrs[i].state == IP6_ADDR_PREFERRED && in6_equal(&s->ip6.addrs[i].addr, a))
            return true;
    return false;
}

/* Any of our configured addresses, whatever its DAD state (martian check). */
static bool ipv6_is_assigned(const struct inet_stack *s, const void *a)
{
    for (int i = 0; i < IP6_NADDR; i++)
        if (s->ip6.addrs[i].state != IP6_ADDR_NONE && in6_equal(&s->ip6.addrs[i].addr, a))
            return true;
    return false;
}

/* The solicited-node group of one of our addresses (any state: DAD hears
 * on it while tentative). */
static bool ipv6_is_our_solicited(const struct inet_stack *s, const uint8_t *a)
{
    struct in6_addr sn;

    for (int i = 0; i < IP6_NADDR; i++) {
        if (s->ip6.addrs[i].state == IP6_ADDR_NONE)
            continue;
        in6_solicited_node(&s->ip6.addrs[i].addr, &sn);
        if (in6_equal(&sn, a))
            return true;
    }
    return false;
}

int ipv6_select_src(const struct inet_stack *s, const struct in6_addr *dst, struct in6_addr *src)
{
    const struct ip6_ifaddr *ll = &s->ip6.addrs[IP6_ADDR_LL], *gl = &s->ip6.addrs[IP6_ADDR_GLOBAL];

    /* RFC 6724 5 rule 2 (scope) for our two addresses. */
    if (!in6_is_linklocal(dst) && !in6_is_multicast(dst) && gl->state == IP6_ADDR_PREFERRED) {
        *src = gl->addr;
        return 0;
    }
    if (ll->state == IP6_ADDR_PREFERRED) {
        *src = ll->addr;
        return 0;
    }
    return EADDRNOTAVAIL;
}

int ipv6_init(struct inet_stack *s, const struct in6_addr *global, uint32_t dad_transmits)
{
    struct ip6_state *st = &s->ip6;
    int ret;

    memset(st, 0, sizeof(*st));
    if (s->mtu < IPV6_MIN_MTU) {
        log_info("inetstack: %s: MTU %u below IPv6's 1280: IPv6 off", s->dev->name, s->mtu);
        return 0;
    }
    ret = nd6_init(s);
    if (ret)
        return ret;
    st->enabled = true;
    st->active = global != NULL;
    /* DAD only where the stack speaks IPv6 of its own accord (ipv6.h), and
     * never on a loopback device, where every NS comes back to us. */
    st->dad_transmits = st->active && !s->dev->loopback ? (uint8_t)MIN(dad_transmits, 255u) : 0;
    st->err_tokens = ICMP6_ERR_BURST;
    st->err_refill_ns = clock_now_ns();
    in6_linklocal_from_mac(s->mac, &st->addrs[IP6_ADDR_LL].addr);
    st->addrs[IP6_ADDR_LL].state = IP6_ADDR_TENTATIVE;
    if (global) {
        st->addrs[IP6_ADDR_GLOBAL].addr = *global;
        st->addrs[IP6_ADDR_GLOBAL].state = IP6_ADDR_TENTATIVE;
    }
    ipv6_join(s, &in6_all_nodes);
    for (int i = 0; i < IP6_NADDR; i++) {
        struct in6_addr sn;

        st->addrs[i].stack = s;
        if (st->addrs[i].state == IP6_ADDR_NONE)
            continue;
        in6_solicited_node(&st->addrs[i].addr, &sn);
        ipv6_join(s, &sn); /* before DAD: RFC 4862 5.4.2 */
        nd6_dad_start(s, i);
    }
    return 0;
}

void ipv6_fini(struct inet_stack *s)
{
    if (!s->ip6.enabled)
        return;
    for (int i = 0; i < IP6_NADDR; i++)
        timer_cancel(&s->timers, &s->ip6.addrs[i].dad_timer);
    nd6_fini(s);
    s->ip6.enabled = false;
}

/* ---- input ----------------------------------------------------------------------- */

/* tcp6_input is TCP's, in tcp6.c; udp6_input is UDP's, in udp.c. */

/* The single dispatch to the upper layers: @d at the upper-layer header. */
static void ipv6_deliver(struct inet_stack *s, struct dbuf *d, uint8_t proto, const struct ipv6_rx *rx)
{
    if (proto != IPV6_NH_ICMPV6 && rx->src_ours) {
        STAT_INC(s, ip6_drop_martian);
        goto drop;
    }
    switch (proto) {
    case IPV6_NH_ICMPV6:
        icmp6_input(s, d, rx);
        return;
    case IPV6_NH_TCP:
        if (rx->dst_mcast || in6_is_unspecified(&rx->src)) { /* TCP is unicast only */
            STAT_INC(s, ip6_drop_not_for_us);
            break;
        }
        tcp6_input(s, d, rx);
        return;
    case IPV6_NH_UDP:
        if (in6_is_unspecified(&rx->src)) {
            STAT_INC(s, ip6_drop_martian);
            break;
        }
        udp6_input(s, d, rx);
        return;
    }
drop:
    dbuf_chain_put(d);
}

/* What the option walk decided. */
enum { OPT_OK, OPT_DROP, OPT_DROP_ICMP, OPT_DROP_ICMP_MCAST };

/*
 * The options of a hop-by-hop or destination options header, @p at the
 * header, @len its length (RFC 8200 4.2). On an option we do not know, its
 * type's two high bits say: skip it, drop the packet, drop and send a
 * parameter problem (even to a multicast destination), or drop and send one
 * unless the destination was multicast. *@ptr: the offending option's offset
 * within the header. Pad1 and PadN are the only options a host knows;
 * Router Alert (5) in a hop-by-hop header is for routers: skipped.
 */
static int ipv6_opts_walk(const uint8_t *p, uint32_t len, uint32_t *ptr)
{
    uint32_t i = 2;

    while (i < len) {
        uint8_t type = p[i];

        if (type == 0) { /* Pad1 */
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + p[i + 1] > len) {
            *ptr = i;
            return OPT_DROP; /* an option running past its header */
        }
        if (type != 1 && type != 5) {
            *ptr = i;
            switch (type >> 6) {
            case 1:
                return OPT_DROP;
            case 2:
                return OPT_DROP_ICMP_MCAST;
            case 3:
                return OPT_DROP_ICMP;
            default:
                break; /* 00: skip */
            }
        }
        i += 2u + p[i + 1];
    }
    return OPT_OK;
}

void ipv6_input(struct inet_stack *s, struct dbuf *d)
{
    const struct ipv6_hdr *ip = (const struct ipv6_hdr *)d->data;
    struct ipv6_rx rx;
    uint32_t total, off, nh_off;
    uint8_t nh;
    bool first = true;

    STAT_INC(s, ip6_rx);
    if (d->len < IPV6_HLEN) {
        STAT_INC(s, ip6_drop_runt);
        goto drop;
    }
    if ((d->data[0] >> 4) != 6) {
        STAT_INC(s, ip6_drop_version);
        goto drop;
    }
    total = IPV6_HLEN + (uint32_t)ntohs(ip->payload_len);
    if (total > d->len) {
        STAT_INC(s, ip6_drop_len);
        goto drop;
    }
    dbuf_trim(d, total); /* Ethernet pads short frames */
    /* RFC 4291 2.7, RFC 4861 7.1.1: a multicast source never; the loopback
     * address never on a link; ours coming back is a loop or a spoof (but on
     * a loopback device). The unspecified source is ND's alone (DAD NS):
     * ipv6_deliver and icmp6_input refuse it elsewhere. */
    if (in6_is_multicast(ip->src) || in6_is_loopback(ip->src)) {
        STAT_INC(s, ip6_drop_martian);
        goto drop;
    }
    /* Our own address as the source is refused by the upper layers, not
     * here: ND must see another node defend an address we probe (RFC 4862
     * 5.4.4). */
    rx.src_ours = !s->dev->loopback && ipv6_is_assigned(s, ip->src);
    memcpy(&rx.src, ip->src, 16);
    memcpy(&rx.dst, ip->dst, 16);
    rx.hop_limit = ip->hop_limit;
    rx.hdrlen = 0;
    rx.dst_mcast = in6_is_multicast(ip->dst);
    if (rx.dst_mcast ? !in6_equal(ip->dst, &in6_all_nodes) && !ipv6_is_our_solicited(s, ip->dst)
                     : !ipv6_is_ours(s, ip->dst)) {
        STAT_INC(s, ip6_drop_not_for_us);
        goto drop;
    }
    /*
     * The extension headers, in order (RFC 8200 4.1). Each is at least 8
     * bytes and must lie within the packet, so the walk ends: no loop can
     * be built. nh_off is where the current next-header value sits, for a
     * parameter problem's pointer.
     */
    nh = ip->next;
    nh_off = 6;
    off = IPV6_HLEN;
    for (;;) {
        const uint8_t *p = d->data + off;
        uint32_t hlen, ptr = 0;
        int act;

        switch (nh) {
        case IPV6_NH_HOPOPTS:
        case IPV6_NH_DSTOPTS:
            if (nh == IPV6_NH_HOPOPTS && !first) {
                /* RFC 8200 4.1: only right after the IPv6 header. */
                STAT_INC(s, ip6_drop_ext);
                icmp6_error_send(s, d, &rx, ICMP6_PARAM_PROB, ICMP6_PARAM_PROB_NEXT, nh_off);
                goto drop;
            }
            if (off + 2 > total || off + ((uint32_t)p[1] + 1) * 8 > total) {
                STAT_INC(s, ip6_drop_ext);
                goto drop;
            }
            hlen = ((uint32_t)p[1] + 1) * 8;
            act = ipv6_opts_walk(p, hlen, &ptr);
            if (act != OPT_OK) {
                STAT_INC(s, ip6_drop_opt);
                if (act == OPT_DROP_ICMP_MCAST || (act == OPT_DROP_ICMP && !rx.dst_mcast))
                    icmp6_error_send(s, d, &rx, ICMP6_PARAM_PROB, ICMP6_PARAM_PROB_OPTION, off + ptr);
                goto drop;
            }
            break;
        case IPV6_NH_ROUTING: {
            const struct ipv6_rt_hdr *rt = (const struct ipv6_rt_hdr *)p;

            if (off + sizeof(*rt) > total || off + ((uint32_t)rt->len + 1) * 8 > total) {
                STAT_INC(s, ip6_drop_ext);
                goto drop;
            }
            hlen = ((uint32_t)rt->len + 1) * 8;
            /* RFC 8200 4.4: with no segment left, the header is ignored;
             * with some, a type we do not process (all: a host forwards
             * nothing; type 0 is deprecated by RFC 5095) is a parameter
             * problem pointing at the type. */
            if (rt->segs_left != 0) {
                STAT_INC(s, ip6_drop_routing);
                icmp6_error_send(s, d, &rx, ICMP6_PARAM_PROB, ICMP6_PARAM_PROB_HEADER, off + 2);
                goto drop;
            }
            break;
        }
        case IPV6_NH_FRAGMENT: {
            const struct ipv6_frag_hdr *fh = (const struct ipv6_frag_hdr *)p;

            if (off + IPV6_FRAG_HLEN > total) {
                STAT_INC(s, ip6_drop_ext);
                goto drop;
            }
            /* RFC 6946: an atomic fragment is the whole packet. Any other
             * is dropped (no reassembly, ipv6.h). */
            if (ntohs(fh->off_m) & (IPV6_FRAG_OFF_MASK | IPV6_FRAG_M)) {
                STAT_INC(s, ip6_drop_frag);
                goto drop;
            }
            STAT_INC(s, ip6_rx_atomic_frag);
            hlen = IPV6_FRAG_HLEN;
            break;
        }
        case IPV6_NH_ICMPV6:
        case IPV6_NH_TCP:
        case IPV6_NH_UDP:
            rx.hdrlen = off;
            dbuf_adj(d, off);
            ipv6_deliver(s, d, nh, &rx);
            return;
        case IPV6_NH_NONE: /* nothing follows (RFC 8200 4.7) */
            STAT_INC(s, ip6_drop_proto);
            goto drop;
        default:
            /* RFC 8200 4: an unrecognised next header. */
            STAT_INC(s, ip6_drop_proto);
            icmp6_error_send(s, d, &rx, ICMP6_PARAM_PROB, ICMP6_PARAM_PROB_NEXT, nh_off);
            goto drop;
        }
        nh_off = off;
        nh = p[0];
        off += hlen;
        first = false;
    }
drop:
    dbuf_chain_put(d);
}

/* ---- output --------------------------------------------------------------------- */

int ipv6_output_via(struct inet_stack *s, struct dbuf *d, const struct in6_addr *src, const struct in6_addr *dst,
                    uint8_t proto, uint8_t hops, struct nd6_entry **route)
{
    uint32_t plen = dbuf_chain_len(d);
    struct ipv6_hdr *ip;

    if (!s->ip6.enabled) {
        STAT_INC(s, ip6_drop_no_src);
        dbuf_chain_put(d);
        return EADDRNOTAVAIL;
    }
    /* We never fragment (ipv6.h); a TSO frame is cut by the device. */
    if (plen + IPV6_HLEN > s->mtu && !(d->flags & DBUF_F_TX_TSO)) {
        STAT_INC(s, ip6_drop_too_big);
        dbuf_chain_put(d);
        return EMSGSIZE;
    }
    ip = dbuf_prepend(d, IPV6_HLEN);
    if (!ip) {
        STAT_INC(s, mem_drop_nobuf);
        dbuf_chain_put(d);
        return ENOBUFS;
    }
    ip->vtc_flow = htonl(6u << 28);
    ip->payload_len = htons((uint16_t)plen);
    ip->next = proto;
    ip->hop_limit = hops ? hops : IPV6_DEFAULT_HOPS;
    memcpy(ip->src, src, 16);
    memcpy(ip->dst, dst, 16);
    STAT_INC(s, ip6_tx);
    if (route)
        nd6_output_via(s, d, dst, route);
    else
        nd6_output(s, d, dst);
    return 0;
}

int ipv6_output(struct inet_stack *s, struct dbuf *d, const struct in6_addr *dst, uint8_t proto)
{
    struct in6_addr src;

    if (ipv6_select_src(s, dst, &src) != 0) {
        STAT_INC(s, ip6_drop_no_src);
        dbuf_chain_put(d);
        return EADDRNOTAVAIL;
    }
    return ipv6_output_via(s, d, &src, dst, proto, 0, NULL);
}

/* ---- Path MTU (RFC 8201) ------------------------------------------------------- */

static struct ip6_pmtu *ipv6_pmtu_find(struct inet_stack *s, const struct in6_addr *dst)
{
    for (int i = 0; i < IP6_PMTU_ENTRIES; i++)
        if (s->ip6.pmtu[i].mtu && in6_equal(&s->ip6.pmtu[i].dst, dst))
            return &s->ip6.pmtu[i];
    return NULL;
}

uint32_t ipv6_path_mtu(struct inet_stack *s, const struct in6_addr *dst)
{
    struct ip6_pmtu *e = ipv6_pmtu_find(s, dst);

    if (!e)
        return s->mtu;
    if (clock_now_ns() >= e->expires_ns) { /* RFC 8201 4: try larger again */
        e->mtu = 0;
        return s->mtu;
    }
    return e->mtu;
}

void ipv6_pmtu_update(struct inet_stack *s, const struct in6_addr *dst, uint32_t mtu)
{
    struct ip6_pmtu *e;

    /* RFC 8201 4: never below the minimum link MTU; never above the link's
     * (a Packet Too Big cannot raise it). */
    if (mtu < IPV6_MIN_MTU || mtu >= s->mtu) {
        STAT_INC(s, icmp6_ptb_ignored);
        return;
    }
    e = ipv6_pmtu_find(s, dst);
    if (e && clock_now_ns() < e->expires_ns && e->mtu <= mtu) {
        STAT_INC(s, icmp6_ptb_ignored); /* not lower than what we know */
        return;
    }
    if (!e) {
        for (int i = 0; i < IP6_PMTU_ENTRIES && !e; i++)
            if (!s->ip6.pmtu[i].mtu || clock_now_ns() >= s->ip6.pmtu[i].expires_ns)
                e = &s->ip6.pmtu[i];
        if (!e) /* full: the oldest goes back to the link MTU */
            e = &s->ip6.pmtu[s->ip6.pmtu_next++ % IP6_PMTU_ENTRIES];
    }
    e->dst = *dst;
    e->mtu = mtu;
    e->expires_ns = clock_now_ns() + IP6_PMTU_TIMEOUT_NS;
    STAT_INC(s, icmp6_ptb_lowered);
}
