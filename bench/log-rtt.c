/* SPDX-License-Identifier: MIT */
/*
 * log-rtt: request latency of a durable log server, the client of
 * bench/storage.sh. It speaks examples/log-server's protocol (a request is
 * a u32 length and that many bytes; the answer, sent once the record is
 * durable, is the u32 length, the record's u64 sequence number and the
 * bytes again), so it measures log-server on any libOS and
 * bench/log-server-linux (the same protocol over kernel sockets and
 * write + fdatasync) alike.
 *
 *   log-rtt IP PORT [--size B] [--msgs N] [--warmup W] [--secs S]
 *   (64 B, 100000, 50, 3 s)
 *
 * One connection, TCP_NODELAY, one request in flight. log-rtt speaks over
 * plain Linux sockets (blocking); log-rtt-demi, built from this file with
 * LOG_RTT_DEMI, over libdemi's API on the libOS named by LIBOS (a client
 * for catnip, whose server no kernel socket reaches). Each round is timed
 * with CLOCK_MONOTONIC from just
 * before the request is written to the arrival of the answer's last byte.
 * Every answer is checked (length, the bytes echoed, sequence numbers
 * rising by one). W rounds of warm-up, then N rounds or S seconds,
 * whichever ends first. Output: "log-rtt: RESULT size=B msgs=N secs=S
 * per_s=X p50_ns=.. p99_ns=.. p999_ns=.. mean_ns=.. min_ns=.. max_ns=..".
 */
#define _POSIX_C_SOURCE 200809L
#include "rtt_common.h"

#ifdef LOG_RTT_DEMI
#include "demi_client.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_HDR 4u
#define REPLY_HDR 12u
#define MAX_SIZE 65536u

static const char usage[] = "usage: log-rtt IP PORT [--size B] [--msgs N] [--warmup W] [--secs S]";

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#ifdef LOG_RTT_DEMI
static const struct timespec io_timeout = {10, 0};

static demi_qresult_t wait_ok(demi_qtoken_t qt, const char *what)
{
    demi_qresult_t qr;
    int rc = demi_wait(&qr, qt, &io_timeout);

    if (rc == ETIMEDOUT)
        rtt_die("%s: no answer within 10 s", what);
    bench_check(rc, what);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        rtt_die("%s: %s", what, strerror((int)qr.qr_ret));
    return qr;
}

/* One push of the whole request. */
static void write_all(int qd, const uint8_t *p, size_t n)
{
    demi_sgarray_t sga = demi_sgaalloc(n);
    demi_qtoken_t qt;

    if (sga.sga_numsegs != 1)
        rtt_die("demi_sgaalloc(%zu) failed", n);
    memcpy(sga.sga_segs[0].sgaseg_buf, p, n);
    bench_check(demi_push(&qt, qd, &sga), "demi_push");
    wait_ok(qt, "push");
    demi_sgafree(&sga);
}

/* Pops until @n bytes are in; what a pop brings beyond them is kept for the
 * next call (one request in flight: never more than one answer). */
static void read_all(int qd, uint8_t *p, size_t n)
{
    static uint8_t left[REPLY_HDR + MAX_SIZE];
    static size_t nleft;

    while (n > 0) {
        if (nleft == 0) {
            demi_qtoken_t qt;
            bench_check(demi_pop(&qt, qd), "demi_pop");
            demi_qresult_t qr = wait_ok(qt, "pop");
            size_t got = qr.qr_value.sga.sga_segs[0].sgaseg_len;
            if (got == 0)
                rtt_die("read: the server closed the connection");
            if (got > sizeof(left))
                rtt_die("read: %zu bytes, more than one answer", got);
            memcpy(left, qr.qr_value.sga.sga_segs[0].sgaseg_buf, got);
            nleft = got;
            demi_sgafree(&qr.qr_value.sga);
        }
        size_t k = n < nleft ? n : nleft;
        memcpy(p, left, k);
        memmove(left, left + k, nleft - k);
        nleft -= k;
        p += k;
        n -= k;
    }
}

