/* SPDX-License-Identifier: MIT */
/* api_harness.c: <demi/harness.h>, the scripted-test entry points. */
#include "api/api.h"
#include "core/clock.h"
#include "dev/scriptdev.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/harness.h>

static struct netdev *harness_dev(void)
{
    return rt.initialised ? inet_libos_harness_dev(rt.net) : NULL;
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
    struct netdev *dev = harness_dev();
    int ret;

    if (!dev)
        return ENOTSUP;
    ret = scriptdev_inject(dev, ipv4_packet, len);
    if (ret == 0)
        harness_settle();
    return ret;
}

DEMI_EXPORT int demi_harness_take(void *buf, size_t cap, size_t *len_out, uint64_t *when_ns)
{
    struct netdev *dev = harness_dev();

    if (!dev)
        return ENOTSUP;
    if (!buf || !len_out)
        return EINVAL;
    harness_settle(); /* flush anything queued */
    return scriptdev_take(dev, buf, cap, len_out, when_ns);
}

DEMI_EXPORT int demi_harness_advance(uint64_t ns)
{
    if (!harness_dev())
        return ENOTSUP;
    clock_advance(ns);
    harness_settle();
    return 0;
}

DEMI_EXPORT uint64_t demi_harness_now(void)
{
    return harness_dev() ? clock_now_ns() : 0;
}

DEMI_EXPORT int demi_harness_poll(void)
{
    if (!harness_dev())
        return ENOTSUP;
    harness_settle();
    return 0;
}

DEMI_EXPORT int demi_harness_check(char *msg, size_t cap)
{
    char buf[256];

    if (!harness_dev())
        return ENOTSUP;
    if (!msg || cap == 0) {
        msg = buf;
        cap = sizeof(buf);
    }
    msg[0] = '\0';
    return tcp_check(inet_libos_stack(rt.net), msg, cap);
}

DEMI_EXPORT int demi_harness_listener(int qd, uint32_t *half_open, uint32_t *ready)
{
    struct queue *q;
    struct tcp_pcb *pcb;

    if (!harness_dev())
        return ENOTSUP;
    if (!half_open || !ready)
        return EINVAL;
    if (!(q = api_queue(qd)))
        return EBADF;
    if (!(pcb = inet_libos_tcp_pcb(q)))
        return EINVAL;
    *half_open = pcb->syn_count;
    *ready = pcb->accept_count;
    return 0;
}

DEMI_EXPORT int demi_harness_counter(const char *name, uint64_t *value)
{
    if (!harness_dev())
        return ENOTSUP;
    if (!name || !value)
        return EINVAL;
    return inet_stats_get(&inet_libos_stack(rt.net)->stats, name, value);
}
