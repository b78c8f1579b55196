/* SPDX-License-Identifier: MIT */
/*
 * test_udp6.c: UDP over IPv6 (udp.c: udp_bind6, udp_connect6, udp_output6,
 * udp6_input) on the sink netdev (net_harness.h), dual stack as Linux:
 * what goes on the wire, byte for byte, with a reference checksum; what is
 * delivered and with which source; every malformed class dropped and
 * counted (the counter, nothing sent or delivered, no buffer kept); port
 * unreachable; the bind rules between AF_INET and AF_INET6 sockets and the
 * demultiplexing among them. (test_udp_wire.c is the IPv4 side; test_udp.c
 * the libOS's sockets, IPv6 ones included.)
 *
 * Every test ends (teardown) with the stack torn down and the captured
 * frames freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include "net/ipv6.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define PEER_PORT 4242

/* c->u (setup's IPv4 socket on MY_PORT) made an AF_INET6 socket bound to
 * [@addr]:@port. */
static void u_as_v6(struct ctx *c, bool v6only, const char *addr, uint16_t port)
{
    struct in6_addr a = a6(addr);

    udp_sock_fini(&c->s, &c->u);
    assert_int_equal(udp_sock_init(&c->u, 8), 0);
    udp_sock_set_v6(&c->u, v6only);
    assert_int_equal(udp_bind6(&c->s, &c->u, &a, htons(port)), 0);
}

/* A second socket (c->u2), AF_INET6 unless @v4, not bound. */
static struct udp_sock *u2_new(struct ctx *c, bool v4, bool v6only)
{
    assert_int_equal(udp_sock_init(&c->u2, 8), 0);
    c->u2_live = 1;
    if (!v4)
        udp_sock_set_v6(&c->u2, v6only);
    return &c->u2;
}

/* UDP header + payload with the reference checksum (RFC 8200 8.1): the
 * datagram of @plen bytes of @payload from [@src]:@sport to [@dst]:@dport;
 * its length. */
static size_t ref_udp6(uint8_t *out, const struct in6_addr *src, const struct in6_addr *dst, uint16_t sport,
                       uint16_t dport, const void *payload, size_t plen)
{
    struct udp_hdr *uh = (struct udp_hdr *)out;
    uint16_t sum;

    uh->sport = htons(sport);
    uh->dport = htons(dport);
    uh->len = htons((uint16_t)(UDP_HLEN + plen));
    uh->csum = 0;
    if (plen)
        memcpy(out + UDP_HLEN, payload, plen);
    sum = ref_fold(ref_sum(ref_pseudo6(src, dst, IPV6_NH_UDP, (uint32_t)(UDP_HLEN + plen)), out, UDP_HLEN + plen));
    uh->csum = htons(sum == 0 ? 0xffff : sum);
    return UDP_HLEN + plen;
}

/* Ethernet + IPv6 + UDP from the peer to us, the checksum right. */
static void mk_udp6(struct pkt *p, const char *src, const char *dst, uint16_t sport, uint16_t dport,
                    const void *payload, size_t plen)
{
    struct in6_addr s = a6(src), d = a6(dst);
    uint8_t l4[FRAME_MAX];
    size_t n = ref_udp6(l4, &s, &d, sport, dport, payload, plen);
    uint8_t mac[ETH_ALEN];

    if (in6_is_multicast(&d))
        in6_mcast_mac(&d, mac);
    else
        memcpy(mac, my_mac, ETH_ALEN);
    mk_ipv6(p, mac, &s, &d, IPV6_NH_UDP, 64, l4, n);
}

static struct udp_hdr *UDP6H(struct pkt *p)
{
    return (struct udp_hdr *)(p->b + ETH_HLEN + IPV6_HLEN);
}

/* A datagram queued on @u from IPv6 [@src]:@sport: check it, free it. */
static void expect_datagram6(struct udp_sock *u, const char *src, uint16_t sport, const void *payload, size_t plen)
{
    struct dbuf *d = udp_recv(u);
    struct in6_addr got, want = a6(src);

    assert_non_null(d);
    assert_int_equal(d->len, plen);
    if (plen)
        assert_memory_equal(d->data, payload, plen);
    assert_true(udp_src6(d, &got));
    assert_memory_equal(&got, &want, 16);
    assert_int_equal(d->meta64, htons(sport) | UDP_META_SRC6);
    dbuf_put(d);
}

