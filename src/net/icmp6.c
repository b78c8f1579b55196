/* SPDX-License-Identifier: MIT */
/* icmp6.c: ICMPv6 (RFC 4443): echo, the errors we send under the rules of
 * 2.4, the errors we receive (Packet Too Big feeds the PMTU cache, RFC
 * 8201); NS and NA go to nd6.c. */
#include "core/clock.h"
#include "net/checksum.h"
#include "net/ipv6.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* RFC 4443 2.4 (f): a token bucket, ICMP6_ERR_BURST deep, refilled at
 * ICMP6_ERR_PER_S a second. */
static bool icmp6_err_token(struct inet_stack *s)
{
    struct ip6_state *st = &s->ip6;
    uint64_t now = clock_now_ns(), per = 1000000000ull / ICMP6_ERR_PER_S;
    uint64_t n = (now - st->err_refill_ns) / per;

    if (n > 0) {
        st->err_tokens = (uint32_t)MIN((uint64_t)st->err_tokens + n, (uint64_t)ICMP6_ERR_BURST);
        st->err_refill_ns += n * per;
    }
    if (st->err_tokens == 0)
        return false;
    st->err_tokens--;
    return true;
}

/* Whether the packet at @ip (@len bytes from its IPv6 header) is itself an
 * ICMPv6 error, or a redirect (2.4 (e.1)), behind any extension headers. A
 * chain cut short counts as an error: better silent than answering one. */
static bool icmp6_is_error(const uint8_t *ip, uint32_t len)
{
    uint32_t off = IPV6_HLEN;
    uint8_t nh = ((const struct ipv6_hdr *)ip)->next;

    while (nh == IPV6_NH_HOPOPTS || nh == IPV6_NH_DSTOPTS || nh == IPV6_NH_ROUTING || nh == IPV6_NH_FRAGMENT) {
        uint8_t cur = nh;

        if (off + 2 > len)
            return true;
        nh = ip[off];
        off += cur == IPV6_NH_FRAGMENT ? IPV6_FRAG_HLEN : ((uint32_t)ip[off + 1] + 1) * 8;
    }
    return nh == IPV6_NH_ICMPV6 && (off >= len || ip[off] < ICMP6_ECHO_REQUEST || ip[off] == ND_REDIRECT);
}

bool icmp6_error_send(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx, uint8_t type, uint8_t code,
                      uint32_t param)
{
    const uint8_t *ip;
    struct icmp6_hdr *h;
    struct in6_addr src;
    struct dbuf *e;
    uint32_t len, room;

    if (dbuf_headroom(d) < rx->hdrlen) {
        STAT_INC(s, icmp6_err_suppressed);
        return false;
    }
    ip = d->data - rx->hdrlen;
    len = d->len + rx->hdrlen;
    /* 2.4 (e): never about an error, to a multicast destination (but a
     * Packet Too Big or an unrecognised option whose type asks for it), to
     * an address that names no single node, or to ourselves. */
    if (icmp6_is_error(ip, len) ||
        (rx->dst_mcast && type != ICMP6_PACKET_TOO_BIG &&
         !(type == ICMP6_PARAM_PROB && code == ICMP6_PARAM_PROB_OPTION)) ||
        in6_is_unspecified(&rx->src) || in6_is_multicast(&rx->src) || rx->src_ours) {
        STAT_INC(s, icmp6_err_suppressed);
        return false;
    }
    if (ipv6_select_src(s, &rx->src, &src) != 0) {
        STAT_INC(s, icmp6_err_suppressed);
        return false;
    }
    if (!icmp6_err_token(s)) {
        STAT_INC(s, icmp6_err_rate_limited);
        return false;
    }
    e = inet_alloc_hdr(s);
    if (!e)
        return false;
    /* 2.4 (c): as much of the packet as fits in the minimum MTU. */
    room = IPV6_MIN_MTU - IPV6_HLEN - (uint32_t)sizeof(*h);
    len = MIN(len, MIN(room, dbuf_tailroom(e) - (uint32_t)sizeof(*h)));
    h = dbuf_append(e, (uint32_t)sizeof(*h) + len);
    h->type = type;
    h->code = code;
    h->csum = 0;
    h->data = htonl(param);
    memcpy(h + 1, ip, len);
    h->csum = inet6_pseudo_csum(&src, &rx->src, IPV6_NH_ICMPV6, e);
    STAT_INC(s, icmp6_err_tx);
    STAT_INC(s, icmp6_tx);
    ipv6_output_via(s, e, &src, &rx->src, IPV6_NH_ICMPV6, 0, NULL);
    return true;
}

/* An error about a packet we sent: the invoking packet follows the header
 * (RFC 4443 3). Packet Too Big lowers the path MTU towards its destination,
 * if the packet was ours; the others are counted (TCP and UDP will want
 * them: RFC 5927 checks belong with the connection). */
