/* SPDX-License-Identifier: MIT */
/*
 * afxdp.c: netdev over an AF_XDP socket (see afxdp.h for the memory model).
 *
 * libxdp does the kernel plumbing: it registers the UMEM, creates the socket
 * and its four rings, and attaches its default XDP program, which redirects
 * every frame of our queue to the socket (XDP_PASS when no socket is bound,
 * so the kernel gets the interface back when we exit). Unlike AF_PACKET,
 * the kernel's stack no longer sees the frames of that queue.
 *
 * Rings (single producer, single consumer each, shared with the kernel):
 *   fill:       free frames we lend the kernel to receive into
 *   rx:         frames it filled: (address, length) of the packet
 *   tx:         frames we want sent
 *   completion: frames it has sent, back to us
 * A frame belongs to exactly one party at a time: the buffer pool (free),
 * the kernel (in fill, rx-not-yet-consumed, tx, completion), or a holder of
 * dbuf references. The UMEM outlives the socket (pool fini, at mem_fini) so
 * references the application still holds stay valid to the end.
 *
 * need_wakeup (XDP_USE_NEED_WAKEUP): the kernel tells us through a ring flag
 * when it needs a syscall to make progress: sendto() for transmit, recvfrom()
 * for the fill ring. Without the flag set, the data path makes no syscall.
 */
#include "dev/afxdp.h"

#include "core/log.h"
#include "dev/linux_if.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#define XF_FRAME_SIZE 4096u /* a page: aligned mode, one packet per frame */
#define XF_RING 2048u       /* entries in rx, tx and completion rings */
#define XF_FILL_RING (2 * XF_RING)
#define XF_RX_POSTED_MAX XF_RING /* frames lent to the kernel for receive */
#define XF_FREE_RESERVE 256u     /* frames never lent for receive: room to transmit */
#define XF_KICK_TRIES 16         /* sendto() calls per burst while the kernel makes progress */
#define XF_VLAN_SLACK 4u
#define XF_CAPS                                                                                   \
    "AF_XDP needs CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF (or CAP_SYS_ADMIN) and CAP_IPC_LOCK (or a " \
    "large enough ulimit -l): run as root"

BUILD_BUG_ON(XDP_PACKET_HEADROOM < sizeof(struct dbuf) + DBUF_HEADROOM);

struct afxdp {
    struct netdev dev;
    struct mem *mem;
    struct afxdp_umem *um;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fq, tx;
    struct xsk_ring_cons cq, rx;
    int fd;
    bool zerocopy;
    uint32_t rx_posted;      /* frames in the fill ring or filled and not yet taken */
    uint32_t tx_outstanding; /* frames in tx or completion, not yet reaped */
    uint32_t tx_frame_max;   /* largest frame we send (MTU + Ethernet + one VLAN tag) */

    /* Driver counters beyond struct netdev_stats (libdemi.stats prints them). */
    uint64_t tx_in_place; /* head frame sent as it was */
    uint64_t tx_appended; /* payload copied into the head frame's tailroom */
    uint64_t tx_copied;   /* whole chain copied into a fresh frame */
    uint64_t tx_oversize;
    uint64_t tx_nobuf;
    uint64_t kicks, kick_errors;
    uint64_t fill_wakeups;
    uint64_t rx_bad_desc; /* rx descriptor outside the UMEM or its frame */
    uint64_t tx_bad_comp; /* completion naming no frame we sent */
};

/* ---- the UMEM buffer pool ------------------------------------------------ */

static inline struct dbuf *xf_frame_dbuf(const struct afxdp_umem *um, uint64_t addr)
{
    return (struct dbuf *)(um->area + (addr & ~(uint64_t)(XF_FRAME_SIZE - 1)));
}

static inline uint64_t xf_frame_addr(const struct afxdp_umem *um, const struct dbuf *d)
{
    return (uint64_t)((const uint8_t *)d - um->area);
}

static inline bool xf_owns(const struct afxdp_umem *um, const void *ptr)
{
    const uint8_t *b = ptr;
    return b >= um->area && b < um->area + um->len;
}

/* A frame's dbuf, held once by its new user; data and len are the caller's.
 * The sga tag (app_gen) is left as it was: it must keep changing across
 * reuse. */