/* The captured frame @i: an IPv6 UDP datagram from [@src]:@sport to
 * [@dst]:@dport of @payload, compared byte for byte with one built here
 * (version, class, flow 0, hop limit 64, the reference checksum). */
static void expect_sent6(struct ctx *c, unsigned i, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                         const void *payload, size_t plen)
{
    struct in6_addr s = a6(src), d = a6(dst);
    uint8_t want[FRAME_MAX];
    struct ipv6_hdr *ip = (struct ipv6_hdr *)want;
    struct parsed6 ps;
    size_t n;

    parse_ipv6(c, i, &ps, peer_mac, &s, &d, IPV6_NH_UDP, 64);
    memset(want, 0, IPV6_HLEN);
    n = ref_udp6(want + IPV6_HLEN, &s, &d, sport, dport, payload, plen);
    ip->vtc_flow = htonl(6u << 28);
    ip->payload_len = htons((uint16_t)n);
    ip->next = IPV6_NH_UDP;
    ip->hop_limit = 64;
    memcpy(ip->src, &s, 16);
    memcpy(ip->dst, &d, 16);
    assert_int_equal(ps.len, ETH_HLEN + IPV6_HLEN + n);
    assert_memory_equal(ps.b + ETH_HLEN, want, IPV6_HLEN + n);
    /* And the checksum verifies by the reference as received. */
    assert_int_equal(ref_fold(ref_sum(ref_pseudo6(&s, &d, IPV6_NH_UDP, (uint32_t)ps.l4len), ps.l4, ps.l4len)), 0);
}

static void learn_global(struct ctx *c)
{
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    learn_peer6(c, &peer, &me);
}

/* ======================================================================= */
/* Round trips                                                             */
/* ======================================================================= */

static void test_udp6_output_bytes(void **state)
{
    struct ctx *c = *state;
    static const uint8_t msg[] = "hello, six"; /* 11 bytes with the NUL: odd */
    struct in6_addr peer = a6(PEER_IP6_STR);

    struct inet_stats before;

    u_as_v6(c, false, "::", MY_PORT);
    learn_global(c);
    before = c->s.stats;
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, msg, sizeof(msg)), &peer, htons(7)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    /* Wildcard-bound: the source ipv6_select_src picks, the global one. */
    expect_sent6(c, 0, MY_IP6_STR, MY_PORT, PEER_IP6_STR, 7, msg, sizeof(msg));
    assert_int_equal(c->s.stats.udp_tx - before.udp_tx, 1);
    assert_int_equal(c->s.stats.udp6_tx - before.udp6_tx, 1);
    assert_int_equal(c->s.stats.ip6_tx - before.ip6_tx, 1);
    assert_int_equal(c->s.stats.ipv4_tx, 0);
}

/* To a link-local peer: the link-local source. Bound to the link-local
 * address: that one, whatever the destination. */
static void test_udp6_output_source(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer_ll = a6(PEER_LL_STR), my_ll = a6(MY_LL_STR), peer = a6(PEER_IP6_STR);

    u_as_v6(c, false, "::", MY_PORT);
    learn_peer6(c, &peer_ll, &my_ll);
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, (const uint8_t *)"ll", 2), &peer_ll, htons(9)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    expect_sent6(c, 0, MY_LL_STR, MY_PORT, PEER_LL_STR, 9, "ll", 2);
    sink_clear(c);

    u_as_v6(c, false, MY_LL_STR, MY_PORT + 1);
    learn_global(c);
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, (const uint8_t *)"x", 1), &peer, htons(9)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    expect_sent6(c, 0, MY_LL_STR, MY_PORT + 1, PEER_IP6_STR, 9, "x", 1);
}

/* Over the copy threshold the payload rides as a second segment (the
 * checksum covers the chain); the largest payload is MTU - 48; one more
 * byte is EMSGSIZE, the buffer released. */
