/* SPDX-License-Identifier: MIT */
/*
 * test_simlink.c: the simulated Ethernet segment and fault_wrap. Every
 * protocol test above runs over this link in virtual time, so it must be
 * exact: a perfect link is a perfect wire, every frame is accounted for
 * under faults, and a run is a pure function of its seed and the clock.
 */
#include "dev/simlink.h"

#include "core/clock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#define MS 1000000ull
#define US 1000ull
#define MTU 1500
#define MAXF 64

static struct mem mem;

static const uint8_t mac_a[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t mac_c[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x0c};
static const uint8_t mac_bcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mac_mcast[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t mac_nobody[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0xee};

static int setup(void **state)
{
    (void)state;
    clock_set_virtual(0);
    return mem_init(&mem, 4096, 16, 0);
}

static int teardown(void **state)
{
    (void)state;
    /* Every test gives back every buffer: the link leaks none. */
    assert_int_equal(mem_in_use(&mem), 0);
    mem_fini(&mem);
    clock_set_real();
    return 0;
}

/* The bytes of test frame @seq of @len bytes: header, seq, pattern. */
static void fill_frame(uint8_t *b, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN], uint32_t len, uint32_t seq)
{
    uint8_t tmpl[2048];

    assert_true(len <= sizeof(tmpl));
    memcpy(tmpl, dst, ETH_ALEN);
    memcpy(tmpl + 6, src, ETH_ALEN);
    tmpl[12] = 0x88; /* local experimental EtherType */
    tmpl[13] = 0xb5;
    memcpy(tmpl + 14, &seq, sizeof(seq));
    for (uint32_t i = 18; i < sizeof(tmpl); i++)
        tmpl[i] = (uint8_t)(seq * 31u + i * 7u);
    memcpy(b, tmpl, len);
}

static struct dbuf *make_frame(const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN], uint32_t len, uint32_t seq)
{
    struct dbuf *d = mem_alloc(&mem, len);

    assert_non_null(d);
    fill_frame(d->data, dst, src, len, seq);
    return d;
}

static uint32_t frame_seq(const struct dbuf *d)
{
    uint32_t seq;

    memcpy(&seq, d->data + 14, sizeof(seq));
    return seq;
}

static void send_one(struct netdev *dev, const uint8_t dst[ETH_ALEN], uint32_t len, uint32_t seq)
{
    struct dbuf *f = make_frame(dst, dev->mac, len, seq);

    assert_int_equal(netdev_tx_burst(dev, &f, 1), 1);
}

/* Whether @d is exactly test frame @seq of @len bytes. */
static bool frame_is(const struct dbuf *d, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN], uint32_t len,
                     uint32_t seq)
{
    uint8_t want[2048];

    if (d->len != len)
        return false;
    fill_frame(want, dst, src, len, seq);
    return memcmp(d->data, want, len) == 0;
}

/* Receive everything due now and drop it; returns how many. */
static uint32_t drain(struct netdev *dev)
{
    struct dbuf *f[MAXF];
    uint32_t total = 0;
    uint16_t k;

    while ((k = netdev_rx_burst(dev, f, MAXF)) > 0) {
        for (uint16_t i = 0; i < k; i++)
            dbuf_put(f[i]);
        total += k;
    }
    return total;
}

