/* SPDX-License-Identifier: MIT */
/*
 * udp-ping-pong: the client sends @msgs datagrams of @size bytes, one at a
 * time; the server sends each back to its sender; the client checks them.
 *
 *   udp-ping-pong --server IP PORT [size msgs=1000]   (stops after msgs;
 *                                                    with size: checks it)
 *   udp-ping-pong --client IP PORT [size=64] [msgs=1000]
 *
 * The client binds an ephemeral port on any local address (so it runs on
 * another host than the server too). Each wait is bounded, so a lost
 * datagram ends the run with an error rather than a hang.
 */
#include "common.h"

#include <stdio.h>

#define USAGE "udp-ping-pong --server|--client IP PORT [size=64] [msgs=1000]"

static void server(const struct ex_args *a)
{
    int qd = ex_udp_bind(&a->addr);

    printf("%s: listening on %s\n", ex_prog, ex_addr_str(&a->addr));
    fflush(stdout);

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        struct sockaddr_storage from;
        socklen_t from_len;

        ex_check(demi_pop(&qt, qd), "demi_pop");
        /* The first datagram may take as long as the client takes to start. */
        qr = ex_wait(qt, i == 0 ? EX_ACCEPT_TIMEOUT_S : EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        if (a->counts_given && ex_sga_len(&qr.qr_value.sga) != a->size)
            ex_die("datagram %u: %u bytes, expected %u", i, ex_sga_len(&qr.qr_value.sga), a->size);
        ex_sga_source(&qr.qr_value.sga, &from, &from_len);
        /* Zero-copy echo: send the popped buffer itself. */
        ex_check(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, from_len), "demi_pushto");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "pushto");
        ex_sgafree(&qr.qr_value.sga);
    }
    ex_check(demi_close(qd), "demi_close");
    printf("%s: server echoed %u datagrams\n", ex_prog, a->msgs);
}

static void client(const struct ex_args *a)
{
    struct sockaddr_storage local;
    int qd;

    ex_addr_any(&a->addr, &local);
    qd = ex_udp_bind(&local);

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_sgarray_t sga = ex_sgaalloc(a->size);
        demi_qtoken_t qt;
        demi_qresult_t qr;
        size_t bad;

        ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, i, 0);
        ex_check(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&a->addr, ex_addr_len(&a->addr)), "demi_pushto");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "pushto");
        ex_sgafree(&sga);

        ex_check(demi_pop(&qt, qd), "demi_pop");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        if (ex_sga_len(&qr.qr_value.sga) != a->size)
            ex_die("datagram %u: %u bytes back, expected %u", i, ex_sga_len(&qr.qr_value.sga), a->size);
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, a->size, i, 0);
        if (bad != a->size)
            ex_die("datagram %u: byte %lu is wrong", i, (unsigned long)bad);
        ex_sgafree(&qr.qr_value.sga);
    }
    ex_check(demi_close(qd), "demi_close");
    printf("%s: client verified %u datagrams of %u bytes\n", ex_prog, a->msgs, a->size);
}

int main(int argc, char **argv)
{
    struct ex_args a;

    ex_parse_args(argc, argv, &a, EX_UDP_MAX_PAYLOAD, USAGE);
    ex_init(argc, argv);
    if (a.mode == EX_SERVER)
        server(&a);
    else
        client(&a);
    return 0;
}
