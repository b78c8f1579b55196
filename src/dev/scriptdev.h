/* SPDX-License-Identifier: MIT */
/*
 * scriptdev.h: the device of LIBOS=cattest. Frames the stack sends are kept
 * (with the virtual time) for the harness to take; frames the harness
 * injects come out of rx_burst. ARP requests and IPv6 Neighbor Solicitations
 * are answered on the spot with a fixed peer MAC (a DAD probe from :: is not
 * answered: our addresses are unique); they, and every NS or NA the stack
 * sends, never reach the harness. Private header.
 */
#ifndef DEMI_DEV_SCRIPTDEV_H
#define DEMI_DEV_SCRIPTDEV_H

#include "net/netdev.h"

#include <stddef.h>

struct netdev *scriptdev_create(struct mem *mem, const uint8_t mac[ETH_ALEN], uint32_t mtu);

/* Queue an IPv4 or IPv6 packet (by its version field) for reception,
 * wrapped in Ethernet. EINVAL when shorter than its version's header. */
int scriptdev_inject(struct netdev *dev, const void *pkt, size_t len);

/* The oldest IPv4 or IPv6 packet sent: see demi_harness_take. */
int scriptdev_take(struct netdev *dev, void *buf, size_t cap, size_t *len_out, uint64_t *when_ns);

#endif /* DEMI_DEV_SCRIPTDEV_H */