static void test_perfect_link(void **state)
{
    struct simlink *l = simlink_create(&mem, NULL, 64);
    struct netdev *a, *b, *c;
    struct dbuf *f[MAXF];
    uint16_t k;

    (void)state;
    assert_non_null(l);
    a = simlink_port(l, mac_a, MTU);
    b = simlink_port(l, mac_b, MTU);
    c = simlink_port(l, mac_c, MTU);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_memory_equal(a->mac, mac_a, ETH_ALEN);
    assert_int_equal(b->mtu, MTU);
    assert_int_equal(simlink_next_delivery(l), UINT64_MAX);

    /* Unicast: only B, in order, byte-exact. */
    for (uint32_t i = 0; i < 10; i++)
        send_one(a, mac_b, 60 + i, i);
    send_one(b, mac_a, 100, 99);
    assert_int_equal(simlink_next_delivery(l), 0);
    assert_int_equal(netdev_rx_burst(c, f, MAXF), 0);
    k = netdev_rx_burst(b, f, MAXF);
    assert_int_equal(k, 10);
    for (uint32_t i = 0; i < k; i++) {
        assert_true(frame_is(f[i], mac_b, mac_a, 60 + i, i));
        assert_int_equal(f[i]->refcnt, 1);
        assert_null(f[i]->next);
        dbuf_put(f[i]);
    }
    k = netdev_rx_burst(a, f, MAXF);
    assert_int_equal(k, 1);
    assert_true(frame_is(f[0], mac_a, mac_b, 100, 99));
    dbuf_put(f[0]);

    /* Broadcast and multicast: every other port, never the sender. */
    send_one(a, mac_bcast, 64, 1000);
    send_one(c, mac_mcast, 64, 1001);
    k = netdev_rx_burst(a, f, MAXF);
    assert_int_equal(k, 1);
    assert_true(frame_is(f[0], mac_mcast, mac_c, 64, 1001));
    dbuf_put(f[0]);
    k = netdev_rx_burst(b, f, MAXF);
    assert_int_equal(k, 2);
    assert_true(frame_is(f[0], mac_bcast, mac_a, 64, 1000));
    assert_true(frame_is(f[1], mac_mcast, mac_c, 64, 1001));
    /* Each receiver has its own copy. */
    dbuf_put(f[0]);
    dbuf_put(f[1]);
    k = netdev_rx_burst(c, f, MAXF);
    assert_int_equal(k, 1);
    assert_true(frame_is(f[0], mac_bcast, mac_a, 64, 1000));
    dbuf_put(f[0]);

    /* Unicast to nobody: carried nowhere, counted. */
    send_one(a, mac_nobody, 64, 2000);
    assert_int_equal(drain(a) + drain(b) + drain(c), 0);
    assert_int_equal(simlink_link_stats(l)->no_dest, 1);

    /* Counters. */
    assert_int_equal(a->stats.tx_frames, 12);
    assert_int_equal(b->stats.rx_frames, 12);
    assert_int_equal(a->stats.rx_frames, 2);
    assert_int_equal(a->stats.rx_bytes, 164);
    assert_int_equal(simlink_fault_stats(l)->offered, 15);
    assert_int_equal(simlink_fault_stats(l)->delivered, 15);
    assert_int_equal(simlink_fault_stats(l)->dropped, 0);
    simlink_destroy(l);
}

static void test_chain_linearized(void **state)
{
    struct simlink *l = simlink_create(&mem, NULL, 16);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct dbuf *hdr, *pay, *f[4];
    uint8_t want[1034];
    uint32_t start = mem_in_use(&mem);

    (void)state;
    fill_frame(want, mac_b, mac_a, sizeof(want), 7);
    hdr = mem_alloc(&mem, 34);
    pay = mem_alloc(&mem, 1000);
    memcpy(hdr->data, want, 34);
    memcpy(pay->data, want + 34, 1000);
    hdr->next = pay;
    /* A retransmission queue still holds the payload. */
    dbuf_ref(pay);
    assert_int_equal(netdev_tx_burst(a, &hdr, 1), 1);
    /* The link released the sender's references: only ours remains. */
    assert_int_equal(pay->refcnt, 1);
    dbuf_put(pay);
    assert_int_equal(mem_in_use(&mem), start + 1); /* the wire copy */

    assert_int_equal(netdev_rx_burst(b, f, 4), 1);
    assert_int_equal(f[0]->len, sizeof(want));
    assert_memory_equal(f[0]->data, want, sizeof(want));
    assert_null(f[0]->next);
    /* Headroom kept: the receiving stack can prepend in place. */
    assert_ptr_equal(f[0]->data, f[0]->buf + DBUF_HEADROOM);
    dbuf_put(f[0]);
    assert_int_equal(mem_in_use(&mem), start);
    simlink_destroy(l);
}

