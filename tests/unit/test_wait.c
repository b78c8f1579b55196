/* SPDX-License-Identifier: MIT */
/*
 * test_wait.c: semantics of demi_wait, demi_wait_any and demi_wait_next_n
 * over catnap in one process (API.md, <demi/wait.h>): timeouts, which
 * tokens a wait consumes and which it leaves, completion order, and the
 * results of ops cancelled by a close.
 *
 * Every wait is bounded (a timeout, or an alarm around a NULL timeout) so a
 * bug fails the test instead of hanging it.
 */
#include "libos/runtime.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* ---- helpers ----------------------------------------------------------- */

static const struct timespec t_zero = {0, 0};
static const struct timespec t_1ms = {0, 1000000};
static const struct timespec t_5s = {5, 0};

static uint32_t mem_start;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct sockaddr_in sin_loopback(uint16_t port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* There is no demi_getsockname: pick our own port, retry on EADDRINUSE. */
static void bind_loopback(int qd, struct sockaddr_in *out)
{
    static unsigned counter;
    int ret = EADDRINUSE;

    for (int tries = 0; tries < 500 && ret == EADDRINUSE; tries++) {
        uint16_t port = (uint16_t)(20000 + ((unsigned)getpid() * 3u + counter++ * 7919u) % 20000u);
        *out = sin_loopback(port);
        ret = demi_bind(qd, (const struct sockaddr *)out, sizeof(*out));
    }
    assert_int_equal(ret, 0);
}

static int tcp_socket(void)
{
    int qd = -1;

    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    return qd;
}

static void wait_ok(demi_qtoken_t qt, demi_qresult_t *qr)
{
    assert_int_equal(demi_wait(qr, qt, &t_5s), 0);
    assert_true(qr->qr_qt == qt);
}

/* Whether the op behind @qt has completed (without consuming it). */
static bool op_done(demi_qtoken_t qt)
{
    struct demi_op *op = op_lookup(&rt.ops, qt);

    assert_non_null(op);
    return op->state == OP_DONE;
}

/* Make progress until the op behind @qt completes, without consuming it:
 * this orders completions for the tests of completion order. */
static void run_until_done(demi_qtoken_t qt)
{
    uint64_t deadline = now_ns() + 5000000000ull;
    struct rt_deadline dl;

    rt_deadline_init(&dl, 5000000000ull);
    while (!op_done(qt) && now_ns() < deadline)
        rt_wait_progress(rt.ops.cq_seq, &dl);
    assert_true(op_done(qt));
}

struct pair {
    int lqd, cqd, sqd;
    struct sockaddr_in addr;
};

static void pair_open(struct pair *p)
{
    demi_qtoken_t aqt, cqt;
    demi_qresult_t qr;

    p->lqd = tcp_socket();
    bind_loopback(p->lqd, &p->addr);
    assert_int_equal(demi_listen(p->lqd, 16), 0);
    p->cqd = tcp_socket();
    assert_int_equal(demi_accept(&aqt, p->lqd), 0);
    assert_int_equal(demi_connect(&cqt, p->cqd, (const struct sockaddr *)&p->addr, sizeof(p->addr)), 0);
    wait_ok(cqt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    wait_ok(aqt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    p->sqd = qr.qr_value.ares.qd;
}

static void pair_close(struct pair *p)
{
    assert_int_equal(demi_close(p->cqd), 0);
    assert_int_equal(demi_close(p->sqd), 0);
    assert_int_equal(demi_close(p->lqd), 0);
}

/* Push @len bytes of @c from a fresh buffer; returns the token. */
static demi_qtoken_t push_bytes(int qd, char c, uint32_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;

    assert_int_equal(sga.sga_numsegs, 1);
    memset(sga.sga_segs[0].sgaseg_buf, c, len);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0); /* free-protection makes this safe */
    return qt;
}

static void check_push_result(const demi_qresult_t *qr, demi_qtoken_t qt, int qd)
{
    assert_true(qr->qr_qt == qt);
    assert_int_equal(qr->qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(qr->qr_ret, 0);
    assert_int_equal(qr->qr_qd, qd);
}

/* Check a pop result carries bytes all equal to @c, and free it. */
static uint32_t check_pop_result(demi_qresult_t *qr, int qd, char c)
{
    uint32_t len;

    assert_int_equal(qr->qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr->qr_ret, 0);
    assert_int_equal(qr->qr_qd, qd);
    assert_int_equal(qr->qr_value.sga.sga_numsegs, 1);
    len = qr->qr_value.sga.sga_segs[0].sgaseg_len;
    assert_true(len > 0);
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(((char *)qr->qr_value.sga.sga_segs[0].sgaseg_buf)[i], c);
    assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
    return len;
}

/* Every test starts and ends with nothing completed and unconsumed, and
 * every buffer back in its pool; an alarm turns a hang into a failure. */
static int setup(void **state)
{
    (void)state;
    alarm(30);
    return rt.ops.ndone == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    assert_int_equal(rt.ops.ndone, 0);
    assert_int_equal(rt.qds.nused, 0);
    assert_int_equal(mem_in_use(&rt.mem), mem_start);
    return 0;
}

static int group_setup(void **state)
{
    struct demi_args args;

    (void)state;
    memset(&args, 0, sizeof(args));
    unsetenv("LIBOS");
    unsetenv("CONFIG_PATH");
    signal(SIGPIPE, SIG_IGN);
    if (demi_init(&args) != 0)
        return -1;
    mem_start = mem_in_use(&rt.mem);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rt_shutdown();
    return 0;
}

/* ---- demi_wait ---------------------------------------------------------- */

/* An op already complete is returned even by a zero timeout, even after
 * its deadline would have passed. */
static void test_wait_completed_never_times_out(void **state)
{
    struct pair p;
    demi_qtoken_t push_qt, pop_qt;
    demi_qresult_t qr;

    (void)state;
    pair_open(&p);
    push_qt = push_bytes(p.cqd, 'a', 10);
    run_until_done(push_qt);
    assert_int_equal(demi_wait(&qr, push_qt, &t_zero), 0);
    check_push_result(&qr, push_qt, p.cqd);

    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    run_until_done(pop_qt);
    usleep(2000);
    assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), 0);
    assert_true(qr.qr_qt == pop_qt);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'a'), 10);

    /* Also with the largest timeout (no overflow) and with NULL. */
    push_qt = push_bytes(p.cqd, 'b', 1);
    run_until_done(push_qt);
    {
        struct timespec huge = {LONG_MAX, 999999999};
        assert_int_equal(demi_wait(&qr, push_qt, &huge), 0);
        check_push_result(&qr, push_qt, p.cqd);
    }
    push_qt = push_bytes(p.cqd, 'b', 1);
    run_until_done(push_qt);
    assert_int_equal(demi_wait(&qr, push_qt, NULL), 0);
    check_push_result(&qr, push_qt, p.cqd);
    /* Drain the two 'b's. */
    {
        uint32_t got = 0;
        while (got < 2) {
            assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
            wait_ok(pop_qt, &qr);
            got += check_pop_result(&qr, p.sqd, 'b');
        }
        assert_int_equal(got, 2);
    }
    pair_close(&p);
}

