/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_ports.c: binding a TCP port others hold (tcp_ports.c), on
 * libdemi's own stack (LIBOS=catloop: one process is client and server
 * through the whole stack), by the PDPIX calls an LD_PRELOADed program
 * ends up making.
 *
 * The expectations are Linux's (the same steps over 127.0.0.1 on Linux
 * 6.18 give the same answers; inet_bind_conflict without SO_REUSEPORT): a
 * bind to a held port works iff the newcomer and every holder have
 * SO_REUSEADDR (an accepted connection has its listener's, a TIME_WAIT
 * keeps its socket's) and no holder listens. iperf3 -s depends on it: it
 * listens again on its port after each test while the last test's
 * connections are still closing. The old connections keep their segments
 * and the new listener takes only new ones; every port is given back.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define LOCAL_IP "10.7.0.1"

static const struct timespec one_s = {1, 0};
static const struct timespec now_ts = {0, 0};
static uint32_t bufs_at_start, pcbs_at_start;

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

/* Poll until every control block but @keep is gone (TIME_WAIT is 2 x
 * tcp.msl_ms = 200 ms here), at most 3 s. */
static void wait_pcbs(uint32_t keep)
{
    for (int i = 0; i < 3000 && stack()->tcp.npcbs > keep; i++) {
        rt_poll();
        usleep(1000);
    }
    assert_int_equal(stack()->tcp.npcbs, keep);
}

/* Nothing holds @port any more: not the counts, not the holder lists. */
static void walk_port(const struct tcp_pcb *pcb, void *arg)
{
    if (pcb->local_port == htons(*(const uint16_t *)arg))
        fail_msg("a %s pcb still has port %u", tcp_state_name((enum tcp_state)pcb->state), *(const uint16_t *)arg);
}

static void assert_port_free(uint16_t port)
{
    const struct tcp_table *t = &stack()->tcp;
    const struct list_node *head = &t->port_owners[port & (TCP_PORT_BUCKETS - 1)];

    assert_int_equal(t->port_users[port], 0);
    assert_int_equal(t->port_excl[port], 0);
    for (const struct list_node *n = head->next; n != head; n = n->next)
        assert_int_not_equal(container_of(n, struct tcp_pcb, port_link)->local_port, htons(port));
    tcp_foreach(stack(), walk_port, &port);
}

static int tcp_socket(bool reuse)
{
    int qd, v = 1;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    if (reuse)
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)), 0);
    return qd;
}

static int bind_to(int qd, const char *ip, uint16_t port)
{
    struct sockaddr_in a = addr_of(ip, port);
    return demi_bind(qd, (struct sockaddr *)&a, sizeof(a));
}

static int tcp_bound(bool reuse, const char *ip, uint16_t port)
{
    int qd = tcp_socket(reuse);
    assert_int_equal(bind_to(qd, ip, port), 0);
    return qd;
}

static int tcp_listener(bool reuse, uint16_t port)
{
    int qd = tcp_bound(reuse, "0.0.0.0", port);
    assert_int_equal(demi_listen(qd, 16), 0);
    return qd;
}

/* A client @cli (SO_REUSEADDR as asked) connected to @lis on @port, and
 * the connection @lis accepted. */