static void test_delay_and_jitter(void **state)
{
    struct fault_params fp = {.seed = 1, .delay_ns = 5 * MS};
    struct simlink *l = simlink_create(&mem, &fp, 256);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct dbuf *f[MAXF];
    uint32_t got = 0, times = 0;

    (void)state;
    clock_set_virtual(1 * MS);
    send_one(a, mac_b, 100, 0);
    assert_int_equal(simlink_next_delivery(l), 6 * MS);
    clock_set_virtual(6 * MS - 1);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 0);
    clock_advance(1);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 1);
    assert_true(frame_is(f[0], mac_b, mac_a, 100, 0));
    dbuf_put(f[0]);

    /* Jitter: every frame within [delay, delay + jitter], none early. */
    fp.delay_ns = 1 * MS;
    fp.jitter_ns = 500 * US;
    simlink_set_faults(l, &fp);
    clock_set_virtual(10 * MS);
    for (uint32_t i = 0; i < 200; i++)
        send_one(a, mac_b, 100, i);
    assert_true(simlink_next_delivery(l) >= 11 * MS);
    clock_set_virtual(11 * MS - 1);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 0);
    while (simlink_next_delivery(l) != UINT64_MAX) {
        uint64_t t = simlink_next_delivery(l);
        assert_true(t >= 11 * MS && t <= 11 * MS + 500 * US);
        clock_set_virtual(t);
        got += drain(b);
        times++;
    }
    assert_int_equal(got, 200);
    /* Spread out, not one burst at the fixed delay. */
    assert_true(times > 150);
    simlink_destroy(l);
}

static void test_rate_limit(void **state)
{
    struct fault_params fp = {.rate_bps = 1000000}; /* 1 MB/s: 1000 B = 1 ms */
    struct simlink *l = simlink_create(&mem, &fp, 64);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct dbuf *f[MAXF];

    (void)state;
    for (uint32_t i = 0; i < 10; i++)
        send_one(a, mac_b, 1000, i);
    for (uint32_t i = 1; i <= 10; i++) {
        assert_int_equal(simlink_next_delivery(l), i * MS);
        clock_set_virtual(i * MS - 1);
        assert_int_equal(netdev_rx_burst(b, f, MAXF), 0);
        clock_advance(1);
        assert_int_equal(netdev_rx_burst(b, f, MAXF), 1);
        assert_int_equal(frame_seq(f[0]), i - 1);
        dbuf_put(f[0]);
    }
    /* An idle wire does not bank credit: the next frame takes 1 ms again. */
    clock_set_virtual(100 * MS);
    send_one(a, mac_b, 1000, 10);
    assert_int_equal(simlink_next_delivery(l), 101 * MS);
    clock_set_virtual(101 * MS);
    assert_int_equal(drain(b), 1);
    simlink_destroy(l);
}

static void test_loss_accounting(void **state)
{
    struct fault_params fp = {.seed = 12345, .loss_ppm = 50000}; /* 5 % */
    struct simlink *l = simlink_create(&mem, &fp, 256);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    const struct fault_stats *st = simlink_fault_stats(l);
    const uint32_t n = 100000;
    uint64_t received = 0;
    double dev;

    (void)state;
    for (uint32_t i = 0; i < n; i++) {
        send_one(a, mac_b, 64, i);
        if (i % 100 == 99)
            received += drain(b);
    }
    received += drain(b);
    assert_int_equal(st->offered, n);
    assert_int_equal(st->delivered + st->dropped, n);
    assert_int_equal(received, st->delivered);
    /* sigma = sqrt(n p (1 - p)) ~ 69: allow 5 sigma. */
    dev = (double)st->dropped - 5000.0;
    print_message("loss: %llu of %u dropped\n", (unsigned long long)st->dropped, n);
    assert_true(dev < 345.0 && dev > -345.0);
    simlink_destroy(l);
}

