/* SPDX-License-Identifier: MIT */
/*
 * test_net_parse.c: the stack below TCP (Ethernet, ARP, IPv4, ICMP, UDP) fed
 * hand-built frames and watched through a "sink" netdev that keeps what the
 * stack transmits. Three kinds of checks:
 *
 *   - round trips: what udp_output, an echo reply or an ARP reply puts on the
 *     wire is parsed back field by field, checksums verified with an
 *     independent reference implementation of RFC 1071;
 *   - every malformed input class is dropped, exactly the right counter of
 *     struct inet_stats goes up by one, no other counter moves (apart from
 *     the per-layer *_rx), nothing is sent or delivered and no buffer leaks;
 *   - ARP in virtual time: retries, give-up, flush on reply, pending limit,
 *     expiry, permanent entries.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "core/clock.h"
#include "mem/dbuf.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define NS_PER_S 1000000000ull
#define ARP_TIMEOUT_NS (1 * NS_PER_S)
#define ARP_TTL_NS (15 * NS_PER_S)
#define ARP_RETRIES 2
#define FRAME_MAX 2048
#define SINK_MAX 256
#define MY_PORT 5000

static const uint8_t my_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t other_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
static const uint8_t bcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[ETH_ALEN];

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d);
}

#define MY_IP ip4(10, 0, 0, 1)
#define PEER_IP ip4(10, 0, 0, 2)
#define OTHER_IP ip4(10, 0, 0, 3)

/* ---- the sink device ---------------------------------------------------- */

struct sink {
    struct netdev dev;
    struct mem *mem;
    struct dbuf *frames[SINK_MAX];
    unsigned n;
    unsigned cap; /* frames it accepts before it reports a full queue */
};

static uint16_t sink_rx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    (void)dev;
    (void)frames;
    (void)n;
    return 0;
}

static uint16_t sink_tx_burst(struct netdev *dev, struct dbuf **frames, uint16_t n)
{
    struct sink *sk = container_of(dev, struct sink, dev);
    uint16_t i;

    for (i = 0; i < n && sk->n < sk->cap; i++)
        sk->frames[sk->n++] = frames[i]; /* takes the reference */
    return i;
}

static void sink_destroy(struct netdev *dev)
{
    (void)dev;
}

static const struct netdev_ops sink_ops = {
    .rx_burst = sink_rx_burst,
    .tx_burst = sink_tx_burst,
    .destroy = sink_destroy,
};

/* ---- fixture ------------------------------------------------------------- */

struct ctx {
    struct mem mem;
    struct sink sink;
    struct inet_stack s;
    struct udp_sock u;  /* bound to MY_PORT on any address */
    struct udp_sock u2; /* for tests that need a second socket */
    int u2_live;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct inet_params p;

    if (!c)
        return -1;
    clock_set_virtual(1000000);
    if (mem_init(&c->mem, 4096, 4, 0) != 0) /* room to fill the ARP table */
        return -1;
    c->sink.dev.ops = &sink_ops;
    snprintf(c->sink.dev.name, sizeof(c->sink.dev.name), "sink");
    memcpy(c->sink.dev.mac, my_mac, ETH_ALEN);
    c->sink.dev.mtu = 1500;
    c->sink.mem = &c->mem;
    c->sink.cap = SINK_MAX;
    inet_params_default(&p);
    p.ip = MY_IP;
    p.arp_retries = ARP_RETRIES;
    p.arp_timeout_ns = ARP_TIMEOUT_NS;
    p.arp_ttl_ns = ARP_TTL_NS;
    p.prefix_len = 24; /* 10.0.0.255 is our subnet's broadcast */
    if (inet_stack_init(&c->s, &c->sink.dev, &c->mem, &p) != 0)
        return -1;
    if (udp_sock_init(&c->u, 8) != 0 || udp_bind(&c->s, &c->u, 0, htons(MY_PORT)) != 0)
        return -1;
    *state = c;
    return 0;
}

static void sink_clear(struct ctx *c)
{
    for (unsigned i = 0; i < c->sink.n; i++)
        dbuf_chain_put(c->sink.frames[i]);
    c->sink.n = 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    uint32_t in_use;

    udp_sock_fini(&c->s, &c->u);
    if (c->u2_live)
        udp_sock_fini(&c->s, &c->u2);
    inet_stack_fini(&c->s);
    sink_clear(c);
    in_use = mem_in_use(&c->mem);
    mem_fini(&c->mem);
    free(c);
    clock_set_real();
    if (in_use != 0) {
        print_error("leak: %u buffers still in use after the test\n", in_use);
        return -1;
    }
    return 0;
}

/* Buffers the sink holds (a frame may be a chain). */
static uint32_t sink_bufs(const struct ctx *c)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < c->sink.n; i++)
        for (const struct dbuf *d = c->sink.frames[i]; d; d = d->next)
            n++;
    return n;
}

/* Frame @i of the sink, flattened into @out; its length. */
static size_t sink_frame(const struct ctx *c, unsigned i, uint8_t *out)
{
    size_t n = 0;

    assert_true(i < c->sink.n);
    for (const struct dbuf *d = c->sink.frames[i]; d; d = d->next) {
        assert_true(n + d->len <= FRAME_MAX);
        memcpy(out + n, d->data, d->len);
        n += d->len;
    }
    return n;
}

/* ---- reference checksum (RFC 1071, big-endian words, no tricks) --------- */

static uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Checksum of @len bytes, host order value (store it big-endian). */
static uint16_t ref_csum(const void *p, size_t len)
{
    return ref_fold(ref_sum(0, p, len));
}

static uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint8_t ph[12];
    memcpy(ph, &src, 4);
    memcpy(ph + 4, &dst, 4);
    ph[8] = 0;
    ph[9] = proto;
    ph[10] = (uint8_t)(len >> 8);
    ph[11] = (uint8_t)len;
    return ref_sum(0, ph, sizeof(ph));
}

/* ---- frame builders ------------------------------------------------------ */

struct pkt {
    uint8_t b[FRAME_MAX];
    size_t len;
};

static struct eth_hdr *ETH(struct pkt *p)
{
    return (struct eth_hdr *)p->b;
}

static struct ipv4_hdr *IPH(struct pkt *p)
{
    return (struct ipv4_hdr *)(p->b + ETH_HLEN);
}

static size_t ihl_of(struct pkt *p)
{
    return (size_t)(IPH(p)->ver_ihl & 0xf) * 4;
}

static uint8_t *L4(struct pkt *p)
{
    return p->b + ETH_HLEN + ihl_of(p);
}

static struct udp_hdr *UDPH(struct pkt *p)
{
    return (struct udp_hdr *)L4(p);
}

static struct icmp_echo_hdr *ICMPH(struct pkt *p)
{
    return (struct icmp_echo_hdr *)L4(p);
}

static struct arp_hdr *ARPH(struct pkt *p)
{
    return (struct arp_hdr *)(p->b + ETH_HLEN);
}

static void mk_eth(struct pkt *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(ETH(p)->dst, dst, ETH_ALEN);
    memcpy(ETH(p)->src, src, ETH_ALEN);
    ETH(p)->type = htons(type);
    p->len = ETH_HLEN;
}

static void ip_fix_csum(struct pkt *p)
{
    IPH(p)->csum = 0;
    IPH(p)->csum = htons(ref_csum(IPH(p), ihl_of(p)));
}

/* Ethernet (peer -> us) + IPv4 with @optlen bytes of options + @l4. */
static void mk_ipv4_opts(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *opts, size_t optlen,
                         const void *l4, size_t l4len)
{
    struct ipv4_hdr *ip;
    size_t ihl = IPV4_HLEN + optlen;

    assert_true(optlen % 4 == 0 && ihl <= 60 && ETH_HLEN + ihl + l4len <= FRAME_MAX);
    memset(p->b, 0, sizeof(p->b));
    mk_eth(p, my_mac, peer_mac, ETH_TYPE_IPV4);
    ip = IPH(p);
    ip->ver_ihl = (uint8_t)(0x40 | (ihl / 4));
    ip->tos = 0;
    ip->total_len = htons((uint16_t)(ihl + l4len));
    ip->id = htons(0x1234);
    ip->frag = htons(IPV4_FLAG_DF);
    ip->ttl = 64;
    ip->proto = proto;
    ip->src = src;
    ip->dst = dst;
    if (optlen)
        memcpy(p->b + ETH_HLEN + IPV4_HLEN, opts, optlen);
    if (l4len)
        memcpy(p->b + ETH_HLEN + ihl, l4, l4len);
    ip_fix_csum(p);
    p->len = ETH_HLEN + ihl + l4len;
}

