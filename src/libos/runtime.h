/* SPDX-License-Identifier: MIT */
/*
 * runtime.h: the process-wide runtime behind the PDPIX API, and the interface
 * every libOS implements.
 *
 * The api/ layer checks arguments, maps qds to queues, takes an op and calls
 * the queue's libOS through struct libos_ops. A libOS completes ops with
 * op_complete() whenever it makes progress, inside a call or inside poll().
 * Several libOS instances may live in one runtime (a network libOS and pipes);
 * the wait loop polls them all. Private header.
 */
#ifndef DEMI_LIBOS_RUNTIME_H
#define DEMI_LIBOS_RUNTIME_H

#include "core/config.h"
#include "core/op.h"
#include "core/qd.h"
#include "libos/sockaddr.h"
#include "mem/dbuf.h"

#include <demi/types.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

struct libos;

/*
 * Operations of a libOS. Synchronous calls return 0 or a positive errno.
 * Asynchronous ones (accept, connect, push, pop) get an op already allocated
 * by the api layer; they either complete it at once (op_complete) or keep it
 * on a wait list of theirs and complete it later. When they return an error
 * the op is freed by the caller and never seen by the application.
 * Arguments are already validated: non-NULL, sizes right, and an address
 * parsed against the socket's family by inet_sockaddr_parse (sockaddr.h):
 * AF_INET on an AF_INET socket, AF_INET6 (maybe IPv4-mapped) on an AF_INET6
 * one. The api sets q->family and q->v6only of a socket it creates; a libOS
 * sets them on the connections it accepts (the listener's).
 */
struct sigbuf;

struct libos_ops {
    const char *name;
    /* The socket calls are optional: a libOS without sockets (catmem)
     * leaves them NULL and the api answers ENOTSUP. */
    int (*socket)(struct libos *los, int domain, int type, int protocol, struct queue **q_out);
    int (*bind)(struct queue *q, const struct inet_sockaddr *addr);
    int (*listen)(struct queue *q, int backlog);
    /* The result's ares.addr is the peer by inet_sockaddr_to_sin. */
    int (*accept)(struct queue *q, struct demi_op *op);
    /* @addr is AF_UNSPEC only for a UDP socket: dissolve its default peer
     * (Linux's connect(AF_UNSPEC)); complete the op at once. */
    int (*connect)(struct queue *q, struct demi_op *op, const struct inet_sockaddr *addr);
    /* Cancel pending ops (ECANCELED), release the queue; the qd is freed by api. */
    int (*close)(struct queue *q);
    /* @dest is NULL for demi_push (and a pushto to AF_UNSPEC on an
     * AF_INET6 socket). @d is the sga's dbuf when it is one of ours
     * (zero-copy: take a reference), else NULL (copy if kept). */
    int (*push)(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                const struct inet_sockaddr *dest);
    /* A pop of a datagram sets sga_addr and attaches the source whole:
     * inet_sockaddr_to_sga. */
    int (*pop)(struct queue *q, struct demi_op *op);
    int (*setsockopt)(struct queue *q, int level, int optname, const void *optval, socklen_t optlen);
    int (*getsockopt)(struct queue *q, int level, int optname, void *optval, socklen_t *optlen);
    /* Fill @addr, which comes zeroed. */
    int (*getpeername)(struct queue *q, struct inet_sockaddr *addr);
    /* Optional (<demi/ext.h>; NULL: the api answers ENOTSUP). @how is
     * SHUT_RD, SHUT_WR or SHUT_RDWR. */
    int (*shutdown)(struct queue *q, int how);
    /* Optional: fill what is known of the local address into @addr, which
     * comes as the socket's family's wildcard, port 0 (a fresh socket is
     * 0.0.0.0:0 or [::]:0). */
    int (*getsockname)(struct queue *q, struct inet_sockaddr *addr);
    /* Make progress without blocking; returns how many events were handled. */
    int (*poll)(struct libos *los);
    /* Optional: sleep until an event or @timeout_ns passes (0 = just poll). */
    int (*block)(struct libos *los, int64_t timeout_ns);
    /* block() at once instead of after libdemi.spin_us of busy-polling: its
     * events come from a device whose completion work would share the core
     * with the spin (storage: the disk's interrupt and io_uring's task
     * work), and sleeping in the kernel's wait costs no latency. */
    bool block_at_once;
    /* Optional, for a libOS without block(): whether ops wait that only its
     * poll() completes. While none do, another libOS may sleep in block(). */
    bool (*has_waiters)(struct libos *los);
    /* Optional: write its counters (libdemi.stats), async-signal-safely:
     * it may run from a SIGINT or SIGTERM handler. */
    void (*stats)(struct libos *los, struct sigbuf *out);
    /* Optional (<demi/stats.h>): the counter called @name; ENOENT when it
     * has none by that name. NULL: the api answers ENOTSUP. */
    int (*counter)(struct libos *los, const char *name, uint64_t *value);
    /* Optional (pipes: demi_create_pipe, demi_open_pipe): a new queue on the
     * pipe @name, created or opened; EINVAL (logged) for a bad name. */
    int (*pipe)(struct libos *los, const char *name, bool create, struct queue **q_out);
    /* Optional (demi_pipe_sgaalloc): a buffer of @size bytes reserved in
     * @q's ring, pushed without a copy. NULL: ENOTSUP. */
    int (*sgaalloc)(struct queue *q, size_t size, demi_sgarray_t *sga_out);
    /* Optional (storage queues, <demi/storage.h>): a queue on the log
     * @path, created (@create: as creat(2), with @mode) or opened with
     * @flags (already checked by the api: O_ACCMODE, DEMI_O_NOSYNC). */
    int (*storage_open)(struct libos *los, const char *path, int flags, mode_t mode, bool create, struct queue **q_out);
    /* Optional (storage queues): move or report the read position. */
    int (*lseek)(struct queue *q, int64_t off, int whence);
    int (*tell)(struct queue *q, uint64_t *pos_out);
    void (*destroy)(struct libos *los);
};