static void test_duplicates(void **state)
{
    struct fault_params fp = {.seed = 3, .dup_ppm = 1000000};
    struct simlink *l = simlink_create(&mem, &fp, 256);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    const struct fault_stats *st = simlink_fault_stats(l);
    struct dbuf *f[MAXF];
    uint32_t seen[50] = {0};
    uint64_t received = 0;
    uint16_t k;

    (void)state;
    for (uint32_t i = 0; i < 50; i++)
        send_one(a, mac_b, 200, i);
    while ((k = netdev_rx_burst(b, f, MAXF)) > 0) {
        for (uint16_t i = 0; i < k; i++) {
            uint32_t seq = frame_seq(f[i]);
            assert_true(seq < 50);
            assert_true(frame_is(f[i], mac_b, mac_a, 200, seq));
            seen[seq]++;
            dbuf_put(f[i]);
        }
    }
    for (uint32_t i = 0; i < 50; i++)
        assert_int_equal(seen[i], 2);
    assert_int_equal(st->duplicated, 50);
    assert_int_equal(st->delivered, 100);

    /* 10 %: received = sent + duplicated, exactly. */
    fp.dup_ppm = 100000;
    simlink_set_faults(l, &fp);
    for (uint32_t i = 0; i < 5000; i++) {
        send_one(a, mac_b, 64, i);
        if (i % 50 == 49)
            received += drain(b);
    }
    received += drain(b);
    assert_int_equal(received, 5000 + st->duplicated - 50);
    assert_true(st->duplicated - 50 > 300 && st->duplicated - 50 < 700);
    simlink_destroy(l);
}

static void test_corruption(void **state)
{
    struct fault_params fp = {.seed = 4, .corrupt_ppm = 1000000};
    struct simlink *l = simlink_create(&mem, &fp, 1024);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct dbuf *sent[1000], *f[MAXF];
    uint8_t want[300];
    uint32_t got = 0;
    uint16_t k;

    (void)state;
    for (uint32_t i = 0; i < 1000; i++) {
        sent[i] = make_frame(mac_b, mac_a, 300, i);
        dbuf_ref(sent[i]); /* keep the sender's buffer to inspect it */
        assert_int_equal(netdev_tx_burst(a, &sent[i], 1), 1);
    }
    while ((k = netdev_rx_burst(b, f, MAXF)) > 0) {
        for (uint16_t i = 0; i < k; i++, got++) {
            uint32_t diff = 0;
            /* The seq may be the byte hit: frames arrive in send order. */
            fill_frame(want, mac_b, mac_a, 300, got);
            assert_int_equal(f[i]->len, 300);
            for (uint32_t j = 0; j < 300; j++)
                diff += f[i]->data[j] != want[j];
            assert_int_equal(diff, 1);
            dbuf_put(f[i]);
        }
    }
    assert_int_equal(got, 1000);
    assert_int_equal(simlink_fault_stats(l)->corrupted, 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        assert_true(frame_is(sent[i], mac_b, mac_a, 300, i));
        dbuf_put(sent[i]);
    }
    simlink_destroy(l);
}

