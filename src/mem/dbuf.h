/* SPDX-License-Identifier: MIT */
/*
 * dbuf.h: libdemi's buffer. A refcounted block with headroom in front of the
 * data, so the network stack prepends Ethernet/IPv4/TCP headers in place.
 *
 * Layout of one pool slot:  [struct dbuf 64 B][headroom][data ... data_size]
 * Pools are slabs carved out of one mapping at init (MAP_NORESERVE: untouched
 * slots cost no memory). Whether a pointer is one of ours is a range check
 * plus a stride check, so a foreign sga is refused in O(1).
 *
 * A pool may instead be backed by a device's buffers (struct dbuf_pool_ops:
 * DPDK mbufs, whose private area holds the same struct dbuf right in front
 * of the mbuf's data room). The slab path stays the inline fast path; such
 * pools cost one predictable branch. Private header.
 */
#ifndef DEMI_MEM_DBUF_H
#define DEMI_MEM_DBUF_H

#include "core/common.h"
#include "core/limits.h" /* DBUF_HEADROOM, MEM_*_SIZE */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The application holds a reference (from demi_sgaalloc or a pop). */
#define DBUF_F_APP 0x1
/* A received frame whose IPv4 header and TCP/UDP checksums the device
 * verified (netdev rx with per-frame checksum results). */
#define DBUF_F_CSUM_OK 0x2
/* A buffer reserved in a pipe's outgoing ring (demi_pipe_sgaalloc): only a
 * push on that pipe may take it. */
#define DBUF_F_RING 0x4
/* A TCP frame for the device to cut into segments of meta32 payload bytes
 * (TCP segmentation offload; netdev.h says what the device must do). */
#define DBUF_F_TX_TSO 0x8
/* A popped datagram whose source address, whole, sits in the headroom right
 * in front of data (libos/sockaddr.h inet_sockaddr_attach; demi_sga_source). */
#define DBUF_F_SRCADDR 0x10

struct dbuf_pool;

struct dbuf {
    uint8_t *data;          /* first byte of the payload */
    uint32_t len;           /* payload bytes */
    uint32_t size;          /* bytes from buf[0] to the end of the slot */
    uint16_t refcnt;        /* 0 = free */
    uint16_t flags;         /* DBUF_F_* */
    uint32_t meta32;        /* per-layer scratch, e.g. a datagram's source IPv4 */
    struct dbuf_pool *pool; /* owner */
    struct dbuf *next;      /* next segment of the same frame (see netdev.h) */
    struct dbuf *parent;    /* a slice: the buffer whose bytes it points into */
    uint64_t meta64;        /* per-layer scratch, e.g. source port, timestamps */
    uint8_t app_gen;        /* tag of the sga_buf last handed to the application */
    uint8_t pad_[7];
    uint8_t buf[]; /* headroom, then data */
};
BUILD_BUG_ON(sizeof(struct dbuf) != 64);

/*
 * A pool backed by someone else's buffers. alloc returns a dbuf like the
 * slab's (refcnt 1, data at the headroom, len 0, flags 0, no links, pool
 * set) and keeps nfree/alloc_failures; release gets a dbuf whose refcnt just
 * reached 0 (its parent already detached) and gives it back; lookup is
 * dbuf_pool_lookup, owns is "@ptr lies in the pool's memory"; fini, if set,
 * runs at dbuf_pool_fini.
 */
struct dbuf_pool_ops {
    struct dbuf *(*alloc)(struct dbuf_pool *p);
    void (*release)(struct dbuf_pool *p, struct dbuf *d);
    struct dbuf *(*lookup)(const struct dbuf_pool *p, const void *ptr);
    bool (*owns)(const struct dbuf_pool *p, const void *ptr);
    void (*fini)(struct dbuf_pool *p);
};

struct dbuf_pool {
    const char *name;
    uint8_t *base;         /* first slot */
    size_t map_len;        /* from base to the end of the mapping */
    size_t lead;           /* bytes of the mapping before base (aligned pools) */
    size_t stride;         /* bytes per slot */
    uint64_t stride_magic; /* UINT64_MAX / stride + 1: divisibility by one multiply */
    uint32_t data_size;    /* usable payload after the headroom */
    uint32_t count;
    uint32_t nfree;
    struct dbuf **free_stack;        /* LIFO keeps recently used slots cache-hot */
    uint64_t alloc_failures;         /* counted, reported by stats */
    const struct dbuf_pool_ops *ops; /* NULL: the slab above */
    void *priv;                      /* the backing's state (ops pools) */
};

int dbuf_pool_init(struct dbuf_pool *p, const char *name, uint32_t data_size, uint32_t count);

