/* SPDX-License-Identifier: MIT */
/*
 * tcp6.c: TCP over IPv6 (RFC 9293 over RFC 8200): what differs from IPv4,
 * the rest of TCP being the same for both.
 *
 * A connection is IPv6 when pcb->v6 is set: its addresses are local_ip6 and
 * remote_ip6 (local_ip and remote_ip stay 0), its segments carry the IPv6
 * pseudo-header checksum (RFC 8200 8.1) and go through ipv6_output_via with
 * the neighbor entry cached in route6, and its MSS leaves room for the
 * 40-byte IPv6 header within the path MTU (RFC 8200 8.3: the PMTU cache fed
 * by Packet Too Big, ipv6_path_mtu). Checksums are computed in software and
 * segments are never TSO frames: the device offloads describe IPv4 only.
 *
 * Dual stack, as Linux: a socket of family AF_INET6 bound to the wildcard
 * and without IPV6_V6ONLY also takes IPv4 connections; their pcbs are IPv4
 * ones (the libOS reports their addresses as IPv4-mapped). Port numbers are
 * one space for both families; an IPv4 socket and a v6only one do not
 * overlap, everything else does (tcp_port_conflict).
 *
 * Lookups hash an IPv6 address folded to 32 bits (tcp_addr6_fold) and then
 * compare it whole; the ISN and SYN cookie hashes take the whole address
 * (tcp_isn.c, tcp_syncookie.c).
 */
#include "core/common.h"
#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_input.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static bool in6_eq(const struct in6_addr *a, const struct in6_addr *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

static bool in6_any(const struct in6_addr *a)
{
    static const struct in6_addr any;
    return in6_eq(a, &any);
}

uint32_t tcp_addr6_fold(const struct in6_addr *a)
{
    uint32_t w[4];

    memcpy(w, a, sizeof(w));
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}

struct tcp_pcb *tcp_lookup6(struct inet_stack *s, const struct in6_addr *lip, uint16_t lport,
                            const struct in6_addr *rip, uint16_t rport)
{
    struct list_node *head = tcp_conn_bucket(&s->tcp, lport, tcp_addr6_fold(rip), rport), *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct tcp_pcb *p = list_entry(pos, struct tcp_pcb, link);
        if (p->v6 && p->local_port == lport && p->remote_port == rport && in6_eq(&p->remote_ip6, rip) &&
            (in6_eq(&p->local_ip6, lip) || in6_any(&p->local_ip6)))
            return p;
    }
    return NULL;
}

struct tcp_pcb *tcp_lookup_listener6(struct inet_stack *s, const struct in6_addr *lip, uint16_t lport)
{
    struct list_node *head = tcp_listen_bucket(&s->tcp, lport), *pos;
    struct tcp_pcb *any = NULL;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct tcp_pcb *p = list_entry(pos, struct tcp_pcb, link);
        if (!p->v6 || p->local_port != lport)
            continue;
        if (in6_eq(&p->local_ip6, lip))
            return p;
        if (in6_any(&p->local_ip6))
            any = p;
    }
    return any;
}

int tcp_bind6(struct tcp_pcb *pcb, const struct in6_addr *ip, uint16_t port)
{
    int ret;

    if (!pcb->v6)
        return EAFNOSUPPORT;
    if (!in6_any(ip) && !ipv6_is_ours(pcb->stack, ip))
        return pcb->local_port ? EINVAL : EADDRNOTAVAIL;
    ret = tcp_bind(pcb, 0, port);
    if (ret == 0)
        pcb->local_ip6 = *ip;
    return ret;
}

/* The MSS of an IPv6 connection to @dst: the path MTU less 60 bytes of
 * headers, within inetstack_config.mss. */
static uint32_t tcp6_mss(struct inet_stack *s, const struct in6_addr *dst)
{
    uint32_t mtu = ipv6_path_mtu(s, dst);
    uint32_t mss = mtu > IPV6_HLEN + TCP_HLEN ? mtu - IPV6_HLEN - TCP_HLEN : TCP_DEFAULT_MSS;

    return MIN(mss, s->tcp.params.mss);
}

uint32_t tcp_mss_local_pcb(const struct tcp_pcb *pcb)
{
    return pcb->v6 ? tcp6_mss(pcb->stack, &pcb->remote_ip6) : tcp_mss_local(pcb->stack);
}

