/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_cc.c: the congestion control modules (tcp_cc_newreno.c,
 * tcp_cc_cubic.c) driven alone on a zeroed pcb. Time is virtual: each
 * "round trip" sends a window and acknowledges it in MSS-sized ACKs spread
 * evenly over the RTT, which is the ACK clock of a sender that always has
 * data. Sequence numbers start near 2^32 so they wrap along the way.
 */
#include "net/tcp.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MSS 1448u
#define MS 1000000ull
#define SEC 1000000000ull
#define CWND_MAX (1u << 30)

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static void pcb_setup(struct tcp_pcb *p, const struct tcp_cc_ops *cc, uint16_t mss)
{
    memset(p, 0, sizeof(*p));
    p->mss = mss;
    p->cc = cc;
    p->snd_una = p->snd_nxt = p->snd_max = UINT32_MAX - 100000;
    cc->init(p);
}

/* Put @bytes in flight (on top of what is already). */
static void send_bytes(struct tcp_pcb *p, uint32_t bytes)
{
    p->snd_nxt += bytes;
    p->snd_max = p->snd_nxt;
}

/* One round trip from @now: send what cwnd allows beyond the flight, then
 * acknowledge everything in @ack_bytes ACKs spread over (now, now + rtt].
 * Returns now + rtt. */
static uint64_t round_trip(struct tcp_pcb *p, uint64_t now, uint64_t rtt, uint32_t ack_bytes)
{
    uint32_t flight = p->snd_max - p->snd_una;

    if (p->cwnd > flight)
        send_bytes(p, p->cwnd - flight);
    uint32_t win = p->snd_max - p->snd_una;
    uint32_t n = (win + ack_bytes - 1) / ack_bytes;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t acked = min_u32(ack_bytes, p->snd_max - p->snd_una);
        p->snd_una += acked;
        p->cc->ack(p, acked, now + rtt * (i + 1) / n);
    }
    return now + rtt;
}

static double segs(const struct tcp_pcb *p)
{
    return (double)p->cwnd / p->mss;
}

/* W_cubic(t) with C = 0.4, segments. */
static double w_cubic(double w_max, double k, double t)
{
    return 0.4 * (t - k) * (t - k) * (t - k) + w_max;
}

/* ---- tcp_cc_find -------------------------------------------------------- */

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(tcp_cc_find("cubic"), &tcp_cc_cubic);
    assert_ptr_equal(tcp_cc_find("newreno"), &tcp_cc_newreno);
    assert_string_equal(tcp_cc_cubic.name, "cubic");
    assert_string_equal(tcp_cc_newreno.name, "newreno");
    assert_null(tcp_cc_find("reno"));
    assert_null(tcp_cc_find("CUBIC"));
    assert_null(tcp_cc_find("cubic "));
    assert_null(tcp_cc_find(""));
    assert_null(tcp_cc_find(NULL));

    const struct tcp_cc_ops *all[] = {&tcp_cc_cubic, &tcp_cc_newreno};
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(all[i]->init);
        assert_non_null(all[i]->ack);
        assert_non_null(all[i]->enter_recovery);
        assert_non_null(all[i]->exit_recovery);
        assert_non_null(all[i]->timeout);
    }
}

/* ---- Both modules: initial window, slow start, timeout, limits ---------- */

static void check_initial_window(const struct tcp_cc_ops *cc)
{
    struct tcp_pcb p;

    /* RFC 6928: min(10*MSS, max(2*MSS, 14600)). */
    pcb_setup(&p, cc, 1448);
    assert_int_equal(p.cwnd, 14480);
    assert_int_equal(p.ssthresh, UINT32_MAX);
    pcb_setup(&p, cc, 1460);
    assert_int_equal(p.cwnd, 14600);
    pcb_setup(&p, cc, 536);
    assert_int_equal(p.cwnd, 5360);
    pcb_setup(&p, cc, 8960); /* jumbo: 2 segments */
    assert_int_equal(p.cwnd, 17920);
    pcb_setup(&p, cc, 0); /* MSS not known: the 536 default */
    assert_int_equal(p.cwnd, 5360);
}

