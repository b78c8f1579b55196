// SPDX-License-Identifier: MIT
/*
 * drop.bpf.c: a tc classifier (direct action) that drops a fraction of the
 * TCP packets (IPv4 or IPv6) passing it, for loss.sh and catpowder-ipv6.sh.
 * Everything else passes (ARP, ICMP, ICMPv6 and ND, UDP), so a test
 * measures TCP's recovery and nothing else.
 *
 *   clang -O2 -g -target bpf -c drop.bpf.c -o drop.bpf.o
 *   tc qdisc add dev IF clsact
 *   tc filter add dev IF ingress bpf da obj drop.bpf.o sec tc    (or egress)
 *   drop-ctl PROG_ID set PPM [shot|stolen]   PROG_ID: the "id N" of tc filter show;
 *                                           also zeroes the counters
 *   drop-ctl PROG_ID show                        -> "seen N dropped N ppm N"
 *
 * The rate lives in the drop_cfg array map, so it changes without
 * recompiling or reloading; a freshly loaded program drops nothing until
 * drop-ctl sets it. The map also counts the TCP packets seen and dropped.
 *
 * How a packet is dropped matters on egress. TC_ACT_SHOT there is a local
 * drop the sending socket is told about (dev_queue_xmit returns
 * NET_XMIT_DROP), so Linux TCP just sends the segment again at once: the
 * receiver never sees a hole. TC_ACT_STOLEN consumes the packet and reports
 * success, the way a lossy wire would. So: "shot" on ingress (the kernel
 * also counts those in "tc -s qdisc"), "stolen" on egress.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Slots of drop_cfg (drop-ctl.c uses the same numbers). */
#define CFG_PPM 0     /* drop probability, parts per million (0..1000000) */
#define CFG_STOLEN 1  /* nonzero: drop with TC_ACT_STOLEN, else TC_ACT_SHOT */
#define CFG_SEEN 2    /* IPv4 TCP segments seen */
#define CFG_DROPPED 3 /* of those, dropped */

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} drop_cfg SEC(".maps");

static __always_inline __u64 *slot(__u32 idx)
{
    return bpf_map_lookup_elem(&drop_cfg, &idx);
}

SEC("tc")
int drop_tcp(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip;
    struct ipv6hdr *ip6;
    __u64 *ppm, *stolen, *seen, *dropped, segs;

    if ((void *)(eth + 1) > end)
        return TC_ACT_OK;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
            return TC_ACT_OK;
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        /* TCP right after the fixed header (neither side sends extension
         * headers on TCP); ICMPv6, and with it ND, is never dropped. */
        ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
            return TC_ACT_OK;
    } else {
        return TC_ACT_OK;
    }
    ppm = slot(CFG_PPM);
    stolen = slot(CFG_STOLEN);
    seen = slot(CFG_SEEN);
    dropped = slot(CFG_DROPPED);
    if (!ppm || !stolen || !seen || !dropped)
        return TC_ACT_OK;
    /* A GSO packet (Linux TCP builds them even when the device has GSO off;
     * they are cut up after tc egress) counts as the segments it carries, and
     * is dropped whole: loss.sh sets gso_max_segs 1 so each is one segment. */
    segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
    __sync_fetch_and_add(seen, segs);
    /* Uniform in [0, 2^32): drop when below ppm / 1e6 of the range. */
    if ((__u64)bpf_get_prandom_u32() * 1000000u >= *ppm << 32)
        return TC_ACT_OK;
    __sync_fetch_and_add(dropped, segs);
    return *stolen ? TC_ACT_STOLEN : TC_ACT_SHOT;
}

char _license[] SEC("license") = "Dual MIT/GPL";
