/* SPDX-License-Identifier: MIT */
/*
 * timer.c: the hashed timer wheel of timer.h.
 *
 * Invariant: an armed timer sits in the slot of its placement tick p, with
 * p = max(ceil(expires/tick), now_tick + 1 at arm time) and p > now_tick.
 * A run to @now walks ticks now_tick+1 .. floor(now/tick) and also the next
 * one, floor(now/tick)+1: that last tick holds timers armed in the past and
 * timers due later within the current tick, so "fires at the first run with
 * now >= expires" holds exactly. Every walked slot is filtered on
 * expires <= now, which leaves later-round timers in place and, after a jump
 * of more than a revolution (each slot walked once), fires all overdue rounds.
 *
 * next_lb is a lower bound of every armed expiry: lowered by each arm, set
 * by each walk to the least expiry left in the walked slots and, for the
 * others, (target+1)*tick + 1 (a timer in an unwalked slot has its placement
 * tick p >= target+2, so expires > (target+1)*tick). A run with now below
 * it has nothing to fire and may skip the walk: every timer then has
 * expires > now, so p >= target+1 and the invariant holds with now_tick =
 * target. A poll loop thus walks about once per tick, not once per poll,
 * even with timers (say stale TCP entries) armed far ahead.
 */
#include "core/timer.h"

#include "core/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int timer_wheel_init(struct timer_wheel *w, uint32_t nslots, uint64_t tick_ns, uint64_t now_ns)
{
    memset(w, 0, sizeof(*w));
    if (nslots == 0 || (nslots & (nslots - 1)) != 0 || tick_ns == 0)
        return EINVAL;
    w->slots = calloc(nslots, sizeof(*w->slots));
    if (!w->slots)
        return ENOMEM;
    for (uint32_t i = 0; i < nslots; i++)
        list_init(&w->slots[i]);
    w->nslots = nslots;
    w->tick_ns = tick_ns;
    w->tick_shift = (tick_ns & (tick_ns - 1)) == 0 ? __builtin_ctzll(tick_ns) : -1;
    w->now_tick = now_ns / tick_ns;
    w->next_lb = UINT64_MAX;
    return 0;
}

void timer_wheel_fini(struct timer_wheel *w)
{
    /* Leave no timer pointing into freed slots: its owner may still cancel
     * or re-arm it (on another wheel) while tearing down. */
    for (uint32_t i = 0; i < w->nslots; i++)
        while (!list_empty(&w->slots[i]))
            list_del(w->slots[i].next);
    free(w->slots);
    memset(w, 0, sizeof(*w));
}

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
    list_init(&t->link);
    t->expires_ns = 0;
    t->fn = fn;
    t->arg = arg;
}

/* The tick of @ns, rounded down or up: a shift on the hot path when the tick
 * is a power of two (the stack's is), a division otherwise. */
static inline uint64_t tick_floor(const struct timer_wheel *w, uint64_t ns)
{
    return w->tick_shift >= 0 ? ns >> w->tick_shift : ns / w->tick_ns;
}

static inline uint64_t tick_ceil(const struct timer_wheel *w, uint64_t ns)
{
    if (w->tick_shift >= 0)
        return (ns >> w->tick_shift) + ((ns & (w->tick_ns - 1)) != 0);
    return ns / w->tick_ns + (ns % w->tick_ns != 0);
}

void timer_arm(struct timer_wheel *w, struct timer *t, uint64_t expires_ns)
{
    /* Round up so a timer is never filed under a tick before its expiry. */
    uint64_t tick = tick_ceil(w, expires_ns);

    if (timer_armed(t))
        list_del(&t->link);
    else
        w->armed++;
    /* Ticks up to now_tick will not be walked again; the next one will. */
    if (tick <= w->now_tick)
        tick = w->now_tick + 1;
    t->expires_ns = expires_ns;
    list_add_tail(&w->slots[tick & (w->nslots - 1)], &t->link);
    w->arms++;
    if (expires_ns < w->next_lb)
        w->next_lb = expires_ns;
}

void timer_cancel(struct timer_wheel *w, struct timer *t)
{
    if (!timer_armed(t))
        return;
    list_del(&t->link);
    w->armed--;
}

int timer_wheel_run(struct timer_wheel *w, uint64_t now_ns)
{
    uint64_t target = tick_floor(w, now_ns);
    uint64_t mask = w->nslots - 1;
    uint64_t nwalk, lb;
    struct list_node due, *pos, *tmp;
    int fired = 0;

    if (target < w->now_tick)
        target = w->now_tick; /* clock went back: keep processed ticks processed */
    if (w->armed == 0 || now_ns < w->next_lb) {
        /* Nothing to fire: skip the slot walk (an idle stack polls often). */
        w->now_tick = target;
        if (w->armed == 0)
            w->next_lb = UINT64_MAX;
        return 0;
    }
    /* Ticks now_tick+1 .. target+1 (see top), but each slot at most once. */
    nwalk = target - w->now_tick + 1;
    if (nwalk > w->nslots)
        nwalk = w->nslots;

    /* Collect first, fire after: a callback then sees a consistent wheel,
     * and timers it arms land in slots (never in @due), so they wait for the
     * next run instead of possibly spinning in this one. */
    list_init(&due);
    /* (No timer can sit past the last tick of the clock: then any bound.) */
    lb = target + 1 < UINT64_MAX / w->tick_ns ? (target + 1) * w->tick_ns + 1 : UINT64_MAX;
    for (uint64_t i = 1; i <= nwalk; i++) {
        struct list_node *slot = &w->slots[(w->now_tick + i) & mask];

        list_for_each_safe (pos, tmp, slot) {
            uint64_t e = list_entry(pos, struct timer, link)->expires_ns;

            if (e <= now_ns) {
                list_del(pos);
                list_add_tail(&due, pos);
            } else if (e < lb) {
                lb = e;
            }
        }
    }
    w->now_tick = target;
    w->next_lb = lb; /* callbacks' arms lower it */

    /* Pop one at a time: a callback may cancel or re-arm any timer still on
     * @due (list_del works on whatever list holds it), removing it from here. */
    while (!list_empty(&due)) {
        struct timer *t = list_entry(due.next, struct timer, link);

        list_del(&t->link);
        w->armed--;
        fired++;
        t->fn(t, t->arg);
    }
    return fired;
}

uint64_t timer_wheel_next(const struct timer_wheel *w)
{
    uint64_t next = UINT64_MAX;

    if (w->armed == 0)
        return next;
    /* Slot order says nothing across rounds or for past-armed timers, so
     * scan everything: O(nslots + armed). */
    for (uint32_t i = 0; i < w->nslots; i++) {
        struct list_node *head = &w->slots[i];

        for (struct list_node *n = head->next; n != head; n = n->next)
            next = MIN(next, list_entry(n, struct timer, link)->expires_ns);
    }
    return next;
}
