/* SPDX-License-Identifier: MIT */
/*
 * test_catmem.c: shared-memory pipes (<demi/pipe.h>) end to end: both ends
 * in this process, and across two (this binary re-executes itself as the
 * peer with --peer MODE NAME): boundaries and bytes, EOF, a peer that dies
 * mid-stream on either side, stale objects (taken over by create and open,
 * removed by catmem_shm_clean, never when not libdemi's or still held),
 * many pipes at once, bad arguments, and pipes waited on together with
 * catnap and catloop sockets.
 * Every wait is bounded and every child is killed at the end, so a bug fails
 * a test instead of hanging it.
 *
 * Compiled with ATTR_NONNULL active, as an application is: NULL arguments go
 * through volatile pointers.
 */
#include "libos/runtime.h"
#include "libos/catmem.h"
#include "libos/catmem_int.h"
#include "mem/shmring.h"

#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec five_s = {5, 0};
static const struct timespec short_wait = {0, 20 * 1000 * 1000};
static char *self_path;
static int (*volatile create_pipe_fn)(int *, const char *) = demi_create_pipe;
static int (*volatile open_pipe_fn)(int *, const char *) = demi_open_pipe;
static int *volatile null_int;
static const char *volatile null_name;

/* ---- helpers ----------------------------------------------------------- */

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static uint32_t len_of(uint64_t seq, uint32_t max)
{
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    x ^= x >> 29;
    return 1 + (uint32_t)(x % max);
}

/* A name no other run uses at the same time. */
static const char *uniq(const char *what)
{
    static char buf[CATMEM_NAME_MAX + 1];
    static unsigned n;
    snprintf(buf, sizeof(buf), "test-%d-%s-%u", (int)getpid(), what, n++);
    return buf;
}

static bool shm_exists(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), CATMEM_SHM_DIR CATMEM_SHM_PREFIX "%s", name);
    return access(path, F_OK) == 0;
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

static void push_msg(int qd, uint64_t seq, uint32_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;

    assert_int_equal(sga.sga_numsegs, 1);
    for (uint32_t i = 0; i < len; i++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(seq, i);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0); /* free-protection: before completion */
    wait_ok(qt, DEMI_OPC_PUSH);
}

static void pop_check(int qd, uint64_t seq, uint32_t len)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len != len)
        fail_msg("message %llu: %u bytes, want %u", (unsigned long long)seq, qr.qr_value.sga.sga_segs[0].sgaseg_len,
                 len);
    for (uint32_t i = 0; i < len; i++)
        if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(seq, i))
            fail_msg("message %llu byte %u differs", (unsigned long long)seq, i);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

/* A message of @len bytes all equal to (uint8_t)@fill. */
static void pop_check_fill(int qd, uint32_t fill, uint32_t len)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, len);
    for (uint32_t i = 0; i < len; i++)
        if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != (uint8_t)fill)
            fail_msg("message %u byte %u differs", fill, i);
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

/* Start this binary as the peer; returns its pid. */
static pid_t spawn_peer(const char *mode, const char *name, const char *libos)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (libos)
            setenv("LIBOS", libos, 1);
        execl(self_path, self_path, "--peer", mode, name, (char *)NULL);
        _exit(127);
    }
    return pid;
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

