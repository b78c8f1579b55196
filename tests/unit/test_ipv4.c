/* SPDX-License-Identifier: MIT */
/*
 * test_ipv4.c: IPv4 input (ipv4.c) fed hand-built frames on the sink
 * netdev (net_harness.h): every malformed header class dropped and counted
 * under its cause, martian sources, Ethernet padding trimmed, options
 * skipped.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <string.h>

/* ======================================================================= */
/* Malformed: IPv4                                                         */
/* ======================================================================= */

static void mk_good_udp(struct pkt *p)
{
    mk_udp(p, PEER_IP, MY_IP, 4242, MY_PORT, "payload!", 8);
}

static void test_ipv4_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    p.len = ETH_HLEN + 19;
    expect_drop(c, &p, "ipv4_drop_runt");
    p.len = ETH_HLEN;
    expect_drop(c, &p, "ipv4_drop_runt");
}

static void test_ipv4_version(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->ver_ihl = 0x65;
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_version");
}

static void test_ipv4_ihl(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    /* A bare 20-byte header, IHL 4 (16 bytes) and IHL 15 (60 > 20). */
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x44;
    expect_drop(c, &p, "ipv4_drop_ihl");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x4f;
    expect_drop(c, &p, "ipv4_drop_ihl");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x40;
    expect_drop(c, &p, "ipv4_drop_ihl");
}

static void test_ipv4_total_len(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->total_len = htons(19); /* below the header length */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");

    mk_good_udp(&p);
    IPH(&p)->total_len = htons((uint16_t)(p.len - ETH_HLEN + 1)); /* beyond the frame */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");

    mk_good_udp(&p);
    IPH(&p)->total_len = htons(0xffff);
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");
}

static void test_ipv4_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->csum ^= htons(0x0100);
    expect_drop(c, &p, "ipv4_drop_csum");
    mk_good_udp(&p);
    IPH(&p)->ttl = 63; /* field changed, checksum not */
    expect_drop(c, &p, "ipv4_drop_csum");
}

static void test_ipv4_fragment(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->frag = htons(IPV4_FLAG_MF);
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");

    mk_good_udp(&p);
    IPH(&p)->frag = htons(185); /* offset 1480, last fragment */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");

    mk_good_udp(&p);
    IPH(&p)->frag = htons(1); /* the smallest offset, DF clear */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");
}

static void test_ipv4_ttl_zero(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->ttl = 0;
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_ttl");
}

/* Martian sources (RFC 1122 3.2.1.3, RFC 1812 5.3.7), for UDP, ICMP and a
 * TCP SYN to a listener alike: dropped at IPv4, counted, nothing answered
 * (no ARP request for 127.0.0.1, no SYN-ACK to ourselves). Issue 11 fault 2. */
static void test_ipv4_bad_source(void **state)
{
    struct ctx *c = *state;
    static const uint8_t syn[20] = {0x30, 0x39, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff};
    const uint32_t martians[] = {
        IPV4_BROADCAST,     ip4(224, 0, 0, 1), ip4(239, 255, 255, 250), MY_IP,
        ip4(127, 0, 0, 1),  ip4(127, 1, 2, 3), ip4(0, 0, 0, 0),         ip4(0, 1, 2, 3),
        ip4(10, 0, 0, 255), ip4(240, 0, 0, 1), ip4(255, 255, 255, 254),
    };
    struct tcp_pcb *l = tcp_pcb_new(&c->s, NULL, NULL);
    struct pkt p;

    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(8080)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    for (size_t i = 0; i < ARRAY_SIZE(martians); i++) {
        mk_udp(&p, martians[i], MY_IP, 4242, MY_PORT, "x", 1);
        expect_drop(c, &p, "ipv4_drop_martian");
        mk_icmp(&p, martians[i], MY_IP, 8, 1, 1, "ping", 4);
        expect_drop(c, &p, "ipv4_drop_martian");
        mk_ipv4(&p, martians[i], MY_IP, IPV4_PROTO_TCP, syn, sizeof(syn));
        expect_drop(c, &p, "ipv4_drop_martian");
    }
    assert_int_equal(l->syn_count, 0);
    /* The host next to the broadcast address is no martian. */
    mk_udp(&p, ip4(10, 0, 0, 254), MY_IP, 4242, MY_PORT, "x", 1);
    feed(c, &p);
    assert_int_equal(c->u.rxq_len, 1);
    tcp_close(l);
}

