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
 * is free is stale and is removed (by the next create or open of that name).
 */
#include "libos/catmem.h"

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

#define CM_MAGIC 0x657069702d696d65ull /* "emi-pipe" */
#define CM_VERSION 1u
#define CM_HDR_SIZE 4096u
#define CM_CREATOR 0
#define CM_OPENER 1
/* Attempts at creating a name that a stale object or a racing creator holds. */
#define CM_CREATE_TRIES 8
/* Zero-copy pops a pipe may have out at once; beyond, pops copy. */
#define CM_ZC_POPS 64u
/* View headers per process (zero-copy sgas out, all pipes together). */
#define CM_VIEWS 1024u

/* The head of the shared object. Both processes map it; layout is ABI
 * between libdemi builds of the same CM_VERSION. */
struct cm_shm {
    _Atomic uint64_t magic; /* CM_MAGIC once filled (before the link) */
    uint32_t version;
    uint32_t hdr_size;      /* where ring 0's bytes start */
    uint64_t ring_size;     /* bytes per direction, a power of two */
    int32_t pid[2];         /* creator, opener: for messages only */
    _Atomic uint32_t opened;    /* an opener attached (pipes connect once) */
    _Atomic uint32_t closed[2]; /* side closed gracefully: EOF after the data */
    struct shmring_ctl ring[2];
};
BUILD_BUG_ON(sizeof(struct cm_shm) > CM_HDR_SIZE);
BUILD_BUG_ON(offsetof(struct cm_shm, ring) % 128 != 0);

/* The two structs below begin with a struct dbuf, whose flexible buf[] they
 * never use: a header of our own for memory that is not a pool slot. GCC
 * allows a flexible-array struct as a first member (gnu11); clang warns. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif

/* One mapping of a pipe's object. The pipe holds one reference on the
 * anchor, every view one more: the memory goes when the last goes. */
struct cm_map {
    struct dbuf anchor;    /* first: 64-byte aligned like every dbuf */
    uint8_t *base;
    size_t len;
    struct cm_pipe *pipe;  /* NULL once the pipe is closed */
};

enum { CM_VIEW_TX = 1, CM_VIEW_RX };

/* A view: the dbuf an application's zero-copy sga names. */
struct cm_view {
    struct dbuf d;         /* first: sga_buf is its address, tagged */
    struct cm_map *map;
    uint32_t seq;          /* rx: its place in the pipe's FIFO of pops */
    uint8_t kind;          /* CM_VIEW_TX (a reservation) or CM_VIEW_RX */
    uint8_t pad_[51];
};
BUILD_BUG_ON(sizeof(struct cm_view) != 128);

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

struct catmem {
    struct libos base;
    uint64_t ring_size;
    uint64_t check_ns;
    struct list_node active; /* pipes with pending ops: what poll visits */
    uint32_t seq;            /* temporary names */
    struct dbuf_pool views;  /* registered with rt.mem: sgafree finds them */
    struct cm_view *vslots;  /* CM_VIEWS, 64-byte aligned */
    struct cm_view **vfree;  /* free stack */
};

struct cm_pipe {
    struct queue q;          /* first: the runtime sees a struct queue */
    struct shmring tx;       /* our messages to the peer */
    struct shmring rx;       /* the peer's to us */
    struct cm_shm *shm;
    struct cm_map *map;
    int fd;
    uint8_t side;            /* CM_CREATOR or CM_OPENER */
    bool eof;                /* peer closed and its data is drained */
    int err;                 /* sticky pop error: ECONNRESET, EPROTO */
    int push_err;            /* sticky push error: EPIPE, ECONNRESET */
    uint32_t max_msg;
    uint64_t next_check_ns;  /* next peer liveness syscall */
    struct list_node pops;   /* pending pops, FIFO */
    struct list_node pushes; /* pending pushes, in order */
    struct list_node active; /* on catmem.active while ops wait */
    struct cm_view *resv;    /* the outstanding zero-copy reservation */
    /* Zero-copy pops out, oldest first (free-running seqs): where each
     * record starts, and whether the application freed it. The ring's head
     * advances only over the freed prefix. */
    uint32_t zc_first, zc_next;
    uint64_t zc_start[CM_ZC_POPS];
    bool zc_freed[CM_ZC_POPS];
    char name[CATMEM_NAME_MAX + 1];
};

static const struct libos_ops catmem_ops;

static struct cm_pipe *cm_pipe(struct queue *q)
{
    return container_of(q, struct cm_pipe, q);
}

