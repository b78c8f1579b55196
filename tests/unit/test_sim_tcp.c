/* SPDX-License-Identifier: MIT */
/*
 * test_sim_tcp.c: two inetstacks over a simlink in virtual time, talking
 * TCP through tcp_* directly: bulk transfers both ways at once under loss,
 * reordering, duplication and corruption, every byte checked; a thousand
 * concurrent connections opened, used and closed; and every buffer and
 * control block accounted for at the end.
 *
 * Deterministic from the seed: SIM_SEED=N reruns one; failures print it.
 */
#include "core/clock.h"
#include "dev/simlink.h"
#include "libos/stats_shm.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define SEC 1000000000ull
#define MS 1000000ull
#define US 1000ull

struct sim {
    struct mem mem;
    struct simlink *link;
    struct inet_stack a, b;
    uint64_t seed;
};

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
#define IP_A 0x0100000au /* 10.0.0.1, network order on a little-endian host */
#define IP_B 0x0200000au

static uint64_t test_seed(uint64_t dflt)
{
    const char *e = getenv("SIM_SEED");
    return e ? strtoull(e, NULL, 0) : dflt;
}

/* The TCP these simulations were written against: the configuration's
 * defaults with the options (SACK, timestamps, window scaling) off and
 * Nagle on; a test that wants them says so. */
static struct tcp_params sim_tcp_params(void)
{
    struct tcp_params tp;

    tcp_params_default(&tp);
    tp.sack = tp.timestamps = tp.window_scaling = false;
    tp.nodelay = false;
    return tp;
}

/* A port that takes at most two frames per call, as a NIC whose ring the
 * wire drains slowly: the rest wait in the stack's transmit queue. With
 * sim_throttle_a set, sim_start puts stack A behind it. */
struct throttle {
    struct netdev dev;
    struct netdev *inner;
};

static uint16_t throttle_rx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    return netdev_rx_burst(((struct throttle *)dev)->inner, frames, n);
}

static uint16_t throttle_tx(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    uint16_t k = netdev_tx_burst(((struct throttle *)dev)->inner, frames, n < 2 ? n : 2);

    dev->stats.tx_full += n - k;
    return k;
}

static const struct netdev_ops throttle_ops = {.rx_burst = throttle_rx, .tx_burst = throttle_tx};
static struct throttle throttle_a;
static bool sim_throttle_a;

static void sim_start(struct sim *s, const struct fault_params *f, const struct tcp_params *tp)
{
    struct inet_params p;
    struct netdev *pa, *pb;

    inet_params_default(&p);

    memset(s, 0, sizeof(*s));
    s->seed = f->seed;
    clock_set_virtual(SEC);
    assert_int_equal(mem_init(&s->mem, 65536, 256, 0), 0);
    s->link = simlink_create(&s->mem, f, 8192);
    pa = simlink_port(s->link, mac_a, 1500);
    pb = simlink_port(s->link, mac_b, 1500);
    if (sim_throttle_a) {
        throttle_a.dev = *pa;
        throttle_a.dev.ops = &throttle_ops;
        throttle_a.inner = pa;
        pa = &throttle_a.dev;
    }
    p.arp_retries = 5;
    p.arp_timeout_ns = 10 * MS;
    p.arp_ttl_ns = 3600 * SEC;
    p.tcp = tp ? *tp : sim_tcp_params();
    p.tcp.isn_key_seed = f->seed | 1; /* reproducible sequence numbers */
    p.ip = inet_addr("10.0.0.1");
    assert_int_equal(inet_stack_init(&s->a, pa, &s->mem, &p), 0);
    p.ip = inet_addr("10.0.0.2");
    assert_int_equal(inet_stack_init(&s->b, pb, &s->mem, &p), 0);
    /* ARP is tested elsewhere; here every frame is TCP. */
    arp_add_static(&s->a, inet_addr("10.0.0.2"), mac_b);
    arp_add_static(&s->b, inet_addr("10.0.0.1"), mac_a);
}

static void sim_stop(struct sim *s)
{
    inet_stack_fini(&s->a);
    inet_stack_fini(&s->b);
    assert_int_equal(s->a.tcp.npcbs, 0);
    assert_int_equal(s->b.tcp.npcbs, 0);
    simlink_destroy(s->link);
    assert_int_equal(mem_in_use(&s->mem), 0);
    mem_fini(&s->mem);
    clock_set_real();
}

/* demi-stat's connection table (stats_conn_row) says what each pcb is, in
 * every state the simulations reach; the states seen are gathered for
 * test_conn_rows_every_state, which runs last. */
static uint32_t sim_states_seen;

static void sim_check_row(const struct tcp_pcb *p, void *arg)
{
    struct stats_conn r;

    (void)arg;
    stats_conn_row(&r, p);
    if (r.state != p->state || r.local_ip != p->local_ip || r.remote_ip != p->remote_ip ||
        r.local_port != p->local_port || r.remote_port != p->remote_port || r.sndq != p->sndq_bytes ||
        r.rcvq != p->rcvq_bytes || r.cwnd != p->cwnd || r.ssthresh != p->ssthresh ||
        r.srtt_us != (uint32_t)(p->srtt_ns / 1000) || r.rto_us != (uint32_t)(p->rto_ns / 1000) ||
        r.rexmt != p->rexmt_count || r.backlog_syn != p->syn_count || r.backlog_ready != p->accept_count)
        fail_msg("the connection row of a %s pcb differs from it", tcp_state_name(p->state));
    sim_states_seen |= 1u << p->state;
}

