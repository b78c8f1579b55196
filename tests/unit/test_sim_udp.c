/* SPDX-License-Identifier: MIT */
/*
 * test_sim_udp.c: two inetstack instances joined by a simlink, in virtual
 * time: ARP (retries under loss, give-up, expiry), ICMP echo, UDP
 * datagrams counted exactly against the faults the link injected, and a
 * receiver that falls behind (its queue fills; each datagram dropped for it
 * is counted in udp_drop_queue_full, the counter demi-stat shows), and a
 * UDP echo over IPv6 between the two link-local addresses, resolved by ND.
 *
 * Deterministic: every run is a function of its seed. SIM_SEED=N reruns one
 * seed; a failing test prints the seed it used.
 */
#include "core/clock.h"
#include "core/limits.h"
#include "dev/simlink.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEC 1000000000ull
#define MS 1000000ull

struct sim {
    struct mem mem;
    struct simlink *link;
    struct inet_stack a, b;
    uint64_t seed;
};

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};

static uint32_t ip_of(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a.s_addr;
}

static uint64_t test_seed(uint64_t dflt)
{
    const char *e = getenv("SIM_SEED");
    return e ? strtoull(e, NULL, 0) : dflt;
}

static void sim_start(struct sim *s, const struct fault_params *f)
{
    struct inet_params p;
    struct netdev *pa, *pb;

    inet_params_default(&p);

    memset(s, 0, sizeof(*s));
    s->seed = f->seed;
    clock_set_virtual(SEC);
    assert_int_equal(mem_init(&s->mem, 16384, 8, 0), 0);
    s->link = simlink_create(&s->mem, f, 4096);
    assert_non_null(s->link);
    pa = simlink_port(s->link, mac_a, 1500);
    pb = simlink_port(s->link, mac_b, 1500);
    p.arp_retries = 3;
    p.arp_timeout_ns = 100 * MS;
    p.arp_ttl_ns = 15 * SEC;
    p.ip = ip_of("10.0.0.1");
    assert_int_equal(inet_stack_init(&s->a, pa, &s->mem, &p), 0);
    p.ip = ip_of("10.0.0.2");
    assert_int_equal(inet_stack_init(&s->b, pb, &s->mem, &p), 0);
}

static void sim_stop(struct sim *s)
{
    inet_stack_fini(&s->a);
    inet_stack_fini(&s->b);
    simlink_destroy(s->link);
    /* Every buffer came back: nothing leaked through any drop path. */
    assert_int_equal(mem_in_use(&s->mem), 0);
    mem_fini(&s->mem);
    clock_set_real();
}

/* One round: both stacks poll. When neither had work, jump the virtual clock
 * to the next event (timer or frame delivery) not later than @limit. */
static void sim_step(struct sim *s, uint64_t limit)
{
    int n = inet_stack_poll(&s->a) + inet_stack_poll(&s->b);
    uint64_t next;

    if (n > 0)
        return;
    next = timer_wheel_next(&s->a.timers);
    if (timer_wheel_next(&s->b.timers) < next)
        next = timer_wheel_next(&s->b.timers);
    if (simlink_next_delivery(s->link) < next)
        next = simlink_next_delivery(s->link);
    if (next > limit)
        next = limit;
    if (next > clock_now_ns())
        clock_advance(next - clock_now_ns());
    else
        clock_advance(1000); /* a timer due within this tick */
}

/* Run until virtual time @until. */
static void sim_run(struct sim *s, uint64_t until)
{
    while (clock_now_ns() < until)
        sim_step(s, until);
    inet_stack_poll(&s->a);
    inet_stack_poll(&s->b);
}

/* Datagrams: payload = 8-byte sequence number + pattern. */
static struct dbuf *datagram(struct mem *m, uint64_t seq, uint32_t len)
{
    struct dbuf *d = mem_alloc(m, len);
    assert_non_null(d);
    memcpy(d->data, &seq, 8);
    for (uint32_t i = 8; i < len; i++)
        d->data[i] = (uint8_t)(seq * 7 + i);
    return d;
}

