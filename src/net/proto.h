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

#define IPV4_BROADCAST 0xffffffffu

static inline int ipv4_is_multicast(uint32_t addr_be)
{
    return (((const uint8_t *)&addr_be)[0] & 0xf0) == 0xe0;
}

#endif /* DEMI_NET_PROTO_H */
