/* SPDX-License-Identifier: MIT */
/*
 * dpdk_mem.c: EAL, and DPDK mbufs as libdemi's small buffer class (see
 * dpdk.h for the model, dpdk_int.h for the layout).
 *
 * Reference counts. A dbuf's refcnt counts libdemi's references; the mbuf's
 * refcnt stays 1 for all of them together. When ours reach 0 the mbuf is
 * freed (rte_pktmbuf_free_seg). DPDK takes its own mbuf references for what
 * it holds in flight (dpdk.c: indirect mbufs attached to our buffers), so a
 * buffer lives until both sides are done with it.
 *
 * Lookup. At creation the pool's objects are recorded as runs of equal
 * stride; a pointer is one of our buffers only if it is exactly the dbuf of
 * an object of a run, and in use by us (refcnt > 0): foreign, interior,
 * freed and stale pointers are refused as with the slab classes.
 */
#include "dev/dpdk_int.h"

#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf_pool_ops.h>

void dpdk_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- EAL --------------------------------------------------------------- */

static int eal_result = -1; /* -1: not tried; else 0 or the errno of the one attempt */
static char eal_error[256];
static char **eal_args; /* what EAL was given, and the strings: kept */
static int eal_argc;

/* rte_log levels from libdemi's, so EAL is as verbose as the rest. */
static uint32_t eal_log_level(void)
{
    switch (log_threshold) {
    case LOG_ERROR:
        return RTE_LOG_ERR;
    case LOG_WARN:
        return RTE_LOG_WARNING;
    case LOG_INFO:
        return RTE_LOG_INFO;
    default:
        return RTE_LOG_DEBUG;
    }
}

/* Whether @argv is what EAL was first given (the kept copies). */
static bool eal_args_same(int argc, char *const *argv)
{
    if (!eal_args || argc != eal_argc)
        return false;
    for (int i = 0; i < argc; i++)
        if (strcmp(eal_args[argc + 1 + i], argv[i] ? argv[i] : "") != 0)
            return false;
    return true;
}

int dpdk_eal_init(int argc, char *const *argv, char *err, size_t errlen)
{
    char **args;
    int ret;

    if (eal_result >= 0) {
        if (eal_result)
            dpdk_set_err(err, errlen, "%s", eal_error);
        else if (argc > 0 && !eal_args_same(argc, argv))
            log_warn("dpdk: dpdk.eal_init differs from this process's first one; EAL runs once per "
                     "process and keeps the first");
        return eal_result;
    }
    if (argc < 1) {
        dpdk_set_err(err, errlen,
                     "dpdk.eal_init is empty: give rte_eal_init()'s arguments, argv[0] first, e.g. "
                     "[\"\", \"-l\", \"0\", \"--no-huge\", \"--no-pci\", \"--vdev=net_memif0,role=server\"] "
                     "(docs/catnip.md)");
        return EINVAL; /* not an EAL attempt: a fixed configuration may still work */
    }
    /* EAL reorders and overwrites argv and may keep pointers into the
     * strings: give it a copy, and keep the strings (second half of the
     * array) for as long as the process lives. */
    args = calloc(2 * (size_t)argc + 1, sizeof(*args));
    if (!args) {
        dpdk_set_err(err, errlen, "out of memory");
        return ENOMEM;
    }
    for (int i = 0; i < argc; i++) {
        args[i] = strdup(argv[i] ? argv[i] : "");
        if (!args[i]) {
            while (i--)
                free(args[i]);
            free(args);
            dpdk_set_err(err, errlen, "out of memory");
            return ENOMEM;
        }
        args[argc + 1 + i] = args[i];
    }
    /* EAL's logs go to stderr like ours (its default is stdout + syslog),
     * at our level unless --log-level says otherwise. */
    rte_openlog_stream(stderr);
    rte_log_set_global_level(eal_log_level());
    eal_args = args;
    eal_argc = argc;
    ret = rte_eal_init(argc, args);
    if (ret < 0) {
        int e = rte_errno > 0 ? rte_errno : EINVAL;
        snprintf(eal_error, sizeof(eal_error),
                 "rte_eal_init failed: %s (check dpdk.eal_init; EAL initialises once per process, so "
                 "this process cannot retry)",
                 rte_strerror(e));
        eal_result = e;
        dpdk_set_err(err, errlen, "%s", eal_error);
        return e;
    }
    eal_result = 0;
    return 0;
}

