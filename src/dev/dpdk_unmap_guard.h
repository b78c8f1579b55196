/* SPDX-License-Identifier: MIT */
/*
 * dpdk_unmap_guard.h: keeps a DPDK driver's control thread from unmapping
 * memory under a receive or send burst in progress (dpdk_unmap_guard.c).
 */
#ifndef DEMI_DEV_DPDK_UNMAP_GUARD_H
#define DEMI_DEV_DPDK_UNMAP_GUARD_H

#include <stdatomic.h>
#include <stdbool.h>

extern atomic_bool dpdk_unmap_guard_armed;
extern atomic_int dpdk_unmap_guard_bursts;
extern _Thread_local bool dpdk_unmap_guard_in_burst;

/* From now on munmap() waits for bursts in progress on other threads (a
 * net_memif port started: its driver unmaps a departing peer's rings). */
void dpdk_unmap_guard_arm(void);

/* Whether libdemi's munmap() is built (not under AddressSanitizer). */
bool dpdk_unmap_guard_built(void);

/* Around rte_eth_rx_burst / rte_eth_tx_burst: free unless armed. */
static inline bool dpdk_burst_enter(void)
{
    if (!atomic_load_explicit(&dpdk_unmap_guard_armed, memory_order_relaxed))
        return false;
    /* seq_cst: visible before the driver reads its "connected" flag. */
    atomic_fetch_add_explicit(&dpdk_unmap_guard_bursts, 1, memory_order_seq_cst);
    dpdk_unmap_guard_in_burst = true;
    return true;
}

static inline void dpdk_burst_exit(bool entered)
{
    if (!entered)
        return;
    dpdk_unmap_guard_in_burst = false;
    atomic_fetch_sub_explicit(&dpdk_unmap_guard_bursts, 1, memory_order_release);
}

#endif /* DEMI_DEV_DPDK_UNMAP_GUARD_H */