static void test_reorder(void **state)
{
    struct fault_params fp = {.seed = 5, .reorder_ppm = 1000000};
    struct simlink *l = simlink_create(&mem, &fp, 1024);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    const struct fault_stats *st = simlink_fault_stats(l);
    static const uint32_t swapped[4] = {1, 0, 3, 2};
    uint8_t seen[1000] = {0};
    struct dbuf *f[MAXF];
    uint32_t got = 0, inversions = 0, last = 0;
    uint16_t k;

    (void)state;
    /* Always: each held frame is passed by the next one. */
    for (uint32_t i = 0; i < 4; i++)
        send_one(a, mac_b, 64, i);
    k = netdev_rx_burst(b, f, MAXF);
    assert_int_equal(k, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(frame_seq(f[i]), swapped[i]);
        dbuf_put(f[i]);
    }
    /* A held frame nobody passes still arrives, a little late. */
    send_one(a, mac_b, 64, 4);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 0);
    assert_true(simlink_next_delivery(l) > 0 && simlink_next_delivery(l) <= 10 * MS);
    clock_set_virtual(simlink_next_delivery(l));
    assert_int_equal(drain(b), 1);
    assert_int_equal(st->reordered, 3);

    /* 20 %, one frame every 10 us: out of order, but all arrive once. */
    fp.reorder_ppm = 200000;
    fp.delay_ns = 100 * US;
    simlink_set_faults(l, &fp);
    for (uint32_t i = 0; i < 1000; i++) {
        send_one(a, mac_b, 64, i);
        clock_advance(10 * US);
        while ((k = netdev_rx_burst(b, f, MAXF)) > 0) {
            for (uint16_t j = 0; j < k; j++, got++) {
                uint32_t seq = frame_seq(f[j]);
                assert_true(seq < 1000);
                assert_int_equal(seen[seq], 0);
                seen[seq] = 1;
                if (got > 0 && seq < last)
                    inversions++;
                last = seq;
                dbuf_put(f[j]);
            }
        }
    }
    clock_advance(10 * MS);
    got += drain(b);
    assert_int_equal(got, 1000);
    assert_true(inversions > 50);
    assert_int_equal(st->offered, st->delivered);
    print_message("reorder: %llu held, %u inversions\n", (unsigned long long)st->reordered - 3, inversions);
    simlink_destroy(l);
}

/* FNV-1a, fed with everything a receiver can observe. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_drain(uint64_t h, struct netdev *dev, uint32_t port, uint32_t *count)
{
    struct dbuf *f[MAXF];
    uint64_t now = clock_now_ns();
    uint16_t k;

    while ((k = netdev_rx_burst(dev, f, MAXF)) > 0) {
        for (uint16_t i = 0; i < k; i++) {
            h = fnv(h, &port, sizeof(port));
            h = fnv(h, &now, sizeof(now));
            h = fnv(h, f[i]->data, f[i]->len);
            dbuf_put(f[i]);
        }
        *count += k;
    }
    return h;
}

/* A run with every fault on; its hash over all deliveries and times. */
static uint64_t run_scenario(uint64_t seed)
{
    struct fault_params fp = {.seed = seed,
                              .loss_ppm = 20000,
                              .dup_ppm = 20000,
                              .corrupt_ppm = 20000,
                              .reorder_ppm = 50000,
                              .delay_ns = 100 * US,
                              .jitter_ns = 50 * US,
                              .rate_bps = 10000000};
    struct simlink *l = simlink_create(&mem, &fp, 512);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct netdev *c = simlink_port(l, mac_c, MTU);
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t count = 0;

    clock_set_virtual(0);
    for (uint32_t i = 0; i < 2000; i++) {
        send_one(a, i % 5 ? mac_b : mac_bcast, 60 + i % 900, i);
        if (i % 7 == 0)
            send_one(c, mac_a, 80, i);
        clock_advance(7 * US);
        h = hash_drain(h, a, 0, &count);
        h = hash_drain(h, b, 1, &count);
        h = hash_drain(h, c, 2, &count);
    }
    while (simlink_next_delivery(l) != UINT64_MAX) {
        clock_set_virtual(simlink_next_delivery(l));
        h = hash_drain(h, a, 0, &count);
        h = hash_drain(h, b, 1, &count);
        h = hash_drain(h, c, 2, &count);
    }
    assert_int_equal(count, simlink_fault_stats(l)->delivered);
    h = fnv(h, simlink_fault_stats(l), sizeof(struct fault_stats));
    simlink_destroy(l);
    return h;
}

static void test_determinism(void **state)
{
    uint64_t h1, h2, h3;

    (void)state;
    h1 = run_scenario(42);
    h2 = run_scenario(42);
    h3 = run_scenario(43);
    assert_true(h1 == h2);
    assert_true(h1 != h3);
}

