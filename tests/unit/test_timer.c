/* SPDX-License-Identifier: MIT */
/*
 * test_timer.c: the hashed timer wheel. Time is a plain variable (virtual);
 * every callback records the `now` of the run that fired it, so each test
 * checks when a timer fired, not only whether.
 */
#include "core/timer.h"

#include "core/clock.h"

#include "core/common.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

/* A timer and what happened to it. */
struct rec {
    struct timer t;
    uint64_t fired_at; /* g_now of the run that fired it last */
    uint64_t prev_now; /* g_prev (the run before) at that moment */
    unsigned fires;
    bool cancelled;
    /* Optional action of the callback. */
    struct timer_wheel *w;
    struct rec *other; /* cancel / re-arm this one */
    uint64_t rearm_at; /* re-arm (self or other) here; 0: don't */
    uint64_t period;   /* periodic: re-arm self at expires + period ... */
    unsigned limit;    /* ... until it has fired this many times */
};

static uint64_t g_now, g_prev;
static struct rec *g_order[64]; /* firing order */
static unsigned g_nfired;

static void record(struct timer *t, void *arg)
{
    struct rec *r = arg;

    assert_ptr_equal(t, &r->t);
    assert_false(timer_armed(t)); /* unlinked before the callback */
    r->fires++;
    r->fired_at = g_now;
    r->prev_now = g_prev;
    if (g_nfired < ARRAY_SIZE(g_order))
        g_order[g_nfired] = r;
    g_nfired++;
}

static void rec_init(struct rec *r, timer_fn fn)
{
    memset(r, 0, sizeof(*r));
    timer_init(&r->t, fn, r);
}

/* Runs the wheel at @now, remembering the previous `now` for lateness. */
static int run(struct timer_wheel *w, uint64_t now)
{
    g_prev = g_now;
    g_now = now;
    return timer_wheel_run(w, now);
}

static void reset(uint64_t now)
{
    g_now = g_prev = now;
    g_nfired = 0;
}

/* splitmix64: small, seeded, good enough to scatter expiries. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static void test_init_rejects_bad_params(void **state)
{
    static const uint32_t bad[] = {0, 3, 6, 100, 1000, 0x80000001u, 0xffffffffu};
    static const uint32_t good[] = {1, 2, 64, 4096};
    struct timer_wheel w;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(timer_wheel_init(&w, bad[i], 1000, 0), EINVAL);
    assert_int_equal(timer_wheel_init(&w, 64, 0, 0), EINVAL);
    timer_wheel_fini(&w); /* harmless after a failed init */
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        assert_int_equal(timer_wheel_init(&w, good[i], 1000, 12345), 0);
        assert_int_equal(w.nslots, good[i]);
        assert_int_equal(w.armed, 0);
        assert_true(w.now_tick == 12);
        timer_wheel_fini(&w);
    }
}

/*
 * 100k (or @n) timers with random expiries over 5+ revolutions, armed up front
 * and while time runs, some re-armed or cancelled on the way; the wheel is run
 * in random steps, mostly short, sometimes past a revolution. Each timer must
 * fire exactly once (none if cancelled), never early, at most a tick plus a
 * step late (the contract), in fact at the first run reaching its expiry.
 */
