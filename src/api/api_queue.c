/* SPDX-License-Identifier: MIT */
/*
 * api_queue.c: demi_init and the queue calls of <demi/libos.h>.
 * Order of checks everywhere: the qd first (EBADF), then pointers and sizes
 * (EINVAL), then what the queue's kind supports (ENOTSUP), then the libOS.
 */
#include "api/api.h"
#include "core/log.h"

#include <demi/libos.h>
#include <netinet/in.h>
#include <stdlib.h>

DEMI_EXPORT int demi_init(const struct demi_args *args)
{
    if (!args || args->argc < 0 || (args->argc > 0 && !args->argv))
        return EINVAL;
    if (rt.initialised)
        return EEXIST;
    return rt_init(getenv("LIBOS"), getenv("CONFIG_PATH"));
}

DEMI_EXPORT int demi_socket(int *sockqd_out, int domain, int type, int protocol)
{
    struct queue *q;
    int ret;

    if (!sockqd_out)
        return EINVAL;
    if (!rt.initialised) {
        log_err("demi_socket: demi_init() has not been called");
        return EINVAL;
    }
    if (domain != AF_INET && domain != AF_INET6)
        return ENOTSUP;
    if (type == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP)
            return ENOTSUP;
    } else if (type == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP)
            return ENOTSUP;
    } else {
        return ENOTSUP;
    }
    if (!rt.net->ops->socket) {
        log_err("demi_socket: LIBOS=%s has no sockets (%s); pick a network libOS", rt.net->ops->name,
                rt.net->ops->storage_open ? "storage queues only: <demi/storage.h>" : "pipes only: <demi/pipe.h>");
        return ENOTSUP;
    }
    ret = rt.net->ops->socket(rt.net, domain, type, protocol, &q);
    if (ret)
        return ret;
    q->family = (uint8_t)domain; /* q->v6only: the libOS's (Linux's default: off) */
    ret = qd_alloc(&rt.qds, q);
    if (ret) {
        q->libos->ops->close(q);
        return ret;
    }
    *sockqd_out = q->qd;
    return 0;
}

DEMI_EXPORT int demi_bind(int sockqd, const struct sockaddr *addr, socklen_t size)
{
    struct queue *q = api_queue(sockqd);
    struct inet_sockaddr sa;
    int ret;

    if (!q)
        return EBADF;
    if ((ret = api_sockaddr(q, INET_SA_BIND, addr, size, &sa)))
        return ret;
    if (!q->libos->ops->bind)
        return ENOTSUP;
    return q->libos->ops->bind(q, &sa);
}

DEMI_EXPORT int demi_listen(int sockqd, int backlog)
{
    struct queue *q = api_queue(sockqd);

    if (!q)
        return EBADF;
    if (backlog < 0)
        return EINVAL;
    if (q->kind != QUEUE_TCP || !q->libos->ops->listen)
        return ENOTSUP;
    return q->libos->ops->listen(q, backlog);
}

/* Take an op, hand it to the libOS, and give the token out only on success. */
#define API_SUBMIT(q, qt_out, opc, call)                              \
    do {                                                              \
        struct demi_op *op_ = op_alloc(&rt.ops, (q), (opc), (q)->qd); \
        int ret_;                                                     \
        if (!op_)                                                     \
            return ENOMEM;                                            \
        ret_ = (call);                                                \
        if (ret_) {                                                   \
            op_free(&rt.ops, op_);                                    \
            return ret_;                                              \
        }                                                             \
        *(qt_out) = op_token(op_);                                    \
        return 0;                                                     \
    } while (0)

DEMI_EXPORT int demi_accept(demi_qtoken_t *qt_out, int sockqd)
{
    struct queue *q = api_queue(sockqd);

    if (!q)
        return EBADF;
    if (!qt_out)
        return EINVAL;
    if (q->kind != QUEUE_TCP || !q->libos->ops->accept)
        return ENOTSUP;
    API_SUBMIT(q, qt_out, DEMI_OPC_ACCEPT, q->libos->ops->accept(q, op_));
}

DEMI_EXPORT int demi_connect(demi_qtoken_t *qt_out, int sockqd, const struct sockaddr *addr, socklen_t size)
{
    struct queue *q = api_queue(sockqd);
    struct inet_sockaddr sa;
    int ret;

    if (!q)
        return EBADF;
    if (!qt_out)
        return EINVAL;
    if ((ret = api_sockaddr(q, INET_SA_CONNECT, addr, size, &sa)))
        return ret;
    if (!q->libos->ops->connect)
        return ENOTSUP;
    /* AF_UNSPEC: Linux dissolves a UDP socket's association; on TCP it
     * would abort the connection (tcp_disconnect), which no libOS does. */
    if (sa.sa.sa_family == AF_UNSPEC && q->kind != QUEUE_UDP)
        return ENOTSUP;
    API_SUBMIT(q, qt_out, DEMI_OPC_CONNECT, q->libos->ops->connect(q, op_, &sa));
}

DEMI_EXPORT int demi_close(int qd)
{
    struct queue *q = api_queue(qd);

    if (!q)
        return EBADF;
    /* The qd is gone for the application at once; the libOS may keep the
     * underlying connection alive to finish a graceful close. */
    qd_release(&rt.qds, qd);
    return q->libos->ops->close(q);
}