/* ---- one process ------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    char longname[CATMEM_NAME_MAX + 2];
    const char *bad[] = {"", "a/b", "/x", "x/", "tab\t", "nl\n", "del\x7f", "a~b", "~"};
    const char *name = uniq("args");
    struct sockaddr_in sin;
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    int qd, qd2;
    socklen_t len;
    int v;

    (void)state;
    assert_int_equal(create_pipe_fn(null_int, "x"), EINVAL);
    assert_int_equal(create_pipe_fn(&qd, null_name), EINVAL);
    assert_int_equal(open_pipe_fn(null_int, "x"), EINVAL);
    assert_int_equal(open_pipe_fn(&qd, null_name), EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(demi_create_pipe(&qd, bad[i]), EINVAL);
        assert_int_equal(demi_open_pipe(&qd, bad[i]), EINVAL);
    }
    memset(longname, 'n', sizeof(longname));
    longname[CATMEM_NAME_MAX + 1] = '\0';
    assert_int_equal(demi_create_pipe(&qd, longname), EINVAL);
    longname[snprintf(longname, 16, "t%d-", (int)getpid())] = 'n';
    longname[CATMEM_NAME_MAX] = '\0'; /* the longest allowed */
    assert_int_equal(demi_create_pipe(&qd, longname), 0);
    assert_int_equal(demi_close(qd), 0);

    assert_int_equal(demi_open_pipe(&qd, name), ENOENT);
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    assert_int_equal(demi_create_pipe(&qd2, name), EEXIST);
    assert_int_equal(demi_open_pipe(&qd2, name), 0);
    assert_int_equal(demi_open_pipe(&v, name), EBUSY);

    /* Socket calls on a pipe. */
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    len = sizeof(v);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
    assert_int_equal(demi_listen(qd, 1), ENOTSUP);
    assert_int_equal(demi_accept(&qt, qd), ENOTSUP);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
    assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), ENOTSUP);
    assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), ENOTSUP);
    len = sizeof(sin);
    assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&sin, &len), ENOTSUP);

    /* Push: empty sga, too large, pushto. */
    sga = demi_sgaalloc(shmring_max_msg(rt.cfg.catmem_ring_size) + 1);
    assert_int_equal(sga.sga_numsegs, 1);
    assert_int_equal(demi_push(&qt, qd, &sga), EMSGSIZE);
    assert_int_equal(demi_pushto(&qt, qd, &sga, (struct sockaddr *)&sin, sizeof(sin)), ENOTSUP);
    sga.sga_segs[0].sgaseg_len = 0;
    assert_int_equal(demi_push(&qt, qd, &sga), EINVAL);
    assert_int_equal(demi_sgafree(&sga), 0);

    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_close(qd2), 0);
    assert_int_equal(demi_close(qd), EBADF);
    assert_int_equal(demi_pop(&qt, qd), EBADF);
    assert_false(shm_exists(name)); /* the creator's close removes the name */
    assert_int_equal(demi_open_pipe(&qd, name), ENOENT);
}

/* Demikernel's names ("%s:rx", from argv) are accepted; the refused ones
 * are refused for a reason the message names. */
static void test_names(void **state)
{
    static const char *const good_suffix[] = {":rx", ":tx", " with space", "*x?",    "caf\xc3\xa9",
                                              "..",  "-",   "#1",          "a=b,c;d"};
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"", "empty"},
        {"a/b", "contains '/'"},
        {"/", "contains '/'"},
        {"a~b", "contains '~'"},
        {"tab\t", "control character"},
        {"\x1b[31m", "control character"},
        {"del\x7f", "control character"},
    };
    char longname[CATMEM_NAME_MAX + 2], name[CATMEM_NAME_MAX + 1];
    int qa, qb;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = catmem_name_problem(bad[i].name);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].why));
        assert_int_equal(demi_create_pipe(&qa, bad[i].name), EINVAL);
        assert_int_equal(demi_open_pipe(&qa, bad[i].name), EINVAL);
    }
    memset(longname, 'n', sizeof(longname));
    longname[CATMEM_NAME_MAX + 1] = '\0';
    assert_non_null(strstr(catmem_name_problem(longname), "longer than 128"));
    assert_int_equal(demi_create_pipe(&qa, longname), EINVAL);
    assert_int_equal(demi_open_pipe(&qa, longname), EINVAL);

    for (size_t i = 0; i < sizeof(good_suffix) / sizeof(good_suffix[0]); i++) {
        snprintf(name, sizeof(name), "%s%s", uniq("name"), good_suffix[i]);
        assert_null(catmem_name_problem(name));
        assert_int_equal(demi_create_pipe(&qa, name), 0);
        assert_true(shm_exists(name));
        assert_int_equal(demi_open_pipe(&qb, name), 0);
        assert_int_equal(demi_close(qb), 0);
        assert_int_equal(demi_close(qa), 0);
        assert_false(shm_exists(name));
    }
}

static void test_one_process_both_ways(void **state)
{
    const char *name = uniq("both");
    int a, b;

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    for (uint64_t seq = 0; seq < 3000; seq++) {
        uint32_t n = len_of(seq, 4096);
        push_msg(seq & 1 ? a : b, seq, n);
        pop_check(seq & 1 ? b : a, seq, n);
    }
    /* Several queued, then read: boundaries kept. */
    for (uint64_t seq = 0; seq < 10; seq++)
        push_msg(a, seq, (uint32_t)seq + 1);
    for (uint64_t seq = 0; seq < 10; seq++)
        pop_check(b, seq, (uint32_t)seq + 1);
    /* The creator closes first: the opener gets its data, then EOF, and a
     * push from it fails with EPIPE. */
    push_msg(a, 99, 100);
    assert_int_equal(demi_close(a), 0);
    pop_check(b, 99, 100);
    pop_eof(b);
    pop_eof(b); /* EOF stays EOF */
    {
        demi_sgarray_t sga = demi_sgaalloc(8);
        demi_qtoken_t qt;
        demi_qresult_t qr;
        assert_int_equal(demi_push(&qt, b, &sga), 0);
        assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, EPIPE);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    assert_int_equal(demi_close(b), 0);
}

