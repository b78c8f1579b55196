/* SPDX-License-Identifier: MIT */
/*
 * afpacket.h: a netdev over a Linux AF_PACKET socket with mmap'ed TPACKET_V2
 * rings, the device of LIBOS=catpowder. It sends and receives whole Ethernet
 * frames on one Linux interface, beside the kernel's own stack (which sees
 * the same frames: see docs/catpowder.md for why the interface must carry no
 * kernel IPv4 address equal to ours). Private header.
 *
 * Receive is one copy by nature: the kernel copies every frame into the ring
 * (it cannot DMA into user memory), and the driver copies it again from the
 * ring into a dbuf, so the ring slot goes back to the kernel at once and the
 * stack may hold the frame as long as it likes. Transmit copies each frame
 * chain into a ring slot and kicks the kernel with one sendto() per burst.
 */
#ifndef DEMI_DEV_AFPACKET_H
#define DEMI_DEV_AFPACKET_H

#include "dev/netdev.h"

/*
 * Open interface @ifname (needs CAP_NET_RAW). The MAC is the interface's;
 * @mac_or_null, when given, must equal it (EADDRNOTAVAIL otherwise). The IP
 * MTU is the interface's, lowered to @mtu when @mtu is not 0 and smaller.
 * Buffers for received frames come from @mem. Returns 0 and the device in
 * @out, or a positive errno after logging why: ENODEV (no such interface),
 * EPERM (no privilege), ENETDOWN (interface down), EINVAL (not Ethernet),
 * or what socket, ring setup or mmap failed with.
 */
int afpacket_create(const char *ifname, struct mem *mem, const uint8_t *mac_or_null, uint32_t mtu,
                    struct netdev **out);

#endif /* DEMI_DEV_AFPACKET_H */
