/* SPDX-License-Identifier: MIT */
/*
 * pipe-push-pop: one-way messages over a shared-memory pipe between two
 * processes, with the command line of Demikernel's
 * examples/c/pipe-push-pop.c.
 *
 *   pipe-push-pop --server NAME [size=64] [msgs=1024]
 *   pipe-push-pop --client NAME [size=64] [msgs=1024]
 *
 * The server creates the pipe NAME:rx and pops until size * msgs bytes
 * arrived, checking each message's length and bytes (the pattern depends on
 * the message's number, so loss or reordering shows). The client opens it
 * and pushes @msgs messages of @size bytes, several in flight at once.
 */
#include "common.h"

#include <stdio.h>

#define USAGE "pipe-push-pop --server|--client NAME [size=64] [msgs=1024]"

/* Pushes the client keeps in flight: enough to keep the ring busy. */
#define WINDOW 16

static void server(const struct ex_pipe_args *a)
{
    int rx = ex_pipe_create(a->name, ":rx");
    uint64_t bytes = 0, total = (uint64_t)a->size * a->msgs;

    printf("%s: serving pipe %s:rx\n", ex_prog, a->name);
    fflush(stdout);
    for (uint32_t i = 0; bytes < total; i++) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;
        size_t bad;

        ex_check(demi_pop(&qt, rx), "demi_pop");
        qr = ex_wait(qt, i == 0 ? EX_ACCEPT_TIMEOUT_S : EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len == 0)
            ex_die("client closed after %llu of %llu bytes", (unsigned long long)bytes, (unsigned long long)total);
        if (len != a->size)
            ex_die("message %u: %u bytes, expected %u", i, len, a->size);
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, i, 0);
        if (bad != len)
            ex_die("message %u: byte %lu is wrong", i, (unsigned long)bad);
        ex_sgafree(&qr.qr_value.sga);
        bytes += len;
    }
    ex_check(demi_close(rx), "demi_close");
    printf("%s: server received %llu bytes\n", ex_prog, (unsigned long long)bytes);
}

static void client(const struct ex_pipe_args *a)
{
    int tx = ex_pipe_open(a->name, ":rx");
    demi_qtoken_t qts[WINDOW];
    uint32_t sent = 0, done = 0;

    /* Pushes complete in order; waiting for the oldest keeps WINDOW out. */
    while (done < a->msgs) {
        if (sent < a->msgs && sent - done < WINDOW) {
            demi_sgarray_t sga = ex_sgaalloc(a->size);

            ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, sent, 0);
            ex_check(demi_push(&qts[sent % WINDOW], tx, &sga), "demi_push");
            ex_sgafree(&sga); /* safe while the push is in flight */
            sent++;
            continue;
        }
        (void)ex_wait(qts[done % WINDOW], EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        done++;
    }
    ex_check(demi_close(tx), "demi_close");
    printf("%s: client sent %u messages of %u bytes\n", ex_prog, a->msgs, a->size);
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
