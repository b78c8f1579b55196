/* SPDX-License-Identifier: MIT */
/*
 * test_catloop_limits.c: what an inet libOS does at its limits, on catloop
 * with libdemi.max_queues = 16. An accept that finds no queue descriptor
 * fails with EMFILE and leaves the connection queued, as accept(2) does;
 * a later accept, once a descriptor is free, gets it. Once, the connection
 * was aborted (and freed) inside the stack's processing of the handshake's
 * last ACK, which went on with it: a use after free (found by fuzz_api,
 * tests/fuzz/repro/fuzz_api-accept-emfile-uaf.bin).
 */
#include <demi/libos.h>
#include <demi/sga.h>
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

static void test_accept_without_qd(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7200)};
    struct timespec t = {2, 0};
    int l, c, fill[32], nfill = 0, ret;
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    (void)state;

    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.6.0.2", 1);
    setenv("DEMI_LIBDEMI_MAX_QUEUES", "16", 1);
    assert_int_equal(demi_init(&args), 0);
    sa.sin_addr.s_addr = inet_addr("10.6.0.2");
    assert_int_equal(demi_socket(&l, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(demi_listen(l, 4), 0);
    assert_int_equal(demi_accept(&qa, l), 0); /* waiting when the handshake completes */
    assert_int_equal(demi_socket(&c, AF_INET, SOCK_STREAM, 0), 0);
    while ((ret = demi_socket(&fill[nfill], AF_INET, SOCK_STREAM, 0)) == 0)
        nfill++;
    assert_int_equal(ret, EMFILE);
    assert_int_equal(demi_connect(&qc, c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(demi_wait(&qr, qc, &t), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &t), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, EMFILE);
    /* A descriptor comes free: the queued connection is accepted, and
     * works. */
    assert_int_equal(demi_close(fill[--nfill]), 0);
    assert_int_equal(demi_accept(&qa, l), 0);
    assert_int_equal(demi_wait(&qr, qa, &t), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    {
        int s = qr.qr_value.ares.qd;
        demi_sgarray_t sga = demi_sgaalloc(8);
        demi_qtoken_t qt;
        memcpy(sga.sga_segs[0].sgaseg_buf, "limits!", 8);
        assert_int_equal(demi_push(&qt, c, &sga), 0);
        assert_int_equal(demi_wait(&qr, qt, &t), 0);
        assert_int_equal(demi_sgafree(&sga), 0);
        assert_int_equal(demi_pop(&qt, s), 0);
        assert_int_equal(demi_wait(&qr, qt, &t), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 8);
        assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "limits!", 8);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        assert_int_equal(demi_close(s), 0);
    }
    while (nfill > 0)
        assert_int_equal(demi_close(fill[--nfill]), 0);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(demi_close(l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_without_qd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
