/* SPDX-License-Identifier: MIT */
/*
 * fault.h: injected faults. The knobs (loss, duplication, corruption,
 * reordering, delay, jitter, rate) and what they did, shared by the
 * simulated link (simlink.h, per destination port) and fault_wrap, the same
 * faults on transmit around any netdev, real or simulated (fault.c; the
 * configuration's fault.* keys). The machinery behind both is
 * fault_stage.h. Private header.
 */
#ifndef DEMI_DEV_FAULT_H
#define DEMI_DEV_FAULT_H

#include "net/netdev.h"

#include <stdint.h>

struct mem;

/* Fault knobs: probabilities in parts per million. All zero = perfect wire. */
struct fault_params {
    uint64_t seed;
    uint32_t loss_ppm;
    uint32_t dup_ppm;
    uint32_t corrupt_ppm;
    uint32_t reorder_ppm;
    uint64_t delay_ns;  /* fixed one-way delay */
    uint64_t jitter_ns; /* extra delay drawn uniformly in [0, jitter] */
    uint64_t rate_bps;  /* bytes per second; 0 = unlimited */
};

/* What the faults did, so tests can account for every frame exactly. */
struct fault_stats {
    uint64_t offered; /* frames given to the fault stage */
    uint64_t dropped;
    uint64_t duplicated;
    uint64_t corrupted;
    uint64_t reordered;
    uint64_t delivered; /* frames handed on (duplicates included) */
};

/*
 * fault_wrap: the same faults around any netdev (real or simulated), applied
 * on transmit, for integration tests over real devices. The wrapper owns
 * @inner and destroys it with itself.
 */
struct netdev *fault_wrap(struct netdev *inner, struct mem *mem, const struct fault_params *faults);
const struct fault_stats *fault_wrap_stats(const struct netdev *wrapped);

#endif /* DEMI_DEV_FAULT_H */
