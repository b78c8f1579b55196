/* SPDX-License-Identifier: MIT */
/*
 * limits.h: every compile-time limit of the stack and its buffers, in one
 * place, each with what it bounds and why it has this value (lwIP's opt.h).
 * They size arrays inside structures, so they are not runtime tunables;
 * those are keys of the configuration (core/config_keys.c). None of them
 * can be overridden from the build: change them here, and the checks at
 * the end refuse a combination that cannot work.
 *
 * The header sizes below are the wire's (net/proto.h, net/tcp.h assert
 * that theirs agree); they are here so that this file needs no upper layer.
 * Private header.
 */
#ifndef DEMI_CORE_LIMITS_H
#define DEMI_CORE_LIMITS_H

/* ---- headers --------------------------------------------------------------- */

/* The most header bytes the stack puts in front of a payload: Ethernet II
 * (14) + IPv4 without options (20: we never send any) + TCP with the
 * largest option space (20 + 40). */
#define LIMIT_ETH_HLEN 14
#define LIMIT_IPV4_HLEN 20
#define LIMIT_TCP_HLEN_MAX 60
#define LIMIT_HDR_MAX (LIMIT_ETH_HLEN + LIMIT_IPV4_HLEN + LIMIT_TCP_HLEN_MAX)

/* ---- buffers (mem/dbuf.h) ------------------------------------------------- */

/* Room in front of every buffer's data for the headers above: a pushed
 * buffer gets its headers prepended without a copy. LIMIT_HDR_MAX (94)
 * rounded up to two cache lines; DPDK's RTE_PKTMBUF_HEADROOM is 128 too,
 * which lets an mbuf's default data offset be ours (dev/dpdk_int.h). */
#define DBUF_HEADROOM 128

/* The size classes of the buffer pools: small holds one standard frame
 * (1514 bytes) with room to spare, large a 64 KiB push (the largest TSO-less
 * segment train an application commonly writes), huge 1 MiB (the largest
 * message of a catmem pipe). The counts are configuration keys
 * (libdemi.pool_*_count). */
#define MEM_SMALL_SIZE 2048u
#define MEM_LARGE_SIZE 65536u
#define MEM_HUGE_SIZE (1u << 20)

/* ---- the stack's transmit and receive loop (net/stack.h) ---------------- */

/* Frames asked of the device per poll: enough to amortise the call, few
 * enough that timers and transmit run often (DPDK's usual burst is 32). */
#define INET_RX_BURST 32
/* Frames handed to the device per tx_burst call. */
#define INET_TX_BATCH 64
/* Bytes queued for the device before they go mid-round, even short of a
 * batch: a large message's first frames reach the peer while the rest are
 * still being built, so sender and receiver work at once (a 64 KiB push is
 * 45 frames of 1500 bytes: without it the peer saw none until all 45 were
 * built). Over memif, TCP 64 KiB round trips: 45 us with none, 37 at 16 KiB,
 * 35 at 4 KiB (16 KiB ones 12.1, 12.1, 10.1 us). Frames of up to 64 bytes
 * still go 64 to a burst, those of a 64-byte TCP message (130 bytes) 32. */
#define INET_TX_FLUSH_BYTES 4096u
/* Frames waiting for the device, in order. A device whose queue is full
 * (a memif ring the peer has not drained, a NIC ring) keeps the rest here
 * for the next poll instead of losing them, which TCP would take for
 * congestion; only past this many are frames dropped. A power of two (the
 * ring index is masked). */
#define INET_TXQ_LEN 4096
/* TCP data waits in its send queue, not in the transmit queue, once this
 * few frames are left (ACKs, RSTs and SYNs, UDP and ICMP still take them):
 * a peer that stalls for milliseconds then costs no dropped segment, so no
 * retransmission timeout (1024 connections over memif dropped thousands).
 * The waiting connections send again once half the queue is free. */
#define INET_TXQ_CTL_RESERVE 512

/* The stack's timer wheel (core/timer.c): 8 µs ticks cover delayed ACKs and
 * µs-scale RTOs finely; 4096 slots make one revolution 34 ms, so
 * second-scale timers (ARP, TIME_WAIT) wait a few rounds in their slot,
 * which costs one compare per round. Both powers of two: a tick is a shift,
 * a slot a mask. */
#define INET_TIMER_TICK_NS 8192u
#define INET_TIMER_SLOTS 4096u

/* ---- ARP (net/arp.h) -------------------------------------------------------- */

/* Cache entries, preallocated: a flood of senders cannot grow the table
 * (the oldest unresolved entry is evicted instead). */
#define ARP_MAX_ENTRIES 1024
/* Hash buckets of the cache; a power of two (the hash is masked). */
#define ARP_BUCKETS 256
/* Packets queued per unresolved address while its request is out; more are
 * dropped (RFC 1122 2.3.2.2 asks for at least one). */
#define ARP_PENDING_MAX 16
/* Static entries the configuration may give (inetstack_config.arp_table);
 * each takes a cache entry for ever. */
#define CONFIG_ARP_TABLE_MAX 64

/* ---- IPv6 neighbor discovery, PMTU (net/nd6.h, net/ipv6.h) ----------------- */

/* Neighbor cache entries, preallocated, as ARP_MAX_ENTRIES: a flood of
 * unresolvable destinations evicts unresolved entries, never grows it. */
#define ND6_MAX_ENTRIES 256
#define ND6_BUCKETS 64
/* Packets queued per INCOMPLETE entry (RFC 4861 7.2.2: "at least one"). */
#define ND6_PENDING_MAX 16
/* Destinations whose path MTU a Packet Too Big lowered (RFC 8201); the
 * oldest is replaced when full (it falls back to the link MTU). */
