/* SPDX-License-Identifier: MIT */
/*
 * demi-rtt: round-trip latency (and one-flow TCP throughput) through
 * libdemi's public API, for bench/run-bench.sh. Any libOS (LIBOS=...).
 *
 *   demi-rtt --server IP PORT --proto tcp|udp [--msgs N --warmup N] [--bulk BYTES]
 *   demi-rtt --client IP PORT --proto tcp|udp --size N --msgs N --warmup N
 *   demi-rtt --client IP PORT --proto tcp --size N --bulk BYTES
 *
 * Echo: the server sends back what it receives (TCP: whatever each pop
 * returns, the popped buffer itself; UDP: each datagram to its sender), so
 * linux-rtt's server is an equivalent peer. The client sends SIZE bytes,
 * reads until SIZE bytes came back (TCP may deliver them in pieces), and
 * times that with CLOCK_MONOTONIC; WARMUP rounds first, then MSGS measured
 * ones. A TCP server exits at the client's end of stream; a UDP server after
 * WARMUP + MSGS datagrams (give it the client's counts).
 *
 * Bulk (--bulk on both sides, TCP): the client pushes BYTES in SIZE-byte
 * pushes (up to 16 in flight); the server pops until it has BYTES and answers
 * one byte; the client's time runs from its first push to that byte.
 *
 * Output: one line starting "demi-rtt: RESULT" with key=value words:
 *   libos proto size msgs p50_ns p99_ns p999_ns mean_ns min_ns max_ns
 * or, bulk: libos proto size bytes secs gbps.
 * Every wait is bounded (10 s; the first, 60 s): a silent peer is an error.
 */
#define _POSIX_C_SOURCE 200809L
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "demi_client.h"
#include "rtt_common.h"

#define USAGE                                                                           \
    "usage: demi-rtt --server|--client IP PORT --proto tcp|udp [--size N] [--msgs N]\n" \
    "                [--warmup N] [--bulk BYTES]"

#define IO_TIMEOUT_S 10
#define FIRST_TIMEOUT_S 60
#define BULK_INFLIGHT 16

/* Wait for @qt (bounded); dies on timeout and on a failed operation. */
static demi_qresult_t wait_for(demi_qtoken_t qt, int timeout_s, const char *what)
{
    struct timespec ts = {.tv_sec = timeout_s, .tv_nsec = 0};
    demi_qresult_t qr;
    int rc;

    memset(&qr, 0, sizeof(qr));
    rc = demi_wait(&qr, qt, &ts);
    if (rc == ETIMEDOUT)
        rtt_die("%s: nothing within %d s (peer gone?)", what, timeout_s);
    bench_check(rc, what);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        rtt_die("%s: %s", what, strerror((int)qr.qr_ret));
    return qr;
}

static uint32_t sga_len(const demi_sgarray_t *sga)
{
    if (sga->sga_numsegs == 0)
        return 0;
    if (sga->sga_numsegs != 1)
        rtt_die("popped sga has %u segments, expected 1", (unsigned)sga->sga_numsegs);
    return sga->sga_segs[0].sgaseg_len;
}

static demi_sgarray_t alloc_sga(uint32_t size)
{
    demi_sgarray_t sga = demi_sgaalloc(size);

    if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len != size)
        rtt_die("demi_sgaalloc(%u) failed", size);
    return sga;
}

static void free_sga(demi_sgarray_t *sga)
{
    bench_check(demi_sgafree(sga), "demi_sgafree");
}

/* ------------------------------------------------------------------ server */

static void tcp_server(const struct rtt_opts *o)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int lqd, qd;
    uint64_t got = 0;

    bench_check(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0), "demi_socket");
    bench_check(demi_bind(lqd, (const struct sockaddr *)&o->addr, sizeof(o->addr)), "demi_bind");
    bench_check(demi_listen(lqd, 16), "demi_listen");
    bench_check(demi_accept(&qt, lqd), "demi_accept");
    printf("demi-rtt: listening on tcp port %u\n", (unsigned)ntohs(o->addr.sin_port));
    fflush(stdout);
    qr = wait_for(qt, FIRST_TIMEOUT_S, "accept");
    qd = qr.qr_value.ares.qd;
    bench_nodelay(qd);

    for (;;) {
        demi_sgarray_t sga;
        uint32_t len;

        bench_check(demi_pop(&qt, qd), "demi_pop");
        qr = wait_for(qt, IO_TIMEOUT_S, "pop");
        sga = qr.qr_value.sga;
        len = sga_len(&sga);
        if (len == 0) { /* the client is done */
            free_sga(&sga);
            break;
        }
        if (o->bulk) {
            free_sga(&sga);
            got += len;
            if (got >= o->bulk) {
                demi_sgarray_t ack = alloc_sga(1);

                ((uint8_t *)ack.sga_segs[0].sgaseg_buf)[0] = 'k';
                bench_check(demi_push(&qt, qd, &ack), "demi_push");
                (void)wait_for(qt, IO_TIMEOUT_S, "push");
                free_sga(&ack);
            }
            continue;
        }
        /* Zero copy: the popped buffer goes back as it is. */
        bench_check(demi_push(&qt, qd, &sga), "demi_push");
        (void)wait_for(qt, IO_TIMEOUT_S, "push");
        free_sga(&sga);
    }
    bench_check(demi_close(qd), "demi_close");
    bench_check(demi_close(lqd), "demi_close");
    if (o->bulk)
        printf("demi-rtt: server received %llu bytes\n", (unsigned long long)got);
}

