/* SPDX-License-Identifier: MIT */
/*
 * api_pipe.c: demi_create_pipe and demi_open_pipe (declared in <demi/libos.h>,
 * as Demikernel does) and demi_pipe_sgaalloc of <demi/pipe.h>. The pipe
 * libOS joins the runtime on first use, beside the network libOS; its qds
 * then take push, pop, close and the waits like any other. demi_pipe_sgaalloc
 * hands out a buffer reserved in a pipe's ring (zero-copy push).
 */
#include "api/api.h"
#include "core/log.h"

#include <demi/pipe.h>

static int api_pipe(int *qd_out, const char *name, bool create)
{
    struct libos *los;
    struct queue *q;
    int ret;

    if (!qd_out || !name)
        return EINVAL;
    if (!rt.initialised) {
        log_err("%s: demi_init() has not been called", create ? "demi_create_pipe" : "demi_open_pipe");
        return EINVAL;
    }
    ret = rt_pipe_libos(&los);
    if (ret)
        return ret;
    if (!los->ops->pipe)
        return ENOTSUP;
    ret = los->ops->pipe(los, name, create, &q);
    if (ret)
        return ret;
    ret = qd_alloc(&rt.qds, q);
    if (ret) {
        q->libos->ops->close(q);
        return ret;
    }
    *qd_out = q->qd;
    return 0;
}

DEMI_EXPORT int demi_create_pipe(int *qd_out, const char *name)
{
    return api_pipe(qd_out, name, true);
}

DEMI_EXPORT int demi_open_pipe(int *qd_out, const char *name)
{
    return api_pipe(qd_out, name, false);
}

DEMI_EXPORT int demi_pipe_sgaalloc(demi_sgarray_t *sga_out, int qd, size_t size)
{
    struct queue *q;

    if (!sga_out)
        return EINVAL;
    memset(sga_out, 0, sizeof(*sga_out));
    if (!rt.initialised)
        return EINVAL;
    q = api_queue(qd);
    if (!q)
        return EBADF;
    if (!q->libos->ops->sgaalloc)
        return ENOTSUP;
    return q->libos->ops->sgaalloc(q, size, sga_out);
}
