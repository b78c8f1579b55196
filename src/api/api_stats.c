/* SPDX-License-Identifier: MIT */
/* api_stats.c: <demi/stats.h>, the process's statistics. */
#include "api/api.h"
#include "core/common.h"
#include "core/latency.h"

#include <demi/stats.h>

BUILD_BUG_ON(DEMI_STATS_LAT_BUCKETS != LAT_BUCKETS);

DEMI_EXPORT int demi_stats_counter(const char *name, uint64_t *value)
{
    if (!name || !value)
        return EINVAL;
    if (!rt.initialised)
        return EPERM;
    /* The network libOS's (rt.libos[0]) first, then those beside it
     * (storage): ENOENT only when none has the name, ENOTSUP when none
     * has counters. */
    int ret = ENOTSUP;
    for (int i = 0; i < rt.nlibos && ret != 0; i++) {
        struct libos *los = rt.libos[i];
        if (los->ops->counter) {
            int r = los->ops->counter(los, name, value);
            if (r != ENOTSUP)
                ret = r;
        }
    }
    return ret;
}

DEMI_EXPORT int demi_stats_names(const char **names, size_t cap, size_t *count)
{
    if (!count || (!names && cap > 0))
        return EINVAL;
    *count = rt_counter_names(names, cap);
    return 0;
}

DEMI_EXPORT int demi_stats_latency(int qd, demi_opcode_t opcode, uint64_t *buckets)
{
    const struct lat_hist *h;
    int k;

    if (!buckets)
        return EINVAL;
    switch (opcode) {
    case DEMI_OPC_PUSH:
        k = LAT_PUSH;
        break;
    case DEMI_OPC_POP:
        k = LAT_POP;
        break;
    case DEMI_OPC_ACCEPT:
        k = LAT_ACCEPT;
        break;
    case DEMI_OPC_CONNECT:
        k = LAT_CONNECT;
        break;
    default:
        return EINVAL;
    }
    if (!rt.initialised)
        return EPERM;
    if (qd == -1) {
        h = &rt.ops.lat[k];
    } else {
        struct queue *q = api_queue(qd);
        if (!q)
            return EBADF;
        h = &q->lat[k];
    }
    memcpy(buckets, h->n, sizeof(h->n));
    return 0;
}
