/* SPDX-License-Identifier: MIT */
/*
 * test_cattree.c: storage queues (<demi/storage.h>) through the public API,
 * on files in a temporary directory on the real disk (/var/tmp, O_DIRECT
 * where the file system has it): records of every size read back byte for
 * byte, many pushes in flight (group commit, completion in order), close and
 * reopen (appends continue the sequence, a new epoch), reads at EOF, the
 * read position (demi_lseek, demi_tell), a torn tail recovered, every error
 * the header promises, a close with pushes pending, DEMI_O_NOSYNC, and
 * storage tokens waited on together with a pipe's (and, on LIBOS=catloop,
 * a UDP socket's). Counters move as the records do; after each test every
 * buffer, op and qd is back.
 *
 * Run twice by meson: LIBOS=cattree (storage alone) and LIBOS=catloop (the
 * storage libOS joins the network one at the first demi_creat). Exit 77
 * (skip, with the reason) when libdemi has no storage queues here (built
 * without liburing, or io_uring refused by the kernel).
 *
 * Compiled with ATTR_NONNULL active, as an application is: NULL arguments go
 * through volatile pointers.
 */
#include "core/crc32c.h"
#include "libos/cattree_log.h"
#include "libos/runtime.h"

#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/stats.h>
#include <demi/storage.h>
#include <demi/wait.h>
#include <demi/ext.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec ten_s = {10, 0};
static const struct timespec short_wait = {0, 30 * 1000 * 1000};
static char dir[64];
static char *self_path;
static bool on_catloop;
static off_t *volatile null_off;
static int *volatile null_int;
static const char *volatile null_path;
/* Through pointers, which carry no nonnull attribute for UBSan to check. */
static int (*volatile tell_fn)(int, off_t *) = demi_tell;
static int (*volatile creat_fn)(int *, const char *, mode_t) = demi_creat;
static int (*volatile open_fn)(int *, const char *, int) = demi_open;

/* ---- helpers ----------------------------------------------------------- */

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + 1);
}

static uint32_t len_of(uint64_t seq, uint32_t max)
{
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    x ^= x >> 29;
    return 1 + (uint32_t)(x % max);
}

/* A file of the test directory: a name kept in one of 64 rotating
 * buffers, enough for every name a test holds at once. */
static const char *path_of(const char *name)
{
    static char buf[64][256];
    static unsigned n;
    char *p = buf[n++ % 64];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

static uint64_t counter(const char *name)
{
    uint64_t v = 0;
    int ret = demi_stats_counter(name, &v);
    if (ret)
        fail_msg("demi_stats_counter(%s): %s", name, strerror(ret));
    return v;
}

static demi_qresult_t wait_ok(demi_qtoken_t qt, demi_opcode_t want)
{
    demi_qresult_t qr;
    int ret = demi_wait(&qr, qt, &ten_s);
    if (ret)
        fail_msg("demi_wait: %s", strerror(ret));
    if (qr.qr_opcode != want)
        fail_msg("opcode %d, want %d (qr_ret %lld: %s)", qr.qr_opcode, want, (long long)qr.qr_ret,
                 strerror((int)qr.qr_ret));
    return qr;
}

/* The failure a completed op reports. */
static int wait_failed(demi_qtoken_t qt)
{
    demi_qresult_t qr;
    assert_int_equal(demi_wait(&qr, qt, &ten_s), 0);
    if (qr.qr_opcode != DEMI_OPC_FAILED)
        fail_msg("opcode %d, want DEMI_OPC_FAILED", qr.qr_opcode);
    return (int)qr.qr_ret;
}

static void fill(uint8_t *p, uint64_t seq, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = pat(seq, i);
}

/* Push record @seq of @len bytes from a buffer of ours, freed at once (the
 * header lets it go once submitted); its token. */
static demi_qtoken_t push_start(int qd, uint64_t seq, uint32_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;
    int ret;

    if (sga.sga_numsegs != 1)
        fail_msg("demi_sgaalloc(%u) failed", len);
    fill(sga.sga_segs[0].sgaseg_buf, seq, len);
    ret = demi_push(&qt, qd, &sga);
    if (ret)
        fail_msg("demi_push of record %llu (%u bytes): %s", (unsigned long long)seq, len, strerror(ret));
    assert_int_equal(demi_sgafree(&sga), 0);
    return qt;
}

static void push_rec(int qd, uint64_t seq, uint32_t len)
{
    wait_ok(push_start(qd, seq, len), DEMI_OPC_PUSH);
}

/* The same from the application's own memory, kept until completion. */
static void push_rec_malloc(int qd, uint64_t seq, uint32_t len)
{
    uint8_t *b = malloc(len);
    demi_sgarray_t sga;
    demi_qtoken_t qt;

    assert_non_null(b);
    fill(b, seq, len);
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = b;
    sga.sga_segs[0].sgaseg_len = len;
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    free(b);
}

static void check_sga(const demi_sgarray_t *sga, uint64_t seq, uint32_t len)
{
    const uint8_t *p = sga->sga_segs[0].sgaseg_buf;

    assert_int_equal(sga->sga_numsegs, 1);
    if (sga->sga_segs[0].sgaseg_len != len)
        fail_msg("record %llu: %u bytes, want %u", (unsigned long long)seq, sga->sga_segs[0].sgaseg_len, len);
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != pat(seq, i))
            fail_msg("record %llu byte %u: %02x, want %02x", (unsigned long long)seq, i, p[i], pat(seq, i));
}

static void pop_check(int qd, uint64_t seq, uint32_t len)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    check_sga(&qr.qr_value.sga, seq, len);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void pop_eof(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0); /* a real sga */
}

static int pop_fails(int qd)
{
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qd), 0);
    return wait_failed(qt);
}

static void close_ok(int qd)
{
    assert_int_equal(demi_close(qd), 0);
}

/* The file header as on disk: its epoch. */
static uint32_t file_epoch(const char *path)
{
    uint8_t b[LOG_FILE_HDR];
    struct log_file_hdr h;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
    close(fd);
    assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), 0);
    return h.epoch;
}

