/* SPDX-License-Identifier: MIT */
/*
 * catloop.c: LIBOS=catloop, in one of two modes (catloop.mode):
 *
 *   process (the default): the inet libOS (inet.c) over the in-process
 *     loopback device (dev/loopback.c): one process talks to itself
 *     through the whole stack, UDP and TCP. Tests and the soak use it.
 *   host: TCP sockets between processes of one host over shared-memory
 *     pipes, as Demikernel's catloop was (catloop_host.c, catloop_shm.c).
 *
 * A configuration key rather than guessing per connect: the two are
 * different stacks (a socket is one or the other from demi_socket on,
 * before any address is known), and a test that means one process must
 * never reach a listener another process left behind.
 */
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "dev/loopback.h"
#include "libos/catloop_int.h"
#include "libos/inet.h"

#include <errno.h>
#include <string.h>

#define CATLOOP_RING 4096 /* frames the loopback device holds */

int catloop_create(const struct demi_config *cfg, struct libos **out)
{
    /* A locally administered unicast MAC when the configuration gives none. */
    static const uint8_t default_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    struct netdev *dev;

    if (strcmp(cfg->catloop_mode, "host") == 0)
        return catloop_host_create(cfg, out);
    if (!cfg->has_local_ipv4) {
        log_err("LIBOS=catloop needs demikernel.local_ipv4_addr (in CONFIG_PATH or "
                "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR)");
        return EINVAL;
    }
    dev = loopback_create(&rt.mem, cfg->has_local_mac ? cfg->local_mac : default_mac, cfg->mtu, CATLOOP_RING);
    if (!dev)
        return ENOMEM;
    return inet_create(cfg, dev, false, out);
}
