/* SPDX-License-Identifier: MIT */
/*
 * api_storage.c: <demi/storage.h>, storage queues. The storage libOS
 * (cattree) is LIBOS=cattree's own or joins the runtime on first use; its
 * qds then take push, pop, close and the waits like any other.
 */
#include "api/api.h"
#include "core/log.h"

#include <demi/storage.h>

/* The flags demi_open takes besides the access mode. */
#define API_STORAGE_FLAGS (DEMI_O_NOSYNC | O_CLOEXEC)

static int api_storage_open(int *qd_out, const char *path, int flags, mode_t mode, bool create)
{
    struct libos *los;
    struct queue *q;
    int ret;

    if (!qd_out || !path)
        return EINVAL;
    if (!rt.initialised) {
        log_err("%s: demi_init() has not been called", create ? "demi_creat" : "demi_open");
        return EINVAL;
    }
    if (!create && ((flags & ~(O_ACCMODE | API_STORAGE_FLAGS)) || (flags & O_ACCMODE) == O_ACCMODE)) {
        log_err("demi_open: %s: flags %#x: only O_RDONLY, O_WRONLY or O_RDWR, with DEMI_O_NOSYNC or O_CLOEXEC "
                "(a new log: demi_creat)",
                path, (unsigned)flags);
        return EINVAL;
    }
    ret = rt_storage_libos(&los);
    if (ret)
        return ret;
    ret = los->ops->storage_open(los, path, flags, mode, create, &q);
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

DEMI_EXPORT int demi_creat(int *qd_out, const char *path, mode_t mode)
{
    return api_storage_open(qd_out, path, O_RDWR, mode, true);
}

DEMI_EXPORT int demi_open(int *qd_out, const char *path, int flags)
{
    return api_storage_open(qd_out, path, flags, 0, false);
}

/* The storage queue behind @qd: 0, EBADF or ENOTSUP. */
static int api_storage_queue(int qd, struct queue **q_out)
{
    struct queue *q = api_queue(qd);

    if (!q)
        return EBADF;
    if (q->kind != QUEUE_FILE || !q->libos->ops->lseek)
        return ENOTSUP;
    *q_out = q;
    return 0;
}

DEMI_EXPORT int demi_lseek(int qd, off_t off, int whence)
{
    struct queue *q;
    int ret = api_storage_queue(qd, &q);

    return ret ? ret : q->libos->ops->lseek(q, (int64_t)off, whence);
}

DEMI_EXPORT int demi_tell(int qd, off_t *off_out)
{
    struct queue *q;
    uint64_t pos;
    int ret;

    if (!off_out)
        return EINVAL;
    if ((ret = api_storage_queue(qd, &q)) != 0)
        return ret;
    if ((ret = q->libos->ops->tell(q, &pos)) != 0)
        return ret;
    *off_out = (off_t)pos;
    return 0;
}
