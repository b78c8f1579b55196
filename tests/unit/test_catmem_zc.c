/* SPDX-License-Identifier: MIT */
/*
 * test_catmem_zc.c: zero-copy pipes (demi_pipe_sgaalloc of <demi/pipe.h>),
 * both ends in this process: a zero-copy message is written and read in
 * place (the popped pointer is the same byte of the shared object as the
 * reserved one), shorter pushes than reserved (also across the wrap point),
 * cancel by demi_sgafree, one reservation at a time, out-of-order frees of
 * popped buffers, mixing with copied messages, stale and foreign sgas, views
 * that outlive their pipe; and a peer killed (SIGKILL) while zero-copy
 * buffers, reservations and pops are out on either side (this binary
 * re-executes itself as the peer with --peer MODE NAME). The two-process
 * stream is in tests/integration/catmem.sh (demi-pipe --zero-copy). Every
 * wait is bounded and every child is killed at the end.
 */
#include "libos/runtime.h"
#include "libos/catmem.h"
#include "mem/shmring.h"

#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define RING 65536u /* DEMI_CATMEM_RING_SIZE below */

static const struct timespec five_s = {5, 0};
static const struct timespec short_wait = {0, 20 * 1000 * 1000};
static char *self_path;
static demi_sgarray_t *volatile null_sga;
/* NULL goes through a pointer whose type carries no nonnull attribute, so
 * UBSan's nonnull-attribute check does not fire here (test_api_args.c). */
static int (*volatile nn_pipe_sgaalloc)(demi_sgarray_t *, int, size_t) = demi_pipe_sgaalloc;

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static const char *uniq(const char *what)
{
    static char buf[CATMEM_NAME_MAX + 1];
    static unsigned n;
    snprintf(buf, sizeof(buf), "test-%d-%s-%u", (int)getpid(), what, n++);
    return buf;
}

/* Where @p lies in the shared object of pipe @name (the creator maps it
 * under its temporary name NAME~PID~N), from /proc/self/maps;
 * -1 when it is not in such a mapping (a copy). Each end maps the object at
 * its own address: the same object offset is the same byte. */
static long long obj_off(const void *p, const char *name)
{
    char line[512], want[256];
    long long ret = -1;
    FILE *f = fopen("/proc/self/maps", "r");

    assert_non_null(f);
    snprintf(want, sizeof(want), CATMEM_SHM_DIR CATMEM_SHM_PREFIX "%s", name);
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, off;
        char path[300] = "";
        if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %299s", &lo, &hi, &off, path) < 3)
            continue;
        if ((uintptr_t)p >= lo && (uintptr_t)p < hi && strncmp(path, want, strlen(want)) == 0 &&
            (path[strlen(want)] == '\0' || path[strlen(want)] == '~')) {
            ret = (long long)((uintptr_t)p - lo + off);
            break;
        }
    }
    fclose(f);
    return ret;
}

static demi_qresult_t wait_ok(demi_qtoken_t qt, demi_opcode_t want)
{
    demi_qresult_t qr;
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    if (qr.qr_opcode != want)
        fail_msg("opcode %d, want %d (qr_ret %lld: %s)", qr.qr_opcode, want, (long long)qr.qr_ret,
                 strerror((int)qr.qr_ret));
    return qr;
}

static void fill(demi_sgarray_t *sga, uint64_t seq, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        ((uint8_t *)sga->sga_segs[0].sgaseg_buf)[i] = pat(seq, i);
}

/* A zero-copy message: reserve @resv bytes, push @len of them. Returns the
 * object offset of the payload. */
static long long push_zc(int qd, const char *name, uint64_t seq, uint32_t resv, uint32_t len)
{
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    long long off;

    assert_int_equal(demi_pipe_sgaalloc(&sga, qd, resv), 0);
    assert_int_equal(sga.sga_numsegs, 1);
    assert_int_equal(sga.sga_segs[0].sgaseg_len, resv);
    off = obj_off(sga.sga_segs[0].sgaseg_buf, name);
    assert_true(off >= 0); /* in the shared ring */
    fill(&sga, seq, len);
    sga.sga_segs[0].sgaseg_len = len;
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    /* The push took the buffer: the sga is stale now. */
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(demi_push(&qt, qd, &sga), EINVAL);
    return off;
}

