/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c: libFuzzer target for the stack below TCP. Every input is a
 * sequence of chunks run through one inet_stack (built once, static):
 *
 *     chunk := op:u8 len:be16 frame[len]      len & 0x7ff, cut to what remains
 *
 * Before its frame each chunk does, by op & 3:
 *     0  nothing
 *     1  advance the virtual clock by ((op >> 2) + 1) * 125 ms (timers fire)
 *     2  udp_output 16 bytes from the bound socket to 10.0.0.(op >> 2)
 *     3  with op & 0x80 clear: icmp_echo_send to 10.0.0.n, n payload bytes;
 *        with it set: icmp6_echo_send to 2001:db8::n (n even) or fe80::n
 *        (n odd), n * 37 payload bytes; n = (op >> 2) & 0x1f
 * then the frame goes through eth_input (a zero-length one too when op & 3
 * is 0) and one inet_stack_poll. The stack is 10.0.0.1 / 02:00:00:00:00:01 with a static
 * ARP entry 10.0.0.2 -> 02:00:00:00:00:02 and a UDP socket on port 7 whose
 * queue (4 deep, so overflow is reachable) is drained at the end of each
 * input. It speaks IPv6 too: the global address 2001:db8::1 and the
 * link-local fe80::ff:fe00:1, both through DAD (one NS each) before the
 * first input, so every input finds them in use; the peer's link-layer
 * address is learned from the input (an NS with a source link-layer option,
 * an NA for an NS the stack sent), as on a real link.
 *
 * Oracles, besides ASan/UBSan on the library:
 *   - received frames live in their own pool with everything after the frame
 *     poisoned, so a parser reading past the frame's length is caught even
 *     though the pool slot is larger;
 *   - every frame the stack transmits is checked (sizes, our addresses, IPv4
 *     header checksum and length, UDP/ICMP checksums, ARP format; for IPv6
 *     the payload length, a source of ours (:: only for a DAD NS), the hop
 *     limit (255 for ND), a group's MAC, the ICMPv6/TCP/UDP checksum over
 *     the pseudo-header, ND messages' format and options, ICMPv6 errors
 *     within the minimum MTU and never to a group);
 *   - at the end of each input every timer is run to completion in virtual
 *     time (pending resolutions give up, learned entries expire), after which
 *     no buffer may still be in use: a drop path that forgets to free is a
 *     leak reported with the input that caused it. This also returns the stack
 *     to its initial state, so each input behaves the same on its own (then
 *     a second more refills the ICMPv6 error bucket; a lowered path MTU stays
 *     until it expires, which no oracle depends on).
 */
#include "core/clock.h"
#include "mem/dbuf.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define FUZZ_RX_BUFS 1024
#define FUZZ_FRAME_MAX 2047
#define FUZZ_PORT 7
#define MS 1000000ull

static const uint8_t my_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

static struct mem mem;
static struct dbuf_pool rxpool; /* received frames only */
static struct netdev dev;
static struct inet_stack stack;
static struct udp_sock usock;
static uint32_t my_ip;
static struct in6_addr my_ip6; /* 2001:db8::1 */
static bool trace;             /* FUZZ_TRACE=1: print each frame sent (reproducing a finding) */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static bool v6_is_ours(const uint8_t *a)
{
    return in6_equal(a, &stack.ip6.addrs[IP6_ADDR_LL].addr) || in6_equal(a, &my_ip6);
}

/* The options of a transmitted NS or NA: well formed, and the link-layer
 * one ours when present. Whether one of @want was there. */
static bool check_tx_nd_opts(const uint8_t *p, size_t len, uint8_t want)
{
    bool found = false;
    size_t i = 0;

    while (i < len) {
        size_t olen = i + 2 <= len ? (size_t)p[i + 1] * 8 : 0;
        if (olen == 0 || i + olen > len)
            die("tx: ND option overruns the message");
        if (p[i] != want || olen != sizeof(struct nd_opt_lladdr) || memcmp(p + i + 2, my_mac, ETH_ALEN) != 0)
            die("tx: ND option is not our link-layer address");
        found = true;
        i += olen;
    }
    return found;
}

