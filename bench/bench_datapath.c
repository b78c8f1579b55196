/* SPDX-License-Identifier: MIT */
/*
 * bench_datapath: what libdemi itself costs per I/O, without a device: TCP
 * and UDP ping-pong of SIZE-byte messages between two sockets of one process
 * over LIBOS=catloop (the inet libOS on an in-process loopback netdev, whose
 * only cost is one copy per frame, as a wire's). One round trip is four
 * I/Os: push, pop, push back, pop back, each with its demi_wait; it crosses
 * the whole stack twice each way. Public API only, as an application would.
 *
 * Prints, for each protocol, the median and p99 of batches of 1000 round
 * trips, in ns per round trip and ns per I/O (round trip / 4). Figures only;
 * it asserts nothing beyond the data coming back intact.
 *
 *   build/bench/bench_datapath [SIZE] [ROUNDS]    (64, 200000)
 */
#define _POSIX_C_SOURCE 200809L
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_datapath: %s: %s\n", what, strerror(rc));
        exit(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static demi_qresult_t wait_one(demi_qtoken_t qt, const char *what)
{
    demi_qresult_t qr;

    check(demi_wait(&qr, qt, NULL), what);
    if (qr.qr_opcode == DEMI_OPC_FAILED) {
        fprintf(stderr, "bench_datapath: %s failed: %s\n", what, strerror((int)qr.qr_ret));
        exit(1);
    }
    return qr;
}

static struct sockaddr_in addr_of(uint16_t port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
    return a;
}

/* Two connected TCP sockets of this process: *@a (client), *@b (accepted). */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa = addr_of(7000);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;
    int lqd;

    check(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0), "socket");
    check(demi_bind(lqd, (struct sockaddr *)&sa, sizeof(sa)), "bind");
    check(demi_listen(lqd, 16), "listen");
    check(demi_accept(&qa, lqd), "accept");
    check(demi_socket(a, AF_INET, SOCK_STREAM, 0), "socket");
    check(demi_connect(&qc, *a, (struct sockaddr *)&sa, sizeof(sa)), "connect");
    wait_one(qc, "connect");
    qr = wait_one(qa, "accept");
    *b = qr.qr_value.ares.qd;
}

/* Two bound UDP sockets (the round trip uses pushto). */
static void udp_pair(int *a, int *b)
{
    struct sockaddr_in sa = addr_of(7001), sb = addr_of(7002);

    check(demi_socket(a, AF_INET, SOCK_DGRAM, 0), "socket");
    check(demi_socket(b, AF_INET, SOCK_DGRAM, 0), "socket");
    check(demi_bind(*a, (struct sockaddr *)&sa, sizeof(sa)), "bind");
    check(demi_bind(*b, (struct sockaddr *)&sb, sizeof(sb)), "bind");
}

/* One round trip: @a pushes @size bytes, @b pops them and pushes them back,
 * @a pops them. UDP pushes go with pushto when @to is set. */
static void round_trip(int a, int b, uint32_t size, const struct sockaddr_in *to_b, const struct sockaddr_in *to_a,
                       uint8_t tag)
{
    demi_sgarray_t sga = demi_sgaalloc(size);
    demi_qtoken_t qt;
    demi_qresult_t qr;

    if (sga.sga_numsegs != 1) {
        fprintf(stderr, "bench_datapath: demi_sgaalloc(%u) failed\n", size);
        exit(1);
    }
    memset(sga.sga_segs[0].sgaseg_buf, tag, size);
    if (to_b)
        check(demi_pushto(&qt, a, &sga, (const struct sockaddr *)to_b, sizeof(*to_b)), "pushto");
    else
        check(demi_push(&qt, a, &sga), "push");
    wait_one(qt, "push");
    check(demi_sgafree(&sga), "sgafree");

    check(demi_pop(&qt, b), "pop");
    qr = wait_one(qt, "pop");
    sga = qr.qr_value.sga;
    if (to_a)
        check(demi_pushto(&qt, b, &sga, (const struct sockaddr *)to_a, sizeof(*to_a)), "pushto");
    else
        check(demi_push(&qt, b, &sga), "push");
    wait_one(qt, "push back");
    check(demi_sgafree(&sga), "sgafree");

    check(demi_pop(&qt, a), "pop back");
    qr = wait_one(qt, "pop back");
    sga = qr.qr_value.sga;
    if (sga.sga_segs[0].sgaseg_len != size || ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[size - 1] != tag) {
        fprintf(stderr, "bench_datapath: reply of %u bytes, want %u\n", sga.sga_segs[0].sgaseg_len, size);
        exit(1);
    }
    check(demi_sgafree(&sga), "sgafree");
}

static void run(const char *name, int a, int b, uint32_t size, uint32_t rounds, const struct sockaddr_in *to_b,
                const struct sockaddr_in *to_a)
{
    uint32_t nb = rounds / BATCH;
    uint64_t *per = calloc(nb, sizeof(*per));

    if (!per || nb == 0) {
        fprintf(stderr, "bench_datapath: need at least %u rounds\n", BATCH);
        exit(1);
    }
    for (uint32_t i = 0; i < 2 * BATCH; i++) /* warm up caches and pools */
        round_trip(a, b, size, to_b, to_a, (uint8_t)i);
    for (uint32_t k = 0; k < nb; k++) {
        uint64_t t0 = now_ns();
        for (uint32_t i = 0; i < BATCH; i++)
            round_trip(a, b, size, to_b, to_a, (uint8_t)i);
        per[k] = (now_ns() - t0) / BATCH;
    }
    qsort(per, nb, sizeof(*per), cmp_u64);
    printf("%-4s %6u B  round trip p50 %6.0f ns  p99 %6.0f ns   per I/O p50 %5.0f ns  p99 %5.0f ns\n", name, size,
           (double)per[nb / 2], (double)per[nb * 99 / 100], per[nb / 2] / 4.0, per[nb * 99 / 100] / 4.0);
    free(per);
}

int main(int argc, char **argv)
{
    uint32_t size = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 64;
    uint32_t rounds = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 200000;
    struct demi_args args = {.argc = 0, .argv = NULL, .callback = NULL};
    struct sockaddr_in ua = addr_of(7001), ub = addr_of(7002);
    int a, b;

    if (size == 0 || size > 65536) {
        fprintf(stderr, "usage: bench_datapath [SIZE 1..65536] [ROUNDS]\n");
        return 2;
    }
    setenv("LIBOS", "catloop", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.0.0.1", 1);
    check(demi_init(&args), "demi_init");
    printf("# bench_datapath: catloop (in-process loopback device), batches of %u round trips, "
           "one round trip = 4 I/Os\n",
           BATCH);
    tcp_pair(&a, &b);
    run("tcp", a, b, size, rounds, NULL, NULL);
    if (size <= 1472) {
        udp_pair(&a, &b);
        run("udp", a, b, size, rounds, &ub, &ua);
    }
    return 0;
}