/* Every record of the file as log_scan sees it, independently of the libOS. */
struct file_scan {
    int fd;
    uint64_t n;
    uint64_t seq[2048];
    uint64_t pos[2048];
    uint32_t epoch[2048];
    uint32_t len[2048];
};

static long file_read(void *ctx, uint64_t pos, uint8_t *buf, size_t cap)
{
    struct file_scan *f = ctx;
    ssize_t n = pread(f->fd, buf, cap, (off_t)(pos + LOG_FILE_HDR));
    return n < 0 ? -(long)errno : (long)n;
}

static int file_visit(void *vctx, uint64_t pos, const struct log_rec *r)
{
    struct file_scan *f = vctx;
    if (f->n < 2048) {
        f->seq[f->n] = r->seq;
        f->pos[f->n] = pos;
        f->epoch[f->n] = r->epoch;
        f->len[f->n] = r->len;
    }
    f->n++;
    return 0;
}

static void file_scan(const char *path, struct file_scan *f, struct log_scan *s)
{
    size_t cap = (LOG_SCAN_BUF + 4095u) & ~(size_t)4095u;
    uint8_t *buf = aligned_alloc(4096, cap);

    assert_non_null(buf);
    memset(f, 0, sizeof(*f));
    f->fd = open(path, O_RDONLY);
    assert_true(f->fd >= 0);
    assert_int_equal(log_scan(file_read, f, buf, cap, file_epoch(path), file_visit, f, s), 0);
    close(f->fd);
    free(buf);
}

static uint64_t framed(uint32_t len)
{
    return log_framed_size(len);
}

/* ---- setup ------------------------------------------------------------- */

static uint32_t bufs_at_start, ops_free_at_start, qds_at_start;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int group_setup(void **state)
{
    (void)state;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (dir[0])
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    bufs_at_start = mem_in_use(&rt.mem);
    ops_free_at_start = rt.ops.nfree;
    qds_at_start = rt.qds.nused;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    assert_int_equal(rt.ops.nfree, ops_free_at_start);
    assert_int_equal(rt.qds.nused, qds_at_start);
    return 0;
}

/* ---- the tests --------------------------------------------------------- */

/* Sizes 1 to DEMI_STORAGE_RECORD_MAX, from our buffers and from the
 * application's memory, read back whole in order; one byte more: EMSGSIZE.
 * The counters count them. */
static void test_round_trip_sizes(void **state)
{
    static const uint32_t lens[] = {1, 7, 8, 4095, 4096, 65536, DEMI_STORAGE_RECORD_MAX};
    const size_t n = sizeof(lens) / sizeof(lens[0]);
    uint64_t appends = counter("cattree_appends"), abytes = counter("cattree_append_bytes");
    uint64_t pops = counter("cattree_pops"), pbytes = counter("cattree_pop_bytes");
    uint64_t writes = counter("cattree_writes"), total = 0;
    const char *path = path_of("sizes.log");
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    uint8_t *big;
    off_t pos;
    int qd;

    (void)state;
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    assert_int_equal(file_epoch(path), 1);
    for (size_t i = 0; i < n; i++) {
        push_rec(qd, i, lens[i]);
        push_rec_malloc(qd, 100 + i, lens[i]);
        total += 2ull * lens[i];
    }
    assert_true(counter("cattree_appends") == appends + 2 * n);
    assert_true(counter("cattree_append_bytes") == abytes + total);
    assert_true(counter("cattree_writes") >= writes + 1);
    assert_true(counter("cattree_writes") <= writes + 2 * n);

    /* One byte over the largest record: refused at once, no op taken. */
    big = calloc(1, DEMI_STORAGE_RECORD_MAX + 1);
    assert_non_null(big);
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = big;
    sga.sga_segs[0].sgaseg_len = DEMI_STORAGE_RECORD_MAX + 1;
    assert_int_equal(demi_push(&qt, qd, &sga), EMSGSIZE);
    sga.sga_segs[0].sgaseg_len = UINT32_MAX;
    assert_int_equal(demi_push(&qt, qd, &sga), EMSGSIZE);
    sga.sga_segs[0].sgaseg_len = 0;
    assert_int_equal(demi_push(&qt, qd, &sga), EINVAL);
    free(big);

    /* The queue from demi_creat reads from the first record. */
    assert_int_equal(demi_tell(qd, &pos), 0);
    assert_int_equal(pos, 0);
    for (size_t i = 0; i < n; i++) {
        pop_check(qd, i, lens[i]);
        pop_check(qd, 100 + i, lens[i]);
    }
    pop_eof(qd);
    assert_true(counter("cattree_pops") == pops + 2 * n);
    assert_true(counter("cattree_pop_bytes") == pbytes + total);
    close_ok(qd);

    /* And from another queue on the file. */
    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    for (size_t i = 0; i < n; i++) {
        pop_check(qd, i, lens[i]);
        pop_check(qd, 100 + i, lens[i]);
    }
    pop_eof(qd);
    close_ok(qd);
}

/* 1000 records, 32 pushes in flight: they complete, in the order made,
 * in far fewer writes than records (group commit). Reopened read-only,
 * every record comes back in order, then EOF, and EOF again. */
