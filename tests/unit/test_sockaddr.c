/* SPDX-License-Identifier: MIT */
/*
 * test_sockaddr.c: struct inet_sockaddr (src/libos/sockaddr.h), every rule
 * by which an application's address is parsed for a socket of either family
 * (Linux's, cited in sockaddr.h), how one is given back (truncation, the
 * ABI's 16-byte fields), and a datagram's source kept with its buffer.
 */
#include "libos/sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

static struct queue sock(int family, int kind, bool v6only)
{
    struct queue q;
    memset(&q, 0, sizeof(q));
    q.family = (uint8_t)family;
    q.kind = (uint8_t)kind;
    q.v6only = v6only;
    return q;
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in6 sin6_of(const char *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return a;
}

static const enum inet_sockaddr_use uses[] = {INET_SA_BIND, INET_SA_CONNECT, INET_SA_SENDTO};

#define PARSE(q, use, a, len, out) inet_sockaddr_parse(&(q), (use), (const struct sockaddr *)(a), (len), (out))

/* NULL, fewer bytes than a family, more than a sockaddr_storage: EINVAL for
 * every socket and use, and the output is left zeroed. */
static void test_null_and_sizes(void **state)
{
    const int fams[] = {AF_INET, AF_INET6, 0};
    struct sockaddr_storage ss;
    struct inet_sockaddr out;
    (void)state;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    for (size_t f = 0; f < 3; f++) {
        for (size_t u = 0; u < 3; u++) {
            for (int kind = QUEUE_TCP; kind <= QUEUE_UDP; kind++) {
                struct queue q = sock(fams[f], kind, false);
                memset(&out, 0xaa, sizeof(out));
                assert_int_equal(PARSE(q, uses[u], NULL, sizeof(ss), &out), EINVAL);
                assert_int_equal(out.sa.sa_family, 0);
                assert_int_equal(PARSE(q, uses[u], &ss, 0, &out), EINVAL);
                assert_int_equal(PARSE(q, uses[u], &ss, 1, &out), EINVAL);
                assert_int_equal(PARSE(q, uses[u], &ss, sizeof(ss) + 1, &out), EINVAL);
                assert_int_equal(PARSE(q, uses[u], &ss, (socklen_t)-1, &out), EINVAL);
            }
        }
    }
}

static void test_inet_socket(void **state)
{
    struct sockaddr_in a = sin_of("10.0.0.1", 80);
    struct sockaddr_in6 a6 = sin6_of("::1", 80);
    struct sockaddr_storage ss;
    struct inet_sockaddr out;
    struct queue t = sock(AF_INET, QUEUE_TCP, false), u = sock(AF_INET, QUEUE_UDP, false);
    struct queue pipe = sock(0, QUEUE_PIPE, false);
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        /* The address, whole; a larger buffer is fine; one byte short not. */
        assert_int_equal(PARSE(t, uses[i], &a, sizeof(a), &out), 0);
        assert_int_equal(out.sa.sa_family, AF_INET);
        assert_memory_equal(&out.sin, &a, sizeof(a));
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, &a, sizeof(a));
        assert_int_equal(PARSE(u, uses[i], &ss, sizeof(ss), &out), 0);
        assert_int_equal(PARSE(pipe, uses[i], &a, sizeof(a), &out), 0); /* a pipe: as AF_INET */
        assert_int_equal(PARSE(t, uses[i], &a, sizeof(a) - 1, &out), EINVAL);
        /* Another family: EAFNOSUPPORT once the size is there. */
        assert_int_equal(PARSE(t, uses[i], &a6, sizeof(a6), &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(u, uses[i], &a6, sizeof(a6), &out), EAFNOSUPPORT);
        assert_int_equal(out.sa.sa_family, 0);
    }
    /* AF_UNSPEC: bind takes it with INADDR_ANY only; sendto as AF_INET;
     * connect is the disconnect, from sizeof(sa_family_t) bytes. */
    a.sin_family = AF_UNSPEC;
    assert_int_equal(PARSE(t, INET_SA_BIND, &a, sizeof(a), &out), EAFNOSUPPORT);
    assert_int_equal(PARSE(u, INET_SA_SENDTO, &a, sizeof(a), &out), 0);
    assert_int_equal(out.sa.sa_family, AF_INET);
    assert_int_equal(out.sin.sin_port, htons(80));
    assert_int_equal(PARSE(u, INET_SA_CONNECT, &a, sizeof(sa_family_t), &out), 0);
    assert_int_equal(out.sa.sa_family, AF_UNSPEC);
    assert_int_equal(PARSE(t, INET_SA_CONNECT, &a, sizeof(a), &out), 0);
    assert_int_equal(out.sa.sa_family, AF_UNSPEC);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    assert_int_equal(PARSE(t, INET_SA_BIND, &a, sizeof(a), &out), 0);
    assert_int_equal(out.sa.sa_family, AF_INET);
    assert_int_equal(out.sin.sin_port, htons(80));
    assert_int_equal(PARSE(t, INET_SA_BIND, &a, sizeof(a) - 1, &out), EINVAL);
    {
        struct sockaddr_un un;
        memset(&un, 0, sizeof(un));
        un.sun_family = AF_UNIX;
        assert_int_equal(PARSE(t, INET_SA_BIND, &un, sizeof(un), &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(u, INET_SA_SENDTO, &un, sizeof(un), &out), EAFNOSUPPORT);
    }
}

static void test_inet6_socket(void **state)
{
    struct sockaddr_in6 a6 = sin6_of("2001:db8::1", 443);
    struct sockaddr_in6 mapped = sin6_of("::ffff:192.0.2.7", 53);
    struct sockaddr_in a = sin_of("192.0.2.7", 53);
    struct inet_sockaddr out;
    struct queue t = sock(AF_INET6, QUEUE_TCP, false), u = sock(AF_INET6, QUEUE_UDP, false);
    struct queue t6 = sock(AF_INET6, QUEUE_TCP, true), u6 = sock(AF_INET6, QUEUE_UDP, true);
    uint32_t ip;
    uint16_t port;
    (void)state;

    a6.sin6_scope_id = 3;
    a6.sin6_flowinfo = htonl(0x12345);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(PARSE(t, uses[i], &a6, sizeof(a6), &out), 0);
        assert_memory_equal(&out.sin6, &a6, sizeof(a6));
        assert_true(inet_sockaddr_v6(&out));
        assert_false(inet_sockaddr_v4(&out, &ip, &port));
        /* RFC 2133's 24 bytes: no scope, taken as 0. 23: EINVAL. */
        assert_int_equal(PARSE(u, uses[i], &a6, INET_SIN6_LEN_RFC2133, &out), 0);
        assert_int_equal(out.sin6.sin6_scope_id, 0);
        assert_int_equal(out.sin6.sin6_port, htons(443));
        assert_int_equal(PARSE(u, uses[i], &a6, INET_SIN6_LEN_RFC2133 - 1, &out), EINVAL);
        /* IPv4-mapped: an IPv4 address, unless IPV6_V6ONLY. */
        assert_int_equal(PARSE(t, uses[i], &mapped, sizeof(mapped), &out), 0);
        assert_int_equal(out.sa.sa_family, AF_INET6);
        assert_true(inet_sockaddr_v4(&out, &ip, &port));
        assert_int_equal(ip, a.sin_addr.s_addr);
        assert_int_equal(port, htons(53));
        assert_false(inet_sockaddr_v6(&out));
        assert_int_equal(PARSE(t6, uses[i], &mapped, sizeof(mapped), &out),
                         uses[i] == INET_SA_BIND ? EINVAL : ENETUNREACH);
        assert_int_equal(PARSE(u6, uses[i], &mapped, sizeof(mapped), &out),
                         uses[i] == INET_SA_BIND ? EINVAL : ENETUNREACH);
        /* A true IPv6 address under IPV6_V6ONLY is fine. */
        assert_int_equal(PARSE(u6, uses[i], &a6, sizeof(a6), &out), 0);
    }
    /* An AF_INET address: too short for bind and TCP connect before it is
     * the wrong family; in a big enough buffer EAFNOSUPPORT. */
    {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, &a, sizeof(a));
        assert_int_equal(PARSE(t, INET_SA_BIND, &a, sizeof(a), &out), EINVAL);
        assert_int_equal(PARSE(u, INET_SA_BIND, &ss, sizeof(ss), &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(t, INET_SA_CONNECT, &a, sizeof(a), &out), EINVAL);
        assert_int_equal(PARSE(t, INET_SA_CONNECT, &ss, sizeof(ss), &out), EAFNOSUPPORT);
        /* ... UDP connect and sendto take it as ::ffff:a.b.c.d. */
        for (size_t i = 1; i < 3; i++) {
            assert_int_equal(PARSE(u, uses[i], &a, sizeof(a), &out), 0);
            assert_int_equal(out.sa.sa_family, AF_INET6);
            assert_memory_equal(&out.sin6.sin6_addr, &mapped.sin6_addr, 16);
            assert_int_equal(out.sin6.sin6_port, htons(53));
            assert_int_equal(PARSE(u, uses[i], &a, sizeof(a) - 1, &out), EINVAL);
        }
        /* ... which IPV6_V6ONLY refuses, before looking at the size. */
        assert_int_equal(PARSE(u6, INET_SA_CONNECT, &a, 2, &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(u6, INET_SA_SENDTO, &a, 2, &out), ENETUNREACH);
    }
    /* AF_UNSPEC: connect disconnects, sendto has no destination, bind is
     * the wrong family. */
    {
        struct sockaddr_in6 un = a6;
        un.sin6_family = AF_UNSPEC;
        assert_int_equal(PARSE(u, INET_SA_CONNECT, &un, sizeof(sa_family_t), &out), 0);
        assert_int_equal(out.sa.sa_family, AF_UNSPEC);
        assert_int_equal(PARSE(u, INET_SA_SENDTO, &un, sizeof(un), &out), 0);
        assert_int_equal(out.sa.sa_family, AF_UNSPEC);
        assert_int_equal(PARSE(t, INET_SA_BIND, &un, sizeof(un), &out), EAFNOSUPPORT);
        /* Another family: sendto EINVAL (udpv6_sendmsg), the rest
         * EAFNOSUPPORT. */
        un.sin6_family = AF_UNIX;
        assert_int_equal(PARSE(u, INET_SA_SENDTO, &un, sizeof(un), &out), EINVAL);
        assert_int_equal(PARSE(u, INET_SA_CONNECT, &un, sizeof(un), &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(t, INET_SA_BIND, &un, sizeof(un), &out), EAFNOSUPPORT);
        assert_int_equal(PARSE(t, INET_SA_BIND, &un, 20, &out), EINVAL);
    }
}

/* Out: Linux's truncation; the ABI's 16 bytes: an AF_INET6 one cut. */
static void test_out_and_abi_field(void **state)
{
    struct inet_sockaddr a, b;
    struct sockaddr_storage ss;
    struct sockaddr_in sin;
    socklen_t len;
    struct in6_addr ip6;
    (void)state;

    inet_sockaddr_set_v4(&a, AF_INET, htonl(0x0a000001), htons(7));
    assert_int_equal(inet_sockaddr_len(&a), sizeof(struct sockaddr_in));
    len = sizeof(ss);
    inet_sockaddr_out(&a, (struct sockaddr *)&ss, &len);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_memory_equal(&ss, &a.sin, sizeof(a.sin));
    inet_sockaddr_to_sin(&a, &sin);
    assert_memory_equal(&sin, &a.sin, sizeof(sin));

    assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &ip6), 1);
    inet_sockaddr_set_v6(&a, &ip6, htons(8080), 2);
    assert_int_equal(inet_sockaddr_len(&a), sizeof(struct sockaddr_in6));
    memset(&ss, 0xaa, sizeof(ss));
    len = 10;
    inet_sockaddr_out(&a, (struct sockaddr *)&ss, &len);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_memory_equal(&ss, &a, 10);
    assert_int_equal(((uint8_t *)&ss)[10], 0xaa);
    len = 0;
    inet_sockaddr_out(&a, (struct sockaddr *)&ss, &len);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    inet_sockaddr_to_sin(&a, &sin);
    assert_int_equal(sin.sin_family, AF_INET6);
    assert_int_equal(sin.sin_port, htons(8080));
    assert_memory_equal((uint8_t *)&sin + 8, &ip6, 8); /* after sin6_flowinfo */