static void test_udp6_output_chain_and_max(void **state)
{
    struct ctx *c = *state;
    static uint8_t big[1453];
    struct in6_addr peer = a6(PEER_IP6_STR);
    struct dbuf *d;

    fill_pattern(big, sizeof(big), 5);
    u_as_v6(c, false, "::", MY_PORT);
    learn_global(c);
    assert_int_equal(udp_max_payload6(&c->s), 1452);
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, big, 1001), &peer, htons(9)), 0);
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, big, 1452), &peer, htons(9)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_non_null(c->sink.frames[0]->next);
    expect_sent6(c, 0, MY_IP6_STR, MY_PORT, PEER_IP6_STR, 9, big, 1001);
    expect_sent6(c, 1, MY_IP6_STR, MY_PORT, PEER_IP6_STR, 9, big, 1452);
    d = payload_buf(c, big, 1453);
    assert_int_equal(udp_output6(&c->s, &c->u, d, &peer, htons(9)), EMSGSIZE);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

/* A datagram whose checksum computes to 0 goes with 0xffff (RFC 8200 8.1
 * via RFC 768: 0 would say "none", which IPv6 receivers drop). */
static void test_udp6_output_csum_zero_is_ffff(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), peer = a6(PEER_IP6_STR);
    uint8_t msg[10] = "zerosum", hdr[UDP_HLEN];
    struct udp_hdr *uh = (struct udp_hdr *)hdr;
    struct parsed6 ps;
    uint32_t sum;
    uint16_t fix;

    u_as_v6(c, false, "::", MY_PORT);
    learn_global(c);
    /* The last word of the payload makes the one's complement sum 0xffff. */
    msg[8] = msg[9] = 0;
    uh->sport = htons(MY_PORT);
    uh->dport = htons(9);
    uh->len = htons(UDP_HLEN + sizeof(msg));
    uh->csum = 0;
    sum = ref_sum(ref_pseudo6(&me, &peer, IPV6_NH_UDP, UDP_HLEN + sizeof(msg)), hdr, UDP_HLEN);
    sum = ref_sum(sum, msg, sizeof(msg));
    fix = (uint16_t)~ref_fold(sum); /* the folded sum, uncomplemented */
    fix = (uint16_t)(0xffff - fix);
    msg[8] = (uint8_t)(fix >> 8);
    msg[9] = (uint8_t)fix;
    assert_int_equal(ref_fold(ref_sum(sum, &msg[8], 2)), 0); /* a computed 0 */
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, msg, sizeof(msg)), &peer, htons(9)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_UDP, 64);
    assert_int_equal(((const struct udp_hdr *)ps.l4)->csum, 0xffff);
    expect_sent6(c, 0, MY_IP6_STR, MY_PORT, PEER_IP6_STR, 9, msg, sizeof(msg));
}

static void test_udp6_input_delivered(void **state)
{
    struct ctx *c = *state;
    struct inet_stats before;
    uint8_t msg[33];
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    fill_pattern(msg, sizeof(msg), 1);
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, msg, sizeof(msg));
    before = c->s.stats;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp6_rx", 1);
    assert_int_equal(c->s.stats.udp_rx - before.udp_rx, 1);
    expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, msg, sizeof(msg));
    assert_null(udp_recv(&c->u));

    /* To the link-local address, from a link-local one; an empty one. */
    mk_udp6(&p, PEER_LL_STR, MY_LL_STR, PEER_PORT, MY_PORT, NULL, 0);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_LL_STR, PEER_PORT, NULL, 0);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(mem_in_use(&c->mem), 0);
}

/* Behind a destination options header (PadN): the same delivery. */
static void test_udp6_input_after_ext(void **state)
{
    struct ctx *c = *state;
    struct in6_addr s = a6(PEER_IP6_STR), d = a6(MY_IP6_STR);
    uint8_t l4[64] = {IPV6_NH_UDP, 0, 1, 4, 0, 0, 0, 0}; /* DSTOPTS: PadN of 4 */
    struct pkt p;
    size_t n;

    u_as_v6(c, false, "::", MY_PORT);
    n = ref_udp6(l4 + 8, &s, &d, PEER_PORT, MY_PORT, "ext", 3);
    mk_ipv6(&p, my_mac, &s, &d, IPV6_NH_DSTOPTS, 64, l4, 8 + n);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, "ext", 3);
}

/* ======================================================================= */
/* Malformed                                                               */
/* ======================================================================= */

static void test_udp6_zero_csum_dropped(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "nocsum", 6);
    UDP6H(&p)->csum = 0;
    expect_drop(c, &p, "udp6_drop_zero_csum");
    /* Also to a port nobody has: dropped before the lookup, no ICMPv6. */
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT + 7, "nocsum", 6);
    UDP6H(&p)->csum = 0;
    expect_drop(c, &p, "udp6_drop_zero_csum");
}