static uint64_t check_datagram(const struct dbuf *d)
{
    uint64_t seq;
    assert_true(d->len >= 8);
    memcpy(&seq, d->data, 8);
    for (uint32_t i = 8; i < d->len; i++)
        if (d->data[i] != (uint8_t)(seq * 7 + i))
            fail_msg("datagram %" PRIu64 " byte %u differs", seq, i);
    return seq;
}

static void bind_udp(struct inet_stack *st, struct udp_sock *u, uint16_t port, uint32_t cap)
{
    assert_int_equal(udp_sock_init(u, cap), 0);
    assert_int_equal(udp_bind(st, u, 0, htons(port)), 0);
}

static void test_arp_resolves_and_delivers(void **state)
{
    struct fault_params f = {.seed = test_seed(1)};
    struct sim s;
    struct udp_sock ua, ub;
    struct dbuf *d;
    (void)state;

    sim_start(&s, &f);
    bind_udp(&s.a, &ua, 1000, 16);
    bind_udp(&s.b, &ub, 2000, 16);
    assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 1, 100), ip_of("10.0.0.2"), htons(2000)), 0);
    sim_run(&s, clock_now_ns() + 10 * MS);
    d = udp_recv(&ub);
    assert_non_null(d);
    assert_int_equal(check_datagram(d), 1);
    assert_int_equal(d->meta32, ip_of("10.0.0.1"));
    assert_int_equal((uint16_t)d->meta64, htons(1000));
    dbuf_put(d);
    assert_int_equal(s.a.stats.arp_tx_request, 1);
    assert_int_equal(s.a.stats.arp_resolved, 1);
    assert_int_equal(s.b.stats.arp_tx_reply, 1);
    /* B learned A from the request: its answer needs no ARP round. */
    assert_non_null(arp_lookup(&s.b, ip_of("10.0.0.1")));
    assert_int_equal(udp_output(&s.b, &ub, datagram(&s.mem, 2, 50), ip_of("10.0.0.1"), htons(1000)), 0);
    sim_run(&s, clock_now_ns() + 10 * MS);
    d = udp_recv(&ua);
    assert_non_null(d);
    assert_int_equal(check_datagram(d), 2);
    dbuf_put(d);
    assert_int_equal(s.b.stats.arp_tx_request, 0);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

static void test_arp_retries_under_loss(void **state)
{
    struct fault_params lossy = {.seed = test_seed(2), .loss_ppm = 1000000};
    struct fault_params clean = {.seed = test_seed(2)};
    struct sim s;
    struct udp_sock ua, ub;
    struct dbuf *d;
    (void)state;

    sim_start(&s, &lossy);
    bind_udp(&s.a, &ua, 1000, 16);
    bind_udp(&s.b, &ub, 2000, 16);
    assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 7, 64), ip_of("10.0.0.2"), htons(2000)), 0);
    /* The first request is lost; the link heals before the retry. */
    sim_run(&s, clock_now_ns() + 50 * MS);
    assert_int_equal(s.a.stats.arp_tx_request, 1);
    simlink_set_faults(s.link, &clean);
    sim_run(&s, clock_now_ns() + 100 * MS);
    assert_int_equal(s.a.stats.arp_tx_request, 2);
    assert_int_equal(s.a.stats.arp_resolved, 1);
    d = udp_recv(&ub);
    assert_non_null(d); /* the packet that waited for ARP went out */
    assert_int_equal(check_datagram(d), 7);
    dbuf_put(d);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

static void test_arp_gives_up(void **state)
{
    struct fault_params lossy = {.seed = test_seed(3), .loss_ppm = 1000000};
    struct sim s;
    struct udp_sock ua;
    (void)state;

    sim_start(&s, &lossy);
    bind_udp(&s.a, &ua, 1000, 16);
    for (int i = 0; i < 3; i++)
        assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, (uint64_t)i, 64), ip_of("10.0.0.2"), htons(2000)), 0);
    sim_run(&s, clock_now_ns() + SEC);
    /* First request + 3 retries, then the waiting packets are dropped. */
    assert_int_equal(s.a.stats.arp_tx_request, 4);
    assert_int_equal(s.a.stats.arp_timeout, 1);
    assert_int_equal(s.a.stats.arp_drop_pending, 3);
    assert_null(arp_lookup(&s.a, ip_of("10.0.0.2")));
    udp_sock_fini(&s.a, &ua);
    sim_stop(&s);
}

