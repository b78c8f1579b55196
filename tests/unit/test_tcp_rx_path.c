/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_rx_path.c: the receive path's shortcuts. Header prediction
 * (tcp_fastpath.c) must be invisible.
 * Each exchange runs twice in virtual time over a simlink, from the same
 * seed: once with header prediction, once with every segment on the full
 * path (tcp_params.no_header_prediction). Every frame either stack sends is
 * hashed as it leaves; the two runs must send the same frames, byte for
 * byte, in the same order, and deliver the same bytes. The run with
 * prediction must also have taken most segments through it, so a fast path
 * that never fires cannot pass.
 *
 * Exchanges: request/response of 64 B with every option on and delayed
 * ACKs (each segment carries data and acknowledges the last one); bulk
 * both ways under loss, duplication, reordering and corruption with SACK
 * (recovery, out-of-order queues and retransmissions move connections off
 * the fast path and back); a bulk transfer into a slow reader whose window
 * shuts and reopens.
 *
 * Receive batching (tcp_notify): small segments arriving in one burst reach
 * a waiting reader in one read, not one per segment.
 */
#include "core/clock.h"
#include "dev/simlink.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define SEC 1000000000ull
#define MS 1000000ull
#define US 1000ull

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};

/* A port that hashes every frame it sends (FNV-1a over each frame's bytes,
 * and its length), then hands it to the simlink port. */
struct tap {
    struct netdev dev;
    struct netdev *inner;
    uint64_t hash, frames;
};

static uint16_t tap_rx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    return netdev_rx_burst(((struct tap *)dev)->inner, frames, n);
}

static uint16_t tap_tx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct tap *t = (struct tap *)dev;
    uint16_t k = netdev_tx_burst(t->inner, frames, n);

    /* Frames taken are the simlink's now, but not yet freed: it queues them. */
    for (uint16_t i = 0; i < k; i++) {
        uint64_t h = t->hash;
        for (const struct dbuf *d = frames[i]; d; d = d->next)
            for (uint32_t j = 0; j < d->len; j++)
                h = (h ^ d->data[j]) * 0x100000001b3ull;
        t->hash = (h ^ dbuf_chain_len(frames[i])) * 0x100000001b3ull;
        t->frames++;
    }
    return k;
}

static const struct netdev_ops tap_ops = {.rx_burst = tap_rx, .tx_burst = tap_tx};

struct sim {
    struct mem mem;
    struct simlink *link;
    struct tap ta, tb;
    struct inet_stack a, b;
};

/* What a run shows: both directions' frames, and the fast path's share. */
struct outcome {
    uint64_t hash_a, hash_b, frames_a, frames_b;
    uint64_t fast, rx, rexmt;
};

static void sim_start(struct sim *s, const struct fault_params *f, const struct tcp_params *tp)
{
    struct inet_params p;

    memset(s, 0, sizeof(*s));
    clock_set_virtual(SEC);
    assert_int_equal(mem_init(&s->mem, 65536, 256, 0), 0);
    s->link = simlink_create(&s->mem, f, 8192);
    s->ta.inner = simlink_port(s->link, mac_a, 1500);
    s->tb.inner = simlink_port(s->link, mac_b, 1500);
    s->ta.dev = *s->ta.inner;
    s->ta.dev.ops = &tap_ops;
    s->tb.dev = *s->tb.inner;
    s->tb.dev.ops = &tap_ops;
    s->ta.hash = s->tb.hash = 0xcbf29ce484222325ull;
    inet_params_default(&p);
    p.arp_ttl_ns = 3600 * SEC;
    p.tcp = *tp;
    p.tcp.isn_key_seed = f->seed | 1; /* the same sequence numbers both runs */
    p.ip = inet_addr("10.0.0.1");
    assert_int_equal(inet_stack_init(&s->a, &s->ta.dev, &s->mem, &p), 0);
    p.ip = inet_addr("10.0.0.2");
    assert_int_equal(inet_stack_init(&s->b, &s->tb.dev, &s->mem, &p), 0);
    arp_add_static(&s->a, inet_addr("10.0.0.2"), mac_b);
    arp_add_static(&s->b, inet_addr("10.0.0.1"), mac_a);
}

