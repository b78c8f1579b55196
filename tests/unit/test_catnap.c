/* SPDX-License-Identifier: MIT */
/*
 * test_catnap.c: the Linux sockets libOS end to end, in one process and across
 * two (this binary re-executes itself as the peer with --peer MODE PORT).
 * Every wait is bounded, so a bug fails a test instead of hanging it.
 */
#include "libos/runtime.h"

#include <demi/ext.h>
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

/* ---- AF_INET6 (issue 16): catnap hands it to the kernel ------------------ */

static struct sockaddr_in6 addr6_of(const struct in6_addr *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = *ip;
    return a;
}

static struct in6_addr mapped_loopback(void)
{
    struct in6_addr m;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &m), 1);
    return m;
}

/* An AF_INET6 TCP listener or UDP socket bound to a free port of @ip (:: or
 * ::1). */
static int bound_socket6(int type, const struct in6_addr *ip, uint16_t *port_out)
{
    for (int tries = 0; tries < 100; tries++) {
        uint16_t port = (uint16_t)(20000 + (rand() % 30000));
        struct sockaddr_in6 a = addr6_of(ip, port);
        int qd, ret;

        assert_int_equal(demi_socket(&qd, AF_INET6, type, 0), 0);
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

/* TCP over ::1: connect, the accept's 16-byte peer (family and port; the
 * rest is the sockaddr_in6 cut, as Linux writes it into 16 bytes), both
 * names whole, and 1 MiB each way byte-exact. */
static void test_v6_tcp_loopback(void **state)
{
    struct sockaddr_in6 a, got;
    struct sockaddr_in cut;
    struct sockaddr_storage ss;
    socklen_t len;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    uint16_t port, cport;
    int lis, cli, srv;
    (void)state;

    lis = bound_socket6(SOCK_STREAM, &in6addr_loopback, &port);
    assert_int_equal(demi_socket(&cli, AF_INET6, SOCK_STREAM, 0), 0);
    /* A fresh AF_INET6 socket is [::]:0. */
    len = sizeof(got);
    memset(&got, 0xaa, sizeof(got));
    assert_int_equal(demi_getsockname(cli, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(got.sin6_family, AF_INET6);
    assert_int_equal(got.sin6_port, 0);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&got.sin6_addr));

    a = addr6_of(&in6addr_loopback, port);
    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_ok(qc, DEMI_OPC_CONNECT);
    qr = wait_ok(qa, DEMI_OPC_ACCEPT);
    srv = qr.qr_value.ares.qd;

    /* The client's own name: [::1]:ephemeral. */
    len = sizeof(got);
    assert_int_equal(demi_getsockname(cli, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(len, sizeof(got));
    assert_true(IN6_IS_ADDR_LOOPBACK(&got.sin6_addr));
    cport = ntohs(got.sin6_port);
    assert_true(cport != 0);

    /* The accept result: AF_INET6 and the client's port in the 16 bytes,
     * then the first 16 bytes of its sockaddr_in6. */
    cut = qr.qr_value.ares.addr;
    assert_int_equal(cut.sin_family, AF_INET6);
    assert_int_equal(ntohs(cut.sin_port), cport);
    memcpy(&ss, &cut, sizeof(cut));
    assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, &in6addr_loopback, 8);

    /* The whole peer through demi_getpeername, on both ends. */
    len = sizeof(ss);
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    memcpy(&got, &ss, sizeof(got));
    assert_int_equal(got.sin6_family, AF_INET6);
    assert_true(IN6_IS_ADDR_LOOPBACK(&got.sin6_addr));
    assert_int_equal(ntohs(got.sin6_port), cport);
    len = sizeof(got);
    assert_int_equal(demi_getpeername(cli, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(ntohs(got.sin6_port), port);
    assert_true(IN6_IS_ADDR_LOOPBACK(&got.sin6_addr));
    /* The accepted end's own name: where it was reached. */
    len = sizeof(got);
    assert_int_equal(demi_getsockname(srv, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(ntohs(got.sin6_port), port);

    /* Linux's truncation: 16 bytes give the start and say 28. */
    memset(&ss, 0xaa, sizeof(ss));
    len = sizeof(struct sockaddr_in);
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_family, AF_INET6);
    assert_int_equal(((uint8_t *)&ss)[sizeof(struct sockaddr_in)], 0xaa); /* nothing past 16 */
    len = sizeof(struct sockaddr_in) - 1;                                 /* below the floor: EINVAL, as for AF_INET */
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&ss, &len), EINVAL);
    assert_int_equal(demi_getsockname(srv, (struct sockaddr *)&ss, &len), EINVAL);

    stream_check(cli, srv, 1u << 20, 65536);
    stream_check(srv, cli, 1u << 20, 4000);

    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* A dual-stack listener on [::] (IPV6_V6ONLY off, Linux's default) takes
 * an IPv4 client, reported as ::ffff:127.0.0.1; with IPV6_V6ONLY on it
 * does not, and the address rules follow the option. */
static void test_v6_dual_stack_and_v6only(void **state)
{
    struct sockaddr_in a4, cut;
    struct sockaddr_in6 peer, m;
    struct in6_addr mapped = mapped_loopback();
    socklen_t len;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    uint16_t port;
    int lis, cli, srv, v, one = 1, zero = 0;
    (void)state;

    lis = bound_socket6(SOCK_STREAM, &in6addr_any, &port);
    v = -1;
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 0);
    /* Bound already: Linux refuses to change it. */
    assert_int_equal(demi_setsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), EINVAL);

    a4 = addr_of(port);
    assert_int_equal(demi_socket(&cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&a4, sizeof(a4)), 0);
    wait_ok(qc, DEMI_OPC_CONNECT);
    qr = wait_ok(qa, DEMI_OPC_ACCEPT);
    srv = qr.qr_value.ares.qd;
    cut = qr.qr_value.ares.addr;
    assert_int_equal(cut.sin_family, AF_INET6);
    len = sizeof(peer);
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(peer.sin6_family, AF_INET6);
    assert_true(IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr));
    assert_memory_equal(&peer.sin6_addr, &mapped, sizeof(mapped));
    assert_int_equal(peer.sin6_port, cut.sin_port);
    /* The accepted socket is AF_INET6 too: IPPROTO_IPV6 options are there. */
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(srv, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
    stream_check(cli, srv, 100000, 1000);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);

    /* IPV6_V6ONLY on: a mapped bind is EINVAL, a mapped connect
     * ENETUNREACH (Linux); off again, the mapped connect reaches an IPv4
     * listener. */
    lis = bound_socket(SOCK_STREAM, &port);
    assert_int_equal(demi_socket(&cli, AF_INET6, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_setsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 1);
    m = addr6_of(&mapped, port);
    assert_int_equal(demi_bind(cli, (struct sockaddr *)&m, sizeof(m)), EINVAL);
    qc = 42;
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&m, sizeof(m)), ENETUNREACH);
    assert_true(qc == 42);
    assert_int_equal(demi_setsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), 0);
    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&m, sizeof(m)), 0);
    wait_ok(qc, DEMI_OPC_CONNECT);
    qr = wait_ok(qa, DEMI_OPC_ACCEPT);
    srv = qr.qr_value.ares.qd;
    /* The IPv4 listener sees a plain AF_INET peer. */
    assert_int_equal(qr.qr_value.ares.addr.sin_family, AF_INET);
    assert_int_equal(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);

    /* IPPROTO_IPV6 on an AF_INET socket: ENOPROTOOPT, as Linux. */
    assert_int_equal(demi_socket(&cli, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_setsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), ENOPROTOOPT);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), ENOPROTOOPT);
    assert_int_equal(demi_close(cli), 0);
}

