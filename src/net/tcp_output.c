/* SPDX-License-Identifier: MIT */
/*
 * tcp_output.c: building and sending segments: the send decision (windows,
 * Nagle, FIN), zero-copy payloads, retransmissions, RSTs and bare ACKs.
 */
#include "core/clock.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <string.h>

uint16_t tcp_rcv_window(struct tcp_pcb *pcb)
{
    uint32_t space = tcp_rcv_space(pcb);
    uint32_t win;

    /* Never shrink the window we offered (RFC 9293 3.8.6.2.2). */
    if (SEQ_LT(pcb->rcv_nxt + space, pcb->rcv_adv))
        space = pcb->rcv_adv - pcb->rcv_nxt;
    win = space >> pcb->rcv_wscale;
    return (uint16_t)MIN(win, TCP_MAXWIN);
}

/* Append @len bytes of the send queue from sequence @seq to frame @head:
 * copied when short, else as slices of the queued buffers (zero copy).
 * Returns false when out of buffers or the queue holds fewer bytes. */
static bool tcp_attach_payload(struct tcp_pcb *pcb, struct dbuf *head, uint32_t seq, uint32_t len)
{
    struct dbuf *q = pcb->sndq_head, *tail = head;
    bool copy = len <= TCP_COPY_MAX && dbuf_tailroom(head) >= len;

    /* The entry holding @seq: entries are in sequence order. */
    while (q && SEQ_GEQ(seq, q->meta32 + q->len))
        q = q->next;
    for (; len > 0 && q; q = q->next) {
        uint32_t off = seq - q->meta32;
        uint32_t n = q->len - off < len ? q->len - off : len;

        if (copy) {
            memcpy(dbuf_append(head, n), q->data + off, n);
        } else {
            struct dbuf *sl = dbuf_slice(pcb->stack->mem, q, off, n);
            if (!sl)
                return false;
            tail->next = sl;
            tail = sl;
        }
        seq += n;
        len -= n;
    }
    return len == 0;
}

/* Data sent soon after the peer's makes the exchange interactive (Linux's
 * pingpong mode): our data carries the ACKs from then on, and the quick
 * ACKs end (tcp_ack_inorder). Soon: within the delayed-ACK timeout of the
 * peer's last data segment. */
static void tcp_quickack_pingpong(struct tcp_pcb *pcb)
{
    if (pcb->quickack_rx_ns && clock_now_ns() - pcb->quickack_rx_ns < pcb->stack->tcp.params.delack_ns)
        pcb->quickacks = 0;
}

/* Send one segment: @len payload bytes from @seq, with @flags. A non-zero
 * @tso_seg makes it a frame the device cuts into segments of @tso_seg
 * payload bytes (netdev.h, DBUF_F_TX_TSO): the device then fills every
 * segment's checksum. */
