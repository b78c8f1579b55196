/* SPDX-License-Identifier: MIT */
/*
 * test_arp.c: ARP (arp.c) fed hand-built frames on the sink netdev
 * (net_harness.h): a request answered and its sender learned, every
 * malformed class dropped and counted, resolution in virtual time (retries,
 * give-up, flush on reply, pending limit, expiry, re-confirmation), what the
 * wire may change in the table (issue 11) and permanent entries.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* Round trip                                                              */
/* ======================================================================= */

static void test_arp_request_answered_and_learned(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    size_t len;
    const struct eth_hdr *eh = (const struct eth_hdr *)b;
    const struct arp_hdr *a = (const struct arp_hdr *)(b + ETH_HLEN);
    const uint8_t *mac;

    assert_null(arp_lookup(&c->s, PEER_IP));
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_rx, 1);
    assert_int_equal(c->s.stats.arp_tx_reply, 1);
    assert_int_equal(c->sink.n, 1);
    len = sink_frame(c, 0, b);
    assert_int_equal(len, ETH_HLEN + sizeof(*a));
    assert_memory_equal(eh->dst, peer_mac, ETH_ALEN);
    assert_memory_equal(eh->src, my_mac, ETH_ALEN);
    assert_int_equal(ntohs(eh->type), ETH_TYPE_ARP);
    assert_int_equal(ntohs(a->htype), ARP_HTYPE_ETHER);
    assert_int_equal(ntohs(a->ptype), ETH_TYPE_IPV4);
    assert_int_equal(a->hlen, 6);
    assert_int_equal(a->plen, 4);
    assert_int_equal(ntohs(a->op), ARP_OP_REPLY);
    assert_memory_equal(a->sha, my_mac, ETH_ALEN);
    assert_int_equal(a->spa, MY_IP);
    assert_memory_equal(a->tha, peer_mac, ETH_ALEN);
    assert_int_equal(a->tpa, PEER_IP);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    /* Learned: a datagram to the peer goes straight out, no request. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_int_equal(c->s.stats.arp_tx_request, 0);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"x", 1);
}

/* ======================================================================= */
/* Malformed: ARP                                                          */
/* ======================================================================= */

static void test_arp_malformed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    p.len = ETH_HLEN + 27;
    expect_drop(c, &p, "arp_drop_malformed");
    p.len = ETH_HLEN;
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->htype = htons(6);
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->ptype = htons(0x86dd);
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->hlen = 8;
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->plen = 16;
    expect_drop(c, &p, "arp_drop_malformed");

    assert_null(arp_lookup(&c->s, PEER_IP));
}

static void test_arp_bad_op(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, 3, peer_mac, PEER_IP, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_op");
    mk_arp(&p, bcast_mac, 0, peer_mac, PEER_IP, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_op");
    assert_null(arp_lookup(&c->s, PEER_IP));
}

static void test_arp_not_for_us(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, ip4(10, 0, 0, 99));
    expect_drop(c, &p, "arp_drop_not_for_us");
    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, ip4(10, 0, 0, 99));
    expect_drop(c, &p, "arp_drop_not_for_us");
    /* Not learned: the sender was unknown and did not talk to us. */
    assert_null(arp_lookup(&c->s, PEER_IP));

    /* A sender claiming a multicast MAC or a broadcast IP is not learned. */
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, bcast_mac, PEER_IP, zero_mac, MY_IP);
    memcpy(ETH(&p)->src, peer_mac, ETH_ALEN);
    expect_drop(c, &p, "arp_drop_not_for_us");
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, IPV4_BROADCAST, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_not_for_us");
    assert_null(arp_lookup(&c->s, PEER_IP));
    assert_null(arp_lookup(&c->s, IPV4_BROADCAST));
}

/* ======================================================================= */
/* ARP in virtual time                                                     */
/* ======================================================================= */

