/* SPDX-License-Identifier: MIT */
/*
 * udp.h: UDP (RFC 768): a table of bound sockets by local port, checksums,
 * ephemeral ports, and a bounded receive queue per socket (overflow dropped
 * and counted). Received datagrams keep their buffer (zero copy): data points
 * at the payload, meta32 holds the source address and meta64 the source port
 * (both network order).
 *
 * Sharing a port (Linux's rules, no SO_REUSEPORT): a bind to a port already
 * held by a socket whose addresses overlap (below) succeeds iff the newcomer
 * and every such holder have SO_REUSEADDR. A datagram then goes to one of
 * the sharers: a socket connected to its source, else one bound to the
 * destination address, else one bound to the wildcard; among equals, the
 * most recently bound. A connected socket never takes another source's
 * datagrams.
 *
 * IPv6, dual stack as Linux (an AF_INET6 socket: udp_sock_set_v6). Which
 * datagrams a socket takes, by what it is bound to:
 *   AF_INET socket, a.b.c.d or 0.0.0.0    IPv4 to it
 *   AF_INET6, ::                          IPv6 to any of ours (and our
 *                                         groups), and IPv4 unless v6only
 *   AF_INET6, ::ffff:a.b.c.d (mapped)     IPv4 to it (0.0.0.0: any)
 *   AF_INET6, one of our IPv6 addresses   IPv6 to it
 * An IPv4 datagram delivered to an AF_INET6 socket has its source reported
 * as ::ffff:a.b.c.d by the libOS (meta32 holds the IPv4 source as for any
 * IPv4 datagram). Two sockets' addresses overlap when these sets meet: an
 * AF_INET socket and a v6only AF_INET6 one on :: share a port, an AF_INET
 * one and a dual-stack one on :: do not (without SO_REUSEADDR), as on
 * Linux. One difference, documented in docs/architecture.md: Linux also
 * refuses a bind to 0.0.0.0:p after a bind to [one IPv6 address]:p
 * (inet_rcv_saddr_equal is not symmetric there); we let the two share, as
 * Linux does in the other order.
 *
 * A received IPv6 datagram: meta64 has the source port and UDP_META_SRC6,
 * and the IPv6 source sits in the 16 bytes in front of the payload (the
 * consumed UDP and IPv6 headers' room): udp_src6(). IPv4's path does not
 * change: meta32/meta64 as above. Checksums are mandatory over IPv6 (RFC
 * 8200 8.1): a zero one is dropped (udp6_drop_zero_csum), a computed 0 is
 * sent as 0xffff. A datagram to no socket is answered with an ICMPv6 port
 * unreachable (RFC 4443 3.1; icmp6_error_send's rules: never to a group
 * destination, rate limited). Private header.
 */
#ifndef DEMI_NET_UDP_H
#define DEMI_NET_UDP_H

#include "core/limits.h" /* UDP_BUCKETS */
#include "core/list.h"
#include "mem/dbuf.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define UDP_EPHEMERAL_FIRST 49152 /* RFC 6335 dynamic ports */
#define UDP_EPHEMERAL_LAST 65535

/* In a received datagram's meta64: the source is IPv6 (udp_src6). */
#define UDP_META_SRC6 (1ull << 32)

struct inet_stack;
struct ipv6_rx;
struct udp_sock;

typedef void (*udp_readable_fn)(struct udp_sock *u);

struct udp_sock {
    struct list_node link; /* table bucket while bound */
    uint32_t local_ip;     /* network order; 0 = any */
    uint16_t local_port;   /* network order; 0 = unbound */
    struct dbuf **rxq;     /* ring of received datagrams */
    uint32_t rxq_cap, rxq_head, rxq_len;
    udp_readable_fn on_readable; /* called when a datagram is queued */
    void *owner;
    uint64_t rx_dropped; /* queue overflow on this socket */
    bool reuseaddr;      /* SO_REUSEADDR: may share its port (udp_bind) */
    bool connected;      /* udp_connect(): receives from peer_ip:peer_port only */
    uint32_t peer_ip;    /* network order */
    uint16_t peer_port;  /* network order */
    /* IPv6 (the top of this file). An AF_INET6 socket bound to :: or a
     * mapped address keeps its IPv4 side in local_ip as any socket. */
    bool v6;                   /* an AF_INET6 socket */
    bool v6only;               /* IPV6_V6ONLY: no IPv4 (set before bind) */
    bool rx_v4, rx_v6;         /* the families it takes, set at bind */
    bool peer_v6;              /* connected to peer_ip6 (else to peer_ip) */
    struct in6_addr local_ip6; /* :: = any; ::ffff:a.b.c.d when bound to IPv4 */
    struct in6_addr peer_ip6;
};

