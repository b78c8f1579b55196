/* SPDX-License-Identifier: MIT */
/*
 * soak_counts.h: what a libdemi process holds, counted from the inside, for
 * the soak and SYN-flood tests (demi-soak.c on catloop, demi-soak-server.c
 * on catpowder): buffers in use per pool, TCP pcbs, the listeners' SYN and
 * accept counts (checked against the lengths of their queues), queue
 * descriptors, ops, armed timers, ARP resolutions pending and the packets
 * waiting behind them, frames waiting for the device. A snapshot at start
 * and one after every connection has ended must agree.
 *
 * Links libdemi's internals (the static archive), as tests/unit does.
 */
#ifndef DEMI_TESTS_SOAK_COUNTS_H
#define DEMI_TESTS_SOAK_COUNTS_H

#include <demi/types.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct inet_stack;

/* One entry per count, in the order they are printed. */
#define SOAK_COUNTS(X)                                                        \
    X(pool_small, "2 KiB buffers in use")                                     \
    X(pool_large, "64 KiB buffers in use")                                    \
    X(pool_huge, "1 MiB buffers in use")                                      \
    X(pool_slice, "slice headers in use")                                     \
    X(pool_extra, "buffers in use in extra pools")                            \
    X(tcp_pcbs, "TCP pcbs allocated (s->tcp.npcbs)")                          \
    X(tcp_pcbs_hashed, "TCP pcbs in the connection and listener hashes")      \
    X(listen_syn, "listeners' SYN counts, summed")                            \
    X(listen_accept, "listeners' accept counts, summed")                      \
    X(listen_bad, "listeners whose counts differ from their queues' lengths") \
    X(qds, "queue descriptors open")                                          \
    X(ops, "ops allocated (pending or completed, not yet waited for)")        \
    X(ops_done, "ops completed, not yet waited for")                          \
    X(timers, "armed timers other than ARP cache expiry")                     \
    X(arp_pending, "ARP resolutions pending")                                 \
    X(arp_pending_pkts, "packets waiting for an ARP resolution")              \
    X(tx_queued, "frames waiting for the device")

struct soak_counts {
#define SOAK_COUNTS_FIELD(name, help) uint64_t name;
    SOAK_COUNTS(SOAK_COUNTS_FIELD)
#undef SOAK_COUNTS_FIELD
    /* Informational, never compared: they come and go with the cache. */
    uint64_t arp_cached;   /* resolved or static entries */
    uint32_t by_state[11]; /* hashed pcbs per enum tcp_state */
};

/*
 * How many fewer small buffers than at start still count as "back": set by
 * soak_counts_take for catpowder over AF_XDP, whose driver lends UMEM frames
 * (the small class) to the kernel's fill ring and tops the ring up only 32
 * at a time, so up to 31 frames fewer may be out at rest. More than at start
 * is always a leak.
 */
extern uint64_t soak_pool_small_allow_below;

/* Counts of the running libdemi (demi_init done, LIBOS an inet libOS). */
void soak_counts_take(struct soak_counts *c);

/* The inet stack of this process (catloop, catpowder, catnip). */
struct inet_stack *soak_stack(void);

/* Whether @now is back at @start: every compared count equal. */
bool soak_counts_equal(const struct soak_counts *start, const struct soak_counts *now);

/* "name start -> end" for every count, one per line prefixed by @prefix;
 * when @final, those that differ are marked "LEAK" and the pcbs per state
 * follow. */
void soak_counts_print(FILE *out, const char *prefix, const struct soak_counts *start, const struct soak_counts *end,
                       bool final);

/* The names of the counts that differ, comma-separated, into @buf. */
void soak_counts_diff(const struct soak_counts *start, const struct soak_counts *end, char *buf, size_t cap);

/* One line about each listener: port, SYN and accept counts against the
 * lengths of their queues. Returns how many disagree. */
int soak_listeners_print(FILE *out, const char *prefix);

/* Run the stack until the counts equal @want (see soak_counts_equal) or
 * @timeout_s pass, handing each completion to @handle (may be NULL); one it
 * does not take is dropped (a popped buffer freed). True when equal; @now
 * holds the last counts. */
bool soak_drain(const struct soak_counts *want, double timeout_s, bool (*handle)(demi_qresult_t *qr),
                struct soak_counts *now);

/* CLOCK_MONOTONIC, seconds. */
double soak_now_s(void);

struct tcp_pcb;

/* One line about @pcb (state, sequence numbers relative to the ISNs,
 * queues, RTO, timers): what a stalled connection was doing. */
void soak_pcb_describe(FILE *out, const char *prefix, const struct tcp_pcb *pcb);

/* soak_pcb_describe of every connection still in the stack (at most
 * @max), listeners left out. */
void soak_pcbs_describe(FILE *out, const char *prefix, int max);

/* Allocation failures of each buffer pool ("small N, large N, ..."). */
void soak_pool_failures(char *buf, size_t cap);

/* Every counter of the stack ("  name value help" lines, inet_stats_print). */
void soak_stats_print(FILE *out);

#endif /* DEMI_TESTS_SOAK_COUNTS_H */