/* A full ring keeps pushes pending (in order) until a pop makes room;
 * close cancels what still waits, and the peer still reads what completed. */
static void test_full_ring_and_cancel(void **state)
{
    const char *name = uniq("full");
    const uint32_t n = 1000; /* 1 KiB records: a 64 KiB ring holds 64 */
    uint32_t pushed = 0, inring;
    demi_qtoken_t qts[4];
    demi_qresult_t qr;
    int a, b, npend = 0;
    static char foreign[1000];

    (void)state;
    assert_int_equal(demi_create_pipe(&a, name), 0);
    assert_int_equal(demi_open_pipe(&b, name), 0);
    while (npend < 3) {
        demi_sgarray_t sga = demi_sgaalloc(n);
        memset(sga.sga_segs[0].sgaseg_buf, (int)pushed, n);
        assert_int_equal(demi_push(&qts[npend], a, &sga), 0);
        assert_int_equal(demi_sgafree(&sga), 0); /* pending: still protected */
        pushed++;
        if (npend > 0 || demi_wait(&qr, qts[npend], &(struct timespec){0, 0}) == ETIMEDOUT)
            npend++;
        assert_true(pushed < 100000);
    }
    inring = pushed - 3;
    assert_int_equal(inring, 64);
    assert_int_equal(demi_wait(&qr, qts[0], &short_wait), ETIMEDOUT);
    pop_check_fill(b, 0, n);
    wait_ok(qts[0], DEMI_OPC_PUSH); /* made room for exactly one */
    assert_int_equal(demi_wait(&qr, qts[1], &short_wait), ETIMEDOUT);
    {
        demi_sgarray_t sga;
        memset(&sga, 0, sizeof(sga));
        sga.sga_numsegs = 1;
        sga.sga_segs[0].sgaseg_buf = foreign;
        sga.sga_segs[0].sgaseg_len = sizeof(foreign);
        assert_int_equal(demi_push(&qts[3], a, &sga), 0);
    }
    assert_int_equal(demi_close(a), 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(demi_wait(&qr, qts[i], &five_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
    }
    for (uint32_t i = 1; i <= inring; i++)
        pop_check_fill(b, i, n);
    pop_eof(b);
    assert_int_equal(demi_close(b), 0);
}

/* ---- across processes --------------------------------------------------- */

/* Peer modes (run in the child, after its own demi_init). Exit status 0 is
 * success; anything else names the step that failed. */
static int peer_main(const char *mode, const char *name)
{
    struct demi_args args = {0, NULL, NULL};
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd, ret;

    if (demi_init(&args) != 0)
        return 2;
    if (strcmp(mode, "echo") == 0) { /* open, echo every message until EOF */
        for (int i = 0; i < 5000 && (ret = demi_open_pipe(&qd, name)) == ENOENT; i++)
            usleep(1000);
        if (ret)
            return 3;
        for (;;) {
            if (demi_pop(&qt, qd) || demi_wait(&qr, qt, &five_s) || qr.qr_opcode != DEMI_OPC_POP)
                return 4;
            if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0)
                break;
            if (demi_push(&qt, qd, &qr.qr_value.sga) || demi_sgafree(&qr.qr_value.sga))
                return 5;
            if (demi_wait(&qr, qt, &five_s) || qr.qr_opcode != DEMI_OPC_PUSH)
                return 6;
        }
        return demi_close(qd) ? 7 : 0;
    }
    if (strcmp(mode, "spew") == 0) { /* open, push numbered messages forever */
        for (int i = 0; i < 5000 && (ret = demi_open_pipe(&qd, name)) == ENOENT; i++)
            usleep(1000);
        if (ret)
            return 3;
        for (uint64_t seq = 0;; seq++) {
            uint32_t n = len_of(seq, 4096);
            demi_sgarray_t sga = demi_sgaalloc(n);
            for (uint32_t i = 0; i < n; i++)
                ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(seq, i);
            if (demi_push(&qt, qd, &sga) || demi_sgafree(&sga) || demi_wait(&qr, qt, NULL))
                return 4;
            if (qr.qr_opcode != DEMI_OPC_PUSH)
                return 5;
        }
    }
    if (strcmp(mode, "hold") == 0) { /* open, say so, read nothing until killed */
        demi_sgarray_t sga;
        for (int i = 0; i < 5000 && (ret = demi_open_pipe(&qd, name)) == ENOENT; i++)
            usleep(1000);
        if (ret)
            return 3;
        sga = demi_sgaalloc(5);
        memcpy(sga.sga_segs[0].sgaseg_buf, "ready", 5);
        if (demi_push(&qt, qd, &sga) || demi_wait(&qr, qt, &five_s))
            return 5;
        for (int i = 0; i < 30000; i++)
            usleep(1000);
        return 4;
    }
    if (strcmp(mode, "create-die") == 0) { /* create, push one message, die without closing */
        demi_sgarray_t sga;
        if (demi_create_pipe(&qd, name))
            return 3;
        sga = demi_sgaalloc(5);
        memcpy(sga.sga_segs[0].sgaseg_buf, "hello", 5);
        if (demi_push(&qt, qd, &sga) || demi_wait(&qr, qt, &five_s))
            return 4;
        raise(SIGKILL);
        return 5;
    }
    if (strcmp(mode, "mixed") == 0) {
        /* LIBOS=catloop: a UDP socket of the in-process stack and a pipe
         * opened from the parent, waited on together. The parent sends
         * "ping" on the pipe; we send a datagram to ourselves, then answer
         * on the pipe once both arrived. */
        struct sockaddr_in a;
        demi_qtoken_t qts[2];
        demi_sgarray_t sga;
        int u, off, got = 0;

        for (int i = 0; i < 5000 && (ret = demi_open_pipe(&qd, name)) == ENOENT; i++)
            usleep(1000);
        if (ret)
            return 3;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons(7777);
        a.sin_addr.s_addr = inet_addr("10.0.0.1");
        if (demi_socket(&u, AF_INET, SOCK_DGRAM, 0) || demi_bind(u, (struct sockaddr *)&a, sizeof(a)))
            return 4;
        if (demi_pop(&qts[0], u) || demi_pop(&qts[1], qd))
            return 5;
        sga = demi_sgaalloc(3);
        memcpy(sga.sga_segs[0].sgaseg_buf, "udp", 3);
        if (demi_pushto(&qt, u, &sga, (struct sockaddr *)&a, sizeof(a)) || demi_sgafree(&sga) ||
            demi_wait(&qr, qt, &five_s))
            return 6;
        if (demi_wait_any(&qr, &off, qts, 2, &five_s) || qr.qr_opcode != DEMI_OPC_POP)
            return 7;
        got += (int)qr.qr_value.sga.sga_segs[0].sgaseg_len;
        demi_sgafree(&qr.qr_value.sga);
        if (demi_wait(&qr, qts[1 - off], &five_s) || qr.qr_opcode != DEMI_OPC_POP)
            return 8;
        got += (int)qr.qr_value.sga.sga_segs[0].sgaseg_len;
        demi_sgafree(&qr.qr_value.sga);
        if (got != 3 + 4) /* "udp" and the parent's 4 bytes */
            return 12;
        sga = demi_sgaalloc(4);
        memcpy(sga.sga_segs[0].sgaseg_buf, "both", 4);
        if (demi_push(&qt, qd, &sga) || demi_sgafree(&sga) || demi_wait(&qr, qt, &five_s) ||
            qr.qr_opcode != DEMI_OPC_PUSH)
            return 9;
        if (rt.nlibos != 2)
            return 10;
        return demi_close(qd) || demi_close(u) ? 11 : 0;
    }
    return 99;
}

static void test_two_processes_echo(void **state)
{
    const char *name = uniq("echo");
    int qd;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("echo", name, NULL);
    for (uint64_t seq = 0; seq < 10000; seq++) {
        uint32_t n = len_of(seq, 4096);
        push_msg(qd, seq, n);
        pop_check(qd, seq, n);
    }
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 10000), 0);
}

