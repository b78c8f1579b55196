/* SPDX-License-Identifier: MIT */
/*
 * catmem_views.c: zero copy for pipes (demi_pipe_sgaalloc; see catmem.c's
 * header for the model). A reservation is a record written in place in the
 * outgoing ring; its push publishes it. The reader hands a zero-copy record
 * out as a view: a dbuf header of ours (private memory, registered with
 * rt.mem as an extra pool so demi_sgafree finds it) whose bytes are the
 * ring's; freeing it gives the space back, in ring order whatever the order
 * of the frees.
 */
#include "libos/catmem_int.h"

#include "core/clock.h"
#include "libos/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Push of the pipe's own reservation: publish it where it is. The push
 * takes the buffer, whatever its outcome: the application's sga is stale. */
int cm_push_zc(struct cm_pipe *p, struct demi_op *op, struct cm_view *v, const void *buf, uint32_t len)
{
    if (v != p->resv || buf != v->d.data || len > v->d.len)
        return EINVAL; /* another pipe's, or not at the reservation's start */
    if (v->d.refcnt != 1)
        return EBUSY; /* a socket push still reads it: the ring may not reuse it */
    if (!p->push_err && atomic_load_explicit(&p->shm->closed[1 - p->side], memory_order_acquire))
        p->push_err = EPIPE;
    if (!p->push_err)
        shmring_commit_flags(&p->tx, len, SHMRING_F_ZC);
    p->resv = NULL; /* published (or dropped on error): release must not cancel */
    v->d.flags &= (uint16_t)~DBUF_F_APP;
    dbuf_put(&v->d);
    cm_complete(op, DEMI_OPC_PUSH, p->push_err);
    return 0;
}

/* Publish the ring's head: the read position, or the start of the oldest
 * zero-copy pop still out. */
void cm_rx_publish(struct cm_pipe *p)
{
    while (p->zc_first != p->zc_next && p->zc_freed[p->zc_first % CM_ZC_POPS]) {
        p->zc_freed[p->zc_first % CM_ZC_POPS] = false;
        p->zc_first++;
    }
    shmring_publish_head(&p->rx,
                         p->zc_first == p->zc_next ? shmring_read_pos(&p->rx) : p->zc_start[p->zc_first % CM_ZC_POPS]);
}

/* A view of the record just peeked (@payload, @len), or NULL (too many out,
 * or no view header left): then the caller copies. */
struct dbuf *cm_pop_view(struct cm_pipe *p, const uint8_t *payload, uint32_t len)
{
    struct cm_view *v;
    struct dbuf *d;

    if (p->zc_next - p->zc_first >= CM_ZC_POPS || len == 0)
        return NULL;
    d = dbuf_alloc(&cm_of(p)->views);
    if (!d)
        return NULL;
    v = cm_view(d);
    v->map = p->map;
    v->kind = CM_VIEW_RX;
    v->seq = p->zc_next++;
    p->zc_start[v->seq % CM_ZC_POPS] = shmring_read_pos(&p->rx);
    p->zc_freed[v->seq % CM_ZC_POPS] = false;
    d->data = (uint8_t *)(uintptr_t)payload;
    d->len = len;
    d->parent = &p->map->anchor;
    dbuf_ref(d->parent);
    shmring_consume(&p->rx, len);
    return d;
}

/* ---- zero-copy: reservations and views --------------------------------- */

int catmem_sgaalloc(struct queue *q, size_t size, demi_sgarray_t *sga)
{
    struct cm_pipe *p = cm_pipe(q);
    struct cm_view *v;
    struct dbuf *d;
    void *buf;

    if (size == 0)
        return EINVAL;
    if (size > p->max_msg)
        return EMSGSIZE;
    if (p->resv)
        return EBUSY; /* one at a time: the ring publishes in order */
    if (!p->push_err && atomic_load_explicit(&p->shm->closed[1 - p->side], memory_order_acquire))
        p->push_err = EPIPE;
    if (p->push_err)
        return p->push_err;
    /* Pushes waiting for room come first; so does the room itself. No
     * room: EAGAIN while the reader may still make some. Nothing of ours
     * waits in the poll loop to find out that it never will, so look at it
     * here, at the poll loop's pace (a syscall at most every
     * catmem.peer_check_us; none while the ring has room). The clock is
     * read fresh: an application retrying this call may not poll, and the
     * runtime's cached clock then stands still. */
    if (!list_empty(&p->pushes) || !(buf = shmring_reserve(&p->tx, (uint32_t)size))) {
        int st = cm_tx_stalled(p, cm_probe_due(p, clock_fresh_ns()));
        return st ? st : EAGAIN;
    }
    /* Dropping the reservation needs nothing: it is not published. */
    d = dbuf_alloc(&cm_of(p)->views);
    if (!d)
        return ENOBUFS;
    v = cm_view(d);
    v->map = p->map;
    v->kind = CM_VIEW_TX;
    d->flags |= DBUF_F_RING;
    d->data = buf;
    d->len = (uint32_t)size;
    d->parent = &p->map->anchor;
    dbuf_ref(d->parent);
    p->resv = v;
    memset(sga, 0, sizeof(*sga));
    sga->sga_buf = dbuf_app_handout(d);
    sga->sga_numsegs = 1;
    sga->sga_segs[0].sgaseg_buf = d->data;
    sga->sga_segs[0].sgaseg_len = (uint32_t)size;
    return 0;
}

