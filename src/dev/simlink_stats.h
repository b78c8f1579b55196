/* SPDX-License-Identifier: MIT */
/*
 * simlink_stats.h: what the link itself (not the fault knobs) threw away, so
 * a test can account for every frame: frames that no Ethernet would carry,
 * frames nobody listens for, and copies lost for want of room. Meant to be
 * folded into simlink.h. Private header.
 */
#ifndef DEMI_DEV_SIMLINK_STATS_H
#define DEMI_DEV_SIMLINK_STATS_H

#include "dev/simlink.h"

#include <stdint.h>

struct simlink_stats {
    uint64_t runts;     /* frames shorter than an Ethernet header (14 B) */
    uint64_t oversize;  /* frames longer than the sender's MTU + 14 */
    uint64_t no_dest;   /* unicast frames whose MAC matches no other port */
    uint64_t nobuf;     /* frames or copies lost: the link's mem was empty */
    uint64_t overflow;  /* copies lost to a full receive queue (also the
                           sender's tx_full) */
};

const struct simlink_stats *simlink_link_stats(const struct simlink *l);

#endif /* DEMI_DEV_SIMLINK_STATS_H */
