/* SPDX-License-Identifier: MIT */
/*
 * timer.h: a hashed timer wheel for the stack's background work
 * (retransmission, delayed ACK, ARP retry, cache expiry, TIME_WAIT).
 *
 * Timers are embedded in their owner (no allocation), armed with an absolute
 * expiry in ns on the runtime clock (core/clock.h, virtual in tests) and fired
 * by timer_wheel_run(now). Arm, re-arm and cancel are O(1); running costs
 * O(slots passed + timers in them), at most one revolution of slots however
 * far the clock jumped. A timer is placed in slot ceil(expires/tick) mod
 * nslots and fires at the first run with now >= expires: never early, and
 * not even one tick late (the tick, 1 µs .. 1 ms, chosen by the owner, only
 * trades slot walking against slot scanning). Timers farther than one
 * revolution stay in their slot and are skipped until their round comes.
 * A timer belongs to one wheel at a time. Single-threaded, like the rest of
 * the datapath. Private header.
 */
#ifndef DEMI_CORE_TIMER_H
#define DEMI_CORE_TIMER_H

#include "core/list.h"

#include <stdbool.h>
#include <stdint.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, void *arg);

struct timer {
    struct list_node link; /* in a wheel slot while armed */
    uint64_t expires_ns;
    timer_fn fn;
    void *arg;
};

struct timer_wheel {
    struct list_node *slots;
    uint32_t nslots; /* power of two */
    uint64_t tick_ns;
    int tick_shift;    /* log2(tick_ns) when a power of two (no division), else -1 */
    uint64_t now_tick; /* last tick processed */
    uint32_t armed;    /* number of armed timers */
    uint64_t arms;     /* timer_arm calls that linked or moved a timer (tests, perf) */
    uint64_t next_lb;  /* no armed timer expires before: a run before it walks nothing */
};

/* 0, EINVAL (nslots not a power of two, tick_ns 0) or ENOMEM. @now_ns is the
 * current time: ticks up to it count as already processed. */
int timer_wheel_init(struct timer_wheel *w, uint32_t nslots, uint64_t tick_ns, uint64_t now_ns);
/* Unlinks the timers still armed (they read as unarmed after) and frees the
 * slots. O(nslots + armed). */
void timer_wheel_fini(struct timer_wheel *w);

/* A zero-filled timer also reads as unarmed; timer_init sets the callback. */
void timer_init(struct timer *t, timer_fn fn, void *arg);

/* Arm (or re-arm) @t to fire at @expires_ns. A time in the past fires at the
 * next run. Re-arming an armed timer moves it: it fires once, at the new time. */
void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires_ns);

/* Disarm @t; harmless if it is not armed (never armed, fired, cancelled). */
void timer_cancel(struct timer_wheel *w, struct timer *t);

static inline bool timer_armed(const struct timer *t)
{
    return list_linked(&t->link);
}

/* Arm @t for @expires_ns unless it is already armed at or before then, in
 * which case nothing moves: the lazy pattern of FreeBSD's callouts, for an
 * owner that keeps its own due time and, when the early entry fires, re-arms
 * to it (the wheel then costs nothing for a due time that keeps moving
 * later, as an RTO pushed by every ACK). */
static inline void timer_arm_earlier(struct timer_wheel *w, struct timer *t, uint64_t expires_ns)
{
    if (!timer_armed(t) || t->expires_ns > expires_ns)
        timer_arm(w, t, expires_ns);
}

/* Fire every timer armed before this call with expires_ns <= @now_ns, in tick
 * order (arm order within a tick; after a jump of more than one revolution,
 * slot order: timers several rounds overdue may fire out of order). A timer is
 * unlinked before its callback runs. Callbacks may arm and cancel any timer,
 * including the one firing and others due in this run (a cancelled or
 * re-armed one then does not fire now). A timer armed by a callback never
 * fires in the same run, even if already due: it fires at the next run (so a
 * periodic timer cannot spin). @now_ns should not go backwards; if it does,
 * no processed tick is undone. Returns the number fired. */
int timer_wheel_run(struct timer_wheel *w, uint64_t now_ns);

/* Absolute time of the earliest armed timer (possibly in the past), or
 * UINT64_MAX (lets a poll loop or a virtual-time test jump straight to the
 * next event: timer_wheel_run(timer_wheel_next(w)) fires it). Exact, by a
 * scan of every slot: O(nslots + armed), not for the per-packet path. Timers
 * already picked to fire by a run in progress are not seen by callbacks. An
 * owner with lazy timers (timer_arm_earlier) may have nothing to do then. */
uint64_t timer_wheel_next(const struct timer_wheel *w);

#endif /* DEMI_CORE_TIMER_H */
