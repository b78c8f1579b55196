/* SPDX-License-Identifier: MIT */
/*
 * test_tcp6.c: TCP over IPv6 (tcp6.c) on two stacks over a simlink in
 * virtual time (tcp_sim.h): the handshake with ND resolving the peer, data
 * both ways byte for byte (clean and under loss, duplication, reordering
 * and corruption), the MSS an IPv6 connection takes (from the path MTU too),
 * a closed port's RST, dual stack (an IPv6 wildcard listener takes IPv4
 * unless IPV6_V6ONLY) and the port rules between the families. Every pcb
 * and buffer comes back (tcp_sim_stop).
 */
#include "tcp_sim.h"

#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct ep {
    struct tcp_pcb *pcb;
    uint64_t sent, got; /* stream offsets */
    uint8_t seed, peer_seed;
    bool bad;
};

static uint8_t pattern(uint8_t seed, uint64_t i)
{
    return (uint8_t)(seed * 31u + i * 7u + (i >> 11));
}

static int owner; /* a pcb with an owner is not freed behind the test's back */

static void ep_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    (void)pcb;
    (void)ev;
}

static void ep_drain(struct ep *e)
{
    struct dbuf *d;

    while ((d = tcp_recv(e->pcb)) != NULL) {
        for (uint32_t i = 0; i < d->len; i++)
            if (d->data[i] != pattern(e->peer_seed, e->got + i))
                e->bad = true;
        e->got += d->len;
        dbuf_put(d);
    }
}

/* Queue up to @total bytes in pushes of at most 16 KiB while there is room. */
static void ep_fill(struct tcp_sim *s, struct ep *e, uint64_t total)
{
    while (e->sent < total && tcp_send_space(e->pcb) >= 16384) {
        uint32_t n = (uint32_t)MIN(16384u, total - e->sent);
        struct dbuf *d = mem_alloc(&s->mem, n);
        assert_non_null(d);
        for (uint32_t i = 0; i < n; i++)
            d->data[i] = pattern(e->seed, e->sent + i);
        assert_int_equal(tcp_send(e->pcb, d), 0);
        e->sent += n;
    }
}

static void start(struct tcp_sim *s, const struct fault_params *f)
{
    struct inet_params p;

    inet_params_default(&p);
    tcp_sim_start(s, f, &p, 1500, NULL, NULL);
}

/* An IPv6 listener on B (@v6only as asked), bound to ::. */
static struct tcp_pcb *listen6(struct tcp_sim *s, uint16_t port, bool v6only)
{
    struct tcp_pcb *l = tcp_pcb_new(&s->b, NULL, NULL);
    static const struct in6_addr any;

    assert_non_null(l);
    l->v6 = true;
    l->v6only = v6only;
    assert_int_equal(tcp_bind6(l, &any, htons(port)), 0);
    assert_int_equal(tcp_listen(l, 16), 0);
    return l;
}

/* A on B's port @port over IPv6: both ends established. */
static void connect6(struct tcp_sim *s, uint16_t port, struct ep *a, struct ep *b)
{
    struct tcp_pcb *l = listen6(s, port, false);

    a->pcb = tcp_pcb_new(&s->a, a, ep_upcall);
    assert_non_null(a->pcb);
    a->pcb->v6 = true;
    assert_int_equal(tcp_connect6(a->pcb, &tcp_sim_ip6_b, htons(port)), 0);
    for (int i = 0; !b->pcb || a->pcb->state != TCPS_ESTABLISHED; i++) {
        assert_true(i < 100000);
        tcp_sim_step(s);
        if (!b->pcb)
            b->pcb = tcp_accept(l, b, ep_upcall);
    }
    tcp_close(l);
    assert_true(b->pcb->v6);
    assert_memory_equal(&b->pcb->remote_ip6, &tcp_sim_ip6_a, 16);
    assert_memory_equal(&b->pcb->local_ip6, &tcp_sim_ip6_b, 16);
    assert_memory_equal(&a->pcb->local_ip6, &tcp_sim_ip6_a, 16);
}

/* Both ways at once, then an orderly close; every byte checked. */
static void exchange(struct tcp_sim *s, struct ep *a, struct ep *b, uint64_t bytes)
{
    for (uint64_t i = 0; a->got < bytes || b->got < bytes; i++) {
        assert_true(i < 20000000);
        ep_fill(s, a, bytes);
        ep_fill(s, b, bytes);
        tcp_sim_step(s);
        ep_drain(a);
        ep_drain(b);
        assert_int_equal(a->pcb->err, 0);
        assert_int_equal(b->pcb->err, 0);
    }
    assert_false(a->bad);
    assert_false(b->bad);
    assert_int_equal(a->got, bytes);
    assert_int_equal(b->got, bytes);
    tcp_close(a->pcb);
    tcp_close(b->pcb);
    for (int i = 0; s->a.tcp.npcbs + s->b.tcp.npcbs > 0; i++) {
        assert_true(i < 1000000);
        tcp_sim_step(s);
    }
}