static void sim_check_rows(const struct inet_stack *st)
{
    tcp_foreach(st, sim_check_row, NULL);
}

/* Poll both stacks; when idle, jump the clock to the next event. */
static void sim_step(struct sim *s, uint64_t limit)
{
    int n = inet_stack_poll(&s->a) + inet_stack_poll(&s->b);
    uint64_t next;
    char why[256];

    /* The tables' invariants (listener counts = queue lengths) hold after
     * every step: a count that drifts fails the run where it drifted. */
    if (tcp_check(&s->a, why, sizeof(why)) || tcp_check(&s->b, why, sizeof(why)))
        fail_msg("seed %" PRIu64 ": %s", s->seed, why);
    {
        static unsigned step; /* a table walk is 4096 buckets: every 16th step */
        if ((step++ & 15) == 0) {
            sim_check_rows(&s->a);
            sim_check_rows(&s->b);
        }
    }

    if (n > 0)
        return;
    next = timer_wheel_next(&s->a.timers);
    next = MIN(next, timer_wheel_next(&s->b.timers));
    next = MIN(next, simlink_next_delivery(s->link));
    next = MIN(next, limit);
    if (next > clock_now_ns())
        clock_advance(next - clock_now_ns());
    else
        clock_advance(US);
}

/* ---- a byte stream endpoint ------------------------------------------- */

struct ep {
    struct tcp_pcb *pcb;
    uint64_t seed; /* pattern of what this end sends */
    uint64_t to_send, sent;
    uint64_t peer_seed; /* pattern of what it receives */
    uint64_t to_recv, got;
    bool eof, connected, accepted_any;
    int err;
    unsigned events;
};

static uint8_t pattern(uint64_t seed, uint64_t off)
{
    uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + seed;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (off & 7)));
}

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    struct ep *e = pcb->owner;
    e->events |= ev;
    if (ev & TCP_EV_CONNECTED)
        e->connected = pcb->err == 0;
    if (ev & TCP_EV_ERROR)
        e->err = pcb->err;
}

/* Queue as much as the send queue takes, in pieces of @chunk. */
static void ep_fill(struct ep *e, struct mem *m, uint32_t chunk)
{
    while (e->sent < e->to_send && tcp_send_space(e->pcb) > 0) {
        uint32_t n = (uint32_t)MIN((uint64_t)chunk, e->to_send - e->sent);
        struct dbuf *d = mem_alloc(m, n);
        if (!d)
            return;
        for (uint32_t i = 0; i < n; i++)
            d->data[i] = pattern(e->seed, e->sent + i);
        assert_int_equal(tcp_send(e->pcb, d), 0);
        e->sent += n;
    }
}

static void ep_drain(struct ep *e, uint64_t sim_seed)
{
    struct dbuf *d;

    while ((d = tcp_recv(e->pcb)) != NULL) {
        for (uint32_t i = 0; i < d->len; i++)
            if (d->data[i] != pattern(e->peer_seed, e->got + i))
                fail_msg("seed %" PRIu64 ": byte %" PRIu64 " differs", sim_seed, e->got + i);
        e->got += d->len;
        dbuf_put(d);
    }
    if (tcp_at_eof(e->pcb))
        e->eof = true;
}

/* Connect A -> B and return both ends established. */
static void connect_pair(struct sim *s, struct ep *ca, struct ep *sb, uint16_t port)
{
    struct tcp_pcb *l = tcp_pcb_new(&s->b, NULL, NULL);

    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(port)), 0);
    assert_int_equal(tcp_listen(l, 16), 0);
    ca->pcb = tcp_pcb_new(&s->a, ca, ep_upcall);
    assert_int_equal(tcp_connect(ca->pcb, inet_addr("10.0.0.2"), htons(port)), 0);
    while (!(sb->pcb = tcp_accept(l, sb, ep_upcall))) {
        sim_step(s, clock_now_ns() + 10 * SEC);
        if (clock_now_ns() > 100 * SEC)
            fail_msg("seed %" PRIu64 ": handshake stalled", s->seed);
    }
    while (!ca->connected)
        sim_step(s, clock_now_ns() + SEC);
    tcp_close(l);
}

/* What a bulk transfer cost in recovery, both sides added. */
struct bulk_counts {
    uint64_t rexmt, rto, fast, tlp, rack;
};

/* @bytes each way at once over faults @f, with @tp (NULL: the sim's
 * default). Returns the virtual seconds. */
static double bulk_both_ways(uint64_t seed, uint32_t loss_ppm, uint64_t bytes, const struct tcp_params *tp,
                             struct bulk_counts *n)
{
    struct fault_params f = {
        .seed = seed,
        .loss_ppm = loss_ppm,
        .dup_ppm = loss_ppm / 2,
        .corrupt_ppm = loss_ppm / 2,
        .reorder_ppm = loss_ppm,
        .delay_ns = 20 * US,
        .jitter_ns = loss_ppm ? 5 * US : 0,
        .rate_bps = 1250000000ull, /* 10 Gb/s */
    };
    struct sim s;
    struct ep ea = {.seed = 1, .peer_seed = 2, .to_send = bytes, .to_recv = bytes};
    struct ep eb = {.seed = 2, .peer_seed = 1, .to_send = bytes, .to_recv = bytes};
    uint64_t start, iter = 0;
    double secs;