/* The opener dies while it pushes: every message it completed is popped
 * intact, then the pop fails with ECONNRESET, within the bound. */
static void test_peer_dies_mid_stream(void **state)
{
    const char *name = uniq("spew");
    demi_qtoken_t qt;
    demi_qresult_t qr;
    uint64_t seq = 0;
    int qd;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("spew", name, NULL);
    for (; seq < 2000; seq++)
        pop_check(qd, seq, len_of(seq, 4096));
    kill(pid, SIGKILL); /* not reaped: a zombie is still detected as gone */
    for (;; seq++) {
        uint32_t n = len_of(seq, 4096);
        assert_true(seq < 1000000);
        assert_int_equal(demi_pop(&qt, qd), 0);
        assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
        if (qr.qr_opcode == DEMI_OPC_FAILED) {
            assert_int_equal(qr.qr_ret, ECONNRESET);
            break;
        }
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, n);
        for (uint32_t i = 0; i < n; i++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(seq, i))
                fail_msg("message %llu byte %u differs", (unsigned long long)seq, i);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    /* Sticky, and pushes fail too. */
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
}

/* The opener stops reading and dies: our pending push fails, no hang. */
static void test_reader_dies_push_fails(void **state)
{
    const char *name = uniq("hold");
    static uint8_t buf[4000];
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int qd, ret = 0;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("hold", name, NULL);
    /* Its "ready": it has opened the pipe. */
    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 5);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    for (int i = 0; i < 5000; i++) {
        demi_sgarray_t sga;
        memset(&sga, 0, sizeof(sga));
        sga.sga_numsegs = 1;
        sga.sga_segs[0].sgaseg_buf = buf;
        sga.sga_segs[0].sgaseg_len = sizeof(buf);
        assert_int_equal(demi_push(&qt, qd, &sga), 0);
        ret = demi_wait(&qr, qt, &(struct timespec){0, 0});
        if (ret == ETIMEDOUT)
            break; /* ring full */
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    }
    assert_int_equal(ret, ETIMEDOUT);
    kill(pid, SIGKILL);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
}

