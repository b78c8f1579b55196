/* SPDX-License-Identifier: MIT */
/*
 * uring.h: the storage device: one io_uring (liburing) per process, with a
 * sparse table of registered (fixed) buffers that storage queues fill and
 * empty as they open and close. Requests are submitted at once (one
 * io_uring_enter per call, none under SQPOLL) and completed by
 * uring_dev_poll from the runtime's poll loop, no thread of ours. Private
 * header.
 */
#ifndef DEMI_DEV_URING_H
#define DEMI_DEV_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uring_dev;

/* One request in flight; embedded in its owner. @done gets the result:
 * bytes transferred, or -errno. */
struct uring_req {
    void (*done)(struct uring_req *r, int res);
    struct uring_req *next_fault; /* the fault hook's list (uring.c) */
    uint32_t pending;             /* io_uring requests not completed yet */
    int res;                      /* their bytes so far, or the first error */
};

/* One piece of a write: bytes inside the fixed buffer @slot, or -1. */
struct uring_piece {
    const void *buf;
    uint32_t len;
    int slot;
};

#define URING_MAX_PIECES 64

struct uring_params {
    uint32_t entries;         /* submission queue size */
    bool sqpoll;              /* IORING_SETUP_SQPOLL: a kernel thread submits */
    uint32_t nbufs;           /* slots in the fixed-buffer table */
    uint32_t fault_write_eio; /* 0, or N: the Nth write completes with -EIO unsent */
};

/* 0, or a positive errno (ENOSYS/EPERM: io_uring not available, refused by
 * kernel.io_uring_disabled or a seccomp filter; the caller says so). */
int uring_dev_open(const struct uring_params *p, struct uring_dev **out);
void uring_dev_close(struct uring_dev *d);

/* Register @len bytes at @base (page-aligned) as a fixed buffer: its slot,
 * or -1 when there is none (no free slot, or RLIMIT_MEMLOCK): the buffer is
 * then used unregistered, at the cost of a page walk per request. */
int uring_buf_register(struct uring_dev *d, void *base, size_t len);
void uring_buf_unregister(struct uring_dev *d, int slot);

/* Write @n pieces (1..URING_MAX_PIECES) back to back to @fd from @off,
 * each starting when the one before has completed (IOSQE_IO_LINK); @dsync
 * puts RWF_DSYNC on the last, whose device flush then covers them all
 * (O_DIRECT writes: each one completed is in the device's cache). One
 * completion for all: @r->done gets their total bytes or the first error.
 * 0, or EBUSY when the submission queue has no room (the caller retries
 * after a poll). The fault hook counts calls: the Nth fails whole. */
int uring_write_pieces(struct uring_dev *d, struct uring_req *r, int fd, const struct uring_piece *pcs, unsigned n,
                       uint64_t off, bool dsync);
int uring_read(struct uring_dev *d, struct uring_req *r, int fd, void *buf, uint32_t len, uint64_t off, int slot);

/* Complete what the kernel finished; returns how many. Never blocks. */
int uring_dev_poll(struct uring_dev *d);

/* Sleep until a completion or @timeout_ns, then poll. */
int uring_dev_wait(struct uring_dev *d, int64_t timeout_ns);

/* Requests submitted and not yet completed. */
uint32_t uring_dev_inflight(const struct uring_dev *d);

#endif /* DEMI_DEV_URING_H */
