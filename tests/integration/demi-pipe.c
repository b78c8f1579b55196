/* SPDX-License-Identifier: MIT */
/*
 * demi-pipe: the two ends of a shared-memory pipe (<demi/pipe.h>) as
 * separate processes, for tests/integration/catmem.sh. Public API only, C99.
 *
 *   demi-pipe sink NAME COUNT        create NAME, pop COUNT messages and check
 *                                    each one's length and bytes, answer with
 *                                    the count, wait for EOF
 *   demi-pipe source NAME COUNT      open NAME, push COUNT messages of 1..4096
 *                                    bytes (up to 64 in flight), read the answer
 *   demi-pipe hold NAME create|open  make the end and sleep (to be killed)
 *   demi-pipe many-sink PREFIX N COUNT    create N pipes, pop COUNT messages on
 *                                         each with demi_wait_next_n
 *   demi-pipe many-source PREFIX N COUNT  open them, push round-robin
 *   demi-pipe zc-sink NAME COUNT     create NAME, pop COUNT zero-copy messages
 *                                    (checked in place, up to 8 held and freed
 *                                    out of order), echo each back zero-copy
 *   demi-pipe zc-source NAME COUNT   open NAME, push COUNT messages with
 *                                    demi_pipe_sgaalloc and check the echoes
 *
 * Exit status: 0 done; 1 usage or init; 2 create/open failed (the errno's
 * text on stderr); 3 bad data; 4 the peer went away (ECONNRESET/EPIPE).
 */
#define _POSIX_C_SOURCE 200809L
#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LEN 4096u
#define IN_FLIGHT 64
#define MAX_PIPES 1024

static const struct timespec ten_s = {10, 0};

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static uint32_t len_of(uint64_t seq)
{
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    x ^= x >> 29;
    return 1 + (uint32_t)(x % MAX_LEN);
}

static void die(int code, const char *what, int err)
{
    fprintf(stderr, "demi-pipe: %s: %s\n", what, strerror(err));
    exit(code);
}

/* Wait for @qt; a peer that went away exits 4. */
static demi_qresult_t wait_for(demi_qtoken_t qt, const char *what)
{
    demi_qresult_t qr;
    int ret = demi_wait(&qr, qt, &ten_s);

    if (ret)
        die(1, what, ret);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        die((qr.qr_ret == ECONNRESET || qr.qr_ret == EPIPE) ? 4 : 1, what, (int)qr.qr_ret);
    return qr;
}

static int make_end(const char *name, int create)
{
    int qd = -1, ret = ENOENT;

    if (create) {
        ret = demi_create_pipe(&qd, name);
    } else {
        /* The creator may still be starting: retry a missing pipe for 10 s. */
        for (int i = 0; i < 10000; i++) {
            struct timespec ms = {0, 1000000};
            ret = demi_open_pipe(&qd, name);
            if (ret != ENOENT)
                break;
            nanosleep(&ms, NULL);
        }
    }
    if (ret)
        die(2, create ? "create" : "open", ret);
    return qd;
}

static void check_msg(const demi_qresult_t *qr, uint64_t seq)
{
    const uint8_t *p = qr->qr_value.sga.sga_segs[0].sgaseg_buf;
    uint32_t len = qr->qr_value.sga.sga_segs[0].sgaseg_len;

    if (len != len_of(seq)) {
        fprintf(stderr, "demi-pipe: message %llu: %u bytes, want %u\n", (unsigned long long)seq, len, len_of(seq));
        exit(3);
    }
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] != pat(seq, i)) {
            fprintf(stderr, "demi-pipe: message %llu: byte %u differs\n", (unsigned long long)seq, i);
            exit(3);
        }
    }
}

static demi_qtoken_t push_seq(int qd, uint64_t seq)
{
    uint32_t n = len_of(seq);
    demi_sgarray_t sga = demi_sgaalloc(n);
    demi_qtoken_t qt;
    int ret;

    if (sga.sga_numsegs != 1)
        die(1, "sgaalloc", ENOMEM);
    for (uint32_t i = 0; i < n; i++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(seq, i);
    if ((ret = demi_push(&qt, qd, &sga)) != 0)
        die(1, "push", ret);
    demi_sgafree(&sga); /* protected until the push completes */
    return qt;
}

static int sink(const char *name, uint64_t count)
{
    int qd = make_end(name, 1);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;

    for (uint64_t seq = 0; seq < count; seq++) {
        demi_pop(&qt, qd);
        qr = wait_for(qt, "pop");
        if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0) {
            fprintf(stderr, "demi-pipe: EOF after %llu messages\n", (unsigned long long)seq);
            exit(3);
        }
        check_msg(&qr, seq);
        demi_sgafree(&qr.qr_value.sga);
    }
    sga = demi_sgaalloc(sizeof(count));
    memcpy(sga.sga_segs[0].sgaseg_buf, &count, sizeof(count));
    demi_push(&qt, qd, &sga);
    demi_sgafree(&sga);
    wait_for(qt, "push answer");
    demi_pop(&qt, qd);
    qr = wait_for(qt, "pop EOF");
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 0)
        die(3, "expected EOF", EPROTO);
    demi_sgafree(&qr.qr_value.sga);
    demi_close(qd);
    printf("sink: %llu messages checked\n", (unsigned long long)count);
    return 0;
}

