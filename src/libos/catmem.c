/* SPDX-License-Identifier: MIT */
/*
 * catmem.c: shared-memory pipes between processes (<demi/pipe.h>), as a libOS
 * that lives beside the network one (or alone, LIBOS=catmem).
 *
 * A pipe is one POSIX shared memory object, /dev/shm/demi-pipe-NAME:
 *
 *   [struct cm_shm: magic, sizes, pids, flags, two rings' counters][ring 0][ring 1]
 *
 * Ring 0 carries the creator's messages to the opener, ring 1 the other way
 * (mem/shmring.h: lock-free SPSC, message boundaries kept). Push copies the
 * message into the ring and completes; pop copies the oldest one out into a
 * buffer of ours and completes. Nothing on that path makes a syscall, takes
 * a lock or allocates beyond the pop's buffer.
 *
 * Zero-copy (demi_pipe_sgaalloc): the application writes its message into a
 * record reserved in place in the outgoing ring, and its push only publishes
 * it (flagged SHMRING_F_ZC). The reader hands such a record out in place: an
 * sga whose bytes are the ring's, whose space goes back to the writer when
 * the application frees it. Both are "views": dbuf headers of our own
 * (private memory, so the peer cannot touch them) registered with rt.mem as
 * an extra pool, whose data points into the mapping and whose parent is the
 * mapping's anchor, a dbuf that keeps the mapping alive while views exist.
 *
 * Who is there: each end holds an open-file-description lock (F_OFD_SETLK)
 * on one byte of the object, byte 0 the creator, byte 1 the opener. The
 * kernel drops it when the process dies, however it dies, before it even
 * becomes a zombie, and pids cannot be reused into a false "alive". Checking
 * the peer's byte (F_OFD_GETLK) is a syscall, so it is done only while an op
 * waits and at most every catmem.peer_check_us. A graceful close sets a flag
 * in the segment instead, seen on the next poll without a syscall.
 *
 * Creation is atomic: the creator builds, locks and fills the object under a
 * private temporary name, then link()s it to its real name, which fails if
 * the name exists. So every object an opener can see is complete and has a
 * live creator's lock unless that creator is gone; one whose creator's byte
 * is free is stale and is removed (by the next create or open of that name;
 * catmem_shm.c, also for demi-config --clean-shm).
 */
#include "libos/catmem_int.h"

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"
#include "mem/shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Demikernel's programs name pipes freely ("%s:rx", from argv), and the name
 * ends up as one file name under /dev/shm after CATMEM_SHM_PREFIX, so only
 * what cannot be part of that name, or would make it ambiguous, is refused:
 * '/' (a directory), '~' (our temporary names, catmem_shm.c), control
 * characters (unprintable in messages and ls), and lengths that leave no room
 * for the prefix and the temporary suffix within NAME_MAX. */
const char *catmem_name_problem(const char *name)
{
    size_t n = 0;

    for (; name[n]; n++) {
        unsigned char c = (unsigned char)name[n];
        if (n == CATMEM_NAME_MAX)
            return "longer than 128 bytes";
        if (c == '/')
            return "contains '/'";
        if (c == '~')
            return "contains '~' (reserved for libdemi's temporary names)";
        if (c < 0x20 || c == 0x7f)
            return "contains a control character";
    }
    return n > 0 ? NULL : "empty";
}

bool catmem_name_ok(const char *name)
{
    return catmem_name_problem(name) == NULL;
}

static const struct libos_ops catmem_ops;

/* ---- liveness: one lock byte per side (catmem_shm.c) -------------------- */

int cm_peer_state(struct cm_pipe *p, bool probe)
{
    int peer = 1 - p->side;

    if (atomic_load_explicit(&p->shm->closed[peer], memory_order_acquire))
        return EPIPE;
    if (!probe)
        return 0;
    /* The creator waits for its opener as a listener waits for a client. */
    if (p->side == CM_CREATOR && !atomic_load_explicit(&p->shm->opened, memory_order_acquire))
        return 0;
    if (cm_lock_held(p->fd, peer))
        return 0;
    /* A close sets the flag before it drops the lock. */
    if (atomic_load_explicit(&p->shm->closed[peer], memory_order_acquire))
        return EPIPE;
    return ECONNRESET;
}

