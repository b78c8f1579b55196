/* SPDX-License-Identifier: MIT */
/*
 * fuzz_afpacket.c: libFuzzer target for the receive path of the AF_PACKET
 * driver (dev/afpacket.c): afpacket_rx_frame, which rx_burst runs on every
 * TPACKET_V2 ring slot the kernel hands over, here run on slots the input
 * forges. No socket, no privilege: the slot is a heap buffer of exactly the
 * ring's slot size, so reading past it is an ASan report.
 *
 *     input := cfg:u8 [frame_size:u16] slot*
 *     slot  := f:u8 st:u8 pkttype:u8 [mac:u16] [len:u32] [snaplen:u32]
 *              [tci:u16] n:u16 data[n]
 *
 * cfg & 7 picks the slot size (the smallest possible, 128, 2048, 4096, 16384
 * or from the input), cfg & 8 PACKET_IGNORE_OUTGOING. Per slot, f says which
 * header fields come raw from the input (tp_mac, tp_len, tp_snaplen; else
 * what a kernel writes: tp_mac 66, tp_snaplen n, tp_len = tp_snaplen, or more
 * for a truncated frame), st the status bits (checksum not ready, VLAN valid,
 * losing, copy); data fills the slot after its header. With f & 0x10 the
 * harness writes the pseudo-header sum into a TCP or UDP frame's checksum,
 * as the kernel leaves a CHECKSUM_PARTIAL packet.
 *
 * Oracles, besides ASan/UBSan:
 *   - the driver's verdict matches the rules computed here independently:
 *     a header placing the frame outside the slot (tp_mac before the end of
 *     the header or past the slot, tp_snaplen beyond the slot or beyond
 *     tp_len) is dropped and counted as a bad slot; a truncated frame, our
 *     own outgoing one (unless ignored) and another VLAN's are dropped and
 *     counted; anything else comes out;
 *   - a frame that comes out has tp_snaplen bytes equal to the slot's from
 *     tp_mac on, except the two bytes of a completed checksum, and a
 *     completed checksum verifies over the pseudo-header when the kernel's
 *     partial sum was there;
 *   - every buffer is back in its pool at the end of each input.
 */
#include "fuzz_common.h"

#include "core/log.h"
#include "dev/afpacket.h"
#include "mem/dbuf.h"
#include "net/checksum.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdbool.h>

#define die(...) FUZZ_DIE("fuzz_afpacket", __VA_ARGS__)

#define KERNEL_MAC_OFF 66u /* where Linux puts a frame: TPACKET_ALIGN(52 + 16) - 14 */

static struct mem mem;
static struct netdev_stats stats;

static void init_once(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    log_set_level(LOG_ERROR);
    if (mem_init(&mem, 64, 4, 1) != 0)
        die("init: buffers");
}

/* Where csum_complete_partial would write in @f (IPv4, TCP or UDP, not a
 * fragment, the whole packet in the frame), or -1. */
FUZZ_NOCOV static long l4_csum_at(const uint8_t *f, uint32_t len)
{
    uint32_t ihl, tot;

    if (len < 34 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4)
        return -1;
    ihl = (f[14] & 0xfu) * 4;
    tot = (uint32_t)f[16] << 8 | f[17];
    if (ihl < 20 || tot < ihl || 14 + tot > len || ((f[20] << 8 | f[21]) & 0x3fff) != 0)
        return -1;
    if (f[23] == IPPROTO_TCP && tot - ihl >= 18)
        return 14 + ihl + 16;
    if (f[23] == IPPROTO_UDP && tot - ihl >= 8)
        return 14 + ihl + 6;
    return -1;
}

/* The pseudo-header sum of the frame's IPv4 packet, not complemented: what
 * the kernel leaves in a CHECKSUM_PARTIAL packet's checksum field. */
FUZZ_NOCOV static void partial_csum_write(uint8_t *f, uint32_t len)
{
    long at = l4_csum_at(f, len);
    uint32_t ihl, tot, src, dst;
    uint16_t v;
    struct csum c;

    if (at < 0)
        return;
    ihl = (f[14] & 0xfu) * 4;
    tot = (uint32_t)f[16] << 8 | f[17];
    memcpy(&src, f + 26, 4);
    memcpy(&dst, f + 30, 4);
    csum_init(&c);
    csum_add_pseudo(&c, src, dst, f[23], (uint16_t)(tot - ihl));
    v = (uint16_t)~csum_finish(&c);
    memcpy(f + at, &v, 2);
}

FUZZ_NOCOV static bool full_csum_ok(const uint8_t *f)
{
    uint32_t ihl = (f[14] & 0xfu) * 4, tot = (uint32_t)f[16] << 8 | f[17], src, dst;
    struct csum c;

    memcpy(&src, f + 26, 4);
    memcpy(&dst, f + 30, 4);
    csum_init(&c);
    csum_add_pseudo(&c, src, dst, f[23], (uint16_t)(tot - ihl));
    csum_add(&c, f + 14 + ihl, tot - ihl);
    return csum_finish(&c) == 0;
}

FUZZ_NOCOV static void check_frame(const struct dbuf *d, const uint8_t *src, uint32_t len, bool completed, bool partial)
{
    long at = completed ? l4_csum_at(src, len) : -1;

    if (d->next || d->len != len)
        die("frame of %u bytes (chained %d) for a %u-byte snaplen", d->len, d->next != NULL, len);
    if (completed && at < 0)
        die("a checksum completed in a frame without a whole TCP or UDP packet");
    for (uint32_t i = 0; i < len; i++)
        if (d->data[i] != src[i] && (long)i != at && (long)i != at + 1)
            die("byte %u of the frame differs from the slot's", i);
    if (completed && partial && !full_csum_ok(d->data))
        die("a completed checksum does not verify");
}

