/* SPDX-License-Identifier: MIT */
/*
 * test_ext_inet.c: <demi/ext.h> (demi_shutdown, demi_getsockname) and the
 * per-socket keepalive options on libdemi's own stack (LIBOS=catloop: one
 * process is client and server through the whole stack). Every case checks
 * that the connections end and their buffers come back.
 */
#include <demi/ext.h>

#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/libos.h>
#include <demi/pipe.h>
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define LOCAL_IP "10.7.0.1"

static const struct timespec one_s = {1, 0};
static const struct timespec now_ts = {0, 0};
static uint32_t bufs_at_start, pcbs_at_start;

/* NULL arguments past the prototypes' nonnull attributes. */
static int (*volatile nn_getsockname)(int, struct sockaddr *, socklen_t *) = demi_getsockname;
static int (*volatile nn_sga_source)(const demi_sgarray_t *, struct sockaddr *, socklen_t *) = demi_sga_source;

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

static struct tcp_pcb *pcb_of(int qd)
{
    struct tcp_pcb *pcb = inet_libos_tcp_pcb(qd_get(&rt.qds, qd));
    assert_non_null(pcb);
    return pcb;
}

static void poll_rounds(int n)
{
    for (int i = 0; i < n; i++)
        rt_poll();
}

/* Poll until every control block but @keep is gone (TIME_WAIT is 2 x
 * tcp.msl_ms = 40 ms here), at most 2 s. */
static void wait_pcbs(uint32_t keep)
{
    for (int i = 0; i < 2000 && stack()->tcp.npcbs > keep; i++) {
        rt_poll();
        usleep(1000);
    }
    assert_int_equal(stack()->tcp.npcbs, keep);
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

static void assert_addr(struct sockaddr_in a, const char *ip, uint16_t port)
{
    struct sockaddr_in want = addr_of(ip, port);
    assert_int_equal(a.sin_addr.s_addr, want.sin_addr.s_addr);
    assert_int_equal(ntohs(a.sin_port), port);
}

static bool ephemeral(uint16_t port_n)
{
    return ntohs(port_n) >= 49152;
}

static int tcp_socket(void)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    return qd;
}

static int udp_socket(void)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    return qd;
}

static int tcp_listener(uint16_t port)
{
    struct sockaddr_in a = addr_of(LOCAL_IP, port);
    int qd = tcp_socket();
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_listen(qd, 16), 0);
    return qd;
}

static int tcp_connect_to(int lis, uint16_t port, int *srv)
{
    struct sockaddr_in a = addr_of(LOCAL_IP, port);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    int cli = tcp_socket();

    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
    return cli;
}

static void tcp_pair(uint16_t port, int *cli, int *srv, int *lis)
{
    *lis = tcp_listener(port);
    *cli = tcp_connect_to(*lis, port, srv);
}

static uint8_t pat(size_t off)
{
    return (uint8_t)((off * 31u) ^ (off >> 11));
}

/* Start a push of @n pattern bytes from stream offset @off. */
static demi_qtoken_t push_start(int qd, size_t off, size_t n)
{
    demi_sgarray_t sga = demi_sgaalloc(n);
    demi_qtoken_t qt;

    assert_int_equal(sga.sga_numsegs, 1);
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(off + i);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0); /* the stack holds its reference */
    return qt;
}

static void push_ok(int qd, size_t off, size_t n)
{
    demi_qresult_t qr;
    assert_int_equal(demi_wait(&qr, push_start(qd, off, n), &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
}

static int push_err(int qd)
{
    demi_sgarray_t sga = demi_sgaalloc(8);
    demi_qtoken_t qt;
    int ret = demi_push(&qt, qd, &sga);
    assert_int_equal(demi_sgafree(&sga), 0);
    return ret;
}

/* Pop exactly @n bytes, the stream from offset @off. */
static void pop_bytes(int qd, size_t off, size_t n)
{
    size_t got = 0;

    while (got < n) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        assert_int_equal(demi_pop(&qt, qd), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
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
    assert_int_equal(qr->qr_value.sga.sga_numsegs, 1);
    assert_int_equal(qr->qr_value.sga.sga_segs[0].sgaseg_len, 0);
    assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
}

/* A pop that completes at once (no poll round) with end of stream. */
static void expect_eof_now(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_eof(&qr);
}

static void expect_eof(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_eof(&qr);
}

static void expect_pop_error(int qd, int err)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, err);
}

/* ---- setup --------------------------------------------------------------- */

static int group_setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", LOCAL_IP, 1);
    /* One process plays both ends: a poll round under sanitizers may take
     * longer than the 2 ms minimum RTO, and the checks count segments. */
    setenv("DEMI_TCP_RTO_MIN_US", "500000", 1);
    setenv("DEMI_TCP_MSL_MS", "20", 1); /* TIME_WAIT: 40 ms */
    unsetenv("CONFIG_PATH");
    return demi_init(&args);
}

