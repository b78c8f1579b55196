/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tcp.c: libFuzzer target for the TCP state machine with a listener and
 * established connections, the part of the stack fuzz_frame cannot reach
 * (random frames never carry a sequence number a connection accepts).
 *
 * Every input starts from a fresh stack (10.0.0.1, virtual time from the
 * same instant, a fixed ISN secret), so it behaves the same on its own:
 *   - a listener on port 80 (SYN backlog 3) and two connections to the peer
 *     10.0.0.2: A, accepted after a passive handshake (SYN, SYN-ACK, ACK),
 *     and B, from tcp_connect (SYN, SYN-ACK, ACK); the harness plays the peer
 *     and reads the ISNs the stack picked from the pcbs;
 *   - then a stream of chunks, the first byte of each saying what it is:
 *
 *     input := cfg:u8 cfg2:u8 peer_opts:u8 isn:u32 chunk*
 *     op & 7   0-3  a segment from the peer (below)
 *              4    advance virtual time ((op >> 3) & 15 picks the step,
 *                   up to 25 days or "to the next timer"), then poll;
 *                   step 15 is instead an ICMPv6 Packet Too Big quoting
 *                   one of our segments (op_ptb: b:u8 mtu:u16 seq:i16)
 *              5-6  an application call: a:u8 b:u8 (send, recv, close,
 *                   abort, accept, connect, close or reopen the listener,
 *                   socket options, buffer sizes)
 *              7    a well-behaved segment: the next in-order bytes and an
 *                   ACK of everything sent, optionally with a FIN
 *     a segment: flags:u8 seq:i16 ack:i16 win:u16 o:u8 plen:u8 [options]
 *       seq is relative to the connection's RCV.NXT, ack to its SND.UNA
 *       (SND.MAX when op & 0x40; without a pcb, to the ISN of the last
 *       SYN-ACK on the tuple: a SYN cookie), each shifted left by 0/8/16/24 bits
 *       (o >> 4 & 3, o >> 6), so in-window, edge and far-away numbers are all
 *       a few mutations apart; o & 1 adds timestamps (TSval relative to
 *       TS.Recent, TSecr to the last TSval the stack sent on the tuple),
 *       o & 2 SACK blocks relative to the ACK, o & 4 SYN options (MSS,
 *       window scale, SACK permitted), o & 8 raw option bytes from the input.
 *       The tuple is one of eight ((op >> 3) & 7): A, B, three more peer
 *       ports on the listener (new handshakes), the application's later
 *       connections, a closed port, and a host without an ARP entry.
 *
 * cfg picks the stack's options (timestamps, SACK, window scaling, NewReno,
 * delayed ACKs off, keepalive, a small receive buffer, Nagle), cfg2 more of
 * them (SYN cookies off, a user timeout) and, in bits 2-3, the address
 * family of each tuple (tuple_v6): 0 all IPv4 (the listener on 0.0.0.0),
 * 1 all IPv6 (the stack 2001:db8::1, the peer ::2, the far host ::3; the
 * listener on :: with IPV6_V6ONLY), 2 and 3 a dual-stack listener on ::
 * taking both families (2: A and the listener's other tuples IPv4, B and
 * the later connects IPv6; 3: a mix of both on each side). The harness
 * answers the stack's neighbor solicitations for ::2 (a solicited NA
 * through the device's rx_burst, at the next poll), never those for ::3;
 * peer_opts
 * the options of the peer's SYNs; isn the peer's initial sequence numbers
 * (so wrap-around is one input away).
 *
 * Oracles, besides ASan/UBSan on the stack:
 *   - after every chunk, the listener's syn_count and accept_count equal the
 *     lengths of its queues and every child on them points back at it, in
 *     the state its queue implies; each owned connection keeps SND.UNA <=
 *     SND.NXT <= SND.MAX, queue byte counts equal to the sum of the queued
 *     buffers, and an out-of-order queue sorted, without overlap, above
 *     RCV.NXT and within ooo_max;
 *   - the peer's byte at sequence number s is a function of s, so what the
 *     application reads is checked byte for byte (reassembly, trimming,
 *     coalescing); likewise the stack's payload bytes against what the
 *     application queued (retransmissions, slices, probes), and no segment
 *     carries bytes beyond them;
 *   - every transmitted frame: our MAC and IPv4 address, valid IPv4 and TCP
 *     checksums, a sane TCP header, no payload on a SYN or RST, an address
 *     we talk to; over IPv6 the payload length, our global source, hop
 *     limit 64 and the pseudo-header checksum, or a well-formed NS (hop
 *     limit 255, checksum, a target we talk to, sent to it or its
 *     solicited-node group); upcalls only for pcbs the application owns;
 *   - at the end the application closes everything, every timer runs to
 *     completion in virtual time (the peer goes silent), and then no pcb
 *     (tcp.npcbs == 0), no buffer and no received frame may remain.
 */
#include "fuzz_common.h"

#include "core/clock.h"
#include "core/log.h"
#include "mem/dbuf.h"
#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>

#define die(...) FUZZ_DIE("fuzz_tcp", __VA_ARGS__)

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define FUZZ_T0 (1000 * SEC)
#define FUZZ_RX_BUFS 512
#define FUZZ_MTU 1500
#define FUZZ_SYN_BACKLOG 3
#define FUZZ_OOO_MAX 6
#define PORT_LISTEN 80
#define PORT_CLOSED 81
#define PORT_A 40000 /* the peer's end of A */
#define PORT_B 5000  /* the peer's end of B */
#define PORT_NONE 49999
#define NCONNS 8 /* application sockets: A, B and six more */
#define NRECS 32

static const uint8_t my_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static struct mem mem;
static struct dbuf_pool rxpool; /* received frames only */
static uint32_t rx_size;        /* size of its buffers */
static struct netdev dev;
static struct inet_stack stack;
static uint32_t my_ip, peer_ip, far_ip; /* network order; far_ip has no ARP entry */
/* The harness's addresses are IPv6 ones, IPv4 ones mapped (::ffff:a.b.c.d):
 * 2001:db8::1 is the stack's, ::2 the peer's (the harness answers its
 * neighbor solicitations), ::3 a host that never answers them. */
static struct in6_addr my6, peer6, far6, peer4m, far4m;
static uint8_t fam;         /* (cfg2 >> 2) & 3: which tuples are IPv6 (tuple_v6) */
static uint8_t tuple_v6;    /* bit i: tuple i is IPv6 */
static struct dbuf *rxq[8]; /* the peer's neighbor advertisements, for rx_burst */
static unsigned nrxq;

/* An application socket: a pcb the harness owns (its upcall owner). */
struct app_conn {
    struct tcp_pcb *pcb; /* NULL: free */
    uint32_t rx_bytes;   /* bytes the application has read */
    uint32_t tx_bytes;   /* bytes it has queued */
    unsigned events;
};

static struct app_conn conns[NCONNS];
static struct app_conn lst; /* the listener */
static uint16_t b_lport;    /* local ports (host order) of B and of the later connects */
static uint16_t active_lport[2];
static uint32_t isn_base; /* the peer's sequence numbers start around here */
static bool trace;        /* FUZZ_TRACE=1: print each step (reproducing a crash) */

/* Where the application's bytes of a connection start, kept after close: a
 * detached pcb still sends them. */
struct tx_record {
    struct in6_addr rip;
    uint16_t lport, rport; /* network order */
    uint32_t iss;
    uint32_t queued; /* bytes the application queued */
};
static struct tx_record recs[NRECS];
static unsigned nrecs;

/* Per tuple, from what the stack sent: the ISN of the last SYN-ACK, which
 * the peer acknowledges when no pcb holds it (a SYN cookie), and the last
 * TSval, which the peer echoes (a cookie keeps options in it). */
static uint32_t synack_iss[8], last_tsval[8];
static bool synack_seen[8];

