/* SPDX-License-Identifier: MIT */
/*
 * cattree.c: the storage libOS (<demi/storage.h>, docs/cattree.md): logs
 * opened and recovered, closed, polled with the other libOSes, counted.
 * LIBOS=cattree runs it alone; beside any other libOS it joins the runtime
 * at the first demi_creat or demi_open (rt_storage_libos). Appends and
 * reads are cattree_rw.c's.
 */
#include "core/clock.h"
#include "core/log.h"
#include "core/sigbuf.h"
#include "libos/cattree_int.h"
#include "libos/cattree_log.h"

#include <demi/storage.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const struct libos_ops cattree_ops;

/* ---- buffers -------------------------------------------------------------- */

static void *tree_map(struct cattree *t, size_t len, int *slot)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    *slot = uring_buf_register(t->dev, p, len);
    return p;
}

static void tree_unmap(struct cattree *t, void *p, size_t len, int slot)
{
    if (!p)
        return;
    uring_buf_unregister(t->dev, slot);
    munmap(p, len);
}

static void tree_log_free(struct tree_log *l)
{
    struct cattree *t = l->t;

    for (int i = 0; i < 2; i++)
        tree_unmap(t, l->st[i].buf, TREE_STAGE, l->st[i].slot);
    tree_unmap(t, l->rbuf, TREE_RBUF, l->rslot);
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    free(l);
}

int tree_pool_slot(struct cattree *t, const struct dbuf *d)
{
    for (int c = 0; c < MEM_NCLASSES; c++) {
        struct dbuf_pool *p = &rt.mem.pools[c];
        if (d->pool != p)
            continue;
        if (t->pool_slot[c] == -2) {
            /* Registering pins the whole pool: once, at the first push from
             * it. Without it (RLIMIT_MEMLOCK, over 1 GiB) its buffers are
             * still written without a copy, mapped per request. */
            t->pool_slot[c] = uring_buf_register(t->dev, p->base - p->lead, p->lead + p->map_len);
            log_info("cattree: the %s buffer pool (%zu MiB) is %s", p->name, (p->lead + p->map_len) >> 20,
                     t->pool_slot[c] >= 0 ? "registered with io_uring" : "not registered (mapped per write)");
        }
        return t->pool_slot[c];
    }
    return -1;
}

/* ---- opening and recovery -------------------------------------------------- */

static long tree_scan_read(void *ctx, uint64_t pos, uint8_t *buf, size_t cap)
{
    struct tree_log *l = ctx;
    ssize_t n = pread(l->fd, buf, cap, (off_t)tree_file_off(pos));

    return n < 0 ? -(long)errno : (long)n;
}

static int tree_write_sync(struct tree_log *l, const uint8_t *buf, size_t len, uint64_t off)
{
    ssize_t n = pwrite(l->fd, buf, len, (off_t)off);

    if (n < 0)
        return errno;
    if ((size_t)n != len)
        return EIO;
    return fdatasync(l->fd) ? errno : 0;
}

/* The file header with the log's (new) epoch, durable. */
static int tree_write_header(struct tree_log *l, uint64_t created_ns)
{
    log_file_hdr_encode(l->rbuf, l->epoch, created_ns); /* rbuf: aligned, free now */
    return tree_write_sync(l, l->rbuf, LOG_FILE_HDR, 0);
}

/* A torn or stale tail: zero what the last write of the crashed epoch may
 * have left after the end (a stage's bytes reach at most TREE_STAGE past
 * its start; zero-copy payloads can lie further, but their records carry
 * the crashed epoch, below the new one, so a scan stops at them as stale),
 * so the next records are followed by zeros again. The prefix of the end's
 * block is kept. */
static int tree_clear_tail(struct tree_log *l)
{
    uint64_t base = l->end & ~(uint64_t)(TREE_BLOCK - 1), upto = base + TREE_STAGE;
    int ret;

    if (upto > l->alloc)
        upto = l->alloc;
    if (upto <= base)
        return 0;
    memset(l->st[0].buf, 0, (size_t)(upto - base));
    if (l->end > base && pread(l->fd, l->st[0].buf, TREE_BLOCK, (off_t)tree_file_off(base)) < (ssize_t)(l->end - base))
        return errno ? errno : EIO; /* short only past the end of the file */
    memset(l->st[0].buf + (l->end - base), 0, TREE_BLOCK - (l->end - base));
    ret = tree_write_sync(l, l->st[0].buf, (size_t)(upto - base), tree_file_off(base));
    return ret;
}