static inline void xf_dbuf_reset(struct dbuf_pool *p, struct dbuf *d)
{
    d->size = XF_FRAME_SIZE - (uint32_t)sizeof(struct dbuf);
    d->refcnt = 1;
    d->flags = 0;
    d->pool = p;
    d->next = NULL;
    d->parent = NULL;
}

/* A frame from the free stack, its dbuf ready as dbuf_alloc promises. The
 * sga tag (app_gen) is left as it was: it must keep changing across reuse. */
static inline struct dbuf *xf_take(struct dbuf_pool *p)
{
    struct afxdp_umem *um = p->priv;
    struct dbuf *d;

    if (unlikely(p->nfree == 0)) {
        p->alloc_failures++;
        return NULL;
    }
    d = um->free[--p->nfree];
    xf_dbuf_reset(p, d);
    d->data = d->buf + DBUF_HEADROOM;
    d->len = 0;
    return d;
}

static inline void xf_give(struct dbuf_pool *p, struct dbuf *d)
{
    struct afxdp_umem *um = p->priv;

    d->refcnt = 0;
    um->free[p->nfree++] = d;
}

static struct dbuf *xf_pool_alloc(struct dbuf_pool *p)
{
    return xf_take(p);
}

static void xf_pool_release(struct dbuf_pool *p, struct dbuf *d)
{
    xf_give(p, d);
}

static struct dbuf *xf_pool_lookup(const struct dbuf_pool *p, const void *ptr)
{
    const struct afxdp_umem *um = p->priv;
    struct dbuf *d;

    if (!xf_owns(um, ptr) || ((const uint8_t *)ptr - um->area) % XF_FRAME_SIZE != 0)
        return NULL;
    d = (struct dbuf *)(uintptr_t)ptr;
    return d->refcnt > 0 && d->pool == p ? d : NULL;
}

static bool xf_pool_owns(const struct dbuf_pool *p, const void *ptr)
{
    return xf_owns(p->priv, ptr);
}

static void xf_pool_fini(struct dbuf_pool *p)
{
    struct afxdp_umem *um = p->priv;

    munmap(um->area, um->len);
    free(um->free);
    free(um);
}

static const struct dbuf_pool_ops xf_pool_ops = {
    .alloc = xf_pool_alloc,
    .release = xf_pool_release,
    .lookup = xf_pool_lookup,
    .owns = xf_pool_owns,
    .fini = xf_pool_fini,
};

/* ---- data path ------------------------------------------------------------ */

/* Lend free frames to the kernel for receive, keeping a reserve for sends. */
static void xf_refill(struct afxdp *x)
{
    struct dbuf_pool *p = x->um->pool;
    uint32_t want = XF_RX_POSTED_MAX - x->rx_posted, idx, n;

    if (want < 32 || p->nfree <= XF_FREE_RESERVE)
        return;
    if (want > p->nfree - XF_FREE_RESERVE)
        want = p->nfree - XF_FREE_RESERVE;
    n = xsk_ring_prod__reserve(&x->fq, want, &idx);
    for (uint32_t i = 0; i < n; i++) {
        struct dbuf *d = x->um->free[--p->nfree];
        *xsk_ring_prod__fill_addr(&x->fq, idx + i) = xf_frame_addr(x->um, d);
    }
    xsk_ring_prod__submit(&x->fq, n);
    x->rx_posted += n;
}

bool afxdp_tx_done(struct afxdp_umem *um, uint64_t addr)
{
    struct dbuf *d;

    /* The kernel's word: a frame of the UMEM that someone holds. Anything
     * else names no frame we sent, and nothing is touched. */
    if (unlikely(addr >= um->len))
        return false;
    d = xf_frame_dbuf(um, addr);
    if (unlikely(d->refcnt == 0))
        return false;
    dbuf_put(d);
    return true;
}

/* Frames the kernel has sent come back to the pool (or to their holders). */
static void xf_reap(struct afxdp *x)
{
    uint32_t idx, n = xsk_ring_cons__peek(&x->cq, XF_RING, &idx);

    for (uint32_t i = 0; i < n; i++)
        if (unlikely(!afxdp_tx_done(x->um, *xsk_ring_cons__comp_addr(&x->cq, idx + i))))
            x->tx_bad_comp++;
    if (n) {
        xsk_ring_cons__release(&x->cq, n);
        x->tx_outstanding -= n;
    }
}

/* Have the kernel send what the tx ring holds. A copy-mode socket sends a
 * bounded batch per call, so keep calling while it makes progress. */
