/* SPDX-License-Identifier: MIT */
/*
 * test_udp.c: UDP sockets sharing a port (SO_REUSEADDR) on libdemi's own
 * stack (LIBOS=catloop: one process sends to itself through the whole
 * stack), by the PDPIX calls an LD_PRELOADed program ends up making.
 *
 * The expectations are Linux's (the same steps over 127.0.0.1 on Linux
 * 6.18 give the same answers): a bind to a held port works iff the newcomer
 * and every holder have SO_REUSEADDR (udp_lib_lport_inuse); a datagram goes
 * to the socket connected to its source, else to one bound to the address,
 * else to a wildcard one, the most recently bound among equals
 * (udp4_lib_lookup2); a connected socket never gets another source's.
 * iperf3's UDP server depends on this: its test socket is connected to the
 * client while a second socket is bound to the same port for the next one.
 *
 * AF_INET6 UDP sockets on the same stack (LOCAL_IP6 configured; catloop
 * runs no DAD): datagrams over IPv6 with their whole source from
 * demi_sga_source and the 16-byte cut in sga_addr, dual stack (an IPv4
 * sender seen as ::ffff:a.b.c.d by a socket on [::]), IPV6_V6ONLY, the
 * names, connect to an IPv6 peer, and the rules between the families.
 */
#include <demi/ext.h>

#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LOCAL_IP "10.7.0.1"
#define LOCAL_IP6 "fd00:7::1"

static const struct timespec one_s = {1, 0};
static const struct timespec now_ts = {0, 0};
static uint32_t bufs_at_start;

static struct sockaddr_in addr_of(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct inet_stack *stack(void)
{
    return inet_libos_stack(rt.net);
}

static int udp_socket(bool reuse)
{
    int qd, v = reuse;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    if (reuse)
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)), 0);
    return qd;
}

static int bind_to(int qd, const char *ip, uint16_t port)
{
    struct sockaddr_in a = addr_of(ip, port);
    return demi_bind(qd, (struct sockaddr *)&a, sizeof(a));
}

/* A socket with SO_REUSEADDR as asked, bound to @ip:@port. */
static int udp_bound(bool reuse, const char *ip, uint16_t port)
{
    int qd = udp_socket(reuse);
    assert_int_equal(bind_to(qd, ip, port), 0);
    return qd;
}

static void udp_connect_to(int qd, struct sockaddr_in peer)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&peer, sizeof(peer)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
}

static struct sockaddr_in sockname(int qd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = addr_of(LOCAL_IP, 0).sin_addr.s_addr; /* a wildcard socket sends from ours */
    return a;
}

/* One datagram from @from to our address, port @port. */
static void send_to(int from, uint16_t port)
{
    struct sockaddr_in dst = addr_of(LOCAL_IP, port);
    demi_sgarray_t sga = demi_sgaalloc(4);
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(sga.sga_numsegs, 1);
    memcpy(sga.sga_segs[0].sgaseg_buf, "dgrm", 4);
    assert_int_equal(demi_pushto(&qt, from, &sga, (struct sockaddr *)&dst, sizeof(dst)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
}

/* The receivers of a port, each with a pop waiting. */
struct rx {
    int qd;
    demi_qtoken_t qt;
};

static void rx_arm(struct rx *r)
{
    assert_int_equal(demi_pop(&r->qt, r->qd), 0);
}

/* Which of @n receivers got the datagram just sent from @from (its index),
 * or -1 when none did within 200 poll rounds. Exactly one may get it; its
 * pop is armed again. */
static int rx_which(struct rx *r, int n, int from)
{
    struct sockaddr_in src = sockname(from);

    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < n; i++) {
            demi_qresult_t qr;
            int ret = demi_wait(&qr, r[i].qt, &now_ts);
            if (ret == ETIMEDOUT)
                continue;
            assert_int_equal(ret, 0);
            assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
            assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 4);
            assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "dgrm", 4);
            assert_int_equal(qr.qr_value.sga.sga_addr.sin_addr.s_addr, src.sin_addr.s_addr);
            assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, src.sin_port);
            assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
            rx_arm(&r[i]);
            for (int j = 0; j < n; j++) /* nobody else */
                if (j != i)
                    assert_int_equal(demi_wait(&qr, r[j].qt, &now_ts), ETIMEDOUT);
            return i;
        }
    }
    return -1;
}

