/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_tso.c: TCP segmentation offload (netdev.h, NETDEV_OFF_TCP_TSO)
 * in virtual time. Stack A sends through a fake device that advertises the
 * offload and cuts every frame marked DBUF_F_TX_TSO in software, as DPDK's
 * librte_gso or a NIC would (headers copied, lengths, sequence numbers, IP
 * ids and checksums fixed, PSH and FIN only on the last segment), onto a
 * simlink to stack B. The device checks what the stack promises: TSO frames
 * only with the offload in use, never above the device's limits, their TCP
 * checksum left to the device, new data only; every segment it puts on the
 * wire within the MTU; every retransmission an ordinary segment of at most
 * one MSS. B checks every byte.
 */
#include "tcp_sim.h"

#include "net/checksum.h"
#include "net/proto.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MTU 1500u
#define FRAME_BIG (ETH_HLEN + 65536u)

/* ---- the device: a simlink port that cuts TSO frames ------------------- */

struct opts;

struct tsodev {
    struct netdev dev;
    struct netdev *inner;
    struct mem *mem;
    uint32_t mss;     /* the connection's segment payload, once known */
    uint32_t max_end; /* highest sequence number sent + 1 (one connection) */
    bool have_end;
    uint64_t tso_frames; /* frames it cut */
    uint64_t tso_segs;   /* segments they became */
    uint32_t tso_largest;
    uint64_t rexmt_seen; /* data segments below max_end */
    uint64_t data_frames;
    const struct opts *opts; /* while starting: what to advertise */
};

static uint8_t flat[FRAME_BIG];

/* One checked TCP frame's facts. */
struct tcpf {
    struct tcp_hdr *th;
    uint32_t hlen; /* Ethernet + IPv4 + TCP with options */
    uint32_t payload;
};

static bool parse_tcp(uint8_t *p, uint32_t len, struct tcpf *f)
{
    struct eth_hdr *eh = (struct eth_hdr *)p;
    struct ipv4_hdr *ip = (struct ipv4_hdr *)(p + ETH_HLEN);

    if (len < ETH_HLEN + IPV4_HLEN + TCP_HLEN || eh->type != htons(ETH_TYPE_IPV4) || ip->proto != IPV4_PROTO_TCP)
        return false;
    assert_int_equal(ntohs(ip->total_len), len - ETH_HLEN);
    f->th = (struct tcp_hdr *)(p + ETH_HLEN + IPV4_HLEN);
    f->hlen = ETH_HLEN + IPV4_HLEN + (uint32_t)(f->th->off >> 4) * 4;
    assert_true(f->hlen <= len);
    f->payload = len - f->hlen;
    return true;
}

/* Retransmissions are ordinary segments, at most one MSS. */
static void track_seq(struct tsodev *t, const struct tcpf *f, bool tso)
{
    uint32_t seq = ntohl(f->th->seq), end = seq + f->payload;

    if (f->payload == 0)
        return;
    t->data_frames++;
    if (t->have_end && SEQ_LT(seq, t->max_end)) {
        t->rexmt_seen++;
        assert_false(tso);
        if (t->mss)
            assert_true(f->payload <= t->mss);
    } else if (tso) {
        /* New data only, right after what was sent. */
        assert_true(!t->have_end || seq == t->max_end);
    }
    if (!t->have_end || SEQ_GT(end, t->max_end))
        t->max_end = end;
    t->have_end = true;
}