static void test_ipv4_not_for_us(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, ip4(10, 0, 0, 99), 4242, MY_PORT, "x", 1);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
    mk_udp(&p, PEER_IP, ip4(224, 0, 0, 1), 4242, MY_PORT, "x", 1);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
}

static void test_ipv4_unknown_proto(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, 99, "0123456789", 10);
    expect_drop(c, &p, "ipv4_drop_proto");
    mk_ipv4(&p, PEER_IP, MY_IP, 255, "x", 1);
    expect_drop(c, &p, "ipv4_drop_proto");
}

/* A minimum-size Ethernet frame (60 bytes) carries a 28-byte packet: the
 * padding must be trimmed, or it would enter the UDP checksum. */
static void test_ipv4_ethernet_padding_trimmed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, NULL, 0);
    assert_int_equal(p.len, ETH_HLEN + 28);
    memset(p.b + p.len, 0xa5, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, NULL, 0);

    /* Same with a one-byte payload and odd padding. */
    mk_udp(&p, PEER_IP, MY_IP, 4243, MY_PORT, "z", 1);
    memset(p.b + p.len, 0x5a, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    expect_datagram(&c->u, PEER_IP, 4243, "z", 1);
    assert_int_equal(c->s.stats.udp_drop_csum, 0);
}

/* ICMP checksums its whole IP payload: padding left in would break it, and
 * the reply must be exactly as long as the request, not the frame. */
static void test_ipv4_padding_trimmed_icmp(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    size_t len;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p); /* learn the peer: the reply goes straight out */
    sink_clear(c);
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 3, 4, "pad", 3);
    assert_int_equal(p.len, ETH_HLEN + 31);
    memset(p.b + p.len, 0xee, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    assert_int_equal(c->s.stats.icmp_drop_csum, 0);
    assert_int_equal(c->s.stats.icmp_echo_request, 1);
    assert_int_equal(c->sink.n, 1);
    len = sink_frame(c, 0, b);
    assert_int_equal(len, ETH_HLEN + 31);
    assert_int_equal(ntohs(((const struct ipv4_hdr *)(b + ETH_HLEN))->total_len), 31);
    assert_int_equal(ref_csum(b + ETH_HLEN + IPV4_HLEN, 11), 0);
}

static void test_ipv4_options_skipped(void **state)
{
    struct ctx *c = *state;
    static const uint8_t opts[4] = {0x01, 0x01, 0x01, 0x00}; /* NOP NOP NOP EOL */
    uint8_t l4[UDP_HLEN + 5];
    struct udp_hdr *uh = (struct udp_hdr *)l4;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    uh->sport = htons(4242);
    uh->dport = htons(MY_PORT);
    uh->len = htons(sizeof(l4));
    uh->csum = 0;
    memcpy(l4 + UDP_HLEN, "opts!", 5);
    mk_ipv4_opts(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, opts, sizeof(opts), l4, sizeof(l4));
    assert_int_equal(ihl_of(&p), 24);
    udp_fix_csum(&p);
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, "opts!", 5);

    /* And an echo request with options is answered with a plain header. */
    {
        uint8_t icmp[8 + 4] = {ICMP_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 2, 'p', 'i', 'n', 'g'};
        struct parsed ps;
        add_static(c, PEER_IP, peer_mac);
        mk_ipv4_opts(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, opts, sizeof(opts), icmp, sizeof(icmp));
        icmp_fix_csum(&p);
        feed(c, &p);
        assert_int_equal(c->sink.n, 1);
        parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
        assert_int_equal(ps.l4len, sizeof(icmp));
        assert_int_equal(ps.l4[0], ICMP_ECHO_REPLY);
        assert_int_equal(ref_csum(ps.l4, ps.l4len), 0);
        assert_memory_equal(ps.l4 + 4, icmp + 4, sizeof(icmp) - 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ipv4_runt),
        T(test_ipv4_version),
        T(test_ipv4_ihl),
        T(test_ipv4_total_len),
        T(test_ipv4_bad_csum),
        T(test_ipv4_fragment),
        T(test_ipv4_ttl_zero),
        T(test_ipv4_bad_source),
        T(test_ipv4_not_for_us),
        T(test_ipv4_unknown_proto),
        T(test_ipv4_ethernet_padding_trimmed),
        T(test_ipv4_padding_trimmed_icmp),
        T(test_ipv4_options_skipped),
    };

    return cmocka_run_group_tests_name("ipv4", tests, NULL, NULL);
}
