/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_timer.c: the lazy retransmission and delayed-ACK timers of
 * tcp_timer.c, two stacks over a simlink in virtual time:
 *
 *   - a thousand request/response exchanges cost the timer wheel a bounded
 *     number of operations, not several per request;
 *   - an RTO pushed later by an ACK (the wheel entry left earlier) still
 *     fires at exactly the ACK's time plus the RTO, and backs off as before;
 *   - a delayed ACK armed behind a stale entry (left by an ACK that went
 *     out with data) still goes exactly the delayed-ACK time after the
 *     segment it acknowledges;
 *   - tearing a connection down leaves nothing of it in the wheel, stale
 *     entries included (ASan would see a freed pcb fire);
 *   - the wheel alone: a due time pushed later at every step, the entry
 *     left early, polled every 100 ns, still fires at the first poll at or
 *     after it.
 */
#include "tcp_sim.h"

#include "net/proto.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define DELACK (100 * US)

struct ep {
    struct tcp_pcb *pcb;
    uint64_t got; /* bytes received */
};

static void sim_start(struct tcp_sim *s, const struct tcp_params *tp, uint64_t delay_ns)
{
    struct fault_params f = {.seed = 1, .delay_ns = delay_ns};
    struct inet_params p;

    inet_params_default(&p);
    p.tcp = *tp;
    p.tcp.isn_key_seed = 7;
    tcp_sim_start(s, &f, &p, 1500, NULL, NULL);
}

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    (void)pcb;
    (void)ev; /* the tests read their ends themselves */
}

static void ep_drain(struct ep *e)
{
    struct dbuf *d;

    while ((d = tcp_recv(e->pcb)) != NULL) {
        e->got += d->len;
        dbuf_put(d);
    }
}

static void ep_send(struct tcp_sim *s, struct ep *e, uint32_t len)
{
    struct dbuf *d = mem_alloc(&s->mem, len);

    assert_non_null(d);
    memset(d->data, 'x', len);
    assert_int_equal(tcp_send(e->pcb, d), 0);
}

static void connect_pair(struct tcp_sim *s, struct ep *ca, struct ep *sb)
{
    tcp_sim_connect(s, 7000, ep_upcall, ca, sb, &ca->pcb, &sb->pcb);
}

/* Step until @e has @want bytes (bounded). */
static void wait_bytes(struct tcp_sim *s, struct ep *e, uint64_t want)
{
    for (int i = 0; e->got < want; i++) {
        assert_true(i < 100000);
        tcp_sim_step(s);
        ep_drain(e);
    }
}

static struct tcp_params params(void)
{
    struct tcp_params tp;

    tcp_params_default(&tp);
    tp.nodelay = true;
    tp.delack_ns = DELACK;
    return tp;
}

/* Request/response on one connection: A sends 64 bytes, B answers 64 bytes
 * as soon as it has them, 1000 times. Each request used to arm and cancel
 * both ends' retransmission and delayed-ACK timers (4 timer_arm per
 * exchange). Lazily, a timer's entry goes into the wheel at most about once
 * per RTO or delayed-ACK time, both made longer here than the whole run:
 * a handful of operations for the thousand exchanges. */
static void test_reqresp_wheel_ops_bounded(void **state)
{
    struct tcp_params tp = params();
    struct tcp_sim s;
    struct ep ca = {0}, sb = {0};
    uint64_t arms0, arms, t0;
    (void)state;

    tp.delack_ns = 50 * MS;
    tp.rto_min_ns = tp.rto_initial_ns = 50 * MS;
    sim_start(&s, &tp, 1 * US);
    connect_pair(&s, &ca, &sb);
    arms0 = s.a.timers.arms + s.b.timers.arms;
    t0 = clock_now_ns();
    for (int i = 1; i <= 1000; i++) {
        ep_send(&s, &ca, 64);
        wait_bytes(&s, &sb, 64ull * i);
        ep_send(&s, &sb, 64);
        wait_bytes(&s, &ca, 64ull * i);
    }
    arms = s.a.timers.arms + s.b.timers.arms - arms0;
    print_message("1000 exchanges in %" PRIu64 " us of virtual time: %" PRIu64 " timer_arm\n",
                  (uint64_t)((clock_now_ns() - t0) / US), arms);
    assert_true(clock_now_ns() - t0 < tp.delack_ns); /* the bound below assumes it */
    assert_true(arms <= 8);                          /* 2 timers x 2 ends, at most twice each */
    assert_int_equal(s.a.stats.tcp_rto + s.b.stats.tcp_rto, 0);
    assert_int_equal(s.a.stats.tcp_delack + s.b.stats.tcp_delack, 0);
    tcp_abort(ca.pcb);
    tcp_abort(sb.pcb);
    tcp_sim_stop(&s);
}