/* UDP over ::1: the popped datagram's sga_addr says AF_INET6 and the port;
 * demi_sga_source gives the whole source, which a reply goes to. An IPv4
 * sender to a dual-stack socket is ::ffff:127.0.0.1; an AF_INET
 * destination on an AF_INET6 socket goes as its mapped address. */
static void test_v6_udp_echo_source(void **state)
{
    struct sockaddr_in6 a, src, name;
    struct sockaddr_storage ss;
    struct sockaddr_in a4;
    struct in6_addr mapped = mapped_loopback();
    socklen_t len;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    uint16_t sport, cport, v4port;
    int srv, cli, c4;
    (void)state;

    srv = bound_socket6(SOCK_DGRAM, &in6addr_any, &sport);
    cli = bound_socket6(SOCK_DGRAM, &in6addr_loopback, &cport);
    a = addr6_of(&in6addr_loopback, sport);
    sga = demi_sgaalloc(100);
    memset(sga.sga_segs[0].sgaseg_buf, 7, 100);
    /* demi_sga_source on a buffer that was never popped: no source. */
    len = sizeof(src);
    assert_int_equal(demi_sga_source(&sga, (struct sockaddr *)&src, &len), ENOENT);
    /* 24 bytes (RFC 2133's sockaddr_in6, no scope) are enough; 23 not. */
    assert_int_equal(demi_pushto(&qt, cli, &sga, (struct sockaddr *)&a, 23), EINVAL);
    assert_int_equal(demi_pushto(&qt, cli, &sga, (struct sockaddr *)&a, 24), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);

    assert_int_equal(demi_pop(&qt, srv), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_family, AF_INET6);
    assert_int_equal(ntohs(qr.qr_value.sga.sga_addr.sin_port), cport);
    /* The whole source; a short buffer is cut and told the full size. */
    len = sizeof(ss);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    memcpy(&src, &ss, sizeof(src));
    assert_int_equal(src.sin6_family, AF_INET6);
    assert_true(IN6_IS_ADDR_LOOPBACK(&src.sin6_addr));
    assert_int_equal(ntohs(src.sin6_port), cport);
    len = 4;
    memset(&ss, 0, sizeof(ss));
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_port, src.sin6_port);
    assert_int_equal(((uint8_t *)&ss)[4], 0);
    /* The 16-byte sga_addr is no destination on an AF_INET6 socket. */
    {
        struct sockaddr_in cut = qr.qr_value.sga.sga_addr;
        assert_int_equal(demi_pushto(&qt, srv, &qr.qr_value.sga, (struct sockaddr *)&cut, sizeof(cut)), EINVAL);
    }
    /* Echo to the whole source. Pushing the buffer drops its source. */
    assert_int_equal(demi_pushto(&qt, srv, &qr.qr_value.sga, (struct sockaddr *)&src, sizeof(src)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    len = sizeof(ss);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&ss, &len), ENOENT);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* A freed sga: EINVAL. */
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&ss, &len), EINVAL);

    assert_int_equal(demi_pop(&qt, cli), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 100);
    assert_int_equal(((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[99], 7);
    len = sizeof(src);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), 0);
    assert_int_equal(ntohs(src.sin6_port), sport);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);

    /* An IPv4 sender to the dual-stack socket: ::ffff:127.0.0.1. */
    c4 = bound_socket(SOCK_DGRAM, &v4port);
    a4 = addr_of(sport);
    sga = demi_sgaalloc(10);
    memset(sga.sga_segs[0].sgaseg_buf, 4, 10);
    assert_int_equal(demi_pushto(&qt, c4, &sga, (struct sockaddr *)&a4, sizeof(a4)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, srv), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    len = sizeof(src);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), 0);
    assert_memory_equal(&src.sin6_addr, &mapped, sizeof(mapped));
    assert_int_equal(ntohs(src.sin6_port), v4port);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* And back to it with an AF_INET destination on the AF_INET6 socket
     * (udpv6_sendmsg takes it); the IPv4 socket's source is AF_INET. */
    a4 = addr_of(v4port);
    assert_int_equal(demi_pushto(&qt, srv, &sga, (struct sockaddr *)&a4, sizeof(a4) - 1), EINVAL);
    assert_int_equal(demi_pushto(&qt, srv, &sga, (struct sockaddr *)&a4, sizeof(a4)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, c4), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_family, AF_INET);
    assert_int_equal(ntohs(qr.qr_value.sga.sga_addr.sin_port), sport);
    len = sizeof(ss);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_memory_equal(&ss, &qr.qr_value.sga.sga_addr, sizeof(struct sockaddr_in));
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);

    /* connect: a default peer, then AF_UNSPEC dissolves it (Linux's UDP
     * disconnect): a push without destination is EDESTADDRREQ again. */
    assert_int_equal(demi_connect(&qt, cli, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_ok(qt, DEMI_OPC_CONNECT);
    len = sizeof(name);
    assert_int_equal(demi_getpeername(cli, (struct sockaddr *)&name, &len), 0);
    assert_int_equal(ntohs(name.sin6_port), sport);
    assert_int_equal(demi_push(&qt, cli, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, srv), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 10);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    {
        sa_family_t unspec = AF_UNSPEC;
        assert_int_equal(demi_connect(&qt, cli, (struct sockaddr *)&unspec, sizeof(unspec)), 0);
        wait_ok(qt, DEMI_OPC_CONNECT);
    }
    len = sizeof(name);
    assert_int_equal(demi_getpeername(cli, (struct sockaddr *)&name, &len), ENOTCONN);
    assert_int_equal(demi_push(&qt, cli, &sga), EDESTADDRREQ);
    /* Still bound where demi_bind put it. */
    len = sizeof(name);
    assert_int_equal(demi_getsockname(cli, (struct sockaddr *)&name, &len), 0);
    assert_int_equal(ntohs(name.sin6_port), cport);

    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(c4), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(cli), 0);
}

