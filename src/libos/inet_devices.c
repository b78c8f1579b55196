/* SPDX-License-Identifier: MIT */
/*
 * inet_devices.c: the inet libOS (inet.c) put together over a real device
 * (catnip, catpowder: inet_libos_create): the transmit fault injector when
 * fault.* asks for it, and the drain at exit that lets pushed data and FINs
 * leave. The in-process devices have their own files: catloop.c (the
 * loopback) and cattest.c (the scripted device of <demi/harness.h>).
 */
#include "core/clock.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "dev/fault.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <errno.h>
#include <stdlib.h>

/* fault.tx_*_ppm: the fault wrapper in front of the device, so tests can
 * make a real wire lossy from libdemi's side. NULL (and @dev destroyed) when
 * the wrapper cannot be made. */
static struct netdev *inet_maybe_fault(const struct demi_config *cfg, struct netdev *dev)
{
    struct fault_params fp = {
        .seed = cfg->fault_seed,
        .loss_ppm = cfg->fault_loss_ppm,
        .dup_ppm = cfg->fault_dup_ppm,
        .corrupt_ppm = cfg->fault_corrupt_ppm,
        .reorder_ppm = cfg->fault_reorder_ppm,
    };
    struct netdev *wrapped;

    if (!fp.loss_ppm && !fp.dup_ppm && !fp.corrupt_ppm && !fp.reorder_ppm)
        return dev;
    wrapped = fault_wrap(dev, &rt.mem, &fp);
    if (!wrapped) {
        netdev_destroy(dev);
        return NULL;
    }
    log_warn("%s: transmit fault injection on (loss %u, dup %u, corrupt %u, reorder %u ppm; seed %u)", dev->name,
             fp.loss_ppm, fp.dup_ppm, fp.corrupt_ppm, fp.reorder_ppm, cfg->fault_seed);
    return wrapped;
}

/*
 * Exit drain. A process that exits right after demi_close() (or after its
 * last push completed: pushes complete once queued) would take the unsent
 * bytes and its FIN with it: unlike a kernel's, this stack runs only inside
 * the process. So at exit it keeps running until every connection has
 * delivered what it owes (bounded, and cut short when the link goes down),
 * lingers briefly for a peer's FIN, then shuts the runtime down, which also
 * releases the device (a memif peer sees the link go down, libxdp's program
 * is detached). Only for real devices: catloop and cattest are in-process.
 */
#define INET_EXIT_DRAIN_NS 2000000000ull
#define INET_EXIT_GRACE_NS 5000000ull

static struct libos *inet_exit_los;

static void inet_atexit(void)
{
    struct inet_stack *s;
    uint64_t now, deadline, quiet_since = 0;

    if (!rt.initialised || !rt_owner() || !inet_exit_los || rt.net != inet_exit_los)
        return;
    s = inet_libos_stack(inet_exit_los);
    now = clock_fresh_ns();
    deadline = now + INET_EXIT_DRAIN_NS;
    while (now < deadline && netdev_link_up(s->dev)) {
        for (int i = 0; i < 64; i++)
            rt_poll();
        now = clock_now_ns();
        if (tcp_owes_peers(s) || s->ntx > 0) {
            quiet_since = 0;
        } else if (quiet_since == 0) {
            quiet_since = now;
        } else if (now - quiet_since >= INET_EXIT_GRACE_NS) {
            break;
        }
    }
    rt_shutdown();
    inet_exit_los = NULL;
}

int inet_libos_create(const struct demi_config *cfg, struct netdev *dev, struct libos **out)
{
    static bool registered;
    int ret;

    dev->stats_at_exit = cfg->stats; /* the driver's, under the fault wrapper */
    dev = inet_maybe_fault(cfg, dev);
    if (!dev)
        return ENOMEM;
    ret = inet_create(cfg, dev, false, out);
    if (ret)
        return ret;
    if (!registered) {
        if (atexit(inet_atexit) != 0)
            log_warn("%s: cannot register the exit handler: data pushed just before exit may not "
                     "be sent",
                     dev->name);
        registered = true;
    }
    inet_exit_los = *out;
    return 0;
}
