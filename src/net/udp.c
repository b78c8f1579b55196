/* SPDX-License-Identifier: MIT */
/* udp.c: UDP sockets, input and output (RFC 768), over IPv4 and IPv6 (RFC
 * 8200 8), dual stack as Linux (udp.h). */
#include "net/udp.h"

#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Payloads up to this size are copied behind the headers: one buffer is
 * cheaper for the device than a two-segment chain. */
#define UDP_COPY_MAX 256

static struct list_node *udp_bucket(struct udp_table *t, uint16_t port)
{
    return &t->buckets[ntohs(port) & (UDP_BUCKETS - 1)];
}

void udp_table_init(struct udp_table *t)
{
    for (int i = 0; i < UDP_BUCKETS; i++)
        list_init(&t->buckets[i]);
    t->next_ephemeral = UDP_EPHEMERAL_FIRST;
}

/*
 * The socket for a datagram from @src:@sport to @dst:@dport among those
 * sharing the port, by Linux's score (udp4_lib_lookup2: compute_score over
 * the sockets bound to @dst, then over the wildcard ones):
 *   1. connected to @src:@sport (connect() fixes a wildcard socket's local
 *      address to ours, so it takes unicast only);
 *   2. bound to @dst;
 *   3. bound to the wildcard.
 * A socket connected to another peer never matches. Among equals the first
 * in the bucket wins, and bind adds at the head: the most recently bound,
 * as in Linux's hash chains (which also give one point to a socket last
 * served on the receiving CPU; we have one).
 */
static struct udp_sock *udp_find(struct inet_stack *s, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
    struct list_node *head = udp_bucket(&s->udp, dport), *pos;
    struct udp_sock *best = NULL;
    int best_score = 0;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct udp_sock *u = list_entry(pos, struct udp_sock, link);
        int score;

        if (u->local_port != dport || !u->rx_v4)
            continue;
        if (u->connected) {
            if (!u->peer_v6 && u->peer_ip == src && u->peer_port == sport && dst == s->ip)
                return u; /* no better match exists */
            continue;
        }
        if (u->local_ip == dst)
            score = 2;
        else if (u->local_ip == 0)
            score = 1;
        else
            continue;
        if (score > best_score) {
            best = u;
            best_score = score;
        }
    }
    return best;
}

/* Is @port held by anyone (the ephemeral search wants a port of its own)? */
static bool udp_port_used(struct udp_table *t, uint16_t port)
{
    struct list_node *head = udp_bucket(t, port), *pos;

    for (pos = head->next; pos != head; pos = pos->next)
        if (list_entry(pos, struct udp_sock, link)->local_port == port)
            return true;
    return false;
}

/*
 * Do @a's and @b's local addresses overlap (udp.h: the datagrams each
 * takes)? IPv4: we have one address, so any two IPv4 sides overlap (Linux
 * counts the wildcard as overlapping any address). IPv6: the wildcard
 * overlaps everything, else the same address. @a and @b carry the
 * address and rx_v4/rx_v6 of their binds.
 */
static bool udp_addrs_overlap(const struct udp_sock *a, const struct udp_sock *b)
{
    if (a->rx_v4 && b->rx_v4)
        return true;
    if (a->rx_v6 && b->rx_v6)
        return in6_is_unspecified(&a->local_ip6) || in6_is_unspecified(&b->local_ip6) ||
               in6_equal(&a->local_ip6, &b->local_ip6);
    return false;
}

/*
 * May @u (its address and families set) bind @port, which others may hold?
 * Linux's udp_lib_lport_inuse without SO_REUSEPORT: a holder whose address
 * overlaps @u's conflicts unless both have SO_REUSEADDR. The flags are
 * read now: one cleared after its bind refuses newcomers.
 */
static bool udp_port_conflict(struct udp_table *t, const struct udp_sock *u, uint16_t port)
{
    struct list_node *head = udp_bucket(t, port), *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        const struct udp_sock *h = list_entry(pos, struct udp_sock, link);
        if (h->local_port == port && udp_addrs_overlap(u, h) && (!u->reuseaddr || !h->reuseaddr))
            return true;
    }
    return false;
}

