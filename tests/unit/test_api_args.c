/* SPDX-License-Identifier: MIT */
/*
 * test_api_args.c: argument checking of every call of <demi/libos.h>,
 * <demi/sga.h> and <demi/wait.h>, through the public API, over catnap in
 * one process (API.md, "Conventions"): a negative, unknown or closed qd is
 * EBADF, checked first; a NULL pointer, a wrong size or an out-of-range
 * argument is EINVAL; nothing aborts the process.
 *
 * The tests run in array order: first the calls made before demi_init(),
 * then demi_init() itself, then everything else on the initialised runtime.
 *
 * This file is compiled with ATTR_NONNULL active, as an application is. NULL
 * arguments go through volatile variables so the compiler sees no literal
 * NULL (no -Wnonnull) and cannot assume anything about the value.
 */
#include "libos/runtime.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* ---- helpers ----------------------------------------------------------- */

static int *volatile nul_int;
static demi_qtoken_t *volatile nul_qt;
static const struct sockaddr *volatile nul_sa;
static struct sockaddr *volatile nul_sa_out;
static socklen_t *volatile nul_len;
static const void *volatile nul_cv;
static void *volatile nul_v;
static demi_sgarray_t *volatile nul_sga;
static demi_qresult_t *volatile nul_qr;
static const demi_qtoken_t *volatile nul_qts;

/* The calls that get NULL arguments go through these pointers: their type
 * carries no nonnull attribute, so neither -Wnonnull nor UBSan's
 * nonnull-attribute check fires in this file, and the compiler cannot use
 * the attribute to drop the call. */
static int (*volatile nn_accept)(demi_qtoken_t *, int) = demi_accept;
static int (*volatile nn_bind)(int, const struct sockaddr *, socklen_t) = demi_bind;
static int (*volatile nn_connect)(demi_qtoken_t *, int, const struct sockaddr *, socklen_t) = demi_connect;
static int (*volatile nn_getpeername)(int, struct sockaddr *, socklen_t *) = demi_getpeername;
static int (*volatile nn_getsockopt)(int, int, int, void *, socklen_t *) = demi_getsockopt;
static int (*volatile nn_init)(const struct demi_args *) = demi_init;
static int (*volatile nn_pop)(demi_qtoken_t *, int) = demi_pop;
static int (*volatile nn_push)(demi_qtoken_t *, int, const demi_sgarray_t *) = demi_push;
static int (*volatile nn_pushto)(demi_qtoken_t *, int, const demi_sgarray_t *, const struct sockaddr *,
                                 socklen_t) = demi_pushto;
static int (*volatile nn_setsockopt)(int, int, int, const void *, socklen_t) = demi_setsockopt;
static int (*volatile nn_sgafree)(demi_sgarray_t *) = demi_sgafree;
static int (*volatile nn_socket)(int *, int, int, int) = demi_socket;
static int (*volatile nn_wait)(demi_qresult_t *, demi_qtoken_t, const struct timespec *) = demi_wait;
static int (*volatile nn_wait_any)(demi_qresult_t *, int *, const demi_qtoken_t *, int,
                                   const struct timespec *) = demi_wait_any;
static int (*volatile nn_wait_next_n)(demi_qresult_t *, int, int *, const struct timespec *) = demi_wait_next_n;

/* Queue descriptors that name no queue (a closed one is added per test). */
static const int bad_qds[] = {-1, INT_MIN, 12345, INT_MAX};

static const struct timespec t_zero = {0, 0};
static const struct timespec t_5s = {5, 0};

static uint32_t mem_start; /* buffers in use right after demi_init */

static struct sockaddr_in sin_loopback(uint16_t port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Bind @qd to 127.0.0.1 on a port of our own (there is no
 * demi_getsockname to learn an ephemeral one), retrying on EADDRINUSE. */
static void bind_loopback(int qd, struct sockaddr_in *out)
{
    static unsigned counter;
    int ret = EADDRINUSE;

    for (int tries = 0; tries < 500 && ret == EADDRINUSE; tries++) {
        uint16_t port = (uint16_t)(20000 + ((unsigned)getpid() + counter++ * 7919u) % 20000u);
        *out = sin_loopback(port);
        ret = demi_bind(qd, (const struct sockaddr *)out, sizeof(*out));
    }
    assert_int_equal(ret, 0);
}

static int tcp_socket(void)
{
    int qd = -1;

    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_true(qd >= 0);
    return qd;
}

static int udp_socket(void)
{
    int qd = -1;

    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_true(qd >= 0);
    return qd;
}

static void wait_ok(demi_qtoken_t qt, demi_qresult_t *qr)
{
    int ret = demi_wait(qr, qt, &t_5s);

    assert_int_equal(ret, 0);
    assert_true(qr->qr_qt == qt);
}

/* A connected loopback TCP pair: lqd listens, cqd connected to sqd. */
struct pair {
    int lqd, cqd, sqd;
    struct sockaddr_in addr;
};

static void pair_open(struct pair *p, int listen_rcvbuf)
{
    demi_qtoken_t aqt, cqt;
    demi_qresult_t qr;

    p->lqd = tcp_socket();
    if (listen_rcvbuf > 0)
        assert_int_equal(demi_setsockopt(p->lqd, SOL_SOCKET, SO_RCVBUF, &listen_rcvbuf, sizeof(listen_rcvbuf)), 0);
    bind_loopback(p->lqd, &p->addr);
    assert_int_equal(demi_listen(p->lqd, 16), 0);
    p->cqd = tcp_socket();
    assert_int_equal(demi_accept(&aqt, p->lqd), 0);
    assert_int_equal(demi_connect(&cqt, p->cqd, (const struct sockaddr *)&p->addr, sizeof(p->addr)), 0);
    wait_ok(cqt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(qr.qr_ret, 0);
    assert_int_equal(qr.qr_qd, p->cqd);
    wait_ok(aqt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    assert_int_equal(qr.qr_ret, 0);
    assert_int_equal(qr.qr_qd, p->lqd);
    p->sqd = qr.qr_value.ares.qd;
    assert_true(p->sqd >= 0);
    assert_int_equal(qr.qr_value.ares.addr.sin_family, AF_INET);
    assert_int_equal(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

static void pair_close(struct pair *p)
{
    assert_int_equal(demi_close(p->cqd), 0);
    assert_int_equal(demi_close(p->sqd), 0);
    assert_int_equal(demi_close(p->lqd), 0);
}

/* Run @fn in a child process with a 5 s alarm and return its exit status,
 * or 1000 + signal number if it died: a crash fails the test, not the file. */
static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches these to report a failed test and carry on: in the
         * child that would run the rest of the suite a second time. */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGALRM};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
        alarm(5);
        _exit(fn());
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 1000 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* ---- before demi_init -------------------------------------------------- */

static void test_pre_init_socket(void **state)
{
    int qd = -7;

    (void)state;
    assert_false(rt.initialised);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), EINVAL);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), EINVAL);
    assert_int_equal(qd, -7);
}

