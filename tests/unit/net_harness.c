/* SPDX-License-Identifier: MIT */
/* net_harness.c: the sink netdev, the fixture, the frame builders and
 * parsers and the reference checksum shared by the unit tests of the stack
 * below TCP (net_harness.h says what each does). */
#include "net_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t my_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t peer_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const uint8_t other_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
const uint8_t bcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t zero_mac[ETH_ALEN];

uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d);
}

/* ---- the sink device ---------------------------------------------------- */

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

static int setup_with(void **state, const struct in6_addr *ip6, uint32_t dad)
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
    p.ip6 = ip6;
    p.ip6_dad_transmits = dad;
    if (inet_stack_init(&c->s, &c->sink.dev, &c->mem, &p) != 0)
        return -1;
    if (udp_sock_init(&c->u, 8) != 0 || udp_bind(&c->s, &c->u, 0, htons(MY_PORT)) != 0)
        return -1;
    *state = c;
    return 0;
}

int setup(void **state)
{
    return setup_with(state, NULL, 0);
}

int setup_v6(void **state)
{
    struct in6_addr a = a6(MY_IP6_STR);
    return setup_with(state, &a, 0);
}

int setup_v6_dad(void **state)
{
    struct in6_addr a = a6(MY_IP6_STR);
    return setup_with(state, &a, 1);
}

struct in6_addr a6(const char *s)
{
    struct in6_addr a;
    assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
    return a;
}

void sink_clear(struct ctx *c)
{
    for (unsigned i = 0; i < c->sink.n; i++)
        dbuf_chain_put(c->sink.frames[i]);
    c->sink.n = 0;
}

int teardown(void **state)
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
uint32_t sink_bufs(const struct ctx *c)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < c->sink.n; i++)
        for (const struct dbuf *d = c->sink.frames[i]; d; d = d->next)
            n++;
    return n;
}

/* Frame @i of the sink, flattened into @out; its length. */
size_t sink_frame(const struct ctx *c, unsigned i, uint8_t *out)
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

uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    /* The end-around carry at every word: any length (a 32-bit sum of
     * 16-bit words would overflow past 128 KiB). */
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)p[i] << 8 | p[i + 1];
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

uint16_t ref_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Checksum of @len bytes, host order value (store it big-endian). */
uint16_t ref_csum(const void *p, size_t len)
{
    return ref_fold(ref_sum(0, p, len));
}

uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
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

struct eth_hdr *ETH(struct pkt *p)
{
    return (struct eth_hdr *)p->b;
}

struct ipv4_hdr *IPH(struct pkt *p)
{
    return (struct ipv4_hdr *)(p->b + ETH_HLEN);
}

size_t ihl_of(struct pkt *p)
{
    return (size_t)(IPH(p)->ver_ihl & 0xf) * 4;
}

uint8_t *L4(struct pkt *p)
{
    return p->b + ETH_HLEN + ihl_of(p);
}

struct udp_hdr *UDPH(struct pkt *p)
{
    return (struct udp_hdr *)L4(p);
}

struct icmp_echo_hdr *ICMPH(struct pkt *p)
{
    return (struct icmp_echo_hdr *)L4(p);
}

struct arp_hdr *ARPH(struct pkt *p)
{
    return (struct arp_hdr *)(p->b + ETH_HLEN);
}

void mk_eth(struct pkt *p, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(ETH(p)->dst, dst, ETH_ALEN);
    memcpy(ETH(p)->src, src, ETH_ALEN);
    ETH(p)->type = htons(type);
    p->len = ETH_HLEN;
}

void ip_fix_csum(struct pkt *p)
{
    IPH(p)->csum = 0;
    IPH(p)->csum = htons(ref_csum(IPH(p), ihl_of(p)));
}