static void test_arp_resolution_retries_and_timeout(void **state)
{
    struct ctx *c = *state;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"wait", 4);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request(c, 0, OTHER_IP);
    assert_int_equal(c->s.stats.arp_tx_request, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + 1); /* the packet waits */
    assert_null(arp_lookup(&c->s, OTHER_IP));

    /* Not a nanosecond early. */
    clock_advance(ARP_TIMEOUT_NS - 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    clock_advance(1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_arp_request(c, 1, OTHER_IP);

    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3); /* retries exhausted: 1 + 2 requests */
    parse_arp_request(c, 2, OTHER_IP);
    assert_int_equal(c->s.stats.arp_timeout, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + 1);

    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    assert_int_equal(c->s.stats.arp_tx_request, 3);
    assert_int_equal(c->s.stats.arp_timeout, 1);
    assert_int_equal(c->s.stats.arp_drop_pending, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c)); /* freed */
    assert_null(arp_lookup(&c->s, OTHER_IP));

    /* Nothing more is armed. */
    clock_advance(100 * ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);

    /* A new attempt starts over with one request. */
    send_udp(c, OTHER_IP, 7, (const uint8_t *)"again", 5);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 4);
    parse_arp_request(c, 3, OTHER_IP);
}

static void test_arp_reply_flushes_pending(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"one", 3);
    send_udp(c, OTHER_IP, 8, (const uint8_t *)"two", 3);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1); /* one request for both */
    parse_arp_request(c, 0, OTHER_IP);

    clock_advance(ARP_TIMEOUT_NS / 2);
    inet_stack_poll(&c->s);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_resolved, 1);
    assert_int_equal(c->sink.n, 3);
    parse_udp(c, 1, other_mac, OTHER_IP, MY_PORT, 7, (const uint8_t *)"one", 3);
    parse_udp(c, 2, other_mac, OTHER_IP, MY_PORT, 8, (const uint8_t *)"two", 3);
    mac = arp_lookup(&c->s, OTHER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, other_mac, ETH_ALEN);

    /* No more retries after the resolution. */
    clock_advance(5 * ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    assert_int_equal(c->s.stats.arp_tx_request, 1);
    assert_int_equal(c->s.stats.arp_timeout, 0);
    assert_int_equal(c->s.stats.arp_drop_pending, 0);
}

static void test_arp_pending_full(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before;

    for (int i = 0; i < ARP_PENDING_MAX; i++) {
        uint8_t m = (uint8_t)i;
        send_udp(c, OTHER_IP, (uint16_t)(100 + i), &m, 1);
    }
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    before = c->s.stats;
    send_udp(c, OTHER_IP, 999, (const uint8_t *)"!", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_drop_pending_full, before.arp_drop_pending_full + 1);
    assert_int_equal(c->s.stats.arp_tx_request, before.arp_tx_request); /* no second request */
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + ARP_PENDING_MAX);

    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1 + ARP_PENDING_MAX);
    for (int i = 0; i < ARP_PENDING_MAX; i++) {
        uint8_t m = (uint8_t)i;
        parse_udp(c, (unsigned)(1 + i), other_mac, OTHER_IP, MY_PORT, (uint16_t)(100 + i), &m, 1);
    }
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_arp_learned_entry_expires(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    clock_advance(ARP_TTL_NS - 1);
    inet_stack_poll(&c->s);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 0);
    clock_advance(1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 1);
    assert_null(arp_lookup(&c->s, PEER_IP));

    /* Expired: the next datagram needs a new resolution. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_arp_request(c, 1, PEER_IP);
}

/* A sender we know refreshes its entry when it talks ARP again (even to
 * another address), so a busy neighbour does not expire. */
static void test_arp_refresh_extends_ttl(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    clock_advance(ARP_TTL_NS - NS_PER_S);
    inet_stack_poll(&c->s);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, ip4(10, 0, 0, 50));
    feed(c, &p);
    clock_advance(2 * NS_PER_S); /* past the first TTL */
    inet_stack_poll(&c->s);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 0);
    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 1);
}

