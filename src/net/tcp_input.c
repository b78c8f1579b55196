/* SPDX-License-Identifier: MIT */
/*
 * tcp_input.c: segment arrival, in the order of RFC 9293 3.10.7 ("SEGMENT
 * ARRIVES"), with RFC 5961 (blind-injection defences), RFC 7323 (PAWS),
 * RFC 5681/6582 (duplicate ACKs, fast retransmit and recovery) and RFC 3042
 * (limited transmit, in tcp_output).
 *
 * Every path consumes the buffer: it is queued (in order or out of order)
 * or dropped. Events for the libOS are collected and delivered at the end,
 * once the pcb is consistent, and only while it exists.
 */
#include "core/clock.h"
#include "core/log.h"
#include "net/checksum.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_input.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* PAWS: timestamps older than 24 days are no evidence (RFC 7323 5.5). */
#define TCP_PAWS_IDLE_NS (24ull * 24 * 3600 * 1000000000ull)

/* Agree the SYN options (RFC 7323 1.3, RFC 2018 2): each one only if both
 * sides offered it. */
void tcp_negotiate(struct tcp_pcb *pcb, const struct tcp_seg *sg)
{
    if (pcb->ws_ok && sg->o.wscale >= 0) {
        pcb->snd_wscale = (uint8_t)sg->o.wscale;
        pcb->rcv_wscale = MAX(pcb->rcv_wscale, tcp_rcv_wscale_for(pcb->rcvbuf));
    } else {
        pcb->ws_ok = false;
        pcb->snd_wscale = pcb->rcv_wscale = 0;
    }
    pcb->ts_ok = pcb->ts_ok && sg->o.ts_present;
    if (pcb->ts_ok) {
        pcb->ts_recent = sg->o.tsval;
        pcb->ts_recent_age_ns = clock_now_ns();
    }
    pcb->sack_ok = pcb->sack_ok && sg->o.sack_ok;
    tcp_mss_set(pcb, sg->o.mss);
}

/* ---- SYN_SENT (RFC 9293 3.10.7.3) ----------------------------------------- */

static unsigned tcp_input_syn_sent(struct tcp_pcb *pcb, const struct tcp_seg *sg)
{
    struct inet_stack *s = pcb->stack;

    if (sg->flags & TH_ACK) {
        if (SEQ_LEQ(sg->ack, pcb->iss) || SEQ_GT(sg->ack, pcb->snd_max)) {
            tcp_seg_rst(s, sg);
            return 0;
        }
    }
    if (sg->flags & TH_RST) {
        if (sg->flags & TH_ACK) { /* acceptable: the peer refused */
            STAT_INC(s, tcp_conn_refused);
            pcb->err = ECONNREFUSED;
            tcp_set_state(pcb, TCPS_CLOSED);
            return TCP_EV_CONNECTED | TCP_EV_ERROR;
        }
        return 0;
    }
    if (!(sg->flags & TH_SYN))
        return 0;
    pcb->irs = sg->seq;
    pcb->rcv_nxt = sg->seq + 1;
    pcb->rcv_adv = pcb->rcv_nxt;
    tcp_negotiate(pcb, sg);
    if (sg->flags & TH_ACK) {
        pcb->snd_una = sg->ack;
        pcb->snd_wnd = sg->wnd; /* unscaled in a SYN-ACK (RFC 7323 2.2) */
        pcb->max_snd_wnd = pcb->snd_wnd;
        pcb->snd_wl1 = sg->seq;
        pcb->snd_wl2 = sg->ack;
        if (pcb->rtt_start_ns && pcb->rexmt_count == 0)
            tcp_rtt_sample(pcb, clock_now_ns() - pcb->rtt_start_ns);
        pcb->rtt_start_ns = 0;
        pcb->rexmt_count = 0;
        tcp_rexmt_stop(pcb);
        pcb->state = TCPS_ESTABLISHED;
        pcb->cc->init(pcb); /* with the MSS now known */
        tcp_keep_reset(pcb);
        pcb->ack_now = true;
        return TCP_EV_CONNECTED | TCP_EV_WRITABLE;
    }
    /* Simultaneous open: answer with SYN-ACK from SYN_RECEIVED. */
    pcb->state = TCPS_SYN_RECEIVED;
    pcb->snd_nxt = pcb->iss;
    pcb->snd_wnd = sg->wnd;
    pcb->snd_wl1 = sg->seq;
    return 0;
}