static void icmp6_error_input(struct inet_stack *s, struct dbuf *d)
{
    const struct icmp6_hdr *h = (const struct icmp6_hdr *)d->data;
    const struct ipv6_hdr *inner = (const struct ipv6_hdr *)(h + 1);
    struct in6_addr dst;

    if (h->type != ICMP6_PACKET_TOO_BIG) {
        STAT_INC(s, icmp6_err_in);
        return;
    }
    if (d->len < sizeof(*h) + IPV6_HLEN || !ipv6_is_ours(s, inner->src) || h->code != 0) {
        STAT_INC(s, icmp6_ptb_ignored);
        return;
    }
    memcpy(&dst, inner->dst, 16);
    ipv6_pmtu_update(s, &dst, ntohl(h->data));
    /* The connection it came from resends in smaller segments now (we send
     * no extension headers: TCP follows the quoted IPv6 header). */
    if (inner->next == IPV6_NH_TCP && d->len >= sizeof(*h) + IPV6_HLEN + 8)
        tcp6_mtu_lowered(s, inner, (const uint8_t *)(inner + 1), ipv6_path_mtu(s, &dst));
}

void icmp6_input(struct inet_stack *s, struct dbuf *d, const struct ipv6_rx *rx)
{
    struct icmp6_hdr *h = (struct icmp6_hdr *)d->data;
    struct in6_addr src;

    STAT_INC(s, icmp6_rx);
    if (d->len < sizeof(*h)) {
        STAT_INC(s, icmp6_drop_runt);
        goto drop;
    }
    if (inet6_pseudo_csum(&rx->src, &rx->dst, IPV6_NH_ICMPV6, d) != 0) {
        STAT_INC(s, icmp6_drop_csum);
        goto drop;
    }
    if (h->type == ND_NEIGHBOR_SOLICIT || h->type == ND_NEIGHBOR_ADVERT) {
        nd6_input(s, d, rx);
        return;
    }
    /* The unspecified source and our own are ND's alone (ipv6_input). */
    if (in6_is_unspecified(&rx->src) || rx->src_ours) {
        STAT_INC(s, ip6_drop_martian);
        goto drop;
    }
    switch (h->type) {
    case ICMP6_ECHO_REQUEST:
        if (h->code != 0)
            break;
        /* RFC 4443 4.2: answered from a unicast address of ours, also when
         * sent to a group; in place (no amplification: the reply is the
         * request's size). Group requests spend error tokens: a flood of
         * them cannot make us flood the link. */
        if (ipv6_select_src(s, &rx->src, &src) != 0) {
            STAT_INC(s, ip6_drop_no_src);
            goto drop;
        }
        if (!rx->dst_mcast)
            src = rx->dst;
        else if (!icmp6_err_token(s)) {
            STAT_INC(s, icmp6_err_rate_limited);
            goto drop;
        }
        STAT_INC(s, icmp6_echo_request);
        h->type = ICMP6_ECHO_REPLY;
        h->csum = 0;
        h->csum = inet6_pseudo_csum(&src, &rx->src, IPV6_NH_ICMPV6, d);
        STAT_INC(s, icmp6_tx);
        ipv6_output_via(s, d, &src, &rx->src, IPV6_NH_ICMPV6, 0, NULL);
        return;
    case ICMP6_ECHO_REPLY:
        if (h->code != 0)
            break;
        STAT_INC(s, icmp6_echo_reply);
        if (s->ip6.on_echo_reply)
            s->ip6.on_echo_reply(s, &rx->src, (uint16_t)(ntohl(h->data) >> 16), (uint16_t)ntohl(h->data),
                                 d->len - (uint32_t)sizeof(*h), s->ip6.echo_arg);
        goto drop;
    case ND_ROUTER_SOLICIT:
    case ND_ROUTER_ADVERT:
    case ND_REDIRECT:
        STAT_INC(s, nd6_router_ignored); /* no router support (nd6.h) */
        goto drop;
    case ICMP6_DST_UNREACH:
    case ICMP6_PACKET_TOO_BIG:
    case ICMP6_TIME_EXCEEDED:
    case ICMP6_PARAM_PROB:
        icmp6_error_input(s, d);
        goto drop;
    default:
        break;
    }
    /* RFC 4443 2.4 (a), (b): unknown errors go up (none of ours wants
     * them), unknown informational messages are dropped: both counted. */
    STAT_INC(s, icmp6_drop_type);
drop:
    dbuf_chain_put(d);
}

int icmp6_echo_send(struct inet_stack *s, const struct in6_addr *dst, uint16_t id, uint16_t seq, uint32_t len)
{
    struct icmp6_hdr *h;
    struct in6_addr src;
    struct dbuf *d;
    uint8_t *payload;

    if (!s->ip6.enabled || ipv6_select_src(s, dst, &src) != 0)
        return EADDRNOTAVAIL;
    if (len + sizeof(*h) + IPV6_HLEN > s->mtu)
        return EMSGSIZE;
    d = inet_alloc_hdr(s);
    if (!d)
        return ENOBUFS;
    h = dbuf_append(d, (uint32_t)sizeof(*h) + len);
    if (!h) {
        dbuf_put(d);
        return EMSGSIZE;
    }
    h->type = ICMP6_ECHO_REQUEST;
    h->code = 0;
    h->data = htonl((uint32_t)id << 16 | seq);
    payload = (uint8_t *)(h + 1);
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)i;
    h->csum = 0;
    h->csum = inet6_pseudo_csum(&src, dst, IPV6_NH_ICMPV6, d);
    STAT_INC(s, icmp6_tx);
    return ipv6_output_via(s, d, &src, dst, IPV6_NH_ICMPV6, 0, NULL);
}
