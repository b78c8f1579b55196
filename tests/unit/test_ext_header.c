/* SPDX-License-Identifier: MIT */
/*
 * test_ext_header.c: <demi/ext.h> as an application sees it. Built as strict
 * C99 with only POSIX (-std=c99 -D_POSIX_C_SOURCE=200112L, as
 * tests/integration/c99_consumer builds a Demikernel program) against the
 * shared library and the public headers alone. The header comes first, so
 * it compiles on its own; <netinet/tcp.h> after it redefines the keepalive
 * option names identically (no warning under -Werror); the names are
 * Linux's values, which the kernel (catnap) takes.
 */
#include <demi/ext.h>

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* C99 has no _Static_assert: a negative array size fails the build. */
typedef char keepidle_is_linux[TCP_KEEPIDLE == 4 ? 1 : -1];
typedef char keepintvl_is_linux[TCP_KEEPINTVL == 5 ? 1 : -1];
typedef char keepcnt_is_linux[TCP_KEEPCNT == 6 ? 1 : -1];

static void test_before_init(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    (void)state;
    assert_int_equal(demi_shutdown(0, SHUT_WR), EBADF);
    assert_int_equal(demi_getsockname(0, (struct sockaddr *)&a, &len), EBADF);
}

static void test_calls(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int qd, v = 5;
    (void)state;

    assert_int_equal(demi_init(&args), 0); /* catnap: LIBOS is not set */
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_shutdown(qd, SHUT_RDWR), ENOTCONN);
    memset(&a, 0xff, sizeof(a));
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(len, sizeof(a));
    assert_int_equal(a.sin_family, AF_INET);
    assert_int_equal(a.sin_port, 0);
    assert_int_equal(a.sin_addr.s_addr, 0);
    assert_int_equal(demi_setsockopt(qd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)), 0);
    v = 0;
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(qd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len), 0);
    assert_int_equal(v, 5);
    assert_int_equal(demi_close(qd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_init),
        cmocka_unit_test(test_calls),
    };
    unsetenv("LIBOS");
    unsetenv("CONFIG_PATH");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
