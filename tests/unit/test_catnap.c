/* SPDX-License-Identifier: MIT */
/*
 * test_catnap.c: the Linux sockets libOS end to end, in one process and across
 * two (this binary re-executes itself as the peer with --peer MODE PORT).
 * Every wait is bounded, so a bug fails a test instead of hanging it.
 */
#include "libos/runtime.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
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
#include <unistd.h>

#include <cmocka.h>

static const struct timespec five_s = {5, 0};
static char *self_path;

static struct sockaddr_in addr_of(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* A listening TCP or bound UDP socket on a free port of 127.0.0.1. */
static int bound_socket(int type, uint16_t *port_out)
{
    for (int tries = 0; tries < 100; tries++) {
        uint16_t port = (uint16_t)(20000 + (rand() % 30000));
        struct sockaddr_in a = addr_of(port);
        int qd, ret;

        assert_int_equal(demi_socket(&qd, AF_INET, type, 0), 0);
        ret = demi_bind(qd, (struct sockaddr *)&a, sizeof(a));
        if (ret == 0 && type == SOCK_STREAM)
            ret = demi_listen(qd, 64);
        if (ret == 0) {
            *port_out = port;
            return qd;
        }
        assert_int_equal(ret, EADDRINUSE);
        assert_int_equal(demi_close(qd), 0);
    }
    fail_msg("no free port");
    return -1;
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

/* Connected pair: *cli and *srv are the two ends. */
static void tcp_pair(int *cli, int *srv, int *lis)
{
    struct sockaddr_in a;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    uint16_t port;

    *lis = bound_socket(SOCK_STREAM, &port);
    a = addr_of(port);
    assert_int_equal(demi_socket(cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, *lis), 0);
    assert_int_equal(demi_connect(&qc, *cli, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_ok(qc, DEMI_OPC_CONNECT);
    qr = wait_ok(qa, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
    assert_int_equal(qr.qr_value.ares.addr.sin_family, AF_INET);
    assert_int_equal(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

static uint8_t pattern(size_t off)
{
    return (uint8_t)((off * 131u) ^ (off >> 9));
}

/* Push @total bytes in pushes of @chunk from @from; pop them all on @to
 * and check each byte. Pushes and pops progress together, as a real
 * application's would, through demi_wait_any. */
static void stream_check(int from, int to, size_t total, size_t chunk)
{
    size_t sent = 0, got = 0;
    demi_qtoken_t qts[2];
    int npush = 0;

    assert_int_equal(demi_pop(&qts[1], to), 0);
    while (got < total) {
        demi_qresult_t qr;
        int off;

        if (npush == 0 && sent < total) {
            size_t n = total - sent < chunk ? total - sent : chunk;
            demi_sgarray_t sga = demi_sgaalloc(n);
            assert_int_equal(sga.sga_numsegs, 1);
            for (size_t i = 0; i < n; i++)
                ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pattern(sent + i);
            assert_int_equal(demi_push(&qts[0], from, &sga), 0);
            /* Free-protection: free right away, before the push completes. */
            assert_int_equal(demi_sgafree(&sga), 0);
            sent += n;
            npush = 1;
        }
        if (npush) {
            assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &five_s), 0);
        } else {
            assert_int_equal(demi_wait(&qr, qts[1], &five_s), 0);
            off = 1;
        }
        if (off == 0) {
            assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
            npush = 0;
            continue;
        }
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len > 0);
        for (uint32_t i = 0; i < qr.qr_value.sga.sga_segs[0].sgaseg_len; i++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pattern(got + i))
                fail_msg("byte %zu differs", got + i);
        got += qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        if (got < total)
            assert_int_equal(demi_pop(&qts[1], to), 0);
    }
    if (npush)
        wait_ok(qts[0], DEMI_OPC_PUSH);
    assert_int_equal(got, total);
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
    /* Every buffer handed out came back. */
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

static void test_tcp_1mib_byte_exact(void **state)
{
    int cli, srv, lis;
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    stream_check(cli, srv, 1u << 20, 64 * 1024);
    stream_check(srv, cli, 1u << 20, 1000); /* odd sizes, other direction */
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_tcp_eof_is_zero_length_pop(void **state)
{
    int cli, srv, lis;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    assert_int_equal(demi_close(cli), 0);
    for (int i = 0; i < 2; i++) { /* EOF stays EOF */
        assert_int_equal(demi_pop(&qt, srv), 0);
        qr = wait_ok(qt, DEMI_OPC_POP);
        assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
        assert_non_null(qr.qr_value.sga.sga_buf);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0); /* a real sga */
    }
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_tcp_reset_fails_pop(void **state)
{
    int cli, srv, lis;
    struct linger l = {1, 0};
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    assert_int_equal(demi_pop(&qt, srv), 0); /* pending when the RST comes */
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    assert_int_equal(demi_close(cli), 0); /* linger 0: RST */
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_pop(&qt, srv), 0);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_tcp_refused_connect(void **state)
{
    uint16_t port;
    int lis, qd;
    struct sockaddr_in a;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;
    /* A port that was just free and now has no listener. */
    lis = bound_socket(SOCK_STREAM, &port);
    assert_int_equal(demi_close(lis), 0);
    a = addr_of(port);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNREFUSED);
    assert_int_equal(qr.qr_qd, qd);
    assert_int_equal(demi_close(qd), 0);
}

static void test_close_cancels_pending(void **state)
{
    int cli, srv, lis;
    demi_qtoken_t qpop, qacc;
    demi_qresult_t qr;
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    assert_int_equal(demi_pop(&qpop, srv), 0);
    assert_int_equal(demi_accept(&qacc, lis), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(demi_wait(&qr, qpop, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(qr.qr_qd, srv);
    assert_int_equal(demi_wait(&qr, qacc, &five_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(demi_wait(&qr, qpop, &five_s), EINVAL); /* consumed */
    assert_int_equal(demi_close(srv), EBADF);
    assert_int_equal(demi_close(cli), 0);
}

static void test_close_keeps_completed_push(void **state)
{
    int cli, srv, lis;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga = demi_sgaalloc(1000);
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    memset(sga.sga_segs[0].sgaseg_buf, 'x', 1000);
    assert_int_equal(demi_push(&qt, cli, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(cli), 0); /* graceful: the data, then EOF */
    size_t got = 0;
    for (;;) {
        assert_int_equal(demi_pop(&qt, srv), 0);
        qr = wait_ok(qt, DEMI_OPC_POP);
        uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        if (n == 0)
            break;
        got += n;
    }
    assert_int_equal(got, 1000);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_udp_round_trip(void **state)
{
    uint16_t sport, cport;
    int srv, cli;
    struct sockaddr_in sa;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga = demi_sgaalloc(100);
    (void)state;
    srv = bound_socket(SOCK_DGRAM, &sport);
    cli = bound_socket(SOCK_DGRAM, &cport);
    sa = addr_of(sport);
    memset(sga.sga_segs[0].sgaseg_buf, 7, 100);
    assert_int_equal(demi_pushto(&qt, cli, &sga, (struct sockaddr *)&sa, sizeof(sa)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_pop(&qt, srv), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, htons(cport)); /* the sender */
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* Echo back to the sender address the pop gave. */
    sa = qr.qr_value.sga.sga_addr;
    assert_int_equal(demi_pushto(&qt, srv, &qr.qr_value.sga, (struct sockaddr *)&sa, sizeof(sa)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_pop(&qt, cli), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
    assert_int_equal(((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[99], 7);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* A datagram over 64 KiB is refused by the call, not lost silently. */
    demi_sgarray_t big = demi_sgaalloc(70000);
    assert_int_equal(demi_pushto(&qt, cli, &big, (struct sockaddr *)&sa, sizeof(sa)), EMSGSIZE);
    assert_int_equal(demi_sgafree(&big), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(cli), 0);
}

static void test_getpeername_and_options(void **state)
{
    int cli, srv, lis, one = 1, v = 0;
    socklen_t len = sizeof(v);
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    (void)state;
    tcp_pair(&cli, &srv, &lis);
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&peer, &plen), 0);
    assert_int_equal(plen, sizeof(peer));
    assert_int_equal(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* TCP_NODELAY is on by default (tcp_socket_options.nodelay). */
    assert_int_equal(demi_getsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_not_equal(v, 0);
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* ---- across two processes ---------------------------------------------- */

/* The peer: accept one connection and echo everything until EOF. */
static int peer_echo(uint16_t port)
{
    struct demi_args args = {0, NULL, NULL};
    struct sockaddr_in a = addr_of(port);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int lis, qd;

    alarm(60);
    if (demi_init(&args) || demi_socket(&lis, AF_INET, SOCK_STREAM, 0) ||
        demi_bind(lis, (struct sockaddr *)&a, sizeof(a)) || demi_listen(lis, 4))
        return 2;
    printf("ready\n");
    fflush(stdout);
    if (demi_accept(&qt, lis) || demi_wait(&qr, qt, NULL) || qr.qr_opcode != DEMI_OPC_ACCEPT)
        return 3;
    qd = qr.qr_value.ares.qd;
    for (;;) {
        if (demi_pop(&qt, qd) || demi_wait(&qr, qt, NULL) || qr.qr_opcode != DEMI_OPC_POP)
            return 4;
        if (qr.qr_value.sga.sga_segs[0].sgaseg_len == 0)
            break;
        demi_sgarray_t sga = qr.qr_value.sga;
        if (demi_push(&qt, qd, &sga) || demi_wait(&qr, qt, NULL) || qr.qr_opcode != DEMI_OPC_PUSH)
            return 5;
        demi_sgafree(&sga);
    }
    demi_close(qd);
    demi_close(lis);
    return 0;
}

static void test_two_processes_echo_1mib(void **state)
{
    uint16_t port = (uint16_t)(20000 + (getpid() % 30000));
    char portstr[8];
    int pipefd[2], status, qd;
    char ready[8] = "";
    pid_t pid;
    struct sockaddr_in a;
    demi_qtoken_t qt;
    (void)state;

    snprintf(portstr, sizeof(portstr), "%u", port);
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        execl(self_path, self_path, "--peer", portstr, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    assert_true(read(pipefd[0], ready, sizeof(ready) - 1) > 0); /* the peer listens */
    close(pipefd[0]);
    assert_string_equal(ready, "ready\n");

    a = addr_of(port);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_ok(qt, DEMI_OPC_CONNECT);
    stream_check(qd, qd, 1u << 20, 16 * 1024); /* through the echo */
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp_1mib_byte_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_eof_is_zero_length_pop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_reset_fails_pop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_refused_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_keeps_completed_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getpeername_and_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_echo_1mib, setup, teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--peer") == 0)
        return peer_echo((uint16_t)atoi(argv[2]));
    self_path = argv[0];
    srand((unsigned)getpid());
    alarm(120); /* a hang is a failure, not a stuck CI */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
