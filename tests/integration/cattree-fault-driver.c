/* SPDX-License-Identifier: MIT */
/*
 * cattree-fault-driver: storage queues (<demi/storage.h>) under faults, for
 * cattree-faults.sh. Over the public API only, as an application would.
 *
 *   cattree-fault-driver push PATH creat|append FIRST COUNT LEN DEPTH
 *       Push records FIRST.. (LEN bytes each, DEPTH in flight) until COUNT
 *       are pushed or one fails; after a failure, 5 more one at a time.
 *       Prints "push SEQ ok" or "push SEQ ERRNAME" per push, in order, then
 *       "acked N" (records acknowledged before the first failure),
 *       "first_error ERRNAME" (or "none"), "later_errors ERRNAMES" and
 *       "close ok|ERRNAME". With CATTREE_DRIVER_FREE=FILE set, after those
 *       5 the driver removes FILE (space given back) and pushes 5 more on
 *       the same queue: "after_free RESULTS". Then "zero_copy N", the
 *       records written in place. Exits 3 when a wait times out (30 s: a
 *       hang).
 *   cattree-fault-driver verify PATH LEN
 *       Open O_RDONLY, pop to the end; record i must be LEN bytes of
 *       pattern i. Prints "records N", "intact N" (leading records that
 *       check), "bad SEQ why" for the first that does not; exit 1 then.
 *   cattree-fault-driver open PATH rdonly|wronly|rdwr|creat
 *       Prints "open ok" or "open ERRNAME" (exit 0 either way).
 *
 * Record i (its index in the log) has byte j = (i * 131 + j * 7) & 0xff.
 */
#define _GNU_SOURCE
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
#include <time.h>
#include <unistd.h>

#define DEPTH_MAX 64

static const struct timespec wait_limit = {30, 0};

static const char *errname(int e)
{
    static char buf[32];
    switch (e) {
    case 0:
        return "ok";
    case ENOSPC:
        return "ENOSPC";
    case EIO:
        return "EIO";
    case EROFS:
        return "EROFS";
    case EILSEQ:
        return "EILSEQ";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case ENOENT:
        return "ENOENT";
    case EBADF:
        return "EBADF";
    case EBUSY:
        return "EBUSY";
    case EINVAL:
        return "EINVAL";
    case ENOTSUP:
        return "ENOTSUP";
    case EDQUOT:
        return "EDQUOT";
    case EFBIG:
        return "EFBIG";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case ENOMEM:
        return "ENOMEM";
    }
    snprintf(buf, sizeof(buf), "errno%d", e);
    return buf;
}

static uint8_t pat(uint64_t seq, uint32_t j)
{
    return (uint8_t)(seq * 131u + j * 7u);
}

static int push_start(int qd, uint64_t seq, uint32_t len, demi_qtoken_t *qt)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    int ret;

    if (sga.sga_numsegs != 1)
        return ENOMEM;
    for (uint32_t j = 0; j < len; j++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[j] = pat(seq, j);
    ret = demi_push(qt, qd, &sga);
    demi_sgafree(&sga); /* libdemi keeps a reference while it needs one */
    return ret;
}

/* The push's result: 0, its errno, or -1 when the wait timed out. */
static int push_wait(demi_qtoken_t qt)
{
    demi_qresult_t qr;
    int ret = demi_wait(&qr, qt, &wait_limit);

    if (ret == ETIMEDOUT)
        return -1;
    if (ret)
        return ret;
    if (qr.qr_opcode == DEMI_OPC_PUSH)
        return 0;
    return qr.qr_opcode == DEMI_OPC_FAILED && qr.qr_ret > 0 ? (int)qr.qr_ret : EPROTO;
}