struct udp_table {
    struct list_node buckets[UDP_BUCKETS];
    uint16_t next_ephemeral; /* host order */
};

void udp_table_init(struct udp_table *t);

int udp_sock_init(struct udp_sock *u, uint32_t rxq_cap);
/* Unbinds and frees queued datagrams. */
void udp_sock_fini(struct inet_stack *s, struct udp_sock *u);

/* Bind to @ip:@port (network order; port 0 = an ephemeral port, one nobody
 * holds). A port others hold is shared when @u and all of them have
 * reuseaddr set. EADDRINUSE, EADDRNOTAVAIL (no ephemeral port free),
 * EINVAL (bound). */
int udp_bind(struct inet_stack *s, struct udp_sock *u, uint32_t ip, uint16_t port);

/* connect(): @ip:@port (network order) is the only source @u receives from
 * from now on, and its datagrams go to @u before any other sharer of the
 * port. A second call replaces the peer. @u must be bound. */
void udp_connect(struct udp_sock *u, uint32_t ip, uint16_t port);

/* Send @payload (a dbuf, or a chain) to @dst:@dport. Takes the reference.
 * Binds an ephemeral port first if unbound. 0, EMSGSIZE, ENOBUFS. */
int udp_output(struct inet_stack *s, struct udp_sock *u, struct dbuf *payload, uint32_t dst, uint16_t dport);

void udp_input(struct inet_stack *s, struct dbuf *d, uint32_t src, uint32_t dst);

/* ---- IPv6 ------------------------------------------------------------------ */

/* Make unbound @u an AF_INET6 socket (dual stack unless @v6only). */
void udp_sock_set_v6(struct udp_sock *u, bool v6only);

/* Bind AF_INET6 socket @u to [@ip6]:@port (port as udp_bind): :: (both
 * families, or IPv6 only with v6only), one of our IPv6 addresses (usable:
 * DAD done), or an IPv4-mapped address (IPv4, as udp_bind). EADDRINUSE,
 * EADDRNOTAVAIL (not ours, or no ephemeral port free), EINVAL (bound; a
 * mapped address with v6only). */
int udp_bind6(struct inet_stack *s, struct udp_sock *u, const struct in6_addr *ip6, uint16_t port);

/* udp_connect to IPv6 peer [@ip6]:@port (an IPv4-mapped peer is IPv4:
 * udp_connect). @u must be bound. */
void udp_connect6(struct udp_sock *u, const struct in6_addr *ip6, uint16_t port);

/* udp_output to [@dst]:@dport over IPv6, from @u's bound address or the one
 * ipv6_select_src picks. Takes the reference. Binds an ephemeral port
 * first if unbound. 0, EMSGSIZE (beyond udp_max_payload6), ENETUNREACH
 * (@u is bound to an IPv4-mapped address), EADDRNOTAVAIL (no usable
 * source), ENOBUFS. */
int udp_output6(struct inet_stack *s, struct udp_sock *u, struct dbuf *payload, const struct in6_addr *dst,
                uint16_t dport);

/* udp6_input (ipv6.h's hook, here in udp.c): @d at the UDP header. */

/* Largest payload that fits one unfragmented IPv6 datagram on @s (we never
 * fragment: RFC 8200 5 leaves it to the source, and we do not). */
uint32_t udp_max_payload6(const struct inet_stack *s);

/* The IPv6 source of received datagram @d, when it came over IPv6. */
static inline bool udp_src6(const struct dbuf *d, struct in6_addr *src)
{
    if (!(d->meta64 & UDP_META_SRC6))
        return false;
    memcpy(src, d->data - sizeof(*src), sizeof(*src));
    return true;
}

/* The oldest queued datagram, or NULL. The caller owns the reference. */
struct dbuf *udp_recv(struct udp_sock *u);

/* Largest payload that fits one unfragmented datagram on @s. */
uint32_t udp_max_payload(const struct inet_stack *s);

#endif /* DEMI_NET_UDP_H */
