/* SPDX-License-Identifier: MIT */
/* api.h: helpers shared by the files of the API layer. Private header. */
#ifndef DEMI_API_API_H
#define DEMI_API_API_H

#include "libos/runtime.h"

#include <errno.h>
#include <string.h>

/* The queue behind @qd, or NULL: the caller returns EBADF. */
static inline struct queue *api_queue(int qd)
{
    return qd_get(&rt.qds, qd);
}

/* Parse a caller's socket address for @use on @q (libos/sockaddr.h: Linux's
 * rules against the socket's family). A queue that is no socket (a pipe,
 * family 0) is taken as AF_INET. */
static inline int api_sockaddr(const struct queue *q, enum inet_sockaddr_use use, const struct sockaddr *addr,
                               socklen_t size, struct inet_sockaddr *out)
{
    return inet_sockaddr_parse(q, use, addr, size, out);
}

/* Give @a to the caller's @addr / @addrlen (getsockname, getpeername):
 * EINVAL below sizeof(struct sockaddr_in), nothing written (libdemi's
 * contract since 1.0); from there on Linux's truncation (an AF_INET6
 * address in fewer than 28 bytes is cut, *addrlen says 28). */
static inline int api_sockaddr_out(const struct inet_sockaddr *a, struct sockaddr *addr, socklen_t *addrlen)
{
    if (*addrlen < (socklen_t)sizeof(struct sockaddr_in))
        return EINVAL;
    inet_sockaddr_out(a, addr, addrlen);
    return 0;
}

/* A buffer about to be pushed: the stack may write its headers where a
 * popped datagram's source was kept (inet_sockaddr_attach), so
 * demi_sga_source no longer finds one. */
static inline void api_sga_pushed(struct dbuf *d)
{
    if (d)
        d->flags &= (uint16_t)~DBUF_F_SRCADDR;
}

#endif /* DEMI_API_API_H */
