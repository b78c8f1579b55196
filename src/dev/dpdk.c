/* SPDX-License-Identifier: MIT */
/*
 * dpdk.c: a DPDK ethdev port as a netdev (see dpdk.h for the model), its
 * buffers from dpdk_mem.c's mbuf pool.
 *
 * Transmit. A frame is a chain (netdev.h): a head buffer with the headers,
 * then payload segments, often slices of an application's buffer. The head
 * goes to the device as it is when we are its only holder (its ownership
 * passes to DPDK: our dbuf is marked free without freeing the mbuf, DPDK
 * frees it once sent); otherwise its bytes are copied into a fresh mbuf. A
 * segment whose bytes lie in an mbuf goes as an indirect mbuf attached to it
 * (DPDK's reference keeps it alive in flight); a segment of the 64 KiB and
 * 1 MiB classes goes as an external-buffer mbuf (see ext_attach); anything
 * else is copied into mbufs, once. A port without
 * RTE_ETH_TX_OFFLOAD_MULTI_SEGS gets every frame linearised into its head
 * mbuf. A TCP frame the stack marked for segmentation offload (netdev.h,
 * DBUF_F_TX_TSO) goes the same way, its head mbuf marked for TSO
 * (tx_offload); one whose chain would exceed the port's mbufs per packet
 * is copied into as few mbufs as hold it.
 *
 * Receive. A frame arrives in one of our mbufs and is handed up in place;
 * a chained (multi-segment) or foreign mbuf is copied into one of ours. Per
 * frame checksum results of the port set DBUF_F_CSUM_OK.
 */
#include "dev/dpdk_int.h"
#include "dev/dpdk_unmap_guard.h"

#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#define DPDK_BURST 64u        /* mbufs handed to the port per call */
#define DPDK_TX_COPY_MAX 256u /* payloads up to this size are copied behind the headers */

/* ---- the netdev ------------------------------------------------------------ */

struct dpdk_dev {
    struct netdev dev;
    uint16_t port;
    bool multi_seg;                            /* the port takes chained mbufs */
    bool tx_ip_csum, tx_tcp_csum, tx_udp_csum; /* the port fills these */
    bool tso;                                  /* ... and cuts large TCP segments */
    uint16_t tso_mbufs;                        /* mbufs a TSO packet may have */
    uint16_t tso_frame_max;                    /* 0, or net_tap's bound on a cut frame (tx_offload) */
    struct dpdk_mem *mem;
    struct dbuf_pool *pool; /* our small class: the mbuf pool */
    struct mem *m;          /* its other classes: external buffers */
    bool ext_ok;            /* large-class payloads go as external buffers */
    bool ext_iova_va;       /* ... with IOVA = virtual address (DMA-mapped) */
    struct {
        uint64_t rx_linearized; /* chained or foreign mbufs copied into one */
        uint64_t rx_dropped;    /* ... that could not be (too long, no mbuf) */
        uint64_t tx_indirect;   /* payload segments sent in place */
        uint64_t tx_external;   /* large-class payload segments sent in place */
        uint64_t tx_copied;     /* segments copied (not in an mbuf, or linearised) */
        uint64_t tx_copied_bytes;
        uint64_t tx_head_copied; /* head buffers shared or not ours */
        uint64_t tx_nombuf;      /* frames refused: no mbuf for a copy */
        uint64_t tx_tso;         /* frames marked for segmentation offload */
        uint64_t tx_tso_copied;  /* ... copied: too many pieces for the port */
    } st;
};

