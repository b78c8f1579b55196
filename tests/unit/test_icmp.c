/* SPDX-License-Identifier: MIT */
/*
 * test_icmp.c: ICMP echo (icmp.c) on the sink netdev (net_harness.h): a
 * request answered and the reply parsed back, icmp_echo_send and the reply
 * hook, and every malformed class dropped and counted.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <string.h>

/* ======================================================================= */
/* Round trips                                                             */
/* ======================================================================= */

static void test_icmp_echo_reply_roundtrip(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct parsed ps;
    const struct icmp_echo_hdr *h;
    uint8_t data[37];

    fill_pattern(data, sizeof(data), 5);
    add_static(c, PEER_IP, peer_mac);
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 0xbeef, 42, data, sizeof(data));
    feed(c, &p);
    assert_int_equal(c->s.stats.icmp_echo_request, 1);
    assert_int_equal(c->s.stats.icmp_tx, 1);
    assert_int_equal(c->sink.n, 1);
    parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
    assert_int_equal(ps.l4len, sizeof(*h) + sizeof(data));
    h = (const struct icmp_echo_hdr *)ps.l4;
    assert_int_equal(h->type, ICMP_ECHO_REPLY);
    assert_int_equal(h->code, 0);
    assert_int_equal(ntohs(h->id), 0xbeef);
    assert_int_equal(ntohs(h->seq), 42);
    assert_int_equal(ref_csum(h, ps.l4len), 0);
    assert_memory_equal(ps.l4 + sizeof(*h), data, sizeof(data));
}

struct echo_seen {
    int calls;
    uint32_t src, len;
    uint16_t id, seq;
};

static void on_echo(struct inet_stack *s, uint32_t src, uint16_t id, uint16_t seq, uint32_t len, void *arg)
{
    struct echo_seen *e = arg;
    (void)s;
    e->calls++;
    e->src = src;
    e->id = id;
    e->seq = seq;
    e->len = len;
}

/* icmp_echo_send puts a valid request on the wire; a reply reaches the hook. */
static void test_icmp_echo_request_and_reply_hook(void **state)
{
    struct ctx *c = *state;
    struct echo_seen seen = {0};
    struct parsed ps;
    const struct icmp_echo_hdr *h;
    struct pkt p;

    add_static(c, PEER_IP, peer_mac);
    assert_int_equal(icmp_echo_send(&c->s, PEER_IP, 7, 9, 21), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
    h = (const struct icmp_echo_hdr *)ps.l4;
    assert_int_equal(ps.l4len, sizeof(*h) + 21);
    assert_int_equal(h->type, ICMP_ECHO_REQUEST);
    assert_int_equal(ntohs(h->id), 7);
    assert_int_equal(ntohs(h->seq), 9);
    assert_int_equal(ref_csum(h, ps.l4len), 0);

    c->s.on_echo_reply = on_echo;
    c->s.echo_arg = &seen;
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REPLY, 7, 9, ps.l4 + sizeof(*h), 21);
    feed(c, &p);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.src, PEER_IP);
    assert_int_equal(seen.id, 7);
    assert_int_equal(seen.seq, 9);
    assert_int_equal(seen.len, 21);
    assert_int_equal(c->s.stats.icmp_echo_reply, 1);
    assert_int_equal(c->sink.n, 1); /* a reply is not answered */
}

/* ======================================================================= */
/* Malformed: ICMP                                                         */
/* ======================================================================= */

static void test_icmp_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, "\x08\x00\xf7\xff", 4);
    expect_drop(c, &p, "icmp_drop_runt");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, "\x08\x00\xf7\xff\x00\x00\x00", 7);
    expect_drop(c, &p, "icmp_drop_runt");
}

static void test_icmp_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    ICMPH(&p)->csum ^= htons(0x0200);
    expect_drop(c, &p, "icmp_drop_csum");
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    p.b[p.len - 1] ^= 1; /* the odd last byte */
    expect_drop(c, &p, "icmp_drop_csum");
}

static void test_icmp_unhandled_type(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, MY_IP, 13, 1, 1, "timestamp...", 12);
    expect_drop(c, &p, "icmp_drop_type");
    /* An echo request with a non-zero code is not an echo request. */
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    ICMPH(&p)->code = 1;
    icmp_fix_csum(&p);
    expect_drop(c, &p, "icmp_drop_type");
}

static void test_icmp_broadcast_not_answered(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, IPV4_BROADCAST, ICMP_ECHO_REQUEST, 1, 1, "smurf", 5);
    memcpy(ETH(&p)->dst, bcast_mac, ETH_ALEN);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
    assert_int_equal(c->s.stats.icmp_echo_request, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_icmp_echo_reply_roundtrip),
        T(test_icmp_echo_request_and_reply_hook),
        T(test_icmp_runt),
        T(test_icmp_bad_csum),
        T(test_icmp_unhandled_type),
        T(test_icmp_broadcast_not_answered),
    };

    return cmocka_run_group_tests_name("icmp", tests, NULL, NULL);
}