/* A creator that dies: its opener reads what it sent, then ECONNRESET; the
 * object it left is stale, removed by the next open or create of its name. */
static void test_creator_dies_and_stale_cleanup(void **state)
{
    const char *name0 = uniq("stale");
    char name[CATMEM_NAME_MAX + 1];
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int qd;
    pid_t pid;

    (void)state;
    snprintf(name, sizeof(name), "%s", name0);
    pid = spawn_peer("create-die", name, NULL);
    assert_int_equal(reap(pid, 10000), 128 + SIGKILL);
    assert_true(shm_exists(name)); /* left behind */
    /* Open of a pipe whose creator is gone: ENOENT, and the object goes. */
    assert_int_equal(demi_open_pipe(&qd, name), ENOENT);
    assert_false(shm_exists(name));

    /* Again, and this time a create of the same name takes it over. */
    pid = spawn_peer("create-die", name, NULL);
    assert_int_equal(reap(pid, 10000), 128 + SIGKILL);
    assert_true(shm_exists(name));
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_false(shm_exists(name));

    /* Opened while the creator lives; it dies after its message. */
    {
        const char *n2 = uniq("cdie");
        char nm[CATMEM_NAME_MAX + 1];
        int got = 0;
        snprintf(nm, sizeof(nm), "%s", n2);
        pid = spawn_peer("create-die", nm, NULL);
        /* It may be dead before we open: then ENOENT is right too. */
        for (int i = 0; i < 5000; i++) {
            int ret = demi_open_pipe(&qd, nm);
            if (ret == 0) {
                got = 1;
                break;
            }
            assert_int_equal(ret, ENOENT);
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = 0;
                break;
            }
            usleep(200);
        }
        if (got) {
            assert_int_equal(demi_pop(&qt, qd), 0);
            qr = wait_ok(qt, DEMI_OPC_POP);
            assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 5);
            assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "hello", 5);
            assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
            assert_int_equal(demi_pop(&qt, qd), 0);
            assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
            assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
            assert_int_equal(qr.qr_ret, ECONNRESET);
            assert_int_equal(demi_close(qd), 0);
        }
        if (pid)
            assert_int_equal(reap(pid, 10000), 128 + SIGKILL);
        /* Whichever way it went, the name is free for a new pipe. */
        assert_int_equal(demi_create_pipe(&qd, nm), 0);
        assert_int_equal(demi_close(qd), 0);
    }
}

/* A foreign object under a pipe's name is refused, not trusted. */
static void test_foreign_object(void **state)
{
    const char *name = uniq("foreign");
    char path[256];
    int fd, qd;

    (void)state;
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", name);
    fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    assert_int_equal(demi_open_pipe(&qd, name), EPROTO);
    close(fd);
    shm_unlink(path);
}