static void tuple_get(unsigned i, struct in6_addr *rip, uint16_t *lport, uint16_t *rport);

/* The peer's byte at sequence number @seq: a retransmission or an overlap
 * always carries the same bytes, so the application's stream is checkable. */
static uint8_t peer_byte(uint32_t seq)
{
    return (uint8_t)((seq * 2654435761u) >> 24);
}

/* Byte @off of what the application sends on any connection. */
static uint8_t app_byte(uint32_t off)
{
    return (uint8_t)(off * 7u + (off >> 11) + 1u);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static bool addr_is4(const struct in6_addr *a)
{
    return IN6_IS_ADDR_V4MAPPED(a);
}

static uint32_t addr4(const struct in6_addr *a)
{
    uint32_t v;

    memcpy(&v, a->s6_addr + 12, 4);
    return v;
}

static void addr_map4(uint32_t ip, struct in6_addr *out)
{
    memset(out, 0, sizeof(*out));
    out->s6_addr[10] = out->s6_addr[11] = 0xff;
    memcpy(out->s6_addr + 12, &ip, 4);
}

/* The remote address of @p as the harness writes it. */
static void pcb_raddr(const struct tcp_pcb *p, struct in6_addr *out)
{
    if (p->v6)
        *out = p->remote_ip6;
    else
        addr_map4(p->remote_ip, out);
}

FUZZ_NOCOV static struct tx_record *rec_find(const struct in6_addr *rip, uint16_t lport, uint16_t rport)
{
    for (unsigned i = 0; i < nrecs; i++)
        if (addr_eq(&recs[i].rip, rip) && recs[i].lport == lport && recs[i].rport == rport)
            return &recs[i];
    return NULL;
}

/* ---- what the stack transmits ------------------------------------------- */

/* A TCP segment from @src to @dst (IPv4 ones mapped). */
FUZZ_NOCOV static void check_tx_tcp(const struct in6_addr *src, const struct in6_addr *dst, const uint8_t *l4,
                                    size_t l4len)
{
    const struct tcp_hdr *th = (const struct tcp_hdr *)l4;
    const struct tx_record *r;
    struct csum c;
    size_t doff, plen;
    uint32_t seq, off;

    if (l4len < TCP_HLEN)
        die("tx: TCP segment shorter than its header");
    doff = (size_t)(th->off >> 4) * 4;
    if (doff < TCP_HLEN || doff > l4len)
        die("tx: TCP header length %zu in a %zu-byte segment", doff, l4len);
    csum_init(&c);
    if (addr_is4(dst))
        csum_add_pseudo(&c, addr4(src), addr4(dst), IPV4_PROTO_TCP, (uint16_t)l4len);
    else
        csum_add_pseudo6(&c, src, dst, IPV6_NH_TCP, (uint32_t)l4len);
    csum_add(&c, l4, l4len);
    if (csum_finish(&c) != 0)
        die("tx: TCP checksum");
    if (!addr_eq(dst, &peer4m) && !addr_eq(dst, &far4m) && !addr_eq(dst, &peer6) && !addr_eq(dst, &far6))
        die("tx: TCP segment to an address nobody sent from");
    plen = l4len - doff;
    for (unsigned i = 0; i < 8; i++) {
        struct in6_addr rip;
        uint16_t lport, rport;
        tuple_get(i, &rip, &lport, &rport);
        if (!addr_eq(&rip, dst) || htons(lport) != th->sport || htons(rport) != th->dport)
            continue;
        if ((th->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
            synack_iss[i] = ntohl(th->seq);
            synack_seen[i] = true;
        }
        for (size_t o = TCP_HLEN; o < doff;) { /* options we wrote: well formed */
            if (l4[o] == 0)
                break;
            if (l4[o] == 1) {
                o++;
                continue;
            }
            if (o + 1 >= doff || l4[o + 1] < 2 || o + l4[o + 1] > doff)
                die("tx: malformed TCP option %u", l4[o]);
            if (l4[o] == 8 && l4[o + 1] == 10)
                last_tsval[i] = rd32(l4 + o + 2);
            o += l4[o + 1];
        }
    }
    if (trace)
        fprintf(stderr, "  tx :%u -> :%u flags 0x%02x seq %u ack %u win %u len %zu\n", ntohs(th->sport),
                ntohs(th->dport), th->flags, ntohl(th->seq), ntohl(th->ack), ntohs(th->win), plen);
    if (plen == 0)
        return;
    if (th->flags & (TH_SYN | TH_RST))
        die("tx: %zu payload bytes on a SYN or RST", plen);
    r = rec_find(dst, th->sport, th->dport);
    if (!r)
        die("tx: payload on a connection (:%u -> :%u) the application never wrote to", ntohs(th->sport),
            ntohs(th->dport));
    seq = ntohl(th->seq);
    off = seq - (r->iss + 1);
    if (off > r->queued || plen > r->queued - off)
        die("tx: bytes %u..%zu sent, only %u queued", off, off + plen, r->queued);
    for (size_t i = 0; i < plen; i++)
        if (l4[doff + i] != app_byte(off + (uint32_t)i))
            die("tx: byte %zu of the stream (:%u) differs from what the application queued", off + i, ntohs(th->sport));
}

FUZZ_NOCOV static void frame_input_cut(struct dbuf *d);

/* The peer answers the stack's neighbor solicitation for it (multicast, or
 * NUD's unicast probe) with a solicited NA, delivered by the device's next
 * rx_burst: ND never holds its segments for long. far6 never answers. */
FUZZ_NOCOV static void peer_na(const struct in6_addr *to)
{
    struct dbuf *d;
    struct eth_hdr *eh;
    struct ipv6_hdr *ip6;
    struct nd_msg *m;
    struct nd_opt_lladdr *o;
    struct csum c;
    uint32_t l4len = (uint32_t)(sizeof(*m) + sizeof(*o));

    if (nrxq == sizeof(rxq) / sizeof(rxq[0]) || !(d = dbuf_alloc(&rxpool)))
        return;
    d->size = rx_size;
    UNPOISON(d->buf, d->size);
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, my_mac, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(ETH_TYPE_IPV6);
    ip6 = (struct ipv6_hdr *)(d->data + ETH_HLEN);
    ip6->vtc_flow = htonl(6u << 28);
    ip6->payload_len = htons((uint16_t)l4len);
    ip6->next = IPV6_NH_ICMPV6;
    ip6->hop_limit = ND_HOP_LIMIT;
    memcpy(ip6->src, &peer6, 16);
    memcpy(ip6->dst, to, 16);
    m = (struct nd_msg *)(ip6 + 1);
    memset(m, 0, sizeof(*m));
    m->h.type = ND_NEIGHBOR_ADVERT;
    m->h.data = htonl(ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
    memcpy(m->target, &peer6, 16);
    o = (struct nd_opt_lladdr *)(m + 1);
    o->type = ND_OPT_TARGET_LL;
    o->len = 1;
    memcpy(o->mac, peer_mac, ETH_ALEN);
    csum_init(&c);
    csum_add_pseudo6(&c, ip6->src, ip6->dst, IPV6_NH_ICMPV6, l4len);
    csum_add(&c, m, l4len);
    m->h.csum = csum_finish(&c);
    d->len = ETH_HLEN + IPV6_HLEN + l4len;
    frame_input_cut(d);
    rxq[nrxq++] = d;
}

/* An IPv6 frame of ours: TCP, or an NS for the peer or the far host. */
FUZZ_NOCOV static void check_tx_ipv6(const uint8_t *f, size_t len)
{
    const struct ipv6_hdr *ip6 = (const struct ipv6_hdr *)(f + ETH_HLEN);
    const uint8_t *l4 = f + ETH_HLEN + IPV6_HLEN;
    size_t l4len = len - ETH_HLEN - IPV6_HLEN;
    struct in6_addr src, dst, target, sn;
    struct csum c;

    if (len < ETH_HLEN + IPV6_HLEN || ntohl(ip6->vtc_flow) >> 28 != 6)
        die("tx: IPv6 header");
    if (ntohs(ip6->payload_len) != l4len)
        die("tx: IPv6 payload length %u in a frame of %zu bytes", ntohs(ip6->payload_len), len);
    memcpy(&src, ip6->src, 16);
    memcpy(&dst, ip6->dst, 16);
    if (ip6->next == IPV6_NH_TCP) {
        if (!addr_eq(&src, &my6))
            die("tx: TCP over IPv6 from another source than 2001:db8::1");
        if (ip6->hop_limit != IPV6_DEFAULT_HOPS)
            die("tx: TCP over IPv6 with hop limit %u", ip6->hop_limit);
        if (addr_eq(&dst, &peer6) && memcmp(f, peer_mac, ETH_ALEN) != 0)
            die("tx: IPv6 frame to the peer with another destination MAC");
        check_tx_tcp(&src, &dst, l4, l4len);
        return;
    }
    if (ip6->next != IPV6_NH_ICMPV6)
        die("tx: IPv6 next header %u", ip6->next);
    csum_init(&c);
    csum_add_pseudo6(&c, &src, &dst, IPV6_NH_ICMPV6, (uint32_t)l4len);
    csum_add(&c, l4, l4len);
    if (l4len < 4 || csum_finish(&c) != 0)
        die("tx: ICMPv6 checksum");
    if (l4[0] != ND_NEIGHBOR_SOLICIT)
        die("tx: ICMPv6 type %u (only neighbor solicitations expected)", l4[0]);
    if (l4len < sizeof(struct nd_msg) || ip6->hop_limit != ND_HOP_LIMIT || !ipv6_is_ours(&stack, &src))
        die("tx: neighbor solicitation (length %zu, hop limit %u)", l4len, ip6->hop_limit);
    memcpy(&target, l4 + 8, 16);
    if (!addr_eq(&target, &peer6) && !addr_eq(&target, &far6))
        die("tx: neighbor solicitation for an address nobody uses");
    in6_solicited_node(&target, &sn);
    if (!addr_eq(&dst, &target) && !addr_eq(&dst, &sn))
        die("tx: neighbor solicitation to neither its target nor its solicited-node group");
    if (trace)
        fprintf(stderr, "  tx NS for ::%x%s\n", target.s6_addr[15], addr_eq(&dst, &target) ? " (unicast)" : "");
    if (addr_eq(&target, &peer6))
        peer_na(&src);
}

/* Transmitted frames: flatten, check, free. */
FUZZ_NOCOV static void check_tx_frame(const struct dbuf *d)
{
    static uint8_t f[MEM_LARGE_SIZE];
    struct in6_addr src, dst;
    size_t len = 0;
    uint16_t type;

    for (; d; d = d->next) {
        if (d->len > sizeof(f) - len)
            die("tx: frame chain too long");
        memcpy(f + len, d->data, d->len);
        len += d->len;
    }
    if (len < ETH_HLEN || len > ETH_HLEN + stack.mtu)
        die("tx: frame of %zu bytes", len);
    if (memcmp(f + ETH_ALEN, my_mac, ETH_ALEN) != 0)
        die("tx: source MAC is not ours");
    type = rd16(f + 12);
    if (type == ETH_TYPE_ARP) {
        const struct arp_hdr *a = (const struct arp_hdr *)(f + ETH_HLEN);
        if (len != ETH_HLEN + sizeof(*a) || memcmp(a->sha, my_mac, ETH_ALEN) != 0 || a->spa != my_ip)
            die("tx: ARP frame");
    } else if (type == ETH_TYPE_IPV4) {
        const struct ipv4_hdr *ip = (const struct ipv4_hdr *)(f + ETH_HLEN);
        if (len < ETH_HLEN + IPV4_HLEN || ip->ver_ihl != 0x45)
            die("tx: IPv4 header");
        if (ntohs(ip->total_len) != len - ETH_HLEN)
            die("tx: IPv4 total length does not match the frame");
        if (inet_csum(ip, IPV4_HLEN) != 0)
            die("tx: IPv4 header checksum");
        if (ip->src != my_ip)
            die("tx: IPv4 source is not us");
        if (ip->proto != IPV4_PROTO_TCP)
            die("tx: IPv4 protocol %u", ip->proto);
        if (ip->dst == peer_ip && memcmp(f, peer_mac, ETH_ALEN) != 0)
            die("tx: frame to the peer with another destination MAC");
        addr_map4(ip->src, &src);
        addr_map4(ip->dst, &dst);
        check_tx_tcp(&src, &dst, f + ETH_HLEN + IPV4_HLEN, len - ETH_HLEN - IPV4_HLEN);
    } else if (type == ETH_TYPE_IPV6) {
        check_tx_ipv6(f, len);
    } else {
        die("tx: ethertype 0x%04x", type);
    }
}

/* The peer's neighbor advertisements (peer_na), in order. */
static uint16_t sink_rx_burst(struct netdev *d, struct dbuf **frames, uint16_t n)
{
    uint16_t k = 0;

    (void)d;
    for (; k < n && k < nrxq; k++)
        frames[k] = rxq[k];
    memmove(rxq, rxq + k, (nrxq - k) * sizeof(rxq[0]));
    nrxq -= k;
    return k;
}

static uint16_t sink_tx_burst(struct netdev *d, struct dbuf **frames, uint16_t n)
{
    (void)d;
    for (uint16_t i = 0; i < n; i++) {
        check_tx_frame(frames[i]);
        dbuf_chain_put(frames[i]);
    }
    return n;
}

static void sink_destroy(struct netdev *d)
{
    (void)d;
}

static const struct netdev_ops sink_ops = {
    .rx_burst = sink_rx_burst,
    .tx_burst = sink_tx_burst,
    .destroy = sink_destroy,
};

/* ---- the peer's segments ------------------------------------------------ */

struct seg {
    struct in6_addr src;   /* IPv4 mapped: an IPv4 segment */
    uint16_t sport, dport; /* host order */
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint8_t opt[TCP_MAX_OPTLEN];
    uint32_t optlen;
    uint32_t plen;
};

FUZZ_NOCOV static void opt_put(struct seg *sg, const uint8_t *b, uint32_t n)
{
    if (sg->optlen + n <= TCP_MAX_OPTLEN) {
        memcpy(sg->opt + sg->optlen, b, n);
        sg->optlen += n;
    }
}

FUZZ_NOCOV static void opt_ts(struct seg *sg, uint32_t tsval, uint32_t tsecr)
{
    uint8_t o[12] = {1, 1, 8, 10};

    o[4] = (uint8_t)(tsval >> 24), o[5] = (uint8_t)(tsval >> 16), o[6] = (uint8_t)(tsval >> 8), o[7] = (uint8_t)tsval;
    o[8] = (uint8_t)(tsecr >> 24), o[9] = (uint8_t)(tsecr >> 16), o[10] = (uint8_t)(tsecr >> 8), o[11] = (uint8_t)tsecr;
    opt_put(sg, o, sizeof(o));
}

FUZZ_NOCOV static void opt_syn(struct seg *sg, uint16_t mss, int wscale, bool sack)
{
    uint8_t m[4] = {2, 4, (uint8_t)(mss >> 8), (uint8_t)mss};
    uint8_t w[4] = {1, 3, 3, (uint8_t)wscale};
    uint8_t s[4] = {1, 1, 4, 2};

    opt_put(sg, m, sizeof(m));
    if (wscale >= 0)
        opt_put(sg, w, sizeof(w));
    if (sack)
        opt_put(sg, s, sizeof(s));
}

/* Cut received frame @d's buffer where the frame ends (the rest poisoned): a
 * parser reading past the frame is caught. */
FUZZ_NOCOV static void frame_input_cut(struct dbuf *d)
{
    uint8_t *end = d->data + d->len;

    POISON(end, (size_t)(d->buf + d->size - end));
    d->size = (uint32_t)(end - d->buf);
}

/*
 * Build the frame in a buffer of the received-frame pool and input it. With
 * @room false the buffer ends where the frame does (its size cut, the rest
 * poisoned): a parser reading past the frame is caught. With @room true it
 * keeps its tailroom, unpoisoned, which the receive queue may fill with
 * later small segments (coalescing); the well-behaved peer's frames do.
 */
FUZZ_NOCOV static void seg_input(const struct seg *sg, bool room)
{
    struct dbuf *d = dbuf_alloc(&rxpool);
    uint32_t optlen = (sg->optlen + 3) & ~3u;
    uint32_t tcplen = TCP_HLEN + optlen + sg->plen;
    uint32_t first = sg->seq + ((sg->flags & TH_SYN) ? 1 : 0);
    bool v4 = addr_is4(&sg->src);
    struct eth_hdr *eh;
    struct tcp_hdr *th;
    uint8_t *p;
    struct csum c;

    if (!d)
        return;        /* every rx buffer waits in ARP or TCP queues: not a bug */
    d->size = rx_size; /* as the pool made it; a previous use may have cut it */
    UNPOISON(d->buf, d->size);
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, my_mac, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(v4 ? ETH_TYPE_IPV4 : ETH_TYPE_IPV6);
    if (v4) {
        struct ipv4_hdr *ip = (struct ipv4_hdr *)(d->data + ETH_HLEN);
        memset(ip, 0, sizeof(*ip));
        ip->ver_ihl = 0x45;
        ip->total_len = htons((uint16_t)(IPV4_HLEN + tcplen));
        ip->frag = htons(IPV4_FLAG_DF);
        ip->ttl = 64;
        ip->proto = IPV4_PROTO_TCP;
        ip->src = addr4(&sg->src);
        ip->dst = my_ip;
        ip->csum = inet_csum(ip, IPV4_HLEN);
        th = (struct tcp_hdr *)(ip + 1);
    } else {
        struct ipv6_hdr *ip6 = (struct ipv6_hdr *)(d->data + ETH_HLEN);
        ip6->vtc_flow = htonl(6u << 28);
        ip6->payload_len = htons((uint16_t)tcplen);
        ip6->next = IPV6_NH_TCP;
        ip6->hop_limit = IPV6_DEFAULT_HOPS;
        memcpy(ip6->src, &sg->src, 16);
        memcpy(ip6->dst, &my6, 16);
        th = (struct tcp_hdr *)(ip6 + 1);
    }
    th->sport = htons(sg->sport);
    th->dport = htons(sg->dport);
    th->seq = htonl(sg->seq);
    th->ack = htonl(sg->ack);
    th->off = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    th->flags = sg->flags;
    th->win = htons(sg->win);
    th->csum = 0;
    th->urp = 0;
    p = (uint8_t *)(th + 1);
    memcpy(p, sg->opt, sg->optlen);
    memset(p + sg->optlen, 1, optlen - sg->optlen); /* NOP padding */
    p += optlen;
    for (uint32_t i = 0; i < sg->plen; i++)
        p[i] = peer_byte(first + i);
    csum_init(&c);
    if (v4)
        csum_add_pseudo(&c, addr4(&sg->src), my_ip, IPV4_PROTO_TCP, (uint16_t)tcplen);
    else
        csum_add_pseudo6(&c, &sg->src, &my6, IPV6_NH_TCP, tcplen);
    csum_add(&c, th, tcplen);
    th->csum = csum_finish(&c);
    if (trace)
        fprintf(stderr, "  rx%s :%u -> :%u flags 0x%02x seq %u ack %u win %u opts %u len %u\n", v4 ? "" : "6",
                sg->sport, sg->dport, sg->flags, sg->seq, sg->ack, sg->win, sg->optlen, sg->plen);
    d->len = ETH_HLEN + (v4 ? IPV4_HLEN : IPV6_HLEN) + tcplen;
    if (!room)
        frame_input_cut(d);
    eth_input(&stack, d);
}

static struct tcp_pcb *conn_lookup(const struct in6_addr *rip, uint16_t lport, uint16_t rport)
{
    if (addr_is4(rip))
        return tcp_lookup(&stack, my_ip, htons(lport), addr4(rip), htons(rport));
    return tcp_lookup6(&stack, &my6, htons(lport), rip, htons(rport));
}

/* Poll, and again while the peer's answers to neighbor solicitations wait
 * in the device: ND resolves within the step that needed it. */
static void poll_stack(void)
{
    inet_stack_poll(&stack);
    for (int i = 0; i < 4 && nrxq > 0; i++)
        inet_stack_poll(&stack);
}

/* The eight tuples a segment may belong to (ports in host order). */
static void tuple_get(unsigned i, struct in6_addr *rip, uint16_t *lport, uint16_t *rport)
{
    static const uint16_t peer_ports[8] = {PORT_A, PORT_B, 40001, 40002, 5001, 5002, 40003, PORT_A};

    if (tuple_v6 & (1u << (i & 7)))
        *rip = i == 7 ? far6 : peer6;
    else
        *rip = i == 7 ? far4m : peer4m;
    *rport = peer_ports[i & 7];
    switch (i & 7) {
    case 1:
        *lport = b_lport;
        break;
    case 4:
    case 5:
        *lport = active_lport[i - 4] ? active_lport[i - 4] : PORT_NONE;
        break;
    case 6:
        *lport = PORT_CLOSED;
        break;
    default:
        *lport = PORT_LISTEN;
        break;
    }
}

static void op_segment(struct fuzz_in *in, uint8_t op)
{
    unsigned t = (op >> 3) & 7;
    struct seg sg;
    struct tcp_pcb *pcb;
    uint32_t seq0, ack0, ts0, cap;
    int16_t seqd, ackd;
    unsigned seq_shift, ack_shift;
    uint8_t o, p;

    memset(&sg, 0, sizeof(sg));
    tuple_get(t, &sg.src, &sg.dport, &sg.sport);
    pcb = conn_lookup(&sg.src, sg.dport, sg.sport);
    sg.flags = fuzz_u8(in);
    seqd = (int16_t)fuzz_u16(in);
    ackd = (int16_t)fuzz_u16(in);
    sg.win = fuzz_u16(in);
    o = fuzz_u8(in);
    p = fuzz_u8(in);
    seq_shift = ((o >> 4) & 3) * 8;
    ack_shift = (unsigned)(o >> 6) * 8;
    /* Relative to the connection when there is one (RCV.NXT is known from
     * SYN_RECEIVED on), else to the peer's ISN region of this tuple. */
    seq0 = pcb && pcb->state >= TCPS_SYN_RECEIVED ? pcb->rcv_nxt : isn_base + t * 0x01000000u;
    ack0 = pcb ? ((op & 0x40) ? pcb->snd_max : pcb->snd_una) : synack_seen[t] ? synack_iss[t] : isn_base ^ 0x5a5a5a5au;
    ts0 = pcb && pcb->ts_ok ? pcb->ts_recent : 1;
    sg.seq = seq0 + ((uint32_t)(int32_t)seqd << seq_shift);
    sg.ack = ack0 + ((uint32_t)(int32_t)ackd << ack_shift);
    if (o & 1)
        opt_ts(&sg, ts0 + ((uint32_t)(int32_t)(int16_t)fuzz_u16(in) << seq_shift), last_tsval[t] - fuzz_u8(in));
    if (o & 2) {
        uint8_t sack[2 + 4 * 8] = {5, 2};
        unsigned n = 1 + (fuzz_u8(in) & 3);
        for (unsigned i = 0; i < n; i++) {
            uint32_t left = ack0 + ((uint32_t)(int32_t)(int16_t)fuzz_u16(in) << ack_shift);
            uint32_t right = left + fuzz_u16(in);
            for (int k = 0; k < 4; k++) {
                sack[2 + 8 * i + k] = (uint8_t)(left >> (24 - 8 * k));
                sack[6 + 8 * i + k] = (uint8_t)(right >> (24 - 8 * k));
            }
        }
        sack[1] = (uint8_t)(2 + 8 * n);
        opt_put(&sg, sack, 2 + 8 * n);
    }
    if (o & 4) {
        uint16_t mss = fuzz_u16(in);
        uint8_t ws = fuzz_u8(in);
        opt_syn(&sg, mss, ws & 0x80 ? -1 : ws & 0x1f, ws & 0x20);
    }
    if (o & 8) {
        size_t n;
        const uint8_t *raw = fuzz_bytes(in, fuzz_u8(in) % (TCP_MAX_OPTLEN + 1), &n);
        opt_put(&sg, raw, (uint32_t)n);
    }
    cap = FUZZ_MTU - (addr_is4(&sg.src) ? IPV4_HLEN : IPV6_HLEN) - TCP_HLEN - ((sg.optlen + 3) & ~3u);
    sg.plen = (uint32_t)(p & 0x7f) << ((p & 0x80) ? 4 : 0);
    if (sg.plen > cap)
        sg.plen = cap;
    seg_input(&sg, false);
    if (!(op & 0x80)) /* else batched with the next chunk's poll */
        poll_stack();
}

/* A peer doing the right thing: the next bytes in order, an ACK of all we
 * sent, a window, timestamps when agreed; FIN when asked. */
static void op_good_segment(struct fuzz_in *in, uint8_t op)
{
    unsigned t = (op >> 3) & 7;
    uint8_t a = fuzz_u8(in);
    struct seg sg;
    struct tcp_pcb *pcb;

    memset(&sg, 0, sizeof(sg));
    tuple_get(t, &sg.src, &sg.dport, &sg.sport);
    pcb = conn_lookup(&sg.src, sg.dport, sg.sport);
    if (!pcb || pcb->state < TCPS_SYN_RECEIVED)
        return;
    sg.seq = pcb->rcv_nxt;
    sg.ack = pcb->snd_max;
    sg.flags = TH_ACK | ((op & 0x40) ? TH_FIN : 0) | ((a & 0x80) ? TH_PSH : 0);
    sg.win = (a & 0x40) ? 0 : 65535;
    if (pcb->ts_ok)
        opt_ts(&sg, pcb->ts_recent + 1, last_tsval[t]);
    sg.plen = (uint32_t)(a & 0x3f) * 23;
    seg_input(&sg, true);
    if (!(op & 0x80))
        poll_stack();
}

/* ---- the application ---------------------------------------------------- */

static void app_upcall(struct tcp_pcb *pcb, unsigned events)
{
    struct app_conn *c = pcb->owner;

    if (c != &lst && (c < conns || c >= conns + NCONNS))
        die("upcall for a pcb the application does not own");
    if (c->pcb != pcb)
        die("upcall for pcb %p delivered to the owner of %p", (void *)pcb, (void *)c->pcb);
    if (events & ~(unsigned)(TCP_EV_CONNECTED | TCP_EV_ACCEPT | TCP_EV_READABLE | TCP_EV_WRITABLE | TCP_EV_ERROR))
        die("upcall with unknown events 0x%x", events);
    if ((events & TCP_EV_ACCEPT) && c != &lst)
        die("accept event on a connection");
    c->events |= events;
}

static struct app_conn *conn_free_slot(void)
{
    for (int i = 2; i < NCONNS; i++)
        if (!conns[i].pcb)
            return &conns[i];
    return NULL;
}

static struct tx_record *rec_note(const struct tcp_pcb *pcb)
{
    struct tx_record *r;
    struct in6_addr rip;

    pcb_raddr(pcb, &rip);
    r = rec_find(&rip, pcb->local_port, pcb->remote_port);
    if (!r) {
        if (nrecs == NRECS)
            return NULL;
        r = &recs[nrecs++];
        r->rip = rip;
        r->lport = pcb->local_port;
        r->rport = pcb->remote_port;
        r->queued = 0;
    }
    if (r->iss != pcb->iss) { /* a new incarnation of the tuple */
        r->iss = pcb->iss;
        r->queued = 0;
    }
    return r;
}

FUZZ_NOCOV static void app_send(struct app_conn *c, uint8_t b)
{
    static const uint32_t sizes[8] = {1, 10, 100, 536, 1460, 2000, 9000, 70000};
    uint32_t n = sizes[b >> 5];
    struct tcp_pcb *pcb = c->pcb;
    struct tx_record *r = NULL;
    struct dbuf *d;
    int ret;

    if (!pcb)
        return;
    if (b & 0x10) { /* a slice of a larger buffer, as the inet libOS pushes */
        struct dbuf *parent = mem_alloc(&mem, n + 64);
        if (!parent)
            return;
        for (uint32_t i = 0; i < n; i++)
            parent->data[64 + i] = app_byte(c->tx_bytes + i);
        d = dbuf_slice(&mem, parent, 64, n);
        dbuf_put(parent);
    } else {
        d = mem_alloc(&mem, n);
        if (d)
            for (uint32_t i = 0; i < n; i++)
                d->data[i] = app_byte(c->tx_bytes + i);
    }
    if (!d)
        return;
    if (pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_CLOSE_WAIT) {
        r = rec_note(pcb);
        if (!r) {
            dbuf_put(d);
            return;
        }
        if (r->queued != c->tx_bytes)
            die("send: record of :%u out of step", ntohs(pcb->local_port));
        r->queued = c->tx_bytes + n; /* a full transmit queue may flush inside tcp_send */
    }
    ret = tcp_send(pcb, d);
    if (ret == 0) {
        if (!r)
            die("tcp_send accepted data in %s", tcp_state_name(pcb->state));
        c->tx_bytes += n;
    } else {
        if (r)
            r->queued = c->tx_bytes;
        dbuf_put(d);
    }
}

FUZZ_NOCOV static void app_recv(struct app_conn *c, unsigned max)
{
    struct dbuf *d;

    if (!c->pcb)
        return;
    while (max-- > 0 && (d = tcp_recv(c->pcb)) != NULL) {
        uint32_t seq = c->pcb->irs + 1 + c->rx_bytes;
        if (d->next)
            die("recv: a chained buffer");
        if (d->len == 0)
            die("recv: an empty buffer (reads as end of stream)");
        for (uint32_t i = 0; i < d->len; i++)
            if (d->data[i] != peer_byte(seq + i))
                die("recv: byte %u of the stream (:%u) is not what the peer sent", c->rx_bytes + i,
                    ntohs(c->pcb->local_port));
        c->rx_bytes += d->len;
        dbuf_put(d);
    }
}

static void app_close(struct app_conn *c, bool abort_it)
{
    if (!c->pcb)
        return;
    if (abort_it)
        tcp_abort(c->pcb);
    else
        tcp_close(c->pcb);
    memset(c, 0, sizeof(*c));
}

static void app_accept(void)
{
    struct app_conn *c = conn_free_slot();
    struct tcp_pcb *pcb;

    if (!lst.pcb || !c)
        return;
    pcb = tcp_accept(lst.pcb, c, app_upcall);
    if (!pcb)
        return;
    memset(c, 0, sizeof(*c));
    c->pcb = pcb;
}

/* tcp_connect or tcp_connect6 from @pcb to tuple @t's peer. */
static int app_connect_tuple(struct tcp_pcb *pcb, unsigned t)
{
    struct in6_addr rip;
    uint16_t lport, rport;

    tuple_get(t, &rip, &lport, &rport);
    if (addr_is4(&rip))
        return tcp_connect(pcb, addr4(&rip), htons(rport));
    pcb->v6 = true;
    return tcp_connect6(pcb, &rip, htons(rport));
}

static void app_connect(uint8_t b)
{
    struct app_conn *c = conn_free_slot();
    unsigned i = b & 1;

    if (!c)
        return;
    memset(c, 0, sizeof(*c));
    c->pcb = tcp_pcb_new(&stack, c, app_upcall);
    if (!c->pcb)
        return;
    if (app_connect_tuple(c->pcb, 4 + i) != 0) {
        app_close(c, false);
        return;
    }
    active_lport[i] = ntohs(c->pcb->local_port);
}

static int app_listen(uint32_t backlog)
{
    int ret;

    lst.pcb = tcp_pcb_new(&stack, &lst, app_upcall);
    if (!lst.pcb)
        return ENOMEM;
    lst.pcb->reuseaddr = true;
    if (fam == 0) {
        ret = tcp_bind(lst.pcb, 0, htons(PORT_LISTEN));
    } else { /* on ::, IPV6_V6ONLY when every tuple is IPv6; else dual stack */
        static const struct in6_addr any;
        lst.pcb->v6 = true;
        lst.pcb->v6only = fam == 1;
        ret = tcp_bind6(lst.pcb, &any, htons(PORT_LISTEN));
    }
    if (!ret)
        ret = tcp_listen(lst.pcb, backlog);
    if (ret)
        app_close(&lst, false);
    return ret;
}

static void op_app(struct fuzz_in *in)
{
    uint8_t a = fuzz_u8(in), b = fuzz_u8(in);
    struct app_conn *c = &conns[b & 7];

    switch (a & 15) {
    case 0:
        app_send(c, b);
        break;
    case 1:
        app_recv(c, (b & 8) ? 1 : UINT32_MAX);
        break;
    case 2:
        app_close(c, false);
        break;
    case 3:
        app_close(c, true);
        break;
    case 4:
        app_accept();
        break;
    case 5:
        app_connect(b);
        break;
    case 6:
        app_close(&lst, false); /* its children are reset */
        break;
    case 7:
        if (!lst.pcb)
            app_listen(1 + ((b >> 3) & 3));
        else
            tcp_listen(lst.pcb, 1 + ((b >> 3) & 3)); /* a new backlog */
        break;
    case 8: /* TCP_NODELAY */
        if (c->pcb) {
            c->pcb->nodelay = (b & 8) != 0;
            tcp_output(c->pcb);
        }
        break;
    case 9: /* SO_KEEPALIVE */
        if (c->pcb) {
            c->pcb->keepalive = (b & 8) != 0;
            if (c->pcb->keepalive)
                tcp_keep_reset(c->pcb);
        }
        break;
    case 10: /* SO_LINGER {1, 0} */
        if (c->pcb)
            c->pcb->linger_zero = (b & 8) != 0;
        break;
    case 11: /* SO_RCVBUF, SO_SNDBUF */
        if (c->pcb) {
            uint32_t v = 4096u << ((b >> 3) & 7);
            if (b & 0x80)
                c->pcb->sndbuf = v;
            else
                c->pcb->rcvbuf = v;
        }
        break;
    default:
        break;
    }
    poll_stack();
}

/* ---- time ----------------------------------------------------------------- */

/*
 * A Packet Too Big from the path (RFC 4443 3.2) quoting one of our
 * segments on IPv6 tuple t: b:u8 mtu:u16 seq:i16. t = b & 7; the quoted
 * sequence number is relative to SND.UNA (SND.MAX when b & 8; without a
 * pcb, to the last SYN-ACK's ISN), the MTU 1200 + mtu % 320 (below, at and
 * above 1280, up to the link's) unless mtu & 0x8000 takes the rest as is.
 * On an IPv4 tuple, nothing.
 */
FUZZ_NOCOV static void op_ptb(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in);
    uint16_t m = fuzz_u16(in);
    int16_t seqd = (int16_t)fuzz_u16(in);
    unsigned t = b & 7;
    uint32_t mtu = (m & 0x8000) ? (m & 0x7fffu) : 1200u + m % 320u;
    uint32_t qlen = IPV6_HLEN + TCP_HLEN, l4len = 8 + qlen, seq;
    struct in6_addr rip;
    uint16_t lport, rport;
    struct tcp_pcb *pcb;
    struct dbuf *d;
    struct eth_hdr *eh;
    struct ipv6_hdr *ip6, *q;
    struct icmp6_hdr *h;
    struct tcp_hdr *th;
    struct csum c;

    tuple_get(t, &rip, &lport, &rport);
    if (addr_is4(&rip) || !(d = dbuf_alloc(&rxpool)))
        return;
    pcb = conn_lookup(&rip, lport, rport);
    seq = pcb ? ((b & 8) ? pcb->snd_max : pcb->snd_una) : synack_iss[t];
    seq += (uint32_t)(int32_t)seqd;
    d->size = rx_size;
    UNPOISON(d->buf, d->size);
    eh = (struct eth_hdr *)d->data;
    memcpy(eh->dst, my_mac, ETH_ALEN);
    memcpy(eh->src, peer_mac, ETH_ALEN);
    eh->type = htons(ETH_TYPE_IPV6);
    ip6 = (struct ipv6_hdr *)(d->data + ETH_HLEN);
    ip6->vtc_flow = htonl(6u << 28);
    ip6->payload_len = htons((uint16_t)l4len);
    ip6->next = IPV6_NH_ICMPV6;
    ip6->hop_limit = IPV6_DEFAULT_HOPS;
    memcpy(ip6->src, &peer6, 16); /* the peer as the router: any source does */
    memcpy(ip6->dst, &my6, 16);
    h = (struct icmp6_hdr *)(ip6 + 1);
    h->type = ICMP6_PACKET_TOO_BIG;
    h->code = 0;
    h->csum = 0;
    h->data = htonl(mtu);
    q = (struct ipv6_hdr *)(h + 1); /* our segment, as it left */
    q->vtc_flow = htonl(6u << 28);
    q->payload_len = htons((uint16_t)(TCP_HLEN + mtu));
    q->next = IPV6_NH_TCP;
    q->hop_limit = IPV6_DEFAULT_HOPS;
    memcpy(q->src, &my6, 16);
    memcpy(q->dst, &rip, 16);
    th = (struct tcp_hdr *)(q + 1);
    memset(th, 0, sizeof(*th));
    th->sport = htons(lport);
    th->dport = htons(rport);
    th->seq = htonl(seq);
    th->ack = htonl(pcb ? pcb->rcv_nxt : 0);
    th->off = (TCP_HLEN / 4) << 4;
    th->flags = TH_ACK;
    csum_init(&c);
    csum_add_pseudo6(&c, ip6->src, ip6->dst, IPV6_NH_ICMPV6, l4len);
    csum_add(&c, h, l4len);
    h->csum = csum_finish(&c);
    d->len = ETH_HLEN + IPV6_HLEN + l4len;
    frame_input_cut(d);
    if (trace)
        fprintf(stderr, "  rx6 Packet Too Big, MTU %u, about :%u -> :%u seq %u\n", mtu, lport, rport, seq);
    eth_input(&stack, d);
    poll_stack();
}

static void op_time(struct fuzz_in *in, uint8_t op)
{
    static const uint64_t steps[16] = {
        0,       10 * US,  100 * US, 1 * MS,    5 * MS,    50 * MS,          200 * MS, 1 * SEC,
        3 * SEC, 10 * SEC, 61 * SEC, 130 * SEC, 600 * SEC, 25 * 86400 * SEC, 0,        0,
    };
    unsigned i = (op >> 3) & 15;

    if (i == 15) {
        op_ptb(in);
        return;
    }
    if (i == 14) { /* to the next timer */
        uint64_t next = timer_wheel_next(&stack.timers);
        if (next != UINT64_MAX && next > clock_now_ns())
            clock_advance(next - clock_now_ns());
    } else {
        clock_advance(steps[i]);
    }
    poll_stack();
}

/* ---- invariants ------------------------------------------------------------ */

FUZZ_NOCOV static void check_listener(void)
{
    const struct tcp_pcb *l = lst.pcb;
    const struct list_node *n;
    uint32_t nsyn = 0, nacc = 0;

    if (!l)
        return;
    for (n = l->syn_q.next; n != &l->syn_q; n = n->next) {
        const struct tcp_pcb *c = container_of(n, struct tcp_pcb, child_link);
        if (c->listener != l || c->state != TCPS_SYN_RECEIVED || c->owner)
            die("listener: a %s child on the SYN queue (listener %s, owner %s)", tcp_state_name(c->state),
                c->listener == l ? "ok" : "wrong", c->owner ? "set" : "none");
        if (++nsyn > 1000000)
            die("listener: SYN queue loops");
    }
    for (n = l->accept_q.next; n != &l->accept_q; n = n->next) {
        const struct tcp_pcb *c = container_of(n, struct tcp_pcb, child_link);
        if (c->listener != l || c->state < TCPS_ESTABLISHED || c->owner)
            die("listener: a %s child on the accept queue", tcp_state_name(c->state));
        if (++nacc > 1000000)
            die("listener: accept queue loops");
    }
    if (nsyn != l->syn_count || nacc != l->accept_count)
        die("listener: syn_count %u for %u on the SYN queue, accept_count %u for %u on the accept queue", l->syn_count,
            nsyn, l->accept_count, nacc);
    if (l->syn_count > FUZZ_SYN_BACKLOG)
        die("listener: %u half-open children, backlog %u", l->syn_count, FUZZ_SYN_BACKLOG);
}

FUZZ_NOCOV static void check_conn(const struct tcp_pcb *p)
{
    const struct dbuf *d;
    uint32_t sum = 0, n = 0, end = 0;

    if (p->state == TCPS_LISTEN)
        return;
    if (!SEQ_LEQ(p->snd_una, p->snd_nxt) || !SEQ_LEQ(p->snd_nxt, p->snd_max))
        die("conn :%u %s: SND.UNA %u SND.NXT %u SND.MAX %u out of order", ntohs(p->local_port),
            tcp_state_name(p->state), p->snd_una, p->snd_nxt, p->snd_max);
    if (p->snd_max - p->snd_una > p->sndq_bytes + 2) /* + SYN + FIN */
        die("conn :%u %s: %u bytes in flight, %u queued", ntohs(p->local_port), tcp_state_name(p->state),
            p->snd_max - p->snd_una, p->sndq_bytes);
    for (d = p->sndq_head; d; d = d->next)
        sum += d->len;
    if (sum != p->sndq_bytes)
        die("conn :%u: sndq_bytes %u, buffers hold %u", ntohs(p->local_port), p->sndq_bytes, sum);
    sum = 0;
    for (d = p->rcvq_head; d; d = d->next) {
        if (d->len == 0)
            die("conn :%u: an empty buffer on the receive queue", ntohs(p->local_port));
        sum += d->len;
    }
    if (sum != p->rcvq_bytes)
        die("conn :%u: rcvq_bytes %u, buffers hold %u", ntohs(p->local_port), p->rcvq_bytes, sum);
    sum = 0;
    for (d = p->ooo_head; d; d = d->next) {
        if (d->len == 0 || SEQ_LT(d->meta32, p->rcv_nxt) || (n > 0 && SEQ_LT(d->meta32, end)))
            die("conn :%u: out-of-order segment [%u, +%u) after %u, RCV.NXT %u", ntohs(p->local_port), d->meta32,
                d->len, end, p->rcv_nxt);
        end = d->meta32 + d->len;
        sum += d->len;
        n++;
    }
    if (n != p->ooo_count || sum != p->ooo_bytes || n > FUZZ_OOO_MAX)
        die("conn :%u: ooo_count %u ooo_bytes %u, queue holds %u segments of %u bytes", ntohs(p->local_port),
            p->ooo_count, p->ooo_bytes, n, sum);
}

FUZZ_NOCOV static void check_all(void)
{
    check_listener();
    for (int i = 0; i < NCONNS; i++)
        if (conns[i].pcb)
            check_conn(conns[i].pcb);
    if (stack.tcp.npcbs > 256)
        die("%u pcbs", stack.tcp.npcbs);
}

FUZZ_NOCOV static void trace_step(uint8_t op)
{
    fprintf(stderr, "op 0x%02x at %llu ms:", op, (unsigned long long)((clock_now_ns() - FUZZ_T0) / MS));
    if (lst.pcb)
        fprintf(stderr, " listener syn %u accept %u;", lst.pcb->syn_count, lst.pcb->accept_count);
    for (int i = 0; i < NCONNS; i++) {
        const struct tcp_pcb *p = conns[i].pcb;
        if (p)
            fprintf(stderr, " [%d] :%u %s una %u nxt %u max %u rcv %u wnd %u cwnd %u%s%s rx %u tx %u%s%s;", i,
                    ntohs(p->local_port), tcp_state_name(p->state), p->snd_una - p->iss, p->snd_nxt - p->iss,
                    p->snd_max - p->iss, p->rcv_nxt - p->irs, p->snd_wnd, p->cwnd, p->in_recovery ? " recovery" : "",
                    p->dupacks ? " dupacks" : "", conns[i].rx_bytes, conns[i].tx_bytes, p->persist ? " persist" : "",
                    tcp_rexmt_armed(p) ? " rexmt" : "");
    }
    fprintf(stderr, " pcbs %u tx %llu rto %llu nobuf %llu\n", stack.tcp.npcbs, (unsigned long long)stack.stats.tcp_tx,
            (unsigned long long)stack.stats.tcp_rto, (unsigned long long)stack.stats.mem_drop_nobuf);
}

/* ---- one input ------------------------------------------------------------ */

static void init_once(void)
{
    static int done;

    if (done)
        return;
    done = 1;
    log_set_level(LOG_ERROR);
    trace = getenv("FUZZ_TRACE") != NULL;
    my_ip = htonl(0x0a000001);
    peer_ip = htonl(0x0a000002);
    far_ip = htonl(0x0a000003);
    addr_map4(peer_ip, &peer4m);
    addr_map4(far_ip, &far4m);
    inet_pton(AF_INET6, "2001:db8::1", &my6);
    inet_pton(AF_INET6, "2001:db8::2", &peer6);
    inet_pton(AF_INET6, "2001:db8::3", &far6);
    if (mem_init(&mem, 2048, 32, 4) != 0 || dbuf_pool_init(&rxpool, "fuzz-rx", 2048, FUZZ_RX_BUFS) != 0)
        die("init: buffers");
    {
        struct dbuf *d = dbuf_alloc(&rxpool);
        rx_size = d->size;
        dbuf_put(d);
    }
    dev.ops = &sink_ops;
    snprintf(dev.name, sizeof(dev.name), "fuzz-sink");
    memcpy(dev.mac, my_mac, ETH_ALEN);
    dev.mtu = FUZZ_MTU;
}

/* A fresh stack at the same virtual instant: inputs do not depend on each
 * other. */
FUZZ_NOCOV static void stack_start(uint8_t cfg, uint8_t cfg2)
{
    struct inet_params p;

    clock_set_virtual(FUZZ_T0);
    inet_params_default(&p);
    p.ip = my_ip;
    p.arp_retries = 1;
    p.arp_timeout_ns = 1 * SEC;
    p.arp_ttl_ns = 30 * SEC;
    p.tcp.timestamps = cfg & 1;
    p.tcp.sack = cfg & 2;
    p.tcp.window_scaling = cfg & 4;
    p.tcp.cc = (cfg & 8) ? "newreno" : "cubic";
    p.tcp.delack_off = cfg & 16;
    p.tcp.keepalive = cfg & 32;
    p.tcp.rcvbuf = (cfg & 64) ? 6000 : 256 * 1024;
    p.tcp.nodelay = !(cfg & 128);
    p.tcp.sndbuf = 32 * 1024;
    p.tcp.max_retries = 4;
    p.tcp.syn_retries = 2;
    /* A fresh stack per input: the default pool (65536 pcbs) costs a 64 MiB
     * calloc each time (20x fewer executions), and a small one lets the
     * fuzzer reach exhaustion. */
    p.tcp.max_connections = 64;
    p.tcp.msl_ns = 5 * SEC;
    p.tcp.syn_backlog = FUZZ_SYN_BACKLOG;
    p.tcp.ooo_max = FUZZ_OOO_MAX;
    p.tcp.keepalive_idle_ns = 20 * SEC;
    p.tcp.keepalive_intvl_ns = 5 * SEC;
    p.tcp.keepalive_probes = 2;
    p.tcp.isn_key_seed = 0x5eed;
    p.tcp.syn_cookies = !(cfg2 & 1);
    p.tcp.user_timeout_ns = (cfg2 & 2) ? 30 * SEC : 0;
    p.ip6 = &my6;
    p.ip6_dad_transmits = 0; /* usable at once */
    if (inet_stack_init(&stack, &dev, &mem, &p) != 0)
        die("init: stack");
    if (arp_add_static(&stack, peer_ip, peer_mac) != 0)
        die("init: static ARP entry");
    memset(conns, 0, sizeof(conns));
    memset(&lst, 0, sizeof(lst));
    memset(active_lport, 0, sizeof(active_lport));
    memset(synack_seen, 0, sizeof(synack_seen));
    memset(last_tsval, 0, sizeof(last_tsval));
    nrecs = 0;
    nrxq = 0;
    /* Which tuples are IPv6 (bit i: tuple i of tuple_get): none; all (a
     * v6only listener); or a dual-stack listener on :: taking IPv4 and
     * IPv6 peers, the connections of both families side by side. */
    fam = (cfg2 >> 2) & 3;
    tuple_v6 = (const uint8_t[4]){0x00, 0xff, 0x72, 0x99}[fam];
}

/* The peer's SYN or SYN-ACK with the options of @po. */
static void peer_syn(struct seg *sg, uint8_t po)
{
    if (po & 1)
        opt_ts(sg, 1, (sg->flags & TH_ACK) ? tcp_ts_now(clock_now_ns()) : 0);
    opt_syn(sg, (po & 8) ? 536 : 1460, (po & 4) ? (po >> 4) : -1, po & 2);
}

/* The peer's ACK of a connection's SYN: the handshake's last segment. */
FUZZ_NOCOV static void peer_ack(struct tcp_pcb *c, uint16_t sport, uint16_t dport)
{
    struct seg sg;

    memset(&sg, 0, sizeof(sg));
    pcb_raddr(c, &sg.src);
    sg.sport = sport;
    sg.dport = dport;
    sg.seq = c->rcv_nxt;
    sg.ack = c->iss + 1;
    sg.flags = TH_ACK;
    sg.win = 65535;
    if (c->ts_ok)
        opt_ts(&sg, 2, tcp_ts_now(clock_now_ns()));
    seg_input(&sg, false);
    poll_stack();
}

FUZZ_NOCOV static void handshakes(uint8_t po)
{
    struct tcp_pcb *c;
    struct seg sg;

    if (app_listen(2) != 0)
        die("listen on :%u", PORT_LISTEN);
    /* A: passive open. */
    memset(&sg, 0, sizeof(sg));
    tuple_get(0, &sg.src, &sg.dport, &sg.sport);
    sg.sport = PORT_A;
    sg.dport = PORT_LISTEN;
    sg.seq = isn_base;
    sg.flags = TH_SYN;
    sg.win = 65535;
    peer_syn(&sg, po);
    seg_input(&sg, false);
    poll_stack();
    c = conn_lookup(&sg.src, PORT_LISTEN, PORT_A);
    if (!c || c->state != TCPS_SYN_RECEIVED)
        die("handshake: no SYN_RECEIVED child after a SYN");
    peer_ack(c, PORT_A, PORT_LISTEN);
    app_accept(); /* into conns[2]: move it to A's slot */
    if (!conns[2].pcb || conns[2].pcb->state != TCPS_ESTABLISHED)
        die("handshake: the passive connection is not established");
    conns[0] = conns[2];
    conns[0].pcb->owner = &conns[0];
    memset(&conns[2], 0, sizeof(conns[2]));
    /* B: active open. */
    conns[1].pcb = tcp_pcb_new(&stack, &conns[1], app_upcall);
    if (!conns[1].pcb || app_connect_tuple(conns[1].pcb, 1) != 0)
        die("handshake: connect");
    b_lport = ntohs(conns[1].pcb->local_port);
    poll_stack();
    memset(&sg, 0, sizeof(sg));
    tuple_get(1, &sg.src, &sg.dport, &sg.sport);
    sg.sport = PORT_B;
    sg.dport = b_lport;
    sg.seq = isn_base + 0x01000000u;
    sg.ack = conns[1].pcb->iss + 1;
    sg.flags = TH_SYN | TH_ACK;
    sg.win = 65535;
    peer_syn(&sg, po);
    seg_input(&sg, false);
    poll_stack();
    if (conns[1].pcb->state != TCPS_ESTABLISHED)
        die("handshake: the active connection is %s", tcp_state_name(conns[1].pcb->state));
    check_all();
}

/* Close everything, let every timer run out, then nothing may remain. */
FUZZ_NOCOV static void finish(void)
{
    int rounds = 0;
    uint64_t next;

    for (int i = 0; i < NCONNS; i++)
        app_close(&conns[i], false);
    app_close(&lst, false);
    poll_stack();
    while ((next = timer_wheel_next(&stack.timers)) != UINT64_MAX || nrxq > 0) {
        if (++rounds > 2000)
            die("timers never settle: %u pcbs left", stack.tcp.npcbs);
        if (next != UINT64_MAX && next > clock_now_ns())
            clock_advance(next - clock_now_ns());
        poll_stack();
    }
    if (trace)
        inet_stats_print(stderr, &stack.stats, 1);
    if (stack.tcp.npcbs != 0)
        die("%u pcbs left after every timer ran out", stack.tcp.npcbs);
    if (stack.ntx != 0)
        die("frames left in the transmit queue");
    inet_stack_fini(&stack);
    if (mem_in_use(&mem) != 0)
        die("%u stack buffers leaked", mem_in_use(&mem));
    if (rxpool.nfree != rxpool.count)
        die("%u received frames leaked", rxpool.count - rxpool.nfree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    uint8_t cfg, cfg2, po;

    init_once();
    fuzz_in_init(&in, data, size);
    cfg = fuzz_u8(&in);
    cfg2 = fuzz_u8(&in);
    po = fuzz_u8(&in);
    isn_base = fuzz_u32(&in);
    stack_start(cfg, cfg2);
    handshakes(po);
    while (fuzz_in_left(&in) > 0) {
        uint8_t op = fuzz_u8(&in);
        switch (op & 7) {
        case 4:
            op_time(&in, op);
            break;
        case 5:
        case 6:
            op_app(&in);
            break;
        case 7:
            op_good_segment(&in, op);
            break;
        default:
            op_segment(&in, op);
            break;
        }
        check_all();
        if (trace)
            trace_step(op);
    }
    finish();
    return 0;
}
