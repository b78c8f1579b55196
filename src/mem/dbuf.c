/* SPDX-License-Identifier: MIT */
#include "mem/dbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int dbuf_pool_init(struct dbuf_pool *p, const char *name, uint32_t data_size, uint32_t count)
{
    return dbuf_pool_init_aligned(p, name, data_size, count, 64);
}

int dbuf_pool_init_aligned(struct dbuf_pool *p, const char *name, uint32_t data_size, uint32_t count, uint32_t align)
{
    const size_t front = sizeof(struct dbuf) + DBUF_HEADROOM; /* slot start to data */
    uint8_t *map;

    memset(p, 0, sizeof(*p));
    p->name = name;
    p->data_size = data_size;
    /* Every slot is cache-line aligned; with @align beyond that, the data of
     * every slot is: the first slot starts @lead bytes into the mapping and
     * the stride is a multiple of @align. A pool without data (slices) holds
     * bare headers. */
    if (data_size == 0) {
        p->stride = sizeof(struct dbuf);
    } else if (align <= 64) {
        p->stride = (front + data_size + 63) & ~(size_t)63;
    } else {
        p->stride = (front + data_size + align - 1) & ~(size_t)(align - 1);
        p->lead = (align - front % align) % align;
    }
    p->count = count;
    if (count == 0)
        return 0;
    p->map_len = p->stride * count;
    p->stride_magic = UINT64_MAX / p->stride + 1;
    map = mmap(NULL, p->lead + p->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return ENOMEM;
    p->base = map + p->lead;
    p->free_stack = calloc(count, sizeof(*p->free_stack));
    if (!p->free_stack) {
        munmap(map, p->lead + p->map_len);
        p->base = NULL;
        return ENOMEM;
    }
    /* Highest slot first on the stack bottom, so allocation starts at slot 0. */
    for (uint32_t i = 0; i < count; i++) {
        struct dbuf *d = (struct dbuf *)(p->base + (size_t)(count - 1 - i) * p->stride);
        /* Only the fields needed to recognise the slot; the rest at alloc. */
        d->pool = p;
        d->size = (uint32_t)(p->stride - sizeof(struct dbuf));
        d->refcnt = 0;
        p->free_stack[i] = d;
    }
    p->nfree = count;
    return 0;
}

void dbuf_pool_init_ops(struct dbuf_pool *p, const char *name, const struct dbuf_pool_ops *ops, void *priv,
                        uint32_t data_size, uint32_t count)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->ops = ops;
    p->priv = priv;
    p->data_size = data_size;
    p->count = count;
    p->nfree = count;
}

void dbuf_pool_fini(struct dbuf_pool *p)
{
    if (p->ops) {
        if (p->ops->fini)
            p->ops->fini(p);
        memset(p, 0, sizeof(*p));
        return;
    }
    if (p->base)
        munmap(p->base - p->lead, p->lead + p->map_len);
    free(p->free_stack);
    memset(p, 0, sizeof(*p));
}

struct dbuf *dbuf_pool_lookup(const struct dbuf_pool *pool, const void *ptr)
{
    const uint8_t *b = ptr;
    struct dbuf *d;
    size_t off;

    if (pool->ops)
        return pool->ops->lookup(pool, ptr);
    if (!pool->base || b < pool->base || b >= pool->base + pool->map_len)
        return NULL;
    off = (size_t)(b - pool->base);
    /* off % stride == 0 without a division (Lemire et al., "Faster
     * remainder by direct computation", 2019): exact for off < 2^32. */
    if (off < (1ull << 32) ? off * pool->stride_magic > pool->stride_magic - 1 : off % pool->stride != 0)
        return NULL;
    d = (struct dbuf *)(uintptr_t)b;
    return d->refcnt > 0 ? d : NULL;
}

int mem_init(struct mem *m, uint32_t small_count, uint32_t large_count, uint32_t huge_count)
{
    static const char *const names[MEM_NCLASSES] = {"small", "large", "huge", "slice"};
    const uint32_t sizes[MEM_NCLASSES] = {MEM_SMALL_SIZE, MEM_LARGE_SIZE, MEM_HUGE_SIZE, 0};
    const uint32_t counts[MEM_NCLASSES] = {small_count, large_count, huge_count, small_count};
    /* The large and huge classes' data is page-aligned, as O_DIRECT wants:
     * storage queues write those buffers without a copy (docs/cattree.md). */
    const uint32_t aligns[MEM_NCLASSES] = {64, 4096, 4096, 64};
    int err;

    memset(m, 0, sizeof(*m));
    for (int c = 0; c < MEM_NCLASSES; c++) {
        err = dbuf_pool_init_aligned(&m->pools[c], names[c], sizes[c], counts[c], aligns[c]);
        if (err) {
            mem_fini(m);
            return err;
        }
    }
    return 0;
}

