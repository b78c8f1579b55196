/* SPDX-License-Identifier: MIT */
/* rtt_common.c: see rtt_common.h. */
#define _POSIX_C_SOURCE 200809L
#include "rtt_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *rtt_prog = "rtt";

void rtt_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s: ", rtt_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

uint64_t rtt_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rtt_parse_num(const char *s, const char *what, uint64_t min, uint64_t max, const char *usage)
{
    char *end;
    unsigned long long v;

    if (s == NULL)
        rtt_die("%s needs a value\n%s", what, usage);
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
        rtt_die("bad %s '%s' (expected %llu..%llu)", what, s, (unsigned long long)min, (unsigned long long)max);
    return v;
}

void rtt_parse(int argc, char **argv, struct rtt_opts *o, const char *usage, unsigned extra)
{
    int proto_given = 0;

    memset(o, 0, sizeof(*o));
    o->size = 64;
    o->msgs = 10000;
    o->warmup = 1000;
    if (argc < 4)
        rtt_die("%s", usage);
    if (strcmp(argv[1], "--server") == 0)
        o->server = 1;
    else if (strcmp(argv[1], "--client") != 0)
        rtt_die("%s", usage);
    o->addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[2], &o->addr.sin_addr) != 1)
        rtt_die("bad IPv4 address '%s'", argv[2]);
    o->addr.sin_port = htons((uint16_t)rtt_parse_num(argv[3], "PORT", 1, 65535, usage));
    for (int i = 4; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if ((extra & RTT_OPT_BUSY) && strcmp(opt, "--busy-poll") == 0) {
            o->busy = 1;
            continue;
        }
        if (strcmp(opt, "--proto") == 0) {
            if (val == NULL || (strcmp(val, "tcp") != 0 && strcmp(val, "udp") != 0))
                rtt_die("--proto tcp|udp");
            o->udp = strcmp(val, "udp") == 0;
            proto_given = 1;
        } else if (strcmp(opt, "--size") == 0) {
            o->size = (uint32_t)rtt_parse_num(val, "--size", 1, RTT_MAX_SIZE, usage);
        } else if (strcmp(opt, "--msgs") == 0) {
            o->msgs = (uint32_t)rtt_parse_num(val, "--msgs", 1, 100000000, usage);
        } else if (strcmp(opt, "--warmup") == 0) {
            o->warmup = (uint32_t)rtt_parse_num(val, "--warmup", 0, 100000000, usage);
        } else if ((extra & RTT_OPT_BULK) && strcmp(opt, "--bulk") == 0) {
            o->bulk = rtt_parse_num(val, "--bulk", 1, (uint64_t)1 << 40, usage);
        } else {
            rtt_die("unknown option '%s'\n%s", opt, usage);
        }
        i++; /* the value */
    }
    if (!proto_given)
        rtt_die("--proto is required\n%s", usage);
    if (o->udp && o->size > 65507)
        rtt_die("--size: a UDP datagram carries at most 65507 bytes");
    if (o->udp && o->bulk)
        rtt_die("--bulk is TCP only");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with >= permille/1000 of them at or below. */
static uint64_t pct(const uint64_t *v, size_t n, unsigned permille)
{
    size_t rank = (size_t)(((uint64_t)n * permille + 999) / 1000);

    return v[rank < 1 ? 0 : rank - 1];
}

void rtt_print_stats(uint64_t *v, size_t n)
{
    double sum = 0;

    qsort(v, n, sizeof(*v), cmp_u64);
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    printf("p50_ns=%llu p99_ns=%llu p999_ns=%llu mean_ns=%.0f min_ns=%llu max_ns=%llu\n",
           (unsigned long long)pct(v, n, 500), (unsigned long long)pct(v, n, 990), (unsigned long long)pct(v, n, 999),
           sum / (double)n, (unsigned long long)v[0], (unsigned long long)v[n - 1]);
}