    sim_start(&s, &f, tp);
    connect_pair(&s, &ea, &eb, 5001);
    start = clock_now_ns();
    while (ea.got < bytes || eb.got < bytes) {
        ep_fill(&ea, &s.mem, 16384);
        ep_fill(&eb, &s.mem, 16384);
        sim_step(&s, clock_now_ns() + SEC);
        ep_drain(&ea, seed);
        ep_drain(&eb, seed);
        if ((ea.err || eb.err) && getenv("SIM_DEBUG")) {
            inet_stats_print(stdout, &s.a.stats, 1);
            inet_stats_print(stdout, &s.b.stats, 1);
            printf("a: %s una %u nxt %u max %u wnd %u cwnd %u ssth %u rto %lu\n", tcp_state_name(ea.pcb->state),
                   ea.pcb->snd_una, ea.pcb->snd_nxt, ea.pcb->snd_max, ea.pcb->snd_wnd, ea.pcb->cwnd, ea.pcb->ssthresh,
                   (unsigned long)ea.pcb->rto_ns);
            printf("b: %s rcv_nxt %u adv %u ooo %u rcvq %u\n", tcp_state_name(eb.pcb->state), eb.pcb->rcv_nxt,
                   eb.pcb->rcv_adv, eb.pcb->ooo_count, eb.pcb->rcvq_bytes);
        }
        if (ea.err || eb.err)
            fail_msg("seed %" PRIu64 " loss %u ppm: connection failed (%d, %d) at %" PRIu64 "/%" PRIu64, seed, loss_ppm,
                     ea.err, eb.err, ea.got, eb.got);
        if (clock_now_ns() - start > 600 * SEC || ++iter > 50000000)
            fail_msg("seed %" PRIu64 " loss %u ppm: stalled at %" PRIu64 " and %" PRIu64 " of %" PRIu64, seed, loss_ppm,
                     ea.got, eb.got, bytes);
    }
    secs = (double)(clock_now_ns() - start) / 1e9;
    n->rexmt = s.a.stats.tcp_rexmt + s.b.stats.tcp_rexmt;
    n->rto = s.a.stats.tcp_rto + s.b.stats.tcp_rto;
    n->fast = s.a.stats.tcp_fast_rexmt + s.b.stats.tcp_fast_rexmt;
    n->tlp = s.a.stats.tcp_tlp + s.b.stats.tcp_tlp;
    n->rack = s.a.stats.tcp_rack_loss + s.b.stats.tcp_rack_loss;
    if (loss_ppm && n->rexmt == 0)
        fail_msg("seed %" PRIu64 ": %u ppm loss and no retransmission (a: rto %" PRIu64 " fast %" PRIu64
                 ", link dropped %" PRIu64 ")",
                 seed, loss_ppm, s.a.stats.tcp_rto, s.a.stats.tcp_fast_rexmt, simlink_fault_stats(s.link)->dropped);
    if (!loss_ppm)
        assert_int_equal(n->rexmt, 0);
    /* Orderly close both ways: FINs, EOF on each side, TIME_WAIT ends. */
    tcp_close(ea.pcb);
    while (!eb.eof) {
        sim_step(&s, clock_now_ns() + SEC);
        ep_drain(&eb, seed);
        if (clock_now_ns() - start > 1200 * SEC)
            fail_msg("seed %" PRIu64 ": FIN never arrived", seed);
    }
    tcp_close(eb.pcb);
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0) {
        sim_step(&s, clock_now_ns() + 10 * SEC);
        if (clock_now_ns() - start > 1400 * SEC)
            fail_msg("seed %" PRIu64 ": connections never went away (%u, %u left)", seed, s.a.tcp.npcbs, s.b.tcp.npcbs);
    }
    sim_stop(&s);
    return secs;
}

/*
 * A send that fails for want of a buffer, with nothing in flight: no ACK
 * will come to call tcp_output again, so the retransmission timer must
 * (the soak test found connections stalled for ever with their data
 * queued once the pool had run dry). The data buffer is taken, then every
 * other small buffer; the push builds no segment. The buffers come back,
 * and within an RTO the bytes arrive, byte for byte.
 */
static void test_send_without_buffers_retried(void **state)
{
    struct fault_params f = {.seed = test_seed(41), .delay_ns = 10 * US};
    struct sim s;
    struct ep ca = {.seed = 3}, sb = {.seed = 4, .peer_seed = 3};
    struct dbuf *hoard = NULL, *d, *data;
    (void)state;

    sim_start(&s, &f, NULL);
    connect_pair(&s, &ca, &sb, 7000);
    data = mem_alloc(&s.mem, 1000);
    assert_non_null(data);
    for (uint32_t i = 0; i < 1000; i++)
        data->data[i] = pattern(3, i);
    while ((d = mem_alloc(&s.mem, 1000)) != NULL) {
        d->next = hoard;
        hoard = d;
    }
    assert_int_equal(tcp_send(ca.pcb, data), 0);
    assert_true(s.a.stats.mem_drop_nobuf > 0);
    assert_int_equal(ca.pcb->snd_max, ca.pcb->snd_una); /* nothing went */
    assert_true(tcp_rexmt_armed(ca.pcb));
    dbuf_chain_put(hoard);
    while (sb.got < 1000) {
        sim_step(&s, clock_now_ns() + SEC);
        ep_drain(&sb, s.seed);
        if (clock_now_ns() > 100 * SEC)
            fail_msg("the queued bytes never went (%" PRIu64 " arrived)", sb.got);
    }
    tcp_abort(ca.pcb);
    tcp_abort(sb.pcb);
    sim_stop(&s);
}