/* ---- objects left in /dev/shm -------------------------------------------- */

/* A pid nobody has: a child's, reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* The object /dev/shm/demi-pipe-@pipe, made by hand: 3 pages of zeros, and
 * with @creator > 0 a pipe header naming these pids (no lock taken: nobody
 * holds it unless the caller locks). Returns its fd. */
static int make_obj(const char *pipe, int32_t creator, int32_t opener)
{
    char path[256];
    struct cm_shm h;
    int fd;

    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", pipe);
    fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, CM_HDR_SIZE + 2 * 4096), 0);
    if (creator > 0) {
        memset(&h, 0, sizeof(h));
        h.magic = CM_MAGIC;
        h.version = CM_VERSION;
        h.hdr_size = CM_HDR_SIZE;
        h.ring_size = 4096;
        h.pid[CM_CREATOR] = creator;
        h.pid[CM_OPENER] = opener;
        h.opened = opener > 0;
        assert_int_equal(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
    }
    return fd;
}

static void unlink_obj(const char *pipe)
{
    char path[256];
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", pipe);
    shm_unlink(path);
}

/* demi_create_pipe of a name something else holds: a file that is not a
 * libdemi pipe stays (EEXIST; create used to remove it and take the name),
 * and the temporary objects a creator killed mid-create left under that
 * name are removed (nothing removed them before). */
static void test_create_foreign_and_tmp(void **state)
{
    char name[CATMEM_NAME_MAX + 1], tmp_dead[CATMEM_NAME_MAX + 32], tmp_live[CATMEM_NAME_MAX + 32];
    static const char mark[] = "not a pipe, keep me";
    char got[sizeof(mark)], path[256];
    int fd, qd;

    (void)state;
    snprintf(name, sizeof(name), "%s", uniq("cforeign"));
    fd = make_obj(name, 0, 0);
    assert_int_equal(pwrite(fd, mark, sizeof(mark), 100), (ssize_t)sizeof(mark));
    close(fd);
    assert_int_equal(demi_create_pipe(&qd, name), EEXIST);
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", name);
    fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    assert_true(fd >= 0); /* still there, still its bytes */
    assert_int_equal(pread(fd, got, sizeof(got), 100), (ssize_t)sizeof(got));
    assert_memory_equal(got, mark, sizeof(mark));
    close(fd);
    unlink_obj(name);

    /* NAME~PID~N of a dead PID goes at the next create of NAME; one of a
     * live PID (still making it) stays. */
    snprintf(name, sizeof(name), "%s", uniq("ctmp"));
    snprintf(tmp_dead, sizeof(tmp_dead), "%s~%d~0", name, (int)dead_pid());
    snprintf(tmp_live, sizeof(tmp_live), "%s~%d~0", name, (int)getpid());
    close(make_obj(tmp_dead, 0, 0));
    close(make_obj(tmp_live, 0, 0));
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    assert_false(shm_exists(tmp_dead));
    assert_true(shm_exists(tmp_live));
    assert_int_equal(demi_close(qd), 0);
    unlink_obj(tmp_live);
}

/* catmem_shm_clean (demi-config --clean-shm): removes what no live process
 * holds, keeps what one does and what is not a libdemi pipe; a dry run
 * removes nothing; one line per object. */