static void check_tx_icmp6(const struct ipv6_hdr *ip, const uint8_t *l4, size_t l4len)
{
    const struct icmp6_hdr *h = (const struct icmp6_hdr *)l4;
    bool from_unspec = in6_is_unspecified(ip->src), to_group = in6_is_multicast(ip->dst);

    if (l4len < sizeof(*h))
        die("tx: ICMPv6 shorter than its header");
    if (h->type != ND_NEIGHBOR_SOLICIT && h->type != ND_NEIGHBOR_ADVERT && ip->hop_limit != IPV6_DEFAULT_HOPS)
        die("tx: ICMPv6 hop limit");
    if (from_unspec && h->type != ND_NEIGHBOR_SOLICIT)
        die("tx: ICMPv6 from :: that is not a DAD NS");
    switch (h->type) {
    case ICMP6_DST_UNREACH:
    case ICMP6_PACKET_TOO_BIG:
    case ICMP6_TIME_EXCEEDED:
    case ICMP6_PARAM_PROB: {
        const struct ipv6_hdr *inner = (const struct ipv6_hdr *)(h + 1);
        /* RFC 4443 2.4 (c), (e): within the minimum MTU, to one node, about
         * a packet that was sent to us by someone else. */
        if (IPV6_HLEN + l4len > IPV6_MIN_MTU)
            die("tx: ICMPv6 error longer than the minimum MTU");
        if (to_group)
            die("tx: ICMPv6 error to a group");
        if (l4len < sizeof(*h) + IPV6_HLEN || !in6_equal(inner->src, ip->dst))
            die("tx: ICMPv6 error does not quote the packet of its destination");
        if (v6_is_ours(inner->src))
            die("tx: ICMPv6 error about a packet of ours");
        break;
    }
    case ICMP6_ECHO_REQUEST:
    case ICMP6_ECHO_REPLY:
        if (h->code != 0)
            die("tx: ICMPv6 echo code");
        if (h->type == ICMP6_ECHO_REPLY && to_group)
            die("tx: echo reply to a group");
        break;
    case ND_NEIGHBOR_SOLICIT:
    case ND_NEIGHBOR_ADVERT: {
        const struct nd_msg *m = (const struct nd_msg *)l4;
        bool ll;
        if (ip->hop_limit != ND_HOP_LIMIT || l4len < sizeof(*m) || h->code != 0 || in6_is_multicast(m->target))
            die("tx: ND message header");
        ll = check_tx_nd_opts(l4 + sizeof(*m), l4len - sizeof(*m),
                              h->type == ND_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LL : ND_OPT_TARGET_LL);
        if (h->type == ND_NEIGHBOR_SOLICIT) {
            struct in6_addr sn, target;
            memcpy(&target, m->target, 16);
            in6_solicited_node(&target, &sn);
            /* RFC 4862 5.4.2: DAD from :: to the group, no option. */
            if (from_unspec && (ll || !in6_equal(ip->dst, &sn) || !v6_is_ours(m->target)))
                die("tx: DAD NS format");
            if (!from_unspec && (!ll || (to_group && !in6_equal(ip->dst, &sn)) || v6_is_ours(m->target)))
                die("tx: NS format");
        } else {
            uint32_t flags = ntohl(h->data);
            /* RFC 4861 7.2.4: for our address, with our link-layer address,
             * solicited only to a unicast destination. */
            if (!v6_is_ours(m->target) || !in6_equal(ip->src, m->target) || !ll || (flags & ND_NA_FLAG_ROUTER) ||
                ((flags & ND_NA_FLAG_SOLICITED) && to_group))
                die("tx: NA format");
        }
        break;
    }
    default:
        die("tx: unexpected ICMPv6 type");
    }
}