static void test_udp6_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "abcd", 4);
    UDP6H(&p)->csum ^= htons(0x0100);
    expect_drop(c, &p, "udp_drop_csum");

    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "abcd", 4);
    p.b[p.len - 1] ^= 0x40;
    expect_drop(c, &p, "udp_drop_csum");

    /* The pseudo-header counts: the same datagram from another source. */
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "abcd", 4);
    p.b[ETH_HLEN + 8 + 15] ^= 0x01; /* the source's last byte: fd00::3 */
    expect_drop(c, &p, "udp_drop_csum");
}

static void test_udp6_runt(void **state)
{
    struct ctx *c = *state;
    struct in6_addr s = a6(PEER_IP6_STR), d = a6(MY_IP6_STR);
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    mk_ipv6(&p, my_mac, &s, &d, IPV6_NH_UDP, 64, "\x10\x92\x13\x88\x00\x08\x00", 7);
    expect_drop(c, &p, "udp_drop_runt");
    mk_ipv6(&p, my_mac, &s, &d, IPV6_NH_UDP, 64, NULL, 0);
    expect_drop(c, &p, "udp_drop_runt");
}

static void test_udp6_bad_length(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    static const uint16_t bad[] = {0, 7, UDP_HLEN + 5};

    u_as_v6(c, false, "::", MY_PORT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "abcd", 4);
        UDP6H(&p)->len = htons(bad[i]);
        expect_drop(c, &p, "udp_drop_len");
    }
    /* Longer than the IPv6 payload though the frame (padding) has the
     * bytes: the IPv6 payload length rules. */
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "abcd", 4);
    UDP6H(&p)->len = htons(UDP_HLEN + 10);
    memset(p.b + p.len, 0, 6);
    p.len += 6;
    expect_drop(c, &p, "udp_drop_len");
}

/* A UDP length shorter than the IPv6 payload: the datagram is its length
 * (the rest ignored, as over IPv4), checksummed over that length. */
static void test_udp6_length_shorter_than_payload(void **state)
{
    struct ctx *c = *state;
    struct in6_addr s = a6(PEER_IP6_STR), d = a6(MY_IP6_STR);
    uint8_t l4[64];
    struct pkt p;
    size_t n;

    u_as_v6(c, false, "::", MY_PORT);
    n = ref_udp6(l4, &s, &d, PEER_PORT, MY_PORT, "abc", 3);
    memcpy(l4 + n, "junk", 4);
    mk_ipv6(&p, my_mac, &s, &d, IPV6_NH_UDP, 64, l4, n + 4);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, "abc", 3);
}

/* ======================================================================= */
/* No socket: port unreachable                                             */
/* ======================================================================= */

static void test_udp6_port_unreachable(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), peer = a6(PEER_IP6_STR);
    struct inet_stats before;
    struct parsed6 ps;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    learn_global(c);
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT + 1, "nobody", 6);
    before = c->s.stats;
    feed(c, &p);
    assert_int_equal(c->s.stats.udp_drop_no_port - before.udp_drop_no_port, 1);
    assert_int_equal(c->s.stats.icmp6_err_tx - before.icmp6_err_tx, 1);
    assert_int_equal(c->sink.n, 1);
    /* RFC 4443 3.1: type 1 code 4, the unused word 0, then the invoking
     * packet from its IPv6 header on, whole (it fits in 1280). */
    parse_ipv6(c, 0, &ps, peer_mac, &me, &peer, IPV6_NH_ICMPV6, 64);
    assert_int_equal(ps.l4[0], ICMP6_DST_UNREACH);
    assert_int_equal(ps.l4[1], ICMP6_DST_UNREACH_PORT);
    assert_int_equal(ps.l4len, 8 + IPV6_HLEN + UDP_HLEN + 6);
    assert_memory_equal(ps.l4 + 4, "\0\0\0\0", 4);
    assert_memory_equal(ps.l4 + 8, p.b + ETH_HLEN, IPV6_HLEN + UDP_HLEN + 6);
    assert_int_equal(c->u.rxq_len, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

/* Never for a group destination (RFC 4443 2.4 (e.3)): counted, nothing sent.
 * A wildcard socket on the port does take a datagram to ff02::1. */
static void test_udp6_multicast_no_port_silent(void **state)
{
    struct ctx *c = *state;
    struct inet_stats before;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    learn_global(c);
    mk_udp6(&p, PEER_IP6_STR, "ff02::1", PEER_PORT, MY_PORT + 1, "group", 5);
    before = c->s.stats;
    feed(c, &p);
    assert_int_equal(c->s.stats.udp_drop_no_port - before.udp_drop_no_port, 1);
    assert_int_equal(c->s.stats.icmp6_err_tx, before.icmp6_err_tx);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(mem_in_use(&c->mem), 0);

    mk_udp6(&p, PEER_IP6_STR, "ff02::1", PEER_PORT, MY_PORT, "group", 5);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, "group", 5);
}