static void test_pre_init_sga(void **state)
{
    demi_sgarray_t sga = demi_sgaalloc(100);
    char buf[16];

    (void)state;
    assert_null(sga.sga_buf);
    assert_int_equal(sga.sga_numsegs, 0);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    sga.sga_buf = buf;
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = buf;
    sga.sga_segs[0].sgaseg_len = sizeof(buf);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
}

static void test_pre_init_wait(void **state)
{
    static const demi_qtoken_t tokens[] = {0, 1, (1ull << 32), (1ull << 32) | 1, UINT64_MAX};
    demi_qresult_t qr;
    int off = -1;

    (void)state;
    alarm(10); /* a hang here is a failure */
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        assert_int_equal(demi_wait(&qr, tokens[i], &t_zero), EINVAL);
        assert_int_equal(demi_wait(&qr, tokens[i], NULL), EINVAL);
        assert_int_equal(demi_wait_any(&qr, &off, &tokens[i], 1, NULL), EINVAL);
    }
    assert_int_equal(demi_wait_any(&qr, &off, tokens, 5, &t_zero), EINVAL);
    assert_int_equal(off, -1);
    alarm(0);
}

static int child_wait_next_n_poll(void)
{
    demi_qresult_t qr[4];
    int n = -1;
    int ret = demi_wait_next_n(qr, 4, &n, &t_zero);

    if (n != 0)
        return 200;
    return ret;
}

static int child_wait_next_n_forever(void)
{
    demi_qresult_t qr[4];
    int n = -1;

    return demi_wait_next_n(qr, 4, &n, NULL);
}

/* There is nothing to wait for before demi_init(): the call must return
 * (not crash on the runtime's zeroed completion queue, not hang). */
static void test_pre_init_wait_next_n(void **state)
{
    int st;

    (void)state;
    st = in_child(child_wait_next_n_poll);
    if (st >= 1000)
        fail_msg("demi_wait_next_n({0,0}) before demi_init died with signal %d", st - 1000);
    assert_true(st == EINVAL || st == ETIMEDOUT);
    st = in_child(child_wait_next_n_forever);
    if (st >= 1000)
        fail_msg("demi_wait_next_n(NULL timeout) before demi_init died with signal %d", st - 1000);
    assert_int_equal(st, EINVAL);
}

static void test_pre_init_queue_calls(void **state)
{
    struct sockaddr_in a = sin_loopback(1);
    demi_sgarray_t sga;
    demi_qtoken_t qt = 0;
    socklen_t len = sizeof(a);
    int v = 1;

    (void)state;
    memset(&sga, 0, sizeof(sga));
    assert_int_equal(demi_close(0), EBADF);
    assert_int_equal(demi_close(-1), EBADF);
    assert_int_equal(demi_bind(0, (const struct sockaddr *)&a, sizeof(a)), EBADF);
    assert_int_equal(demi_listen(0, 1), EBADF);
    assert_int_equal(demi_accept(&qt, 0), EBADF);
    assert_int_equal(demi_connect(&qt, 0, (const struct sockaddr *)&a, sizeof(a)), EBADF);
    assert_int_equal(demi_push(&qt, 0, &sga), EBADF);
    assert_int_equal(demi_pushto(&qt, 0, &sga, (const struct sockaddr *)&a, sizeof(a)), EBADF);
    assert_int_equal(demi_pop(&qt, 0), EBADF);
    assert_int_equal(demi_setsockopt(0, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), EBADF);
    assert_int_equal(demi_getsockopt(0, SOL_SOCKET, SO_KEEPALIVE, &v, &len), EBADF);
    assert_int_equal(demi_getpeername(0, (struct sockaddr *)&a, &len), EBADF);
    assert_true(qt == 0);
}

/* ---- demi_init ---------------------------------------------------------- */

static void test_init(void **state)
{
    struct demi_args args;
    char *argv[] = {(char *)"test_api_args", NULL};

    (void)state;
    memset(&args, 0, sizeof(args));
    assert_int_equal(nn_init((const struct demi_args *)nul_cv), EINVAL);
    args.argc = -1;
    assert_int_equal(demi_init(&args), EINVAL);
    args.argc = 1;
    args.argv = NULL;
    assert_int_equal(demi_init(&args), EINVAL);
    assert_false(rt.initialised);

    args.argc = 1;
    args.argv = argv;
    assert_int_equal(demi_init(&args), 0);
    assert_true(rt.initialised);
    assert_string_equal(rt.net->ops->name, "catnap");
    mem_start = mem_in_use(&rt.mem);
    assert_int_equal(mem_start, 0);

    assert_int_equal(demi_init(&args), EEXIST);
    args.argc = 0;
    args.argv = NULL;
    assert_int_equal(demi_init(&args), EEXIST);
    assert_true(rt.initialised);
}

/* A qd that is closed now: open a socket and close it. Valid until the
 * next socket or accept, which may reuse it. */
static int fresh_closed_qd(void)
{
    int qd = tcp_socket();

    assert_int_equal(demi_close(qd), 0);
    return qd;
}

/* ---- demi_socket -------------------------------------------------------- */