static void run_matrix_row(uint32_t loss_ppm, uint64_t dflt_seed)
{
    uint64_t seed = test_seed(dflt_seed);
    uint64_t mib = getenv("SIM_MIB") ? strtoull(getenv("SIM_MIB"), NULL, 0) : 64;
    struct bulk_counts n;
    double secs = bulk_both_ways(seed, loss_ppm, mib << 20, NULL, &n);

    printf("tcp sim: %" PRIu64 " MiB each way, loss %.1f%% (+dup, corrupt, reorder): %.3f s virtual, "
           "%" PRIu64 " retransmissions, %" PRIu64 " RTOs, seed %" PRIu64 "\n",
           mib, loss_ppm / 10000.0, secs, n.rexmt, n.rto, seed);
}

/*
 * RACK-TLP's rows (RFC 8985): the same transfer with SACK and timestamps,
 * RACK-TLP off then on, from one seed. Time-based loss detection and tail
 * loss probes must leave fewer losses to the retransmission timer; both
 * runs deliver every byte (bulk_both_ways checks them).
 */
static void run_rack_rows(uint32_t loss_ppm, uint64_t dflt_seed)
{
    uint64_t seed = test_seed(dflt_seed);
    uint64_t mib = getenv("SIM_MIB") ? strtoull(getenv("SIM_MIB"), NULL, 0) : 16;
    struct tcp_params tp = sim_tcp_params();
    struct bulk_counts off, on;
    double t_off, t_on;

    tp.sack = tp.timestamps = tp.window_scaling = true;
    tp.rack = false;
    t_off = bulk_both_ways(seed, loss_ppm, mib << 20, &tp, &off);
    tp.rack = true;
    t_on = bulk_both_ways(seed, loss_ppm, mib << 20, &tp, &on);
    printf("tcp sim, SACK: %" PRIu64 " MiB each way, loss %.1f%%: RACK-TLP off: %.3f s, %" PRIu64
           " retransmissions, %" PRIu64 " RTOs, %" PRIu64 " fast retransmits; on: %.3f s, %" PRIu64
           " retransmissions, %" PRIu64 " RTOs, %" PRIu64 " fast retransmits, %" PRIu64 " probes, %" PRIu64
           " RACK losses; seed %" PRIu64 "\n",
           mib, loss_ppm / 10000.0, t_off, off.rexmt, off.rto, off.fast, t_on, on.rexmt, on.rto, on.fast, on.tlp,
           on.rack, seed);
    assert_true(on.rack > 0);
    assert_true(on.rto < off.rto || off.rto == 0);
}

static void test_bulk_rack_1pct(void **state)
{
    (void)state;
    run_rack_rows(10000, 14);
}

static void test_bulk_rack_5pct(void **state)
{
    (void)state;
    run_rack_rows(50000, 15);
}

static void test_bulk_clean(void **state)
{
    (void)state;
    run_matrix_row(0, 11);
}

static void test_bulk_1pct(void **state)
{
    (void)state;
    run_matrix_row(10000, 12);
}

static void test_bulk_5pct(void **state)
{
    (void)state;
    run_matrix_row(50000, 13);
}

/* ---- a thousand connections --------------------------------------------- */

struct conn {
    struct ep c, s;
};

static void test_1000_connections(void **state)
{
    const int n = 1000;
    struct fault_params f = {.seed = test_seed(21), .delay_ns = 10 * US};
    struct sim s;
    struct conn *cs = calloc((size_t)n, sizeof(*cs));
    struct tcp_pcb *l;
    int accepted = 0, done = 0;
    (void)state;

    sim_start(&s, &f, NULL);
    l = tcp_pcb_new(&s.b, NULL, NULL);
    assert_int_equal(tcp_bind(l, 0, htons(80)), 0);
    assert_int_equal(tcp_listen(l, (uint32_t)n), 0);
    for (int i = 0; i < n; i++) {
        cs[i].c =
            (struct ep){.seed = 100 + (uint64_t)i, .to_send = 1000, .peer_seed = 5000 + (uint64_t)i, .to_recv = 2000};
        cs[i].c.pcb = tcp_pcb_new(&s.a, &cs[i].c, ep_upcall);
        assert_int_equal(tcp_connect(cs[i].c.pcb, inet_addr("10.0.0.2"), htons(80)), 0);
    }
    /* Server: accept, read 1000 bytes, answer 2000 (told apart by the
     * client's port), close. Clients: send, read, close. */
    while (done < n) {
        struct tcp_pcb *p;
        while ((p = tcp_accept(l, NULL, ep_upcall)) != NULL) {
            int i = 0; /* the client with that port (RFC 6056: not in order) */
            while (i < n && !(cs[i].c.pcb && cs[i].c.pcb->local_port == p->remote_port))
                i++;
            assert_true(i < n);
            cs[i].s = (struct ep){
                .pcb = p, .seed = 5000 + (uint64_t)i, .to_send = 2000, .peer_seed = 100 + (uint64_t)i, .to_recv = 1000};
            p->owner = &cs[i].s;
            accepted++;
        }
        done = 0;
        for (int i = 0; i < n; i++) {
            struct conn *c = &cs[i];
            if (c->c.connected)
                ep_fill(&c->c, &s.mem, 1000);
            if (c->c.pcb) {
                ep_drain(&c->c, s.seed);
                if (c->c.got == 2000 && c->c.eof) {
                    tcp_close(c->c.pcb);
                    c->c.pcb = NULL;
                }
            }
            if (c->s.pcb) {
                ep_drain(&c->s, s.seed);
                if (c->s.got == 1000)
                    ep_fill(&c->s, &s.mem, 2000);
                if (c->s.sent == 2000 && !c->s.connected) {
                    c->s.connected = true; /* reused as "closed" */
                    tcp_close(c->s.pcb);
                }
            }
            assert_int_equal(c->c.err, 0);
            done += c->c.pcb == NULL && c->s.connected;
        }
        sim_step(&s, clock_now_ns() + SEC);
        if (clock_now_ns() > 300 * SEC)
            fail_msg("seed %" PRIu64 ": stalled, %d of %d done, %d accepted", s.seed, done, n, accepted);
    }
    assert_int_equal(accepted, n);
    tcp_close(l);
    /* TIME_WAIT (2 MSL) ends; then nothing is left. */
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0) {
        sim_step(&s, clock_now_ns() + 10 * SEC);
        if (clock_now_ns() > 600 * SEC)
            fail_msg("%u + %u control blocks left", s.a.tcp.npcbs, s.b.tcp.npcbs);
    }
    assert_int_equal(s.a.stats.tcp_conn_active, n);
    assert_int_equal(s.b.stats.tcp_conn_passive, n);
    sim_stop(&s);
    free(cs);
}