static void mk_ipv4(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t l4len)
{
    mk_ipv4_opts(p, src, dst, proto, NULL, 0, l4, l4len);
}

static void udp_fix_csum(struct pkt *p)
{
    struct udp_hdr *uh = UDPH(p);
    uint16_t len = ntohs(uh->len);
    uint16_t sum;

    uh->csum = 0;
    sum = ref_fold(ref_sum(ref_pseudo(IPH(p)->src, IPH(p)->dst, IPV4_PROTO_UDP, len), (const uint8_t *)uh, len));
    uh->csum = htons(sum == 0 ? 0xffff : sum);
}

static void mk_udp(struct pkt *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const void *payload,
                   size_t plen)
{
    uint8_t l4[FRAME_MAX];
    struct udp_hdr *uh = (struct udp_hdr *)l4;

    uh->sport = htons(sport);
    uh->dport = htons(dport);
    uh->len = htons((uint16_t)(UDP_HLEN + plen));
    uh->csum = 0;
    if (plen)
        memcpy(l4 + UDP_HLEN, payload, plen);
    mk_ipv4(p, src, dst, IPV4_PROTO_UDP, l4, UDP_HLEN + plen);
    udp_fix_csum(p);
}

static void icmp_fix_csum(struct pkt *p)
{
    size_t len = ntohs(IPH(p)->total_len) - ihl_of(p);
    ICMPH(p)->csum = 0;
    ICMPH(p)->csum = htons(ref_csum(ICMPH(p), len));
}

static void mk_icmp(struct pkt *p, uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq,
                    const void *payload, size_t plen)
{
    uint8_t l4[FRAME_MAX];
    struct icmp_echo_hdr *h = (struct icmp_echo_hdr *)l4;

    h->type = type;
    h->code = 0;
    h->csum = 0;
    h->id = htons(id);
    h->seq = htons(seq);
    if (plen)
        memcpy(l4 + sizeof(*h), payload, plen);
    mk_ipv4(p, src, dst, IPV4_PROTO_ICMP, l4, sizeof(*h) + plen);
    icmp_fix_csum(p);
}

static void mk_arp(struct pkt *p, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha, uint32_t spa,
                   const uint8_t *tha, uint32_t tpa)
{
    struct arp_hdr *a;

    memset(p->b, 0, sizeof(p->b));
    mk_eth(p, eth_dst, sha, ETH_TYPE_ARP);
    a = ARPH(p);
    a->htype = htons(ARP_HTYPE_ETHER);
    a->ptype = htons(ETH_TYPE_IPV4);
    a->hlen = ETH_ALEN;
    a->plen = 4;
    a->op = htons(op);
    memcpy(a->sha, sha, ETH_ALEN);
    a->spa = spa;
    memcpy(a->tha, tha, ETH_ALEN);
    a->tpa = tpa;
    p->len = ETH_HLEN + sizeof(*a);
}

/* ---- feeding and checking ------------------------------------------------ */

/* Copy @len bytes into a buffer from the pool (data at the headroom) and run
 * it through eth_input, then one poll (flushes what the stack sent). */
static void feed_bytes(struct ctx *c, const uint8_t *b, size_t len)
{
    struct dbuf *d = mem_alloc(&c->mem, len ? (uint32_t)len : 1);

    assert_non_null(d);
    assert_ptr_equal(d->data, d->buf + DBUF_HEADROOM);
    d->len = (uint32_t)len;
    if (len)
        memcpy(d->data, b, len);
    eth_input(&c->s, d);
    inet_stack_poll(&c->s);
}

static void feed(struct ctx *c, const struct pkt *p)
{
    feed_bytes(c, p->b, p->len);
}

static const struct {
    const char *name;
    size_t off;
} stat_fields[] = {
#define STAT_FIELD(name, help) {#name, offsetof(struct inet_stats, name)},
    INET_STATS(STAT_FIELD)
#undef STAT_FIELD
};

static uint64_t stat_get(const struct inet_stats *st, size_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)st + off, sizeof(v));
    return v;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Counter @name moved by exactly @n; every other counter but the *_rx ones
 * (which count arrivals at each layer) did not move at all. */
static void check_only(const struct inet_stats *before, const struct inet_stats *after, const char *name, uint64_t n)
{
    int seen = 0;

    for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
        uint64_t delta = stat_get(after, stat_fields[i].off) - stat_get(before, stat_fields[i].off);
        if (strcmp(stat_fields[i].name, name) == 0) {
            seen = 1;
            if (delta != n)
                fail_msg("counter %s moved by %llu, expected %llu", name, (unsigned long long)delta,
                         (unsigned long long)n);
        } else if (!ends_with(stat_fields[i].name, "_rx") && delta != 0) {
            fail_msg("counter %s moved by %llu (expected only %s)", stat_fields[i].name,
                     (unsigned long long)delta, name);
        }
    }
    if (!seen)
        fail_msg("no counter named %s", name);
}

/* Feed @p, expect it dropped and counted in @counter, nothing sent, nothing
 * delivered to the bound socket, no buffer kept by the stack. */
