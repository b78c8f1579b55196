/* SPDX-License-Identifier: MIT */
/* inet.h: what tests and tools may reach of the inet libOS. Private header. */
#ifndef DEMI_LIBOS_INET_H
#define DEMI_LIBOS_INET_H

struct libos;
struct inet_stack;
struct netdev;

struct demi_config;

#include <stdbool.h>

/* The inet libOS over @dev (ownership moves to it; destroyed on failure
 * too), without the extras of inet_libos_create; @harness: a cattest
 * instance (virtual time, harness calls allowed). For inet_devices.c. */
int inet_create(const struct demi_config *cfg, struct netdev *dev, bool harness, struct libos **out);

/* Start the inet libOS over @dev, whose ownership moves to the libOS (it is
 * destroyed on failure too): how catpowder (and later catnip) are built. */
int inet_libos_create(const struct demi_config *cfg, struct netdev *dev, struct libos **out);

/* The stack behind an inet libOS (catloop, catnip, catpowder). */
struct inet_stack *inet_libos_stack(struct libos *los);

/* The same, or NULL when @los is no inet libOS (catnap, catmem) or NULL. */
struct inet_stack *inet_libos_stack_of(struct libos *los);

/* The TCP pcb behind queue @q of an inet libOS, or NULL (not TCP, not
 * inet). For the harness and tests. */
struct queue;
struct tcp_pcb *inet_libos_tcp_pcb(struct queue *q);

/* The queue an application holds for @pcb, or NULL (detached, or a child
 * not accepted yet). */
const struct queue *inet_pcb_queue(const struct tcp_pcb *pcb);

/* The scriptdev of a LIBOS=cattest instance, or NULL for any other libOS. */
struct netdev *inet_libos_harness_dev(struct libos *los);

#endif /* DEMI_LIBOS_INET_H */