static void xf_kick(struct afxdp *x)
{
    for (int t = 0; t < XF_KICK_TRIES && x->tx_outstanding; t++) {
        uint32_t before = x->tx_outstanding;

        if (!xsk_ring_prod__needs_wakeup(&x->tx))
            break;
        x->kicks++;
        if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
            errno != ENOBUFS && errno != ENETDOWN) {
            if (x->kick_errors++ == 0)
                log_warn("catpowder: %s: sendto: %s (will retry; further errors are only counted)", x->dev.name,
                         strerror(errno));
            break;
        }
        xf_reap(x);
        if (x->tx_outstanding == before)
            break; /* no progress now: the next poll retries */
    }
}

struct dbuf *afxdp_rx_desc(struct afxdp_umem *um, uint64_t addr, uint32_t len, uint32_t options, uint64_t *bad)
{
    uint64_t off = addr & (XF_FRAME_SIZE - 1);
    struct dbuf *d;

    /* The kernel's word, checked before the frame is touched. An address
     * outside the UMEM, or in a frame someone holds (never lent for
     * receive), names no frame we may take: nothing is touched. A frame we
     * lent whose packet would overlap its dbuf or pass its end, or that
     * continues in another descriptor (multi-buffer, never asked for), goes
     * back to the pool. A sane kernel does none of this. */
    if (unlikely(addr >= um->len)) {
        (*bad)++;
        return NULL;
    }
    d = xf_frame_dbuf(um, addr);
    if (unlikely(d->refcnt != 0)) {
        (*bad)++;
        return NULL;
    }
    xf_dbuf_reset(um->pool, d);
    if (unlikely(off < sizeof(struct dbuf) || len > XF_FRAME_SIZE - off || options != 0)) {
        (*bad)++;
        xf_give(um->pool, d);
        return NULL;
    }
    d->data = (uint8_t *)d + off;
    d->len = len;
    return d;
}

static uint16_t xf_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct afxdp *x = container_of(dev, struct afxdp, dev);
    uint32_t idx, k, got = 0;

    if (x->tx_outstanding) {
        xf_reap(x);
        xf_kick(x);
    }
    k = xsk_ring_cons__peek(&x->rx, n, &idx);
    for (uint32_t i = 0; i < k; i++) {
        const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&x->rx, idx + i);
        struct dbuf *d = afxdp_rx_desc(x->um, desc->addr, desc->len, desc->options, &x->rx_bad_desc);

        x->rx_posted--;
        if (unlikely(!d))
            continue;
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += d->len;
        frames[got++] = d;
    }
    if (k)
        xsk_ring_cons__release(&x->rx, k);
    xf_refill(x);
    if (k == 0 && xsk_ring_prod__needs_wakeup(&x->fq)) {
        /* A zero-copy driver waits for a syscall before it uses new fill
         * entries; copy mode never sets the flag. */
        x->fill_wakeups++;
        (void)recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
    }
    return (uint16_t)got;
}

/* The one UMEM frame that carries @f on the wire, holding one reference
 * for the kernel; @f's chain is consumed. NULL (chain kept) when no frame. */
static struct dbuf *xf_tx_frame(struct afxdp *x, struct dbuf *f, uint32_t len)
{
    struct dbuf *d;

    if (xf_owns(x->um, f) && !f->parent) {
        if (!f->next) {
            x->tx_in_place++;
            return f;
        }
        /* Header in our frame, payload elsewhere: append it behind. */
        if (f->refcnt == 1 && dbuf_tailroom(f) >= len - f->len) {
            dbuf_chain_copy(f->next, f->data + f->len);
            dbuf_chain_put(f->next);
            f->next = NULL;
            f->len = len;
            x->tx_appended++;
            return f;
        }
    }
    d = xf_take(x->um->pool);
    if (!d) {
        x->tx_nobuf++;
        return NULL;
    }
    dbuf_chain_copy(f, d->data);
    d->len = len;
    dbuf_chain_put(f);
    x->tx_copied++;
    return d;
}