static void test_initial_window(void **state)
{
    (void)state;
    check_initial_window(&tcp_cc_newreno);
    check_initial_window(&tcp_cc_cubic);
}

static void check_slow_start(const struct tcp_cc_ops *cc)
{
    struct tcp_pcb p;
    uint64_t now = SEC;

    /* An ACK per segment: the window doubles each round trip. */
    pcb_setup(&p, cc, MSS);
    for (unsigned r = 1; r <= 6; r++) {
        now = round_trip(&p, now, 10 * MS, MSS);
        assert_int_equal(p.cwnd, (10u * MSS) << r);
    }

    /* Growth is min(acked, SMSS) per ACK (RFC 5681): one stretch ACK for
     * the whole window earns one segment; delayed ACKs earn 1.5x per RTT. */
    pcb_setup(&p, cc, MSS);
    send_bytes(&p, p.cwnd);
    p.snd_una = p.snd_max;
    cc->ack(&p, 10 * MSS, now);
    assert_int_equal(p.cwnd, 11 * MSS);
    pcb_setup(&p, cc, MSS);
    p.cwnd = 20 * MSS;
    now = round_trip(&p, now, 10 * MS, 2 * MSS);
    assert_int_equal(p.cwnd, 30 * MSS);

    /* Slow start stops at ssthresh exactly. */
    pcb_setup(&p, cc, MSS);
    p.ssthresh = 15 * MSS + 100;
    send_bytes(&p, p.cwnd);
    for (unsigned i = 1; i <= 6; i++) {
        p.snd_una += MSS;
        cc->ack(&p, MSS, now + i * MS);
        assert_int_equal(p.cwnd, i < 6 ? (10 + i) * MSS : 15 * MSS + 100);
    }
}

static void test_slow_start(void **state)
{
    (void)state;
    check_slow_start(&tcp_cc_newreno);
    check_slow_start(&tcp_cc_cubic);
}

static void check_timeout(const struct tcp_cc_ops *cc, uint32_t expect_ssthresh)
{
    struct tcp_pcb p;
    uint64_t now = 5 * SEC;

    pcb_setup(&p, cc, MSS);
    p.cwnd = 100 * MSS;
    send_bytes(&p, 100 * MSS);
    cc->timeout(&p, now);
    assert_int_equal(p.cwnd, MSS); /* loss window */
    assert_int_equal(p.ssthresh, expect_ssthresh);

    /* The same data times out again before anything is acked: ssthresh is
     * kept, not recomputed from the loss window. */
    cc->timeout(&p, now + SEC);
    assert_int_equal(p.cwnd, MSS);
    assert_int_equal(p.ssthresh, expect_ssthresh);

    /* Slow start back to ssthresh: the go-back-N retransmission is acked
     * segment by segment. */
    p.snd_nxt = p.snd_una;
    unsigned acks = 0;
    while (p.cwnd < p.ssthresh && acks < 1000) {
        p.snd_una += MSS;
        cc->ack(&p, MSS, now + 2 * SEC + acks * MS);
        acks++;
    }
    assert_int_equal(p.cwnd, expect_ssthresh);
    assert_true(acks < 100);

    /* Progress was made: a new timeout recomputes ssthresh. */
    p.snd_max = p.snd_una + 60 * MSS;
    p.snd_nxt = p.snd_max;
    cc->timeout(&p, now + 3 * SEC);
    assert_int_equal(p.cwnd, MSS);
    assert_true(p.ssthresh < expect_ssthresh);
    assert_true(p.ssthresh >= 2 * MSS);
}

static void test_timeout(void **state)
{
    (void)state;
    check_timeout(&tcp_cc_newreno, 50 * MSS); /* FlightSize / 2 */
    check_timeout(&tcp_cc_cubic, 70 * MSS);   /* beta_cubic * FlightSize */
}

