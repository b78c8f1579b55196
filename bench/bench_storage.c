/* SPDX-License-Identifier: MIT */
/*
 * bench_storage: durable appends to a log, through libdemi's storage queues
 * (<demi/storage.h>, LIBOS=cattree unless LIBOS is set) or through plain
 * pwrite(2) + fdatasync(2) per record: the baseline an application writes
 * without libdemi. bench/storage.sh runs both next to fio and prints the
 * table of `make bench`.
 *
 * libdemi: demi_creat makes a fresh log in DIR; records of SIZE bytes are
 * pushed from demi_sgaalloc buffers.
 *   - depth 1: push, wait, push, ...: each push's latency;
 *   - depth N: N pushes kept in flight (demi_wait_next_n), a new one made
 *     as each completes: appends/s, and each push's latency from demi_push
 *     to its completion.
 * pwrite: a file in DIR laid out as libdemi lays out its log (fallocate in
 * 64 MiB steps, ahead of the writes), SIZE bytes written at the end with
 * pwrite and made durable with fdatasync, one record at a time; its
 * "depth" is always 1 (the calls block).
 *
 * Each measurement warms up for a quarter of a second (the first
 * fallocate, the journal) and is then timed for SECS seconds, or until
 * 1000000 records; percentiles are nearest-rank. Output, one line each:
 *   bench_storage: RESULT impl=libdemi|pwrite size=B depth=N records=R
 *     secs=S per_s=X p50_ns=.. p99_ns=.. mean_ns=.. writes=W zero_copy=Z
 * where writes counts the writes that reached the file (libdemi: the
 * counter cattree_writes, a group's chain of linked writes counting one;
 * R / W is the group commit's records per write) and zero_copy the records
 * written from the application's buffer (cattree_zero_copy).
 * The files are removed at the end.
 *
 *   build/bench/bench_storage [--dir DIR] [--secs S] [--depth N]
 *                             [--impl libdemi|pwrite|both] [--copy] [SIZE...]
 *   (defaults: /var/tmp, 2 s, 32, both, 64 4096 65536)
 * --copy pushes from malloc'd memory instead, which libdemi copies into its
 * stage (demi_sgaalloc buffers of 8 KiB or more are written in place: see
 * docs/cattree.md): the two write paths side by side.
 */
#define _GNU_SOURCE /* fallocate */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/stats.h>
#include <demi/storage.h>
#include <demi/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 256
#define MAX_SIZES 8
#define MAX_RECORDS 1000000u
#define WARMUP_NS 250000000ull
#define PREALLOC (64ull << 20) /* cattree.prealloc_mib's default */

static const char *dir = "/var/tmp";
static double secs = 2.0;
static int copy; /* --copy: push from malloc'd memory, not demi_sgaalloc's */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_storage: %s: %s\n", what, strerror(err));
    exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One measurement: the latencies of the pushes made in its window, the
 * appends completed in it (pushes made before it included), its bounds. */
struct run {
    uint64_t *lat;
    uint32_t n;
    uint64_t done;
    uint64_t t0, t1;
    uint64_t writes;
    uint64_t zero_copy; /* libdemi: records written from the app's buffer */
};

static void record(struct run *r, uint64_t ns)
{
    if (r->n < MAX_RECORDS)
        r->lat[r->n++] = ns;
}

static void report(const char *impl, size_t size, int depth, struct run *r)
{
    double s = (double)(r->t1 - r->t0) / 1e9, mean = 0;

    if (r->n == 0) {
        fprintf(stderr, "bench_storage: %s %zu B: no record completed\n", impl, size);
        exit(1);
    }
    for (uint32_t i = 0; i < r->n; i++)
        mean += (double)r->lat[i];
    mean /= r->n;
    qsort(r->lat, r->n, sizeof(r->lat[0]), cmp_u64);
    printf("bench_storage: RESULT impl=%s size=%zu depth=%d records=%u secs=%.3f per_s=%.0f p50_ns=%llu "
           "p99_ns=%llu mean_ns=%.0f writes=%llu zero_copy=%llu\n",
           impl, size, depth, r->n, s, (double)r->done / s, (unsigned long long)r->lat[(r->n - 1) / 2],
           (unsigned long long)r->lat[(uint64_t)(r->n - 1) * 99 / 100], mean, (unsigned long long)r->writes,
           (unsigned long long)r->zero_copy);
    fflush(stdout);
}