/*
 * A sends two segments; the second is lost; B's delayed ACK of the first
 * comes back at t_ack and pushes the RTO to t_ack + RTO, later than the
 * wheel entry armed at the first send, which stays. The entry fires early,
 * re-arms, and the retransmission goes at t_ack + RTO exactly, as when the
 * ACK moved the entry; the next one, unanswered too, exactly twice the RTO
 * after (RFC 6298 5.5).
 */
static void test_rto_exact_after_lazy_rearm(void **state)
{
    struct tcp_params tp = params();
    struct tcp_sim s;
    struct ep ca = {0}, sb = {0};
    uint64_t t_ack, rto, t_rto;
    uint32_t una;
    (void)state;

    tp.quickacks = 0; /* B's ACK of segment 1 is a delayed one */
    tp.rack = false;  /* the RTO, not the tail loss probe before it */

    sim_start(&s, &tp, 10 * US);
    connect_pair(&s, &ca, &sb);
    /* Let the handshake's timers settle. */
    for (int i = 0; i < 100 && clock_now_ns() < 2 * SEC; i++)
        tcp_sim_step(&s);
    una = ca.pcb->snd_una;
    ep_send(&s, &ca, 100);
    for (int i = 0; sb.pcb->rcv_nxt == ca.pcb->snd_una; i++) { /* segment 1 reaches B */
        assert_true(i < 1000);
        tcp_sim_step(&s);
    }
    assert_true(sb.pcb->delack_pending);
    tcp_sim_blackhole(&s, true);
    ep_send(&s, &ca, 100); /* segment 2: lost */
    assert_int_equal(inet_stack_poll(&s.a), 0);
    tcp_sim_blackhole(&s, false);
    for (int i = 0; ca.pcb->snd_una == una; i++) { /* B's delayed ACK of segment 1 */
        assert_true(i < 1000);
        tcp_sim_step(&s);
    }
    t_ack = clock_now_ns();
    rto = ca.pcb->rto_ns;
    assert_int_equal(ca.pcb->snd_una, una + 100);
    assert_true(tcp_rexmt_armed(ca.pcb));
    /* The point of the test: the wheel entry sits before the due time. */
    assert_true(timer_armed(&ca.pcb->t_rexmt));
    assert_true(ca.pcb->t_rexmt.expires_ns < t_ack + rto);
    assert_int_equal(s.a.stats.tcp_rto, 0);

    tcp_sim_blackhole(&s, true); /* the retransmissions are lost too */
    for (int i = 0; s.a.stats.tcp_rto == 0; i++) {
        assert_true(i < 1000);
        tcp_sim_step(&s);
    }
    t_rto = clock_now_ns();
    assert_int_equal(t_rto, t_ack + rto);
    for (int i = 0; s.a.stats.tcp_rto == 1; i++) {
        assert_true(i < 1000);
        tcp_sim_step(&s);
    }
    assert_int_equal(clock_now_ns(), t_rto + 2 * rto);

    tcp_sim_blackhole(&s, false);
    wait_bytes(&s, &sb, 200);
    for (int i = 0; ca.pcb->snd_una != ca.pcb->snd_max; i++) {
        assert_true(i < 10000);
        tcp_sim_step(&s);
    }
    assert_false(tcp_rexmt_armed(ca.pcb));
    tcp_abort(ca.pcb);
    tcp_abort(sb.pcb);
    tcp_sim_stop(&s);
}

/*
 * B's delayed ACK of request 1 is not needed (its answer carries the ACK)
 * but its entry stays in the wheel; request 2 arrives before that entry's
 * time. The bare ACK of request 2 still goes exactly DELACK after request 2
 * arrived, not at the stale entry's time.
 */
static void test_delack_exact_after_stale_entry(void **state)
{
    struct tcp_params tp = params();
    struct tcp_sim s;
    struct ep ca = {0}, sb = {0};
    uint64_t t_req1, t_req2, delacks;
    (void)state;

    sim_start(&s, &tp, 10 * US);
    connect_pair(&s, &ca, &sb);
    /* One exchange first: the first read after the handshake sends a
     * window update (the SYN's window was unscaled), which would take the
     * delayed ACK's place. Then the wheel empties. */
    ep_send(&s, &ca, 64);
    wait_bytes(&s, &sb, 64);
    ep_send(&s, &sb, 64);
    wait_bytes(&s, &ca, 64);
    for (int i = 0; i < 100 && clock_now_ns() < 2 * SEC; i++)
        tcp_sim_step(&s);
    delacks = s.b.stats.tcp_delack;
    ep_send(&s, &ca, 64);
    wait_bytes(&s, &sb, 128);
    t_req1 = clock_now_ns();
    assert_true(sb.pcb->delack_pending);
    ep_send(&s, &sb, 64); /* the answer acknowledges request 1 */
    assert_false(sb.pcb->delack_pending);
    assert_true(timer_armed(&sb.pcb->t_delack)); /* stale, at t_req1 + DELACK */
    wait_bytes(&s, &ca, 128);
    ep_send(&s, &ca, 64); /* request 2 carries the ACK of the answer */
    wait_bytes(&s, &sb, 192);
    t_req2 = clock_now_ns();
    assert_true(t_req2 < t_req1 + DELACK);
    assert_true(sb.pcb->delack_pending);
    assert_true(sb.pcb->t_delack.expires_ns <= t_req1 + DELACK);
    for (int i = 0; s.b.stats.tcp_delack == delacks; i++) {
        assert_true(i < 1000);
        tcp_sim_step(&s);
        assert_true(clock_now_ns() <= t_req2 + DELACK);
    }
    assert_int_equal(clock_now_ns(), t_req2 + DELACK);
    assert_false(sb.pcb->delack_pending);
    tcp_abort(ca.pcb);
    tcp_abort(sb.pcb);
    tcp_sim_stop(&s);
}

