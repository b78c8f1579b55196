/* SPDX-License-Identifier: MIT */
/*
 * afpacket.c: netdev over AF_PACKET with mmap'ed TPACKET_V2 rings (one
 * socket, one mapping: the receive ring, then the transmit ring).
 *
 * Receive ring: fixed slots, one frame each. The kernel copies a frame into
 * the next slot and sets TP_STATUS_USER; rx_burst copies it into a dbuf and
 * gives the slot back (TP_STATUS_KERNEL) at once. That copy is inherent to
 * AF_PACKET (the kernel copies the skb into the ring anyway): it costs one
 * memcpy per frame and lets the stack keep received data (out-of-order
 * queues, unread bytes) without pinning ring memory.
 *
 * Why TPACKET_V2 and not V3 for receive: a V3 block reaches user space only
 * when it is full or when its retire timer (at least 1 ms) fires, so a lone
 * frame (a request, an ACK) waits up to that long. Measured over a veth pair
 * against Linux, a 64-byte TCP echo took p50 1000 us with V3 and tens of us
 * with V2. V3's gains (packing, fewer poll() wakeups) do not matter to a
 * driver that busy-polls.
 *
 * Transmit ring: fixed slots. tx_burst copies each frame chain into the next
 * free slot (TP_STATUS_AVAILABLE), marks it TP_STATUS_SEND_REQUEST, and makes
 * one sendto(fd, NULL, 0, MSG_DONTWAIT) per burst to have the kernel send
 * every requested slot. PACKET_QDISC_BYPASS hands the frames straight to the
 * driver; PACKET_LOSS skips a malformed slot instead of stalling the ring.
 *
 * Memory ordering: the slot status words are the only synchronisation with
 * the kernel: acquire when reading a status that hands us data, release when
 * writing one that hands data to the kernel.
 */
#include "dev/afpacket.h"

#include "core/log.h"
#include "dev/linux_if.h"
#include "net/checksum.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define AFP_RX_RING_BYTES (4u * 1024 * 1024) /* receive ring: 2048 slots at MTU 1500 */
#define AFP_TX_RING_BYTES (1u * 1024 * 1024) /* transmit ring: 512 slots at MTU 1500 */
#define AFP_MIN_SLOTS 64u
#define AFP_BLOCK_SIZE (64u * 1024) /* ring allocation unit (slots never straddle) */
#define AFP_VLAN_SLACK 4u           /* room for one 802.1Q tag in a slot */
/* Where the kernel puts a received frame in its slot: after the header, the
 * sockaddr_ll and alignment; 128 bytes bound it for TPACKET_V2. */
#define AFP_RX_MAC_OFF_MAX 128u

/* Where frame data starts in a transmit slot (no PACKET_TX_HAS_OFF). */
#define AFP_TX_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket2_hdr))

struct afpacket {
    struct netdev dev;
    struct mem *mem;
    int fd;
    int ifindex; /* the interface's, for multicast memberships */
    uint8_t *map;
    size_t map_len;

    /* receive ring */
    struct afpacket_rx rx; /* what a slot's parsing needs */
    uint8_t *rx_ring;
    uint32_t rx_frame_nr;
    uint32_t rx_head; /* next slot the kernel fills, in order */

    /* transmit ring */
    uint8_t *tx_ring;
    uint32_t tx_frame_size, tx_frame_nr;
    uint32_t tx_head;     /* next slot to fill; the kernel follows in order */
    uint32_t tx_data_max; /* largest frame a slot holds */
    bool kick_pending;    /* the last kick failed: slots wait for another */

    /* Driver counters beyond struct netdev_stats (printed with libdemi.stats);
     * the receive side's are in rx. */
    uint64_t tx_oversize;     /* chain longer than a slot: dropped */
    uint64_t tx_wrong_format; /* slot the kernel refused */
    uint64_t kick_errors;
};

