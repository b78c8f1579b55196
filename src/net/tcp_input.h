/* SPDX-License-Identifier: MIT */
/*
 * tcp_input.h: what segment arrival shares between tcp_input.c (the entry
 * and the connection's states), tcp_listen.c (a listener's: SYNs, and the
 * ACKs of its SYN cookies) and tcp_fastpath.c (header prediction). Private
 * to those files.
 */
#ifndef DEMI_NET_TCP_INPUT_H
#define DEMI_NET_TCP_INPUT_H

#include "core/clock.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <stdbool.h>
#include <stdint.h>

/* A segment, parsed. Sequence numbers in host order. */
struct tcp_seg {
    const struct tcp_hdr *th;
    uint32_t seq, ack, len; /* len: payload + SYN + FIN */
    uint32_t wnd;           /* unscaled */
    uint8_t flags;
    struct tcp_opts o;
    uint32_t src, dst;          /* IPv4 (network order) */
    bool v6;                    /* an IPv6 segment: */
    struct in6_addr src6, dst6; /* its addresses */
};

/* A segment arrives (either family): counted, and its header's length,
 * or 0 when the segment is shorter than a TCP header or its data offset
 * is out of bounds (counted drops). */
static inline uint32_t tcp_hdr_len(struct inet_stack *s, const struct dbuf *d)
{
    uint32_t off;

    STAT_INC(s, tcp_rx);
    if (d->len < TCP_HLEN) {
        STAT_INC(s, tcp_drop_runt);
        return 0;
    }
    off = (uint32_t)(((const struct tcp_hdr *)d->data)->off >> 4) * 4;
    if (off < TCP_HLEN || off > d->len) {
        STAT_INC(s, tcp_drop_off);
        return 0;
    }
    return off;
}

/* The entry after the network layer's checks (header length, checksum):
 * options, demux, and the rest (tcp_input.c). @off: the header length. */
void tcp_input_seg(struct inet_stack *s, struct dbuf *d, struct tcp_seg *sg, uint32_t off);

/* Answer @sg with the RST of RFC 9293 3.10.7.1, in its family. */
static inline void tcp_seg_rst(struct inet_stack *s, const struct tcp_seg *sg)
{
    if (sg->v6)
        tcp_respond_rst6(s, &sg->src6, &sg->dst6, sg->th, sg->len);
    else
        tcp_respond_rst(s, sg->src, sg->dst, sg->th, sg->len);
}

/* A new child of a listener takes @sg's addresses (local = its
 * destination) and family. */
void tcp_child_addrs(struct tcp_pcb *c, const struct tcp_seg *sg);

/* SYN cookies (tcp_syncookie.c, RFC 4987 3.6). Answer SYN @sg to listener
 * @l with a cookie SYN-ACK; nothing is kept. */
void tcp_syncookie_send(struct inet_stack *s, const struct tcp_pcb *l, const struct tcp_seg *sg);

/* ACK @sg to @l with no connection: if SEG.ACK - 1 is a valid cookie, the
 * established child (on @l's accept queue); else NULL, counted. */
struct tcp_pcb *tcp_syncookie_check(struct inet_stack *s, struct tcp_pcb *l, const struct tcp_seg *sg);

/* How an in-order data segment is acknowledged (RFC 5681 4.2, RFC 1122
 * 4.2.3.2): at once while the connection still has quick ACKs (Linux's
 * quickack mode: its first tcp.quickack_segments data segments, so a
 * sender's slow start, or a request written in two pushes whose second
 * Nagle holds until the first is acknowledged, never waits for the timer;
 * tcp_quickack_pingpong ends them early), else at every second segment or
 * when the delayed-ACK timer fires. */
static inline void tcp_ack_inorder(struct tcp_pcb *pcb)
{
    if (pcb->quickacks) {
        pcb->quickacks--;
        pcb->quickack_rx_ns = clock_now_ns();
        pcb->ack_now = true;
        STAT_INC(pcb->stack, tcp_quickack);
    } else if (++pcb->unacked_segs >= 2 || pcb->stack->tcp.params.delack_off) {
        pcb->ack_now = true;
    } else {
        tcp_delack_arm(pcb);
    }
}

/* Agree the SYN options (RFC 7323 1.3, RFC 2018 2) on @pcb: each one only
 * if both sides offered it. */
void tcp_negotiate(struct tcp_pcb *pcb, const struct tcp_seg *sg);

/* Drop @acked bytes from the head of @pcb's send queue. */
void tcp_sndq_drop(struct tcp_pcb *pcb, uint32_t acked);

/* Header prediction (tcp_fastpath.c): take @sg whole if it is the common
 * case of an established connection, and say so; else leave it untouched
 * for the full path. */
bool tcp_input_fast(struct tcp_pcb *pcb, const struct tcp_seg *sg, struct dbuf **d);

/* A segment for listener @l (RFC 9293 3.10.7.2): a SYN makes a half-open
 * child, or a SYN cookie while the SYN queue is full. */
void tcp_input_listen(struct inet_stack *s, struct tcp_pcb *l, const struct tcp_seg *sg);

/* Whether @sg could be the ACK of a SYN cookie @l sent. */
bool tcp_cookie_ack(const struct tcp_pcb *l, const struct tcp_seg *sg);

#endif /* DEMI_NET_TCP_INPUT_H */