    /* The same IPv4 address in either family's form, and equality. */
    inet_sockaddr_set_v4(&a, AF_INET6, htonl(0x7f000001), htons(9));
    assert_true(IN6_IS_ADDR_V4MAPPED(&a.sin6.sin6_addr));
    inet_sockaddr_set_v4(&b, AF_INET6, htonl(0x7f000001), htons(9));
    assert_true(inet_sockaddr_equal(&a, &b));
    b.sin6.sin6_scope_id = 1;
    assert_false(inet_sockaddr_equal(&a, &b));
    inet_sockaddr_set_v4(&b, AF_INET, htonl(0x7f000001), htons(9));
    assert_false(inet_sockaddr_equal(&a, &b));
    memset(&a, 0, sizeof(a));
    inet_sockaddr_to_sin(&a, &sin);
    assert_int_equal(sin.sin_family, 0);
    assert_int_equal(inet_sockaddr_len(&a), sizeof(sa_family_t));
}

/* A datagram's source in its buffer's headroom: set, read, refused for a
 * slice and for no address. */
static void test_attach(void **state)
{
    struct dbuf_pool pool;
    struct dbuf *d, *slice;
    struct inet_sockaddr a, got;
    struct in6_addr ip6 = IN6ADDR_LOOPBACK_INIT;
    (void)state;

    assert_int_equal(dbuf_pool_init(&pool, "t", 256, 4), 0);
    d = dbuf_alloc(&pool);
    assert_non_null(d);
    assert_false(inet_sockaddr_attached(d, &got));
    inet_sockaddr_set_v6(&a, &ip6, htons(5), 0);
    memset(d->data, 0x5a, 16);
    inet_sockaddr_attach(d, &a);
    assert_true(inet_sockaddr_attached(d, &got));
    assert_true(inet_sockaddr_equal(&a, &got));
    assert_int_equal(d->data[0], 0x5a); /* the payload untouched */
    /* No address (an end-of-stream sga): the mark goes. */
    memset(&a, 0, sizeof(a));
    inet_sockaddr_attach(d, &a);
    assert_false(inet_sockaddr_attached(d, &got));
    /* A slice's headroom is not its own. */
    slice = dbuf_alloc(&pool);
    assert_non_null(slice);
    slice->parent = d;
    slice->data = d->data + 8;
    inet_sockaddr_set_v4(&a, AF_INET, htonl(1), htons(2));
    inet_sockaddr_attach(slice, &a);
    assert_false(inet_sockaddr_attached(slice, &got));
    assert_int_equal(d->data[0], 0x5a);
    slice->parent = NULL;
    dbuf_put(slice);
    dbuf_put(d);
    dbuf_pool_fini(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_and_sizes), cmocka_unit_test(test_inet_socket),
        cmocka_unit_test(test_inet6_socket),   cmocka_unit_test(test_out_and_abi_field),
        cmocka_unit_test(test_attach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