static int tree_recover(struct tree_log *l, const struct log_file_hdr *hdr)
{
    struct log_scan sc;
    int ret;

    ret = log_scan(tree_scan_read, l, l->rbuf, TREE_RBUF, hdr->epoch, NULL, NULL, &sc);
    if (ret) {
        log_err("cattree: %s: cannot read the log: %s", l->path, strerror(ret));
        return ret;
    }
    l->end = sc.end;
    l->next_seq = sc.next_seq;
    if (sc.why == LOG_REC_TORN || sc.why == LOG_REC_STALE) {
        if (sc.why == LOG_REC_TORN)
            l->t->stats.cattree_torn_records++;
        else
            l->t->stats.cattree_stale_records++;
        log_warn("cattree: %s: %s record at position %llu (a write cut by a crash, never acknowledged): the log "
                 "ends there, after %llu record(s)",
                 l->path, sc.why == LOG_REC_TORN ? "a torn" : "an earlier epoch's", (unsigned long long)sc.end,
                 (unsigned long long)sc.records);
        if (l->can_write && (ret = tree_clear_tail(l)) != 0) {
            log_err("cattree: %s: cannot clear the torn tail: %s", l->path, strerror(ret));
            return ret;
        }
    }
    return 0;
}

/* The physical block size of the disk under @fd's file system, from sysfs
 * (the disk's, or for a partition its parent's); 0 when not known (no
 * block device: tmpfs, overlay, a network file system). */
static unsigned tree_physical_block(int fd)
{
    struct stat st;
    char path[96];

    if (fstat(fd, &st) != 0 || major(st.st_dev) == 0)
        return 0;
    for (int parent = 0; parent < 2; parent++) {
        unsigned v = 0;
        FILE *f;
        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%squeue/physical_block_size", major(st.st_dev),
                 minor(st.st_dev), parent ? "../" : "");
        f = fopen(path, "re");
        if (!f)
            continue;
        if (fscanf(f, "%u", &v) != 1)
            v = 0;
        fclose(f);
        if (v)
            return v;
    }
    return 0;
}

/* Zero-copy records are aligned to TREE_BLOCK: a write that ends with one
 * ends inside a larger physical block, which the disk reads, modifies and
 * writes (64 KiB records at depth 32: 3-8x slower than copying them into
 * the stage, on a 4 KiB disk; docs/cattree.md). */
static bool tree_zero_copy(struct tree_log *l)
{
    const char *mode = l->t->cfg->cattree_zero_copy;
    unsigned pbs;

    if (!l->direct || strcmp(mode, "off") == 0)
        return false;
    if (strcmp(mode, "on") == 0)
        return true;
    pbs = tree_physical_block(l->fd);
    if (pbs != TREE_BLOCK)
        log_info("cattree: %s: records copied, not written in place: the disk's physical block is %s%u bytes "
                 "(cattree.zero_copy auto)",
                 l->path, pbs ? "" : "not known; taken as ", pbs ? pbs : TREE_ALIGN);
    return pbs == TREE_BLOCK;
}

static int tree_open_fd(struct tree_log *l, int oflags, mode_t mode)
{
    l->direct = l->t->cfg->cattree_direct;
    l->fd = open(l->path, oflags | O_CLOEXEC | (l->direct ? O_DIRECT : 0), mode);
    if (l->fd < 0 && errno == EINVAL && l->direct) {
        /* tmpfs and a few others have no O_DIRECT. */
        l->direct = false;
        l->fd = open(l->path, oflags | O_CLOEXEC, mode);
        if (l->fd >= 0)
            log_info("cattree: %s: no O_DIRECT on this file system; buffered writes with RWF_DSYNC", l->path);
    }
    if (l->fd < 0)
        return errno;
    l->zero_copy = tree_zero_copy(l);
    return 0;
}