static void test_socket_args(void **state)
{
    int qd = -7;

    (void)state;
    assert_int_equal(nn_socket(nul_int, AF_INET, SOCK_STREAM, 0), EINVAL);
    assert_int_equal(nn_socket(nul_int, AF_INET6, SOCK_STREAM, 0), EINVAL);
    /* AF_INET6 is a socket on catnap (test_catnap has them at work). */
    assert_int_equal(demi_socket(&qd, AF_INET6, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_socket(&qd, AF_INET6, SOCK_DGRAM, IPPROTO_UDP), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_socket(&qd, AF_INET6, SOCK_DGRAM, IPPROTO_TCP), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET6, SOCK_RAW, 0), ENOTSUP);
    qd = -7;
    assert_int_equal(demi_socket(&qd, AF_UNIX, SOCK_STREAM, 0), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_UNSPEC, SOCK_STREAM, 0), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_RAW, IPPROTO_RAW), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_RAW, 0), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_SEQPACKET, 0), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, IPPROTO_UDP), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, IPPROTO_TCP), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 99), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, -1), ENOTSUP);
    assert_int_equal(demi_socket(&qd, AF_INET, -1, 0), ENOTSUP);
    assert_int_equal(qd, -7); /* untouched on failure */

    /* The explicit protocol numbers are accepted. */
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, IPPROTO_TCP), 0);
    assert_true(qd >= 0);
    assert_int_equal(demi_close(qd), 0);
    qd = -7;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, IPPROTO_UDP), 0);
    assert_true(qd >= 0);
    assert_int_equal(demi_close(qd), 0);
}

/* ---- bad queue descriptors everywhere ----------------------------------- */

static void test_bad_qd_everywhere(void **state)
{
    struct sockaddr_in a = sin_loopback(9);
    demi_sgarray_t sga = demi_sgaalloc(10);
    demi_qtoken_t qt = 42;
    socklen_t len = sizeof(a);
    int v = 1;
    int qds[sizeof(bad_qds) / sizeof(bad_qds[0]) + 1];
    size_t nq = 0;

    (void)state;
    assert_int_equal(sga.sga_numsegs, 1);
    for (size_t i = 0; i < sizeof(bad_qds) / sizeof(bad_qds[0]); i++)
        qds[nq++] = bad_qds[i];
    qds[nq++] = fresh_closed_qd();

    for (size_t i = 0; i < nq; i++) {
        int qd = qds[i];
        /* Good arguments, bad qd. */
        assert_int_equal(demi_close(qd), EBADF);
        assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), EBADF);
        assert_int_equal(demi_listen(qd, 1), EBADF);
        assert_int_equal(demi_accept(&qt, qd), EBADF);
        assert_int_equal(demi_connect(&qt, qd, (const struct sockaddr *)&a, sizeof(a)), EBADF);
        assert_int_equal(demi_push(&qt, qd, &sga), EBADF);
        assert_int_equal(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&a, sizeof(a)), EBADF);
        assert_int_equal(demi_pop(&qt, qd), EBADF);
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), EBADF);
        len = sizeof(v);
        assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), EBADF);
        len = sizeof(a);
        assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&a, &len), EBADF);

        /* Bad qd AND bad pointers/sizes: the qd is checked first. */
        assert_int_equal(nn_bind(qd, nul_sa, sizeof(a)), EBADF);
        assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, 1), EBADF);
        assert_int_equal(demi_listen(qd, -1), EBADF);
        assert_int_equal(nn_accept(nul_qt, qd), EBADF);
        assert_int_equal(nn_connect(nul_qt, qd, nul_sa, 0), EBADF);
        assert_int_equal(nn_push(nul_qt, qd, nul_sga), EBADF);
        assert_int_equal(nn_pushto(nul_qt, qd, nul_sga, nul_sa, 0), EBADF);
        assert_int_equal(nn_pop(nul_qt, qd), EBADF);
        assert_int_equal(nn_setsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, nul_cv, 0), EBADF);
        assert_int_equal(demi_setsockopt(qd, 12345, 12345, &v, sizeof(v)), EBADF);
        assert_int_equal(nn_getsockopt(qd, SOL_SOCKET, SO_KEEPALIVE, nul_v, nul_len), EBADF);
        assert_int_equal(nn_getpeername(qd, nul_sa_out, nul_len), EBADF);
    }
    assert_true(qt == 42); /* no token handed out */
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* ---- bind ---------------------------------------------------------------- */

static void test_bind_args(void **state)
{
    struct sockaddr_in a = sin_loopback(0);
    struct sockaddr_in6 a6;
    struct sockaddr_un un;
    int qd = tcp_socket();

    (void)state;
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;

    assert_int_equal(nn_bind(qd, nul_sa, sizeof(a)), EINVAL);
    assert_int_equal(nn_bind(qd, nul_sa, 0), EINVAL);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, 0), EINVAL);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(struct sockaddr) - 1), EINVAL);
    /* Another family: EAFNOSUPPORT, as inet_bind (the size is checked
     * first; more than a sockaddr_storage is EINVAL, as Linux). */
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&un, sizeof(un)), EAFNOSUPPORT);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(struct sockaddr_storage) + 1), EINVAL);
    a.sin_family = AF_UNSPEC; /* only with INADDR_ANY (Linux's compatibility rule) */
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), EAFNOSUPPORT);
    a.sin_family = AF_INET6;
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), EAFNOSUPPORT);

    /* None of the refused binds stuck: a good one still works, once. A
     * larger size (a sockaddr_storage) is fine. */
    {
        struct sockaddr_storage ss;
        struct sockaddr_in got;
        memset(&ss, 0, sizeof(ss));
        bind_loopback(qd, &got);
        memcpy(&ss, &got, sizeof(got));
        assert_int_equal(demi_bind(qd, (const struct sockaddr *)&ss, sizeof(ss)), EINVAL); /* already bound */
    }
    assert_int_equal(demi_close(qd), 0);

    qd = tcp_socket();
    {
        struct sockaddr_storage ss;
        struct sockaddr_in *sp = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof(ss));
        *sp = sin_loopback(0);
        assert_int_equal(demi_bind(qd, (const struct sockaddr *)&ss, sizeof(ss)), 0);
    }
    assert_int_equal(demi_close(qd), 0);
}