/* Send from @from to @port: @want (an index of @r, or -1 for nobody) gets it. */
static void expect_rx(struct rx *r, int n, int from, uint16_t port, int want)
{
    uint64_t no_port = stack()->stats.udp_drop_no_port;

    send_to(from, port);
    assert_int_equal(rx_which(r, n, from), want);
    assert_int_equal(stack()->stats.udp_drop_no_port, no_port + (want < 0 ? 1 : 0));
}

/* Close a receiver; its waiting pop fails with ECANCELED. */
static void rx_close(struct rx *r)
{
    demi_qresult_t qr;
    assert_int_equal(demi_close(r->qd), 0);
    assert_int_equal(demi_wait(&qr, r->qt, &now_ts), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
}

static int group_setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", LOCAL_IP, 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR", LOCAL_IP6, 1);
    unsetenv("CONFIG_PATH");
    return demi_init(&args);
}

static int setup(void **state)
{
    (void)state;
    bufs_at_start = mem_in_use(&rt.mem);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

/* Who may bind a port others hold: Linux's answers, case by case. */
static void test_bind_rules(void **state)
{
    int a, b, c, d, v;
    socklen_t len = sizeof(v);
    (void)state;

    /* Neither, or only one side, with SO_REUSEADDR: in use. */
    a = udp_bound(false, LOCAL_IP, 7001);
    b = udp_socket(false);
    assert_int_equal(bind_to(b, LOCAL_IP, 7001), EADDRINUSE);
    c = udp_socket(true);
    assert_int_equal(bind_to(c, LOCAL_IP, 7001), EADDRINUSE);
    assert_int_equal(demi_close(a), 0);
    a = udp_bound(true, LOCAL_IP, 7001);
    assert_int_equal(bind_to(b, LOCAL_IP, 7001), EADDRINUSE);
    /* Both: shared, by any number; a newcomer without it still refused. */
    assert_int_equal(bind_to(c, LOCAL_IP, 7001), 0);
    d = udp_bound(true, "0.0.0.0", 7001);
    assert_int_equal(bind_to(b, "0.0.0.0", 7001), EADDRINUSE);
    /* Closing sharers frees the port only when the last one goes. */
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(bind_to(b, LOCAL_IP, 7001), EADDRINUSE);
    assert_int_equal(demi_close(d), 0);
    assert_int_equal(bind_to(b, LOCAL_IP, 7001), 0);
    assert_int_equal(demi_close(b), 0);

    /* The wildcard overlaps our address, either way round. */
    a = udp_bound(false, "0.0.0.0", 7002);
    b = udp_socket(false);
    assert_int_equal(bind_to(b, LOCAL_IP, 7002), EADDRINUSE);
    assert_int_equal(demi_close(a), 0);
    a = udp_bound(false, LOCAL_IP, 7002);
    assert_int_equal(bind_to(b, "0.0.0.0", 7002), EADDRINUSE);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    a = udp_bound(true, "0.0.0.0", 7002);
    b = udp_bound(true, LOCAL_IP, 7002);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);

    /* The flag counts as it is at the newcomer's bind: a holder that
     * cleared it refuses; one that set it after its bind shares. */
    a = udp_bound(true, LOCAL_IP, 7003);
    b = udp_bound(true, LOCAL_IP, 7003);
    v = 0;
    assert_int_equal(demi_setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)), 0);
    assert_int_equal(demi_getsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    assert_int_equal(v, 0);
    c = udp_socket(true);
    assert_int_equal(demi_getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(bind_to(c, LOCAL_IP, 7003), EADDRINUSE);
    v = 1;
    assert_int_equal(demi_setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)), 0);
    assert_int_equal(bind_to(c, LOCAL_IP, 7003), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(c), 0);

    /* TCP's ports are another space: a listener does not hold UDP's. */
    {
        int t;
        assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
        assert_int_equal(bind_to(t, LOCAL_IP, 7004), 0);
        assert_int_equal(demi_listen(t, 4), 0);
        a = udp_bound(false, LOCAL_IP, 7004);
        assert_int_equal(demi_close(a), 0);
        assert_int_equal(demi_close(t), 0);
    }
}

/*
 * iperf3 -s -u: the test socket, bound to the port with SO_REUSEADDR, is
 * connected to the client that wrote to it; a second one is bound to the
 * port for the next client. The client's datagrams go to the first, every
 * other source's to the second; closing one leaves the other working.
 */