static void random_run(uint32_t nslots, uint64_t tick, size_t n, uint64_t seed)
{
    /* 5 revolutions; many more on tiny wheels, so timers stay pending a while. */
    const uint64_t span = 5 * (uint64_t)MAX(nslots, 64) * tick;
    struct timer_wheel w;
    struct rec *r = calloc(n, sizeof(*r));
    size_t next_arm = 0, ncancel = 0;
    uint32_t expect_armed = 0;
    uint64_t now = 1000003; /* not on a tick boundary */
    unsigned steps = 0;

    assert_non_null(r);
    rng_state = seed;
    reset(now);
    assert_int_equal(timer_wheel_init(&w, nslots, tick, now), 0);
    for (size_t i = 0; i < n; i++)
        rec_init(&r[i], record);

    /* Expiries strictly after `now`: then "fired at the first run reaching
     * it" means exactly prev_now < expires <= fired_at. */
    for (; next_arm < n / 2; next_arm++, expect_armed++)
        timer_arm(&w, &r[next_arm].t, now + 1 + rnd_below(span));

    while (w.armed > 0 || next_arm < n) {
        uint64_t pick = rnd_below(100), step;
        unsigned before = g_nfired;
        int fired;

        if (pick < 96)
            step = rnd_below(2 * tick + 1); /* often 0 or within a tick */
        else if (pick < 99)
            step = rnd_below(nslots * tick / 4 + 1);
        else
            step = rnd_below(3 * (uint64_t)nslots * tick); /* past a revolution */
        now += step;
        fired = run(&w, now);
        assert_int_equal(fired, g_nfired - before);
        assert_true(w.now_tick == now / tick); /* next run starts from here */
        expect_armed -= (uint32_t)fired;

        for (size_t k = rnd_below(n / 2000 + 2); k > 0 && next_arm < n; k--, next_arm++, expect_armed++)
            timer_arm(&w, &r[next_arm].t, now + 1 + rnd_below(span));
        for (size_t k = rnd_below(n / 20000 + 2); k > 0 && next_arm > 0; k--) {
            /* Among the latest armed, most likely still pending. */
            struct rec *x = &r[next_arm - 1 - rnd_below(MIN(next_arm, n / 8))];

            if (!timer_armed(&x->t))
                continue;
            if (rnd_below(4) == 0) {
                timer_cancel(&w, &x->t);
                x->cancelled = true;
                ncancel++;
                expect_armed--;
            } else {
                timer_arm(&w, &x->t, now + 1 + rnd_below(span)); /* moves it */
            }
        }
        assert_int_equal(w.armed, expect_armed);

        if (++steps % 256 == 0) { /* next() against brute force */
            uint64_t min = UINT64_MAX;

            for (size_t i = 0; i < next_arm; i++)
                if (timer_armed(&r[i].t))
                    min = MIN(min, r[i].t.expires_ns);
            assert_true(timer_wheel_next(&w) == min);
        }
    }

    assert_true(timer_wheel_next(&w) == UINT64_MAX);
    assert_true(ncancel > 0);
    for (size_t i = 0; i < n; i++) {
        const struct rec *x = &r[i];
        uint64_t e = x->t.expires_ns;

        if (x->cancelled) {
            assert_int_equal(x->fires, 0);
            continue;
        }
        assert_int_equal(x->fires, 1);
        assert_true(e <= x->fired_at);                                     /* never early */
        assert_true(x->fired_at < e + tick + (x->fired_at - x->prev_now)); /* contract */
        assert_true(x->prev_now < e);                                      /* first run reaching it */
    }
    timer_wheel_fini(&w);
    free(r);
}

static void test_random_100k(void **state)
{
    (void)state;
    random_run(256, 1000, 100000, 0x5eed0001);
}

/* A power-of-two tick (the stack's) takes the shift path instead of the
 * division: same contract. */
static void test_random_pow2_tick(void **state)
{
    (void)state;
    random_run(4096, 8192, 100000, 0x5eed0005);
    random_run(16, 1024, 5000, 0x5eed0006);
}

static void test_random_small_wheels(void **state)
{
    (void)state;
    random_run(4, 1000, 5000, 0x5eed0002);
    random_run(1, 777, 2000, 0x5eed0003); /* one slot: everything is a later round */
    random_run(64, 1, 5000, 0x5eed0004);  /* 1 ns tick */
}

/* One run over many ticks fires in tick order, arm order within a tick. */
static void test_order_across_slots(void **state)
{
    struct timer_wheel w;
    struct rec r[10];
    /* Armed out of tick order. Within a tick, arm order wins over expiry:
     * r[3] before r[6] (tick 11), r[2] before r[8], r[9] (tick 15). */
    static const uint64_t exp[10] = {170, 120, 150, 110, 190, 130, 101, 160, 145, 149};
    static const int want[10] = {3, 6, 1, 5, 2, 8, 9, 7, 0, 4};

    (void)state;
    reset(100);
    assert_int_equal(timer_wheel_init(&w, 64, 10, 100), 0);
    for (int i = 0; i < 10; i++) {
        rec_init(&r[i], record);
        timer_arm(&w, &r[i].t, exp[i]);
    }
    assert_int_equal(run(&w, 165), 8);
    assert_int_equal(run(&w, 200), 2);
    for (int i = 0; i < 10; i++)
        assert_ptr_equal(g_order[i], &r[want[i]]);
    timer_wheel_fini(&w);
}

