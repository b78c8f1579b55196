/* SPDX-License-Identifier: MIT */
/*
 * ipv6.h: the IPv6 network layer (RFC 8200) beside IPv4: input validation,
 * extension headers, the one dispatch to the upper layers, output with
 * source selection and next-hop resolution by ND (nd6.h), ICMPv6 (RFC 4443,
 * icmp6.c), and a Path MTU cache fed by Packet Too Big (RFC 8201).
 *
 * Our addresses: the link-local fe80::/64 made from the MAC (modified
 * EUI-64, RFC 4291 appendix A), always, and one configured global address
 * (demikernel.local_ipv6_addr), if any. Each runs DAD (nd6.c) before use.
 * With no configured address IPv6 is passive: the link-local address answers
 * (echo, NS) but the stack sends nothing of its own accord, DAD included, so
 * an IPv4-only setup sees no new frame.
 *
 * Rules that are choices, not RFC requirements (docs/architecture.md, IPv6):
 *   - fragments: every fragment is dropped and counted (ip6_drop_frag), no
 *     ICMP sent. TCP with PMTU discovery never needs them, and a reassembly
 *     queue is an attack surface. An atomic fragment (offset 0, M 0: RFC
 *     6946) is processed as the unfragmented packet it is.
 *   - no routers, no SLAAC: every destination is on-link (nd6.h).
 *   - a hop limit of 0 is accepted at the destination (RFC 8200 3: a
 *     destination "should process the packet normally"); ND alone demands
 *     255 (RFC 4861 7.1).
 *
 * For the upper layers (TCP and UDP over IPv6 plug in here):
 *   - input: ipv6_input() validates and calls tcp6_input()/udp6_input()/
 *     icmp6_input() from ipv6_deliver(), the single dispatch point, with @d
 *     at the upper-layer header and a struct ipv6_rx describing the packet.
 *   - output: ipv6_select_src() gives the source to put in the pseudo-
 *     header (inet6_pseudo_csum / csum_add_pseudo6 in checksum.h);
 *     ipv6_output_via() sends with that source, caching the neighbor entry.
 *   - ipv6_path_mtu() for the MSS; icmp6_error_send() for port unreachable.
 * Private header.
 */
#ifndef DEMI_NET_IPV6_H
#define DEMI_NET_IPV6_H

#include "core/limits.h" /* IP6_PMTU_ENTRIES */
#include "core/timer.h"
#include "mem/dbuf.h"
#include "net/nd6.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct inet_stack;

/* Our addresses, by index. */
#define IP6_ADDR_LL 0
#define IP6_ADDR_GLOBAL 1
#define IP6_NADDR 2

enum ip6_addr_state {
    IP6_ADDR_NONE = 0,  /* not configured */
    IP6_ADDR_TENTATIVE, /* DAD running: not a source, not a destination */
    IP6_ADDR_PREFERRED, /* in use */
    IP6_ADDR_DUPLICATE, /* DAD found another owner: never used */
};

struct ip6_ifaddr {
    struct in6_addr addr;
    uint8_t state;    /* enum ip6_addr_state */
    uint8_t dad_left; /* DAD NS still to send */
    struct timer dad_timer;
    struct inet_stack *stack;
};

struct ip6_pmtu {
    struct in6_addr dst;
    uint32_t mtu; /* 0: free slot */
    uint64_t expires_ns;
};

/* Ethernet groups we receive: all-nodes, a solicited-node group per address. */
#define IP6_MCAST_MAX (1 + IP6_NADDR)

/* RFC 8201 4: a lowered PMTU is tried again after at least 5 minutes. */
#define IP6_PMTU_TIMEOUT_NS (600ull * 1000000000ull)

/* RFC 4443 2.4 (f): errors we send, a token bucket. */
#define ICMP6_ERR_BURST 10
#define ICMP6_ERR_PER_S 10

/* ICMPv6 echo replies for tools (ping): source, id, seq, payload length. */
typedef void (*icmp6_echo_fn)(struct inet_stack *s, const struct in6_addr *src, uint16_t id, uint16_t seq, uint32_t len,
                              void *arg);

struct ip6_state {
    bool enabled; /* false: the link MTU is below 1280 (RFC 8200 5) */
    bool active;  /* a global address is configured: DAD runs (see above) */
    uint8_t nmcast;
    uint8_t dad_transmits;
    struct ip6_ifaddr addrs[IP6_NADDR];
    uint8_t mcast_macs[IP6_MCAST_MAX][6];
    struct ip6_pmtu pmtu[IP6_PMTU_ENTRIES];
    uint32_t pmtu_next; /* replaced next when full */
    uint32_t err_tokens;
    uint64_t err_refill_ns;
    icmp6_echo_fn on_echo_reply;
    void *echo_arg;
    struct nd6_table nd;
};

/* What ipv6_input learnt of a received packet, for the upper layer. */
struct ipv6_rx {
    struct in6_addr src, dst;
    uint32_t hdrlen; /* bytes from the IPv6 header to the upper-layer header */
    uint8_t hop_limit;
    bool dst_mcast;
    bool src_ours; /* from one of our addresses: only ND may take it */
};