/* Huge ACKs, huge flights, windows at the cap, time jumps, MSS 0: cwnd
 * stays within [1 byte, 1 GiB] and nothing overflows (UBSan watches). */
static void check_limits(const struct tcp_cc_ops *cc)
{
    struct tcp_pcb p;
    uint64_t now = SEC;

    pcb_setup(&p, cc, MSS);
    p.cwnd = CWND_MAX - 10;
    cc->ack(&p, UINT32_MAX, now);
    assert_int_equal(p.cwnd, CWND_MAX);
    cc->ack(&p, UINT32_MAX, now);
    assert_int_equal(p.cwnd, CWND_MAX);

    /* Congestion avoidance at the cap. */
    p.ssthresh = 1000 * MSS;
    for (unsigned i = 0; i < 1000; i++)
        cc->ack(&p, UINT32_MAX, now + i * SEC * 1000);
    assert_int_equal(p.cwnd, CWND_MAX);
    cc->ack(&p, UINT32_MAX, UINT64_MAX);
    assert_true(p.cwnd <= CWND_MAX);

    /* A flight of nearly 4 GiB. */
    p.snd_max = p.snd_nxt = p.snd_una + UINT32_MAX / 2 + 12345;
    cc->enter_recovery(&p, now);
    assert_true(p.cwnd <= CWND_MAX);
    assert_true(p.ssthresh >= 2 * MSS);
    cc->exit_recovery(&p, now);
    assert_true(p.cwnd <= CWND_MAX && p.cwnd >= MSS);
    cc->ack(&p, UINT32_MAX, now + SEC);
    assert_true(p.cwnd <= CWND_MAX);
    cc->timeout(&p, now);
    assert_int_equal(p.cwnd, MSS);

    /* Odd sequence state: snd_max behind snd_una counts as no flight. */
    pcb_setup(&p, cc, MSS);
    p.cwnd = 40 * MSS;
    p.snd_max = p.snd_nxt = p.snd_una - 5;
    cc->enter_recovery(&p, now);
    assert_int_equal(p.ssthresh, 2 * MSS);

    /* MSS 0 everywhere, zero-byte ACKs. */
    pcb_setup(&p, cc, 0);
    uint32_t cwnd = p.cwnd;
    cc->ack(&p, 0, now);
    assert_int_equal(p.cwnd, cwnd);
    for (unsigned i = 0; i < 100; i++)
        cc->ack(&p, 1000, now + i * MS);
    send_bytes(&p, 20000);
    cc->enter_recovery(&p, now + SEC);
    assert_true(p.cwnd >= 2 * 536);
    cc->exit_recovery(&p, now + SEC);
    for (unsigned i = 0; i < 100; i++)
        cc->ack(&p, 536, now + 2 * SEC + i * MS);
    cc->timeout(&p, now + 3 * SEC);
    assert_int_equal(p.cwnd, 536);

    /* A pcb nobody initialized (cwnd 0) still makes progress. */
    memset(&p, 0, sizeof(p));
    p.mss = MSS;
    cc->ack(&p, MSS, now);
    assert_true(p.cwnd >= MSS);
}

static void test_limits(void **state)
{
    (void)state;
    check_limits(&tcp_cc_newreno);
    check_limits(&tcp_cc_cubic);
}

/* ---- NewReno ------------------------------------------------------------ */