/* ---- acceptability, RST, SYN (RFC 9293 3.10.7.4 first to fourth) --------- */

static bool tcp_seq_acceptable(const struct tcp_pcb *pcb, const struct tcp_seg *sg)
{
    uint32_t wnd = SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt) ? pcb->rcv_adv - pcb->rcv_nxt : 0;

    if (sg->len == 0) {
        if (wnd == 0)
            return sg->seq == pcb->rcv_nxt;
        return SEQ_IN(sg->seq, pcb->rcv_nxt, pcb->rcv_nxt + wnd);
    }
    if (wnd == 0)
        return false;
    return SEQ_IN(sg->seq, pcb->rcv_nxt, pcb->rcv_nxt + wnd) ||
           SEQ_IN(sg->seq + sg->len - 1, pcb->rcv_nxt, pcb->rcv_nxt + wnd);
}

static void tcp_challenge_ack(struct tcp_pcb *pcb)
{
    STAT_INC(pcb->stack, tcp_challenge_ack);
    tcp_send_ctl(pcb, TH_ACK, pcb->snd_max);
}

/* ---- ACK processing ------------------------------------------------------- */

/*
 * The first ACK of new data after a timeout: was the timeout spurious, the
 * segment not lost but its ACK late or lost? Two kinds of evidence:
 *   - Eifel (RFC 3522): the ACK echoes a TSval older than that of the
 *     timeout retransmission, so it acknowledges the original;
 *   - D-SACK (RFC 2883, RFC 3708): the ACK reports the retransmitted bytes
 *     as a duplicate (a SACK block below the cumulative ACK), so the
 *     original had arrived. Linux answers a duplicate this way, echoing the
 *     retransmission's TSval, which defeats Eifel.
 * Either way (RFC 4015) the window comes back and the rest of the go-back-N
 * retransmission is skipped. Only Eifel says how late the ACK was (now less
 * the original's TSval); a D-SACK also follows a lost ACK, which says
 * nothing of the peer's delay. A late ACK raises this connection's RTO floor
 * to 1.25 times that delay (at most TCP_RTO_FLOOR_MAX), so a peer whose
 * delayed ACK outlasts our RTO (Linux: up to 40 ms; our floor defaults to
 * 2 ms) costs one timeout, not one per delayed ACK; RTT samples bring the
 * floor back down (tcp_rtt_sample). Returns whether it was spurious.
 */
static bool tcp_rto_undo(struct tcp_pcb *pcb, const struct tcp_seg *sg)
{
    uint64_t delay_ns, floor;
    bool eifel, dsack;

    if (!pcb->rto_undo_armed)
        return false;
    pcb->rto_undo_armed = false;
    eifel = pcb->ts_ok && sg->o.ts_present && TSTMP_LT(sg->o.tsecr, pcb->rto_tsval);
    dsack = pcb->sack_ok && sg->o.nsack > 0 && SEQ_LEQ(sg->o.sack[0][1], sg->ack) &&
            SEQ_LEQ(sg->o.sack[0][0], pcb->rto_seq) && SEQ_GT(sg->o.sack[0][1], pcb->rto_seq);
    if (!eifel && !dsack)
        return false;
    STAT_INC(pcb->stack, tcp_rto_spurious);
    pcb->cwnd = pcb->rto_prior_cwnd > pcb->cwnd ? pcb->rto_prior_cwnd : pcb->cwnd;
    pcb->ssthresh = pcb->rto_prior_ssthresh;
    if (SEQ_LT(pcb->snd_nxt, pcb->snd_max))
        pcb->snd_nxt = pcb->snd_max;
    pcb->rexmt_count = 0;
    if (!eifel)
        return true;
    /* TSvals are milliseconds: round the delay up. */
    delay_ns = (uint64_t)(tcp_ts_now(clock_now_ns()) - sg->o.tsecr + 1) * 1000000u;
    floor = delay_ns + delay_ns / 4;
    if (floor > TCP_RTO_FLOOR_MAX_NS)
        floor = TCP_RTO_FLOOR_MAX_NS;
    if (floor > pcb->rto_floor_ns) {
        pcb->rto_floor_ns = floor;
        if (pcb->rto_ns < floor)
            pcb->rto_ns = floor;
    }
    return true;
}

