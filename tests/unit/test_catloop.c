/* SPDX-License-Identifier: MIT */
/*
 * test_catloop.c: the PDPIX API over libdemi's own stack (LIBOS=catloop), one
 * process talking to itself through Ethernet, ARP, IPv4 and UDP.
 */
#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/ext.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const struct timespec one_s = {1, 0};

static struct sockaddr_in addr_of(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int udp_bound(const char *ip, uint16_t port)
{
    struct sockaddr_in a = addr_of(ip, port);
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), 0);
    return qd;
}

static void test_init_needs_address(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    setenv("LIBOS", "catloop", 1);
    /* One process plays both ends: under sanitizers or load a poll round can
     * take longer than the 2 ms minimum RTO; this test counts retransmissions. */
    setenv("DEMI_TCP_RTO_MIN_US", "500000", 1);
    unsetenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR");
    assert_int_equal(demi_init(&args), EINVAL);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.7.0.1", 1);
    assert_int_equal(demi_init(&args), 0);
}

static int tcp_listener(uint16_t port)
{
    struct sockaddr_in a = addr_of("10.7.0.1", port);
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_listen(qd, 16), 0);
    return qd;
}

static void tcp_pair(uint16_t port, int *cli, int *srv, int *lis)
{
    struct sockaddr_in a = addr_of("10.7.0.1", port);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;

    *lis = tcp_listener(port);
    assert_int_equal(demi_socket(cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, *lis), 0);
    assert_int_equal(demi_connect(&qc, *cli, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
}

static uint8_t pat(size_t off)
{
    return (uint8_t)((off * 31u) ^ (off >> 11));
}

/* Push @total bytes from @from in @chunk pieces and pop them on @to. */
static void tcp_stream(int from, int to, size_t total, size_t chunk)
{
    size_t sent = 0, got = 0;
    demi_qtoken_t qts[2];
    bool pushing = false;

    assert_int_equal(demi_pop(&qts[1], to), 0);
    while (got < total) {
        demi_qresult_t qr;
        int off;
        if (!pushing && sent < total) {
            size_t n = total - sent < chunk ? total - sent : chunk;
            demi_sgarray_t sga = demi_sgaalloc(n);
            assert_int_equal(sga.sga_numsegs, 1);
            for (size_t i = 0; i < n; i++)
                ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(sent + i);
            assert_int_equal(demi_push(&qts[0], from, &sga), 0);
            assert_int_equal(demi_sgafree(&sga), 0);
            sent += n;
            pushing = true;
        }
        if (pushing) {
            assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &one_s), 0);
        } else {
            assert_int_equal(demi_wait(&qr, qts[1], &one_s), 0);
            off = 1;
        }
        if (off == 0) {
            assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
            pushing = false;
            continue;
        }
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_true(n > 0);
        for (uint32_t i = 0; i < n; i++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(got + i))
                fail_msg("byte %zu differs", got + i);
        got += n;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        if (got < total)
            assert_int_equal(demi_pop(&qts[1], to), 0);
    }
    if (pushing) {
        demi_qresult_t qr;
        assert_int_equal(demi_wait(&qr, qts[0], &one_s), 0);
    }
}

static void expect_eof(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void test_tcp_through_stack(void **state)
{
    struct inet_stack *st = inet_libos_stack(rt.net);
    uint32_t bufs = mem_in_use(&rt.mem);
    int cli, srv, lis;
    (void)state;

    tcp_pair(8000, &cli, &srv, &lis);
    tcp_stream(cli, srv, 1u << 20, 64 * 1024);
    tcp_stream(srv, cli, 1u << 20, 1000);
    tcp_stream(cli, srv, 100000, 1); /* many tiny pushes */
    assert_int_equal(demi_close(cli), 0);
    expect_eof(srv);
    expect_eof(srv);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
    /* Let the closing handshakes finish; TIME_WAIT holds no buffers. */
    for (int i = 0; i < 100; i++)
        inet_stack_poll(st);
    if (st->stats.tcp_rexmt)
        inet_stats_print(stdout, &st->stats, 1);
    assert_int_equal(st->stats.tcp_rexmt, 0);
    assert_int_equal(mem_in_use(&rt.mem), bufs);
}

static void test_tcp_refused(void **state)
{
    struct sockaddr_in a = addr_of("10.7.0.1", 8999);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int qd;
    (void)state;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNREFUSED);
    assert_int_equal(demi_close(qd), 0);
}