static uint16_t xf_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct afxdp *x = container_of(dev, struct afxdp, dev);
    uint32_t queued = 0, idx;
    uint16_t i;

    xf_reap(x);
    for (i = 0; i < n; i++) {
        uint32_t len = dbuf_chain_len(frames[i]);
        struct xdp_desc *desc;
        struct dbuf *d;

        if (unlikely(len > x->tx_frame_max)) {
            /* Can never be sent: take it and drop it rather than refuse forever. */
            x->tx_oversize++;
            dbuf_chain_put(frames[i]);
            continue;
        }
        if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
            dev->stats.tx_full++;
            break;
        }
        d = xf_tx_frame(x, frames[i], len);
        if (!d) {
            x->tx.cached_prod--; /* give the slot back: nothing was written */
            break;
        }
        desc = xsk_ring_prod__tx_desc(&x->tx, idx);
        desc->addr = (uint64_t)(d->data - x->um->area);
        desc->len = d->len;
        desc->options = 0;
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
        queued++;
    }
    if (queued) {
        xsk_ring_prod__submit(&x->tx, queued);
        x->tx_outstanding += queued;
    }
    if (x->tx_outstanding)
        xf_kick(x);
    return i;
}

static void xf_print_stats(struct afxdp *x)
{
    struct xdp_statistics st;
    socklen_t sl = sizeof(st);

    memset(&st, 0, sizeof(st));
    (void)getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &st, &sl);
    fprintf(stderr,
            "libdemi: afxdp counters (%s, %s):\n"
            "  rx_frames %llu rx_bytes %llu rx_bad_desc %llu fill_wakeups %llu tx_bad_comp %llu\n"
            "  kernel: rx_dropped %llu rx_invalid_descs %llu rx_ring_full %llu "
            "rx_fill_ring_empty %llu tx_invalid_descs %llu tx_ring_empty %llu\n"
            "  tx_frames %llu tx_bytes %llu tx_full %llu tx_in_place %llu tx_appended %llu "
            "tx_copied %llu tx_oversize %llu tx_nobuf %llu kicks %llu kick_errors %llu\n",
            x->dev.name, x->zerocopy ? "zero-copy" : "copy", (unsigned long long)x->dev.stats.rx_frames,
            (unsigned long long)x->dev.stats.rx_bytes, (unsigned long long)x->rx_bad_desc,
            (unsigned long long)x->fill_wakeups, (unsigned long long)x->tx_bad_comp, (unsigned long long)st.rx_dropped,
            (unsigned long long)st.rx_invalid_descs, (unsigned long long)st.rx_ring_full,
            (unsigned long long)st.rx_fill_ring_empty_descs, (unsigned long long)st.tx_invalid_descs,
            (unsigned long long)st.tx_ring_empty_descs, (unsigned long long)x->dev.stats.tx_frames,
            (unsigned long long)x->dev.stats.tx_bytes, (unsigned long long)x->dev.stats.tx_full,
            (unsigned long long)x->tx_in_place, (unsigned long long)x->tx_appended, (unsigned long long)x->tx_copied,
            (unsigned long long)x->tx_oversize, (unsigned long long)x->tx_nobuf, (unsigned long long)x->kicks,
            (unsigned long long)x->kick_errors);
}

/* Socket and UMEM registration go; the UMEM memory stays with the pool. */
static void xf_close(struct afxdp *x)
{
    if (x->xsk)
        xsk_socket__delete(x->xsk); /* also detaches libxdp's program if last */
    if (x->umem)
        xsk_umem__delete(x->umem);
    x->xsk = NULL;
    x->umem = NULL;
}

static void xf_destroy(struct netdev *dev)
{
    struct afxdp *x = container_of(dev, struct afxdp, dev);

    if (dev->stats_at_exit)
        xf_print_stats(x);
    xf_close(x);
    free(x);
}

static const struct netdev_ops afxdp_ops = {
    .rx_burst = xf_rx_burst,
    .tx_burst = xf_tx_burst,
    .destroy = xf_destroy,
};

/* ---- setup ---------------------------------------------------------------- */

/* libxdp's and libbpf's messages through our log. Their warnings are mostly
 * fallbacks that work (no bpffs, so no dispatcher): info level; a failure
 * that matters comes back as an error code, which we explain. */
static void xf_log_line(enum log_level level, const char *lib, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void xf_log_line(enum log_level level, const char *lib, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    if (level > log_threshold)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    /* libxdp names itself; libbpf does not. */
    log_write(level, "%s%s%s", strncmp(line, lib, strlen(lib)) == 0 ? "" : lib,
              strncmp(line, lib, strlen(lib)) == 0 ? "" : ": ", line);
}

static int xf_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static int xf_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int xf_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    xf_log_line(level == LIBXDP_WARN ? LOG_INFO : LOG_DEBUG, "libxdp", fmt, ap);
    return 0;
}