bool cm_probe_due(struct cm_pipe *p, uint64_t now)
{
    if (now < p->next_check_ns)
        return false;
    p->next_check_ns = now + cm_of(p)->check_ns;
    return true;
}

/*
 * No room in the outgoing ring. Waiting makes sense while the peer may
 * still read; a peer that closed, died or broke the ring never will. Every
 * way of waiting for room asks here: pushes pending in the poll loop, and
 * demi_pipe_sgaalloc, whose EAGAIN leaves nothing pending for the poll
 * loop to probe (a writer that only retries it would otherwise never learn
 * its reader died).
 */
int cm_tx_stalled(struct cm_pipe *p, bool probe)
{
    int st;

    if (!p->push_err && shmring_broken(&p->tx)) {
        log_err("catmem: pipe %s: the peer (pid %d) moved its read position where none can be; the pipe is dead",
                p->name, (int)p->shm->pid[1 - p->side]);
        p->push_err = EPROTO;
    }
    if (!p->push_err && (st = cm_peer_state(p, probe)) != 0)
        p->push_err = st;
    return p->push_err;
}

/* ---- creating, opening, closing ----------------------------------------- */

static void cm_pipe_free(struct cm_pipe *p)
{
    if (p->map) {
        /* Views out keep the memory; the last one's free unmaps it. */
        p->map->pipe = NULL;
        dbuf_put(&p->map->anchor);
    }
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static struct cm_pipe *cm_pipe_new(struct catmem *cm, const char *name)
{
    struct cm_pipe *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->fd = -1;
    p->q.qd = -1;
    p->q.kind = QUEUE_PIPE;
    p->q.libos = &cm->base;
    list_init(&p->pops);
    list_init(&p->pushes);
    list_init(&p->active);
    snprintf(p->name, sizeof(p->name), "%s", name);
    return p;
}

/* Map the object behind p->fd and attach to its rings as @side. */
static int cm_map(struct cm_pipe *p, uint64_t ring_size, int side)
{
    struct catmem *cm = cm_of(p);
    struct cm_map *m;
    struct cm_shm *s;
    uint8_t *base;
    size_t len = CM_HDR_SIZE + 2 * ring_size;

    m = aligned_alloc(64, (sizeof(*m) + 63) & ~(size_t)63); /* C11: a multiple of the alignment */
    if (!m)
        return ENOMEM;
    memset(m, 0, sizeof(*m));
    /* Populated now, so the data path takes no page faults. */
    base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        free(m);
        return err;
    }
    m->anchor.pool = &cm->views; /* its release (refcnt 0) unmaps */
    m->anchor.refcnt = 1;        /* the pipe's */
    m->base = base;
    m->len = len;
    m->pipe = p;
    p->map = m;
    p->shm = s = (struct cm_shm *)base;
    p->side = (uint8_t)side;
    p->max_msg = MIN(shmring_max_msg(ring_size), MEM_HUGE_SIZE);
    /* Only the creator can have left counters off a record boundary. */
    if (!shmring_attach(&p->tx, &s->ring[side], base + CM_HDR_SIZE + (uint64_t)side * ring_size, ring_size, true) ||
        !shmring_attach(&p->rx, &s->ring[1 - side], base + CM_HDR_SIZE + (uint64_t)(1 - side) * ring_size, ring_size,
                        false)) {
        log_err("catmem: pipe %s: the creator (pid %d) left impossible ring counters", p->name,
                (int)s->pid[CM_CREATOR]);
        return EPROTO;
    }
    return 0;
}