/* The address rules on AF_INET6 sockets, against the kernel's own answers
 * for the same calls (catnap must not differ from Linux). */
static void test_v6_address_rules_match_linux(void **state)
{
    struct sockaddr_in6 a6 = addr6_of(&in6addr_loopback, 0);
    struct sockaddr_in a4 = addr_of(0);
    demi_qtoken_t qt = 42;
    int t, u, k;
    (void)state;

    assert_int_equal(demi_socket(&t, AF_INET6, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&u, AF_INET6, SOCK_DGRAM, 0), 0);
    k = socket(AF_INET6, SOCK_STREAM, 0);
    assert_true(k >= 0);
    /* bind: short, wrong family (a sockaddr_in is too short before it is
     * the wrong family), a full AF_INET in a big buffer. */
    assert_int_equal(demi_bind(t, (struct sockaddr *)&a6, 23), EINVAL);
    assert_int_equal(bind(k, (struct sockaddr *)&a6, 23) < 0 ? errno : 0, EINVAL);
    assert_int_equal(demi_bind(t, (struct sockaddr *)&a4, sizeof(a4)), EINVAL);
    assert_int_equal(bind(k, (struct sockaddr *)&a4, sizeof(a4)) < 0 ? errno : 0, EINVAL);
    {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, &a4, sizeof(a4));
        assert_int_equal(demi_bind(t, (struct sockaddr *)&ss, sizeof(ss)), EAFNOSUPPORT);
        assert_int_equal(bind(k, (struct sockaddr *)&ss, sizeof(ss)) < 0 ? errno : 0, EAFNOSUPPORT);
        /* TCP connect with an AF_INET address: EAFNOSUPPORT too. */
        assert_int_equal(demi_connect(&qt, t, (struct sockaddr *)&ss, sizeof(ss)), EAFNOSUPPORT);
    }
    /* AF_UNSPEC connect on TCP: not done here. */
    {
        sa_family_t unspec = AF_UNSPEC;
        assert_int_equal(demi_connect(&qt, t, (struct sockaddr *)&unspec, sizeof(unspec)), ENOTSUP);
        assert_int_equal(demi_connect(&qt, t, (struct sockaddr *)&unspec, 1), EINVAL);
    }
    /* sendto: an unknown family is EINVAL (udpv6_sendmsg), a short AF_INET
     * is EINVAL. */
    {
        demi_sgarray_t sga = demi_sgaalloc(8);
        struct sockaddr_in6 bad = a6;
        bad.sin6_family = AF_UNIX;
        a6.sin6_port = htons(9);
        assert_int_equal(demi_pushto(&qt, u, &sga, (struct sockaddr *)&bad, sizeof(bad)), EINVAL);
        assert_int_equal(demi_pushto(&qt, u, &sga, (struct sockaddr *)&a4, 8), EINVAL);
        /* AF_UNSPEC: no destination given, and this socket has no peer. */
        bad.sin6_family = AF_UNSPEC;
        assert_int_equal(demi_pushto(&qt, u, &sga, (struct sockaddr *)&bad, sizeof(bad)), EDESTADDRREQ);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    assert_true(qt == 42);
    close(k);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
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
        cmocka_unit_test_setup_teardown(test_v6_tcp_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v6_dual_stack_and_v6only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v6_udp_echo_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v6_address_rules_match_linux, setup, teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--peer") == 0)
        return peer_echo((uint16_t)atoi(argv[2]));
    self_path = argv[0];
    srand((unsigned)getpid());
    alarm(120); /* a hang is a failure, not a stuck CI */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