/* ---- listen ------------------------------------------------------------- */

static void test_listen_args(void **state)
{
    struct sockaddr_in a;
    int t = tcp_socket();
    int u = udp_socket();

    (void)state;
    assert_int_equal(demi_listen(t, -1), EINVAL);
    assert_int_equal(demi_listen(t, INT_MIN), EINVAL);
    assert_int_equal(demi_listen(t, 16), EINVAL); /* not bound */
    assert_int_equal(demi_listen(u, 16), ENOTSUP);
    assert_int_equal(demi_listen(u, -1), EINVAL);
    bind_loopback(u, &a);
    assert_int_equal(demi_listen(u, 16), ENOTSUP);
    bind_loopback(t, &a);
    assert_int_equal(demi_listen(t, -1), EINVAL);
    assert_int_equal(demi_listen(t, 0), 0);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
}

/* ---- accept ------------------------------------------------------------- */

static void test_accept_args(void **state)
{
    struct sockaddr_in a;
    demi_qtoken_t qt = 42;
    int t = tcp_socket();
    int u = udp_socket();
    uint32_t nfree = rt.ops.nfree;

    (void)state;
    assert_int_equal(nn_accept(nul_qt, t), EINVAL);
    assert_int_equal(nn_accept(nul_qt, u), EINVAL);
    assert_int_equal(demi_accept(&qt, u), ENOTSUP);
    assert_int_equal(demi_accept(&qt, t), EINVAL); /* fresh, not listening */
    bind_loopback(t, &a);
    assert_int_equal(demi_accept(&qt, t), EINVAL); /* bound, not listening */
    assert_true(qt == 42);
    /* Refused submissions leave no op behind. */
    assert_int_equal(rt.ops.nfree, nfree);

    assert_int_equal(demi_listen(t, 4), 0);
    assert_int_equal(nn_accept(nul_qt, t), EINVAL);
    assert_int_equal(rt.ops.nfree, nfree);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
}

/* ---- connect ------------------------------------------------------------ */