static void test_wait_pending_poll_keeps_token(void **state)
{
    struct pair p;
    demi_qtoken_t pop_qt, push_qt;
    demi_qresult_t qr;

    (void)state;
    pair_open(&p);
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    for (int i = 0; i < 3; i++) {
        memset(&qr, 0x5a, sizeof(qr));
        assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), ETIMEDOUT);
    }
    assert_non_null(op_lookup(&rt.ops, pop_qt));
    assert_false(op_done(pop_qt));

    push_qt = push_bytes(p.cqd, 'z', 100);
    wait_ok(push_qt, &qr);
    check_push_result(&qr, push_qt, p.cqd);
    /* The same token, waited for again, now succeeds with the data. */
    wait_ok(pop_qt, &qr);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'z'), 100);
    /* And is consumed. */
    assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), EINVAL);
    pair_close(&p);
}

/* A NULL timeout waits until the op completes. */
static void test_wait_null_timeout_waits(void **state)
{
    struct pair p;
    demi_qtoken_t pop_qt, push_qt;
    demi_qresult_t qr;

    (void)state;
    pair_open(&p);
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    push_qt = push_bytes(p.cqd, 'n', 5);
    assert_int_equal(demi_wait(&qr, pop_qt, NULL), 0);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'n'), 5);
    assert_int_equal(demi_wait(&qr, push_qt, NULL), 0);
    check_push_result(&qr, push_qt, p.cqd);
    pair_close(&p);
}