static int cmd_push(const char *path, const char *mode, uint64_t first, uint64_t count, uint32_t len, int depth)
{
    demi_qtoken_t qts[DEPTH_MAX];
    uint64_t seq = first, acked = 0, zc = 0;
    int qd, ret, first_err = 0, n;
    char later[256] = "", after[256] = "";

    ret = strcmp(mode, "creat") == 0 ? demi_creat(&qd, path, 0644) : demi_open(&qd, path, O_RDWR);
    if (ret) {
        printf("open %s\n", errname(ret));
        return 2;
    }
    if (depth < 1 || depth > DEPTH_MAX)
        depth = 1;
    while (seq < first + count && !first_err) {
        for (n = 0; n < depth && seq + (uint64_t)n < first + count; n++) {
            ret = push_start(qd, seq + (uint64_t)n, len, &qts[n]);
            if (ret) {
                printf("push %llu refused %s\n", (unsigned long long)(seq + (uint64_t)n), errname(ret));
                return 2;
            }
        }
        for (int i = 0; i < n; i++, seq++) {
            ret = push_wait(qts[i]);
            if (ret < 0) {
                printf("push %llu TIMEOUT\n", (unsigned long long)seq);
                fflush(stdout);
                return 3;
            }
            printf("push %llu %s\n", (unsigned long long)seq, errname(ret));
            if (ret && !first_err)
                first_err = ret;
            else if (!ret && !first_err)
                acked++;
            else if (!ret)
                printf("push %llu succeeded after a failure in the same group\n", (unsigned long long)seq);
        }
    }
    if (first_err) {
        for (int k = 0; k < 5; k++, seq++) {
            demi_qtoken_t qt;
            ret = push_start(qd, seq, len, &qt);
            if (ret == 0)
                ret = push_wait(qt);
            if (ret < 0) {
                printf("push %llu TIMEOUT\n", (unsigned long long)seq);
                fflush(stdout);
                return 3;
            }
            printf("push %llu %s\n", (unsigned long long)seq, errname(ret));
            snprintf(later + strlen(later), sizeof(later) - strlen(later), "%s%s", k ? "," : "", errname(ret));
        }
        if (getenv("CATTREE_DRIVER_FREE")) {
            /* The failed pushes left no record: the next one is record
             * first + acked, and its bytes are that record's pattern. */
            uint64_t rec = first + acked;
            if (unlink(getenv("CATTREE_DRIVER_FREE")) != 0)
                printf("unlink %s: %s\n", getenv("CATTREE_DRIVER_FREE"), strerror(errno));
            for (int k = 0; k < 5; k++) {
                demi_qtoken_t qt;
                ret = push_start(qd, rec, len, &qt);
                if (ret == 0)
                    ret = push_wait(qt);
                if (ret < 0) {
                    printf("push %llu TIMEOUT\n", (unsigned long long)rec);
                    fflush(stdout);
                    return 3;
                }
                printf("push %llu %s\n", (unsigned long long)rec, errname(ret));
                snprintf(after + strlen(after), sizeof(after) - strlen(after), "%s%s", k ? "," : "", errname(ret));
                if (ret == 0)
                    rec++;
            }
        }
    }
    printf("acked %llu\n", (unsigned long long)acked);
    printf("first_error %s\n", first_err ? errname(first_err) : "none");
    printf("later_errors %s\n", first_err ? later : "none");
    if (after[0])
        printf("after_free %s\n", after);
    ret = demi_close(qd);
    printf("close %s\n", errname(ret));
    if (demi_stats_counter("cattree_zero_copy", &zc) == 0)
        printf("zero_copy %llu\n", (unsigned long long)zc);
    return 0;
}

static int cmd_verify(const char *path, uint32_t len)
{
    uint64_t records = 0;
    int qd, ret;

    ret = demi_open(&qd, path, O_RDONLY);
    if (ret) {
        printf("open %s\n", errname(ret));
        return 2;
    }
    for (;;) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        const uint8_t *p;
        uint32_t got;

        if ((ret = demi_pop(&qt, qd)) != 0 || (ret = demi_wait(&qr, qt, &wait_limit)) != 0) {
            printf("records %llu\nintact %llu\nbad %llu pop: %s\n", (unsigned long long)records,
                   (unsigned long long)records, (unsigned long long)records, errname(ret));
            return 1;
        }
        if (qr.qr_opcode != DEMI_OPC_POP) {
            printf("records %llu\nintact %llu\nbad %llu pop failed: %s\n", (unsigned long long)records,
                   (unsigned long long)records, (unsigned long long)records, errname((int)qr.qr_ret));
            return 1;
        }
        got = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        p = qr.qr_value.sga.sga_segs[0].sgaseg_buf;
        if (got == 0) {
            demi_sgafree(&qr.qr_value.sga);
            break;
        }
        for (uint32_t j = 0; j < got; j++) {
            if (got != len || p[j] != pat(records, j)) {
                printf("records %llu\nintact %llu\nbad %llu %u bytes, byte %u\n", (unsigned long long)records + 1,
                       (unsigned long long)records, (unsigned long long)records, got, j);
                demi_sgafree(&qr.qr_value.sga);
                return 1;
            }
        }
        demi_sgafree(&qr.qr_value.sga);
        records++;
    }
    printf("records %llu\nintact %llu\n", (unsigned long long)records, (unsigned long long)records);
    demi_close(qd);
    return 0;
}

static int cmd_open(const char *path, const char *mode)
{
    int qd, ret;

    if (strcmp(mode, "creat") == 0)
        ret = demi_creat(&qd, path, 0644);
    else
        ret = demi_open(&qd, path,
                        strcmp(mode, "rdonly") == 0   ? O_RDONLY
                        : strcmp(mode, "wronly") == 0 ? O_WRONLY
                                                      : O_RDWR);
    printf("open %s\n", errname(ret));
    if (ret == 0)
        demi_close(qd);
    return 0;
}

int main(int argc, char **argv)
{
    struct demi_args args = {0, NULL, NULL};
    int ret;

    if (argc < 3) {
        fprintf(stderr,
                "usage: %s push PATH creat|append FIRST COUNT LEN DEPTH | verify PATH LEN | "
                "open PATH rdonly|wronly|rdwr|creat\n",
                argv[0]);
        return 2;
    }
    if ((ret = demi_init(&args)) != 0) {
        printf("demi_init %s\n", errname(ret));
        return 2;
    }
    if (strcmp(argv[1], "push") == 0 && argc == 8)
        return cmd_push(argv[2], argv[3], strtoull(argv[4], NULL, 0), strtoull(argv[5], NULL, 0),
                        (uint32_t)strtoul(argv[6], NULL, 0), atoi(argv[7]));
    if (strcmp(argv[1], "verify") == 0 && argc == 4)
        return cmd_verify(argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
    if (strcmp(argv[1], "open") == 0 && argc == 4)
        return cmd_open(argv[2], argv[3]);
    fprintf(stderr, "%s: bad arguments\n", argv[0]);
    return 2;
}