static void test_connect_args(void **state)
{
    struct sockaddr_in a = sin_loopback(9);
    struct sockaddr_in6 a6;
    demi_qtoken_t qt = 42;
    int t = tcp_socket();
    uint32_t nfree = rt.ops.nfree;

    (void)state;
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = htons(9);
    assert_int_equal(nn_connect(nul_qt, t, (const struct sockaddr *)&a, sizeof(a)), EINVAL);
    assert_int_equal(nn_connect(&qt, t, nul_sa, sizeof(a)), EINVAL);
    assert_int_equal(nn_connect(nul_qt, t, nul_sa, sizeof(a)), EINVAL);
    assert_int_equal(demi_connect(&qt, t, (const struct sockaddr *)&a, 0), EINVAL);
    assert_int_equal(demi_connect(&qt, t, (const struct sockaddr *)&a, sizeof(a) - 1), EINVAL);
    assert_int_equal(demi_connect(&qt, t, (const struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
    /* AF_UNSPEC would abort a TCP connection on Linux: not supported. */
    a.sin_family = AF_UNSPEC;
    assert_int_equal(demi_connect(&qt, t, (const struct sockaddr *)&a, sizeof(a)), ENOTSUP);
    assert_int_equal(demi_connect(&qt, t, (const struct sockaddr *)&a, 1), EINVAL);
    assert_true(qt == 42);
    assert_int_equal(rt.ops.nfree, nfree);
    assert_int_equal(demi_close(t), 0);
}

static void test_connect_twice(void **state)
{
    struct pair p;
    demi_qtoken_t qt = 42;

    (void)state;
    pair_open(&p, 0);
    assert_int_equal(demi_connect(&qt, p.cqd, (const struct sockaddr *)&p.addr, sizeof(p.addr)), EISCONN);
    assert_true(qt == 42);
    pair_close(&p);
}

/* ---- push / pushto ------------------------------------------------------- */

static void test_push_args(void **state)
{
    struct pair p;
    demi_sgarray_t sga, bad;
    demi_qtoken_t qt = 42;
    char stack_buf[32];
    uint32_t nfree;
    int t, u;

    (void)state;
    pair_open(&p, 0);
    t = tcp_socket();
    u = udp_socket();
    nfree = rt.ops.nfree;
    sga = demi_sgaalloc(64);
    assert_int_equal(sga.sga_numsegs, 1);
    memset(sga.sga_segs[0].sgaseg_buf, 'x', 64);

    assert_int_equal(nn_push(nul_qt, p.cqd, &sga), EINVAL);
    assert_int_equal(nn_push(&qt, p.cqd, nul_sga), EINVAL);
    assert_int_equal(nn_push(nul_qt, p.cqd, nul_sga), EINVAL);

    bad = sga;
    bad.sga_numsegs = 0;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    bad.sga_numsegs = 2;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    bad.sga_numsegs = UINT32_MAX;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    bad = sga;
    bad.sga_segs[0].sgaseg_len = 0;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    bad = sga;
    bad.sga_segs[0].sgaseg_buf = NULL;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    /* One of our buffers, but the segment points outside it. */
    bad = sga;
    bad.sga_segs[0].sgaseg_buf = stack_buf;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    bad = sga;
    bad.sga_segs[0].sgaseg_len = 1u << 20;
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);
    /* A null sga. */
    memset(&bad, 0, sizeof(bad));
    assert_int_equal(demi_push(&qt, p.cqd, &bad), EINVAL);

    /* Good sga, unconnected or listening TCP. */
    assert_int_equal(demi_push(&qt, t, &sga), ENOTCONN);
    assert_int_equal(demi_push(&qt, p.lqd, &sga), ENOTCONN);
    /* Unconnected UDP without a destination. */
    assert_int_equal(demi_push(&qt, u, &sga), EDESTADDRREQ);

    /* pushto */
    assert_int_equal(nn_pushto(nul_qt, u, &sga, (const struct sockaddr *)&p.addr, sizeof(p.addr)), EINVAL);
    assert_int_equal(nn_pushto(&qt, u, nul_sga, (const struct sockaddr *)&p.addr, sizeof(p.addr)), EINVAL);
    assert_int_equal(nn_pushto(&qt, u, &sga, nul_sa, sizeof(p.addr)), EINVAL);
    assert_int_equal(demi_pushto(&qt, u, &sga, (const struct sockaddr *)&p.addr, 0), EINVAL);
    assert_int_equal(demi_pushto(&qt, u, &sga, (const struct sockaddr *)&p.addr, sizeof(p.addr) - 1), EINVAL);
    bad = sga;
    bad.sga_numsegs = 0;
    assert_int_equal(demi_pushto(&qt, u, &bad, (const struct sockaddr *)&p.addr, sizeof(p.addr)), EINVAL);
    bad = sga;
    bad.sga_segs[0].sgaseg_len = 0;
    assert_int_equal(demi_pushto(&qt, u, &bad, (const struct sockaddr *)&p.addr, sizeof(p.addr)), EINVAL);
    {
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof(a6));
        a6.sin6_family = AF_INET6;
        assert_int_equal(demi_pushto(&qt, u, &sga, (const struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
    }
    assert_int_equal(demi_pushto(&qt, p.cqd, &sga, (const struct sockaddr *)&p.addr, sizeof(p.addr)), ENOTSUP);
    assert_int_equal(demi_pushto(&qt, t, &sga, (const struct sockaddr *)&p.addr, sizeof(p.addr)), ENOTSUP);

    assert_true(qt == 42);
    assert_int_equal(rt.ops.nfree, nfree); /* no op leaked by a refusal */

    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
    pair_close(&p);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* A foreign buffer (not from demi_sgaalloc) is pushed by copy. */
static void test_push_foreign_buffer(void **state)
{
    struct pair p;
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    char msg[] = "foreign bytes";
    size_t got = 0;

    (void)state;
    pair_open(&p, 0);
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = msg;
    sga.sga_segs[0].sgaseg_len = sizeof(msg);
    assert_int_equal(demi_push(&qt, p.cqd, &sga), 0);
    wait_ok(qt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(qr.qr_ret, 0);
    while (got < sizeof(msg)) {
        assert_int_equal(demi_pop(&qt, p.sqd), 0);
        wait_ok(qt, &qr);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
        assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len > 0);
        assert_true(got + qr.qr_value.sga.sga_segs[0].sgaseg_len <= sizeof(msg));
        assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, msg + got, qr.qr_value.sga.sga_segs[0].sgaseg_len);
        got += qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    pair_close(&p);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* ---- pop ---------------------------------------------------------------- */

static void test_pop_args(void **state)
{
    struct sockaddr_in a;
    demi_qtoken_t qt = 42;
    int t = tcp_socket();
    uint32_t nfree = rt.ops.nfree;

    (void)state;
    assert_int_equal(nn_pop(nul_qt, t), EINVAL);
    assert_int_equal(demi_pop(&qt, t), ENOTCONN);
    bind_loopback(t, &a);
    assert_int_equal(demi_pop(&qt, t), ENOTCONN);
    assert_int_equal(demi_listen(t, 1), 0);
    assert_int_equal(demi_pop(&qt, t), ENOTCONN);
    assert_int_equal(nn_pop(nul_qt, t), EINVAL);
    assert_true(qt == 42);
    assert_int_equal(rt.ops.nfree, nfree);
    assert_int_equal(demi_close(t), 0);
}

/* ---- socket options ----------------------------------------------------- */

static void test_setsockopt_args(void **state)
{
    int t = tcp_socket();
    int u = udp_socket();
    int v = 1;
    struct linger l = {1, 1};
    char big[64];

    (void)state;
    memset(big, 0, sizeof(big));
    assert_int_equal(nn_setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, nul_cv, sizeof(v)), EINVAL);
    assert_int_equal(nn_setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, nul_cv, 0), EINVAL);
    /* Unsupported options. */
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, IPPROTO_IP, IP_TTL, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, 12345, 12345, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, -1, &v, sizeof(v)), ENOPROTOOPT);
    /* Supported options, wrong optlen. */
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, 0), EINVAL);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v) - 1), EINVAL);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, big, sizeof(big)), EINVAL);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_LINGER, &v, sizeof(v)), EINVAL);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_LINGER, &l, sizeof(l) - 1), EINVAL);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, 1), EINVAL);
    /* TCP options on UDP. */
    assert_int_equal(demi_setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
}

static void test_getsockopt_args(void **state)
{
    int t = tcp_socket();
    int v = -5;
    struct linger l;
    socklen_t len;
    char big[64];

    (void)state;
    len = sizeof(v);
    assert_int_equal(nn_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, nul_v, &len), EINVAL);
    assert_int_equal(nn_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, nul_len), EINVAL);
    assert_int_equal(nn_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, nul_v, nul_len), EINVAL);
    /* A literal NULL optlen compiles without -Wnonnull, as with Demikernel's
     * header (which marks only optval nonnull), and is EINVAL. */
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, NULL), EINVAL);
    len = 0;
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, &len), EINVAL);
    len = sizeof(v) - 1;
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, &len), EINVAL);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_LINGER, &l, &len), EINVAL);
    len = sizeof(v) - 1;
    assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &len), EINVAL);
    assert_int_equal(v, -5);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_BROADCAST, &v, &len), ENOPROTOOPT);
    assert_int_equal(demi_getsockopt(t, 12345, 1, &v, &len), ENOPROTOOPT);
    /* A larger buffer is fine; *optlen says what was written. */
    memset(big, 0x7f, sizeof(big));
    len = sizeof(big);
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, big, &len), 0);
    assert_int_equal(len, sizeof(int));
    memcpy(&v, big, sizeof(v));
    assert_true(v == 0 || v == 1);
    assert_int_equal(demi_close(t), 0);
}