static int xf_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    xf_log_line(level == LIBBPF_WARN ? LOG_INFO : LOG_DEBUG, "libbpf", fmt, ap);
    return 0;
}

enum afxdp_bind afxdp_bind_from(const char *s)
{
    if (s && strcmp(s, "zero_copy") == 0)
        return AFXDP_BIND_ZEROCOPY;
    if (s && strcmp(s, "copy") == 0)
        return AFXDP_BIND_COPY;
    return AFXDP_BIND_AUTO;
}

/* The UMEM area and its free stack (empty until xf_umem_pool). */
static struct afxdp_umem *xf_umem_new(uint32_t nframes)
{
    struct afxdp_umem *um = calloc(1, sizeof(*um));

    if (!um)
        return NULL;
    um->nframes = nframes;
    um->len = (size_t)nframes * XF_FRAME_SIZE;
    um->free = calloc(nframes, sizeof(*um->free));
    um->area = mmap(NULL, um->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!um->free || um->area == MAP_FAILED) {
        if (um->area != MAP_FAILED)
            munmap(um->area, um->len);
        free(um->free);
        free(um);
        return NULL;
    }
    return um;
}

/* From here every small buffer of @mem is a frame of @um, all free. */
static int xf_umem_pool(struct mem *mem, struct afxdp_umem *um)
{
    int ret = mem_set_class_pool(mem, MEM_SMALL, &xf_pool_ops, um,
                                 XF_FRAME_SIZE - (uint32_t)sizeof(struct dbuf) - DBUF_HEADROOM, um->nframes);

    if (ret)
        return ret;
    um->pool = &mem->pools[MEM_SMALL];
    for (uint32_t i = 0; i < um->nframes; i++)
        um->free[i] = (struct dbuf *)(um->area + (size_t)i * XF_FRAME_SIZE);
    um->pool->nfree = um->nframes;
    return 0;
}

int afxdp_umem_attach(struct mem *mem, uint32_t nframes, struct afxdp_umem **out)
{
    struct afxdp_umem *um = xf_umem_new(nframes);
    int ret;

    if (!um)
        return ENOMEM;
    ret = xf_umem_pool(mem, um);
    if (ret) {
        munmap(um->area, um->len);
        free(um->free);
        free(um);
        return ret;
    }
    *out = um;
    return 0;
}

/* What xsk_socket__create's error means for a user. */
static void xf_explain(const char *ifname, uint32_t queue, enum afxdp_bind bind, int err)
{
    const char *hint = "";

    switch (err) {
    case EPERM:
    case EACCES:
        hint = ": " XF_CAPS;
        break;
    case EBUSY:
        hint = ": another AF_XDP socket has this queue, or another XDP program is attached "
               "(xdp-loader status / ip link set dev IF xdp off)";
        break;
    case EOPNOTSUPP:
        hint = bind == AFXDP_BIND_ZEROCOPY
                   ? ": the driver has no AF_XDP zero-copy support; set raw_socket.xdp_bind: copy "
                     "(or auto)"
                   : ": the kernel or driver does not support AF_XDP here";
        break;
    case EINVAL:
        hint = ": check raw_socket.xdp_queue against the interface's queues (ethtool -l IF)";
        break;
    case ENOBUFS:
    case ENOMEM:
        hint = ": cannot pin the UMEM: raise the locked-memory limit (ulimit -l) or lower "
               "libdemi.pool_small_count";
        break;
    default:
        break;
    }
    log_err("catpowder: AF_XDP socket on %s queue %u: %s%s", ifname, queue, strerror(err), hint);
}

