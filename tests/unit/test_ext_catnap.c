/* SPDX-License-Identifier: MIT */
/*
 * test_ext_catnap.c: <demi/ext.h> (demi_shutdown, demi_getsockname) and the
 * per-socket keepalive options on the Linux sockets libOS, over 127.0.0.1:
 * the same contract as on libdemi's stack (test_ext_inet.c), through
 * shutdown(2), getsockname(2) and setsockopt(2). Every wait is bounded.
 */
#include <demi/ext.h>

#include "libos/runtime.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec five_s = {5, 0};
static const struct timespec now_ts = {0, 0};
static const struct timespec ms10 = {0, 10000000};
static uint32_t bufs_at_start;

static struct sockaddr_in addr_of(uint32_t ip_host, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(ip_host);
    return a;
}

static struct sockaddr_in sockname(int qd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    memset(&a, 0xa5, sizeof(a));
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(a.sin_family, AF_INET);
    return a;
}

static struct sockaddr_in peername(int qd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&a, &len), 0);
    return a;
}

/* A socket bound to 127.0.0.1 on a port the kernel picks (bind to port 0:
 * getsockname tells it), listening if TCP. */
static int bound_socket(int type, uint16_t *port_out)
{
    struct sockaddr_in a = addr_of(INADDR_LOOPBACK, 0);
    int qd;

    assert_int_equal(demi_socket(&qd, AF_INET, type, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (type == SOCK_STREAM)
        assert_int_equal(demi_listen(qd, 16), 0);
    a = sockname(qd);
    assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_not_equal(a.sin_port, 0);
    *port_out = ntohs(a.sin_port);
    return qd;
}

static demi_qresult_t wait_ok(demi_qtoken_t qt, demi_opcode_t want)
{
    demi_qresult_t qr;
    assert_int_equal(demi_wait(&qr, qt, &five_s), 0);
    if (qr.qr_opcode != want)
        fail_msg("opcode %d, want %d (qr_ret %lld)", qr.qr_opcode, want, (long long)qr.qr_ret);
    return qr;
}

static void tcp_pair(int *cli, int *srv, int *lis, uint16_t *port)
{
    struct sockaddr_in a;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;

    *lis = bound_socket(SOCK_STREAM, port);
    a = addr_of(INADDR_LOOPBACK, *port);
    assert_int_equal(demi_socket(cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, *lis), 0);
    assert_int_equal(demi_connect(&qc, *cli, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_ok(qc, DEMI_OPC_CONNECT);
    qr = wait_ok(qa, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
}

static uint8_t pat(size_t off)
{
    return (uint8_t)((off * 31u) ^ (off >> 11));
}

static void push_ok(int qd, size_t off, size_t n)
{
    demi_sgarray_t sga = demi_sgaalloc(n);
    demi_qtoken_t qt;

    for (size_t i = 0; i < n; i++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(off + i);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
}

static int push_err(int qd)
{
    demi_sgarray_t sga = demi_sgaalloc(8);
    demi_qtoken_t qt;
    int ret = demi_push(&qt, qd, &sga);
    assert_int_equal(demi_sgafree(&sga), 0);
    return ret;
}

static void pop_bytes(int qd, size_t off, size_t n)
{
    size_t got = 0;

    while (got < n) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        assert_int_equal(demi_pop(&qt, qd), 0);
        qr = wait_ok(qt, DEMI_OPC_POP);
        uint32_t len = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_true(len > 0);
        assert_true(got + len <= n);
        for (uint32_t i = 0; i < len; i++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(off + got + i))
                fail_msg("byte %zu differs", off + got + i);
        got += len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
}

static void assert_eof(demi_qresult_t *qr)
{
    assert_int_equal(qr->qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr->qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
}

static void expect_eof(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_eof(&qr);
}

static int setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    if (!rt.initialised) {
        unsetenv("LIBOS"); /* catnap, the default */
        unsetenv("CONFIG_PATH");
        assert_int_equal(demi_init(&args), 0);
    }
    bufs_at_start = mem_in_use(&rt.mem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

/* ---- errors ------------------------------------------------------------------ */

static void test_not_connected(void **state)
{
    static const int hows[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    int fresh, u, lis, ub;
    uint16_t port;
    (void)state;

    assert_int_equal(demi_socket(&fresh, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&u, AF_INET, SOCK_DGRAM, 0), 0);
    lis = bound_socket(SOCK_STREAM, &port);
    ub = bound_socket(SOCK_DGRAM, &port);
    assert_int_equal(demi_shutdown(-1, SHUT_RD), EBADF);
    assert_int_equal(demi_shutdown(fresh, 3), EINVAL);
    assert_int_equal(demi_shutdown(lis, -2), EINVAL);
    for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
        assert_int_equal(demi_shutdown(fresh, hows[i]), ENOTCONN);
        /* Linux would answer a listener with 0 (and stop it on SHUT_RD):
         * libdemi's contract is ENOTCONN on every libOS. */
        assert_int_equal(demi_shutdown(lis, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(u, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(ub, hows[i]), ENOTCONN);
    }
    assert_int_equal(demi_close(fresh), 0);
    assert_int_equal(demi_close(u), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(demi_close(ub), 0);
}

/* ---- SHUT_WR -------------------------------------------------------------- */

static void test_half_close(void **state)
{
    int cli, srv, lis;
    uint16_t port;
    (void)state;

    tcp_pair(&cli, &srv, &lis, &port);
    push_ok(cli, 0, 100000);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    assert_int_equal(push_err(cli), EPIPE);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    pop_bytes(srv, 0, 100000);
    expect_eof(srv);
    /* Reads after the half-close. */
    push_ok(srv, 0, 300000);
    pop_bytes(cli, 0, 300000);
    assert_int_equal(push_err(cli), EPIPE);
    assert_int_equal(demi_close(srv), 0);
    expect_eof(cli);
    expect_eof(cli);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* A push the kernel cannot take yet (the peer does not read) when SHUT_WR
 * comes: the FIN waits for it (Linux's shutdown would fail it: EPIPE). */
static void test_half_close_waiting_push(void **state)
{
    enum { BIG = 2 << 20 };
    uint8_t *big = malloc(BIG);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int cli, srv, lis, small = 4096;
    uint16_t port;
    (void)state;

    assert_non_null(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = pat(i);
    tcp_pair(&cli, &srv, &lis, &port);
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    {
        /* Foreign memory: used in place until the push completes. */
        demi_sgarray_t sga;
        memset(&sga, 0, sizeof(sga));
        sga.sga_numsegs = 1;
        sga.sga_segs[0].sgaseg_buf = big;
        sga.sga_segs[0].sgaseg_len = BIG;
        assert_int_equal(demi_push(&qt, cli, &sga), 0);
    }
    assert_int_equal(demi_wait(&qr, qt, &ms10), ETIMEDOUT);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    assert_int_equal(push_err(cli), EPIPE);
    pop_bytes(srv, 0, BIG);
    expect_eof(srv);
    wait_ok(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_close(srv), 0);
    expect_eof(cli);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
    free(big);
}

/* ---- SHUT_RD ---------------------------------------------------------------- */

static void test_shut_rd(void **state)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int cli, srv, lis;
    uint16_t port;
    (void)state;

    tcp_pair(&cli, &srv, &lis, &port);
    assert_int_equal(demi_pop(&qt, cli), 0);
    assert_int_equal(demi_wait(&qr, qt, &ms10), ETIMEDOUT);
    assert_int_equal(demi_shutdown(cli, SHUT_RD), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_eof(&qr);
    expect_eof(cli);
    /* Linux still takes data after SHUT_RD; a pop that finds it returns it. */
    push_ok(srv, 0, 500);
    usleep(20000);
    pop_bytes(cli, 0, 500);
    expect_eof(cli);
    /* The other direction works. */
    push_ok(cli, 0, 700);
    pop_bytes(srv, 0, 700);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_udp_shutdown(void **state)
{
    uint16_t pa, pb;
    int a = bound_socket(SOCK_DGRAM, &pa), b = bound_socket(SOCK_DGRAM, &pb);
    struct sockaddr_in to_a = addr_of(INADDR_LOOPBACK, pa), to_b = addr_of(INADDR_LOOPBACK, pb);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga = demi_sgaalloc(21);
    (void)state;

    assert_int_equal(demi_connect(&qt, a, (struct sockaddr *)&to_b, sizeof(to_b)), 0);
    wait_ok(qt, DEMI_OPC_CONNECT);
    /* Linux's UDP says EAGAIN after SHUT_RD; libdemi's pop says end. */
    assert_int_equal(demi_pop(&qt, a), 0);
    assert_int_equal(demi_wait(&qr, qt, &ms10), ETIMEDOUT);
    assert_int_equal(demi_shutdown(a, SHUT_RD), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_eof(&qr);
    expect_eof(a);
    assert_int_equal(demi_pushto(&qt, b, &sga, (struct sockaddr *)&to_a, sizeof(to_a)), 0);
    wait_ok(qt, DEMI_OPC_PUSH);
    usleep(20000);
    assert_int_equal(demi_pop(&qt, a), 0);
    qr = wait_ok(qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 21);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_shutdown(a, SHUT_WR), 0);
    assert_int_equal(demi_push(&qt, a, &sga), EPIPE);
    assert_int_equal(demi_pushto(&qt, a, &sga, (struct sockaddr *)&to_b, sizeof(to_b)), EPIPE);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

/* ---- getsockname ---------------------------------------------------------- */

static void test_getsockname(void **state)
{
    struct sockaddr_in a, len_probe;
    socklen_t len = 3;
    int t, u, cli, srv, lis;
    uint16_t port;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;

    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&u, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_getsockname(t, (struct sockaddr *)&len_probe, &len), EINVAL);
    a = sockname(t);
    assert_int_equal(a.sin_addr.s_addr, 0);
    assert_int_equal(a.sin_port, 0);
    a = sockname(u);
    assert_int_equal(a.sin_addr.s_addr, 0);
    assert_int_equal(a.sin_port, 0);
    tcp_pair(&cli, &srv, &lis, &port);
    a = sockname(cli);
    assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(a.sin_port, peername(srv).sin_port);
    a = sockname(srv);
    assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(ntohs(a.sin_port), port);
    /* UDP connect binds the port. */
    {
        struct sockaddr_in to = addr_of(INADDR_LOOPBACK, port);
        assert_int_equal(demi_connect(&qt, u, (struct sockaddr *)&to, sizeof(to)), 0);
        qr = wait_ok(qt, DEMI_OPC_CONNECT);
        (void)qr;
        a = sockname(u);
        assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
        assert_int_not_equal(a.sin_port, 0);
    }
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* ---- keepalive options -------------------------------------------------- */

static void test_keepalive_options(void **state)
{
    static const struct {
        int name, max;
    } opts[] = {{TCP_KEEPIDLE, 32767}, {TCP_KEEPINTVL, 32767}, {TCP_KEEPCNT, 127}};
    int t, u, v;
    socklen_t len;
    (void)state;

    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&u, AF_INET, SOCK_DGRAM, 0), 0);
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        int name = opts[i].name;
        v = 0;
        assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, name, &v, sizeof(v)), EINVAL);
        v = opts[i].max + 1;
        assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, name, &v, sizeof(v)), EINVAL);
        v = opts[i].max;
        assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, name, &v, sizeof(v)), 0);
        v = 0;
        len = sizeof(v);
        assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, name, &v, &len), 0);
        assert_int_equal(v, opts[i].max);
        assert_int_equal(len, sizeof(v));
        assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, name, &v, 2), EINVAL);
        assert_int_equal(demi_setsockopt(u, IPPROTO_TCP, name, &v, sizeof(v)), ENOPROTOOPT);
    }
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_waiting_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shut_rd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getsockname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_options, setup, teardown),
    };
    alarm(120); /* a hang is a failure, not a stuck CI */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
