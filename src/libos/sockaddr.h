/* SPDX-License-Identifier: MIT */
/*
 * sockaddr.h: the socket address every libOS takes and gives, of either
 * family (AF_INET, AF_INET6), and the rules by which an application's
 * struct sockaddr becomes one. Private header.
 *
 * The api layer parses what the application passes (inet_sockaddr_parse)
 * against the socket's family, exactly as Linux's bind(2), connect(2) and
 * sendto(2) do, so a libOS gets an address that is already right for its
 * socket: on an AF_INET socket always AF_INET; on an AF_INET6 socket always
 * AF_INET6, an IPv4 destination given as AF_INET (UDP) turned into its
 * IPv4-mapped form ::ffff:a.b.c.d, as Linux does. AF_UNSPEC reaches a libOS
 * only from a UDP demi_connect (dissolve the default peer). Addresses go
 * back to the application through inet_sockaddr_out (Linux's truncation) and
 * inet_sockaddr_to_sin (the 16-byte fields of Demikernel's ABI).
 *
 * A libOS over our own stack reads an address with inet_sockaddr_v4 (an IPv4
 * one, plain or mapped) or inet_sockaddr_v6, and writes one with
 * inet_sockaddr_set_v4 / inet_sockaddr_set_v6 in its socket's family.
 */
#ifndef DEMI_LIBOS_SOCKADDR_H
#define DEMI_LIBOS_SOCKADDR_H

#include "core/common.h"
#include "core/qd.h"
#include "mem/dbuf.h"

#include <demi/types.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct inet_sockaddr {
    union {
        struct sockaddr sa; /* sa_family says which of the two */
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    };
};

/* Linux's SIN6_LEN_RFC2133 (include/uapi/linux/in6.h): a sockaddr_in6
 * without sin6_scope_id, the least AF_INET6 bind/connect/sendto take. */
#define INET_SIN6_LEN_RFC2133 24

/* What the address is for: the rules differ (see inet_sockaddr_parse). */
enum inet_sockaddr_use {
    INET_SA_BIND,    /* demi_bind */
    INET_SA_CONNECT, /* demi_connect */
    INET_SA_SENDTO,  /* demi_pushto's destination */
};

/*
 * Parse the application's @addr of @len bytes for @use on socket @q (its
 * family, kind and v6only), as Linux does (net/ipv4/af_inet.c inet_bind,
 * __inet_stream_connect, inet_dgram_connect, tcp_v4_connect,
 * ip4_datagram_connect, udp_sendmsg; net/ipv6/af_inet6.c __inet6_bind,
 * tcp_v6_connect, __ip6_datagram_connect, udpv6_sendmsg):
 *  - NULL: EINVAL (a library call has no "no address" form here).
 *  - AF_INET socket: fewer than sizeof(struct sockaddr_in) bytes EINVAL;
 *    another family EAFNOSUPPORT, except AF_UNSPEC: a bind to it with
 *    INADDR_ANY is a bind to 0.0.0.0, a sendto to it is AF_INET.
 *  - AF_INET6 socket: fewer than 24 bytes (INET_SIN6_LEN_RFC2133) EINVAL
 *    (sin6_scope_id, when cut off, is 0); another family EAFNOSUPPORT, but
 *    for UDP an AF_INET destination (connect, sendto) is taken as its
 *    IPv4-mapped address (EAFNOSUPPORT for connect, ENETUNREACH for sendto
 *    when IPV6_V6ONLY), and sendto rejects an unknown family with EINVAL.
 *    An IPv4-mapped address under IPV6_V6ONLY: bind EINVAL, connect and
 *    sendto ENETUNREACH. (Scopes, link-local rules and whether the address
 *    is ours are the libOS's: catnap's kernel answers them.)
 *  - connect with AF_UNSPEC (at least sizeof(sa_family_t) bytes): @out is
 *    AF_UNSPEC, "dissolve the association" (Linux's disconnect);
 *    sendto with AF_UNSPEC on an AF_INET6 socket: @out is AF_UNSPEC, "no
 *    destination given" (the default peer's).
 * Returns 0 with @out filled (zeroed beyond what was given), or the errno.
 */