static void test_iperf3_server(void **state)
{
    struct rx r[2];
    int c1 = udp_bound(false, LOCAL_IP, 0), c2 = udp_bound(false, LOCAL_IP, 0), s3;
    (void)state;

    r[0].qd = udp_bound(true, "0.0.0.0", 7010);
    rx_arm(&r[0]);
    expect_rx(r, 1, c1, 7010, 0);
    udp_connect_to(r[0].qd, sockname(c1));
    r[1].qd = udp_bound(true, "0.0.0.0", 7010);
    rx_arm(&r[1]);
    for (int i = 0; i < 3; i++) {
        expect_rx(r, 2, c1, 7010, 0);
        expect_rx(r, 2, c2, 7010, 1);
    }
    /* Without the second, another source's datagram is nobody's: the
     * connected socket never takes it (counted as no socket). */
    rx_close(&r[1]);
    expect_rx(r, 1, c2, 7010, -1);
    expect_rx(r, 1, c1, 7010, 0);
    /* The connected socket's replies reach its client. */
    {
        struct rx cr = {.qd = c1};
        rx_arm(&cr);
        send_to(r[0].qd, ntohs(sockname(c1).sin_port));
        assert_int_equal(rx_which(&cr, 1, r[0].qd), 0);
        rx_close(&cr);
    }
    rx_close(&r[0]);
    /* The port is free once its last sharer is closed. */
    s3 = udp_bound(false, "0.0.0.0", 7010);
    assert_int_equal(demi_close(s3), 0);
    assert_int_equal(demi_close(c2), 0);
}

/* Which sharer gets a datagram: connected to the source, then bound to
 * our address, then to the wildcard; the most recent among equals. */
static void test_delivery_order(void **state)
{
    struct rx r[3];
    int x = udp_bound(false, LOCAL_IP, 0), y = udp_bound(false, LOCAL_IP, 0);
    (void)state;

    /* Equals: the most recently bound, then, once it is closed, the one
     * before. A later one takes over again. */
    r[0].qd = udp_bound(true, LOCAL_IP, 7020);
    r[1].qd = udp_bound(true, LOCAL_IP, 7020);
    rx_arm(&r[0]);
    rx_arm(&r[1]);
    expect_rx(r, 2, x, 7020, 1);
    udp_connect_to(r[0].qd, sockname(x));
    expect_rx(r, 2, x, 7020, 0);
    expect_rx(r, 2, y, 7020, 1);
    r[2].qd = udp_bound(true, LOCAL_IP, 7020);
    rx_arm(&r[2]);
    expect_rx(r, 3, x, 7020, 0);
    expect_rx(r, 3, y, 7020, 2);
    rx_close(&r[2]);
    expect_rx(r, 2, y, 7020, 1);
    rx_close(&r[1]);
    expect_rx(r, 1, y, 7020, -1);
    rx_close(&r[0]);

    /* Our address before the wildcard, whichever was bound first. */
    r[0].qd = udp_bound(true, "0.0.0.0", 7021);
    r[1].qd = udp_bound(true, LOCAL_IP, 7021);
    rx_arm(&r[0]);
    rx_arm(&r[1]);
    expect_rx(r, 2, x, 7021, 1);
    rx_close(&r[0]);
    rx_close(&r[1]);
    r[0].qd = udp_bound(true, LOCAL_IP, 7021);
    r[1].qd = udp_bound(true, "0.0.0.0", 7021);
    rx_arm(&r[0]);
    rx_arm(&r[1]);
    expect_rx(r, 2, x, 7021, 0);
    /* A wildcard socket connected to the source beats our address... */
    udp_connect_to(r[1].qd, sockname(x));
    expect_rx(r, 2, x, 7021, 1);
    expect_rx(r, 2, y, 7021, 0);
    /* ...and one connected elsewhere takes nothing of others. */
    udp_connect_to(r[0].qd, addr_of(LOCAL_IP, 9));
    expect_rx(r, 2, y, 7021, -1);
    rx_close(&r[0]);
    rx_close(&r[1]);

    /* Alone, a connected socket still takes only its peer's. */
    r[0].qd = udp_bound(false, LOCAL_IP, 7022);
    rx_arm(&r[0]);
    udp_connect_to(r[0].qd, sockname(x));
    expect_rx(r, 1, y, 7022, -1);
    expect_rx(r, 1, x, 7022, 0);
    rx_close(&r[0]);
    assert_int_equal(demi_close(x), 0);
    assert_int_equal(demi_close(y), 0);
}