static void cut(struct tsodev *t, struct dbuf *frame)
{
    uint32_t len = dbuf_chain_len(frame), seg = frame->meta32, segs, seq0, id0;
    struct ipv4_hdr *ip = (struct ipv4_hdr *)(flat + ETH_HLEN);
    struct tcpf f = {0}; /* parse_tcp fills it; GCC -O3 cannot see through the assert */

    assert_true(len <= sizeof(flat));
    assert_int_equal(dbuf_chain_copy(frame, flat), len);
    assert_true(parse_tcp(flat, len, &f));
    assert_int_equal(f.th->csum, 0); /* the device's to fill */
    assert_false(f.th->flags & (TH_SYN | TH_RST | TH_FIN));
    assert_true(seg > 0);
    assert_true(f.payload > seg); /* several segments, or why offload */
    assert_true(f.payload <= t->dev.tso_max_len);
    segs = (f.payload + seg - 1) / seg;
    assert_true(segs <= t->dev.tso_max_segs);
    assert_true(f.hlen - ETH_HLEN + seg <= t->dev.mtu);
    if (t->mss)
        assert_true(seg <= t->mss);
    track_seq(t, &f, true);
    t->tso_frames++;
    t->tso_segs += segs;
    t->tso_largest = MAX(t->tso_largest, f.payload);

    seq0 = ntohl(f.th->seq);
    id0 = ntohs(ip->id);
    for (uint32_t k = 0, off = 0; off < f.payload; k++, off += seg) {
        uint32_t n = MIN(seg, f.payload - off), tl = f.hlen - ETH_HLEN + n;
        struct dbuf *d = mem_alloc(t->mem, f.hlen + n);
        struct ipv4_hdr *sip;
        struct tcp_hdr *sth;
        struct csum c;

        assert_non_null(d);
        memcpy(d->data, flat, f.hlen);
        memcpy(d->data + f.hlen, flat + f.hlen + off, n);
        sip = (struct ipv4_hdr *)(d->data + ETH_HLEN);
        sth = (struct tcp_hdr *)(d->data + ETH_HLEN + IPV4_HLEN);
        sip->total_len = htons((uint16_t)tl);
        sip->id = htons((uint16_t)(id0 + k));
        sip->csum = 0;
        sip->csum = inet_csum(sip, IPV4_HLEN);
        sth->seq = htonl(seq0 + off);
        if (off + n < f.payload)
            sth->flags &= (uint8_t) ~(TH_PSH | TH_FIN);
        sth->csum = 0;
        csum_init(&c);
        csum_add_pseudo(&c, sip->src, sip->dst, IPV4_PROTO_TCP, (uint16_t)(tl - IPV4_HLEN));
        csum_add(&c, sth, tl - IPV4_HLEN);
        sth->csum = csum_finish(&c);
        if (netdev_tx_burst(t->inner, &d, 1) != 1)
            dbuf_put(d); /* a full wire: lost, as on a NIC */
    }
    dbuf_chain_put(frame);
}

static uint16_t tso_tx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct tsodev *t = (struct tsodev *)dev;

    for (uint16_t i = 0; i < n; i++) {
        struct dbuf *d = frames[i];
        uint32_t len = dbuf_chain_len(d);
        struct tcpf f = {0};

        if (d->flags & DBUF_F_TX_TSO) {
            assert_true(dev->offloads & NETDEV_OFF_TCP_TSO);
            cut(t, d);
            continue;
        }
        assert_true(len <= ETH_HLEN + dev->mtu);
        assert_true(len <= sizeof(flat));
        dbuf_chain_copy(d, flat);
        if (parse_tcp(flat, len, &f))
            track_seq(t, &f, false);
        if (netdev_tx_burst(t->inner, &d, 1) != 1)
            dbuf_chain_put(d);
    }
    return n;
}

static uint16_t tso_rx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    return netdev_rx_burst(((struct tsodev *)dev)->inner, frames, n);
}

static const struct netdev_ops tso_ops = {.rx_burst = tso_rx, .tx_burst = tso_tx};

/* ---- two stacks, one connection ---------------------------------------- */

struct sim {
    struct tcp_sim t;
    struct tsodev dev; /* in front of A's port */
};

struct opts {
    bool offered;     /* the device advertises TSO */
    bool enabled;     /* inetstack_config.tcp_segmentation_offload */
    uint32_t max_len; /* the device's limits */
    uint16_t max_segs;
    uint32_t loss_ppm;
    bool nodelay;
    bool lockstep; /* the next push only once the send queue is empty */
    uint64_t seed;
};

static struct netdev *tso_wrap(struct tcp_sim *t, int side, struct netdev *port, void *arg)
{
    struct sim *s = arg;
    const struct opts *o = s->dev.opts;

    if (side != 0)
        return port;
    s->dev.inner = port;
    s->dev.dev = *port;
    s->dev.dev.ops = &tso_ops;
    s->dev.mem = &t->mem;
    if (o->offered) {
        s->dev.dev.offloads |= NETDEV_OFF_TCP_TSO;
        s->dev.dev.tso_max_len = o->max_len;
        s->dev.dev.tso_max_segs = o->max_segs;
    }
    return &s->dev.dev;
}

