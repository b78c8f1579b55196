/* SPDX-License-Identifier: MIT */
/* drop_hints.h: warnings that name a drop's likely cause (drop_hints.c).
 * Private header. */
#ifndef DEMI_NET_DROP_HINTS_H
#define DEMI_NET_DROP_HINTS_H

#include <stdbool.h>
#include <stdint.h>

enum inet_hint {
    INET_HINT_CSUM = 0,  /* bad checksums: addr = source, n = protocol (0: IPv4 header) */
    INET_HINT_MAC,       /* unicast frames for another MAC: mac = destination */
    INET_HINT_IP,        /* packets for another address: addr = destination */
    INET_HINT_ARP,       /* a resolution given up: addr, n = requests sent */
    INET_HINT_UDP_QUEUE, /* a full UDP receive queue: n = port (host order) */
    INET_HINT_TX_FULL,   /* the transmit queues full: n = libdemi's queue length */
    INET_HINT_KINDS
};

struct inet_hint_state {
    uint32_t count;    /* drops in the current run */
    uint64_t first_ns; /* when the run began: a run is drops within HINT_RUN_NS */
    bool warned;
    uint64_t last_ns;
};

struct inet_stack;

/* Count a drop of kind @h; warn when the kind has enough of them. */
void inet_hint_slow(struct inet_stack *s, enum inet_hint h, uint32_t addr, const uint8_t *mac, uint32_t n)
    __attribute__((cold));

#define inet_hint(s, h, addr, mac, n) inet_hint_slow((s), (h), (addr), (mac), (n))

#endif /* DEMI_NET_DROP_HINTS_H */