static void test_wait_timeout_duration(void **state)
{
    struct pair p;
    demi_qtoken_t pop_qt;
    demi_qresult_t qr;
    const struct timespec t_20ms = {0, 20000000};
    uint64_t t0, el;

    (void)state;
    pair_open(&p);
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);

    t0 = now_ns();
    assert_int_equal(demi_wait(&qr, pop_qt, &t_1ms), ETIMEDOUT);
    el = now_ns() - t0;
    assert_true(el >= 1000000ull);
    assert_true(el < 2000000000ull);

    t0 = now_ns();
    assert_int_equal(demi_wait(&qr, pop_qt, &t_20ms), ETIMEDOUT);
    el = now_ns() - t0;
    assert_true(el >= 20000000ull);
    assert_true(el < 2000000000ull);

    /* A timeout does not consume: the close cancels the still-pending pop. */
    pair_close(&p);
    wait_ok(pop_qt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
}

static void test_wait_malformed_timeout(void **state)
{
    static const struct timespec bad[] = {
        {0, 1000000000L}, {0, -1}, {-1, 0}, {-1, 999999999L}, {0, LONG_MAX}, {LONG_MIN, 0},
    };
    struct pair p;
    demi_qtoken_t pop_qt, push_qt;
    demi_qresult_t qr, qrs[4];
    int off = -1, n = 77;

    (void)state;
    pair_open(&p);
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(demi_wait(&qr, pop_qt, &bad[i]), EINVAL);
        assert_int_equal(demi_wait_any(&qr, &off, &pop_qt, 1, &bad[i]), EINVAL);
        n = 77;
        assert_int_equal(demi_wait_next_n(qrs, 4, &n, &bad[i]), EINVAL);
        assert_int_equal(n, 0);
    }
    assert_int_equal(off, -1);
    /* Not consumed. */
    assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), ETIMEDOUT);
    push_qt = push_bytes(p.cqd, 'm', 3);
    wait_ok(pop_qt, &qr);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'm'), 3);
    wait_ok(push_qt, &qr);
    pair_close(&p);
}

/* A malformed timeout is a bad argument whether or not the op has completed
 * (wait.h: "EINVAL (..., bad timeout) at once"; "A wait that fails (bad
 * argument, timeout) does not consume its token"), as demi_wait_any and
 * demi_wait_next_n already do. */
