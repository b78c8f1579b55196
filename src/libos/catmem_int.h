/* SPDX-License-Identifier: MIT */
/*
 * catmem_int.h: what catmem.c (pipes: create, open, push, pop, the libOS)
 * and catmem_views.c (zero copy: reservations in the ring, views of it)
 * share: the shared object's layout and the private state. Private header.
 */
#ifndef DEMI_LIBOS_CATMEM_INT_H
#define DEMI_LIBOS_CATMEM_INT_H

#include "libos/catmem.h"

#include "core/common.h"
#include "mem/shmring.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_MAGIC 0x657069702d696d65ull /* "emi-pipe" */
#define CM_VERSION 1u
#define CM_HDR_SIZE 4096u
#define CM_CREATOR 0
#define CM_OPENER 1
/* Attempts at creating a name that a stale object or a racing creator holds. */
#define CM_CREATE_TRIES 8
/* Zero-copy pops a pipe may have out at once; beyond, pops copy. */
#define CM_ZC_POPS 64u
/* View headers per process (zero-copy sgas out, all pipes together). */
#define CM_VIEWS 1024u

/* The head of the shared object. Both processes map it; layout is ABI
 * between libdemi builds of the same CM_VERSION. */
struct cm_shm {
    _Atomic uint64_t magic; /* CM_MAGIC once filled (before the link) */
    uint32_t version;
    uint32_t hdr_size;          /* where ring 0's bytes start */
    uint64_t ring_size;         /* bytes per direction, a power of two */
    int32_t pid[2];             /* creator, opener: for messages only */
    _Atomic uint32_t opened;    /* an opener attached (pipes connect once) */
    _Atomic uint32_t closed[2]; /* side closed gracefully: EOF after the data */
    struct shmring_ctl ring[2];
};
BUILD_BUG_ON(sizeof(struct cm_shm) > CM_HDR_SIZE);
BUILD_BUG_ON(offsetof(struct cm_shm, ring) % 128 != 0);

/* The two structs below begin with a struct dbuf, whose flexible buf[] they
 * never use: a header of our own for memory that is not a pool slot. GCC
 * allows a flexible-array struct as a first member (gnu11); clang warns. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif

/* One mapping of a pipe's object. The pipe holds one reference on the
 * anchor, every view one more: the memory goes when the last goes. */
struct cm_map {
    struct dbuf anchor; /* first: 64-byte aligned like every dbuf */
    uint8_t *base;
    size_t len;
    struct cm_pipe *pipe; /* NULL once the pipe is closed */
};

enum { CM_VIEW_TX = 1, CM_VIEW_RX };

/* A view: the dbuf an application's zero-copy sga names. */
struct cm_view {
    struct dbuf d; /* first: sga_buf is its address, tagged */
    struct cm_map *map;
    uint32_t seq; /* rx: its place in the pipe's FIFO of pops */
    uint8_t kind; /* CM_VIEW_TX (a reservation) or CM_VIEW_RX */
    uint8_t pad_[51];
};
BUILD_BUG_ON(sizeof(struct cm_view) != 128);

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

struct catmem {
    struct libos base;
    uint64_t ring_size;
    uint64_t check_ns;
    struct list_node active; /* pipes with pending ops: what poll visits */
    uint32_t seq;            /* temporary names */
    struct dbuf_pool views;  /* registered with rt.mem: sgafree finds them */
    struct cm_view *vslots;  /* CM_VIEWS, 64-byte aligned */
    struct cm_view **vfree;  /* free stack */
};