static void expect_drop(struct ctx *c, const struct pkt *p, const char *counter)
{
    struct inet_stats before = c->s.stats;
    unsigned ntx = c->sink.n;

    feed(c, p);
    check_only(&before, &c->s.stats, counter, 1);
    assert_int_equal(c->sink.n, ntx);
    assert_int_equal(c->u.rxq_len, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void expect_drop_bytes(struct ctx *c, const uint8_t *b, size_t len, const char *counter)
{
    struct pkt p;
    assert_true(len <= FRAME_MAX);
    memcpy(p.b, b, len);
    p.len = len;
    expect_drop(c, &p, counter);
}

/* A datagram queued on @u: check it, free it. */
static void expect_datagram(struct udp_sock *u, uint32_t src, uint16_t sport, const void *payload, size_t plen)
{
    struct dbuf *d = udp_recv(u);

    assert_non_null(d);
    assert_int_equal(d->len, plen);
    assert_null(d->next);
    if (plen)
        assert_memory_equal(d->data, payload, plen);
    assert_int_equal(d->meta32, src);
    assert_int_equal(d->meta64, htons(sport));
    dbuf_put(d);
}

/* Parsed view of a captured IPv4 frame after the generic checks. */
struct parsed {
    uint8_t b[FRAME_MAX];
    size_t len;
    const struct eth_hdr *eth;
    const struct ipv4_hdr *ip;
    const uint8_t *l4;
    size_t l4len;
};

/* Frame @i must be a well-formed IPv4 packet from us to @dst_ip / @dst_mac. */
static void parse_ipv4(const struct ctx *c, unsigned i, struct parsed *ps, const uint8_t *dst_mac, uint32_t dst_ip,
                       uint8_t proto)
{
    uint16_t frag;

    ps->len = sink_frame(c, i, ps->b);
    assert_true(ps->len >= ETH_HLEN + IPV4_HLEN);
    ps->eth = (const struct eth_hdr *)ps->b;
    assert_memory_equal(ps->eth->dst, dst_mac, ETH_ALEN);
    assert_memory_equal(ps->eth->src, my_mac, ETH_ALEN);
    assert_int_equal(ntohs(ps->eth->type), ETH_TYPE_IPV4);
    ps->ip = (const struct ipv4_hdr *)(ps->b + ETH_HLEN);
    assert_int_equal(ps->ip->ver_ihl >> 4, 4);
    assert_int_equal(ps->ip->ver_ihl & 0xf, 5);
    assert_int_equal(ntohs(ps->ip->total_len), ps->len - ETH_HLEN);
    frag = ntohs(ps->ip->frag);
    assert_true(frag & IPV4_FLAG_DF);
    assert_int_equal(frag & (IPV4_FLAG_MF | IPV4_FRAG_OFF_MASK), 0);
    assert_int_equal(ps->ip->ttl, 64);
    assert_int_equal(ps->ip->proto, proto);
    assert_int_equal(ref_csum(ps->ip, IPV4_HLEN), 0);
    assert_int_equal(ps->ip->src, MY_IP);
    assert_int_equal(ps->ip->dst, dst_ip);
    ps->l4 = ps->b + ETH_HLEN + IPV4_HLEN;
    ps->l4len = ps->len - ETH_HLEN - IPV4_HLEN;
}

static void parse_udp(const struct ctx *c, unsigned i, const uint8_t *dst_mac, uint32_t dst_ip, uint16_t sport,
                      uint16_t dport, const uint8_t *payload, size_t plen)
{
    struct parsed ps;
    const struct udp_hdr *uh;

    parse_ipv4(c, i, &ps, dst_mac, dst_ip, IPV4_PROTO_UDP);
    assert_int_equal(ps.l4len, UDP_HLEN + plen);
    uh = (const struct udp_hdr *)ps.l4;
    assert_int_equal(ntohs(uh->sport), sport);
    assert_int_equal(ntohs(uh->dport), dport);
    assert_int_equal(ntohs(uh->len), UDP_HLEN + plen);
    assert_int_not_equal(uh->csum, 0);
    assert_int_equal(ref_fold(ref_sum(ref_pseudo(MY_IP, dst_ip, IPV4_PROTO_UDP, (uint16_t)ps.l4len), ps.l4, ps.l4len)),
                     0);
    if (plen)
        assert_memory_equal(ps.l4 + UDP_HLEN, payload, plen);
}

/* Frame @i must be an ARP request from us for @tpa, sent to @eth_dst
 * (broadcast to resolve, the peer's MAC to re-confirm). */
static void parse_arp_request_to(const struct ctx *c, unsigned i, uint32_t tpa, const uint8_t *eth_dst)
{
    uint8_t b[FRAME_MAX];
    size_t len = sink_frame(c, i, b);
    const struct eth_hdr *eh = (const struct eth_hdr *)b;
    const struct arp_hdr *a = (const struct arp_hdr *)(b + ETH_HLEN);

    assert_int_equal(len, ETH_HLEN + sizeof(*a));
    assert_memory_equal(eh->dst, eth_dst, ETH_ALEN);
    assert_memory_equal(eh->src, my_mac, ETH_ALEN);
    assert_int_equal(ntohs(eh->type), ETH_TYPE_ARP);
    assert_int_equal(ntohs(a->htype), ARP_HTYPE_ETHER);
    assert_int_equal(ntohs(a->ptype), ETH_TYPE_IPV4);
    assert_int_equal(a->hlen, 6);
    assert_int_equal(a->plen, 4);
    assert_int_equal(ntohs(a->op), ARP_OP_REQUEST);
    assert_memory_equal(a->sha, my_mac, ETH_ALEN);
    assert_int_equal(a->spa, MY_IP);
    assert_memory_equal(a->tha, zero_mac, ETH_ALEN);
    assert_int_equal(a->tpa, tpa);
}

static void parse_arp_request(const struct ctx *c, unsigned i, uint32_t tpa)
{
    parse_arp_request_to(c, i, tpa, bcast_mac);
}

static struct dbuf *payload_buf(struct ctx *c, const uint8_t *b, size_t len)
{
    struct dbuf *d = mem_alloc(&c->mem, (uint32_t)len);
    assert_non_null(d);
    memcpy(d->data, b, len);
    return d;
}

static void send_udp(struct ctx *c, uint32_t dst, uint16_t dport, const uint8_t *b, size_t len)
{
    assert_int_equal(udp_output(&c->s, &c->u, payload_buf(c, b, len), dst, htons(dport)), 0);
}

/* A permanent ARP entry, checked at once: a wrong MAC here would otherwise
 * surface as a wrong destination in every round trip that relies on it. */
static void add_static(struct ctx *c, uint32_t ip, const uint8_t *mac)
{
    const uint8_t *got;

    assert_int_equal(arp_add_static(&c->s, ip, mac), 0);
    got = arp_lookup(&c->s, ip);
    assert_non_null(got);
    assert_memory_equal(got, mac, ETH_ALEN);
}

static void fill_pattern(uint8_t *b, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(i * 7 + seed);
}

/* ======================================================================= */
/* Round trips                                                              */
/* ======================================================================= */

static void test_udp_output_roundtrip(void **state)
{
    struct ctx *c = *state;
    static const uint8_t msg[] = "hello, world"; /* 13 bytes with the NUL: odd */

    add_static(c, PEER_IP, peer_mac);
    send_udp(c, PEER_IP, 7, msg, sizeof(msg));
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, msg, sizeof(msg));
    assert_int_equal(c->s.stats.udp_tx, 1);
    assert_int_equal(c->s.stats.ipv4_tx, 1);
    assert_int_equal(c->s.stats.eth_tx, 1);
    assert_int_equal(c->s.stats.arp_tx_request, 0);
}

/* Payloads over the copy threshold ride as a second segment: the checksum
 * must cover the chain, and the maximal payload still fits. */
static void test_udp_output_chain_and_max(void **state)
{
    struct ctx *c = *state;
    uint8_t big[1472];
    struct dbuf *d;

    fill_pattern(big, sizeof(big), 3);
    assert_int_equal(udp_max_payload(&c->s), 1472);
    add_static(c, PEER_IP, peer_mac);
    send_udp(c, PEER_IP, 9, big, 1001); /* odd length, chained */
    send_udp(c, PEER_IP, 9, big, sizeof(big));
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_non_null(c->sink.frames[0]->next);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 9, big, 1001);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 9, big, sizeof(big));

    /* One byte more does not fit: refused, the buffer released. */
    d = mem_alloc(&c->mem, 1473);
    assert_non_null(d);
    assert_int_equal(udp_output(&c->s, &c->u, d, PEER_IP, htons(9)), EMSGSIZE);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_udp_input_delivered(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t msg[33];
    struct inet_stats before = c->s.stats;

    fill_pattern(msg, sizeof(msg), 1);
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, msg, sizeof(msg));
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, msg, sizeof(msg));
    assert_null(udp_recv(&c->u));
    assert_int_equal(c->sink.n, 0);
}

static void test_icmp_echo_reply_roundtrip(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct parsed ps;
    const struct icmp_echo_hdr *h;
    uint8_t data[37];

    fill_pattern(data, sizeof(data), 5);
    add_static(c, PEER_IP, peer_mac);
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 0xbeef, 42, data, sizeof(data));
    feed(c, &p);
    assert_int_equal(c->s.stats.icmp_echo_request, 1);
    assert_int_equal(c->s.stats.icmp_tx, 1);
    assert_int_equal(c->sink.n, 1);
    parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
    assert_int_equal(ps.l4len, sizeof(*h) + sizeof(data));
    h = (const struct icmp_echo_hdr *)ps.l4;
    assert_int_equal(h->type, ICMP_ECHO_REPLY);
    assert_int_equal(h->code, 0);
    assert_int_equal(ntohs(h->id), 0xbeef);
    assert_int_equal(ntohs(h->seq), 42);
    assert_int_equal(ref_csum(h, ps.l4len), 0);
    assert_memory_equal(ps.l4 + sizeof(*h), data, sizeof(data));
}

struct echo_seen {
    int calls;
    uint32_t src, len;
    uint16_t id, seq;
};

static void on_echo(struct inet_stack *s, uint32_t src, uint16_t id, uint16_t seq, uint32_t len, void *arg)
{
    struct echo_seen *e = arg;
    (void)s;
    e->calls++;
    e->src = src;
    e->id = id;
    e->seq = seq;
    e->len = len;
}

/* icmp_echo_send puts a valid request on the wire; a reply reaches the hook. */
static void test_icmp_echo_request_and_reply_hook(void **state)
{
    struct ctx *c = *state;
    struct echo_seen seen = {0};
    struct parsed ps;
    const struct icmp_echo_hdr *h;
    struct pkt p;

    add_static(c, PEER_IP, peer_mac);
    assert_int_equal(icmp_echo_send(&c->s, PEER_IP, 7, 9, 21), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
    h = (const struct icmp_echo_hdr *)ps.l4;
    assert_int_equal(ps.l4len, sizeof(*h) + 21);
    assert_int_equal(h->type, ICMP_ECHO_REQUEST);
    assert_int_equal(ntohs(h->id), 7);
    assert_int_equal(ntohs(h->seq), 9);
    assert_int_equal(ref_csum(h, ps.l4len), 0);

    c->s.on_echo_reply = on_echo;
    c->s.echo_arg = &seen;
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REPLY, 7, 9, ps.l4 + sizeof(*h), 21);
    feed(c, &p);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.src, PEER_IP);
    assert_int_equal(seen.id, 7);
    assert_int_equal(seen.seq, 9);
    assert_int_equal(seen.len, 21);
    assert_int_equal(c->s.stats.icmp_echo_reply, 1);
    assert_int_equal(c->sink.n, 1); /* a reply is not answered */
}

