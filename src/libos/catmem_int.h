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
    uint32_t hdr_size;      /* where ring 0's bytes start */
    uint64_t ring_size;     /* bytes per direction, a power of two */
    int32_t pid[2];         /* creator, opener: for messages only */
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
    struct dbuf anchor;    /* first: 64-byte aligned like every dbuf */
    uint8_t *base;
    size_t len;
    struct cm_pipe *pipe;  /* NULL once the pipe is closed */
};

enum { CM_VIEW_TX = 1, CM_VIEW_RX };

/* A view: the dbuf an application's zero-copy sga names. */
struct cm_view {
    struct dbuf d;         /* first: sga_buf is its address, tagged */
    struct cm_map *map;
    uint32_t seq;          /* rx: its place in the pipe's FIFO of pops */
    uint8_t kind;          /* CM_VIEW_TX (a reservation) or CM_VIEW_RX */
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
    struct queue q;          /* first: the runtime sees a struct queue */
    struct shmring tx;       /* our messages to the peer */
    struct shmring rx;       /* the peer's to us */
    struct cm_shm *shm;
    struct cm_map *map;
    int fd;
    uint8_t side;            /* CM_CREATOR or CM_OPENER */
    bool eof;                /* peer closed and its data is drained */
    int err;                 /* sticky pop error: ECONNRESET, EPROTO */
    int push_err;            /* sticky push error: EPIPE, ECONNRESET */
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
