/* SPDX-License-Identifier: MIT */
/*
 * clock.h: the monotonic clock of the runtime, in nanoseconds. Injectable:
 * tests switch it to virtual time and advance it by hand. Private header.
 */
#ifndef DEMI_CORE_CLOCK_H
#define DEMI_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

extern bool clock_is_virtual;
extern uint64_t clock_virtual_ns;
extern uint64_t clock_cached_ns;

/* The monotonic clock itself: the invariant TSC once clock_init calibrated
 * it, else clock_gettime(CLOCK_MONOTONIC). */
uint64_t clock_real_ns(void);

/* Calibrate the TSC against CLOCK_MONOTONIC (2 ms, once per process: the
 * first call decides; the runtime calls it at demi_init). !@use_tsc
 * (libdemi.clock_no_tsc) keeps clock_gettime. */
void clock_init(bool use_tsc);
bool clock_uses_tsc(void);

/*
 * Read the clock into the cache. The runtime does it once per poll round
 * (rt_poll) and at every API call that may start a timer, so the stack
 * reads the clock once per round instead of at every timestamp, timer and
 * RTT sample of every segment: a round is sub-microsecond, far below any
 * timer's granularity. Anything that waits for time to pass must read it
 * fresh (clock_fresh_ns), not spin on the cache.
 */
static inline uint64_t clock_refresh(void)
{
    clock_cached_ns = clock_real_ns();
    return clock_cached_ns;
}

/* Now, as of the last refresh (virtual time in tests). */
static inline uint64_t clock_now_ns(void)
{
    if (clock_is_virtual)
        return clock_virtual_ns;
    return clock_cached_ns ? clock_cached_ns : clock_refresh();
}

/* Now, read from the clock (and cached). */
static inline uint64_t clock_fresh_ns(void)
{
    return clock_is_virtual ? clock_virtual_ns : clock_refresh();
}

/* Switch to virtual time starting at @start_ns (tests). */
void clock_set_virtual(uint64_t start_ns);
void clock_advance(uint64_t delta_ns);
void clock_set_real(void);

/* A relative timespec as nanoseconds; -1 if malformed (negative, nsec >= 1e9). */
int64_t clock_timespec_ns(const struct timespec *ts);

#endif /* DEMI_CORE_CLOCK_H */