static int tcp_xmit(struct tcp_pcb *pcb, uint32_t seq, uint32_t len, uint8_t flags, uint32_t tso_seg)
{
    struct inet_stack *s = pcb->stack;
    uint8_t opts[TCP_MAX_OPTLEN];
    uint32_t optlen, win;
    struct tcp_hdr *th;
    struct dbuf *d;
    uint64_t now;

    d = inet_alloc_hdr(s);
    if (!d)
        return -1;
    now = clock_now_ns();
    optlen = tcp_opts_write(pcb, opts, flags, now);
    th = dbuf_append(d, TCP_HLEN + optlen);
    memcpy((uint8_t *)th + TCP_HLEN, opts, optlen);
    if (len > 0 && !tcp_attach_payload(pcb, d, seq, len)) {
        STAT_INC(s, mem_drop_nobuf);
        dbuf_chain_put(d);
        return -1;
    }
    if (len > 0 && pcb->quickacks)
        tcp_quickack_pingpong(pcb);
    if ((len > 0 || (flags & TH_FIN)) && pcb->state >= TCPS_ESTABLISHED && TCP_RACK_ON(pcb))
        tcp_rack_sent(pcb, seq, len + ((flags & TH_FIN) ? 1 : 0), SEQ_LT(seq, pcb->snd_max), now);
    if (flags & TH_SYN) {
        /* The window of a SYN is never scaled (RFC 7323 2.2). */
        win = MIN(pcb->rcvbuf, TCP_MAXWIN);
    } else {
        win = tcp_rcv_window(pcb);
    }
    th->sport = pcb->local_port;
    th->dport = pcb->remote_port;
    th->seq = htonl(seq);
    th->ack = (flags & TH_ACK) ? htonl(pcb->rcv_nxt) : 0;
    th->off = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    th->flags = flags;
    th->win = htons((uint16_t)win);
    th->csum = 0;
    th->urp = 0;
    if (tso_seg) {
        d->flags |= DBUF_F_TX_TSO;
        d->meta32 = tso_seg;
    } else if (!(s->offloads & NETDEV_OFF_TCP_CSUM) && !pcb->v6) {
        struct csum c;
        csum_init(&c);
        csum_add_pseudo(&c, pcb->local_ip, pcb->remote_ip, IPV4_PROTO_TCP, (uint16_t)dbuf_chain_len(d));
        csum_add_chain(&c, d);
        th->csum = csum_finish(&c);
    }
    if (flags & TH_ACK) {
        /* This segment acknowledges everything: no ACK is owed any more. */
        pcb->ack_now = false;
        pcb->unacked_segs = 0;
        pcb->delack_pending = false; /* t_delack is lazy: left to fire for nothing */
        /* The right edge we promised; a SYN's window is unscaled. */
        uint32_t edge = pcb->rcv_nxt + ((flags & TH_SYN) ? win : (uint32_t)win << pcb->rcv_wscale);
        if (SEQ_GT(edge, pcb->rcv_adv))
            pcb->rcv_adv = edge;
    }
    STAT_INC(s, tcp_tx);
    if (flags & TH_RST)
        STAT_INC(s, tcp_tx_rst);
    if (tso_seg) {
        STAT_INC(s, tcp_tx_tso);
        s->stats.tcp_tx_tso_segs += (len + tso_seg - 1) / tso_seg;
    }
    if (pcb->v6)
        return tcp6_output(pcb, d, th);
    return ipv4_output_via(s, d, pcb->remote_ip, IPV4_PROTO_TCP, &pcb->route) ? -1 : 0;
}

/* A segment without data. Bare ACKs carry SND.MAX, not SND.NXT: after a
 * timeout SND.NXT goes back to SND.UNA, and a peer that already has those
 * bytes would find SND.NXT left of its window and drop the ACK with it
 * (as FreeBSD's tcp_output does). */
void tcp_send_ctl(struct tcp_pcb *pcb, uint8_t flags, uint32_t seq)
{
    tcp_xmit(pcb, seq, 0, flags, 0);
}

/* Bytes of the send queue not yet sent, and whether the FIN is due. */
static uint32_t tcp_unsent(const struct tcp_pcb *pcb)
{
    uint32_t off = pcb->snd_nxt - pcb->snd_una;
    return off < pcb->sndq_bytes ? pcb->sndq_bytes - off : 0;
}

/* Sequence number of our FIN: right after the last queued byte. */
static uint32_t tcp_fin_seq(const struct tcp_pcb *pcb)
{
    return pcb->snd_una + pcb->sndq_bytes;
}