static void test_many_in_flight(void **state)
{
    enum { NREC = 1000, DEPTH = 32 };
    const char *path = path_of("many.log");
    uint64_t appends = counter("cattree_appends"), writes = counter("cattree_writes");
    demi_qtoken_t fifo[NREC];
    uint64_t head = 0, tail = 0, done_writes;
    demi_qresult_t qrs[DEPTH];
    struct file_scan *fs = malloc(sizeof(*fs));
    struct log_scan sc;
    int qd, got;

    (void)state;
    assert_non_null(fs);
    assert_int_equal(demi_creat(&qd, path, 0600), 0);
    while (tail < NREC) {
        while (head < NREC && head - tail < DEPTH) {
            fifo[head] = push_start(qd, head, len_of(head, 65536));
            head++;
        }
        if (tail < NREC / 2) {
            /* demi_wait_any over what is in flight: the oldest completes
             * first, so it is always the first in the list. */
            demi_qresult_t qr;
            int off = -1;
            assert_int_equal(demi_wait_any(&qr, &off, &fifo[tail], (int)(head - tail), &ten_s), 0);
            if (off != 0)
                fail_msg("push %llu completed before push %llu", (unsigned long long)(tail + (uint64_t)off),
                         (unsigned long long)tail);
            if (qr.qr_opcode != DEMI_OPC_PUSH)
                fail_msg("push %llu: opcode %d (%s)", (unsigned long long)tail, qr.qr_opcode, strerror((int)qr.qr_ret));
            tail++;
        } else {
            got = 0;
            assert_int_equal(demi_wait_next_n(qrs, DEPTH, &got, &ten_s), 0);
            assert_true(got >= 1 && got <= DEPTH);
            for (int i = 0; i < got; i++, tail++) {
                if (qrs[i].qr_qt != fifo[tail])
                    fail_msg("completion %d of a batch is not push %llu", i, (unsigned long long)tail);
                if (qrs[i].qr_opcode != DEMI_OPC_PUSH)
                    fail_msg("push %llu: opcode %d (%s)", (unsigned long long)tail, qrs[i].qr_opcode,
                             strerror((int)qrs[i].qr_ret));
            }
        }
    }
    assert_true(counter("cattree_appends") == appends + NREC);
    done_writes = counter("cattree_writes") - writes;
    print_message("%d records, %d in flight: %llu writes\n", NREC, DEPTH, (unsigned long long)done_writes);
    if (done_writes > NREC / 4)
        fail_msg("%llu writes for %d records 32 at a time: no group commit", (unsigned long long)done_writes, NREC);
    close_ok(qd);

    /* On disk, independently of the libOS: seq 0..999, epoch 1. */
    file_scan(path, fs, &sc);
    if (sc.records != NREC)
        fail_msg("on disk: %llu records, then %s at %llu; want %d", (unsigned long long)sc.records,
                 log_verdict_name(sc.why), (unsigned long long)sc.end, NREC);
    assert_int_equal(sc.why, LOG_REC_END);
    for (uint64_t i = 0; i < NREC; i++) {
        assert_true(fs->seq[i] == i);
        assert_int_equal(fs->epoch[i], 1);
    }

    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    for (uint64_t i = 0; i < NREC; i++)
        pop_check(qd, i, len_of(i, 65536));
    pop_eof(qd);
    pop_eof(qd);
    close_ok(qd);
    free(fs);
}

/* demi_lseek and demi_tell: positions from the first record, each record's
 * where the file has it (log_scan's account of the file); every whence; the
 * bounds; a position inside a record. Records from our buffers and from the
 * application's memory (copied: framed to 8 bytes). */