/* Past (and exactly-now) expiries fire at the next run, even at the same now
 * and whatever the tick; a timer due later within the current tick does not. */
static void test_arm_in_past_fires_next_run(void **state)
{
    struct timer_wheel w;
    struct rec past, zero, exact, later;

    (void)state;
    reset(1005);
    assert_int_equal(timer_wheel_init(&w, 8, 10, 1005), 0);
    rec_init(&past, record);
    rec_init(&zero, record);
    rec_init(&exact, record);
    rec_init(&later, record);
    assert_int_equal(run(&w, 1005), 0);
    timer_arm(&w, &past.t, 500); /* long ago: many revolutions back */
    timer_arm(&w, &zero.t, 0);
    timer_arm(&w, &exact.t, 1005);
    timer_arm(&w, &later.t, 1008); /* same tick as now, not yet due */
    assert_int_equal(run(&w, 1005), 3);
    assert_int_equal(past.fires + zero.fires + exact.fires, 3);
    assert_int_equal(later.fires, 0);
    assert_int_equal(run(&w, 1007), 0);
    assert_int_equal(run(&w, 1008), 1);
    assert_int_equal(later.fires, 1);
    assert_int_equal(w.armed, 0);
    timer_wheel_fini(&w);
}

static void test_rearm_moves(void **state)
{
    struct timer_wheel w;
    struct rec a;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 16, 10, 0), 0);
    rec_init(&a, record);
    timer_arm(&w, &a.t, 100);
    timer_arm(&w, &a.t, 500); /* later, other slot and round */
    assert_int_equal(w.armed, 1);
    assert_true(timer_wheel_next(&w) == 500);
    for (uint64_t t = 10; t < 500; t += 10)
        assert_int_equal(run(&w, t), 0);
    assert_int_equal(run(&w, 500), 1);
    assert_true(a.fired_at == 500);
    assert_int_equal(run(&w, 5000), 0);

    timer_arm(&w, &a.t, 9000);
    timer_arm(&w, &a.t, 5050); /* earlier */
    assert_int_equal(run(&w, 5049), 0);
    assert_int_equal(run(&w, 5050), 1);
    assert_int_equal(run(&w, 10000), 0);
    assert_int_equal(a.fires, 2);
    assert_int_equal(w.armed, 0);
    timer_wheel_fini(&w);
}

static void test_cancel(void **state)
{
    struct timer_wheel w;
    struct rec a, b, never, zeroed;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 16, 10, 0), 0);
    rec_init(&a, record);
    rec_init(&b, record);
    rec_init(&never, record);
    memset(&zeroed, 0, sizeof(zeroed)); /* no timer_init at all */

    timer_arm(&w, &a.t, 50);
    timer_arm(&w, &b.t, 50);
    timer_cancel(&w, &a.t);
    assert_false(timer_armed(&a.t));
    assert_int_equal(w.armed, 1);
    assert_int_equal(run(&w, 1000), 1);
    assert_int_equal(a.fires, 0);
    assert_int_equal(b.fires, 1);

    /* Cancelling what is not armed changes nothing. */
    timer_cancel(&w, &a.t);     /* already cancelled */
    timer_cancel(&w, &b.t);     /* fired */
    timer_cancel(&w, &never.t); /* never armed */
    timer_cancel(&w, &zeroed.t);
    assert_int_equal(w.armed, 0);
    assert_true(timer_wheel_next(&w) == UINT64_MAX);

    /* A cancelled timer can be armed again. */
    timer_arm(&w, &a.t, 1010);
    assert_int_equal(run(&w, 1010), 1);
    assert_int_equal(a.fires, 1);
    timer_wheel_fini(&w);
}