static void sim_start(struct sim *s, const struct opts *o)
{
    struct fault_params fp = {.seed = o->seed, .loss_ppm = o->loss_ppm, .delay_ns = 50 * US, .rate_bps = 1250000000ull};
    struct inet_params p;

    memset(s, 0, sizeof(*s));
    s->dev.opts = o;
    inet_params_default(&p);
    p.arp_ttl_ns = 3600 * SEC;
    p.tcp_tso = o->enabled;
    p.tcp.timestamps = true; /* options in every segment the device cuts */
    p.tcp.sack = true;
    p.tcp.window_scaling = true;
    p.tcp.nodelay = o->nodelay;
    tcp_sim_start(&s->t, &fp, &p, MTU, tso_wrap, s);
}

static uint8_t pattern(uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + 7;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

struct ep {
    struct tcp_pcb *pcb;
    bool connected;
};

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    struct ep *e = pcb->owner;
    if (ev & TCP_EV_CONNECTED)
        e->connected = pcb->err == 0;
}

struct result {
    uint64_t tso_frames, tso_segs, rexmt_seen, stack_rexmt;
    uint32_t tso_largest, mss;
};

/* @bytes from A to B in pushes of @chunk, every byte checked at B, then an
 * orderly close both ways. */
static struct result transfer(const struct opts *o, uint64_t bytes, uint32_t chunk)
{
    struct sim s;
    struct ep ea = {0}, eb = {0};
    struct tcp_pcb *l;
    uint64_t sent = 0, got = 0, start, iter = 0;
    bool eof = false;
    struct result r;

    sim_start(&s, o);
    l = tcp_pcb_new(&s.t.b, NULL, NULL);
    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(5001)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    ea.pcb = tcp_pcb_new(&s.t.a, &ea, ep_upcall);
    assert_int_equal(tcp_connect(ea.pcb, inet_addr("10.0.0.2"), htons(5001)), 0);
    while (!(eb.pcb = tcp_accept(l, &eb, ep_upcall)) || !ea.connected) {
        tcp_sim_step(&s.t);
        assert_true(clock_now_ns() < 30 * SEC);
    }
    tcp_close(l);
    s.dev.mss = tcp_seg_max(ea.pcb);
    assert_int_equal(s.dev.mss, MTU - IPV4_HLEN - TCP_HLEN - 12); /* timestamps */

    start = clock_now_ns();
    while (!eof) {
        struct dbuf *d;

        while (sent < bytes && tcp_send_space(ea.pcb) > 0 && !(o->lockstep && ea.pcb->sndq_bytes > 0)) {
            uint32_t n = (uint32_t)MIN((uint64_t)chunk, bytes - sent);
            d = mem_alloc(&s.t.mem, n);
            if (!d)
                break;
            for (uint32_t i = 0; i < n; i++)
                d->data[i] = pattern(sent + i);
            assert_int_equal(tcp_send(ea.pcb, d), 0);
            sent += n;
            if (sent == bytes)
                tcp_close(ea.pcb); /* the FIN follows the data */
        }
        tcp_sim_step(&s.t);
        while ((d = tcp_recv(eb.pcb)) != NULL) {
            for (uint32_t i = 0; i < d->len; i++)
                if (d->data[i] != pattern(got + i))
                    fail_msg("byte %" PRIu64 " differs", got + i);
            got += d->len;
            dbuf_put(d);
        }
        eof = tcp_at_eof(eb.pcb);
        assert_int_equal(eb.pcb->err, 0);
        if (clock_now_ns() - start > 300 * SEC || ++iter > 20000000)
            fail_msg("stalled at %" PRIu64 " of %" PRIu64 " bytes", got, bytes);
    }
    assert_int_equal(got, bytes);
    tcp_close(eb.pcb);
    while (s.t.a.tcp.npcbs + s.t.b.tcp.npcbs > 0) {
        tcp_sim_step(&s.t);
        assert_true(clock_now_ns() - start < 900 * SEC);
    }

    /* The stack's counters are the device's view. */
    assert_int_equal(s.t.a.stats.tcp_tx_tso, s.dev.tso_frames);
    assert_int_equal(s.t.a.stats.tcp_tx_tso_segs, s.dev.tso_segs);
    r.tso_frames = s.dev.tso_frames;
    r.tso_segs = s.dev.tso_segs;
    r.tso_largest = s.dev.tso_largest;
    r.rexmt_seen = s.dev.rexmt_seen;
    r.stack_rexmt = s.t.a.stats.tcp_rexmt;
    r.mss = s.dev.mss;
    tcp_sim_stop(&s.t);
    return r;
}