/* PEER_IP learned (its request to us) and used (a datagram to it), then
 * the clock at its TTL, nothing captured: where re-confirmation starts. */
static void learn_use_and_age_peer(struct ctx *c)
{
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"a", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    clock_advance(ARP_TTL_NS);
}

/* An entry in use when its TTL ends stays in use while a unicast request
 * to the peer's MAC re-confirms it (RFC 1122 2.3.2.1): traffic never waits
 * for a new resolution. Confirmed, it lives another TTL; idle for that
 * TTL, it goes. */
static void test_arp_used_entry_reconfirmed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    learn_use_and_age_peer(c);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 0);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request_to(c, 0, PEER_IP, peer_mac);
    assert_non_null(arp_lookup(&c->s, PEER_IP));

    /* Still sent at once, to the MAC we have. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"b", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"b", 1);
    sink_clear(c);

    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_probe_confirmed, 1);
    clock_advance(ARP_TIMEOUT_NS * (ARP_RETRIES + 2)); /* no further probe */
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    clock_advance(ARP_TTL_NS); /* a TTL unused since the confirmation */
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 1);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    assert_null(arp_lookup(&c->s, PEER_IP));
}

/* No answer to 1 + retries probes: the entry goes (the peer is down or its
 * address moved to another MAC), and the next packet asks by broadcast. */
static void test_arp_reconfirm_unanswered(void **state)
{
    struct ctx *c = *state;

    learn_use_and_age_peer(c);
    inet_stack_poll(&c->s);
    for (int i = 0; i < ARP_RETRIES; i++) {
        clock_advance(ARP_TIMEOUT_NS);
        inet_stack_poll(&c->s);
        assert_non_null(arp_lookup(&c->s, PEER_IP));
    }
    assert_int_equal(c->sink.n, 1 + ARP_RETRIES);
    for (unsigned i = 0; i < 1 + ARP_RETRIES; i++)
        parse_arp_request_to(c, i, PEER_IP, peer_mac);
    sink_clear(c);
    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_probe_failed, 1);
    assert_int_equal(c->s.stats.arp_expired, 0);
    assert_null(arp_lookup(&c->s, PEER_IP));
    send_udp(c, PEER_IP, 7, (const uint8_t *)"b", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request(c, 0, PEER_IP);
}

/* The soak failure this guards against: a peer in use whose TTL ends while
 * a flood of half-open connections to unresolvable addresses fills the
 * table. Dropped and resolved again, its pending entry was the oldest and
 * evicted at once, and the peer was cut off while the flood lasted. */
static void test_arp_reconfirm_survives_flood(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    learn_use_and_age_peer(c);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    sink_clear(c);
    for (uint32_t i = 0; i < 2 * ARP_MAX_ENTRIES; i++) {
        send_udp(c, ip4(10, 1, (uint8_t)(i >> 8), (uint8_t)i), 7, (const uint8_t *)"x", 1);
        if (i % 64 == 0) {
            send_udp(c, PEER_IP, 7, (const uint8_t *)"p", 1);
            inet_stack_poll(&c->s);
            assert_int_equal(c->sink.n, 2); /* its ARP request, our datagram at once */
            parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"p", 1);
        }
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(c->s.stats.arp_evict_pending, ARP_MAX_ENTRIES + 1);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_probe_confirmed, 1);
    for (int i = 0; i < (ARP_RETRIES + 2) * 100; i++) { /* the flood's resolutions give up */
        clock_advance(ARP_TIMEOUT_NS / 100);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
}

/* ---- what the wire may change in the ARP table (issue 11) ---------------- */

/* An ARP reply nobody asked for creates no entry: otherwise any host could
 * plant mappings (and fill the table) without being asked. */