static void sim_stop(struct sim *s, struct outcome *o)
{
    o->hash_a = s->ta.hash;
    o->hash_b = s->tb.hash;
    o->frames_a = s->ta.frames;
    o->frames_b = s->tb.frames;
    o->fast = s->a.stats.tcp_rx_fastpath + s->b.stats.tcp_rx_fastpath;
    o->rx = s->a.stats.tcp_rx + s->b.stats.tcp_rx;
    o->rexmt = s->a.stats.tcp_rexmt + s->b.stats.tcp_rexmt;
    inet_stack_fini(&s->a);
    inet_stack_fini(&s->b);
    assert_int_equal(s->a.tcp.npcbs, 0);
    assert_int_equal(s->b.tcp.npcbs, 0);
    simlink_destroy(s->link);
    assert_int_equal(mem_in_use(&s->mem), 0);
    mem_fini(&s->mem);
    clock_set_real();
}

static void sim_step(struct sim *s)
{
    uint64_t next;

    if (inet_stack_poll(&s->a) + inet_stack_poll(&s->b) > 0)
        return;
    next = MIN(timer_wheel_next(&s->a.timers), timer_wheel_next(&s->b.timers));
    next = MIN(next, simlink_next_delivery(s->link));
    next = MIN(next, clock_now_ns() + SEC);
    clock_advance(next > clock_now_ns() ? next - clock_now_ns() : US);
}

struct ep {
    struct tcp_pcb *pcb;
    uint8_t seed;         /* pattern of what this end sends */
    uint64_t sent, got;   /* bytes */
    uint64_t peer_sum;    /* what it received, summed position-weighted */
    uint32_t read_budget; /* bytes it may read now (UINT32_MAX: all) */
    bool connected, eof;
    bool read_on_event; /* read once per readable event, as a waiting pop */
    unsigned reads;
    uint32_t first_read;
};

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    struct ep *e = pcb->owner;
    struct dbuf *d;

    if (ev & TCP_EV_CONNECTED)
        e->connected = pcb->err == 0;
    if ((ev & TCP_EV_READABLE) && e->read_on_event && (d = tcp_recv(pcb)) != NULL) {
        if (e->reads++ == 0)
            e->first_read = d->len;
        e->got += d->len;
        dbuf_put(d);
    }
}

static uint8_t pat(uint8_t seed, uint64_t off)
{
    return (uint8_t)(seed + off * 7 + (off >> 9));
}

/* Queue up to @n bytes in pieces of at most @chunk. */
static void ep_send(struct ep *e, struct mem *m, uint64_t n, uint32_t chunk)
{
    while (n > 0 && tcp_send_space(e->pcb) > 0) {
        uint32_t k = (uint32_t)MIN((uint64_t)chunk, n);
        struct dbuf *d = mem_alloc(m, k);
        if (!d)
            return;
        for (uint32_t i = 0; i < k; i++)
            d->data[i] = pat(e->seed, e->sent + i);
        assert_int_equal(tcp_send(e->pcb, d), 0);
        e->sent += k;
        n -= k;
    }
}

/* Read what the budget allows, checking every byte against @peer_seed. */
static void ep_read(struct ep *e, uint8_t peer_seed)
{
    struct dbuf *d;

    while (e->read_budget > 0 && (d = tcp_recv(e->pcb)) != NULL) {
        for (uint32_t i = 0; i < d->len; i++)
            assert_int_equal(d->data[i], pat(peer_seed, e->got + i));
        e->got += d->len;
        e->read_budget = e->read_budget == UINT32_MAX ? UINT32_MAX : e->read_budget - MIN(e->read_budget, d->len);
        dbuf_put(d);
    }
    if (tcp_at_eof(e->pcb))
        e->eof = true;
}