/* One forged slot through afpacket_rx_frame. */
static void slot_run(struct fuzz_in *in, struct afpacket_rx *rx)
{
    const uint32_t fs = rx->frame_size;
    uint8_t f = fuzz_u8(in), st = fuzz_u8(in), pkttype = fuzz_u8(in);
    uint8_t *slot = malloc(fs);
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
    struct sockaddr_ll *sll = (struct sockaddr_ll *)(slot + TPACKET_ALIGN(sizeof(*h)));
    uint32_t status = TP_STATUS_USER, mac, len, snaplen, n, before_bad, before_trunc, before_vlan, before_csum;
    uint16_t tci = 0;
    const uint8_t *data;
    size_t got;
    bool valid, truncated, own, vlan;
    struct dbuf *d;

    if (!slot)
        die("malloc");
    memset(slot, 0, fs);
    mac = (f & 1) ? fuzz_u16(in) : KERNEL_MAC_OFF;
    len = (f & 2) ? fuzz_u32(in) : 0;
    snaplen = (f & 4) ? fuzz_u32(in) : 0;
    if (st & 1)
        status |= TP_STATUS_CSUMNOTREADY;
    if (st & 2)
        status |= TP_STATUS_VLAN_VALID;
    if (st & 4)
        status |= TP_STATUS_VLAN_TPID_VALID;
    if (st & 8)
        status |= TP_STATUS_LOSING;
    if (st & 16)
        status |= TP_STATUS_COPY;
    if (st & 32)
        status |= TP_STATUS_CSUM_VALID;
    if (st & 2)
        tci = fuzz_u16(in);
    n = fuzz_u16(in);
    data = fuzz_bytes(in, n, &got);
    n = (uint32_t)got;
    /* The data fills the slot after its header, as far as it goes. */
    if (fs > TPACKET2_HDRLEN)
        memcpy(slot + TPACKET2_HDRLEN, data, MIN(n, fs - TPACKET2_HDRLEN));
    if (!(f & 4))
        snaplen = mac < fs ? MIN(n + TPACKET2_HDRLEN > mac ? n + TPACKET2_HDRLEN - mac : 0, fs - mac) : 0;
    if (!(f & 2))
        len = snaplen + ((f & 8) ? 1 + (st >> 6) * 1000u : 0); /* f & 8: truncated */
    if ((f & 0x10) && mac < fs && snaplen <= fs - mac)
        partial_csum_write(slot + mac, snaplen);
    h->tp_status = status;
    h->tp_len = len;
    h->tp_snaplen = snaplen;
    h->tp_mac = (uint16_t)mac;
    h->tp_net = (uint16_t)(mac + 14);
    h->tp_vlan_tci = tci;
    h->tp_vlan_tpid = (st & 4) ? 0x8100 : 0;
    sll->sll_family = AF_PACKET;
    sll->sll_pkttype = pkttype;

    /* The rules, independently of the driver. */
    valid = mac >= TPACKET2_HDRLEN && mac <= fs && snaplen <= fs - mac && snaplen <= len;
    truncated = snaplen < len;
    own = !rx->ignore_outgoing && pkttype == PACKET_OUTGOING;
    vlan = (status & TP_STATUS_VLAN_VALID) && (tci & 0x0fff) != 0;
    before_bad = (uint32_t)rx->rx_bad_slot;
    before_trunc = (uint32_t)rx->rx_truncated;
    before_vlan = (uint32_t)rx->rx_vlan;
    before_csum = (uint32_t)rx->rx_csum_completed;
    d = afpacket_rx_frame(rx, slot, status);
    if (((uint32_t)rx->rx_bad_slot != before_bad) != !valid)
        die("slot: mac %u snaplen %u len %u in a %u-byte slot %s counted as bad", mac, snaplen, len, fs,
            valid ? "wrongly" : "not");
    if (valid && ((uint32_t)rx->rx_truncated != before_trunc) != truncated)
        die("truncation (snaplen %u, len %u) miscounted", snaplen, len);
    if (valid && !truncated && !own && ((uint32_t)rx->rx_vlan != before_vlan) != vlan)
        die("VLAN tci 0x%x miscounted", tci);
    if (!valid || truncated || own || vlan) {
        if (d)
            die("a frame came out that should have been dropped (valid %d truncated %d own %d vlan %d)", valid,
                truncated, own, vlan);
    } else if (d) {
        check_frame(d, slot + mac, snaplen, (uint32_t)rx->rx_csum_completed != before_csum, f & 0x10);
        dbuf_put(d);
    } else if (stats.rx_nobuf == 0) {
        die("a good %u-byte frame dropped", snaplen);
    }
    free(slot);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t sizes[6] = {TPACKET2_HDRLEN, 128, 2048, 4096, 16384, 0};
    struct afpacket_rx rx;
    struct fuzz_in in;
    uint8_t cfg;

    init_once();
    fuzz_in_init(&in, data, size);
    cfg = fuzz_u8(&in);
    memset(&rx, 0, sizeof(rx));
    memset(&stats, 0, sizeof(stats));
    rx.mem = &mem;
    rx.stats = &stats;
    rx.name = "fuzz";
    rx.frame_size = sizes[(cfg & 7) % 6];
    if (rx.frame_size == 0) { /* the driver's slots hold at least their header */
        uint32_t fs = fuzz_u16(&in);
        rx.frame_size = MAX((uint32_t)TPACKET2_HDRLEN, fs);
    }
    rx.ignore_outgoing = cfg & 8;
    while (fuzz_in_left(&in) > 0)
        slot_run(&in, &rx);
    if (mem_in_use(&mem) != 0)
        die("%u buffers leaked", mem_in_use(&mem));
    return 0;
}
