/* SPDX-License-Identifier: MIT */
/*
 * tcp_reass.c: the receive side's queues, entered only through tcp_reass():
 * in-order payload for the application (small segments coalesced), and
 * reassembly of what arrives out of order (sorted, without overlap, bounded
 * by tcp.ooo_max), moved to the receive queue as the holes fill. FreeBSD
 * keeps the same seam (tcp_reass.c); tcp_input.c decides what is acceptable
 * and when to acknowledge, this file where it goes.
 */
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

#include <string.h>

static void tcp_rcvq_append(struct tcp_pcb *pcb, struct dbuf *d)
{
    struct dbuf *t = pcb->rcvq_tail;

    if (t && d->len <= TCP_COALESCE_MAX && dbuf_tailroom(t) >= d->len) {
        uint32_t n = d->len;
        memcpy(dbuf_append(t, n), d->data, n);
        pcb->rcvq_bytes += n;
        pcb->rcv_nxt += n;
        d->next = NULL;
        dbuf_put(d);
        return;
    }
    d->next = NULL;
    if (pcb->rcvq_tail)
        pcb->rcvq_tail->next = d;
    else
        pcb->rcvq_head = d;
    pcb->rcvq_tail = d;
    pcb->rcvq_bytes += d->len;
    pcb->rcv_nxt += d->len;
}

/* Move what became in order from the out-of-order queue. */
static void tcp_ooo_drain(struct tcp_pcb *pcb)
{
    while (pcb->ooo_head && SEQ_LEQ(pcb->ooo_head->meta32, pcb->rcv_nxt)) {
        struct dbuf *d = pcb->ooo_head;
        uint32_t dup = pcb->rcv_nxt - d->meta32;

        pcb->ooo_head = d->next;
        pcb->ooo_count--;
        pcb->ooo_bytes -= d->len;
        if (dup >= d->len) {
            d->next = NULL;
            dbuf_put(d);
            continue;
        }
        dbuf_adj(d, dup);
        d->meta32 += dup;
        tcp_rcvq_append(pcb, d);
    }
}

/* Keep an out-of-order segment, sorted, without overlap. Returns false when
 * it was not kept (caller frees). */
static bool tcp_ooo_insert(struct tcp_pcb *pcb, struct dbuf *d)
{
    struct dbuf **pp = &pcb->ooo_head;
    uint32_t seq = d->meta32;

    if (pcb->ooo_count >= pcb->stack->tcp.params.ooo_max) {
        STAT_INC(pcb->stack, tcp_ooo_drop);
        return false;
    }
    /* Find the first segment ending after our start. */
    while (*pp && SEQ_LEQ((*pp)->meta32 + (*pp)->len, seq))
        pp = &(*pp)->next;
    if (*pp) {
        struct dbuf *n = *pp;
        if (SEQ_LEQ(n->meta32, seq)) {
            /* Starts inside n: keep only what is beyond it. */
            uint32_t covered = n->meta32 + n->len - seq;
            if (covered >= d->len)
                return false; /* nothing new */
            dbuf_adj(d, covered);
            d->meta32 += covered;
            pp = &n->next;
            n = *pp;
        }
        if (n && SEQ_GT(d->meta32 + d->len, n->meta32))
            dbuf_trim(d, n->meta32 - d->meta32); /* stop where the next begins */
        if (d->len == 0)
            return false;
    }
    d->next = *pp;
    *pp = d;
    pcb->ooo_count++;
    pcb->ooo_bytes += d->len;
    STAT_INC(pcb->stack, tcp_ooo);
    return true;
}

enum tcp_reass_result tcp_reass(struct tcp_pcb *pcb, struct dbuf **d_io, uint32_t seq)
{
    struct dbuf *d = *d_io;

    d->meta32 = seq;
    if (seq != pcb->rcv_nxt) {
        pcb->sack_recent = seq; /* RFC 2018 4: report its block first */
        pcb->sack_recent_valid = true;
        if (tcp_ooo_insert(pcb, d))
            *d_io = NULL;
        return TCP_REASS_OOO;
    }
    *d_io = NULL;
    tcp_rcvq_append(pcb, d);
    if (!pcb->ooo_head)
        return TCP_REASS_INORDER;
    tcp_ooo_drain(pcb);
    return TCP_REASS_FILLED;
}