/* Drop @acked bytes from the head of the send queue. */
void tcp_sndq_drop(struct tcp_pcb *pcb, uint32_t acked)
{
    if (acked > pcb->sndq_bytes)
        acked = pcb->sndq_bytes;
    pcb->sndq_bytes -= acked;
    while (acked > 0) {
        struct dbuf *q = pcb->sndq_head;
        if (q->len <= acked) {
            acked -= q->len;
            pcb->sndq_cost -= TCP_TRUESIZE(q->len);
            pcb->sndq_head = q->next;
            q->next = NULL;
            dbuf_put(q);
        } else {
            /* Entries are our own slices: trimming one is private. */
            pcb->sndq_cost -= TCP_TRUESIZE(q->len) - TCP_TRUESIZE(q->len - acked);
            dbuf_adj(q, acked);
            q->meta32 += acked;
            acked = 0;
        }
    }
    if (!pcb->sndq_head)
        pcb->sndq_tail = NULL;
}

/* RFC 9293 3.10.7.4 fifth: returns events, or -1 when the segment must be
 * dropped (the ACK was answered already if needed). */
static int tcp_ack_process(struct tcp_pcb *pcb, const struct tcp_seg *sg, bool *freed)
{
    struct inet_stack *s = pcb->stack;
    uint64_t now = clock_now_ns();
    uint32_t old_una = pcb->snd_una;
    unsigned ev = 0;

    /* RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: an unacceptable ACK is answered
     * with <SEQ=SEG.ACK><CTL=RST>. */
    if (pcb->state == TCPS_SYN_RECEIVED && !(SEQ_GT(sg->ack, pcb->snd_una) && SEQ_LEQ(sg->ack, pcb->snd_max))) {
        tcp_seg_rst(s, sg);
        return -1;
    }
    /* RFC 5961 5.2: an ACK for data never sent, or older than the largest
     * window ever offered, is not believed. */
    if (SEQ_GT(sg->ack, pcb->snd_max)) {
        STAT_INC(s, tcp_drop_ack);
        pcb->ack_now = true;
        return -1;
    }
    if (SEQ_LT(sg->ack, pcb->snd_una - pcb->max_snd_wnd)) {
        STAT_INC(s, tcp_drop_ack);
        tcp_challenge_ack(pcb);
        return -1;
    }
    pcb->probes_unanswered = 0; /* the peer is there (its window may stay shut) */
    if (pcb->state == TCPS_SYN_RECEIVED) {
        struct tcp_pcb *l = pcb->listener;
        if (l && l->accept_count >= l->backlog) {
            STAT_INC(s, tcp_accept_overflow); /* the peer will resend its ACK */
            return -1;
        }
        /* A close while SYN_RECEIVED queued the FIN for now. */
        pcb->state = pcb->fin_queued ? TCPS_FIN_WAIT_1 : TCPS_ESTABLISHED;
        pcb->snd_wnd = sg->wnd << pcb->snd_wscale;
        pcb->max_snd_wnd = pcb->snd_wnd;
        pcb->snd_wl1 = sg->seq;
        pcb->snd_wl2 = sg->ack;
        tcp_keep_reset(pcb);
        if (l) {
            tcp_child_move(l, pcb, TCP_CHILDQ_ACCEPT);
            STAT_INC(s, tcp_conn_passive);
            tcp_notify(l, TCP_EV_ACCEPT);
        } else {
            ev |= TCP_EV_CONNECTED | TCP_EV_WRITABLE; /* simultaneous open done */
        }
    }

    if (SEQ_GT(sg->ack, pcb->snd_una)) {
        uint32_t acked = sg->ack - pcb->snd_una;
        bool fin_acked = pcb->fin_queued && SEQ_GT(sg->ack, pcb->snd_una + pcb->sndq_bytes);

        tcp_rto_undo(pcb, sg);
        if (pcb->rtt_start_ns && SEQ_GT(sg->ack, pcb->rtt_seq)) {
            tcp_rtt_sample(pcb, now - pcb->rtt_start_ns);
            pcb->rtt_start_ns = 0;
        }
        if (pcb->snd_una == pcb->iss) /* our SYN is part of this ACK */
            acked--;
        tcp_sndq_drop(pcb, acked - (fin_acked ? 1 : 0));
        pcb->snd_una = sg->ack;
        if (SEQ_LT(pcb->snd_nxt, pcb->snd_una))
            pcb->snd_nxt = pcb->snd_una;
        pcb->rexmt_count = 0;
        tcp_stall_end(pcb);
        if (pcb->sack_ok)
            tcp_sack_update(pcb, &sg->o);
        if (pcb->in_recovery) {
            if (SEQ_GEQ(sg->ack, pcb->recover)) {
                pcb->in_recovery = false;
                pcb->cc->exit_recovery(pcb, now);
            } else {
                /* Partial ACK: deflate by what it acked, resend the next
                 * hole (RFC 6582 3.2 step 5). */
                pcb->cwnd = pcb->cwnd > acked ? pcb->cwnd - acked + pcb->mss : pcb->mss;
                tcp_recovery_rexmt(pcb);
            }
        } else {
            pcb->cc->ack(pcb, acked, now);
        }
        pcb->dupacks = 0;
        if (pcb->snd_una == pcb->snd_max)
            tcp_rexmt_stop(pcb);
        else
            tcp_rexmt_arm(pcb);
        ev |= TCP_EV_WRITABLE;

        if (fin_acked) {
            pcb->fin_acked = true;
            switch (pcb->state) {
            case TCPS_FIN_WAIT_1:
                pcb->state = TCPS_FIN_WAIT_2;
                if (!pcb->owner) /* nobody will read: don't wait forever */
                    tcp_2msl_arm(pcb);
                break;
            case TCPS_CLOSING:
                pcb->state = TCPS_TIME_WAIT;
                tcp_timers_cancel(pcb);
                tcp_2msl_arm(pcb);
                break;
            case TCPS_LAST_ACK:
                if (!tcp_set_state(pcb, TCPS_CLOSED)) {
                    *freed = true;
                    return 0;
                }
                return (int)(ev | TCP_EV_READABLE);
            default:
                break;
            }
        }
    } else if (sg->ack == pcb->snd_una && sg->len == 0 && pcb->snd_una != pcb->snd_max && pcb->snd_wnd > 0 &&
               !pcb->persist && (sg->wnd << pcb->snd_wscale) == pcb->snd_wnd && !(sg->flags & (TH_SYN | TH_FIN))) {
        /* A duplicate ACK (RFC 5681 2). */
        STAT_INC(s, tcp_dupack);
        if (pcb->sack_ok)
            tcp_sack_update(pcb, &sg->o);
        pcb->dupacks++;
        if (!pcb->in_recovery && pcb->dupacks == 3 && SEQ_GT(sg->ack, pcb->recover - 1)) {
            /* Fast retransmit (RFC 5681 3.2, RFC 6582 guard on recover). */
            tcp_recovery_enter(pcb, now);
        } else if (!pcb->in_recovery && pcb->dupacks < 3) {
            tcp_output(pcb); /* limited transmit */
        } else if (pcb->in_recovery) {
            pcb->cwnd += pcb->mss; /* each dupack: a segment left the network */
            if (pcb->sack_ok && pcb->nsacked > 0)
                tcp_recovery_rexmt(pcb); /* the next hole, if any */
        }
    } else if (sg->ack == pcb->snd_una && pcb->sack_ok && sg->o.nsack > 0 && pcb->snd_una != pcb->snd_max) {
        /* Not a duplicate ACK by RFC 5681 2 (it carries data, or a new
         * window: Linux opens its window a little on every ACK), but its
         * SACK blocks still tell what arrived, and RFC 6675 counts SACK
         * news whatever the window: the loss rule below may fire on them. */
        tcp_sack_update(pcb, &sg->o);
        if (pcb->in_recovery)
            tcp_recovery_rexmt(pcb);
    }

    /* RFC 6675 5 (b): enough SACKed above SND.UNA means loss, whether or
     * not three pure duplicate ACKs came (with traffic both ways, ACKs ride
     * on data and never count as duplicates). */
    if (!pcb->in_recovery && pcb->sack_ok && pcb->nsacked > 0 && SEQ_GT(pcb->snd_una, pcb->recover - 1) &&
        tcp_sacked_bytes(pcb) >= 3u * pcb->mss)
        tcp_recovery_enter(pcb, now);

    /* Send window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule). */
    if (SEQ_LT(pcb->snd_wl1, sg->seq) || (pcb->snd_wl1 == sg->seq && SEQ_LEQ(pcb->snd_wl2, sg->ack))) {
        uint32_t old = pcb->snd_wnd;
        pcb->snd_wnd = sg->wnd << pcb->snd_wscale;
        if (pcb->snd_wnd > pcb->max_snd_wnd)
            pcb->max_snd_wnd = pcb->snd_wnd;
        pcb->snd_wl1 = sg->seq;
        pcb->snd_wl2 = sg->ack;
        if (old == 0 && pcb->snd_wnd > 0 && pcb->persist) {
            pcb->persist = false;
            pcb->rexmt_count = 0;
            tcp_stall_end(pcb);
            pcb->snd_nxt = pcb->snd_una; /* resend from a probe byte not taken */
            tcp_rexmt_stop(pcb);
            if (pcb->snd_una != pcb->snd_max)
                tcp_rexmt_arm(pcb); /* the probe byte may still be out */
        }
    }
    /* RACK-TLP (RFC 8985): losses by time, the probe timer (which needs
     * the window just taken). */
    if (TCP_RACK_ON(pcb) && pcb->state >= TCPS_ESTABLISHED)
        tcp_rack_ack(pcb, old_una, &sg->o, now);
    return (int)ev;
}