static void check_tx_ipv6(const uint8_t *f, size_t len)
{
    const struct ipv6_hdr *ip = (const struct ipv6_hdr *)(f + ETH_HLEN);
    const uint8_t *l4 = f + ETH_HLEN + IPV6_HLEN;
    size_t l4len;
    struct csum c;

    if (len < ETH_HLEN + IPV6_HLEN || (f[ETH_HLEN] >> 4) != 6)
        die("tx: IPv6 header");
    l4len = len - ETH_HLEN - IPV6_HLEN;
    if (ntohs(ip->payload_len) != l4len)
        die("tx: IPv6 payload length does not match the frame");
    if (!v6_is_ours(ip->src) && !(in6_is_unspecified(ip->src) && ip->next == IPV6_NH_ICMPV6))
        die("tx: IPv6 source is not ours");
    if (in6_is_unspecified(ip->dst) || in6_is_loopback(ip->dst))
        die("tx: IPv6 destination");
    if (in6_is_multicast(ip->dst)) {
        uint8_t mac[ETH_ALEN];
        in6_mcast_mac(ip->dst, mac);
        if (memcmp(f, mac, ETH_ALEN) != 0)
            die("tx: IPv6 group sent to another MAC");
    } else if (f[0] & 1) {
        die("tx: IPv6 unicast to an Ethernet group");
    }
    if (ip->next != IPV6_NH_ICMPV6 && ip->next != IPV6_NH_TCP && ip->next != IPV6_NH_UDP)
        die("tx: unexpected IPv6 next header");
    csum_init(&c);
    csum_add_pseudo6(&c, ip->src, ip->dst, ip->next, (uint32_t)l4len);
    csum_add(&c, l4, l4len);
    if (csum_finish(&c) != 0)
        die("tx: checksum over the IPv6 pseudo-header");
    if (ip->next == IPV6_NH_ICMPV6) {
        check_tx_icmp6(ip, l4, l4len);
    } else if (ip->next == IPV6_NH_UDP) {
        const struct udp_hdr *uh = (const struct udp_hdr *)l4;
        /* RFC 8200 8.1: a zero checksum is not allowed over IPv6. */
        if (l4len < UDP_HLEN || ntohs(uh->len) != l4len || uh->csum == 0)
            die("tx: UDP over IPv6 length or zero checksum");
    } else {
        size_t doff = l4len >= 20 ? (size_t)(l4[12] >> 4) * 4 : 0;
        if (l4len < 20 || doff < 20 || doff > l4len)
            die("tx: TCP over IPv6 header length");
    }
}

