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

uint64_t clock_real_ns(void);

static inline uint64_t clock_now_ns(void)
{
    return clock_is_virtual ? clock_virtual_ns : clock_real_ns();
}

/* Switch to virtual time starting at @start_ns (tests). */
void clock_set_virtual(uint64_t start_ns);
void clock_advance(uint64_t delta_ns);
void clock_set_real(void);

/* A relative timespec as nanoseconds; -1 if malformed (negative, nsec >= 1e9). */
int64_t clock_timespec_ns(const struct timespec *ts);

#endif /* DEMI_CORE_CLOCK_H */
