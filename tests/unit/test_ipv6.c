/* SPDX-License-Identifier: MIT */
/*
 * test_ipv6.c: the IPv6 layer (ipv6.c) on the sink netdev (net_harness.h):
 * our addresses, the header checks, every extension header and option rule
 * of RFC 8200 with its counter, the fragment rule, source selection, output
 * limits and the Path MTU cache. ICMPv6 echo serves as the probe that a
 * packet got through (test_icmp6 tests ICMPv6 itself).
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static const uint8_t echo_body[8] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};

/* The peer's global address known (STALE, then DELAY), so replies go at once. */
static void learn_global(struct ctx *c)
{
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    learn_peer6(c, &peer, &me);
}

/* An echo request from the peer's global address to ours, behind @ext. */
static void mk_echo_ext(struct pkt *p, uint8_t first_next, const void *ext, size_t extlen)
{
    struct in6_addr src = a6(PEER_IP6_STR), dst = a6(MY_IP6_STR);
    mk_icmp6_ext(p, my_mac, &src, &dst, 64, first_next, ext, extlen, ICMP6_ECHO_REQUEST, 0, 0x12340001, echo_body,
                 sizeof(echo_body));
}

/* Feed @p, expect exactly one echo reply to the peer, counters as said. */
static void expect_echo_answered(struct ctx *c, const struct pkt *p)
{
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct parsed6 ps;
    unsigned n = c->sink.n;

    feed(c, p);
    assert_int_equal(c->sink.n, n + 1);
    parse_ipv6(c, n, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REPLY);
    assert_int_equal(ps.l4len, 8 + sizeof(echo_body));
    assert_memory_equal(ps.l4 + 8, echo_body, sizeof(echo_body));
}

/* Feed @p: dropped under @counter, and one parameter problem of @code
 * pointing at @ptr sent back to the peer (about the packet, quoted). */
static void expect_param_problem(struct ctx *c, const struct pkt *p, const char *counter, uint8_t code, uint32_t ptr)
{
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct inet_stats before = c->s.stats;
    struct parsed6 ps;
    uint32_t v;

    feed(c, p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_PARAM_PROB);
    assert_int_equal(ps.l4[1], code);
    memcpy(&v, ps.l4 + 4, 4);
    assert_int_equal(ntohl(v), ptr);
    assert_int_equal(ps.l4len, 8 + p->len - ETH_HLEN);
    assert_memory_equal(ps.l4 + 8, p->b + ETH_HLEN, p->len - ETH_HLEN);
    assert_int_equal(c->s.stats.icmp6_err_tx - before.icmp6_err_tx, 1);
    {
        uint64_t d;
        char name[64];
        snprintf(name, sizeof(name), "%s", counter);
        assert_int_equal(inet_stats_get(&c->s.stats, name, &d), 0);
        uint64_t b0;
        assert_int_equal(inet_stats_get(&before, name, &b0), 0);
        assert_int_equal(d - b0, 1);
    }
    sink_clear(c);
}

/* ======================================================================= */
/* Addresses                                                               */
/* ======================================================================= */

static void test_ipv6_linklocal_eui64(void **state)
{
    struct ctx *c = *state;
    static const uint8_t mac[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
    struct in6_addr ll, want = a6("fe80::211:22ff:fe33:4455"), sn, sn_want = a6("ff02::1:ff33:4455");
    uint8_t gmac[6];
    static const uint8_t gmac_want[6] = {0x33, 0x33, 0xff, 0x33, 0x44, 0x55};

    /* RFC 4291 appendix A: the universal/local bit inverted, ff:fe in the
     * middle. */
    in6_linklocal_from_mac(mac, &ll);
    assert_memory_equal(&ll, &want, 16);
    want = a6(MY_LL_STR); /* 02:00:00:00:00:01: the local bit cleared */
    assert_memory_equal(&c->s.ip6.addrs[IP6_ADDR_LL].addr, &want, 16);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_LL].state, IP6_ADDR_PREFERRED);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_PREFERRED);
    in6_solicited_node(&ll, &sn);
    assert_memory_equal(&sn, &sn_want, 16);
    in6_mcast_mac(&sn, gmac);
    assert_memory_equal(gmac, gmac_want, 6);
}