int dpdk_first_port(uint16_t *port)
{
    uint16_t p;

    RTE_ETH_FOREACH_DEV(p)
    {
        *port = p;
        return 0;
    }
    return ENODEV;
}

/* ---- the mbuf pool as a dbuf pool ------------------------------------------ */

/* One per process, like EAL itself. */
static struct dpdk_mem g_mem;

struct dpdk_mem *dpdk_mem_of(const struct mem *m)
{
    return g_mem.pool && g_mem.pool == &m->pools[MEM_SMALL] ? &g_mem : NULL;
}

static const struct dbuf_pool_ops mbuf_pool_ops;

static struct dbuf *mbuf_pool_alloc(struct dbuf_pool *p)
{
    struct dpdk_mem *dm = p->priv;
    struct rte_mbuf *m = rte_mbuf_raw_alloc(dm->mp);
    struct dbuf *d;

    if (unlikely(!m)) {
        p->alloc_failures++;
        return NULL;
    }
    /* Only our cache line is written here; the mbuf's own fields are set
     * when (if) it is transmitted. */
    d = mbuf_dbuf(m);
    d->data = d->buf + DBUF_HEADROOM;
    d->len = 0;
    d->size = m->buf_len;
    d->refcnt = 1;
    d->flags = 0;
    d->pool = p;
    d->next = NULL;
    d->parent = NULL;
    p->nfree--;
    return d;
}

static void mbuf_pool_release(struct dbuf_pool *p, struct dbuf *d)
{
    p->nfree++;
    /* One segment only: a head mbuf given to the device earlier may still
     * point at its (already freed) segments. DPDK's own references (indirect
     * mbufs in flight) keep the mbuf out of the pool until they are gone. */
    rte_pktmbuf_free_seg(dbuf_mbuf(d));
}

