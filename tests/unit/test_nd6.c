/* SPDX-License-Identifier: MIT */
/*
 * test_nd6.c: Neighbor Discovery (nd6.c) on the sink netdev
 * (net_harness.h), in virtual time: NS answered, resolution with its
 * retransmissions, give-up and pending queue, the NUD states, the NA
 * override rules, DAD success and both kinds of conflict, and every
 * validation rule of RFC 4861 7.1 dropped and counted.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

/* An NS for @target from @src (peer_mac), @sll: with its SLLA option. */
static void mk_ns(struct pkt *p, const struct in6_addr *src, const struct in6_addr *dst, const struct in6_addr *target,
                  bool sll, uint8_t hops)
{
    uint8_t body[24];
    uint8_t mac[6];

    memcpy(body, target, 16);
    body[16] = ND_OPT_SOURCE_LL;
    body[17] = 1;
    memcpy(body + 18, peer_mac, 6);
    if (in6_is_multicast(dst))
        in6_mcast_mac(dst, mac);
    else
        memcpy(mac, my_mac, 6);
    mk_icmp6(p, mac, src, dst, hops, ND_NEIGHBOR_SOLICIT, 0, 0, body, sll ? 24 : 16);
}

/* An NA for @target from @src with flags and TLLA @tll (NULL: none). */
static void mk_na(struct pkt *p, const struct in6_addr *src, const struct in6_addr *dst, const struct in6_addr *target,
                  uint32_t flags, const uint8_t *tll)
{
    uint8_t body[24];
    uint8_t mac[6];

    memcpy(body, target, 16);
    body[16] = ND_OPT_TARGET_LL;
    body[17] = 1;
    if (tll)
        memcpy(body + 18, tll, 6);
    if (in6_is_multicast(dst))
        in6_mcast_mac(dst, mac);
    else
        memcpy(mac, my_mac, 6);
    mk_icmp6(p, mac, src, dst, 255, ND_NEIGHBOR_ADVERT, 0, flags, body, tll ? 24 : 16);
}

/* Frame @i must be an NS from @src for @target to @dst/@dst_mac, with our
 * SLLA unless @src is ::. */
static void parse_ns(const struct ctx *c, unsigned i, const struct in6_addr *src, const struct in6_addr *dst,
                     const uint8_t *dst_mac, const struct in6_addr *target)
{
    struct parsed6 ps;
    bool dad = in6_is_unspecified(src);

    parse_ipv6(c, i, &ps, dst_mac, src, dst, IPV6_NH_ICMPV6, 255);
    assert_int_equal(ps.l4len, dad ? 24 : 32);
    assert_int_equal(ps.l4[0], ND_NEIGHBOR_SOLICIT);
    assert_int_equal(ps.l4[1], 0);
    assert_memory_equal(ps.l4 + 8, target, 16);
    if (!dad) {
        assert_int_equal(ps.l4[24], ND_OPT_SOURCE_LL);
        assert_int_equal(ps.l4[25], 1);
        assert_memory_equal(ps.l4 + 26, my_mac, 6);
    }
}

static void parse_ns_multicast(const struct ctx *c, unsigned i, const struct in6_addr *src,
                               const struct in6_addr *target)
{
    struct in6_addr sn;
    uint8_t mac[6];

    in6_solicited_node(target, &sn);
    in6_mcast_mac(&sn, mac);
    parse_ns(c, i, src, &sn, mac, target);
}

/* ======================================================================= */
/* Answering                                                               */
/* ======================================================================= */

static void test_nd6_ns_answered_and_learned(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR), sn;
    struct parsed6 ps;
    const struct nd6_entry *e;
    uint32_t flags;
    struct pkt p;

    in6_solicited_node(&me, &sn);
    mk_ns(&p, &peer, &sn, &me, true, 255);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 255);
    assert_int_equal(ps.l4[0], ND_NEIGHBOR_ADVERT);
    memcpy(&flags, ps.l4 + 4, 4);
    assert_int_equal(ntohl(flags), ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
    assert_memory_equal(ps.l4 + 8, &me, 16);
    assert_int_equal(ps.l4[24], ND_OPT_TARGET_LL);
    assert_memory_equal(ps.l4 + 26, my_mac, 6);
    e = nd6_lookup(&c->s, &peer);
    assert_non_null(e);
    assert_memory_equal(e->mac, peer_mac, 6);
    assert_int_equal(e->state, ND6_DELAY); /* STALE, then our NA went to it */
    assert_int_equal(c->s.stats.nd6_tx_na, 1);
}

