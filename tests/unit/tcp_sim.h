/* SPDX-License-Identifier: MIT */
/*
 * tcp_sim.h: two inetstacks, A (10.0.0.1, 2001:db8::1) and B (10.0.0.2,
 * 2001:db8::2), over a simlink
 * in virtual time, for the TCP tests that drive tcp_* directly
 * (test_tcp_rx_path, test_tcp_timer, test_tcp_tso). A test may put a
 * device of its own in front of either port (a frame tap, a segmenting
 * device). tcp_sim_stop asserts that every pcb and buffer came back.
 */
#ifndef DEMI_TESTS_TCP_SIM_H
#define DEMI_TESTS_TCP_SIM_H

#include "core/clock.h"
#include "dev/simlink.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <stdbool.h>
#include <stdint.h>

#define SEC 1000000000ull
#define MS 1000000ull
#define US 1000ull

extern const uint8_t tcp_sim_mac_a[6], tcp_sim_mac_b[6];
/* Their IPv6 addresses, 2001:db8::1 and 2001:db8::2 (resolved by ND). */
extern const struct in6_addr tcp_sim_ip6_a, tcp_sim_ip6_b;

struct tcp_sim {
    struct mem mem;
    struct simlink *link;
    struct fault_params f; /* the link's faults (tcp_sim_blackhole changes them) */
    struct inet_stack a, b;
};

/* The device of stack @side (0: A, 1: B): @port (the simlink's) or one the
 * test puts in front of it. */
typedef struct netdev *(*tcp_sim_wrap_fn)(struct tcp_sim *s, int side, struct netdev *port, void *arg);

/* Start both stacks with @p (its ip is set per stack; a zero
 * tcp.isn_key_seed becomes @f's seed, so runs repeat) over a link with
 * faults @f and MTU @mtu. @wrap, if any, gives each stack's device. */
void tcp_sim_start(struct tcp_sim *s, const struct fault_params *f, const struct inet_params *p, uint32_t mtu,
                   tcp_sim_wrap_fn wrap, void *wrap_arg);

/* Stop both stacks: no pcb, no buffer may be left; back to real time. */
void tcp_sim_stop(struct tcp_sim *s);

/* Poll both stacks; when idle, jump the clock to the next event (a timer,
 * possibly a stale one, or a delivery), at most 1 s. */
void tcp_sim_step(struct tcp_sim *s);

/* Connect A to B's @port: the two pcbs, owned by @owner_a and @owner_b
 * with @upcall, once both are established (bounded). */
void tcp_sim_connect(struct tcp_sim *s, uint16_t port, tcp_upcall_fn upcall, void *owner_a, void *owner_b,
                     struct tcp_pcb **pa, struct tcp_pcb **pb);

/* The link drops everything (@on) or nothing. */
void tcp_sim_blackhole(struct tcp_sim *s, bool on);

#endif /* DEMI_TESTS_TCP_SIM_H */