static void test_arp_request_answered_and_learned(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    size_t len;
    const struct eth_hdr *eh = (const struct eth_hdr *)b;
    const struct arp_hdr *a = (const struct arp_hdr *)(b + ETH_HLEN);
    const uint8_t *mac;

    assert_null(arp_lookup(&c->s, PEER_IP));
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_rx, 1);
    assert_int_equal(c->s.stats.arp_tx_reply, 1);
    assert_int_equal(c->sink.n, 1);
    len = sink_frame(c, 0, b);
    assert_int_equal(len, ETH_HLEN + sizeof(*a));
    assert_memory_equal(eh->dst, peer_mac, ETH_ALEN);
    assert_memory_equal(eh->src, my_mac, ETH_ALEN);
    assert_int_equal(ntohs(eh->type), ETH_TYPE_ARP);
    assert_int_equal(ntohs(a->htype), ARP_HTYPE_ETHER);
    assert_int_equal(ntohs(a->ptype), ETH_TYPE_IPV4);
    assert_int_equal(a->hlen, 6);
    assert_int_equal(a->plen, 4);
    assert_int_equal(ntohs(a->op), ARP_OP_REPLY);
    assert_memory_equal(a->sha, my_mac, ETH_ALEN);
    assert_int_equal(a->spa, MY_IP);
    assert_memory_equal(a->tha, peer_mac, ETH_ALEN);
    assert_int_equal(a->tpa, PEER_IP);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    /* Learned: a datagram to the peer goes straight out, no request. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    assert_int_equal(c->s.stats.arp_tx_request, 0);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"x", 1);
}

/* ======================================================================= */
/* Checksum                                                                 */
/* ======================================================================= */

static void test_csum_rfc1071_vector(void **state)
{
    static const uint8_t v[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    uint8_t withsum[10];
    uint16_t r;
    uint8_t out[2];

    (void)state;
    r = inet_csum(v, sizeof(v));
    memcpy(out, &r, 2); /* stored as is: network order */
    assert_int_equal(out[0], 0x22);
    assert_int_equal(out[1], 0x0d);
    assert_int_equal(ntohs(r), 0x220d);
    assert_int_equal(ntohs((uint16_t)~r), 0xddf2); /* the folded sum */
    assert_int_equal(ref_csum(v, sizeof(v)), 0x220d);
    /* Data followed by its checksum sums to zero. */
    memcpy(withsum, v, 8);
    memcpy(withsum + 8, &r, 2);
    assert_int_equal(inet_csum(withsum, sizeof(withsum)), 0);
    /* Empty input: sum 0, checksum 0xffff. */
    assert_int_equal(inet_csum(v, 0), 0xffff);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void test_csum_pieces_randomized(void **state)
{
    uint8_t buf[1600];

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rnd() % (iter < 200 ? 16 : sizeof(buf));
        struct csum whole, parts;
        uint16_t expect;

        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        if (iter % 5 == 0) /* sums that carry a lot */
            memset(buf, 0xff, len);
        csum_init(&whole);
        csum_add(&whole, buf, len);
        expect = csum_finish(&whole);
        assert_int_equal(ntohs(expect), ref_csum(buf, len));

        /* Random splits, pieces of any length including 0 and odd. */
        for (int split = 0; split < 8; split++) {
            size_t off = 0;
            csum_init(&parts);
            while (off < len) {
                size_t n = rnd() % 4 == 0 ? 0 : rnd() % (len - off + 1);
                size_t tiny = rnd() % 5;
                if (rnd() % 2 && tiny < n)
                    n = tiny; /* many tiny odd pieces */
                csum_add(&parts, buf + off, n);
                off += n;
            }
            csum_add(&parts, buf + off, 0);
            if (csum_finish(&parts) != expect)
                fail_msg("iter %d split %d len %zu: pieces %04x, whole %04x", iter, split, len,
                         csum_finish(&parts), expect);
        }
    }
}

/* CHECKSUM_PARTIAL frames (AF_PACKET from a veth peer): the field holds the
 * pseudo-header sum (not complemented); csum_complete_partial finishes it
 * as a NIC would, and leaves alone what it cannot finish. */
static void test_csum_complete_partial(void **state)
{
    static const uint8_t payload[] = "partial checksum, odd length";
    struct pkt p, q;
    uint16_t good, len;

    (void)state;
    mk_udp(&p, PEER_IP, MY_IP, 1111, 2222, payload, sizeof(payload));
    good = UDPH(&p)->csum;
    len = ntohs(UDPH(&p)->len);
    UDPH(&p)->csum = htons(ref_fold(ref_pseudo(PEER_IP, MY_IP, IPV4_PROTO_UDP, len)) ^ 0xffff);
    assert_true(csum_complete_partial(p.b, (uint32_t)p.len));
    assert_int_equal(UDPH(&p)->csum, good);

    /* Not finishable: untouched. */
    memcpy(&q, &p, sizeof(q));
    IPH(&q)->frag = htons(IPV4_FLAG_MF); /* a first fragment */
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    assert_memory_equal(q.b + ETH_HLEN + IPV4_HLEN, p.b + ETH_HLEN + IPV4_HLEN, p.len - ETH_HLEN - IPV4_HLEN);
    memcpy(&q, &p, sizeof(q));
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len - 1)); /* truncated */
    IPH(&q)->proto = IPV4_PROTO_ICMP;
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    ETH(&q)->type = htons(ETH_TYPE_ARP);
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    assert_false(csum_complete_partial(q.b, ETH_HLEN + IPV4_HLEN - 1));
}

static void test_csum_pseudo_and_chain(void **state)
{
    struct ctx *c = *state;
    uint8_t b[301];
    struct dbuf *d1, *d2;
    struct csum s;

    fill_pattern(b, sizeof(b), 11);
    csum_init(&s);
    csum_add_pseudo(&s, PEER_IP, MY_IP, IPV4_PROTO_UDP, 301);
    csum_add(&s, b, sizeof(b));
    assert_int_equal(ntohs(csum_finish(&s)), ref_fold(ref_sum(ref_pseudo(PEER_IP, MY_IP, 17, 301), b, sizeof(b))));

    /* A chain split at an odd offset. */
    d1 = payload_buf(c, b, 101);
    d2 = payload_buf(c, b + 101, 200);
    d1->next = d2;
    csum_init(&s);
    csum_add_chain(&s, d1);
    assert_int_equal(ntohs(csum_finish(&s)), ref_csum(b, sizeof(b)));
    dbuf_chain_put(d1);
}

/* ======================================================================= */
/* Malformed: Ethernet                                                      */
/* ======================================================================= */

static void test_eth_runt(void **state)
{
    struct ctx *c = *state;
    uint8_t b[13];

    memcpy(b, my_mac, ETH_ALEN);
    memset(b + ETH_ALEN, 0xab, sizeof(b) - ETH_ALEN);
    expect_drop_bytes(c, b, 0, "eth_drop_runt");
    expect_drop_bytes(c, b, 1, "eth_drop_runt");
    expect_drop_bytes(c, b, 13, "eth_drop_runt");
}

static void test_eth_not_for_us(void **state)
{
    struct ctx *c = *state;
    static const uint8_t mcast[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 1, MY_PORT, "abc", 3);
    memcpy(ETH(&p)->dst, other_mac, ETH_ALEN);
    expect_drop(c, &p, "eth_drop_not_for_us");
    memcpy(ETH(&p)->dst, mcast, ETH_ALEN);
    expect_drop(c, &p, "eth_drop_not_for_us");
    /* A header alone, for someone else. */
    p.len = ETH_HLEN;
    expect_drop(c, &p, "eth_drop_not_for_us");
}

static void test_eth_unknown_type(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 1, MY_PORT, "abc", 3);
    ETH(&p)->type = htons(0x86dd);
    expect_drop(c, &p, "eth_drop_type");
    ETH(&p)->type = htons(0x1234);
    expect_drop(c, &p, "eth_drop_type");
    /* Exactly 14 bytes with an unknown type. */
    p.len = ETH_HLEN;
    expect_drop(c, &p, "eth_drop_type");
}

/* ======================================================================= */
/* Malformed: ARP                                                           */
/* ======================================================================= */

static void test_arp_malformed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    p.len = ETH_HLEN + 27;
    expect_drop(c, &p, "arp_drop_malformed");
    p.len = ETH_HLEN;
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->htype = htons(6);
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->ptype = htons(0x86dd);
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->hlen = 8;
    expect_drop(c, &p, "arp_drop_malformed");

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    ARPH(&p)->plen = 16;
    expect_drop(c, &p, "arp_drop_malformed");

    assert_null(arp_lookup(&c->s, PEER_IP));
}