static void test_arp_unsolicited_reply_ignored(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    expect_drop(c, &p, "arp_ignored_unsolicited");
    assert_null(arp_lookup(&c->s, OTHER_IP));
}

/* A resolved entry keeps its MAC against unsolicited replies and
 * gratuitous ARP with another MAC (both counted); the peer's own traffic
 * with the same MAC refreshes it; once it expires, a new resolution may
 * learn a new MAC. */
static void test_arp_no_silent_overwrite(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP); /* unsolicited */
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, PEER_IP, zero_mac, PEER_IP); /* gratuitous */
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REPLY, other_mac, PEER_IP, bcast_mac, PEER_IP); /* gratuitous reply */
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_ignored_update, 3);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_null(arp_lookup(&c->s, PEER_IP));
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP); /* the answer, now */
    feed(c, &p);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, other_mac, ETH_ALEN);
    sink_clear(c);
}

/* Another host claiming our address (RFC 5227 2.4): counted, not learned,
 * not answered. An RFC 5227 probe for our address (sender 0.0.0.0) is
 * answered so the prober backs off. */
static void test_arp_conflict_and_probe(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    const struct arp_hdr *a = (const struct arp_hdr *)(b + ETH_HLEN);

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, MY_IP, zero_mac, PEER_IP);
    expect_drop(c, &p, "arp_conflict");
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, MY_IP, my_mac, MY_IP);
    expect_drop(c, &p, "arp_conflict");
    assert_null(arp_lookup(&c->s, MY_IP));

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, 0, zero_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    sink_frame(c, 0, b);
    assert_int_equal(ntohs(a->op), ARP_OP_REPLY);
    assert_int_equal(a->spa, MY_IP);
    assert_memory_equal(a->tha, other_mac, ETH_ALEN);
    assert_int_equal(a->tpa, 0);
    assert_null(arp_lookup(&c->s, 0));
    sink_clear(c);
}

/* A full table (a flood of new destinations) evicts its oldest unresolved
 * entry, never a resolved one. */
static void test_arp_full_evicts_pending(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    for (uint32_t i = 0; i < ARP_MAX_ENTRIES + 10; i++) {
        send_udp(c, ip4(10, 1, (uint8_t)(i >> 8), (uint8_t)i), 7, (const uint8_t *)"x", 1);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(c->s.stats.arp_evict_pending, 11); /* PEER_IP holds one of the slots */
    assert_int_equal(c->s.stats.arp_drop_table_full, 0);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    /* Drain: every resolution gives up, no buffer is left behind. */
    for (int i = 0; i < (ARP_RETRIES + 2) * 100; i++) {
        clock_advance(ARP_TIMEOUT_NS / 100);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(mem_in_use(&c->mem), 0);
}

static void test_arp_static_permanent(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    add_static(c, PEER_IP, peer_mac);
    for (int i = 0; i < 10; i++) {
        clock_advance(ARP_TTL_NS);
        inet_stack_poll(&c->s);
    }
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);
    assert_int_equal(c->s.stats.arp_expired, 0);

    /* A contrary reply (and a contrary request) do not overwrite it. */
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    clock_advance(10 * ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 0);
    sink_clear(c);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"st", 2);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"st", 2);
}

/* arp_add_static on an address not yet known, and the configuration's
 * permanent entries (inet_params.static_arp), must record the given MAC. */