/* ---- data and FIN (RFC 9293 3.10.7.4 seventh and eighth) ------------------ */

/* Queue the payload of @d (at @seq). Returns events; *d_out is set to NULL
 * when the buffer was kept. */
static unsigned tcp_data(struct tcp_pcb *pcb, struct dbuf **d_out, uint32_t seq)
{
    struct dbuf *d = *d_out;
    uint32_t space = tcp_rcv_space(pcb);
    uint32_t edge;

    /* Trim what we already have, then what lies beyond the window we
     * offered (or the free buffer, if we offered more). */
    if (SEQ_LT(seq, pcb->rcv_nxt)) {
        uint32_t dup = pcb->rcv_nxt - seq;
        if (dup >= d->len) {
            STAT_INC(pcb->stack, tcp_dup_data);
            pcb->ack_now = true;
            return 0;
        }
        dbuf_adj(d, dup);
        seq += dup;
    }
    edge = SEQ_MAX(pcb->rcv_adv, pcb->rcv_nxt + space);
    if (SEQ_GEQ(seq, edge)) {
        STAT_INC(pcb->stack, tcp_rcv_drop_nobuf);
        pcb->ack_now = true;
        return 0;
    }
    if (SEQ_GT(seq + d->len, edge))
        dbuf_trim(d, edge - seq);
    switch (tcp_reass(pcb, d_out, seq)) {
    case TCP_REASS_OOO:
        pcb->ack_now = true; /* a duplicate ACK at once (RFC 5681 4.2) */
        return 0;
    case TCP_REASS_FILLED:
        pcb->ack_now = true; /* filling a hole is acknowledged at once */
        break;
    case TCP_REASS_INORDER:
        tcp_ack_inorder(pcb);
        break;
    }
    return TCP_EV_READABLE;
}