/* Transmitted frames: flatten, check, free. */
static void check_tx_frame(const struct dbuf *d)
{
    static uint8_t f[MEM_LARGE_SIZE];
    size_t len = 0;
    uint16_t type;

    for (; d; d = d->next) {
        if (d->len > sizeof(f) - len)
            die("tx: frame chain too long");
        memcpy(f + len, d->data, d->len);
        len += d->len;
    }
    if (len < ETH_HLEN || len > ETH_HLEN + stack.mtu)
        die("tx: frame size out of range");
    if (memcmp(f + ETH_ALEN, my_mac, ETH_ALEN) != 0)
        die("tx: source MAC is not ours");
    type = rd16(f + 12);
    if (trace) {
        /* ethertype, then the IPv4 protocol or IPv6 next header and the
         * first byte after the IP header (ICMP type, TCP port...) */
        size_t ihl = type == ETH_TYPE_IPV6 ? IPV6_HLEN : IPV4_HLEN;
        fprintf(stderr, "fuzz_frame: tx %zu bytes type 0x%04x proto %u l4[0] %u\n", len, type,
                len > ETH_HLEN + ihl ? f[ETH_HLEN + (type == ETH_TYPE_IPV6 ? 6 : 9)] : 0,
                len > ETH_HLEN + ihl ? f[ETH_HLEN + ihl] : 0);
    }
    if (type == ETH_TYPE_ARP) {
        const struct arp_hdr *a = (const struct arp_hdr *)(f + ETH_HLEN);
        uint16_t op;
        if (len != ETH_HLEN + sizeof(*a))
            die("tx: ARP length");
        op = ntohs(a->op);
        if (ntohs(a->htype) != ARP_HTYPE_ETHER || ntohs(a->ptype) != ETH_TYPE_IPV4 || a->hlen != 6 || a->plen != 4 ||
            (op != ARP_OP_REQUEST && op != ARP_OP_REPLY))
            die("tx: ARP header");
        if (memcmp(a->sha, my_mac, ETH_ALEN) != 0 || a->spa != my_ip)
            die("tx: ARP sender is not us");
    } else if (type == ETH_TYPE_IPV4) {
        const struct ipv4_hdr *ip = (const struct ipv4_hdr *)(f + ETH_HLEN);
        const uint8_t *l4 = f + ETH_HLEN + IPV4_HLEN;
        size_t l4len;
        if (len < ETH_HLEN + IPV4_HLEN || ip->ver_ihl != 0x45)
            die("tx: IPv4 header");
        if (ntohs(ip->total_len) != len - ETH_HLEN)
            die("tx: IPv4 total length does not match the frame");
        if (inet_csum(ip, IPV4_HLEN) != 0)
            die("tx: IPv4 header checksum");
        if (ip->src != my_ip)
            die("tx: IPv4 source is not us");
        l4len = len - ETH_HLEN - IPV4_HLEN;
        if (ip->proto == IPV4_PROTO_UDP) {
            const struct udp_hdr *uh = (const struct udp_hdr *)l4;
            struct csum c;
            if (l4len < UDP_HLEN || ntohs(uh->len) != l4len)
                die("tx: UDP length");
            csum_init(&c);
            csum_add_pseudo(&c, ip->src, ip->dst, IPV4_PROTO_UDP, (uint16_t)l4len);
            csum_add(&c, l4, l4len);
            if (uh->csum != 0 && csum_finish(&c) != 0)
                die("tx: UDP checksum");
        } else if (ip->proto == IPV4_PROTO_ICMP) {
            if (l4len < sizeof(struct icmp_echo_hdr) || inet_csum(l4, l4len) != 0)
                die("tx: ICMP checksum");
        } else if (ip->proto == IPV4_PROTO_TCP) { /* RSTs answering stray segments */
            struct csum c;
            size_t doff = l4len >= 20 ? (size_t)(l4[12] >> 4) * 4 : 0;
            if (l4len < 20 || doff < 20 || doff > l4len)
                die("tx: TCP header length");
            csum_init(&c);
            csum_add_pseudo(&c, ip->src, ip->dst, IPV4_PROTO_TCP, (uint16_t)l4len);
            csum_add(&c, l4, l4len);
            if (csum_finish(&c) != 0)
                die("tx: TCP checksum");
        } else {
            die("tx: unexpected IPv4 protocol");
        }
    } else if (type == ETH_TYPE_IPV6) {
        check_tx_ipv6(f, len);
    } else {
        die("tx: unexpected ethertype");
    }
}