static inline uint32_t load_acquire(const volatile uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(volatile uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;

    while (p < v)
        p <<= 1;
    return p;
}

static uint32_t round_up(uint32_t v, uint32_t unit)
{
    return (v + unit - 1) / unit * unit;
}

struct dbuf *afpacket_rx_frame(struct afpacket_rx *rx, const uint8_t *slot, uint32_t status)
{
    const struct tpacket2_hdr *h = (const struct tpacket2_hdr *)slot;
    const struct sockaddr_ll *sll = (const struct sockaddr_ll *)(slot + TPACKET_ALIGN(sizeof(*h)));
    uint32_t len = h->tp_snaplen, mac = h->tp_mac;
    struct dbuf *d;

    /* The kernel's word, checked before it moves a byte: the frame lies in
     * the slot after its header, and holds no more than the packet did. A
     * sane kernel never fails this; a frame that does is dropped and
     * counted, never read past the slot. */
    if (unlikely(mac < TPACKET2_HDRLEN || mac > rx->frame_size || len > rx->frame_size - mac || len > h->tp_len)) {
        rx->rx_bad_slot++;
        return NULL;
    }
    if (h->tp_snaplen < h->tp_len) {
        /* Larger than the interface MTU: a GSO/GRO super-frame (veth with
         * offloads on), which the stack could not take anyway. */
        if (rx->rx_truncated++ == 0)
            log_warn("catpowder: %s: dropping a %u-byte frame, larger than the MTU: turn off "
                     "segmentation offloads on this interface and its peer (ethtool -K IF tso off "
                     "gso off gro off); further drops are only counted",
                     rx->name, h->tp_len);
        return NULL;
    }
    if (!rx->ignore_outgoing && sll->sll_pkttype == PACKET_OUTGOING)
        return NULL; /* our own transmission, looped back to the tap */
    if ((status & TP_STATUS_VLAN_VALID) && (h->tp_vlan_tci & 0x0fff) != 0) {
        rx->rx_vlan++;
        return NULL;
    }
    d = mem_alloc(rx->mem, len);
    if (!d) {
        rx->stats->rx_nobuf++;
        return NULL;
    }
    memcpy(d->data, slot + mac, len);
    /* From the local kernel (a veth peer): CHECKSUM_PARTIAL, for a NIC to finish. */
    if ((status & TP_STATUS_CSUMNOTREADY) && csum_complete_partial(d->data, len))
        rx->rx_csum_completed++;
    rx->stats->rx_frames++;
    rx->stats->rx_bytes += len;
    return d;
}

static void afp_kick(struct afpacket *p)
{
    if (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) {
        p->kick_pending = false;
        return;
    }
    /* The kernel keeps the slot it could not send (TP_STATUS_SEND_REQUEST)
     * and sends it at the next kick; rx_burst kicks again meanwhile. */
    p->kick_pending = true;
    if (p->kick_errors++ == 0 && errno != EAGAIN && errno != ENOBUFS)
        log_warn("catpowder: %s: sending: %s (will retry; further errors are only counted)", p->dev.name,
                 strerror(errno));
}

static uint16_t afp_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct afpacket *p = container_of(dev, struct afpacket, dev);
    uint16_t i = 0;

    if (unlikely(p->kick_pending))
        afp_kick(p);
    while (i < n) {
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)(p->rx_ring + (size_t)p->rx_head * p->rx.frame_size);
        uint32_t status = load_acquire(&h->tp_status);
        struct dbuf *d;

        if (!(status & TP_STATUS_USER))
            break;
        d = afpacket_rx_frame(&p->rx, (const uint8_t *)h, status);
        store_release(&h->tp_status, TP_STATUS_KERNEL); /* the slot is the kernel's again */
        p->rx_head = p->rx_head + 1 == p->rx_frame_nr ? 0 : p->rx_head + 1;
        if (d)
            frames[i++] = d;
    }
    return i;
}

static uint16_t afp_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct afpacket *p = container_of(dev, struct afpacket, dev);
    uint16_t i, queued = 0;

    for (i = 0; i < n; i++) {
        uint8_t *slot = p->tx_ring + (size_t)p->tx_head * p->tx_frame_size;
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
        uint32_t status = load_acquire(&h->tp_status);
        uint32_t len = dbuf_chain_len(frames[i]);
        uint8_t *dst = slot + AFP_TX_DATA_OFF;

        if (len > p->tx_data_max) {
            /* Can never fit: take it and drop it rather than refuse forever. */
            p->tx_oversize++;
            dbuf_chain_put(frames[i]);
            continue;
        }
        if (status == TP_STATUS_WRONG_FORMAT) {
            p->tx_wrong_format++; /* with PACKET_LOSS the kernel moved on */
        } else if (status != TP_STATUS_AVAILABLE) {
            dev->stats.tx_full++;
            break;
        }
        dbuf_chain_copy(frames[i], dst);
        h->tp_len = len;
        h->tp_snaplen = len;
        store_release(&h->tp_status, TP_STATUS_SEND_REQUEST);
        p->tx_head = (p->tx_head + 1) % p->tx_frame_nr;
        dbuf_chain_put(frames[i]);
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
        queued++;
    }
    if (queued > 0 || p->kick_pending)
        afp_kick(p);
    return i;
}

