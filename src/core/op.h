/* SPDX-License-Identifier: MIT */
/*
 * op.h: the operation table and the completion queue.
 *
 * Every asynchronous call (push, pop, accept, connect) takes an op from a
 * table preallocated at init and returns its qtoken: (generation << 32) | slot.
 * A token is valid only while slot's generation matches and the op is not
 * free, so stale, forged and consumed tokens are rejected in O(1) and never
 * alias a newer op. While pending, the op sits on a wait list of the object it
 * concerns (owned by the libOS); on completion it moves to the completion
 * queue, in completion order, until a wait consumes it.
 *
 * A push is submitted with the table's scratch op instead. Most pushes
 * complete inside demi_push (TCP with room in its send queue, UDP, pipes):
 * such a push takes no op of the table, only a line in a ring of immediate
 * results, and its token says so (OP_IMM_BIT, then a serial number). One
 * that must wait moves to a real op before demi_push returns. Private header.
 */
#ifndef DEMI_CORE_OP_H
#define DEMI_CORE_OP_H

#include "core/latency.h"
#include "core/list.h"

#include <demi/types.h>
#include <stdbool.h>
#include <stdint.h>

struct queue;
struct dbuf;

enum op_state { OP_FREE = 0, OP_PENDING, OP_DONE };

struct demi_op {
    struct list_node link; /* libOS wait list while pending; completion queue when done */
    uint32_t gen;          /* generation; bumped when the op is freed */
    uint32_t slot;         /* index in the table */
    uint8_t state;         /* enum op_state */
    struct queue *q;       /* queue the op is on while pending */
    uint64_t start_ns;     /* clock_now_ns() at op_alloc: latency at completion */
    uint64_t done_seq;     /* op_table.cq_seq at completion: the order waits see */
    demi_qresult_t qr;     /* qr_qd and qr_qt are set at allocation */
    /* Scratch space for the libOS while the op is pending. */
    union {
        struct {
            struct dbuf *buf;   /* our buffer being pushed (referenced), or NULL */
            const uint8_t *ptr; /* first byte to push */
            uint32_t len;       /* bytes to push */
            uint32_t off;       /* bytes already sent */
            struct sockaddr_in dest;
            bool has_dest;
        } push;
    } u;
};

/* A token with this bit names an immediate result, not an op (op tokens'
 * generations stay below 2^31). The ring holds this many unconsumed
 * results; past that, an immediate push takes an op as before. */
#define OP_IMM_BIT (1ull << 63)
#define OP_IMM_SLOTS 4096u
/* The scratch op's slot: no slot of the table. */
#define OP_SCRATCH_SLOT UINT32_MAX

/* A push that completed inside demi_push, until a wait consumes it. */
struct op_imm {
    demi_qtoken_t qt;  /* 0 once consumed */
    uint64_t done_seq; /* as demi_op.done_seq */
    int64_t ret;
    int32_t qd;
    int32_t opcode; /* DEMI_OPC_PUSH, or DEMI_OPC_FAILED */
};

struct op_table {
    struct lat_hist lat[LAT_KINDS]; /* every queue's ops together */
    struct demi_op *ops;
    uint32_t nops;
    uint32_t *free_stack; /* LIFO: the most recently freed op is cache-hot */
    uint32_t nfree;
    struct list_node cq;         /* completed, not yet consumed */
    uint64_t cq_seq;             /* bumped on every completion: cheap "anything new?" */
    uint32_t ndone;              /* completed, not yet consumed: cq and the immediate ring */
    struct demi_op scratch;      /* a push being submitted */
    struct op_imm *imm;          /* ring of immediate results, OP_IMM_SLOTS long */
    uint64_t imm_head, imm_tail; /* serials: [head, tail) held, head unconsumed */
    uint32_t nimm;               /* immediate results not yet consumed */
};

int op_table_init(struct op_table *t, uint32_t nops);
void op_table_fini(struct op_table *t);

/* Take a free op for @q with opcode @opc. NULL when the table is full. */
struct demi_op *op_alloc(struct op_table *t, struct queue *q, demi_opcode_t opc, int qd);

static inline demi_qtoken_t op_token(const struct demi_op *op)
{
    return ((uint64_t)op->gen << 32) | op->slot;
}

/* The op named by @qt, or NULL for an unknown, stale or consumed token. */
static inline struct demi_op *op_lookup(struct op_table *t, demi_qtoken_t qt)
{
    uint32_t slot = (uint32_t)qt;
    struct demi_op *op;

    if (slot >= t->nops)
        return NULL;
    op = &t->ops[slot];
    if (op->gen != (uint32_t)(qt >> 32) || op->state == OP_FREE)
        return NULL;
    return op;
}

/* Submitting a push: the scratch op for @q (NULL when no op of the table is
 * left for it, should it have to wait). The libOS completes it or links it
 * as any op; op_submit_end then gives its token. */
struct demi_op *op_submit_begin(struct op_table *t, struct queue *q, demi_opcode_t opc, int qd);
demi_qtoken_t op_submit_end(struct op_table *t, struct demi_op *op);
/* The libOS refused it (its error goes to the caller): forget it. */
void op_submit_abort(struct op_table *t, struct demi_op *op);

/* The immediate result named by @qt, or NULL (unknown, consumed). */
static inline struct op_imm *op_imm_lookup(struct op_table *t, demi_qtoken_t qt)
{
    struct op_imm *e;

    if (!(qt & OP_IMM_BIT) || !t->imm) /* not one, or before demi_init */
        return NULL;
    e = &t->imm[(qt & ~OP_IMM_BIT) % OP_IMM_SLOTS];
    return e->qt == qt ? e : NULL;
}

/* Copy an immediate result out (the token is consumed). */
void op_imm_consume(struct op_table *t, struct op_imm *e, demi_qresult_t *qr_out);

/* Whether anything completed is waiting to be consumed. */
static inline bool op_any_done(const struct op_table *t)
{
    return t->ndone > 0;
}

/* Consume the oldest completed result of either kind; false if none. */
bool op_consume_oldest(struct op_table *t, demi_qresult_t *qr_out);

/* Complete a pending op: unlink it from its wait list and append it to the
 * completion queue. @opc is the result opcode (DEMI_OPC_FAILED on error),
 * @ret 0 or a positive errno. */
void op_complete(struct op_table *t, struct demi_op *op, demi_opcode_t opc, int64_t ret);

/* Copy a completed op's result out and free it (the token is consumed). */
void op_consume(struct op_table *t, struct demi_op *op, demi_qresult_t *qr_out);

/* Free an op that never became visible to the application (failed submit). */
void op_free(struct op_table *t, struct demi_op *op);

#endif /* DEMI_CORE_OP_H */
