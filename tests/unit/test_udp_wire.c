/* SPDX-License-Identifier: MIT */
/*
 * test_udp_wire.c: UDP on the wire (udp.c) on the sink netdev
 * (net_harness.h): what udp_output sends, parsed back with a reference
 * checksum, what udp_input delivers, and every malformed class dropped and
 * counted. (test_udp.c tests UDP sockets sharing a port through the libOS.)
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* ======================================================================= */
/* Round trips                                                             */
/* ======================================================================= */

static void test_udp_output_roundtrip(void **state)
{
    struct ctx *c = *state;
    static const uint8_t msg[] = "hello, world"; /* 13 bytes with the NUL: odd */

    add_static(c, PEER_IP, peer_mac);
    send_udp(c, PEER_IP, 7, msg, sizeof(msg));
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, msg, sizeof(msg));
    assert_int_equal(c->s.stats.udp_tx, 1);
    assert_int_equal(c->s.stats.ipv4_tx, 1);
    assert_int_equal(c->s.stats.eth_tx, 1);
    assert_int_equal(c->s.stats.arp_tx_request, 0);
}

/* Payloads over the copy threshold ride as a second segment: the checksum
 * must cover the chain, and the maximal payload still fits. */
static void test_udp_output_chain_and_max(void **state)
{
    struct ctx *c = *state;
    uint8_t big[1472];
    struct dbuf *d;

    fill_pattern(big, sizeof(big), 3);
    assert_int_equal(udp_max_payload(&c->s), 1472);
    add_static(c, PEER_IP, peer_mac);
    send_udp(c, PEER_IP, 9, big, 1001); /* odd length, chained */
    send_udp(c, PEER_IP, 9, big, sizeof(big));
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_non_null(c->sink.frames[0]->next);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 9, big, 1001);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 9, big, sizeof(big));

    /* One byte more does not fit: refused, the buffer released. */
    d = mem_alloc(&c->mem, 1473);
    assert_non_null(d);
    assert_int_equal(udp_output(&c->s, &c->u, d, PEER_IP, htons(9)), EMSGSIZE);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_udp_input_delivered(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t msg[33];
    struct inet_stats before = c->s.stats;

    fill_pattern(msg, sizeof(msg), 1);
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, msg, sizeof(msg));
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, msg, sizeof(msg));
    assert_null(udp_recv(&c->u));
    assert_int_equal(c->sink.n, 0);
}

/* ======================================================================= */
/* Malformed: UDP                                                          */
/* ======================================================================= */

static void test_udp_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, "\x10\x92\x13\x88\x00\x08\x00", 7);
    expect_drop(c, &p, "udp_drop_runt");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    expect_drop(c, &p, "udp_drop_runt");
}

static void test_udp_bad_length(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(7);
    expect_drop(c, &p, "udp_drop_len");

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(0);
    expect_drop(c, &p, "udp_drop_len");

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(UDP_HLEN + 5); /* one more than the IP payload */
    expect_drop(c, &p, "udp_drop_len");

    /* Longer than the IP payload though the frame (padding) has the bytes. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(UDP_HLEN + 10);
    memset(p.b + p.len, 0, 6);
    p.len += 6;
    expect_drop(c, &p, "udp_drop_len");
}

static void test_udp_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->csum ^= htons(0x0001);
    if (UDPH(&p)->csum == 0)
        UDPH(&p)->csum = htons(0x1234);
    expect_drop(c, &p, "udp_drop_csum");

    /* Payload altered. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    p.b[p.len - 1] ^= 0x40;
    expect_drop(c, &p, "udp_drop_csum");

    /* The pseudo-header counts: same datagram, claimed from another source. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    IPH(&p)->src = OTHER_IP;
    ip_fix_csum(&p);
    expect_drop(c, &p, "udp_drop_csum");
}

static void test_udp_no_checksum_accepted(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "nocsum", 6);
    UDPH(&p)->csum = 0;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, "nocsum", 6);
}

static void test_udp_no_port(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT + 1, "abcd", 4);
    expect_drop(c, &p, "udp_drop_no_port");
}

static void test_udp_queue_full(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before;

    assert_int_equal(udp_sock_init(&c->u2, 2), 0);
    c->u2_live = 1;
    assert_int_equal(udp_bind(&c->s, &c->u2, 0, htons(6000)), 0);
    for (int i = 0; i < 2; i++) {
        uint8_t m = (uint8_t)('a' + i);
        mk_udp(&p, PEER_IP, MY_IP, (uint16_t)(4000 + i), 6000, &m, 1);
        feed(c, &p);
    }
    assert_int_equal(c->u2.rxq_len, 2);
    before = c->s.stats;
    mk_udp(&p, PEER_IP, MY_IP, 4002, 6000, "c", 1);
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_drop_queue_full", 1);
    assert_int_equal(c->u2.rx_dropped, 1);
    assert_int_equal(c->u2.rxq_len, 2);
    /* The first two, in order; the third was dropped, not queued. */
    expect_datagram(&c->u2, PEER_IP, 4000, "a", 1);
    expect_datagram(&c->u2, PEER_IP, 4001, "b", 1);
    assert_null(udp_recv(&c->u2));
    assert_int_equal(mem_in_use(&c->mem), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_udp_output_roundtrip),     T(test_udp_output_chain_and_max),
        T(test_udp_input_delivered),      T(test_udp_runt),
        T(test_udp_bad_length),           T(test_udp_bad_csum),
        T(test_udp_no_checksum_accepted), T(test_udp_no_port),
        T(test_udp_queue_full),
    };

    return cmocka_run_group_tests_name("udp_wire", tests, NULL, NULL);
}