/*
 * A listener whose children end every way a lossy link allows: 300
 * handshakes over 25 % loss with tcp.syn_retries = 2, so SYN-ACKs time out
 * (the child dies in SYN-RECEIVED while its client may think it is
 * connected: its data then meets a RST), handshake ACKs are lost and
 * resent, clients give up. sim_step checks the listener's counts after
 * every step; at the end both are zero and one more client, once the link
 * is quiet, still gets in.
 */
static void test_listener_children_under_loss(void **state)
{
    const int n = 300;
    struct fault_params f = {.seed = test_seed(33), .loss_ppm = 250000, .delay_ns = 10 * US};
    struct tcp_params tp = sim_tcp_params();
    struct sim s;
    struct ep *cl = calloc((size_t)n, sizeof(*cl));
    struct tcp_pcb *l, *p;
    int ended = 0, accepted = 0;
    (void)state;

    tp.syn_retries = 2;
    tp.max_retries = 3;
    tp.msl_ns = 100 * MS;

    sim_start(&s, &f, &tp);
    l = tcp_pcb_new(&s.b, NULL, NULL);
    assert_int_equal(tcp_bind(l, 0, htons(80)), 0);
    assert_int_equal(tcp_listen(l, 8), 0);
    for (int i = 0; i < n; i++) {
        cl[i] = (struct ep){.seed = 7 + (uint64_t)i, .to_send = 100};
        cl[i].pcb = tcp_pcb_new(&s.a, &cl[i], ep_upcall);
        assert_int_equal(tcp_connect(cl[i].pcb, IP_B, htons(80)), 0);
    }
    /* Accept in small bites (the backlog of 8 overflows too) and close each
     * at once with a reset; clients push once connected and close when
     * done or failed. */
    while (ended < n) {
        int k = 0;
        while (k++ < 4 && (p = tcp_accept(l, NULL, NULL)) != NULL) {
            accepted++;
            p->linger_zero = true;
            tcp_close(p);
        }
        ended = 0;
        for (int i = 0; i < n; i++) {
            struct ep *e = &cl[i];
            if (e->pcb && e->connected && e->sent == 0)
                ep_fill(e, &s.mem, 100);
            if (e->pcb && (e->err || (e->sent && e->pcb->snd_una == e->pcb->snd_max))) {
                tcp_close(e->pcb);
                e->pcb = NULL;
            }
            ended += e->pcb == NULL;
        }
        sim_step(&s, clock_now_ns() + SEC);
        if (clock_now_ns() > 600 * SEC)
            fail_msg("seed %" PRIu64 ": stalled, %d of %d clients ended", s.seed, ended, n);
    }
    /* Let every half-open child time out. */
    while (l->syn_count > 0 && clock_now_ns() < 700 * SEC)
        sim_step(&s, clock_now_ns() + SEC);
    while ((p = tcp_accept(l, NULL, NULL)) != NULL) {
        accepted++;
        tcp_abort(p);
    }
    assert_int_equal(l->syn_count, 0);
    assert_int_equal(l->accept_count, 0);
    assert_true(s.b.stats.tcp_conn_timeout > 0); /* the case of fault 1 happened */
    print_message("seed %" PRIu64 ": %d accepted, %" PRIu64 " half-open timed out, %" PRIu64 " accept overflows\n",
                  s.seed, accepted, s.b.stats.tcp_conn_timeout, s.b.stats.tcp_accept_overflow);
    tcp_close(l);
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0) {
        sim_step(&s, clock_now_ns() + SEC);
        if (clock_now_ns() > 900 * SEC)
            fail_msg("seed %" PRIu64 ": %u + %u control blocks left", s.seed, s.a.tcp.npcbs, s.b.tcp.npcbs);
    }
    sim_stop(&s);
    free(cl);
}