/* The dbuf of a received mbuf of our pool, in place. */
static inline struct dbuf *rx_dbuf(struct dpdk_dev *dd, struct rte_mbuf *m)
{
    struct dbuf *d = mbuf_dbuf(m);
    uint64_t f = m->ol_flags;

    d->data = rte_pktmbuf_mtod(m, uint8_t *);
    d->len = m->data_len;
    d->size = m->buf_len;
    d->refcnt = 1;
    d->flags = (f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
                       (f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD
                   ? DBUF_F_CSUM_OK
                   : 0;
    d->pool = dd->pool;
    d->next = NULL;
    d->parent = NULL;
    dd->pool->nfree--;
    return d;
}

/* A chained or foreign mbuf copied into one of ours (the original freed). */
static struct dbuf *rx_linearize(struct dpdk_dev *dd, struct rte_mbuf *m)
{
    struct dbuf *d = NULL;

    if (m->pkt_len <= dd->pool->data_size) {
        d = dbuf_alloc(dd->pool);
        if (d) {
            uint8_t *p = d->data;
            for (struct rte_mbuf *s = m; s; s = s->next) {
                memcpy(p, rte_pktmbuf_mtod(s, void *), s->data_len);
                p += s->data_len;
            }
            d->len = m->pkt_len;
            dd->st.rx_linearized++;
        }
    }
    if (!d) {
        dd->st.rx_dropped++;
        dd->dev.stats.rx_nobuf++;
    }
    rte_pktmbuf_free(m);
    return d;
}

/* Every burst on a port goes through these two: they hold off a driver
 * thread's munmap until the burst ends (dpdk_unmap_guard.c). */
static inline uint16_t port_rx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
    bool guarded = dpdk_burst_enter();
    uint16_t nb = rte_eth_rx_burst(port, 0, pkts, n);

    dpdk_burst_exit(guarded);
    return nb;
}

static inline uint16_t port_tx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
    bool guarded = dpdk_burst_enter();
    uint16_t sent = rte_eth_tx_burst(port, 0, pkts, n);

    dpdk_burst_exit(guarded);
    return sent;
}

static uint16_t dpdk_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct dpdk_dev *dd = container_of(dev, struct dpdk_dev, dev);
    struct rte_mempool *mp = dd->mem->mp;
    struct rte_mbuf *pkts[DPDK_BURST];
    uint16_t nb, out = 0;

    nb = port_rx(dd->port, pkts, n < DPDK_BURST ? n : DPDK_BURST);
    for (uint16_t i = 0; i < nb; i++) {
        struct rte_mbuf *m = pkts[i];
        struct dbuf *d;

        if (i + 1 < nb)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        if (likely(m->pool == mp && m->nb_segs == 1 && RTE_MBUF_DIRECT(m)))
            d = rx_dbuf(dd, m);
        else if (!(d = rx_linearize(dd, m)))
            continue;
        frames[out++] = d;
        dev->stats.rx_frames++;
        dev->stats.rx_bytes += d->len;
    }
    return out;
}

/* Append @len bytes to the chain of @head by copying: into the tail's room
 * when the tail is ours to write, else into new mbufs (a port without
 * multi-segment support gets no new segment). */
static bool tx_copy(struct dpdk_dev *dd, struct rte_mbuf *head, struct rte_mbuf **tail, bool *tail_writable,
                    const uint8_t *src, uint32_t len)
{
    dd->st.tx_copied++;
    dd->st.tx_copied_bytes += len;
    while (len > 0) {
        struct rte_mbuf *t = *tail;
        uint32_t room = *tail_writable ? (uint32_t)(t->buf_len - t->data_off - t->data_len) : 0;
        uint32_t k;

        if (room == 0) {
            struct rte_mbuf *m;
            if (!dd->multi_seg)
                return false;
            m = rte_mbuf_raw_alloc(dd->mem->mp);
            if (!m)
                return false;
            m->data_off = 0;
            m->data_len = 0;
            m->ol_flags = 0;
            t->next = m;
            head->nb_segs++;
            *tail = m;
            *tail_writable = true;
            continue;
        }
        k = len < room ? len : room;
        memcpy(rte_pktmbuf_mtod_offset(t, uint8_t *, t->data_len), src, k);
        t->data_len = (uint16_t)(t->data_len + k);
        head->pkt_len += k;
        src += k;
        len -= k;
    }
    return true;
}