/* Without a configured address: the link-local only, and nothing sent. */
static void test_ipv6_passive_without_global(void **state)
{
    struct ctx *c = *state;
    struct in6_addr ll = a6(MY_LL_STR), peer = a6(PEER_LL_STR), src;

    assert_int_equal(c->sink.n, 0);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_LL].state, IP6_ADDR_PREFERRED);
    assert_int_equal(c->s.ip6.addrs[IP6_ADDR_GLOBAL].state, IP6_ADDR_NONE);
    assert_int_equal(ipv6_select_src(&c->s, &peer, &src), 0);
    assert_memory_equal(&src, &ll, 16);
    peer = a6(PEER_IP6_STR); /* a global destination: from the link-local */
    assert_int_equal(ipv6_select_src(&c->s, &peer, &src), 0);
    assert_memory_equal(&src, &ll, 16);
}

static void test_ipv6_select_src(void **state)
{
    struct ctx *c = *state;
    struct in6_addr ll = a6(MY_LL_STR), gl = a6(MY_IP6_STR), src, d;

    d = a6(PEER_LL_STR);
    assert_int_equal(ipv6_select_src(&c->s, &d, &src), 0);
    assert_memory_equal(&src, &ll, 16);
    d = a6("ff02::1");
    assert_int_equal(ipv6_select_src(&c->s, &d, &src), 0);
    assert_memory_equal(&src, &ll, 16);
    d = a6("2001:db8::5");
    assert_int_equal(ipv6_select_src(&c->s, &d, &src), 0);
    assert_memory_equal(&src, &gl, 16);
    /* No usable address: refused, counted, nothing sent. */
    c->s.ip6.addrs[IP6_ADDR_LL].state = IP6_ADDR_DUPLICATE;
    c->s.ip6.addrs[IP6_ADDR_GLOBAL].state = IP6_ADDR_TENTATIVE;
    assert_int_equal(ipv6_select_src(&c->s, &d, &src), EADDRNOTAVAIL);
    assert_int_equal(ipv6_output(&c->s, payload_buf(c, echo_body, 8), &d, IPV6_NH_UDP), EADDRNOTAVAIL);
    assert_int_equal(c->s.stats.ip6_drop_no_src, 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 0);
}

/* ======================================================================= */
/* Header checks                                                           */
/* ======================================================================= */

static void test_ipv6_echo_global_and_linklocal(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_LL_STR), me = a6(MY_LL_STR);
    struct parsed6 ps;
    struct pkt p;

    learn_global(c);
    mk_echo_ext(&p, 0, NULL, 0);
    expect_echo_answered(c, &p);
    sink_clear(c);
    learn_peer6(c, &peer, &me);
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 0, 7, echo_body, 8);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REPLY);
    assert_int_equal(c->s.stats.icmp6_echo_request, 2);
}

static void test_ipv6_truncated_every_byte(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_echo_ext(&p, 0, NULL, 0);
    for (size_t n = ETH_HLEN; n < ETH_HLEN + IPV6_HLEN; n++)
        expect_drop_bytes(c, p.b, n, "ip6_drop_runt");
    /* Cut anywhere in the payload: the length says more than there is. */
    for (size_t n = ETH_HLEN + IPV6_HLEN; n < p.len; n++)
        expect_drop_bytes(c, p.b, n, "ip6_drop_len");
}

static void test_ipv6_bad_version_and_length(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_echo_ext(&p, 0, NULL, 0);
    p.b[ETH_HLEN] = 0x45;
    expect_drop(c, &p, "ip6_drop_version");
    mk_echo_ext(&p, 0, NULL, 0);
    ((struct ipv6_hdr *)(p.b + ETH_HLEN))->payload_len = htons(0xffff);
    expect_drop(c, &p, "ip6_drop_len");
}

/* Ethernet pads a short frame: the padding is cut by the payload length. */
static void test_ipv6_padding_trimmed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    learn_global(c);
    mk_echo_ext(&p, 0, NULL, 0);
    memset(p.b + p.len, 0xaa, 20);
    p.len += 20;
    expect_echo_answered(c, &p);
}

