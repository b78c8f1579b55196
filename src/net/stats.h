/* SPDX-License-Identifier: MIT */
/*
 * stats.h: counters of the network stack, one per event or drop reason, per
 * layer. Listed once (X-macro) so printing and the public observability
 * extension stay in step with the code. Private header.
 */
#ifndef DEMI_NET_STATS_H
#define DEMI_NET_STATS_H

#include <stdint.h>
#include <stdio.h>

#define INET_STATS(X)                                                           \
    X(eth_rx, "frames received")                                                \
    X(eth_tx, "frames sent")                                                    \
    X(eth_drop_runt, "dropped: shorter than an Ethernet header")                \
    X(eth_drop_not_for_us, "dropped: destination MAC is not ours or broadcast") \
    X(eth_drop_type, "dropped: unknown ethertype")                              \
    X(eth_drop_tx_full, "dropped: device transmit queue full")                  \
    X(arp_rx, "ARP packets received")                                           \
    X(arp_tx_request, "ARP requests sent")                                      \
    X(arp_tx_reply, "ARP replies sent")                                         \
    X(arp_drop_malformed, "dropped: ARP bad length or hardware/protocol type")  \
    X(arp_drop_op, "dropped: ARP operation neither request nor reply")          \
    X(arp_drop_not_for_us, "ignored: ARP for another address")                  \
    X(arp_resolved, "addresses resolved")                                       \
    X(arp_timeout, "resolutions given up after all retries")                    \
    X(arp_drop_pending, "dropped: packets waiting for a resolution that failed")\
    X(arp_drop_pending_full, "dropped: too many packets waiting for ARP")       \
    X(arp_drop_table_full, "dropped: ARP table full")                           \
    X(arp_expired, "cache entries expired")                                     \
    X(ipv4_rx, "IPv4 packets received")                                         \
    X(ipv4_tx, "IPv4 packets sent")                                             \
    X(ipv4_drop_runt, "dropped: shorter than an IPv4 header")                   \
    X(ipv4_drop_version, "dropped: IP version not 4")                           \
    X(ipv4_drop_ihl, "dropped: header length below 20 or beyond the packet")    \
    X(ipv4_drop_len, "dropped: total length inconsistent with the frame")       \
    X(ipv4_drop_csum, "dropped: bad header checksum")                           \
    X(ipv4_drop_fragment, "dropped: fragments (reassembly not supported)")      \
    X(ipv4_drop_not_for_us, "dropped: destination is not our address")         \
    X(ipv4_drop_proto, "dropped: unknown protocol")                             \
    X(ipv4_drop_ttl, "dropped: TTL zero")                                       \
    X(ipv4_drop_src, "dropped: source is broadcast or multicast")               \
    X(icmp_rx, "ICMP messages received")                                        \
    X(icmp_tx, "ICMP messages sent")                                            \
    X(icmp_echo_request, "echo requests answered")                              \
    X(icmp_echo_reply, "echo replies received")                                 \
    X(icmp_drop_runt, "dropped: ICMP shorter than its header")                  \
    X(icmp_drop_csum, "dropped: bad ICMP checksum")                             \
    X(icmp_drop_type, "ignored: ICMP type not handled")                         \
    X(udp_rx, "UDP datagrams received")                                         \
    X(udp_tx, "UDP datagrams sent")                                             \
    X(udp_drop_runt, "dropped: shorter than a UDP header")                      \
    X(udp_drop_len, "dropped: UDP length inconsistent with IP length")          \
    X(udp_drop_csum, "dropped: bad UDP checksum")                               \
    X(udp_drop_no_port, "dropped: no socket bound to the port")                 \
    X(udp_drop_queue_full, "dropped: socket receive queue full")                \
    X(mem_drop_nobuf, "dropped: no buffer for an outgoing packet")

struct inet_stats {
#define INET_STATS_FIELD(name, help) uint64_t name;
    INET_STATS(INET_STATS_FIELD)
#undef INET_STATS_FIELD
};

/* Print every counter, or only the non-zero ones. */
void inet_stats_print(FILE *out, const struct inet_stats *st, int nonzero_only);

#define STAT_INC(s, name) ((s)->stats.name++)

#endif /* DEMI_NET_STATS_H */