int afxdp_create(struct mem *mem, const struct afxdp_params *pp, struct netdev **out)
{
    struct xsk_umem_config ucfg = {
        .fill_size = XF_FILL_RING,
        .comp_size = XF_RING,
        .frame_size = XF_FRAME_SIZE,
        .frame_headroom = 0,
        .flags = 0,
    };
    struct xsk_socket_config scfg = {
        .rx_size = XF_RING,
        .tx_size = XF_RING,
        .libxdp_flags = 0, /* libxdp loads and attaches its redirect program */
        .xdp_flags = 0,    /* native XDP when the driver has it, else generic */
        .bind_flags = XDP_USE_NEED_WAKEUP,
    };
    struct xdp_options opts;
    socklen_t optlen = sizeof(opts);
    struct linux_if li;
    struct afxdp *x;
    struct afxdp_umem *um;
    uint32_t nframes;
    char a[18];
    int ret;

    libxdp_set_print(xf_libxdp_print);
    libbpf_set_print(xf_libbpf_print);
    ret = linux_if_query("catpowder", pp->ifname, &li);
    if (ret)
        return ret;
    ret = linux_if_check_mac("catpowder", pp->ifname, &li, pp->mac);
    if (ret)
        return ret;
    if (li.mtu + 14 + XF_VLAN_SLACK > XF_FRAME_SIZE - XDP_PACKET_HEADROOM) {
        log_err("catpowder: interface %s has MTU %u; AF_XDP frames here hold at most %u bytes "
                "(4 KiB frames, one buffer per packet): lower the MTU (ip link set %s mtu 1500)",
                pp->ifname, li.mtu, XF_FRAME_SIZE - XDP_PACKET_HEADROOM - 14 - XF_VLAN_SLACK, pp->ifname);
        return EMSGSIZE;
    }
    if (pp->bind == AFXDP_BIND_ZEROCOPY)
        scfg.bind_flags |= XDP_ZEROCOPY;
    else if (pp->bind == AFXDP_BIND_COPY)
        scfg.bind_flags |= XDP_COPY;

    x = calloc(1, sizeof(*x));
    nframes = pp->buffers + XF_RX_POSTED_MAX + XF_RING + XF_FREE_RESERVE;
    um = x ? xf_umem_new(nframes) : NULL;
    if (!um) {
        log_err("catpowder: AF_XDP UMEM of %u frames (%u MiB): out of memory", nframes,
                (unsigned)((uint64_t)nframes * XF_FRAME_SIZE >> 20));
        free(x);
        return ENOMEM;
    }
    x->mem = mem;
    x->um = um;
    x->fd = -1;
    x->dev.ops = &afxdp_ops;
    snprintf(x->dev.name, sizeof(x->dev.name), "afxdp:%s:%u", pp->ifname, pp->queue);
    memcpy(x->dev.mac, li.mac, ETH_ALEN);
    x->dev.mtu = pp->mtu && pp->mtu < li.mtu ? pp->mtu : li.mtu;
    x->dev.offloads = 0;
    x->tx_frame_max = x->dev.mtu + 14 + XF_VLAN_SLACK;

    ret = xsk_umem__create(&x->umem, um->area, um->len, &x->fq, &x->cq, &ucfg);
    if (ret) {
        ret = -ret;
        x->umem = NULL;
        log_err("catpowder: AF_XDP UMEM registration (%u frames of %u B): %s%s", nframes, XF_FRAME_SIZE, strerror(ret),
                ret == EPERM || ret == EACCES ? ": " XF_CAPS
                : ret == ENOBUFS || ret == ENOMEM
                    ? ": cannot pin the UMEM: raise the locked-memory limit (ulimit -l) or lower "
                      "libdemi.pool_small_count"
                    : "");
        goto fail;
    }
    ret = xsk_socket__create(&x->xsk, pp->ifname, pp->queue, x->umem, &x->rx, &x->tx, &scfg);
    if (ret) {
        ret = -ret;
        x->xsk = NULL;
        xf_explain(pp->ifname, pp->queue, pp->bind, ret);
        goto fail;
    }
    x->fd = xsk_socket__fd(x->xsk);
    if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
        x->zerocopy = (opts.flags & XDP_OPTIONS_ZEROCOPY) != 0;

    /* From here every small buffer is a UMEM frame. */
    ret = xf_umem_pool(mem, um);
    if (ret) {
        log_err("catpowder: cannot make the UMEM libdemi's small buffer class: %s", strerror(ret));
        goto fail;
    }
    xf_refill(x);

    log_info("catpowder: %s: AF_XDP %s mode, MAC %s, MTU %u, UMEM %u frames", x->dev.name,
             x->zerocopy ? "zero-copy" : "copy", linux_if_mac_str(x->dev.mac, a), x->dev.mtu, nframes);
    *out = &x->dev;
    return 0;

fail:
    xf_close(x);
    if (!um->pool) {
        munmap(um->area, um->len);
        free(um->free);
        free(um);
    }
    free(x);
    return ret;
}