/* ======================================================================= */
/* Dual stack                                                              */
/* ======================================================================= */

/* An IPv4 datagram reaches an AF_INET6 socket on :: with v6only off, with
 * its IPv4 source in meta32 (the libOS reports ::ffff:a.b.c.d); with
 * v6only on it does not (no socket: udp_drop_no_port), IPv6 still does. */
static void test_udp6_dual_stack_v4(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    mk_udp(&p, PEER_IP, MY_IP, PEER_PORT, MY_PORT, "four", 4);
    feed(c, &p);
    expect_datagram(&c->u, PEER_IP, PEER_PORT, "four", 4); /* meta64 without UDP_META_SRC6 */

    u_as_v6(c, true, "::", MY_PORT);
    mk_udp(&p, PEER_IP, MY_IP, PEER_PORT, MY_PORT, "four", 4);
    expect_drop(c, &p, "udp_drop_no_port");
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "six", 3);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, "six", 3);

    /* Bound to one IPv6 address: no IPv4 either. */
    u_as_v6(c, false, MY_IP6_STR, MY_PORT);
    mk_udp(&p, PEER_IP, MY_IP, PEER_PORT, MY_PORT, "four", 4);
    expect_drop(c, &p, "udp_drop_no_port");

    /* Bound to ::ffff:10.0.0.1: IPv4 only. */
    u_as_v6(c, false, "::ffff:10.0.0.1", MY_PORT);
    mk_udp(&p, PEER_IP, MY_IP, PEER_PORT, MY_PORT, "four", 4);
    feed(c, &p);
    expect_datagram(&c->u, PEER_IP, PEER_PORT, "four", 4);
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "six", 3);
    feed(c, &p);
    assert_int_equal(c->u.rxq_len, 0);
    assert_int_equal(c->sink.n, 1); /* port unreachable (no neighbor yet: its NS) */
}

/* A dual-stack socket sends IPv4 to an IPv4(-mapped) peer with udp_output,
 * from the same port; one bound to an IPv6 address cannot (ENETUNREACH),
 * nor one bound to a mapped address send IPv6. */
static void test_udp6_output_families(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR);

    u_as_v6(c, false, "::", MY_PORT);
    add_static(c, PEER_IP, peer_mac);
    assert_int_equal(udp_output(&c->s, &c->u, payload_buf(c, (const uint8_t *)"v4", 2), PEER_IP, htons(7)), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"v4", 2);

    u_as_v6(c, false, MY_IP6_STR, MY_PORT);
    assert_int_equal(udp_output(&c->s, &c->u, payload_buf(c, (const uint8_t *)"v4", 2), PEER_IP, htons(7)),
                     ENETUNREACH);
    u_as_v6(c, false, "::ffff:10.0.0.1", MY_PORT);
    assert_int_equal(udp_output6(&c->s, &c->u, payload_buf(c, (const uint8_t *)"v6", 2), &peer, htons(7)), ENETUNREACH);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

/* An unbound AF_INET6 socket gets an ephemeral port on ::, both families. */
static void test_udp6_output_binds_ephemeral(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR);
    struct udp_sock *u = u2_new(c, false, false);

    learn_global(c);
    assert_int_equal(udp_output6(&c->s, u, payload_buf(c, (const uint8_t *)"e", 1), &peer, htons(7)), 0);
    assert_true(ntohs(u->local_port) >= UDP_EPHEMERAL_FIRST);
    assert_true(u->rx_v4 && u->rx_v6);
    assert_true(in6_is_unspecified(&u->local_ip6));
    inet_stack_poll(&c->s);
    expect_sent6(c, 0, MY_IP6_STR, ntohs(u->local_port), PEER_IP6_STR, 7, "e", 1);
}