static void check_int_opt(int qd, int level, int name, int set, int expect_min, int expect_max)
{
    int v = -12345;
    socklen_t len = sizeof(v);

    assert_int_equal(demi_setsockopt(qd, level, name, &set, sizeof(set)), 0);
    assert_int_equal(demi_getsockopt(qd, level, name, &v, &len), 0);
    assert_int_equal(len, sizeof(int));
    assert_in_range(v, expect_min, expect_max);
}

static void test_sockopt_round_trip(void **state)
{
    struct pair p;
    struct linger l;
    socklen_t len;
    int u = udp_socket();

    (void)state;
    pair_open(&p, 0);
    for (int i = 0; i < 2; i++) {
        int qd = i == 0 ? p.cqd : tcp_socket();
        check_int_opt(qd, SOL_SOCKET, SO_KEEPALIVE, 1, 1, 1);
        check_int_opt(qd, SOL_SOCKET, SO_KEEPALIVE, 0, 0, 0);
        check_int_opt(qd, SOL_SOCKET, SO_REUSEADDR, 1, 1, 1);
        check_int_opt(qd, SOL_SOCKET, SO_REUSEADDR, 0, 0, 0);
        check_int_opt(qd, IPPROTO_TCP, TCP_NODELAY, 1, 1, 1);
        check_int_opt(qd, IPPROTO_TCP, TCP_NODELAY, 0, 0, 0);
        /* Linux doubles buffer sizes for its bookkeeping. */
        check_int_opt(qd, SOL_SOCKET, SO_RCVBUF, 65536, 65536, 2 * 65536);
        check_int_opt(qd, SOL_SOCKET, SO_SNDBUF, 65536, 65536, 2 * 65536);
        check_int_opt(qd, SOL_SOCKET, SO_RCVBUF, 32768, 32768, 2 * 32768);
        check_int_opt(qd, SOL_SOCKET, SO_SNDBUF, 32768, 32768, 2 * 32768);

        l.l_onoff = 1;
        l.l_linger = 7;
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
        memset(&l, 0xff, sizeof(l));
        len = sizeof(l);
        assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &l, &len), 0);
        assert_int_equal(len, sizeof(l));
        assert_int_equal(l.l_onoff, 1);
        assert_int_equal(l.l_linger, 7);
        l.l_onoff = 0;
        l.l_linger = 0;
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
        memset(&l, 0xff, sizeof(l));
        len = sizeof(l);
        assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_LINGER, &l, &len), 0);
        assert_int_equal(l.l_onoff, 0);
        if (i == 1)
            assert_int_equal(demi_close(qd), 0);
    }
    /* The socket-level options work on UDP too. */
    check_int_opt(u, SOL_SOCKET, SO_REUSEADDR, 1, 1, 1);
    check_int_opt(u, SOL_SOCKET, SO_RCVBUF, 65536, 65536, 2 * 65536);
    assert_int_equal(demi_close(u), 0);
    pair_close(&p);
}

/* ---- getpeername -------------------------------------------------------- */