static struct dbuf *cm_view_alloc(struct dbuf_pool *pool)
{
    struct catmem *cm = container_of(pool, struct catmem, views);
    struct dbuf *d;

    if (pool->nfree == 0) {
        pool->alloc_failures++;
        return NULL;
    }
    d = &cm->vfree[--pool->nfree]->d;
    d->data = NULL;
    d->len = 0;
    d->size = 0;
    d->refcnt = 1;
    d->flags = 0;
    d->next = NULL;
    d->parent = NULL;
    return d; /* app_gen kept: the sga tag changes at every handout */
}

/* A view's last reference is gone (its parent, the anchor, is put right
 * after), or the anchor's: the mapping's last user left. */
static void cm_view_release(struct dbuf_pool *pool, struct dbuf *d)
{
    struct catmem *cm = container_of(pool, struct catmem, views);
    struct cm_view *v;
    struct cm_pipe *p;

    if (!cm_is_view(cm, d)) {
        struct cm_map *m = container_of(d, struct cm_map, anchor);
        munmap(m->base, m->len);
        free(m);
        return;
    }
    v = cm_view(d);
    p = v->map ? v->map->pipe : NULL;
    if (p && v->kind == CM_VIEW_TX && p->resv == v) {
        p->resv = NULL; /* freed unpushed: nothing was published */
    } else if (p && v->kind == CM_VIEW_RX) {
        p->zc_freed[v->seq % CM_ZC_POPS] = true;
        if (v->seq == p->zc_first)
            cm_rx_publish(p); /* a later one waits for the older ones */
    }
    v->map = NULL;
    cm->vfree[pool->nfree++] = v;
}

static struct dbuf *cm_view_lookup(const struct dbuf_pool *pool, const void *ptr)
{
    const struct catmem *cm = container_of(pool, const struct catmem, views);
    const uint8_t *b = ptr, *lo = (const uint8_t *)cm->vslots;
    struct dbuf *d;

    if (b < lo || b >= lo + (size_t)CM_VIEWS * sizeof(struct cm_view) || (size_t)(b - lo) % sizeof(struct cm_view) != 0)
        return NULL;
    d = (struct dbuf *)(uintptr_t)b;
    return d->refcnt > 0 ? d : NULL;
}

static bool cm_view_owns(const struct dbuf_pool *pool, const void *ptr)
{
    const struct catmem *cm = container_of(pool, const struct catmem, views);
    const uint8_t *b = ptr, *lo = (const uint8_t *)cm->vslots;

    return b >= lo && b < lo + (size_t)CM_VIEWS * sizeof(struct cm_view);
}

static const struct dbuf_pool_ops cm_view_ops = {
    .alloc = cm_view_alloc,
    .release = cm_view_release,
    .lookup = cm_view_lookup,
    .owns = cm_view_owns,
};

int cm_views_init(struct catmem *cm)
{
    int ret;

    cm->vslots = aligned_alloc(64, (size_t)CM_VIEWS * sizeof(struct cm_view));
    cm->vfree = calloc(CM_VIEWS, sizeof(*cm->vfree));
    if (!cm->vslots || !cm->vfree) {
        free(cm->vslots);
        free(cm->vfree);
        return ENOMEM;
    }
    memset(cm->vslots, 0, (size_t)CM_VIEWS * sizeof(struct cm_view));
    dbuf_pool_init_ops(&cm->views, "catmem-view", &cm_view_ops, cm, 0, CM_VIEWS);
    for (uint32_t i = 0; i < CM_VIEWS; i++) {
        cm->vslots[i].d.pool = &cm->views;
        cm->vfree[i] = &cm->vslots[CM_VIEWS - 1 - i];
    }
    ret = mem_add_pool(&rt.mem, &cm->views);
    if (ret) {
        free(cm->vslots);
        free(cm->vfree);
    }
    return ret;
}

/* At shutdown: views the application never freed go, and with them the
 * mappings they kept. */
void cm_views_fini(struct catmem *cm)
{
    for (uint32_t i = 0; i < CM_VIEWS; i++) {
        struct dbuf *d = &cm->vslots[i].d;
        if (d->refcnt > 0) {
            struct dbuf *anchor = d->parent;
            d->refcnt = 0;
            d->flags = 0;
            d->parent = NULL;
            if (anchor)
                dbuf_put(anchor);
        }
    }
    mem_remove_pool(&rt.mem, &cm->views);
    free(cm->vslots);
    free(cm->vfree);
}
