/* SPDX-License-Identifier: MIT */
/*
 * test_abi.c: the layouts of <demi/types.h> are Demikernel's ABI (API.md,
 * "Types"). A wrong size or offset here means an application built against
 * Demikernel's headers reads garbage from ours, so every number is pinned
 * twice: at compile time (the file does not build) and at run time (the
 * test reports which one moved).
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* ---- compile time ------------------------------------------------------ */

_Static_assert(DEMI_SGARRAY_MAXSIZE == 1, "DEMI_SGARRAY_MAXSIZE");
_Static_assert(sizeof(demi_qtoken_t) == 8, "demi_qtoken_t");
_Static_assert(sizeof(demi_sgaseg_t) == 12, "demi_sgaseg_t");
_Static_assert(sizeof(demi_sgarray_t) == 40, "demi_sgarray_t");
_Static_assert(sizeof(demi_accept_result_t) == 20, "demi_accept_result_t");
_Static_assert(sizeof(demi_qresult_t) == 64, "demi_qresult_t");
_Static_assert(sizeof(struct demi_args) == 20, "struct demi_args");
_Static_assert(sizeof(demi_opcode_t) == 4, "demi_opcode_t");
_Static_assert(sizeof(demi_callback_t) == 8, "demi_callback_t");

_Static_assert(DEMI_OPC_INVALID == 0, "DEMI_OPC_INVALID");
_Static_assert(DEMI_OPC_PUSH == 1, "DEMI_OPC_PUSH");
_Static_assert(DEMI_OPC_POP == 2, "DEMI_OPC_POP");
_Static_assert(DEMI_OPC_ACCEPT == 3, "DEMI_OPC_ACCEPT");
_Static_assert(DEMI_OPC_CONNECT == 4, "DEMI_OPC_CONNECT");
_Static_assert(DEMI_OPC_CLOSE == 5, "DEMI_OPC_CLOSE");
_Static_assert(DEMI_OPC_FAILED == 6, "DEMI_OPC_FAILED");

_Static_assert(offsetof(demi_qresult_t, qr_opcode) == 0, "qr_opcode");
_Static_assert(offsetof(demi_qresult_t, qr_qd) == 4, "qr_qd");
_Static_assert(offsetof(demi_qresult_t, qr_qt) == 8, "qr_qt");
_Static_assert(offsetof(demi_qresult_t, qr_ret) == 16, "qr_ret");
_Static_assert(offsetof(demi_qresult_t, qr_value) == 24, "qr_value");

_Static_assert(offsetof(demi_sgaseg_t, sgaseg_buf) == 0, "sgaseg_buf");
_Static_assert(offsetof(demi_sgaseg_t, sgaseg_len) == 8, "sgaseg_len");
_Static_assert(offsetof(demi_sgarray_t, sga_buf) == 0, "sga_buf");
_Static_assert(offsetof(demi_sgarray_t, sga_numsegs) == 8, "sga_numsegs");
_Static_assert(offsetof(demi_sgarray_t, sga_segs) == 12, "sga_segs");
_Static_assert(offsetof(demi_sgarray_t, sga_addr) == 24, "sga_addr");
_Static_assert(offsetof(demi_accept_result_t, qd) == 0, "ares.qd");
_Static_assert(offsetof(demi_accept_result_t, addr) == 4, "ares.addr");
/* IPv6 peers in the 16-byte fields (docs/api.md, "IPv6"): the first 16
 * bytes of a sockaddr_in6, so the family and the port sit where a
 * sockaddr_in has them; the field stays a sockaddr_in of 16 bytes. */
_Static_assert(sizeof(((demi_sgarray_t *)0)->sga_addr) == 16, "sga_addr is 16 bytes");
_Static_assert(sizeof(((demi_accept_result_t *)0)->addr) == 16, "ares.addr is 16 bytes");
_Static_assert(offsetof(struct sockaddr_in6, sin6_family) == offsetof(struct sockaddr_in, sin_family),
               "sin6_family where sin_family is");
