/* SPDX-License-Identifier: MIT */
/**
 * @file demi/stats.h
 * libdemi extension: the statistics of this process's stack, for programs
 * that want them (demi-stat reads the same from outside the process).
 *
 * Counters are those of libdemi's TCP/IP stack (the inet libOSes: catnip,
 * catpowder, catloop), one per event or drop cause, by name (e.g.
 * "tcp_rx", "tcp_rexmt", "ipv4_drop_martian"; `demi-stat -a PID` lists
 * them with a line of help). Latency histograms exist on every libOS: the
 * time from each push, pop, accept and connect call to its completion.
 *
 * Every call returns 0 or a positive errno; EPERM before demi_init.
 */
#ifndef DEMI_STATS_H_IS_INCLUDED
#define DEMI_STATS_H_IS_INCLUDED

#include <demi/types.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Buckets of a latency histogram: bucket i counts the operations that
 *  took [2^i, 2^(i+1)) nanoseconds (bucket 0 also 0 and 1 ns); the last
 *  bucket also holds everything longer. */
#define DEMI_STATS_LAT_BUCKETS 40

/**
 * The counter called @p name.
 * @return 0; ENOENT for a name that is no counter; ENOTSUP when the
 * network libOS has no stack of its own (catnap, catmem alone); EINVAL for
 * NULL.
 */
int demi_stats_counter(const char *name, uint64_t *value);

/**
 * The names of every counter, in a fixed order: up to @p cap pointers to
 * static strings in @p names (NULL with @p cap 0 only counts), their number
 * in @p count.
 * @return 0; EINVAL for a NULL @p count, or NULL @p names with @p cap > 0.
 */
int demi_stats_names(const char **names, size_t cap, size_t *count);

/**
 * The latency histogram of the operations of kind @p opcode
 * (DEMI_OPC_PUSH, DEMI_OPC_POP, DEMI_OPC_ACCEPT or DEMI_OPC_CONNECT) on
 * queue @p qd, or on every queue together when @p qd is -1: counts by
 * bucket into @p buckets (DEMI_STATS_LAT_BUCKETS of them).
 * @return 0; EBADF for an unknown qd; EINVAL for another opcode or NULL.
 */
int demi_stats_latency(int qd, demi_opcode_t opcode, uint64_t *buckets);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_STATS_H_IS_INCLUDED */