int udp_sock_init(struct udp_sock *u, uint32_t rxq_cap)
{
    memset(u, 0, sizeof(*u));
    list_init(&u->link);
    u->rxq = calloc(rxq_cap, sizeof(*u->rxq));
    if (!u->rxq)
        return ENOMEM;
    u->rxq_cap = rxq_cap;
    return 0;
}

void udp_sock_fini(struct inet_stack *s, struct udp_sock *u)
{
    struct dbuf *d;

    (void)s;
    if (list_linked(&u->link))
        list_del(&u->link);
    while ((d = udp_recv(u)) != NULL)
        dbuf_put(d);
    free(u->rxq);
    u->rxq = NULL;
}

/* Bind @u, whose address fields and families are set, to @port. */
static int udp_bind_port(struct inet_stack *s, struct udp_sock *u, uint16_t port)
{
    struct udp_table *t = &s->udp;

    if (port == 0) {
        /* Walk the dynamic range once from where the last search stopped. */
        uint32_t n = UDP_EPHEMERAL_LAST - UDP_EPHEMERAL_FIRST + 1;
        for (; n > 0; n--) {
            uint16_t p = htons(t->next_ephemeral);
            t->next_ephemeral =
                t->next_ephemeral == UDP_EPHEMERAL_LAST ? UDP_EPHEMERAL_FIRST : (uint16_t)(t->next_ephemeral + 1);
            if (!udp_port_used(t, p)) {
                port = p;
                break;
            }
        }
        if (port == 0)
            return EADDRNOTAVAIL;
    } else if (udp_port_conflict(t, u, port)) {
        return EADDRINUSE;
    }
    u->local_port = port;
    list_add_head(udp_bucket(t, port), &u->link); /* first among equals (udp_find) */
    return 0;
}

/* @u's families for an IPv4 address (an AF_INET socket, or an AF_INET6
 * one bound to a mapped address or, from an ephemeral bind, to ::). */
static void udp_set_local4(struct udp_sock *u, uint32_t ip)
{
    u->local_ip = ip;
    u->rx_v4 = true;
    u->rx_v6 = false;
    if (u->v6) {
        memset(&u->local_ip6, 0, sizeof(u->local_ip6));
        if (ip != 0) {
            u->local_ip6.s6_addr[10] = 0xff;
            u->local_ip6.s6_addr[11] = 0xff;
            memcpy(&u->local_ip6.s6_addr[12], &ip, sizeof(ip));
        } else {
            /* :: (an AF_INET6 socket's implicit bind): both families. */
            u->rx_v4 = !u->v6only;
            u->rx_v6 = true;
        }
    }
}

int udp_bind(struct inet_stack *s, struct udp_sock *u, uint32_t ip, uint16_t port)
{
    int ret;

    if (u->local_port)
        return EINVAL;
    if (ip != 0 && ip != s->ip)
        return EADDRNOTAVAIL;
    udp_set_local4(u, ip);
    ret = udp_bind_port(s, u, port);
    if (ret)
        u->local_ip = 0;
    return ret;
}

void udp_sock_set_v6(struct udp_sock *u, bool v6only)
{
    assert(!u->local_port);
    u->v6 = true;
    u->v6only = v6only;
}

int udp_bind6(struct inet_stack *s, struct udp_sock *u, const struct in6_addr *ip6, uint16_t port)
{
    int ret;

    assert(u->v6);
    if (u->local_port)
        return EINVAL;
    if (IN6_IS_ADDR_V4MAPPED(ip6)) {
        uint32_t ip;
        if (u->v6only)
            return EINVAL; /* __inet6_bind */
        memcpy(&ip, &ip6->s6_addr[12], sizeof(ip));
        return udp_bind(s, u, ip, port);
    }
    if (!in6_is_unspecified(ip6) && !ipv6_is_ours(s, ip6))
        return EADDRNOTAVAIL;
    u->local_ip = 0;
    u->local_ip6 = *ip6;
    u->rx_v6 = true;
    u->rx_v4 = in6_is_unspecified(ip6) && !u->v6only;
    ret = udp_bind_port(s, u, port);
    if (ret)
        memset(&u->local_ip6, 0, sizeof(u->local_ip6));
    return ret;
}