static void test_wait_malformed_timeout_completed_op(void **state)
{
    const struct timespec bad = {0, 1000000000L};
    struct pair p;
    demi_qtoken_t push_qt;
    demi_qresult_t qr;
    int off = -1;

    (void)state;
    pair_open(&p);
    push_qt = push_bytes(p.cqd, 'c', 4);
    run_until_done(push_qt);
    assert_int_equal(demi_wait_any(&qr, &off, &push_qt, 1, &bad), EINVAL);
    assert_true(op_done(push_qt));
    {
        int ret = demi_wait(&qr, push_qt, &bad);
        if (ret == 0) {
            /* The token was consumed by a call that should have failed:
             * nothing left to clean up but the data. */
            demi_qtoken_t pop_qt;
            assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
            wait_ok(pop_qt, &qr);
            check_pop_result(&qr, p.sqd, 'c');
            pair_close(&p);
            fail_msg("demi_wait with tv_nsec = 1e9 on a completed op returned 0 and consumed the "
                     "token; expected EINVAL");
        }
        assert_int_equal(ret, EINVAL);
    }
    wait_ok(push_qt, &qr);
    check_push_result(&qr, push_qt, p.cqd);
    {
        demi_qtoken_t pop_qt;
        uint32_t got = 0;
        while (got < 4) {
            assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
            wait_ok(pop_qt, &qr);
            got += check_pop_result(&qr, p.sqd, 'c');
        }
    }
    pair_close(&p);
}

static void test_wait_consumed_token(void **state)
{
    struct pair p;
    demi_qtoken_t push_qt, pop_qt;
    demi_qresult_t qr;
    uint64_t t0;

    (void)state;
    alarm(10); /* a wait that blocks here is the bug */
    pair_open(&p);
    push_qt = push_bytes(p.cqd, 'k', 8);
    wait_ok(push_qt, &qr);
    t0 = now_ns();
    assert_int_equal(demi_wait(&qr, push_qt, NULL), EINVAL);
    assert_int_equal(demi_wait(&qr, push_qt, &t_5s), EINVAL);
    assert_int_equal(demi_wait(&qr, push_qt, &t_zero), EINVAL);
    assert_true(now_ns() - t0 < 50000000ull);

    /* Forged and stale tokens too, while the slot is reused by a new op. */
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    t0 = now_ns();
    assert_int_equal(demi_wait(&qr, 0, NULL), EINVAL);
    assert_int_equal(demi_wait(&qr, UINT64_MAX, NULL), EINVAL);
    assert_int_equal(demi_wait(&qr, pop_qt + (1ull << 32), NULL), EINVAL);
    assert_int_equal(demi_wait(&qr, pop_qt ^ 1, &t_5s), EINVAL);
    assert_int_equal(demi_wait(&qr, (uint64_t)rt.ops.nops, NULL), EINVAL);
    assert_true(now_ns() - t0 < 50000000ull);
    if ((uint32_t)push_qt == (uint32_t)pop_qt) /* same slot: the old token must not alias */
        assert_int_equal(demi_wait(&qr, push_qt, NULL), EINVAL);
    wait_ok(pop_qt, &qr);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'k'), 8);
    assert_int_equal(demi_wait(&qr, pop_qt, NULL), EINVAL);
    pair_close(&p);
}

/* ---- demi_wait_any ------------------------------------------------------ */

static void test_wait_any_num_qts(void **state)
{
    struct pair p;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int off = -1;

    (void)state;
    pair_open(&p);
    assert_int_equal(demi_pop(&qt, p.sqd), 0);
    assert_int_equal(demi_wait_any(&qr, &off, &qt, 0, NULL), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, &qt, -1, NULL), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, &qt, INT_MIN, &t_zero), EINVAL);
    assert_int_equal(off, -1);
    assert_int_equal(demi_wait_any(&qr, &off, &qt, 1, &t_zero), ETIMEDOUT);
    pair_close(&p);
    assert_int_equal(demi_wait_any(&qr, &off, &qt, 1, &t_5s), 0);
    assert_int_equal(off, 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
}

#define MANY 1000000