static void periodic(struct timer *t, void *arg)
{
    struct rec *r = arg;

    record(t, arg);
    if (r->fires < r->limit)
        timer_arm(r->w, t, t->expires_ns + r->period);
}

/* Driven by next() in virtual time: fires exactly at start + k * period. */
static void test_periodic(void **state)
{
    struct timer_wheel w;
    struct rec p;
    uint64_t next;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 32, 100, 0), 0);
    rec_init(&p, periodic);
    p.w = &w;
    p.period = 1234; /* not a multiple of the tick, > 1 revolution after a few */
    p.limit = 50;
    timer_arm(&w, &p.t, 777);
    for (unsigned k = 0; (next = timer_wheel_next(&w)) != UINT64_MAX; k++) {
        assert_true(next == 777 + k * p.period);
        assert_int_equal(run(&w, next), 1);
        assert_true(p.fired_at == next);
    }
    assert_int_equal(p.fires, 50);

    /* Period shorter than the step: one fire per run, no catch-up spin. */
    rec_init(&p, periodic);
    p.w = &w;
    p.period = 1;
    p.limit = 1000;
    timer_arm(&w, &p.t, g_now + 1);
    assert_int_equal(run(&w, g_now + 100000), 1);
    assert_int_equal(run(&w, g_now), 1);
    assert_int_equal(run(&w, g_now + 5), 1);
    assert_int_equal(p.fires, 3);
    timer_wheel_fini(&w);
}

/* Callback that cancels or re-arms r->other (if rearm_at) and records. */
static void meddle(struct timer *t, void *arg)
{
    struct rec *r = arg;

    record(t, arg);
    if (r->rearm_at)
        timer_arm(r->w, &r->other->t, r->rearm_at);
    else
        timer_cancel(r->w, &r->other->t);
}

/* Due timers of the same run, same slot or not, stop or move when a callback
 * before them cancels or re-arms them. */
static void test_callback_cancels_or_moves_due(void **state)
{
    struct timer_wheel w;
    struct rec a, b, c, d, e;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 16, 10, 0), 0);
    rec_init(&a, meddle);
    rec_init(&b, record);
    rec_init(&c, record);
    rec_init(&d, meddle);
    rec_init(&e, record);
    a.w = d.w = &w;
    a.other = &b; /* a cancels b: same expiry, same slot, after a */
    d.other = &e; /* d moves e: other slot, also due in this run */
    d.rearm_at = 5000;
    timer_arm(&w, &a.t, 50);
    timer_arm(&w, &b.t, 50);
    timer_arm(&w, &c.t, 50);
    timer_arm(&w, &d.t, 60);
    timer_arm(&w, &e.t, 70);
    assert_int_equal(run(&w, 100), 3); /* a, c, d */
    assert_int_equal(a.fires + c.fires + d.fires, 3);
    assert_int_equal(b.fires, 0);
    assert_int_equal(e.fires, 0);
    assert_false(timer_armed(&b.t));
    assert_true(timer_armed(&e.t));
    assert_int_equal(w.armed, 1);
    assert_true(timer_wheel_next(&w) == 5000);
    assert_int_equal(run(&w, 4999), 0);
    assert_int_equal(run(&w, 5000), 1);
    assert_int_equal(e.fires, 1);

    /* A callback cancelling itself (already unlinked) is harmless. */
    rec_init(&a, meddle);
    a.w = &w;
    a.other = &a;
    timer_arm(&w, &a.t, 6000);
    assert_int_equal(run(&w, 6000), 1);
    assert_int_equal(w.armed, 0);
    timer_wheel_fini(&w);
}

/* A timer armed by a callback, due at once (now or in the past), never fires
 * in the same run: it fires on the next run, even one at the same now. */
