/* SPDX-License-Identifier: MIT */
/*
 * nd6.h: IPv6 Neighbor Discovery (RFC 4861) for on-link resolution, and
 * Duplicate Address Detection of our addresses (RFC 4862 5.4).
 *
 * The neighbor cache mirrors ARP's (arp.h): a fixed array of entries, hashed,
 * no allocation on the datapath; entries never leave the array, so a route
 * cache pointer (nd6_output_via) is at worst a miss. Each entry runs the
 * Neighbor Unreachability Detection states of RFC 4861 7.3.2:
 *
 *   INCOMPLETE  multicast NS sent, packets wait (ND6_PENDING_MAX, more are
 *               dropped and counted); ND6_MAX_MULTICAST_SOLICIT NS, then given
 *               up and the waiting packets freed (nd6_drop_pending)
 *   REACHABLE   confirmed by a solicited NA; after ND6_REACHABLE_NS: STALE
 *   STALE       usable; the first packet sent moves it to DELAY; idle for
 *               ND6_STALE_GC_NS it is dropped
 *   DELAY       ND6_DELAY_NS for upper-layer confirmation (none yet: TCP
 *               does not report progress), then PROBE
 *   PROBE       unicast NS every ND6_RETRANS_NS, ND6_MAX_UNICAST_SOLICIT
 *               of them, then the entry is dropped
 *
 * No routers: every destination is taken as on-link (RFC 4861 5.2's
 * "on-link" determination without prefixes or a default router). Router
 * advertisements, solicitations and redirects are counted and ignored.
 *
 * What the wire may change: RFC 4861 7.2.3-7.2.5 as written (a neighbor's NS
 * with a new link-layer address makes its entry STALE with that address, an
 * NA without the override flag does not replace a known one). Only NS for
 * our addresses and NA for entries we have create or change anything.
 * Private header.
 */
#ifndef DEMI_NET_ND6_H
#define DEMI_NET_ND6_H

#include "core/limits.h" /* ND6_MAX_ENTRIES, ND6_BUCKETS, ND6_PENDING_MAX */
#include "core/list.h"
#include "core/timer.h"
#include "mem/dbuf.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* RFC 4861 10, protocol constants (the host ones). */
#define ND6_MAX_MULTICAST_SOLICIT 3
#define ND6_MAX_UNICAST_SOLICIT 3
#define ND6_RETRANS_NS 1000000000ull    /* RETRANS_TIMER */
#define ND6_REACHABLE_NS 30000000000ull /* REACHABLE_TIME (no randomisation: one host) */
#define ND6_DELAY_NS 5000000000ull      /* DELAY_FIRST_PROBE_TIME */
#define ND6_STALE_GC_NS 120000000000ull /* an idle STALE entry goes (Linux: gc_stale_time 60 s) */
#define ND6_DAD_TRANSMITS 1             /* RFC 4862 5.1 DupAddrDetectTransmits */

/* Usable for output: ND6_REACHABLE and above. */
enum nd6_state { ND6_FREE = 0, ND6_INCOMPLETE, ND6_REACHABLE, ND6_STALE, ND6_DELAY, ND6_PROBE };

struct inet_stack;
struct ipv6_rx;

struct nd6_entry {
    struct list_node hash_link;
    struct list_node incomplete_link; /* on nd6_table.incomplete while INCOMPLETE */
    struct in6_addr ip;
    uint8_t mac[6];
    uint8_t state;      /* enum nd6_state */
    uint8_t tries_left; /* NS still to send while INCOMPLETE or PROBE */
    struct timer timer;
    struct dbuf *pending[ND6_PENDING_MAX]; /* IPv6 packets, no Ethernet header */
    uint8_t npending;
    struct inet_stack *stack;
};

struct nd6_table {
    struct list_node buckets[ND6_BUCKETS];
    struct list_node incomplete; /* oldest first: evicted first when full */
    struct nd6_entry *entries;   /* ND6_MAX_ENTRIES */
    struct nd6_entry **free;
    uint32_t nfree;
};

int nd6_init(struct inet_stack *s);
void nd6_fini(struct inet_stack *s);

/* Send IPv6 packet @d (IPv6 header in front) to next hop @nh: at once when
 * the entry is usable or @nh is multicast, else queued behind an NS. Takes
 * the reference. */
void nd6_output(struct inet_stack *s, struct dbuf *d, const struct in6_addr *nh);

/* nd6_output for a flow that caches its entry in *@route (NULL at first), as
 * arp_output_via. */
void nd6_output_via(struct inet_stack *s, struct dbuf *d, const struct in6_addr *nh, struct nd6_entry **route);

/* An NS or NA (type) whose ICMPv6 checksum icmp6_input verified: @d at the
 * ICMPv6 header. Takes the reference. */
void nd6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx);

/* Start DAD of our address @idx (ipv6.h, IP6_ADDR_*), or mark it usable at
 * once when DAD is off. */
void nd6_dad_start(struct inet_stack *s, int idx);

/* The entry of @ip, or NULL (tests, tools). */
const struct nd6_entry *nd6_lookup(struct inet_stack *s, const struct in6_addr *ip);

#endif /* DEMI_NET_ND6_H */
