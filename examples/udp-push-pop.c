/* SPDX-License-Identifier: MIT */
/*
 * udp-push-pop: one-way datagrams. The client sends @msgs datagrams of @size
 * bytes; the server receives @msgs datagrams and checks each one's length and
 * bytes (the pattern depends on the datagram's number, so loss or reordering
 * shows up as a mismatch).
 *
 *   udp-push-pop --server IP PORT [size=64] [msgs=1000]
 *   udp-push-pop --client IP PORT [size=64] [msgs=1000]
 *
 * Loopback does not drop datagrams unless the receiver's buffer overflows:
 * the server enlarges it, and every wait is bounded so a loss is reported.
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#define USAGE "udp-push-pop --server|--client IP PORT [size=64] [msgs=1000]"

static void server(const struct ex_args *a)
{
    int qd = ex_udp_bind(&a->addr);
    int rcvbuf = 4 << 20; /* the kernel caps it at net.core.rmem_max */
    uint64_t bytes = 0;
    int rc;

    /* catnap: the kernel's buffer. libdemi's own stack takes no SO_RCVBUF on
     * UDP (ENOPROTOOPT): its queue is 1024 datagrams per socket, and what
     * overflows it is counted in udp_drop_queue_full. */
    rc = demi_setsockopt(qd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (rc != ENOPROTOOPT)
        ex_check(rc, "demi_setsockopt(SO_RCVBUF)");
    printf("%s: listening on %s\n", ex_prog, ex_addr_str(&a->addr));
    fflush(stdout);

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        uint32_t len;
        size_t bad;

        ex_check(demi_pop(&qt, qd), "demi_pop");
        qr = ex_wait(qt, i == 0 ? EX_ACCEPT_TIMEOUT_S : EX_IO_TIMEOUT_S, DEMI_OPC_POP, "pop");
        len = ex_sga_len(&qr.qr_value.sga);
        if (len != a->size)
            ex_die("datagram %u: %u bytes, expected %u", i, len, a->size);
        bad = ex_verify(qr.qr_value.sga.sga_segs[0].sgaseg_buf, len, i, 0);
        if (bad != len)
            ex_die("datagram %u: byte %lu is wrong (lost or reordered datagram?)", i, (unsigned long)bad);
        bytes += len;
        ex_sgafree(&qr.qr_value.sga);
    }
    ex_check(demi_close(qd), "demi_close");
    printf("%s: server received %u datagrams, %llu bytes\n", ex_prog, a->msgs, (unsigned long long)bytes);
}

static void client(const struct ex_args *a)
{
    struct sockaddr_storage local = a->addr;
    int qd;

    /* The same family as the server's address, any port (both structs keep
     * the port at the same offset). */
    ((struct sockaddr_in *)&local)->sin_port = 0;
    qd = ex_udp_bind(&local);

    for (uint32_t i = 0; i < a->msgs; i++) {
        demi_sgarray_t sga = ex_sgaalloc(a->size);
        demi_qtoken_t qt;

        ex_fill(sga.sga_segs[0].sgaseg_buf, a->size, i, 0);
        ex_check(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&a->addr, ex_addr_len(&a->addr)), "demi_pushto");
        (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, "pushto");
        ex_sgafree(&sga);
    }
    ex_check(demi_close(qd), "demi_close");
    printf("%s: client sent %u datagrams of %u bytes\n", ex_prog, a->msgs, a->size);
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
