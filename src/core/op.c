/* SPDX-License-Identifier: MIT */
#include "core/op.h"

#include "core/clock.h"
#include "core/qd.h"

#include "core/common.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int op_table_init(struct op_table *t, uint32_t nops)
{
    memset(t, 0, sizeof(*t));
    t->ops = calloc(nops, sizeof(*t->ops));
    t->free_stack = calloc(nops, sizeof(*t->free_stack));
    t->imm = calloc(OP_IMM_SLOTS, sizeof(*t->imm));
    if (!t->ops || !t->free_stack || !t->imm) {
        op_table_fini(t);
        return ENOMEM;
    }
    t->nops = nops;
    for (uint32_t i = 0; i < nops; i++) {
        t->ops[i].slot = i;
        t->ops[i].gen = 1; /* token 0 is never valid */
        list_init(&t->ops[i].link);
        t->free_stack[i] = nops - 1 - i; /* slot 0 on top */
    }
    t->nfree = nops;
    list_init(&t->cq);
    t->scratch.slot = OP_SCRATCH_SLOT;
    list_init(&t->scratch.link);
    t->imm_head = t->imm_tail = 1; /* serial 0 would make token OP_IMM_BIT */
    return 0;
}

void op_table_fini(struct op_table *t)
{
    free(t->ops);
    free(t->free_stack);
    free(t->imm);
    memset(t, 0, sizeof(*t));
}

static void op_init(struct demi_op *op, struct queue *q, demi_opcode_t opc, int qd)
{
    op->state = OP_PENDING;
    op->q = q;
    op->start_ns = clock_now_ns();
    memset(&op->qr, 0, sizeof(op->qr));
    op->qr.qr_opcode = opc;
    op->qr.qr_qd = qd;
    op->qr.qr_qt = op_token(op);
    memset(&op->u, 0, sizeof(op->u));
    list_init(&op->link);
}

struct demi_op *op_alloc(struct op_table *t, struct queue *q, demi_opcode_t opc, int qd)
{
    struct demi_op *op;

    if (unlikely(t->nfree == 0))
        return NULL;
    op = &t->ops[t->free_stack[--t->nfree]];
    op_init(op, q, opc, qd);
    return op;
}

struct demi_op *op_submit_begin(struct op_table *t, struct queue *q, demi_opcode_t opc, int qd)
{
    struct demi_op *op = &t->scratch;

    /* An op must be there for it, should it wait: the libOS cannot be
     * told afterwards that its pending push has nowhere to live. */
    if (unlikely(t->nfree == 0))
        return NULL;
    assert(op->state == OP_FREE);
    op_init(op, q, opc, qd);
    return op;
}

void op_submit_abort(struct op_table *t, struct demi_op *op)
{
    assert(op == &t->scratch);
    list_del(&op->link);
    op->state = OP_FREE;
    op->q = NULL;
}

demi_qtoken_t op_submit_end(struct op_table *t, struct demi_op *op)
{
    struct demi_op *real;
    demi_qtoken_t qt;

    assert(op == &t->scratch && op->state != OP_FREE);
    if (op->state == OP_DONE && t->imm_tail - t->imm_head < OP_IMM_SLOTS) {
        struct op_imm *e = &t->imm[t->imm_tail % OP_IMM_SLOTS];
        e->qt = OP_IMM_BIT | t->imm_tail++;
        e->done_seq = op->done_seq;
        e->ret = op->qr.qr_ret;
        e->qd = op->qr.qr_qd;
        e->opcode = op->qr.qr_opcode;
        t->ndone++;
        t->nimm++;
        op->state = OP_FREE;
        return e->qt;
    }
    /* It waits (or the ring is full): it becomes an op of the table, in
     * the libOS's wait list where the scratch op was, or in the completion
     * queue as the newest result. */
    real = &t->ops[t->free_stack[--t->nfree]];
    qt = ((uint64_t)real->gen << 32) | real->slot;
    real->state = op->state;
    real->q = op->q;
    real->start_ns = op->start_ns;
    real->done_seq = op->done_seq;
    real->qr = op->qr;
    real->qr.qr_qt = qt;
    real->u = op->u;
    list_init(&real->link);
    if (op->state == OP_DONE) {
        list_add_tail(&t->cq, &real->link);
        t->ndone++;
    } else {
        list_add_tail(&op->link, &real->link); /* just before the scratch op */
        list_del(&op->link);
    }
    op->state = OP_FREE;
    op->q = NULL;
    return qt;
}

