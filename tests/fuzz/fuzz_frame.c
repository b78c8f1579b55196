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
 *     3  icmp_echo_send to 10.0.0.(op >> 2), op >> 2 payload bytes
 * then the frame goes through eth_input (a zero-length one too when op & 3
 * is 0) and one inet_stack_poll. The stack is 10.0.0.1 / 02:00:00:00:00:01 with a static
 * ARP entry 10.0.0.2 -> 02:00:00:00:00:02 and a UDP socket on port 7 whose
 * queue (4 deep, so overflow is reachable) is drained at the end of each
 * input.
 *
 * Oracles, besides ASan/UBSan on the library:
 *   - received frames live in their own pool with everything after the frame
 *     poisoned, so a parser reading past the frame's length is caught even
 *     though the pool slot is larger;
 *   - every frame the stack transmits is checked (sizes, our addresses, IPv4
 *     header checksum and length, UDP/ICMP checksums, ARP format);
 *   - at the end of each input every timer is run to completion in virtual
 *     time (pending resolutions give up, learned entries expire), after which
 *     no buffer may still be in use: a drop path that forgets to free is a
 *     leak reported with the input that caused it. This also returns the stack
 *     to its initial state, so each input behaves the same on its own.
 */
#include "core/clock.h"
#include "mem/dbuf.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
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

static void die(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
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

static void init_once(void)
{
    static int done;
    struct inet_params p;

    if (done)
        return;
    done = 1;
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
    p.arp_retries = 2;
    p.arp_timeout_ns = 1000 * MS;
    p.arp_ttl_ns = 5000 * MS;
    if (inet_stack_init(&stack, &dev, &mem, &p) != 0)
        die("init: stack");
    if (arp_add_static(&stack, htonl(0x0a000002), peer_mac) != 0)
        die("init: static ARP entry");
    if (udp_sock_init(&usock, 4) != 0 || udp_bind(&stack, &usock, 0, htons(FUZZ_PORT)) != 0)
        die("init: UDP socket");
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
        case 3:
            icmp_echo_send(&stack, htonl(0x0a000000u | (op >> 2)), 1, op, op >> 2);
            break;
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
