/* SPDX-License-Identifier: MIT */
/* api_wait.c: demi_wait, demi_wait_any and demi_wait_next_n of <demi/wait.h>. */
#include "api/api.h"
#include "core/clock.h"

#include <demi/wait.h>

/* The wait's time limit from @timeout (NULL: forever); fixed at the first
 * poll (struct rt_deadline). Returns EINVAL for a malformed timespec. */
static int wait_deadline(const struct timespec *timeout, struct rt_deadline *dl)
{
    int64_t ns;

    if (!timeout) {
        rt_deadline_init(dl, UINT64_MAX);
        return 0;
    }
    ns = clock_timespec_ns(timeout);
    if (ns < 0)
        return EINVAL;
    rt_deadline_init(dl, (uint64_t)ns);
    return 0;
}

DEMI_EXPORT int demi_wait(demi_qresult_t *qr_out, demi_qtoken_t qt, const struct timespec *timeout)
{
    struct demi_op *op;
    struct rt_deadline deadline;

    if (!qr_out)
        return EINVAL;
    op = op_lookup(&rt.ops, qt);
    if (!op)
        return EINVAL;
    /* A malformed timeout is refused even for a completed op, which then
     * stays unconsumed (a failed wait never consumes). */
    if (wait_deadline(timeout, &deadline))
        return EINVAL;
    if (op->state != OP_DONE) {
        while (op->state != OP_DONE)
            if (!rt_wait_progress(rt.ops.cq_seq, &deadline))
                break;
        if (op->state != OP_DONE)
            return ETIMEDOUT;
    }
    op_consume(&rt.ops, op, qr_out);
    return 0;
}

/* Index of the first completed op among @qts (all valid), or -1. */
static int wait_any_scan(const demi_qtoken_t qts[], int n)
{
    for (int i = 0; i < n; i++)
        if (op_lookup(&rt.ops, qts[i])->state == OP_DONE)
            return i;
    return -1;
}

DEMI_EXPORT int demi_wait_any(demi_qresult_t *qr_out, int *ready_offset, const demi_qtoken_t qts[], int num_qts,
                              const struct timespec *timeout)
{
    struct rt_deadline deadline;
    int i;

    if (!qr_out || !ready_offset || !qts || num_qts <= 0)
        return EINVAL;
    /* Every token must be valid; stop at the first bad one (O(1) each). */
    for (i = 0; i < num_qts; i++)
        if (!op_lookup(&rt.ops, qts[i]))
            return EINVAL;
    if (wait_deadline(timeout, &deadline))
        return EINVAL;
    /* Rescan only when something completed: O(n) per completion, not per
     * poll. Nothing else consumes tokens meanwhile (one thread per runtime). */
    while ((i = wait_any_scan(qts, num_qts)) < 0)
        if (!rt_wait_progress(rt.ops.cq_seq, &deadline))
            break;
    if (i < 0 && (i = wait_any_scan(qts, num_qts)) < 0)
        return ETIMEDOUT;
    *ready_offset = i;
    op_consume(&rt.ops, op_lookup(&rt.ops, qts[i]), qr_out);
    return 0;
}

DEMI_EXPORT int demi_wait_next_n(demi_qresult_t *qr_out, int num_qrs, int *num_qrs_out, const struct timespec *timeout)
{
    struct rt_deadline deadline;
    int n = 0;

    if (!qr_out || !num_qrs_out || num_qrs <= 0)
        return EINVAL;
    *num_qrs_out = 0;
    if (!rt.initialised) /* nothing to wait for, and nothing that could poll */
        return EINVAL;
    if (wait_deadline(timeout, &deadline))
        return EINVAL;
    while (list_empty(&rt.ops.cq))
        if (!rt_wait_progress(rt.ops.cq_seq, &deadline))
            break;
    while (n < num_qrs && !list_empty(&rt.ops.cq)) {
        struct demi_op *op = list_entry(list_first(&rt.ops.cq), struct demi_op, link);
        op_consume(&rt.ops, op, &qr_out[n++]);
    }
    *num_qrs_out = n;
    return n > 0 ? 0 : ETIMEDOUT;
}