static void test_wait_any_million(void **state)
{
    struct pair p;
    demi_qtoken_t pop_qt, push_qt, *qts;
    demi_qresult_t qr;
    int off = -1;
    uint64_t t0, el;

    (void)state;
    pair_open(&p);
    push_qt = push_bytes(p.cqd, 'q', 1);
    wait_ok(push_qt, &qr); /* push_qt is now consumed: an invalid token */
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    run_until_done(pop_qt);
    qts = malloc(sizeof(*qts) * MANY);
    assert_non_null(qts);
    for (int i = 0; i < MANY; i++)
        qts[i] = pop_qt; /* valid, and complete */

    /* First invalid: refused at once, even with NULL timeout. */
    qts[0] = push_qt;
    t0 = now_ns();
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, NULL), EINVAL);
    el = now_ns() - t0;
    assert_true(el < 50000000ull);
    qts[0] = 0;
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, NULL), EINVAL);
    qts[0] = pop_qt;

    /* Only the last invalid: still EINVAL, although an earlier one is ready. */
    qts[MANY - 1] = push_qt;
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, NULL), EINVAL);
    qts[MANY - 1] = UINT64_MAX;
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, &t_zero), EINVAL);
    /* One in the middle. */
    qts[MANY - 1] = pop_qt;
    qts[MANY / 2] = push_qt;
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, &t_5s), EINVAL);
    assert_int_equal(off, -1);

    /* None of that consumed the pop. */
    assert_true(op_done(pop_qt));
    qts[MANY / 2] = pop_qt;
    assert_int_equal(demi_wait_any(&qr, &off, qts, MANY, &t_zero), 0);
    assert_int_equal(off, 0);
    assert_true(qr.qr_qt == pop_qt);
    assert_int_equal(check_pop_result(&qr, p.sqd, 'q'), 1);
    free(qts);
    pair_close(&p);
}

/* "Without scanning past the first bad one": the tokens after it are on a
 * page that cannot be read. Run in a child so a crash fails this test only. */
static int child_wait_any_stops_at_bad(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t per_page = (size_t)pg / sizeof(demi_qtoken_t);
    demi_qtoken_t *qts;
    demi_qresult_t qr;
    int off = -1;

    qts = mmap(NULL, (size_t)pg * 64, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (qts == MAP_FAILED)
        return 100;
    for (size_t i = 0; i < per_page; i++)
        qts[i] = 0; /* invalid */
    if (mprotect((char *)qts + pg, (size_t)pg * 63, PROT_NONE) != 0)
        return 101;
    /* The last readable token is the first bad one (all are bad). */
    return demi_wait_any(&qr, &off, qts + per_page - 1, (int)(per_page * 64 - per_page + 1), NULL);
}

static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
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

static void test_wait_any_stops_at_first_bad(void **state)
{
    int st;

    (void)state;
    st = in_child(child_wait_any_stops_at_bad);
    if (st >= 1000)
        fail_msg("demi_wait_any read past the first invalid token (signal %d)", st - 1000);
    assert_int_equal(st, EINVAL);
}

static void test_wait_any_consumes_only_returned(void **state)
{
    struct pair a, b;
    demi_qtoken_t qts[3], push_qt;
    demi_qresult_t qr;
    int off = -1;

    (void)state;
    pair_open(&a);
    pair_open(&b);
    assert_int_equal(demi_pop(&qts[0], a.sqd), 0);
    assert_int_equal(demi_pop(&qts[1], b.sqd), 0);
    qts[2] = qts[0];
    assert_int_equal(demi_wait_any(&qr, &off, qts, 3, &t_zero), ETIMEDOUT);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 3, &t_1ms), ETIMEDOUT);

    /* b's pop completes: offset 1, and only that token is consumed. */
    push_qt = push_bytes(b.cqd, 'B', 7);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 3, &t_5s), 0);
    assert_int_equal(off, 1);
    assert_true(qr.qr_qt == qts[1]);
    assert_int_equal(check_pop_result(&qr, b.sqd, 'B'), 7);
    assert_int_equal(demi_wait(&qr, qts[1], &t_zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 3, &t_zero), EINVAL); /* qts[1] consumed */
    assert_int_equal(demi_wait(&qr, qts[0], &t_zero), ETIMEDOUT);        /* still pending */
    wait_ok(push_qt, &qr);

    /* a's pop: first in the list wins when a token appears twice. */
    push_qt = push_bytes(a.cqd, 'A', 9);
    qts[1] = push_qt;
    run_until_done(qts[0]);
    run_until_done(push_qt);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 3, &t_5s), 0);
    assert_int_equal(off, 0);
    assert_true(qr.qr_qt == qts[0]);
    assert_int_equal(check_pop_result(&qr, a.sqd, 'A'), 9);
    /* The push is still there, at offset 0 of a list of one. */
    assert_int_equal(demi_wait_any(&qr, &off, &qts[1], 1, &t_zero), 0);
    assert_int_equal(off, 0);
    check_push_result(&qr, push_qt, a.cqd);
    pair_close(&a);
    pair_close(&b);
}