static void connect_pair(struct sim *s, struct ep *ca, struct ep *sb)
{
    struct tcp_pcb *l = tcp_pcb_new(&s->b, NULL, NULL);

    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(7000)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    ca->pcb = tcp_pcb_new(&s->a, ca, ep_upcall);
    assert_int_equal(tcp_connect(ca->pcb, inet_addr("10.0.0.2"), htons(7000)), 0);
    while (!(sb->pcb = tcp_accept(l, sb, ep_upcall)) || !ca->connected) {
        sim_step(s);
        assert_true(clock_now_ns() < 100 * SEC);
    }
    tcp_close(l);
}

/* Close both ends in order and let TIME_WAIT pass. */
static void close_pair(struct sim *s, struct ep *ca, struct ep *sb, uint8_t seed_a, uint8_t seed_b)
{
    uint64_t end = clock_now_ns() + 600 * SEC;

    tcp_close(ca->pcb);
    sb->read_budget = UINT32_MAX;
    while (!sb->eof) {
        sim_step(s);
        ep_read(sb, seed_a);
        assert_true(clock_now_ns() < end);
    }
    tcp_close(sb->pcb);
    (void)seed_b;
    while (s->a.tcp.npcbs + s->b.tcp.npcbs > 0) {
        sim_step(s);
        assert_true(clock_now_ns() < end);
    }
}

enum exchange { RPC, BULK_LOSSY, SLOW_READER };

static void run(enum exchange x, bool predict, struct outcome *o)
{
    struct fault_params f = {.seed = 42, .delay_ns = 10 * US};
    struct tcp_params tp;
    struct sim s;
    struct ep ca = {.seed = 1, .read_budget = UINT32_MAX}, sb = {.seed = 2, .read_budget = UINT32_MAX};
    uint64_t end;

    tcp_params_default(&tp); /* SACK, timestamps, window scaling, delayed ACKs */
    tp.no_header_prediction = !predict;
    if (x == BULK_LOSSY) {
        f.loss_ppm = 10000;
        f.dup_ppm = f.corrupt_ppm = 5000;
        f.reorder_ppm = 10000;
        f.jitter_ns = 5 * US;
        f.rate_bps = 1250000000ull;
    }
    if (x == SLOW_READER)
        tp.rcvbuf = 16384;
    sim_start(&s, &f, &tp);
    connect_pair(&s, &ca, &sb);
    end = clock_now_ns() + 1200 * SEC;
    switch (x) {
    case RPC:
        /* 2000 requests of 64 B, each answered with 64 B. */
        for (int i = 0; i < 2000; i++) {
            ep_send(&ca, &s.mem, 64, 64);
            while (sb.got < ca.sent) {
                sim_step(&s);
                ep_read(&sb, ca.seed);
            }
            ep_send(&sb, &s.mem, 64, 64);
            while (ca.got < sb.sent) {
                sim_step(&s);
                ep_read(&ca, sb.seed);
            }
        }
        break;
    case BULK_LOSSY:
        while (ca.got < (2u << 20) || sb.got < (2u << 20)) {
            ep_send(&ca, &s.mem, (2u << 20) - ca.sent, 8192);
            ep_send(&sb, &s.mem, (2u << 20) - sb.sent, 8192);
            sim_step(&s);
            ep_read(&ca, sb.seed);
            ep_read(&sb, ca.seed);
            assert_true(clock_now_ns() < end);
        }
        break;
    case SLOW_READER:
        /* The reader takes 1 KiB per millisecond: the window shuts. */
        while (sb.got < (1u << 20)) {
            uint64_t tick = clock_now_ns() / MS;
            ep_send(&ca, &s.mem, (1u << 20) - ca.sent, 4096);
            sim_step(&s);
            if (clock_now_ns() / MS != tick)
                sb.read_budget = 1024;
            ep_read(&sb, ca.seed);
            assert_true(clock_now_ns() < end);
        }
        break;
    }
    close_pair(&s, &ca, &sb, ca.seed, sb.seed);
    sim_stop(&s, o);
}