static struct catmem *cm_of(struct cm_pipe *p)
{
    return container_of(p->q.libos, struct catmem, base);
}

static struct cm_view *cm_view(struct dbuf *d)
{
    return container_of(d, struct cm_view, d);
}

/* Whether @d is one of @cm's views (not an anchor). */
static bool cm_is_view(const struct catmem *cm, const struct dbuf *d)
{
    const uint8_t *b = (const uint8_t *)d, *lo = (const uint8_t *)cm->vslots;
    return d->pool == &cm->views && b >= lo && b < lo + (size_t)CM_VIEWS * sizeof(struct cm_view);
}

bool catmem_name_ok(const char *name)
{
    size_t n = 0;

    for (; name[n]; n++) {
        char c = name[n];
        if (n == CATMEM_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/* ---- liveness: one lock byte per side ---------------------------------- */

static int cm_lock(int fd, int side)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = side, .l_len = 1};

    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* Whether some other open of the object holds @side's byte. */
static bool cm_lock_held(int fd, int side)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = side, .l_len = 1};

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return true; /* cannot tell: do not declare anyone dead */
    return fl.l_type != F_UNLCK;
}

/*
 * @fd is an open of the object named @path whose creator byte is free: no
 * live creator. Remove the name, unless it meanwhile names another object
 * (a new pipe of the same name). Taking the creator's byte first makes two
 * reapers of one stale object harmless to each other's successor: the loser
 * cannot lock it. Returns whether the name was removed.
 */
static bool cm_reap(const char *path, int fd)
{
    struct stat mine, now;
    int fd2;
    bool same;

    if (cm_lock(fd, CM_CREATOR) != 0)
        return false; /* a live creator after all */
    fd2 = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd2 < 0)
        return errno == ENOENT; /* gone already */
    same = fstat(fd, &mine) == 0 && fstat(fd2, &now) == 0 && mine.st_ino == now.st_ino &&
           mine.st_dev == now.st_dev;
    close(fd2);
    if (same) {
        log_info("catmem: removing stale pipe %s (its creator is gone)", path + 1);
        shm_unlink(path);
    }
    return same;
}

/* 0 while the peer is there; EPIPE once it closed; ECONNRESET once it died
 * (checked with a syscall only when @probe). */
static int cm_peer_state(struct cm_pipe *p, bool probe)
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

/* Whether a liveness check is due (at most every catmem.peer_check_us). */
static bool cm_probe_due(struct cm_pipe *p)
{
    uint64_t now = clock_now_ns();

    if (now < p->next_check_ns)
        return false;
    p->next_check_ns = now + cm_of(p)->check_ns;
    return true;
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
    shmring_attach(&p->tx, &s->ring[side], base + CM_HDR_SIZE + (uint64_t)side * ring_size, ring_size, true);
    shmring_attach(&p->rx, &s->ring[1 - side], base + CM_HDR_SIZE + (uint64_t)(1 - side) * ring_size,
                   ring_size, false);
    p->max_msg = MIN(shmring_max_msg(ring_size), MEM_HUGE_SIZE);
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

    /* Publish under the real name; link() never replaces an existing one. */
    for (tries = 0; tries < CM_CREATE_TRIES; tries++) {
        int fd;
        ret = link(from, to) == 0 ? 0 : errno;
        if (ret != EEXIST)
            break;
        fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0)
            continue; /* removed meanwhile: try again (ret stays EEXIST) */
        if (cm_lock_held(fd, CM_CREATOR)) {
            close(fd);
            break; /* a live pipe of that name */
        }
        cm_reap(path, fd);
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
    struct stat st;
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
    memset(&hdr, 0, sizeof(hdr));
    if (fstat(p->fd, &st) < 0 || st.st_size < (off_t)CM_HDR_SIZE ||
        pread(p->fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || hdr.magic != CM_MAGIC ||
        hdr.version != CM_VERSION || hdr.hdr_size != CM_HDR_SIZE || !shmring_size_ok(hdr.ring_size) ||
        (uint64_t)st.st_size < CM_HDR_SIZE + 2 * hdr.ring_size) {
        log_err("demi_open_pipe %s: %s%s is not a libdemi pipe of this version (%u)", name, CATMEM_SHM_DIR,
                path, CM_VERSION);
        ret = EPROTO;
        goto fail;
    }
    if (!cm_lock_held(p->fd, CM_CREATOR)) {
        cm_reap(path, p->fd);
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

static void cm_complete(struct demi_op *op, demi_opcode_t opc, int err)
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

    list_for_each_safe(pos, tmp, head) {
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
        } else {
            break;
        }
        probe = false;
        n++;
    }
    return n;
}

/* Push of the pipe's own reservation: publish it where it is. The push
 * takes the buffer, whatever its outcome: the application's sga is stale. */
static int cm_push_zc(struct cm_pipe *p, struct demi_op *op, struct cm_view *v, const void *buf, uint32_t len)
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

static int cm_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                   const struct sockaddr_in *dest)
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

