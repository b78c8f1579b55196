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

#include "net/netdev.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Open interface @ifname (needs CAP_NET_RAW). The MAC is the interface's;
 * @mac_or_null, when given, must equal it (EADDRNOTAVAIL otherwise). The IP
 * MTU is the interface's, lowered to @mtu when @mtu is not 0 and smaller.
 * Buffers for received frames come from @mem. Returns 0 and the device in
 * @out, or a positive errno after logging why: ENODEV (no such interface),
 * EPERM (no privilege), ENETDOWN (interface down), EINVAL (not Ethernet),
 * or what socket, ring setup or mmap failed with.
 */
int afpacket_create(const char *ifname, struct mem *mem, const uint8_t *mac_or_null, uint32_t mtu, struct netdev **out);

/*
 * The receive side of one ring slot, apart from the socket: what rx_burst
 * runs for every slot the kernel hands over (TP_STATUS_USER), and what
 * tests/fuzz/fuzz_afpacket.c runs on slots it forges.
 */
struct afpacket_rx {
    struct mem *mem;            /* buffers for received frames */
    struct netdev_stats *stats; /* rx_frames, rx_bytes, rx_nobuf */
    const char *name;           /* for messages */
    uint32_t frame_size;        /* bytes of a slot (header, sockaddr_ll, frame) */
    bool ignore_outgoing;       /* PACKET_IGNORE_OUTGOING took: no own frames on rx */
    uint64_t rx_truncated;      /* frame longer than a slot keeps */
    uint64_t rx_vlan;           /* tagged for a VLAN: not ours */
    uint64_t rx_csum_completed; /* CHECKSUM_PARTIAL frame from a local sender */
    uint64_t rx_bad_slot;       /* header out of the slot's bounds: never from a sane kernel */
};

/*
 * Copy the frame of the TPACKET_V2 slot at @slot (@rx->frame_size bytes,
 * tpacket2_hdr first; @status its tp_status, already read) into a buffer of
 * @rx->mem. NULL when the frame is not for the stack (truncated, our own,
 * another VLAN), when no buffer is free, or when the header puts the frame
 * outside the slot (tp_mac, tp_snaplen), all counted. Reads nothing outside
 * the slot.
 */
struct dbuf *afpacket_rx_frame(struct afpacket_rx *rx, const uint8_t *slot, uint32_t status);

#endif /* DEMI_DEV_AFPACKET_H */
