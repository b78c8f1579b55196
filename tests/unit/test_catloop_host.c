/* SPDX-License-Identifier: MIT */
/*
 * test_catloop_host.c: LIBOS=catloop with catloop.mode host, TCP sockets
 * between processes over shared memory (catloop_host.c, catloop_shm.c):
 * connect, accept, push, pop, close and end of stream in one process and
 * across two (this binary re-executes itself as the peer with --peer MODE
 * PORT); a refused connect (no listener, a closed one, a killed one, whose
 * object is then removed); a peer killed mid-connection on either side
 * (ECONNRESET, never a hang); many connectors at once from several
 * processes, more than a listener has request slots, served through
 * demi_wait_next_n; catloop_shm_clean; and every buffer and shm object back.
 * Every wait is bounded and every child reaped, so a bug fails, not hangs.
 */
#include "libos/runtime.h"
#include "libos/catloop.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
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

static const struct timespec five_s = {5, 0};
static char *self_path;
static uint16_t port_base;

#define MANY_PROCS 4
#define MANY_PER_PROC 40 /* 160 connects in flight: more than CL_SLOTS (64) */

/* ---- helpers ----------------------------------------------------------- */

static struct sockaddr_in addr_of(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static demi_qresult_t wait_ok(demi_qtoken_t qt, demi_opcode_t opc)
{
    demi_qresult_t qr;

    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    if (qr.qr_opcode != opc)
        fail_msg("opcode %d, expected %d (qr_ret %lld)", qr.qr_opcode, opc, (long long)qr.qr_ret);
    return qr;
}

static int wait_failed(demi_qtoken_t qt)
{
    demi_qresult_t qr;

    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    return (int)qr.qr_ret;
}

static int listen_on(uint16_t port)
{
    struct sockaddr_in a = addr_of(port);
    int qd;

    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(qd, (const struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_listen(qd, 16), 0);
    return qd;
}

static demi_qtoken_t connect_start(int *qd, uint16_t port)
{
    struct sockaddr_in a = addr_of(port);
    demi_qtoken_t qt;

    assert_int_equal(demi_socket(qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, *qd, (const struct sockaddr *)&a, sizeof(a)), 0);
    return qt;
}

static void push_str(int qd, const char *s)
{
    demi_sgarray_t sga = demi_sgaalloc(strlen(s));
    demi_qtoken_t qt;

    assert_int_equal(sga.sga_numsegs, 1);
    memcpy(sga.sga_segs[0].sgaseg_buf, s, strlen(s));
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    (void)wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void pop_str(int qd, const char *s)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, strlen(s));
    assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, s, strlen(s));
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void pop_eof(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0); /* a real sga */
}

/* Objects of ours in /dev/shm: connection pipes named with @pid, and
 * listener objects of ports in our range. */
static int shm_objects(pid_t pid)
{
    char pipe_pfx[64];
    struct dirent *de;
    DIR *d = opendir("/dev/shm");
    int n = 0;

    assert_non_null(d);
    snprintf(pipe_pfx, sizeof(pipe_pfx), "demi-pipe-" CATLOOP_PIPE_PREFIX "%d-", (int)pid);
    while ((de = readdir(d)) != NULL) {
        unsigned port;
        if (strncmp(de->d_name, pipe_pfx, strlen(pipe_pfx)) == 0)
            n++;
        else if (sscanf(de->d_name, "demi-catloop-127.0.0.1-%u", &port) == 1 && port >= port_base &&
                 port < port_base + 100u)
            n++;
    }
    closedir(d);
    return n;
}

static pid_t spawn_peer(const char *mode, uint16_t port)
{
    char p[16];
    pid_t pid;

    snprintf(p, sizeof(p), "%u", port);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_path, self_path, "--peer", mode, p, (char *)NULL);
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