_Static_assert(offsetof(struct sockaddr_in6, sin6_port) == offsetof(struct sockaddr_in, sin_port),
               "sin6_port where sin_port is");
_Static_assert(offsetof(struct demi_args, argc) == 0, "argc");
_Static_assert(offsetof(struct demi_args, argv) == 4, "argv");
_Static_assert(offsetof(struct demi_args, callback) == 12, "callback");

/* ---- run time ---------------------------------------------------------- */

/* volatile so the comparisons happen at run time, not only in the compiler. */
static volatile size_t sz_token = sizeof(demi_qtoken_t);
static volatile size_t sz_seg = sizeof(demi_sgaseg_t);
static volatile size_t sz_sga = sizeof(demi_sgarray_t);
static volatile size_t sz_ares = sizeof(demi_accept_result_t);
static volatile size_t sz_qr = sizeof(demi_qresult_t);
static volatile size_t sz_args = sizeof(struct demi_args);

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(sz_token, 8);
    assert_int_equal(sz_seg, 12);
    assert_int_equal(sz_sga, 40);
    assert_int_equal(sz_ares, 20);
    assert_int_equal(sz_qr, 64);
    assert_int_equal(sz_args, 20);
    assert_int_equal(DEMI_SGARRAY_MAXSIZE, 1);
    /* The union holds either result; the sga is the larger. */
    assert_int_equal(sizeof(((demi_qresult_t *)0)->qr_value), 40);
}

static void test_opcodes(void **state)
{
    static const demi_opcode_t order[] = {DEMI_OPC_INVALID, DEMI_OPC_PUSH,  DEMI_OPC_POP,   DEMI_OPC_ACCEPT,
                                          DEMI_OPC_CONNECT, DEMI_OPC_CLOSE, DEMI_OPC_FAILED};
    (void)state;
    for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
        assert_int_equal((int)order[i], i);
}

static void test_qresult_offsets(void **state)
{
    demi_qresult_t qr;
    const char *base = (const char *)&qr;

    (void)state;
    assert_int_equal((const char *)&qr.qr_opcode - base, 0);
    assert_int_equal((const char *)&qr.qr_qd - base, 4);
    assert_int_equal((const char *)&qr.qr_qt - base, 8);
    assert_int_equal((const char *)&qr.qr_ret - base, 16);
    assert_int_equal((const char *)&qr.qr_value - base, 24);
    assert_int_equal((const char *)&qr.qr_value.sga - base, 24);
    assert_int_equal((const char *)&qr.qr_value.ares - base, 24);
    assert_int_equal((const char *)&qr.qr_value.ares.addr - base, 28);
    assert_int_equal((const char *)&qr.qr_value.sga.sga_addr - base, 48);
}

/* An application reads the fields through the packed layout: a byte image
 * written by hand must decode to the same values. */
static void test_qresult_byte_image(void **state)
{
    unsigned char img[64] = {0};
    demi_qresult_t qr;
    const uint32_t opc = DEMI_OPC_POP;
    const int32_t qd = 7;
    const uint64_t qt = 0x0000000500000003ull;
    const int64_t ret = 104;
    const uint32_t numsegs = 1, seglen = 1234;

    (void)state;
    memcpy(img + 0, &opc, 4);
    memcpy(img + 4, &qd, 4);
    memcpy(img + 8, &qt, 8);
    memcpy(img + 16, &ret, 8);
    memcpy(img + 24 + 8, &numsegs, 4);
    memcpy(img + 24 + 12 + 8, &seglen, 4);
    memcpy(&qr, img, sizeof(qr));
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_qd, 7);
    assert_true(qr.qr_qt == qt);
    assert_int_equal(qr.qr_ret, 104);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, 1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_opcodes),
        cmocka_unit_test(test_qresult_offsets),
        cmocka_unit_test(test_qresult_byte_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
