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

#define INET_STATS(X)                                                                               \
    X(eth_rx, "frames received")                                                                    \
    X(eth_tx, "frames sent")                                                                        \
    X(eth_drop_runt, "dropped: shorter than an Ethernet header")                                    \
    X(eth_drop_not_for_us, "dropped: destination MAC is not ours or broadcast")                     \
    X(eth_drop_type, "dropped: unknown ethertype")                                                  \
    X(eth_drop_tx_full, "dropped: device transmit queue and the stack's full")                      \
    X(eth_tx_stalled, "transmit bursts the device cut short (rest held for the next poll)")         \
    X(arp_rx, "ARP packets received")                                                               \
    X(arp_tx_request, "ARP requests sent")                                                          \
    X(arp_tx_reply, "ARP replies sent")                                                             \
    X(arp_drop_malformed, "dropped: ARP bad length or hardware/protocol type")                      \
    X(arp_drop_op, "dropped: ARP operation neither request nor reply")                              \
    X(arp_drop_not_for_us, "ignored: ARP for another address")                                      \
    X(arp_resolved, "addresses resolved, learned or configured")                                    \
    X(arp_timeout, "resolutions given up after all retries")                                        \
    X(arp_drop_pending, "dropped: packets waiting for a resolution that failed")                    \
    X(arp_drop_pending_full, "dropped: too many packets waiting for ARP")                           \
    X(arp_drop_table_full, "dropped: ARP table full")                                               \
    X(arp_expired, "cache entries unused for a TTL, dropped")                                       \
    X(arp_tx_probe, "unicast requests re-confirming an entry in use past its TTL")                  \
    X(arp_probe_confirmed, "entries in use re-confirmed by their peer")                             \
    X(arp_probe_failed, "entries in use dropped: no answer to the re-confirmation")                 \
    X(arp_evict_pending, "unresolved entries evicted to make room (table full)")                    \
    X(arp_ignored_update, "ignored: ARP claiming a new MAC for a resolved entry")                   \
    X(arp_ignored_unsolicited, "ignored: ARP reply nobody asked for (no entry made)")               \
    X(arp_conflict, "ARP packets from another host claiming our address (RFC 5227)")                \
    X(ipv4_rx, "IPv4 packets received")                                                             \
    X(ipv4_tx, "IPv4 packets sent")                                                                 \
    X(ipv4_drop_runt, "dropped: shorter than an IPv4 header")                                       \
    X(ipv4_drop_version, "dropped: IP version not 4")                                               \
    X(ipv4_drop_ihl, "dropped: header length below 20 or beyond the packet")                        \
    X(ipv4_drop_len, "dropped: total length inconsistent with the frame")                           \
    X(ipv4_drop_csum, "dropped: bad header checksum")                                               \
    X(ipv4_drop_fragment, "dropped: fragments (reassembly not supported)")                          \
    X(ipv4_drop_not_for_us, "dropped: destination is not our address")                              \
    X(ipv4_drop_proto, "dropped: unknown protocol")                                                 \
    X(ipv4_drop_ttl, "dropped: TTL zero")                                                           \
    X(ipv4_drop_martian, "dropped: martian source (ours, 0/8, 127/8, multicast, 240/4, broadcast)") \
    X(ipv4_drop_too_big, "not sent: packet larger than the MTU (no fragmentation)")                 \
    X(icmp_rx, "ICMP messages received")                                                            \
    X(icmp_tx, "ICMP messages sent")                                                                \
    X(icmp_echo_request, "echo requests answered")                                                  \
    X(icmp_echo_reply, "echo replies received")                                                     \
    X(icmp_drop_runt, "dropped: ICMP shorter than its header")                                      \
    X(icmp_drop_csum, "dropped: bad ICMP checksum")                                                 \
    X(icmp_drop_type, "ignored: ICMP type not handled")                                             \
    X(ip6_rx, "IPv6 packets received")                                                              \
    X(ip6_tx, "IPv6 packets sent")                                                                  \
    X(ip6_drop_runt, "dropped: shorter than an IPv6 header")                                        \
    X(ip6_drop_version, "dropped: IP version not 6")                                                \
    X(ip6_drop_len, "dropped: IPv6 payload length beyond the frame")                                \
    X(ip6_drop_martian, "dropped: IPv6 source multicast, ::1, ours, or :: outside DAD")             \
    X(ip6_drop_not_for_us, "dropped: IPv6 destination not ours nor a group we joined")              \
    X(ip6_drop_ext, "dropped: extension header truncated, or hop-by-hop not first")                 \
    X(ip6_drop_opt, "dropped: unknown option whose type says discard (RFC 8200 4.2)")               \
    X(ip6_drop_routing, "dropped: routing header with segments left (RFC 5095, RFC 8200 4.4)")      \
    X(ip6_drop_frag, "dropped: IPv6 fragments (no reassembly)")                                     \
    X(ip6_rx_atomic_frag, "atomic fragments taken as whole packets (RFC 6946)")                     \
    X(ip6_drop_proto, "dropped: IPv6 next header unknown or not served yet")                        \
    X(ip6_drop_too_big, "not sent: IPv6 packet larger than the MTU (no fragmentation)")             \
    X(ip6_drop_no_src, "not sent: no usable IPv6 source (DAD running or failed)")                   \
    X(icmp6_rx, "ICMPv6 messages received")                                                         \
    X(icmp6_tx, "ICMPv6 messages sent")                                                             \
    X(icmp6_echo_request, "ICMPv6 echo requests answered")                                          \
    X(icmp6_echo_reply, "ICMPv6 echo replies received")                                             \
    X(icmp6_drop_runt, "dropped: ICMPv6 shorter than its header")                                   \
    X(icmp6_drop_csum, "dropped: bad ICMPv6 checksum")                                              \
    X(icmp6_drop_type, "ignored: ICMPv6 type or code not handled")                                  \
    X(icmp6_err_in, "ICMPv6 errors received (unreachable, time exceeded, parameter problem)")       \
    X(icmp6_ptb_lowered, "ICMPv6 Packet Too Big that lowered a path MTU")                           \
    X(icmp6_ptb_ignored, "ignored: Packet Too Big below 1280, not lower, or not about our packet")  \
    X(icmp6_err_tx, "ICMPv6 errors sent")                                                           \
    X(icmp6_err_suppressed, "ICMPv6 errors not sent: RFC 4443 2.4 (e) forbids them")                \
    X(icmp6_err_rate_limited, "ICMPv6 errors or group echo replies not sent: rate limit")           \
    X(nd6_ns_rx, "neighbor solicitations received")                                                 \
    X(nd6_na_rx, "neighbor advertisements received")                                                \
    X(nd6_tx_ns, "neighbor solicitations sent")                                                     \
    X(nd6_tx_na, "neighbor advertisements sent")                                                    \
    X(nd6_drop_hop_limit, "dropped: ND message with a hop limit not 255")                           \
    X(nd6_drop_invalid, "dropped: ND message failing RFC 4861 7.1 (code, length, target, options)") \
    X(nd6_drop_not_ours, "ignored: NS for an address not ours (or tentative)")                      \
    X(nd6_na_ignored, "ignored: NA for no entry, or not overriding a known address")                \
    X(nd6_resolved, "IPv6 neighbors resolved")                                                      \
    X(nd6_timeout, "IPv6 resolutions given up after all solicitations")                             \
    X(nd6_drop_pending, "dropped: packets waiting for an IPv6 resolution that failed")              \
    X(nd6_drop_pending_full, "dropped: too many packets waiting for ND")                            \
    X(nd6_drop_table_full, "dropped: neighbor cache full")                                          \
    X(nd6_evict_incomplete, "unresolved neighbor entries evicted to make room")                     \
    X(nd6_expired, "idle STALE neighbor entries dropped")                                           \
    X(nd6_probe_confirmed, "neighbors re-confirmed by NUD")                                         \
    X(nd6_probe_failed, "neighbors dropped: no answer to NUD probes")                               \
    X(nd6_dad_ok, "IPv6 addresses found unique by DAD")                                             \
    X(nd6_dad_conflict, "IPv6 addresses found duplicate by DAD: not used")                          \
    X(nd6_addr_conflict, "NAs from another node for an address we use")                             \
    X(nd6_router_ignored, "ignored: router solicitations, advertisements, redirects")               \
    X(udp_rx, "UDP datagrams received")                                                             \
    X(udp_tx, "UDP datagrams sent")                                                                 \
    X(udp_drop_runt, "dropped: shorter than a UDP header")                                          \
    X(udp_drop_len, "dropped: UDP length inconsistent with IP length")                              \
    X(udp_drop_csum, "dropped: bad UDP checksum")                                                   \
    X(udp_drop_no_port, "dropped: no socket bound to the port")                                     \
    X(udp_drop_queue_full, "dropped: socket receive queue full (application behind)")               \
    X(udp6_rx, "UDP datagrams received over IPv6 (in udp_rx too)")                                  \
    X(udp6_tx, "UDP datagrams sent over IPv6 (in udp_tx too)")                                      \
    X(udp6_drop_zero_csum, "dropped: UDP over IPv6 without a checksum (RFC 8200 8.1)")              \
    X(tcp_rx, "TCP segments received")                                                              \
    X(tcp_rx_fastpath, "TCP segments taken by header prediction (the established fast path)")       \
    X(tcp_tx, "TCP segments sent")                                                                  \
    X(tcp_drop_mcast, "dropped: TCP segment to a multicast address")                                \
    X(tcp_pmtu_lowered, "connections whose MSS a Packet Too Big lowered (IPv6)")                    \
    X(tcp_pmtu_ignored, "Packet Too Big for no segment in flight, or no smaller (RFC 5927)")        \
    X(tcp_drop_runt, "dropped: shorter than a TCP header")                                          \
    X(tcp_drop_off, "dropped: data offset below 5 or beyond the segment")                           \
    X(tcp_drop_csum, "dropped: bad TCP checksum")                                                   \
    X(tcp_drop_opts, "dropped: options overrun the header")                                         \
    X(tcp_drop_no_conn, "no connection: answered with RST")                                         \
    X(tcp_drop_listen, "dropped: bad segment for a listener (RST or ACK)")                          \
    X(tcp_drop_oow, "not acceptable: outside the window, ACK sent")                                 \
    X(tcp_drop_paws, "dropped: old timestamp (PAWS, RFC 7323)")                                     \
    X(tcp_drop_no_ts, "dropped: no timestamp though agreed (RFC 7323 3.2)")                         \
    X(tcp_drop_ack, "dropped: ACK of unsent data or too old")                                       \
    X(tcp_challenge_ack, "challenge ACKs sent (RFC 5961)")                                          \
    X(tcp_rst_ignored, "RSTs ignored (not exactly in sequence)")                                    \
    X(tcp_tx_rst, "RSTs sent")                                                                      \
    X(tcp_conn_active, "connections opened actively")                                               \
    X(tcp_conn_passive, "connections accepted")                                                     \
    X(tcp_conn_reset, "connections reset by the peer")                                              \
    X(tcp_conn_refused, "connects refused")                                                         \
    X(tcp_conn_timeout, "connections timed out")                                                    \
    X(tcp_syn_drop_oldest, "half-open connections dropped: SYN queue full")                         \
    X(tcp_accept_overflow, "handshake ACKs dropped: accept queue full")                             \
    X(tcp_pcb_exhausted, "SYNs dropped, sockets refused: tcp.max_connections")                      \
    X(tcp_syncookies_sent, "SYN-ACKs sent with a SYN cookie (SYN queue full)")                      \
    X(tcp_syncookies_ok, "handshakes completed from a SYN cookie")                                  \
    X(tcp_syncookies_failed, "ACKs whose SYN cookie did not check (RST sent)")                      \
    X(tcp_time_wait_reused, "TIME_WAIT 4-tuples taken by a new connection (RFC 6191)")              \
    X(tcp_tx_held, "segments held in the send queue: the transmit queue was nearly full")           \
    X(tcp_rexmt, "segments retransmitted")                                                          \
    X(tcp_rto, "retransmission timeouts")                                                           \
    X(tcp_rto_spurious, "timeouts undone: the original was acknowledged (Eifel, D-SACK)")           \
    X(tcp_fast_rexmt, "fast retransmits (3 duplicate ACKs or SACK)")                                \
    X(tcp_rack_loss, "losses RACK found (RFC 8985): recovery started or a retransmission resent")   \
    X(tcp_rack_reo_timeout, "RACK reordering-window timeouts")                                      \
    X(tcp_tlp, "tail loss probes sent (RFC 8985 7)")                                                \
    X(tcp_tlp_recovered, "tail loss probes that repaired a loss (window reduced)")                  \
    X(tcp_dupack, "duplicate ACKs received")                                                        \
    X(tcp_ooo, "segments queued out of order")                                                      \
    X(tcp_ooo_drop, "dropped: out-of-order queue full")                                             \
    X(tcp_dup_data, "segments carrying only data already received")                                 \
    X(tcp_persist, "zero-window probes sent")                                                       \
    X(tcp_keepalive, "keepalive probes sent")                                                       \
    X(tcp_delack, "delayed ACKs sent by the timer")                                                 \
    X(tcp_quickack, "quick ACKs: data segments of a new connection acknowledged at once")           \
    X(tcp_rcv_drop_nobuf, "dropped: receive buffer full")                                           \
    X(mem_drop_nobuf, "dropped: no buffer for an outgoing packet")                                  \
    X(tcp_tx_tso, "TCP frames of several segments the device cut (segmentation offload)")           \
    X(tcp_tx_tso_segs, "segments those frames became on the wire")

struct inet_stats {
#define INET_STATS_FIELD(name, help) uint64_t name;
    INET_STATS(INET_STATS_FIELD)
#undef INET_STATS_FIELD
};

/* Print every counter, or only the non-zero ones. */
void inet_stats_print(FILE *out, const struct inet_stats *st, int nonzero_only);

/* The non-zero counters, as inet_stats_print, async-signal-safely. */
struct sigbuf;
void inet_stats_write(struct sigbuf *out, const struct inet_stats *st);

/* The counter called @name: 0, or ENOENT. */
int inet_stats_get(const struct inet_stats *st, const char *name, uint64_t *value);

#define STAT_INC(s, name) ((s)->stats.name++)

#endif /* DEMI_NET_STATS_H */