/* Connect to @port until a listener answers (the peer may not be up yet). */
static int connect_retry(uint16_t port)
{
    for (int i = 0; i < 5000; i++) {
        demi_qresult_t qr;
        int qd;
        demi_qtoken_t qt = connect_start(&qd, port);
        assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
        if (qr.qr_opcode == DEMI_OPC_CONNECT)
            return qd;
        assert_int_equal(qr.qr_ret, ECONNREFUSED);
        assert_int_equal(demi_close(qd), 0);
        usleep(1000);
    }
    fail_msg("no listener on port %u", port);
    return -1;
}

/* ---- peers (in the child, after its own demi_init) ---------------------- */

static int peer_wait(demi_qtoken_t qt, demi_opcode_t opc, demi_qresult_t *qr)
{
    return demi_wait(qr, qt, &five_s) == 0 && qr->qr_opcode == opc ? 0 : 1;
}

/* echo: listen, accept one, echo until EOF, close. hang: listen, accept
 * one, push "hi", then sleep until killed. connect-hang: connect, push
 * "PID-0", sleep until killed. listen-hang: listen, accept until killed.
 * many: MANY_PER_PROC connects at once, one message each, check the echo. */
static int peer_main(const char *mode, uint16_t port)
{
    struct demi_args args = {0, NULL, NULL};
    struct sockaddr_in a = addr_of(port);
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int lqd, qd;

    if (demi_init(&args) != 0)
        return 2;
    if (strcmp(mode, "connect-hang") == 0 || strcmp(mode, "many") == 0) {
        int n = strcmp(mode, "many") == 0 ? MANY_PER_PROC : 1;
        int qds[MANY_PER_PROC];
        demi_qtoken_t qts[MANY_PER_PROC];
        for (int i = 0; i < n; i++) {
            if (demi_socket(&qds[i], AF_INET, SOCK_STREAM, 0) ||
                demi_connect(&qts[i], qds[i], (const struct sockaddr *)&a, sizeof(a)))
                return 3;
        }
        for (int i = 0; i < n; i++)
            if (peer_wait(qts[i], DEMI_OPC_CONNECT, &qr))
                return 4;
        for (int i = 0; i < n; i++) {
            char msg[32];
            int len = snprintf(msg, sizeof(msg), "%d-%d", (int)getpid(), i);
            demi_sgarray_t sga = demi_sgaalloc((size_t)len);
            memcpy(sga.sga_segs[0].sgaseg_buf, msg, (size_t)len);
            if (demi_push(&qt, qds[i], &sga) || peer_wait(qt, DEMI_OPC_PUSH, &qr) || demi_sgafree(&sga))
                return 5;
            if (n == 1) {
                for (;;)
                    pause();
            }
            if (demi_pop(&qt, qds[i]) || peer_wait(qt, DEMI_OPC_POP, &qr))
                return 6;
            if (qr.qr_value.sga.sga_segs[0].sgaseg_len != (uint32_t)len ||
                memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, msg, (size_t)len) != 0)
                return 7;
            demi_sgafree(&qr.qr_value.sga);
            if (demi_close(qds[i]))
                return 8;
        }
        return 0;
    }
    if (demi_socket(&lqd, AF_INET, SOCK_STREAM, 0) || demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a)) ||
        demi_listen(lqd, 16))
        return 3;
    while (strcmp(mode, "listen-hang") == 0) /* accept (and keep) until killed */
        if (demi_accept(&qt, lqd) || demi_wait(&qr, qt, NULL))
            return 4;
    if (demi_accept(&qt, lqd) || demi_wait(&qr, qt, NULL) || qr.qr_opcode != DEMI_OPC_ACCEPT)
        return 4;
    qd = qr.qr_value.ares.qd;
    if (strcmp(mode, "hang") == 0) {
        demi_sgarray_t sga = demi_sgaalloc(2);
        memcpy(sga.sga_segs[0].sgaseg_buf, "hi", 2);
        if (demi_push(&qt, qd, &sga) || peer_wait(qt, DEMI_OPC_PUSH, &qr))
            return 5;
        for (;;)
            pause();
    }
    for (;;) { /* echo */
        if (demi_pop(&qt, qd) || peer_wait(qt, DEMI_OPC_POP, &qr))
            return 5;
        if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0)
            break;
        if (demi_push(&qt, qd, &qr.qr_value.sga) || demi_sgafree(&qr.qr_value.sga))
            return 6;
        if (peer_wait(qt, DEMI_OPC_PUSH, &qr))
            return 7;
    }
    demi_sgafree(&qr.qr_value.sga);
    return demi_close(qd) || demi_close(lqd) ? 8 : 0;
}