void udp_connect(struct udp_sock *u, uint32_t ip, uint16_t port)
{
    assert(u->local_port);
    u->connected = true;
    u->peer_v6 = false;
    u->peer_ip = ip;
    u->peer_port = port;
}

void udp_connect6(struct udp_sock *u, const struct in6_addr *ip6, uint16_t port)
{
    assert(u->local_port && u->v6);
    if (IN6_IS_ADDR_V4MAPPED(ip6)) {
        uint32_t ip;
        memcpy(&ip, &ip6->s6_addr[12], sizeof(ip));
        udp_connect(u, ip, port);
        return;
    }
    u->connected = true;
    u->peer_v6 = true;
    u->peer_ip6 = *ip6;
    u->peer_port = port;
}

uint32_t udp_max_payload(const struct inet_stack *s)
{
    return s->mtu - IPV4_HLEN - UDP_HLEN;
}

uint32_t udp_max_payload6(const struct inet_stack *s)
{
    return s->mtu - IPV6_HLEN - UDP_HLEN;
}

/* The UDP header (and a small payload copied behind it) in a new header
 * buffer, or NULL (ENOBUFS). Takes @payload's reference either way. */
static struct dbuf *udp_build(struct inet_stack *s, const struct udp_sock *u, struct dbuf *payload, uint32_t plen,
                              uint16_t dport)
{
    struct dbuf *d = inet_alloc_hdr(s);
    struct udp_hdr *uh;

    if (!d) {
        dbuf_chain_put(payload);
        return NULL;
    }
    uh = dbuf_append(d, UDP_HLEN);
    if (plen <= UDP_COPY_MAX && !payload->next) {
        memcpy(dbuf_append(d, plen), payload->data, plen);
        dbuf_put(payload);
    } else {
        d->next = payload; /* zero copy: the payload rides as the second segment */
    }
    uh->sport = u->local_port;
    uh->dport = dport;
    uh->len = htons((uint16_t)(UDP_HLEN + plen));
    uh->csum = 0;
    return d;
}

int udp_output(struct inet_stack *s, struct udp_sock *u, struct dbuf *payload, uint32_t dst, uint16_t dport)
{
    uint32_t plen = dbuf_chain_len(payload);
    struct udp_hdr *uh;
    struct dbuf *d;
    int ret;

    if (plen > udp_max_payload(s)) {
        dbuf_chain_put(payload);
        return EMSGSIZE;
    }
    if (!u->local_port && (ret = udp_bind(s, u, 0, 0)) != 0) {
        dbuf_chain_put(payload);
        return ret;
    }
    if (!u->rx_v4) { /* an AF_INET6 socket bound to an IPv6 address, or v6only */
        dbuf_chain_put(payload);
        return ENETUNREACH;
    }
    d = udp_build(s, u, payload, plen, dport);
    if (!d)
        return ENOBUFS;
    uh = (struct udp_hdr *)d->data;
    if (!(s->offloads & NETDEV_OFF_UDP_CSUM)) {
        struct csum c;
        uint16_t sum;
        csum_init(&c);
        csum_add_pseudo(&c, s->ip, dst, IPV4_PROTO_UDP, (uint16_t)(UDP_HLEN + plen));
        csum_add_chain(&c, d);
        sum = csum_finish(&c);
        uh->csum = sum == 0 ? 0xffff : sum; /* RFC 768: 0 means "no checksum" */
    }
    STAT_INC(s, udp_tx);
    return ipv4_output(s, d, dst, IPV4_PROTO_UDP);
}

