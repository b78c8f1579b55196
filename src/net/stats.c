/* SPDX-License-Identifier: MIT */
#include "net/stats.h"

#include <inttypes.h>

void inet_stats_print(FILE *out, const struct inet_stats *st, int nonzero_only)
{
#define INET_STATS_PRINT(name, help)                                               \
    if (!nonzero_only || st->name)                                                 \
        fprintf(out, "  %-26s %12" PRIu64 "  %s\n", #name, st->name, help);
    INET_STATS(INET_STATS_PRINT)
#undef INET_STATS_PRINT
}