static void file_path(char *buf, size_t cap, const char *impl, size_t size, int depth)
{
    snprintf(buf, cap, "%s/bench-storage-%d-%s-%zu-%d.log", dir, (int)getpid(), impl, size, depth);
}

/* ---- libdemi ------------------------------------------------------------- */

static uint64_t counter(const char *name)
{
    uint64_t v = 0;
    int ret = demi_stats_counter(name, &v);
    if (ret)
        die(name, ret);
    return v;
}

static void push(demi_qtoken_t *qt, int qd, const demi_sgarray_t *sga)
{
    int ret = demi_push(qt, qd, sga);
    if (ret)
        die("demi_push", ret);
}

static void push_done(const demi_qresult_t *qr)
{
    if (qr->qr_opcode != DEMI_OPC_PUSH)
        die("push completed", qr->qr_opcode == DEMI_OPC_FAILED ? (int)qr->qr_ret : EPROTO);
}

/* One push in flight: its buffer is sga[its index]. */
struct slot {
    demi_qtoken_t qt;
    uint64_t start;
    int busy;
};

static void bench_libdemi(size_t size, int depth, struct run *r)
{
    demi_sgarray_t sga[MAX_DEPTH];
    struct slot slot[MAX_DEPTH];
    char path[512];
    int qd, ret, inflight = 0;
    uint64_t warm_end, end, w0 = 0, z0 = 0;
    int measuring = 0;

    file_path(path, sizeof(path), "libdemi", size, depth);
    ret = demi_creat(&qd, path, 0600);
    if (ret)
        die(path, ret);
    for (int i = 0; i < depth; i++) {
        if (copy) {
            memset(&sga[i], 0, sizeof(sga[i]));
            sga[i].sga_numsegs = 1;
            sga[i].sga_segs[0].sgaseg_buf = malloc(size);
            sga[i].sga_segs[0].sgaseg_len = (uint32_t)size;
            if (!sga[i].sga_segs[0].sgaseg_buf)
                die("malloc", ENOMEM);
        } else {
            sga[i] = demi_sgaalloc(size);
            if (sga[i].sga_numsegs != 1)
                die("demi_sgaalloc", ENOMEM);
        }
        memset(sga[i].sga_segs[0].sgaseg_buf, 'a' + i % 26, size);
        slot[i].busy = 0;
    }
    r->n = 0;
    warm_end = now_ns() + WARMUP_NS;
    end = warm_end + (uint64_t)(secs * 1e9);
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= warm_end) {
            measuring = 1;
            r->t0 = t;
            w0 = counter("cattree_writes");
            z0 = counter("cattree_zero_copy");
        }
        /* Keep @depth pushes in flight until the time is up, then drain. */
        if (t < end && r->n < MAX_RECORDS) {
            for (int i = 0; i < depth && inflight < depth; i++) {
                if (slot[i].busy)
                    continue;
                slot[i].start = now_ns();
                push(&slot[i].qt, qd, &sga[i]);
                slot[i].busy = 1 + measuring; /* 2: counted */
                inflight++;
            }
        }
        if (inflight == 0)
            break;
        demi_qresult_t qr[MAX_DEPTH];
        int n = 0;
        if (depth == 1) {
            ret = demi_wait(&qr[0], slot[0].qt, NULL);
            n = 1;
        } else {
            ret = demi_wait_next_n(qr, depth, &n, NULL);
        }
        if (ret)
            die("demi_wait", ret);
        t = now_ns();
        for (int k = 0; k < n; k++) {
            push_done(&qr[k]);
            int i = 0;
            while (i < depth && !(slot[i].busy && slot[i].qt == qr[k].qr_qt))
                i++;
            if (i == depth)
                die("a completion of no push of ours", EPROTO);
            if (measuring && t <= end) {
                r->done++;
                if (slot[i].busy == 2)
                    record(r, t - slot[i].start);
            }
            slot[i].busy = 0;
            inflight--;
        }
    }
    r->t1 = end;
    r->writes = counter("cattree_writes") - w0;
    r->zero_copy = counter("cattree_zero_copy") - z0;
    for (int i = 0; i < depth; i++) {
        if (copy)
            free(sga[i].sga_segs[0].sgaseg_buf);
        else
            demi_sgafree(&sga[i]);
    }
    ret = demi_close(qd);
    if (ret)
        die("demi_close", ret);
    unlink(path);
}

