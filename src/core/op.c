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
    if (!t->ops || !t->free_stack) {
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
    return 0;
}

void op_table_fini(struct op_table *t)
{
    free(t->ops);
    free(t->free_stack);
    memset(t, 0, sizeof(*t));
}

struct demi_op *op_alloc(struct op_table *t, struct queue *q, demi_opcode_t opc, int qd)
{
    struct demi_op *op;

    if (unlikely(t->nfree == 0))
        return NULL;
    op = &t->ops[t->free_stack[--t->nfree]];
    op->state = OP_PENDING;
    op->q = q;
    op->start_ns = clock_now_ns();
    memset(&op->qr, 0, sizeof(op->qr));
    op->qr.qr_opcode = opc;
    op->qr.qr_qd = qd;
    op->qr.qr_qt = op_token(op);
    memset(&op->u, 0, sizeof(op->u));
    list_init(&op->link);
    return op;
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
    list_add_tail(&t->cq, &op->link);
    t->ndone++;
    t->cq_seq++;
}

void op_free(struct op_table *t, struct demi_op *op)
{
    assert(op->state != OP_FREE);
    list_del(&op->link);
    op->state = OP_FREE;
    op->q = NULL;
    /* A new generation makes every token of this slot stale. Skip 0 so a
     * zeroed token can never match. */
    if (++op->gen == 0)
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
