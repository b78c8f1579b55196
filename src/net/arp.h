/* SPDX-License-Identifier: MIT */
/*
 * arp.h: ARP for IPv4 over Ethernet (RFC 826): a cache with TTL, request
 * retries with a timeout, permanent entries from the configuration, and a
 * bounded queue of packets waiting for each resolution.
 *
 * What the wire may change (docs/reliability.md): an entry is created only
 * by a reply to our request or by a request addressed to us; a resolved
 * entry's MAC is never overwritten by an unsolicited reply or a gratuitous
 * ARP (a peer that moves is learned again when its entry expires); a
 * packet claiming our own address is a conflict (RFC 5227 2.4), counted and
 * logged, never learned. A full table evicts its oldest unresolved entry,
 * never a resolved one.
 *
 * An entry that reaches its TTL while in use is not dropped: it stays in
 * use while a unicast request to its MAC re-confirms it (RFC 1122 2.3.2.1
 * "unicast poll", Linux's STALE/PROBE), and is dropped only when no answer
 * comes after all retries. Dropping it at once would stop all traffic to a
 * busy peer for a resolution, and a flood of half-open connections to
 * unresolvable addresses evicts pending resolutions: the peer would be cut
 * off for as long as the flood lasts. An entry unused for a TTL goes.
 * Private header.
 */
#ifndef DEMI_NET_ARP_H
#define DEMI_NET_ARP_H

#include "core/limits.h" /* ARP_MAX_ENTRIES, ARP_BUCKETS, ARP_PENDING_MAX */
#include "core/list.h"
#include "core/timer.h"
#include "mem/dbuf.h"

#include <stdbool.h>
#include <stdint.h>

/* Usable for output: ARP_RESOLVED and above. */
enum arp_state { ARP_FREE = 0, ARP_PENDING, ARP_RESOLVED, ARP_PROBING, ARP_STATIC };

struct inet_stack;

struct arp_entry {
    struct list_node hash_link;
    struct list_node pending_link; /* on arp_table.pending while ARP_PENDING */
    uint32_t ip;                   /* network order */
    uint8_t mac[6];
    uint8_t state;                         /* enum arp_state */
    uint8_t tries_left;                    /* requests still to send while pending or probing */
    bool used;                             /* sent through since the last (re-)confirmation */
    struct timer timer;                    /* retry while pending or probing, TTL when resolved */
    struct dbuf *pending[ARP_PENDING_MAX]; /* IPv4 packets, no Ethernet header */
    uint8_t npending;
    struct inet_stack *stack;
};

struct arp_table {
    struct list_node buckets[ARP_BUCKETS];
    struct list_node pending;  /* unresolved entries, oldest first: evicted first when full */
    struct arp_entry *entries; /* ARP_MAX_ENTRIES */
    struct arp_entry **free;   /* free stack */
    uint32_t nfree;
    uint32_t retries;
    uint64_t timeout_ns;
    uint64_t ttl_ns;
};

int arp_init(struct inet_stack *s, uint32_t retries, uint64_t timeout_ns, uint64_t ttl_ns);
void arp_fini(struct inet_stack *s);

/* A permanent entry (inetstack_config.arp_table). */
int arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6]);

/* Send IPv4 packet @d to next hop @ip: at once if resolved, else queued
 * behind a request. Takes the reference. */
void arp_output(struct inet_stack *s, struct dbuf *d, uint32_t ip);

/* arp_output for a flow that keeps its entry in *@route (a per-connection
 * cache, NULL at first): the entry is used without a lookup while it still
 * names @ip and is resolved, and looked up again otherwise. Entries never
 * leave the table's array, so a stale pointer is only ever a miss. */
void arp_output_via(struct inet_stack *s, struct dbuf *d, uint32_t ip, struct arp_entry **route);

void arp_input(struct inet_stack *s, struct dbuf *d);

/* The cached MAC of @ip, or NULL (tests, tools). */
const uint8_t *arp_lookup(struct inet_stack *s, uint32_t ip);

#endif /* DEMI_NET_ARP_H */
