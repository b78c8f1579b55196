/* SPDX-License-Identifier: MIT */
/*
 * api_ext.c: the calls of <demi/ext.h>, libdemi's extensions for programs
 * written against POSIX sockets: demi_shutdown, demi_getsockname and
 * demi_sga_source (a datagram's source, whole: an IPv6 one does not fit
 * the sga's 16-byte sga_addr). Checks
 * in the order of every call (api_queue.c): the qd (EBADF), arguments
 * (EINVAL), the queue's kind (ENOTSUP), then the libOS. A libOS that leaves
 * the op NULL cannot do it: ENOTSUP.
 */
#include "api/api.h"

#include <demi/ext.h>

DEMI_EXPORT int demi_shutdown(int qd, int how)
{
    struct queue *q = api_queue(qd);

    if (!q)
        return EBADF;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return EINVAL;
    if (!q->libos->ops->shutdown)
        return ENOTSUP;
    return q->libos->ops->shutdown(q, how);
}

DEMI_EXPORT int demi_getsockname(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct queue *q = api_queue(qd);
    struct inet_sockaddr sa;
    int ret;

    if (!q)
        return EBADF;
    if (!addr || !addrlen || *addrlen < (socklen_t)sizeof(struct sockaddr_in))
        return EINVAL;
    if (!q->libos->ops->getsockname)
        return ENOTSUP;
    /* A fresh socket is 0.0.0.0:0 or [::]:0, as on Linux: the libOS fills
     * only what it knows. */
    memset(&sa, 0, sizeof(sa));
    sa.sa.sa_family = q->family == AF_INET6 ? AF_INET6 : AF_INET;
    ret = q->libos->ops->getsockname(q, &sa);
    if (ret)
        return ret;
    return api_sockaddr_out(&sa, addr, addrlen);
}

DEMI_EXPORT int demi_sga_source(const demi_sgarray_t *sga, struct sockaddr *addr, socklen_t *addrlen)
{
    struct inet_sockaddr sa;
    struct dbuf *d;

    if (!sga || !addr || !addrlen || !rt.initialised || !sga->sga_buf)
        return EINVAL;
    /* Only an sga the application holds: a freed or foreign one says
     * nothing (the same lookup as demi_sgafree). */
    d = mem_lookup_app(&rt.mem, sga->sga_buf);
    if (!d)
        return EINVAL;
    if (!inet_sockaddr_attached(d, &sa))
        return ENOENT;
    inet_sockaddr_out(&sa, addr, addrlen);
    return 0;
}