static void test_ipv6_martian_sources(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), src;
    static const char *bad[] = {"ff02::1", "ff05::2", "::1"};
    struct pkt p;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        src = a6(bad[i]);
        mk_icmp6(&p, my_mac, &src, &me, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
        expect_drop(c, &p, "ip6_drop_martian");
        mk_ipv6(&p, my_mac, &src, &me, IPV6_NH_UDP, 64, echo_body, 8);
        expect_drop(c, &p, "ip6_drop_martian");
    }
    /* Our own address, and ::, for TCP, UDP and echo. */
    for (int k = 0; k < 2; k++) {
        src = k ? me : a6("::");
        mk_ipv6(&p, my_mac, &src, &me, IPV6_NH_TCP, 64, echo_body, 8);
        expect_drop(c, &p, k ? "ip6_drop_martian" : "ip6_drop_not_for_us");
        mk_ipv6(&p, my_mac, &src, &me, IPV6_NH_UDP, 64, echo_body, 8);
        expect_drop(c, &p, "ip6_drop_martian");
        mk_icmp6(&p, my_mac, &src, &me, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
        expect_drop(c, &p, "ip6_drop_martian");
    }
}

static void test_ipv6_not_for_us(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), d;
    static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    static const uint8_t all_routers_mac[6] = {0x33, 0x33, 0, 0, 0, 2};
    struct pkt p;

    d = a6("fd00::99");
    mk_icmp6(&p, my_mac, &peer, &d, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_not_for_us");
    d = a6("fe80::99");
    mk_icmp6(&p, my_mac, &peer, &d, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_not_for_us");
    /* A group we did not join: at Ethernet, or at IPv6 in a joined one. */
    d = a6("ff02::2");
    mk_icmp6(&p, all_routers_mac, &peer, &d, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
    expect_drop(c, &p, "eth_drop_not_for_us");
    mk_icmp6(&p, all_nodes_mac, &peer, &d, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_not_for_us");
    /* The solicited-node group of another address. */
    d = a6("ff02::1:ff00:99");
    mk_icmp6(&p, all_nodes_mac, &peer, &d, 64, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_not_for_us");
    /* TCP to a group we joined. */
    d = a6("ff02::1");
    mk_ipv6(&p, all_nodes_mac, &peer, &d, IPV6_NH_TCP, 64, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_not_for_us");
}

/* RFC 8200 3: a destination processes a packet with hop limit 0. */
static void test_ipv6_hop_limit_zero_accepted(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    learn_global(c);
    mk_echo_ext(&p, 0, NULL, 0);
    ((struct ipv6_hdr *)(p.b + ETH_HLEN))->hop_limit = 0;
    expect_echo_answered(c, &p);
}

/* The upper layers get their packets: 8 bytes are no TCP header (TCP's
 * counter); no next header is counted, dropped. */
static void test_ipv6_upper_hooks_drop(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct pkt p;

    mk_ipv6(&p, my_mac, &peer, &me, IPV6_NH_TCP, 64, echo_body, 8);
    expect_drop(c, &p, "tcp_drop_runt");
    /* UDP has its hook now: test_udp6.c. */
    mk_ipv6(&p, my_mac, &peer, &me, IPV6_NH_NONE, 64, echo_body, 8);
    expect_drop(c, &p, "ip6_drop_proto");
}

/* ======================================================================= */
/* Extension headers                                                       */
/* ======================================================================= */

static void test_ipv6_ext_chain_processed(void **state)
{
    struct ctx *c = *state;
    uint8_t ext[8 * 40];
    struct pkt p;

    learn_global(c);
    /* Hop-by-hop (PadN, Router Alert), routing with no segment left, an
     * atomic fragment, destination options (Pad1s, an unknown skip-type
     * option): the echo gets through. */
    memset(ext, 0, sizeof(ext));
    ext[0] = IPV6_NH_ROUTING; /* HBH */
    ext[1] = 0;
    ext[2] = 5; /* Router Alert */
    ext[3] = 2;
    ext[6] = 1; /* PadN 0 */
    ext[7] = 0;
    ext[8] = IPV6_NH_FRAGMENT; /* routing, type 0, segs left 0 */
    ext[9] = 0;
    ext[10] = 0;
    ext[11] = 0;
    ext[16] = IPV6_NH_DSTOPTS; /* atomic fragment */
    ext[24] = IPV6_NH_ICMPV6;  /* DST: Pad1, Pad1, option 0x1e (00: skip) len 2, Pad1 x 2 */
    ext[25] = 0;
    ext[28] = 0x1e;
    ext[29] = 0;
    mk_echo_ext(&p, IPV6_NH_HOPOPTS, ext, 32);
    expect_echo_answered(c, &p);
    assert_int_equal(c->s.stats.ip6_rx_atomic_frag, 1);
    sink_clear(c);

    /* A long chain of destination options headers: walked to its end. */
    for (int i = 0; i < 40; i++) {
        ext[i * 8] = i == 39 ? IPV6_NH_ICMPV6 : IPV6_NH_DSTOPTS;
        ext[i * 8 + 1] = 0;
        ext[i * 8 + 2] = 1; /* PadN of 4 */
        ext[i * 8 + 3] = 4;
        memset(ext + i * 8 + 4, 0, 4);
    }
    mk_echo_ext(&p, IPV6_NH_DSTOPTS, ext, 40 * 8);
    expect_echo_answered(c, &p);
}

/* Every extension header cut short, at every byte, and a length running
 * past the packet. */
static void test_ipv6_ext_truncated(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    static const uint8_t types[] = {IPV6_NH_HOPOPTS, IPV6_NH_DSTOPTS, IPV6_NH_ROUTING, IPV6_NH_FRAGMENT};
    uint8_t ext[16];
    struct pkt p;

    for (size_t t = 0; t < sizeof(types); t++) {
        memset(ext, 0, sizeof(ext));
        ext[0] = IPV6_NH_ICMPV6;
        for (size_t n = 0; n < 8; n++) {
            mk_ipv6(&p, my_mac, &peer, &me, types[t], 64, ext, n);
            expect_drop(c, &p, "ip6_drop_ext");
        }
        if (types[t] == IPV6_NH_FRAGMENT)
            continue;
        ext[1] = 1; /* 16 bytes said, 8 there */
        mk_ipv6(&p, my_mac, &peer, &me, types[t], 64, ext, 8);
        expect_drop(c, &p, "ip6_drop_ext");
        ext[1] = 255;
        mk_ipv6(&p, my_mac, &peer, &me, types[t], 64, ext, 16);
        expect_drop(c, &p, "ip6_drop_ext");
    }
    /* A chain whose last header runs past the packet. */
    {
        uint8_t chain[8 * 10];
        for (int i = 0; i < 10; i++) {
            memset(chain + i * 8, 0, 8);
            chain[i * 8] = IPV6_NH_DSTOPTS;
        }
        chain[9 * 8 + 1] = 3;
        mk_ipv6(&p, my_mac, &peer, &me, IPV6_NH_DSTOPTS, 64, chain, sizeof(chain));
        expect_drop(c, &p, "ip6_drop_ext");
    }
}

/* RFC 8200 4.1: hop-by-hop only right after the IPv6 header. */
static void test_ipv6_hbh_not_first(void **state)
{
    struct ctx *c = *state;
    uint8_t ext[16] = {0};
    struct pkt p;

    learn_global(c);
    ext[0] = IPV6_NH_HOPOPTS; /* DST, then HBH */
    ext[8] = IPV6_NH_ICMPV6;
    mk_echo_ext(&p, IPV6_NH_DSTOPTS, ext, 16);
    /* Pointer: the DST header's next-header field, at 40. */
    expect_param_problem(c, &p, "ip6_drop_ext", ICMP6_PARAM_PROB_NEXT, 40);
}

/* RFC 8200 4.2: the two high bits of an unknown option's type. */
static void test_ipv6_option_actions(void **state)
{
    struct ctx *c = *state;
    uint8_t ext[8] = {IPV6_NH_ICMPV6, 0, 0, 0, 1, 0, 0, 0};
    struct in6_addr peer = a6(PEER_IP6_STR), all = a6("ff02::1");
    static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    struct pkt p;

    learn_global(c);
    for (int hbh = 0; hbh < 2; hbh++) {
        uint8_t first = hbh ? IPV6_NH_HOPOPTS : IPV6_NH_DSTOPTS;

        ext[2] = 0x1f; /* 00: skipped */
        ext[3] = 0;
        mk_echo_ext(&p, first, ext, 8);
        expect_echo_answered(c, &p);
        sink_clear(c);
        ext[2] = 0x5f; /* 01: discarded silently */
        mk_echo_ext(&p, first, ext, 8);
        expect_drop(c, &p, "ip6_drop_opt");
        ext[2] = 0x9f; /* 10: discarded, parameter problem at its offset */
        mk_echo_ext(&p, first, ext, 8);
        expect_param_problem(c, &p, "ip6_drop_opt", ICMP6_PARAM_PROB_OPTION, 42);
        ext[2] = 0xdf; /* 11: likewise, unicast destination */
        mk_echo_ext(&p, first, ext, 8);
        expect_param_problem(c, &p, "ip6_drop_opt", ICMP6_PARAM_PROB_OPTION, 42);
        /* To a group: 10 still answers, 11 does not. */
        ext[2] = 0x9f;
        mk_icmp6_ext(&p, all_mac, &peer, &all, 64, first, ext, 8, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
        feed(c, &p);
        assert_int_equal(c->sink.n, 1);
        sink_clear(c);
        ext[2] = 0xdf;
        mk_icmp6_ext(&p, all_mac, &peer, &all, 64, first, ext, 8, ICMP6_ECHO_REQUEST, 0, 1, echo_body, 8);
        expect_drop(c, &p, "ip6_drop_opt");
        /* An option running past its header. */
        ext[2] = 1;
        ext[3] = 5;
        mk_echo_ext(&p, first, ext, 8);
        expect_drop(c, &p, "ip6_drop_opt");
        /* A lone option type at the header's last byte. */
        memset(ext + 2, 0, 6);
        ext[7] = 1;
        mk_echo_ext(&p, first, ext, 8);
        expect_drop(c, &p, "ip6_drop_opt");
        ext[7] = 0;
    }
}

/* RFC 5095, RFC 8200 4.4: segments left non-zero is a parameter problem at
 * the routing type, type 0 included. */
static void test_ipv6_routing_header(void **state)
{
    struct ctx *c = *state;
    uint8_t ext[24] = {0};
    struct pkt p;

    learn_global(c);
    ext[0] = IPV6_NH_ICMPV6;
    ext[1] = 2;
    ext[2] = 0; /* type 0 */
    ext[3] = 1;
    mk_echo_ext(&p, IPV6_NH_ROUTING, ext, 24);
    expect_param_problem(c, &p, "ip6_drop_routing", ICMP6_PARAM_PROB_HEADER, 42);
    ext[2] = 4; /* segment routing: not ours to process either */
    mk_echo_ext(&p, IPV6_NH_ROUTING, ext, 24);
    expect_param_problem(c, &p, "ip6_drop_routing", ICMP6_PARAM_PROB_HEADER, 42);
}

/* The fragment rule: every real fragment dropped, nothing sent; an atomic
 * one processed (test_ipv6_ext_chain_processed). */
static void test_ipv6_fragments_dropped(void **state)
{
    struct ctx *c = *state;
    static const uint16_t offm[] = {0x0001, 0x0008, 0x0009, 0xfff8, 0xfff9};
    uint8_t ext[8] = {IPV6_NH_ICMPV6, 0};
    struct pkt p;

    for (size_t i = 0; i < sizeof(offm) / sizeof(offm[0]); i++) {
        ext[2] = (uint8_t)(offm[i] >> 8);
        ext[3] = (uint8_t)offm[i];
        mk_echo_ext(&p, IPV6_NH_FRAGMENT, ext, 8);
        expect_drop(c, &p, "ip6_drop_frag");
    }
}

static void test_ipv6_unknown_next_header(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR), all = a6("ff02::1");
    static const uint8_t all_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    uint8_t ext[8] = {253, 0, 1, 4, 0, 0, 0, 0};
    struct pkt p;

    learn_peer6(c, &peer, &me);
    mk_ipv6(&p, my_mac, &peer, &me, 253, 64, echo_body, 8);
    expect_param_problem(c, &p, "ip6_drop_proto", ICMP6_PARAM_PROB_NEXT, 6);
    mk_ipv6(&p, my_mac, &peer, &me, IPV6_NH_DSTOPTS, 64, ext, 8);
    expect_param_problem(c, &p, "ip6_drop_proto", ICMP6_PARAM_PROB_NEXT, 40);
    /* To a group: no error (RFC 4443 2.4 (e.3)). */
    {
        struct inet_stats before = c->s.stats;
        mk_ipv6(&p, all_mac, &peer, &all, 253, 64, echo_body, 8);
        feed(c, &p);
        assert_int_equal(c->sink.n, 0);
        assert_int_equal(c->s.stats.ip6_drop_proto - before.ip6_drop_proto, 1);
        assert_int_equal(c->s.stats.icmp6_err_suppressed - before.icmp6_err_suppressed, 1);
    }
}

/* RFC 4443 2.4 (f): errors are rate limited (ICMP6_ERR_BURST, then
 * ICMP6_ERR_PER_S a second). */
static void test_ipv6_error_rate_limit(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct pkt p;

    learn_peer6(c, &peer, &me);
    mk_ipv6(&p, my_mac, &peer, &me, 253, 64, echo_body, 8);
    for (int i = 0; i < ICMP6_ERR_BURST + 5; i++)
        feed(c, &p);
    assert_int_equal(c->sink.n, ICMP6_ERR_BURST);
    assert_int_equal(c->s.stats.icmp6_err_rate_limited, 5);
    clock_advance(1000000000ull / ICMP6_ERR_PER_S);
    feed(c, &p);
    feed(c, &p);
    assert_int_equal(c->sink.n, ICMP6_ERR_BURST + 1);
    assert_int_equal(c->s.stats.icmp6_err_rate_limited, 6);
}

/* ======================================================================= */
/* Output                                                                  */
/* ======================================================================= */

static void test_ipv6_output_too_big(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR);
    uint8_t big[1500 - IPV6_HLEN + 1];

    memset(big, 1, sizeof(big));
    assert_int_equal(ipv6_output(&c->s, payload_buf(c, big, sizeof(big)), &peer, IPV6_NH_UDP), EMSGSIZE);
    assert_int_equal(c->s.stats.ip6_drop_too_big, 1);
    assert_int_equal(icmp6_echo_send(&c->s, &peer, 1, 1, 1500), EMSGSIZE);
}

static void test_ipv6_pmtu_cache(void **state)
{
    struct ctx *c = *state;
    struct in6_addr a = a6("fd00::7"), b = a6("fd00::8");

    assert_int_equal(ipv6_path_mtu(&c->s, &a), 1500);
    ipv6_pmtu_update(&c->s, &a, 1400);
    assert_int_equal(ipv6_path_mtu(&c->s, &a), 1400);
    assert_int_equal(ipv6_path_mtu(&c->s, &b), 1500);
    ipv6_pmtu_update(&c->s, &a, 1279); /* RFC 8201 4: never below 1280 */
    ipv6_pmtu_update(&c->s, &a, 1450); /* not lower */
    ipv6_pmtu_update(&c->s, &a, 9000); /* above the link's */
    assert_int_equal(c->s.stats.icmp6_ptb_ignored, 3);
    assert_int_equal(ipv6_path_mtu(&c->s, &a), 1400);
    ipv6_pmtu_update(&c->s, &a, 1280);
    assert_int_equal(ipv6_path_mtu(&c->s, &a), 1280);
    /* After the timeout the link MTU is tried again. */
    clock_advance(IP6_PMTU_TIMEOUT_NS);
    assert_int_equal(ipv6_path_mtu(&c->s, &a), 1500);
    /* A full cache replaces an entry, never grows. */
    for (int i = 0; i < IP6_PMTU_ENTRIES + 3; i++) {
        struct in6_addr x = a6("fd00::100");
        x.s6_addr[14] = (uint8_t)(i >> 8);
        x.s6_addr[15] = (uint8_t)i;
        ipv6_pmtu_update(&c->s, &x, 1300);
        assert_int_equal(ipv6_path_mtu(&c->s, &x), 1300);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T6(test_ipv6_linklocal_eui64),      T(test_ipv6_passive_without_global),
        T6(test_ipv6_select_src),           T6(test_ipv6_echo_global_and_linklocal),
        T6(test_ipv6_truncated_every_byte), T6(test_ipv6_bad_version_and_length),
        T6(test_ipv6_padding_trimmed),      T6(test_ipv6_martian_sources),
        T6(test_ipv6_not_for_us),           T6(test_ipv6_hop_limit_zero_accepted),
        T6(test_ipv6_upper_hooks_drop),     T6(test_ipv6_ext_chain_processed),
        T6(test_ipv6_ext_truncated),        T6(test_ipv6_hbh_not_first),
        T6(test_ipv6_option_actions),       T6(test_ipv6_routing_header),
        T6(test_ipv6_fragments_dropped),    T6(test_ipv6_unknown_next_header),
        T6(test_ipv6_error_rate_limit),     T6(test_ipv6_output_too_big),
        T6(test_ipv6_pmtu_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
