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
#include "core/runtime.h"
#include "dev/scriptdev.h"
#include "libos/inet.h"

#include <errno.h>

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
    if (ret)
        clock_set_real();
    return ret;
}