static void test_tcp6_bulk_clean(void **state)
{
    struct fault_params f = {.seed = 61, .delay_ns = 10 * US};
    struct ep a = {.seed = 1, .peer_seed = 2}, b = {.seed = 2, .peer_seed = 1};
    struct tcp_sim s;
    (void)state;

    start(&s, &f);
    connect6(&s, 8080, &a, &b);
    /* The MSS of IPv6 at MTU 1500: 1440, less the timestamps' 12. */
    assert_int_equal(a.pcb->mss, 1500 - IPV6_HLEN - TCP_HLEN - 12);
    assert_int_equal(b.pcb->mss, 1500 - IPV6_HLEN - TCP_HLEN - 12);
    exchange(&s, &a, &b, 4u << 20);
    /* All of it over IPv6; ND, not ARP, found the peers. */
    assert_int_equal(s.a.stats.ipv4_tx + s.b.stats.ipv4_tx, 0);
    assert_true(s.a.stats.tcp_tx > 2900 && s.b.stats.tcp_tx > 2900);
    assert_int_equal(s.a.stats.tcp_drop_csum + s.b.stats.tcp_drop_csum, 0);
    assert_int_equal(s.a.stats.tcp_rexmt + s.b.stats.tcp_rexmt, 0);
    tcp_sim_stop(&s);
}

static void test_tcp6_bulk_lossy(void **state)
{
    struct fault_params f = {.seed = 62,
                             .loss_ppm = 10000,
                             .dup_ppm = 5000,
                             .corrupt_ppm = 5000,
                             .reorder_ppm = 10000,
                             .delay_ns = 20 * US,
                             .jitter_ns = 5 * US,
                             .rate_bps = 1250000000ull};
    struct ep a = {.seed = 3, .peer_seed = 4}, b = {.seed = 4, .peer_seed = 3};
    struct tcp_sim s;
    (void)state;

    start(&s, &f);
    connect6(&s, 8081, &a, &b);
    exchange(&s, &a, &b, 4u << 20);
    printf("tcp6 sim, 4 MiB each way, loss 1%% (+dup, corrupt, reorder): %" PRIu64 " retransmissions, %" PRIu64
           " RTOs, %" PRIu64 " bad checksums dropped\n",
           s.a.stats.tcp_rexmt + s.b.stats.tcp_rexmt, s.a.stats.tcp_rto + s.b.stats.tcp_rto,
           s.a.stats.tcp_drop_csum + s.b.stats.tcp_drop_csum);
    assert_true(s.a.stats.tcp_rexmt + s.b.stats.tcp_rexmt > 0);
    assert_true(s.a.stats.tcp_drop_csum + s.b.stats.tcp_drop_csum > 0); /* corruption caught by the v6 checksum */
    tcp_sim_stop(&s);
}

/* A Packet Too Big lowered the path MTU: a new connection's MSS follows. */
static void test_tcp6_mss_from_path_mtu(void **state)
{
    struct fault_params f = {.seed = 63, .delay_ns = 10 * US};
    struct ep a = {.seed = 5, .peer_seed = 6}, b = {.seed = 6, .peer_seed = 5};
    struct tcp_sim s;
    (void)state;

    start(&s, &f);
    ipv6_pmtu_update(&s.a, &tcp_sim_ip6_b, 1280);
    connect6(&s, 8082, &a, &b);
    assert_int_equal(a.pcb->mss, 1280 - IPV6_HLEN - TCP_HLEN - 12);
    exchange(&s, &a, &b, 256u << 10);
    tcp_sim_stop(&s);
}

/* A Packet Too Big (from "a router": B's address here) to A about the
 * segment at @seq of A's connection, saying @mtu. */
