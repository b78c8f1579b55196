/* SPDX-License-Identifier: MIT */
/*
 * loopback.h: an in-process netdev whose transmitted frames come back on its
 * own receive side, as a wire looped to itself would: the device of
 * LIBOS=catloop. Private header.
 */
#ifndef DEMI_DEV_LOOPBACK_H
#define DEMI_DEV_LOOPBACK_H

#include "net/netdev.h"

/* A loopback device with MAC @mac and IP MTU @mtu, buffers from @mem, room
 * for @ring_len frames in flight. NULL when out of memory. */
struct netdev *loopback_create(struct mem *mem, const uint8_t mac[ETH_ALEN], uint32_t mtu, uint32_t ring_len);

#endif /* DEMI_DEV_LOOPBACK_H */
