/* SPDX-License-Identifier: MIT */
/* latency.c: quantiles of the operation latency histograms (latency.h). */
#include "core/latency.h"

uint64_t lat_count(const struct lat_hist *h)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < LAT_BUCKETS; i++)
        n += h->n[i];
    return n;
}

uint64_t lat_quantile(const struct lat_hist *h, double q)
{
    uint64_t total = lat_count(h), seen = 0;

    if (total == 0)
        return 0;
    for (unsigned i = 0; i < LAT_BUCKETS; i++) {
        seen += h->n[i];
        if ((double)seen >= q * (double)total)
            return 2ull << i; /* the bucket's upper bound */
    }
    return 2ull << (LAT_BUCKETS - 1);
}