static void test_nd6_ns_linklocal_unicast(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_LL_STR), me = a6(MY_LL_STR);
    struct parsed6 ps;
    struct pkt p;

    mk_ns(&p, &peer, &me, &me, true, 255); /* a unicast NS (NUD) */
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 255);
    assert_int_equal(ps.l4[0], ND_NEIGHBOR_ADVERT);
}

/* A DAD probe for an address we hold: NA to all-nodes, not solicited. */
static void test_nd6_dad_probe_for_our_address(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), un = a6("::"), all = a6("ff02::1"), sn;
    struct parsed6 ps;
    uint32_t flags;
    struct pkt p;

    in6_solicited_node(&me, &sn);
    mk_ns(&p, &un, &sn, &me, false, 255);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, all_nodes_mac, &me, &all, IPV6_NH_ICMPV6, 255);
    memcpy(&flags, ps.l4 + 4, 4);
    assert_int_equal(ntohl(flags), ND_NA_FLAG_OVERRIDE);
    assert_null(nd6_lookup(&c->s, &un));
}

static void test_nd6_invalid(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR), un = a6("::"), other = a6("fd00::99"), sn, grp;
    uint8_t body[40];
    struct pkt p;

    in6_solicited_node(&me, &sn);
    /* RFC 4861 7.1.1: hop limit 255 only. */
    for (unsigned h = 0; h < 255; h += 50) {
        mk_ns(&p, &peer, &sn, &me, true, (uint8_t)h);
        expect_drop(c, &p, "nd6_drop_hop_limit");
    }
    mk_ns(&p, &peer, &sn, &me, true, 254);
    expect_drop(c, &p, "nd6_drop_hop_limit");
    /* Code not 0. */
    memcpy(body, &me, 16);
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 1, 0, body, 16);
    expect_drop(c, &p, "nd6_drop_invalid");
    /* Shorter than 24 bytes, at every length. */
    for (size_t n = 0; n < 16; n++) {
        mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, n);
        expect_drop(c, &p, "nd6_drop_invalid");
        mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_ADVERT, 0, 0, body, n);
        expect_drop(c, &p, "nd6_drop_invalid");
    }
    /* A multicast target. */
    grp = a6("ff02::1");
    mk_ns(&p, &peer, &sn, &grp, true, 255);
    expect_drop(c, &p, "nd6_drop_invalid");
    /* Options: length 0, past the end, an SLLA not 8 bytes, a lone byte. */
    memcpy(body, &me, 16);
    memset(body + 16, 0, 24);
    body[16] = ND_OPT_SOURCE_LL;
    body[17] = 0;
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, 24);
    expect_drop(c, &p, "nd6_drop_invalid");
    body[17] = 2;
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, 24);
    expect_drop(c, &p, "nd6_drop_invalid");
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, 32); /* SLLA of 16 bytes */
    expect_drop(c, &p, "nd6_drop_invalid");
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, 17);
    expect_drop(c, &p, "nd6_drop_invalid");
    body[16] = 99; /* an unknown option of length 0 */
    body[17] = 0;
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_NEIGHBOR_ADVERT, 0, 0, body, 24);
    expect_drop(c, &p, "nd6_drop_invalid");
    /* DAD NS: to a unicast address, or with an SLLA. */
    mk_ns(&p, &un, &me, &me, false, 255);
    expect_drop(c, &p, "nd6_drop_invalid");
    mk_ns(&p, &un, &sn, &me, true, 255);
    expect_drop(c, &p, "nd6_drop_invalid");
    /* A solicited NA to a group. */
    mk_na(&p, &peer, &grp, &peer, ND_NA_FLAG_SOLICITED, peer_mac);
    expect_drop(c, &p, "nd6_drop_invalid");
    /* A bad checksum. */
    mk_ns(&p, &peer, &sn, &me, true, 255);
    p.b[ETH_HLEN + IPV6_HLEN + 2] ^= 1;
    expect_drop(c, &p, "icmp6_drop_csum");
    /* Not ours. */
    in6_solicited_node(&other, &sn);
    mk_ns(&p, &peer, &me, &other, true, 255);
    expect_drop(c, &p, "nd6_drop_not_ours");
    /* Router messages: ignored. */
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_ROUTER_ADVERT, 0, 0, body, 12);
    expect_drop(c, &p, "nd6_router_ignored");
    mk_icmp6(&p, my_mac, &peer, &me, 255, ND_REDIRECT, 0, 0, body, 32);
    expect_drop(c, &p, "nd6_router_ignored");
    mk_icmp6(&p, all_nodes_mac, &peer, &grp, 255, ND_ROUTER_SOLICIT, 0, 0, body, 0);
    expect_drop(c, &p, "nd6_router_ignored");
    /* An NA nobody asked for makes no entry. */
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED, peer_mac);
    expect_drop(c, &p, "nd6_na_ignored");
    assert_null(nd6_lookup(&c->s, &peer));
}