static void test_seek_tell(void **state)
{
    static const uint32_t lens[] = {10, 1, 4096, 300, 65536, 17, 5000, 24};
    enum { N = 8 };
    uint64_t at[N + 1];
    const char *path = path_of("seek.log");
    struct file_scan *fs = malloc(sizeof(*fs));
    struct log_scan sc;
    demi_qtoken_t qt;
    off_t pos;
    int qd, ro;

    (void)state;
    assert_non_null(fs);
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    for (int i = 0; i < N; i++) {
        if (i % 2)
            push_rec_malloc(qd, (uint64_t)i, lens[i]);
        else
            push_rec(qd, (uint64_t)i, lens[i]);
    }
    file_scan(path, fs, &sc);
    assert_true(sc.records == N);
    for (int i = 0; i < N; i++) {
        at[i] = fs->pos[i];
        assert_int_equal(fs->len[i], lens[i]);
        assert_int_equal(at[i] % 8, 0);
        if (i > 0)
            assert_true(at[i] - at[i - 1] >= framed(lens[i - 1]));
    }
    at[N] = sc.end;
    assert_true(at[N] - at[N - 1] >= framed(lens[N - 1]));

    for (int i = 0; i < N; i++) {
        assert_int_equal(demi_tell(qd, &pos), 0);
        if (pos != (off_t)at[i])
            fail_msg("record %d: demi_tell %lld, the file has it at %llu", i, (long long)pos,
                     (unsigned long long)at[i]);
        pop_check(qd, (uint64_t)i, lens[i]);
    }
    assert_int_equal(demi_tell(qd, &pos), 0);
    assert_int_equal(pos, (off_t)at[N]);
    pop_eof(qd);
    assert_int_equal(demi_tell(qd, &pos), 0); /* EOF does not move it */
    assert_int_equal(pos, (off_t)at[N]);

    /* SEEK_SET: to 0, and to every position demi_tell gave. */
    assert_int_equal(demi_lseek(qd, 0, SEEK_SET), 0);
    pop_check(qd, 0, lens[0]);
    for (int i = N - 1; i >= 0; i--) {
        assert_int_equal(demi_lseek(qd, (off_t)at[i], SEEK_SET), 0);
        assert_int_equal(demi_tell(qd, &pos), 0);
        assert_int_equal(pos, (off_t)at[i]);
        pop_check(qd, (uint64_t)i, lens[i]);
    }
    /* SEEK_END: the end, and back over the last record. */
    assert_int_equal(demi_lseek(qd, 0, SEEK_END), 0);
    assert_int_equal(demi_tell(qd, &pos), 0);
    assert_int_equal(pos, (off_t)at[N]);
    pop_eof(qd);
    assert_int_equal(demi_lseek(qd, -(off_t)(at[N] - at[N - 1]), SEEK_END), 0);
    pop_check(qd, N - 1, lens[N - 1]);
    assert_int_equal(demi_lseek(qd, -(off_t)at[N], SEEK_END), 0);
    pop_check(qd, 0, lens[0]);
    /* SEEK_CUR: over record 1 to record 2, then back to record 1. */
    assert_int_equal(demi_lseek(qd, (off_t)(at[2] - at[1]), SEEK_CUR), 0);
    pop_check(qd, 2, lens[2]);
    assert_int_equal(demi_lseek(qd, -(off_t)(at[3] - at[1]), SEEK_CUR), 0);
    pop_check(qd, 1, lens[1]);
    assert_int_equal(demi_lseek(qd, 0, SEEK_CUR), 0);
    pop_check(qd, 2, lens[2]);

    /* Refused, and the position stays where it was. */
    assert_int_equal(demi_lseek(qd, (off_t)at[3], SEEK_SET), 0);
    assert_int_equal(demi_lseek(qd, 0, 99), EINVAL);
    assert_int_equal(demi_lseek(qd, 0, -1), EINVAL);
    assert_int_equal(demi_lseek(qd, 0, SEEK_DATA), EINVAL);
    assert_int_equal(demi_lseek(qd, 0, SEEK_HOLE), EINVAL);
    assert_int_equal(demi_lseek(qd, -8, SEEK_SET), EINVAL);
    assert_int_equal(demi_lseek(qd, (off_t)at[N] + 8, SEEK_SET), EINVAL);
    assert_int_equal(demi_lseek(qd, 8, SEEK_END), EINVAL);
    assert_int_equal(demi_lseek(qd, -(off_t)at[N] - 8, SEEK_END), EINVAL);
    assert_int_equal(demi_lseek(qd, -(off_t)at[3] - 8, SEEK_CUR), EINVAL);
    assert_int_equal(demi_lseek(qd, (off_t)(at[N] - at[3]) + 8, SEEK_CUR), EINVAL);
    assert_int_equal(demi_lseek(qd, INT64_MAX, SEEK_CUR), EINVAL);
    assert_int_equal(demi_lseek(qd, INT64_MIN, SEEK_END), EINVAL);
    assert_int_equal(demi_lseek(qd, (off_t)at[1] + 4, SEEK_SET), EINVAL); /* not a multiple of 8 */
    assert_int_equal(demi_lseek(qd, 3, SEEK_CUR), EINVAL);
    assert_int_equal(demi_tell(qd, &pos), 0);
    assert_int_equal(pos, (off_t)at[3]);
    pop_check(qd, 3, lens[3]);
    assert_int_equal(tell_fn(qd, null_off), EINVAL);

    /* Inside a record (a multiple of 8, not a record's start): the pop
     * fails with EBADMSG; seeking to a record start recovers. Record 2's
     * payload (4096 bytes) is inside one read window; record 4 (64 KiB)
     * is one too. */
    for (uint64_t off = 8; off < at[3] - at[2]; off += 8 * 61) {
        assert_int_equal(demi_lseek(qd, (off_t)(at[2] + off), SEEK_SET), 0);
        assert_int_equal(pop_fails(qd), EBADMSG);
    }
    assert_int_equal(demi_lseek(qd, (off_t)(at[4] + 40000), SEEK_SET), 0);
    assert_int_equal(pop_fails(qd), EBADMSG);
    assert_int_equal(demi_lseek(qd, (off_t)at[N] - 8, SEEK_SET), 0); /* the last record's padding */
    assert_int_equal(pop_fails(qd), EBADMSG);
    assert_int_equal(demi_lseek(qd, (off_t)at[2], SEEK_SET), 0);
    pop_check(qd, 2, lens[2]);

    /* A pop pending (a fresh queue has read nothing yet): EBUSY. */
    assert_int_equal(demi_open(&ro, path, O_RDONLY), 0);
    assert_int_equal(demi_pop(&qt, ro), 0);
    assert_int_equal(demi_lseek(ro, 0, SEEK_SET), EBUSY);
    {
        demi_qresult_t qr = wait_ok(qt, DEMI_OPC_POP);
        check_sga(&qr.qr_value.sga, 0, lens[0]);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    assert_int_equal(demi_lseek(ro, 0, SEEK_SET), 0); /* nothing pending now */
    close_ok(ro);
    close_ok(qd);
    free(fs);
}

/* Closed and opened for writing again: appends go after the records there,
 * the sequence numbers continue, the epoch goes up; pops read both. */
static void test_reopen_appends(void **state)
{
    const char *path = path_of("reopen.log");
    struct file_scan *fs = malloc(sizeof(*fs));
    struct log_scan sc;
    int qd;

    (void)state;
    assert_non_null(fs);
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    for (uint64_t i = 0; i < 5; i++)
        push_rec(qd, i, len_of(i, 3000));
    close_ok(qd);
    assert_int_equal(file_epoch(path), 1);

    assert_int_equal(demi_open(&qd, path, O_WRONLY), 0);
    assert_int_equal(file_epoch(path), 2); /* durable before demi_open returned */
    for (uint64_t i = 5; i < 12; i++)
        push_rec(qd, i, len_of(i, 3000));
    close_ok(qd);

    assert_int_equal(demi_open(&qd, path, O_RDWR), 0);
    assert_int_equal(file_epoch(path), 3);
    push_rec(qd, 12, 1);
    for (uint64_t i = 0; i < 12; i++)
        pop_check(qd, i, len_of(i, 3000));
    pop_check(qd, 12, 1);
    pop_eof(qd);
    /* A record pushed after EOF is read by the next pop. */
    push_rec(qd, 13, 77);
    pop_check(qd, 13, 77);
    pop_eof(qd);
    close_ok(qd);

    /* A reader does not start an epoch. */
    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    close_ok(qd);
    assert_int_equal(file_epoch(path), 3);

    file_scan(path, fs, &sc);
    assert_true(sc.records == 14);
    assert_int_equal(sc.why, LOG_REC_END);
    for (uint64_t i = 0; i < 14; i++) {
        assert_true(fs->seq[i] == i);
        assert_int_equal(fs->epoch[i], i < 5 ? 1 : i < 12 ? 2 : 3);
    }
    assert_true(sc.next_seq == 14);

    /* demi_creat over it: empty again. */
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    pop_eof(qd);
    push_rec(qd, 0, 5);
    close_ok(qd);
    file_scan(path, fs, &sc);
    assert_true(sc.records == 1);
    assert_int_equal(fs->epoch[0], 1);
    free(fs);
}

/* A write cut by a crash: garbage after the last record (a torn record) is
 * found when the log is opened, counted, never returned; appends go where
 * it began. An earlier epoch's intact records after the end read as stale. */
static void test_torn_tail(void **state)
{
    const char *path = path_of("torn.log");
    uint64_t torn = counter("cattree_torn_records"), stale = counter("cattree_stale_records");
    struct file_scan *fs = malloc(sizeof(*fs));
    struct log_scan sc;
    uint8_t rec[256], payload[100];
    int qd, fd;

    (void)state;
    assert_non_null(fs);
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    for (uint64_t i = 0; i < 8; i++)
        push_rec(qd, i, 100);
    close_ok(qd);
    file_scan(path, fs, &sc);
    assert_true(sc.records == 8);
    /* Record 8 half written after the end: its header and the first 40
     * payload bytes. */
    fill(payload, 8, 100);
    log_record_encode(rec, payload, 100, 1, 8);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, rec, LOG_REC_HDR + 40, (off_t)(LOG_FILE_HDR + sc.end)), LOG_REC_HDR + 40);
    close(fd);
    assert_int_equal(demi_open(&qd, path, O_RDWR), 0);
    assert_true(counter("cattree_torn_records") == torn + 1);
    for (uint64_t i = 0; i < 8; i++)
        pop_check(qd, i, 100);
    pop_eof(qd);
    push_rec(qd, 8, 50); /* where the torn one began */
    pop_check(qd, 8, 50);
    pop_eof(qd);
    close_ok(qd);
    file_scan(path, fs, &sc);
    assert_true(sc.records == 9);
    assert_int_equal(sc.why, LOG_REC_END); /* the torn bytes were cleared */
    assert_int_equal(fs->epoch[8], 2);
    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    assert_true(counter("cattree_torn_records") == torn + 1); /* nothing torn now */
    for (uint64_t i = 0; i < 8; i++)
        pop_check(qd, i, 100);
    pop_check(qd, 8, 50);
    pop_eof(qd);
    close_ok(qd);

    /* An intact record of epoch 1 with the next sequence number after the
     * end, which epoch 2 wrote (the file header says 2): stale. */
    fill(payload, 9, 100);
    log_record_encode(rec, payload, 100, 1, 9);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, rec, framed(100), (off_t)(LOG_FILE_HDR + sc.end)), (ssize_t)framed(100));
    close(fd);
    assert_int_equal(demi_open(&qd, path, O_RDWR), 0);
    assert_true(counter("cattree_stale_records") == stale + 1);
    for (uint64_t i = 0; i < 8; i++)
        pop_check(qd, i, 100);
    pop_check(qd, 8, 50);
    pop_eof(qd);
    push_rec(qd, 9, 9);
    pop_check(qd, 9, 9);
    close_ok(qd);
    file_scan(path, fs, &sc);
    assert_true(sc.records == 10);
    assert_int_equal(sc.why, LOG_REC_END);
    free(fs);
}

