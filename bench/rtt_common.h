/* SPDX-License-Identifier: MIT */
/*
 * rtt_common.h: what demi-rtt (libdemi's API) and linux-rtt (plain
 * sockets) share, so the two sides of every comparison in make bench take
 * the same arguments, send the same bytes and report the same statistics.
 */
#ifndef DEMI_BENCH_RTT_COMMON_H
#define DEMI_BENCH_RTT_COMMON_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define RTT_MAX_SIZE (1u << 20)

struct rtt_opts {
    int server;
    int udp;
    int busy; /* linux-rtt --busy-poll */
    struct sockaddr_in addr;
    uint32_t size, msgs, warmup;
    uint64_t bulk; /* demi-rtt --bulk BYTES */
};

/* Extra options a tool accepts besides --proto --size --msgs --warmup. */
#define RTT_OPT_BULK 0x1 /* --bulk BYTES */
#define RTT_OPT_BUSY 0x2 /* --busy-poll */

/* "demi-rtt", "linux-rtt": prefixes every message. */
extern const char *rtt_prog;

void rtt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t rtt_now_ns(void);

/* --server|--client IP PORT --proto tcp|udp [options]: dies with @usage on
 * anything else. */
void rtt_parse(int argc, char **argv, struct rtt_opts *o, const char *usage, unsigned extra);
/* The unsigned decimal @s, in [@min, @max], or exit naming @what (and
 * printing @usage when @s is missing). */
uint64_t rtt_parse_num(const char *s, const char *what, uint64_t min, uint64_t max, const char *usage);

/* Byte @off of the message of round @round (both tools send the same). */
static inline uint8_t rtt_pattern(uint64_t round, uint64_t off)
{
    return (uint8_t)(round * 151u + off + (off >> 8) * 7u);
}

/* Sort @v (@n samples, ns) and print "p50_ns=.. p99_ns=.. p999_ns=..
 * mean_ns=.. min_ns=.. max_ns=.." (nearest-rank percentiles) and a newline. */
void rtt_print_stats(uint64_t *v, size_t n);

#endif /* DEMI_BENCH_RTT_COMMON_H */