static int tcp_connect_to(int lis, uint16_t port, bool cli_reuse, int *srv)
{
    struct sockaddr_in a = addr_of(LOCAL_IP, port);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    int cli = tcp_socket(cli_reuse);

    assert_int_equal(demi_accept(&qa, lis), 0);
    assert_int_equal(demi_connect(&qc, cli, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
    return cli;
}

static uint16_t local_port(int qd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* The state of the connection @lport <- @rport (host order), or -1. */
struct find {
    uint16_t lport, rport;
    int state;
};

static void find_cb(const struct tcp_pcb *pcb, void *arg)
{
    struct find *f = arg;
    if (pcb->state != TCPS_LISTEN && pcb->local_port == htons(f->lport) && pcb->remote_port == htons(f->rport))
        f->state = pcb->state;
}

static int conn_state(uint16_t lport, uint16_t rport)
{
    struct find f = {lport, rport, -1};
    tcp_foreach(stack(), find_cb, &f);
    return f.state;
}

/* Poll until that connection is in @st (at most 1 s). */
static void poll_until_state(uint16_t lport, uint16_t rport, enum tcp_state st)
{
    for (int i = 0; i < 1000 && conn_state(lport, rport) != (int)st; i++) {
        rt_poll();
        usleep(1000);
    }
    assert_string_equal(tcp_state_name((enum tcp_state)conn_state(lport, rport)), tcp_state_name(st));
}

/* @n bytes pushed on @from arrive, all of them, on @to. */
static void transfer(int from, int to, uint32_t n)
{
    demi_sgarray_t sga = demi_sgaalloc(n);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    uint32_t got = 0;

    assert_int_equal(sga.sga_numsegs, 1);
    memset(sga.sga_segs[0].sgaseg_buf, 0x5c, n);
    assert_int_equal(demi_push(&qt, from, &sga), 0);
    assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
    while (got < n) {
        assert_int_equal(demi_pop(&qt, to), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_true(qr.qr_value.sga.sga_segs[0].sgaseg_len > 0);
        got += qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    assert_int_equal(got, n);
}

static int group_setup(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    (void)state;
    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", LOCAL_IP, 1);
    /* One process plays both ends: a poll round under sanitizers may take
     * longer than the 2 ms minimum RTO. */
    setenv("DEMI_TCP_RTO_MIN_US", "500000", 1);
    setenv("DEMI_TCP_MSL_MS", "100", 1); /* TIME_WAIT: 200 ms, long enough to look at */
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

static int teardown(void **state)
{
    (void)state;
    wait_pcbs(pcbs_at_start);
    assert_int_equal(mem_in_use(&rt.mem), bufs_at_start);
    return 0;
}

/* Sockets that are not connections: bound, listening. */
static void test_bind_rules(void **state)
{
    const struct tcp_table *t = &stack()->tcp;
    int a, b, c;
    (void)state;

    /* A listener holds its port against everyone, with either address. */
    a = tcp_listener(true, 7101);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, LOCAL_IP, 7101), EADDRINUSE);
    assert_int_equal(bind_to(b, "0.0.0.0", 7101), EADDRINUSE);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_port_free(7101);

    /* Two bound sockets with SO_REUSEADDR share; one of them may listen,
     * not both. The port is counted twice, and given back by each. */
    a = tcp_bound(true, "0.0.0.0", 7102);
    b = tcp_bound(true, LOCAL_IP, 7102);
    assert_int_equal(t->port_users[7102], 2);
    assert_int_equal(t->port_excl[7102], 2);
    assert_int_equal(demi_listen(b, 4), 0);
    assert_int_equal(demi_listen(a, 4), EADDRINUSE);
    c = tcp_socket(true);
    assert_int_equal(bind_to(c, LOCAL_IP, 7102), EADDRINUSE); /* b listens now */
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(t->port_users[7102], 1);
    assert_int_equal(t->port_excl[7102], 1);
    assert_int_equal(demi_listen(a, 4), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(c), 0);
    assert_port_free(7102);

    /* One side without SO_REUSEADDR: in use, whichever it is. */
    a = tcp_bound(false, LOCAL_IP, 7103);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, LOCAL_IP, 7103), EADDRINUSE);
    assert_int_equal(demi_close(a), 0);
    a = tcp_bound(true, LOCAL_IP, 7103);
    c = tcp_socket(false);
    assert_int_equal(bind_to(c, LOCAL_IP, 7103), EADDRINUSE);
    assert_int_equal(bind_to(b, LOCAL_IP, 7103), 0);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(bind_to(c, LOCAL_IP, 7103), 0); /* free again */
    assert_int_equal(demi_close(c), 0);
    assert_port_free(7103);
}

/* Connections that hold a port: a client's on its ephemeral port, in use
 * unless the client set SO_REUSEADDR too, in TIME_WAIT as well. */
static void test_client_ports(void **state)
{
    int lis = tcp_listener(true, 7110), cli, srv, b;
    uint16_t cport;
    (void)state;

    cli = tcp_connect_to(lis, 7110, false, &srv);
    cport = local_port(cli);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, LOCAL_IP, cport), EADDRINUSE);
    /* The client closes first: its end waits in TIME_WAIT, still its. */
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    poll_until_state(cport, 7110, TCPS_TIME_WAIT);
    assert_int_equal(bind_to(b, LOCAL_IP, cport), EADDRINUSE);
    assert_int_equal(demi_close(b), 0);
    wait_pcbs(pcbs_at_start + 1); /* the listener */
    assert_port_free(cport);

    /* The same with SO_REUSEADDR on the client: shared, connected or not. */
    cli = tcp_connect_to(lis, 7110, true, &srv);
    cport = local_port(cli);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, LOCAL_IP, cport), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    poll_until_state(cport, 7110, TCPS_TIME_WAIT);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, LOCAL_IP, cport), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(lis), 0);
}