static void push_copy(int qd, uint64_t seq, uint32_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;

    assert_int_equal(sga.sga_numsegs, 1);
    fill(&sga, seq, len);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
}

/* Pop one message of @len bytes of pattern @seq; returns its sga (not freed). */
static demi_sgarray_t pop_msg(int qd, uint64_t seq, uint32_t len)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len != len)
        fail_msg("message %" PRIu64 ": %u bytes, want %u", seq, qr.qr_value.sga.sga_segs[0].sgaseg_len, len);
    for (uint32_t i = 0; i < len; i++)
        if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(seq, i))
            fail_msg("message %" PRIu64 " byte %u differs", seq, i);
    return qr.qr_value.sga;
}

static void check_bytes(const demi_sgarray_t *sga, uint64_t seq, uint32_t len)
{
    assert_int_equal(sga->sga_segs[0].sgaseg_len, len);
    for (uint32_t i = 0; i < len; i++)
        if (((uint8_t *)sga->sga_segs[0].sgaseg_buf)[i] != pat(seq, i))
            fail_msg("held message %" PRIu64 " byte %u differs", seq, i);
}

/* Nothing to pop: a pop stays pending (then cancelled by the caller's close
 * or completed later); returns its token. */
static demi_qtoken_t pop_nothing(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &short_wait), ETIMEDOUT);
    return qt;
}

/* ---- a peer process ------------------------------------------------------ */

/* Start this binary as the peer (--peer MODE NAME); its stdout is a pipe
 * whose read end goes to *@sig: the peer writes one byte there at each step
 * it reached. Returns its pid. */
static pid_t spawn_peer(const char *mode, const char *name, int *sig)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(self_path, self_path, "--peer", mode, name, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *sig = fds[0];
    return pid;
}

/* The peer's next step byte, within 10 s. */
static char peer_step(int sig)
{
    struct pollfd pfd = {.fd = sig, .events = POLLIN};
    char c = 0;

    if (poll(&pfd, 1, 10000) != 1 || read(sig, &c, 1) != 1)
        fail_msg("the peer did not report its step in 10 s");
    return c;
}