void tcp_retransmit(struct tcp_pcb *pcb, uint32_t seq, uint32_t max_len)
{
    uint32_t end = tcp_fin_seq(pcb);
    uint32_t len = SEQ_LT(seq, end) ? end - seq : 0;
    uint8_t flags = TH_ACK;

    /* Only what was sent: a segment may have gone out shorter than a
     * retransmission could now be (a SACK option took room then), and bytes
     * past SND.MAX would reach the peer without SND.MAX knowing: its ACK of
     * them would look like an ACK of unsent data (RFC 5961 5.2) and be
     * dropped, with the data it carries, on both sides for ever (the soak
     * test's stalled echo). */
    if (!SEQ_LT(seq, pcb->snd_max))
        len = 0;
    else if (len > pcb->snd_max - seq)
        len = pcb->snd_max - seq;
    if (len > tcp_seg_max(pcb))
        len = tcp_seg_max(pcb);
    if (len > max_len)
        len = max_len;
    /* The FIN rides along if this reaches the end and it was sent before. */
    if (pcb->fin_queued && !pcb->fin_acked && seq + len == end && SEQ_GT(pcb->snd_max, end))
        flags |= TH_FIN;
    if (len == 0 && !(flags & TH_FIN))
        return;
    if (len > 0)
        flags |= TH_PSH;
    STAT_INC(pcb->stack, tcp_rexmt);
    tcp_xmit(pcb, seq, len, flags, 0);
}

void tcp_send_probe(struct tcp_pcb *pcb)
{
    STAT_INC(pcb->stack, tcp_persist);
    if (tcp_unsent(pcb) > 0 || SEQ_LT(pcb->snd_una, tcp_fin_seq(pcb))) {
        /* The first unacknowledged byte: an earlier probe the peer did not
         * take is offered again, never the byte after it. A window open but
         * too small to fill gets what it takes (RFC 9293 3.8.6.2.1's
         * override: min(data, window)). */
        uint32_t seq = pcb->snd_una, avail = tcp_fin_seq(pcb) - seq, len = 1;
        if (pcb->snd_wnd > 0 && pcb->snd_nxt == pcb->snd_una)
            len = MIN(MIN(pcb->snd_wnd, tcp_seg_max(pcb)), avail);
        if (len == 0)
            len = 1;
        if (tcp_xmit(pcb, seq, len, TH_ACK | TH_PSH, 0) == 0) {
            /* The bytes are real data: their ACK must be believed (SND.MAX). */
            pcb->snd_nxt = seq + len;
            if (SEQ_GT(pcb->snd_nxt, pcb->snd_max))
                pcb->snd_max = pcb->snd_nxt;
        }
    } else {
        tcp_send_ctl(pcb, TH_ACK, pcb->snd_una - 1);
    }
}

/* The largest payload of one TSO frame: its IPv4 total length is 16 bits. */
#define TCP_TSO_PAYLOAD_MAX (UINT16_MAX - IPV4_HLEN - TCP_HLEN - TCP_MAX_OPTLEN)

/*
 * TCP segmentation offload (netdev.h): how many bytes of new data go as one
 * frame the device cuts into @seg_max-byte segments, or 0 for an ordinary
 * segment. @avail is what the windows allow and the queue holds, @unsent
 * what the queue holds. Only new data in the steady state goes so:
 * retransmissions, recovery and limited transmit (each segment there is
 * counted against a loss signal), probes and SYNs keep their own sizes,
 * and the FIN goes in an ordinary segment with the last bytes. The frame
 * holds whole segments; its short tail only when it is the end of the data
 * and TCP_NODELAY sends it now anyway (with Nagle it would wait behind the
 * full segments in flight, as it does without the offload).
 */
static uint32_t tcp_tso_len(const struct tcp_pcb *pcb, uint32_t avail, uint32_t unsent, uint32_t seg_max)
{
    const struct inet_stack *s = pcb->stack;
    uint32_t max, len;

    if (!(s->offloads & NETDEV_OFF_TCP_TSO) || pcb->v6 || avail <= seg_max || pcb->snd_nxt != pcb->snd_max ||
        pcb->in_recovery || pcb->dupacks > 0 || (pcb->state != TCPS_ESTABLISHED && pcb->state != TCPS_CLOSE_WAIT))
        return 0;
    max = MIN(s->dev->tso_max_len, TCP_TSO_PAYLOAD_MAX) / seg_max;
    max = MIN(max, s->dev->tso_max_segs) * seg_max;
    len = MIN(avail, max);
    if (!(len == unsent && pcb->nodelay))
        len -= len % seg_max;
    if (pcb->fin_queued && !pcb->fin_acked && len == unsent)
        len -= len % seg_max ? len % seg_max : seg_max;
    return len > seg_max ? len : 0;
}

