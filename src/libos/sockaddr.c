/* SPDX-License-Identifier: MIT */
/*
 * sockaddr.c: struct inet_sockaddr (sockaddr.h): an application's address
 * parsed by Linux's rules, and given back by Linux's truncation.
 */
#include "libos/sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

BUILD_BUG_ON(sizeof(struct inet_sockaddr) != sizeof(struct sockaddr_in6));
BUILD_BUG_ON(offsetof(struct sockaddr_in6, sin6_port) != offsetof(struct sockaddr_in, sin_port));
BUILD_BUG_ON(sizeof(struct sockaddr_in) > DBUF_HEADROOM || sizeof(struct inet_sockaddr) > DBUF_HEADROOM);

/* Linux's move_addr_to_kernel (net/socket.c): no address is longer than a
 * struct sockaddr_storage. */
#define INET_SA_MAX ((socklen_t)sizeof(struct sockaddr_storage))

static int inet_sockaddr_parse4(enum inet_sockaddr_use use, sa_family_t fam, const struct sockaddr *addr, socklen_t len,
                                struct inet_sockaddr *out)
{
    if (use == INET_SA_CONNECT && fam == AF_UNSPEC) {
        out->sa.sa_family = AF_UNSPEC; /* __inet_stream_connect, inet_dgram_connect */
        return 0;
    }
    if (len < (socklen_t)sizeof(struct sockaddr_in))
        return EINVAL;
    memcpy(&out->sin, addr, sizeof(out->sin));
    if (fam == AF_INET)
        return 0;
    /* inet_bind's "compatibility games": AF_UNSPEC with INADDR_ANY is
     * 0.0.0.0; udp_sendmsg takes an AF_UNSPEC destination as AF_INET. */
    if (fam == AF_UNSPEC &&
        (use == INET_SA_SENDTO || (use == INET_SA_BIND && out->sin.sin_addr.s_addr == htonl(INADDR_ANY)))) {
        out->sin.sin_family = AF_INET;
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return EAFNOSUPPORT;
}

static int inet_sockaddr_parse6(const struct queue *q, enum inet_sockaddr_use use, sa_family_t fam,
                                const struct sockaddr *addr, socklen_t len, struct inet_sockaddr *out)
{
    if (fam == AF_UNSPEC && use != INET_SA_BIND) {
        /* connect: disconnect; udpv6_sendmsg: no destination given. */
        out->sa.sa_family = AF_UNSPEC;
        return 0;
    }
    if (fam == AF_INET && q->kind == QUEUE_UDP && use != INET_SA_BIND) {
        /* __ip6_datagram_connect and udpv6_sendmsg hand an AF_INET
         * destination to IPv4, which a v6-only socket refuses. */
        struct sockaddr_in sin;
        if (q->v6only)
            return use == INET_SA_CONNECT ? EAFNOSUPPORT : ENETUNREACH;
        if (len < (socklen_t)sizeof(sin))
            return EINVAL;
        memcpy(&sin, addr, sizeof(sin));
        inet_sockaddr_set_v4(out, AF_INET6, sin.sin_addr.s_addr, sin.sin_port);
        return 0;
    }
    if (use == INET_SA_SENDTO && fam != AF_INET6)
        return EINVAL; /* udpv6_sendmsg's default case */
    if (len < INET_SIN6_LEN_RFC2133)
        return EINVAL;
    if (fam != AF_INET6)
        return EAFNOSUPPORT;
    memcpy(&out->sin6, addr, len < (socklen_t)sizeof(out->sin6) ? len : sizeof(out->sin6));
    if (IN6_IS_ADDR_V4MAPPED(&out->sin6.sin6_addr) && q->v6only) {
        memset(out, 0, sizeof(*out));
        /* __inet6_bind: "makes no sense"; tcp_v6_connect,
         * __ip6_datagram_connect, udpv6_sendmsg: no IPv4 route. */
        return use == INET_SA_BIND ? EINVAL : ENETUNREACH;
    }
    return 0;
}

int inet_sockaddr_parse(const struct queue *q, enum inet_sockaddr_use use, const struct sockaddr *addr, socklen_t len,
                        struct inet_sockaddr *out)
{
    sa_family_t fam;

