/* SPDX-License-Identifier: MIT */
/*
 * proto.h: wire formats of the protocols below TCP. Packed structs, all
 * multi-byte fields in network byte order. Private header.
 */
#ifndef DEMI_NET_PROTO_H
#define DEMI_NET_PROTO_H

#include "core/common.h"
#include "core/limits.h"

#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ETH_TYPE_IPV6 0x86dd

struct eth_hdr {
    uint8_t dst[ETH_ALEN];
    uint8_t src[ETH_ALEN];
    uint16_t type;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct eth_hdr) != ETH_HLEN);
BUILD_BUG_ON(ETH_HLEN != LIMIT_ETH_HLEN); /* core/limits.h sizes the headroom with it */

/* ARP for IPv4 over Ethernet (RFC 826). */
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

struct arp_hdr {
    uint16_t htype;
    uint16_t ptype;
    uint8_t hlen;
    uint8_t plen;
    uint16_t op;
    uint8_t sha[ETH_ALEN];
    uint32_t spa;
    uint8_t tha[ETH_ALEN];
    uint32_t tpa;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct arp_hdr) != 28);

/* IPv4 (RFC 791). */
#define IPV4_HLEN 20
#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP 6
#define IPV4_PROTO_UDP 17
#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFF_MASK 0x1fff
#define IPV4_DEFAULT_TTL 64

struct ipv4_hdr {
    uint8_t ver_ihl;
    uint8_t tos;
    uint16_t total_len;
    uint16_t id;
    uint16_t frag;
    uint8_t ttl;
    uint8_t proto;
    uint16_t csum;
    uint32_t src;
    uint32_t dst;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct ipv4_hdr) != IPV4_HLEN);
BUILD_BUG_ON(IPV4_HLEN != LIMIT_IPV4_HLEN);

/* ICMPv4 (RFC 792): echo only. */
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

struct icmp_echo_hdr {
    uint8_t type;
    uint8_t code;
    uint16_t csum;
    uint16_t id;
    uint16_t seq;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct icmp_echo_hdr) != 8);

/* UDP (RFC 768). */
#define UDP_HLEN 8

struct udp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint16_t len;
    uint16_t csum;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct udp_hdr) != UDP_HLEN);

/* IPv6 (RFC 8200). */
#define IPV6_HLEN 40
#define IPV6_MIN_MTU 1280 /* RFC 8200 5: every link carries 1280-byte packets */
#define IPV6_DEFAULT_HOPS 64
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_TCP 6
#define IPV6_NH_UDP 17
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_ICMPV6 58
#define IPV6_NH_NONE 59
#define IPV6_NH_DSTOPTS 60

struct ipv6_hdr {
    uint32_t vtc_flow; /* version 4 bits, traffic class 8, flow label 20 */
    uint16_t payload_len;
    uint8_t next;
    uint8_t hop_limit;
    uint8_t src[16];
    uint8_t dst[16];
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct ipv6_hdr) != IPV6_HLEN);
BUILD_BUG_ON(LIMIT_ETH_HLEN + IPV6_HLEN + LIMIT_TCP_HLEN_MAX > DBUF_HEADROOM); /* TCP over IPv6 fits */

/* Hop-by-hop and destination options, routing header: next header, then
 * the length in 8-octet units not counting the first 8 (RFC 8200 4.3-4.6). */
struct ipv6_ext_hdr {
    uint8_t next;
    uint8_t len;
} __attribute__((packed));

#define IPV6_FRAG_HLEN 8
#define IPV6_FRAG_OFF_MASK 0xfff8 /* of ipv6_frag_hdr.off_m, host order */
#define IPV6_FRAG_M 0x0001

struct ipv6_frag_hdr {
    uint8_t next;
    uint8_t reserved;
    uint16_t off_m; /* offset in 8-octet units << 3, 2 reserved bits, M */
    uint32_t id;
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct ipv6_frag_hdr) != IPV6_FRAG_HLEN);

/* Routing header's fixed part (RFC 8200 4.4). */
struct ipv6_rt_hdr {
    uint8_t next;
    uint8_t len;
    uint8_t type;
    uint8_t segs_left;
} __attribute__((packed));

/* ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861). */
#define ICMP6_DST_UNREACH 1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_PARAM_PROB 4
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define ND_ROUTER_SOLICIT 133
#define ND_ROUTER_ADVERT 134
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_REDIRECT 137
#define ICMP6_DST_UNREACH_PORT 4
#define ICMP6_PARAM_PROB_HEADER 0 /* erroneous header field */
#define ICMP6_PARAM_PROB_NEXT 1   /* unrecognized next header */
#define ICMP6_PARAM_PROB_OPTION 2 /* unrecognized option */

struct icmp6_hdr {
    uint8_t type;
    uint8_t code;
    uint16_t csum;
    uint32_t data; /* echo: id, seq; PTB: MTU; param problem: pointer */
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct icmp6_hdr) != 8);

/* NS and NA: the ICMPv6 header (NA flags in its data), the target, then
 * options (RFC 4861 4.3, 4.4). */
#define ND_NA_FLAG_ROUTER 0x80000000u
#define ND_NA_FLAG_SOLICITED 0x40000000u
#define ND_NA_FLAG_OVERRIDE 0x20000000u
#define ND_OPT_SOURCE_LL 1
#define ND_OPT_TARGET_LL 2
#define ND_HOP_LIMIT 255

struct nd_msg {
    struct icmp6_hdr h;
    uint8_t target[16];
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct nd_msg) != 24);

struct nd_opt_lladdr {
    uint8_t type;
    uint8_t len; /* in 8-octet units: 1 for Ethernet */
    uint8_t mac[ETH_ALEN];
} __attribute__((packed));
BUILD_BUG_ON(sizeof(struct nd_opt_lladdr) != 8);

#define IPV4_BROADCAST 0xffffffffu

static inline int ipv4_is_multicast(uint32_t addr_be)
{
    return (((const uint8_t *)&addr_be)[0] & 0xf0) == 0xe0;
}

#endif /* DEMI_NET_PROTO_H */