static void test_arp_cache_expires(void **state)
{
    struct fault_params f = {.seed = test_seed(4)};
    struct sim s;
    struct udp_sock ua, ub;
    struct dbuf *d;
    (void)state;

    sim_start(&s, &f);
    bind_udp(&s.a, &ua, 1000, 16);
    bind_udp(&s.b, &ub, 2000, 16);
    assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 1, 64), ip_of("10.0.0.2"), htons(2000)), 0);
    sim_run(&s, clock_now_ns() + 10 * MS);
    assert_non_null(arp_lookup(&s.a, ip_of("10.0.0.2")));
    sim_run(&s, clock_now_ns() + 16 * SEC); /* past the 15 s TTL */
    assert_null(arp_lookup(&s.a, ip_of("10.0.0.2")));
    assert_int_equal(s.a.stats.arp_expired, 1);
    assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 2, 64), ip_of("10.0.0.2"), htons(2000)), 0);
    sim_run(&s, clock_now_ns() + 10 * MS);
    assert_int_equal(s.a.stats.arp_tx_request, 2); /* asked again */
    /* In use across its TTL: re-confirmed by unicast, never dropped, and
     * every datagram through. */
    for (int i = 0; i < 40; i++) {
        int got = 0;
        assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 3, 64), ip_of("10.0.0.2"), htons(2000)), 0);
        sim_run(&s, clock_now_ns() + SEC);
        assert_non_null(arp_lookup(&s.a, ip_of("10.0.0.2")));
        while ((d = udp_recv(&ub)) != NULL) {
            dbuf_put(d);
            got++;
        }
        assert_int_equal(got, i == 0 ? 3 : 1);
    }
    assert_int_equal(s.a.stats.arp_expired, 1);
    assert_true(s.a.stats.arp_probe_confirmed >= 2);
    assert_int_equal(s.a.stats.arp_probe_failed, 0);
    assert_int_equal(s.a.stats.arp_tx_request, 2 + s.a.stats.arp_tx_probe);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

struct echo_seen {
    int replies;
    uint16_t last_seq;
    uint32_t last_len;
};

static void on_echo(struct inet_stack *st, uint32_t src, uint16_t id, uint16_t seq, uint32_t len, void *arg)
{
    struct echo_seen *e = arg;
    (void)st;
    assert_int_equal(src, ip_of("10.0.0.2"));
    assert_int_equal(id, 0x1234);
    e->replies++;
    e->last_seq = seq;
    e->last_len = len;
}

static void test_icmp_ping(void **state)
{
    struct fault_params f = {.seed = test_seed(5), .delay_ns = 5000};
    struct echo_seen seen = {0};
    struct sim s;
    (void)state;

    sim_start(&s, &f);
    s.a.on_echo_reply = on_echo;
    s.a.echo_arg = &seen;
    for (uint16_t seq = 1; seq <= 10; seq++) {
        assert_int_equal(icmp_echo_send(&s.a, ip_of("10.0.0.2"), 0x1234, seq, 56), 0);
        sim_run(&s, clock_now_ns() + 10 * MS);
        assert_int_equal(seen.replies, seq);
        assert_int_equal(seen.last_seq, seq);
        assert_int_equal(seen.last_len, 56);
    }
    assert_int_equal(s.b.stats.icmp_echo_request, 10);
    assert_int_equal(icmp_echo_send(&s.a, ip_of("10.0.0.2"), 1, 1, 1500), EMSGSIZE);
    sim_stop(&s);
}

/* UDP echo: A sends @n datagrams (window of @window in flight), B echoes
 * each back, A checks every byte. */