/* ======================================================================= */
/* Resolution                                                              */
/* ======================================================================= */

static void test_nd6_resolution(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    const struct nd6_entry *e;
    struct parsed6 ps;
    struct pkt p;

    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 1, 10), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ns_multicast(c, 0, &me, &peer);
    e = nd6_lookup(&c->s, &peer);
    assert_non_null(e);
    assert_int_equal(e->state, ND6_INCOMPLETE);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + 1);
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, peer_mac);
    feed(c, &p);
    assert_int_equal(c->sink.n, 2);
    parse_ipv6(c, 1, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REQUEST);
    assert_int_equal(e->state, ND6_REACHABLE);
    assert_int_equal(c->s.stats.nd6_resolved, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_nd6_retransmit_and_give_up(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);

    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 1, 10), 0);
    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 2, 10), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    clock_advance(ND6_RETRANS_NS - 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    clock_advance(1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    clock_advance(ND6_RETRANS_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3); /* ND6_MAX_MULTICAST_SOLICIT */
    for (unsigned i = 0; i < 3; i++)
        parse_ns_multicast(c, i, &me, &peer);
    assert_int_equal(c->s.stats.nd6_timeout, 0);
    clock_advance(ND6_RETRANS_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    assert_int_equal(c->s.stats.nd6_timeout, 1);
    assert_int_equal(c->s.stats.nd6_drop_pending, 2);
    assert_null(nd6_lookup(&c->s, &peer));
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_nd6_pending_full(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR);

    for (int i = 0; i < ND6_PENDING_MAX + 2; i++)
        assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, (uint16_t)i, 10), 0);
    assert_int_equal(c->s.stats.nd6_drop_pending_full, 2);
    inet_stack_poll(&c->s);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + ND6_PENDING_MAX);
}

/* RFC 4861 7.3.2: REACHABLE -> STALE -> DELAY -> PROBE -> gone, and a
 * probe answered. */
static void test_nd6_nud(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    const struct nd6_entry *e;
    struct pkt p;

    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 1, 10), 0);
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED, peer_mac);
    feed(c, &p);
    e = nd6_lookup(&c->s, &peer);
    assert_int_equal(e->state, ND6_REACHABLE);
    sink_clear(c);
    clock_advance(ND6_REACHABLE_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(e->state, ND6_STALE);
    assert_int_equal(c->sink.n, 0);
    /* Sending to STALE: goes at once, DELAY. */
    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 2, 10), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(e->state, ND6_DELAY);
    clock_advance(ND6_DELAY_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(e->state, ND6_PROBE);
    assert_int_equal(c->sink.n, 2);
    parse_ns(c, 1, &me, &peer, peer_mac, &peer); /* unicast */
    /* Answered: REACHABLE again. */
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED, peer_mac);
    feed(c, &p);
    assert_int_equal(e->state, ND6_REACHABLE);
    assert_int_equal(c->s.stats.nd6_probe_confirmed, 1);
    /* Again, unanswered: ND6_MAX_UNICAST_SOLICIT probes, then gone. */
    sink_clear(c);
    clock_advance(ND6_REACHABLE_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 3, 10), 0);
    clock_advance(ND6_DELAY_NS);
    inet_stack_poll(&c->s);
    for (int i = 1; i < ND6_MAX_UNICAST_SOLICIT; i++) {
        clock_advance(ND6_RETRANS_NS);
        inet_stack_poll(&c->s);
    }
    assert_int_equal(c->sink.n, 1 + ND6_MAX_UNICAST_SOLICIT);
    assert_non_null(nd6_lookup(&c->s, &peer));
    clock_advance(ND6_RETRANS_NS);
    inet_stack_poll(&c->s);
    assert_null(nd6_lookup(&c->s, &peer));
    assert_int_equal(c->s.stats.nd6_probe_failed, 1);
}

