/* SPDX-License-Identifier: MIT */
/*
 * afxdp.h: a netdev over a Linux AF_XDP socket (libxdp's xsk API), the
 * device of LIBOS=catpowder with raw_socket.mode af_xdp. Private header.
 *
 * Memory model: one UMEM, registered with the kernel, is cut into 4 KiB
 * frames; each frame begins with the struct dbuf that describes it, so a
 * frame and its dbuf are one object. The UMEM backs libdemi's small buffer
 * class (mem_set_class_pool), hence:
 *   - receive is zero-copy: the kernel (or, in zero-copy mode, the NIC)
 *     writes a frame into UMEM and that frame goes up the stack as it is;
 *   - demi_sgaalloc of up to 2 KiB returns UMEM frames, and every frame the
 *     stack builds starts in a UMEM frame (netdev alloc), so transmit sends
 *     the head buffer in place; payload chained behind it (a slice of an
 *     application buffer) is copied once into the head's tailroom, because
 *     one AF_XDP descriptor is one contiguous frame.
 * Frame layout (aligned mode, offsets from the frame start):
 *   [0, 64) struct dbuf | [64, 256) headroom | 256.. packet data on receive
 *   (XDP_PACKET_HEADROOM); on transmit data starts at 64 + DBUF_HEADROOM.
 */
#ifndef DEMI_DEV_AFXDP_H
#define DEMI_DEV_AFXDP_H

#include "net/netdev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum afxdp_bind { AFXDP_BIND_AUTO, AFXDP_BIND_ZEROCOPY, AFXDP_BIND_COPY };

struct afxdp_params {
    const char *ifname;
    uint32_t queue;       /* receive queue to bind (raw_socket.xdp_queue) */
    enum afxdp_bind bind; /* raw_socket.xdp_bind */
    const uint8_t *mac;   /* demikernel.local_link_addr or NULL */
    uint32_t mtu;         /* inetstack_config.mtu; 0 = the interface's */
    uint32_t buffers;     /* frames for the small buffer class (libdemi.pool_small_count) */
};

/*
 * Open an AF_XDP socket on @pp->ifname queue @pp->queue and make @mem's
 * small buffer class its UMEM (no small buffer may be out). Needs
 * CAP_NET_ADMIN, CAP_BPF/CAP_SYS_ADMIN and CAP_IPC_LOCK (root). Returns 0 and
 * the device in @out, or a positive errno after logging why: ENODEV, EINVAL,
 * ENETDOWN (see linux_if.h), EPERM (privileges), EBUSY (queue or XDP program
 * in use), EOPNOTSUPP (zero-copy asked of a driver without it), EMSGSIZE (MTU
 * too large for a 4 KiB frame), ENOMEM.
 */
int afxdp_create(struct mem *mem, const struct afxdp_params *pp, struct netdev **out);

/* Parse raw_socket.xdp_bind ("auto", "zero_copy", "copy"). */
enum afxdp_bind afxdp_bind_from(const char *s);

/*
 * The UMEM as libdemi's small buffer class: the pool's private state. What
 * follows works without a socket, for tests/fuzz/fuzz_afxdp.c: the driver's
 * receive and completion paths run the same functions on the descriptors
 * the kernel writes.
 */
struct afxdp_umem {
    uint8_t *area;
    size_t len;
    uint32_t nframes;
    struct dbuf **free; /* LIFO of free frames (their dbuf = their start) */
    struct dbuf_pool *pool;
};

/* A UMEM of @nframes frames made @mem's small buffer class (none of which
 * may be out), every frame free, no socket. 0, ENOMEM, or what
 * mem_set_class_pool says. Released with @mem (mem_fini). */
int afxdp_umem_attach(struct mem *mem, uint32_t nframes, struct afxdp_umem **out);

/*
 * The frame of one rx descriptor (@addr, @len, @options as the kernel wrote
 * them) ready for the stack, holding one reference. NULL, counted in *@bad,
 * when the descriptor names no frame lent for receive (an address outside
 * the UMEM, a frame someone holds: nothing is touched) or a packet that
 * does not fit its frame or continues in another descriptor (the frame goes
 * back to the pool).
 */
struct dbuf *afxdp_rx_desc(struct afxdp_umem *um, uint64_t addr, uint32_t len, uint32_t options, uint64_t *bad);

/* A completion for @addr: the frame sent goes back to its holders (the
 * pool). false, touching nothing, when @addr names no held frame. */
bool afxdp_tx_done(struct afxdp_umem *um, uint64_t addr);

#endif /* DEMI_DEV_AFXDP_H */