int inet_sockaddr_parse(const struct queue *q, enum inet_sockaddr_use use, const struct sockaddr *addr, socklen_t len,
                        struct inet_sockaddr *out);

/* The size of @a's struct for its family: 16 (AF_INET), 28 (AF_INET6),
 * sizeof(sa_family_t) for AF_UNSPEC. */
socklen_t inet_sockaddr_len(const struct inet_sockaddr *a);

/* Give @a to the application as getsockname(2), getpeername(2) and
 * accept(2) do (net/socket.c move_addr_to_user): the first
 * min(*len, full size) bytes are written, *len becomes the full size (so a
 * caller sees it was cut). */
void inet_sockaddr_out(const struct inet_sockaddr *a, struct sockaddr *addr, socklen_t *len);

/* @a in one of the ABI's 16-byte struct sockaddr_in fields (sga_addr,
 * ares.addr): an AF_INET address whole; an AF_INET6 one cut to its first 16
 * bytes, as Linux writes it into a 16-byte buffer: sin6_family (so
 * sin_family says AF_INET6), sin6_port (where sin_port is), sin6_flowinfo
 * and the first 8 bytes of sin6_addr. The full address: demi_getpeername,
 * demi_sga_source. */
void inet_sockaddr_to_sin(const struct inet_sockaddr *a, struct sockaddr_in *out);

/* Whether @a is IPv4: AF_INET, or AF_INET6 with an IPv4-mapped address
 * (::ffff:a.b.c.d); then *ip and *port (network order) say which. */
bool inet_sockaddr_v4(const struct inet_sockaddr *a, uint32_t *ip, uint16_t *port);

/* Whether @a is a true IPv6 address (AF_INET6, not IPv4-mapped). */
bool inet_sockaddr_v6(const struct inet_sockaddr *a);

/* @a = IPv4 @ip:@port (network order) as a socket of @family reports it:
 * AF_INET, or AF_INET6 with the IPv4-mapped address. */
void inet_sockaddr_set_v4(struct inet_sockaddr *a, int family, uint32_t ip, uint16_t port);

/* @a = [@ip6]:@port (network order) with @scope_id. */
void inet_sockaddr_set_v6(struct inet_sockaddr *a, const struct in6_addr *ip6, uint16_t port, uint32_t scope_id);

/* Whether two addresses are the same (family, address, port, and for
 * AF_INET6 the scope). */
bool inet_sockaddr_equal(const struct inet_sockaddr *a, const struct inet_sockaddr *b);

/*
 * A popped datagram's source, whole, for demi_sga_source(): kept in @d's
 * headroom right in front of the payload (the headers' room, free once the
 * datagram is the application's) and marked with DBUF_F_SRCADDR. A buffer
 * without that room (a slice) keeps none. A push of the buffer clears the
 * mark (the stack writes its headers there).
 */
void inet_sockaddr_attach(struct dbuf *d, const struct inet_sockaddr *a);

/* The source attached to @d; false when there is none. */
bool inet_sockaddr_attached(const struct dbuf *d, struct inet_sockaddr *out);

/* Fill a pop's sga_addr from @a and attach the whole of it to @d: what
 * every libOS does for a datagram. */
static inline void inet_sockaddr_to_sga(demi_sgarray_t *sga, struct dbuf *d, const struct inet_sockaddr *a)
{
    struct sockaddr_in sin;

    inet_sockaddr_to_sin(a, &sin);
    memcpy(&sga->sga_addr, &sin, sizeof(sin)); /* the packed ABI struct */
    inet_sockaddr_attach(d, a);
}

#endif /* DEMI_LIBOS_SOCKADDR_H */