int udp_output6(struct inet_stack *s, struct udp_sock *u, struct dbuf *payload, const struct in6_addr *dst,
                uint16_t dport)
{
    uint32_t plen = dbuf_chain_len(payload);
    struct in6_addr src;
    struct udp_hdr *uh;
    struct dbuf *d;
    uint16_t sum;
    int ret;

    assert(u->v6);
    if (plen > udp_max_payload6(s)) {
        dbuf_chain_put(payload);
        return EMSGSIZE;
    }
    if (!u->local_port && (ret = udp_bind(s, u, 0, 0)) != 0) { /* :: */
        dbuf_chain_put(payload);
        return ret;
    }
    if (!u->rx_v6) { /* bound to an IPv4-mapped address */
        dbuf_chain_put(payload);
        return ENETUNREACH;
    }
    if (!in6_is_unspecified(&u->local_ip6))
        src = u->local_ip6;
    else if (ipv6_select_src(s, dst, &src) != 0) {
        STAT_INC(s, ip6_drop_no_src);
        dbuf_chain_put(payload);
        return EADDRNOTAVAIL;
    }
    d = udp_build(s, u, payload, plen, dport);
    if (!d)
        return ENOBUFS;
    uh = (struct udp_hdr *)d->data;
    /* RFC 8200 8.1: mandatory, in software (the devices' offloads are
     * IPv4's); a computed 0 goes as 0xffff, 0 being "none" to RFC 768. */
    sum = inet6_pseudo_csum(&src, dst, IPV6_NH_UDP, d);
    uh->csum = sum == 0 ? 0xffff : sum;
    STAT_INC(s, udp_tx);
    STAT_INC(s, udp6_tx);
    return ipv6_output_via(s, d, &src, dst, IPV6_NH_UDP, 0, NULL);
}

/* A datagram arrives (either family): counted, its header checked (counted
 * drops) and @d trimmed to its length. Whether it may go on. */
static bool udp_hdr_ok(struct inet_stack *s, struct dbuf *d)
{
    uint16_t len;

    STAT_INC(s, udp_rx);
    if (d->len < UDP_HLEN) {
        STAT_INC(s, udp_drop_runt);
        return false;
    }
    /* (IPv6: RFC 8200 8.1, no jumbograms: a length of 0 is malformed too.) */
    len = ntohs(((const struct udp_hdr *)d->data)->len);
    if (len < UDP_HLEN || len > d->len) {
        STAT_INC(s, udp_drop_len);
        return false;
    }
    dbuf_trim(d, len);
    return true;
}

void udp_input(struct inet_stack *s, struct dbuf *d, uint32_t src, uint32_t dst)
{
    const struct udp_hdr *uh = (const struct udp_hdr *)d->data;
    struct udp_sock *u;

    if (!udp_hdr_ok(s, d))
        goto drop;
    if (uh->csum != 0 && !(s->offloads & NETDEV_OFF_RX_CSUM)) {
        struct csum c;
        csum_init(&c);
        csum_add_pseudo(&c, src, dst, IPV4_PROTO_UDP, (uint16_t)d->len); /* d trimmed to the UDP length */
        csum_add(&c, d->data, d->len);
        if (csum_finish(&c) != 0) {
            STAT_INC(s, udp_drop_csum);
            inet_hint(s, INET_HINT_CSUM, src, NULL, IPV4_PROTO_UDP);
            goto drop;
        }
    }
    u = udp_find(s, src, uh->sport, dst, uh->dport);
    if (!u) {
        STAT_INC(s, udp_drop_no_port);
        goto drop;
    }
    if (u->rxq_len == u->rxq_cap) {
        STAT_INC(s, udp_drop_queue_full);
        inet_hint(s, INET_HINT_UDP_QUEUE, 0, NULL, ntohs(uh->dport));
        u->rx_dropped++;
        goto drop;
    }
    d->meta32 = src;
    d->meta64 = uh->sport;
    dbuf_adj(d, UDP_HLEN);
    u->rxq[(u->rxq_head + u->rxq_len++) % u->rxq_cap] = d;
    if (u->on_readable)
        u->on_readable(u);
    return;
drop:
    dbuf_chain_put(d);
}

