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
#include "tcp_sim.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

/* Each stack behind a tap. */
struct sim {
    struct tcp_sim t;
    struct tap ta, tb;
};

/* What a run shows: both directions' frames, and the fast path's share. */
struct outcome {
    uint64_t hash_a, hash_b, frames_a, frames_b;
    uint64_t fast, rx, rexmt;
};

static struct netdev *tap_wrap(struct tcp_sim *t, int side, struct netdev *port, void *arg)
{
    struct sim *s = arg;
    struct tap *tap = side == 0 ? &s->ta : &s->tb;

    (void)t;
    tap->inner = port;
    tap->dev = *port;
    tap->dev.ops = &tap_ops;
    tap->hash = 0xcbf29ce484222325ull;
    return &tap->dev;
}

static void sim_start(struct sim *s, const struct fault_params *f, const struct tcp_params *tp)
{
    struct inet_params p;

    memset(s, 0, sizeof(*s));
    inet_params_default(&p);
    p.arp_ttl_ns = 3600 * SEC;
    p.tcp = *tp;
    tcp_sim_start(&s->t, f, &p, 1500, tap_wrap, s);
}

static void sim_stop(struct sim *s, struct outcome *o)
{
    o->hash_a = s->ta.hash;
    o->hash_b = s->tb.hash;
    o->frames_a = s->ta.frames;
    o->frames_b = s->tb.frames;
    o->fast = s->t.a.stats.tcp_rx_fastpath + s->t.b.stats.tcp_rx_fastpath;
    o->rx = s->t.a.stats.tcp_rx + s->t.b.stats.tcp_rx;
    o->rexmt = s->t.a.stats.tcp_rexmt + s->t.b.stats.tcp_rexmt;
    tcp_sim_stop(&s->t);
}

struct ep {
    struct tcp_pcb *pcb;
    uint8_t seed;         /* pattern of what this end sends */
    uint64_t sent, got;   /* bytes */
    uint32_t read_budget; /* bytes it may read now (UINT32_MAX: all) */
    bool eof;
    bool read_on_event; /* read once per readable event, as a waiting pop */
    unsigned reads;
    uint32_t first_read;
};

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    struct ep *e = pcb->owner;
    struct dbuf *d;

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
    tcp_sim_connect(&s->t, 7000, ep_upcall, ca, sb, &ca->pcb, &sb->pcb);
}

/* Close both ends in order and let TIME_WAIT pass. */
static void close_pair(struct sim *s, struct ep *ca, struct ep *sb, uint8_t seed_a)
{
    uint64_t end = clock_now_ns() + 600 * SEC;

    tcp_close(ca->pcb);
    sb->read_budget = UINT32_MAX;
    while (!sb->eof) {
        tcp_sim_step(&s->t);
        ep_read(sb, seed_a);
        assert_true(clock_now_ns() < end);
    }
    tcp_close(sb->pcb);
    while (s->t.a.tcp.npcbs + s->t.b.tcp.npcbs > 0) {
        tcp_sim_step(&s->t);
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
            ep_send(&ca, &s.t.mem, 64, 64);
            while (sb.got < ca.sent) {
                tcp_sim_step(&s.t);
                ep_read(&sb, ca.seed);
            }
            ep_send(&sb, &s.t.mem, 64, 64);
            while (ca.got < sb.sent) {
                tcp_sim_step(&s.t);
                ep_read(&ca, sb.seed);
            }
        }
        break;
    case BULK_LOSSY:
        while (ca.got < (2u << 20) || sb.got < (2u << 20)) {
            ep_send(&ca, &s.t.mem, (2u << 20) - ca.sent, 8192);
            ep_send(&sb, &s.t.mem, (2u << 20) - sb.sent, 8192);
            tcp_sim_step(&s.t);
            ep_read(&ca, sb.seed);
            ep_read(&sb, ca.seed);
            assert_true(clock_now_ns() < end);
        }
        break;
    case SLOW_READER:
        /* The reader takes 1 KiB per millisecond: the window shuts. */
        while (sb.got < (1u << 20)) {
            uint64_t tick = clock_now_ns() / MS;
            ep_send(&ca, &s.t.mem, (1u << 20) - ca.sent, 4096);
            tcp_sim_step(&s.t);
            if (clock_now_ns() / MS != tick)
                sb.read_budget = 1024;
            ep_read(&sb, ca.seed);
            assert_true(clock_now_ns() < end);
        }
        break;
    }
    close_pair(&s, &ca, &sb, ca.seed);
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
        ep_send(&ca, &s.t.mem, 16, 16);
    while (sb.got < 512) {
        tcp_sim_step(&s.t);
        assert_true(clock_now_ns() < 100 * SEC);
    }
    assert_int_equal(s.ta.frames - frames, 32); /* really 32 segments */
    assert_int_equal(sb.reads, 1);
    assert_int_equal(sb.first_read, 512);
    sb.read_on_event = false;
    close_pair(&s, &ca, &sb, ca.seed);
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