static void test_callback_arms_due_now(void **state)
{
    struct timer_wheel w;
    struct rec a, b, c;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 16, 10, 0), 0);
    rec_init(&a, meddle);
    rec_init(&b, meddle);
    rec_init(&c, record);
    a.w = b.w = &w;
    a.other = &b;
    a.rearm_at = 1000; /* b due now */
    b.other = &c;
    b.rearm_at = 3; /* c long overdue */
    timer_arm(&w, &a.t, 995);
    assert_int_equal(run(&w, 1000), 1);
    assert_int_equal(b.fires, 0);
    assert_true(timer_wheel_next(&w) == 1000);
    assert_int_equal(run(&w, 1000), 1);
    assert_int_equal(b.fires, 1);
    assert_int_equal(c.fires, 0);
    assert_int_equal(run(&w, 1001), 1);
    assert_int_equal(c.fires, 1);
    assert_true(c.fired_at == 1001);
    assert_int_equal(w.armed, 0);
    timer_wheel_fini(&w);
}

/*
 * The clock jumps 10 revolutions at once: everything due fires, later timers
 * stay (and fire on time after). A jump of 2^50 ticks must cost one
 * revolution, not 2^50 ticks (a tick-by-tick walk would never finish).
 */
static void test_big_jump(void **state)
{
    enum { N = 2000, NSLOTS = 64, TICK = 10 };
    const uint64_t rev = NSLOTS * TICK;
    struct timer_wheel w;
    struct rec *r = calloc(N, sizeof(*r));
    uint64_t now = 5, jump = now + 10 * rev;
    unsigned due = 0;

    (void)state;
    assert_non_null(r);
    rng_state = 42;
    reset(now);
    assert_int_equal(timer_wheel_init(&w, NSLOTS, TICK, now), 0);
    for (int i = 0; i < N; i++) {
        rec_init(&r[i], record);
        timer_arm(&w, &r[i].t, now + 1 + rnd_below(12 * rev));
        due += r[i].t.expires_ns <= jump;
    }
    assert_true(due > N / 2 && due < N);
    assert_int_equal(run(&w, jump), due);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].fires, r[i].t.expires_ns <= jump);
        assert_int_equal(timer_armed(&r[i].t), r[i].t.expires_ns > jump);
    }
    assert_int_equal(w.armed, N - due);
    /* The rest, one tick at a time, each exactly at its first run past it. */
    while (w.armed > 0)
        run(&w, g_now + TICK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].fires, 1);
        assert_true(r[i].t.expires_ns <= r[i].fired_at);
        assert_true(r[i].prev_now < r[i].t.expires_ns);
    }

    /* Huge jump, with one timer far in the future surviving it. */
    for (int i = 0; i < 100; i++)
        timer_arm(&w, &r[i].t, g_now + 1 + rnd_below(3 * rev));
    timer_arm(&w, &r[100].t, (g_now + (1ull << 50) * TICK) + 1);
    assert_int_equal(run(&w, g_now + (1ull << 50) * TICK), 100);
    assert_int_equal(w.armed, 1);
    assert_int_equal(run(&w, g_now + 1), 1);
    assert_int_equal(r[100].fires, 2);
    timer_wheel_fini(&w);
    free(r);
}

static void test_next(void **state)
{
    struct timer_wheel w;
    struct rec a, b, c, d;

    (void)state;
    reset(1000);
    assert_int_equal(timer_wheel_init(&w, 8, 10, 1000), 0);
    assert_true(timer_wheel_next(&w) == UINT64_MAX);
    rec_init(&a, record);
    rec_init(&b, record);
    rec_init(&c, record);
    rec_init(&d, record);

    timer_arm(&w, &a.t, 1500); /* several revolutions ahead (80 ns each) */
    assert_true(timer_wheel_next(&w) == 1500);
    timer_arm(&w, &b.t, 1090); /* earlier than a */
    timer_arm(&w, &c.t, 1234);
    assert_true(timer_wheel_next(&w) == 1090);
    timer_cancel(&w, &b.t);
    assert_true(timer_wheel_next(&w) == 1234);
    timer_arm(&w, &c.t, 1300); /* re-armed later */
    assert_true(timer_wheel_next(&w) == 1300);
    timer_arm(&w, &d.t, 700); /* in the past: reported as is */
    assert_true(timer_wheel_next(&w) == 700);
    assert_int_equal(run(&w, 1000), 1);
    assert_true(timer_wheel_next(&w) == 1300);
    assert_int_equal(run(&w, 1300), 1); /* run(next) fires it */
    assert_true(timer_wheel_next(&w) == 1500);
    assert_int_equal(run(&w, 1499), 0);
    assert_true(timer_wheel_next(&w) == 1500);
    assert_int_equal(run(&w, 1500), 1);
    assert_true(timer_wheel_next(&w) == UINT64_MAX);
    timer_wheel_fini(&w);
}