/* The run holding address @a (between its first mbuf and its end), or NULL. */
static const struct obj_run *mbuf_run_of(const struct dpdk_mem *dm, uintptr_t a)
{
    uint32_t lo = 0, hi = dm->nruns;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct obj_run *r = &dm->runs[mid];
        if (a < r->first)
            hi = mid;
        else if (a >= r->end)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static struct dbuf *mbuf_pool_lookup(const struct dbuf_pool *p, const void *ptr)
{
    const struct dpdk_mem *dm = p->priv;
    uintptr_t m = (uintptr_t)ptr - sizeof(struct rte_mbuf);
    const struct obj_run *r = mbuf_run_of(dm, (uintptr_t)ptr);
    struct dbuf *d;

    if (!r || m < r->first || m > r->last || (m - r->first) % r->stride != 0)
        return NULL;
    d = (struct dbuf *)(uintptr_t)ptr;
    return d->refcnt > 0 && d->pool == p ? d : NULL;
}

static bool mbuf_pool_owns(const struct dbuf_pool *p, const void *ptr)
{
    return mbuf_run_of(p->priv, (uintptr_t)ptr) != NULL;
}

static void mbuf_pool_fini(struct dbuf_pool *p)
{
    struct dpdk_mem *dm = p->priv;

    /* The mempool stays: ports and rings may hold its mbufs. */
    if (dm->pool == p)
        dm->pool = NULL;
}

static const struct dbuf_pool_ops mbuf_pool_ops = {
    .alloc = mbuf_pool_alloc,
    .release = mbuf_pool_release,
    .lookup = mbuf_pool_lookup,
    .owns = mbuf_pool_owns,
    .fini = mbuf_pool_fini,
};

bool dpdk_dbuf_is_mbuf(const struct dbuf *d)
{
    while (d->parent)
        d = d->parent;
    return d->pool && d->pool->ops == &mbuf_pool_ops;
}

uint16_t dpdk_dbuf_mbuf_refcnt(const struct dbuf *d)
{
    return rte_mbuf_refcnt_read(dbuf_mbuf(d));
}

uint32_t dpdk_mbufs_out(void)
{
    return g_mem.mp ? rte_mempool_in_use_count(g_mem.mp) : 0;
}

/* Object addresses of the mempool, collected to build the runs. */
struct obj_collect {
    uintptr_t *addr;
    uint32_t n, cap;
};

static void obj_collect_cb(struct rte_mempool *mp, void *opaque, void *obj, unsigned idx)
{
    struct obj_collect *c = opaque;

    (void)mp;
    (void)idx;
    if (c->n < c->cap)
        c->addr[c->n++] = (uintptr_t)obj;
}

/* Our part of each mbuf's initialisation: a free dbuf in the priv area. */
static void obj_init_dbuf(struct rte_mempool *mp, void *opaque, void *obj, unsigned idx)
{
    struct dbuf *d = mbuf_dbuf(obj);

    (void)mp;
    (void)opaque;
    (void)idx;
    memset(d, 0, sizeof(*d));
    d->size = ((struct rte_mbuf *)obj)->buf_len;
}

static int cmp_uintptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* The runs of @mp's @count objects into *@out (*@nout of them). Objects
 * follow each other every header + element + trailer bytes; where the pool
 * skipped a page boundary, or between memory chunks, a new run starts. */
static int build_runs(struct rte_mempool *mp, uint32_t count, struct obj_run **out, uint32_t *nout)
{
    struct obj_collect c = {.cap = count};
    size_t elt = mp->elt_size, step = (size_t)mp->header_size + mp->elt_size + mp->trailer_size;
    struct obj_run *runs;
    uint32_t n = 0;

    c.addr = malloc(sizeof(*c.addr) * count);
    runs = malloc(sizeof(*runs) * (count ? count : 1)); /* the worst case: one run per object */
    if (!c.addr || !runs) {
        free(c.addr);
        free(runs);
        return ENOMEM;
    }
    rte_mempool_obj_iter(mp, obj_collect_cb, &c);
    qsort(c.addr, c.n, sizeof(*c.addr), cmp_uintptr);
    for (uint32_t i = 0; i < c.n; i++) {
        uintptr_t a = c.addr[i];
        struct obj_run *r = n ? &runs[n - 1] : NULL;
        if (r && a - r->last == step) {
            r->stride = step;
            r->last = a;
            r->end = a + elt;
        } else {
            runs[n++] = (struct obj_run){.first = a, .last = a, .end = a + elt, .stride = 1};
        }
    }
    free(c.addr);
    log_debug("dpdk: mbuf pool %s: %u objects of %zu B in %u run(s)", mp->name, c.n, elt, n);
    *out = runs;
    *nout = n;
    return 0;
}

/* A pktmbuf pool whose private area is a struct dbuf. Built like
 * rte_pktmbuf_pool_create(), but without the page-boundary rule when IOVA
 * is VA (always contiguous then): with --no-huge's 4 KiB pages that rule
 * would put one 2.4 KiB mbuf per page. */
static struct rte_mempool *mbuf_mempool_create(const char *name, uint32_t n, uint16_t data_room)
{
    struct rte_pktmbuf_pool_private priv = {
        .mbuf_data_room_size = data_room,
        .mbuf_priv_size = sizeof(struct dbuf),
    };
    unsigned flags = rte_eal_iova_mode() == RTE_IOVA_VA ? RTE_MEMPOOL_F_NO_IOVA_CONTIG : 0;
    unsigned elt = sizeof(struct rte_mbuf) + sizeof(struct dbuf) + data_room;
    unsigned cache = MIN(MBUF_CACHE, n / 2);
    struct rte_mempool *mp;
    int ret;

    mp = rte_mempool_create_empty(name, n, elt, cache, sizeof(priv), (int)rte_socket_id(), flags);
    if (!mp)
        return NULL;
    ret = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
    if (ret) {
        rte_mempool_free(mp);
        rte_errno = -ret;
        return NULL;
    }
    rte_pktmbuf_pool_init(mp, &priv);
    ret = rte_mempool_populate_default(mp);
    if (ret < 0 || (uint32_t)ret != n) {
        rte_mempool_free(mp);
        rte_errno = ret < 0 ? -ret : ENOMEM;
        return NULL;
    }
    rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
    rte_mempool_obj_iter(mp, obj_init_dbuf, NULL);
    /* The layout everything here relies on. */
    {
        struct rte_mbuf *m = rte_mbuf_raw_alloc(mp);
        bool ok = m && mbuf_dbuf(m)->buf == (uint8_t *)m->buf_addr && m->buf_len == data_room;
        if (m)
            rte_mbuf_raw_free(m);
        if (!ok) {
            rte_mempool_free(mp);
            rte_errno = EINVAL;
            return NULL;
        }
    }
    return mp;
}

int dpdk_mem_attach(struct mem *m, uint32_t count, uint32_t slack, uint32_t frame_max, char *err, size_t errlen)
{
    struct dpdk_mem *dm = &g_mem;
    uint32_t n = count + slack;
    /* Cache-line multiples, so every mbuf's data stays aligned. */
    uint32_t room = MAX(MBUF_DATA_ROOM_MIN, DBUF_HEADROOM + ((frame_max + 63u) & ~63u));
    size_t elt = sizeof(struct rte_mbuf) + sizeof(struct dbuf) + room;
    int ret;

    if (eal_result != 0) {
        dpdk_set_err(err, errlen, "EAL is not initialised");
        return EINVAL;
    }
    if (dm->pool) {
        dpdk_set_err(err, errlen, "the mbuf pool already backs another struct mem");
        return EBUSY;
    }
    if (room > UINT16_MAX) {
        dpdk_set_err(err, errlen, "frames of %u bytes do not fit one mbuf (at most %u)", frame_max,
                     UINT16_MAX - DBUF_HEADROOM);
        return EINVAL;
    }
    /* A pool of other mbufs (a later demi_init with another MTU) is
     * replaced like one too small. */
    if (!dm->mp || dm->count < n || dm->data_room != room) {
        char name[RTE_MEMPOOL_NAMESIZE], iname[RTE_MEMPOOL_NAMESIZE];
        struct rte_mempool *mp, *ind;
        uint32_t nind = 2 * DPDK_TX_DESC + 2 * MBUF_CACHE, nruns = 0;
        struct obj_run *runs = NULL;

        snprintf(name, sizeof(name), "demi_mbuf%u", dm->generation);
        snprintf(iname, sizeof(iname), "demi_ind%u", dm->generation);
        mp = mbuf_mempool_create(name, n, (uint16_t)room);
        if (!mp) {
            dpdk_set_err(err, errlen,
                         "cannot create the mbuf pool (%u mbufs of %zu B, %zu MiB): %s; give EAL more "
                         "memory (-m MB in dpdk.eal_init with --no-huge, else hugepages) or lower "
                         "libdemi.pool_small_count",
                         n, elt, (size_t)n * elt >> 20, rte_strerror(rte_errno));
            return ENOMEM;
        }
        ind = rte_pktmbuf_pool_create(iname, nind, MBUF_CACHE, 0, 0, (int)rte_socket_id());
        ret = ind ? build_runs(mp, n, &runs, &nruns) : ENOMEM;
        if (ret) {
            dpdk_set_err(err, errlen, "cannot create the indirect mbuf pool (%u mbufs): %s", nind,
                         ind ? strerror(ret) : rte_strerror(rte_errno));
            rte_mempool_free(ind);
            rte_mempool_free(mp);
            return ENOMEM;
        }
        /* An older, smaller pool stays: a port may still hold its mbufs. */
        free(dm->runs);
        dm->runs = runs;
        dm->nruns = nruns;
        dm->mp = mp;
        dm->ind = ind;
        dm->count = n;
        dm->data_room = room;
        dm->generation++;
    }
    /* Our buffers may use every mbuf; what the ports hold is not counted. */
    ret = mem_set_class_pool(m, MEM_SMALL, &mbuf_pool_ops, dm, dm->data_room - DBUF_HEADROOM, dm->count);
    if (ret) {
        dpdk_set_err(err, errlen, "cannot switch the small buffer class to mbufs: %s", strerror(ret));
        return ret;
    }
    dm->pool = &m->pools[MEM_SMALL];
    return 0;
}