static void test_arp_bad_op(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, 3, peer_mac, PEER_IP, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_op");
    mk_arp(&p, bcast_mac, 0, peer_mac, PEER_IP, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_op");
    assert_null(arp_lookup(&c->s, PEER_IP));
}

static void test_arp_not_for_us(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, ip4(10, 0, 0, 99));
    expect_drop(c, &p, "arp_drop_not_for_us");
    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, ip4(10, 0, 0, 99));
    expect_drop(c, &p, "arp_drop_not_for_us");
    /* Not learned: the sender was unknown and did not talk to us. */
    assert_null(arp_lookup(&c->s, PEER_IP));

    /* A sender claiming a multicast MAC or a broadcast IP is not learned. */
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, bcast_mac, PEER_IP, zero_mac, MY_IP);
    memcpy(ETH(&p)->src, peer_mac, ETH_ALEN);
    expect_drop(c, &p, "arp_drop_not_for_us");
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, IPV4_BROADCAST, zero_mac, MY_IP);
    expect_drop(c, &p, "arp_drop_not_for_us");
    assert_null(arp_lookup(&c->s, PEER_IP));
    assert_null(arp_lookup(&c->s, IPV4_BROADCAST));
}

/* ======================================================================= */
/* Malformed: IPv4                                                          */
/* ======================================================================= */

static void mk_good_udp(struct pkt *p)
{
    mk_udp(p, PEER_IP, MY_IP, 4242, MY_PORT, "payload!", 8);
}

static void test_ipv4_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    p.len = ETH_HLEN + 19;
    expect_drop(c, &p, "ipv4_drop_runt");
    p.len = ETH_HLEN;
    expect_drop(c, &p, "ipv4_drop_runt");
}

static void test_ipv4_version(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->ver_ihl = 0x65;
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_version");
}

static void test_ipv4_ihl(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    /* A bare 20-byte header, IHL 4 (16 bytes) and IHL 15 (60 > 20). */
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x44;
    expect_drop(c, &p, "ipv4_drop_ihl");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x4f;
    expect_drop(c, &p, "ipv4_drop_ihl");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    IPH(&p)->ver_ihl = 0x40;
    expect_drop(c, &p, "ipv4_drop_ihl");
}

static void test_ipv4_total_len(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->total_len = htons(19); /* below the header length */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");

    mk_good_udp(&p);
    IPH(&p)->total_len = htons((uint16_t)(p.len - ETH_HLEN + 1)); /* beyond the frame */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");

    mk_good_udp(&p);
    IPH(&p)->total_len = htons(0xffff);
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_len");
}

static void test_ipv4_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->csum ^= htons(0x0100);
    expect_drop(c, &p, "ipv4_drop_csum");
    mk_good_udp(&p);
    IPH(&p)->ttl = 63; /* field changed, checksum not */
    expect_drop(c, &p, "ipv4_drop_csum");
}

static void test_ipv4_fragment(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->frag = htons(IPV4_FLAG_MF);
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");

    mk_good_udp(&p);
    IPH(&p)->frag = htons(185); /* offset 1480, last fragment */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");

    mk_good_udp(&p);
    IPH(&p)->frag = htons(1); /* the smallest offset, DF clear */
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_fragment");
}

static void test_ipv4_ttl_zero(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_good_udp(&p);
    IPH(&p)->ttl = 0;
    ip_fix_csum(&p);
    expect_drop(c, &p, "ipv4_drop_ttl");
}

/* Martian sources (RFC 1122 3.2.1.3, RFC 1812 5.3.7), for UDP, ICMP and a
 * TCP SYN to a listener alike: dropped at IPv4, counted, nothing answered
 * (no ARP request for 127.0.0.1, no SYN-ACK to ourselves). Issue 11 fault 2. */
static void test_ipv4_bad_source(void **state)
{
    struct ctx *c = *state;
    static const uint8_t syn[20] = {0x30, 0x39, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff};
    const uint32_t martians[] = {
        IPV4_BROADCAST,        ip4(224, 0, 0, 1), ip4(239, 255, 255, 250), MY_IP,
        ip4(127, 0, 0, 1),     ip4(127, 1, 2, 3), ip4(0, 0, 0, 0),         ip4(0, 1, 2, 3),
        ip4(10, 0, 0, 255),    ip4(240, 0, 0, 1), ip4(255, 255, 255, 254),
    };
    struct tcp_pcb *l = tcp_pcb_new(&c->s, NULL, NULL);
    struct pkt p;

    assert_non_null(l);
    assert_int_equal(tcp_bind(l, 0, htons(8080)), 0);
    assert_int_equal(tcp_listen(l, 4), 0);
    for (size_t i = 0; i < ARRAY_SIZE(martians); i++) {
        mk_udp(&p, martians[i], MY_IP, 4242, MY_PORT, "x", 1);
        expect_drop(c, &p, "ipv4_drop_martian");
        mk_icmp(&p, martians[i], MY_IP, 8, 1, 1, "ping", 4);
        expect_drop(c, &p, "ipv4_drop_martian");
        mk_ipv4(&p, martians[i], MY_IP, IPV4_PROTO_TCP, syn, sizeof(syn));
        expect_drop(c, &p, "ipv4_drop_martian");
    }
    assert_int_equal(l->syn_count, 0);
    /* The host next to the broadcast address is no martian. */
    mk_udp(&p, ip4(10, 0, 0, 254), MY_IP, 4242, MY_PORT, "x", 1);
    feed(c, &p);
    assert_int_equal(c->u.rxq_len, 1);
    tcp_close(l);
}

static void test_ipv4_not_for_us(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, ip4(10, 0, 0, 99), 4242, MY_PORT, "x", 1);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
    mk_udp(&p, PEER_IP, ip4(224, 0, 0, 1), 4242, MY_PORT, "x", 1);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
}

static void test_ipv4_unknown_proto(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, 99, "0123456789", 10);
    expect_drop(c, &p, "ipv4_drop_proto");
    mk_ipv4(&p, PEER_IP, MY_IP, 255, "x", 1);
    expect_drop(c, &p, "ipv4_drop_proto");
}

/* A minimum-size Ethernet frame (60 bytes) carries a 28-byte packet: the
 * padding must be trimmed, or it would enter the UDP checksum. */
static void test_ipv4_ethernet_padding_trimmed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, NULL, 0);
    assert_int_equal(p.len, ETH_HLEN + 28);
    memset(p.b + p.len, 0xa5, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, NULL, 0);

    /* Same with a one-byte payload and odd padding. */
    mk_udp(&p, PEER_IP, MY_IP, 4243, MY_PORT, "z", 1);
    memset(p.b + p.len, 0x5a, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    expect_datagram(&c->u, PEER_IP, 4243, "z", 1);
    assert_int_equal(c->s.stats.udp_drop_csum, 0);
}

/* ICMP checksums its whole IP payload: padding left in would break it, and
 * the reply must be exactly as long as the request, not the frame. */
static void test_ipv4_padding_trimmed_icmp(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    size_t len;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p); /* learn the peer: the reply goes straight out */
    sink_clear(c);
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 3, 4, "pad", 3);
    assert_int_equal(p.len, ETH_HLEN + 31);
    memset(p.b + p.len, 0xee, 60 - p.len);
    p.len = 60;
    feed(c, &p);
    assert_int_equal(c->s.stats.icmp_drop_csum, 0);
    assert_int_equal(c->s.stats.icmp_echo_request, 1);
    assert_int_equal(c->sink.n, 1);
    len = sink_frame(c, 0, b);
    assert_int_equal(len, ETH_HLEN + 31);
    assert_int_equal(ntohs(((const struct ipv4_hdr *)(b + ETH_HLEN))->total_len), 31);
    assert_int_equal(ref_csum(b + ETH_HLEN + IPV4_HLEN, 11), 0);
}

static void test_ipv4_options_skipped(void **state)
{
    struct ctx *c = *state;
    static const uint8_t opts[4] = {0x01, 0x01, 0x01, 0x00}; /* NOP NOP NOP EOL */
    uint8_t l4[UDP_HLEN + 5];
    struct udp_hdr *uh = (struct udp_hdr *)l4;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    uh->sport = htons(4242);
    uh->dport = htons(MY_PORT);
    uh->len = htons(sizeof(l4));
    uh->csum = 0;
    memcpy(l4 + UDP_HLEN, "opts!", 5);
    mk_ipv4_opts(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, opts, sizeof(opts), l4, sizeof(l4));
    assert_int_equal(ihl_of(&p), 24);
    udp_fix_csum(&p);
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, "opts!", 5);

    /* And an echo request with options is answered with a plain header. */
    {
        uint8_t icmp[8 + 4] = {ICMP_ECHO_REQUEST, 0, 0, 0, 0, 1, 0, 2, 'p', 'i', 'n', 'g'};
        struct parsed ps;
        add_static(c, PEER_IP, peer_mac);
        mk_ipv4_opts(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, opts, sizeof(opts), icmp, sizeof(icmp));
        icmp_fix_csum(&p);
        feed(c, &p);
        assert_int_equal(c->sink.n, 1);
        parse_ipv4(c, 0, &ps, peer_mac, PEER_IP, IPV4_PROTO_ICMP);
        assert_int_equal(ps.l4len, sizeof(icmp));
        assert_int_equal(ps.l4[0], ICMP_ECHO_REPLY);
        assert_int_equal(ref_csum(ps.l4, ps.l4len), 0);
        assert_memory_equal(ps.l4 + 4, icmp + 4, sizeof(icmp) - 4);
    }
}

