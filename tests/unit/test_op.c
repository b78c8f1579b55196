/* SPDX-License-Identifier: MIT */
/*
 * test_op.c: the operation table. A token is (generation << 32) | slot; the
 * lookup must refuse every token that does not name a live op, so a forged,
 * stale or consumed token can never reach (and consume) someone else's op.
 */
#include "core/op.h"

#include "core/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define NOPS 4

static struct op_table t;

static int setup(void **state)
{
    (void)state;
    return op_table_init(&t, NOPS);
}

static int teardown(void **state)
{
    (void)state;
    op_table_fini(&t);
    return 0;
}

static void test_init(void **state)
{
    (void)state;
    assert_int_equal(t.nops, NOPS);
    assert_int_equal(t.nfree, NOPS);
    assert_int_equal(t.ndone, 0);
    assert_true(list_empty(&t.cq));
}

static void test_token_layout(void **state)
{
    struct demi_op *op[NOPS];

    (void)state;
    for (int i = 0; i < NOPS; i++) {
        op[i] = op_alloc(&t, NULL, DEMI_OPC_POP, 10 + i);
        assert_non_null(op[i]);
        assert_int_equal(op[i]->state, OP_PENDING);
        assert_int_equal(op[i]->slot, i); /* a fresh table hands out slot 0 first */
        assert_true(op_token(op[i]) == (((uint64_t)op[i]->gen << 32) | op[i]->slot));
        assert_true(op[i]->gen != 0);
        assert_true(op_token(op[i]) != 0);
        assert_true(op[i]->qr.qr_qt == op_token(op[i]));
        assert_int_equal(op[i]->qr.qr_qd, 10 + i);
        assert_int_equal(op[i]->qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(op[i]->qr.qr_ret, 0);
        assert_ptr_equal(op_lookup(&t, op_token(op[i])), op[i]);
    }
    for (int i = 0; i < NOPS; i++)
        op_free(&t, op[i]);
    assert_int_equal(t.nfree, NOPS);
}

static void test_lookup_rejects_forged(void **state)
{
    struct demi_op *op;
    demi_qtoken_t qt;

    (void)state;
    op = op_alloc(&t, NULL, DEMI_OPC_PUSH, 1);
    assert_non_null(op);
    qt = op_token(op);
    assert_ptr_equal(op_lookup(&t, qt), op);
    /* Wrong generation, same slot. */
    assert_null(op_lookup(&t, qt + (1ull << 32)));
    assert_null(op_lookup(&t, qt - (1ull << 32)));
    assert_null(op_lookup(&t, (uint64_t)op->slot)); /* generation 0 */
    /* Slot out of range, right generation. */
    assert_null(op_lookup(&t, ((uint64_t)op->gen << 32) | NOPS));
    assert_null(op_lookup(&t, ((uint64_t)op->gen << 32) | 0xffffffffu));
    assert_null(op_lookup(&t, 0));
    assert_null(op_lookup(&t, UINT64_MAX));
    /* A free slot with the right generation is not an op. */
    assert_null(op_lookup(&t, ((uint64_t)t.ops[1].gen << 32) | 1));
    assert_null(op_lookup(&t, ((uint64_t)t.ops[NOPS - 1].gen << 32) | (NOPS - 1)));
    op_free(&t, op);
}

static void test_table_full(void **state)
{
    struct demi_op *op[NOPS];

    (void)state;
    for (int i = 0; i < NOPS; i++) {
        op[i] = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
        assert_non_null(op[i]);
    }
    assert_int_equal(t.nfree, 0);
    assert_null(op_alloc(&t, NULL, DEMI_OPC_POP, 0));
    assert_null(op_alloc(&t, NULL, DEMI_OPC_PUSH, 0));
    /* One free slot makes room for exactly one more. */
    op_free(&t, op[2]);
    op[2] = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    assert_non_null(op[2]);
    assert_null(op_alloc(&t, NULL, DEMI_OPC_POP, 0));
    for (int i = 0; i < NOPS; i++)
        op_free(&t, op[i]);
    assert_int_equal(t.nfree, NOPS);
}

static void test_completion_order(void **state)
{
    struct demi_op *op[NOPS];
    demi_qtoken_t qt[NOPS];
    static const int order[NOPS] = {2, 0, 3, 1};
    struct list_node *n;
    demi_qresult_t qr;
    uint64_t seq;
    int i;

    (void)state;
    for (i = 0; i < NOPS; i++) {
        op[i] = op_alloc(&t, NULL, DEMI_OPC_POP, i);
        qt[i] = op_token(op[i]);
    }
    seq = t.cq_seq;
    for (i = 0; i < NOPS; i++) {
        op_complete(&t, op[order[i]], i == 3 ? DEMI_OPC_FAILED : DEMI_OPC_POP, i == 3 ? 104 : 0);
        assert_int_equal(op[order[i]]->state, OP_DONE);
        assert_int_equal(t.ndone, i + 1);
        assert_true(t.cq_seq == seq + (uint64_t)i + 1);
    }
    /* The completion queue lists the ops in completion order. */
    i = 0;
    for (n = t.cq.next; n != &t.cq; n = n->next)
        assert_ptr_equal(list_entry(n, struct demi_op, link), op[order[i++]]);
    assert_int_equal(i, NOPS);
    /* Completed ops are still found by their tokens until consumed. */
    for (i = 0; i < NOPS; i++)
        assert_ptr_equal(op_lookup(&t, qt[i]), op[i]);
    for (i = 0; i < NOPS; i++) {
        struct demi_op *first = list_entry(list_first(&t.cq), struct demi_op, link);
        assert_ptr_equal(first, op[order[i]]);
        memset(&qr, 0xee, sizeof(qr));
        op_consume(&t, first, &qr);
        assert_true(qr.qr_qt == qt[order[i]]);
        assert_int_equal(qr.qr_qd, order[i]);
        assert_int_equal(qr.qr_opcode, i == 3 ? DEMI_OPC_FAILED : DEMI_OPC_POP);
        assert_int_equal(qr.qr_ret, i == 3 ? 104 : 0);
    }
    assert_true(list_empty(&t.cq));
    assert_int_equal(t.ndone, 0);
    assert_int_equal(t.nfree, NOPS);
}

static void test_consume_bumps_generation(void **state)
{
    struct demi_op *op, *again;
    demi_qtoken_t old, fresh;
    demi_qresult_t qr;
    uint32_t gen;

    (void)state;
    op = op_alloc(&t, NULL, DEMI_OPC_PUSH, 3);
    old = op_token(op);
    gen = op->gen;
    op_complete(&t, op, DEMI_OPC_PUSH, 0);
    op_consume(&t, op, &qr);
    assert_true(qr.qr_qt == old);
    assert_int_equal(op->state, OP_FREE);
    assert_int_equal(op->gen, gen + 1);
    assert_null(op_lookup(&t, old)); /* consumed */
    /* LIFO: the same slot comes back, under a new token. */
    again = op_alloc(&t, NULL, DEMI_OPC_POP, 4);
    assert_ptr_equal(again, op);
    fresh = op_token(again);
    assert_true(fresh != old);
    assert_int_equal((uint32_t)fresh, (uint32_t)old);
    assert_null(op_lookup(&t, old)); /* stale: never aliases the new op */
    assert_ptr_equal(op_lookup(&t, fresh), again);
    op_free(&t, again);
    assert_null(op_lookup(&t, fresh));
}

static void test_generation_skips_zero(void **state)
{
    struct demi_op *op;

    (void)state;
    op = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    op->gen = UINT32_MAX;
    op_free(&t, op);
    assert_int_equal(op->gen, 1); /* 0 would make token == slot valid */
    op = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    assert_int_equal(op->gen, 1);
    assert_true(op_token(op) >> 32 == 1);
    assert_null(op_lookup(&t, (uint64_t)op->slot)); /* generation 0 */
    op_free(&t, op);
}

static void test_free_pending_unlinks(void **state)
{
    struct list_node waiters;
    struct demi_op *a, *b, *c;
    demi_qtoken_t qb;

    (void)state;
    list_init(&waiters);
    a = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    b = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    c = op_alloc(&t, NULL, DEMI_OPC_POP, 0);
    list_add_tail(&waiters, &a->link);
    list_add_tail(&waiters, &b->link);
    list_add_tail(&waiters, &c->link);
    qb = op_token(b);
    op_free(&t, b);
    assert_null(op_lookup(&t, qb));
    assert_false(list_linked(&b->link));
    assert_ptr_equal(waiters.next, &a->link);
    assert_ptr_equal(a->link.next, &c->link);
    assert_ptr_equal(c->link.prev, &a->link);
    assert_ptr_equal(c->link.next, &waiters);
    assert_ptr_equal(waiters.prev, &c->link);
    /* Completing a pending op takes it off its wait list. */
    op_complete(&t, a, DEMI_OPC_POP, 0);
    assert_ptr_equal(waiters.next, &c->link);
    assert_ptr_equal(t.cq.next, &a->link);
    op_free(&t, c);
    assert_true(list_empty(&waiters));
    assert_int_equal(t.ndone, 1);
    {
        demi_qresult_t qr;
        op_consume(&t, a, &qr);
    }
    assert_true(list_empty(&t.cq));
    assert_int_equal(t.nfree, NOPS);
}

static void test_alloc_resets_result(void **state)
{
    struct demi_op *op;
    demi_qresult_t qr;

    (void)state;
    op = op_alloc(&t, NULL, DEMI_OPC_POP, 5);
    op->qr.qr_value.sga.sga_numsegs = 1;
    op->u.push.len = 77;
    op_complete(&t, op, DEMI_OPC_FAILED, 111);
    op_consume(&t, op, &qr);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    op = op_alloc(&t, NULL, DEMI_OPC_PUSH, 6);
    assert_int_equal(op->qr.qr_ret, 0);
    assert_int_equal(op->qr.qr_value.sga.sga_numsegs, 0);
    assert_int_equal(op->u.push.len, 0);
    assert_int_equal(op->qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(op->qr.qr_qd, 6);
    op_free(&t, op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_rejects_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consume_bumps_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_skips_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_pending_unlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_resets_result, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
