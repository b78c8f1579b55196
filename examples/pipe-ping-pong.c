/* SPDX-License-Identifier: MIT */
/*
 * pipe-ping-pong: ping-pong over shared-memory pipes between two processes,
 * with the command line of Demikernel's examples/c/pipe-ping-pong.c.
 *
 *   pipe-ping-pong --server NAME [size=64] [msgs=1024]
 *   pipe-ping-pong --client NAME [size=64] [msgs=1024]
 *
 * The server creates two pipes, NAME:rx (client to server) and NAME:tx
 * (server to client), and echoes each message it pops until size * msgs
 * bytes went by. The client opens both, sends @msgs messages of @size bytes
 * one at a time and checks every byte that comes back. Pipes keep message
 * boundaries, so each pop is exactly one message.
 */
#include "common.h"

#include <stdio.h>

#define USAGE "pipe-ping-pong --server|--client NAME [size=64] [msgs=1024]"

static void server(const struct ex_pipe_args *a)
{
    int rx = ex_pipe_create(a->name, ":rx");
    int tx = ex_pipe_create(a->name, ":tx");
    uint64_t bytes = 0, total = (uint64_t)a->size * a->msgs;

    printf("%s: serving pipes %s:rx and %s:tx\n", ex_prog, a->name, a->name);
    fflush(stdout);
    while (bytes < total) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;

        ex_check(demi_pop(&qt, rx), "demi_pop");
        qr = ex_wait(qt, bytes == 0 ? EX_ACCEPT_TIMEOUT_S : EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len == 0)
            ex_die("client closed after %llu of %llu bytes", (unsigned long long)bytes, (unsigned long long)total);
        /* Echo the popped buffer itself; the pipe copies it into its ring. */
        ex_check(demi_push(&qt, tx, &qr.qr_value.sga), "demi_push");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        ex_sgafree(&qr.qr_value.sga);
        bytes += len;
    }
    /* What was pushed stays readable after the close. */
    ex_check(demi_close(tx), "demi_close");
    ex_check(demi_close(rx), "demi_close");
    printf("%s: server echoed %llu bytes\n", ex_prog, (unsigned long long)bytes);
}

static void client(const struct ex_pipe_args *a)
{
    int tx = ex_pipe_open(a->name, ":rx"); /* the server's rx is our tx */
    int rx = ex_pipe_open(a->name, ":tx");

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_sgarray_t sga = ex_sgaalloc(a->size);
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;
        size_t bad;

        ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, i, 0);
        ex_check(demi_push(&qt, tx, &sga), "demi_push");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        ex_sgafree(&sga);

        ex_check(demi_pop(&qt, rx), "demi_pop");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len != a->size)
            ex_die("message %u: %u bytes came back, sent %u", i, len, a->size);
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, i, 0);
        if (bad != len)
            ex_die("message %u: byte %lu is wrong", i, (unsigned long)bad);
        ex_sgafree(&qr.qr_value.sga);
    }
    ex_check(demi_close(tx), "demi_close");
    ex_check(demi_close(rx), "demi_close");
    printf("%s: client verified %u messages of %u bytes\n", ex_prog, a->msgs, a->size);
}

int main(int argc, char **argv)
{
    struct ex_pipe_args a;

    ex_parse_pipe_args(argc, argv, &a, USAGE);
    ex_init(argc, argv);
    if (a.mode == EX_SERVER)
        server(&a);
    else
        client(&a);
    return 0;
}