/* Ethernet (peer -> us) + IPv4 with @optlen bytes of options + @l4. */
void mk_ipv4_opts(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *opts, size_t optlen,
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

void mk_ipv4(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t l4len)
{
    mk_ipv4_opts(p, src, dst, proto, NULL, 0, l4, l4len);
}

void udp_fix_csum(struct pkt *p)
{
    struct udp_hdr *uh = UDPH(p);
    uint16_t len = ntohs(uh->len);
    uint16_t sum;

    uh->csum = 0;
    sum = ref_fold(ref_sum(ref_pseudo(IPH(p)->src, IPH(p)->dst, IPV4_PROTO_UDP, len), (const uint8_t *)uh, len));
    uh->csum = htons(sum == 0 ? 0xffff : sum);
}

void mk_udp(struct pkt *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const void *payload, size_t plen)
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

void icmp_fix_csum(struct pkt *p)
{
    size_t len = ntohs(IPH(p)->total_len) - ihl_of(p);
    ICMPH(p)->csum = 0;
    ICMPH(p)->csum = htons(ref_csum(ICMPH(p), len));
}

void mk_icmp(struct pkt *p, uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq, const void *payload,
             size_t plen)
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

void mk_arp(struct pkt *p, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
            uint32_t tpa)
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
void feed_bytes(struct ctx *c, const uint8_t *b, size_t len)
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

void feed(struct ctx *c, const struct pkt *p)
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
void check_only(const struct inet_stats *before, const struct inet_stats *after, const char *name, uint64_t n)
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
            fail_msg("counter %s moved by %llu (expected only %s)", stat_fields[i].name, (unsigned long long)delta,
                     name);
        }
    }
    if (!seen)
        fail_msg("no counter named %s", name);
}

/* Feed @p, expect it dropped and counted in @counter, nothing sent, nothing
 * delivered to the bound socket, no buffer kept by the stack. */
void expect_drop(struct ctx *c, const struct pkt *p, const char *counter)
{
    struct inet_stats before = c->s.stats;
    unsigned ntx = c->sink.n;

    feed(c, p);
    check_only(&before, &c->s.stats, counter, 1);
    assert_int_equal(c->sink.n, ntx);
    assert_int_equal(c->u.rxq_len, 0);
    assert_int_equal(mem_in_use(&c->mem), sink_bufs(c));
}

void expect_drop_bytes(struct ctx *c, const uint8_t *b, size_t len, const char *counter)
{
    struct pkt p;
    assert_true(len <= FRAME_MAX);
    memcpy(p.b, b, len);
    p.len = len;
    expect_drop(c, &p, counter);
}

/* A datagram queued on @u: check it, free it. */
void expect_datagram(struct udp_sock *u, uint32_t src, uint16_t sport, const void *payload, size_t plen)
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