static void inject_ptb(struct tcp_sim *s, const struct tcp_pcb *pcb, uint32_t seq, uint32_t mtu)
{
    uint8_t f[ETH_HLEN + IPV6_HLEN + 8 + IPV6_HLEN + TCP_HLEN];
    struct ipv6_hdr *ip = (struct ipv6_hdr *)(f + ETH_HLEN), *inner;
    struct icmp6_hdr *h = (struct icmp6_hdr *)(ip + 1);
    struct tcp_hdr *th;
    struct csum c;
    struct dbuf *d;

    memset(f, 0, sizeof(f));
    memcpy(f, tcp_sim_mac_a, 6);
    memcpy(f + 6, tcp_sim_mac_b, 6);
    f[12] = 0x86, f[13] = 0xdd;
    ip->vtc_flow = htonl(6u << 28);
    ip->payload_len = htons(8 + IPV6_HLEN + TCP_HLEN);
    ip->next = IPV6_NH_ICMPV6;
    ip->hop_limit = 64;
    memcpy(ip->src, &tcp_sim_ip6_b, 16);
    memcpy(ip->dst, &tcp_sim_ip6_a, 16);
    h->type = ICMP6_PACKET_TOO_BIG;
    h->data = htonl(mtu);
    inner = (struct ipv6_hdr *)(h + 1);
    inner->vtc_flow = htonl(6u << 28);
    inner->payload_len = htons(1460);
    inner->next = IPV6_NH_TCP;
    inner->hop_limit = 64;
    memcpy(inner->src, &pcb->local_ip6, 16);
    memcpy(inner->dst, &pcb->remote_ip6, 16);
    th = (struct tcp_hdr *)(inner + 1);
    th->sport = pcb->local_port;
    th->dport = pcb->remote_port;
    th->seq = htonl(seq);
    csum_init(&c);
    csum_add_pseudo6(&c, ip->src, ip->dst, IPV6_NH_ICMPV6, 8 + IPV6_HLEN + TCP_HLEN);
    csum_add(&c, h, 8 + IPV6_HLEN + TCP_HLEN);
    h->csum = csum_finish(&c);
    d = mem_alloc(&s->mem, sizeof(f));
    assert_non_null(d);
    memcpy(d->data, f, sizeof(f)); /* mem_alloc's buffer holds sizeof(f) bytes */
    eth_input(&s->a, d);
}

/* Packet Too Big mid-transfer (RFC 8201, RFC 5927): about a segment in
 * flight it lowers the connection's MSS at once and the data in flight is
 * resent in the new size, every byte arriving; about data already
 * acknowledged, or not smaller, it is ignored and counted. */
static void test_tcp6_packet_too_big(void **state)
{
    struct fault_params f = {.seed = 67, .delay_ns = 20 * US};
    struct ep a = {.seed = 7, .peer_seed = 8}, b = {.seed = 8, .peer_seed = 7};
    struct tcp_sim s;
    (void)state;

    start(&s, &f);
    connect6(&s, 8085, &a, &b);
    ep_fill(&s, &a, 1u << 20);
    for (int i = 0; a.pcb->snd_max - a.pcb->snd_una < 8 * a.pcb->mss; i++) {
        assert_true(i < 1000);
        tcp_sim_step(&s);
        ep_fill(&s, &a, 1u << 20);
    }
    inject_ptb(&s, a.pcb, a.pcb->snd_una - 1, 1280); /* acknowledged already */
    assert_int_equal(s.a.stats.tcp_pmtu_ignored, 1);
    assert_int_equal(a.pcb->mss, 1500 - IPV6_HLEN - TCP_HLEN - 12);
    inject_ptb(&s, a.pcb, a.pcb->snd_una + a.pcb->mss, 1280);
    assert_int_equal(s.a.stats.tcp_pmtu_lowered, 1);
    assert_int_equal(a.pcb->mss, 1280 - IPV6_HLEN - TCP_HLEN - 12);
    assert_int_equal(ipv6_path_mtu(&s.a, &tcp_sim_ip6_b), 1280);
    assert_true(s.a.stats.tcp_rexmt > 0);        /* resent from SND.UNA at once */
    inject_ptb(&s, a.pcb, a.pcb->snd_una, 1400); /* not smaller */
    assert_int_equal(s.a.stats.tcp_pmtu_ignored, 2);
    exchange(&s, &a, &b, 1u << 20);
    tcp_sim_stop(&s);
}

