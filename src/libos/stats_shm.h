/* SPDX-License-Identifier: MIT */
/*
 * stats_shm.h: a running process's statistics in shared memory, for
 * demi-stat (tools/demi-stat.c). One segment per process,
 * /dev/shm/demi-stats-PID, written only by that process from its poll loop
 * (no lock, no syscall on the datapath: the counters are copied every
 * STATS_SHM_COUNTERS_NS, the connection table rebuilt every
 * STATS_SHM_CONNS_NS) and read by anyone allowed to. A sequence number
 * (odd while writing) lets a reader take a consistent copy. The layout is
 * versioned: STATS_SHM_LAYOUT changes with the counter list, and demi-stat
 * refuses a segment of another layout. Private header.
 */
#ifndef DEMI_LIBOS_STATS_SHM_H
#define DEMI_LIBOS_STATS_SHM_H

#include "core/latency.h"
#include "net/stats.h"

#include <stdint.h>

#define STATS_SHM_MAGIC 0x54415453494d4544ull /* "DEMISTAT" */
#define STATS_SHM_VERSION 1u
#define STATS_SHM_PREFIX "demi-stats-"
#define STATS_SHM_MAX_CONNS 4096u
#define STATS_SHM_COUNTERS_NS 10000000ull /* 10 ms */
#define STATS_SHM_CONNS_NS 100000000ull   /* 100 ms */

/* One connection (or listener): what `ss -ti` would show. Addresses and
 * ports in network order. */
struct stats_conn {
    uint8_t state; /* enum tcp_state */
    uint8_t pad[3];
    uint32_t local_ip, remote_ip;
    uint16_t local_port, remote_port;
    uint32_t sndq, rcvq;     /* bytes queued to send (unacked included), received unread */
    uint32_t cwnd, ssthresh; /* bytes */
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t rexmt; /* consecutive timeouts now */
    uint32_t mss;
    uint32_t backlog_syn, backlog_ready; /* listeners: half-open, to accept */
    /* The queue's op latencies (latency.h): upper bounds of the buckets
     * holding the median and the 99th percentile, ns; 0 = no op yet. */
    uint64_t push_n, pop_n;
    uint32_t push_p50_ns, push_p99_ns, pop_p50_ns, pop_p99_ns;
};

struct stats_pool {
    uint32_t count, in_use;
};

struct stats_shm {
    uint64_t magic;
    uint32_t version;
    uint32_t layout; /* hash of the counter names: stats_shm_layout() */
    int32_t pid;
    uint32_t ip; /* our IPv4 address, network order */
    char libos[16];
    char dev[32];
    uint64_t start_real_ns;   /* CLOCK_REALTIME at creation */
    uint64_t updated_real_ns; /* at the last publication */
    uint64_t mono_ns;         /* the stack's clock then: rates divide by its deltas */
    volatile uint32_t seq;    /* odd while the process writes */
    uint32_t ncounters;       /* INET_STATS entries */
    struct inet_stats stats;
    struct stats_pool pools[3]; /* small, large, huge */
    uint32_t qds_used, ops_used, ops_done;
    struct lat_hist lat[LAT_KINDS]; /* every queue's push, pop, accept, connect */
    uint32_t nconns;                /* rows below */
    uint32_t nconns_total;          /* connections that exist (more than rows: truncated) */
    uint32_t pad;
    /* Control: the one part demi-stat writes (demi-stat --pcap). It writes
     * pcap_path ("" to stop), then bumps pcap_req; the process acts at its
     * next publication and sets pcap_ack to pcap_req, pcap_result to 0 or
     * an errno, pcap_on to whether it captures. */
    char pcap_path[256];
    volatile uint32_t pcap_req, pcap_ack;
    int32_t pcap_result;
    uint32_t pcap_on;
    uint64_t pcap_frames; /* written by the running capture */
    struct stats_conn conns[STATS_SHM_MAX_CONNS];
};

/* FNV-1a of every counter name, in order: two builds agree on the layout
 * exactly when they list the same counters. */
uint32_t stats_shm_layout(void);

struct inet_stack;
struct stats_publisher;
struct tcp_pcb;

/* The table row of @pcb (for the publisher, and tests). */
void stats_conn_row(struct stats_conn *r, const struct tcp_pcb *pcb);

/* Create /dev/shm/demi-stats-PID for @s (NULL, logged, when it cannot be
 * made: statistics are never worth failing demi_init for). */
struct stats_publisher *stats_shm_create(struct inet_stack *s, const char *libos, const char *dev,
                                         uint32_t pcap_snaplen, uint64_t pcap_max_bytes);

/* From the poll loop: publish when due. Cheap when not due (one compare). */
void stats_shm_poll(struct stats_publisher *p, uint64_t now_ns);

/* Unmap and remove the segment. */
void stats_shm_destroy(struct stats_publisher *p);

#endif /* DEMI_LIBOS_STATS_SHM_H */