struct cm_pipe {
    struct queue q;    /* first: the runtime sees a struct queue */
    struct shmring tx; /* our messages to the peer */
    struct shmring rx; /* the peer's to us */
    struct cm_shm *shm;
    struct cm_map *map;
    int fd;
    uint8_t side; /* CM_CREATOR or CM_OPENER */
    bool eof;     /* peer closed and its data is drained */
    int err;      /* sticky pop error: ECONNRESET, EPROTO */
    int push_err; /* sticky push error: EPIPE, ECONNRESET */
    uint32_t max_msg;
    uint64_t next_check_ns;  /* next peer liveness syscall */
    struct list_node pops;   /* pending pops, FIFO */
    struct list_node pushes; /* pending pushes, in order */
    struct list_node active; /* on catmem.active while ops wait */
    struct cm_view *resv;    /* the outstanding zero-copy reservation */
    /* Zero-copy pops out, oldest first (free-running seqs): where each
     * record starts, and whether the application freed it. The ring's head
     * advances only over the freed prefix. */
    uint32_t zc_first, zc_next;
    uint64_t zc_start[CM_ZC_POPS];
    bool zc_freed[CM_ZC_POPS];
    char name[CATMEM_NAME_MAX + 1];
};

static inline struct cm_pipe *cm_pipe(struct queue *q)
{
    return container_of(q, struct cm_pipe, q);
}

static inline struct catmem *cm_of(struct cm_pipe *p)
{
    return container_of(p->q.libos, struct catmem, base);
}

static inline struct cm_view *cm_view(struct dbuf *d)
{
    return container_of(d, struct cm_view, d);
}

/* Whether @d is one of @cm's views (not an anchor). */
static inline bool cm_is_view(const struct catmem *cm, const struct dbuf *d)
{
    const uint8_t *b = (const uint8_t *)d, *lo = (const uint8_t *)cm->vslots;
    return d->pool == &cm->views && b >= lo && b < lo + (size_t)CM_VIEWS * sizeof(struct cm_view);
}

/* catmem.c */
void cm_complete(struct demi_op *op, demi_opcode_t opc, int err);
/* 0 while the peer is there; EPIPE once it closed; ECONNRESET once it died
 * (checked with a syscall only when @probe). */
int cm_peer_state(struct cm_pipe *p, bool probe);
/* Whether a liveness syscall is due at @now (at most every
 * catmem.peer_check_us). */
bool cm_probe_due(struct cm_pipe *p, uint64_t now);
/* The outgoing ring has no room now: 0 while waiting makes sense, or the
 * pipe's push error, then sticky (EPROTO: the peer broke the ring; EPIPE,
 * ECONNRESET: it closed or died; the syscall only when @probe). */
int cm_tx_stalled(struct cm_pipe *p, bool probe);

/* catmem_shm.c: the object as a file: lock bytes, header, removal. */
/* Take @side's lock byte on @fd: 0, or the errno (EAGAIN: held). */
int cm_lock(int fd, int side);
/* Whether some other open of the object holds @side's byte. */
bool cm_lock_held(int fd, int side);
/* Whether @hdr (a private copy: read with pread, never from the mapping)
 * describes a pipe of this version that fits in @obj_size bytes. */
bool cm_hdr_ok(const struct cm_shm *hdr, uint64_t obj_size);
/* Read and check the header of the object open as @fd: 0 or EPROTO (not a
 * libdemi pipe of this version) or an errno. */
int cm_hdr_read(int fd, struct cm_shm *hdr);
/* @fd is an open of the object named @path that nobody held when looked
 * at. Take its first @bytes lock bytes (1: the creator's; 2: both), check
 * the name still refers to it, remove the name. The locks make two reapers
 * of one stale object harmless to each other's successor: the loser cannot
 * take them. 0 removed; EBUSY someone holds it now; ESTALE the name is
 * gone or another object's now; or the errno of the removal. */
int cm_reap(const char *path, int fd, int bytes);

/* catmem_views.c */
int cm_views_init(struct catmem *cm);
void cm_views_fini(struct catmem *cm);
/* demi_push of the pipe's own reservation: published in place. */
int cm_push_zc(struct cm_pipe *p, struct demi_op *op, struct cm_view *v, const void *buf, uint32_t len);
/* The ring's head: the read position, or the oldest zero-copy pop still out. */
void cm_rx_publish(struct cm_pipe *p);
/* A view of the record just peeked, or NULL (then the caller copies). */
struct dbuf *cm_pop_view(struct cm_pipe *p, const uint8_t *payload, uint32_t len);

#endif /* DEMI_LIBOS_CATMEM_INT_H */