/* The port fills the checksums the stack left at 0 (it does so only when
 * the netdev advertises the offload): mark them in the head mbuf, with the
 * pseudo-header sum in the TCP/UDP field as DPDK wants. A non-zero
 * @tso_seg (a frame marked DBUF_F_TX_TSO) has the port cut the TCP payload
 * into segments of that many bytes: it fills IPv4 and TCP checksums of
 * each, and DPDK wants the pseudo-header sum without the length then
 * (rte_ipv4_phdr_cksum does so given RTE_MBUF_F_TX_TCP_SEG). The headers,
 * options included, must lie in the head mbuf: they always do (the stack
 * builds them in one buffer). */
static void tx_offload(struct dpdk_dev *dd, struct rte_mbuf *m, uint32_t tso_seg)
{
    const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    struct rte_ipv4_hdr *ip;
    uint64_t ol = 0;
    uint32_t ihl;

    if (m->data_len < sizeof(*eh) + sizeof(*ip) || eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
        return;
    ip = (struct rte_ipv4_hdr *)(eh + 1);
    ihl = rte_ipv4_hdr_len(ip);
    if (tso_seg && dd->tso && ip->next_proto_id == IPPROTO_TCP &&
        m->data_len >= sizeof(*eh) + ihl + sizeof(struct rte_tcp_hdr)) {
        struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)((uint8_t *)ip + ihl);
        uint32_t thl = (uint32_t)(th->data_off >> 4) * 4;

        if (m->data_len >= sizeof(*eh) + ihl + thl) {
            ol = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
            ip->hdr_checksum = 0;
            th->cksum = rte_ipv4_phdr_cksum(ip, ol);
            m->ol_flags = ol;
            m->l2_len = sizeof(*eh);
            m->l3_len = ihl;
            m->l4_len = thl;
            /* DPDK 22.11's net_tap refuses a TSO packet whose segments,
             * Ethernet header included, exceed the MTU (its check forgets
             * the header): its segments carry that much less payload. */
            if (dd->tso_frame_max && tso_seg + m->l2_len + ihl + thl > dd->tso_frame_max)
                tso_seg = dd->tso_frame_max - m->l2_len - ihl - thl;
            m->tso_segsz = (uint16_t)tso_seg;
            dd->st.tx_tso++;
            return;
        }
    }
    if (dd->tx_ip_csum && ip->hdr_checksum == 0)
        ol |= RTE_MBUF_F_TX_IP_CKSUM;
    if (ip->next_proto_id == IPPROTO_TCP && dd->tx_tcp_csum &&
        m->data_len >= sizeof(*eh) + ihl + sizeof(struct rte_tcp_hdr)) {
        struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)((uint8_t *)ip + ihl);
        if (th->cksum == 0) {
            ol |= RTE_MBUF_F_TX_TCP_CKSUM;
            th->cksum = rte_ipv4_phdr_cksum(ip, ol);
        }
    } else if (ip->next_proto_id == IPPROTO_UDP && dd->tx_udp_csum &&
               m->data_len >= sizeof(*eh) + ihl + sizeof(struct rte_udp_hdr)) {
        struct rte_udp_hdr *uh = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
        if (uh->dgram_cksum == 0) {
            ol |= RTE_MBUF_F_TX_UDP_CKSUM;
            uh->dgram_cksum = rte_ipv4_phdr_cksum(ip, ol);
        }
    }
    if (ol) {
        m->ol_flags = ol | RTE_MBUF_F_TX_IPV4;
        m->l2_len = sizeof(*eh);
        m->l3_len = ihl;
    }
}

/*
 * External buffers: zero copy for the large classes. A payload segment of a
 * 64 KiB or 1 MiB buffer (plain memory, not an mbuf) rides as an mbuf
 * attached to its bytes as an external buffer (rte_pktmbuf_attach_extbuf).
 * The attachment's shared-info block is one of ours and holds a dbuf
 * reference on the buffer; when the port frees the mbuf, ext_free drops it,
 * so the application and the retransmission queue may release theirs at any
 * time, as with indirect mbufs. The blocks live as long as the process: a
 * port may free an mbuf late.
 *
 * Devices that DMA need the memory mapped for it: ext_setup registers the
 * two classes with DPDK (rte_extmem_register) and maps them for the port's
 * device with IOVA = virtual address; where that is impossible (IOVA as PA
 * mode, no IOMMU) those payloads are copied as before. Virtual devices
 * (memif, tap, af_packet, ring) read through the virtual address.
 */