static void check_same(enum exchange x, const char *name, unsigned min_fast_pct)
{
    struct outcome on, off;

    run(x, true, &on);
    run(x, false, &off);
    printf("# %s: %" PRIu64 " of %" PRIu64 " segments by header prediction, %" PRIu64 " retransmissions, %" PRIu64
           " + %" PRIu64 " frames\n",
           name, on.fast, on.rx, on.rexmt, on.frames_a, on.frames_b);
    assert_int_equal(off.fast, 0);
    assert_int_equal(on.frames_a, off.frames_a);
    assert_int_equal(on.frames_b, off.frames_b);
    assert_true(on.hash_a == off.hash_a);
    assert_true(on.hash_b == off.hash_b);
    assert_int_equal(on.rexmt, off.rexmt);
    if (on.fast * 100 < on.rx * min_fast_pct)
        fail_msg("%s: only %" PRIu64 " of %" PRIu64 " segments by header prediction (want %u %%)", name, on.fast, on.rx,
                 min_fast_pct);
}

/* Each segment carries 64 B and acknowledges the one before. */
static void test_fastpath_rpc_same_frames(void **state)
{
    (void)state;
    check_same(RPC, "request/response", 90);
}

/* Recovery, SACK, out-of-order and duplicate segments take the full path;
 * the rest must still leave the same frames. */
static void test_fastpath_bulk_lossy_same_frames(void **state)
{
    struct outcome o;

    (void)state;
    check_same(BULK_LOSSY, "bulk under 1 % loss", 10);
    run(BULK_LOSSY, true, &o);
    assert_true(o.rexmt > 0); /* the full path's cases were reached */
}

/* The window shuts and reopens: window updates and probes take the full
 * path, the data between them the fast one. */
static void test_fastpath_slow_reader_same_frames(void **state)
{
    (void)state;
    check_same(SLOW_READER, "slow reader", 10);
}

/* 32 segments of 16 B sent at once arrive in one receive burst: a reader
 * waiting for data is told once, after the burst, and takes all 512 bytes
 * in one read (the receive queue coalesced them into one buffer). Told per
 * segment, it would take the first 16 bytes alone. */
static void test_rx_burst_one_read(void **state)
{
    struct fault_params f = {.seed = 7, .delay_ns = 10 * US};
    struct tcp_params tp;
    struct sim s;
    struct outcome o;
    struct ep ca = {.seed = 1, .read_budget = UINT32_MAX}, sb = {.seed = 2, .read_budget = UINT32_MAX};
    uint64_t frames;

    (void)state;
    tcp_params_default(&tp);
    tp.nodelay = true; /* a segment per send */
    sim_start(&s, &f, &tp);
    connect_pair(&s, &ca, &sb);
    sb.read_on_event = true;
    frames = s.ta.frames;
    for (int i = 0; i < 32; i++)
        ep_send(&ca, &s.mem, 16, 16);
    while (sb.got < 512) {
        sim_step(&s);
        assert_true(clock_now_ns() < 100 * SEC);
    }
    assert_int_equal(s.ta.frames - frames, 32); /* really 32 segments */
    assert_int_equal(sb.reads, 1);
    assert_int_equal(sb.first_read, 512);
    sb.read_on_event = false;
    close_pair(&s, &ca, &sb, ca.seed, sb.seed);
    sim_stop(&s, &o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastpath_rpc_same_frames),
        cmocka_unit_test(test_fastpath_bulk_lossy_same_frames),
        cmocka_unit_test(test_fastpath_slow_reader_same_frames),
        cmocka_unit_test(test_rx_burst_one_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