static void test_queue_overflow(void **state)
{
    struct simlink *l = simlink_create(&mem, NULL, 8);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct dbuf *f[MAXF];

    (void)state;
    for (uint32_t i = 0; i < 20; i++)
        send_one(a, mac_b, 64, i);
    assert_int_equal(simlink_link_stats(l)->overflow, 12);
    assert_int_equal(a->stats.tx_full, 12);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 8);
    for (uint32_t i = 0; i < 8; i++) {
        assert_int_equal(frame_seq(f[i]), i);
        dbuf_put(f[i]);
    }
    /* Leave a full queue behind: destroy frees it (teardown checks). */
    for (uint32_t i = 0; i < 20; i++)
        send_one(a, mac_b, 64, i);
    assert_int_equal(simlink_link_stats(l)->overflow, 24);
    assert_true(mem_in_use(&mem) == 8);
    simlink_destroy(l);
}

static void test_runt_and_oversize(void **state)
{
    struct simlink *l = simlink_create(&mem, NULL, 64);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    const struct simlink_stats *ls = simlink_link_stats(l);
    struct dbuf *h, *p, *f[MAXF];

    (void)state;
    send_one(a, mac_b, 13, 0);
    send_one(a, mac_b, 14, 1);
    send_one(a, mac_b, MTU + 14, 2);
    send_one(a, mac_b, MTU + 15, 3);
    /* A chain is judged by its total length. */
    h = make_frame(mac_b, mac_a, 10, 4);
    p = mem_alloc(&mem, 3);
    h->next = p;
    assert_int_equal(netdev_tx_burst(a, &h, 1), 1);
    assert_int_equal(ls->runts, 2);
    assert_int_equal(ls->oversize, 1);
    assert_int_equal(netdev_rx_burst(b, f, MAXF), 2);
    assert_int_equal(f[0]->len, 14);
    assert_int_equal(f[1]->len, MTU + 14);
    dbuf_put(f[0]);
    dbuf_put(f[1]);
    assert_int_equal(a->stats.tx_frames, 2);
    assert_int_equal(simlink_fault_stats(l)->offered, 2);
    simlink_destroy(l);
}

static void test_heal(void **state)
{
    struct fault_params fp = {.seed = 9, .loss_ppm = 1000000};
    struct simlink *l = simlink_create(&mem, &fp, 64);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);

    (void)state;
    for (uint32_t i = 0; i < 10; i++)
        send_one(a, mac_b, 64, i);
    assert_int_equal(drain(b), 0);
    assert_int_equal(simlink_fault_stats(l)->dropped, 10);
    simlink_set_faults(l, NULL);
    for (uint32_t i = 0; i < 10; i++)
        send_one(a, mac_b, 64, i);
    assert_int_equal(drain(b), 10);
    simlink_destroy(l);
}