/* ---- AF_INET6 ------------------------------------------------------------- */

static struct sockaddr_in6 addr6_of(const char *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return a;
}

static int udp6_socket(int v6only)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET6, SOCK_DGRAM, 0), 0);
    if (v6only >= 0)
        assert_int_equal(demi_setsockopt(qd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)), 0);
    return qd;
}

static int udp6_bound(int v6only, const char *ip, uint16_t port)
{
    int qd = udp6_socket(v6only);
    struct sockaddr_in6 a = addr6_of(ip, port);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), 0);
    return qd;
}

/* Push @len bytes of @msg from @from to @dst (@dlen bytes of address). */
static void push6(int from, const void *dst, socklen_t dlen, const char *msg, size_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;
    demi_qresult_t qr;

    memcpy(sga.sga_segs[0].sgaseg_buf, msg, len);
    if (dst)
        assert_int_equal(demi_pushto(&qt, from, &sga, dst, dlen), 0);
    else
        assert_int_equal(demi_push(&qt, from, &sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
}

/* Pop one datagram on @qd: @msg from @want (whole, by demi_sga_source; its
 * first 16 bytes in sga_addr). */
static void pop6(int qd, const char *msg, const struct sockaddr_in6 *want)
{
    struct sockaddr_in6 src;
    socklen_t len = sizeof(src);
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, strlen(msg));
    assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, msg, strlen(msg));
    assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), 0);
    assert_int_equal(len, sizeof(src));
    assert_memory_equal(&src, want, sizeof(src));
    assert_memory_equal(&qr.qr_value.sga.sga_addr, want, 16);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static struct sockaddr_in6 sockname6(int qd)
{
    struct sockaddr_in6 a;
    socklen_t len = sizeof(a);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(a.sin6_family, AF_INET6);
    return a;
}

/* Over IPv6 through the whole stack: pushto, pop with the whole source,
 * the echo back to demi_sga_source's address, names, IPV6_V6ONLY. */
