/* SPDX-License-Identifier: MIT */
/*
 * qd.h: queue descriptors. A qd is a small non-negative int naming a queue
 * (socket, pipe or storage log) of some libOS; the table maps it to the libOS's object,
 * which embeds struct queue as its first member. Private header.
 */
#ifndef DEMI_CORE_QD_H
#define DEMI_CORE_QD_H

#include "core/latency.h"

#include <stdbool.h>
#include <stdint.h>

struct libos;

enum queue_kind { QUEUE_TCP = 1, QUEUE_UDP, QUEUE_PIPE, QUEUE_FILE };

struct queue {
    int qd;
    uint8_t kind;   /* enum queue_kind */
    uint8_t family; /* a socket's AF_INET or AF_INET6 (libos/sockaddr.h); 0 for a pipe or a log */
    bool v6only;    /* AF_INET6: IPV6_V6ONLY, as the libOS last reported it */
    struct libos *libos;
    struct lat_hist lat[LAT_KINDS]; /* op latencies on this queue (latency.h) */
};

struct qd_table {
    struct queue **slots;
    uint32_t nslots;
    int *free_stack; /* LIFO; a fresh table hands out 0, 1, 2, ... like fds */
    uint32_t nfree;
    uint32_t nused;
};

int qd_table_init(struct qd_table *t, uint32_t nslots);
void qd_table_fini(struct qd_table *t);

/* Give @q a descriptor (q->qd). EMFILE when the table is full. */
int qd_alloc(struct qd_table *t, struct queue *q);

void qd_release(struct qd_table *t, int qd);

/* The queue named by @qd, or NULL (negative, out of range, closed). */
static inline struct queue *qd_get(const struct qd_table *t, int qd)
{
    if (qd < 0 || (uint32_t)qd >= t->nslots)
        return (struct queue *)0;
    return t->slots[qd];
}

#endif /* DEMI_CORE_QD_H */