#define DPDK_EXT_REFS 8192u

struct ext_ref {
    struct rte_mbuf_ext_shared_info sh;
    struct dbuf *root; /* the buffer whose bytes the mbuf points into */
    struct ext_ref *next_free;
};

static struct ext_ref *ext_refs;
static struct ext_ref *ext_free_list;
static uint32_t ext_out; /* attachments the ports still hold */

static void ext_free(void *addr, void *opaque)
{
    struct ext_ref *e = opaque;

    (void)addr;
    if (e->root)
        dbuf_put(e->root);
    e->root = NULL;
    e->next_free = ext_free_list;
    ext_free_list = e;
    ext_out--;
}

static bool ext_init(void)
{
    if (ext_refs)
        return true;
    ext_refs = calloc(DPDK_EXT_REFS, sizeof(*ext_refs));
    if (!ext_refs)
        return false;
    for (uint32_t i = 0; i < DPDK_EXT_REFS; i++) {
        ext_refs[i].next_free = ext_free_list;
        ext_free_list = &ext_refs[i];
    }
    return true;
}

/* Whether @root is a buffer of @dd's large classes. */
static inline bool ext_eligible(const struct dpdk_dev *dd, const struct dbuf *root)
{
    return dd->ext_ok && !root->pool->ops &&
           (root->pool == &dd->m->pools[MEM_LARGE] || root->pool == &dd->m->pools[MEM_HUGE]);
}

/* An mbuf pointing at @s's bytes, holding a reference on @root; NULL when
 * no mbuf or no shared-info block is free. */
static struct rte_mbuf *ext_attach(struct dpdk_dev *dd, const struct dbuf *s, struct dbuf *root)
{
    struct ext_ref *e = ext_free_list;
    struct rte_mbuf *mi;
    rte_iova_t iova;

    if (!e || s->len > UINT16_MAX)
        return NULL;
    mi = rte_mbuf_raw_alloc(dd->mem->ind);
    if (!mi)
        return NULL;
    ext_free_list = e->next_free;
    ext_out++;
    e->root = root;
    dbuf_ref(root);
    e->sh.free_cb = ext_free;
    e->sh.fcb_opaque = e;
    rte_mbuf_ext_refcnt_set(&e->sh, 1);
    iova = dd->ext_iova_va ? (rte_iova_t)(uintptr_t)s->data : RTE_BAD_IOVA;
    rte_pktmbuf_attach_extbuf(mi, s->data, iova, (uint16_t)s->len, &e->sh);
    mi->data_off = 0;
    mi->data_len = (uint16_t)s->len;
    mi->pkt_len = s->len;
    return mi;
}

/* How a frame's head went into the mbuf chain. */
struct tx_frame {
    struct dbuf *rest; /* the segments after the head, our references */
    bool handed;       /* the head's own mbuf is the chain's first */
};

/* Build the mbuf chain of frame @h, or NULL (nothing changed then). */
static struct rte_mbuf *tx_prepare(struct dpdk_dev *dd, struct dbuf *h, struct tx_frame *tf)
{
    struct rte_mbuf *head, *tail;
    bool writable = true, copy_all = false;
    uint32_t tso_seg = h->flags & DBUF_F_TX_TSO ? h->meta32 : 0;