static int setup(void **state)
{
    (void)state;
    bufs_at_start = mem_in_use(&rt.mem);
    pcbs_at_start = stack()->tcp.npcbs;
    return 0;
}

/* Every connection ended and every buffer came back. */
static int teardown(void **state)
{
    (void)state;
    wait_pcbs(pcbs_at_start);
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

/* ---- argument checks ------------------------------------------------------ */

static void test_args(void **state)
{
    struct sockaddr_in a;
    socklen_t len;
    int t = tcp_socket();
    (void)state;

    /* EBADF first, whatever else is wrong. */
    assert_int_equal(demi_shutdown(-1, SHUT_WR), EBADF);
    assert_int_equal(demi_shutdown(4000, 99), EBADF);
    len = sizeof(a);
    assert_int_equal(nn_getsockname(-1, NULL, NULL), EBADF);
    assert_int_equal(demi_getsockname(4000, (struct sockaddr *)&a, &len), EBADF);
    /* Then EINVAL: a bad how before ENOTCONN (as Linux). */
    assert_int_equal(demi_shutdown(t, 3), EINVAL);
    assert_int_equal(demi_shutdown(t, -1), EINVAL);
    assert_int_equal(demi_shutdown(t, 99), EINVAL);
    assert_int_equal(nn_getsockname(t, NULL, &len), EINVAL);
    assert_int_equal(nn_getsockname(t, (struct sockaddr *)&a, NULL), EINVAL);
    len = sizeof(a) - 1;
    memset(&a, 0x5a, sizeof(a));
    assert_int_equal(demi_getsockname(t, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(len, sizeof(a) - 1);
    assert_int_equal(a.sin_family, 0x5a5a); /* untouched */
    /* A larger buffer is fine; the size written comes back. */
    {
        struct sockaddr_storage ss;
        len = sizeof(ss);
        assert_int_equal(demi_getsockname(t, (struct sockaddr *)&ss, &len), 0);
        assert_int_equal(len, sizeof(struct sockaddr_in));
    }
    /* A closed qd is EBADF again. */
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_shutdown(t, SHUT_WR), EBADF);
    len = sizeof(a);
    assert_int_equal(demi_getsockname(t, (struct sockaddr *)&a, &len), EBADF);
}

/* No connection, nothing to shut: ENOTCONN, and nothing is sent. */
/* demi_sga_source's arguments: every NULL, a null, foreign or freed sga
 * (EINVAL, nothing written), an sga with no source (ENOENT). */
static void test_sga_source_args(void **state)
{
    demi_sgarray_t sga = demi_sgaalloc(16), foreign, null_sga;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    char stack_buf[16];
    (void)state;

    memset(&null_sga, 0, sizeof(null_sga));
    foreign = sga;
    foreign.sga_buf = stack_buf;
    assert_int_equal(nn_sga_source(NULL, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(nn_sga_source(&sga, NULL, &len), EINVAL);
    assert_int_equal(nn_sga_source(&sga, (struct sockaddr *)&a, NULL), EINVAL);
    assert_int_equal(demi_sga_source(&null_sga, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(demi_sga_source(&foreign, (struct sockaddr *)&a, &len), EINVAL);
    /* Never popped: no source. */
    assert_int_equal(demi_sga_source(&sga, (struct sockaddr *)&a, &len), ENOENT);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_sga_source(&sga, (struct sockaddr *)&a, &len), EINVAL);
}

static void test_not_connected(void **state)
{
    static const int hows[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    struct sockaddr_in nobody = addr_of(LOCAL_IP, 8999), any = addr_of("0.0.0.0", 0);
    uint64_t tx = stack()->stats.tcp_tx;
    int fresh = tcp_socket(), bound = tcp_socket(), lis = tcp_listener(8100), conn = tcp_socket();
    int u = udp_socket(), ub = udp_socket();
    demi_qtoken_t qt;
    demi_qresult_t qr;
    (void)state;

    assert_int_equal(demi_bind(bound, (struct sockaddr *)&any, sizeof(any)), 0);
    assert_int_equal(demi_bind(ub, (struct sockaddr *)&any, sizeof(any)), 0);
    for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
        assert_int_equal(demi_shutdown(fresh, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(bound, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(lis, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(u, hows[i]), ENOTCONN);
        assert_int_equal(demi_shutdown(ub, hows[i]), ENOTCONN);
    }
    assert_int_equal(stack()->stats.tcp_tx, tx);
    /* A connect in progress (SYN_SENT), then refused. */
    assert_int_equal(demi_connect(&qt, conn, (struct sockaddr *)&nobody, sizeof(nobody)), 0);
    assert_int_equal(demi_shutdown(conn, SHUT_WR), ENOTCONN);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_ret, ECONNREFUSED);
    assert_int_equal(demi_shutdown(conn, SHUT_RDWR), ENOTCONN);
    /* The listener still works afterwards. */
    {
        int srv, cli = tcp_connect_to(lis, 8100, &srv);
        assert_int_equal(demi_close(cli), 0);
        assert_int_equal(demi_close(srv), 0);
    }
    assert_int_equal(demi_close(fresh), 0);
    assert_int_equal(demi_close(bound), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(demi_close(conn), 0);
    assert_int_equal(demi_close(u), 0);
    assert_int_equal(demi_close(ub), 0);
}

/* ---- SHUT_WR: the half-close ---------------------------------------------- */

/* The client pushes, half-closes, then keeps reading what the server sends
 * until the server closes: FIN_WAIT_2 -> TIME_WAIT, then close frees it. */
static void test_half_close(void **state)
{
    enum { UP = 200000, DOWN = 70000 };
    uint64_t resets = stack()->stats.tcp_conn_reset;
    demi_qtoken_t qts[4];
    demi_qresult_t qr;
    int cli, srv, lis;
    (void)state;

    tcp_pair(8101, &cli, &srv, &lis);
    for (int i = 0; i < 4; i++)
        qts[i] = push_start(cli, (size_t)i * (UP / 4), UP / 4);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    assert_true(pcb_of(cli)->fin_queued);
    assert_int_equal(push_err(cli), EPIPE);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0); /* again: nothing more */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(demi_wait(&qr, qts[i], &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    }
    /* The server gets every byte, then end of stream. */
    pop_bytes(srv, 0, UP);
    expect_eof(srv);
    assert_int_equal(pcb_of(srv)->state, TCPS_CLOSE_WAIT);
    /* Reads after the half-close. */
    push_ok(srv, 0, DOWN);
    pop_bytes(cli, 0, DOWN);
    assert_int_equal(pcb_of(cli)->state, TCPS_FIN_WAIT_2);
    assert_int_equal(push_err(cli), EPIPE);
    /* The server closes: end of stream for the client, in TIME_WAIT. */
    assert_int_equal(demi_close(srv), 0);
    expect_eof(cli);
    expect_eof_now(cli);
    assert_int_equal(pcb_of(cli)->state, TCPS_TIME_WAIT);
    assert_int_equal(demi_shutdown(cli, SHUT_RD), ENOTCONN); /* as Linux in TIME_WAIT */
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(stack()->stats.tcp_conn_reset, resets);
}

/* Pushes still waiting for send-queue room when SHUT_WR comes: the FIN
 * waits for them, every one completes, the peer gets every byte. */
static void test_half_close_waiting_pushes(void **state)
{
    enum { N = 24, LEN = 2000 };
    int small = 4096, cli, srv, lis;
    demi_qtoken_t qts[N];
    demi_qresult_t qr;
    (void)state;

    tcp_pair(8102, &cli, &srv, &lis);
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    for (int i = 0; i < N; i++)
        qts[i] = push_start(cli, (size_t)i * LEN, LEN);
    /* Two fit in 4 KiB (2 KiB each, truesize): the last one waits. */
    assert_int_equal(demi_wait(&qr, qts[N - 1], &now_ts), ETIMEDOUT);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    assert_int_equal(push_err(cli), EPIPE);
    assert_false(pcb_of(cli)->fin_queued); /* not before the waiting bytes */
    assert_int_equal(pcb_of(cli)->state, TCPS_ESTABLISHED);
    pop_bytes(srv, 0, (size_t)N * LEN);
    expect_eof(srv);
    for (int i = 0; i < N; i++) {
        assert_int_equal(demi_wait(&qr, qts[i], &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    }
    assert_int_equal(demi_close(srv), 0);
    expect_eof(cli);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* Closing a half-closed socket before the peer's FIN: the connection is
 * left to finish alone (FIN_WAIT_2 bounded by the 2 MSL timer). */
static void test_close_after_half_close(void **state)
{
    int cli, srv, lis;
    (void)state;

    tcp_pair(8103, &cli, &srv, &lis);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    expect_eof(srv);
    poll_rounds(20); /* the ACK of our FIN */
    assert_int_equal(pcb_of(cli)->state, TCPS_FIN_WAIT_2);
    assert_int_equal(demi_close(cli), 0); /* the peer never sends its FIN */
    wait_pcbs(pcbs_at_start + 2);         /* gone by the FIN_WAIT_2 timeout */
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* ---- SHUT_RD ---------------------------------------------------------------- */

static void test_shut_rd(void **state)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int cli, srv, lis;
    (void)state;

    tcp_pair(8104, &cli, &srv, &lis);
    /* A pop waiting when SHUT_RD comes completes with end of stream. */
    assert_int_equal(demi_pop(&qt, cli), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), ETIMEDOUT);
    assert_int_equal(demi_shutdown(cli, SHUT_RD), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_eof(&qr);
    expect_eof_now(cli);
    /* Data arriving later is accepted and popped (Linux), then end again. */
    push_ok(srv, 0, 300);
    poll_rounds(20);
    assert_int_equal(pcb_of(cli)->rcvq_bytes, 300);
    pop_bytes(cli, 0, 300);
    expect_eof_now(cli);
    /* The other direction is untouched. */
    push_ok(cli, 0, 1000);
    pop_bytes(srv, 0, 1000);
    /* Unread data at close resets, as without the shutdown. */
    push_ok(srv, 300, 10);
    poll_rounds(20);
    assert_int_equal(demi_close(cli), 0);
    expect_pop_error(srv, ECONNRESET);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* SHUT_RDWR: our FIN, and data from the peer after it resets the
 * connection; the application, still holding the socket, hears of it. */
static void test_shut_rdwr_then_data(void **state)
{
    int cli, srv, lis;
    (void)state;

    tcp_pair(8105, &cli, &srv, &lis);
    push_ok(srv, 0, 100);
    poll_rounds(20);
    assert_int_equal(demi_shutdown(cli, SHUT_RDWR), 0);
    pop_bytes(cli, 0, 100); /* queued before: still read */
    expect_eof_now(cli);
    expect_eof(srv);
    push_ok(srv, 100, 50);
    poll_rounds(20); /* a pop now would find end of stream at once */
    expect_pop_error(cli, ECONNRESET);
    expect_eof(srv);                                /* its stream had ended already (the FIN came first, as Linux) */
    assert_int_equal(pcb_of(srv)->err, ECONNRESET); /* our RST reached it */
    assert_int_equal(push_err(cli), ECONNRESET);
    assert_int_equal(demi_shutdown(cli, SHUT_RD), ENOTCONN);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
}

/* Both sides half-close: each reads the other's end, LAST_ACK ends the
 * passive side's connection with its socket still open. */
static void test_both_half_close(void **state)
{
    uint64_t resets = stack()->stats.tcp_conn_reset;
    int cli, srv, lis;
    (void)state;

    tcp_pair(8106, &cli, &srv, &lis);
    push_ok(cli, 0, 500);
    assert_int_equal(demi_shutdown(cli, SHUT_WR), 0);
    pop_bytes(srv, 0, 500);
    expect_eof(srv);
    push_ok(srv, 0, 700);
    assert_int_equal(demi_shutdown(srv, SHUT_WR), 0);
    pop_bytes(cli, 0, 700);
    expect_eof(cli);
    poll_rounds(20);
    assert_int_equal(pcb_of(srv)->state, TCPS_CLOSED);
    assert_int_equal(pcb_of(srv)->err, 0);
    expect_eof_now(srv); /* still end of stream, not ENOTCONN */
    assert_int_equal(push_err(srv), EPIPE);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(stack()->stats.tcp_conn_reset, resets);
}

/* ---- UDP ------------------------------------------------------------------- */

static void test_udp_shutdown(void **state)
{
    struct sockaddr_in pa = addr_of(LOCAL_IP, 7200), pb = addr_of(LOCAL_IP, 7201);
    int a = udp_socket(), b = udp_socket();
    demi_qtoken_t qt, qp;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    (void)state;

    assert_int_equal(demi_bind(a, (struct sockaddr *)&pa, sizeof(pa)), 0);
    assert_int_equal(demi_bind(b, (struct sockaddr *)&pb, sizeof(pb)), 0);
    assert_int_equal(demi_shutdown(a, SHUT_RD), ENOTCONN); /* no default peer */
    assert_int_equal(demi_connect(&qt, a, (struct sockaddr *)&pb, sizeof(pb)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    /* A waiting pop: a zero-length sga at SHUT_RD, and at once after. */
    assert_int_equal(demi_pop(&qt, a), 0);
    assert_int_equal(demi_shutdown(a, SHUT_RD), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_eof(&qr);
    expect_eof_now(a);
    /* A datagram arriving later is still delivered (Linux). */
    sga = demi_sgaalloc(33);
    assert_int_equal(demi_pushto(&qp, b, &sga, (struct sockaddr *)&pa, sizeof(pa)), 0);
    assert_int_equal(demi_wait(&qr, qp, &one_s), 0);
    poll_rounds(20);
    assert_int_equal(demi_pop(&qt, a), 0);
    assert_int_equal(demi_wait(&qr, qt, &now_ts), 0);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 33);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, htons(7201));
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* SHUT_WR: push and pushto fail with EPIPE. */
    assert_int_equal(demi_push(&qp, a, &sga), 0);
    assert_int_equal(demi_wait(&qr, qp, &one_s), 0);
    assert_int_equal(demi_shutdown(a, SHUT_WR), 0);
    assert_int_equal(demi_push(&qp, a, &sga), EPIPE);
    assert_int_equal(demi_pushto(&qp, a, &sga, (struct sockaddr *)&pb, sizeof(pb)), EPIPE);
    assert_int_equal(demi_sgafree(&sga), 0);
    /* b got the one datagram a pushed before. */
    assert_int_equal(demi_pop(&qt, b), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 33);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
}

/* ---- getsockname ---------------------------------------------------------- */

static void test_getsockname_tcp(void **state)
{
    struct sockaddr_in here = addr_of(LOCAL_IP, 8110), any0 = addr_of("0.0.0.0", 0), a;
    int t = tcp_socket(), e1 = tcp_socket(), e2 = tcp_socket(), wild = tcp_socket();
    int cli, srv, cli2, srv2, srv3;
    uint16_t port;
    (void)state;

    assert_addr(sockname(t), "0.0.0.0", 0); /* fresh, as Linux */
    assert_int_equal(demi_bind(t, (struct sockaddr *)&here, sizeof(here)), 0);
    assert_addr(sockname(t), LOCAL_IP, 8110);
    assert_int_equal(demi_listen(t, 4), 0);
    assert_addr(sockname(t), LOCAL_IP, 8110);
    /* Port 0: an ephemeral port, a different one per socket. */
    assert_int_equal(demi_bind(e1, (struct sockaddr *)&any0, sizeof(any0)), 0);
    assert_int_equal(demi_bind(e2, (struct sockaddr *)&any0, sizeof(any0)), 0);
    a = sockname(e1);
    assert_int_equal(a.sin_addr.s_addr, 0);
    assert_true(ephemeral(a.sin_port));
    assert_true(ephemeral(sockname(e2).sin_port));
    assert_int_not_equal(a.sin_port, sockname(e2).sin_port);
    /* Listening on it works: connect to the port getsockname told. */
    port = ntohs(a.sin_port);
    assert_int_equal(demi_listen(e1, 4), 0);
    cli = tcp_connect_to(e1, port, &srv);
    /* Connected: the local address and the ephemeral port, which the peer
     * sees; accepted: the address it was reached at, the listener's port. */
    a = sockname(cli);
    assert_addr(a, LOCAL_IP, ntohs(a.sin_port));
    assert_true(ephemeral(a.sin_port));
    assert_int_equal(a.sin_port, peername(srv).sin_port);
    assert_addr(sockname(srv), LOCAL_IP, port);
    assert_int_equal(sockname(srv).sin_port, peername(cli).sin_port);
    /* A connect from a socket bound to 0.0.0.0:0 keeps its port and gains
     * the address. */
    {
        uint16_t p2 = ntohs(sockname(e2).sin_port);
        struct sockaddr_in to = addr_of(LOCAL_IP, 8110);
        demi_qtoken_t qa, qc;
        demi_qresult_t qr;
        assert_int_equal(demi_accept(&qa, t), 0);
        assert_int_equal(demi_connect(&qc, e2, (struct sockaddr *)&to, sizeof(to)), 0);
        assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
        assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
        srv2 = qr.qr_value.ares.qd;
        assert_addr(sockname(e2), LOCAL_IP, p2);
        assert_addr(sockname(srv2), LOCAL_IP, 8110);
    }
    /* A listener on 0.0.0.0: 0.0.0.0:port, its connections our address. */
    {
        struct sockaddr_in w = addr_of("0.0.0.0", 8111);
        assert_int_equal(demi_bind(wild, (struct sockaddr *)&w, sizeof(w)), 0);
        assert_int_equal(demi_listen(wild, 4), 0);
        assert_addr(sockname(wild), "0.0.0.0", 8111);
        cli2 = tcp_connect_to(wild, 8111, &srv3);
        assert_addr(sockname(srv3), LOCAL_IP, 8111);
        assert_int_equal(demi_close(cli2), 0);
        assert_int_equal(demi_close(srv3), 0);
    }
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(srv2), 0);
    assert_int_equal(demi_close(e2), 0);
    assert_int_equal(demi_close(e1), 0);
    assert_int_equal(demi_close(wild), 0);
    assert_int_equal(demi_close(t), 0);
}

static void test_getsockname_udp(void **state)
{
    struct sockaddr_in any0 = addr_of("0.0.0.0", 0), ip0 = addr_of(LOCAL_IP, 0), peer = addr_of(LOCAL_IP, 7300);
    int b = udp_socket(), c = udp_socket(), s = udp_socket(), p = udp_socket();
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    struct sockaddr_in a;
    (void)state;

    assert_int_equal(demi_bind(p, (struct sockaddr *)&peer, sizeof(peer)), 0);
    assert_addr(sockname(b), "0.0.0.0", 0);
    assert_int_equal(demi_bind(b, (struct sockaddr *)&ip0, sizeof(ip0)), 0);
    a = sockname(b);
    assert_addr(a, LOCAL_IP, ntohs(a.sin_port));
    assert_true(ephemeral(a.sin_port));
    /* connect on an unbound socket binds its port (Linux); the address is
     * ours. The datagrams it sends come from that port. */
    assert_int_equal(demi_connect(&qt, c, (struct sockaddr *)&peer, sizeof(peer)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    a = sockname(c);
    assert_addr(a, LOCAL_IP, ntohs(a.sin_port));
    assert_true(ephemeral(a.sin_port));
    sga = demi_sgaalloc(5);
    assert_int_equal(demi_push(&qt, c, &sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(demi_pop(&qt, p), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, a.sin_port);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    /* pushto on an unbound socket binds 0.0.0.0:ephemeral (Linux). */
    assert_int_equal(demi_pushto(&qt, s, &sga, (struct sockaddr *)&peer, sizeof(peer)), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    a = sockname(s);
    assert_int_equal(a.sin_addr.s_addr, 0);
    assert_true(ephemeral(a.sin_port));
    assert_int_equal(demi_pop(&qt, p), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, a.sin_port);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    /* Bound to 0.0.0.0:0 stays 0.0.0.0 until connected. */
    {
        int w = udp_socket();
        assert_int_equal(demi_bind(w, (struct sockaddr *)&any0, sizeof(any0)), 0);
        assert_int_equal(sockname(w).sin_addr.s_addr, 0);
        assert_int_equal(demi_connect(&qt, w, (struct sockaddr *)&peer, sizeof(peer)), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_addr(sockname(w), LOCAL_IP, ntohs(sockname(w).sin_port));
        assert_int_equal(demi_close(w), 0);
    }
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(demi_close(s), 0);
    assert_int_equal(demi_close(p), 0);
}

/* ---- keepalive options -------------------------------------------------- */

static int getopt_int(int qd, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);
    assert_int_equal(demi_getsockopt(qd, IPPROTO_TCP, name, &v, &len), 0);
    assert_int_equal(len, sizeof(v));
    return v;
}

static int setopt_int(int qd, int name, int v)
{
    return demi_setsockopt(qd, IPPROTO_TCP, name, &v, sizeof(v));
}

static void test_keepalive_options(void **state)
{
    static const struct {
        int name, max;
    } opts[] = {{TCP_KEEPIDLE, 32767}, {TCP_KEEPINTVL, 32767}, {TCP_KEEPCNT, 127}};
    int t = tcp_socket(), u = udp_socket(), lis, cli, srv, v = 5;
    socklen_t len;
    (void)state;

    /* The stack-wide defaults (tcp.keepalive_*: 2 h, 75 s, 9). */
    assert_int_equal(getopt_int(t, TCP_KEEPIDLE), 7200);
    assert_int_equal(getopt_int(t, TCP_KEEPINTVL), 75);
    assert_int_equal(getopt_int(t, TCP_KEEPCNT), 9);
    /* Linux's ranges. */
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        int name = opts[i].name;
        assert_int_equal(setopt_int(t, name, 0), EINVAL);
        assert_int_equal(setopt_int(t, name, -1), EINVAL);
        assert_int_equal(setopt_int(t, name, opts[i].max + 1), EINVAL);
        assert_int_equal(setopt_int(t, name, opts[i].max), 0);
        assert_int_equal(getopt_int(t, name), opts[i].max);
        assert_int_equal(setopt_int(t, name, 1), 0);
        assert_int_equal(getopt_int(t, name), 1);
        /* Sizes: exactly an int to set, at least one to get. */
        assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, name, &v, 2), EINVAL);
        len = 2;
        assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, name, &v, &len), EINVAL);
        /* UDP has no TCP options. */
        assert_int_equal(setopt_int(u, name, 5), ENOPROTOOPT);
        len = sizeof(v);
        assert_int_equal(demi_getsockopt(u, IPPROTO_TCP, name, &v, &len), ENOPROTOOPT);
    }
    assert_int_equal(pcb_of(t)->keep_idle_ns, 1000000000ull);
    assert_int_equal(pcb_of(t)->keep_intvl_ns, 1000000000ull);
    assert_int_equal(pcb_of(t)->keep_cnt, 1);
    /* A listener's values pass to its connections; the client's are its own. */
    lis = tcp_socket();
    {
        struct sockaddr_in a = addr_of(LOCAL_IP, 8120);
        assert_int_equal(demi_bind(lis, (struct sockaddr *)&a, sizeof(a)), 0);
    }
    assert_int_equal(setopt_int(lis, TCP_KEEPIDLE, 30), 0);
    assert_int_equal(setopt_int(lis, TCP_KEEPINTVL, 4), 0);
    assert_int_equal(setopt_int(lis, TCP_KEEPCNT, 3), 0);
    assert_int_equal(demi_listen(lis, 4), 0);
    cli = tcp_connect_to(lis, 8120, &srv);
    assert_int_equal(getopt_int(srv, TCP_KEEPIDLE), 30);
    assert_int_equal(getopt_int(srv, TCP_KEEPINTVL), 4);
    assert_int_equal(getopt_int(srv, TCP_KEEPCNT), 3);
    assert_int_equal(getopt_int(cli, TCP_KEEPIDLE), 7200);
    /* Set on a live connection with keepalive on: the timer follows. */
    v = 1;
    assert_int_equal(demi_setsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), 0);
    assert_int_equal(setopt_int(cli, TCP_KEEPIDLE, 1), 0);
    assert_true(pcb_of(cli)->t_keep.expires_ns <= pcb_of(cli)->last_rx_ns + 1000000000ull + 100000ull);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
    assert_int_equal(demi_close(t), 0);
    assert_int_equal(demi_close(u), 0);
}

/* A pipe is no socket: ENOTSUP, after the qd and argument checks. */
static void test_pipe_not_supported(void **state)
{
    char name[64];
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int qd, ret;
    (void)state;

    snprintf(name, sizeof(name), "test-ext-%d", (int)getpid());
    ret = demi_create_pipe(&qd, name);
    if (ret != 0)
        skip(); /* no /dev/shm here */
    assert_int_equal(demi_shutdown(qd, SHUT_WR), ENOTSUP);
    assert_int_equal(demi_shutdown(qd, 42), EINVAL);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), ENOTSUP);
    len = 1;
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), EINVAL);
    assert_int_equal(demi_close(qd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sga_source_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_waiting_pushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_after_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shut_rd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shut_rdwr_then_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_both_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getsockname_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getsockname_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe_not_supported, setup, teardown),
    };
    alarm(120);
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