/* armed counts linked timers: re-arm does not count twice, fire and cancel
 * uncount; fini unlinks leftovers, which may then go to another wheel. */
static void test_armed_count_and_fini(void **state)
{
    struct timer_wheel w, w2;
    struct rec r[5];

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 4, 10, 0), 0);
    for (int i = 0; i < 5; i++) {
        rec_init(&r[i], record);
        timer_arm(&w, &r[i].t, 100 * (uint64_t)(i + 1));
        assert_int_equal(w.armed, i + 1);
    }
    timer_arm(&w, &r[0].t, 150);
    assert_int_equal(w.armed, 5);
    timer_cancel(&w, &r[1].t);
    timer_cancel(&w, &r[1].t);
    assert_int_equal(w.armed, 4);
    assert_int_equal(run(&w, 300), 2); /* r[0] at 150, r[2] at 300 */
    assert_int_equal(w.armed, 2);

    timer_wheel_fini(&w);
    assert_null(w.slots);
    assert_false(timer_armed(&r[3].t));
    assert_false(timer_armed(&r[4].t));
    timer_cancel(&w, &r[3].t); /* safe on a finished wheel */

    assert_int_equal(timer_wheel_init(&w2, 4, 10, 300), 0);
    timer_arm(&w2, &r[3].t, 400);
    assert_int_equal(run(&w2, 400), 1);
    assert_int_equal(r[3].fires, 1);
    timer_wheel_fini(&w2);
}

/* A clock read that goes backwards fires only what is due at that time,
 * undoes no processed tick and loses no timer. */
static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The runtime's clock (the calibrated TSC where invariant) never goes back
 * and keeps to CLOCK_MONOTONIC: within 100 us after 20 ms. */
static void test_real_clock_tracks_monotonic(void **state)
{
    uint64_t prev, start, m0, c0;

    (void)state;
    clock_init(true);
    if (!clock_uses_tsc())
        printf("# clock: no invariant TSC here: checking clock_gettime\n");
    prev = clock_real_ns();
    start = mono_ns();
    while (mono_ns() - start < 20000000ull) {
        uint64_t t = clock_real_ns();
        assert_true(t >= prev);
        prev = t;
    }
    m0 = mono_ns();
    c0 = clock_real_ns();
    assert_true(c0 + 100000 > m0 && m0 + 100000 > c0);
}

static void test_clock_backwards(void **state)
{
    struct timer_wheel w;
    struct rec a, b, c;

    (void)state;
    reset(0);
    assert_int_equal(timer_wheel_init(&w, 8, 10, 0), 0);
    rec_init(&a, record);
    rec_init(&b, record);
    rec_init(&c, record);
    assert_int_equal(run(&w, 1000), 0);
    timer_arm(&w, &a.t, 990);
    timer_arm(&w, &b.t, 1020);
    timer_arm(&w, &c.t, 400);
    assert_int_equal(run(&w, 500), 1); /* c only: a is not due at 500 */
    assert_int_equal(c.fires, 1);
    assert_int_equal(run(&w, 1000), 1);
    assert_int_equal(a.fires, 1);
    assert_int_equal(run(&w, 1015), 0);
    assert_int_equal(run(&w, 1020), 1);
    assert_int_equal(b.fires, 1);
    timer_wheel_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_params),
        cmocka_unit_test(test_random_100k),
        cmocka_unit_test(test_random_pow2_tick),
        cmocka_unit_test(test_random_small_wheels),
        cmocka_unit_test(test_order_across_slots),
        cmocka_unit_test(test_arm_in_past_fires_next_run),
        cmocka_unit_test(test_rearm_moves),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_callback_cancels_or_moves_due),
        cmocka_unit_test(test_callback_arms_due_now),
        cmocka_unit_test(test_big_jump),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_armed_count_and_fini),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_real_clock_tracks_monotonic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