static void test_newreno_avoidance(void **state)
{
    struct tcp_pcb p;
    uint64_t now = SEC;

    (void)state;
    /* One MSS per round trip, with an ACK per segment ... */
    pcb_setup(&p, &tcp_cc_newreno, MSS);
    p.cwnd = p.ssthresh = 50 * MSS;
    for (unsigned r = 1; r <= 20; r++) {
        now = round_trip(&p, now, 10 * MS, MSS);
        assert_int_equal(p.cwnd, (50 + r) * MSS);
    }
    /* ... with delayed ACKs ... */
    for (unsigned r = 1; r <= 20; r++) {
        now = round_trip(&p, now, 10 * MS, 2 * MSS);
        assert_int_equal(p.cwnd, (70 + r) * MSS);
    }
    /* ... and at a large window, where SMSS*SMSS/cwnd would truncate away
     * most of the growth (2000 segments: 1048.4 bytes per ACK). */
    p.cwnd = p.ssthresh = 2000 * MSS;
    for (unsigned r = 1; r <= 5; r++)
        now = round_trip(&p, now, 10 * MS, MSS);
    assert_int_equal(p.cwnd, 2005 * MSS);

    /* At most one MSS per ACK, even for an ACK of several windows. */
    p.cwnd = p.ssthresh = 50 * MSS;
    send_bytes(&p, 200 * MSS);
    p.snd_una = p.snd_max;
    tcp_cc_newreno.ack(&p, 200 * MSS, now);
    assert_int_equal(p.cwnd, 51 * MSS);
    tcp_cc_newreno.ack(&p, MSS, now);
    assert_int_equal(p.cwnd, 51 * MSS);
}

static void test_newreno_recovery(void **state)
{
    struct tcp_pcb p;
    uint64_t now = SEC;

    (void)state;
    pcb_setup(&p, &tcp_cc_newreno, MSS);
    p.cwnd = 40 * MSS;
    p.ssthresh = 1000 * MSS;
    send_bytes(&p, 40 * MSS);

    /* Three dupacks: ssthresh = FlightSize / 2, cwnd = ssthresh (the
     * caller inflates it by 3 MSS, tcp_recovery_enter). */
    tcp_cc_newreno.enter_recovery(&p, now);
    assert_int_equal(p.ssthresh, 20 * MSS);
    assert_int_equal(p.cwnd, 20 * MSS);

    /* Half of FlightSize, not of cwnd: an application-limited sender with
     * little in flight gets a small ssthresh. */
    struct tcp_pcb q;
    pcb_setup(&q, &tcp_cc_newreno, MSS);
    q.cwnd = 100 * MSS;
    send_bytes(&q, 30 * MSS + 2);
    tcp_cc_newreno.enter_recovery(&q, now);
    assert_int_equal(q.ssthresh, 15 * MSS + 1);
    /* Never below 2 MSS. */
    pcb_setup(&q, &tcp_cc_newreno, MSS);
    send_bytes(&q, 3 * MSS);
    tcp_cc_newreno.enter_recovery(&q, now);
    assert_int_equal(q.ssthresh, 2 * MSS);
    assert_int_equal(q.cwnd, 2 * MSS);

    /* Full ACK with new data out (inflated window sent 10 more segments):
     * cwnd deflates to ssthresh. */
    p.snd_una = p.snd_max;
    send_bytes(&p, 25 * MSS);
    tcp_cc_newreno.exit_recovery(&p, now + 10 * MS);
    assert_int_equal(p.cwnd, 20 * MSS);
    assert_int_equal(p.ssthresh, 20 * MSS);

    /* Full ACK with nothing more in flight: FlightSize + MSS, no burst. */
    pcb_setup(&q, &tcp_cc_newreno, MSS);
    q.cwnd = 40 * MSS;
    send_bytes(&q, 40 * MSS);
    tcp_cc_newreno.enter_recovery(&q, now);
    q.snd_una = q.snd_max;
    tcp_cc_newreno.exit_recovery(&q, now + 10 * MS);
    assert_int_equal(q.cwnd, 2 * MSS);
    send_bytes(&q, 3 * MSS);
    tcp_cc_newreno.exit_recovery(&q, now + 10 * MS);
    assert_int_equal(q.cwnd, 4 * MSS);

    /* After recovery: slow start below ssthresh, then linear growth. */
    p.snd_una = p.snd_max; /* the 25 segments above are acked */
    now = round_trip(&p, now + 20 * MS, 10 * MS, MSS);
    assert_int_equal(p.cwnd, 21 * MSS);
    q.snd_una = q.snd_max;
    now = round_trip(&q, now, 10 * MS, MSS);
    assert_int_equal(q.cwnd, 8 * MSS);
}

