/* SPDX-License-Identifier: MIT */
/*
 * test_harness.c: <demi/harness.h> itself, beside the packet scripts that
 * drive it (tests/pkt): its errors, and demi_harness_next_timer, which lets
 * a runner jump the virtual clock straight to the next timer.
 */
#include "libos/runtime.h"

#include <demi/harness.h>
#include <demi/libos.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int start(const char *libos)
{
    struct demi_args args = {0, NULL, NULL};

    setenv("LIBOS", libos, 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "192.0.2.2", 1);
    return demi_init(&args);
}

/* Every call answers ENOTSUP before demi_init and on a libOS that is not
 * cattest, before it looks at its arguments. */
static void test_harness_enotsup(void **state)
{
    uint64_t when;
    size_t len;
    (void)state;

    assert_int_equal(demi_harness_next_timer(&when), ENOTSUP);
    assert_int_equal(demi_harness_next_timer(NULL), ENOTSUP);
    assert_int_equal(demi_harness_advance(1), ENOTSUP);
    assert_int_equal(demi_harness_now(), 0);
    assert_int_equal(start("catnap"), 0);
    assert_int_equal(demi_harness_next_timer(&when), ENOTSUP);
    assert_int_equal(demi_harness_take(NULL, 0, &len, NULL), ENOTSUP);
    assert_int_equal(demi_harness_poll(), ENOTSUP);
    rt_shutdown();
}

/* A connect arms the SYN's retransmission timer: next_timer says when, the
 * clock can go straight to a nanosecond before it with nothing sent, and at
 * that instant the SYN goes again. With no timer armed: ENOENT. */
static void test_harness_next_timer(void **state)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(80)};
    uint8_t pkt[2048];
    uint64_t when = 0, sent_at = 0, again;
    size_t len;
    int qd;
    demi_qtoken_t qt;
    (void)state;

    assert_int_equal(start("cattest"), 0);
    assert_int_equal(demi_harness_next_timer(NULL), EINVAL);
    assert_int_equal(demi_harness_next_timer(&when), ENOENT);

    inet_pton(AF_INET, "192.0.2.1", &peer.sin_addr);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&peer, sizeof(peer)), 0);
    assert_int_equal(demi_harness_take(pkt, sizeof(pkt), &len, &sent_at), 0); /* the SYN */
    assert_int_equal(demi_harness_next_timer(&when), 0);
    assert_true(when > demi_harness_now());

    assert_int_equal(demi_harness_advance(when - 1 - demi_harness_now()), 0);
    assert_int_equal(demi_harness_take(pkt, sizeof(pkt), &len, NULL), EAGAIN);
    assert_int_equal(demi_harness_next_timer(&again), 0);
    assert_true(again == when); /* nothing fired, nothing moved */
    assert_int_equal(demi_harness_advance(1), 0);
    assert_int_equal(demi_harness_take(pkt, sizeof(pkt), &len, &sent_at), 0); /* again */
    assert_true(sent_at == when);
    assert_int_equal(demi_harness_next_timer(&again), 0);
    assert_true(again > when); /* the next try, backed off */
    assert_int_equal(demi_close(qd), 0);
    rt_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness_enotsup),
        cmocka_unit_test(test_harness_next_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