static void test_udp6_through_stack(void **state)
{
    struct sockaddr_in6 srv_a = addr6_of(LOCAL_IP6, 7100), cli_a, name, peer;
    socklen_t len = sizeof(peer);
    int srv, cli, v = -1;
    uint64_t rx6 = stack()->stats.udp6_rx;
    (void)state;

    srv = udp6_bound(-1, "::", 7100);
    cli = udp6_socket(-1);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(cli, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 0); /* Linux's default */
    name = sockname6(cli);  /* unbound: [::]:0 */
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&name.sin6_addr) && name.sin6_port == 0);

    push6(cli, &srv_a, sizeof(srv_a), "over six", 8);
    cli_a = sockname6(cli); /* bound to [::]:ephemeral by the push */
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&cli_a.sin6_addr));
    assert_true(ntohs(cli_a.sin6_port) >= 49152);
    cli_a.sin6_addr = srv_a.sin6_addr; /* the source it sends from: ours */
    pop6(srv, "over six", &cli_a);
    assert_int_equal(stack()->stats.udp6_rx, rx6 + 1);

    /* Echo: the source as demi_sga_source gave it goes back to pushto. */
    push6(srv, &cli_a, sizeof(cli_a), "back", 4);
    pop6(cli, "back", &srv_a);

    /* Connected: push without an address; the names. */
    {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        assert_int_equal(demi_connect(&qt, cli, (struct sockaddr *)&srv_a, sizeof(srv_a)), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    }
    len = sizeof(peer);
    assert_int_equal(demi_getpeername(cli, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(len, sizeof(peer));
    assert_memory_equal(&peer, &srv_a, sizeof(peer));
    name = sockname6(cli); /* connected from [::]: the source in use */
    assert_memory_equal(&name, &cli_a, sizeof(name));
    push6(cli, NULL, 0, "conn", 4);
    pop6(srv, "conn", &cli_a);
    /* Bound: IPV6_V6ONLY can no longer change (Linux: EINVAL). */
    v = 1;
    assert_int_equal(demi_setsockopt(srv, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)), EINVAL);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
}

/* Dual stack: an AF_INET sender reaches an AF_INET6 socket on [::] as
 * ::ffff:10.7.0.1, and the reply to that mapped address goes over IPv4;
 * with IPV6_V6ONLY the datagram finds no socket. */
static void test_udp6_dual_stack(void **state)
{
    struct sockaddr_in to = addr_of(LOCAL_IP, 7110);
    struct sockaddr_in6 mapped, srv_name;
    uint64_t no_port;
    int srv, v4;
    (void)state;

    srv = udp6_bound(-1, "::", 7110);
    v4 = udp_bound(false, LOCAL_IP, 7111);
    push6(v4, &to, sizeof(to), "from four", 9);
    mapped = addr6_of("::ffff:" LOCAL_IP, 7111);
    pop6(srv, "from four", &mapped);
    push6(srv, &mapped, sizeof(mapped), "to four", 7);
    {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        struct sockaddr_in src;
        socklen_t len = sizeof(src);
        assert_int_equal(demi_pop(&qt, v4), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 7);
        assert_int_equal(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&src, &len), 0);
        assert_int_equal(src.sin_family, AF_INET);
        assert_int_equal(ntohs(src.sin_port), 7110);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    /* An AF_INET socket with the same port as a dual-stack [::]: taken. */
    {
        int x, y;
        struct sockaddr_in a = addr_of("0.0.0.0", 7110);
        assert_int_equal(demi_socket(&x, AF_INET, SOCK_DGRAM, 0), 0);
        assert_int_equal(demi_bind(x, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
        assert_int_equal(demi_close(x), 0);
        /* ... but beside a v6only one it is not. */
        y = udp6_bound(1, "::", 7112);
        x = udp_bound(false, "0.0.0.0", 7112);
        assert_int_equal(demi_close(x), 0);
        assert_int_equal(demi_close(y), 0);
    }
    assert_int_equal(demi_close(srv), 0);

    srv = udp6_bound(1, "::", 7110);
    srv_name = sockname6(srv);
    assert_true(IN6_IS_ADDR_UNSPECIFIED(&srv_name.sin6_addr) && ntohs(srv_name.sin6_port) == 7110);
    no_port = stack()->stats.udp_drop_no_port;
    push6(v4, &to, sizeof(to), "from four", 9);
    for (int i = 0; i < 10; i++)
        inet_stack_poll(stack()); /* let it arrive */
    assert_int_equal(stack()->stats.udp_drop_no_port, no_port + 1);
    /* A mapped destination on a v6only socket: ENETUNREACH (sockaddr.h). */
    {
        demi_sgarray_t sga = demi_sgaalloc(1);
        demi_qtoken_t qt;
        assert_int_equal(demi_pushto(&qt, srv, &sga, (struct sockaddr *)&mapped, sizeof(mapped)), ENETUNREACH);
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(v4), 0);
}

/* Bound to one IPv6 address: getsockname says it; IPv4 peers are out of
 * reach (ENETUNREACH), as an address not ours is (EADDRNOTAVAIL). */
static void test_udp6_bound_address(void **state)
{
    struct sockaddr_in6 me = addr6_of(LOCAL_IP6, 7120), other = addr6_of("fd00:7::9", 7120), name;
    struct sockaddr_in6 mapped = addr6_of("::ffff:" LOCAL_IP, 7121);
    demi_sgarray_t sga = demi_sgaalloc(1);
    demi_qtoken_t qt;
    int a, b;
    (void)state;

    a = udp6_socket(-1);
    assert_int_equal(demi_bind(a, (struct sockaddr *)&other, sizeof(other)), EADDRNOTAVAIL);
    assert_int_equal(demi_bind(a, (struct sockaddr *)&me, sizeof(me)), 0);
    name = sockname6(a);
    assert_memory_equal(&name, &me, sizeof(name));
    assert_int_equal(demi_pushto(&qt, a, &sga, (struct sockaddr *)&mapped, sizeof(mapped)), ENETUNREACH);
    assert_int_equal(demi_connect(&qt, a, (struct sockaddr *)&mapped, sizeof(mapped)), ENETUNREACH);
    /* The same address and port again: EADDRINUSE; an AF_INET socket on
     * the port: free (no overlap). */
    b = udp6_socket(-1);
    assert_int_equal(demi_bind(b, (struct sockaddr *)&me, sizeof(me)), EADDRINUSE);
    assert_int_equal(demi_close(b), 0);
    b = udp_bound(false, LOCAL_IP, 7120);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_close(a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iperf3_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp6_through_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp6_dual_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp6_bound_address, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