static void test_pcap_capture(void **state)
{
    struct fault_params lossy = {.seed = 1, .loss_ppm = 1000000};
    char path[] = "/tmp/test_simlink_XXXXXX.pcap";
    char errbuf[PCAP_ERRBUF_SIZE];
    static const uint32_t lens[3] = {60, 1514, 100};
    static const uint64_t times[3] = {1500000123ull, 1500000200ull, 2999999999ull};
    struct pcap_pkthdr *ph;
    const u_char *data;
    struct simlink *l;
    struct netdev *a, *b;
    uint8_t want[2048];
    pcap_t *p;
    int fd, n = 0, rc;

    (void)state;
    fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    l = simlink_create(&mem, NULL, 64);
    a = simlink_port(l, mac_a, MTU);
    b = simlink_port(l, mac_b, MTU);
    assert_int_not_equal(simlink_capture(l, "/nonexistent-dir/x.pcap"), 0);
    assert_int_equal(simlink_capture(l, path), 0);
    clock_set_virtual(times[0]);
    send_one(a, mac_b, lens[0], 0);
    clock_set_virtual(times[1]);
    send_one(b, mac_bcast, lens[1], 1);
    /* Captured as sent, before faults: a lost frame is still on file. */
    simlink_set_faults(l, &lossy);
    clock_set_virtual(times[2]);
    send_one(a, mac_b, lens[2], 2);
    assert_int_equal(drain(a), 1);
    assert_int_equal(drain(b), 1);
    simlink_destroy(l);

    p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    assert_non_null(p);
    assert_int_equal(pcap_datalink(p), DLT_EN10MB);
    while ((rc = pcap_next_ex(p, &ph, &data)) == 1) {
        assert_true(n < 3);
        fill_frame(want, n == 1 ? mac_bcast : mac_b, n == 1 ? mac_b : mac_a, lens[n], (uint32_t)n);
        assert_int_equal(ph->len, lens[n]);
        assert_int_equal(ph->caplen, lens[n]);
        assert_memory_equal(data, want, lens[n]);
        assert_int_equal((uint64_t)ph->ts.tv_sec * 1000000000ull + (uint64_t)ph->ts.tv_usec, times[n]);
        n++;
    }
    assert_int_equal(rc, PCAP_ERROR_BREAK);
    assert_int_equal(n, 3);
    pcap_close(p);

    if (system("command -v tcpdump >/dev/null 2>&1") == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "tcpdump -r %s -nn >/dev/null 2>&1", path);
        assert_int_equal(system(cmd), 0);
    } else {
        print_message("tcpdump not installed: skipping the tcpdump read-back\n");
    }
    unlink(path);
}

static void test_fault_wrap(void **state)
{
    struct fault_params fp = {.seed = 7, .loss_ppm = 100000, .dup_ppm = 50000, .delay_ns = 1 * MS};
    struct simlink *l = simlink_create(&mem, NULL, 1024);
    struct netdev *a = simlink_port(l, mac_a, MTU);
    struct netdev *b = simlink_port(l, mac_b, MTU);
    struct netdev *w = fault_wrap(a, &mem, &fp);
    const struct fault_stats *st = fault_wrap_stats(w);
    struct dbuf *f[MAXF], *hdr, *pay;
    uint64_t received = 0;

    (void)state;
    assert_non_null(w);
    assert_non_null(st);
    assert_null(fault_wrap_stats(b));
    assert_memory_equal(w->mac, mac_a, ETH_ALEN);
    assert_int_equal(w->mtu, MTU);
    assert_int_equal(w->offloads, a->offloads);

    /* Delay: handed on only when due, on a later call of the wrapper. */
    hdr = make_frame(mac_b, mac_a, 20, 0);
    pay = mem_alloc(&mem, 100);
    memset(pay->data, 0x5a, 100);
    hdr->next = pay;
    fp.loss_ppm = fp.dup_ppm = 0;
    {
        /* The wrapper's own knobs: a perfect delay line for this part. */
        struct netdev *w0 = fault_wrap(simlink_port(l, mac_c, MTU), &mem, &fp);
        uint8_t want[120];
        assert_int_equal(netdev_tx_burst(w0, &hdr, 1), 1);
        clock_set_virtual(1 * MS - 1);
        assert_int_equal(netdev_rx_burst(w0, f, MAXF), 0);
        assert_int_equal(netdev_rx_burst(b, f, MAXF), 0);
        clock_advance(1);
        assert_int_equal(netdev_rx_burst(w0, f, MAXF), 0);
        assert_int_equal(netdev_rx_burst(b, f, MAXF), 1);
        fill_frame(want, mac_b, mac_a, 20, 0);
        memset(want + 20, 0x5a, 100);
        assert_int_equal(f[0]->len, 120);
        assert_memory_equal(f[0]->data, want, 120);
        dbuf_put(f[0]);
        assert_int_equal(w0->stats.tx_frames, 1);
        netdev_destroy(w0);
    }

    /* Loss + duplication: the same exact accounting as the link's. */
    for (uint32_t i = 0; i < 2000; i += 20) {
        struct dbuf *burst[20];
        for (uint32_t j = 0; j < 20; j++)
            burst[j] = make_frame(mac_b, mac_a, 64, i + j);
        assert_int_equal(netdev_tx_burst(w, burst, 20), 20);
        clock_advance(100 * US);
        assert_int_equal(netdev_rx_burst(w, f, MAXF), 0);
        received += drain(b);
    }
    clock_advance(2 * MS);
    assert_int_equal(netdev_rx_burst(w, f, MAXF), 0);
    received += drain(b);
    assert_int_equal(st->offered, 2000);
    assert_int_equal(st->delivered + st->dropped, st->offered + st->duplicated);
    assert_int_equal(received, st->delivered);
    assert_true(st->dropped > 100 && st->dropped < 300);
    assert_true(st->duplicated > 40 && st->duplicated < 170);
    netdev_destroy(w); /* destroys port a too (a no-op for a link port) */
    simlink_destroy(l);
}

