/* SPDX-License-Identifier: MIT */
/*
 * net_harness.h: the shared harness of the unit tests of the stack below TCP
 * (test_eth, test_arp, test_ipv4, test_icmp, test_udp_wire, test_checksum,
 * test_drop_hints). A stack on a "sink" netdev that keeps what the stack
 * transmits, fed hand-built frames. Three kinds of checks:
 *
 *   - round trips: what udp_output, an echo reply or an ARP reply puts on the
 *     wire is parsed back field by field, checksums verified with an
 *     independent reference implementation of RFC 1071 (ref_*);
 *   - every malformed input class is dropped, exactly the right counter of
 *     struct inet_stats goes up by one, no other counter moves (apart from
 *     the per-layer *_rx), nothing is sent or delivered and no buffer leaks
 *     (expect_drop);
 *   - ARP in virtual time: retries, give-up, flush on reply, pending limit,
 *     expiry, permanent entries.
 *
 * Every test runs between setup and teardown (T()): teardown tears the stack
 * down, frees the captured frames and asserts that every buffer went back
 * to its pool.
 */
#ifndef DEMI_TESTS_NET_HARNESS_H
#define DEMI_TESTS_NET_HARNESS_H

#include "core/clock.h"
#include "mem/dbuf.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define NS_PER_S 1000000000ull
#define ARP_TIMEOUT_NS (1 * NS_PER_S)
#define ARP_TTL_NS (15 * NS_PER_S)
#define ARP_RETRIES 2
#define FRAME_MAX 2048
#define SINK_MAX 256
#define MY_PORT 5000

extern const uint8_t my_mac[ETH_ALEN];
extern const uint8_t peer_mac[ETH_ALEN];
extern const uint8_t other_mac[ETH_ALEN];
extern const uint8_t bcast_mac[ETH_ALEN];
extern const uint8_t zero_mac[ETH_ALEN];

/* a.b.c.d in network order. */
uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d);

#define MY_IP ip4(10, 0, 0, 1)
#define PEER_IP ip4(10, 0, 0, 2)
#define OTHER_IP ip4(10, 0, 0, 3)

/* ---- the sink device and the fixture ------------------------------------ */

struct sink {
    struct netdev dev;
    struct mem *mem;
    struct dbuf *frames[SINK_MAX];
    unsigned n;
    unsigned cap; /* frames it accepts before it reports a full queue */
};

struct ctx {
    struct mem mem;
    struct sink sink;
    struct inet_stack s;
    struct udp_sock u;  /* bound to MY_PORT on any address */
    struct udp_sock u2; /* for tests that need a second socket */
    int u2_live;
};

/* A stack at MY_IP/24 with my_mac on the sink, in virtual time, ARP timers
 * ARP_TIMEOUT_NS / ARP_TTL_NS / ARP_RETRIES, and c->u bound to MY_PORT. */
int setup(void **state);
/* Everything torn down; fails the test if a buffer is still in use. */
int teardown(void **state);

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- IPv6 (test_ipv6, test_icmp6, test_nd6) -------------------------------- */

struct pkt;

/* The address @s (inet_pton, asserted). */
struct in6_addr a6(const char *s);
/* Our addresses: fe80::ff:fe00:1 from my_mac, MY_IP6_STR; the peer's. */
#define MY_IP6_STR "fd00::1"
#define PEER_IP6_STR "fd00::2"
#define MY_LL_STR "fe80::ff:fe00:1"
#define PEER_LL_STR "fe80::ff:fe00:2"

/* setup with MY_IP6_STR configured too, DAD off (addresses usable at once). */
int setup_v6(void **state);
/* setup_v6 with one DAD NS per address (RFC 4862's default). */
int setup_v6_dad(void **state);
#define T6(f) cmocka_unit_test_setup_teardown(f, setup_v6, teardown)
#define T6D(f) cmocka_unit_test_setup_teardown(f, setup_v6_dad, teardown)

/* The IPv6 pseudo-header's sum (RFC 8200 8.1), reference version. */
uint32_t ref_pseudo6(const void *src, const void *dst, uint8_t proto, uint32_t len);

/* Ethernet (peer_mac -> @eth_dst) + IPv6 with next header @next, hop limit
 * @hops, and @plen bytes of payload (extension headers included). */
void mk_ipv6(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
             uint8_t next, uint8_t hops, const void *payload, size_t plen);
/* An ICMPv6 message of @type/@code, @data the 32 bits after the checksum,
 * @body after them, behind @ext (extension headers, @extlen bytes, the last
 * one's next header already ICMPv6; @first_next the IPv6 header's), with a
 * right checksum. */
void mk_icmp6_ext(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
                  uint8_t hops, uint8_t first_next, const void *ext, size_t extlen, uint8_t type, uint8_t code,
                  uint32_t data, const void *body, size_t blen);
void mk_icmp6(struct pkt *p, const uint8_t *eth_dst, const struct in6_addr *src, const struct in6_addr *dst,
              uint8_t hops, uint8_t type, uint8_t code, uint32_t data, const void *body, size_t blen);

/* An NS from @peer (peer_mac) for our @ours: we answer (cleared away) and
 * hold the peer STALE, so what we send it next goes at once. */
