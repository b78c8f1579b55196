/* SPDX-License-Identifier: MIT */
/*
 * bench_tcp_segment: nanoseconds per TCP segment on the stack's input and
 * output paths, without any device cost. Prints figures; asserts nothing.
 *
 * A connection is set up between two stacks over a simlink; then stack A's
 * device is swapped for a sink that frees every frame (output path), and
 * stack B is fed prebuilt in-order segments straight into eth_input (input
 * path). Each figure is the median of 9 runs of 100k segments.
 */
#include "core/clock.h"
#include "dev/simlink.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 9
#define SEGS 100000
#define PAYLOAD 1448

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- a device that drops everything (output path) --------------------- */

static uint16_t sink_rx(struct netdev *dev, struct dbuf **f, uint16_t n)
{
    (void)dev;
    (void)f;
    (void)n;
    return 0;
}

static uint16_t sink_tx(struct netdev *dev, struct dbuf **f, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++)
        dbuf_chain_put(f[i]);
    dev->stats.tx_frames += n;
    return n;
}

static void sink_destroy(struct netdev *dev)
{
    (void)dev;
}

static const struct netdev_ops sink_ops = {.rx_burst = sink_rx, .tx_burst = sink_tx, .destroy = sink_destroy};

/* ---- setup ------------------------------------------------------------- */

static struct mem mem;
static struct inet_stack a, b;
static struct simlink *link_;
static struct tcp_pcb *pa, *pb;

static void noop_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    (void)pcb;
    (void)ev;
}

static void setup(void)
{
    static const uint8_t ma[6] = {2, 0, 0, 0, 0, 0xa}, mb[6] = {2, 0, 0, 0, 0, 0xb};
    struct fault_params f = {.seed = 1};
    struct inet_params p;
    struct tcp_pcb *l;

    inet_params_default(&p);
    p.tcp.sack = p.tcp.timestamps = p.tcp.window_scaling = false; /* the bare segment path */
    p.tcp.nodelay = false;
    clock_set_virtual(1000000000ull);
    mem_init(&mem, 262144, 64, 0);
    link_ = simlink_create(&mem, &f, 8192);
    p.arp_timeout_ns = 1000000;
    p.arp_ttl_ns = 3600000000000ull;
    p.tcp.rcvbuf = 1u << 30; /* never window-limited */
    p.tcp.sndbuf = 1u << 30;
    p.tcp.delack_ns = 1000000000ull;
    p.ip = inet_addr("10.0.0.1");
    inet_stack_init(&a, simlink_port(link_, ma, 1500), &mem, &p);
    p.ip = inet_addr("10.0.0.2");
    inet_stack_init(&b, simlink_port(link_, mb, 1500), &mem, &p);
    arp_add_static(&a, inet_addr("10.0.0.2"), mb);
    arp_add_static(&b, inet_addr("10.0.0.1"), ma);
    l = tcp_pcb_new(&b, NULL, NULL);
    tcp_bind(l, 0, htons(80));
    tcp_listen(l, 4);
    pa = tcp_pcb_new(&a, &a, noop_upcall);
    tcp_connect(pa, inet_addr("10.0.0.2"), htons(80));
    for (int i = 0; i < 1000 && !(pb = tcp_accept(l, &b, noop_upcall)); i++) {
        inet_stack_poll(&a);
        inet_stack_poll(&b);
        clock_advance(1000);
    }
    for (int i = 0; i < 100; i++) {
        inet_stack_poll(&a);
        inet_stack_poll(&b);
        clock_advance(1000);
    }
    if (!pb || pa->state != TCPS_ESTABLISHED) {
        fprintf(stderr, "bench_tcp_segment: handshake failed\n");
        exit(1);
    }
}

/* Output: queue SEGS full segments; tcp_output builds and sends them. */
static uint64_t run_output(void)
{
    struct netdev sink = {.ops = &sink_ops, .mtu = 1500};
    struct netdev *real = a.dev;
    struct dbuf *bufs[64];
    uint64_t t0, t1;

    a.dev = &sink;
    pa->cwnd = pa->snd_wnd = 1u << 30;
    t0 = now_ns();
    for (int i = 0; i < SEGS / 64; i++) {
        for (int k = 0; k < 64; k++) {
            bufs[k] = mem_alloc(&mem, PAYLOAD);
            tcp_send(pa, bufs[k]);
        }
        inet_tx_flush(&a);
        /* Pretend everything was acknowledged, so the queue stays short. */
        uint32_t acked = pa->snd_nxt - pa->snd_una;
        (void)acked;
        pa->snd_una = pa->snd_nxt;
        while (pa->sndq_head) {
            struct dbuf *q = pa->sndq_head;
            pa->sndq_head = q->next;
            q->next = NULL;
            dbuf_put(q);
        }
        pa->sndq_tail = NULL;
        pa->sndq_bytes = pa->sndq_cost = 0;
    }
    t1 = now_ns();
    a.dev = real;
    return (t1 - t0) / (SEGS / 64 * 64);
}