static void afp_print_stats(struct afpacket *p)
{
    struct tpacket_stats st;
    socklen_t sl = sizeof(st);

    memset(&st, 0, sizeof(st));
    (void)getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
    fprintf(stderr,
            "libdemi: afpacket counters (%s):\n"
            "  rx_frames %llu rx_bytes %llu rx_nobuf %llu rx_truncated %llu rx_vlan %llu "
            "rx_csum_completed %llu rx_bad_slot %llu\n"
            "  kernel: packets %u drops %u\n"
            "  tx_frames %llu tx_bytes %llu tx_full %llu tx_oversize %llu tx_wrong_format %llu "
            "kick_errors %llu\n",
            p->dev.name, (unsigned long long)p->dev.stats.rx_frames, (unsigned long long)p->dev.stats.rx_bytes,
            (unsigned long long)p->dev.stats.rx_nobuf, (unsigned long long)p->rx.rx_truncated,
            (unsigned long long)p->rx.rx_vlan, (unsigned long long)p->rx.rx_csum_completed,
            (unsigned long long)p->rx.rx_bad_slot, st.tp_packets, st.tp_drops,
            (unsigned long long)p->dev.stats.tx_frames, (unsigned long long)p->dev.stats.tx_bytes,
            (unsigned long long)p->dev.stats.tx_full, (unsigned long long)p->tx_oversize,
            (unsigned long long)p->tx_wrong_format, (unsigned long long)p->kick_errors);
}

static void afp_destroy(struct netdev *dev)
{
    struct afpacket *p = container_of(dev, struct afpacket, dev);

    if (p->fd >= 0 && dev->stats_at_exit)
        afp_print_stats(p);
    if (p->map)
        munmap(p->map, p->map_len);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

/* An IPv6 group (netdev.h): a NIC that filters multicast passes it from
 * now on; the kernel drops the membership when the socket closes. */
static int afp_mcast_add(struct netdev *dev, const uint8_t mac[ETH_ALEN])
{
    struct afpacket *p = container_of(dev, struct afpacket, dev);
    struct packet_mreq mr;

    memset(&mr, 0, sizeof(mr));
    mr.mr_ifindex = p->ifindex;
    mr.mr_type = PACKET_MR_MULTICAST;
    mr.mr_alen = ETH_ALEN;
    memcpy(mr.mr_address, mac, ETH_ALEN);
    return setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ? errno : 0;
}

static const struct netdev_ops afpacket_ops = {
    .rx_burst = afp_rx_burst,
    .tx_burst = afp_tx_burst,
    .destroy = afp_destroy,
    .mcast_add = afp_mcast_add,
};

static int afp_setsockopt_int(struct afpacket *p, int opt, int val, const char *what)
{
    if (setsockopt(p->fd, SOL_PACKET, opt, &val, sizeof(val)) < 0) {
        int err = errno;
        log_err("catpowder: %s: setsockopt(%s): %s", p->dev.name, what, strerror(err));
        return err;
    }
    return 0;
}

/* A ring of fixed slots of @frame_size bytes, about @bytes in all. */
static void afp_ring_req(struct tpacket_req *req, uint32_t frame_size, uint32_t bytes, uint32_t page)
{
    memset(req, 0, sizeof(*req));
    req->tp_frame_size = frame_size;
    req->tp_block_size = round_up(frame_size > AFP_BLOCK_SIZE ? frame_size : AFP_BLOCK_SIZE, page);
    req->tp_frame_nr = bytes / frame_size;
    if (req->tp_frame_nr < AFP_MIN_SLOTS)
        req->tp_frame_nr = AFP_MIN_SLOTS;
    req->tp_block_nr = (req->tp_frame_nr + req->tp_block_size / frame_size - 1) / (req->tp_block_size / frame_size);
    req->tp_frame_nr = req->tp_block_nr * (req->tp_block_size / frame_size);
}

/* Set up both rings and map them. */
static int afp_rings(struct afpacket *p, uint32_t if_mtu)
{
    struct tpacket_req rx, tx;
    uint32_t frame_max = if_mtu + 14 + AFP_VLAN_SLACK;
    long page = sysconf(_SC_PAGESIZE);
    int ret;

    if (page <= 0)
        page = 4096;
    ret = afp_setsockopt_int(p, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION TPACKET_V2");
    if (ret)
        return ret;
    /* A malformed transmit slot is skipped rather than blocking the ring
     * (settable only before the rings exist). */
    ret = afp_setsockopt_int(p, PACKET_LOSS, 1, "PACKET_LOSS");
    if (ret)
        return ret;

    /* Slot sizes are powers of two so that they tile the blocks exactly. */
    afp_ring_req(&rx, pow2_at_least(AFP_RX_MAC_OFF_MAX + frame_max), AFP_RX_RING_BYTES, (uint32_t)page);
    if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0) {
        int err = errno;
        log_err("catpowder: %s: receive ring (%u slots of %u B): setsockopt(PACKET_RX_RING): %s%s", p->dev.name,
                rx.tp_frame_nr, rx.tp_frame_size, strerror(err),
                err == ENOMEM ? " (not enough kernel memory for the ring)" : "");
        return err;
    }
    afp_ring_req(&tx, pow2_at_least((uint32_t)AFP_TX_DATA_OFF + frame_max), AFP_TX_RING_BYTES, (uint32_t)page);
    if (setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0) {
        int err = errno;
        log_err("catpowder: %s: transmit ring (%u slots of %u B): setsockopt(PACKET_TX_RING): %s%s", p->dev.name,
                tx.tp_frame_nr, tx.tp_frame_size, strerror(err),
                err == ENOMEM ? " (not enough kernel memory for the ring)" : "");
        return err;
    }

    p->map_len = (size_t)rx.tp_block_size * rx.tp_block_nr + (size_t)tx.tp_block_size * tx.tp_block_nr;
    p->map = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd, 0);
    if (p->map == MAP_FAILED) {
        int err = errno;
        p->map = NULL;
        log_err("catpowder: %s: mmap of the rings (%zu B): %s", p->dev.name, p->map_len, strerror(err));
        return err;
    }
    p->rx_ring = p->map;
    p->rx.frame_size = rx.tp_frame_size;
    p->rx_frame_nr = rx.tp_frame_nr;
    p->tx_ring = p->map + (size_t)rx.tp_block_size * rx.tp_block_nr;
    p->tx_frame_size = tx.tp_frame_size;
    p->tx_frame_nr = tx.tp_frame_nr;
    p->tx_data_max = tx.tp_frame_size - (uint32_t)AFP_TX_DATA_OFF;
    log_info("catpowder: %s: rx ring %u x %u B, tx ring %u x %u B", p->dev.name, rx.tp_frame_nr, rx.tp_frame_size,
             tx.tp_frame_nr, tx.tp_frame_size);
    return 0;
}