static void test_udp_echo_100k(void **state)
{
    struct fault_params f = {.seed = test_seed(6), .delay_ns = 2000};
    const uint64_t n = 100000;
    const int window = 32;
    struct sim s;
    struct udp_sock ua, ub;
    uint64_t sent = 0, echoed = 0, got = 0;
    struct dbuf *d;
    (void)state;

    sim_start(&s, &f);
    bind_udp(&s.a, &ua, 1000, 256);
    bind_udp(&s.b, &ub, 7, 256);
    /* A full window would overflow ARP's bounded queue while it resolves:
     * the first datagram goes alone. */
    assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, 0, 8), ip_of("10.0.0.2"), htons(7)), 0);
    sent = 1;
    while (!arp_lookup(&s.a, ip_of("10.0.0.2")))
        sim_step(&s, clock_now_ns() + SEC);
    while (got < n) {
        while (sent < n && sent - got < (uint64_t)window) {
            uint32_t len = 8 + (uint32_t)(sent % 1400);
            assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, sent, len), ip_of("10.0.0.2"), htons(7)), 0);
            sent++;
        }
        sim_step(&s, clock_now_ns() + SEC);
        while ((d = udp_recv(&ub)) != NULL) { /* B: echo in place, zero copy */
            uint32_t src = d->meta32;
            uint16_t sport = (uint16_t)d->meta64;
            assert_int_equal(udp_output(&s.b, &ub, d, src, sport), 0);
            echoed++;
        }
        while ((d = udp_recv(&ua)) != NULL) {
            if (check_datagram(d) != got)
                fail_msg("seed %" PRIu64 ": datagram %" PRIu64 " out of order", s.seed, got);
            got++;
            dbuf_put(d);
        }
        if (clock_now_ns() > 100 * SEC)
            fail_msg("seed %" PRIu64 ": stalled at %" PRIu64 " of %" PRIu64, s.seed, got, n);
    }
    assert_int_equal(echoed, n);
    assert_int_equal(s.a.stats.udp_drop_queue_full + s.b.stats.udp_drop_queue_full, 0);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

static void bind_udp6(struct inet_stack *st, struct udp_sock *u, uint16_t port, uint32_t cap)
{
    static const struct in6_addr any;
    assert_int_equal(udp_sock_init(u, cap), 0);
    udp_sock_set_v6(u, false);
    assert_int_equal(udp_bind6(st, u, &any, htons(port)), 0);
}

/* UDP over IPv6, link-local to link-local (the stacks' IPv6 is passive: no
 * global address, no DAD; ND resolves on demand), echoed by B to the
 * source each datagram carries (udp_src6), byte-exact and in order. */
