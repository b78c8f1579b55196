/* SPDX-License-Identifier: MIT */
/*
 * cattree_int.h: the storage libOS's objects, shared by cattree.c (the
 * libOS, opening, recovery, closing) and cattree_rw.c (appends with group
 * commit, and reads). Private header.
 *
 * A log queue owns two staging buffers and one read buffer, all aligned and
 * registered with io_uring. Appends are framed into the accumulating stage;
 * at most one write is in flight: when it completes, its pushes complete
 * and the other stage, holding everything that came meanwhile, is written
 * as one group (one device flush for all its records). Each stage starts
 * with the bytes of the log's last partial 4 KiB block (512-byte block
 * after a zero-copy payload that ends inside it), and each write is padded
 * with zeros to the next 4 KiB, so every write is whole blocks (O_DIRECT)
 * and rewrites committed bytes only with themselves.
 */
#ifndef DEMI_LIBOS_CATTREE_INT_H
#define DEMI_LIBOS_CATTREE_INT_H

#include "core/list.h"
#include "dev/uring.h"
#include "libos/cattree.h"
#include "libos/cattree_log.h"
#include "libos/runtime.h"

#include <stdbool.h>
#include <stdint.h>

#define TREE_BLOCK 512u /* writes are whole blocks: O_DIRECT's unit, and block-aligned records' */
/* Writes start and end on 4 KiB (a disk's physical block, the page) where
 * they can, so the disk need not read, modify and write a block: only a
 * zero-copy payload, whose record is TREE_BLOCK-aligned, can end inside one. */
#define TREE_ALIGN 4096u
#define TREE_STAGE (2u << 20) /* a prefix block and the largest record fit */
#define TREE_RBUF ((LOG_SCAN_BUF + 4095u) & ~4095u)
#define TREE_MAX_FILES 64u /* registered-buffer slots: 3 per log */

struct tree_stats {
#define TREE_STAT_FIELD(n, help) uint64_t n;
    TREE_STATS(TREE_STAT_FIELD)
#undef TREE_STAT_FIELD
};

/* A block-aligned record's payload, written from the application's buffer
 * (zero-copy) between two pieces of the stage. */
struct tree_hole {
    uint32_t at;        /* stage bytes before it */
    uint32_t len;       /* its bytes in the file: the payload, to a whole block */
    const uint8_t *ptr; /* the payload, in a page-aligned buffer of ours */
    int slot;           /* that buffer's pool's fixed-buffer slot, or -1 */
};

#define TREE_HOLES 16     /* per stage: a write is at most 2 * 16 + 1 pieces */
#define TREE_ZC_MIN 8192u /* below, copying costs less than a piece of its own */

struct tree_stage {
    uint8_t *buf;
    int slot;             /* fixed-buffer slot, or -1 */
    uint64_t base;        /* log position of buf[0]: a multiple of TREE_ALIGN, or of
                           * TREE_BLOCK right after a zero-copy payload */
    uint32_t fill;        /* bytes in buf: the prefix, then framed records */
    uint32_t nrec;        /* records framed in this stage */
    uint32_t nholes;      /* zero-copy payloads */
    uint64_t hole_bytes;  /* their bytes in the file */
    uint32_t wlen;        /* bytes of the write in flight */
    struct list_node ops; /* their push ops, in order */
    struct tree_hole holes[TREE_HOLES];
};

/* The log position after a stage's last record. */
static inline uint64_t tree_stage_end(const struct tree_stage *s)
{
    return s->base + s->fill + s->hole_bytes;
}

struct cattree;

struct tree_log {
    struct queue q; /* first: the qd table's object */
    struct cattree *t;
    struct list_node link; /* in t->logs */
    char *path;            /* for messages */
    int fd;
    bool can_read, can_write;
    bool dsync;     /* RWF_DSYNC on writes (not DEMI_O_NOSYNC) */
    bool direct;    /* O_DIRECT */
    bool zero_copy; /* whole buffers of ours written in place (cattree.zero_copy) */
    uint32_t epoch;
    uint64_t end;      /* committed (acknowledged) end of the log */
    uint64_t next_seq; /* sequence number of the next record framed */
    uint64_t alloc;    /* bytes the file holds after its header */
    bool no_falloc;    /* the file system has no fallocate: writes extend it */

    /* Writing. */
    struct tree_stage st[2];
    int acc; /* the accumulating stage; the other may be in flight */
    bool writing;
    bool kick_pending;        /* the ring was full: retry at the next poll */
    int err;                  /* sticky: a write failed */
    struct list_node waiting; /* pushes not framed yet (no room in the stage) */
    struct uring_req wreq;

    /* Reading. */
    uint8_t *rbuf;
    int rslot;
    uint64_t rbase;  /* log position of rbuf[0] */
    uint32_t rvalid; /* committed bytes in rbuf */
    uint64_t rpos;   /* where the next pop reads */
    uint64_t rseq;   /* the sequence number expected there, when rseq_known */
    bool rseq_known;
    bool reading;
    uint64_t rreq_base, rreq_end;
    struct list_node pops;
    struct uring_req rreq;
};

struct cattree {
    struct libos base;
    struct uring_dev *dev;
    int pool_slot[MEM_NCLASSES]; /* the pools' fixed-buffer slots: -1 none, -2 not tried */
    const struct demi_config *cfg;
    struct list_node logs;
    struct tree_stats stats;
};

static inline uint64_t tree_file_off(uint64_t pos)
{
    return pos + LOG_FILE_HDR;
}

/* cattree_rw.c */
int tree_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
              const struct inet_sockaddr *dest);
int tree_pop(struct queue *q, struct demi_op *op);
/* Write the accumulating stage if no write is in flight. */
void tree_kick(struct tree_log *l);
/* Serve pending pops from the read buffer, or start a read. */
void tree_progress_pops(struct tree_log *l);
void tree_rw_init(struct tree_log *l);
/* Whether @l has I/O in flight or ops waiting. */
bool tree_busy(const struct tree_log *l);
/* The fixed-buffer slot of the pool holding @d, registered on first use
 * (the pool's whole mapping, pinned), or -1. */
int tree_pool_slot(struct cattree *t, const struct dbuf *d);
/* Fail every push not yet written with @err. */
void tree_fail_pushes(struct tree_log *l, int err);

#endif /* DEMI_LIBOS_CATTREE_INT_H */