int afpacket_create(const char *ifname, struct mem *mem, const uint8_t *mac_or_null, uint32_t mtu, struct netdev **out)
{
    struct afpacket *p;
    struct sockaddr_ll sll;
    struct linux_if li;
    char a[18];
    int one = 1, ret;

    ret = linux_if_query("catpowder", ifname, &li);
    if (ret)
        return ret;
    ret = linux_if_check_mac("catpowder", ifname, &li, mac_or_null);
    if (ret)
        return ret;

    p = calloc(1, sizeof(*p));
    if (!p)
        return ENOMEM;
    p->mem = mem;
    p->dev.ops = &afpacket_ops;
    snprintf(p->dev.name, sizeof(p->dev.name), "afpacket:%s", ifname);
    p->rx.mem = mem;
    p->rx.stats = &p->dev.stats;
    p->rx.name = p->dev.name;

    /* Protocol 0: nothing is queued before the rings exist and bind() picks
     * the interface; bind then asks for every EtherType. */
    p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        ret = errno;
        if (ret == EPERM || ret == EACCES)
            log_err("catpowder: AF_PACKET socket: %s: needs CAP_NET_RAW (run as root)", strerror(ret));
        else
            log_err("catpowder: AF_PACKET socket: %s", strerror(ret));
        goto fail;
    }

    memcpy(p->dev.mac, li.mac, ETH_ALEN);
    p->dev.mtu = mtu && mtu < li.mtu ? mtu : li.mtu;
    p->dev.offloads = 0;

    ret = afp_rings(p, li.mtu);
    if (ret)
        goto fail;

    /* Optional: each only makes it faster or quieter. */
    if (setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
        log_info("catpowder: %s: PACKET_QDISC_BYPASS: %s (frames go through the qdisc)", p->dev.name, strerror(errno));
#ifdef PACKET_IGNORE_OUTGOING
    if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) == 0)
        p->rx.ignore_outgoing = true;
    else
        log_info("catpowder: %s: PACKET_IGNORE_OUTGOING: %s (own frames are filtered on receive)", p->dev.name,
                 strerror(errno));
#endif
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int)li.ifindex;
    p->ifindex = (int)li.ifindex;
    if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        ret = errno;
        log_err("catpowder: bind to interface %s: %s", ifname, strerror(ret));
        goto fail;
    }
    log_info("catpowder: %s: MAC %s, MTU %u (interface %u)", p->dev.name, linux_if_mac_str(p->dev.mac, a), p->dev.mtu,
             li.mtu);
    *out = &p->dev;
    return 0;

fail:
    if (p->map)
        munmap(p->map, p->map_len);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
    return ret;
}