void tcp_output(struct tcp_pcb *pcb)
{
    struct inet_stack *s = pcb->stack;

    switch (pcb->state) {
    case TCPS_CLOSED:
    case TCPS_LISTEN:
    case TCPS_TIME_WAIT:
        if (pcb->state == TCPS_TIME_WAIT && pcb->ack_now)
            tcp_send_ctl(pcb, TH_ACK, pcb->snd_max);
        return;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        if (pcb->snd_nxt == pcb->iss) {
            uint8_t flags = pcb->state == TCPS_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;
            if (pcb->snd_max == pcb->iss + 1)
                STAT_INC(s, tcp_rexmt);
            else
                pcb->rtt_start_ns = clock_now_ns(), pcb->rtt_seq = pcb->iss;
            tcp_xmit(pcb, pcb->iss, 0, flags, 0);
            pcb->snd_nxt = pcb->snd_max = pcb->iss + 1;
            if (!tcp_rexmt_armed(pcb))
                tcp_rexmt_arm(pcb);
        } else if (pcb->ack_now) {
            tcp_send_ctl(pcb, TH_ACK, pcb->snd_nxt);
        }
        return;
    default:
        break;
    }

    for (;;) {
        uint32_t flight = pcb->snd_nxt - pcb->snd_una;
        /* Limited transmit (RFC 3042): the first two duplicate ACKs each let
         * one new segment out beyond cwnd, to keep the ACK clock going. */
        uint32_t cwnd = pcb->cwnd + (!pcb->in_recovery && pcb->dupacks < 3 ? pcb->dupacks * pcb->mss : 0) +
                        (pcb->tlp_probe ? pcb->mss : 0); /* RFC 8985 7.3: the probe may exceed cwnd */
        uint32_t wnd = pcb->snd_wnd < cwnd ? pcb->snd_wnd : cwnd;
        uint32_t usable = wnd > flight ? wnd - flight : 0;
        uint32_t unsent = tcp_unsent(pcb);
        uint32_t len = unsent < usable ? unsent : usable;
        uint32_t seg_max = tcp_seg_max(pcb);
        uint32_t tso = tcp_tso_len(pcb, len, unsent, seg_max);
        bool fin = false, send = false;
        uint8_t flags = TH_ACK;

        if (tso)
            len = tso;
        else if (len > seg_max)
            len = seg_max;
        /* FIN once every byte is in this or an earlier segment. */
        if (pcb->fin_queued && !pcb->fin_acked && pcb->snd_nxt + len == tcp_fin_seq(pcb))
            fin = true;
        if (len >= seg_max)
            send = true;
        else if (len > 0 && SEQ_LT(pcb->snd_nxt, pcb->snd_max))
            send = true; /* resending after a timeout: SWS avoidance is for new data only (BSD's tcp_output too) */
        else if (len > 0 && len == unsent && (pcb->nodelay || flight == 0))
            send = true; /* Nagle (RFC 9293 3.7.4): small only when nothing is in flight */
        else if (fin && len == unsent)
            send = true;
        else if (len > 0 && len >= pcb->max_snd_wnd / 2)
            send = true; /* RFC 9293 3.8.6.2.1: half the largest window the peer offered (Fs = 1/2) */
        if (!send) {
            if (unsent > 0 && flight == 0 && !tcp_rexmt_armed(pcb)) {
                /* Data waits and nothing is in flight, so no ACK will come
                 * to move it: a zero window (RFC 9293 3.8.6.1), or one too
                 * small to fill (sender SWS avoidance, RFC 9293 3.8.6.2.1:
                 * the override timeout). The persist timer probes, or sends
                 * what the window takes (tcp_send_probe). */
                pcb->persist = true;
                tcp_rexmt_arm_at(pcb, clock_now_ns() + pcb->rto_ns);
            }
            if (pcb->ack_now)
                tcp_send_ctl(pcb, TH_ACK, pcb->snd_max);
            return;
        }
        if ((len > 0 || fin) && !inet_tx_room(s)) {
            /* The transmit queue is nearly full (a stalled peer): the data
             * waits here, where dropping it costs nothing, and goes when
             * the queue drains (tcp_txwait_wake). */
            if (!list_linked(&pcb->txwait_link))
                list_add_tail(&s->tcp.txwait, &pcb->txwait_link);
            STAT_INC(s, tcp_tx_held);
            if (pcb->ack_now)
                tcp_send_ctl(pcb, TH_ACK, pcb->snd_max);
            return;
        }
        if (len > 0 && len == unsent)
            flags |= TH_PSH;
        if (fin)
            flags |= TH_FIN;
        if (SEQ_LT(pcb->snd_nxt, pcb->snd_max))
            STAT_INC(s, tcp_rexmt); /* resending after a timeout */
        if (tcp_xmit(pcb, pcb->snd_nxt, len, flags, tso ? seg_max : 0) != 0) {
            /* Out of buffers: the timer retries, even with nothing in
             * flight (it then calls tcp_output again). */
            if (!tcp_rexmt_armed(pcb))
                tcp_rexmt_arm(pcb);
            return;
        }
        /* Time one segment per RTT, never a retransmitted one (Karn). */
        if (pcb->rtt_start_ns == 0 && pcb->snd_nxt == pcb->snd_max && len > 0) {
            pcb->rtt_start_ns = clock_now_ns();
            pcb->rtt_seq = pcb->snd_nxt;
        }
        pcb->snd_nxt += len + (fin ? 1 : 0);
        if (SEQ_GT(pcb->snd_nxt, pcb->snd_max))
            pcb->snd_max = pcb->snd_nxt;
        if (!tcp_rexmt_armed(pcb) || pcb->persist)
            tcp_rexmt_arm(pcb);
        if (TCP_RACK_ON(pcb))
            tcp_rack_sent_new(pcb, clock_now_ns());
        if (fin)
            return;
    }
}