/* The peer's FIN, in order. Returns events, or sets *freed. */
static unsigned tcp_fin(struct tcp_pcb *pcb)
{
    pcb->rcv_nxt++;
    pcb->rcv_fin = true;
    pcb->ack_now = true;
    switch (pcb->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        pcb->state = TCPS_CLOSE_WAIT;
        break;
    case TCPS_FIN_WAIT_1:
        /* Our FIN not yet acknowledged (else we were in FIN_WAIT_2). */
        pcb->state = TCPS_CLOSING;
        break;
    case TCPS_FIN_WAIT_2:
        pcb->state = TCPS_TIME_WAIT;
        tcp_rexmt_stop(pcb);
        timer_cancel(&pcb->stack->timers, &pcb->t_keep);
        tcp_2msl_arm(pcb);
        break;
    default:
        break;
    }
    return TCP_EV_READABLE;
}

/* ---- synchronized states ------------------------------------------------ */

static void tcp_input_synced(struct tcp_pcb *pcb, const struct tcp_seg *sg, struct dbuf **d)
{
    struct inet_stack *s = pcb->stack;
    unsigned ev = 0;
    bool freed = false, ack_only = false;
    int r;

    /* RFC 7323 3.2: once timestamps are agreed, a segment without one
     * (other than a RST) is dropped. */
    if (pcb->ts_ok && !sg->o.ts_present && !(sg->flags & TH_RST) && pcb->state != TCPS_SYN_RECEIVED) {
        STAT_INC(s, tcp_drop_no_ts);
        return;
    }
    /* RFC 7323 5.3: PAWS. */
    if (pcb->ts_ok && sg->o.ts_present && !(sg->flags & TH_RST) && TSTMP_LT(sg->o.tsval, pcb->ts_recent) &&
        clock_now_ns() - pcb->ts_recent_age_ns < TCP_PAWS_IDLE_NS) {
        STAT_INC(s, tcp_drop_paws);
        pcb->ack_now = true;
        tcp_output(pcb);
        return;
    }
    /* first: sequence acceptability */
    if (pcb->state == TCPS_SYN_RECEIVED && (sg->flags & TH_SYN) && sg->seq == pcb->irs) {
        /* The peer's SYN again. In a simultaneous open it comes as a SYN-ACK
         * of our SYN (RFC 9293 3.5 figure 8): its ACK completes the
         * handshake. A bare SYN again means our SYN-ACK was lost. */
        if ((sg->flags & TH_ACK) && SEQ_GT(sg->ack, pcb->snd_una) && SEQ_LEQ(sg->ack, pcb->snd_max) && !pcb->listener &&
            !(sg->flags & TH_RST)) {
            pcb->ack_now = true;
            goto ack;
        }
        pcb->snd_nxt = pcb->iss;
        tcp_output(pcb);
        return;
    }
    if (!tcp_seq_acceptable(pcb, sg)) {
        /* Entirely old data (a retransmission of what we have): its ACK
         * field is still news. Drop the data, keep the ACK, answer at once
         * (FreeBSD does the same; RFC 9293 3.10.7.4 asks to accept valid
         * ACKs even when the window is closed). */
        if (!(sg->flags & (TH_RST | TH_SYN)) && (*d)->len > 0 && SEQ_LEQ(sg->seq + (*d)->len, pcb->rcv_nxt)) {
            STAT_INC(s, tcp_dup_data);
            pcb->ack_now = true;
            dbuf_trim(*d, 0);
            goto ack;
        }
        /* RFC 9293 3.10.7.4: with RCV.WND zero no segment is acceptable,
         * "but special allowance should be made to accept valid ACKs": a
         * zero-window probe at the window's edge, or a bare ACK one past it
         * (a peer whose own probe byte we did not take sends SND.MAX), has
         * its data and FIN dropped and its ACK processed (FreeBSD does the
         * same at the edge). Else two peers whose windows are both shut
         * never learn of each other's progress. */
        if (!(sg->flags & (TH_RST | TH_SYN)) && (sg->flags & TH_ACK) && !SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt) &&
            SEQ_GEQ(sg->seq, pcb->rcv_nxt) && SEQ_LEQ(sg->seq, pcb->rcv_nxt + 1)) {
            if ((*d)->len > 0)
                STAT_INC(s, tcp_rcv_drop_nobuf);
            pcb->ack_now = true;
            dbuf_trim(*d, 0);
            ack_only = true;
            goto ack;
        }
        if (!(sg->flags & TH_RST)) {
            STAT_INC(s, tcp_drop_oow);
            if (pcb->state == TCPS_TIME_WAIT)
                tcp_2msl_arm(pcb); /* a retransmitted FIN: ACK, restart 2 MSL */
            pcb->ack_now = true;
            tcp_output(pcb);
        }
        return;
    }
    /* second: RST (RFC 5961 3.2: only an exact match resets) */
    if (sg->flags & TH_RST) {
        if (sg->seq != pcb->rcv_nxt) {
            STAT_INC(s, tcp_rst_ignored);
            tcp_challenge_ack(pcb);
            return;
        }
        if (pcb->state == TCPS_SYN_RECEIVED && pcb->listener) {
            tcp_pcb_free(pcb); /* back to LISTEN: just forget the child */
            return;
        }
        STAT_INC(s, tcp_conn_reset);
        ev = TCP_EV_ERROR | TCP_EV_READABLE | TCP_EV_WRITABLE;
        if (pcb->state == TCPS_SYN_RECEIVED)
            ev |= TCP_EV_CONNECTED;
        pcb->err = pcb->state == TCPS_SYN_RECEIVED ? ECONNREFUSED : ECONNRESET;
        if (pcb->state >= TCPS_CLOSING)
            pcb->err = 0; /* closing anyway: nothing to report */
        if (tcp_set_state(pcb, TCPS_CLOSED))
            tcp_notify(pcb, ev);
        return;
    }
    /* fourth: SYN in a synchronized state (RFC 5961 4.2) */
    if (sg->flags & TH_SYN) {
        tcp_challenge_ack(pcb);
        return;
    }