/* A connection with stale entries (stopped RTO, sent delayed ACK) torn
 * down: nothing of it is left in the wheel, and running the wheel past
 * every time it had touches nothing freed. */
static void test_teardown_leaves_no_entry(void **state)
{
    struct tcp_params tp = params();
    struct tcp_sim s;
    struct ep ca = {0}, sb = {0};
    (void)state;

    sim_start(&s, &tp, 10 * US);
    connect_pair(&s, &ca, &sb);
    ep_send(&s, &ca, 64);
    wait_bytes(&s, &sb, 64);
    ep_send(&s, &sb, 64);
    wait_bytes(&s, &ca, 64);
    for (int i = 0; ca.pcb->snd_una != ca.pcb->snd_max || sb.pcb->snd_una != sb.pcb->snd_max; i++) {
        assert_true(i < 1000);
        tcp_sim_step(&s);
    }
    assert_false(tcp_rexmt_armed(ca.pcb));
    assert_true(timer_armed(&ca.pcb->t_rexmt)); /* stale */
    tcp_abort(ca.pcb);
    tcp_abort(sb.pcb);
    assert_int_equal(s.a.tcp.npcbs, 0);
    assert_int_equal(s.b.tcp.npcbs, 0);
    assert_int_equal(s.a.timers.armed, 0);
    /* B's pcb went too (the RST arrives later, to nobody). */
    assert_int_equal(s.b.timers.armed, 0);
    clock_advance(10 * SEC);
    inet_stack_poll(&s.a);
    inet_stack_poll(&s.b);
    tcp_sim_stop(&s);
}

/* The wheel side on its own: an owner with a due time that moves later at
 * every step (as an RTO pushed by each ACK) and the wheel entry left early
 * (timer_arm_earlier), polled every 100 ns as a busy stack is, with an
 * unrelated timer far ahead (runs skip the walk below next_lb): the
 * callback sees the due time exactly at the first poll reaching it. */
struct lazy {
    struct timer_wheel *w;
    struct timer t;
    uint64_t due, fired_at;
    unsigned wakeups;
};

static void lazy_fire(struct timer *t, void *arg)
{
    struct lazy *l = arg;
    uint64_t now = clock_now_ns();

    (void)t;
    l->wakeups++;
    if (now < l->due) {
        timer_arm(l->w, &l->t, l->due);
        return;
    }
    l->fired_at = now;
}

static void test_wheel_lazy_due_exact(void **state)
{
    struct timer_wheel w;
    struct timer far;
    struct lazy l = {.w = &w};
    uint64_t start;
    (void)state;

    clock_set_virtual(SEC + 37);
    start = clock_now_ns();
    assert_int_equal(timer_wheel_init(&w, 4096, 8192, start), 0);
    timer_init(&l.t, lazy_fire, &l);
    timer_init(&far, lazy_fire, &l);
    timer_arm(&w, &far, start + 10 * SEC);
    /* Pushed 1 us later every 1 us for 3 ms: the due time ends at
     * start + 3 ms + 200 us. */
    for (uint64_t k = 0; k <= 3000; k++) {
        l.due = start + k * US + 200 * US;
        timer_arm_earlier(&w, &l.t, l.due);
        for (int i = 0; i < 10; i++) {
            clock_advance(100);
            assert_int_equal(timer_wheel_run(&w, clock_now_ns()) > 0 && l.fired_at != 0, 0);
        }
    }
    while (!l.fired_at) {
        assert_true(clock_now_ns() < start + SEC);
        clock_advance(100);
        timer_wheel_run(&w, clock_now_ns());
    }
    /* The first poll at or after the due time: polls are 100 ns apart. */
    assert_true(l.fired_at >= l.due && l.fired_at < l.due + 100);
    assert_true(l.wakeups <= 3000 * US / (200 * US) + 2); /* one per 200 us, not per push */
    assert_true(timer_armed(&far));
    timer_wheel_fini(&w);
    clock_set_real();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reqresp_wheel_ops_bounded),      cmocka_unit_test(test_rto_exact_after_lazy_rearm),
        cmocka_unit_test(test_delack_exact_after_stale_entry), cmocka_unit_test(test_teardown_leaves_no_entry),
        cmocka_unit_test(test_wheel_lazy_due_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