static void udp_server(const struct rtt_opts *o)
{
    uint64_t total = (uint64_t)o->msgs + o->warmup;
    int qd;

    bench_check(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), "demi_socket");
    bench_check(demi_bind(qd, (const struct sockaddr *)&o->addr, sizeof(o->addr)), "demi_bind");
    printf("demi-rtt: listening on udp port %u\n", (unsigned)ntohs(o->addr.sin_port));
    fflush(stdout);
    for (uint64_t i = 0; i < total; i++) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        struct sockaddr_in from;

        bench_check(demi_pop(&qt, qd), "demi_pop");
        qr = wait_for(qt, i == 0 ? FIRST_TIMEOUT_S : IO_TIMEOUT_S, "pop");
        from = qr.qr_value.sga.sga_addr;
        bench_check(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, sizeof(from)),
                    "demi_pushto");
        (void)wait_for(qt, IO_TIMEOUT_S, "pushto");
        free_sga(&qr.qr_value.sga);
    }
    bench_check(demi_close(qd), "demi_close");
}

/* ------------------------------------------------------------------ client */

static void report(const struct rtt_opts *o, uint64_t *v)
{
    const char *libos = getenv("LIBOS");

    printf("demi-rtt: RESULT libos=%s proto=%s size=%u msgs=%u ", libos != NULL && libos[0] != '\0' ? libos : "catnap",
           o->udp ? "udp" : "tcp", o->size, o->msgs);
    rtt_print_stats(v, o->msgs);
}

/* The first and last byte of each piece are checked: cheap, and enough to
 * catch a lost, repeated or reordered piece without slowing the round. */
static void check_piece(const demi_sgarray_t *sga, uint32_t len, uint64_t round, uint32_t off)
{
    const uint8_t *b = sga->sga_segs[0].sgaseg_buf;

    if (b[0] != rtt_pattern(round, off) || b[len - 1] != rtt_pattern(round, off + len - 1))
        rtt_die("round %llu: wrong bytes echoed at offset %u", (unsigned long long)round, off);
}

static void tcp_client(const struct rtt_opts *o)
{
    uint64_t total = (uint64_t)o->warmup + o->msgs;
    uint64_t *samples = calloc(o->msgs, sizeof(*samples));
    int qd = bench_connect(&o->addr, IO_TIMEOUT_S);

    if (samples == NULL)
        rtt_die("out of memory");
    for (uint64_t r = 0; r < total; r++) {
        demi_sgarray_t tx = alloc_sga(o->size);
        uint8_t *b = tx.sga_segs[0].sgaseg_buf;
        demi_qtoken_t push_qt, pop_qt;
        uint64_t t0, t1 = 0;
        uint32_t got = 0;

        for (uint32_t i = 0; i < o->size; i++)
            b[i] = rtt_pattern(r, i);
        t0 = rtt_now_ns();
        bench_check(demi_push(&push_qt, qd, &tx), "demi_push");
        while (got < o->size) {
            demi_qresult_t qr;
            uint32_t len;

            bench_check(demi_pop(&pop_qt, qd), "demi_pop");
            qr = wait_for(pop_qt, r == 0 ? FIRST_TIMEOUT_S : IO_TIMEOUT_S, "pop");
            t1 = rtt_now_ns();
            len = sga_len(&qr.qr_value.sga);
            if (len == 0)
                rtt_die("the server closed the connection");
            if (len > o->size - got)
                rtt_die("%u bytes back, only %u outstanding", len, o->size - got);
            check_piece(&qr.qr_value.sga, len, r, got);
            got += len;
            free_sga(&qr.qr_value.sga);
        }
        (void)wait_for(push_qt, IO_TIMEOUT_S, "push");
        free_sga(&tx);
        if (r >= o->warmup)
            samples[r - o->warmup] = t1 - t0;
    }
    bench_check(demi_close(qd), "demi_close");
    report(o, samples);
    free(samples);
}