/* Zero-copy appends (a whole demi_sgaalloc buffer of 8 KiB or more, written
 * from the buffer itself as a block-aligned record) after copied records
 * that leave their header at every 8-byte offset of a 512-byte block: all
 * acknowledged, all on disk as log_scan reads them, all popped back after
 * reopening. */
static void test_zero_copy_offsets(void **state)
{
    const char *path = path_of("zerocopy.log");
    uint64_t zc = counter("cattree_zero_copy"), seq = 0, nzc = 0;
    struct file_scan *fs = malloc(sizeof(*fs));
    uint32_t lens[200];
    struct log_scan sc;
    int qd;

    (void)state;
    assert_non_null(fs);
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    for (uint32_t off = 0; off < 512; off += 8) {
        /* A zero-copy record ends on a block boundary: a copied record
         * (the application's memory) brings the next header to @off. */
        if (off) {
            lens[seq] = off >= 32 ? off - LOG_REC_HDR : off + 512 - LOG_REC_HDR;
            push_rec_malloc(qd, seq, lens[seq]);
            seq++;
        }
        lens[seq] = 8192 + off;
        push_rec(qd, seq, lens[seq]);
        seq++;
        nzc++;
    }
    assert_true(counter("cattree_zero_copy") == zc + nzc);
    close_ok(qd);
    file_scan(path, fs, &sc);
    if (sc.records != seq)
        fail_msg("on disk: %llu of %llu acknowledged records, then %s at position %llu (offset %llu in its block)",
                 (unsigned long long)sc.records, (unsigned long long)seq, log_verdict_name(sc.why),
                 (unsigned long long)sc.end, (unsigned long long)(sc.end % 512));
    assert_int_equal(sc.why, LOG_REC_END);
    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    for (uint64_t i = 0; i < seq; i++)
        pop_check(qd, i, lens[i]);
    pop_eof(qd);
    close_ok(qd);
    free(fs);
}