void learn_peer6(struct ctx *c, const struct in6_addr *peer, const struct in6_addr *ours);

/* Parsed view of a captured IPv6 frame after the generic checks. */
struct parsed6 {
    uint8_t b[FRAME_MAX];
    size_t len;
    const struct eth_hdr *eth;
    const struct ipv6_hdr *ip;
    const uint8_t *l4;
    size_t l4len;
};

/* Frame @i must be a well-formed IPv6 packet from our @src to @dst / @dst_mac
 * with next header @next, hop limit @hops; an ICMPv6 one's checksum right. */
void parse_ipv6(const struct ctx *c, unsigned i, struct parsed6 *ps, const uint8_t *dst_mac, const struct in6_addr *src,
                const struct in6_addr *dst, uint8_t next, uint8_t hops);

/* Frees the frames the sink holds. */
void sink_clear(struct ctx *c);
/* Buffers the sink holds (a frame may be a chain). */
uint32_t sink_bufs(const struct ctx *c);
/* Frame @i of the sink, flattened into @out; its length. */
size_t sink_frame(const struct ctx *c, unsigned i, uint8_t *out);

/* ---- reference checksum (RFC 1071, big-endian words, no tricks) --------- */

uint32_t ref_sum(uint32_t sum, const uint8_t *p, size_t len);
uint16_t ref_fold(uint32_t sum);
/* Checksum of @len bytes, host order value (store it big-endian). */
uint16_t ref_csum(const void *p, size_t len);
uint32_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* ---- frame builders ------------------------------------------------------ */

struct pkt {
    uint8_t b[FRAME_MAX];
    size_t len;
};

struct eth_hdr *ETH(struct pkt *p);
struct ipv4_hdr *IPH(struct pkt *p);
size_t ihl_of(struct pkt *p);
uint8_t *L4(struct pkt *p);
struct udp_hdr *UDPH(struct pkt *p);
struct icmp_echo_hdr *ICMPH(struct pkt *p);
struct arp_hdr *ARPH(struct pkt *p);

void mk_eth(struct pkt *p, const uint8_t *dst, const uint8_t *src, uint16_t type);
void ip_fix_csum(struct pkt *p);
/* Ethernet (peer -> us) + IPv4 with @optlen bytes of options + @l4. */
void mk_ipv4_opts(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *opts, size_t optlen,
                  const void *l4, size_t l4len);
void mk_ipv4(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, const void *l4, size_t l4len);
void udp_fix_csum(struct pkt *p);
void mk_udp(struct pkt *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const void *payload,
            size_t plen);
void icmp_fix_csum(struct pkt *p);
void mk_icmp(struct pkt *p, uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq, const void *payload,
             size_t plen);
void mk_arp(struct pkt *p, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
            uint32_t tpa);

/* ---- feeding and checking ------------------------------------------------ */

/* Copy @len bytes into a buffer from the pool (data at the headroom) and run
 * it through eth_input, then one poll (flushes what the stack sent). */
void feed_bytes(struct ctx *c, const uint8_t *b, size_t len);
void feed(struct ctx *c, const struct pkt *p);
/* Counter @name moved by exactly @n; every other counter but the *_rx ones
 * (which count arrivals at each layer) did not move at all. */
void check_only(const struct inet_stats *before, const struct inet_stats *after, const char *name, uint64_t n);
/* Feed @p, expect it dropped and counted in @counter, nothing sent, nothing
 * delivered to the bound socket, no buffer kept by the stack. */
void expect_drop(struct ctx *c, const struct pkt *p, const char *counter);
void expect_drop_bytes(struct ctx *c, const uint8_t *b, size_t len, const char *counter);
/* A datagram queued on @u: check it, free it. */
void expect_datagram(struct udp_sock *u, uint32_t src, uint16_t sport, const void *payload, size_t plen);

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
void parse_ipv4(const struct ctx *c, unsigned i, struct parsed *ps, const uint8_t *dst_mac, uint32_t dst_ip,
                uint8_t proto);
void parse_udp(const struct ctx *c, unsigned i, const uint8_t *dst_mac, uint32_t dst_ip, uint16_t sport, uint16_t dport,
               const uint8_t *payload, size_t plen);
/* Frame @i must be an ARP request from us for @tpa, sent to @eth_dst
 * (broadcast to resolve, the peer's MAC to re-confirm). */
void parse_arp_request_to(const struct ctx *c, unsigned i, uint32_t tpa, const uint8_t *eth_dst);
void parse_arp_request(const struct ctx *c, unsigned i, uint32_t tpa);

struct dbuf *payload_buf(struct ctx *c, const uint8_t *b, size_t len);
void send_udp(struct ctx *c, uint32_t dst, uint16_t dport, const uint8_t *b, size_t len);
/* A permanent ARP entry, checked at once: a wrong MAC here would otherwise
 * surface as a wrong destination in every round trip that relies on it. */
void add_static(struct ctx *c, uint32_t ip, const uint8_t *mac);
void fill_pattern(uint8_t *b, size_t len, unsigned seed);

#endif /* DEMI_TESTS_NET_HARNESS_H */