/* The same, with every slot's data (at the headroom) aligned to @align, a
 * power of two up to the page size. */
int dbuf_pool_init_aligned(struct dbuf_pool *p, const char *name, uint32_t data_size, uint32_t count, uint32_t align);

/* A pool whose buffers come from @ops (see struct dbuf_pool_ops): @count
 * buffers of @data_size bytes after the headroom, all free. */
void dbuf_pool_init_ops(struct dbuf_pool *p, const char *name, const struct dbuf_pool_ops *ops, void *priv,
                        uint32_t data_size, uint32_t count);
void dbuf_pool_fini(struct dbuf_pool *p);

/* A buffer with refcnt 1, data at the headroom, len 0; NULL when empty. */
static inline struct dbuf *dbuf_alloc(struct dbuf_pool *p)
{
    struct dbuf *d;

    if (p->ops)
        return p->ops->alloc(p);
    if (unlikely(p->nfree == 0)) {
        p->alloc_failures++;
        return NULL;
    }
    d = p->free_stack[--p->nfree];
    d->data = d->buf + DBUF_HEADROOM;
    d->len = 0;
    d->refcnt = 1;
    d->flags = 0;
    d->next = NULL;
    d->parent = NULL;
    return d;
}

/* Bytes available after data + len up to the slot's end. */
static inline uint32_t dbuf_tailroom(const struct dbuf *d)
{
    return d->parent ? 0 : (uint32_t)(d->buf + d->size - (d->data + d->len));
}

static inline void dbuf_ref(struct dbuf *d)
{
    d->refcnt++;
}

/* Drop one reference; the last one returns the slot to its pool (and a
 * slice's reference on its parent). */
static inline void dbuf_put(struct dbuf *d)
{
    if (--d->refcnt == 0) {
        struct dbuf_pool *p = d->pool;
        struct dbuf *parent = d->parent;
        if (parent)
            d->parent = NULL;
        if (p->ops)
            p->ops->release(p, d); /* the slot may be reused from here on */
        else
            p->free_stack[p->nfree++] = d;
        if (parent)
            dbuf_put(parent);
    }
}

/* Bytes free in front of data (for headers to prepend). */
static inline uint32_t dbuf_headroom(const struct dbuf *d)
{
    return d->parent ? 0 : (uint32_t)(d->data - d->buf); /* a slice's bytes are not its own */
}

/* Prepend @n bytes in the headroom; returns the new start, or NULL if the
 * headroom is too small. */
static inline void *dbuf_prepend(struct dbuf *d, uint32_t n)
{
    if (unlikely(dbuf_headroom(d) < n))
        return NULL;
    d->data -= n;
    d->len += n;
    return d->data;
}

/* Strip @n bytes from the front (a parsed header); returns the old start,
 * or NULL if fewer than @n bytes are there. */
static inline void *dbuf_adj(struct dbuf *d, uint32_t n)
{
    uint8_t *old = d->data;
    if (unlikely(d->len < n))
        return NULL;
    d->data += n;
    d->len -= n;
    return old;
}

/* Cut the data to @len bytes (e.g. Ethernet padding); no-op if shorter. */
static inline void dbuf_trim(struct dbuf *d, uint32_t len)
{
    if (len < d->len)
        d->len = len;
}

/* Append @n bytes at the end; returns where they go, or NULL if no room. */
static inline void *dbuf_append(struct dbuf *d, uint32_t n)
{
    uint8_t *end = d->data + d->len;
    if (unlikely(dbuf_tailroom(d) < n))
        return NULL;
    d->len += n;
    return end;
}

/* ---- chains: a frame or message in several buffers, linked by next ---- */

/* Total bytes of a frame chain. */
static inline uint32_t dbuf_chain_len(const struct dbuf *d)
{
    uint32_t n = 0;
    for (; d; d = d->next)
        n += d->len;
    return n;
}

/* Drop the references of a whole chain. */
static inline void dbuf_chain_put(struct dbuf *d)
{
    while (d) {
        struct dbuf *next = d->next;
        d->next = NULL;
        dbuf_put(d);
        d = next;
    }
}

/* Copy the bytes of chain @d into @dst, which has room for
 * dbuf_chain_len(@d); returns how many were copied. */
static inline uint32_t dbuf_chain_copy(const struct dbuf *d, void *dst)
{
    uint8_t *p = dst;
    for (; d; d = d->next) {
        memcpy(p, d->data, d->len);
        p += d->len;
    }
    return (uint32_t)(p - (uint8_t *)dst);
}

/* The dbuf whose slot starts at @p, if @p is exactly a slot of @pool and the
 * slot is in use; NULL otherwise. */