/* ---- addresses (RFC 4291) ------------------------------------------------ */

static inline bool in6_is_multicast(const void *a)
{
    return ((const uint8_t *)a)[0] == 0xff;
}

static inline bool in6_is_unspecified(const void *a)
{
    static const uint8_t zero[16];
    return memcmp(a, zero, 16) == 0;
}

static inline bool in6_is_loopback(const void *a)
{
    static const uint8_t one[16] = {[15] = 1};
    return memcmp(a, one, 16) == 0;
}

static inline bool in6_is_linklocal(const void *a)
{
    const uint8_t *b = a;
    return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

static inline bool in6_equal(const void *a, const void *b)
{
    return memcmp(a, b, 16) == 0;
}

/* The solicited-node group of @a: ff02::1:ff00:0/104 with @a's low 24 bits (RFC 4291 2.7.1). */
void in6_solicited_node(const struct in6_addr *a, struct in6_addr *out);
/* 33:33 and the low 32 bits of multicast @a (RFC 2464 7). */
void in6_mcast_mac(const void *a, uint8_t mac[6]);
/* fe80::/64 with the modified EUI-64 of @mac (RFC 4291 appendix A). */
void in6_linklocal_from_mac(const uint8_t mac[6], struct in6_addr *out);
extern const struct in6_addr in6_all_nodes; /* ff02::1 */

/* ---- the layer ------------------------------------------------------------ */

/* @global: the configured address, or NULL. @dad_transmits: NS per address
 * (0: addresses usable at once). Joins the multicast groups on the device. */
int ipv6_init(struct inet_stack *s, const struct in6_addr *global, uint32_t dad_transmits);
void ipv6_fini(struct inet_stack *s);

/* One frame's IPv6 packet, @d at the IPv6 header. Takes the reference. */
void ipv6_input(struct inet_stack *s, struct dbuf *d);

/* Whether Ethernet group @mac is one we joined. */
bool ipv6_mcast_joined(const struct inet_stack *s, const uint8_t mac[6]);

/* Our address @a, usable (PREFERRED)? */
bool ipv6_is_ours(const struct inet_stack *s, const void *a);

/* The source for @dst (RFC 6724 reduced to our two addresses): link-local
 * for a link-local or multicast destination, else the global address, else
 * the link-local. 0, or EADDRNOTAVAIL when none is usable (DAD running or
 * failed). Deterministic: a caller that checksums with it and then calls
 * ipv6_output gets the same source. */
int ipv6_select_src(const struct inet_stack *s, const struct in6_addr *dst, struct in6_addr *src);

/* Send @d (upper-layer headers in front) to @dst with the source
 * ipv6_select_src picks. Takes the reference. 0, or EADDRNOTAVAIL,
 * EMSGSIZE (longer than the link MTU: we never fragment), ENOBUFS. */
int ipv6_output(struct inet_stack *s, struct dbuf *d, const struct in6_addr *dst, uint8_t proto);

/* ipv6_output from @src (one of ours, as ipv6_select_src gave) with hop
 * limit @hops (0: IPV6_DEFAULT_HOPS), caching the neighbor entry in *@route
 * when @route is not NULL (a TCP connection's, as ipv4_output_via). */
int ipv6_output_via(struct inet_stack *s, struct dbuf *d, const struct in6_addr *src, const struct in6_addr *dst,
                    uint8_t proto, uint8_t hops, struct nd6_entry **route);

/* The path MTU towards @dst: the link MTU unless a Packet Too Big lowered
 * it within IP6_PMTU_TIMEOUT_NS; never below IPV6_MIN_MTU. */
uint32_t ipv6_path_mtu(struct inet_stack *s, const struct in6_addr *dst);
/* A Packet Too Big for @dst said @mtu (icmp6.c; tests). */
void ipv6_pmtu_update(struct inet_stack *s, const struct in6_addr *dst, uint32_t mtu);

/* ---- upper layers ---------------------------------------------------------- */

/* TCP and UDP over IPv6 (tcp6.c, udp.c): @d at the TCP/UDP header, trimmed
 * to the payload. Take the reference. */
void tcp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx);
void udp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx);

/* ICMPv6 (icmp6.c), @d at the ICMPv6 header. Takes the reference. */
void icmp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx);

/* An ICMPv6 error about received packet @d (at its upper-layer header, as
 * handed to tcp6_input/udp6_input; or at the IPv6 header when @rx->hdrlen
 * is 0) under the rules of RFC 4443 2.4: not about an error, not to a
 * multicast destination (but Packet Too Big and parameter problem code 2),
 * nor from an unspecified or multicast source, and at most ICMP6_ERR_PER_S a
 * second. Does not take the reference. Returns whether one was sent. */
bool icmp6_error_send(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx, uint8_t type, uint8_t code,
                      uint32_t param);

/* Send an echo request with @len payload bytes. 0 or an errno. */
int icmp6_echo_send(struct inet_stack *s, const struct in6_addr *dst, uint16_t id, uint16_t seq, uint32_t len);

#endif /* DEMI_NET_IPV6_H */