static void test_wait_any_ready_offset(void **state)
{
    enum { N = 5 };
    struct pair p[N];
    demi_qtoken_t qts[N], push_qt;
    demi_qresult_t qr;
    static const int order[N] = {3, 0, 4, 2, 1};
    int off;

    (void)state;
    for (int i = 0; i < N; i++) {
        pair_open(&p[i]);
        assert_int_equal(demi_pop(&qts[i], p[i].sqd), 0);
    }
    for (int k = 0; k < N; k++) {
        int i = order[k];
        push_qt = push_bytes(p[i].cqd, (char)('0' + i), (uint32_t)(i + 1));
        off = -1;
        assert_int_equal(demi_wait_any(&qr, &off, qts, N, &t_5s), 0);
        assert_int_equal(off, i);
        assert_true(qr.qr_qt == qts[i]);
        assert_int_equal(check_pop_result(&qr, p[i].sqd, (char)('0' + i)), (uint32_t)(i + 1));
        wait_ok(push_qt, &qr);
        /* Re-arm the consumed slot so the list stays valid. */
        assert_int_equal(demi_pop(&qts[i], p[i].sqd), 0);
    }
    for (int i = 0; i < N; i++)
        pair_close(&p[i]);
    for (int i = 0; i < N; i++) {
        wait_ok(qts[i], &qr);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
    }
}

/* ---- demi_wait_next_n --------------------------------------------------- */

static void test_wait_next_n_args(void **state)
{
    demi_qresult_t qrs[2];
    int n;

    (void)state;
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, 0, &n, &t_zero), EINVAL);
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, -1, &n, NULL), EINVAL);
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, INT_MIN, &n, NULL), EINVAL);
}

static void test_wait_next_n_nothing(void **state)
{
    demi_qresult_t qrs[4];
    uint64_t t0, el;
    int n;

    (void)state;
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, 4, &n, &t_zero), ETIMEDOUT);
    assert_int_equal(n, 0);
    n = 77;
    t0 = now_ns();
    assert_int_equal(demi_wait_next_n(qrs, 4, &n, &t_1ms), ETIMEDOUT);
    el = now_ns() - t0;
    assert_int_equal(n, 0);
    assert_true(el >= 1000000ull);
    assert_true(el < 2000000000ull);

    /* A pending op is not "something": still a timeout, still pending. */
    {
        struct pair p;
        demi_qtoken_t qt;
        demi_qresult_t qr;
        pair_open(&p);
        assert_int_equal(demi_pop(&qt, p.sqd), 0);
        n = 77;
        assert_int_equal(demi_wait_next_n(qrs, 4, &n, &t_1ms), ETIMEDOUT);
        assert_int_equal(n, 0);
        assert_int_equal(demi_wait(&qr, qt, &t_zero), ETIMEDOUT);
        pair_close(&p);
        /* The close completed the pop: wait_next_n returns it. */
        n = 0;
        assert_int_equal(demi_wait_next_n(qrs, 4, &n, &t_5s), 0);
        assert_int_equal(n, 1);
        assert_true(qrs[0].qr_qt == qt);
        assert_int_equal(qrs[0].qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qrs[0].qr_ret, ECANCELED);
        assert_int_equal(demi_wait(&qr, qt, &t_zero), EINVAL);
    }
}