struct dbuf *dbuf_pool_lookup(const struct dbuf_pool *pool, const void *p);

/* Whether [ptr, ptr+len) lies inside @d's slot data area; for a buffer with
 * a parent (a slice, or a view into memory its pool manages), inside
 * [data, data+len): its slot has no bytes of its own. */
static inline bool dbuf_contains(const struct dbuf *d, const void *ptr, uint32_t len)
{
    const uint8_t *b = ptr;
    const uint8_t *lo = d->parent ? d->data : d->buf;
    uint32_t size = d->parent ? d->len : d->size;
    return b >= lo && b <= lo + size && len <= (uint32_t)(lo + size - b);
}

/*
 * The set of pools a runtime allocates application buffers from: size
 * classes small (one MTU frame), large (64 KiB) and huge (1 MiB).
 */
enum { MEM_SMALL = 0, MEM_LARGE, MEM_HUGE, MEM_SLICE, MEM_NCLASSES };

/* MEM_SLICE holds header-only dbufs that point into another buffer. */

/* Extra pools a libOS may register (catmem's views into its rings). */
#define MEM_MAX_EXTRA 4

struct mem {
    struct dbuf_pool pools[MEM_NCLASSES];
    /* Searched by mem_lookup, mem_lookup_app and mem_owns after the classes
     * (so a class buffer is found exactly as fast as before), counted by
     * mem_in_use. Ops pools whose owner allocates from them itself;
     * mem_alloc never does. The owner unregisters and finalises them. */
    struct dbuf_pool *extra[MEM_MAX_EXTRA];
    int nextra;
};

/* Register @pool (an ops pool) with @m: 0, or ENOSPC when MEM_MAX_EXTRA are. */
int mem_add_pool(struct mem *m, struct dbuf_pool *pool);
/* Unregister @pool (no-op if it is not registered). */
void mem_remove_pool(struct mem *m, struct dbuf_pool *pool);

/* Replace size class @cls by a pool backed by @ops (e.g. DPDK mbufs for
 * MEM_SMALL, so application buffers and header buffers are device buffers).
 * The class must have no buffer out (EBUSY otherwise). @data_size must cover
 * the class size (EINVAL). The pool's fini hook runs at mem_fini. */
int mem_set_class_pool(struct mem *m, int cls, const struct dbuf_pool_ops *ops, void *priv, uint32_t data_size,
                       uint32_t count);

int mem_init(struct mem *m, uint32_t small_count, uint32_t large_count, uint32_t huge_count);

/* Size the slice pool (default: as many as small buffers). Call before use. */
int mem_init_slices(struct mem *m, uint32_t count);
void mem_fini(struct mem *m);

/* A buffer able to hold @size payload bytes (len set to @size); NULL when
 * @size is 0 or over MEM_HUGE_SIZE, or the class is exhausted. */
struct dbuf *mem_alloc(struct mem *m, uint32_t size);

/* A slice: a new dbuf whose data is [off, off+len) of @src's data, holding a
 * reference on @src, so a large buffer is cut into segments without copying.
 * NULL when the range is outside @src or the slice pool is empty. */
struct dbuf *dbuf_slice(struct mem *m, struct dbuf *src, uint32_t off, uint32_t len);

/* The in-use dbuf whose header is at @p in any pool, or NULL. */
struct dbuf *mem_lookup(const struct mem *m, const void *p);

/*
 * sga_buf is the dbuf's address with a 6-bit tag in its low bits (slots are
 * 64-byte aligned). The tag changes every time a buffer is handed to the
 * application, so a stale copy of an sga (freed, slot reused) no longer
 * matches and its second free is refused instead of freeing someone else's
 * buffer. It catches reuse modulo 63, which covers the LIFO pools' common case.
 */
#define DBUF_TAG_MASK 63u

/* Hand @d to the application: set the flag, return the tagged sga_buf. */
static inline void *dbuf_app_handout(struct dbuf *d)
{
    d->app_gen = (uint8_t)(d->app_gen % DBUF_TAG_MASK + 1); /* 1..63, never 0 */
    d->flags |= DBUF_F_APP;
    return (void *)((uintptr_t)d | d->app_gen);
}

/* Whether @p lies anywhere inside one of the pools' mappings. */
bool mem_owns(const struct mem *m, const void *p);

/* The dbuf the application holds as @sga_buf, or NULL if @sga_buf is not one
 * of ours, is stale, or was already freed. */
struct dbuf *mem_lookup_app(const struct mem *m, const void *sga_buf);

/* Buffers currently allocated across all classes (tests: back to 0). */
uint32_t mem_in_use(const struct mem *m);

#endif /* DEMI_MEM_DBUF_H */
