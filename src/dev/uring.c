/* SPDX-License-Identifier: MIT */
/* uring.c: the io_uring storage device (uring.h), over liburing. */
#include "dev/uring.h"

#include "core/log.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fs.h> /* RWF_DSYNC */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct uring_dev {
    struct io_uring ring;
    uint32_t inflight;
    uint32_t nbufs;
    bool *slot_used;
    bool sqpoll;
    uint32_t writes;           /* data writes asked for, for the fault hook */
    uint32_t fault_write_eio;  /* 0: off */
    struct uring_req *faulted; /* completed with -EIO at the next poll */
};

int uring_dev_open(const struct uring_params *p, struct uring_dev **out)
{
    struct io_uring_params up;
    struct uring_dev *d;
    int ret;

    d = calloc(1, sizeof(*d));
    if (!d)
        return ENOMEM;
    memset(&up, 0, sizeof(up));
    if (p->sqpoll) {
        up.flags |= IORING_SETUP_SQPOLL;
        up.sq_thread_idle = 1000; /* ms before the kernel thread sleeps */
    }
    ret = io_uring_queue_init_params(p->entries, &d->ring, &up);
    if (ret < 0) {
        free(d);
        return -ret;
    }
    d->sqpoll = p->sqpoll;
    d->nbufs = p->nbufs;
    d->fault_write_eio = p->fault_write_eio;
    d->slot_used = calloc(p->nbufs ? p->nbufs : 1, sizeof(bool));
    if (!d->slot_used) {
        io_uring_queue_exit(&d->ring);
        free(d);
        return ENOMEM;
    }
    /* A sparse table: queues register into it as they open. Without it
     * (ENOMEM under a small RLIMIT_MEMLOCK) every buffer goes unregistered. */
    if (p->nbufs && io_uring_register_buffers_sparse(&d->ring, p->nbufs) < 0) {
        log_info("cattree: io_uring has no fixed-buffer table here; buffers are mapped per request");
        d->nbufs = 0;
    }
    *out = d;
    return 0;
}

void uring_dev_close(struct uring_dev *d)
{
    if (!d)
        return;
    io_uring_queue_exit(&d->ring);
    free(d->slot_used);
    free(d);
}

int uring_buf_register(struct uring_dev *d, void *base, size_t len)
{
    for (uint32_t i = 0; i < d->nbufs; i++) {
        struct iovec iov = {.iov_base = base, .iov_len = len};
        __u64 tag = 0;
        if (d->slot_used[i])
            continue;
        if (io_uring_register_buffers_update_tag(&d->ring, i, &iov, &tag, 1) < 0)
            return -1; /* RLIMIT_MEMLOCK, most likely: go unregistered */
        d->slot_used[i] = true;
        return (int)i;
    }
    return -1;
}

void uring_buf_unregister(struct uring_dev *d, int slot)
{
    struct iovec iov = {.iov_base = NULL, .iov_len = 0};
    __u64 tag = 0;

    if (slot < 0 || (uint32_t)slot >= d->nbufs)
        return;
    io_uring_register_buffers_update_tag(&d->ring, (unsigned)slot, &iov, &tag, 1);
    d->slot_used[slot] = false;
}

static void uring_go(struct uring_dev *d, struct io_uring_sqe *sqe, struct uring_req *r)
{
    io_uring_sqe_set_data(sqe, r);
    d->inflight++;
}

int uring_write_pieces(struct uring_dev *d, struct uring_req *r, int fd, const struct uring_piece *pcs, unsigned n,
                       uint64_t off, bool dsync)
{
    if (n == 0 || n > URING_MAX_PIECES)
        return EINVAL;
    if (d->fault_write_eio && d->writes + 1 == d->fault_write_eio) {
        d->writes++;
        r->pending = 1; /* as if the device had failed it: nothing is sent */
        r->res = 0;
        r->next_fault = d->faulted;
        d->faulted = r;
        d->inflight++;
        return 0;
    }
    if (io_uring_sq_space_left(&d->ring) < n) {
        io_uring_submit(&d->ring);
        if (io_uring_sq_space_left(&d->ring) < n)
            return EBUSY;
    }
    d->writes++;
    r->pending = n;
    r->res = 0;
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
        if (pcs[i].slot >= 0)
            io_uring_prep_write_fixed(sqe, fd, pcs[i].buf, pcs[i].len, off, pcs[i].slot);
        else
            io_uring_prep_write(sqe, fd, pcs[i].buf, pcs[i].len, off);
        if (i + 1 < n)
            sqe->flags |= IOSQE_IO_LINK;
        else if (dsync)
            sqe->rw_flags = RWF_DSYNC;
        off += pcs[i].len;
        uring_go(d, sqe, r);
    }
    io_uring_submit(&d->ring);
    return 0;
}

int uring_read(struct uring_dev *d, struct uring_req *r, int fd, void *buf, uint32_t len, uint64_t off, int slot)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

    if (!sqe) {
        io_uring_submit(&d->ring); /* make room: a full ring is a burst */
        sqe = io_uring_get_sqe(&d->ring);
        if (!sqe)
            return EBUSY;
    }
    if (slot >= 0)
        io_uring_prep_read_fixed(sqe, fd, buf, len, off, slot);
    else
        io_uring_prep_read(sqe, fd, buf, len, off);
    r->pending = 1;
    r->res = 0;
    uring_go(d, sqe, r);
    io_uring_submit(&d->ring);
    return 0;
}

/* One io_uring completion of @r: done() once its last one is in. An error
 * wins over bytes, and the first real one over the -ECANCELED of the links
 * after it. */
static void uring_req_one(struct uring_req *r, int res)
{
    if (res < 0) {
        if (r->res >= 0 || (r->res == -ECANCELED && res != -ECANCELED))
            r->res = res;
    } else if (r->res >= 0) {
        r->res += res;
    }
    if (--r->pending == 0)
        r->done(r, r->res);
}

int uring_dev_poll(struct uring_dev *d)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    while (d->faulted) {
        struct uring_req *r = d->faulted;
        d->faulted = r->next_fault;
        d->inflight--;
        n++;
        uring_req_one(r, -EIO);
    }
    if (!d->inflight)
        return (int)n;
    /* Take the batch first, then call back: a callback may submit more. */
    for (;;) {
        struct uring_req *done[32];
        int res[32];
        unsigned k = 0;
        io_uring_for_each_cqe(&d->ring, head, cqe)
        {
            done[k] = io_uring_cqe_get_data(cqe);
            res[k] = cqe->res;
            if (++k == 32)
                break;
        }
        if (!k)
            break;
        io_uring_cq_advance(&d->ring, k);
        d->inflight -= k;
        for (unsigned i = 0; i < k; i++)
            uring_req_one(done[i], res[i]);
        n += k;
    }
    return (int)n;
}

int uring_dev_wait(struct uring_dev *d, int64_t timeout_ns)
{
    struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    struct io_uring_cqe *cqe;

    if (d->inflight && !d->faulted)
        io_uring_wait_cqe_timeout(&d->ring, &cqe, &ts);
    return uring_dev_poll(d);
}

uint32_t uring_dev_inflight(const struct uring_dev *d)
{
    return d->inflight;
}
