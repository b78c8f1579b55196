/* SPDX-License-Identifier: MIT */
/*
 * stack.h: one instance of libdemi's TCP/IP stack ("inetstack") over one
 * netdev. Run to completion, one thread: inet_stack_poll() receives a burst,
 * runs each frame through the protocols, fires due timers and flushes the
 * frames queued for transmission in one tx_burst. Private header.
 */
#ifndef DEMI_NET_STACK_H
#define DEMI_NET_STACK_H

#include "core/config.h"
#include "core/limits.h" /* INET_RX_BURST, INET_TX_BATCH, INET_TXQ_LEN */
#include "core/timer.h"
#include "net/netdev.h"
#include "net/arp.h"
#include "net/capture.h"
#include "net/drop_hints.h"
#include "net/ipv6.h"
#include "net/stats.h"
#include "net/tcp.h"
#include "net/udp.h"

#include <stdint.h>

/* Everything the stack needs from the configuration (core/config.h). */
struct inet_params {
    uint32_t ip;                /* our IPv4 address, network order */
    uint32_t mtu;               /* IP MTU; 0 = the device's */
    uint32_t arp_retries;       /* requests after the first */
    uint64_t arp_timeout_ns;    /* between requests */
    uint64_t arp_ttl_ns;        /* cache lifetime of a learned entry */
    uint32_t prefix_len;        /* our subnet's; 0 = unknown */
    const struct in6_addr *ip6; /* our global IPv6 address; NULL = none (link-local only) */
    uint32_t ip6_dad_transmits; /* DAD NS per address (RFC 4862); 0 = addresses usable at once */
    const char *pcap;           /* capture file (capture.h); NULL or "" = none */
    uint32_t pcap_snaplen;
    uint64_t pcap_max_bytes;
    const struct config_arp_entry *static_arp; /* permanent entries */
    int static_arp_len;
    int udp_csum_offload; /* use the device's UDP checksum offload */
    int tcp_csum_offload; /* use the device's TCP checksum offload */
    int tcp_tso;          /* use the device's TCP segmentation offload */
    struct tcp_params tcp;
};

struct inet_stack;

/* ICMP echo replies for tools (ping): source, id, seq and payload length. */
typedef void (*icmp_echo_fn)(struct inet_stack *s, uint32_t src, uint16_t id, uint16_t seq, uint32_t len, void *arg);

struct inet_stack {
    struct netdev *dev;
    struct mem *mem;
    uint8_t mac[ETH_ALEN];
    uint32_t ip;           /* network order */
    uint32_t subnet_bcast; /* directed broadcast of our subnet; 0 = unknown */
    uint32_t self_martian; /* our address, or 0 on a loopback device */
    uint32_t mtu;
    uint32_t offloads; /* NETDEV_OFF_* the stack uses */
    uint16_t ip_id;    /* IPv4 identification counter */
    struct timer_wheel timers;
    struct arp_table arp;
    struct udp_table udp;
    struct tcp_table tcp;
    icmp_echo_fn on_echo_reply;
    void *echo_arg;
    struct dbuf *txq[INET_TXQ_LEN]; /* ring: ntx frames from tx_head */
    uint32_t tx_head;
    uint32_t ntx;
    uint32_t ntx_bytes;                            /* queued since the last flush (INET_TX_FLUSH_BYTES) */
    bool tx_stalled;                               /* the device refused frames: wait for the next poll */
    struct capture *capture;                       /* libdemi.pcap; NULL = off */
    struct inet_hint_state hints[INET_HINT_KINDS]; /* drop_hints.c */
    struct inet_stats stats;
    struct ip6_state ip6; /* ipv6.h: after everything IPv4's fast path touches */
};

/* The stack's parameters from a loaded configuration. @p points into @cfg
 * (pcap, static_arp), which must outlive the stack's initialisation. */
void inet_params_from_config(const struct demi_config *cfg, struct inet_params *p);

/* The parameters of the configuration's defaults (config_keys.c), for
 * stacks built by hand (tests, benchmarks, fuzzers): no address, no static
 * ARP entries, no capture. The one list of default values stays the key
 * table's. */
void inet_params_default(struct inet_params *p);
void tcp_params_default(struct tcp_params *tp);

int inet_stack_init(struct inet_stack *s, struct netdev *dev, struct mem *mem, const struct inet_params *p);
void inet_stack_fini(struct inet_stack *s);

/* One round of the poll loop; returns frames received + timers fired. */
int inet_stack_poll(struct inet_stack *s);

/* Queue a complete Ethernet frame (chain) for the next flush. Takes the
 * reference; a full batch is flushed first, and a frame the device refuses
 * is dropped and counted. */
void inet_tx(struct inet_stack *s, struct dbuf *frame);

/* Whether TCP data may still queue frames (INET_TXQ_CTL_RESERVE). */
static inline bool inet_tx_room(const struct inet_stack *s)
{
    return s->ntx < INET_TXQ_LEN - INET_TXQ_CTL_RESERVE;
}

/* Hand the batch to the device. */
void inet_tx_flush(struct inet_stack *s);

/* A buffer for headers of an outgoing packet, data at the end of the headroom
 * with len 0; NULL (counted) when the pool is empty. */
struct dbuf *inet_alloc_hdr(struct inet_stack *s);

/* Input of one frame; takes the reference. Exposed for tests and fuzzing. */
void eth_input(struct inet_stack *s, struct dbuf *d);

/* Prepend an Ethernet header to @d for @dst_mac and queue it. */
void eth_output(struct inet_stack *s, struct dbuf *d, const uint8_t dst_mac[ETH_ALEN], uint16_t type);

/* Send an IPv4 packet whose payload (a chain, headers of upper layers
 * already in front) is @d. Prepends the IPv4 header, resolves the next hop
 * with ARP (the packet waits if needed) and queues the frame. Takes the
 * reference. Returns 0, or EMSGSIZE/ENOBUFS (the reference is dropped). */
int ipv4_output(struct inet_stack *s, struct dbuf *d, uint32_t dst, uint8_t proto);

/* ipv4_output for a flow that caches its ARP entry in *@route (a TCP
 * connection's; see arp_output_via). */
int ipv4_output_via(struct inet_stack *s, struct dbuf *d, uint32_t dst, uint8_t proto, struct arp_entry **route);

void ipv4_input(struct inet_stack *s, struct dbuf *d);

/* A source no packet may come from (RFC 1122 3.2.1.3, RFC 1812 5.3.7): ours,
 * 0.0.0.0/8, 127.0.0.0/8, multicast, 240.0.0.0/4, the limited broadcast and
 * our subnet's broadcast. */
bool ipv4_src_martian(const struct inet_stack *s, uint32_t src);
void icmp_input(struct inet_stack *s, struct dbuf *d, uint32_t src);

/* The Ethernet broadcast address. */
const uint8_t *eth_broadcast_addr(void);

/* Send an ICMP echo request with @len payload bytes. 0 or an errno. */
int icmp_echo_send(struct inet_stack *s, uint32_t dst, uint16_t id, uint16_t seq, uint32_t len);

#endif /* DEMI_NET_STACK_H */