    memset(out, 0, sizeof(*out));
    if (!addr || len < (socklen_t)sizeof(fam) || len > INET_SA_MAX)
        return EINVAL;
    memcpy(&fam, &addr->sa_family, sizeof(fam));
    if (q->family == AF_INET6) /* else AF_INET, or 0: a pipe, taken as AF_INET */
        return inet_sockaddr_parse6(q, use, fam, addr, len, out);
    return inet_sockaddr_parse4(use, fam, addr, len, out);
}

socklen_t inet_sockaddr_len(const struct inet_sockaddr *a)
{
    switch (a->sa.sa_family) {
    case AF_INET:
        return sizeof(struct sockaddr_in);
    case AF_INET6:
        return sizeof(struct sockaddr_in6);
    default:
        return sizeof(sa_family_t);
    }
}

void inet_sockaddr_out(const struct inet_sockaddr *a, struct sockaddr *addr, socklen_t *len)
{
    socklen_t full = inet_sockaddr_len(a);

    memcpy(addr, a, *len < full ? *len : full);
    *len = full;
}

void inet_sockaddr_to_sin(const struct inet_sockaddr *a, struct sockaddr_in *out)
{
    /* Both structs begin with the family and the port: the first 16 bytes
     * of either are what Linux writes into a 16-byte buffer. */
    if (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6)
        memcpy(out, a, sizeof(*out));
    else
        memset(out, 0, sizeof(*out));
}

bool inet_sockaddr_v4(const struct inet_sockaddr *a, uint32_t *ip, uint16_t *port)
{
    if (a->sa.sa_family == AF_INET) {
        *ip = a->sin.sin_addr.s_addr;
        *port = a->sin.sin_port;
        return true;
    }
    if (a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr)) {
        memcpy(ip, &a->sin6.sin6_addr.s6_addr[12], sizeof(*ip));
        *port = a->sin6.sin6_port;
        return true;
    }
    return false;
}

bool inet_sockaddr_v6(const struct inet_sockaddr *a)
{
    return a->sa.sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr);
}

void inet_sockaddr_set_v4(struct inet_sockaddr *a, int family, uint32_t ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET6) {
        a->sin6.sin6_family = AF_INET6;
        a->sin6.sin6_port = port;
        a->sin6.sin6_addr.s6_addr[10] = 0xff;
        a->sin6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&a->sin6.sin6_addr.s6_addr[12], &ip, sizeof(ip));
        return;
    }
    a->sin.sin_family = AF_INET;
    a->sin.sin_addr.s_addr = ip;
    a->sin.sin_port = port;
}

void inet_sockaddr_set_v6(struct inet_sockaddr *a, const struct in6_addr *ip6, uint16_t port, uint32_t scope_id)
{
    memset(a, 0, sizeof(*a));
    a->sin6.sin6_family = AF_INET6;
    a->sin6.sin6_addr = *ip6;
    a->sin6.sin6_port = port;
    a->sin6.sin6_scope_id = scope_id;
}

bool inet_sockaddr_equal(const struct inet_sockaddr *a, const struct inet_sockaddr *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr && a->sin.sin_port == b->sin.sin_port;
    if (a->sa.sa_family == AF_INET6)
        return IN6_ARE_ADDR_EQUAL(&a->sin6.sin6_addr, &b->sin6.sin6_addr) && a->sin6.sin6_port == b->sin6.sin6_port &&
               a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
    return true;
}

void inet_sockaddr_attach(struct dbuf *d, const struct inet_sockaddr *a)
{
    /* No address (an end-of-stream sga) keeps nothing. A slice's headroom
     * is its parent's bytes (another segment's data, maybe the
     * application's): never written. */
    if ((a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) || d->parent || d->data < d->buf ||
        (size_t)(d->data - d->buf) < sizeof(*a)) {
        d->flags &= (uint16_t)~DBUF_F_SRCADDR;
        return;
    }
    memcpy(d->data - sizeof(*a), a, sizeof(*a));
    d->flags |= DBUF_F_SRCADDR;
}

bool inet_sockaddr_attached(const struct dbuf *d, struct inet_sockaddr *out)
{
    if (!(d->flags & DBUF_F_SRCADDR))
        return false;
    memcpy(out, d->data - sizeof(*out), sizeof(*out));
    return true;
}