/* <demi/harness.h>, the scripted-test entry points: a libOS instance over
 * the scripted device (LIBOS=cattest) has them. */
struct libos_harness {
    int (*inject)(struct libos *los, const void *ipv4_packet, size_t len);
    int (*take)(struct libos *los, void *buf, size_t cap, size_t *len_out, uint64_t *when_ns);
    int (*check)(struct libos *los, char *msg, size_t cap);
    int (*listener)(struct queue *q, uint32_t *half_open, uint32_t *ready);
    uint64_t (*next_timer)(struct libos *los); /* UINT64_MAX: none armed */
};

struct libos {
    const struct libos_ops *ops;
    const struct libos_harness *harness; /* NULL but for LIBOS=cattest */
};

#define RT_MAX_LIBOS 4

struct runtime {
    bool initialised;
    struct demi_config cfg;
    struct op_table ops;
    struct qd_table qds;
    struct mem mem;
    struct libos *net; /* the network libOS chosen by LIBOS */
    struct libos *libos[RT_MAX_LIBOS];
    int nlibos;
    uint64_t spin_ns; /* busy-poll this long before block() */
    bool idle_yield;  /* then sched_yield() each round if none can block() */
    pid_t owner_pid;  /* the process that ran rt_init (see rt_owner) */
};

extern struct runtime rt;

/* True in the process that initialised libdemi, false in a child it forked:
 * a child shares the parent's devices and shared memory, so the exit work
 * (stats, the device drain, removing the stats segment) is the parent's
 * alone (the preload shim lets programs fork: docs/shim.md). */
static inline bool rt_owner(void)
{
    return rt.owner_pid == 0 || getpid() == rt.owner_pid;
}

/* Set up the runtime with the libOS named @libos_name and config @cfg_path
 * (NULL = none). Returns 0 or a positive errno; messages are logged. */
int rt_init(const char *libos_name, const char *cfg_path);

/* Tear everything down (tests, and the end of tools). */
void rt_shutdown(void);

/* libdemi.stats: every libOS's counters and the operation latencies, on
 * fd 2, once per process (at rt_shutdown, at exit, or from SIGINT/SIGTERM,
 * whichever comes first). Async-signal-safe. */
void rt_stats_print(const char *why);

/* Add a libOS beside the network one (pipes). ENOMEM when RT_MAX_LIBOS
 * are there already. */
int rt_add_libos(struct libos *los);

/* The pipe libOS (catmem), created and added on first use. */
int rt_pipe_libos(struct libos **out);

/* The storage libOS (cattree): LIBOS=cattree's own, or created and added
 * on first use beside the network one. ENOTSUP (logged) when libdemi was
 * built without liburing or the kernel refuses io_uring. */
int rt_storage_libos(struct libos **out);

/* The names of the network stack's counters (<demi/stats.h>), the first
 * @cap of them into @names; returns how many there are. No demi_init
 * needed. */
size_t rt_counter_names(const char **names, size_t cap);

/* Poll every libOS once; returns events handled. */
int rt_poll(void);

/* A wait's time limit: relative until the wait first polls, which fixes it
 * from the time that round read (a wait that finds its op done, or that
 * completes in its first round, then costs no clock read of its own). */
struct rt_deadline {
    uint64_t timeout_ns; /* UINT64_MAX: forever */
    uint64_t at;         /* absolute; 0 = not fixed yet */
};

static inline void rt_deadline_init(struct rt_deadline *d, uint64_t timeout_ns)
{
    d->timeout_ns = timeout_ns;
    d->at = 0;
}

/* Run the poll loop until the completion queue's sequence number differs
 * from @seen_seq or @dl passes. Returns true if something completed.
 * Busy-polls for cfg spin_us, then lets a single libOS with block() sleep in
 * short slices. */
bool rt_wait_progress(uint64_t seen_seq, struct rt_deadline *dl);

/* Constructors of the libOSes built in. */
int catnap_create(const struct demi_config *cfg, struct libos **out);
int catloop_create(const struct demi_config *cfg, struct libos **out);
int catnip_create(const struct demi_config *cfg, struct libos **out); /* DEMI_HAVE_DPDK builds */
int catpowder_create(const struct demi_config *cfg, struct libos **out);
int cattest_create(const struct demi_config *cfg, struct libos **out);
int catmem_create(const struct demi_config *cfg, struct libos **out);
int cattree_create(const struct demi_config *cfg, struct libos **out); /* DEMI_HAVE_URING builds */

#endif /* DEMI_LIBOS_RUNTIME_H */