/* ---- fixtures ----------------------------------------------------------- */

static uint32_t bufs_at_start;

static int setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    assert_int_equal(demi_init(&args), 0);
    bufs_at_start = mem_in_use(&rt.mem);
    return 0;
}

/* Every buffer back, every shm object of ours gone, the runtime down (so a
 * peer forked by the next test inherits no descriptor of ours: it would
 * share our locks). */
static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    assert_int_equal(rt.qds.nused, 0);
    rt_shutdown();
    assert_int_equal(shm_objects(getpid()), 0);
    return 0;
}

/* ---- one process -------------------------------------------------------- */

static void test_one_process(void **state)
{
    uint16_t port = port_base;
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    demi_qtoken_t cqt, aqt;
    demi_qresult_t qr;
    int lqd, cqd, sqd, uqd;

    (void)state;
    assert_int_equal(demi_socket(&uqd, AF_INET, SOCK_DGRAM, 0), ENOTSUP);
    /* Listeners are named by IPv4 address and port: no AF_INET6 yet. */
    assert_int_equal(demi_socket(&uqd, AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
    lqd = listen_on(port);
    assert_true(shm_objects(getpid()) >= 1);
    assert_int_equal(demi_accept(&aqt, lqd), 0);
    cqt = connect_start(&cqd, port);
    qr = wait_ok(aqt, DEMI_OPC_ACCEPT);
    sqd = qr.qr_value.ares.qd;
    assert_int_equal(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    (void)wait_ok(cqt, DEMI_OPC_CONNECT);
    assert_int_equal(demi_getpeername(cqd, (struct sockaddr *)&peer, &plen), 0);
    assert_int_equal(peer.sin_port, htons(port));

    /* Not for a listener, not before a connect. */
    assert_int_equal(demi_pop(&aqt, lqd), ENOTCONN);

    push_str(cqd, "ping");
    pop_str(sqd, "ping");
    push_str(sqd, "pong");
    push_str(sqd, "again");
    pop_str(cqd, "pong");
    pop_str(cqd, "again");

    /* A pop pending at close is cancelled; the peer reads EOF, forever. */
    assert_int_equal(demi_pop(&aqt, sqd), 0);
    assert_int_equal(demi_close(cqd), 0);
    qr = wait_ok(aqt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    pop_eof(sqd);
    assert_int_equal(demi_close(sqd), 0);

    /* A second listener on the same address: EADDRINUSE. */
    {
        struct sockaddr_in a = addr_of(port);
        int qd2;
        assert_int_equal(demi_socket(&qd2, AF_INET, SOCK_STREAM, 0), 0);
        assert_int_equal(demi_bind(qd2, (const struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
        assert_int_equal(demi_close(qd2), 0);
    }
    /* An accept pending at the listener's close: ECANCELED. */
    assert_int_equal(demi_accept(&aqt, lqd), 0);
    assert_int_equal(demi_close(lqd), 0);
    assert_int_equal(wait_failed(aqt), ECANCELED);
}

static void test_refused(void **state)
{
    uint16_t port = (uint16_t)(port_base + 1);
    demi_qtoken_t qt;
    int qd, lqd, qd2;

    (void)state;
    qt = connect_start(&qd, port); /* nobody listens */
    assert_int_equal(wait_failed(qt), ECONNREFUSED);
    {
        demi_sgarray_t sga = demi_sgaalloc(1);
        assert_int_equal(demi_push(&qt, qd, &sga), ENOTCONN);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    assert_int_equal(demi_close(qd), 0);

    /* A listener that closed: refused too; one queued but never accepted
     * connection sees EOF. */
    lqd = listen_on(port);
    qt = connect_start(&qd, port);
    for (int i = 0; i < 100; i++) {
        demi_qresult_t qr;
        if (demi_wait(&qr, qt, &(struct timespec){0, 10000000}) == 0) {
            assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
            break;
        }
        /* The listener must poll to answer: a wait on anything polls. */
    }
    assert_int_equal(demi_close(lqd), 0);
    pop_eof(qd);
    assert_int_equal(demi_close(qd), 0);
    qt = connect_start(&qd2, port);
    assert_int_equal(wait_failed(qt), ECONNREFUSED);
    assert_int_equal(demi_close(qd2), 0);
}

/* ---- across processes --------------------------------------------------- */

static void test_two_processes(void **state)
{
    uint16_t port = (uint16_t)(port_base + 2);
    pid_t pid = spawn_peer("echo", port);
    int qd;

    (void)state;
    qd = connect_retry(port);
    for (int i = 0; i < 1000; i++) {
        char msg[32];
        snprintf(msg, sizeof(msg), "message %d", i);
        push_str(qd, msg);
        pop_str(qd, msg);
    }
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(reap(pid, 10000), 0);
}

/* The accepting side is killed: our pop gets what it pushed, then
 * ECONNRESET; pushes fail too. Within the liveness probe's period. */
static void test_peer_killed_server(void **state)
{
    uint16_t port = (uint16_t)(port_base + 3);
    pid_t pid = spawn_peer("hang", port);
    demi_qtoken_t qt;
    int qd;

    (void)state;
    qd = connect_retry(port);
    pop_str(qd, "hi");
    assert_int_equal(demi_pop(&qt, qd), 0);
    kill(pid, SIGKILL);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
    assert_int_equal(wait_failed(qt), ECONNRESET);
    assert_int_equal(demi_close(qd), 0);
    /* Its listener's object is stale now: gone with the next connect. */
    qt = connect_start(&qd, port);
    assert_int_equal(wait_failed(qt), ECONNREFUSED);
    assert_int_equal(demi_close(qd), 0);
}

/* The connecting side is killed: the accepted socket's pop says ECONNRESET,
 * and its pipe object (the connector created it) goes at our close or with
 * demi-config --clean-shm. */
static void test_peer_killed_client(void **state)
{
    uint16_t port = (uint16_t)(port_base + 4);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    struct catmem_clean res;
    int lqd, sqd;
    pid_t pid;

    (void)state;
    lqd = listen_on(port);
    pid = spawn_peer("connect-hang", port);
    assert_int_equal(demi_accept(&qt, lqd), 0);
    qr = wait_ok(qt, DEMI_OPC_ACCEPT);
    sqd = qr.qr_value.ares.qd;
    assert_int_equal(demi_pop(&qt, sqd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP); /* "PID-0" */
    assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len > 2);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    kill(pid, SIGKILL);
    assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
    assert_int_equal(demi_pop(&qt, sqd), 0);
    assert_int_equal(wait_failed(qt), ECONNRESET);
    assert_int_equal(demi_close(sqd), 0);
    assert_int_equal(demi_close(lqd), 0);
    /* The dead connector's pipe: stale, removed by the pipes' cleaner. */
    {
        char pfx[32];
        snprintf(pfx, sizeof(pfx), CATLOOP_PIPE_PREFIX "%d-", (int)pid);
        assert_int_equal(catmem_shm_clean(pfx, false, NULL, &res), 0);
        assert_int_equal(res.removed, 1);
    }
}

/* A listener killed: connect is refused and its object removed on the way;
 * catloop_shm_clean finds another killed listener's and removes it. */
static void test_listener_killed(void **state)
{
    uint16_t port = (uint16_t)(port_base + 5), port2 = (uint16_t)(port_base + 6);
    struct catmem_clean res;
    demi_qtoken_t qt;
    pid_t pid;
    int qd;

    (void)state;
    for (int round = 0; round < 2; round++) {
        uint16_t p = round == 0 ? port : port2;
        pid = spawn_peer("listen-hang", p);
        qd = connect_retry(p); /* it listens (and never accepts: the slot still answers) */
        assert_int_equal(demi_close(qd), 0);
        kill(pid, SIGKILL);
        assert_int_equal(reap(pid, 5000), 128 + SIGKILL);
    }
    assert_int_equal(shm_objects(getpid()), 2);
    qt = connect_start(&qd, port);
    assert_int_equal(wait_failed(qt), ECONNREFUSED);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(shm_objects(getpid()), 1); /* port's removed by the connect */
    assert_int_equal(catloop_shm_clean(true, NULL, &res), 0);
    assert_true(res.stale >= 1);
    assert_int_equal(res.removed, 0);
    assert_int_equal(shm_objects(getpid()), 1);
    assert_int_equal(catloop_shm_clean(false, NULL, &res), 0);
    assert_true(res.removed >= 1);
    assert_int_equal(shm_objects(getpid()), 0);
}

/* MANY_PROCS processes connect MANY_PER_PROC sockets each, all at once, to
 * one listener; we accept and echo them all through demi_wait_next_n. */
static void test_many_connectors(void **state)
{
    uint16_t port = (uint16_t)(port_base + 7);
    const int total = MANY_PROCS * MANY_PER_PROC;
    pid_t pids[MANY_PROCS];
    demi_qtoken_t qt;
    int lqd, accepted = 0, closed = 0;

    (void)state;
    lqd = listen_on(port);
    for (int i = 0; i < MANY_PROCS; i++)
        pids[i] = spawn_peer("many", port);
    assert_int_equal(demi_accept(&qt, lqd), 0);
    while (closed < total) {
        demi_qresult_t qrs[16];
        int n = 0;
        assert_int_equal(demi_wait_next_n(qrs, 16, &n, &five_s), 0);
        for (int i = 0; i < n; i++) {
            demi_qresult_t *qr = &qrs[i];
            switch (qr->qr_opcode) {
            case DEMI_OPC_ACCEPT:
                accepted++;
                assert_int_equal(demi_pop(&qt, qr->qr_value.ares.qd), 0);
                if (accepted < total)
                    assert_int_equal(demi_accept(&qt, lqd), 0);
                break;
            case DEMI_OPC_POP:
                if (qr->qr_value.sga.sga_segs[0].sgaseg_len == 0) {
                    assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
                    assert_int_equal(demi_close(qr->qr_qd), 0);
                    closed++;
                    break;
                }
                assert_int_equal(demi_push(&qt, qr->qr_qd, &qr->qr_value.sga), 0);
                assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
                assert_int_equal(demi_pop(&qt, qr->qr_qd), 0);
                break;
            case DEMI_OPC_PUSH:
                break;
            default:
                fail_msg("opcode %d, qr_ret %lld", qr->qr_opcode, (long long)qr->qr_ret);
            }
        }
    }
    assert_int_equal(accepted, total);
    for (int i = 0; i < MANY_PROCS; i++)
        assert_int_equal(reap(pids[i], 10000), 0);
    assert_int_equal(demi_close(lqd), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_killed_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_killed_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_connectors, setup, teardown),
    };

    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_CATLOOP_MODE", "host", 1);
    setenv("DEMI_CATMEM_RING_SIZE", "65536", 1); /* 160 connections' pipes stay small */
    if (argc == 4 && strcmp(argv[1], "--peer") == 0)
        return peer_main(argv[2], (uint16_t)atoi(argv[3]));
    self_path = argv[0];
    port_base = (uint16_t)(20000 + (getpid() % 400) * 100);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