static void test_getpeername_args(void **state)
{
    struct pair p;
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    socklen_t len;
    int t = tcp_socket();

    (void)state;
    len = sizeof(a);
    assert_int_equal(nn_getpeername(t, nul_sa_out, &len), EINVAL);
    assert_int_equal(nn_getpeername(t, (struct sockaddr *)&a, nul_len), EINVAL);
    assert_int_equal(nn_getpeername(t, nul_sa_out, nul_len), EINVAL);
    /* Demikernel marks only addr nonnull: a literal NULL addrlen compiles. */
    assert_int_equal(demi_getpeername(t, (struct sockaddr *)&a, NULL), EINVAL);
    len = sizeof(a);
    assert_int_equal(demi_getpeername(t, (struct sockaddr *)&a, &len), ENOTCONN);
    len = 0;
    assert_int_equal(demi_getpeername(t, (struct sockaddr *)&a, &len), EINVAL);
    len = sizeof(a) - 1;
    assert_int_equal(demi_getpeername(t, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(len, sizeof(a) - 1);

    pair_open(&p, 0);
    len = sizeof(a) - 1;
    assert_int_equal(demi_getpeername(p.cqd, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(demi_getpeername(p.lqd, (struct sockaddr *)&a, &len), EINVAL);
    len = sizeof(a);
    assert_int_equal(demi_getpeername(p.lqd, (struct sockaddr *)&a, &len), ENOTCONN);
    memset(&a, 0, sizeof(a));
    len = sizeof(a);
    assert_int_equal(demi_getpeername(p.cqd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(a.sin_family, AF_INET);
    assert_int_equal(a.sin_port, p.addr.sin_port);
    assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* A bigger buffer is fine; the length written is a sockaddr_in's. */
    memset(&ss, 0, sizeof(ss));
    len = sizeof(ss);
    assert_int_equal(demi_getpeername(p.sqd, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(((struct sockaddr_in *)&ss)->sin_family, AF_INET);
    assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    pair_close(&p);
    assert_int_equal(demi_close(t), 0);
}

/* ---- sgaalloc / sgafree ------------------------------------------------- */

static void assert_null_sga(demi_sgarray_t sga)
{
    assert_null(sga.sga_buf);
    assert_int_equal(sga.sga_numsegs, 0);
}

static void test_sgaalloc_sizes(void **state)
{
    static const size_t ok_sizes[] = {1, 2048, 2049, 65536, 65537, 1u << 20};
    demi_sgarray_t sga;

    (void)state;
    assert_null_sga(demi_sgaalloc(0));
    assert_null_sga(demi_sgaalloc((1u << 20) + 1));
    assert_null_sga(demi_sgaalloc(SIZE_MAX));
    assert_null_sga(demi_sgaalloc((size_t)UINT32_MAX + 1)); /* would truncate to 0 */
    assert_null_sga(demi_sgaalloc((size_t)UINT32_MAX + 2)); /* would truncate to 1 */
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
    for (size_t i = 0; i < sizeof(ok_sizes) / sizeof(ok_sizes[0]); i++) {
        sga = demi_sgaalloc(ok_sizes[i]);
        assert_non_null(sga.sga_buf);
        assert_int_equal(sga.sga_numsegs, 1);
        assert_non_null(sga.sga_segs[0].sgaseg_buf);
        assert_int_equal(sga.sga_segs[0].sgaseg_len, ok_sizes[i]);
        /* The whole segment is writable (ASan checks the bounds). */
        memset(sga.sga_segs[0].sgaseg_buf, 0xa5, ok_sizes[i]);
        assert_int_equal(mem_in_use(&rt.mem), mem_start + 1);
        assert_int_equal(demi_sgafree(&sga), 0);
        assert_int_equal(mem_in_use(&rt.mem), mem_start);
    }
}

static void test_sgafree_args(void **state)
{
    demi_sgarray_t sga, copy, null_sga;
    char stack_buf[256];
    uint32_t used;

    (void)state;
    memset(&null_sga, 0, sizeof(null_sga));
    assert_int_equal(nn_sgafree(nul_sga), EINVAL);
    /* Demikernel's demi_sgafree has no nonnull attribute: a literal NULL
     * compiles (-Werror) and is EINVAL. */
    assert_int_equal(demi_sgafree(NULL), EINVAL);
    assert_int_equal(demi_sgafree(&null_sga), EINVAL);

    sga = demi_sgaalloc(100);
    assert_int_equal(sga.sga_numsegs, 1);
    used = mem_in_use(&rt.mem);
    assert_int_equal(used, mem_start + 1);

    /* Foreign pointers as sga_buf. */
    copy = sga;
    copy.sga_buf = stack_buf;
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    copy.sga_buf = (char *)sga.sga_buf + 1; /* slot + 1 */
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    copy.sga_buf = (char *)sga.sga_buf - 1;
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    copy.sga_buf = sga.sga_segs[0].sgaseg_buf; /* the data, not the buffer */
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    copy.sga_buf = (void *)(uintptr_t)UINTPTR_MAX;
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    copy.sga_buf = (void *)(uintptr_t)4096;
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    assert_int_equal(mem_in_use(&rt.mem), used);

    /* The real one, once. */
    copy = sga;
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(mem_in_use(&rt.mem), used - 1);
    /* Double free: refused, the pool count unchanged. */
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    assert_int_equal(mem_in_use(&rt.mem), used - 1);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);

    /* The pool is intact: two fresh buffers are distinct and both free. */
    {
        demi_sgarray_t a = demi_sgaalloc(100), b = demi_sgaalloc(100);
        assert_non_null(a.sga_buf);
        assert_non_null(b.sga_buf);
        assert_ptr_not_equal(a.sga_buf, b.sga_buf);
        assert_int_equal(mem_in_use(&rt.mem), mem_start + 2);
        assert_int_equal(demi_sgafree(&a), 0);
        assert_int_equal(demi_sgafree(&b), 0);
        assert_int_equal(demi_sgafree(&b), EINVAL);
    }
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* A double free after the slot was handed out again (the pool is LIFO, so
 * the very next alloc of the class reuses it). API.md: "a double free is
 * detected and refused, not corrupting the pool". The stale sga must not
 * free the new owner's buffer. */
static void test_sgafree_double_free_after_reuse(void **state)
{
    demi_sgarray_t a, stale, b, c;
    int ret;

    (void)state;
    a = demi_sgaalloc(100);
    assert_int_equal(a.sga_numsegs, 1);
    stale = a;
    assert_int_equal(demi_sgafree(&a), 0);
    b = demi_sgaalloc(100);
    assert_int_equal(b.sga_numsegs, 1);
    memset(b.sga_segs[0].sgaseg_buf, 'B', 100);
    assert_int_equal(mem_in_use(&rt.mem), mem_start + 1);

    ret = demi_sgafree(&stale);
    if (ret == 0) {
        /* b's buffer went back to the pool under its owner: the next alloc
         * aliases it. Show the damage, then restore the count. */
        c = demi_sgaalloc(100);
        bool aliased = c.sga_buf == b.sga_buf;
        if (c.sga_numsegs)
            assert_int_equal(demi_sgafree(&c), 0);
        assert_int_equal(mem_in_use(&rt.mem), mem_start);
        fail_msg("demi_sgafree of a stale sga whose slot was reused returned 0 and freed the new "
                 "owner's buffer (next alloc aliases it: %s)",
                 aliased ? "yes" : "no");
    }
    assert_int_equal(ret, EINVAL);
    assert_int_equal(mem_in_use(&rt.mem), mem_start + 1);
    assert_int_equal(demi_sgafree(&b), 0);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* A popped sga is freed once; the second free is refused. */
static void test_sgafree_popped_twice(void **state)
{
    struct pair p;
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    demi_qresult_t qr;

    (void)state;
    pair_open(&p, 0);
    sga = demi_sgaalloc(3);
    memcpy(sga.sga_segs[0].sgaseg_buf, "abc", 3);
    assert_int_equal(demi_push(&qt, p.cqd, &sga), 0);
    wait_ok(qt, &qr);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_pop(&qt, p.sqd), 0);
    wait_ok(qt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len >= 1);
    assert_int_equal(mem_in_use(&rt.mem), mem_start + 1);
    sga = qr.qr_value.sga;
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len < 3) { /* drain the rest */
        uint32_t got = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        while (got < 3) {
            assert_int_equal(demi_pop(&qt, p.sqd), 0);
            wait_ok(qt, &qr);
            got += qr.qr_value.sga.sga_segs[0].sgaseg_len;
            assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        }
    }
    pair_close(&p);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* Free-protection (API.md, demi_push): a buffer freed while its push is still
 * in flight stays intact until the stack is done with it, and is not handed
 * out again meanwhile. The receiver's window and the sender's buffer are made
 * small so a 64 KiB push cannot complete at once. */
static uint8_t pattern(size_t i)
{
    return (uint8_t)((i * 7 + i / 251) % 251);
}

static void test_free_protection(void **state)
{
    enum { N = 65536 };
    struct pair p;
    demi_sgarray_t sga, other;
    demi_qtoken_t pqt, qt;
    demi_qresult_t qr;
    int small = 4096;
    uint32_t start = mem_in_use(&rt.mem);
    void *pushed;
    size_t got = 0;
    int ret;

    (void)state;
    pair_open(&p, 2048);
    assert_int_equal(demi_setsockopt(p.cqd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);

    sga = demi_sgaalloc(N);
    assert_int_equal(sga.sga_numsegs, 1);
    for (size_t i = 0; i < N; i++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pattern(i);
    assert_int_equal(demi_push(&pqt, p.cqd, &sga), 0);
    /* Still in flight: the receiver cannot take 64 KiB yet. */
    assert_int_equal(demi_wait(&qr, pqt, &t_zero), ETIMEDOUT);

    pushed = sga.sga_buf;
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(mem_in_use(&rt.mem), start + 1); /* the stack's reference */
    assert_int_equal(demi_sgafree(&sga), EINVAL);     /* still a double free */
    assert_int_equal(mem_in_use(&rt.mem), start + 1);

    /* The slot is not reused while the stack holds it; scribble on the new
     * buffer to catch aliasing. */
    other = demi_sgaalloc(N);
    assert_int_equal(other.sga_numsegs, 1);
    assert_ptr_not_equal(other.sga_buf, pushed);
    memset(other.sga_segs[0].sgaseg_buf, 0xee, N);
    assert_int_equal(mem_in_use(&rt.mem), start + 2);

    while (got < N) {
        assert_int_equal(demi_pop(&qt, p.sqd), 0);
        wait_ok(qt, &qr);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(qr.qr_ret, 0);
        assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
        assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len > 0);
        assert_true(got + qr.qr_value.sga.sga_segs[0].sgaseg_len <= N);
        for (uint32_t j = 0; j < qr.qr_value.sga.sga_segs[0].sgaseg_len; j++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[j] != pattern(got + j))
                fail_msg("byte %zu: got 0x%02x, sent 0x%02x", got + j,
                         ((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[j], pattern(got + j));
        got += qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    ret = demi_wait(&qr, pqt, &t_5s);
    assert_int_equal(ret, 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(qr.qr_ret, 0);
    /* The stack's reference is gone with the completion. */
    assert_int_equal(mem_in_use(&rt.mem), start + 1);
    assert_int_equal(demi_sgafree(&other), 0);
    assert_int_equal(mem_in_use(&rt.mem), start);
    pair_close(&p);
}

/* ---- wait.h arguments --------------------------------------------------- */

static void test_wait_args(void **state)
{
    struct pair p;
    demi_qtoken_t qt, qts[2];
    demi_qresult_t qr, qrs[2];
    int off = -1, n = -1;

    (void)state;
    alarm(20);
    pair_open(&p, 0);
    assert_int_equal(demi_pop(&qt, p.sqd), 0); /* pending: nothing sent */
    qts[0] = qt;
    qts[1] = qt;

    assert_int_equal(nn_wait(nul_qr, qt, &t_zero), EINVAL);
    assert_int_equal(nn_wait(nul_qr, qt, NULL), EINVAL);
    assert_int_equal(nn_wait_any(nul_qr, &off, qts, 2, &t_zero), EINVAL);
    assert_int_equal(nn_wait_any(&qr, nul_int, qts, 2, &t_zero), EINVAL);
    assert_int_equal(nn_wait_any(&qr, &off, nul_qts, 2, &t_zero), EINVAL);
    assert_int_equal(nn_wait_any(&qr, &off, nul_qts, 0, NULL), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 0, NULL), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, -1, NULL), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, INT_MIN, NULL), EINVAL);
    assert_int_equal(nn_wait_next_n(nul_qr, 2, &n, &t_zero), EINVAL);
    assert_int_equal(nn_wait_next_n(qrs, 2, nul_int, &t_zero), EINVAL);
    assert_int_equal(demi_wait_next_n(qrs, 0, &n, NULL), EINVAL);
    assert_int_equal(demi_wait_next_n(qrs, -1, &n, NULL), EINVAL);
    assert_int_equal(off, -1);

    /* The token survived all of that. */
    assert_int_equal(demi_wait(&qr, qt, &t_zero), ETIMEDOUT);
    pair_close(&p);
    /* Closing cancelled the pop; the token is waitable and consumed once. */
    wait_ok(qt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(demi_wait(&qr, qt, NULL), EINVAL);
    alarm(0);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

/* ---- last ---------------------------------------------------------------- */

static void test_finish(void **state)
{
    (void)state;
    /* Everything opened by this file is closed, every result consumed. */
    assert_int_equal(rt.qds.nused, 0);
    assert_int_equal(rt.ops.ndone, 0);
    assert_int_equal(rt.ops.nfree, rt.ops.nops);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
}

static int group_teardown(void **state)
{
    (void)state;
    rt_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pre_init_socket),
        cmocka_unit_test(test_pre_init_sga),
        cmocka_unit_test(test_pre_init_wait),
        cmocka_unit_test(test_pre_init_wait_next_n),
        cmocka_unit_test(test_pre_init_queue_calls),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_socket_args),
        cmocka_unit_test(test_bad_qd_everywhere),
        cmocka_unit_test(test_bind_args),
        cmocka_unit_test(test_listen_args),
        cmocka_unit_test(test_accept_args),
        cmocka_unit_test(test_connect_args),
        cmocka_unit_test(test_connect_twice),
        cmocka_unit_test(test_push_args),
        cmocka_unit_test(test_push_foreign_buffer),
        cmocka_unit_test(test_pop_args),
        cmocka_unit_test(test_setsockopt_args),
        cmocka_unit_test(test_getsockopt_args),
        cmocka_unit_test(test_sockopt_round_trip),
        cmocka_unit_test(test_getpeername_args),
        cmocka_unit_test(test_sgaalloc_sizes),
        cmocka_unit_test(test_sgafree_args),
        cmocka_unit_test(test_sgafree_double_free_after_reuse),
        cmocka_unit_test(test_sgafree_popped_twice),
        cmocka_unit_test(test_free_protection),
        cmocka_unit_test(test_wait_args),
        cmocka_unit_test(test_finish),
    };

    /* Over catnap with built-in defaults, whatever the caller's environment. */
    unsetenv("LIBOS");
    unsetenv("CONFIG_PATH");
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