int catmem_pipe_create(struct libos *los, const char *name, struct queue **q_out)
{
    struct catmem *cm = container_of(los, struct catmem, base);
    char path[sizeof(CATMEM_SHM_PREFIX) + CATMEM_NAME_MAX];
    char tmp[sizeof(path) + 32], from[sizeof(CATMEM_SHM_DIR) + sizeof(tmp)], to[sizeof(from)];
    struct cm_pipe *p;
    int ret, tries;

    p = cm_pipe_new(cm, name);
    if (!p)
        return ENOMEM;
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", name);
    /* '~' is not allowed in pipe names: no temporary name is a pipe's. */
    snprintf(tmp, sizeof(tmp), "%s~%d~%u", path, (int)getpid(), cm->seq++);
    snprintf(from, sizeof(from), CATMEM_SHM_DIR "%s", tmp);
    snprintf(to, sizeof(to), CATMEM_SHM_DIR "%s", path);

    p->fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        ret = errno;
        log_err("demi_create_pipe %s: cannot create %s: %s", name, from, strerror(ret));
        goto fail;
    }
    ret = cm_lock(p->fd, CM_CREATOR);
    if (ret == 0 && ftruncate(p->fd, (off_t)(CM_HDR_SIZE + 2 * cm->ring_size)) < 0)
        ret = errno;
    if (ret == 0)
        ret = cm_map(p, cm->ring_size, CM_CREATOR);
    if (ret) {
        log_err("demi_create_pipe %s: cannot set up %s (%" PRIu64 " bytes): %s", name, from,
                (uint64_t)(CM_HDR_SIZE + 2 * cm->ring_size), strerror(ret));
        shm_unlink(tmp);
        goto fail;
    }
    p->shm->version = CM_VERSION;
    p->shm->hdr_size = CM_HDR_SIZE;
    p->shm->ring_size = cm->ring_size;
    p->shm->pid[CM_CREATOR] = (int32_t)getpid();
    atomic_store_explicit(&p->shm->magic, CM_MAGIC, memory_order_release);

    /* Publish under the real name; link() never replaces an existing one.
     * One there whose creator is gone is stale: remove it and retry. One
     * that is not a libdemi pipe is someone else's: never removed. */
    for (tries = 0; tries < CM_CREATE_TRIES; tries++) {
        struct cm_shm old;
        int fd;
        ret = link(from, to) == 0 ? 0 : errno;
        if (ret != EEXIST)
            break;
        fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
            continue; /* removed meanwhile: try again (ret stays EEXIST) */
        if (cm_hdr_read(fd, &old) != 0) {
            close(fd);
            log_warn("demi_create_pipe %s: %s is not a libdemi pipe of this version (%u); not removing it", name, to,
                     CM_VERSION);
            break;
        }
        if (cm_lock_held(fd, CM_CREATOR)) {
            close(fd);
            break; /* a live pipe of that name */
        }
        cm_reap(path, fd, 1);
        close(fd);
    }
    shm_unlink(tmp);
    if (ret != 0) {
        if (ret == EEXIST)
            log_info("demi_create_pipe %s: a live pipe of that name exists", name);
        else
            log_err("demi_create_pipe %s: cannot link %s: %s", name, to, strerror(ret));
        goto fail;
    }
    /* A creator of this name killed between making its temporary object and
     * linking it (a few µs) left NAME~PID~N: the next creator cleans up. */
    {
        struct catmem_clean res;
        char tmp_prefix[CATMEM_NAME_MAX + 2];
        snprintf(tmp_prefix, sizeof(tmp_prefix), "%s~", name);
        catmem_shm_clean(tmp_prefix, false, NULL, &res);
    }
    *q_out = &p->q;
    return 0;

fail:
    cm_pipe_free(p);
    return ret;
}

