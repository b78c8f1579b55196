/* SPDX-License-Identifier: MIT */
/* arp.c: ARP resolution and cache (RFC 826). */
#include "net/arp.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t arp_hash(uint32_t ip)
{
    /* Fibonacci hashing spreads consecutive addresses over the buckets. */
    return (uint32_t)((ip * 2654435761u) >> 24) & (ARP_BUCKETS - 1);
}

static struct arp_entry *arp_find(struct arp_table *t, uint32_t ip)
{
    struct list_node *head = &t->buckets[arp_hash(ip)], *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct arp_entry *e = list_entry(pos, struct arp_entry, hash_link);
        if (e->ip == ip)
            return e;
    }
    return NULL;
}

static void arp_timer_fn(struct timer *tm, void *arg);

static void arp_free(struct inet_stack *s, struct arp_entry *e);

static struct arp_entry *arp_new(struct inet_stack *s, uint32_t ip, uint8_t state)
{
    struct arp_table *t = &s->arp;
    struct arp_entry *e;

    if (t->nfree == 0) {
        /* Full: the oldest unresolved entry makes room (a flood of new
         * addresses must not starve the peers we do talk to). */
        if (list_empty(&t->pending)) {
            STAT_INC(s, arp_drop_table_full);
            return NULL;
        }
        STAT_INC(s, arp_evict_pending);
        arp_free(s, list_entry(list_first(&t->pending), struct arp_entry, pending_link));
    }
    e = t->free[--t->nfree];
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    e->state = state;
    e->stack = s;
    timer_init(&e->timer, arp_timer_fn, e);
    list_init(&e->pending_link);
    list_add_tail(&t->buckets[arp_hash(ip)], &e->hash_link);
    if (state == ARP_PENDING)
        list_add_tail(&t->pending, &e->pending_link);
    return e;
}

static void arp_drop_pending(struct inet_stack *s, struct arp_entry *e)
{
    for (int i = 0; i < e->npending; i++) {
        STAT_INC(s, arp_drop_pending);
        dbuf_chain_put(e->pending[i]);
    }
    e->npending = 0;
}

static void arp_free(struct inet_stack *s, struct arp_entry *e)
{
    arp_drop_pending(s, e);
    timer_cancel(&s->timers, &e->timer);
    list_del(&e->hash_link);
    if (list_linked(&e->pending_link))
        list_del(&e->pending_link);
    e->state = ARP_FREE;
    s->arp.free[s->arp.nfree++] = e;
}

static void arp_send(struct inet_stack *s, uint16_t op, const uint8_t *dst_mac, const uint8_t *tha, uint32_t tpa)
{
    struct dbuf *d = inet_alloc_hdr(s);
    struct arp_hdr *a;

    if (!d)
        return;
    a = dbuf_append(d, sizeof(*a));
    a->htype = htons(ARP_HTYPE_ETHER);
    a->ptype = htons(ETH_TYPE_IPV4);
    a->hlen = ETH_ALEN;
    a->plen = 4;
    a->op = htons(op);
    memcpy(a->sha, s->mac, ETH_ALEN);
    a->spa = s->ip;
    memcpy(a->tha, tha, ETH_ALEN);
    a->tpa = tpa;
    if (op == ARP_OP_REQUEST)
        STAT_INC(s, arp_tx_request);
    else
        STAT_INC(s, arp_tx_reply);
    eth_output(s, d, dst_mac, ETH_TYPE_ARP);
}

static void arp_request(struct inet_stack *s, struct arp_entry *e)
{
    static const uint8_t zero[ETH_ALEN];
    arp_send(s, ARP_OP_REQUEST, eth_broadcast_addr(), zero, e->ip);
}

static void arp_probe(struct inet_stack *s, struct arp_entry *e)
{
    static const uint8_t zero[ETH_ALEN];
    STAT_INC(s, arp_tx_probe);
    arp_send(s, ARP_OP_REQUEST, e->mac, zero, e->ip);
}

/*
 * The entry's timer: retry a pending resolution or a probe, give it up, or
 * end a resolved entry's TTL. At the TTL an entry used since its last
 * confirmation is probed by unicast while it stays in use (arp.h); an idle
 * one goes.
 */