/* No listener: the SYN gets a RST over IPv6, the connect ECONNREFUSED. */
static void test_tcp6_refused(void **state)
{
    struct fault_params f = {.seed = 64, .delay_ns = 10 * US};
    struct tcp_sim s;
    struct tcp_pcb *c;
    (void)state;

    start(&s, &f);
    c = tcp_pcb_new(&s.a, &owner, ep_upcall);
    assert_non_null(c);
    assert_int_equal(tcp_connect6(c, &tcp_sim_ip6_b, htons(9)), EAFNOSUPPORT); /* not an IPv6 socket */
    c->v6 = true;
    assert_int_equal(tcp_connect6(c, &in6addr_any, htons(9)), ENETUNREACH);
    assert_int_equal(tcp_connect6(c, &tcp_sim_ip6_b, htons(9)), 0);
    for (int i = 0; c->state != TCPS_CLOSED; i++) {
        assert_true(i < 100000);
        tcp_sim_step(&s);
    }
    assert_int_equal(c->err, ECONNREFUSED);
    assert_int_equal(s.b.stats.tcp_tx_rst, 1);
    tcp_abort(c);
    tcp_sim_stop(&s);
}

/* An IPv6 wildcard listener without IPV6_V6ONLY takes IPv4 (the child is
 * an IPv4 connection); with it, an IPv4 SYN finds no listener. */
static void test_tcp6_dual_stack(void **state)
{
    struct fault_params f = {.seed = 65, .delay_ns = 10 * US};
    struct tcp_sim s;
    struct tcp_pcb *l, *c, *child = NULL;
    (void)state;

    start(&s, &f);
    l = listen6(&s, 8083, false);
    c = tcp_pcb_new(&s.a, &owner, ep_upcall);
    assert_int_equal(tcp_connect(c, inet_addr("10.0.0.2"), htons(8083)), 0);
    for (int i = 0; !child || c->state != TCPS_ESTABLISHED; i++) {
        assert_true(i < 100000);
        tcp_sim_step(&s);
        if (!child)
            child = tcp_accept(l, &owner, ep_upcall);
    }
    assert_false(child->v6);
    assert_int_equal(child->remote_ip, inet_addr("10.0.0.1"));
    tcp_abort(child);
    tcp_abort(c);
    tcp_close(l);

    l = listen6(&s, 8084, true);
    c = tcp_pcb_new(&s.a, &owner, ep_upcall);
    assert_int_equal(tcp_connect(c, inet_addr("10.0.0.2"), htons(8084)), 0);
    for (int i = 0; c->state != TCPS_CLOSED; i++) {
        assert_true(i < 100000);
        tcp_sim_step(&s);
    }
    assert_int_equal(c->err, ECONNREFUSED);
    assert_null(tcp_accept(l, &owner, ep_upcall));
    tcp_abort(c);
    tcp_close(l);
    for (int i = 0; s.a.tcp.npcbs + s.b.tcp.npcbs > 0; i++) {
        assert_true(i < 1000000);
        tcp_sim_step(&s);
    }
    tcp_sim_stop(&s);
}

/* One port space, Linux's overlap rule: IPv4 and an IPV6_V6ONLY socket
 * share a port, IPv4 and a dual-stack one do not; an address not ours is
 * refused. */
static void test_tcp6_port_families(void **state)
{
    struct fault_params f = {.seed = 66};
    struct tcp_sim s;
    struct tcp_pcb *v4, *v6, *dual;
    struct in6_addr other;
    (void)state;

    start(&s, &f);
    v4 = tcp_pcb_new(&s.b, NULL, NULL);
    v6 = tcp_pcb_new(&s.b, NULL, NULL);
    dual = tcp_pcb_new(&s.b, NULL, NULL);
    v6->v6 = dual->v6 = true;
    v6->v6only = true;
    assert_int_equal(tcp_bind6(v4, &in6addr_any, htons(80)), EAFNOSUPPORT);
    assert_int_equal(tcp_bind(v4, 0, htons(80)), 0);
    assert_int_equal(tcp_bind6(v6, &in6addr_any, htons(80)), 0);
    assert_int_equal(tcp_bind6(dual, &in6addr_any, htons(80)), EADDRINUSE);
    inet_pton(AF_INET6, "2001:db8::99", &other);
    assert_int_equal(tcp_bind6(dual, &other, htons(81)), EADDRNOTAVAIL);
    assert_int_equal(tcp_bind6(dual, &tcp_sim_ip6_b, htons(81)), 0);
    tcp_abort(v4);
    tcp_abort(v6);
    tcp_abort(dual);
    tcp_sim_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp6_bulk_clean),        cmocka_unit_test(test_tcp6_bulk_lossy),
        cmocka_unit_test(test_tcp6_mss_from_path_mtu), cmocka_unit_test(test_tcp6_refused),
        cmocka_unit_test(test_tcp6_dual_stack),        cmocka_unit_test(test_tcp6_port_families),
        cmocka_unit_test(test_tcp6_packet_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
