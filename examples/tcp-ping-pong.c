/* SPDX-License-Identifier: MIT */
/*
 * tcp-ping-pong: the client sends @msgs messages of @size bytes, one at a
 * time; the server echoes them; the client checks every byte it gets back.
 *
 *   tcp-ping-pong --server IP PORT
 *   tcp-ping-pong --client IP PORT [size=64] [msgs=1000]
 *
 * TCP keeps no message boundaries, so both sides treat what a pop returns as
 * a piece of the stream: the client accumulates until a whole message is back.
 */
#include "common.h"

#include <stdio.h>

#define USAGE "tcp-ping-pong --server IP PORT | --client IP PORT [size=64] [msgs=1000]"

/* Echo every pop back until the client closes. */
static void server(const struct ex_args *a)
{
    int lqd = ex_tcp_listen(&a->addr);
    uint64_t bytes = 0;
    int qd;

    printf("%s: listening on %s\n", ex_prog, ex_addr_str(&a->addr));
    fflush(stdout);
    qd = ex_tcp_accept(lqd);

    for (;;) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;

        ex_check(demi_pop(&qt, qd), "demi_pop");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len == 0) { /* end of stream: the client is done */
            ex_sgafree(&qr.qr_value.sga);
            break;
        }
        /* Zero-copy echo: push the popped buffer itself. */
        ex_check(demi_push(&qt, qd, &qr.qr_value.sga), "demi_push");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        ex_sgafree(&qr.qr_value.sga);
        bytes += len;
    }
    ex_check(demi_close(qd), "demi_close");
    ex_check(demi_close(lqd), "demi_close");
    printf("%s: server echoed %llu bytes\n", ex_prog, (unsigned long long)bytes);
}

/* Pop until @size bytes of message @i are back, checking each piece. */
static void recv_message(int qd, uint32_t i, uint32_t size)
{
    uint32_t got = 0;

    while (got < size) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;
        size_t bad;

        ex_check(demi_pop(&qt, qd), "demi_pop");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len == 0)
            ex_die("message %u: server closed after %u of %u bytes", i, got, size);
        if (len > size - got)
            ex_die("message %u: got %u bytes, only %u were outstanding", i, len, size - got);
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, i, got);
        if (bad != len)
            ex_die("message %u: byte %lu is wrong", i, (unsigned long)(got + bad));
        got += len;
        ex_sgafree(&qr.qr_value.sga);
    }
}

static void client(const struct ex_args *a)
{
    int qd = ex_tcp_connect(&a->addr);

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_sgarray_t sga = ex_sgaalloc(a->size);
        demi_qtoken_t qt;

        ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, i, 0);
        ex_check(demi_push(&qt, qd, &sga), "demi_push");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        ex_sgafree(&sga);
        recv_message(qd, i, a->size);
    }
    ex_check(demi_close(qd), "demi_close");
    printf("%s: client verified %u messages of %u bytes\n", ex_prog, a->msgs, a->size);
}

int main(int argc, char **argv)
{
    struct ex_args a;

    ex_parse_args(argc, argv, &a, EX_SGA_MAX, USAGE);
    ex_init(argc, argv);
    if (a.mode == EX_SERVER)
        server(&a);
    else
        client(&a);
    return 0;
}