/* Binds (Linux's answers, udp.h): c->u is setup's AF_INET socket on
 * 0.0.0.0:MY_PORT. */
static void test_udp6_bind_rules(void **state)
{
    struct ctx *c = *state;
    struct in6_addr any = a6("::"), me = a6(MY_IP6_STR), ll = a6(MY_LL_STR), other = a6("fd00::9");
    struct in6_addr mapped_other = a6("::ffff:10.0.0.9"), mapped_me = a6("::ffff:10.0.0.1");
    struct udp_sock v6a, v6b;
    uint16_t port = htons(MY_PORT);

    /* A dual-stack :: overlaps the AF_INET one; a v6only :: does not. */
    u2_new(c, false, false);
    assert_int_equal(udp_bind6(&c->s, &c->u2, &any, port), EADDRINUSE);
    c->u2.v6only = true;
    assert_int_equal(udp_bind6(&c->s, &c->u2, &any, port), 0);
    assert_int_equal(udp_bind6(&c->s, &c->u2, &any, port), EINVAL); /* bound */

    /* A specific IPv6 address overlaps the v6only ::, not the AF_INET one. */
    assert_int_equal(udp_sock_init(&v6a, 4), 0);
    udp_sock_set_v6(&v6a, false);
    assert_int_equal(udp_bind6(&c->s, &v6a, &me, port), EADDRINUSE);
    assert_int_equal(udp_bind6(&c->s, &v6a, &me, htons(MY_PORT + 1)), 0);
    /* Two IPv6 addresses of ours share a port; the same one does not. */
    assert_int_equal(udp_sock_init(&v6b, 4), 0);
    udp_sock_set_v6(&v6b, false);
    assert_int_equal(udp_bind6(&c->s, &v6b, &me, htons(MY_PORT + 1)), EADDRINUSE);
    assert_int_equal(udp_bind6(&c->s, &v6b, &ll, htons(MY_PORT + 1)), 0);
    udp_sock_fini(&c->s, &v6b);

    /* Not ours, a mapped address not ours, a mapped one under v6only. */
    assert_int_equal(udp_sock_init(&v6b, 4), 0);
    udp_sock_set_v6(&v6b, false);
    assert_int_equal(udp_bind6(&c->s, &v6b, &other, htons(MY_PORT + 2)), EADDRNOTAVAIL);
    assert_int_equal(udp_bind6(&c->s, &v6b, &mapped_other, htons(MY_PORT + 2)), EADDRNOTAVAIL);
    /* A mapped address of ours is IPv4: the AF_INET socket's port is taken. */
    assert_int_equal(udp_bind6(&c->s, &v6b, &mapped_me, port), EADDRINUSE);
    assert_int_equal(udp_bind6(&c->s, &v6b, &mapped_me, htons(MY_PORT + 2)), 0);
    udp_sock_fini(&c->s, &v6b);
    assert_int_equal(udp_sock_init(&v6b, 4), 0);
    udp_sock_set_v6(&v6b, true);
    assert_int_equal(udp_bind6(&c->s, &v6b, &mapped_me, htons(MY_PORT + 2)), EINVAL);
    /* SO_REUSEADDR on both: shared. */
    v6b.reuseaddr = true;
    c->u2.reuseaddr = true;
    assert_int_equal(udp_bind6(&c->s, &v6b, &any, port), 0);
    udp_sock_fini(&c->s, &v6b);
    udp_sock_fini(&c->s, &v6a);
}

/* Demultiplexing among the sharers of a port over IPv6: connected to the
 * source first, then bound to the destination, then the wildcard; one
 * connected to another peer never takes it. */
