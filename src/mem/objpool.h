/* SPDX-License-Identifier: MIT */
/*
 * objpool.h: a fixed pool of equal-sized objects, sized at init, so the
 * datapath takes and returns control blocks (TCP pcbs, inet socket records)
 * without malloc. One calloc'd array: untouched objects cost no memory
 * until first used (the kernel maps zero pages lazily), so a pool sized for
 * tens of thousands of connections costs what is in use. Objects come from
 * a LIFO free stack (cache-hot), then from the never-used tail. get()
 * returns a zeroed object, or NULL when all @cap are in use.
 * Private header.
 */
#ifndef DEMI_MEM_OBJPOOL_H
#define DEMI_MEM_OBJPOOL_H

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct objpool {
    uint8_t *base;  /* cap objects of size bytes */
    uint32_t *free; /* indices returned, a stack */
    size_t size;
    uint32_t cap;
    uint32_t nfree; /* on the free stack */
    uint32_t next;  /* objects [next, cap) never handed out */
    uint32_t in_use;
};

static inline int objpool_init(struct objpool *p, uint32_t cap, size_t size)
{
    memset(p, 0, sizeof(*p));
    if (cap == 0 || size == 0)
        return EINVAL;
    p->base = calloc(cap, size);
    p->free = calloc(cap, sizeof(*p->free));
    if (!p->base || !p->free) {
        free(p->base);
        free(p->free);
        memset(p, 0, sizeof(*p));
        return ENOMEM;
    }
    p->size = size;
    p->cap = cap;
    return 0;
}

static inline void objpool_fini(struct objpool *p)
{
    free(p->base);
    free(p->free);
    memset(p, 0, sizeof(*p));
}

static inline void *objpool_get(struct objpool *p)
{
    uint32_t i;
    void *o;

    if (p->nfree > 0)
        i = p->free[--p->nfree];
    else if (p->next < p->cap)
        i = p->next++;
    else
        return NULL;
    p->in_use++;
    o = p->base + (size_t)i * p->size;
    memset(o, 0, p->size);
    return o;
}

static inline void objpool_put(struct objpool *p, void *o)
{
    size_t off = (size_t)((uint8_t *)o - p->base);

    assert(p->in_use > 0 && off % p->size == 0 && off / p->size < p->next);
    p->free[p->nfree++] = (uint32_t)(off / p->size);
    p->in_use--;
}

#endif /* DEMI_MEM_OBJPOOL_H */