void op_imm_consume(struct op_table *t, struct op_imm *e, demi_qresult_t *qr_out)
{
    memset(qr_out, 0, sizeof(*qr_out));
    qr_out->qr_opcode = (demi_opcode_t)e->opcode;
    qr_out->qr_qd = e->qd;
    qr_out->qr_qt = e->qt;
    qr_out->qr_ret = e->ret;
    e->qt = 0;
    t->ndone--;
    t->nimm--;
    /* The head is always an unconsumed result (or the tail). */
    while (t->imm_head != t->imm_tail && t->imm[t->imm_head % OP_IMM_SLOTS].qt == 0)
        t->imm_head++;
}

bool op_consume_oldest(struct op_table *t, demi_qresult_t *qr_out)
{
    struct op_imm *e = t->imm_head != t->imm_tail ? &t->imm[t->imm_head % OP_IMM_SLOTS] : NULL;
    struct demi_op *op = list_empty(&t->cq) ? NULL : list_entry(list_first(&t->cq), struct demi_op, link);

    if (e && (!op || e->done_seq < op->done_seq)) {
        op_imm_consume(t, e, qr_out);
        return true;
    }
    if (!op)
        return false;
    op_consume(t, op, qr_out);
    return true;
}

void op_complete(struct op_table *t, struct demi_op *op, demi_opcode_t opc, int64_t ret)
{
    assert(op->state == OP_PENDING);
    {
        /* push, pop, accept, connect: the kinds that wait (DEMI_OPC_*). */
        static const int8_t kind_of[] = {[DEMI_OPC_PUSH] = LAT_PUSH + 1,
                                         [DEMI_OPC_POP] = LAT_POP + 1,
                                         [DEMI_OPC_ACCEPT] = LAT_ACCEPT + 1,
                                         [DEMI_OPC_CONNECT] = LAT_CONNECT + 1};
        unsigned o = (unsigned)op->qr.qr_opcode;
        int k = o < sizeof(kind_of) ? kind_of[o] - 1 : -1;
        if (k >= 0) {
            uint64_t ns = clock_now_ns() - op->start_ns;
            lat_add(&t->lat[k], ns);
            if (op->q)
                lat_add(&op->q->lat[k], ns);
        }
    }
    list_del(&op->link);
    op->state = OP_DONE;
    op->q = NULL;
    op->qr.qr_opcode = opc;
    op->qr.qr_ret = ret;
    op->done_seq = ++t->cq_seq;
    if (unlikely(op->slot == OP_SCRATCH_SLOT))
        return; /* completed inside demi_push: op_submit_end files it */
    list_add_tail(&t->cq, &op->link);
    t->ndone++;
}

void op_free(struct op_table *t, struct demi_op *op)
{
    assert(op->state != OP_FREE);
    list_del(&op->link);
    op->state = OP_FREE;
    op->q = NULL;
    /* A new generation makes every token of this slot stale. Skip 0 so a
     * zeroed token can never match, and stay below 2^31: OP_IMM_BIT is
     * the immediate results'. */
    if (++op->gen == 0 || op->gen >= 0x80000000u)
        op->gen = 1;
    t->free_stack[t->nfree++] = op->slot;
}

void op_consume(struct op_table *t, struct demi_op *op, demi_qresult_t *qr_out)
{
    assert(op->state == OP_DONE);
    *qr_out = op->qr;
    t->ndone--;
    op_free(t, op);
}