static void test_udp6_demux(void **state)
{
    struct ctx *c = *state;
    struct in6_addr me = a6(MY_IP6_STR), peer = a6(PEER_IP6_STR), other = a6("fd00::3");
    struct udp_sock spec, conn;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    c->u.reuseaddr = true;
    assert_int_equal(udp_sock_init(&spec, 4), 0);
    udp_sock_set_v6(&spec, false);
    spec.reuseaddr = true;
    assert_int_equal(udp_bind6(&c->s, &spec, &me, htons(MY_PORT)), 0);
    assert_int_equal(udp_sock_init(&conn, 4), 0);
    udp_sock_set_v6(&conn, false);
    conn.reuseaddr = true;
    assert_int_equal(udp_bind6(&c->s, &conn, &me, htons(MY_PORT)), 0);
    udp_connect6(&conn, &other, htons(PEER_PORT));

    /* To the global address from the peer: the bound one, not the
     * connected one (another peer), not the wildcard. */
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "a", 1);
    feed(c, &p);
    expect_datagram6(&spec, PEER_IP6_STR, PEER_PORT, "a", 1);
    /* To the link-local address: the wildcard. */
    mk_udp6(&p, PEER_LL_STR, MY_LL_STR, PEER_PORT, MY_PORT, "b", 1);
    feed(c, &p);
    expect_datagram6(&c->u, PEER_LL_STR, PEER_PORT, "b", 1);
    /* From the connected peer: the connected one. */
    mk_udp6(&p, "fd00::3", MY_IP6_STR, PEER_PORT, MY_PORT, "c", 1);
    feed(c, &p);
    expect_datagram6(&conn, "fd00::3", PEER_PORT, "c", 1);
    /* Connected to the peer now: it takes the peer's, the others none. */
    udp_connect6(&conn, &peer, htons(PEER_PORT));
    mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "d", 1);
    feed(c, &p);
    expect_datagram6(&conn, PEER_IP6_STR, PEER_PORT, "d", 1);
    assert_int_equal(spec.rxq_len + c->u.rxq_len, 0);
    udp_sock_fini(&c->s, &conn);
    udp_sock_fini(&c->s, &spec);
}

static void test_udp6_queue_full(void **state)
{
    struct ctx *c = *state;
    struct inet_stats before;
    struct pkt p;

    u_as_v6(c, false, "::", MY_PORT);
    for (int i = 0; i < 8; i++) {
        mk_udp6(&p, PEER_IP6_STR, MY_IP6_STR, PEER_PORT, MY_PORT, "q", 1);
        feed(c, &p);
    }
    assert_int_equal(c->u.rxq_len, 8);
    before = c->s.stats;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_drop_queue_full", 1);
    assert_int_equal(c->u.rx_dropped, 1);
    for (int i = 0; i < 8; i++)
        expect_datagram6(&c->u, PEER_IP6_STR, PEER_PORT, "q", 1);
    assert_int_equal(mem_in_use(&c->mem), 0);
}

/* While DAD runs no address is usable: no source, EADDRNOTAVAIL. */
static void test_udp6_output_no_source(void **state)
{
    struct ctx *c = *state;
    struct in6_addr peer = a6(PEER_IP6_STR), me = a6(MY_IP6_STR);
    struct udp_sock *u = u2_new(c, false, false);

    inet_stack_poll(&c->s);
    sink_clear(c); /* the DAD probes */
    assert_int_equal(udp_bind6(&c->s, u, &me, htons(MY_PORT)), EADDRNOTAVAIL);
    assert_int_equal(udp_output6(&c->s, u, payload_buf(c, (const uint8_t *)"x", 1), &peer, htons(7)), EADDRNOTAVAIL);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(mem_in_use(&c->mem), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T6(test_udp6_output_bytes),
        T6(test_udp6_output_source),
        T6(test_udp6_output_chain_and_max),
        T6(test_udp6_output_csum_zero_is_ffff),
        T6(test_udp6_input_delivered),
        T6(test_udp6_input_after_ext),
        T6(test_udp6_zero_csum_dropped),
        T6(test_udp6_bad_csum),
        T6(test_udp6_runt),
        T6(test_udp6_bad_length),
        T6(test_udp6_length_shorter_than_payload),
        T6(test_udp6_port_unreachable),
        T6(test_udp6_multicast_no_port_silent),
        T6(test_udp6_dual_stack_v4),
        T6(test_udp6_output_families),
        T6(test_udp6_output_binds_ephemeral),
        T6(test_udp6_bind_rules),
        T6(test_udp6_demux),
        T6(test_udp6_queue_full),
        T6D(test_udp6_output_no_source),
    };

    return cmocka_run_group_tests_name("udp6", tests, NULL, NULL);
}
