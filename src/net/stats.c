/* SPDX-License-Identifier: MIT */
#include "net/stats.h"

#include "core/sigbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void inet_stats_print(FILE *out, const struct inet_stats *st, int nonzero_only)
{
#define INET_STATS_PRINT(name, help) \
    if (!nonzero_only || st->name)   \
        fprintf(out, "  %-26s %12" PRIu64 "  %s\n", #name, st->name, help);
    INET_STATS(INET_STATS_PRINT)
#undef INET_STATS_PRINT
}

int inet_stats_get(const struct inet_stats *st, const char *name, uint64_t *value)
{
#define INET_STATS_GET(n, help)  \
    if (strcmp(name, #n) == 0) { \
        *value = st->n;          \
        return 0;                \
    }
    INET_STATS(INET_STATS_GET)
#undef INET_STATS_GET
    return ENOENT;
}

void inet_stats_write(struct sigbuf *out, const struct inet_stats *st)
{
#define INET_STATS_WRITE(name, help)     \
    if (st->name) {                      \
        sigbuf_str(out, "  ");           \
        sigbuf_pad(out, #name, 26);      \
        sigbuf_str(out, " ");            \
        sigbuf_u64(out, st->name, 12);   \
        sigbuf_str(out, "  " help "\n"); \
    }
    INET_STATS(INET_STATS_WRITE)
#undef INET_STATS_WRITE
}