static void test_wait_next_n_push_order(void **state)
{
    struct pair p;
    demi_qtoken_t qt[3];
    demi_qresult_t qrs[4], qr;
    int n;

    (void)state;
    pair_open(&p);
    for (int i = 0; i < 3; i++) {
        qt[i] = push_bytes(p.cqd, 'p', 10);
        run_until_done(qt[i]);
    }
    n = 0;
    memset(qrs, 0, sizeof(qrs));
    assert_int_equal(demi_wait_next_n(qrs, 4, &n, &t_5s), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        check_push_result(&qrs[i], qt[i], p.cqd);
    for (int i = 0; i < 3; i++)
        assert_int_equal(demi_wait(&qr, qt[i], &t_zero), EINVAL); /* consumed */
    {
        uint32_t got = 0;
        while (got < 30) {
            demi_qtoken_t pq;
            assert_int_equal(demi_pop(&pq, p.sqd), 0);
            wait_ok(pq, &qr);
            got += check_pop_result(&qr, p.sqd, 'p');
        }
        assert_int_equal(got, 30);
    }
    pair_close(&p);
}

static void test_wait_next_n_partial(void **state)
{
    struct pair p;
    demi_qtoken_t qt[3];
    demi_qresult_t qrs[3];
    int n;

    (void)state;
    pair_open(&p);
    for (int i = 0; i < 3; i++) {
        qt[i] = push_bytes(p.cqd, 'r', 5);
        run_until_done(qt[i]);
    }
    n = 0;
    memset(qrs, 0, sizeof(qrs));
    assert_int_equal(demi_wait_next_n(qrs, 2, &n, &t_5s), 0);
    assert_int_equal(n, 2);
    check_push_result(&qrs[0], qt[0], p.cqd);
    check_push_result(&qrs[1], qt[1], p.cqd);
    assert_int_equal(qrs[2].qr_opcode, 0); /* not written past num_qrs */
    n = 0;
    assert_int_equal(demi_wait_next_n(qrs, 2, &n, &t_zero), 0);
    assert_int_equal(n, 1);
    check_push_result(&qrs[0], qt[2], p.cqd);
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, 2, &n, &t_zero), ETIMEDOUT);
    assert_int_equal(n, 0);
    {
        uint32_t got = 0;
        demi_qresult_t qr;
        while (got < 15) {
            demi_qtoken_t pq;
            assert_int_equal(demi_pop(&pq, p.sqd), 0);
            wait_ok(pq, &qr);
            got += check_pop_result(&qr, p.sqd, 'r');
        }
    }
    pair_close(&p);
}

/* Pops on three connections, made to complete in the order 2, 0, 1: the
 * results come back in that order, not in submission order. */
static void test_wait_next_n_pop_order(void **state)
{
    enum { N = 3 };
    static const int order[N] = {2, 0, 1};
    struct pair p[N];
    demi_qtoken_t pop_qt[N], push_qt[N];
    demi_qresult_t qrs[2 * N];
    int n, got = 0;

    (void)state;
    for (int i = 0; i < N; i++) {
        pair_open(&p[i]);
        assert_int_equal(demi_pop(&pop_qt[i], p[i].sqd), 0);
    }
    for (int k = 0; k < N; k++) {
        int i = order[k];
        push_qt[i] = push_bytes(p[i].cqd, (char)('x' + i), 4);
        run_until_done(pop_qt[i]);
        run_until_done(push_qt[i]);
    }
    /* Completion order: push/pop per connection, connections in @order
     * (each push was complete before its pop, or at the same time). */
    while (got < 2 * N) {
        n = 0;
        assert_int_equal(demi_wait_next_n(qrs + got, 2 * N - got, &n, &t_5s), 0);
        assert_true(n >= 1);
        got += n;
    }
    assert_int_equal(got, 2 * N);
    {
        int pos_pop[N], pos_push[N];
        for (int j = 0; j < 2 * N; j++)
            for (int i = 0; i < N; i++) {
                if (qrs[j].qr_qt == pop_qt[i])
                    pos_pop[i] = j;
                if (qrs[j].qr_qt == push_qt[i])
                    pos_push[i] = j;
            }
        for (int k = 1; k < N; k++) {
            assert_true(pos_pop[order[k - 1]] < pos_pop[order[k]]);
            assert_true(pos_push[order[k - 1]] < pos_push[order[k]]);
        }
        for (int i = 0; i < N; i++) {
            assert_int_equal(check_pop_result(&qrs[pos_pop[i]], p[i].sqd, (char)('x' + i)), 4);
            check_push_result(&qrs[pos_push[i]], push_qt[i], p[i].cqd);
        }
    }
    for (int i = 0; i < N; i++)
        pair_close(&p[i]);
}

