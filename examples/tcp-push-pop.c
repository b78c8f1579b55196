/* SPDX-License-Identifier: MIT */
/*
 * tcp-push-pop: one-way stream. The client pushes @msgs x @size bytes and
 * closes; the server pops until end of stream and checks every byte against
 * the pattern of its offset in the stream.
 *
 *   tcp-push-pop --server IP PORT [size msgs]   (with them: also check the total)
 *   tcp-push-pop --client IP PORT [size=64] [msgs=1000]
 */
#include "common.h"

#include <stdio.h>

#define USAGE "tcp-push-pop --server IP PORT [size msgs] | --client IP PORT [size=64] [msgs=1000]"

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
        size_t bad;

        ex_check(demi_pop(&qt, qd), "demi_pop");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len == 0) { /* end of stream */
            ex_sgafree(&qr.qr_value.sga);
            break;
        }
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, 0, bytes);
        if (bad != len)
            ex_die("stream byte %llu is wrong", (unsigned long long)(bytes + bad));
        bytes += len;
        ex_sgafree(&qr.qr_value.sga);
    }
    ex_check(demi_close(qd), "demi_close");
    ex_check(demi_close(lqd), "demi_close");

    printf("%s: server received %llu bytes\n", ex_prog, (unsigned long long)bytes);
    if (a->counts_given && bytes != (uint64_t)a->size * a->msgs)
        ex_die("expected %llu bytes", (unsigned long long)a->size * a->msgs);
}

static void client(const struct ex_args *a)
{
    int qd = ex_tcp_connect(&a->addr);
    uint64_t off = 0;

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_sgarray_t sga = ex_sgaalloc(a->size);
        demi_qtoken_t qt;

        ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, 0, off);
        ex_check(demi_push(&qt, qd, &sga), "demi_push");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "push");
        ex_sgafree(&sga);
        off += a->size;
    }
    /* Close is graceful: pushed data still reaches the server. */
    ex_check(demi_close(qd), "demi_close");
    printf("%s: client sent %llu bytes\n", ex_prog, (unsigned long long)off);
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
