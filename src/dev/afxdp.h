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

#include "dev/netdev.h"

#include <stdint.h>

enum afxdp_bind { AFXDP_BIND_AUTO, AFXDP_BIND_ZEROCOPY, AFXDP_BIND_COPY };

struct afxdp_params {
    const char *ifname;
    uint32_t queue;             /* receive queue to bind (raw_socket.xdp_queue) */
    enum afxdp_bind bind;       /* raw_socket.xdp_bind */
    const uint8_t *mac;         /* demikernel.local_link_addr or NULL */
    uint32_t mtu;               /* inetstack_config.mtu; 0 = the interface's */
    uint32_t buffers;           /* frames for the small buffer class (libdemi.pool_small_count) */
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

#endif /* DEMI_DEV_AFXDP_H */