ack:
    /* fifth: ACK */
    if (!(sg->flags & TH_ACK))
        return;
    r = tcp_ack_process(pcb, sg, &freed);
    if (freed)
        return;
    if (r < 0) {
        tcp_output(pcb);
        return;
    }
    ev |= (unsigned)r;
    if (pcb->state == TCPS_CLOSED) { /* LAST_ACK done, still attached */
        tcp_notify(pcb, ev);
        return;
    }
    tcp_keep_reset(pcb);
    /* RFC 7323 4.3: remember the timestamp of the segment that moves the
     * left edge. */
    if (pcb->ts_ok && sg->o.ts_present && SEQ_LEQ(sg->seq, pcb->rcv_nxt)) {
        pcb->ts_recent = sg->o.tsval;
        pcb->ts_recent_age_ns = clock_now_ns();
    }
    /* seventh: data */
    if ((*d)->len > 0 && pcb->fin_queued && (!pcb->owner || pcb->rcv_shut)) {
        /* Nobody will ever read it: tell the peer at once instead of
         * losing it quietly (RFC 1122 4.2.2.13, as Linux does). Closed, or
         * shut down both ways (the application learns of it: ECONNRESET). */
        STAT_INC(s, tcp_conn_reset);
        if (!pcb->owner) {
            tcp_abort(pcb);
            return;
        }
        tcp_send_ctl(pcb, TH_RST | TH_ACK, pcb->snd_max);
        pcb->err = ECONNRESET;
        if (tcp_set_state(pcb, TCPS_CLOSED))
            tcp_notify(pcb, ev | TCP_EV_ERROR | TCP_EV_READABLE | TCP_EV_WRITABLE);
        return;
    }
    if ((*d)->len > 0) {
        if (pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_FIN_WAIT_1 || pcb->state == TCPS_FIN_WAIT_2)
            ev |= tcp_data(pcb, d, sg->seq);
        else
            pcb->ack_now = true; /* data after the peer's FIN: just ACK */
    }
    /* eighth: FIN, only in order (an early FIN is resent by the peer) */
    if ((sg->flags & TH_FIN) && !ack_only && !pcb->rcv_fin && sg->seq + (sg->len - 1) == pcb->rcv_nxt &&
        pcb->state != TCPS_TIME_WAIT)
        ev |= tcp_fin(pcb);
    else if ((sg->flags & TH_FIN) && pcb->state == TCPS_TIME_WAIT) {
        pcb->ack_now = true;
        tcp_2msl_arm(pcb);
    } else if ((sg->flags & TH_FIN) && !pcb->rcv_fin && SEQ_GT(sg->seq + (sg->len - 1), pcb->rcv_nxt))
        pcb->ack_now = true; /* an early FIN, data or not: a duplicate ACK at once (RFC 5681 4.2) */
    tcp_output(pcb);
    tcp_notify(pcb, ev);
}

