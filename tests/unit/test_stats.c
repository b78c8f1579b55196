/* SPDX-License-Identifier: MIT */
/*
 * test_stats.c: <demi/stats.h> against known traffic. On catloop (the
 * stack over an in-process loopback) with delayed ACKs off, N echoes of one
 * segment each make an exact number of segments: the handshake (3), per
 * echo a data segment and its ACK each way (4 N), and a close (FIN, ACK,
 * FIN, ACK: 4). Each push and pop lands in its queue's latency histogram
 * and in the process's. The argument checks of every call.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/stats.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ECHOES 100

static uint64_t counter(const char *name)
{
    uint64_t v = 0;
    assert_int_equal(demi_stats_counter(name, &v), 0);
    return v;
}

static uint64_t hist_total(int qd, demi_opcode_t opc)
{
    uint64_t b[DEMI_STATS_LAT_BUCKETS], n = 0;
    assert_int_equal(demi_stats_latency(qd, opc, b), 0);
    for (int i = 0; i < DEMI_STATS_LAT_BUCKETS; i++)
        n += b[i];
    return n;
}

static void wait_ok(demi_qtoken_t qt, demi_qresult_t *qr)
{
    struct timespec t = {5, 0};
    assert_int_equal(demi_wait(qr, qt, &t), 0);
    assert_int_not_equal(qr->qr_opcode, DEMI_OPC_FAILED);
}

static void push_one(int qd)
{
    demi_sgarray_t sga = demi_sgaalloc(64);
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(sga.sga_numsegs, 1);
    memset(sga.sga_segs[0].sgaseg_buf, 'x', 64);
    assert_int_equal(demi_push(&qt, qd, &sga), 0);
    wait_ok(qt, &qr);
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void pop_one(int qd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    assert_int_equal(demi_pop(&qt, qd), 0);
    wait_ok(qt, &qr);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 64);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void test_counts_of_known_traffic(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7100)};
    int l, c, s;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    uint64_t tx0, names = 0;
    (void)state;

    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.6.0.1", 1);
    setenv("DEMI_TCP_DELAYED_ACK_US", "0", 1);  /* every segment acknowledged at once: exact counts */
    setenv("DEMI_TCP_RTO_MIN_US", "500000", 1); /* no spurious timeout on a slow run */
    assert_int_equal(demi_stats_counter("tcp_rx", &names), EPERM);
    assert_int_equal(demi_init(&args), 0);
    sa.sin_addr.s_addr = inet_addr("10.6.0.1");

    assert_int_equal(demi_socket(&l, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(demi_listen(l, 4), 0);
    tx0 = counter("tcp_tx");
    assert_int_equal(demi_accept(&qa, l), 0);
    assert_int_equal(demi_socket(&c, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qc, c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    wait_ok(qc, &qr);
    wait_ok(qa, &qr);
    s = qr.qr_value.ares.qd;
    for (int i = 0; i < ECHOES; i++) {
        push_one(c);
        pop_one(s);
        push_one(s);
        pop_one(c);
    }
    assert_int_equal(demi_close(c), 0);
    {
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, s), 0);
        wait_ok(qt, &qr);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 0); /* end of stream */
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    assert_int_equal(demi_close(s), 0);
    {
        /* Let the last ACK go (one poll round). */
        demi_qtoken_t qt;
        struct timespec t = {0, 10000000};
        assert_int_equal(demi_accept(&qt, l), 0);
        assert_int_equal(demi_wait(&qr, qt, &t), ETIMEDOUT);
    }

    /* Both ends are this stack: every segment is sent once and received
     * once. */
    assert_int_equal(counter("tcp_tx") - tx0, 3 + 4 * ECHOES + 4);
    assert_int_equal(counter("tcp_rx"), counter("tcp_tx"));
    assert_int_equal(counter("tcp_conn_active"), 1);
    assert_int_equal(counter("tcp_conn_passive"), 1);
    assert_int_equal(counter("tcp_rexmt"), 0);
    /* Per queue: the client pushed and popped ECHOES times; the process
     * counts both ends (and the EOF pop). */
    assert_int_equal(hist_total(-1, DEMI_OPC_PUSH), 2 * ECHOES);
    assert_int_equal(hist_total(-1, DEMI_OPC_POP), 2 * ECHOES + 1);
    assert_int_equal(hist_total(-1, DEMI_OPC_CONNECT), 1);
    assert_int_equal(hist_total(l, DEMI_OPC_ACCEPT), 1);
    assert_int_equal(demi_close(l), 0);
}

static void test_arguments(void **state)
{
    const char *names[4];
    uint64_t b[DEMI_STATS_LAT_BUCKETS], v;
    size_t n = 0;
    (void)state;

    assert_int_equal(demi_stats_names(NULL, 0, &n), 0);
    assert_true(n > 50);
    assert_int_equal(demi_stats_names(names, 4, &n), 0);
    assert_string_equal(names[0], "eth_rx");
    assert_int_equal(demi_stats_names(NULL, 4, &n), EINVAL);
    assert_int_equal(demi_stats_names(names, 4, NULL), EINVAL);
    assert_int_equal(demi_stats_counter("no_such_counter", &v), ENOENT);
    assert_int_equal(demi_stats_counter(NULL, &v), EINVAL);
    assert_int_equal(demi_stats_counter("tcp_rx", NULL), EINVAL);
    assert_int_equal(demi_stats_latency(-1, DEMI_OPC_CLOSE, b), EINVAL);
    assert_int_equal(demi_stats_latency(-1, DEMI_OPC_PUSH, NULL), EINVAL);
    assert_int_equal(demi_stats_latency(12345, DEMI_OPC_PUSH, b), EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_of_known_traffic),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
