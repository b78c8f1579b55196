/* SPDX-License-Identifier: MIT */
/*
 * test_icmp6.c: ICMPv6 (icmp6.c) on the sink netdev (net_harness.h): echo
 * both ways, a group echo answered from a unicast address, Packet Too Big
 * feeding the PMTU cache, the errors we receive counted, the rules of RFC
 * 4443 2.4 on errors we would send, and malformed messages dropped and
 * counted.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

static void learn_global(struct ctx *c)
{
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    learn_peer6(c, &peer, &me);
}

static void test_icmp6_echo_reply_roundtrip(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    uint8_t data[301];
    struct parsed6 ps;
    struct pkt p;
    uint32_t v;

    fill_pattern(data, sizeof(data), 3);
    learn_global(c);
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 0, 0xbeef002a, data, sizeof(data));
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REPLY);
    assert_int_equal(ps.l4[1], 0);
    memcpy(&v, ps.l4 + 4, 4);
    assert_int_equal(ntohl(v), 0xbeef002a);
    assert_int_equal(ps.l4len, 8 + sizeof(data));
    assert_memory_equal(ps.l4 + 8, data, sizeof(data));
    assert_int_equal(c->s.stats.icmp6_echo_request, 1);
}

/* RFC 4443 4.2: a request to a group is answered from a unicast address. */
static void test_icmp6_echo_to_all_nodes(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_LL_STR), me = a6(MY_LL_STR), all = a6("ff02::1");
    struct parsed6 ps;
    struct pkt p;

    learn_peer6(c, &peer, &me);
    mk_icmp6(&p, all_nodes_mac, &peer, &all, 64, ICMP6_ECHO_REQUEST, 0, 5, "ab", 2);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REPLY);
}

struct echo_seen {
    int calls;
    struct in6_addr src;
    uint16_t id, seq;
    uint32_t len;
};

static void on_echo(struct inet_stack *s, const struct in6_addr *src, uint16_t id, uint16_t seq, uint32_t len,
                    void *arg)
{
    struct echo_seen *e = arg;
    (void)s;
    e->calls++;
    e->src = *src;
    e->id = id;
    e->seq = seq;
    e->len = len;
}

static void test_icmp6_echo_send_and_reply_hook(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct echo_seen seen = {0};
    struct parsed6 ps;
    struct pkt p;
    uint32_t v;

    learn_global(c);
    assert_int_equal(icmp6_echo_send(&c->s, &peer, 0x1234, 9, 56), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_ECHO_REQUEST);
    memcpy(&v, ps.l4 + 4, 4);
    assert_int_equal(ntohl(v), 0x12340009);
    assert_int_equal(ps.l4len, 64);
    c->s.ip6.on_echo_reply = on_echo;
    c->s.ip6.echo_arg = &seen;
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REPLY, 0, 0x12340009, ps.l4 + 8, 56);
    feed(c, &p);
    assert_int_equal(seen.calls, 1);
    assert_memory_equal(&seen.src, &peer, 16);
    assert_int_equal(seen.id, 0x1234);
    assert_int_equal(seen.seq, 9);
    assert_int_equal(seen.len, 56);
    assert_int_equal(c->s.stats.icmp6_echo_reply, 1);
}

static void test_icmp6_malformed(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    uint8_t raw[8] = {ICMP6_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 1};
    struct pkt p;

    /* Shorter than the 8-byte header, at every length. */
    for (size_t n = 0; n < 8; n++) {
        mk_ipv6(&p, my_mac, &peer, &me, IPV6_NH_ICMPV6, 64, raw, n);
        expect_drop(c, &p, "icmp6_drop_runt");
    }
    /* A bad checksum, anywhere. */
    for (size_t off = 0; off < 12; off++) {
        mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 0, 1, "abcd", 4);
        p.b[ETH_HLEN + IPV6_HLEN + off] ^= 0x10;
        expect_drop(c, &p, "icmp6_drop_csum");
    }
    /* The checksum covers the pseudo-header: another source breaks it. */
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 0, 1, "abcd", 4);
    p.b[ETH_HLEN + 8 + 15] ^= 1;
    expect_drop(c, &p, "icmp6_drop_csum");
    /* Echo with a code, unknown informational and error types. */
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_ECHO_REQUEST, 1, 1, "abcd", 4);
    expect_drop(c, &p, "icmp6_drop_type");
    mk_icmp6(&p, my_mac, &peer, &me, 64, 200, 0, 1, "abcd", 4);
    expect_drop(c, &p, "icmp6_drop_type");
    mk_icmp6(&p, my_mac, &peer, &me, 64, 50, 0, 1, "abcd", 4);
    expect_drop(c, &p, "icmp6_drop_type");
}

/* Errors about a packet of ours: Packet Too Big lowers the path MTU, the
 * others are counted. */