/* One writer per log: two would frame records over each other. The lock
 * is the open file's (flock), so it goes with the fd, a crash included. */
static int tree_lock(struct tree_log *l)
{
    if (!l->can_write || flock(l->fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK) {
        log_err("cattree: %s: the log is open for writing elsewhere (this or another process)", l->path);
        return EBUSY;
    }
    return errno;
}

static int tree_log_setup(struct tree_log *l, const char *path, int flags, mode_t mode, bool create)
{
    struct cattree *t = l->t;
    int acc = flags & O_ACCMODE, ret;

    l->fd = -1;
    l->st[0].slot = l->st[1].slot = l->rslot = -1;
    l->path = strdup(path);
    if (!l->path)
        return ENOMEM;
    l->can_read = acc != O_WRONLY;
    l->can_write = acc != O_RDONLY;
    l->dsync = !(flags & DEMI_O_NOSYNC);
    l->rbuf = tree_map(t, TREE_RBUF, &l->rslot);
    if (!l->rbuf)
        return ENOMEM;
    if (l->can_write) {
        for (int i = 0; i < 2; i++) {
            l->st[i].buf = tree_map(t, TREE_STAGE, &l->st[i].slot);
            if (!l->st[i].buf)
                return ENOMEM;
        }
    }
    tree_rw_init(l);

    if (create) {
        struct timespec now;
        if ((ret = tree_open_fd(l, O_RDWR | O_CREAT, mode)) != 0 || (ret = tree_lock(l)) != 0)
            return ret;
        if (ftruncate(l->fd, 0) != 0) /* as creat(2), once the log is ours */
            return errno;
        clock_gettime(CLOCK_REALTIME, &now);
        l->epoch = 1;
        return tree_write_header(l, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
    }

    struct log_file_hdr hdr;
    struct stat stt;
    ssize_t n;
    /* A writer reads too (the header, the recovery scan, the last block). */
    if ((ret = tree_open_fd(l, l->can_write ? O_RDWR : O_RDONLY, 0)) != 0)
        return ret;
    if (fstat(l->fd, &stt) != 0)
        return errno;
    if (S_ISDIR(stt.st_mode))
        return EISDIR;
    if ((ret = tree_lock(l)) != 0)
        return ret;
    n = pread(l->fd, l->rbuf, LOG_FILE_HDR, 0);
    if (n < 0)
        return errno;
    if ((ret = log_file_hdr_decode(l->rbuf, (size_t)n, &hdr)) != 0) {
        log_err("cattree: %s: %s", path,
                ret == ENOTSUP ? "a libdemi log of a version this libdemi does not read" : "not a libdemi log");
        return ret == ENOTSUP ? ENOTSUP : EILSEQ;
    }
    l->alloc = stt.st_size > (off_t)LOG_FILE_HDR ? (uint64_t)stt.st_size - LOG_FILE_HDR : 0;
    l->epoch = hdr.epoch;
    if ((ret = tree_recover(l, &hdr)) != 0)
        return ret;
    if (l->can_write) {
        /* A new epoch, durable before the first append of it. */
        l->epoch = hdr.epoch + 1;
        if ((ret = tree_write_header(l, hdr.created_ns)) != 0)
            return ret;
    }
    return 0;
}

/* The stage that takes the first appends: it starts with the end's block. */
static int tree_stage_init(struct tree_log *l)
{
    struct tree_stage *s = &l->st[0];

    s->base = l->end & ~(uint64_t)(TREE_ALIGN - 1);
    s->fill = (uint32_t)(l->end - s->base);
    if (s->fill && pread(l->fd, s->buf, TREE_ALIGN, (off_t)tree_file_off(s->base)) < (ssize_t)s->fill)
        return errno ? errno : EIO;
    return 0;
}

static int tree_storage_open(struct libos *los, const char *path, int flags, mode_t mode, bool create,
                             struct queue **q_out)
{
    struct cattree *t = container_of(los, struct cattree, base);
    struct tree_log *l = calloc(1, sizeof(*l));
    int ret;

    if (!l)
        return ENOMEM;
    l->t = t;
    l->q.kind = QUEUE_FILE;
    l->q.libos = los;
    ret = tree_log_setup(l, path, flags, mode, create);
    if (ret == 0 && l->can_write)
        ret = tree_stage_init(l);
    if (ret) {
        tree_log_free(l);
        return ret;
    }
    l->rpos = 0;
    l->rseq = 0;
    l->rseq_known = true;
    list_add_tail(&t->logs, &l->link);
    log_info("cattree: %s: %s (epoch %u): %llu bytes of records, %s%s%s", path, create ? "created" : "opened", l->epoch,
             (unsigned long long)l->end, l->direct ? "O_DIRECT" : "buffered", l->zero_copy ? ", zero-copy" : "",
             l->can_write ? (l->dsync ? ", durable appends" : ", appends not durable (DEMI_O_NOSYNC)") : "");
    *q_out = &l->q;
    return 0;
}

/* ---- the queue calls ---------------------------------------------------------- */

static int tree_close(struct queue *q)
{
    struct tree_log *l = (struct tree_log *)q;
    struct cattree *t = l->t;

    while (!list_empty(&l->pops))
        op_complete(&rt.ops, list_entry(list_first(&l->pops), struct demi_op, link), DEMI_OPC_FAILED, ECANCELED);
    /* Pushes made are committed before the file goes: drive the ring until
     * this log has nothing in flight (the device's latency, not a hang of
     * ours: every request completes or fails). */
    while (l->writing || l->reading || l->kick_pending || l->st[l->acc].nrec || !list_empty(&l->waiting)) {
        if (l->kick_pending)
            tree_kick(l);
        uring_dev_wait(t->dev, 1000000);
        if (!l->writing && !l->kick_pending)
            tree_kick(l);
        if (l->err) {
            tree_fail_pushes(l, l->err);
            if (!l->writing && !l->reading)
                break;
        }
    }
    list_del(&l->link);
    tree_log_free(l);
    return 0;
}

static int tree_lseek(struct queue *q, int64_t off, int whence)
{
    struct tree_log *l = (struct tree_log *)q;
    int64_t pos;

    if (!list_empty(&l->pops))
        return EBUSY;
    switch (whence) {
    case SEEK_SET:
        pos = off;
        break;
    case SEEK_CUR:
        if (__builtin_add_overflow((int64_t)l->rpos, off, &pos))
            return EINVAL;
        break;
    case SEEK_END:
        if (__builtin_add_overflow((int64_t)l->end, off, &pos))
            return EINVAL;
        break;
    default:
        return EINVAL;
    }
    if (pos < 0 || (uint64_t)pos > l->end || pos % LOG_REC_ALIGN)
        return EINVAL;
    l->rpos = (uint64_t)pos;
    l->rseq_known = pos == 0 || (uint64_t)pos == l->end;
    l->rseq = pos == 0 ? 0 : l->next_seq;
    return 0;
}

static int tree_tell(struct queue *q, uint64_t *pos_out)
{
    *pos_out = ((struct tree_log *)q)->rpos;
    return 0;
}

/* ---- the libOS ---------------------------------------------------------------- */

static int tree_poll(struct libos *los)
{
    struct cattree *t = container_of(los, struct cattree, base);
    struct list_node *node, *tmp;
    int n = uring_dev_poll(t->dev);

    /* A full ring left some write or read for later. */
    list_for_each_safe (node, tmp, &t->logs) {
        struct tree_log *l = list_entry(node, struct tree_log, link);
        if (l->kick_pending)
            tree_kick(l);
        if (!l->reading && !list_empty(&l->pops))
            tree_progress_pops(l);
    }
    return n;
}

static bool tree_has_waiters(struct libos *los)
{
    struct cattree *t = container_of(los, struct cattree, base);
    struct list_node *node, *tmp;

    if (uring_dev_inflight(t->dev))
        return true;
    list_for_each_safe (node, tmp, &t->logs) {
        if (tree_busy(list_entry(node, struct tree_log, link)))
            return true;
    }
    return false;
}

static int tree_block(struct libos *los, int64_t timeout_ns)
{
    struct cattree *t = container_of(los, struct cattree, base);

    if (!uring_dev_inflight(t->dev)) {
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
        nanosleep(&ts, NULL); /* nothing can complete: sleep the slice */
        return 0;
    }
    return uring_dev_wait(t->dev, timeout_ns);
}

static void tree_stats_print(struct libos *los, struct sigbuf *out)
{
    const struct tree_stats *s = &container_of(los, struct cattree, base)->stats;

#define TREE_STAT_PRINT(n, help) \
    sigbuf_str(out, "  ");       \
    sigbuf_pad(out, #n, 24);     \
    sigbuf_u64(out, s->n, 14);   \
    sigbuf_str(out, "\n");
    sigbuf_str(out, "  cattree (storage queues):\n");
    TREE_STATS(TREE_STAT_PRINT)
#undef TREE_STAT_PRINT
}

static int tree_counter(struct libos *los, const char *name, uint64_t *value)
{
    const struct tree_stats *s = &container_of(los, struct cattree, base)->stats;

#define TREE_STAT_FIND(n, help)  \
    if (strcmp(name, #n) == 0) { \
        *value = s->n;           \
        return 0;                \
    }
    TREE_STATS(TREE_STAT_FIND)
#undef TREE_STAT_FIND
    return ENOENT;
}

static void tree_destroy(struct libos *los)
{
    struct cattree *t = container_of(los, struct cattree, base);

    while (!list_empty(&t->logs))
        tree_close(&list_entry(list_first(&t->logs), struct tree_log, link)->q);
    for (int c = 0; c < MEM_NCLASSES; c++)
        if (t->pool_slot[c] >= 0)
            uring_buf_unregister(t->dev, t->pool_slot[c]);
    uring_dev_close(t->dev);
    free(t);
}

static const struct libos_ops cattree_ops = {
    .name = "cattree",
    /* Logs only: no socket calls (the api answers ENOTSUP). */
    .close = tree_close,
    .push = tree_push,
    .pop = tree_pop,
    .poll = tree_poll,
    .block = tree_block,
    .block_at_once = true,
    .has_waiters = tree_has_waiters,
    .stats = tree_stats_print,
    .counter = tree_counter,
    .storage_open = tree_storage_open,
    .lseek = tree_lseek,
    .tell = tree_tell,
    .destroy = tree_destroy,
};

int cattree_create(const struct demi_config *cfg, struct libos **out)
{
    struct uring_params p = {
        .entries = cfg->cattree_ring_entries,
        .sqpoll = cfg->cattree_sqpoll,
        .nbufs = 3 * TREE_MAX_FILES + MEM_NCLASSES,
        .fault_write_eio = cfg->cattree_fault_write_eio,
    };
    struct cattree *t = calloc(1, sizeof(*t));
    int ret;

    if (!t)
        return ENOMEM;
    ret = uring_dev_open(&p, &t->dev);
    if (ret) {
        log_err("cattree: io_uring is not available: %s%s", strerror(ret),
                ret == EPERM || ret == ENOSYS ? " (kernel.io_uring_disabled, or a seccomp filter of a container)" : "");
        free(t);
        return ret == EPERM || ret == ENOSYS ? ENOTSUP : ret;
    }
    t->cfg = cfg;
    t->base.ops = &cattree_ops;
    for (int c = 0; c < MEM_NCLASSES; c++)
        t->pool_slot[c] = -2;
    list_init(&t->logs);
    *out = &t->base;
    return 0;
}

int rt_storage_libos(struct libos **out)
{
    struct libos *los;
    int ret;

    for (int i = 0; i < rt.nlibos; i++) {
        if (rt.libos[i]->ops == &cattree_ops) {
            *out = rt.libos[i];
            return 0;
        }
    }
    ret = cattree_create(&rt.cfg, &los);
    if (ret)
        return ret;
    ret = rt_add_libos(los);
    if (ret) {
        tree_destroy(los);
        return ret;
    }
    *out = los;
    return 0;
}