/*
 * Local ports (issue 11, fault 3). Connects are O(1) each however many
 * connections exist (the old search scanned every connection for every
 * candidate port: after 16 k connections one connect took seconds); one
 * local port serves many destinations (RFC 6056), so 40000 connections
 * to 4 destinations fit in 16384 ephemeral ports; a full destination fails
 * at once with EADDRNOTAVAIL; bind() conflicts are found without a scan.
 */
static void test_ports_many_connections(void **state)
{
    const int n = 40000, batch = 4000;
    struct fault_params f = {.seed = test_seed(5), .loss_ppm = 1000000}; /* the wire eats every SYN */
    struct sim s;
    struct tcp_pcb **pcbs = calloc((size_t)n + 1, sizeof(*pcbs));
    double first = 0, last = 0;
    struct tcp_pcb *b1, *b2;
    (void)state;

    sim_start(&s, &f, NULL);
    for (int i = 0; i < n; i++) {
        struct timespec t0, t1;
        if (i % batch == 0)
            clock_gettime(CLOCK_MONOTONIC, &t0);
        pcbs[i] = tcp_pcb_new(&s.a, NULL, NULL);
        assert_non_null(pcbs[i]);
        pcbs[i]->owner = pcbs; /* attached: stays in SYN_SENT */
        if (tcp_connect(pcbs[i], IP_B + ((uint32_t)(i % 4) << 24), htons(80)) != 0)
            fail_msg("connect %d failed", i);
        if (i % batch == batch - 1) {
            double dt;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
            if (i < batch)
                first = dt;
            last = dt;
        }
    }
    print_message("%d connects: first %d took %.1f ms, last %d took %.1f ms\n", n, batch, first * 1e3, batch,
                  last * 1e3);
    /* O(1) each: the last batch costs what the first did (10x is noise room,
     * the scan it replaces cost 1000x). */
    assert_true(last < 10 * first + 0.005);
    /* A fifth destination still has every port; the four are full at 10000
     * each (16384 would fit): one more to one of them still works. */
    pcbs[n] = tcp_pcb_new(&s.a, NULL, NULL);
    pcbs[n]->owner = pcbs;
    assert_int_equal(tcp_connect(pcbs[n], IP_B, htons(80)), 0);
    /* bind(): a port a connection holds is in use; a free one is not. */
    b1 = tcp_pcb_new(&s.a, NULL, NULL);
    assert_int_equal(tcp_bind(b1, 0, pcbs[0]->local_port), EADDRINUSE);
    assert_int_equal(tcp_bind(b1, 0, htons(8080)), 0);
    b2 = tcp_pcb_new(&s.a, NULL, NULL);
    assert_int_equal(tcp_bind(b2, 0, htons(8080)), EADDRINUSE);
    b2->reuseaddr = true; /* a bound port is no TIME_WAIT */
    assert_int_equal(tcp_bind(b2, 0, htons(8080)), EADDRINUSE);
    /* bind() to port 0 wants a port nobody holds: 40000 connections hold
     * all 16384 (connect shares them; a bound port is not shared). */
    assert_int_equal(tcp_bind(b2, 0, 0), EADDRNOTAVAIL);
    tcp_close(b1);
    tcp_close(b2);
    for (int i = 0; i <= n; i++) {
        pcbs[i]->owner = NULL;
        tcp_close(pcbs[i]);
    }
    for (int i = 0; i < 65536; i++)
        if (s.a.tcp.port_users[i] || s.a.tcp.port_excl[i])
            fail_msg("port %d still held (%u, %u)", i, s.a.tcp.port_users[i], s.a.tcp.port_excl[i]);
    sim_stop(&s);
    free(pcbs);
}

/* One destination whose 16384 ephemeral ports are all taken: the next
 * connect fails at once with EADDRNOTAVAIL, and works again once one is
 * freed. */
static void test_ports_exhausted(void **state)
{
    const int n = 16384;
    struct fault_params f = {.seed = test_seed(6), .loss_ppm = 1000000};
    struct sim s;
    struct tcp_pcb **pcbs = calloc((size_t)n + 1, sizeof(*pcbs));
    struct tcp_pcb *extra;
    (void)state;

    sim_start(&s, &f, NULL);
    for (int i = 0; i < n; i++) {
        pcbs[i] = tcp_pcb_new(&s.a, pcbs, NULL);
        assert_int_equal(tcp_connect(pcbs[i], IP_B, htons(80)), 0);
    }
    extra = tcp_pcb_new(&s.a, pcbs, NULL);
    assert_int_equal(tcp_connect(extra, IP_B, htons(80)), EADDRNOTAVAIL);
    tcp_close(extra);
    pcbs[7]->owner = NULL;
    tcp_close(pcbs[7]);
    extra = tcp_pcb_new(&s.a, pcbs, NULL);
    assert_int_equal(tcp_connect(extra, IP_B, htons(80)), 0);
    pcbs[7] = extra;
    for (int i = 0; i < n; i++) {
        pcbs[i]->owner = NULL;
        tcp_close(pcbs[i]);
    }
    sim_stop(&s);
    free(pcbs);
}

/*
 * TIME_WAIT and its 4-tuple (RFC 6191). The client closes first and keeps
 * the tuple in TIME_WAIT. A new connect from the same bound port to the same
 * server is refused (EADDRINUSE) while the old one is younger than a second
 * and taken over after (timestamps were on): the server, holding nothing,
 * accepts it, and the bytes flow.
 */
