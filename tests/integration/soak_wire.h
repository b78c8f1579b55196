/* SPDX-License-Identifier: MIT */
/*
 * soak_wire.h: what the wire does to demi-soak's catloop stack: a seeded
 * PRNG, a wrapper in front of the loopback device's transmit side that
 * loses, duplicates (a copy) or holds back (behind the next frame) what the
 * stack sends while switched on, and SYNs fed to the stack as if they came
 * from the wire (random on-link sources, one in 32 a martian). Reaches
 * libdemi's internals (struct inet_stack's device, eth_input).
 */
#ifndef DEMI_TESTS_SOAK_WIRE_H
#define DEMI_TESTS_SOAK_WIRE_H

#include <stdbool.h>
#include <stdint.h>

struct inet_stack;

struct soak_wire_stats {
    uint64_t offered, dropped, duplicated, reordered; /* frames the stack sent */
    uint64_t syns, syns_martian;                      /* SYNs fed to it */
};

void soak_rng_seed(uint64_t seed);
uint64_t soak_rnd(void);
uint64_t soak_rnd_range(uint64_t lo, uint64_t hi); /* [lo, hi] */

/* Put the wrapper in front of @s's device, faults off: when on, each frame
 * is lost with @loss_ppm, duplicated with half that, held back with it. */
void soak_wire_install(struct inet_stack *s, uint32_t loss_ppm);
void soak_wire_faults(bool on);
/* Give @s its device back (a frame held back is dropped). */
void soak_wire_remove(struct inet_stack *s);

/* A SYN with an MSS option to @dport of @s, as received from the wire. */
void soak_syn_inject(struct inet_stack *s, uint16_t dport);

const struct soak_wire_stats *soak_wire_stats(void);

#endif /* DEMI_TESTS_SOAK_WIRE_H */