#define IP6_PMTU_ENTRIES 64

/* ---- UDP (net/udp.h, libos/inet.c) ---------------------------------------- */

/* Bound sockets hashed by local port; a power of two (masked). */
#define UDP_BUCKETS 256
/* Datagrams queued per socket before arrivals are dropped (and counted):
 * about a millisecond of small datagrams at line rate. */
#define INET_UDP_RXQ 1024

/* ---- TCP (net/tcp.h) --------------------------------------------------------- */

/* Connections hashed by 4-tuple: a few per bucket at tens of thousands of
 * connections. A power of two (the hash is masked). */
#define TCP_HASH_BUCKETS 4096
/* Listeners hashed by local port; a power of two (masked). */
#define TCP_LISTEN_BUCKETS 256
/* Holders by local port, walked only by bind() to a held port; a power of
 * two (masked). */
#define TCP_PORT_BUCKETS 1024
/* RFC 6056 algorithm 4's table of perturbations (Linux: 256). */
#define TCP_PORT_PERTURB 256
/* SACK blocks the sender's scoreboard keeps (RFC 2018): the peer reports at
 * most 4 per ACK (3 with timestamps); 16 covers a window with as many
 * holes before the oldest block is lost (it is then resent anyway). */
#define TCP_SACK_SCOREBOARD 16
/* Payloads up to this size are copied behind the header instead of chained
 * as a slice: one segment is cheaper for a device than a chain of small
 * ones, and the header buffer (a small one) has the room. */
#define TCP_COPY_MAX 256
/* Received payloads up to this size are copied onto the tail of the
 * receive queue when it has room: a stream of tiny segments then holds a
 * few buffers, not one small buffer per byte (Linux's tcp_try_coalesce). */
#define TCP_COALESCE_MAX 512
/* The largest congestion window, bytes: 1 GiB, far above any window the
 * peer can offer (2^30 is RFC 7323's largest scaled window), and low
 * enough that no sum of two windows overflows 32 bits. */
#define TCP_CC_CWND_MAX (1u << 30)

/* ---- checks ------------------------------------------------------------------ */

#define LIMIT_POW2(x) ((x) > 0 && ((x) & ((x)-1)) == 0)

_Static_assert(DBUF_HEADROOM >= LIMIT_HDR_MAX, "DBUF_HEADROOM must hold Ethernet + IPv4 + the largest TCP header");
_Static_assert(DBUF_HEADROOM % 64 == 0, "DBUF_HEADROOM keeps the data cache-line aligned");
_Static_assert(MEM_SMALL_SIZE >= 1514, "a small buffer holds a standard Ethernet frame");
_Static_assert(MEM_SMALL_SIZE < MEM_LARGE_SIZE && MEM_LARGE_SIZE < MEM_HUGE_SIZE, "size classes grow");
_Static_assert(LIMIT_POW2(INET_TXQ_LEN), "INET_TXQ_LEN is a power of two");
_Static_assert(INET_TX_BATCH <= INET_TXQ_LEN, "a transmit batch fits the transmit queue");
_Static_assert(INET_TXQ_CTL_RESERVE < INET_TXQ_LEN / 2, "TCP data has most of the transmit queue");
_Static_assert(INET_RX_BURST <= 65535 && INET_TX_BATCH <= 65535, "netdev bursts count in 16 bits");
_Static_assert(LIMIT_POW2(INET_TIMER_TICK_NS) && LIMIT_POW2(INET_TIMER_SLOTS), "the timer wheel shifts and masks");
_Static_assert(LIMIT_POW2(ARP_BUCKETS), "ARP_BUCKETS is a power of two");
_Static_assert(ARP_PENDING_MAX >= 1 && ARP_PENDING_MAX <= 255, "arp_entry.npending is 8 bits");
_Static_assert(CONFIG_ARP_TABLE_MAX < ARP_MAX_ENTRIES, "static ARP entries leave room to learn");
_Static_assert(LIMIT_POW2(ND6_BUCKETS), "ND6_BUCKETS is a power of two");
_Static_assert(ND6_PENDING_MAX >= 1 && ND6_PENDING_MAX <= 255, "nd6_entry.npending is 8 bits");
_Static_assert(LIMIT_POW2(UDP_BUCKETS), "UDP_BUCKETS is a power of two");
_Static_assert(LIMIT_POW2(TCP_HASH_BUCKETS), "TCP_HASH_BUCKETS is a power of two");
_Static_assert(LIMIT_POW2(TCP_LISTEN_BUCKETS), "TCP_LISTEN_BUCKETS is a power of two");
_Static_assert(LIMIT_POW2(TCP_PORT_BUCKETS), "TCP_PORT_BUCKETS is a power of two");
_Static_assert(TCP_SACK_SCOREBOARD >= 4 && TCP_SACK_SCOREBOARD <= 255,
               "the scoreboard takes one ACK's blocks; tcp_pcb.nsacked is 8 bits");
_Static_assert(LIMIT_TCP_HLEN_MAX + TCP_COPY_MAX <= MEM_SMALL_SIZE,
               "a copied payload fits the small header buffer behind the largest TCP header");
_Static_assert(TCP_COALESCE_MAX <= MEM_SMALL_SIZE, "coalescing copies into small buffers");
_Static_assert(TCP_CC_CWND_MAX <= (1u << 31), "two windows add up within 32 bits");

#endif /* DEMI_CORE_LIMITS_H */
