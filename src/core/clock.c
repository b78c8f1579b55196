/* SPDX-License-Identifier: MIT */
#include "core/clock.h"

#include <stdlib.h>

bool clock_is_virtual;
uint64_t clock_virtual_ns;
uint64_t clock_cached_ns;

static uint64_t gettime_ns(void)
{
    struct timespec ts;

    /* vDSO: no syscall, 20-45 ns. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The TSC, where it is invariant (constant rate, running in every C-state:
 * CPUID 0x80000007 EDX bit 8), is the same clock for less: one rdtsc and a
 * multiply, about half of clock_gettime's cost here (25 ns against 43 ns on
 * the development VM; a third on bare metal), and the runtime reads the
 * clock every poll round. Its rate is measured once against
 * CLOCK_MONOTONIC over CLOCK_TSC_CAL_NS; the error (parts per 100 000)
 * only stretches timer durations by as much.
 */
#define CLOCK_TSC_CAL_NS 2000000ull

static bool tsc_on;
static uint64_t tsc_base, tsc_ns_base, tsc_mult; /* ns per tick, fixed point 32.32 */

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>

static bool tsc_invariant(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    return (d >> 8) & 1;
}

static void tsc_calibrate(void)
{
    uint64_t t0, c0, t1, c1;

    if (!tsc_invariant())
        return;
    t0 = gettime_ns();
    c0 = __rdtsc();
    do
        t1 = gettime_ns();
    while (t1 - t0 < CLOCK_TSC_CAL_NS);
    c1 = __rdtsc();
    if (c1 <= c0 + 1000)
        return; /* no usable TSC */
    tsc_mult = (uint64_t)((((unsigned __int128)(t1 - t0)) << 32) / (c1 - c0));
    tsc_base = c1;
    tsc_ns_base = t1;
    tsc_on = tsc_mult != 0;
}

static inline uint64_t tsc_ns(void)
{
    return tsc_ns_base + (uint64_t)(((unsigned __int128)(__rdtsc() - tsc_base) * tsc_mult) >> 32);
}
#else
static void tsc_calibrate(void)
{
}
static inline uint64_t tsc_ns(void)
{
    return 0;
}
#endif

void clock_init(bool use_tsc)
{
    static bool done;

    if (done)
        return;
    done = true;
    if (use_tsc)
        tsc_calibrate();
}

bool clock_uses_tsc(void)
{
    return tsc_on;
}

uint64_t clock_real_ns(void)
{
    return tsc_on ? tsc_ns() : gettime_ns();
}

void clock_set_virtual(uint64_t start_ns)
{
    clock_virtual_ns = start_ns;
    clock_is_virtual = true;
}

void clock_advance(uint64_t delta_ns)
{
    clock_virtual_ns += delta_ns;
}

void clock_set_real(void)
{
    clock_is_virtual = false;
}

int64_t clock_timespec_ns(const struct timespec *ts)
{
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
        return -1;
    /* Clamp absurd durations (> ~292 years) instead of overflowing. */
    if ((uint64_t)ts->tv_sec > (uint64_t)INT64_MAX / 1000000000ull - 1)
        return INT64_MAX;
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}