/* ---- entry --------------------------------------------------------------- */

/*
 * A SYN for a 4-tuple in TIME_WAIT: a new incarnation, or an old duplicate?
 * RFC 6191 2: with timestamps on the old connection and on the SYN (and
 * ours enabled), a TSval above the last one seen says new, an equal one
 * asks the sequence number too; otherwise (RFC 9293 3.6.1) a sequence
 * number above the old connection's says new.
 */
static bool tcp_time_wait_new_syn_ok(const struct tcp_pcb *tw, const struct tcp_seg *sg)
{
    if (tw->ts_ok && sg->o.ts_present && tw->stack->tcp.params.timestamps) {
        if (TSTMP_GT(sg->o.tsval, tw->ts_recent))
            return true;
        return sg->o.tsval == tw->ts_recent && SEQ_GT(sg->seq, tw->rcv_nxt);
    }
    return SEQ_GT(sg->seq, tw->rcv_nxt);
}

void tcp_input(struct inet_stack *s, struct dbuf *d, uint32_t src, uint32_t dst)
{
    struct tcp_seg sg;
    uint32_t off;

    off = tcp_hdr_len(s, d);
    if (!off)
        goto drop;
    sg.th = (const struct tcp_hdr *)d->data;
    if (!(s->offloads & NETDEV_OFF_RX_CSUM)) {
        struct csum c;
        csum_init(&c);
        csum_add_pseudo(&c, src, dst, IPV4_PROTO_TCP, (uint16_t)d->len);
        csum_add(&c, d->data, d->len);
        if (csum_finish(&c) != 0) {
            STAT_INC(s, tcp_drop_csum);
            inet_hint(s, INET_HINT_CSUM, src, NULL, IPV4_PROTO_TCP);
            goto drop;
        }
    }
    sg.src = src;
    sg.dst = dst;
    sg.v6 = false;
    tcp_input_seg(s, d, &sg, off);
    return;
drop:
    dbuf_chain_put(d);
}