/* Frame @i must be a well-formed IPv4 packet from us to @dst_ip / @dst_mac. */
void parse_ipv4(const struct ctx *c, unsigned i, struct parsed *ps, const uint8_t *dst_mac, uint32_t dst_ip,
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

void parse_udp(const struct ctx *c, unsigned i, const uint8_t *dst_mac, uint32_t dst_ip, uint16_t sport, uint16_t dport,
               const uint8_t *payload, size_t plen)
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
void parse_arp_request_to(const struct ctx *c, unsigned i, uint32_t tpa, const uint8_t *eth_dst)
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

void parse_arp_request(const struct ctx *c, unsigned i, uint32_t tpa)
{
    parse_arp_request_to(c, i, tpa, bcast_mac);
}

struct dbuf *payload_buf(struct ctx *c, const uint8_t *b, size_t len)
{
    struct dbuf *d = mem_alloc(&c->mem, (uint32_t)len);
    assert_non_null(d);
    memcpy(d->data, b, len);
    return d;
}

void send_udp(struct ctx *c, uint32_t dst, uint16_t dport, const uint8_t *b, size_t len)
{
    assert_int_equal(udp_output(&c->s, &c->u, payload_buf(c, b, len), dst, htons(dport)), 0);
}

/* A permanent ARP entry, checked at once: a wrong MAC here would otherwise
 * surface as a wrong destination in every round trip that relies on it. */
void add_static(struct ctx *c, uint32_t ip, const uint8_t *mac)
{
    const uint8_t *got;

    assert_int_equal(arp_add_static(&c->s, ip, mac), 0);
    got = arp_lookup(&c->s, ip);
    assert_non_null(got);
    assert_memory_equal(got, mac, ETH_ALEN);
}

void fill_pattern(uint8_t *b, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(i * 7 + seed);
}

/* ---- IPv6 ------------------------------------------------------------------ */

uint32_t ref_pseudo6(const void *src, const void *dst, uint8_t proto, uint32_t len)
{
    uint8_t ph[40];

    memcpy(ph, src, 16);
    memcpy(ph + 16, dst, 16);
    ph[32] = (uint8_t)(len >> 24);
    ph[33] = (uint8_t)(len >> 16);
    ph[34] = (uint8_t)(len >> 8);
    ph[35] = (uint8_t)len;
    ph[36] = ph[37] = ph[38] = 0;
    ph[39] = proto;
    return ref_sum(0, ph, sizeof(ph));
}

void mk_ipv6(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
             uint8_t next, uint8_t hops, const void *payload, size_t plen)
{
    struct ipv6_hdr *ip;

    assert_true(ETH_HLEN + IPV6_HLEN + plen <= FRAME_MAX);
    memset(p->b, 0, sizeof(p->b));
    mk_eth(p, eth_dst, peer_mac, ETH_TYPE_IPV6);
    ip = (struct ipv6_hdr *)(p->b + ETH_HLEN);
    ip->vtc_flow = htonl(6u << 28);
    ip->payload_len = htons((uint16_t)plen);
    ip->next = next;
    ip->hop_limit = hops;
    memcpy(ip->src, src, 16);
    memcpy(ip->dst, dst, 16);
    if (plen)
        memcpy(p->b + ETH_HLEN + IPV6_HLEN, payload, plen);
    p->len = ETH_HLEN + IPV6_HLEN + plen;
}

void mk_icmp6_ext(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
                  uint8_t hops, uint8_t first_next, const void *ext, size_t extlen, uint8_t type, uint8_t code,
                  uint32_t data, const void *body, size_t blen)
{
    uint8_t l4[FRAME_MAX];
    struct icmp6_hdr *h = (struct icmp6_hdr *)(l4 + extlen);
    size_t mlen = sizeof(*h) + blen;

    assert_true(extlen + mlen <= sizeof(l4));
    if (extlen)
        memcpy(l4, ext, extlen);
    h->type = type;
    h->code = code;
    h->csum = 0;
    h->data = htonl(data);
    if (blen)
        memcpy(h + 1, body, blen);
    h->csum = htons(ref_fold(ref_sum(ref_pseudo6(src, dst, IPV6_NH_ICMPV6, (uint32_t)mlen), (const uint8_t *)h, mlen)));
    mk_ipv6(p, eth_dst, src, dst, extlen ? first_next : IPV6_NH_ICMPV6, hops, l4, extlen + mlen);
}

void mk_icmp6(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
              uint8_t hops, uint8_t type, uint8_t code, uint32_t data, const void *body, size_t blen)
{
    mk_icmp6_ext(p, eth_dst, src, dst, hops, IPV6_NH_ICMPV6, NULL, 0, type, code, data, body, blen);
}

void parse_ipv6(const struct ctx *c, unsigned i, struct parsed6 *ps, const uint8_t *dst_mac, const struct in6_addr *src,
                const struct in6_addr *dst, uint8_t next, uint8_t hops)
{
    ps->len = sink_frame(c, i, ps->b);
    assert_true(ps->len >= ETH_HLEN + IPV6_HLEN);
    ps->eth = (const struct eth_hdr *)ps->b;
    assert_memory_equal(ps->eth->dst, dst_mac, ETH_ALEN);
    assert_memory_equal(ps->eth->src, my_mac, ETH_ALEN);
    assert_int_equal(ntohs(ps->eth->type), ETH_TYPE_IPV6);
    ps->ip = (const struct ipv6_hdr *)(ps->b + ETH_HLEN);
    assert_int_equal(ps->b[ETH_HLEN] >> 4, 6);
    assert_int_equal(ntohs(ps->ip->payload_len), ps->len - ETH_HLEN - IPV6_HLEN);
    assert_int_equal(ps->ip->next, next);
    assert_int_equal(ps->ip->hop_limit, hops);
    assert_memory_equal(ps->ip->src, src, 16);
    assert_memory_equal(ps->ip->dst, dst, 16);
    ps->l4 = ps->b + ETH_HLEN + IPV6_HLEN;
    ps->l4len = ps->len - ETH_HLEN - IPV6_HLEN;
    if (next == IPV6_NH_ICMPV6)
        assert_int_equal(ref_fold(ref_sum(ref_pseudo6(src, dst, next, (uint32_t)ps->l4len), ps->l4, ps->l4len)), 0);
}

void learn_peer6(struct ctx *c, const struct in6_addr *peer, const struct in6_addr *ours)
{
    uint8_t body[16 + 8];
    struct in6_addr sn;
    uint8_t mac[ETH_ALEN];
    struct pkt p;

    memcpy(body, ours, 16);
    body[16] = ND_OPT_SOURCE_LL;
    body[17] = 1;
    memcpy(body + 18, peer_mac, ETH_ALEN);
    in6_solicited_node(ours, &sn);
    in6_mcast_mac(&sn, mac);
    mk_icmp6(&p, mac, peer, &sn, 255, ND_NEIGHBOR_SOLICIT, 0, 0, body, sizeof(body));
    feed(c, &p);
    assert_int_equal(c->sink.n, 1); /* the NA */
    sink_clear(c);
    assert_non_null(nd6_lookup(&c->s, peer));
}
