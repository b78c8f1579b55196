/* SPDX-License-Identifier: MIT */
/*
 * c99_consumer: an application as Demikernel users write them, built outside
 * the project with `cc -std=c99 -D_POSIX_C_SOURCE=199309L` and pkg-config
 * (see c99_consumer.sh). It includes only the public headers and does a TCP
 * round trip in one process: socket, bind, listen, accept, connect, push,
 * pop, wait, sgafree, close, and end of stream after the close.
 *
 *   c99_consumer PORT      (LIBOS=catnap, 127.0.0.1:PORT must be free)
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char message[] = "hello from a C99 program, through libdemi and back";

static void fail(const char *what, int rc)
{
    fprintf(stderr, "c99_consumer: %s: %s\n", what, rc != 0 ? strerror(rc) : "unexpected");
    exit(1);
}

/* Every call is checked: a positive errno is a failure. */
#define CHECK(call)           \
    do {                      \
        int rc_ = (call);     \
        if (rc_ != 0)         \
            fail(#call, rc_); \
    } while (0)

/* Wait at most 5 s for @qt and insist on opcode @expect. */
static demi_qresult_t wait_for(demi_qtoken_t qt, demi_opcode_t expect, const char *what)
{
    struct timespec timeout = {5, 0};
    demi_qresult_t qr;
    int rc = demi_wait(&qr, qt, &timeout);

    if (rc != 0)
        fail(what, rc);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        fail(what, (int)qr.qr_ret);
    if (qr.qr_opcode != expect)
        fail(what, 0);
    return qr;
}

static void push_bytes(int qd, const void *data, size_t len)
{
    demi_sgarray_t sga = demi_sgaalloc(len);
    demi_qtoken_t qt;

    if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len != len)
        fail("demi_sgaalloc", 0);
    memcpy(sga.sga_segs[0].sgaseg_buf, data, len);
    CHECK(demi_push(&qt, qd, &sga));
    (void)wait_for(qt, DEMI_OPC_PUSH, "wait for push");
    CHECK(demi_sgafree(&sga));
}

/* Pop until @len bytes are in @out: TCP may deliver them in pieces. */
static void pop_bytes(int qd, char *out, size_t len)
{
    size_t got = 0;

    while (got < len) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t n;

        CHECK(demi_pop(&qt, qd));
        qr = wait_for(qt, DEMI_OPC_POP, "wait for pop");
        n = qr.qr_value.sga.sga_numsegs ? qr.qr_value.sga.sga_segs[0].sgaseg_len : 0;
        if (n == 0 || n > len - got)
            fail("pop: wrong length", 0);
        memcpy(out + got, qr.qr_value.sga.sga_segs[0].sgaseg_buf, n);
        got += n;
        CHECK(demi_sgafree(&qr.qr_value.sga));
    }
}

int main(int argc, char **argv)
{
    struct demi_args args = {argc, argv, NULL};
    struct sockaddr_in addr;
    char back[sizeof(message)];
    demi_qtoken_t accept_qt, connect_qt, qt;
    demi_qresult_t qr;
    int lqd, sqd, cqd;
    long port;

    if (argc != 2 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535) {
        fprintf(stderr, "usage: c99_consumer PORT\n");
        return 2;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    CHECK(demi_init(&args));

    CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0));
    CHECK(demi_bind(lqd, (const struct sockaddr *)&addr, sizeof(addr)));
    CHECK(demi_listen(lqd, 16));
    CHECK(demi_accept(&accept_qt, lqd));

    CHECK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0));
    CHECK(demi_connect(&connect_qt, cqd, (const struct sockaddr *)&addr, sizeof(addr)));
    (void)wait_for(connect_qt, DEMI_OPC_CONNECT, "wait for connect");
    qr = wait_for(accept_qt, DEMI_OPC_ACCEPT, "wait for accept");
    sqd = qr.qr_value.ares.qd;

    /* Client -> server, then the server sends what it got back. */
    push_bytes(cqd, message, sizeof(message));
    pop_bytes(sqd, back, sizeof(back));
    if (memcmp(back, message, sizeof(message)) != 0)
        fail("server received different bytes", 0);
    push_bytes(sqd, back, sizeof(back));
    memset(back, 0, sizeof(back));
    pop_bytes(cqd, back, sizeof(back));
    if (memcmp(back, message, sizeof(message)) != 0)
        fail("client received different bytes", 0);

    /* The client's close is end of stream for the server: a zero-length sga. */
    CHECK(demi_close(cqd));
    CHECK(demi_pop(&qt, sqd));
    qr = wait_for(qt, DEMI_OPC_POP, "wait for end of stream");
    if (qr.qr_value.sga.sga_numsegs != 0 && qr.qr_value.sga.sga_segs[0].sgaseg_len != 0)
        fail("expected end of stream", 0);
    CHECK(demi_sgafree(&qr.qr_value.sga));

    CHECK(demi_close(sqd));
    CHECK(demi_close(lqd));
    printf("c99_consumer: TCP round trip of %lu bytes on 127.0.0.1:%ld ok\n", (unsigned long)sizeof(message), port);
    return 0;
}