/*
 * The server's connections, accepted from a listener now closed, in each
 * state they pass through: a new listener with SO_REUSEADDR binds and
 * listens on the port (without: EADDRINUSE), its own connections work,
 * and the old ones keep theirs.
 */
enum old_end {
    OLD_ESTABLISHED, /* nobody closed */
    OLD_CLOSE_WAIT,  /* the client closed */
    OLD_LAST_ACK,    /* the client, then the server closed (rebind.py client) */
    OLD_FIN_WAIT_1,  /* the server closed, nothing polled since */
    OLD_FIN_WAIT_2,  /* the server closed, the client acknowledged */
    OLD_TIME_WAIT,   /* the server, then the client closed (rebind.py server) */
};

static void rebind_over(enum old_end how, uint16_t port)
{
    static const enum tcp_state want[] = {TCPS_ESTABLISHED, TCPS_CLOSE_WAIT, TCPS_LAST_ACK,
                                          TCPS_FIN_WAIT_1,  TCPS_FIN_WAIT_2, TCPS_TIME_WAIT};
    uint64_t resets = stack()->stats.tcp_conn_reset, rsts = stack()->stats.tcp_tx_rst;
    int lis = tcp_listener(true, port), cli, srv, lis2, no, cli2, srv2, v = 0;
    socklen_t len = sizeof(v);
    uint16_t cport;
    bool srv_closed = how >= OLD_LAST_ACK;
    bool cli_closed = how == OLD_CLOSE_WAIT || how == OLD_LAST_ACK || how == OLD_TIME_WAIT;

    cli = tcp_connect_to(lis, port, false, &srv);
    cport = local_port(cli);
    /* The accepted connection has its listener's SO_REUSEADDR (Linux). */
    assert_int_equal(demi_getsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
    assert_int_equal(v, 1);
    transfer(cli, srv, 3000);
    assert_int_equal(demi_close(lis), 0);
    switch (how) {
    case OLD_ESTABLISHED:
        break;
    case OLD_CLOSE_WAIT:
        assert_int_equal(demi_close(cli), 0);
        poll_until_state(port, cport, TCPS_CLOSE_WAIT);
        break;
    case OLD_LAST_ACK:
        assert_int_equal(demi_close(cli), 0);
        poll_until_state(port, cport, TCPS_CLOSE_WAIT);
        assert_int_equal(demi_close(srv), 0);
        break;
    case OLD_FIN_WAIT_1:
        assert_int_equal(demi_close(srv), 0);
        break;
    case OLD_FIN_WAIT_2:
        assert_int_equal(demi_close(srv), 0);
        poll_until_state(port, cport, TCPS_FIN_WAIT_2);
        break;
    case OLD_TIME_WAIT:
        assert_int_equal(demi_close(srv), 0);
        poll_until_state(port, cport, TCPS_FIN_WAIT_2);
        assert_int_equal(demi_close(cli), 0);
        poll_until_state(port, cport, TCPS_TIME_WAIT);
        break;
    }
    assert_string_equal(tcp_state_name((enum tcp_state)conn_state(port, cport)), tcp_state_name(want[how]));

    no = tcp_socket(false);
    assert_int_equal(bind_to(no, "0.0.0.0", port), EADDRINUSE);
    assert_int_equal(demi_close(no), 0);
    lis2 = tcp_listener(true, port);
    assert_int_equal(conn_state(port, cport), (int)want[how]); /* untouched */
    /* The new listener's own connection, then the old one, both work: a
     * segment goes to its 4-tuple first, to the listener only without
     * (which would answer with a RST). The old one ends without any. */
    cli2 = tcp_connect_to(lis2, port, false, &srv2);
    transfer(cli2, srv2, 5000);
    transfer(srv2, cli2, 5000);
    if (how == OLD_ESTABLISHED) {
        transfer(srv, cli, 4000);
        transfer(cli, srv, 4000);
    }
    if (!cli_closed)
        assert_int_equal(demi_close(cli), 0);
    if (!srv_closed)
        assert_int_equal(demi_close(srv), 0);
    {
        demi_qtoken_t qa;
        demi_qresult_t qr;
        assert_int_equal(demi_accept(&qa, lis2), 0); /* nothing else came to it */
        assert_int_equal(demi_wait(&qr, qa, &now_ts), ETIMEDOUT);
        assert_int_equal(demi_close(lis2), 0);
        assert_int_equal(demi_wait(&qr, qa, &now_ts), 0);
        assert_int_equal(qr.qr_ret, ECANCELED);
    }
    assert_int_equal(demi_close(cli2), 0);
    assert_int_equal(demi_close(srv2), 0);
    wait_pcbs(pcbs_at_start);
    assert_int_equal(stack()->stats.tcp_conn_reset, resets);
    assert_int_equal(stack()->stats.tcp_tx_rst, rsts);
    assert_port_free(port);
}

static void test_rebind_established(void **state)
{
    (void)state;
    rebind_over(OLD_ESTABLISHED, 7120);
}

static void test_rebind_close_wait(void **state)
{
    (void)state;
    rebind_over(OLD_CLOSE_WAIT, 7121);
}

static void test_rebind_last_ack(void **state)
{
    (void)state;
    rebind_over(OLD_LAST_ACK, 7122);
}

static void test_rebind_fin_wait_1(void **state)
{
    (void)state;
    rebind_over(OLD_FIN_WAIT_1, 7123);
}

static void test_rebind_fin_wait_2(void **state)
{
    (void)state;
    rebind_over(OLD_FIN_WAIT_2, 7124);
}

static void test_rebind_time_wait(void **state)
{
    (void)state;
    rebind_over(OLD_TIME_WAIT, 7125);
}

/* A listener without SO_REUSEADDR gives its connections none: nobody
 * rebinds its port while they live, SO_REUSEADDR or not. */
static void test_rebind_needs_old_reuseaddr(void **state)
{
    int lis = tcp_listener(false, 7130), cli, srv, b;
    (void)state;

    cli = tcp_connect_to(lis, 7130, false, &srv);
    assert_int_equal(demi_close(lis), 0);
    b = tcp_socket(true);
    assert_int_equal(bind_to(b, "0.0.0.0", 7130), EADDRINUSE);
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    wait_pcbs(pcbs_at_start + 1); /* b's */
    assert_int_equal(bind_to(b, "0.0.0.0", 7130), 0);
    assert_int_equal(demi_close(b), 0);
}

/* iperf3 -s: a test, then listen again at once, five times over, the
 * client or the server closing first. */
static void test_iperf3_relisten(void **state)
{
    int lis = tcp_listener(true, 7140);
    (void)state;

    for (int i = 0; i < 5; i++) {
        int srv, cli = tcp_connect_to(lis, 7140, false, &srv);
        transfer(cli, srv, 20000);
        assert_int_equal(demi_close(i % 2 ? srv : cli), 0);
        assert_int_equal(demi_close(i % 2 ? cli : srv), 0);
        assert_int_equal(demi_close(lis), 0);
        lis = tcp_listener(true, 7140);
    }
    assert_int_equal(demi_close(lis), 0);
    wait_pcbs(pcbs_at_start);
    assert_port_free(7140);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_established, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_close_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_last_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_fin_wait_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_fin_wait_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_time_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_needs_old_reuseaddr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iperf3_relisten, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
