/* SPDX-License-Identifier: MIT */
/* udp.c: UDP sockets, input and output (RFC 768). */
#include "net/udp.h"

#include "net/checksum.h"
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

        if (u->local_port != dport)
            continue;
        if (u->connected) {
            if (u->peer_ip == src && u->peer_port == sport && dst == s->ip)
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
 * May @u bind @port, which others may hold? Linux's udp_lib_lport_inuse
 * without SO_REUSEPORT: a holder whose address overlaps @u's conflicts
 * unless both have SO_REUSEADDR. The addresses always overlap here (a
 * socket is bound to our one address or to the wildcard, and Linux counts
 * the wildcard as overlapping any address), so every holder counts. The
 * flags are read now: one cleared after its bind refuses newcomers.
 */
static bool udp_port_conflict(struct udp_table *t, const struct udp_sock *u, uint16_t port)
{
    struct list_node *head = udp_bucket(t, port), *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        const struct udp_sock *h = list_entry(pos, struct udp_sock, link);
        if (h->local_port == port && (!u->reuseaddr || !h->reuseaddr))
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

int udp_bind(struct inet_stack *s, struct udp_sock *u, uint32_t ip, uint16_t port)
{
    struct udp_table *t = &s->udp;

    if (u->local_port)
        return EINVAL;
    if (ip != 0 && ip != s->ip)
        return EADDRNOTAVAIL;
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
    u->local_ip = ip;
    u->local_port = port;
    list_add_head(udp_bucket(t, port), &u->link); /* first among equals (udp_find) */
    return 0;
}

void udp_connect(struct udp_sock *u, uint32_t ip, uint16_t port)
{
    assert(u->local_port);
    u->connected = true;
    u->peer_ip = ip;
    u->peer_port = port;
}

uint32_t udp_max_payload(const struct inet_stack *s)
{
    return s->mtu - IPV4_HLEN - UDP_HLEN;
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
    d = inet_alloc_hdr(s);
    if (!d) {
        dbuf_chain_put(payload);
        return ENOBUFS;
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

void udp_input(struct inet_stack *s, struct dbuf *d, uint32_t src, uint32_t dst)
{
    const struct udp_hdr *uh = (const struct udp_hdr *)d->data;
    struct udp_sock *u;
    uint16_t len;

    STAT_INC(s, udp_rx);
    if (d->len < UDP_HLEN) {
        STAT_INC(s, udp_drop_runt);
        goto drop;
    }
    len = ntohs(uh->len);
    if (len < UDP_HLEN || len > d->len) {
        STAT_INC(s, udp_drop_len);
        goto drop;
    }
    dbuf_trim(d, len);
    if (uh->csum != 0 && !(s->offloads & NETDEV_OFF_RX_CSUM)) {
        struct csum c;
        csum_init(&c);
        csum_add_pseudo(&c, src, dst, IPV4_PROTO_UDP, len);
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