/* ---- pwrite + fdatasync -------------------------------------------------- */

static void bench_pwrite(size_t size, struct run *r)
{
    char path[512];
    char *buf = malloc(size);
    uint64_t off = 0, alloc = 0, warm_end, end;
    int fd, measuring = 0;

    if (!buf)
        die("malloc", ENOMEM);
    memset(buf, 'p', size);
    file_path(path, sizeof(path), "pwrite", size, 1);
    fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        die(path, errno);
    r->n = 0;
    r->writes = 0;
    warm_end = now_ns() + WARMUP_NS;
    end = warm_end + (uint64_t)(secs * 1e9);
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= warm_end) {
            measuring = 1;
            r->t0 = t;
        }
        if (t >= end || r->n >= MAX_RECORDS)
            break;
        /* As libdemi: the file grows by fallocate, ahead of the writes. */
        if (off + size > alloc) {
            if (fallocate(fd, 0, (off_t)alloc, (off_t)PREALLOC) != 0)
                die("fallocate", errno);
            alloc += PREALLOC;
        }
        if (pwrite(fd, buf, size, (off_t)off) != (ssize_t)size)
            die("pwrite", errno ? errno : EIO);
        if (fdatasync(fd) != 0)
            die("fdatasync", errno);
        off += size;
        if (measuring) {
            record(r, now_ns() - t);
            r->done++;
            r->writes++;
        }
    }
    r->t1 = now_ns();
    close(fd);
    unlink(path);
    free(buf);
}

/* ---- main ---------------------------------------------------------------- */

static const char usage[] = "usage: bench_storage [--dir DIR] [--secs S] [--depth N] [--impl libdemi|pwrite|both] "
                            "[--copy] [SIZE...]\n";

static long num(const char *s, long min, long max)
{
    char *e;
    long v;

    errno = 0;
    v = strtol(s ? s : "", &e, 10);
    if (!s || errno || *e || v < min || v > max) {
        fprintf(stderr, "bench_storage: bad number \"%s\" (%ld..%ld)\n%s", s ? s : "", min, max, usage);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    size_t sizes[MAX_SIZES] = {64, 4096, 65536};
    int nsizes = 0, depth = 32, do_demi = 1, do_pwrite = 1;
    struct run r;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc) {
            secs = (double)num(argv[++i], 1, 60);
        } else if (strcmp(argv[i], "--depth") == 0) {
            depth = (int)num(argv[++i], 1, MAX_DEPTH);
        } else if (strcmp(argv[i], "--copy") == 0) {
            copy = 1;
        } else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
            i++;
            do_demi = strcmp(argv[i], "pwrite") != 0;
            do_pwrite = strcmp(argv[i], "libdemi") != 0;
            if (!do_demi && !do_pwrite)
                die(argv[i], EINVAL);
        } else if (argv[i][0] != '-' && nsizes < MAX_SIZES) {
            sizes[nsizes++] = (size_t)num(argv[i], 1, DEMI_STORAGE_RECORD_MAX);
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (nsizes == 0)
        nsizes = 3;
    r.lat = malloc(MAX_RECORDS * sizeof(r.lat[0]));
    if (!r.lat)
        die("malloc", ENOMEM);
    if (do_demi) {
        struct demi_args args;
        int ret;

        setenv("LIBOS", "cattree", 0);
        memset(&args, 0, sizeof(args));
        ret = demi_init(&args);
        if (ret)
            die("demi_init", ret);
    }
    printf("# %s: durable appends, %.0f s each after %.2f s of warm-up\n", dir, secs, WARMUP_NS / 1e9);
    fflush(stdout);
    /* Alternated per size, so that a disk busy for a while (a shared
     * machine) weighs on both sides of each ratio. */
    for (int s = 0; s < nsizes; s++) {
        if (do_pwrite) {
            r.done = r.writes = r.zero_copy = r.t0 = r.t1 = 0;
            bench_pwrite(sizes[s], &r);
            report("pwrite", sizes[s], 1, &r);
        }
        if (do_demi) {
            int depths[2] = {1, depth};
            for (int d = 0; d < (depth > 1 ? 2 : 1); d++) {
                r.done = r.writes = r.zero_copy = r.t0 = r.t1 = 0;
                bench_libdemi(sizes[s], depths[d], &r);
                report("libdemi", sizes[s], depths[d], &r);
            }
        }
    }
    free(r.lat);
    return 0;
}
