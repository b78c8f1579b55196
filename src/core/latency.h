/* SPDX-License-Identifier: MIT */
/*
 * latency.h: latency histograms of operations, from the call that starts
 * an op (push, pop, accept, connect) to its completion. Power-of-two
 * buckets of nanoseconds: bucket i holds [2^i, 2^(i+1)) (bucket 0 also 0
 * and 1), up to bucket 39 (over 9 minutes). One increment per completion;
 * the times are the runtime's cached clock (read once per poll round), so
 * recording costs no clock read. Kept per queue and for the whole process;
 * read by demi-stat and <demi/stats.h>. Private header.
 */
#ifndef DEMI_CORE_LATENCY_H
#define DEMI_CORE_LATENCY_H

#include <stdint.h>

#define LAT_BUCKETS 40

/* Which histogram of a queue: the op kinds that wait. */
enum lat_kind { LAT_PUSH = 0, LAT_POP, LAT_ACCEPT, LAT_CONNECT, LAT_KINDS };

struct lat_hist {
    uint64_t n[LAT_BUCKETS];
};

static inline unsigned lat_bucket(uint64_t ns)
{
    unsigned b = ns > 1 ? 63u - (unsigned)__builtin_clzll(ns) : 0u;
    return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

static inline void lat_add(struct lat_hist *h, uint64_t ns)
{
    h->n[lat_bucket(ns)]++;
}

/* The smallest bucket upper bound under which a fraction @q (0..1) of the
 * samples fall, in ns; 0 when empty. */
uint64_t lat_quantile(const struct lat_hist *h, double q);

/* Samples in @h. */
uint64_t lat_count(const struct lat_hist *h);

#endif /* DEMI_CORE_LATENCY_H */