/* ---- CUBIC -------------------------------------------------------------- */

/* A cubic pcb at @w_max segments, in steady state, that just lost a segment
 * and recovered: enter at @now, exit one RTT later. */
static uint64_t cubic_loss(struct tcp_pcb *p, double w_max_segs, uint64_t now, uint64_t rtt)
{
    uint32_t cwnd = (uint32_t)(w_max_segs * MSS);

    p->cwnd = cwnd;
    p->snd_una = p->snd_max;
    p->snd_nxt = p->snd_max;
    send_bytes(p, cwnd);
    tcp_cc_cubic.enter_recovery(p, now);
    p->snd_una = p->snd_max; /* the full ACK */
    tcp_cc_cubic.exit_recovery(p, now + rtt);
    return now + rtt;
}

static void test_cubic_loss(void **state)
{
    struct tcp_pcb p;
    uint64_t now = 10 * SEC;

    (void)state;
    pcb_setup(&p, &tcp_cc_cubic, MSS);
    p.srtt_ns = 100 * MS;
    now = cubic_loss(&p, 100, now, p.srtt_ns);
    /* Multiplicative decrease by beta_cubic = 0.7. */
    assert_int_equal(p.ssthresh, 70 * MSS);
    assert_int_equal(p.cwnd, 70 * MSS);
    assert_true(fabs(p.cc_state.cubic.w_max - 100) < 1e-9);
    assert_true(fabs(p.cc_state.cubic.w_last_max - 100) < 1e-9);
    assert_int_equal(p.cc_state.cubic.epoch_start_ns, 0);

    /* The first ACK starts the epoch: K = cbrt(100 * 0.3 / 0.4) = 4.217 s. */
    uint64_t epoch = now;
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(p.cc_state.cubic.epoch_start_ns > epoch && p.cc_state.cubic.epoch_start_ns <= epoch + p.srtt_ns);
    epoch = p.cc_state.cubic.epoch_start_ns;
    assert_true(fabs(p.cc_state.cubic.k - cbrt(75.0)) < 1e-9);
    assert_true(fabs(p.cc_state.cubic.k - 4.2172) < 1e-4);
    double k = p.cc_state.cubic.k;

    /* Concave: cwnd tracks W_cubic and flattens out below W_max. */
    double prev = segs(&p), first_rtt_growth = -1, last_growth = 0;
    while (now < epoch + (uint64_t)(k * SEC)) {
        now = round_trip(&p, now, p.srtt_ns, MSS);
        double t = (double)(now - epoch) / SEC;
        assert_true(segs(&p) <= 100.5);
        assert_true(fabs(segs(&p) - w_cubic(100, k, t)) < 2.0);
        if (first_rtt_growth < 0)
            first_rtt_growth = segs(&p) - prev;
        last_growth = segs(&p) - prev;
        assert_true(last_growth >= 0);
        prev = segs(&p);
    }
    /* Back at W_max at t = K, growing very slowly there. */
    assert_true(fabs(segs(&p) - 100) < 1.0);
    assert_true(last_growth < first_rtt_growth / 10);
    /* Not the Reno-friendly estimate: that is still well below. */
    assert_true(p.cc_state.cubic.w_est < 95);

    /* Convex: past K growth accelerates beyond W_max. */
    while (now < epoch + (uint64_t)((k + 4) * SEC))
        now = round_trip(&p, now, p.srtt_ns, MSS);
    double t = (double)(now - epoch) / SEC;
    assert_true(segs(&p) > 120);
    /* On the curve, or above it where the Reno-friendly W_est leads. */
    assert_true(segs(&p) > w_cubic(100, k, t) - 1.0);
    assert_true(segs(&p) < w_cubic(100, k, t + 1.0));
    double g1 = segs(&p);
    now = round_trip(&p, now, p.srtt_ns, MSS);
    double g2 = segs(&p);
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(segs(&p) - g2 > g2 - g1 - 1e-9);
    /* ... but never more than 1.5x per RTT. */
    for (unsigned i = 0; i < 100; i++) {
        double before = segs(&p);
        now = round_trip(&p, now, p.srtt_ns, MSS);
        assert_true(segs(&p) <= 1.5 * before + 1);
    }
}