static uint16_t sink_rx_burst(struct netdev *d, struct dbuf **frames, uint16_t n)
{
    (void)d;
    (void)frames;
    (void)n;
    return 0;
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

static void settle(void);

static void init_once(void)
{
    static int done;
    struct inet_params p;

    if (done)
        return;
    done = 1;
    trace = getenv("FUZZ_TRACE") != NULL;
    clock_set_virtual(1000 * MS);
    my_ip = htonl(0x0a000001);
    if (mem_init(&mem, 1024, 4, 0) != 0 || dbuf_pool_init(&rxpool, "fuzz-rx", 2048, FUZZ_RX_BUFS) != 0)
        die("init: buffers");
    dev.ops = &sink_ops;
    snprintf(dev.name, sizeof(dev.name), "fuzz-sink");
    memcpy(dev.mac, my_mac, ETH_ALEN);
    dev.mtu = 1500;
    inet_params_default(&p);
    p.ip = my_ip;
    if (inet_pton(AF_INET6, "2001:db8::1", &my_ip6) != 1)
        die("init: IPv6 address");
    p.ip6 = &my_ip6;
    p.ip6_dad_transmits = 1;
    p.arp_retries = 2;
    p.arp_timeout_ns = 1000 * MS;
    p.arp_ttl_ns = 5000 * MS;
    if (inet_stack_init(&stack, &dev, &mem, &p) != 0)
        die("init: stack");
    if (arp_add_static(&stack, htonl(0x0a000002), peer_mac) != 0)
        die("init: static ARP entry");
    if (udp_sock_init(&usock, 4) != 0 || udp_bind(&stack, &usock, 0, htons(FUZZ_PORT)) != 0)
        die("init: UDP socket");
    /* DAD of both IPv6 addresses (their NS go through the oracle), so
     * every input starts with them in use. */
    settle();
    if (!ipv6_is_ours(&stack, &my_ip6) || !ipv6_is_ours(&stack, &stack.ip6.addrs[IP6_ADDR_LL].addr))
        die("init: IPv6 addresses not in use after DAD");
}

/* A received frame in its own buffer: the bytes after it are poisoned. */
static void feed(const uint8_t *f, size_t len)
{
    struct dbuf *d = dbuf_alloc(&rxpool);
    uint8_t *end;

    if (!d)
        return; /* every rx buffer waits in ARP queues: not a bug */
    UNPOISON(d->buf, d->size);
    d->len = (uint32_t)len;
    if (len)
        memcpy(d->data, f, len);
    end = d->data + len;
    POISON(end, (size_t)(d->buf + d->size - end));
    eth_input(&stack, d);
}

static void drain_socket(void)
{
    struct dbuf *d;
    volatile uint8_t sink = 0;

    while ((d = udp_recv(&usock)) != NULL) {
        if (d->next)
            die("rx: datagram is a chain");
        for (uint32_t i = 0; i < d->len; i++) /* touch every byte delivered */
            sink ^= d->data[i];
        dbuf_put(d);
    }
    (void)sink;
}

/* Run every armed timer to completion, then nothing may hold a buffer. */
static void settle(void)
{
    int rounds = 0;
    uint64_t next;

    inet_stack_poll(&stack);
    while ((next = timer_wheel_next(&stack.timers)) != UINT64_MAX) {
        if (++rounds > 1000)
            die("timers never settle");
        if (next > clock_now_ns())
            clock_advance(next - clock_now_ns());
        inet_stack_poll(&stack);
    }
    if (stack.ntx != 0)
        die("frames left in the transmit queue");
    if (mem_in_use(&mem) != 0) {
        fprintf(stderr, "fuzz_frame: %u stack buffers leaked\n", mem_in_use(&mem));
        abort();
    }
    if (rxpool.nfree != rxpool.count) {
        fprintf(stderr, "fuzz_frame: %u received frames leaked\n", rxpool.count - rxpool.nfree);
        abort();
    }
    clock_advance(1000 * MS); /* a full ICMPv6 error bucket (RFC 4443 2.4 (f)) for the next input */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    init_once();
    while (off < size) {
        uint8_t op = data[off++];
        size_t len = 0;

        if (size - off >= 2) {
            len = rd16(data + off) & FUZZ_FRAME_MAX;
            off += 2;
        } else {
            off = size;
        }
        if (len > size - off)
            len = size - off;
        switch (op & 3) {
        case 1:
            clock_advance(((uint64_t)(op >> 2) + 1) * 125 * MS);
            break;
        case 2: {
            struct dbuf *pl = mem_alloc(&mem, 16);
            if (pl) {
                memset(pl->data, op, 16);
                udp_output(&stack, &usock, pl, htonl(0x0a000000u | (op >> 2)), htons(9));
            }
            break;
        }
        case 3: {
            uint32_t n = (op >> 2) & 0x1f;
            if (op & 0x80) {
                struct in6_addr dst = {.s6_addr = {0x20, 0x01, 0x0d, 0xb8, [15] = (uint8_t)n}};
                if (n & 1) {
                    dst.s6_addr[0] = 0xfe;
                    dst.s6_addr[1] = 0x80;
                    dst.s6_addr[2] = dst.s6_addr[3] = 0;
                }
                icmp6_echo_send(&stack, &dst, 1, op, n * 37);
            } else {
                icmp_echo_send(&stack, htonl(0x0a000000u | n), 1, op, n);
            }
            break;
        }
        default:
            break;
        }
        if (len > 0 || (op & 3) == 0) /* a bare op 1-3 is just its action */
            feed(data + off, len);
        off += len;
        inet_stack_poll(&stack);
    }
    drain_socket();
    settle();
    return 0;
}