/* RFC 4861 7.2.5: an NA without override keeps a known address; with it,
 * the address changes. */
static void test_nd6_na_override(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    const struct nd6_entry *e;
    struct pkt p;

    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 1, 10), 0);
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED, peer_mac);
    feed(c, &p);
    e = nd6_lookup(&c->s, &peer);
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_SOLICITED, other_mac);
    feed(c, &p);
    assert_memory_equal(e->mac, peer_mac, 6);
    assert_int_equal(e->state, ND6_STALE);
    assert_int_equal(c->s.stats.nd6_na_ignored, 1);
    mk_na(&p, &peer, &me, &peer, ND_NA_FLAG_OVERRIDE, other_mac);
    feed(c, &p);
    assert_memory_equal(e->mac, other_mac, 6);
    assert_int_equal(e->state, ND6_STALE);
}

/* ======================================================================= */
/* DAD (RFC 4862 5.4)                                                      */
/* ======================================================================= */

static void test_nd6_dad_success(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), ll = a6(MY_LL_STR), un = a6("::"), peer = a6(PEER_IP6_STR);
    struct pkt p;

    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2); /* one NS from :: per address */
    parse_ns_multicast(c, 0, &un, &ll);
    parse_ns_multicast(c, 1, &un, &me);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_TENTATIVE);
    /* Tentative: not a destination. */
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 0, 1, NULL, 0);
    expect_drop(c, &p, "ip6_drop_not_for_us");
    clock_advance(ND6_RETRANS_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_LL].state, IP6_ADDR_PREFERRED);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_PREFERRED);
    assert_int_equal(c->s.stats.nd6_dad_ok, 2);
    assert_int_equal(c->sink.n, 2);
}

static void test_nd6_dad_conflict_na(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), ll = a6(MY_LL_STR), all = a6("ff02::1"), d = a6("2001:db8::1"), src;
    struct pkt p;

    inet_stack_poll(&c->s);
    sink_clear(c);
    /* Another node defends the address, from it. */
    mk_na(&p, &me, &all, &me, ND_NA_FLAG_OVERRIDE, peer_mac);
    feed(c, &p);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_DUPLICATE);
    assert_int_equal(c->s.stats.nd6_dad_conflict, 1);
    clock_advance(ND6_RETRANS_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_DUPLICATE);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_LL].state, IP6_ADDR_PREFERRED);
    assert_int_equal(c->sink.n, 0);
    /* Never a source. */
    assert_int_equal(ipv6_select_src(&c->s, &d, &src), 0);
    assert_memory_equal(&src, &ll, 16);
}

static void test_nd6_dad_conflict_probe(void **state)
{
    struct ctx *c = *state;
    struct in6_addr ll = a6(MY_LL_STR), un = a6("::"), sn;
    struct pkt p;

    inet_stack_poll(&c->s);
    sink_clear(c);
    in6_solicited_node(&ll, &sn);
    mk_ns(&p, &un, &sn, &ll, false, 255);
    feed(c, &p);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_LL].state, IP6_ADDR_DUPLICATE);
    assert_int_equal(c->s.stats.nd6_dad_conflict, 1);
    assert_int_equal(c->sink.n, 0);
}

/* A node advertising an address we use: counted, said, kept. */
static void test_nd6_addr_conflict(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), all = a6("ff02::1");
    struct pkt p;

    mk_na(&p, &me, &all, &me, ND_NA_FLAG_OVERRIDE, peer_mac);
    expect_drop(c, &p, "nd6_addr_conflict");
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_PREFERRED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T6(test_nd6_ns_answered_and_learned),
        T6(test_nd6_ns_linklocal_unicast),
        T6(test_nd6_dad_probe_for_our_address),
        T6(test_nd6_invalid),
        T6(test_nd6_resolution),
        T6(test_nd6_retransmit_and_give_up),
        T6(test_nd6_pending_full),
        T6(test_nd6_nud),
        T6(test_nd6_na_override),
        T6D(test_nd6_dad_success),
        T6D(test_nd6_dad_conflict_na),
        T6D(test_nd6_dad_conflict_probe),
        T6(test_nd6_addr_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