static void test_cubic_fast_convergence(void **state)
{
    struct tcp_pcb p;
    uint64_t now = 10 * SEC;

    (void)state;
    pcb_setup(&p, &tcp_cc_cubic, MSS);
    p.srtt_ns = 50 * MS;
    now = cubic_loss(&p, 100, now, p.srtt_ns);
    assert_true(fabs(p.cc_state.cubic.w_max - 100) < 1e-9);

    /* The next loss comes at 90 segments, below W_max: bandwidth is being
     * shared, so W_max drops further, to 90 * (1 + 0.7) / 2 = 76.5. */
    now = round_trip(&p, now, p.srtt_ns, MSS);
    now = cubic_loss(&p, 90, now, p.srtt_ns);
    assert_true(fabs(p.cc_state.cubic.w_max - 76.5) < 1e-9);
    assert_true(fabs(p.cc_state.cubic.w_last_max - 90) < 1e-9);
    assert_int_equal(p.ssthresh, 63 * MSS);
    assert_int_equal(p.cwnd, 63 * MSS);
    /* The epoch after it plateaus at 76.5: K = cbrt((76.5 - 63) / 0.4). */
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(fabs(p.cc_state.cubic.k - cbrt(13.5 / 0.4)) < 1e-9);

    /* A loss above the previous W_max: no extra reduction. */
    now = cubic_loss(&p, 110, now, p.srtt_ns);
    assert_true(fabs(p.cc_state.cubic.w_max - 110) < 1e-9);
    assert_int_equal(p.ssthresh, 77 * MSS);

    /* ssthresh follows FlightSize when the sender was application-limited. */
    p.cwnd = 100 * MSS;
    p.snd_una = p.snd_nxt = p.snd_max;
    send_bytes(&p, 40 * MSS);
    tcp_cc_cubic.enter_recovery(&p, now);
    assert_int_equal(p.ssthresh, 28 * MSS);
    assert_true(fabs(p.cc_state.cubic.w_max - 85) < 1e-9); /* 100 < 110: reduced */
}

static void test_cubic_reno_friendly(void **state)
{
    struct tcp_pcb p;
    uint64_t now = 10 * SEC;
    const double alpha = 3 * 0.3 / 1.7; /* 0.529 */

    (void)state;
    /* A short RTT: over 40 RTTs (40 ms) the cubic curve barely moves
     * (W_cubic(0.04) = 70.1), Reno-like AIMD adds alpha per RTT. */
    pcb_setup(&p, &tcp_cc_cubic, MSS);
    p.srtt_ns = 1 * MS;
    now = cubic_loss(&p, 100, now, p.srtt_ns);
    for (unsigned r = 1; r <= 40; r++) {
        now = round_trip(&p, now, p.srtt_ns, MSS);
        double t = (double)(now - p.cc_state.cubic.epoch_start_ns) / SEC;
        assert_true(segs(&p) >= w_cubic(100, p.cc_state.cubic.k, t));
        assert_true(fabs(segs(&p) - (70 + alpha * r)) < 1.0);
    }
    /* At least what standard Reno (halve, then 1 per RTT) would have after
     * the same loss and the same 40 RTTs. */
    assert_true(segs(&p) >= 50 + 40);

    /* Past cwnd_prior (100 segments, at ~57 RTTs) alpha becomes 1. */
    for (unsigned r = 41; r <= 100; r++)
        now = round_trip(&p, now, p.srtt_ns, MSS);
    double crossing = 30 / alpha;           /* RTTs to reach 100 */
    double expect = 100 + (100 - crossing); /* 143.3 */
    assert_true(fabs(segs(&p) - expect) < 2.0);
    double t = (double)(now - p.cc_state.cubic.epoch_start_ns) / SEC;
    assert_true(segs(&p) > w_cubic(100, p.cc_state.cubic.k, t) + 30);

    /* On a long RTT the cubic curve leads instead: after 20 RTTs of 200 ms
     * (4 s, near K) cwnd is close to W_max while W_est is about 80. */
    pcb_setup(&p, &tcp_cc_cubic, MSS);
    p.srtt_ns = 200 * MS;
    now = cubic_loss(&p, 100, now, p.srtt_ns);
    for (unsigned r = 1; r <= 20; r++)
        now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(segs(&p) > 95);
    assert_true(p.cc_state.cubic.w_est < 82);
}