static void test_udp6_echo_linklocal(void **state)
{
    struct fault_params f = {.seed = test_seed(16), .delay_ns = 2000};
    const uint64_t n = 20000;
    const int window = 32;
    struct in6_addr ll_a, ll_b, src;
    struct sim s;
    struct udp_sock ua, ub;
    uint64_t sent = 0, echoed = 0, got = 0;
    const struct nd6_entry *e;
    struct dbuf *d;
    (void)state;

    sim_start(&s, &f);
    in6_linklocal_from_mac(mac_a, &ll_a);
    in6_linklocal_from_mac(mac_b, &ll_b);
    bind_udp6(&s.a, &ua, 1000, 256);
    bind_udp6(&s.b, &ub, 7, 256);
    /* The first alone: ND queues a few packets at most while it resolves. */
    assert_int_equal(udp_output6(&s.a, &ua, datagram(&s.mem, 0, 8), &ll_b, htons(7)), 0);
    sent = 1;
    while (!(e = nd6_lookup(&s.a, &ll_b)) || e->state < ND6_REACHABLE)
        sim_step(&s, clock_now_ns() + SEC);
    while (got < n) {
        while (sent < n && sent - got < (uint64_t)window) {
            uint32_t len = 8 + (uint32_t)(sent % 1440);
            assert_int_equal(udp_output6(&s.a, &ua, datagram(&s.mem, sent, len), &ll_b, htons(7)), 0);
            sent++;
        }
        sim_step(&s, clock_now_ns() + SEC);
        while ((d = udp_recv(&ub)) != NULL) { /* B: echo in place, zero copy */
            uint16_t sport = (uint16_t)d->meta64;
            assert_true(udp_src6(d, &src));
            assert_memory_equal(&src, &ll_a, 16);
            assert_int_equal(udp_output6(&s.b, &ub, d, &src, sport), 0);
            echoed++;
        }
        while ((d = udp_recv(&ua)) != NULL) {
            assert_true(udp_src6(d, &src));
            assert_memory_equal(&src, &ll_b, 16);
            assert_int_equal((uint16_t)d->meta64, htons(7));
            if (check_datagram(d) != got)
                fail_msg("seed %" PRIu64 ": datagram %" PRIu64 " out of order", s.seed, got);
            got++;
            dbuf_put(d);
        }
        if (clock_now_ns() > 100 * SEC)
            fail_msg("seed %" PRIu64 ": stalled at %" PRIu64 " of %" PRIu64, s.seed, got, n);
    }
    assert_int_equal(echoed, n);
    assert_int_equal(s.a.stats.udp6_rx, n);
    assert_int_equal(s.b.stats.udp6_tx, n);
    assert_int_equal(s.a.stats.udp_drop_csum + s.b.stats.udp_drop_csum, 0);
    assert_int_equal(s.a.stats.udp_drop_queue_full + s.b.stats.udp_drop_queue_full, 0);
    assert_int_equal(s.a.stats.ipv4_tx + s.b.stats.ipv4_tx, 0);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

/* One-way datagrams over a 5 % lossy link: what B receives is exactly what A
 * sent minus what the link dropped, each at most once and intact. Returns a
 * digest of the received sequence for the determinism check. */
static uint64_t lossy_run(uint64_t seed, uint64_t n)
{
    struct fault_params f = {.seed = seed, .loss_ppm = 50000, .delay_ns = 3000};
    struct sim s;
    struct udp_sock ua, ub;
    uint8_t *seen = calloc(n, 1);
    uint64_t received = 0, digest = 1469598103934665603ull;
    const struct fault_stats *fs;
    struct dbuf *d;

    assert_non_null(seen);
    sim_start(&s, &f);
    bind_udp(&s.a, &ua, 1000, 4096);
    bind_udp(&s.b, &ub, 9, 4096);
    /* Static ARP both ways: this run counts UDP, not ARP retries. */
    assert_int_equal(arp_add_static(&s.a, ip_of("10.0.0.2"), mac_b), 0);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(
            udp_output(&s.a, &ua, datagram(&s.mem, i, 64 + (uint32_t)(i % 500)), ip_of("10.0.0.2"), htons(9)), 0);
        if (i % 16 == 15)
            sim_step(&s, clock_now_ns() + SEC);
        while ((d = udp_recv(&ub)) != NULL) {
            uint64_t seq = check_datagram(d);
            assert_true(seq < n);
            if (seen[seq])
                fail_msg("seed %" PRIu64 ": datagram %" PRIu64 " twice", seed, seq);
            seen[seq] = 1;
            received++;
            digest = (digest ^ seq) * 1099511628211ull;
            dbuf_put(d);
        }
    }
    sim_run(&s, clock_now_ns() + 10 * MS);
    while ((d = udp_recv(&ub)) != NULL) {
        uint64_t seq = check_datagram(d);
        assert_false(seen[seq]);
        seen[seq] = 1;
        received++;
        digest = (digest ^ seq) * 1099511628211ull;
        dbuf_put(d);
    }
    fs = simlink_fault_stats(s.link);
    if (getenv("SIM_DEBUG")) {
        inet_stats_print(stdout, &s.a.stats, 1);
        inet_stats_print(stdout, &s.b.stats, 1);
        const struct simlink_stats *ls = simlink_link_stats(s.link);
        printf("link: runts %lu oversize %lu no_dest %lu nobuf %lu overflow %lu offered %lu\n",
               (unsigned long)ls->runts, (unsigned long)ls->oversize, (unsigned long)ls->no_dest,
               (unsigned long)ls->nobuf, (unsigned long)ls->overflow, (unsigned long)fs->offered);
    }
    if (received != n - fs->dropped)
        fail_msg("seed %" PRIu64 ": received %" PRIu64 ", sent %" PRIu64 " - dropped %" PRIu64, seed, received, n,
                 fs->dropped);
    assert_int_equal(s.a.stats.eth_drop_tx_full + s.b.stats.udp_drop_queue_full + s.b.stats.udp_drop_csum, 0);
    /* 5 % of n, within 5 sigma. */
    assert_true(fs->dropped > n / 20 - 5 * 69 && fs->dropped < n / 20 + 5 * 69);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
    free(seen);
    return digest;
}