static void test_time_wait_reuse(void **state)
{
    struct fault_params f = {.seed = test_seed(8), .delay_ns = 10 * US};
    struct tcp_params tp = sim_tcp_params();
    struct sim s;
    struct ep ca = {.seed = 1, .to_send = 0}, sb = {.seed = 2};
    struct tcp_pcb *c2, *l, *a2;
    uint16_t port;
    (void)state;

    tp.timestamps = tp.sack = tp.window_scaling = true;
    sim_start(&s, &f, &tp);
    connect_pair(&s, &ca, &sb, 80);
    port = ca.pcb->local_port;
    /* A bind over the TIME_WAIT needs SO_REUSEADDR on both sides: Linux's
     * TIME_WAIT keeps the socket's (tw_reuse). Without: test_tcp_bind_reuse. */
    ca.pcb->reuseaddr = true;
    tcp_close(ca.pcb);
    while (!sb.eof) {
        sim_step(&s, clock_now_ns() + MS);
        ep_drain(&sb, s.seed);
    }
    tcp_close(sb.pcb);
    while (s.b.tcp.npcbs > 0)
        sim_step(&s, clock_now_ns() + MS);
    assert_int_equal(s.a.tcp.npcbs, 1); /* the client's TIME_WAIT */

    l = tcp_pcb_new(&s.b, NULL, NULL);
    assert_int_equal(tcp_bind(l, 0, htons(80)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    c2 = tcp_pcb_new(&s.a, NULL, NULL);
    c2->reuseaddr = true;
    assert_int_equal(tcp_bind(c2, 0, port), 0); /* SO_REUSEADDR over TIME_WAIT */
    assert_int_equal(tcp_connect(c2, IP_B, htons(80)), EADDRINUSE);
    clock_advance(SEC);
    assert_int_equal(tcp_connect(c2, IP_B, htons(80)), 0);
    assert_int_equal(s.a.stats.tcp_time_wait_reused, 1);
    while (!(a2 = tcp_accept(l, NULL, NULL))) {
        sim_step(&s, clock_now_ns() + MS);
        if (clock_now_ns() > 100 * SEC)
            fail_msg("the new incarnation never connected");
    }
    tcp_abort(a2);
    tcp_close(l);
    tcp_abort(c2);
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0)
        sim_step(&s, clock_now_ns() + SEC);
    sim_stop(&s);
}

static int pool_owner; /* a non-NULL owner: a failed connect stays for us to see */

static void pool_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    (void)pcb;
    (void)ev;
}

/*
 * The pcb pool, tcp.max_connections = 4 on both stacks. A's fifth socket is
 * refused at once; on B the listener and three children fill the pool, so
 * the fourth client's SYN and both its retries are dropped and counted
 * (tcp_pcb_exhausted), no half-open child kept, until it fails with
 * ETIMEDOUT. When everything has ended both pools hold every pcb again, and
 * a new connection gets in.
 */
static void test_pcb_pool_exhausted(void **state)
{
    struct fault_params f = {.seed = test_seed(41), .delay_ns = 10 * US};
    struct tcp_params tp = sim_tcp_params();
    struct tcp_pcb *l, *c[4], *acc[3], *x;
    struct sim s;
    int n = 0;
    (void)state;

    tp.max_connections = 4;
    tp.syn_retries = 2;
    tp.msl_ns = 100 * MS;
    sim_start(&s, &f, &tp);
    l = tcp_pcb_new(&s.b, &pool_owner, pool_upcall);
    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(80)), 0);
    assert_int_equal(tcp_listen(l, 8), 0);
    for (int i = 0; i < 4; i++) {
        c[i] = tcp_pcb_new(&s.a, &pool_owner, pool_upcall);
        assert_non_null(c[i]);
        assert_int_equal(tcp_connect(c[i], IP_B, htons(80)), 0);
    }
    assert_null(tcp_pcb_new(&s.a, NULL, NULL));
    assert_int_equal(s.a.stats.tcp_pcb_exhausted, 1);
    assert_int_equal(s.a.tcp.pcbs.in_use, 4);

    while (n < 3) {
        sim_step(&s, clock_now_ns() + MS);
        while (n < 3 && (x = tcp_accept(l, &pool_owner, pool_upcall)))
            acc[n++] = x;
        if (clock_now_ns() > 10 * SEC)
            fail_msg("%d of 3 connections accepted", n);
    }
    assert_int_equal(s.b.tcp.pcbs.in_use, 4);
    assert_int_equal(c[3]->state, TCPS_SYN_SENT);
    while (c[3]->state != TCPS_CLOSED) {
        sim_step(&s, clock_now_ns() + 10 * MS);
        if (clock_now_ns() > 60 * SEC)
            fail_msg("the fourth connect never gave up");
    }
    assert_int_equal(c[3]->err, ETIMEDOUT);
    assert_int_equal(s.b.stats.tcp_pcb_exhausted, 1 + tp.syn_retries);
    assert_int_equal(l->syn_count, 0);
    assert_int_equal(s.b.tcp.pcbs.in_use, 4);

    for (int i = 0; i < 3; i++) {
        tcp_close(c[i]);
        tcp_close(acc[i]);
    }
    tcp_close(c[3]);
    tcp_close(l);
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0) {
        sim_step(&s, clock_now_ns() + 10 * MS);
        if (clock_now_ns() > 120 * SEC)
            fail_msg("%u + %u control blocks left", s.a.tcp.npcbs, s.b.tcp.npcbs);
    }
    /* Every pcb back: none in use, each one handed out is on the free stack. */
    assert_int_equal(s.a.tcp.pcbs.in_use, 0);
    assert_int_equal(s.b.tcp.pcbs.in_use, 0);
    assert_int_equal(s.a.tcp.pcbs.nfree, s.a.tcp.pcbs.next);
    assert_int_equal(s.b.tcp.pcbs.nfree, s.b.tcp.pcbs.next);

    /* And they serve again. */
    l = tcp_pcb_new(&s.b, &pool_owner, pool_upcall);
    assert_int_equal(tcp_bind(l, 0, htons(81)), 0);
    assert_int_equal(tcp_listen(l, 8), 0);
    c[0] = tcp_pcb_new(&s.a, &pool_owner, pool_upcall);
    assert_int_equal(tcp_connect(c[0], IP_B, htons(81)), 0);
    while (!(x = tcp_accept(l, &pool_owner, pool_upcall))) {
        sim_step(&s, clock_now_ns() + MS);
        if (clock_now_ns() > 200 * SEC)
            fail_msg("no connection after the pool was refilled");
    }
    assert_int_equal(c[0]->state, TCPS_ESTABLISHED);
    tcp_abort(x);
    tcp_abort(c[0]);
    tcp_close(l);
    while (s.a.tcp.npcbs + s.b.tcp.npcbs > 0)
        sim_step(&s, clock_now_ns() + 10 * MS);
    assert_int_equal(s.a.tcp.pcbs.in_use + s.b.tcp.pcbs.in_use, 0);
    sim_stop(&s);
}