    if (tso_seg) {
        /* One mbuf a piece at most, and the head: more than the port takes
         * in one TSO packet, and every piece is copied into few mbufs. */
        uint32_t pieces = 1;
        for (const struct dbuf *s = h->next; s; s = s->next)
            pieces++;
        copy_all = pieces > dd->tso_mbufs;
        dd->st.tx_tso_copied += copy_all;
    }
    tf->rest = h->next;
    tf->handed = h->pool == dd->pool && !h->parent && h->refcnt == 1;
    if (tf->handed) {
        head = dbuf_mbuf(h);
        head->data_off = (uint16_t)(h->data - h->buf);
        head->data_len = (uint16_t)h->len;
        head->pkt_len = h->len;
    } else {
        /* Shared with another holder, or not an mbuf: copy the bytes. */
        head = rte_mbuf_raw_alloc(dd->mem->mp);
        if (!head) {
            dd->st.tx_nombuf++;
            return NULL;
        }
        head->data_off = RTE_PKTMBUF_HEADROOM;
        head->data_len = 0;
        head->pkt_len = 0;
        dd->st.tx_head_copied++;
    }
    head->ol_flags = 0;
    head->nb_segs = 1;
    head->next = NULL;
    tail = head;
    if (!tf->handed && !tx_copy(dd, head, &tail, &writable, h->data, h->len))
        goto fail;

    for (struct dbuf *s = tf->rest; s; s = s->next) {
        const struct dbuf *root = s;
        struct rte_mbuf *mi;

        if (s->len == 0)
            continue;
        while (root->parent)
            root = root->parent;
        if (copy_all) {
            if (!tx_copy(dd, head, &tail, &writable, s->data, s->len))
                goto fail;
        } else if (s->len <= DPDK_TX_COPY_MAX && writable &&
                   (uint32_t)(tail->buf_len - tail->data_off - tail->data_len) >= s->len) {
            /* A small payload fits the head's room: a copy of a few cache
             * lines costs less than attaching, and later freeing, an mbuf. */
            if (!tx_copy(dd, head, &tail, &writable, s->data, s->len))
                goto fail;
        } else if (dd->multi_seg && root->pool == dd->pool && s->len <= UINT16_MAX &&
                   (mi = rte_mbuf_raw_alloc(dd->mem->ind)) != NULL) {
            /* Zero copy: DPDK's reference on the root keeps it alive. */
            rte_pktmbuf_attach(mi, dbuf_mbuf(root));
            mi->data_off = (uint16_t)(s->data - root->buf);
            mi->data_len = (uint16_t)s->len;
            mi->pkt_len = s->len;
            tail->next = mi;
            tail = mi;
            writable = false;
            head->nb_segs++;
            head->pkt_len += s->len;
            dd->st.tx_indirect++;
        } else if (dd->multi_seg && ext_eligible(dd, root) &&
                   (mi = ext_attach(dd, s, (struct dbuf *)(uintptr_t)root)) != NULL) {
            tail->next = mi;
            tail = mi;
            writable = false;
            head->nb_segs++;
            head->pkt_len += s->len;
            dd->st.tx_external++;
        } else if (!tx_copy(dd, head, &tail, &writable, s->data, s->len)) {
            goto fail;
        }
    }
    if (dd->tx_ip_csum || dd->tx_tcp_csum || dd->tx_udp_csum)
        tx_offload(dd, head, tso_seg);
    return head;

fail:
    dd->st.tx_nombuf++;
    if (tf->handed) {
        if (head->next)
            rte_pktmbuf_free(head->next);
        head->next = NULL;
        head->nb_segs = 1;
    } else {
        rte_pktmbuf_free(head);
    }
    return NULL;
}

/* Up to DPDK_BURST frames to the port; returns how many it took. */
static uint16_t tx_chunk(struct dpdk_dev *dd, struct dbuf **frames, uint16_t n)
{
    struct rte_mbuf *pkts[DPDK_BURST];
    struct tx_frame tf[DPDK_BURST];
    uint16_t k, sent;
    uint32_t bytes = 0;

    for (k = 0; k < n; k++) {
        struct dbuf *h = frames[k];
        pkts[k] = tx_prepare(dd, h, &tf[k]);
        if (!pkts[k])
            break;
        bytes += pkts[k]->pkt_len;
        /* A head we give away leaves our accounting now: the device may
         * free its mbuf inside tx_burst. */
        if (tf[k].handed) {
            h->next = NULL;
            h->refcnt = 0;
            dd->pool->nfree++;
        }
    }
    sent = k ? port_tx(dd->port, pkts, k) : 0;
    for (uint16_t i = 0; i < k; i++) {
        struct dbuf *h = frames[i];
        if (i < sent) {
            dbuf_chain_put(tf[i].handed ? tf[i].rest : h);
            continue;
        }
        /* Refused: undo, the caller still owns the frame. */
        bytes -= pkts[i]->pkt_len;
        if (tf[i].handed) {
            struct rte_mbuf *m = pkts[i];
            if (m->next)
                rte_pktmbuf_free(m->next);
            m->next = NULL;
            m->nb_segs = 1;
            h->refcnt = 1;
            h->next = tf[i].rest;
            dd->pool->nfree--;
        } else {
            rte_pktmbuf_free(pkts[i]);
        }
    }
    dd->dev.stats.tx_frames += sent;
    dd->dev.stats.tx_bytes += bytes;
    return sent;
}

