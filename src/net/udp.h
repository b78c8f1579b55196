/* SPDX-License-Identifier: MIT */
/*
 * udp.h: UDP (RFC 768): a table of bound sockets by local port, checksums,
 * ephemeral ports, and a bounded receive queue per socket (overflow dropped
 * and counted). Received datagrams keep their buffer (zero copy): data points
 * at the payload, meta32 holds the source address and meta64 the source port
 * (both network order).
 *
 * Sharing a port (Linux's rules, no SO_REUSEPORT): a bind to a port already
 * held succeeds iff the newcomer and every holder have SO_REUSEADDR. A
 * datagram then goes to one of the sharers: a socket connected to its
 * source, else one bound to the destination address, else one bound to the
 * wildcard; among equals, the most recently bound. A connected socket never
 * takes another source's datagrams. Private header.
 */
#ifndef DEMI_NET_UDP_H
#define DEMI_NET_UDP_H

#include "core/limits.h" /* UDP_BUCKETS */
#include "core/list.h"
#include "mem/dbuf.h"

#include <stdbool.h>
#include <stdint.h>

#define UDP_EPHEMERAL_FIRST 49152 /* RFC 6335 dynamic ports */
#define UDP_EPHEMERAL_LAST 65535

struct inet_stack;
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

/* The oldest queued datagram, or NULL. The caller owns the reference. */
struct dbuf *udp_recv(struct udp_sock *u);

/* Largest payload that fits one unfragmented datagram on @s. */
uint32_t udp_max_payload(const struct inet_stack *s);

#endif /* DEMI_NET_UDP_H */