/* Checks shared by push and pushto; sets *d_out to the sga's dbuf when the
 * segment lies in one of our buffers (zero-copy), else NULL. */
static int api_check_sga(const demi_sgarray_t *sga, struct dbuf **d_out)
{
    struct dbuf *d;

    if (!sga || sga->sga_numsegs == 0 || sga->sga_numsegs > DEMI_SGARRAY_MAXSIZE)
        return EINVAL;
    if (!sga->sga_segs[0].sgaseg_buf || sga->sga_segs[0].sgaseg_len == 0)
        return EINVAL;
    d = NULL;
    if (sga->sga_buf) {
        d = mem_lookup_app(&rt.mem, sga->sga_buf);
        /* Inside our pools but not held by the application: freed or stale,
         * its bytes may belong to someone else now. */
        if (!d && mem_owns(&rt.mem, sga->sga_buf))
            return EINVAL;
    }
    if (d && !dbuf_contains(d, sga->sga_segs[0].sgaseg_buf, sga->sga_segs[0].sgaseg_len))
        return EINVAL; /* our buffer, but the segment points outside it */
    *d_out = d;
    return 0;
}

DEMI_EXPORT int demi_push(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga)
{
    struct queue *q = api_queue(qd);
    struct dbuf *d;
    int ret;

    if (!q)
        return EBADF;
    if (!qt_out)
        return EINVAL;
    if ((ret = api_check_sga(sga, &d)))
        return ret;
    if (d && (d->flags & DBUF_F_RING) && q->kind != QUEUE_PIPE)
        return EINVAL; /* a pipe's ring buffer goes only down that pipe */
    api_sga_pushed(d);
    API_SUBMIT(q, qt_out, DEMI_OPC_PUSH, q->libos->ops->push(q, op_, sga, d, NULL));
}

DEMI_EXPORT int demi_pushto(demi_qtoken_t *qt_out, int qd, const demi_sgarray_t *sga, const struct sockaddr *dest,
                            socklen_t size)
{
    struct queue *q = api_queue(qd);
    struct inet_sockaddr sa;
    struct dbuf *d;
    int ret;

    if (!q)
        return EBADF;
    if (!qt_out)
        return EINVAL;
    if ((ret = api_check_sga(sga, &d)))
        return ret;
    if (d && (d->flags & DBUF_F_RING) && q->kind != QUEUE_PIPE)
        return EINVAL; /* a pipe's ring buffer goes only down that pipe */
    if ((ret = api_sockaddr(q, INET_SA_SENDTO, dest, size, &sa)))
        return ret;
    if (q->kind != QUEUE_UDP)
        return ENOTSUP;
    api_sga_pushed(d);
    /* AF_UNSPEC on an AF_INET6 socket: no destination (udpv6_sendmsg). */
    API_SUBMIT(q, qt_out, DEMI_OPC_PUSH,
               q->libos->ops->push(q, op_, sga, d, sa.sa.sa_family == AF_UNSPEC ? NULL : &sa));
}

DEMI_EXPORT int demi_pop(demi_qtoken_t *qt_out, int qd)
{
    struct queue *q = api_queue(qd);

    if (!q)
        return EBADF;
    if (!qt_out)
        return EINVAL;
    API_SUBMIT(q, qt_out, DEMI_OPC_POP, q->libos->ops->pop(q, op_));
}

DEMI_EXPORT int demi_setsockopt(int qd, int level, int optname, const void *optval, socklen_t optlen)
{
    struct queue *q = api_queue(qd);
    int ret;

    if (!q)
        return EBADF;
    if (!optval)
        return EINVAL;
    if (!q->libos->ops->setsockopt)
        return ENOTSUP;
    /* Linux: IPPROTO_IPV6 options exist on AF_INET6 sockets only. */
    if (level == IPPROTO_IPV6 && q->family != AF_INET6)
        return ENOPROTOOPT;
    ret = q->libos->ops->setsockopt(q, level, optname, optval, optlen);
    if (ret == 0 && level == IPPROTO_IPV6 && optname == IPV6_V6ONLY) {
        int v;
        memcpy(&v, optval, sizeof(v)); /* the libOS checked optlen */
        q->v6only = v != 0;            /* the address rules follow it (api_sockaddr) */
    }
    return ret;
}

DEMI_EXPORT int demi_getsockopt(int qd, int level, int optname, void *optval, socklen_t *optlen)
{
    struct queue *q = api_queue(qd);

    if (!q)
        return EBADF;
    if (!optval || !optlen)
        return EINVAL;
    if (!q->libos->ops->getsockopt)
        return ENOTSUP;
    if (level == IPPROTO_IPV6 && q->family != AF_INET6)
        return ENOPROTOOPT;
    return q->libos->ops->getsockopt(q, level, optname, optval, optlen);
}

DEMI_EXPORT int demi_getpeername(int qd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct queue *q = api_queue(qd);
    struct inet_sockaddr sa;
    int ret;

    if (!q)
        return EBADF;
    if (!addr || !addrlen || *addrlen < (socklen_t)sizeof(struct sockaddr_in))
        return EINVAL;
    if (!q->libos->ops->getpeername)
        return ENOTSUP;
    memset(&sa, 0, sizeof(sa));
    ret = q->libos->ops->getpeername(q, &sa);
    if (ret)
        return ret;
    return api_sockaddr_out(&sa, addr, addrlen);
}