/* ======================================================================= */
/* Malformed: UDP                                                           */
/* ======================================================================= */

static void test_udp_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, "\x10\x92\x13\x88\x00\x08\x00", 7);
    expect_drop(c, &p, "udp_drop_runt");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_UDP, NULL, 0);
    expect_drop(c, &p, "udp_drop_runt");
}

static void test_udp_bad_length(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(7);
    expect_drop(c, &p, "udp_drop_len");

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(0);
    expect_drop(c, &p, "udp_drop_len");

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(UDP_HLEN + 5); /* one more than the IP payload */
    expect_drop(c, &p, "udp_drop_len");

    /* Longer than the IP payload though the frame (padding) has the bytes. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->len = htons(UDP_HLEN + 10);
    memset(p.b + p.len, 0, 6);
    p.len += 6;
    expect_drop(c, &p, "udp_drop_len");
}

static void test_udp_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    UDPH(&p)->csum ^= htons(0x0001);
    if (UDPH(&p)->csum == 0)
        UDPH(&p)->csum = htons(0x1234);
    expect_drop(c, &p, "udp_drop_csum");

    /* Payload altered. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    p.b[p.len - 1] ^= 0x40;
    expect_drop(c, &p, "udp_drop_csum");

    /* The pseudo-header counts: same datagram, claimed from another source. */
    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
    IPH(&p)->src = OTHER_IP;
    ip_fix_csum(&p);
    expect_drop(c, &p, "udp_drop_csum");
}

static void test_udp_no_checksum_accepted(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before = c->s.stats;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "nocsum", 6);
    UDPH(&p)->csum = 0;
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_rx", 1);
    expect_datagram(&c->u, PEER_IP, 4242, "nocsum", 6);
}

static void test_udp_no_port(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT + 1, "abcd", 4);
    expect_drop(c, &p, "udp_drop_no_port");
}

static void test_udp_queue_full(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before;

    assert_int_equal(udp_sock_init(&c->u2, 2), 0);
    c->u2_live = 1;
    assert_int_equal(udp_bind(&c->s, &c->u2, 0, htons(6000)), 0);
    for (int i = 0; i < 2; i++) {
        uint8_t m = (uint8_t)('a' + i);
        mk_udp(&p, PEER_IP, MY_IP, (uint16_t)(4000 + i), 6000, &m, 1);
        feed(c, &p);
    }
    assert_int_equal(c->u2.rxq_len, 2);
    before = c->s.stats;
    mk_udp(&p, PEER_IP, MY_IP, 4002, 6000, "c", 1);
    feed(c, &p);
    check_only(&before, &c->s.stats, "udp_drop_queue_full", 1);
    assert_int_equal(c->u2.rx_dropped, 1);
    assert_int_equal(c->u2.rxq_len, 2);
    /* The first two, in order; the third was dropped, not queued. */
    expect_datagram(&c->u2, PEER_IP, 4000, "a", 1);
    expect_datagram(&c->u2, PEER_IP, 4001, "b", 1);
    assert_null(udp_recv(&c->u2));
    assert_int_equal(mem_in_use(&c->mem), 0);
}

/* ======================================================================= */
/* Malformed: ICMP                                                          */
/* ======================================================================= */

static void test_icmp_runt(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, "\x08\x00\xf7\xff", 4);
    expect_drop(c, &p, "icmp_drop_runt");
    mk_ipv4(&p, PEER_IP, MY_IP, IPV4_PROTO_ICMP, "\x08\x00\xf7\xff\x00\x00\x00", 7);
    expect_drop(c, &p, "icmp_drop_runt");
}

static void test_icmp_bad_csum(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    ICMPH(&p)->csum ^= htons(0x0200);
    expect_drop(c, &p, "icmp_drop_csum");
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    p.b[p.len - 1] ^= 1; /* the odd last byte */
    expect_drop(c, &p, "icmp_drop_csum");
}

static void test_icmp_unhandled_type(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, MY_IP, 13, 1, 1, "timestamp...", 12);
    expect_drop(c, &p, "icmp_drop_type");
    /* An echo request with a non-zero code is not an echo request. */
    mk_icmp(&p, PEER_IP, MY_IP, ICMP_ECHO_REQUEST, 1, 1, "abc", 3);
    ICMPH(&p)->code = 1;
    icmp_fix_csum(&p);
    expect_drop(c, &p, "icmp_drop_type");
}

static void test_icmp_broadcast_not_answered(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_icmp(&p, PEER_IP, IPV4_BROADCAST, ICMP_ECHO_REQUEST, 1, 1, "smurf", 5);
    memcpy(ETH(&p)->dst, bcast_mac, ETH_ALEN);
    expect_drop(c, &p, "ipv4_drop_not_for_us");
    assert_int_equal(c->s.stats.icmp_echo_request, 0);
}

/* ======================================================================= */
/* ARP in virtual time                                                       */
/* ======================================================================= */

static void test_arp_resolution_retries_and_timeout(void **state)
{
    struct ctx *c = *state;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"wait", 4);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request(c, 0, OTHER_IP);
    assert_int_equal(c->s.stats.arp_tx_request, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + 1); /* the packet waits */
    assert_null(arp_lookup(&c->s, OTHER_IP));

    /* Not a nanosecond early. */
    clock_advance(ARP_TIMEOUT_NS - 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    clock_advance(1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_arp_request(c, 1, OTHER_IP);

    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3); /* retries exhausted: 1 + 2 requests */
    parse_arp_request(c, 2, OTHER_IP);
    assert_int_equal(c->s.stats.arp_timeout, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + 1);

    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    assert_int_equal(c->s.stats.arp_tx_request, 3);
    assert_int_equal(c->s.stats.arp_timeout, 1);
    assert_int_equal(c->s.stats.arp_drop_pending, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c)); /* freed */
    assert_null(arp_lookup(&c->s, OTHER_IP));

    /* Nothing more is armed. */
    clock_advance(100 * ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);

    /* A new attempt starts over with one request. */
    send_udp(c, OTHER_IP, 7, (const uint8_t *)"again", 5);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 4);
    parse_arp_request(c, 3, OTHER_IP);
}

static void test_arp_reply_flushes_pending(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"one", 3);
    send_udp(c, OTHER_IP, 8, (const uint8_t *)"two", 3);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1); /* one request for both */
    parse_arp_request(c, 0, OTHER_IP);

    clock_advance(ARP_TIMEOUT_NS / 2);
    inet_stack_poll(&c->s);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_resolved, 1);
    assert_int_equal(c->sink.n, 3);
    parse_udp(c, 1, other_mac, OTHER_IP, MY_PORT, 7, (const uint8_t *)"one", 3);
    parse_udp(c, 2, other_mac, OTHER_IP, MY_PORT, 8, (const uint8_t *)"two", 3);
    mac = arp_lookup(&c->s, OTHER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, other_mac, ETH_ALEN);

    /* No more retries after the resolution. */
    clock_advance(5 * ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    assert_int_equal(c->s.stats.arp_tx_request, 1);
    assert_int_equal(c->s.stats.arp_timeout, 0);
    assert_int_equal(c->s.stats.arp_drop_pending, 0);
}

static void test_arp_pending_full(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    struct inet_stats before;

    for (int i = 0; i < ARP_PENDING_MAX; i++) {
        uint8_t m = (uint8_t)i;
        send_udp(c, OTHER_IP, (uint16_t)(100 + i), &m, 1);
    }
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    before = c->s.stats;
    send_udp(c, OTHER_IP, 999, (const uint8_t *)"!", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_drop_pending_full, before.arp_drop_pending_full + 1);
    assert_int_equal(c->s.stats.arp_tx_request, before.arp_tx_request); /* no second request */
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c) + ARP_PENDING_MAX);

    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1 + ARP_PENDING_MAX);
    for (int i = 0; i < ARP_PENDING_MAX; i++) {
        uint8_t m = (uint8_t)i;
        parse_udp(c, (unsigned)(1 + i), other_mac, OTHER_IP, MY_PORT, (uint16_t)(100 + i), &m, 1);
    }
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

static void test_arp_learned_entry_expires(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    clock_advance(ARP_TTL_NS - 1);
    inet_stack_poll(&c->s);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 0);
    clock_advance(1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 1);
    assert_null(arp_lookup(&c->s, PEER_IP));

    /* Expired: the next datagram needs a new resolution. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_arp_request(c, 1, PEER_IP);
}

/* A sender we know refreshes its entry when it talks ARP again (even to
 * another address), so a busy neighbour does not expire. */