/* Publish the ring's head: the read position, or the start of the oldest
 * zero-copy pop still out. */
static void cm_rx_publish(struct cm_pipe *p)
{
    while (p->zc_first != p->zc_next && p->zc_freed[p->zc_first % CM_ZC_POPS]) {
        p->zc_freed[p->zc_first % CM_ZC_POPS] = false;
        p->zc_first++;
    }
    shmring_publish_head(&p->rx, p->zc_first == p->zc_next ? shmring_read_pos(&p->rx)
                                                         : p->zc_start[p->zc_first % CM_ZC_POPS]);
}

/* A view of the record just peeked (@payload, @len), or NULL (too many out,
 * or no view header left): then the caller copies. */
static struct dbuf *cm_pop_view(struct cm_pipe *p, const uint8_t *payload, uint32_t len)
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
    /* Pushes waiting for room come first; so does the room itself. */
    if (!list_empty(&p->pushes) || !(buf = shmring_reserve(&p->tx, (uint32_t)size)))
        return EAGAIN;
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

    if (b < lo || b >= lo + (size_t)CM_VIEWS * sizeof(struct cm_view) ||
        (size_t)(b - lo) % sizeof(struct cm_view) != 0)
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

static int cm_views_init(struct catmem *cm)
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
static void cm_views_fini(struct catmem *cm)
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

/* ---- the libOS --------------------------------------------------------- */

static int cm_poll(struct libos *los)
{
    struct catmem *cm = container_of(los, struct catmem, base);
    struct list_node *pos, *tmp;
    int n = 0;

    list_for_each_safe(pos, tmp, &cm->active) {
        struct cm_pipe *p = list_entry(pos, struct cm_pipe, active);
        bool probe = cm_probe_due(p);
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

/* Pipes are not sockets: the api layer refuses the socket calls on a pipe
 * qd, and LIBOS=catmem has no sockets to create. */
static int cm_socket(struct libos *los, int domain, int type, int protocol, struct queue **q_out)
{
    (void)los, (void)domain, (void)type, (void)protocol, (void)q_out;
    log_err("demi_socket: LIBOS=catmem has pipes only (<demi/pipe.h>); pick a network libOS for sockets");
    return ENOTSUP;
}

static int cm_not_socket(void)
{
    return ENOTSUP;
}

static int cm_bind(struct queue *q, const struct sockaddr_in *a)
{
    (void)q, (void)a;
    return cm_not_socket();
}

static int cm_listen(struct queue *q, int backlog)
{
    (void)q, (void)backlog;
    return cm_not_socket();
}

static int cm_accept(struct queue *q, struct demi_op *op)
{
    (void)q, (void)op;
    return cm_not_socket();
}

static int cm_connect(struct queue *q, struct demi_op *op, const struct sockaddr_in *a)
{
    (void)q, (void)op, (void)a;
    return cm_not_socket();
}

static int cm_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    (void)q, (void)level, (void)optname, (void)optval, (void)optlen;
    return cm_not_socket();
}

static int cm_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    (void)q, (void)level, (void)optname, (void)optval, (void)optlen;
    return cm_not_socket();
}

static int cm_getpeername(struct queue *q, struct sockaddr_in *a)
{
    (void)q, (void)a;
    return cm_not_socket();
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
    .socket = cm_socket,
    .bind = cm_bind,
    .listen = cm_listen,
    .accept = cm_accept,
    .connect = cm_connect,
    .close = cm_close,
    .push = cm_push,
    .pop = cm_pop,
    .setsockopt = cm_setsockopt,
    .getsockopt = cm_getsockopt,
    .getpeername = cm_getpeername,
    .poll = cm_poll,
    .block = NULL, /* nothing to sleep on: polled */
    .has_waiters = cm_has_waiters,
    .destroy = cm_destroy,
};

int catmem_create(const struct demi_config *cfg, struct libos **out)
{
    struct catmem *cm;

    if (!shmring_size_ok(cfg->catmem_ring_size)) {
        log_err("catmem.ring_size: expected a power of two in %u..%u, got %u", SHMRING_MIN_SIZE,
                SHMRING_MAX_SIZE, cfg->catmem_ring_size);
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