void mem_fini(struct mem *m)
{
    for (int c = 0; c < MEM_NCLASSES; c++)
        dbuf_pool_fini(&m->pools[c]);
}

struct dbuf *mem_alloc(struct mem *m, uint32_t size)
{
    struct dbuf *d;
    int c;

    if (size == 0 || size > MEM_HUGE_SIZE)
        return NULL;
    /* The small class may hold more than MEM_SMALL_SIZE (catnip's mbufs
     * with jumbo frames): what fits one of its buffers goes there. */
    c = size <= m->pools[MEM_SMALL].data_size ? MEM_SMALL : size <= MEM_LARGE_SIZE ? MEM_LARGE : MEM_HUGE;
    d = dbuf_alloc(&m->pools[c]);
    if (d)
        d->len = size;
    return d;
}

int mem_set_class_pool(struct mem *m, int cls, const struct dbuf_pool_ops *ops, void *priv, uint32_t data_size,
                       uint32_t count)
{
    static const uint32_t sizes[MEM_NCLASSES] = {MEM_SMALL_SIZE, MEM_LARGE_SIZE, MEM_HUGE_SIZE, 0};
    struct dbuf_pool *p;
    const char *name;

    if (cls < 0 || cls >= MEM_NCLASSES || !ops || data_size < sizes[cls])
        return EINVAL;
    p = &m->pools[cls];
    if (p->nfree != p->count)
        return EBUSY;
    name = p->name; /* the class keeps its name in stats and messages */
    dbuf_pool_fini(p);
    dbuf_pool_init_ops(p, name, ops, priv, data_size, count);
    return 0;
}

int mem_init_slices(struct mem *m, uint32_t count)
{
    dbuf_pool_fini(&m->pools[MEM_SLICE]);
    return dbuf_pool_init(&m->pools[MEM_SLICE], "slice", 0, count);
}

struct dbuf *dbuf_slice(struct mem *m, struct dbuf *src, uint32_t off, uint32_t len)
{
    struct dbuf *s;

    if (off > src->len || len > src->len - off)
        return NULL;
    s = dbuf_alloc(&m->pools[MEM_SLICE]);
    if (!s)
        return NULL;
    /* A slice has no room of its own: headers go in a separate head buffer. */
    s->data = src->data + off;
    s->len = len;
    s->parent = src;
    dbuf_ref(src);
    return s;
}

bool mem_owns(const struct mem *m, const void *p)
{
    const uint8_t *b = p;

    for (int c = 0; c < MEM_NCLASSES; c++) {
        const struct dbuf_pool *pool = &m->pools[c];
        if (pool->ops ? pool->ops->owns(pool, p) : pool->base && b >= pool->base && b < pool->base + pool->map_len)
            return true;
    }
    for (int i = 0; i < m->nextra; i++)
        if (m->extra[i]->ops->owns(m->extra[i], p))
            return true;
    return false;
}

int mem_add_pool(struct mem *m, struct dbuf_pool *pool)
{
    if (m->nextra == MEM_MAX_EXTRA)
        return ENOSPC;
    m->extra[m->nextra++] = pool;
    return 0;
}

void mem_remove_pool(struct mem *m, struct dbuf_pool *pool)
{
    for (int i = 0; i < m->nextra; i++) {
        if (m->extra[i] == pool) {
            m->extra[i] = m->extra[--m->nextra];
            m->extra[m->nextra] = NULL;
            return;
        }
    }
}

struct dbuf *mem_lookup_app(const struct mem *m, const void *sga_buf)
{
    uintptr_t v = (uintptr_t)sga_buf;
    struct dbuf *d = mem_lookup(m, (const void *)(v & ~(uintptr_t)DBUF_TAG_MASK));

    if (!d || !(d->flags & DBUF_F_APP) || (v & DBUF_TAG_MASK) != d->app_gen)
        return NULL;
    return d;
}

/* Application buffers only: slices are never handed out as sga_buf. */
struct dbuf *mem_lookup(const struct mem *m, const void *p)
{
    for (int c = 0; c < MEM_SLICE; c++) {
        struct dbuf *d = dbuf_pool_lookup(&m->pools[c], p);
        if (d)
            return d;
    }
    for (int i = 0; i < m->nextra; i++) {
        struct dbuf *d = dbuf_pool_lookup(m->extra[i], p);
        if (d)
            return d;
    }
    return NULL;
}

uint32_t mem_in_use(const struct mem *m)
{
    uint32_t n = 0;

    for (int c = 0; c < MEM_NCLASSES; c++)
        n += m->pools[c].count - m->pools[c].nfree;
    for (int i = 0; i < m->nextra; i++)
        n += m->extra[i]->count - m->extra[i]->nfree;
    return n;
}
