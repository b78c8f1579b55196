/* SPDX-License-Identifier: MIT */
/*
 * test_eth.c: Ethernet (eth.c) fed hand-built frames on the sink netdev
 * (net_harness.h): runts, frames for another MAC, unknown EtherTypes, each
 * dropped and counted under its cause; and the transmit queue behind
 * eth_output (inet_tx in stack.c) when the device is full.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <string.h>

/* ======================================================================= */
/* Malformed: Ethernet                                                     */
/* ======================================================================= */

static void test_eth_runt(void **state)
{
    struct ctx *c = *state;
    uint8_t b[13];

    memcpy(b, my_mac, ETH_ALEN);
    memset(b + ETH_ALEN, 0xab, sizeof(b) - ETH_ALEN);
    expect_drop_bytes(c, b, 0, "eth_drop_runt");
    expect_drop_bytes(c, b, 1, "eth_drop_runt");
    expect_drop_bytes(c, b, 13, "eth_drop_runt");
}

static void test_eth_not_for_us(void **state)
{
    struct ctx *c = *state;
    static const uint8_t mcast[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 1, MY_PORT, "abc", 3);
    memcpy(ETH(&p)->dst, other_mac, ETH_ALEN);
    expect_drop(c, &p, "eth_drop_not_for_us");
    memcpy(ETH(&p)->dst, mcast, ETH_ALEN);
    expect_drop(c, &p, "eth_drop_not_for_us");
    /* A header alone, for someone else. */
    p.len = ETH_HLEN;
    expect_drop(c, &p, "eth_drop_not_for_us");
}

static void test_eth_unknown_type(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 1, MY_PORT, "abc", 3);
    ETH(&p)->type = htons(0x88cc); /* LLDP (0x86dd is IPv6 now: test_ipv6) */
    expect_drop(c, &p, "eth_drop_type");
    ETH(&p)->type = htons(0x1234);
    expect_drop(c, &p, "eth_drop_type");
    /* Exactly 14 bytes with an unknown type. */
    p.len = ETH_HLEN;
    expect_drop(c, &p, "eth_drop_type");
}

/* ======================================================================= */
/* Transmit queue                                                          */
/* ======================================================================= */

/* A full device queue: the frames it refuses keep their place, in order,
 * and go out at the next poll that finds room; none is lost. */
static void test_tx_full_held(void **state)
{
    struct ctx *c = *state;

    struct pkt p;

    /* The peer learned from its request (our reply is cleared away). */
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    c->sink.cap = 1;
    send_udp(c, PEER_IP, 7, (const uint8_t *)"1", 1);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"2", 1);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"3", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"1", 1);
    assert_int_equal(c->s.stats.eth_tx, 2); /* with the ARP reply */
    assert_int_equal(c->s.ntx, 2);
    assert_true(c->s.tx_stalled);
    assert_true(c->s.stats.eth_tx_stalled >= 1);
    assert_int_equal(c->s.stats.eth_drop_tx_full, 0);

    /* Room for one more: the next in order. Then for all. */
    c->sink.cap = 2;
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"2", 1);
    c->sink.cap = SINK_MAX;
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    parse_udp(c, 2, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"3", 1);
    assert_int_equal(c->s.ntx, 0);
    assert_false(c->s.tx_stalled);
    assert_int_equal(c->s.stats.eth_tx, 4);
    assert_int_equal(c->s.stats.eth_drop_tx_full, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

/* Frames go to the device once INET_TX_FLUSH_BYTES are queued, before the
 * round ends (a large message's first frames reach the peer while the rest
 * are built), and not before: small frames wait for the round's burst. */
static void test_tx_flush_bytes(void **state)
{
    struct ctx *c = *state;
    static uint8_t big[1400];
    uint32_t queued = 0;
    struct pkt p;
    int i;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    for (i = 0; i < 10; i++)
        send_udp(c, PEER_IP, 7, (const uint8_t *)"1", 1);
    assert_int_equal(c->sink.n, 0); /* small frames: the round's burst */
    queued = 10 * (ETH_HLEN + IPV4_HLEN + UDP_HLEN + 1);
    for (i = 0; queued < INET_TX_FLUSH_BYTES; i++) {
        send_udp(c, PEER_IP, 7, big, sizeof(big));
        assert_int_equal(c->sink.n, 0);
        queued += ETH_HLEN + IPV4_HLEN + UDP_HLEN + sizeof(big);
    }
    send_udp(c, PEER_IP, 7, big, sizeof(big)); /* finds INET_TX_FLUSH_BYTES queued */
    assert_int_equal(c->sink.n, 10 + i);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"1", 1);
    assert_int_equal(c->s.ntx, 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 11 + i);
    parse_udp(c, 10 + i, peer_mac, PEER_IP, MY_PORT, 7, big, sizeof(big));
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_eth_runt),     T(test_eth_not_for_us), T(test_eth_unknown_type),
        T(test_tx_full_held), T(test_tx_flush_bytes),
    };

    return cmocka_run_group_tests_name("eth", tests, NULL, NULL);
}