static void test_arp_static_entry_has_mac(void **state)
{
    struct ctx *c = *state;
    struct config_arp_entry cfg[1];
    struct inet_params p;
    struct inet_stack *s2;
    const uint8_t *mac;

    assert_int_equal(arp_add_static(&c->s, PEER_IP, peer_mac), 0);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    memcpy(cfg[0].mac, other_mac, ETH_ALEN);
    cfg[0].ip.s_addr = OTHER_IP;
    inet_params_default(&p);
    p.ip = MY_IP;
    p.arp_retries = ARP_RETRIES;
    p.arp_timeout_ns = ARP_TIMEOUT_NS;
    p.arp_ttl_ns = ARP_TTL_NS;
    p.static_arp = cfg;
    p.static_arp_len = 1;
    s2 = calloc(1, sizeof(*s2));
    assert_non_null(s2);
    assert_int_equal(inet_stack_init(s2, &c->sink.dev, &c->mem, &p), 0);
    mac = arp_lookup(s2, OTHER_IP);
    if (mac && memcmp(mac, other_mac, ETH_ALEN) != 0) {
        inet_stack_fini(s2);
        free(s2);
        fail_msg("configured static ARP entry has MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                 mac[4], mac[5]);
    }
    inet_stack_fini(s2);
    free(s2);
    assert_non_null(mac);
}

/* A static entry added while a resolution waits sends what waited. */
static void test_arp_static_flushes_pending(void **state)
{
    struct ctx *c = *state;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"q", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(arp_add_static(&c->s, OTHER_IP, other_mac), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, other_mac, OTHER_IP, MY_PORT, 7, (const uint8_t *)"q", 1);
    clock_advance(10 * ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2); /* no retry, no expiry */
    assert_non_null(arp_lookup(&c->s, OTHER_IP));
}

/* A flow's cached entry (arp_output_via, TCP's per-connection route): sent
 * through without a lookup while it is the address's and resolved; once
 * the entry is dropped and its slot reused for another address, the cache
 * is a miss and the address is resolved anew, never sent to the other
 * host's MAC. */
static void test_arp_route_cache(void **state)
{
    struct ctx *c = *state;
    struct arp_entry *route = NULL, *first;
    uint8_t f[2048];
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p); /* learned; answered (frame 0) */
    arp_output_via(&c->s, payload_buf(c, (const uint8_t *)"a", 1), PEER_IP, &route);
    first = route;
    assert_non_null(first);
    assert_int_equal(first->ip, PEER_IP);
    arp_output_via(&c->s, payload_buf(c, (const uint8_t *)"b", 1), PEER_IP, &route);
    assert_ptr_equal(route, first);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    for (unsigned i = 1; i < 3; i++) {
        sink_frame(c, i, f);
        assert_memory_equal(f, peer_mac, ETH_ALEN);
    }

    /* The peer goes silent: its entry is probed, then dropped. */
    for (int i = 0; i < 1000 && arp_lookup(&c->s, PEER_IP); i++) {
        clock_advance(NS_PER_S);
        inet_stack_poll(&c->s);
    }
    assert_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(first->state, ARP_FREE);
    /* Another host takes the slot. */
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, OTHER_IP, zero_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(first->ip, OTHER_IP);
    sink_clear(c);
    arp_output_via(&c->s, payload_buf(c, (const uint8_t *)"c", 1), PEER_IP, &route);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request(c, 0, PEER_IP); /* resolved anew, nothing to other_mac */
    assert_null(route);               /* pending: nothing cached */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_arp_request_answered_and_learned),
        T(test_arp_malformed),
        T(test_arp_bad_op),
        T(test_arp_not_for_us),
        T(test_arp_unsolicited_reply_ignored),
        T(test_arp_no_silent_overwrite),
        T(test_arp_conflict_and_probe),
        T(test_arp_full_evicts_pending),
        T(test_arp_resolution_retries_and_timeout),
        T(test_arp_reply_flushes_pending),
        T(test_arp_pending_full),
        T(test_arp_learned_entry_expires),
        T(test_arp_refresh_extends_ttl),
        T(test_arp_used_entry_reconfirmed),
        T(test_arp_reconfirm_unanswered),
        T(test_arp_reconfirm_survives_flood),
        T(test_arp_static_entry_has_mac),
        T(test_arp_static_permanent),
        T(test_arp_static_flushes_pending),
        T(test_arp_route_cache),
    };

    return cmocka_run_group_tests_name("arp", tests, NULL, NULL);
}
