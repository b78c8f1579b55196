/* SPDX-License-Identifier: MIT */
/*
 * dpdk_unmap_guard.c: DPDK 22.11's net_memif connects and disconnects its
 * peer on EAL's interrupt thread. memif_disconnect() marks the port down
 * and then munmap()s the regions the peer shared (the rings and buffers),
 * without waiting for the lcore, which may be inside rte_eth_rx_burst()
 * between the driver's "connected" check and its first ring read: a
 * SIGSEGV in librte_net_memif when a peer exits (apps-redis-memif, about one
 * run in 25, the lcore descheduled at that point; docs/catnip.md).
 *
 * libdemi defines munmap(). The driver's call resolves to it: a DPDK
 * plugin is bound in the process's global scope, where libdemi (or the
 * executable it is linked into, or the preloaded shim) comes before libc.
 * Once armed, a munmap() from any thread but a bursting one waits until no
 * burst is in progress. A burst that starts after the driver marked the
 * port down returns at the driver's check without touching the rings: the
 * driver's store of that flag precedes its munmap by microseconds of
 * system calls (closing the peer's fds), and dpdk_burst_enter()'s count is
 * a sequentially consistent read-modify-write before the driver's load.
 *
 * Not built under AddressSanitizer, whose own munmap interceptor this
 * would replace.
 */
#include "dev/dpdk_unmap_guard.h"

#include "core/common.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

atomic_bool dpdk_unmap_guard_armed;
atomic_int dpdk_unmap_guard_bursts;
_Thread_local bool dpdk_unmap_guard_in_burst;

/* A child has only the thread that forked: no burst of its parent's other
 * threads goes on in it, and its munmap must not wait for one. */
static void dpdk_unmap_guard_atfork_child(void)
{
    atomic_store_explicit(&dpdk_unmap_guard_bursts, 0, memory_order_relaxed);
    dpdk_unmap_guard_in_burst = false;
}

void dpdk_unmap_guard_arm(void)
{
    static atomic_bool registered;

    if (!atomic_exchange(&registered, true))
        pthread_atfork(NULL, NULL, dpdk_unmap_guard_atfork_child);
    atomic_store_explicit(&dpdk_unmap_guard_armed, true, memory_order_seq_cst);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DPDK_UNMAP_GUARD_OFF 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DPDK_UNMAP_GUARD_OFF 1
#endif

bool dpdk_unmap_guard_built(void)
{
#ifdef DPDK_UNMAP_GUARD_OFF
    return false;
#else
    return true;
#endif
}

#ifndef DPDK_UNMAP_GUARD_OFF
DEMI_EXPORT int munmap(void *addr, size_t len);

DEMI_EXPORT int munmap(void *addr, size_t len)
{
    if (atomic_load_explicit(&dpdk_unmap_guard_armed, memory_order_relaxed) && !dpdk_unmap_guard_in_burst) {
        /* A burst lasts microseconds, unless its thread was descheduled. */
        for (unsigned spins = 0; atomic_load_explicit(&dpdk_unmap_guard_bursts, memory_order_acquire) > 0; spins++)
            if (spins > 1000)
                sched_yield();
    }
    return (int)syscall(SYS_munmap, addr, len);
}
#endif