int catmem_pipe_open(struct libos *los, const char *name, struct queue **q_out)
{
    struct catmem *cm = container_of(los, struct catmem, base);
    char path[sizeof(CATMEM_SHM_PREFIX) + CATMEM_NAME_MAX];
    struct cm_shm hdr;
    struct cm_pipe *p;
    int ret;

    p = cm_pipe_new(cm, name);
    if (!p)
        return ENOMEM;
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", name);
    p->fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (p->fd < 0) {
        ret = errno;
        if (ret != ENOENT)
            log_err("demi_open_pipe %s: cannot open %s%s: %s", name, CATMEM_SHM_DIR, path, strerror(ret));
        goto fail;
    }
    /* Read the header with pread first: a foreign or truncated object must
     * not make us map (or trust) sizes it states. */
    if ((ret = cm_hdr_read(p->fd, &hdr)) != 0) {
        log_err("demi_open_pipe %s: %s%s is not a libdemi pipe of this version (%u)", name, CATMEM_SHM_DIR, path,
                CM_VERSION);
        ret = EPROTO;
        goto fail;
    }
    if (!cm_lock_held(p->fd, CM_CREATOR)) {
        cm_reap(path, p->fd, 1);
        ret = ENOENT; /* its creator is gone: there is no pipe */
        goto fail;
    }
    if (cm_lock(p->fd, CM_OPENER) != 0) {
        log_info("demi_open_pipe %s: the pipe already has its opener", name);
        ret = EBUSY;
        goto fail;
    }
    if ((ret = cm_map(p, hdr.ring_size, CM_OPENER)) != 0) {
        log_err("demi_open_pipe %s: cannot map it: %s", name, strerror(ret));
        goto fail;
    }
    if (atomic_load_explicit(&p->shm->opened, memory_order_acquire)) {
        log_info("demi_open_pipe %s: the pipe was opened before (a pipe connects once)", name);
        ret = EBUSY;
        goto fail;
    }
    if (atomic_load_explicit(&p->shm->closed[CM_CREATOR], memory_order_acquire)) {
        ret = ENOENT; /* closed by its creator, name not yet removed */
        goto fail;
    }
    p->shm->pid[CM_OPENER] = (int32_t)getpid();
    atomic_store_explicit(&p->shm->opened, 1, memory_order_release);
    *q_out = &p->q;
    return 0;

fail:
    cm_pipe_free(p);
    return ret;
}

static void cm_activate(struct cm_pipe *p)
{
    if (!list_linked(&p->active))
        list_add_tail(&cm_of(p)->active, &p->active);
}

void cm_complete(struct demi_op *op, demi_opcode_t opc, int err)
{
    if (opc == DEMI_OPC_PUSH && op->u.push.buf) {
        dbuf_put(op->u.push.buf);
        op->u.push.buf = NULL;
    }
    op_complete(&rt.ops, op, err ? DEMI_OPC_FAILED : opc, err);
}

static void cm_cancel_list(struct list_node *head)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, head) {
        struct demi_op *op = list_entry(pos, struct demi_op, link);
        cm_complete(op, op->qr.qr_opcode, ECANCELED);
    }
}

static int cm_close(struct queue *q)
{
    struct cm_pipe *p = cm_pipe(q);

    cm_cancel_list(&p->pops);
    cm_cancel_list(&p->pushes);
    list_del(&p->active);
    /* Completed pushes are in the ring: the peer reads them, then EOF. */
    atomic_store_explicit(&p->shm->closed[p->side], 1, memory_order_release);
    if (p->side == CM_CREATOR) {
        char path[sizeof(CATMEM_SHM_PREFIX) + CATMEM_NAME_MAX];
        snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", p->name);
        /* We hold the creator's byte: the name is still ours. An opener
         * keeps its mapping; the memory goes with the last one. */
        shm_unlink(path);
    }
    cm_pipe_free(p);
    return 0;
}

/* ---- push -------------------------------------------------------------- */

/* Pushes waiting for room, in order. Returns how many completed. */
static int cm_progress_pushes(struct cm_pipe *p, bool probe)
{
    int n = 0, st;

    while (!list_empty(&p->pushes)) {
        struct demi_op *op = list_entry(list_first(&p->pushes), struct demi_op, link);
        if (!p->push_err && (st = cm_peer_state(p, probe)) != 0)
            p->push_err = st;
        if (p->push_err) {
            cm_complete(op, DEMI_OPC_PUSH, p->push_err);
        } else if (shmring_push(&p->tx, op->u.push.ptr, op->u.push.len)) {
            cm_complete(op, DEMI_OPC_PUSH, 0);
        } else if (cm_tx_stalled(p, false)) {
            continue; /* the ring is broken: fails at the top */
        } else {
            break;
        }
        probe = false;
        n++;
    }
    return n;
}