/* Every state but CLOSING (a simultaneous close, pinned by
 * close_simultaneous.pkt) went through sim_check_row in the tests above. */
static void test_conn_rows_every_state(void **state)
{
    const enum tcp_state want[] = {TCPS_LISTEN,      TCPS_SYN_SENT,   TCPS_SYN_RECEIVED,
                                   TCPS_ESTABLISHED, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2,
                                   TCPS_CLOSE_WAIT,  TCPS_LAST_ACK,   TCPS_TIME_WAIT};
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        if (!(sim_states_seen & (1u << want[i])))
            fail_msg("no connection row was checked in %s", tcp_state_name(want[i]));
}

/* A device slower than the sender and a window larger than the stack's
 * transmit queue: the frames pile up in that queue, and once it is nearly
 * full TCP holds its data back (tcp_tx_held) instead of queueing frames the
 * stack must drop. Every byte arrives, nothing is dropped or retransmitted. */
static void test_tx_queue_backpressure(void **state)
{
    struct fault_params f = {.seed = test_seed(9), .delay_ns = 10 * US};
    struct tcp_params tp = sim_tcp_params();
    const uint64_t bytes = 24u << 20;
    struct ep ea = {.seed = 3, .to_send = bytes};
    struct ep eb = {.peer_seed = 3, .to_recv = bytes};
    struct sim s;
    uint64_t iter = 0;

    (void)state;
    tp.window_scaling = true;
    tp.nodelay = true;
    tp.sndbuf = tp.rcvbuf = 32u << 20; /* some 23 000 segments: more than INET_TXQ_LEN */
    sim_throttle_a = true;
    sim_start(&s, &f, &tp);
    sim_throttle_a = false;
    connect_pair(&s, &ea, &eb, 5009);
    while (eb.got < bytes) {
        ep_fill(&ea, &s.mem, 1400);
        sim_step(&s, clock_now_ns() + SEC);
        ep_drain(&eb, s.seed);
        assert_true(s.a.ntx <= INET_TXQ_LEN - INET_TXQ_CTL_RESERVE + INET_TX_BATCH);
        if (ea.err || eb.err || ++iter > 20000000 || clock_now_ns() > 100 * SEC)
            fail_msg("seed %" PRIu64 ": stalled at %" PRIu64 " of %" PRIu64 " (errors %d, %d)", s.seed, eb.got, bytes,
                     ea.err, eb.err);
    }
    assert_true(s.a.stats.tcp_tx_held > 0);
    assert_int_equal(s.a.stats.eth_drop_tx_full, 0);
    assert_int_equal(s.a.stats.tcp_rexmt, 0);
    assert_true(list_empty(&s.a.tcp.txwait));
    tcp_abort(ea.pcb);
    tcp_abort(eb.pcb);
    sim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_clean),
        cmocka_unit_test(test_bulk_1pct),
        cmocka_unit_test(test_bulk_5pct),
        cmocka_unit_test(test_bulk_rack_1pct),
        cmocka_unit_test(test_bulk_rack_5pct),
        cmocka_unit_test(test_1000_connections),
        cmocka_unit_test(test_send_without_buffers_retried),
        cmocka_unit_test(test_listener_children_under_loss),
        cmocka_unit_test(test_ports_many_connections),
        cmocka_unit_test(test_ports_exhausted),
        cmocka_unit_test(test_time_wait_reuse),
        cmocka_unit_test(test_pcb_pool_exhausted),
        cmocka_unit_test(test_tx_queue_backpressure),
        cmocka_unit_test(test_conn_rows_every_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