static int source(const char *name, uint64_t count)
{
    int qd = make_end(name, 0);
    demi_qtoken_t qts[IN_FLIGHT];
    demi_qresult_t qr;
    uint64_t sent = 0, got;
    int n = 0;

    /* Keep up to IN_FLIGHT pushes pending; they complete in order. */
    while (sent < count || n > 0) {
        while (n < IN_FLIGHT && sent < count)
            qts[n++] = push_seq(qd, sent++);
        wait_for(qts[0], "push");
        memmove(qts, qts + 1, (size_t)(n - 1) * sizeof(qts[0]));
        n--;
    }
    demi_pop(&qts[0], qd);
    qr = wait_for(qts[0], "pop answer");
    memcpy(&got, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(got));
    demi_sgafree(&qr.qr_value.sga);
    if (got != count)
        die(3, "answer", EPROTO);
    demi_close(qd);
    printf("source: %llu messages sent\n", (unsigned long long)count);
    return 0;
}

/* ---- zero-copy: demi_pipe_sgaalloc both ways ---------------------------- */

#define ZC_HOLD 8

static const struct timespec no_wait = {0, 0};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A zero-copy message @seq (bytes copied from @src if not NULL, else the
 * pattern), retrying while the ring is full (the reader frees) for 30 s.
 * @other, if not NULL, is a pop token this process must keep serving
 * meanwhile; returns 1 when it completed into *@qr. */
static int zc_push(int qd, uint64_t seq, const uint8_t *src, demi_qtoken_t *other, demi_qresult_t *qr)
{
    uint32_t n = len_of(seq);
    double deadline = now_s() + 30;
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    int ret, got = 0;

    while ((ret = demi_pipe_sgaalloc(&sga, qd, n)) == EAGAIN) {
        if (now_s() > deadline)
            die(1, "pipe_sgaalloc: ring full for 30 s", ret);
        if (other && !got) {
            int w = demi_wait(qr, *other, &no_wait);
            if (w == 0)
                got = 1;
            else if (w != ETIMEDOUT)
                die(1, "wait", w);
        } else {
            sched_yield();
        }
    }
    if (ret)
        die(ret == EPIPE || ret == ECONNRESET ? 4 : 1, "pipe_sgaalloc", ret);
    if (src)
        memcpy(sga.sga_segs[0].sgaseg_buf, src, n);
    else
        for (uint32_t i = 0; i < n; i++)
            ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(seq, i);
    if ((ret = demi_push(&qt, qd, &sga)) != 0)
        die(1, "push", ret);
    wait_for(qt, "push"); /* completes at once; the sga is the ring's now */
    if (got && qr->qr_opcode == DEMI_OPC_FAILED)
        die((qr->qr_ret == ECONNRESET || qr->qr_ret == EPIPE) ? 4 : 1, "pop", (int)qr->qr_ret);
    return got;
}

static int zc_sink(const char *name, uint64_t count)
{
    int qd = make_end(name, 1);
    demi_sgarray_t held[ZC_HOLD];
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int nheld = 0;

    for (uint64_t seq = 0; seq < count; seq++) {
        demi_pop(&qt, qd);
        qr = wait_for(qt, "pop");
        if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0) {
            fprintf(stderr, "demi-pipe: EOF after %llu messages\n", (unsigned long long)seq);
            exit(3);
        }
        check_msg(&qr, seq);
        zc_push(qd, seq, qr.qr_value.sga.sga_segs[0].sgaseg_buf, NULL, NULL);
        /* Hold a few, free one at random: the ring's head moves only over
         * the freed prefix. */
        held[nheld++] = qr.qr_value.sga;
        if (nheld == ZC_HOLD || seq + 1 == count) {
            int k = (int)(seq * 2654435761u % (uint64_t)nheld);
            if (demi_sgafree(&held[k]) != 0)
                die(3, "sgafree", EINVAL);
            held[k] = held[--nheld];
        }
    }
    while (nheld > 0)
        if (demi_sgafree(&held[--nheld]) != 0)
            die(3, "sgafree", EINVAL);
    demi_pop(&qt, qd);
    qr = wait_for(qt, "pop EOF");
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 0)
        die(3, "expected EOF", EPROTO);
    demi_sgafree(&qr.qr_value.sga);
    demi_close(qd);
    printf("zc-sink: %llu messages checked\n", (unsigned long long)count);
    return 0;
}