static void udp_client(const struct rtt_opts *o)
{
    uint64_t total = (uint64_t)o->warmup + o->msgs;
    uint64_t *samples = calloc(o->msgs, sizeof(*samples));
    struct sockaddr_in local;
    int qd;

    if (samples == NULL)
        rtt_die("out of memory");
    memset(&local, 0, sizeof(local));
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    bench_check(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), "demi_socket");
    bench_check(demi_bind(qd, (const struct sockaddr *)&local, sizeof(local)), "demi_bind");
    for (uint64_t r = 0; r < total; r++) {
        demi_sgarray_t tx = alloc_sga(o->size);
        uint8_t *b = tx.sga_segs[0].sgaseg_buf;
        demi_qtoken_t push_qt, pop_qt;
        demi_qresult_t qr;
        uint64_t t0, t1;
        uint32_t len;

        for (uint32_t i = 0; i < o->size; i++)
            b[i] = rtt_pattern(r, i);
        t0 = rtt_now_ns();
        bench_check(demi_pushto(&push_qt, qd, &tx, (const struct sockaddr *)&o->addr, sizeof(o->addr)), "demi_pushto");
        bench_check(demi_pop(&pop_qt, qd), "demi_pop");
        qr = wait_for(pop_qt, r == 0 ? FIRST_TIMEOUT_S : IO_TIMEOUT_S, "pop");
        t1 = rtt_now_ns();
        len = sga_len(&qr.qr_value.sga);
        if (len != o->size)
            rtt_die("datagram of %u bytes back, sent %u", len, o->size);
        check_piece(&qr.qr_value.sga, len, r, 0);
        free_sga(&qr.qr_value.sga);
        (void)wait_for(push_qt, IO_TIMEOUT_S, "pushto");
        free_sga(&tx);
        if (r >= o->warmup)
            samples[r - o->warmup] = t1 - t0;
    }
    bench_check(demi_close(qd), "demi_close");
    report(o, samples);
    free(samples);
}

static void bulk_client(const struct rtt_opts *o)
{
    demi_qtoken_t inflight[BULK_INFLIGHT];
    demi_sgarray_t bufs[BULK_INFLIGHT];
    unsigned head = 0, n = 0;
    uint64_t sent = 0, t0, t1;
    demi_qtoken_t qt;
    demi_qresult_t qr;
    const char *libos = getenv("LIBOS");
    double secs;
    int qd = bench_connect(&o->addr, IO_TIMEOUT_S);

    t0 = rtt_now_ns();
    while (sent < o->bulk || n > 0) {
        if (sent < o->bulk && n < BULK_INFLIGHT) {
            uint32_t len = o->bulk - sent < o->size ? (uint32_t)(o->bulk - sent) : o->size;
            unsigned slot = (head + n) % BULK_INFLIGHT;

            bufs[slot] = alloc_sga(len);
            memset(bufs[slot].sga_segs[0].sgaseg_buf, (int)(sent & 0xff), len);
            bench_check(demi_push(&inflight[slot], qd, &bufs[slot]), "demi_push");
            sent += len;
            n++;
            continue;
        }
        (void)wait_for(inflight[head], IO_TIMEOUT_S, "push");
        free_sga(&bufs[head]);
        head = (head + 1) % BULK_INFLIGHT;
        n--;
    }
    bench_check(demi_pop(&qt, qd), "demi_pop");
    qr = wait_for(qt, IO_TIMEOUT_S, "pop");
    t1 = rtt_now_ns();
    if (sga_len(&qr.qr_value.sga) != 1)
        rtt_die("expected the server's 1-byte acknowledgement");
    free_sga(&qr.qr_value.sga);
    bench_check(demi_close(qd), "demi_close");
    secs = (double)(t1 - t0) / 1e9;
    printf("demi-rtt: RESULT libos=%s proto=tcp size=%u bytes=%llu secs=%.3f gbps=%.2f\n",
           libos != NULL && libos[0] != '\0' ? libos : "catnap", o->size, (unsigned long long)o->bulk, secs,
           (double)o->bulk * 8 / secs / 1e9);
}

int main(int argc, char **argv)
{
    struct rtt_opts o;
    struct demi_args args;

    rtt_prog = "demi-rtt";
    rtt_parse(argc, argv, &o, USAGE, RTT_OPT_BULK);
    memset(&args, 0, sizeof(args));
    args.argc = argc;
    args.argv = argv;
    bench_check(demi_init(&args), "demi_init");
    if (o.server && o.udp)
        udp_server(&o);
    else if (o.server)
        tcp_server(&o);
    else if (o.bulk)
        bulk_client(&o);
    else if (o.udp)
        udp_client(&o);
    else
        tcp_client(&o);
    return 0;
}