static void test_clean_shm(void **state)
{
    char pfx[64], n[8][96], *text = NULL;
    struct catmem_clean res;
    pid_t dead = dead_pid();
    size_t tlen = 0;
    FILE *out;
    int fd_c, qd;

    (void)state;
    snprintf(pfx, sizeof(pfx), "test-%d-clean-", (int)getpid());
    snprintf(n[0], sizeof(n[0]), "%sa", pfx);                     /* creator dead, never opened */
    snprintf(n[1], sizeof(n[1]), "%sb", pfx);                     /* both dead */
    snprintf(n[2], sizeof(n[2]), "%sc", pfx);                     /* creator dead, opener alive */
    snprintf(n[3], sizeof(n[3]), "%sd", pfx);                     /* a live pipe of ours */
    snprintf(n[4], sizeof(n[4]), "%se", pfx);                     /* not a pipe */
    snprintf(n[5], sizeof(n[5]), "%sf~%d~3", pfx, (int)dead);     /* temporary, creator dead */
    snprintf(n[6], sizeof(n[6]), "%sg~%d~3", pfx, (int)getpid()); /* temporary, creator alive */
    snprintf(n[7], sizeof(n[7]), "%sh~x~3", pfx);                 /* not a libdemi name */
    close(make_obj(n[0], dead, 0));
    close(make_obj(n[1], dead, dead));
    fd_c = make_obj(n[2], dead, getpid());
    assert_int_equal(cm_lock(fd_c, CM_OPENER), 0); /* held while fd_c is open */
    assert_int_equal(demi_create_pipe(&qd, n[3]), 0);
    close(make_obj(n[4], 0, 0));
    close(make_obj(n[5], 0, 0));
    close(make_obj(n[6], 0, 0));
    close(make_obj(n[7], 0, 0));

    out = open_memstream(&text, &tlen);
    assert_non_null(out);
    assert_int_equal(catmem_shm_clean(pfx, true, out, &res), 0);
    fclose(out);
    assert_int_equal(res.stale, 3);
    assert_int_equal(res.removed, 0);
    assert_int_equal(res.live, 3);
    assert_int_equal(res.foreign, 2);
    for (int i = 0; i < 8; i++)
        assert_true(shm_exists(n[i]));
    {
        char want[256];
        snprintf(want, sizeof(want),
                 "would remove " CATMEM_SHM_DIR CATMEM_SHM_PREFIX "%s: stale (creator pid %d gone, never opened)\n",
                 n[0], (int)dead);
        if (!strstr(text, want))
            fail_msg("no line \"%s\" in:\n%s", want, text);
        snprintf(want, sizeof(want),
                 "kept         " CATMEM_SHM_DIR CATMEM_SHM_PREFIX
                 "%s: in use (creator pid %d gone, opener pid %d alive)\n",
                 n[2], (int)dead, (int)getpid());
        if (!strstr(text, want))
            fail_msg("no line \"%s\" in:\n%s", want, text);
    }
    free(text);

    assert_int_equal(catmem_shm_clean(pfx, false, NULL, &res), 0);
    assert_int_equal(res.stale, 3);
    assert_int_equal(res.removed, 3);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.live, 3);
    assert_int_equal(res.foreign, 2);
    assert_false(shm_exists(n[0]));
    assert_false(shm_exists(n[1]));
    assert_false(shm_exists(n[5]));
    for (int i = 2; i < 8; i++)
        if (i != 5)
            assert_true(shm_exists(n[i]));

    /* Once the opener of c lets go, c is stale too. */
    close(fd_c);
    assert_int_equal(catmem_shm_clean(pfx, false, NULL, &res), 0);
    assert_int_equal(res.removed, 1);
    assert_false(shm_exists(n[2]));
    assert_int_equal(demi_close(qd), 0);
    unlink_obj(n[4]);
    unlink_obj(n[6]);
    unlink_obj(n[7]);
}