static uint16_t dpdk_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct dpdk_dev *dd = container_of(dev, struct dpdk_dev, dev);
    uint32_t done = 0;

    while (done < n) {
        uint32_t want = MIN(n - done, DPDK_BURST);
        uint32_t sent = tx_chunk(dd, frames + done, (uint16_t)want);

        done += sent;
        if (sent != want) {
            dev->stats.tx_full += n - done;
            break;
        }
    }
    return (uint16_t)done;
}

static void dpdk_destroy(struct netdev *dev)
{
    struct dpdk_dev *dd = container_of(dev, struct dpdk_dev, dev);
    struct rte_mbuf *pkts[DPDK_BURST];
    uint16_t nb;
    int rounds = 0;

    /* What arrived and nobody read goes back to the pool before the port
     * stops (rings keep their contents across a stop). */
    while (rounds++ < 1024 && (nb = port_rx(dd->port, pkts, DPDK_BURST)) > 0)
        rte_pktmbuf_free_bulk(pkts, nb);
    rte_eth_dev_stop(dd->port);
    if (dev->stats_at_exit)
        fprintf(stderr,
                "libdemi: dpdk port %u (%s): rx %" PRIu64 " frames, tx %" PRIu64 " frames (%" PRIu64
                " refused), tx segments in place %" PRIu64 " (mbufs) + %" PRIu64 " (external), copied %" PRIu64
                " (%" PRIu64 " B), heads copied %" PRIu64 ", no mbuf %" PRIu64 ", TSO frames %" PRIu64 " (%" PRIu64
                " copied), rx linearised %" PRIu64 ", rx dropped %" PRIu64 "\n",
                dd->port, dev->name, dev->stats.rx_frames, dev->stats.tx_frames, dev->stats.tx_full, dd->st.tx_indirect,
                dd->st.tx_external, dd->st.tx_copied, dd->st.tx_copied_bytes, dd->st.tx_head_copied, dd->st.tx_nombuf,
                dd->st.tx_tso, dd->st.tx_tso_copied, dd->st.rx_linearized, dd->st.rx_dropped);
    free(dd);
}