void tcp_txwait_wake(struct inet_stack *s)
{
    while (!list_empty(&s->tcp.txwait) && inet_tx_room(s)) {
        struct tcp_pcb *pcb = list_entry(list_first(&s->tcp.txwait), struct tcp_pcb, txwait_link);

        list_del(&pcb->txwait_link);
        tcp_output(pcb);
        if (list_linked(&pcb->txwait_link))
            break; /* held back again: the queue is full */
    }
}

void tcp_rst_fill(struct tcp_hdr *r, const struct tcp_hdr *th, uint32_t seg_len)
{
    memset(r, 0, TCP_HLEN);
    r->sport = th->dport;
    r->dport = th->sport;
    r->off = 5 << 4;
    /* RFC 9293 3.10.7.1 */
    if (th->flags & TH_ACK) {
        r->seq = th->ack;
        r->flags = TH_RST;
    } else {
        r->ack = htonl(ntohl(th->seq) + seg_len);
        r->flags = TH_RST | TH_ACK;
    }
}

void tcp_respond_rst(struct inet_stack *s, uint32_t src, uint32_t dst, const struct tcp_hdr *th, uint32_t seg_len)
{
    struct tcp_hdr *r;
    struct dbuf *d;
    struct csum c;

    if (th->flags & TH_RST)
        return; /* never answer a reset */
    d = inet_alloc_hdr(s);
    if (!d)
        return;
    r = dbuf_append(d, TCP_HLEN);
    tcp_rst_fill(r, th, seg_len);
    csum_init(&c);
    csum_add_pseudo(&c, dst, src, IPV4_PROTO_TCP, TCP_HLEN);
    csum_add(&c, r, TCP_HLEN);
    r->csum = csum_finish(&c);
    STAT_INC(s, tcp_tx);
    STAT_INC(s, tcp_tx_rst);
    ipv4_output(s, d, src, IPV4_PROTO_TCP);
}