/* Many pipes at once, all waited on with demi_wait_next_n. */
static void test_many_pipes(void **state)
{
    enum { N = 64, MSGS = 50 };
    int a[N], b[N], left = N * MSGS;
    demi_qtoken_t pend[N];
    uint64_t next[N];

    (void)state;
    for (int i = 0; i < N; i++) {
        char nm[64];
        snprintf(nm, sizeof(nm), "test-%d-many-%d", (int)getpid(), i);
        assert_int_equal(demi_create_pipe(&a[i], nm), 0);
        assert_int_equal(demi_open_pipe(&b[i], nm), 0);
        assert_int_equal(demi_pop(&pend[i], b[i]), 0);
        next[i] = 0;
    }
    for (int m = 0; m < MSGS; m++)
        for (int i = N - 1; i >= 0; i--) {
            demi_sgarray_t sga = demi_sgaalloc(16);
            demi_qtoken_t qt;
            memset(sga.sga_segs[0].sgaseg_buf, 0, 16);
            ((uint32_t *)sga.sga_segs[0].sgaseg_buf)[0] = (uint32_t)i;
            ((uint32_t *)sga.sga_segs[0].sgaseg_buf)[1] = (uint32_t)m;
            assert_int_equal(demi_push(&qt, a[i], &sga), 0);
            assert_int_equal(demi_sgafree(&sga), 0);
        }
    while (left > 0) {
        demi_qresult_t qrs[16];
        int n;
        assert_int_equal(demi_wait_next_n(qrs, 16, &n, &five_s), 0);
        for (int k = 0; k < n; k++) {
            if (qrs[k].qr_opcode == DEMI_OPC_PUSH)
                continue;
            assert_int_equal(qrs[k].qr_opcode, DEMI_OPC_POP);
            {
                uint32_t *w = qrs[k].qr_value.sga.sga_segs[0].sgaseg_buf;
                int i = (int)w[0];
                assert_true(i >= 0 && i < N);
                assert_int_equal(qrs[k].qr_qd, b[i]);
                assert_int_equal(w[1], next[i]); /* in order per pipe */
                next[i]++;
                left--;
                assert_int_equal(demi_sgafree(&qrs[k].qr_value.sga), 0);
                assert_int_equal(demi_pop(&pend[i], b[i]), 0);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        demi_qresult_t qr;
        assert_int_equal(demi_close(a[i]), 0);
        qr = wait_ok(pend[i], DEMI_OPC_POP); /* the pop posted last: EOF */
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(demi_close(b[i]), 0);
}

/* A catnap TCP connection and a pipe in one process, waited on together;
 * the wait sleeps in epoll when no pipe op waits, and does not when one
 * does (the pipe's message arrives from another process). */
static void test_with_catnap_socket(void **state)
{
    const char *name = uniq("mixnap");
    struct sockaddr_in sin;
    demi_qtoken_t qts[2], qt;
    demi_qresult_t qr;
    int lis, cli, srv, qd, off;
    pid_t pid;

    (void)state;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A TCP pair on a free port. */
    for (int tries = 0;; tries++) {
        assert_true(tries < 100);
        sin.sin_port = htons((uint16_t)(20000 + rand() % 30000));
        assert_int_equal(demi_socket(&lis, AF_INET, SOCK_STREAM, 0), 0);
        if (demi_bind(lis, (struct sockaddr *)&sin, sizeof(sin)) == 0 && demi_listen(lis, 4) == 0)
            break;
        assert_int_equal(demi_close(lis), 0);
    }
    assert_int_equal(demi_socket(&cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qts[0], lis), 0);
    assert_int_equal(demi_connect(&qt, cli, (struct sockaddr *)&sin, sizeof(sin)), 0);
    wait_ok(qt, DEMI_OPC_CONNECT);
    srv = wait_ok(qts[0], DEMI_OPC_ACCEPT).qr_value.ares.qd;

    assert_int_equal(demi_create_pipe(&qd, name), 0);
    pid = spawn_peer("echo", name, NULL);
    assert_int_equal(rt.nlibos, 2);
    /* Pop on both; the pipe's answer comes first (nothing on TCP). */
    assert_int_equal(demi_pop(&qts[0], srv), 0);
    assert_int_equal(demi_pop(&qts[1], qd), 0);
    push_msg(qd, 1, 100);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &five_s), 0);
    assert_int_equal(off, 1);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* Then the socket's, while the pipe pops again and stays idle. */
    assert_int_equal(demi_pop(&qts[1], qd), 0);
    push_msg(cli, 2, 50);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &five_s), 0);
    assert_int_equal(off, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* A pipe pop alone: the echo from the other process completes it. */
    push_msg(qd, 3, 10);
    qr = wait_ok(qts[1], DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 10);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* Idle pipes, a socket wait that times out: sleeps, returns in time. */
    assert_int_equal(demi_pop(&qts[0], srv), 0);
    assert_int_equal(demi_wait(&qr, qts[0], &short_wait), ETIMEDOUT);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 10000), 0);
    assert_int_equal(demi_close(srv), 0); /* cancels the pending pop */
    assert_int_equal(demi_wait(&qr, qts[0], &five_s), 0);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* A process whose network libOS is catloop holds a UDP socket and a pipe. */
static void test_with_catloop_socket(void **state)
{
    const char *name = uniq("mixloop");
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int qd;
    pid_t pid;

    (void)state;
    assert_int_equal(demi_create_pipe(&qd, name), 0);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.0.0.1", 1);
    pid = spawn_peer("mixed", name, "catloop");
    unsetenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR");
    push_msg(qd, 0, 4);
    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 4);
    assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "both", 4);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    pop_eof(qd);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 10000), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_process_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pipes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_dies_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_dies_push_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creator_dies_and_stale_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_foreign_and_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_shm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_catnap_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_catloop_socket, setup, teardown),
    };

    /* Small rings keep the many-pipes case light and fill up fast. */
    setenv("DEMI_CATMEM_RING_SIZE", "65536", 1);
    if (argc == 4 && strcmp(argv[1], "--peer") == 0)
        return peer_main(argv[2], argv[3]);
    self_path = argv[0];
    unsetenv("LIBOS");
    srand((unsigned)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
