/* SPDX-License-Identifier: MIT */
/*
 * bench_catmem: a shared-memory pipe (<demi/pipe.h>, LIBOS=catmem) between
 * two processes, next to a Unix-domain stream socket and a pair of pipe(2)s
 * between the same two processes (blocking read/write, how they are used).
 *
 * For each transport and message size:
 *   - round trip: ping-pong, one message each way; median and p99;
 *   - one way: the pong carries the child's send time (CLOCK_MONOTONIC is
 *     one clock for both processes); median and p99 of receive - send;
 *   - messages/s: the child sends COUNT messages as fast as it can (catmem:
 *     up to 64 pushes in flight), the parent receives them all.
 * The catmem pipe runs twice: copying (demi_sgaalloc buffers, copied into
 * the ring and out of it) and zero-copy (demi_pipe_sgaalloc: written in the
 * ring, popped in place). Every transport writes the 8-byte stamp into its
 * message and reads it back: what differs is what the transport copies.
 * Figures only; it checks the sizes that come back and nothing else.
 *
 *   build/bench/bench_catmem [ROUNDS] [COUNT]     (100000, 1000000)
 */
#define _POSIX_C_SOURCE 200809L
#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 64
#define MAX_SIZE 65536

enum transport { T_CATMEM, T_CATMEM_ZC, T_UNIX, T_PIPE };
static const char *const tname[] = {"catmem pipe", "catmem zero-copy", "unix socket", "pipe(2)"};

static int is_catmem(enum transport t)
{
    return t == T_CATMEM || t == T_CATMEM_ZC;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_catmem: %s: %s\n", what, strerror(rc));
        exit(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- one end of a connection, whatever the transport ------------------- */

struct end {
    enum transport t;
    int qd;       /* catmem */
    int rfd, wfd; /* unix socket (same fd), pipe(2) */
};

static void fd_write(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("bench_catmem: write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void fd_read(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "bench_catmem: read: %s\n", r == 0 ? "EOF" : strerror(errno));
            exit(1);
        }
        p += r;
        n -= (size_t)r;
    }
}

static demi_qresult_t demi_wait_ok(demi_qtoken_t qt, const char *what)
{
    demi_qresult_t qr;
    check(demi_wait(&qr, qt, NULL), what);
    if (qr.qr_opcode == DEMI_OPC_FAILED) {
        fprintf(stderr, "bench_catmem: %s failed: %s\n", what, strerror((int)qr.qr_ret));
        exit(1);
    }
    return qr;
}

/* Send @size bytes whose first 8 are @stamp. Catmem: the push is started
 * and its token returned (0 for the fd transports, which are synchronous). */
static demi_qtoken_t send_msg(struct end *e, size_t size, uint64_t stamp)
{
    static char buf[MAX_SIZE];

    if (e->t == T_CATMEM_ZC) {
        demi_sgarray_t sga;
        demi_qtoken_t qt;
        int ret;
        /* Full ring: the reader frees soon; spin, yield now and then. */
        for (unsigned i = 1; (ret = demi_pipe_sgaalloc(&sga, e->qd, size)) == EAGAIN; i++)
            if (i % 1024 == 0)
                sched_yield();
        check(ret, "pipe_sgaalloc");
        memcpy(sga.sga_segs[0].sgaseg_buf, &stamp, sizeof(stamp));
        check(demi_push(&qt, e->qd, &sga), "push"); /* takes the buffer */
        return qt;
    }
    if (e->t == T_CATMEM) {
        demi_sgarray_t sga = demi_sgaalloc(size);
        demi_qtoken_t qt;
        memcpy(sga.sga_segs[0].sgaseg_buf, &stamp, sizeof(stamp));
        check(demi_push(&qt, e->qd, &sga), "push");
        demi_sgafree(&sga);
        return qt;
    }
    memcpy(buf, &stamp, sizeof(stamp));
    fd_write(e->wfd, buf, size);
    return 0;
}

static uint64_t recv_msg(struct end *e, size_t size)
{
    static char buf[MAX_SIZE];
    uint64_t stamp;

    if (is_catmem(e->t)) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        check(demi_pop(&qt, e->qd), "pop");
        qr = demi_wait_ok(qt, "pop");
        if (qr.qr_value.sga.sga_segs[0].sgaseg_len != size) {
            fprintf(stderr, "bench_catmem: got %u bytes, want %zu\n", qr.qr_value.sga.sga_segs[0].sgaseg_len, size);
            exit(1);
        }
        memcpy(&stamp, qr.qr_value.sga.sga_segs[0].sgaseg_buf, sizeof(stamp));
        demi_sgafree(&qr.qr_value.sga);
        return stamp;
    }
    fd_read(e->rfd, buf, size);
    memcpy(&stamp, buf, sizeof(stamp));
    return stamp;
}

static void send_sync(struct end *e, size_t size, uint64_t stamp)
{
    demi_qtoken_t qt = send_msg(e, size, stamp);
    if (is_catmem(e->t))
        demi_wait_ok(qt, "push");
}

/* ---- the two roles ------------------------------------------------------ */

