/* SPDX-License-Identifier: MIT */
/*
 * cattree.h: what the runtime knows of the storage libOS: its counters'
 * names (<demi/stats.h> lists them in every build). Private header.
 */
#ifndef DEMI_LIBOS_CATTREE_H
#define DEMI_LIBOS_CATTREE_H

/* The storage counters: name, help. */
#define TREE_STATS(X)                                                                 \
    X(cattree_appends, "records appended and acknowledged")                           \
    X(cattree_append_bytes, "payload bytes of those records")                         \
    X(cattree_writes, "group writes submitted (each one device flush)")               \
    X(cattree_zero_copy, "records written from the application's buffer, not copied") \
    X(cattree_pops, "records popped")                                                 \
    X(cattree_pop_bytes, "payload bytes of those records")                            \
    X(cattree_torn_records, "records found torn when a log was opened")               \
    X(cattree_stale_records, "earlier epochs' records found after a log's end")       \
    X(cattree_write_errors, "writes that failed (the log then fails every push)")     \
    X(cattree_read_errors, "reads that failed")                                       \
    X(cattree_preallocs, "fallocate calls that grew a log")

#endif /* DEMI_LIBOS_CATTREE_H */