/*
 * udp_find over IPv6: the sockets taking IPv6 (rx_v6), by the same score.
 * A connected socket takes unicast only, to the address it is bound to if
 * any (Linux's compute_score: connect fixes the local address).
 */
static struct udp_sock *udp_find6(struct inet_stack *s, const struct ipv6_rx *rx, uint16_t sport, uint16_t dport)
{
    struct list_node *head = udp_bucket(&s->udp, dport), *pos;
    struct udp_sock *best = NULL;
    int best_score = 0;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct udp_sock *u = list_entry(pos, struct udp_sock, link);
        bool any = in6_is_unspecified(&u->local_ip6);
        int score;

        if (u->local_port != dport || !u->rx_v6)
            continue;
        if (u->connected) {
            if (u->peer_v6 && u->peer_port == sport && in6_equal(&u->peer_ip6, &rx->src) && !rx->dst_mcast &&
                (any || in6_equal(&u->local_ip6, &rx->dst)))
                return u;
            continue;
        }
        if (!any && in6_equal(&u->local_ip6, &rx->dst))
            score = 2;
        else if (any)
            score = 1;
        else
            continue;
        if (score > best_score) {
            best = u;
            best_score = score;
        }
    }
    return best;
}

/* UDP over IPv6, from ipv6_deliver (ipv6.h): @d at the UDP header, trimmed to
 * the IPv6 payload. */
void udp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx)
{
    const struct udp_hdr *uh = (const struct udp_hdr *)d->data;
    struct udp_sock *u;

    STAT_INC(s, udp6_rx);
    if (!udp_hdr_ok(s, d))
        goto drop;
    if (uh->csum == 0) { /* RFC 8200 8.1: "MUST discard ... and SHOULD log" */
        STAT_INC(s, udp6_drop_zero_csum);
        goto drop;
    }
    if (!(d->flags & DBUF_F_CSUM_OK) && inet6_pseudo_csum(&rx->src, &rx->dst, IPV6_NH_UDP, d) != 0) {
        STAT_INC(s, udp_drop_csum);
        goto drop;
    }
    u = udp_find6(s, rx, uh->sport, uh->dport);
    if (!u) {
        STAT_INC(s, udp_drop_no_port);
        /* RFC 4443 3.1, under 2.4's rules (not to a group destination). */
        icmp6_error_send(s, d, rx, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_PORT, 0);
        goto drop;
    }
    if (u->rxq_len == u->rxq_cap) {
        STAT_INC(s, udp_drop_queue_full);
        inet_hint(s, INET_HINT_UDP_QUEUE, 0, NULL, ntohs(uh->dport));
        u->rx_dropped++;
        goto drop;
    }
    d->meta32 = 0;
    d->meta64 = uh->sport | UDP_META_SRC6;
    dbuf_adj(d, UDP_HLEN);
    /* The source where the headers were (udp_src6): at least the IPv6
     * header lies in front, so the 16 bytes are this buffer's own. */
    assert(dbuf_headroom(d) >= sizeof(rx->src) && !d->parent);
    memcpy(d->data - sizeof(rx->src), &rx->src, sizeof(rx->src));
    u->rxq[(u->rxq_head + u->rxq_len++) % u->rxq_cap] = d;
    if (u->on_readable)
        u->on_readable(u);
    return;
drop:
    dbuf_chain_put(d);
}

struct dbuf *udp_recv(struct udp_sock *u)
{
    struct dbuf *d;

    if (u->rxq_len == 0)
        return NULL;
    d = u->rxq[u->rxq_head];
    u->rxq_head = (u->rxq_head + 1) % u->rxq_cap;
    u->rxq_len--;
    return d;
}