static void arp_timer_fn(struct timer *tm, void *arg)
{
    struct arp_entry *e = arg;
    struct inet_stack *s = e->stack;

    (void)tm;
    switch (e->state) {
    case ARP_RESOLVED:
        if (!e->used) {
            STAT_INC(s, arp_expired);
            break;
        }
        e->state = ARP_PROBING;
        e->tries_left = (uint8_t)MIN(s->arp.retries, 255u);
        arp_probe(s, e);
        timer_arm(&s->timers, &e->timer, clock_now_ns() + s->arp.timeout_ns);
        return;
    case ARP_PROBING:
        if (e->tries_left > 0) {
            e->tries_left--;
            arp_probe(s, e);
            timer_arm(&s->timers, &e->timer, clock_now_ns() + s->arp.timeout_ns);
            return;
        }
        STAT_INC(s, arp_probe_failed);
        inet_hint(s, INET_HINT_ARP, e->ip, NULL, s->arp.retries + 1);
        break;
    default: /* ARP_PENDING */
        if (e->tries_left > 0) {
            e->tries_left--;
            arp_request(s, e);
            timer_arm(&s->timers, &e->timer, clock_now_ns() + s->arp.timeout_ns);
            return;
        }
        STAT_INC(s, arp_timeout);
        inet_hint(s, INET_HINT_ARP, e->ip, NULL, s->arp.retries + 1);
        break;
    }
    arp_free(s, e);
}

/* A mapping became known: remember it and send what waited for it. */
static void arp_resolved(struct inet_stack *s, struct arp_entry *e, const uint8_t mac[ETH_ALEN])
{
    if (e->state == ARP_STATIC)
        return; /* configuration wins over the wire */
    memcpy(e->mac, mac, ETH_ALEN);
    if (e->state == ARP_PENDING) {
        STAT_INC(s, arp_resolved);
        list_del(&e->pending_link);
    } else if (e->state == ARP_PROBING) {
        STAT_INC(s, arp_probe_confirmed);
    }
    e->state = ARP_RESOLVED;
    e->used = false;
    timer_arm(&s->timers, &e->timer, clock_now_ns() + s->arp.ttl_ns);
    for (int i = 0; i < e->npending; i++)
        eth_output(s, e->pending[i], e->mac, ETH_TYPE_IPV4);
    e->npending = 0;
}

void arp_output(struct inet_stack *s, struct dbuf *d, uint32_t ip)
{
    struct arp_entry *e;

    if (ip == IPV4_BROADCAST) {
        eth_output(s, d, eth_broadcast_addr(), ETH_TYPE_IPV4);
        return;
    }
    e = arp_find(&s->arp, ip);
    if (likely(e && e->state >= ARP_RESOLVED)) {
        e->used = true;
        eth_output(s, d, e->mac, ETH_TYPE_IPV4);
        return;
    }
    if (!e) {
        e = arp_new(s, ip, ARP_PENDING);
        if (!e) {
            dbuf_chain_put(d);
            return;
        }
        e->tries_left = (uint8_t)MIN(s->arp.retries, 255u);
        arp_request(s, e);
        timer_arm(&s->timers, &e->timer, clock_now_ns() + s->arp.timeout_ns);
    }
    if (e->npending == ARP_PENDING_MAX) {
        STAT_INC(s, arp_drop_pending_full);
        dbuf_chain_put(d);
        return;
    }
    e->pending[e->npending++] = d;
}

void arp_output_via(struct inet_stack *s, struct dbuf *d, uint32_t ip, struct arp_entry **route)
{
    struct arp_entry *e = *route;

    if (likely(e && e->ip == ip && e->state >= ARP_RESOLVED)) {
        e->used = true;
        eth_output(s, d, e->mac, ETH_TYPE_IPV4);
        return;
    }
    arp_output(s, d, ip);
    e = arp_find(&s->arp, ip);
    *route = e && e->state >= ARP_RESOLVED ? e : NULL;
}