static int cm_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                   const struct inet_sockaddr *dest)
{
    struct cm_pipe *p = cm_pipe(q);
    const void *buf = sga->sga_segs[0].sgaseg_buf;
    uint32_t len = sga->sga_segs[0].sgaseg_len;

    (void)dest;
    if (d && cm_is_view(cm_of(p), d) && cm_view(d)->kind == CM_VIEW_TX)
        return cm_push_zc(p, op, cm_view(d), buf, len);
    if (len > p->max_msg)
        return EMSGSIZE;
    /* The reservation sits at the tail: nothing may be published before it
     * is pushed or freed (a record's place is fixed when it is reserved). */
    if (p->resv)
        return EBUSY;
    /* A peer that closed reads nothing more: fail as a socket would. The
     * flag's line is written once per pipe, so this load stays cached. */
    if (!p->push_err && atomic_load_explicit(&p->shm->closed[1 - p->side], memory_order_acquire))
        p->push_err = EPIPE;
    if (p->push_err) {
        cm_complete(op, DEMI_OPC_PUSH, p->push_err);
        return 0;
    }
    if (list_empty(&p->pushes) && shmring_push(&p->tx, buf, len)) {
        cm_complete(op, DEMI_OPC_PUSH, 0);
        return 0;
    }
    /* No room: wait, unless the peer broke the ring (that needs no
     * syscall; its death is probed from the poll loop while we wait). */
    if (cm_tx_stalled(p, false)) {
        cm_complete(op, DEMI_OPC_PUSH, p->push_err);
        return 0;
    }
    /* Full: wait for room. Our buffer stays alive even if the application
     * frees it (free-protection); foreign memory is the caller's to keep. */
    op->u.push.ptr = buf;
    op->u.push.len = len;
    if (d) {
        dbuf_ref(d);
        op->u.push.buf = d;
    }
    list_add_tail(&p->pushes, &op->link);
    cm_activate(p);
    return 0;
}

/* ---- pop --------------------------------------------------------------- */

static void cm_pop_done(struct demi_op *op, struct dbuf *d)
{
    op->qr.qr_value.sga.sga_buf = dbuf_app_handout(d);
    op->qr.qr_value.sga.sga_numsegs = 1;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_buf = d->data;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_len = d->len;
    cm_complete(op, DEMI_OPC_POP, 0);
}

/* Complete @op with the next message, EOF or the pipe's error; EAGAIN when
 * there is nothing yet. A liveness syscall only when @probe. */
static int cm_pop_one(struct cm_pipe *p, struct demi_op *op, bool probe)
{
    const uint8_t *payload;
    struct dbuf *d;
    uint32_t len, flags;
    int st = 0;

    for (int pass = 0; pass < 2; pass++) {
        if (p->err) {
            cm_complete(op, DEMI_OPC_POP, p->err);
            return 0;
        }
        if (p->eof) {
            d = dbuf_alloc(&rt.mem.pools[MEM_SMALL]);
            if (!d)
                goto nomem;
            cm_pop_done(op, d); /* end of stream: a real, zero-length sga */
            return 0;
        }
        switch (shmring_peek_flags(&p->rx, p->max_msg, &payload, &len, &flags)) {
        case SHMRING_MSG:
            if ((flags & SHMRING_F_ZC) && (d = cm_pop_view(p, payload, len)) != NULL) {
                cm_pop_done(op, d);
                return 0;
            }
            d = mem_alloc(&rt.mem, len);
            if (!d)
                goto nomem; /* the message stays in the ring */
            memcpy(d->data, payload, len);
            shmring_consume(&p->rx, len);
            if (p->zc_first == p->zc_next)
                shmring_publish_head(&p->rx, shmring_read_pos(&p->rx));
            cm_pop_done(op, d);
            return 0;
        case SHMRING_CORRUPT:
            log_err("catmem: pipe %s: the peer (pid %d) wrote a malformed ring; the pipe is dead", p->name,
                    (int)p->shm->pid[1 - p->side]);
            p->err = EPROTO;
            cm_complete(op, DEMI_OPC_POP, p->err);
            return 0;
        case SHMRING_EMPTY:
            break;
        }
        if (pass == 1)
            break;
        /* Empty. A peer that closed or died may have published its last
         * messages just before: look once more after seeing it gone. */
        st = cm_peer_state(p, probe);
        if (st == 0)
            return EAGAIN;
    }
    if (st == EPIPE) {
        p->eof = true;
    } else {
        log_info("catmem: pipe %s: the peer (pid %d) is gone", p->name, (int)p->shm->pid[1 - p->side]);
        p->err = ECONNRESET;
    }
    return cm_pop_one(p, op, false);

nomem:
    log_warn("catmem: pop on qd %d: buffer pools exhausted", p->q.qd);
    cm_complete(op, DEMI_OPC_POP, ENOMEM);
    return 0;
}