static int connect_to(const struct sockaddr_in *addr)
{
    struct demi_args args;

    memset(&args, 0, sizeof(args));
    bench_check(demi_init(&args), "demi_init");
    return bench_connect(addr, 10);
}
#else
static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rtt_die("write: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rtt_die("read: %s", r == 0 ? "the server closed the connection" : strerror(errno));
        p += r;
        n -= (size_t)r;
    }
}

/* A connection to @addr, retrying for about 5 s while it is refused (the
 * server may still be starting). */
static int connect_to(const struct sockaddr_in *addr)
{
    for (int tries = 0;; tries++) {
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            rtt_die("socket: %s", strerror(errno));
        if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        int err = errno;
        close(fd);
        if (err != ECONNREFUSED || tries == 50)
            rtt_die("connect: %s", strerror(err));
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
}
#endif

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    uint32_t size = 64, msgs = 100000, warmup = 50;
    double secs = 3;
    static uint8_t req[REQ_HDR + MAX_SIZE], rep[REPLY_HDR + MAX_SIZE];
    uint64_t *lat, seq0 = 0, deadline = 0, t_first = 0;
    uint32_t n = 0;
    int fd;

#ifdef LOG_RTT_DEMI
    rtt_prog = "log-rtt-demi";
#else
    rtt_prog = "log-rtt";
#endif
    if (argc < 3 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
        rtt_die("%s", usage);
    addr.sin_port = htons((uint16_t)rtt_parse_num(argv[2], "PORT", 1, 65535, usage));
    for (int i = 3; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--size") == 0)
            size = (uint32_t)rtt_parse_num(v, "--size", 1, MAX_SIZE, usage);
        else if (strcmp(argv[i], "--msgs") == 0)
            msgs = (uint32_t)rtt_parse_num(v, "--msgs", 1, 10000000, usage);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = (uint32_t)rtt_parse_num(v, "--warmup", 0, 10000000, usage);
        else if (strcmp(argv[i], "--secs") == 0)
            secs = (double)rtt_parse_num(v, "--secs", 1, 600, usage);
        else
            rtt_die("%s", usage);
    }
    lat = malloc(msgs * sizeof(*lat));
    if (!lat)
        rtt_die("out of memory");
    fd = connect_to(&addr);
    put32(req, size);
    for (uint64_t k = 0;; k++) {
        if (k == warmup) {
            t_first = rtt_now_ns();
            deadline = t_first + (uint64_t)(secs * 1e9);
        }
        if (k >= warmup && (n == msgs || rtt_now_ns() >= deadline))
            break;
        for (uint32_t i = 0; i < size; i++)
            req[REQ_HDR + i] = rtt_pattern(k, i);
        uint64_t t0 = rtt_now_ns();
        write_all(fd, req, REQ_HDR + size);
        read_all(fd, rep, REPLY_HDR);
        uint32_t len = (uint32_t)get_le(rep, 4);
        uint64_t seq = get_le(rep + 4, 8);
        if (len == 0)
            rtt_die("request %llu refused by the server: %s", (unsigned long long)k, strerror((int)seq));
        if (len != size)
            rtt_die("answer of %u bytes to a request of %u", len, size);
        read_all(fd, rep + REPLY_HDR, len);
        uint64_t t1 = rtt_now_ns();
        if (memcmp(rep + REPLY_HDR, req + REQ_HDR, size) != 0)
            rtt_die("answer %llu does not echo its request", (unsigned long long)k);
        if (k == 0)
            seq0 = seq;
        else if (seq != seq0 + k)
            rtt_die("sequence number %llu after %llu", (unsigned long long)seq, (unsigned long long)(seq0 + k - 1));
        if (k >= warmup)
            lat[n++] = t1 - t0;
    }
    double s = (double)(rtt_now_ns() - t_first) / 1e9;
#ifdef LOG_RTT_DEMI
    demi_close(fd);
#else
    close(fd);
#endif
    if (n == 0)
        rtt_die("no measured round");
    printf("%s: RESULT size=%u msgs=%u secs=%.3f per_s=%.0f ", rtt_prog, size, n, s, n / s);
    rtt_print_stats(lat, n);
    free(lat);
    return 0;
}
