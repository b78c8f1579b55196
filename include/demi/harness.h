/* SPDX-License-Identifier: MIT */
/**
 * @file demi/harness.h
 * libdemi extension: a test harness that drives the network stack packet by
 * packet, in virtual time, for scripted protocol tests (packetdrill style).
 *
 * Select it with LIBOS=cattest (and demikernel.local_ipv4_addr, and
 * demikernel.local_ipv6_addr for IPv6, for our addresses). The stack then
 * runs over an in-memory device: the harness injects IP packets (IPv4 or
 * IPv6, told apart by their version) as if they came from the wire and
 * takes every IP packet the stack sends, with the virtual time it was sent
 * at. ARP and Neighbor Discovery are answered inside the device (every
 * address resolves to a fixed peer MAC) and never taken, so scripts see
 * only IP. The clock starts at 0 and moves only when the
 * harness moves it; timers (retransmission, delayed ACK, TIME_WAIT) fire as
 * it advances. The PDPIX calls work as usual on this libOS.
 *
 * Every call returns 0 or a positive errno; ENOTSUP when LIBOS is not cattest.
 */
#ifndef DEMI_HARNESS_H_IS_INCLUDED
#define DEMI_HARNESS_H_IS_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Hand one IP packet (IPv4 or IPv6, header included, no Ethernet header) to the stack
 * and process it at once. EINVAL for NULL, len < 20 (40 for IPv6) or len > 65535; ENOMEM
 * when no buffer is free.
 */
int demi_harness_inject(const void *ipv4_packet, size_t len);

/**
 * Take the oldest IP packet the stack sent and not yet taken.
 * @param buf       receives the packet (its IPv4 or IPv6 header first).
 * @param cap       size of @p buf; EMSGSIZE (packet kept) if too small.
 * @param len_out   its length.
 * @param when_ns   the virtual time it was sent at (may be NULL).
 * @return 0; EAGAIN when nothing was sent; EINVAL for NULL arguments.
 */
int demi_harness_take(void *buf, size_t cap, size_t *len_out, uint64_t *when_ns);

/** Move the virtual clock forward by @p ns and run every timer now due. */
int demi_harness_advance(uint64_t ns);

/**
 * When the stack's next timer is due, in virtual ns since demi_init (it may
 * be in the past: it fires at the next advance or poll). Nothing happens in
 * the stack between now and then unless a packet is injected, so a runner
 * may advance straight there instead of tick by tick.
 * @return 0; ENOENT when no timer is armed; EINVAL for NULL.
 */
int demi_harness_next_timer(uint64_t *when_ns);

/** The virtual clock, in ns since demi_init (0 when not cattest). */
uint64_t demi_harness_now(void);

/** Run one round of the poll loop (what a demi_wait would do once). */
int demi_harness_poll(void);

/**
 * Check the invariants the stack keeps (for every listener: its counts of
 * half-open and ready connections equal the lengths of its queues, and
 * every child on them points back at it). Script runners call it after
 * every step, so a count that drifts fails the step that made it drift.
 * @param msg   receives what is wrong (may be NULL).
 * @param cap   size of @p msg.
 * @return 0; EIO when an invariant is broken.
 */
int demi_harness_check(char *msg, size_t cap);

/**
 * A listening TCP queue's connections: @p half_open in SYN-RECEIVED (its SYN
 * queue), @p ready established and waiting for demi_accept.
 * @return 0; EBADF for an unknown qd; EINVAL when @p qd is not a TCP queue
 * of this libOS or an argument is NULL.
 */
int demi_harness_listener(int qd, uint32_t *half_open, uint32_t *ready);

/**
 * The stack's counter called @p name (e.g. "tcp_accept_overflow"; the names
 * DEMI_STATS prints at exit).
 * @return 0; ENOENT for an unknown name; EINVAL for NULL.
 */
int demi_harness_counter(const char *name, uint64_t *value);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_HARNESS_H_IS_INCLUDED */