int tcp_connect6(struct tcp_pcb *pcb, const struct in6_addr *ip, uint16_t port)
{
    struct inet_stack *s = pcb->stack;
    struct in6_addr src;
    int ret;

    if (!pcb->v6)
        return EAFNOSUPPORT;
    if (in6_any(ip) || ip->s6_addr[0] == 0xff)
        return ENETUNREACH; /* no such peer: the unspecified or a multicast address */
    if (!in6_any(&pcb->local_ip6))
        src = pcb->local_ip6;
    else if ((ret = ipv6_select_src(s, ip, &src)) != 0)
        return ret;
    return tcp_connect_v(pcb, 0, &src, ip, port);
}

void tcp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx)
{
    struct tcp_seg sg;
    uint32_t off;

    off = tcp_hdr_len(s, d);
    if (!off)
        goto drop;
    sg.th = (const struct tcp_hdr *)d->data;
    /* Always in software: receive offloads are only trusted for IPv4. */
    if (inet6_pseudo_csum(&rx->src, &rx->dst, IPPROTO_TCP, d) != 0) {
        STAT_INC(s, tcp_drop_csum);
        goto drop;
    }
    if (rx->dst_mcast) { /* TCP is unicast (RFC 9293 3.9.1.1) */
        STAT_INC(s, tcp_drop_mcast);
        goto drop;
    }
    sg.v6 = true;
    sg.src = sg.dst = 0;
    sg.src6 = rx->src;
    sg.dst6 = rx->dst;
    tcp_input_seg(s, d, &sg, off);
    return;
drop:
    dbuf_chain_put(d);
}

void tcp6_mtu_lowered(struct inet_stack *s, const struct ipv6_hdr *ip6, const uint8_t *th, uint32_t mtu)
{
    struct in6_addr src, dst;
    uint16_t sport, dport;
    uint32_t seq, mss;
    struct tcp_pcb *pcb;

    memcpy(&src, ip6->src, 16);
    memcpy(&dst, ip6->dst, 16);
    memcpy(&sport, th, 2);
    memcpy(&dport, th + 2, 2);
    memcpy(&seq, th + 4, 4);
    seq = ntohl(seq);
    pcb = tcp_lookup6(s, &src, sport, &dst, dport);
    if (!pcb)
        return; /* no connection of ours: the path MTU cache alone keeps it */
    /* RFC 5927 4.1: only about a segment in flight, or a blind attacker
     * could shrink any connection's segments. */
    if (pcb->state < TCPS_ESTABLISHED || SEQ_LT(seq, pcb->snd_una) || !SEQ_LT(seq, pcb->snd_max)) {
        STAT_INC(s, tcp_pmtu_ignored);
        return;
    }
    mss = mtu > IPV6_HLEN + TCP_HLEN ? mtu - IPV6_HLEN - TCP_HLEN : TCP_MIN_MSS;
    if (pcb->ts_ok)
        mss -= TCP_TS_OPTLEN;
    mss = MAX(mss, TCP_MIN_MSS);
    if (mss >= pcb->mss) {
        STAT_INC(s, tcp_pmtu_ignored);
        return;
    }
    STAT_INC(s, tcp_pmtu_lowered);
    pcb->mss = (uint16_t)mss;
    /* The segment was dropped on the way, and the ones after it too: resend
     * from SND.UNA in the new size. No congestion signal (Linux's
     * tcp_simple_retransmit): the path shrank, nothing was lost to load. */
    pcb->snd_nxt = pcb->snd_una;
    pcb->rtt_start_ns = 0; /* Karn */
    tcp_output(pcb);
}

void tcp_respond_rst6(struct inet_stack *s, const struct in6_addr *src, const struct in6_addr *dst,
                      const struct tcp_hdr *th, uint32_t seg_len)
{
    struct tcp_hdr *r;
    struct dbuf *d;

    if (th->flags & TH_RST)
        return; /* never answer a reset */
    d = inet_alloc_hdr(s);
    if (!d)
        return;
    r = dbuf_append(d, TCP_HLEN);
    tcp_rst_fill(r, th, seg_len);
    r->csum = inet6_pseudo_csum(dst, src, IPPROTO_TCP, d);
    STAT_INC(s, tcp_tx);
    STAT_INC(s, tcp_tx_rst);
    ipv6_output_via(s, d, dst, src, IPPROTO_TCP, 0, NULL);
}

int tcp6_output(struct tcp_pcb *pcb, struct dbuf *d, struct tcp_hdr *th)
{
    th->csum = inet6_pseudo_csum(&pcb->local_ip6, &pcb->remote_ip6, IPPROTO_TCP, d);
    return ipv6_output_via(pcb->stack, d, &pcb->local_ip6, &pcb->remote_ip6, IPPROTO_TCP, 0, &pcb->route6) ? -1 : 0;
}