/* Input: SEGS prebuilt in-order segments from A into B's eth_input. */
static uint64_t run_input(void)
{
    static uint8_t frame[ETH_HLEN + IPV4_HLEN + TCP_HLEN + PAYLOAD];
    struct eth_hdr *eh = (struct eth_hdr *)frame;
    struct ipv4_hdr *ip = (struct ipv4_hdr *)(eh + 1);
    struct tcp_hdr *th = (struct tcp_hdr *)(ip + 1);
    uint32_t seq = pb->rcv_nxt;
    uint64_t total = 0, t0;

    memcpy(eh->dst, b.mac, 6);
    memcpy(eh->src, a.mac, 6);
    eh->type = htons(ETH_TYPE_IPV4);
    memset(ip, 0, sizeof(*ip));
    ip->ver_ihl = 0x45;
    ip->total_len = htons(IPV4_HLEN + TCP_HLEN + PAYLOAD);
    ip->ttl = 64;
    ip->proto = IPV4_PROTO_TCP;
    ip->src = a.ip;
    ip->dst = b.ip;
    ip->csum = inet_csum(ip, IPV4_HLEN);
    memset(th, 0, sizeof(*th));
    th->sport = pa->local_port;
    th->dport = pb->local_port;
    th->off = 5 << 4;
    th->flags = TH_ACK;
    th->win = htons(65535);
    th->ack = htonl(pb->snd_nxt);
    memset(th + 1, 0x5a, PAYLOAD);

    for (int i = 0; i < SEGS; i++) {
        struct dbuf *d = mem_alloc(&mem, sizeof(frame));
        struct csum c;

        th->seq = htonl(seq);
        th->csum = 0;
        csum_init(&c);
        csum_add_pseudo(&c, a.ip, b.ip, IPV4_PROTO_TCP, TCP_HLEN + PAYLOAD);
        csum_add(&c, th, TCP_HLEN + PAYLOAD);
        th->csum = csum_finish(&c);
        memcpy(d->data, frame, sizeof(frame));
        seq += PAYLOAD;
        /* Only the stack's work is timed: the frame build above is not. */
        t0 = now_ns();
        eth_input(&b, d);
        struct dbuf *r;
        while ((r = tcp_recv(pb)) != NULL)
            dbuf_put(r);
        total += now_ns() - t0;
        if ((i & 63) == 63)
            inet_tx_flush(&b); /* the ACKs B sends go to the link; drain it */
        if ((i & 1023) == 1023) {
            struct dbuf *f[64];
            uint16_t n;
            while ((n = netdev_rx_burst(a.dev, f, 64)) > 0)
                for (uint16_t k = 0; k < n; k++)
                    dbuf_put(f[k]);
        }
    }
    return total / SEGS;
}

int main(void)
{
    uint64_t out[RUNS], in[RUNS];

    setup();
    for (int r = 0; r < RUNS; r++) {
        out[r] = run_output();
        in[r] = run_input();
    }
    qsort(out, RUNS, sizeof(out[0]), cmp_u64);
    qsort(in, RUNS, sizeof(in[0]), cmp_u64);
    printf("bench_tcp_segment: %d-byte segments, %d per run, median of %d runs (min..max)\n", PAYLOAD, SEGS, RUNS);
    printf("  output path (tcp_send -> tcp_output -> ipv4 -> eth -> tx burst): %3lu ns/segment (%lu..%lu)\n",
           (unsigned long)out[RUNS / 2], (unsigned long)out[0], (unsigned long)out[RUNS - 1]);
    printf("  input path  (eth_input -> ipv4 -> tcp_input -> receive queue):  %3lu ns/segment (%lu..%lu)\n",
           (unsigned long)in[RUNS / 2], (unsigned long)in[0], (unsigned long)in[RUNS - 1]);
    printf("  both include the software TCP checksum over %d bytes (no offload)\n", PAYLOAD);
    return 0;
}
