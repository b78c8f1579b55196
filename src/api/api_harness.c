/* SPDX-License-Identifier: MIT */
/*
 * api_harness.c: <demi/harness.h>, the scripted-test entry points, through
 * the network libOS's harness operations (struct libos_harness: LIBOS=cattest
 * has them, every other libOS answers ENOTSUP).
 */
#include "api/api.h"
#include "core/clock.h"

#include <demi/harness.h>

static const struct libos_harness *harness(void)
{
    return rt.initialised ? rt.net->harness : NULL;
}

/* Poll until the stack is quiet: a packet may take several rounds (an ARP
 * request answered by the device, then the packet that waited for it). */
static void harness_settle(void)
{
    for (int i = 0; i < 16 && rt_poll() > 0; i++)
        ;
    rt_poll();
}

DEMI_EXPORT int demi_harness_inject(const void *ipv4_packet, size_t len)
{
    const struct libos_harness *h = harness();
    int ret;

    if (!h)
        return ENOTSUP;
    ret = h->inject(rt.net, ipv4_packet, len);
    if (ret == 0)
        harness_settle();
    return ret;
}

DEMI_EXPORT int demi_harness_take(void *buf, size_t cap, size_t *len_out, uint64_t *when_ns)
{
    const struct libos_harness *h = harness();

    if (!h)
        return ENOTSUP;
    if (!buf || !len_out)
        return EINVAL;
    harness_settle(); /* flush anything queued */
    return h->take(rt.net, buf, cap, len_out, when_ns);
}

DEMI_EXPORT int demi_harness_advance(uint64_t ns)
{
    if (!harness())
        return ENOTSUP;
    clock_advance(ns);
    harness_settle();
    return 0;
}

DEMI_EXPORT int demi_harness_next_timer(uint64_t *when_ns)
{
    const struct libos_harness *h = harness();
    uint64_t when;

    if (!h)
        return ENOTSUP;
    if (!when_ns)
        return EINVAL;
    if ((when = h->next_timer(rt.net)) == UINT64_MAX)
        return ENOENT;
    *when_ns = when;
    return 0;
}

DEMI_EXPORT uint64_t demi_harness_now(void)
{
    return harness() ? clock_now_ns() : 0;
}

DEMI_EXPORT int demi_harness_poll(void)
{
    if (!harness())
        return ENOTSUP;
    harness_settle();
    return 0;
}

DEMI_EXPORT int demi_harness_check(char *msg, size_t cap)
{
    const struct libos_harness *h = harness();
    char buf[256];

    if (!h)
        return ENOTSUP;
    if (!msg || cap == 0) {
        msg = buf;
        cap = sizeof(buf);
    }
    msg[0] = '\0';
    return h->check(rt.net, msg, cap);
}

DEMI_EXPORT int demi_harness_listener(int qd, uint32_t *half_open, uint32_t *ready)
{
    const struct libos_harness *h = harness();
    struct queue *q;

    if (!h)
        return ENOTSUP;
    if (!half_open || !ready)
        return EINVAL;
    if (!(q = api_queue(qd)))
        return EBADF;
    return h->listener(q, half_open, ready);
}

DEMI_EXPORT int demi_harness_counter(const char *name, uint64_t *value)
{
    if (!harness())
        return ENOTSUP;
    if (!name || !value)
        return EINVAL;
    return rt.net->ops->counter ? rt.net->ops->counter(rt.net, name, value) : ENOTSUP;
}
