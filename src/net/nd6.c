/* SPDX-License-Identifier: MIT */
/* nd6.c: IPv6 Neighbor Discovery (RFC 4861): the neighbor cache and its
 * NUD states, NS and NA, and Duplicate Address Detection (RFC 4862 5.4).
 * What each state does and what the wire may change: nd6.h. */
#include "net/nd6.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t nd6_hash(const struct in6_addr *ip)
{
    uint32_t w;

    memcpy(&w, ip->s6_addr + 12, 4); /* the interface identifier's end varies most */
    return (uint32_t)((w * 2654435761u) >> 24) & (ND6_BUCKETS - 1);
}

static struct nd6_entry *nd6_find(struct nd6_table *t, const struct in6_addr *ip)
{
    struct list_node *head = &t->buckets[nd6_hash(ip)], *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct nd6_entry *e = list_entry(pos, struct nd6_entry, hash_link);
        if (in6_equal(&e->ip, ip))
            return e;
    }
    return NULL;
}

static void nd6_timer_fn(struct timer *tm, void *arg);
static void nd6_free(struct inet_stack *s, struct nd6_entry *e);

static struct nd6_entry *nd6_new(struct inet_stack *s, const struct in6_addr *ip, uint8_t state)
{
    struct nd6_table *t = &s->ip6.nd;
    struct nd6_entry *e;

    if (t->nfree == 0) {
        /* Full: the oldest unresolved entry makes room (arp.c's rule). */
        if (list_empty(&t->incomplete)) {
            STAT_INC(s, nd6_drop_table_full);
            return NULL;
        }
        STAT_INC(s, nd6_evict_incomplete);
        nd6_free(s, list_entry(list_first(&t->incomplete), struct nd6_entry, incomplete_link));
    }
    e = t->free[--t->nfree];
    memset(e, 0, sizeof(*e));
    e->ip = *ip;
    e->state = state;
    e->stack = s;
    timer_init(&e->timer, nd6_timer_fn, e);
    list_init(&e->incomplete_link);
    list_add_tail(&t->buckets[nd6_hash(ip)], &e->hash_link);
    if (state == ND6_INCOMPLETE)
        list_add_tail(&t->incomplete, &e->incomplete_link);
    return e;
}

static void nd6_drop_pending(struct inet_stack *s, struct nd6_entry *e)
{
    for (int i = 0; i < e->npending; i++) {
        STAT_INC(s, nd6_drop_pending);
        dbuf_chain_put(e->pending[i]);
    }
    e->npending = 0;
}

static void nd6_free(struct inet_stack *s, struct nd6_entry *e)
{
    nd6_drop_pending(s, e);
    timer_cancel(&s->timers, &e->timer);
    list_del(&e->hash_link);
    if (list_linked(&e->incomplete_link))
        list_del(&e->incomplete_link);
    e->state = ND6_FREE;
    s->ip6.nd.free[s->ip6.nd.nfree++] = e;
}

/* Enter @state and arm the timer that state runs on. */
static void nd6_set_state(struct inet_stack *s, struct nd6_entry *e, uint8_t state)
{
    static const uint64_t after[] = {
        [ND6_INCOMPLETE] = ND6_RETRANS_NS, [ND6_REACHABLE] = ND6_REACHABLE_NS, [ND6_STALE] = ND6_STALE_GC_NS,
        [ND6_DELAY] = ND6_DELAY_NS,        [ND6_PROBE] = ND6_RETRANS_NS,
    };

    if (e->state == ND6_INCOMPLETE && state != ND6_INCOMPLETE)
        list_del(&e->incomplete_link);
    e->state = state;
    timer_arm(&s->timers, &e->timer, clock_now_ns() + after[state]);
}

/* ---- sending NS and NA --------------------------------------------------------- */

/* An NS for @target: to its solicited-node group, or to @target itself
 * (@unicast: NUD's probe); from :: without our link-layer address when
 * @dad (RFC 4862 5.4.2), else from our address for it, with it. */