/* The peer's exit status, waiting at most @ms; killed (and failed) after. */
static int reap(pid_t pid, int ms)
{
    int status = 0;

    for (int i = 0; i < ms; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("peer %d did not finish in %d ms", (int)pid, ms);
    return -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define ZC_PEER_MSGS 10u

/* The peer: its end of pipe @name, then what @mode says; steps are reported
 * on stdout (see spawn_peer). Never returns 0: it is killed while it sleeps. */
static int peer_main(const char *mode, const char *name)
{
    struct demi_args args = {0, NULL, NULL};
    demi_sgarray_t sga;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd, ret = ENOENT;

    if (demi_init(&args) != 0)
        return 2;
    for (int i = 0; i < 5000 && (ret = demi_open_pipe(&qd, name)) == ENOENT; i++)
        usleep(1000);
    if (ret)
        return 3;
    if (strcmp(mode, "hold-reader") == 0) {
        /* Opened; reads nothing until killed. */
    } else if (strcmp(mode, "zc-writer") == 0) {
        /* ZC_PEER_MSGS zero-copy messages, then a reservation kept out. */
        for (uint32_t s = 0; s < ZC_PEER_MSGS; s++) {
            if (demi_pipe_sgaalloc(&sga, qd, 1000 + s) != 0)
                return 4;
            for (uint32_t i = 0; i < 1000 + s; i++)
                ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(s, i);
            if (demi_push(&qt, qd, &sga) || demi_wait(&qr, qt, &five_s) || qr.qr_opcode != DEMI_OPC_PUSH)
                return 5;
        }
        if (demi_pipe_sgaalloc(&sga, qd, 2000) != 0)
            return 6;
        memset(sga.sga_segs[0].sgaseg_buf, 0xee, 2000);
    } else {
        return 99;
    }
    if (write(STDOUT_FILENO, "r", 1) != 1)
        return 7;
    for (int i = 0; i < 30000; i++)
        usleep(1000);
    return 8;
}

static uint32_t bufs_at_start;

static int setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    if (!rt.initialised)
        assert_int_equal(demi_init(&args), 0);
    bufs_at_start = mem_in_use(&rt.mem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

/* In place both ways, byte-exact, at sizes up to the largest message. */
static void test_zc_in_place(void **state)
{
    static const uint32_t sizes[] = {1, 7, 64, 100, 4096, 20000, RING / 2 - SHMRING_HDR};
    const char *name = uniq("inplace");
    uint64_t seq = 0;
    int a, b;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seq++) {
            int from = seq & 1 ? a : b, to = seq & 1 ? b : a;
            long long off = push_zc(from, name, seq, sizes[i], sizes[i]);
            demi_sgarray_t got = pop_msg(to, seq, sizes[i]);
            /* Not a copy: the reader's pointer is the writer's byte. */
            assert_true(obj_off(got.sga_segs[0].sgaseg_buf, name) == off);
            assert_int_equal(demi_sgafree(&got), 0);
            assert_int_equal(demi_sgafree(&got), EINVAL); /* double free */
        }
    }
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

/* A push shorter than its reservation, wherever the wrap point falls: the
 * record stays where it was reserved (behind a WRAP), and what follows is
 * intact. Mixed with copied messages, the order is the push order. */
static void test_zc_shorter_and_mixed(void **state)
{
    const char *name = uniq("short");
    uint64_t seq = 0;
    int a, b;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    for (int i = 0; i < 2000; i++) {
        uint32_t resv = 1 + (uint32_t)(rand() % 20000);
        uint32_t len = 1 + (uint32_t)rand() % resv;
        int n = 1 + rand() % 4;
        uint64_t first = seq;
        uint32_t lens[4];
        bool zc[4];

        /* A burst of up to 4 (at most 4 × 20 KiB: fits the 64 KiB ring
         * only when drained, so the bursts are popped each time). */
        for (int k = 0; k < n; k++) {
            zc[k] = rand() & 1;
            lens[k] = k == 0 ? len : 1 + (uint32_t)(rand() % 3000);
            if (zc[k])
                push_zc(a, name, seq++, k == 0 ? resv : lens[k] + (uint32_t)(rand() % 100), lens[k]);
            else
                push_copy(a, seq++, lens[k]);
        }
        for (int k = 0; k < n; k++) {
            demi_sgarray_t got = pop_msg(b, first + (uint64_t)k, lens[k]);
            assert_true((obj_off(got.sga_segs[0].sgaseg_buf, name) >= 0) == zc[k]);
            assert_int_equal(demi_sgafree(&got), 0);
        }
    }
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

/* demi_sgafree of a reservation publishes nothing; one reservation at a
 * time; nothing else is pushed while one is out; bad arguments. */
static void test_zc_cancel_busy_args(void **state)
{
    const char *name = uniq("cancel");
    demi_sgarray_t sga, sga2, copy;
    demi_qtoken_t qt, pend;
    int a, b, c, udp;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);

    /* Cancel: the reader sees nothing; the next message comes through. */
    assert_int_equal(demi_pipe_sgaalloc(&sga, a, 500), 0);
    fill(&sga, 1, 500);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(demi_push(&qt, a, &sga), EINVAL); /* stale */
    pend = pop_nothing(b);
    push_zc(a, name, 2, 300, 300);
    {
        demi_qresult_t qr = wait_ok(pend, DEMI_OPC_POP);
        check_bytes(&qr.qr_value.sga, 2, 300);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }

    /* One at a time; a copy push waits for it to go (EBUSY). */
    assert_int_equal(demi_pipe_sgaalloc(&sga, a, 100), 0);
    assert_int_equal(demi_pipe_sgaalloc(&sga2, a, 100), EBUSY);
    assert_int_equal(sga2.sga_numsegs, 0);
    copy = demi_sgaalloc(10);
    fill(&copy, 3, 10);
    assert_int_equal(demi_push(&qt, a, &copy), EBUSY);
    /* The other direction is independent. */
    assert_int_equal(demi_pipe_sgaalloc(&sga2, b, 100), 0);
    assert_int_equal(demi_sgafree(&sga2), 0);
    /* Pushed on another qd: the peer's end, another pipe. */
    assert_int_equal(demi_create_pipe(&c, uniq("other")), 0);
    assert_int_equal(demi_push(&qt, b, &sga), EINVAL);
    assert_int_equal(demi_push(&qt, c, &sga), EINVAL);
    /* A segment not at the reservation's start, or longer than it. */
    sga.sga_segs[0].sgaseg_buf = (uint8_t *)sga.sga_segs[0].sgaseg_buf + 1;
    sga.sga_segs[0].sgaseg_len = 10;
    assert_int_equal(demi_push(&qt, a, &sga), EINVAL);
    sga.sga_segs[0].sgaseg_buf = (uint8_t *)sga.sga_segs[0].sgaseg_buf - 1;
    sga.sga_segs[0].sgaseg_len = 101;
    assert_int_equal(demi_push(&qt, a, &sga), EINVAL);
    sga.sga_segs[0].sgaseg_len = 100;
    fill(&sga, 4, 100);
    assert_int_equal(demi_push(&qt, a, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_push(&qt, a, &copy), 0); /* now it may go */
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&copy), 0);
    sga = pop_msg(b, 4, 100);
    assert_int_equal(demi_sgafree(&sga), 0);
    sga = pop_msg(b, 3, 10);
    assert_int_equal(demi_sgafree(&sga), 0);

    /* Arguments. */
    assert_int_equal(nn_pipe_sgaalloc(null_sga, a, 10), EINVAL);
    assert_int_equal(demi_pipe_sgaalloc(&sga, a, 0), EINVAL);
    assert_int_equal(demi_pipe_sgaalloc(&sga, a, RING / 2 - SHMRING_HDR + 1), EMSGSIZE);
    assert_int_equal(demi_pipe_sgaalloc(&sga, 100000, 10), EBADF);
    assert_int_equal(demi_pipe_sgaalloc(&sga, -1, 10), EBADF);
    assert_int_equal(demi_socket(&udp, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_pipe_sgaalloc(&sga, udp, 10), ENOTSUP);
    assert_int_equal(sga.sga_numsegs, 0);
    /* A ring buffer pushed to a socket: refused, and still the pipe's. */
    {
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
        to.sin_addr.s_addr = htonl(0x7f000001);
        assert_int_equal(demi_pipe_sgaalloc(&sga, a, 10), 0);
        assert_int_equal(demi_pushto(&qt, udp, &sga, (const struct sockaddr *)&to, sizeof(to)), EINVAL);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    assert_int_equal(demi_close(udp), 0);

    /* A peer that closed: EPIPE at alloc, and for a reservation made
     * before, at its push (which takes the buffer). */
    assert_int_equal(demi_pipe_sgaalloc(&sga, b, 10), 0);
    assert_int_equal(demi_close(a), 0);
    {
        demi_qresult_t qr;
        assert_int_equal(demi_push(&qt, b, &sga), 0);
        assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, EPIPE);
        assert_int_equal(demi_sgafree(&sga), EINVAL);
    }
    assert_int_equal(demi_pipe_sgaalloc(&sga, b, 10), EPIPE);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(c), 0);
}

/* Popped buffers hold ring space until freed, in any order: the writer sees
 * a full ring, and refills it completely once they are all freed. */
static void test_zc_out_of_order_free(void **state)
{
    const char *name = uniq("order");
    const uint32_t len = 2000; /* 2 KiB records: 32 fill the 64 KiB ring */
    demi_sgarray_t held[64], sga;
    uint32_t m;
    uint64_t seq = 0;
    int a, b;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    /* Start off zero so the rounds cross the wrap point. */
    push_zc(a, name, seq, 700, 700);
    sga = pop_msg(b, seq++, 700);
    assert_int_equal(demi_sgafree(&sga), 0);
    for (int round = 0; round < 6; round++) {
        uint32_t order[64];
        uint64_t first = seq;

        for (m = 0; m < 64; m++) {
            int r = demi_pipe_sgaalloc(&sga, a, len);
            if (r == EAGAIN)
                break;
            assert_int_equal(r, 0);
            fill(&sga, seq++, len);
            demi_qtoken_t qt;
            assert_int_equal(demi_push(&qt, a, &sga), 0);
            wait_ok(qt, DEMI_OPC_PUSH);
        }
        /* The whole ring came back: 32 records, or 31 and a WRAP. */
        assert_true(m >= 31 && m <= 32);
        for (uint32_t i = 0; i < m; i++) {
            held[i] = pop_msg(b, first + i, len);
            assert_true(obj_off(held[i].sga_segs[0].sgaseg_buf, name) >= 0);
            order[i] = i;
        }
        /* Shuffle; keep the oldest last, so the head cannot move until then. */
        for (uint32_t i = m - 1; i > 1; i--) {
            uint32_t j = 1 + (uint32_t)rand() % i, t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (uint32_t i = 1; i < m; i++) {
            check_bytes(&held[order[i]], first + order[i], len);
            assert_int_equal(demi_sgafree(&held[order[i]]), 0);
            assert_int_equal(demi_pipe_sgaalloc(&sga, a, len), EAGAIN); /* still held */
        }
        check_bytes(&held[0], first, len);
        assert_int_equal(demi_sgafree(&held[0]), 0);
    }
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

/* Beyond 64 zero-copy pops out, pops copy; a held buffer outlives close. */
static void test_zc_bound_and_close(void **state)
{
    const char *name = uniq("bound");
    demi_sgarray_t held[100], resv;
    int a, b;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    for (uint64_t s = 0; s < 100; s++)
        push_zc(a, name, s, 100, 100); /* 128 B records: 512 fit */
    for (uint64_t s = 0; s < 100; s++) {
        held[s] = pop_msg(b, s, 100);
        assert_true((obj_off(held[s].sga_segs[0].sgaseg_buf, name) >= 0) == (s < 64));
    }
    for (uint64_t s = 64; s < 100; s++)
        assert_int_equal(demi_sgafree(&held[s]), 0);
    /* Both ends close with 64 pops and a reservation out: the bytes stay. */
    assert_int_equal(demi_pipe_sgaalloc(&resv, a, 4000), 0);
    fill(&resv, 7, 4000);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    check_bytes(&resv, 7, 4000);
    for (uint64_t s = 0; s < 64; s++) {
        check_bytes(&held[s], s, 100);
        assert_int_equal(demi_sgafree(&held[s]), 0);
    }
    assert_int_equal(demi_sgafree(&resv), 0);
    assert_int_equal(demi_sgafree(&resv), EINVAL);
}

/* A zero-copy pop forwarded on another pipe is copied there; a buffer
 * still held keeps its ring space. */
static void test_zc_forward(void **state)
{
    const char *n1 = uniq("fwd1");
    char n1c[CATMEM_NAME_MAX + 1];
    demi_sgarray_t got, got2;
    demi_qtoken_t qt;
    int a, b, c, d;

    (void)state;
    snprintf(n1c, sizeof(n1c), "%s", n1);
    assert_int_equal(demi_create_pipe(&a, n1c), 0);
    assert_int_equal(demi_open_pipe(&b, n1c), 0);
    {
        const char *n2 = uniq("fwd2");
        assert_int_equal(demi_create_pipe(&c, n2), 0);
        assert_int_equal(demi_open_pipe(&d, n2), 0);
    }
    push_zc(a, n1c, 11, 3000, 3000);
    got = pop_msg(b, 11, 3000);
    assert_true(obj_off(got.sga_segs[0].sgaseg_buf, n1c) >= 0);
    assert_int_equal(demi_push(&qt, c, &got), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    got2 = pop_msg(d, 11, 3000);
    assert_int_equal(demi_sgafree(&got2), 0);
    assert_int_equal(demi_sgafree(&got), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(demi_close(d), 0);
}

/* The reader is killed while the writer fills the ring zero-copy: once the
 * ring is full, demi_pipe_sgaalloc must say ECONNRESET within the liveness
 * bound (it used to say EAGAIN forever), as the copying push does. */
static void test_zc_reader_killed(void **state)
{
    const char *name = uniq("rkill");
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    uint64_t t0;
    int qd, sig, ret = 0, n;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("hold-reader", name, &sig);
    assert_int_equal(peer_step(sig), 'r');
    for (n = 0; n < 1000; n++) {
        ret = demi_pipe_sgaalloc(&sga, qd, 4000);
        if (ret)
            break;
        fill(&sga, (uint64_t)n, 4000);
        assert_int_equal(demi_push(&qt, qd, &sga), 0);
        wait_ok(qt, DEMI_OPC_PUSH);
    }
    assert_int_equal(ret, EAGAIN); /* full: the reader lives and reads nothing */
    usleep(5000);                  /* several liveness periods */
    assert_int_equal(demi_pipe_sgaalloc(&sga, qd, 4000), EAGAIN);

    kill(pid, SIGKILL); /* not reaped yet: a zombie must count as gone */
    t0 = now_ms();
    while ((ret = demi_pipe_sgaalloc(&sga, qd, 4000)) == EAGAIN && now_ms() - t0 < 5000)
        usleep(100);
    if (ret == EAGAIN)
        fail_msg("demi_pipe_sgaalloc still EAGAIN 5 s after its reader was killed");
    assert_int_equal(ret, ECONNRESET);
    assert_int_equal(sga.sga_numsegs, 0);
    /* Sticky, whatever the size, and the copying push says the same. */
    assert_int_equal(demi_pipe_sgaalloc(&sga, qd, 1), ECONNRESET);
    sga = demi_sgaalloc(10);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_close(qd), 0);
    close(sig);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
}

/* The same with a reservation out when the reader dies, and room left in
 * the ring: pushing it still works (nothing waits, nothing is probed), the
 * next allocations fill the ring, then ECONNRESET, never EAGAIN for good. */
static void test_zc_reader_killed_resv_out(void **state)
{
    const char *name = uniq("rkill2");
    demi_sgarray_t resv, sga;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    uint64_t t0;
    int qd, sig, ret;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("hold-reader", name, &sig);
    assert_int_equal(peer_step(sig), 'r');
    assert_int_equal(demi_pipe_sgaalloc(&resv, qd, 3000), 0);
    fill(&resv, 1, 3000);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(demi_pipe_sgaalloc(&sga, qd, 10), EBUSY); /* ours is out */
    assert_int_equal(demi_push(&qt, qd, &resv), 0);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    t0 = now_ms();
    for (;;) {
        ret = demi_pipe_sgaalloc(&sga, qd, 4000);
        if (ret == 0) {
            assert_int_equal(demi_push(&qt, qd, &sga), 0);
            assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
        } else if (ret != EAGAIN || now_ms() - t0 > 5000) {
            break;
        } else {
            usleep(100);
        }
    }
    if (ret == EAGAIN)
        fail_msg("demi_pipe_sgaalloc still EAGAIN 5 s after its reader died");
    assert_int_equal(ret, ECONNRESET);
    assert_int_equal(demi_close(qd), 0);
    close(sig);
}

/* The writer is killed while the reader holds zero-copy pops, waits on one
 * more, and the writer has a reservation out (written, never pushed): the
 * waiting pop fails with ECONNRESET in bounded time, the unpushed bytes are
 * never seen, and the held buffers stay valid and byte-exact. */
static void test_zc_writer_killed(void **state)
{
    const char *name = uniq("wkill");
    demi_sgarray_t held[ZC_PEER_MSGS];
    demi_qtoken_t qt, qt2;
    demi_qresult_t qr;
    int qd, sig;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("zc-writer", name, &sig);
    for (uint32_t s = 0; s < ZC_PEER_MSGS; s++) {
        held[s] = pop_msg(qd, s, 1000 + s);
        assert_true(obj_off(held[s].sga_segs[0].sgaseg_buf, name) >= 0); /* in place */
    }
    assert_int_equal(peer_step(sig), 'r'); /* its reservation is out */
    qt = pop_nothing(qd);
    kill(pid, SIGKILL);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_pop(&qt2, qd), 0); /* sticky */
    assert_int_equal(demi_wait(&qr, qt2, &five_s), 0);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    for (uint32_t s = ZC_PEER_MSGS; s-- > 0;) { /* newest first: out of order */
        check_bytes(&held[s], s, 1000 + s);
        assert_int_equal(demi_sgafree(&held[s]), 0);
    }
    assert_int_equal(demi_close(qd), 0);
    close(sig);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zc_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_shorter_and_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_cancel_busy_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_out_of_order_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_bound_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_reader_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_reader_killed_resv_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zc_writer_killed, setup, teardown),
    };
    char ring[16];

    snprintf(ring, sizeof(ring), "%u", RING);
    setenv("DEMI_CATMEM_RING_SIZE", ring, 1);
    if (argc == 4 && strcmp(argv[1], "--peer") == 0)
        return peer_main(argv[2], argv[3]);
    self_path = argv[0];
    unsetenv("LIBOS");
    srand((unsigned)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