/* Child: answer ROUNDS pings, then send COUNT messages in a stream. */
static void child_run(struct end *e, size_t size, int rounds, int count)
{
    for (int i = 0; i < rounds; i++) {
        recv_msg(e, size);
        send_sync(e, size, now_ns());
    }
    recv_msg(e, size); /* go */
    if (is_catmem(e->t)) {
        demi_qtoken_t qts[IN_FLIGHT];
        int n = 0, head = 0;
        for (int i = 0; i < count; i++) {
            if (n == IN_FLIGHT) {
                demi_wait_ok(qts[head], "push");
                head = (head + 1) % IN_FLIGHT;
                n--;
            }
            qts[(head + n) % IN_FLIGHT] = send_msg(e, size, (uint64_t)i);
            n++;
        }
        while (n > 0) {
            demi_wait_ok(qts[head], "push");
            head = (head + 1) % IN_FLIGHT;
            n--;
        }
    } else {
        for (int i = 0; i < count; i++)
            send_msg(e, size, (uint64_t)i);
    }
    recv_msg(e, size); /* done */
}

struct result {
    uint64_t rtt50, rtt99, ow50, ow99;
    double mps;
};

static struct result parent_run(struct end *e, size_t size, int rounds, int count)
{
    uint64_t *rtt = calloc((size_t)rounds, sizeof(*rtt));
    uint64_t *ow = calloc((size_t)rounds, sizeof(*ow));
    struct result r;
    uint64_t t0;

    if (!rtt || !ow)
        exit(1);
    for (int i = 0; i < rounds; i++) {
        uint64_t sent, stamp, got;
        sent = now_ns();
        send_sync(e, size, sent);
        stamp = recv_msg(e, size);
        got = now_ns();
        rtt[i] = got - sent;
        ow[i] = got - stamp;
    }
    /* Warm-up rounds out: the first 10% (page faults, caches). */
    qsort(rtt + rounds / 10, (size_t)(rounds - rounds / 10), sizeof(*rtt), cmp_u64);
    qsort(ow + rounds / 10, (size_t)(rounds - rounds / 10), sizeof(*ow), cmp_u64);
    {
        int n = rounds - rounds / 10;
        r.rtt50 = rtt[rounds / 10 + n / 2];
        r.rtt99 = rtt[rounds / 10 + (int)((double)n * 0.99)];
        r.ow50 = ow[rounds / 10 + n / 2];
        r.ow99 = ow[rounds / 10 + (int)((double)n * 0.99)];
    }
    t0 = now_ns();
    send_sync(e, size, 0); /* go */
    for (int i = 0; i < count; i++)
        recv_msg(e, size);
    r.mps = (double)count * 1e9 / (double)(now_ns() - t0);
    send_sync(e, size, 0); /* done */
    free(rtt);
    free(ow);
    return r;
}

static void demi_start(void)
{
    struct demi_args args;
    memset(&args, 0, sizeof(args));
    setenv("LIBOS", "catmem", 1);
    check(demi_init(&args), "demi_init");
}

static struct result run(enum transport t, size_t size, int rounds, int count)
{
    struct end pe, ce;
    char name[64];
    int sv[2], p1[2], p2[2];
    pid_t pid;
    int status;
    struct result r;

    memset(&pe, 0, sizeof(pe));
    memset(&ce, 0, sizeof(ce));
    pe.t = ce.t = t;
    snprintf(name, sizeof(name), "bench-%d-%d-%zu", (int)getpid(), (int)t, size);
    if (t == T_UNIX) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            exit(1);
        pe.rfd = pe.wfd = sv[0];
        ce.rfd = ce.wfd = sv[1];
    } else if (t == T_PIPE) {
        if (pipe(p1) < 0 || pipe(p2) < 0)
            exit(1);
        pe.wfd = p1[1], ce.rfd = p1[0];
        ce.wfd = p2[1], pe.rfd = p2[0];
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        exit(1);
    if (pid == 0) {
        if (is_catmem(t)) {
            int ret = ENOENT;
            /* The runtime forked from the parent's holds no queue (the
             * parent creates its pipe after the fork): the child uses it. */
            for (int i = 0; i < 10000 && ret == ENOENT; i++) {
                struct timespec ms = {0, 1000000};
                ret = demi_open_pipe(&ce.qd, name);
                if (ret == ENOENT)
                    nanosleep(&ms, NULL);
            }
            check(ret, "demi_open_pipe");
        }
        child_run(&ce, size, rounds, count);
        _exit(0);
    }
    if (is_catmem(t))
        check(demi_create_pipe(&pe.qd, name), "demi_create_pipe");
    r = parent_run(&pe, size, rounds, count);
    waitpid(pid, &status, 0);
    if (is_catmem(t)) {
        demi_close(pe.qd);
    } else if (t == T_UNIX) {
        close(sv[0]), close(sv[1]);
    } else {
        close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
    }
    return r;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100000;
    int count = argc > 2 ? atoi(argv[2]) : 1000000;
    static const size_t sizes[] = {64, 4096, 65536};

    if (rounds < 10 || count < 1) {
        fprintf(stderr, "usage: bench_catmem [ROUNDS >= 10] [COUNT >= 1]\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    demi_start(); /* LIBOS=catmem: nothing but pipes in the runtime */
    printf("# two processes; %d round trips (first 10%% dropped), %d streamed messages\n", rounds, count);
    printf("| transport | size | RTT p50 | RTT p99 | one-way p50 | one-way p99 | messages/s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int t = T_CATMEM; t <= T_PIPE; t++) {
            struct result r = run((enum transport)t, sizes[s], rounds, count);
            printf("| %s | %zu B | %.2f µs | %.2f µs | %.2f µs | %.2f µs | %.2f M |\n", tname[t], sizes[s],
                   (double)r.rtt50 / 1e3, (double)r.rtt99 / 1e3, (double)r.ow50 / 1e3, (double)r.ow99 / 1e3,
                   r.mps / 1e6);
            fflush(stdout);
        }
    }
    return 0;
}