static int zc_source(const char *name, uint64_t count)
{
    int qd = make_end(name, 0);
    uint64_t sent = 0, echoed = 0;
    demi_qtoken_t pop;
    demi_qresult_t qr;
    double deadline = now_s() + 300;

    demi_pop(&pop, qd);
    while (echoed < count) {
        int got = 0;
        if (now_s() > deadline)
            die(1, "zc-source: 300 s", ETIMEDOUT);
        if (sent < count) {
            got = zc_push(qd, sent, NULL, &pop, &qr);
            sent++;
        } else {
            int w = demi_wait(&qr, pop, &ten_s);
            if (w)
                die(1, "wait echo", w);
            got = 1;
        }
        if (!got) {
            int w = demi_wait(&qr, pop, &no_wait);
            if (w == ETIMEDOUT)
                continue;
            if (w)
                die(1, "wait", w);
        }
        if (qr.qr_opcode == DEMI_OPC_FAILED)
            die((qr.qr_ret == ECONNRESET || qr.qr_ret == EPIPE) ? 4 : 1, "pop echo", (int)qr.qr_ret);
        check_msg(&qr, echoed++);
        demi_sgafree(&qr.qr_value.sga);
        if (echoed < count)
            demi_pop(&pop, qd);
    }
    demi_close(qd);
    printf("zc-source: %llu messages sent, %llu echoes checked\n", (unsigned long long)sent,
           (unsigned long long)echoed);
    return 0;
}

static int hold(const char *name, int create)
{
    int qd = make_end(name, create);

    (void)qd;
    printf("holding\n");
    fflush(stdout);
    for (int i = 0; i < 600; i++) {
        struct timespec s = {0, 100000000};
        nanosleep(&s, NULL);
    }
    return 1;
}

static int many(const char *prefix, int npipes, uint64_t count, int is_sink)
{
    static int qds[MAX_PIPES];
    static uint64_t next[MAX_PIPES];
    char name[160];
    uint64_t left = (uint64_t)npipes * count;

    if (npipes <= 0 || npipes > MAX_PIPES)
        die(1, "pipes", EINVAL);
    for (int i = 0; i < npipes; i++) {
        snprintf(name, sizeof(name), "%s-%d", prefix, i);
        qds[i] = make_end(name, is_sink);
    }
    if (is_sink) {
        demi_qtoken_t qt;
        for (int i = 0; i < npipes; i++)
            demi_pop(&qt, qds[i]);
        while (left > 0) {
            demi_qresult_t qrs[32];
            int n, ret = demi_wait_next_n(qrs, 32, &n, &ten_s);
            if (ret)
                die(1, "wait_next_n", ret);
            for (int k = 0; k < n; k++) {
                int i = 0;
                if (qrs[k].qr_opcode == DEMI_OPC_FAILED)
                    die(4, "pop", (int)qrs[k].qr_ret);
                while (i < npipes && qds[i] != qrs[k].qr_qd)
                    i++;
                if (i == npipes)
                    die(3, "unknown qd", EPROTO);
                check_msg(&qrs[k], next[i]++);
                demi_sgafree(&qrs[k].qr_value.sga);
                left--;
                if (next[i] < count)
                    demi_pop(&qt, qds[i]);
            }
        }
        /* Each opener's close: EOF. */
        for (int i = 0; i < npipes; i++) {
            demi_qresult_t qr;
            demi_pop(&qt, qds[i]);
            qr = wait_for(qt, "pop EOF");
            if (qr.qr_value.sga.sga_segs[0].sgaseg_len != 0)
                die(3, "expected EOF", EPROTO);
            demi_sgafree(&qr.qr_value.sga);
            demi_close(qds[i]);
        }
    } else {
        for (uint64_t seq = 0; seq < count; seq++)
            for (int i = 0; i < npipes; i++)
                wait_for(push_seq(qds[i], seq), "push");
        for (int i = 0; i < npipes; i++)
            demi_close(qds[i]);
    }
    printf("%s: %d pipes x %llu messages\n", is_sink ? "many-sink" : "many-source", npipes, (unsigned long long)count);
    return 0;
}

int main(int argc, char **argv)
{
    struct demi_args args;
    int ret;

    memset(&args, 0, sizeof(args));
    args.argc = argc;
    args.argv = argv;
    if (argc < 4) {
        fprintf(stderr, "usage: demi-pipe sink|source|zc-sink|zc-source NAME COUNT | hold NAME create|open |\n"
                        "       many-sink|many-source PREFIX N COUNT\n");
        return 1;
    }
    if ((ret = demi_init(&args)) != 0)
        die(1, "demi_init", ret);
    if (strcmp(argv[1], "sink") == 0)
        return sink(argv[2], strtoull(argv[3], NULL, 10));
    if (strcmp(argv[1], "source") == 0)
        return source(argv[2], strtoull(argv[3], NULL, 10));
    if (strcmp(argv[1], "zc-sink") == 0)
        return zc_sink(argv[2], strtoull(argv[3], NULL, 10));
    if (strcmp(argv[1], "zc-source") == 0)
        return zc_source(argv[2], strtoull(argv[3], NULL, 10));
    if (strcmp(argv[1], "hold") == 0)
        return hold(argv[2], strcmp(argv[3], "create") == 0);
    if (argc == 5 && strcmp(argv[1], "many-sink") == 0)
        return many(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), 1);
    if (argc == 5 && strcmp(argv[1], "many-source") == 0)
        return many(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), 0);
    fprintf(stderr, "demi-pipe: unknown mode %s\n", argv[1]);
    return 1;
}