bool dpdk_netdev_link_up(struct netdev *dev)
{
    struct dpdk_dev *dd = container_of(dev, struct dpdk_dev, dev);
    struct rte_eth_link link;

    memset(&link, 0, sizeof(link));
    return rte_eth_link_get_nowait(dd->port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

static const struct netdev_ops dpdk_ops = {
    .rx_burst = dpdk_rx_burst,
    .tx_burst = dpdk_tx_burst,
    .destroy = dpdk_destroy,
    .link_up = dpdk_netdev_link_up,
};

/* Whether large-class payloads of port @dd (device @dev) can go as external
 * buffers, and with which IOVA. */
static void ext_setup(struct dpdk_dev *dd, struct rte_device *dev, const char *pname)
{
    const char *bus = dev ? rte_bus_name(rte_dev_bus(dev)) : NULL;
    long page = sysconf(_SC_PAGESIZE);

    dd->ext_ok = false;
    if (!dd->multi_seg || !ext_init())
        return;
    if (bus && strcmp(bus, "vdev") == 0) {
        dd->ext_ok = true; /* reads our memory by virtual address */
        return;
    }
    if (rte_eal_iova_mode() != RTE_IOVA_VA) {
        log_info("dpdk: %s: IOVA as PA: 64 KiB and 1 MiB buffers are copied into mbufs on transmit "
                 "(external buffers need IOVA as VA, e.g. vfio-pci with an IOMMU)",
                 pname);
        return;
    }
    for (int cls = MEM_LARGE; cls <= MEM_HUGE; cls++) {
        struct dbuf_pool *p = &dd->m->pools[cls];
        size_t len = (p->map_len + (size_t)page - 1) / (size_t)page * (size_t)page;

        if (!p->base || p->ops)
            continue;
        if (rte_extmem_register(p->base, len, NULL, 0, (size_t)page) != 0 && rte_errno != EEXIST) {
            log_info("dpdk: %s: cannot register the %s buffers with DPDK (%s): they are copied on "
                     "transmit",
                     pname, p->name, rte_strerror(rte_errno));
            return;
        }
        if (rte_dev_dma_map(dev, p->base, (uint64_t)(uintptr_t)p->base, len) != 0 && rte_errno != EEXIST) {
            log_info("dpdk: %s: cannot map the %s buffers for DMA (%s): they are copied on transmit", pname, p->name,
                     rte_strerror(rte_errno));
            return;
        }
    }
    dd->ext_ok = true;
    dd->ext_iova_va = true;
}

int dpdk_netdev_create(struct mem *m, const struct dpdk_port_params *p, struct netdev **out, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    struct dpdk_dev *dd;
    char pname[RTE_ETH_NAME_MAX_LEN];
    uint16_t nb_rxd = DPDK_RX_DESC, nb_txd = DPDK_TX_DESC;
    uint64_t want_tx, want_rx;
    uint32_t mtu, port_mtu;
    int socket, ret;
    struct dpdk_mem *dm = dpdk_mem_of(m);

    if (!dm) {
        dpdk_set_err(err, errlen, "the mbuf pool is not attached to this struct mem");
        return EINVAL;
    }
    if (!rte_eth_dev_is_valid_port(p->port)) {
        dpdk_set_err(err, errlen, "no DPDK port %u: pass a --vdev or a PCI device in dpdk.eal_init", p->port);
        return ENODEV;
    }
    if (rte_eth_dev_get_name_by_port(p->port, pname) != 0)
        snprintf(pname, sizeof(pname), "port%u", p->port);
    ret = rte_eth_dev_info_get(p->port, &info);
    if (ret) {
        dpdk_set_err(err, errlen, "DPDK port %u (%s): no device info: %s", p->port, pname, rte_strerror(-ret));
        return -ret;
    }
    dd = calloc(1, sizeof(*dd));
    if (!dd) {
        dpdk_set_err(err, errlen, "out of memory");
        return ENOMEM;
    }
    dd->port = p->port;
    dd->mem = dm;
    dd->pool = dm->pool;
    dd->m = m;
    dd->dev.ops = &dpdk_ops;
    snprintf(dd->dev.name, sizeof(dd->dev.name), "%.*s", NETDEV_NAME_MAX - 1, pname);

    /* A frame must fit one mbuf: received frames are handed up in place
     * (dpdk_mem_attach sized them for the configured MTU). */
    mtu = p->mtu ? p->mtu : RTE_ETHER_MTU;
    mtu = MIN(mtu, dm->data_room - DBUF_HEADROOM - RTE_ETHER_HDR_LEN);
    if (info.max_mtu)
        mtu = MIN(mtu, (uint32_t)info.max_mtu);
    if (mtu < info.min_mtu || mtu < RTE_ETHER_MIN_MTU) {
        dpdk_set_err(err, errlen, "DPDK port %u (%s): MTU %u is below the port's minimum %u", p->port, pname, mtu,
                     info.min_mtu);
        free(dd);
        return EINVAL;
    }
    dd->dev.mtu = mtu;
    port_mtu = dpdk_port_mtu_for(&info, mtu);

    /* Offloads: multi-segment transmit, checksums and TCP segmentation
     * where the port has them; the stack uses what the netdev advertises
     * and its configuration allows. */
    want_tx = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
              RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
    want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    memset(&conf, 0, sizeof(conf));
    conf.rxmode.mtu = port_mtu;
    conf.rxmode.offloads = want_rx & info.rx_offload_capa;
    conf.txmode.offloads = want_tx & info.tx_offload_capa;
    dd->multi_seg = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    dd->tx_ip_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    dd->tx_tcp_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    dd->tx_udp_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    dd->tso = dpdk_port_tso(&info, conf.txmode.offloads, &dd->dev.tso_max_len, &dd->dev.tso_max_segs, &dd->tso_mbufs);
    if (!dd->tso)
        conf.txmode.offloads &= ~RTE_ETH_TX_OFFLOAD_TCP_TSO;
    if (dd->tso && strcmp(info.driver_name, "net_tap") == 0)
        dd->tso_frame_max = (uint16_t)port_mtu;
    dd->dev.offloads = (dd->tx_ip_csum ? NETDEV_OFF_IPV4_CSUM : 0) | (dd->tx_tcp_csum ? NETDEV_OFF_TCP_CSUM : 0) |
                       (dd->tx_udp_csum ? NETDEV_OFF_UDP_CSUM : 0) | (dd->tso ? NETDEV_OFF_TCP_TSO : 0);
    ext_setup(dd, info.device, pname);
    /* A net_ring vdev transmits into its own receive ring: the stack then
     * hears itself, and its own address is a valid source. */
    dd->dev.loopback = strcmp(info.driver_name, "net_ring") == 0;

    /* A port left started by an earlier demi_init of this process. */
    rte_eth_dev_stop(p->port);
    ret = rte_eth_dev_configure(p->port, 1, 1, &conf);
    if (ret == 0)
        ret = rte_eth_dev_adjust_nb_rx_tx_desc(p->port, &nb_rxd, &nb_txd);
    socket = rte_eth_dev_socket_id(p->port);
    if (socket < 0)
        socket = (int)rte_socket_id();
    if (ret == 0)
        ret = rte_eth_rx_queue_setup(p->port, 0, nb_rxd, (unsigned)socket, NULL, dm->mp);
    if (ret == 0)
        ret = rte_eth_tx_queue_setup(p->port, 0, nb_txd, (unsigned)socket, NULL);
    if (ret) {
        dpdk_set_err(err, errlen, "DPDK port %u (%s, driver %s): cannot configure one queue pair: %s", p->port, pname,
                     info.driver_name, rte_strerror(-ret));
        free(dd);
        return -ret;
    }
    ret = dpdk_port_mac(p->port, pname, p->mac, dd->dev.mac, err, errlen);
    if (ret) {
        free(dd);
        return ret;
    }
    /* memif's control thread unmaps a departing peer's rings under our
     * bursts unless munmap waits for them (dpdk_unmap_guard.c). */
    if (strcmp(info.driver_name, "net_memif") == 0)
        dpdk_unmap_guard_arm();
    ret = dpdk_port_start(p->port, pname, info.driver_name, p->link_wait_ms, err, errlen);
    if (ret) {
        free(dd);
        return ret;
    }
    log_info("dpdk: port %u (%s, driver %s): MTU %u, %u/%u descriptors, multi-seg tx %s, tx checksum "
             "offload%s%s%s%s, TCP segmentation offload %s, large buffers %s",
             p->port, pname, info.driver_name, mtu, nb_rxd, nb_txd, dd->multi_seg ? "yes" : "no (linearised)",
             dd->tx_ip_csum ? " ipv4" : "", dd->tx_tcp_csum ? " tcp" : "", dd->tx_udp_csum ? " udp" : "",
             dd->dev.offloads ? "" : " none",
             dd->tso ? "offered (inetstack_config.tcp_segmentation_offload decides)" : "not offered by the port",
             dd->ext_ok ? "in place (external mbufs)" : "copied");
    *out = &dd->dev;
    return 0;
}
