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
 * queue, in completion order, until a wait consumes it. Private header.
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
    demi_qresult_t qr;     /* qr_qd and qr_qt are set at allocation */
    /* Scratch space for the libOS while the op is pending. */
    union {
        struct {
            struct dbuf *buf;   /* our buffer being pushed (referenced), or NULL */
            const uint8_t *ptr; /* first byte to push */
            uint32_t len;       /* bytes to push */
            uint32_t off;       /* bytes already sent */
            union {             /* pushto's destination, of the socket's family */
                struct sockaddr_in sin;
                struct sockaddr_in6 sin6;
            } dest;
            uint8_t dest_len; /* 0: no destination (a push) */
        } push;
    } u;
};

struct op_table {
    struct lat_hist lat[LAT_KINDS]; /* every queue's ops together */
    struct demi_op *ops;
    uint32_t nops;
    uint32_t *free_stack; /* LIFO: the most recently freed op is cache-hot */
    uint32_t nfree;
    struct list_node cq; /* completed, not yet consumed */
    uint64_t cq_seq;     /* bumped on every completion: cheap "anything new?" */
    uint32_t ndone;      /* length of cq */
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

/* Complete a pending op: unlink it from its wait list and append it to the
 * completion queue. @opc is the result opcode (DEMI_OPC_FAILED on error),
 * @ret 0 or a positive errno. */
void op_complete(struct op_table *t, struct demi_op *op, demi_opcode_t opc, int64_t ret);

/* Copy a completed op's result out and free it (the token is consumed). */
void op_consume(struct op_table *t, struct demi_op *op, demi_qresult_t *qr_out);

/* Free an op that never became visible to the application (failed submit). */
void op_free(struct op_table *t, struct demi_op *op);

#endif /* DEMI_CORE_OP_H */
