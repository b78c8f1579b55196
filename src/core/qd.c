/* SPDX-License-Identifier: MIT */
#include "core/qd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int qd_table_init(struct qd_table *t, uint32_t nslots)
{
    memset(t, 0, sizeof(*t));
    t->slots = calloc(nslots, sizeof(*t->slots));
    t->free_stack = calloc(nslots, sizeof(*t->free_stack));
    if (!t->slots || !t->free_stack) {
        qd_table_fini(t);
        return ENOMEM;
    }
    t->nslots = nslots;
    for (uint32_t i = 0; i < nslots; i++)
        t->free_stack[i] = (int)(nslots - 1 - i);
    t->nfree = nslots;
    return 0;
}

void qd_table_fini(struct qd_table *t)
{
    free(t->slots);
    free(t->free_stack);
    memset(t, 0, sizeof(*t));
}

int qd_alloc(struct qd_table *t, struct queue *q)
{
    int qd;

    if (t->nfree == 0)
        return EMFILE;
    qd = t->free_stack[--t->nfree];
    t->slots[qd] = q;
    q->qd = qd;
    t->nused++;
    return 0;
}

void qd_release(struct qd_table *t, int qd)
{
    if (qd < 0 || (uint32_t)qd >= t->nslots || !t->slots[qd])
        return;
    t->slots[qd] = NULL;
    t->free_stack[t->nfree++] = qd;
    t->nused--;
}
