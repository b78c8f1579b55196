/* SPDX-License-Identifier: MIT */
/*
 * cattest.c: LIBOS=cattest, the inet libOS over the scripted device of
 * <demi/harness.h> (dev/scriptdev.c), in virtual time from 0. The packet
 * script runner (tests/pkt) and the harness tests are built on it.
 */
#include "core/clock.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "dev/scriptdev.h"
#include "libos/inet.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <errno.h>

/* <demi/harness.h> over this libOS's scripted device and stack. */
static int ct_inject(struct libos *los, const void *ipv4_packet, size_t len)
{
    return scriptdev_inject(inet_libos_harness_dev(los), ipv4_packet, len);
}

static int ct_take(struct libos *los, void *buf, size_t cap, size_t *len_out, uint64_t *when_ns)
{
    return scriptdev_take(inet_libos_harness_dev(los), buf, cap, len_out, when_ns);
}

static int ct_check(struct libos *los, char *msg, size_t cap)
{
    return tcp_check(inet_libos_stack(los), msg, cap);
}

/* A TCP listener's half-open and ready counts; EINVAL for another queue. */
static int ct_listener(struct queue *q, uint32_t *half_open, uint32_t *ready)
{
    const struct tcp_pcb *pcb = inet_libos_tcp_pcb(q);

    if (!pcb)
        return EINVAL;
    *half_open = pcb->syn_count;
    *ready = pcb->accept_count;
    return 0;
}

static uint64_t ct_next_timer(struct libos *los)
{
    return timer_wheel_next(&inet_libos_stack(los)->timers);
}

static const struct libos_harness cattest_harness = {
    .inject = ct_inject,
    .take = ct_take,
    .check = ct_check,
    .listener = ct_listener,
    .next_timer = ct_next_timer,
};

int cattest_create(const struct demi_config *cfg, struct libos **out)
{
    static const uint8_t default_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    struct netdev *dev;
    int ret;

    if (!cfg->has_local_ipv4) {
        log_err("LIBOS=cattest needs demikernel.local_ipv4_addr (in CONFIG_PATH or "
                "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR)");
        return EINVAL;
    }
    /* Scripts run in virtual time from 0: timers fire only as they advance. */
    clock_set_virtual(0);
    dev = scriptdev_create(&rt.mem, cfg->has_local_mac ? cfg->local_mac : default_mac, cfg->mtu);
    if (!dev) {
        clock_set_real();
        return ENOMEM;
    }
    ret = inet_create(cfg, dev, true, out);
    if (ret) {
        clock_set_real();
        return ret;
    }
    (*out)->harness = &cattest_harness;
    return 0;
}
