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

/* Validate a caller's IPv4 socket address; EINVAL when it is not one. */
static inline int api_sockaddr_in(const struct sockaddr *addr, socklen_t size, struct sockaddr_in *out)
{
    if (!addr || size < (socklen_t)sizeof(struct sockaddr_in))
        return EINVAL;
    memcpy(out, addr, sizeof(*out));
    if (out->sin_family != AF_INET)
        return EINVAL;
    return 0;
}

#endif /* DEMI_API_API_H */