/* ---- close cancels ------------------------------------------------------ */

static void test_close_cancels_pending(void **state)
{
    struct pair p;
    demi_qtoken_t pop_qt, acc_qt, qts[2];
    demi_qresult_t qr;
    int off;
    int sqd, lqd;

    (void)state;
    pair_open(&p);
    sqd = p.sqd;
    lqd = p.lqd;
    assert_int_equal(demi_pop(&pop_qt, p.sqd), 0);
    assert_int_equal(demi_accept(&acc_qt, p.lqd), 0);
    qts[0] = pop_qt;
    qts[1] = acc_qt;
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &t_1ms), ETIMEDOUT);

    assert_int_equal(demi_close(p.sqd), 0);
    assert_int_equal(demi_close(p.lqd), 0);
    /* Both complete at once (no wait needed) as failed with ECANCELED. */
    assert_true(op_done(pop_qt));
    assert_true(op_done(acc_qt));
    assert_int_equal(demi_wait(&qr, acc_qt, &t_zero), 0);
    assert_true(qr.qr_qt == acc_qt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(qr.qr_qd, lqd);
    assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), 0);
    assert_true(qr.qr_qt == pop_qt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(qr.qr_qd, sqd);
    assert_int_equal(demi_wait(&qr, pop_qt, &t_zero), EINVAL);
    assert_int_equal(demi_wait(&qr, acc_qt, &t_zero), EINVAL);

    /* The peer sees the end of the stream. */
    assert_int_equal(demi_pop(&pop_qt, p.cqd), 0);
    wait_ok(pop_qt, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_close(p.cqd), 0);
}

/* Several pending pops on one queue, cancelled by its close, come back in
 * the order they were submitted, through wait_next_n. */
static void test_close_cancels_many(void **state)
{
    enum { N = 4 };
    struct pair p;
    demi_qtoken_t qt[N];
    demi_qresult_t qrs[N + 1];
    int n;

    (void)state;
    pair_open(&p);
    for (int i = 0; i < N; i++)
        assert_int_equal(demi_pop(&qt[i], p.sqd), 0);
    n = 77;
    assert_int_equal(demi_wait_next_n(qrs, N + 1, &n, &t_zero), ETIMEDOUT);
    assert_int_equal(n, 0);
    pair_close(&p);
    n = 0;
    assert_int_equal(demi_wait_next_n(qrs, N + 1, &n, &t_5s), 0);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        assert_true(qrs[i].qr_qt == qt[i]);
        assert_int_equal(qrs[i].qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qrs[i].qr_ret, ECANCELED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_completed_never_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_pending_poll_keeps_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_null_timeout_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_timeout_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_malformed_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_malformed_timeout_completed_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_consumed_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_any_num_qts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_any_million, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_any_stops_at_first_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_any_consumes_only_returned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_any_ready_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_next_n_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_next_n_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_next_n_push_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_next_n_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_next_n_pop_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