/* Every error <demi/storage.h> names for a call or a flag. */
static void test_errors(void **state)
{
    const char *path = path_of("errors.log");
    const char *text = path_of("not-a-log.txt");
    const char *empty = path_of("empty");
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    uint8_t hdr[LOG_FILE_HDR];
    off_t pos;
    int qd, ro, wo, fd, bad;

    (void)state;
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    push_rec(qd, 0, 10);
    close_ok(qd);

    /* Access modes. */
    assert_int_equal(demi_open(&ro, path, O_RDONLY), 0);
    sga = demi_sgaalloc(10);
    assert_int_equal(sga.sga_numsegs, 1);
    assert_int_equal(demi_push(&qt, ro, &sga), EBADF);
    assert_int_equal(demi_open(&wo, path, O_WRONLY), 0);
    assert_int_equal(demi_pop(&qt, wo), EBADF);
    /* One writer at a time; readers beside it. */
    assert_int_equal(demi_open(&bad, path, O_RDWR), EBUSY);
    assert_int_equal(demi_open(&bad, path, O_WRONLY | DEMI_O_NOSYNC), EBUSY);
    assert_int_equal(demi_creat(&bad, path, 0644), EBUSY);
    close_ok(wo);
    pop_check(ro, 0, 10); /* the reader still reads */
    close_ok(ro);
    assert_int_equal(demi_sgafree(&sga), 0);

    /* NULL arguments. */
    assert_int_equal(creat_fn(null_int, path, 0644), EINVAL);
    assert_int_equal(creat_fn(&bad, null_path, 0644), EINVAL);
    assert_int_equal(open_fn(null_int, path, O_RDONLY), EINVAL);
    assert_int_equal(open_fn(&bad, null_path, O_RDONLY), EINVAL);

    /* Flags. */
    assert_int_equal(demi_open(&bad, path, O_RDWR | O_CREAT), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_RDONLY | O_CREAT), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_RDWR | O_TRUNC), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_WRONLY | O_APPEND), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_RDONLY | 0x1000000), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_RDWR | O_EXCL), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_ACCMODE), EINVAL);
    assert_int_equal(demi_open(&bad, path, O_RDONLY | O_CLOEXEC), 0);
    close_ok(bad);
    assert_int_equal(demi_open(&bad, path, O_RDWR | O_CLOEXEC | DEMI_O_NOSYNC), 0);
    close_ok(bad);

    /* Not a log: text, an empty file, a header of another version. */
    fd = open(text, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(write(fd, "not a log, just text\n", 21), 21);
    close(fd);
    assert_int_equal(demi_open(&bad, text, O_RDONLY), EILSEQ);
    assert_int_equal(demi_open(&bad, text, O_RDWR), EILSEQ);
    fd = open(empty, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(demi_open(&bad, empty, O_RDONLY), EILSEQ);
    assert_int_equal(demi_open(&bad, empty, O_RDWR), EILSEQ);
    {
        /* A valid log whose header claims version 2, CRC right. */
        const char *v2 = path_of("v2.log");
        uint32_t v = 2, c;
        fd = open(v2, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        log_file_hdr_encode(hdr, 1, 1);
        memcpy(hdr + 8, &v, 4);
        c = crc32c(0, hdr, 60);
        memcpy(hdr + 60, &c, 4);
        assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
        close(fd);
        /* <demi/storage.h>: "ENOTSUP a log of a version this libdemi does
         * not read" (EILSEQ is for what is no log at all). */
        assert_int_equal(demi_open(&bad, v2, O_RDONLY), ENOTSUP);
        assert_int_equal(demi_open(&bad, v2, O_RDWR), ENOTSUP);
    }
    /* Missing, a directory. */
    assert_int_equal(demi_open(&bad, path_of("missing.log"), O_RDONLY), ENOENT);
    assert_int_equal(demi_open(&bad, path_of("missing.log"), O_RDWR), ENOENT);
    assert_int_equal(demi_creat(&bad, path_of("no-such-dir/x.log"), 0644), ENOENT);
    assert_int_equal(demi_open(&bad, dir, O_RDONLY), EISDIR);
    assert_int_equal(demi_open(&bad, dir, O_RDWR), EISDIR);
    assert_int_equal(demi_creat(&bad, dir, 0644), EISDIR);
    /* None of these left a queue behind. */
    assert_int_equal(rt.qds.nused, qds_at_start);

    /* Socket calls on a storage queue. */
    assert_int_equal(demi_open(&qd, path, O_RDWR), 0);
    {
        struct sockaddr_in sin;
        socklen_t len;
        int v = 1;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(7000);
        sin.sin_addr.s_addr = htonl(0x0a000001);
        assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
        assert_int_equal(demi_listen(qd, 1), ENOTSUP);
        assert_int_equal(demi_accept(&qt, qd), ENOTSUP);
        assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), ENOTSUP);
        len = sizeof(v);
        assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), ENOTSUP);
        len = sizeof(sin);
        assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&sin, &len), ENOTSUP);
        len = sizeof(sin);
        assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&sin, &len), ENOTSUP);
        assert_int_equal(demi_shutdown(qd, SHUT_WR), ENOTSUP);
        demi_sgarray_t zc;
        sga = demi_sgaalloc(10);
        assert_int_equal(demi_pushto(&qt, qd, &sga, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
        assert_int_equal(demi_pipe_sgaalloc(&zc, qd, 10), ENOTSUP);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    pop_check(qd, 0, 10); /* still a working queue */
    close_ok(qd);
    assert_int_equal(demi_close(qd), EBADF);
    assert_int_equal(demi_lseek(qd, 0, SEEK_SET), EBADF);
    assert_int_equal(demi_tell(qd, &pos), EBADF);
    assert_int_equal(demi_lseek(-1, 0, SEEK_SET), EBADF);
    assert_int_equal(demi_tell(100000, &pos), EBADF);

    /* Storage calls on a pipe and, on catloop, a socket. */
    {
        char name[64];
        int pa, sock;
        snprintf(name, sizeof(name), "test-cattree-%d-errors", (int)getpid());
        assert_int_equal(demi_create_pipe(&pa, name), 0);
        assert_int_equal(demi_lseek(pa, 0, SEEK_SET), ENOTSUP);
        assert_int_equal(demi_tell(pa, &pos), ENOTSUP);
        close_ok(pa);
        if (on_catloop) {
            assert_int_equal(demi_socket(&sock, AF_INET, SOCK_DGRAM, 0), 0);
            assert_int_equal(demi_lseek(sock, 0, SEEK_SET), ENOTSUP);
            assert_int_equal(demi_tell(sock, &pos), ENOTSUP);
            close_ok(sock);
            assert_int_equal(demi_socket(&sock, AF_INET, SOCK_STREAM, 0), 0);
            assert_int_equal(demi_lseek(sock, 0, SEEK_END), ENOTSUP);
            close_ok(sock);
        } else {
            assert_int_equal(demi_socket(&sock, AF_INET, SOCK_DGRAM, 0), ENOTSUP);
        }
    }
}

/* Without write permission: EACCES for writing, reading still works. Root
 * passes permission checks, so as root this binary runs itself as nobody
 * (the peer below). */
static int peer_noperm(const char *d)
{
    struct demi_args args = {0, NULL, NULL};
    char ro[256], nd[256];
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int qd, ret;

    snprintf(ro, sizeof(ro), "%s/readonly.log", d);
    snprintf(nd, sizeof(nd), "%s/rodir/new.log", d);
    if (getuid() == 0) {
        if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
            return 2;
    }
    if (demi_init(&args))
        return 3;
    if ((ret = demi_open(&qd, ro, O_RDWR)) != EACCES) {
        fprintf(stderr, "demi_open(O_RDWR) of a 0444 file: %s, want EACCES\n", strerror(ret));
        return 4;
    }
    if ((ret = demi_open(&qd, ro, O_WRONLY)) != EACCES)
        return 5;
    if ((ret = demi_creat(&qd, ro, 0644)) != EACCES)
        return 6;
    if ((ret = demi_creat(&qd, nd, 0644)) != EACCES) {
        fprintf(stderr, "demi_creat in a 0555 directory: %s, want EACCES\n", strerror(ret));
        return 7;
    }
    if ((ret = demi_open(&qd, ro, O_RDONLY)) != 0) {
        fprintf(stderr, "demi_open(O_RDONLY) of a 0444 file: %s\n", strerror(ret));
        return 8;
    }
    if (demi_pop(&qt, qd) || demi_wait(&qr, qt, &ten_s) || qr.qr_opcode != DEMI_OPC_POP ||
        qr.qr_value.sga.sga_segs[0].sgaseg_len != 33)
        return 9;
    demi_sgafree(&qr.qr_value.sga);
    if (demi_close(qd))
        return 10;
    return 0;
}

static void test_no_permission(void **state)
{
    const char *ro = path_of("readonly.log");
    const char *rodir = path_of("rodir");
    int qd, status = 0;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_creat(&qd, ro, 0644), 0);
    push_rec(qd, 0, 33);
    close_ok(qd);
    assert_int_equal(chmod(ro, 0444), 0);
    assert_int_equal(mkdir(rodir, 0555), 0);
    assert_int_equal(chmod(dir, 0755), 0); /* nobody may walk in */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_path, self_path, "--peer", "noperm", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 20000 && waitpid(pid, &status, WNOHANG) != pid; i++)
        usleep(1000);
    if (kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the peer did not finish in 20 s");
    }
    assert_int_equal(chmod(dir, 0700), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("peer (as %s): status %d (see peer_noperm's return codes)", getuid() == 0 ? "nobody" : "us",
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (getuid() == 0)
        print_message("permissions checked as uid 65534 (root passes them)\n");
    /* Root writes anyway: the same file opens for writing here. */
    if (getuid() == 0) {
        assert_int_equal(demi_open(&qd, ro, O_RDWR), 0);
        close_ok(qd);
    }
}

/* demi_close with pushes in flight and queued: they complete (the close
 * waits for them), their records are there; pops pending: ECANCELED. */
static void test_close_pending(void **state)
{
    enum { N = 200 };
    const char *path = path_of("close.log");
    demi_qtoken_t qts[N], pq;
    uint64_t appends = counter("cattree_appends");
    int qd, rd;

    (void)state;
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    for (uint64_t i = 0; i < N; i++)
        qts[i] = push_start(qd, i, len_of(i, 40000)); /* more than two stages: some wait */
    assert_int_equal(demi_open(&rd, path, O_RDONLY), 0);
    assert_int_equal(demi_pop(&pq, rd), 0);
    close_ok(qd);
    assert_true(counter("cattree_appends") == appends + N);
    for (uint64_t i = 0; i < N; i++)
        wait_ok(qts[i], DEMI_OPC_PUSH);
    /* The reader's pending pop: it had nothing to read when it was made
     * (a reader sees what was committed when it opened, or later); whichever
     * it got, a close cancels what is still pending. */
    {
        demi_qresult_t qr;
        int ret = demi_wait(&qr, pq, &short_wait);
        if (ret == 0) {
            assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
            assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
            close_ok(rd);
        } else {
            assert_int_equal(ret, ETIMEDOUT);
            close_ok(rd);
            assert_int_equal(wait_failed(pq), ECANCELED);
        }
    }
    assert_int_equal(demi_open(&rd, path, O_RDONLY), 0);
    assert_int_equal(demi_pop(&pq, rd), 0);
    close_ok(rd); /* a pop waiting for its read: cancelled */
    assert_int_equal(wait_failed(pq), ECANCELED);

    assert_int_equal(demi_open(&rd, path, O_RDONLY), 0);
    for (uint64_t i = 0; i < N; i++)
        pop_check(rd, i, len_of(i, 40000));
    pop_eof(rd);
    close_ok(rd);
}

/* DEMI_O_NOSYNC: pushes complete (written, not flushed); the records are
 * there after close. */
static void test_nosync(void **state)
{
    enum { N = 300 };
    const char *path = path_of("nosync.log");
    demi_qtoken_t qts[N];
    int qd;

    (void)state;
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    close_ok(qd);
    assert_int_equal(demi_open(&qd, path, O_WRONLY | DEMI_O_NOSYNC), 0);
    for (uint64_t i = 0; i < N; i++)
        qts[i] = push_start(qd, i, len_of(i, 5000));
    for (uint64_t i = 0; i < N; i++)
        wait_ok(qts[i], DEMI_OPC_PUSH);
    close_ok(qd);
    assert_int_equal(demi_open(&qd, path, O_RDONLY), 0);
    for (uint64_t i = 0; i < N; i++)
        pop_check(qd, i, len_of(i, 5000));
    pop_eof(qd);
    close_ok(qd);
}

/* Storage tokens waited on together with a pipe's and, on catloop, a UDP
 * socket's: demi_wait_any and demi_wait_next_n over the mix. */
static void test_wait_mixed(void **state)
{
    const char *path = path_of("mixed.log");
    demi_qtoken_t qts[16];
    demi_qresult_t qr, qrs[16];
    struct sockaddr_in a;
    char name[64];
    int qd, pa, pb, u = -1, off, n, got, pushes;
    bool pipe_done = false, udp_done = false;

    (void)state;
    snprintf(name, sizeof(name), "test-cattree-%d-mixed", (int)getpid());
    assert_int_equal(demi_creat(&qd, path, 0644), 0);
    assert_int_equal(demi_create_pipe(&pa, name), 0);
    assert_int_equal(demi_open_pipe(&pb, name), 0);
    if (on_catloop) {
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons(7777);
        a.sin_addr.s_addr = inet_addr("10.0.0.1");
        assert_int_equal(demi_socket(&u, AF_INET, SOCK_DGRAM, 0), 0);
        assert_int_equal(demi_bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    /* A pop on the pipe (and the socket) that nothing answers yet, then
     * storage pushes: only those complete. */
    n = 0;
    assert_int_equal(demi_pop(&qts[n++], pb), 0);
    if (on_catloop)
        assert_int_equal(demi_pop(&qts[n++], u), 0);
    pushes = 0;
    for (int i = 0; i < 8; i++, pushes++)
        qts[n++] = push_start(qd, (uint64_t)i, 100 + (uint32_t)i);
    while (pushes > 0) {
        assert_int_equal(demi_wait_any(&qr, &off, qts, n, &ten_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
        assert_int_equal(qr.qr_qd, qd);
        qts[off] = qts[--n];
        pushes--;
    }
    assert_int_equal(n, on_catloop ? 2 : 1);
    assert_int_equal(demi_wait_any(&qr, &off, qts, n, &short_wait), ETIMEDOUT);

    /* Now a message on the pipe (and a datagram), a storage push and pop:
     * all complete, gathered by demi_wait_next_n. */
    {
        demi_sgarray_t sga = demi_sgaalloc(4);
        demi_qtoken_t t;
        memcpy(sga.sga_segs[0].sgaseg_buf, "pipe", 4);
        assert_int_equal(demi_push(&t, pa, &sga), 0);
        assert_int_equal(demi_sgafree(&sga), 0);
        qts[n++] = t;
        if (on_catloop) {
            sga = demi_sgaalloc(3);
            memcpy(sga.sga_segs[0].sgaseg_buf, "udp", 3);
            assert_int_equal(demi_pushto(&t, u, &sga, (struct sockaddr *)&a, sizeof(a)), 0);
            assert_int_equal(demi_sgafree(&sga), 0);
            qts[n++] = t;
        }
        qts[n++] = push_start(qd, 8, 108);
        assert_int_equal(demi_pop(&qts[n++], qd), 0);
    }
    got = 0;
    for (int rounds = 0; got < n && rounds < 100; rounds++) {
        int k = 0;
        assert_int_equal(demi_wait_next_n(&qrs[got], 16 - got, &k, &ten_s), 0);
        got += k;
    }
    assert_int_equal(got, n);
    for (int i = 0; i < got; i++) {
        if (qrs[i].qr_opcode == DEMI_OPC_FAILED)
            fail_msg("qd %d: failed: %s", qrs[i].qr_qd, strerror((int)qrs[i].qr_ret));
        if (qrs[i].qr_opcode != DEMI_OPC_POP)
            continue;
        if (qrs[i].qr_qd == pb) {
            assert_int_equal(qrs[i].qr_value.sga.sga_segs[0].sgaseg_len, 4);
            assert_memory_equal(qrs[i].qr_value.sga.sga_segs[0].sgaseg_buf, "pipe", 4);
            pipe_done = true;
        } else if (qrs[i].qr_qd == u) {
            assert_int_equal(qrs[i].qr_value.sga.sga_segs[0].sgaseg_len, 3);
            udp_done = true;
        } else {
            assert_int_equal(qrs[i].qr_qd, qd);
            check_sga(&qrs[i].qr_value.sga, 0, 100); /* the first record */
        }
        assert_int_equal(demi_sgafree(&qrs[i].qr_value.sga), 0);
    }
    assert_true(pipe_done);
    assert_true(udp_done == on_catloop);
    if (on_catloop) {
        assert_int_equal(rt.nlibos, 3); /* catloop, cattree, catmem */
        close_ok(u);
    }
    close_ok(pa);
    close_ok(pb);
    close_ok(qd);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seek_tell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_copy_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_permission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nosync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_mixed, setup, teardown),
    };
    struct demi_args args = {0, NULL, NULL};
    const char *libos;
    int qd, pa, ret;
    char name[64];

    /* Small growth steps: the logs here grow several times. */
    setenv("DEMI_CATTREE_PREALLOC_MIB", "4", 0);
    /* Zero-copy whatever the disk (auto turns it off on 4 KiB physical
     * blocks): test_zero_copy_offsets and the large pushes test that path. */
    setenv("DEMI_CATTREE_ZERO_COPY", "on", 0);
    if (argc == 4 && strcmp(argv[1], "--peer") == 0 && strcmp(argv[2], "noperm") == 0)
        return peer_noperm(argv[3]);
    self_path = argv[0];
    libos = getenv("LIBOS");
    if (!libos || !*libos) {
        setenv("LIBOS", "cattree", 1);
        libos = "cattree";
    }
    on_catloop = strcmp(libos, "catloop") == 0;
    if (on_catloop)
        setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.0.0.1", 0);
    if ((ret = demi_init(&args)) != 0) {
        fprintf(stderr, "demi_init with LIBOS=%s: %s\n", libos, strerror(ret));
        return 1;
    }
    snprintf(dir, sizeof(dir), "/var/tmp/test_cattree.XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    /* The storage and pipe libOSes join at first use and stay: make them
     * join before any test counts buffers. */
    ret = demi_creat(&qd, path_of("probe.log"), 0644);
    if (ret == ENOTSUP) {
        printf("# SKIP storage queues are not available here (libdemi without liburing, or io_uring refused)\n");
        group_teardown(NULL);
        return 77;
    }
    if (ret) {
        fprintf(stderr, "demi_creat in %s: %s\n", dir, strerror(ret));
        group_teardown(NULL);
        return 1;
    }
    demi_close(qd);
    snprintf(name, sizeof(name), "test-cattree-%d-probe", (int)getpid());
    if (demi_create_pipe(&pa, name) == 0)
        demi_close(pa);
    printf("LIBOS=%s, logs in %s\n", libos, dir);
    ret = cmocka_run_group_tests(tests, group_setup, group_teardown);
    rt_shutdown();
    return ret;
}