static void test_arp_refresh_extends_ttl(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    clock_advance(ARP_TTL_NS - NS_PER_S);
    inet_stack_poll(&c->s);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, ip4(10, 0, 0, 50));
    feed(c, &p);
    clock_advance(2 * NS_PER_S); /* past the first TTL */
    inet_stack_poll(&c->s);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 0);
    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_null(arp_lookup(&c->s, PEER_IP));
    assert_int_equal(c->s.stats.arp_expired, 1);
}

/* An entry in use when its TTL ends stays in use while a unicast request
 * to the peer's MAC re-confirms it (RFC 1122 2.3.2.1): traffic never waits
 * for a new resolution. Confirmed, it lives another TTL; idle for that
 * TTL, it goes. */
static void test_arp_used_entry_reconfirmed(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"a", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 0);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request_to(c, 0, PEER_IP, peer_mac);
    assert_non_null(arp_lookup(&c->s, PEER_IP));

    /* Still sent at once, to the MAC we have. */
    send_udp(c, PEER_IP, 7, (const uint8_t *)"b", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"b", 1);
    sink_clear(c);

    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_probe_confirmed, 1);
    clock_advance(ARP_TIMEOUT_NS * (ARP_RETRIES + 2)); /* no further probe */
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 0);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    clock_advance(ARP_TTL_NS); /* a TTL unused since the confirmation */
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 1);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    assert_null(arp_lookup(&c->s, PEER_IP));
}

/* No answer to 1 + retries probes: the entry goes (the peer is down or its
 * address moved to another MAC), and the next packet asks by broadcast. */
static void test_arp_reconfirm_unanswered(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"a", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    for (int i = 0; i < ARP_RETRIES; i++) {
        clock_advance(ARP_TIMEOUT_NS);
        inet_stack_poll(&c->s);
        assert_non_null(arp_lookup(&c->s, PEER_IP));
    }
    assert_int_equal(c->sink.n, 1 + ARP_RETRIES);
    for (unsigned i = 0; i < 1 + ARP_RETRIES; i++)
        parse_arp_request_to(c, i, PEER_IP, peer_mac);
    sink_clear(c);
    clock_advance(ARP_TIMEOUT_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_probe_failed, 1);
    assert_int_equal(c->s.stats.arp_expired, 0);
    assert_null(arp_lookup(&c->s, PEER_IP));
    send_udp(c, PEER_IP, 7, (const uint8_t *)"b", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_arp_request(c, 0, PEER_IP);
}

/* The soak failure this guards against: a peer in use whose TTL ends while
 * a flood of half-open connections to unresolvable addresses fills the
 * table. Dropped and resolved again, its pending entry was the oldest and
 * evicted at once, and the peer was cut off while the flood lasted. */
static void test_arp_reconfirm_survives_flood(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"a", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_tx_probe, 1);
    sink_clear(c);
    for (uint32_t i = 0; i < 2 * ARP_MAX_ENTRIES; i++) {
        send_udp(c, ip4(10, 1, (uint8_t)(i >> 8), (uint8_t)i), 7, (const uint8_t *)"x", 1);
        if (i % 64 == 0) {
            send_udp(c, PEER_IP, 7, (const uint8_t *)"p", 1);
            inet_stack_poll(&c->s);
            assert_int_equal(c->sink.n, 2); /* its ARP request, our datagram at once */
            parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"p", 1);
        }
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(c->s.stats.arp_evict_pending, ARP_MAX_ENTRIES + 1);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    mk_arp(&p, my_mac, ARP_OP_REPLY, peer_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_probe_confirmed, 1);
    for (int i = 0; i < (ARP_RETRIES + 2) * 100; i++) { /* the flood's resolutions give up */
        clock_advance(ARP_TIMEOUT_NS / 100);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
}

/* ---- drops that speak (drop_hints.c) ------------------------------------ */

/* Run @fn with stderr captured; the captured text in @out. */
static void capture_stderr(void (*fn)(struct ctx *), struct ctx *c, char *out, size_t cap)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    assert_non_null(f);
    fflush(stderr);
    dup2(fileno(f), 2);
    fn(c);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static unsigned count_lines_with(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int bad_csum_count = 20;

static void bad_udp_csums(struct ctx *c)
{
    struct pkt p;
    for (int i = 0; i < bad_csum_count; i++) {
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
        UDPH(&p)->csum ^= htons(0x0001);
        if (UDPH(&p)->csum == 0)
            UDPH(&p)->csum = htons(0x1234);
        feed(c, &p);
    }
}

static void frames_for_others(struct ctx *c)
{
    static const uint8_t multicast[ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};
    struct pkt p;
    for (int i = 0; i < 20; i++) { /* multicast we never joined: no warning */
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "x", 1);
        memcpy(ETH(&p)->dst, multicast, ETH_ALEN);
        feed(c, &p);
    }
    for (int i = 0; i < 8; i++) {
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "x", 1);
        memcpy(ETH(&p)->dst, other_mac, ETH_ALEN);
        feed(c, &p);
    }
    for (int i = 0; i < 8; i++) {
        mk_udp(&p, PEER_IP, ip4(10, 0, 0, 77), 4242, MY_PORT, "x", 1);
        feed(c, &p);
    }
}

/* A run of drops of a misconfiguration kind says its likely cause once,
 * then nothing for a minute; the next run after that says it again. A few
 * stray frames, and multicast we never joined, say nothing. */
static void test_drop_hints(void **state)
{
    struct ctx *c = *state;
    char *out = malloc(16384);

    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    assert_non_null(strstr(out, "ethtool -K"));
    assert_non_null(strstr(out, "10.0.0.2"));
    capture_stderr(bad_udp_csums, c, out, 16384); /* within the minute: quiet */
    assert_int_equal(count_lines_with(out, "checksums"), 0);
    clock_advance(61 * NS_PER_S);
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    /* Two, then two more 11 s later: no run of three within 10 s. */
    clock_advance(61 * NS_PER_S);
    bad_csum_count = 2;
    capture_stderr(bad_udp_csums, c, out, 16384);
    clock_advance(11 * NS_PER_S);
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "checksums"), 0);
    bad_csum_count = 1; /* the third within 10 s of the last two */
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    bad_csum_count = 20;

    capture_stderr(frames_for_others, c, out, 16384);
    assert_int_equal(count_lines_with(out, "not ours"), 1);
    assert_non_null(strstr(out, "02:00:00:00:00:77"));
    assert_int_equal(count_lines_with(out, "not our address"), 1);
    assert_non_null(strstr(out, "10.0.0.77"));
    free(out);
}

/* ---- what the wire may change in the ARP table (issue 11) ---------------- */

/* An ARP reply nobody asked for creates no entry: otherwise any host could
 * plant mappings (and fill the table) without being asked. */
static void test_arp_unsolicited_reply_ignored(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, OTHER_IP, my_mac, MY_IP);
    expect_drop(c, &p, "arp_ignored_unsolicited");
    assert_null(arp_lookup(&c->s, OTHER_IP));
}

/* A resolved entry keeps its MAC against unsolicited replies and
 * gratuitous ARP with another MAC (both counted); the peer's own traffic
 * with the same MAC refreshes it; once it expires, a new resolution may
 * learn a new MAC. */
static void test_arp_no_silent_overwrite(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP); /* unsolicited */
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, PEER_IP, zero_mac, PEER_IP); /* gratuitous */
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REPLY, other_mac, PEER_IP, bcast_mac, PEER_IP); /* gratuitous reply */
    feed(c, &p);
    assert_int_equal(c->s.stats.arp_ignored_update, 3);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    clock_advance(ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_null(arp_lookup(&c->s, PEER_IP));
    send_udp(c, PEER_IP, 7, (const uint8_t *)"x", 1);
    inet_stack_poll(&c->s);
    sink_clear(c);
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP); /* the answer, now */
    feed(c, &p);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, other_mac, ETH_ALEN);
    sink_clear(c);
}

/* Another host claiming our address (RFC 5227 2.4): counted, not learned,
 * not answered. An RFC 5227 probe for our address (sender 0.0.0.0) is
 * answered so the prober backs off. */