static int cm_progress_pops(struct cm_pipe *p, bool probe)
{
    int n = 0;

    while (!list_empty(&p->pops)) {
        struct demi_op *op = list_entry(list_first(&p->pops), struct demi_op, link);
        if (cm_pop_one(p, op, probe) == EAGAIN)
            break;
        probe = false;
        n++;
    }
    return n;
}

static int cm_pop(struct queue *q, struct demi_op *op)
{
    struct cm_pipe *p = cm_pipe(q);

    if (list_empty(&p->pops) && cm_pop_one(p, op, false) == 0)
        return 0;
    list_add_tail(&p->pops, &op->link);
    cm_activate(p);
    return 0;
}

/* ---- the libOS --------------------------------------------------------- */

static int cm_poll(struct libos *los)
{
    struct catmem *cm = container_of(los, struct catmem, base);
    struct list_node *pos, *tmp;
    int n = 0;

    list_for_each_safe (pos, tmp, &cm->active) {
        struct cm_pipe *p = list_entry(pos, struct cm_pipe, active);
        bool probe = cm_probe_due(p, clock_now_ns()); /* the round's cached clock */
        n += cm_progress_pushes(p, probe);
        n += cm_progress_pops(p, probe);
        if (list_empty(&p->pops) && list_empty(&p->pushes))
            list_del(&p->active);
    }
    return n;
}

static bool cm_has_waiters(struct libos *los)
{
    return !list_empty(&container_of(los, struct catmem, base)->active);
}

/* demi_create_pipe / demi_open_pipe: the name checked here, where the
 * rule lives (catmem_name_problem), then the pipe. */
static int cm_pipe_queue(struct libos *los, const char *name, bool create, struct queue **q_out)
{
    const char *why = catmem_name_problem(name);

    if (why) {
        log_warn("%s: bad pipe name: %s (expected 1..%d bytes, no '/', '~' or control characters)",
                 create ? "demi_create_pipe" : "demi_open_pipe", why, CATMEM_NAME_MAX);
        return EINVAL;
    }
    return create ? catmem_pipe_create(los, name, q_out) : catmem_pipe_open(los, name, q_out);
}

static void cm_destroy(struct libos *los)
{
    struct catmem *cm = container_of(los, struct catmem, base);

    /* rt_shutdown closed every pipe before: only views may be left. */
    cm_views_fini(cm);
    free(cm);
}

static const struct libos_ops catmem_ops = {
    .name = "catmem",
    /* Pipes only: no socket calls (the api answers ENOTSUP). */
    .close = cm_close,
    .push = cm_push,
    .pop = cm_pop,
    .pipe = cm_pipe_queue,
    .sgaalloc = catmem_sgaalloc,
    .poll = cm_poll,
    .block = NULL, /* nothing to sleep on: polled */
    .has_waiters = cm_has_waiters,
    .destroy = cm_destroy,
};

int catmem_create(const struct demi_config *cfg, struct libos **out)
{
    struct catmem *cm;

    if (!shmring_size_ok(cfg->catmem_ring_size)) {
        log_err("catmem.ring_size: expected a power of two in %u..%u, got %u", SHMRING_MIN_SIZE, SHMRING_MAX_SIZE,
                cfg->catmem_ring_size);
        return EINVAL;
    }
    cm = calloc(1, sizeof(*cm));
    if (!cm)
        return ENOMEM;
    cm->base.ops = &catmem_ops;
    cm->ring_size = cfg->catmem_ring_size;
    cm->check_ns = (uint64_t)cfg->catmem_peer_check_us * 1000u;
    list_init(&cm->active);
    if (cm_views_init(cm) != 0) {
        free(cm);
        return ENOMEM;
    }
    *out = &cm->base;
    return 0;
}

int catmem_instance(struct libos **out)
{
    struct libos *los;
    int ret;

    for (int i = 0; i < rt.nlibos; i++) {
        if (rt.libos[i]->ops == &catmem_ops) {
            *out = rt.libos[i];
            return 0;
        }
    }
    ret = catmem_create(&rt.cfg, &los);
    if (ret)
        return ret;
    ret = rt_add_libos(los);
    if (ret) {
        cm_destroy(los);
        return ret;
    }
    *out = los;
    return 0;
}