static void test_udp_5pct_loss_exact_accounting(void **state)
{
    uint64_t seed = test_seed(0x5eed);
    uint64_t d1, d2;
    (void)state;

    printf("udp 5%% loss: seed %" PRIu64 " (rerun with SIM_SEED=%" PRIu64 ")\n", seed, seed);
    d1 = lossy_run(seed, 100000);
    d2 = lossy_run(seed, 100000);
    assert_int_equal(d1, d2); /* same seed, same datagrams */
    assert_int_not_equal(lossy_run(seed + 1, 100000), d1);
}

/* The application is behind: B's socket, with the queue size the inet
 * libOSes give every UDP socket (INET_UDP_RXQ), is never popped while A
 * sends INET_UDP_RXQ + 300 datagrams over a link that loses nothing. The
 * first INET_UDP_RXQ wait in order; each of the 300 others is counted once
 * in udp_drop_queue_full (and the socket's rx_dropped), nowhere else. Once
 * the application catches up, datagrams queue again and the count stays. */
static void test_udp_app_behind_counted(void **state)
{
    struct fault_params f = {.seed = test_seed(7), .delay_ns = 1000};
    const uint64_t extra = 300, n = INET_UDP_RXQ + extra;
    struct sim s;
    struct udp_sock ua, ub;
    const struct fault_stats *fs;
    struct dbuf *d;
    uint64_t v;
    (void)state;

    sim_start(&s, &f);
    bind_udp(&s.a, &ua, 1000, 16);
    bind_udp(&s.b, &ub, 9, INET_UDP_RXQ);
    assert_int_equal(arp_add_static(&s.a, ip_of("10.0.0.2"), mac_b), 0);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, i, 64), ip_of("10.0.0.2"), htons(9)), 0);
        if (i % 16 == 15)
            sim_step(&s, clock_now_ns() + SEC);
    }
    sim_run(&s, clock_now_ns() + 10 * MS);

    fs = simlink_fault_stats(s.link);
    assert_int_equal(fs->dropped, 0);
    assert_int_equal(s.b.stats.udp_rx, n);
    assert_int_equal(ub.rxq_len, INET_UDP_RXQ);
    assert_int_equal(s.b.stats.udp_drop_queue_full, extra);
    assert_int_equal(ub.rx_dropped, extra);
    assert_int_equal(inet_stats_get(&s.b.stats, "udp_drop_queue_full", &v), 0);
    assert_int_equal(v, extra);
    assert_int_equal(s.b.stats.udp_drop_no_port + s.b.stats.udp_drop_csum + s.b.stats.udp_drop_len, 0);

    /* The oldest were kept, in order: arrivals past the limit were dropped. */
    for (uint64_t i = 0; i < INET_UDP_RXQ; i++) {
        d = udp_recv(&ub);
        assert_non_null(d);
        assert_int_equal(check_datagram(d), i);
        dbuf_put(d);
    }
    assert_null(udp_recv(&ub));

    /* Caught up: the next datagrams queue again, the count does not move. */
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(udp_output(&s.a, &ua, datagram(&s.mem, n + i, 64), ip_of("10.0.0.2"), htons(9)), 0);
    sim_run(&s, clock_now_ns() + 10 * MS);
    for (uint64_t i = 0; i < 10; i++) {
        d = udp_recv(&ub);
        assert_non_null(d);
        assert_int_equal(check_datagram(d), n + i);
        dbuf_put(d);
    }
    assert_int_equal(s.b.stats.udp_drop_queue_full, extra);
    udp_sock_fini(&s.a, &ua);
    udp_sock_fini(&s.b, &ub);
    sim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arp_resolves_and_delivers),
        cmocka_unit_test(test_arp_retries_under_loss),
        cmocka_unit_test(test_arp_gives_up),
        cmocka_unit_test(test_arp_cache_expires),
        cmocka_unit_test(test_icmp_ping),
        cmocka_unit_test(test_udp_echo_100k),
        cmocka_unit_test(test_udp6_echo_linklocal),
        cmocka_unit_test(test_udp_5pct_loss_exact_accounting),
        cmocka_unit_test(test_udp_app_behind_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
