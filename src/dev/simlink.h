/* SPDX-License-Identifier: MIT */
/*
 * simlink.h: an in-memory Ethernet segment joining two or more netdevs in one
 * process, for deterministic tests of the stack in virtual time.
 *
 * Every frame sent by one port is copied (as a wire would) to every other
 * port whose MAC matches the destination, or to all for broadcast/multicast
 * (a learning-free hub with MAC filtering). Faults are drawn from a seeded
 * PRNG, so a run is a pure function of its seed and the clock: loss,
 * duplication, corruption (one flipped byte), reordering (a frame held back
 * behind later ones), fixed delay plus jitter, and a rate limit (bytes/s,
 * serialisation delay). Every carried frame can be captured to a pcap file
 * (libpcap's dump API, DLT_EN10MB) that tcpdump and Wireshark read.
 * Private header.
 */
#ifndef DEMI_DEV_SIMLINK_H
#define DEMI_DEV_SIMLINK_H

#include "dev/fault.h"
#include "net/netdev.h"

#include <stdint.h>

struct simlink;

/* A link (ports are added with simlink_port, as many as needed) with
 * @queue_len frames queued per port (excess is dropped and counted as tx_full on the sender). Frames are
 * copied into buffers from @mem. */
struct simlink *simlink_create(struct mem *mem, const struct fault_params *faults, uint32_t queue_len);
void simlink_destroy(struct simlink *l);

/* Add a port with MAC @mac and IP MTU @mtu; the netdev lives until the link
 * is destroyed (its destroy op is a no-op). */
struct netdev *simlink_port(struct simlink *l, const uint8_t mac[ETH_ALEN], uint32_t mtu);

/* Capture every frame the link carries, as sent (before faults), to @path.
 * Returns 0 or an errno; the file is flushed and closed by simlink_destroy. */
int simlink_capture(struct simlink *l, const char *path);

/* Change the fault knobs mid-run (e.g. heal the link). */
void simlink_set_faults(struct simlink *l, const struct fault_params *faults);

const struct fault_stats *simlink_fault_stats(const struct simlink *l);

/* What the link itself dropped, apart from injected faults. */
struct simlink_stats {
    uint64_t runts;    /* frames shorter than an Ethernet header (14 B) */
    uint64_t oversize; /* frames longer than the sender's MTU + 14 */
    uint64_t no_dest;  /* unicast frames whose MAC matches no other port */
    uint64_t nobuf;    /* frames or copies lost: the link's mem was empty */
    uint64_t overflow; /* copies lost to a full receive queue (also the
                           sender's tx_full) */
};

const struct simlink_stats *simlink_link_stats(const struct simlink *l);

/* Earliest time a queued frame becomes deliverable, or UINT64_MAX. */
uint64_t simlink_next_delivery(const struct simlink *l);

#endif /* DEMI_DEV_SIMLINK_H */