static void test_arp_conflict_and_probe(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    uint8_t b[FRAME_MAX];
    const struct arp_hdr *a = (const struct arp_hdr *)(b + ETH_HLEN);

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, MY_IP, zero_mac, PEER_IP);
    expect_drop(c, &p, "arp_conflict");
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, MY_IP, my_mac, MY_IP);
    expect_drop(c, &p, "arp_conflict");
    assert_null(arp_lookup(&c->s, MY_IP));

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, 0, zero_mac, MY_IP);
    feed(c, &p);
    assert_int_equal(c->sink.n, 1);
    sink_frame(c, 0, b);
    assert_int_equal(ntohs(a->op), ARP_OP_REPLY);
    assert_int_equal(a->spa, MY_IP);
    assert_memory_equal(a->tha, other_mac, ETH_ALEN);
    assert_int_equal(a->tpa, 0);
    assert_null(arp_lookup(&c->s, 0));
    sink_clear(c);
}

/* A full table (a flood of new destinations) evicts its oldest unresolved
 * entry, never a resolved one. */
static void test_arp_full_evicts_pending(void **state)
{
    struct ctx *c = *state;
    struct pkt p;

    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    for (uint32_t i = 0; i < ARP_MAX_ENTRIES + 10; i++) {
        send_udp(c, ip4(10, 1, (uint8_t)(i >> 8), (uint8_t)i), 7, (const uint8_t *)"x", 1);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(c->s.stats.arp_evict_pending, 11); /* PEER_IP holds one of the slots */
    assert_int_equal(c->s.stats.arp_drop_table_full, 0);
    assert_non_null(arp_lookup(&c->s, PEER_IP));
    /* Drain: every resolution gives up, no buffer is left behind. */
    for (int i = 0; i < (ARP_RETRIES + 2) * 100; i++) {
        clock_advance(ARP_TIMEOUT_NS / 100);
        inet_stack_poll(&c->s);
        sink_clear(c);
    }
    assert_int_equal(mem_in_use(&c->mem), 0);
}

static void test_arp_static_permanent(void **state)
{
    struct ctx *c = *state;
    struct pkt p;
    const uint8_t *mac;

    add_static(c, PEER_IP, peer_mac);
    for (int i = 0; i < 10; i++) {
        clock_advance(ARP_TTL_NS);
        inet_stack_poll(&c->s);
    }
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);
    assert_int_equal(c->s.stats.arp_expired, 0);

    /* A contrary reply (and a contrary request) do not overwrite it. */
    mk_arp(&p, my_mac, ARP_OP_REPLY, other_mac, PEER_IP, my_mac, MY_IP);
    feed(c, &p);
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, other_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    clock_advance(10 * ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->s.stats.arp_expired, 0);
    sink_clear(c);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"st", 2);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"st", 2);
}

/* arp_add_static on an address not yet known, and the configuration's
 * permanent entries (inet_params.static_arp), must record the given MAC. */
static void test_arp_static_entry_has_mac(void **state)
{
    struct ctx *c = *state;
    struct config_arp_entry cfg[1];
    struct inet_params p;
    struct inet_stack *s2;
    const uint8_t *mac;

    assert_int_equal(arp_add_static(&c->s, PEER_IP, peer_mac), 0);
    mac = arp_lookup(&c->s, PEER_IP);
    assert_non_null(mac);
    assert_memory_equal(mac, peer_mac, ETH_ALEN);

    memcpy(cfg[0].mac, other_mac, ETH_ALEN);
    cfg[0].ip.s_addr = OTHER_IP;
    inet_params_default(&p);
    p.ip = MY_IP;
    p.arp_retries = ARP_RETRIES;
    p.arp_timeout_ns = ARP_TIMEOUT_NS;
    p.arp_ttl_ns = ARP_TTL_NS;
    p.static_arp = cfg;
    p.static_arp_len = 1;
    s2 = calloc(1, sizeof(*s2));
    assert_non_null(s2);
    assert_int_equal(inet_stack_init(s2, &c->sink.dev, &c->mem, &p), 0);
    mac = arp_lookup(s2, OTHER_IP);
    if (mac && memcmp(mac, other_mac, ETH_ALEN) != 0) {
        inet_stack_fini(s2);
        free(s2);
        fail_msg("configured static ARP entry has MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                 mac[3], mac[4], mac[5]);
    }
    inet_stack_fini(s2);
    free(s2);
    assert_non_null(mac);
}

/* A static entry added while a resolution waits sends what waited. */
static void test_arp_static_flushes_pending(void **state)
{
    struct ctx *c = *state;

    send_udp(c, OTHER_IP, 7, (const uint8_t *)"q", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    assert_int_equal(arp_add_static(&c->s, OTHER_IP, other_mac), 0);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, other_mac, OTHER_IP, MY_PORT, 7, (const uint8_t *)"q", 1);
    clock_advance(10 * ARP_TTL_NS);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2); /* no retry, no expiry */
    assert_non_null(arp_lookup(&c->s, OTHER_IP));
}

/* A full device queue: the frames it refuses keep their place, in order,
 * and go out at the next poll that finds room; none is lost. */
static void test_tx_full_held(void **state)
{
    struct ctx *c = *state;

    struct pkt p;

    /* The peer learned from its request (our reply is cleared away). */
    mk_arp(&p, bcast_mac, ARP_OP_REQUEST, peer_mac, PEER_IP, zero_mac, MY_IP);
    feed(c, &p);
    sink_clear(c);
    c->sink.cap = 1;
    send_udp(c, PEER_IP, 7, (const uint8_t *)"1", 1);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"2", 1);
    send_udp(c, PEER_IP, 7, (const uint8_t *)"3", 1);
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 1);
    parse_udp(c, 0, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"1", 1);
    assert_int_equal(c->s.stats.eth_tx, 2); /* with the ARP reply */
    assert_int_equal(c->s.ntx, 2);
    assert_true(c->s.tx_stalled);
    assert_true(c->s.stats.eth_tx_stalled >= 1);
    assert_int_equal(c->s.stats.eth_drop_tx_full, 0);

    /* Room for one more: the next in order. Then for all. */
    c->sink.cap = 2;
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 2);
    parse_udp(c, 1, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"2", 1);
    c->sink.cap = SINK_MAX;
    inet_stack_poll(&c->s);
    assert_int_equal(c->sink.n, 3);
    parse_udp(c, 2, peer_mac, PEER_IP, MY_PORT, 7, (const uint8_t *)"3", 1);
    assert_int_equal(c->s.ntx, 0);
    assert_false(c->s.tx_stalled);
    assert_int_equal(c->s.stats.eth_tx, 4);
    assert_int_equal(c->s.stats.eth_drop_tx_full, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_udp_output_roundtrip),
        T(test_udp_output_chain_and_max),
        T(test_udp_input_delivered),
        T(test_icmp_echo_reply_roundtrip),
        T(test_icmp_echo_request_and_reply_hook),
        T(test_arp_request_answered_and_learned),
        T(test_csum_rfc1071_vector),
        T(test_csum_pieces_randomized),
        T(test_csum_pseudo_and_chain),
        T(test_csum_complete_partial),
        T(test_eth_runt),
        T(test_eth_not_for_us),
        T(test_eth_unknown_type),
        T(test_arp_malformed),
        T(test_arp_bad_op),
        T(test_arp_not_for_us),
        T(test_ipv4_runt),
        T(test_ipv4_version),
        T(test_ipv4_ihl),
        T(test_ipv4_total_len),
        T(test_ipv4_bad_csum),
        T(test_ipv4_fragment),
        T(test_ipv4_ttl_zero),
        T(test_ipv4_bad_source),
        T(test_drop_hints),
        T(test_arp_unsolicited_reply_ignored),
        T(test_arp_no_silent_overwrite),
        T(test_arp_conflict_and_probe),
        T(test_arp_full_evicts_pending),
        T(test_ipv4_not_for_us),
        T(test_ipv4_unknown_proto),
        T(test_ipv4_ethernet_padding_trimmed),
        T(test_ipv4_padding_trimmed_icmp),
        T(test_ipv4_options_skipped),
        T(test_udp_runt),
        T(test_udp_bad_length),
        T(test_udp_bad_csum),
        T(test_udp_no_checksum_accepted),
        T(test_udp_no_port),
        T(test_udp_queue_full),
        T(test_icmp_runt),
        T(test_icmp_bad_csum),
        T(test_icmp_unhandled_type),
        T(test_icmp_broadcast_not_answered),
        T(test_arp_resolution_retries_and_timeout),
        T(test_arp_reply_flushes_pending),
        T(test_arp_pending_full),
        T(test_arp_learned_entry_expires),
        T(test_arp_refresh_extends_ttl),
        T(test_arp_used_entry_reconfirmed),
        T(test_arp_reconfirm_unanswered),
        T(test_arp_reconfirm_survives_flood),
        T(test_arp_static_entry_has_mac),
        T(test_arp_static_permanent),
        T(test_arp_static_flushes_pending),
        T(test_tx_full_held),
    };

    return cmocka_run_group_tests_name("net_parse", tests, NULL, NULL);
}