static void test_icmp6_errors_received(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR), far = a6("2001:db8::9");
    uint8_t inner[IPV6_HLEN + 8];
    struct ipv6_hdr *ih = (struct ipv6_hdr *)inner;
    struct pkt p;

    memset(inner, 0, sizeof(inner));
    ih->vtc_flow = htonl(6u << 28);
    ih->next = IPV6_NH_TCP;
    memcpy(ih->src, &me, 16);
    memcpy(ih->dst, &far, 16);
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_PACKET_TOO_BIG, 0, 1400, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_ptb_lowered");
    assert_int_equal(ipv6_path_mtu(&c->s, &far), 1400);
    /* Below 1280 (RFC 8201 4), about someone else's packet, truncated. */
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_PACKET_TOO_BIG, 0, 1000, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_ptb_ignored");
    memcpy(ih->src, &peer, 16);
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_PACKET_TOO_BIG, 0, 1300, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_ptb_ignored");
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_PACKET_TOO_BIG, 0, 1300, inner, 20);
    expect_drop(c, &p, "icmp6_ptb_ignored");
    assert_int_equal(ipv6_path_mtu(&c->s, &far), 1400);
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_PORT, 0, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_err_in");
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_TIME_EXCEEDED, 0, 0, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_err_in");
    mk_icmp6(&p, my_mac, &peer, &me, 64, ICMP6_PARAM_PROB, 0, 0, inner, sizeof(inner));
    expect_drop(c, &p, "icmp6_err_in");
}

/* RFC 4443 2.4 (e.1): no error about an error, even behind extension
 * headers that would otherwise earn one. */
static void test_icmp6_no_error_about_error(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    uint8_t ext[8] = {IPV6_NH_ICMPV6, 0, 0x9f, 0, 1, 0, 0, 0};
    struct inet_stats before;
    struct pkt p;

    learn_global(c);
    before = c->s.stats;
    mk_icmp6_ext(&p, my_mac, &peer, &me, 64, IPV6_NH_DSTOPTS, ext, 8, ICMP6_DST_UNREACH, 0, 0, "abcd", 4);
    feed(c, &p);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(c->s.stats.ip6_drop_opt - before.ip6_drop_opt, 1);
    assert_int_equal(c->s.stats.icmp6_err_suppressed - before.icmp6_err_suppressed, 1);
    /* The same in front of an echo request earns one. */
    mk_icmp6_ext(&p, my_mac, &peer, &me, 64, IPV6_NH_DSTOPTS, ext, 8, ICMP6_ECHO_REQUEST, 0, 0, "abcd", 4);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
}

/* The port unreachable UDP will send: about the packet as received. */
static void test_icmp6_error_send_from_upper_layer(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct ipv6_rx rx = {.src = peer, .dst = me, .hdrlen = IPV6_HLEN, .hop_limit = 64};
    uint8_t frame[IPV6_HLEN + 12];
    struct ipv6_hdr *ih = (struct ipv6_hdr *)frame;
    struct parsed6 ps;
    struct dbuf *d;

    learn_global(c);
    memset(frame, 0, sizeof(frame));
    ih->vtc_flow = htonl(6u << 28);
    ih->payload_len = htons(12);
    ih->next = IPV6_NH_UDP;
    ih->hop_limit = 64;
    memcpy(ih->src, &peer, 16);
    memcpy(ih->dst, &me, 16);
    d = payload_buf(c, frame, sizeof(frame));
    dbuf_adj(d, IPV6_HLEN);
    assert_true(icmp6_error_send(&c->s, d, &rx, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_PORT, 0));
    dbuf_put(d);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_DST_UNREACH);
    assert_int_equal(ps.l4[1], ICMP6_DST_UNREACH_PORT);
    assert_int_equal(ps.l4len, 8 + sizeof(frame));
    assert_memory_equal(ps.l4 + 8, frame, sizeof(frame));
    /* To a group, from ::: never. */
    rx.dst_mcast = true;
    d = payload_buf(c, frame, sizeof(frame));
    dbuf_adj(d, IPV6_HLEN);
    assert_false(icmp6_error_send(&c->s, d, &rx, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_PORT, 0));
    rx.dst_mcast = false;
    rx.src = a6("::");
    assert_false(icmp6_error_send(&c->s, d, &rx, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_PORT, 0));
    dbuf_put(d);
    assert_int_equal(c->s.stats.icmp6_err_suppressed, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T6(test_icmp6_echo_reply_roundtrip),
        T6(test_icmp6_echo_to_all_nodes),
        T6(test_icmp6_echo_send_and_reply_hook),
        T6(test_icmp6_malformed),
        T6(test_icmp6_errors_received),
        T6(test_icmp6_no_error_about_error),
        T6(test_icmp6_error_send_from_upper_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
