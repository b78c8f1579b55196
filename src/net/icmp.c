/* SPDX-License-Identifier: MIT */
/* icmp.c: ICMPv4 echo (RFC 792): answer requests, report replies to tools. */
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

void icmp_input(struct inet_stack *s, struct dbuf *d, uint32_t src)
{
    struct icmp_echo_hdr *h = (struct icmp_echo_hdr *)d->data;

    STAT_INC(s, icmp_rx);
    if (d->len < sizeof(*h)) {
        STAT_INC(s, icmp_drop_runt);
        goto drop;
    }
    if (inet_csum(d->data, d->len) != 0) {
        STAT_INC(s, icmp_drop_csum);
        inet_hint(s, INET_HINT_CSUM, src, NULL, IPV4_PROTO_ICMP);
        goto drop;
    }
    if (h->type == ICMP_ECHO_REQUEST && h->code == 0) {
        /* Answer in place: same buffer, type changed, checksum adjusted. */
        STAT_INC(s, icmp_echo_request);
        h->type = ICMP_ECHO_REPLY;
        h->csum = 0;
        h->csum = inet_csum(d->data, d->len);
        STAT_INC(s, icmp_tx);
        ipv4_output(s, d, src, IPV4_PROTO_ICMP);
        return;
    }
    if (h->type == ICMP_ECHO_REPLY && h->code == 0) {
        STAT_INC(s, icmp_echo_reply);
        if (s->on_echo_reply)
            s->on_echo_reply(s, src, ntohs(h->id), ntohs(h->seq), d->len - (uint32_t)sizeof(*h), s->echo_arg);
        goto drop;
    }
    STAT_INC(s, icmp_drop_type);
drop:
    dbuf_chain_put(d);
}

int icmp_echo_send(struct inet_stack *s, uint32_t dst, uint16_t id, uint16_t seq, uint32_t len)
{
    struct icmp_echo_hdr *h;
    struct dbuf *d;
    uint8_t *payload;

    if (len + sizeof(*h) + IPV4_HLEN > s->mtu)
        return EMSGSIZE;
    d = inet_alloc_hdr(s);
    if (!d)
        return ENOBUFS;
    h = dbuf_append(d, (uint32_t)sizeof(*h) + len);
    if (!h) {
        dbuf_put(d);
        return EMSGSIZE;
    }
    h->type = ICMP_ECHO_REQUEST;
    h->code = 0;
    h->id = htons(id);
    h->seq = htons(seq);
    payload = (uint8_t *)(h + 1);
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)i;
    h->csum = 0;
    h->csum = inet_csum(h, sizeof(*h) + len);
    STAT_INC(s, icmp_tx);
    return ipv4_output(s, d, dst, IPV4_PROTO_ICMP);
}