/* An inner device that takes at most `budget` frames per call, recording
 * their seqs: the wrapper must keep the rest, in order, and push back. */
struct stingy {
    struct netdev dev;
    uint16_t budget;
    uint32_t nseen;
    uint32_t seen[64];
};

static uint16_t stingy_tx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct stingy *s = (struct stingy *)dev;
    uint16_t k = MIN(n, s->budget);

    for (uint16_t i = 0; i < k; i++) {
        if (s->nseen < 64)
            s->seen[s->nseen] = frame_seq(frames[i]);
        s->nseen++;
        dbuf_chain_put(frames[i]);
    }
    return k;
}

static uint16_t stingy_rx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    (void)dev;
    (void)frames;
    (void)n;
    return 0;
}

static void stingy_destroy(struct netdev *dev)
{
    (void)dev;
}

static const struct netdev_ops stingy_ops = {
    .rx_burst = stingy_rx,
    .tx_burst = stingy_tx,
    .destroy = stingy_destroy,
};

static void test_fault_wrap_backpressure(void **state)
{
    struct stingy s = {.dev = {.ops = &stingy_ops, .mtu = MTU, .offloads = NETDEV_OFF_TCP_CSUM}, .budget = 1};
    struct fault_params fp = {.seed = 1};
    struct netdev *w;
    struct dbuf *burst[40], *f[MAXF];
    uint16_t taken;

    (void)state;
    memcpy(s.dev.mac, mac_a, ETH_ALEN);
    w = fault_wrap(&s.dev, &mem, &fp);
    assert_non_null(w);
    assert_int_equal(w->offloads, NETDEV_OFF_TCP_CSUM);
    /* One frame per call gets through; the rest waits, in order. */
    for (uint32_t i = 0; i < 10; i++)
        burst[i] = make_frame(mac_b, mac_a, 64, i);
    assert_int_equal(netdev_tx_burst(w, burst, 10), 10);
    assert_int_equal(s.nseen, 1);
    for (uint32_t i = 1; i < 10; i++)
        assert_int_equal(netdev_rx_burst(w, f, MAXF), 0);
    assert_int_equal(s.nseen, 10);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(s.seen[i], i);

    /* A device that takes nothing: the wrapper fills up, then refuses
     * (the caller keeps the refused frames) and counts it. */
    s.budget = 0;
    taken = 0;
    for (uint32_t round = 0; round < 40; round++) {
        uint16_t k;
        for (uint32_t i = 0; i < 40; i++)
            burst[i] = make_frame(mac_b, mac_a, 64, 100 + i);
        k = netdev_tx_burst(w, burst, 40);
        for (uint32_t i = k; i < 40; i++)
            dbuf_put(burst[i]);
        taken += k;
    }
    assert_true(taken > 1000 && taken < 1600);
    assert_int_equal(w->stats.tx_full, 1600 - taken);
    assert_int_equal(fault_wrap_stats(w)->offered, 10 + taken);
    /* Destroy frees what is still queued (teardown checks). */
    netdev_destroy(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_perfect_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_linearized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_and_jitter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_accounting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runt_and_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcap_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_wrap_backpressure, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