static struct tcp_pcb *tcp_seg_lookup(struct inet_stack *s, const struct tcp_seg *sg)
{
    if (sg->v6)
        return tcp_lookup6(s, &sg->dst6, sg->th->dport, &sg->src6, sg->th->sport);
    return tcp_lookup(s, sg->dst, sg->th->dport, sg->src, sg->th->sport);
}

static struct tcp_pcb *tcp_seg_listener(struct inet_stack *s, const struct tcp_seg *sg)
{
    if (sg->v6)
        return tcp_lookup_listener6(s, &sg->dst6, sg->th->dport);
    return tcp_lookup_listener(s, sg->dst, sg->th->dport);
}

void tcp_input_seg(struct inet_stack *s, struct dbuf *d, struct tcp_seg *sg, uint32_t off)
{
    struct tcp_pcb *pcb;

    sg->flags = sg->th->flags;
    if (!tcp_opts_parse(d->data + TCP_HLEN, off - TCP_HLEN, sg->flags & TH_SYN, &sg->o)) {
        STAT_INC(s, tcp_drop_opts);
        goto drop;
    }
    sg->seq = ntohl(sg->th->seq);
    sg->ack = ntohl(sg->th->ack);
    sg->wnd = ntohs(sg->th->win);
    sg->len = d->len - off + ((sg->flags & TH_SYN) ? 1 : 0) + ((sg->flags & TH_FIN) ? 1 : 0);
    /* The header stays readable (sg->th) while data points at the payload. */
    dbuf_adj(d, off);

    pcb = tcp_seg_lookup(s, sg);
    if (pcb && pcb->state == TCPS_TIME_WAIT && (sg->flags & TH_SYN) && !(sg->flags & TH_ACK) &&
        tcp_time_wait_new_syn_ok(pcb, sg) && tcp_seg_listener(s, sg)) {
        /* A new incarnation of a connection in TIME_WAIT (RFC 9293 3.6.1). */
        bool detached = pcb->owner == NULL;
        if (detached) {
            tcp_set_state(pcb, TCPS_CLOSED); /* frees it */
            pcb = NULL;
        }
    }
    if (!pcb) {
        struct tcp_pcb *l = tcp_seg_listener(s, sg);
        if (l && tcp_cookie_ack(l, sg)) {
            /* A handshake completed from a SYN cookie. A full accept queue
             * drops the ACK (the peer resends, or its data does). */
            if (l->accept_count >= l->backlog) {
                STAT_INC(s, tcp_accept_overflow);
                goto drop;
            }
            /* No pcb left for the connection: dropped like the full queue
             * above (a valid cookie stays valid for the peer's resend). */
            if (s->tcp.pcbs.in_use >= s->tcp.pcbs.cap) {
                STAT_INC(s, tcp_pcb_exhausted);
                goto drop;
            }
            pcb = tcp_syncookie_check(s, l, sg);
            if (pcb) {
                if (d->len > 0 || (sg->flags & TH_FIN))
                    tcp_input_synced(pcb, sg, &d); /* data on the ACK */
                goto drop;
            }
            tcp_seg_rst(s, sg);
        } else if (l) {
            tcp_input_listen(s, l, sg);
        } else {
            STAT_INC(s, tcp_drop_no_conn);
            tcp_seg_rst(s, sg);
        }
        goto drop;
    }
    if (pcb->state == TCPS_CLOSED) {
        /* Closed by a reset or timeout, not yet released by its owner. */
        tcp_seg_rst(s, sg);
        goto drop;
    }
    if (pcb->state == TCPS_SYN_SENT) {
        unsigned ev = tcp_input_syn_sent(pcb, sg);
        if (pcb->state != TCPS_CLOSED)
            tcp_output(pcb);
        tcp_notify(pcb, ev);
        goto drop;
    }
    if (!tcp_input_fast(pcb, sg, &d))
        tcp_input_synced(pcb, sg, &d);
drop:
    if (d)
        dbuf_chain_put(d);
}