static void test_cubic_timeout_epoch(void **state)
{
    struct tcp_pcb p;
    uint64_t now = 10 * SEC;

    (void)state;
    pcb_setup(&p, &tcp_cc_cubic, MSS);
    p.srtt_ns = 100 * MS;
    now = cubic_loss(&p, 100, now, p.srtt_ns);
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(p.cc_state.cubic.epoch_start_ns != 0);

    /* Timeout at 80 segments: ssthresh = 56 segments, and the next epoch
     * starts on its plateau (RFC 9438 4.8): K = 0, W_max = cwnd_epoch. */
    p.cwnd = 80 * MSS;
    p.snd_una = p.snd_nxt = p.snd_max;
    send_bytes(&p, 80 * MSS);
    tcp_cc_cubic.timeout(&p, now);
    assert_int_equal(p.cwnd, MSS);
    assert_int_equal(p.ssthresh, 56 * MSS);
    assert_int_equal(p.cc_state.cubic.epoch_start_ns, 0);
    p.snd_nxt = p.snd_una;
    p.snd_max = p.snd_una; /* go-back-N: resend from snd_una */
    while (p.cwnd < p.ssthresh) {
        send_bytes(&p, MSS);
        p.snd_una += MSS;
        now += MS;
        tcp_cc_cubic.ack(&p, MSS, now);
    }
    assert_int_equal(p.cwnd, 56 * MSS);
    assert_int_equal(p.cc_state.cubic.epoch_start_ns, 0);
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(p.cc_state.cubic.epoch_start_ns != 0);
    assert_true(p.cc_state.cubic.k == 0);
    assert_true(fabs(p.cc_state.cubic.w_max - 56) < 1e-9);
    /* Then convex growth from there: slow at first, faster later. */
    double early = segs(&p);
    for (unsigned r = 0; r < 10; r++)
        now = round_trip(&p, now, p.srtt_ns, MSS);
    double mid = segs(&p);
    for (unsigned r = 0; r < 10; r++)
        now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(mid > early);
    assert_true(segs(&p) - mid > mid - early);

    /* Recovery ends any epoch: the next ACK starts a fresh one. */
    now = cubic_loss(&p, segs(&p), now, p.srtt_ns);
    assert_int_equal(p.cc_state.cubic.epoch_start_ns, 0);
    now = round_trip(&p, now, p.srtt_ns, MSS);
    assert_true(p.cc_state.cubic.epoch_start_ns > now - p.srtt_ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_initial_window),
        cmocka_unit_test(test_slow_start),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_newreno_avoidance),
        cmocka_unit_test(test_newreno_recovery),
        cmocka_unit_test(test_cubic_loss),
        cmocka_unit_test(test_cubic_fast_convergence),
        cmocka_unit_test(test_cubic_reno_friendly),
        cmocka_unit_test(test_cubic_timeout_epoch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
