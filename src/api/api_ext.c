/* SPDX-License-Identifier: MIT */
/*
 * api_ext.c: the calls of <demi/ext.h>, libdemi's extensions for programs
 * written against POSIX sockets: demi_shutdown and demi_getsockname. Checks
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
    struct sockaddr_in sin;
    int ret;

    if (!q)
        return EBADF;
    if (!addr || !addrlen || *addrlen < (socklen_t)sizeof(sin))
        return EINVAL;
    if (!q->libos->ops->getsockname)
        return ENOTSUP;
    /* A fresh socket is 0.0.0.0:0, as on Linux: the libOS fills only what
     * it knows. */
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    ret = q->libos->ops->getsockname(q, &sin);
    if (ret)
        return ret;
    memcpy(addr, &sin, sizeof(sin));
    *addrlen = sizeof(sin);
    return 0;
}