void arp_input(struct inet_stack *s, struct dbuf *d)
{
    const struct arp_hdr *a = (const struct arp_hdr *)d->data;
    struct arp_entry *e;
    uint16_t op;

    STAT_INC(s, arp_rx);
    if (d->len < sizeof(*a) || a->htype != htons(ARP_HTYPE_ETHER) || a->ptype != htons(ETH_TYPE_IPV4) ||
        a->hlen != ETH_ALEN || a->plen != 4) {
        STAT_INC(s, arp_drop_malformed);
        goto out;
    }
    op = ntohs(a->op);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        STAT_INC(s, arp_drop_op);
        goto out;
    }
    if (a->spa == s->self_martian && a->spa) {
        /* Another host claims our address (RFC 5227 2.4): never learned;
         * said once per second at most, counted always. */
        static uint64_t last_ns;
        STAT_INC(s, arp_conflict);
        if (clock_now_ns() - last_ns > 1000000000ull) {
            last_ns = clock_now_ns();
            log_warn("arp: %02x:%02x:%02x:%02x:%02x:%02x claims our address %s (address conflict)", a->sha[0],
                     a->sha[1], a->sha[2], a->sha[3], a->sha[4], a->sha[5], inet_ntoa((struct in_addr){a->spa}));
        }
        goto out;
    }
    /* An RFC 5227 probe (sender 0.0.0.0) for our address is answered, so
     * the prober sees the address is taken; nothing is learned from it. */
    if (a->spa == 0 && op == ARP_OP_REQUEST && a->tpa == s->ip && !(a->sha[0] & 1)) {
        arp_send(s, ARP_OP_REPLY, a->sha, a->sha, 0);
        goto out;
    }
    /* A sender claiming a broadcast or multicast MAC, or a martian IP, is
     * not learned. */
    if ((a->sha[0] & 1) || ipv4_src_martian(s, a->spa))
        goto not_for_us;
    e = arp_find(&s->arp, a->spa);
    if (e && e->state == ARP_PENDING) {
        /* The answer to our question (or the peer asking us first). */
        arp_resolved(s, e, a->sha);
    } else if (e && (e->state == ARP_RESOLVED || e->state == ARP_PROBING)) {
        /* RFC 826 "merge" refreshes a known sender, but only with the MAC
         * we have: a new one, unasked for, may be a spoof (an unsolicited
         * reply, a gratuitous ARP); the entry expires and is resolved again
         * rather than be redirected by whoever speaks last. */
        if (memcmp(e->mac, a->sha, ETH_ALEN) == 0)
            arp_resolved(s, e, a->sha);
        else
            STAT_INC(s, arp_ignored_update);
    }
    if (a->tpa != s->ip)
        goto not_for_us;
    if (op == ARP_OP_REPLY) {
        if (!e)
            STAT_INC(s, arp_ignored_unsolicited); /* a reply makes no entry */
        goto out;
    }
    /* A request for us: learn the sender (it will likely talk to us). */
    if (!e && (e = arp_new(s, a->spa, ARP_PENDING)) != NULL)
        arp_resolved(s, e, a->sha);
    if (op == ARP_OP_REQUEST)
        arp_send(s, ARP_OP_REPLY, a->sha, a->sha, a->spa);
    goto out;
not_for_us:
    STAT_INC(s, arp_drop_not_for_us);
out:
    dbuf_chain_put(d);
}

const uint8_t *arp_lookup(struct inet_stack *s, uint32_t ip)
{
    struct arp_entry *e = arp_find(&s->arp, ip);
    return e && e->state >= ARP_RESOLVED ? e->mac : NULL;
}

int arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6])
{
    struct arp_entry *e = arp_find(&s->arp, ip);

    if (!e && !(e = arp_new(s, ip, ARP_PENDING)))
        return ENOMEM;
    if (e->state == ARP_STATIC)
        e->state = ARP_RESOLVED; /* a new permanent value replaces the old */
    arp_resolved(s, e, mac);     /* sends anything already waiting */
    timer_cancel(&s->timers, &e->timer);
    e->state = ARP_STATIC;
    return 0;
}

int arp_init(struct inet_stack *s, uint32_t retries, uint64_t timeout_ns, uint64_t ttl_ns)
{
    struct arp_table *t = &s->arp;

    memset(t, 0, sizeof(*t));
    for (int i = 0; i < ARP_BUCKETS; i++)
        list_init(&t->buckets[i]);
    list_init(&t->pending);
    t->entries = calloc(ARP_MAX_ENTRIES, sizeof(*t->entries));
    t->free = calloc(ARP_MAX_ENTRIES, sizeof(*t->free));
    if (!t->entries || !t->free) {
        free(t->entries);
        free(t->free);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < ARP_MAX_ENTRIES; i++)
        t->free[i] = &t->entries[ARP_MAX_ENTRIES - 1 - i];
    t->nfree = ARP_MAX_ENTRIES;
    t->retries = retries;
    t->timeout_ns = timeout_ns;
    t->ttl_ns = ttl_ns;
    return 0;
}

void arp_fini(struct inet_stack *s)
{
    struct arp_table *t = &s->arp;

    for (int b = 0; b < ARP_BUCKETS; b++) {
        struct list_node *pos, *tmp;
        list_for_each_safe (pos, tmp, &t->buckets[b]) {
            arp_free(s, list_entry(pos, struct arp_entry, hash_link));
        }
    }
    free(t->entries);
    free(t->free);
    memset(t, 0, sizeof(*t));
}