static const struct opts base = {
    .offered = true, .enabled = true, .max_len = 65535, .max_segs = 64, .nodelay = true, .seed = 1};

/* Large frames, as large as the windows allow, byte-exact through the
 * software segmenter. */
static void test_tso_bulk(void **state)
{
    struct result r = transfer(&base, 8u << 20, 65536);

    (void)state;
    assert_true(r.tso_frames > 0);
    assert_true(r.tso_segs >= r.tso_frames * 2);
    /* Windows grow past 64 KiB: frames reach the 16-bit IPv4 length. */
    /* The sender keeps its queue full: each ACK opens the window by the
     * two segments it acknowledges, and that is what the next frame holds
     * (beyond the initial window's burst). */
    assert_true(r.tso_largest >= 2 * r.mss);
    assert_true(r.tso_largest <= UINT16_MAX - IPV4_HLEN - TCP_HLEN - 40);
    assert_int_equal(r.rexmt_seen, 0);
    print_message("8 MiB: %" PRIu64 " TSO frames -> %" PRIu64 " segments, largest %u B\n", r.tso_frames, r.tso_segs,
                  r.tso_largest);
}

/* Pushes of 60000 bytes into an open window, one at a time (a request /
 * response server's replies): once slow start has opened cwnd, each push
 * goes as one frame, its short tail included (TCP_NODELAY). */
static void test_tso_app_limited(void **state)
{
    struct opts o = base;
    struct result r;

    (void)state;
    o.lockstep = true;
    r = transfer(&o, 60000u * 40, 60000);
    assert_int_equal(r.tso_largest, 60000);
    assert_int_equal(r.rexmt_seen, 0);
    print_message("40 x 60000 B: %" PRIu64 " TSO frames -> %" PRIu64 " segments\n", r.tso_frames, r.tso_segs);
}

/* With Nagle, in small pushes: the same bytes, frames of whole segments. */
static void test_tso_nagle_small_pushes(void **state)
{
    struct opts o = base;
    struct result r;

    (void)state;
    o.nodelay = false;
    r = transfer(&o, 2u << 20, 1000);
    assert_true(r.tso_frames > 0);
}

/* Never above the device's limits: payload bytes and segment count. */
static void test_tso_device_limits(void **state)
{
    struct opts o = base;
    struct result r;

    (void)state;
    o.max_len = 6000; /* 4 segments of 1448 */
    r = transfer(&o, 1u << 20, 65536);
    assert_true(r.tso_frames > 0);
    assert_true(r.tso_largest <= 6000);
    assert_int_equal(r.tso_largest, 4 * r.mss);

    o.max_len = 65535;
    o.max_segs = 3;
    r = transfer(&o, 1u << 20, 65536);
    assert_true(r.tso_frames > 0);
    assert_int_equal(r.tso_largest, 3 * r.mss);
}

/* The key off, or a device without the offload: no large frame at all. */
static void test_tso_off(void **state)
{
    struct opts o = base;
    struct result r;

    (void)state;
    o.enabled = false;
    r = transfer(&o, 1u << 20, 65536);
    assert_int_equal(r.tso_frames, 0);

    o = base;
    o.offered = false;
    r = transfer(&o, 1u << 20, 65536);
    assert_int_equal(r.tso_frames, 0);
}

/* Lost wire segments of large frames come back as ordinary segments of at
 * most one MSS (the device asserts it), and every byte arrives. */
static void test_tso_loss_rexmt_mss(void **state)
{
    struct opts o = base;
    struct result r;

    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        o.seed = seed;
        o.loss_ppm = 10000; /* 1% of wire segments */
        r = transfer(&o, 4u << 20, 65536);
        assert_true(r.tso_frames > 0);
        assert_true(r.rexmt_seen > 0);
        assert_true(r.stack_rexmt > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tso_bulk),
        cmocka_unit_test(test_tso_app_limited),
        cmocka_unit_test(test_tso_nagle_small_pushes),
        cmocka_unit_test(test_tso_device_limits),
        cmocka_unit_test(test_tso_off),
        cmocka_unit_test(test_tso_loss_rexmt_mss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