static void nd6_send_ns(struct inet_stack *s, const struct in6_addr *target, bool unicast, bool dad)
{
    struct in6_addr src = {0}, dst;
    struct nd_opt_lladdr *o;
    struct nd_msg *m;
    struct dbuf *d;

    if (!dad && ipv6_select_src(s, target, &src) != 0) {
        STAT_INC(s, ip6_drop_no_src);
        return;
    }
    if (unicast)
        dst = *target;
    else
        in6_solicited_node(target, &dst);
    d = inet_alloc_hdr(s);
    if (!d)
        return;
    m = dbuf_append(d, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->h.type = ND_NEIGHBOR_SOLICIT;
    memcpy(m->target, target, 16);
    if (!dad) {
        o = dbuf_append(d, sizeof(*o));
        o->type = ND_OPT_SOURCE_LL;
        o->len = 1;
        memcpy(o->mac, s->mac, ETH_ALEN);
    }
    m->h.csum = inet6_pseudo_csum(&src, &dst, IPV6_NH_ICMPV6, d);
    STAT_INC(s, nd6_tx_ns);
    STAT_INC(s, icmp6_tx);
    ipv6_output_via(s, d, &src, &dst, IPV6_NH_ICMPV6, ND_HOP_LIMIT, NULL);
}

/* An NA for our address @target to @dst, with our link-layer address
 * (RFC 4861 7.2.4). */
static void nd6_send_na(struct inet_stack *s, const struct in6_addr *dst, const struct in6_addr *target, uint32_t flags)
{
    struct nd_opt_lladdr *o;
    struct nd_msg *m;
    struct dbuf *d = inet_alloc_hdr(s);

    if (!d)
        return;
    m = dbuf_append(d, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->h.type = ND_NEIGHBOR_ADVERT;
    m->h.data = htonl(flags);
    memcpy(m->target, target, 16);
    o = dbuf_append(d, sizeof(*o));
    o->type = ND_OPT_TARGET_LL;
    o->len = 1;
    memcpy(o->mac, s->mac, ETH_ALEN);
    m->h.csum = inet6_pseudo_csum(target, dst, IPV6_NH_ICMPV6, d);
    STAT_INC(s, nd6_tx_na);
    STAT_INC(s, icmp6_tx);
    ipv6_output_via(s, d, target, dst, IPV6_NH_ICMPV6, ND_HOP_LIMIT, NULL);
}

/* ---- the cache ---------------------------------------------------------------------- */

/* Send what waited for @e's link-layer address. */
static void nd6_flush(struct inet_stack *s, struct nd6_entry *e)
{
    if (e->npending == 0)
        return;
    for (int i = 0; i < e->npending; i++)
        eth_output(s, e->pending[i], e->mac, ETH_TYPE_IPV6);
    e->npending = 0;
    if (e->state == ND6_STALE) /* RFC 4861 7.3.3: sending to STALE */
        nd6_set_state(s, e, ND6_DELAY);
}

static void nd6_timer_fn(struct timer *tm, void *arg)
{
    struct nd6_entry *e = arg;
    struct inet_stack *s = e->stack;

    (void)tm;
    switch (e->state) {
    case ND6_INCOMPLETE:
        if (e->tries_left > 0) {
            e->tries_left--;
            nd6_send_ns(s, &e->ip, false, false);
            timer_arm(&s->timers, &e->timer, clock_now_ns() + ND6_RETRANS_NS);
            return;
        }
        STAT_INC(s, nd6_timeout);
        break;
    case ND6_REACHABLE:
        nd6_set_state(s, e, ND6_STALE);
        return;
    case ND6_STALE:
        STAT_INC(s, nd6_expired); /* idle */
        break;
    case ND6_DELAY:
        nd6_set_state(s, e, ND6_PROBE);
        e->tries_left = ND6_MAX_UNICAST_SOLICIT - 1;
        nd6_send_ns(s, &e->ip, true, false);
        return;
    case ND6_PROBE:
        if (e->tries_left > 0) {
            e->tries_left--;
            nd6_send_ns(s, &e->ip, true, false);
            timer_arm(&s->timers, &e->timer, clock_now_ns() + ND6_RETRANS_NS);
            return;
        }
        STAT_INC(s, nd6_probe_failed);
        break;
    default:
        return;
    }
    nd6_free(s, e);
}

void nd6_output(struct inet_stack *s, struct dbuf *d, const struct in6_addr *nh)
{
    struct nd6_entry *e;
    uint8_t mac[ETH_ALEN];

    if (in6_is_multicast(nh)) {
        in6_mcast_mac(nh, mac);
        eth_output(s, d, mac, ETH_TYPE_IPV6);
        return;
    }
    e = nd6_find(&s->ip6.nd, nh);
    if (likely(e && e->state >= ND6_REACHABLE)) {
        if (e->state == ND6_STALE)
            nd6_set_state(s, e, ND6_DELAY);
        eth_output(s, d, e->mac, ETH_TYPE_IPV6);
        return;
    }
    if (!e) {
        e = nd6_new(s, nh, ND6_INCOMPLETE);
        if (!e) {
            dbuf_chain_put(d);
            return;
        }
        e->tries_left = ND6_MAX_MULTICAST_SOLICIT - 1;
        timer_arm(&s->timers, &e->timer, clock_now_ns() + ND6_RETRANS_NS);
        nd6_send_ns(s, nh, false, false);
    }
    if (e->npending == ND6_PENDING_MAX) {
        STAT_INC(s, nd6_drop_pending_full);
        dbuf_chain_put(d);
        return;
    }
    e->pending[e->npending++] = d;
}

void nd6_output_via(struct inet_stack *s, struct dbuf *d, const struct in6_addr *nh, struct nd6_entry **route)
{
    struct nd6_entry *e = *route;

    if (likely(e && e->state >= ND6_REACHABLE && e->state != ND6_STALE && in6_equal(&e->ip, nh))) {
        eth_output(s, d, e->mac, ETH_TYPE_IPV6);
        return;
    }
    nd6_output(s, d, nh);
    e = in6_is_multicast(nh) ? NULL : nd6_find(&s->ip6.nd, nh);
    *route = e && e->state >= ND6_REACHABLE ? e : NULL;
}

const struct nd6_entry *nd6_lookup(struct inet_stack *s, const struct in6_addr *ip)
{
    return s->ip6.enabled ? nd6_find(&s->ip6.nd, ip) : NULL;
}

/* RFC 4861 7.2.3: an NS from @ip with its link-layer address. */
static void nd6_learn(struct inet_stack *s, const struct in6_addr *ip, const uint8_t *mac)
{
    struct nd6_entry *e = nd6_find(&s->ip6.nd, ip);

    if (!e) {
        e = nd6_new(s, ip, ND6_STALE);
        if (!e)
            return;
        memcpy(e->mac, mac, ETH_ALEN);
        nd6_set_state(s, e, ND6_STALE);
        return;
    }
    if (e->state == ND6_INCOMPLETE || memcmp(e->mac, mac, ETH_ALEN) != 0) {
        if (e->state == ND6_INCOMPLETE)
            STAT_INC(s, nd6_resolved);
        memcpy(e->mac, mac, ETH_ALEN);
        nd6_set_state(s, e, ND6_STALE);
        nd6_flush(s, e);
    }
}

/* RFC 4861 7.2.5: an NA for an entry we have. */
static void nd6_na_update(struct inet_stack *s, struct nd6_entry *e, uint32_t flags, const uint8_t *tlla)
{
    bool solicited = flags & ND_NA_FLAG_SOLICITED, override = flags & ND_NA_FLAG_OVERRIDE;
    bool same = tlla && memcmp(tlla, e->mac, ETH_ALEN) == 0;

    if (e->state == ND6_INCOMPLETE) {
        if (!tlla) {
            STAT_INC(s, nd6_na_ignored);
            return;
        }
        STAT_INC(s, nd6_resolved);
        memcpy(e->mac, tlla, ETH_ALEN);
        nd6_set_state(s, e, solicited ? ND6_REACHABLE : ND6_STALE);
        nd6_flush(s, e);
        return;
    }
    if (!override && tlla && !same) {
        /* Not to be overridden: a REACHABLE entry turns STALE (NUD will
         * check it), the address stays. */
        STAT_INC(s, nd6_na_ignored);
        if (e->state == ND6_REACHABLE)
            nd6_set_state(s, e, ND6_STALE);
        return;
    }
    if (tlla && !same)
        memcpy(e->mac, tlla, ETH_ALEN);
    if (solicited) {
        if (e->state == ND6_PROBE || e->state == ND6_DELAY)
            STAT_INC(s, nd6_probe_confirmed);
        nd6_set_state(s, e, ND6_REACHABLE);
    } else if (tlla && !same) {
        nd6_set_state(s, e, ND6_STALE);
    }
}

/* ---- DAD (RFC 4862 5.4) --------------------------------------------------------- */

static const char *in6_str(const struct in6_addr *a, char *b)
{
    return inet_ntop(AF_INET6, a, b, INET6_ADDRSTRLEN) ? b : "?";
}

static void nd6_dad_timer(struct timer *tm, void *arg)
{
    struct ip6_ifaddr *a = arg;
    struct inet_stack *s = a->stack;
    char b[INET6_ADDRSTRLEN];

    (void)tm;
    if (a->state != IP6_ADDR_TENTATIVE)
        return;
    if (a->dad_left > 0) {
        a->dad_left--;
        nd6_send_ns(s, &a->addr, false, true);
        timer_arm(&s->timers, &a->dad_timer, clock_now_ns() + ND6_RETRANS_NS);
        return;
    }
    a->state = IP6_ADDR_PREFERRED;
    STAT_INC(s, nd6_dad_ok);
    log_info("inetstack: %s: IPv6 address %s is unique on the link (DAD): in use", s->dev->name, in6_str(&a->addr, b));
}

void nd6_dad_start(struct inet_stack *s, int idx)
{
    struct ip6_ifaddr *a = &s->ip6.addrs[idx];

    timer_init(&a->dad_timer, nd6_dad_timer, a);
    if (s->ip6.dad_transmits == 0) {
        a->state = IP6_ADDR_PREFERRED;
        return;
    }
    a->state = IP6_ADDR_TENTATIVE;
    a->dad_left = (uint8_t)(s->ip6.dad_transmits - 1);
    nd6_send_ns(s, &a->addr, false, true);
    timer_arm(&s->timers, &a->dad_timer, clock_now_ns() + ND6_RETRANS_NS);
}

/* RFC 4862 5.4.3, 5.4.4: another node has or probes our tentative address. */
static void nd6_dad_conflict(struct inet_stack *s, struct ip6_ifaddr *a, const char *how)
{
    char b[INET6_ADDRSTRLEN];

    a->state = IP6_ADDR_DUPLICATE;
    timer_cancel(&s->timers, &a->dad_timer);
    STAT_INC(s, nd6_dad_conflict);
    log_err("inetstack: %s: IPv6 address %s is a duplicate (%s): it is not used; give this host another "
            "address (demikernel.local_ipv6_addr) or another MAC for its link-local one",
            s->dev->name, in6_str(&a->addr, b), how);
}

/* ---- input ---------------------------------------------------------------------- */

/* RFC 4861 7.1: every option's length non-zero and within the message; the
 * link-layer address option @want (source for NS, target for NA) in *@ll
 * when present, which on Ethernet is 8 bytes long. */
static bool nd6_opts(const uint8_t *p, uint32_t len, uint8_t want, const uint8_t **ll)
{
    uint32_t i = 0;

    *ll = NULL;
    while (i < len) {
        uint32_t olen;

        if (i + 2 > len || p[i + 1] == 0)
            return false;
        olen = (uint32_t)p[i + 1] * 8;
        if (i + olen > len)
            return false;
        if (p[i] == want) {
            if (olen != sizeof(struct nd_opt_lladdr))
                return false;
            *ll = p + i + 2;
        }
        i += olen;
    }
    return true;
}

/* Our address @target, by index, or -1. */
static int nd6_our_index(const struct inet_stack *s, const uint8_t *target)
{
    for (int i = 0; i < IP6_NADDR; i++)
        if (s->ip6.addrs[i].state != IP6_ADDR_NONE && in6_equal(&s->ip6.addrs[i].addr, target))
            return i;
    return -1;
}

static void nd6_ns_input(struct inet_stack *s, const struct nd_msg *m, const uint8_t *sll, const struct ipv6_rx *rx)
{
    int idx = nd6_our_index(s, m->target);
    bool unspec = in6_is_unspecified(&rx->src);
    struct in6_addr target;
    struct ip6_ifaddr *a;

    STAT_INC(s, nd6_ns_rx);
    /* RFC 4861 7.1.1: from :: only to a solicited-node group, without a
     * source link-layer address. A unicast NS from another node comes from
     * its own address, never ours. */
    if (unspec ? !rx->dst_mcast || sll : rx->src_ours) {
        STAT_INC(s, nd6_drop_invalid);
        return;
    }
    if (sll && (sll[0] & 1)) { /* a group address as a neighbor's */
        STAT_INC(s, nd6_drop_invalid);
        return;
    }
    if (idx < 0 || s->ip6.addrs[idx].state == IP6_ADDR_DUPLICATE) {
        STAT_INC(s, nd6_drop_not_ours);
        return;
    }
    a = &s->ip6.addrs[idx];
    if (a->state == IP6_ADDR_TENTATIVE) {
        /* RFC 4862 5.4.3: another node's DAD for the same address (ours do
         * not come back: the devices filter our own frames); any other NS
         * for a tentative address is not answered. */
        if (unspec)
            nd6_dad_conflict(s, a, "another node probes it");
        else
            STAT_INC(s, nd6_drop_not_ours);
        return;
    }
    memcpy(&target, m->target, 16);
    if (unspec) { /* RFC 4861 7.2.4: a DAD probe for an address we hold */
        nd6_send_na(s, &in6_all_nodes, &target, ND_NA_FLAG_OVERRIDE);
        return;
    }
    if (sll)
        nd6_learn(s, &rx->src, sll);
    nd6_send_na(s, &rx->src, &target, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
}

static void nd6_na_input(struct inet_stack *s, const struct nd_msg *m, const uint8_t *tll, const struct ipv6_rx *rx)
{
    uint32_t flags = ntohl(m->h.data);
    int idx = nd6_our_index(s, m->target);
    struct nd6_entry *e;
    struct in6_addr target;

    STAT_INC(s, nd6_na_rx);
    /* RFC 4861 7.1.2: a solicited NA is never sent to a group. */
    if ((rx->dst_mcast && (flags & ND_NA_FLAG_SOLICITED)) || in6_is_unspecified(&rx->src) || (tll && (tll[0] & 1))) {
        STAT_INC(s, nd6_drop_invalid);
        return;
    }
    if (idx >= 0) {
        struct ip6_ifaddr *a = &s->ip6.addrs[idx];
        if (s->dev->loopback) /* our own NA, come back: no other node is there */
            return;
        if (a->state == IP6_ADDR_TENTATIVE) {
            nd6_dad_conflict(s, a, "another node advertises it");
        } else if (a->state == IP6_ADDR_PREFERRED) {
            /* RFC 4862 5.4.4 leaves it to us: said, counted, kept. */
            static uint64_t last_ns;
            char b[INET6_ADDRSTRLEN];
            STAT_INC(s, nd6_addr_conflict);
            if (clock_now_ns() - last_ns > 1000000000ull) {
                last_ns = clock_now_ns();
                log_warn("inetstack: %s: another node advertises our IPv6 address %s (address conflict)", s->dev->name,
                         in6_str(&a->addr, b));
            }
        }
        return;
    }
    memcpy(&target, m->target, 16);
    e = nd6_find(&s->ip6.nd, &target);
    if (!e) {
        STAT_INC(s, nd6_na_ignored); /* RFC 4861 7.2.5: no entry, none made */
        return;
    }
    nd6_na_update(s, e, flags, tll);
}

void nd6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx)
{
    const struct nd_msg *m = (const struct nd_msg *)d->data;
    const uint8_t *ll;

    /* RFC 4861 7.1.1, 7.1.2: a hop limit of 255 proves the message comes
     * from the link; the checksum icmp6_input checked. */
    if (rx->hop_limit != ND_HOP_LIMIT) {
        STAT_INC(s, nd6_drop_hop_limit);
        goto out;
    }
    if (d->len < sizeof(*m) || m->h.code != 0 || in6_is_multicast(m->target) ||
        !nd6_opts(d->data + sizeof(*m), d->len - (uint32_t)sizeof(*m),
                  m->h.type == ND_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL, &ll)) {
        STAT_INC(s, nd6_drop_invalid);
        goto out;
    }
    if (m->h.type == ND_NEIGHBOR_SOLICIT)
        nd6_ns_input(s, m, ll, rx);
    else
        nd6_na_input(s, m, ll, rx);
out:
    dbuf_chain_put(d);
}

/* ---- the table ------------------------------------------------------------------ */

int nd6_init(struct inet_stack *s)
{
    struct nd6_table *t = &s->ip6.nd;

    memset(t, 0, sizeof(*t));
    for (int i = 0; i < ND6_BUCKETS; i++)
        list_init(&t->buckets[i]);
    list_init(&t->incomplete);
    t->entries = calloc(ND6_MAX_ENTRIES, sizeof(*t->entries));
    t->free = calloc(ND6_MAX_ENTRIES, sizeof(*t->free));
    if (!t->entries || !t->free) {
        free(t->entries);
        free(t->free);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < ND6_MAX_ENTRIES; i++)
        t->free[i] = &t->entries[ND6_MAX_ENTRIES - 1 - i];
    t->nfree = ND6_MAX_ENTRIES;
    return 0;
}

void nd6_fini(struct inet_stack *s)
{
    struct nd6_table *t = &s->ip6.nd;

    for (int b = 0; b < ND6_BUCKETS; b++) {
        struct list_node *pos, *tmp;
        list_for_each_safe (pos, tmp, &t->buckets[b]) {
            nd6_free(s, list_entry(pos, struct nd6_entry, hash_link));
        }
    }
    free(t->entries);
    free(t->free);
    memset(t, 0, sizeof(*t));
}