static void test_tcp_reset(void **state)
{
    int cli, srv, lis;
    struct linger l = {1, 0};
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;
    tcp_pair(8001, &cli, &srv, &lis);
    assert_int_equal(demi_pop(&qt, srv), 0);
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

static void test_udp_echo_through_stack(void **state)
{
    int a = udp_bound("10.7.0.1", 7000), b = udp_bound("10.7.0.1", 7001);
    struct sockaddr_in to_b = addr_of("10.7.0.1", 7001);
    uint32_t start = mem_in_use(&rt.mem);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;

    for (int i = 0; i < 1000; i++) {
        uint32_t len = 1 + (uint32_t)(i * 37) % 1400;
        demi_sgarray_t sga = demi_sgaalloc(len);
        for (uint32_t k = 0; k < len; k++)
            ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[k] = (uint8_t)(i + k);
        assert_int_equal(demi_pushto(&qt, a, &sga, (struct sockaddr *)&to_b, sizeof(to_b)), 0);
        assert_int_equal(demi_sgafree(&sga), 0); /* free-protection */
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
        assert_int_equal(demi_pop(&qt, b), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, len);
        assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, htons(7000));
        for (uint32_t k = 0; k < len; k++)
            assert_int_equal(((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[k], (uint8_t)(i + k));
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    /* One pop waiting before the datagram exists completes when it arrives. */
    assert_int_equal(demi_pop(&qt, b), 0);
    assert_int_equal(demi_wait(&qr, qt, &(struct timespec){0, 0}), ETIMEDOUT);
    demi_sgarray_t sga = demi_sgaalloc(10);
    demi_qtoken_t qp;
    assert_int_equal(demi_pushto(&qp, a, &sga, (struct sockaddr *)&to_b, sizeof(to_b)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_wait(&qr, qp, &one_s), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    /* Oversized datagram: refused, never fragmented. */
    sga = demi_sgaalloc(1500);
    assert_int_equal(demi_pushto(&qp, a, &sga, (struct sockaddr *)&to_b, sizeof(to_b)), EMSGSIZE);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(mem_in_use(&rt.mem), start);
    assert_true(inet_libos_stack(rt.net)->stats.arp_resolved >= 1);
}

static void test_no_port_counted(void **state)
{
    int a = udp_bound("10.7.0.1", 7100);
    struct sockaddr_in nobody = addr_of("10.7.0.1", 7999);
    struct inet_stack *st = inet_libos_stack(rt.net);
    uint64_t before = st->stats.udp_drop_no_port;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga = demi_sgaalloc(32);
    (void)state;
    assert_int_equal(demi_pushto(&qt, a, &sga, (struct sockaddr *)&nobody, sizeof(nobody)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    /* A pending pop gives waits that poll the stack without consuming. */
    assert_int_equal(demi_pop(&qt, a), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(demi_wait(&qr, qt, &(struct timespec){0, 0}), ETIMEDOUT);
    assert_int_equal(st->stats.udp_drop_no_port, before + 1);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_ret, ECANCELED);
}

/* Issue 16: AF_INET6 stream sockets on the inet stack. A dual-stack
 * listener ([::], IPV6_V6ONLY off) takes an IPv4 client and reports it
 * IPv4-mapped in the accept result (cut to 16 bytes: family and port) and
 * whole from demi_getpeername; IPV6_V6ONLY is read back, and refused once
 * bound (EINVAL, as Linux). */
static void test_inet_ipv6_stream_dual_stack(void **state)
{
    struct sockaddr_in6 any6, peer6;
    struct sockaddr_in to = addr_of("10.7.0.1", 7300);
    int lis, cli, srv, v = 1, zero = 0;
    socklen_t len = sizeof(v);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    (void)state;

    memset(&any6, 0, sizeof(any6));
    any6.sin6_family = AF_INET6;
    any6.sin6_port = htons(7300);
    assert_int_equal(demi_socket(&lis, AF_INET6, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_getsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 0);
    assert_int_equal(demi_setsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), 0);
    assert_int_equal(demi_bind(lis, (struct sockaddr *)&any6, sizeof(any6)), 0);
    assert_int_equal(demi_setsockopt(lis, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), EINVAL);
    assert_int_equal(demi_listen(lis, 4), 0);
    assert_int_equal(demi_socket(&cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&to, sizeof(to)), 0);
    assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    srv = qr.qr_value.ares.qd;
    assert_int_equal(qr.qr_value.ares.addr.sin_family, AF_INET6);
    len = sizeof(peer6);
    assert_int_equal(demi_getpeername(srv, (struct sockaddr *)&peer6, &len), 0);
    assert_int_equal(len, sizeof(peer6));
    assert_int_equal(peer6.sin6_family, AF_INET6);
    assert_true(IN6_IS_ADDR_V4MAPPED(&peer6.sin6_addr));
    assert_memory_equal(&peer6.sin6_addr.s6_addr[12], &to.sin_addr, 4);
    assert_int_equal(qr.qr_value.ares.addr.sin_port, peer6.sin6_port);
    tcp_stream(cli, srv, 100000, 4096);
    tcp_stream(srv, cli, 100000, 4096);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* IPPROTO_IPV6 options on the AF_INET sockets are ENOPROTOOPT (Linux's),
 * and the whole source of a datagram (demi_sga_source) is its AF_INET
 * sender; a TCP pop has none. */
static void test_inet_ipv6_not_built(void **state)
{
    int a, b, cli, srv, lis, v = 0, one = 1;
    struct sockaddr_in to_b = addr_of("10.7.0.1", 7201), src;
    socklen_t len = sizeof(v);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    (void)state;

    tcp_pair(7200, &cli, &srv, &lis);
    assert_int_equal(demi_getsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), ENOPROTOOPT);
    /* A TCP pop has no source of its own: demi_getpeername says who. */
    sga = demi_sgaalloc(5);
    assert_int_equal(demi_push(&qt, cli, &sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(demi_pop(&qt, srv), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    len = sizeof(src);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), ENOENT);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);

    a = udp_bound("10.7.0.1", 7200);
    b = udp_bound("10.7.0.1", 7201);
    assert_int_equal(demi_pushto(&qt, a, &sga, (struct sockaddr *)&to_b, sizeof(to_b)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(demi_pop(&qt, b), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    len = sizeof(src);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), 0);
    assert_int_equal(len, sizeof(src));
    assert_int_equal(src.sin_family, AF_INET);
    assert_int_equal(src.sin_port, htons(7200));
    assert_int_equal(src.sin_addr.s_addr, to_b.sin_addr.s_addr);
    assert_memory_equal(&src, &qr.qr_value.sga.sga_addr, sizeof(src));
    /* Pushed back (zero copy: the stack's headers go where the source
     * was): no source any more. */
    assert_int_equal(demi_pushto(&qt, b, &qr.qr_value.sga, (struct sockaddr *)&src, sizeof(src)), 0);
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), ENOENT);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(demi_pop(&qt, a), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 5);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);

    /* UDP connect(AF_UNSPEC) dissolves the default peer, as on Linux. */
    assert_int_equal(demi_connect(&qt, a, (struct sockaddr *)&to_b, sizeof(to_b)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    len = sizeof(src);
    assert_int_equal(demi_getpeername(a, (struct sockaddr *)&src, &len), 0);
    {
        sa_family_t unspec = AF_UNSPEC;
        assert_int_equal(demi_connect(&qt, a, (struct sockaddr *)&unspec, sizeof(unspec)), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    }
    assert_int_equal(demi_getpeername(a, (struct sockaddr *)&src, &len), ENOTCONN);
    assert_int_equal(demi_push(&qt, a, &sga), EDESTADDRREQ);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_needs_address),
        cmocka_unit_test(test_tcp_through_stack),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_tcp_reset),
        cmocka_unit_test(test_udp_echo_through_stack),
        cmocka_unit_test(test_no_port_counted),
        cmocka_unit_test(test_inet_ipv6_stream_dual_stack),
        cmocka_unit_test(test_inet_ipv6_not_built),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
