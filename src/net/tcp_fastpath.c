/* SPDX-License-Identifier: MIT */
/*
 * tcp_fastpath.c: header prediction (Van Jacobson's, as in FreeBSD's
 * tcp_input and Linux's tcp_rcv_established). On an established connection
 * almost every segment is the next one expected, carries an ACK that is
 * either old news or acknowledges new data cleanly, and changes nothing
 * else: no flags but ACK and PSH, an open window that stays open, no SACK
 * blocks, no recovery, retransmission or probing under way on our side. Such a segment
 * needs none of RFC 9293 3.10.7.4's checks beyond the ones below, so it is
 * taken here in one pass: ACK, then in-order data, then whatever it lets us
 * send. Unlike FreeBSD's, a segment carrying data and acknowledging new
 * data at once (every segment of a request/response exchange) is taken too,
 * as Linux does, and so is a new window: a receiver that reads as data
 * arrives (Linux) announces a slightly different one in almost every ACK.
 *
 * Everything else returns false untouched and takes the full path
 * (tcp_input.c), which must reach the same state for the segments taken
 * here: test_tcp_fastpath checks it by running the same exchanges with
 * tcp_params.no_header_prediction and comparing every frame.
 */
#include "core/clock.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_input.h"
#include "net/tcp_seq.h"

/* Flags that send a segment down the full path, whatever else it is. */
#define TCP_FAST_NOT (TH_SYN | TH_FIN | TH_RST | TH_URG)

/* Whether @sg's payload of @len bytes can be queued as it is: in order,
 * nothing waiting out of order, inside the window we offered and the
 * buffer we have (tcp_data's trims would do nothing). */
static bool tcp_fast_data_fits(const struct tcp_pcb *pcb, uint32_t len)
{
    uint32_t edge;

    if (pcb->ooo_head || !SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt))
        return false;
    edge = SEQ_MAX(pcb->rcv_adv, pcb->rcv_nxt + tcp_rcv_space(pcb));
    return SEQ_LEQ(pcb->rcv_nxt + len, edge);
}

bool tcp_input_fast(struct tcp_pcb *pcb, const struct tcp_seg *sg, struct dbuf **d)
{
    struct inet_stack *s = pcb->stack;
    uint32_t len = (*d)->len, wnd;
    unsigned ev = 0;

    /* The prediction: each test is one the full path would make too, and
     * the cheapest and likeliest to fail come first. */
    if (pcb->state != TCPS_ESTABLISHED || !(sg->flags & TH_ACK) || (sg->flags & TCP_FAST_NOT))
        return false;
    if (sg->seq != pcb->rcv_nxt || pcb->snd_nxt != pcb->snd_max)
        return false;
    if (SEQ_LT(sg->ack, pcb->snd_una) || SEQ_GT(sg->ack, pcb->snd_max))
        return false;
    if (len == 0 && sg->ack == pcb->snd_una)
        return false; /* a duplicate ACK or a window update */
    wnd = sg->wnd << pcb->snd_wscale;
    if (wnd == 0 || pcb->snd_wnd == 0)
        return false; /* the window shuts or opens: persist's business */
    if (!SEQ_LT(pcb->snd_wl1, sg->seq) && !(pcb->snd_wl1 == sg->seq && SEQ_LEQ(pcb->snd_wl2, sg->ack)))
        return false; /* an older segment than the one that set the window */
    if (pcb->ts_ok && (!sg->o.ts_present || TSTMP_LT(sg->o.tsval, pcb->ts_recent)))
        return false; /* missing (dropped) or old (PAWS) */
    if (pcb->in_recovery || pcb->persist || pcb->rto_undo_armed || pcb->fin_queued || pcb->nsacked || sg->o.nsack)
        return false;
    if (len > 0 && !tcp_fast_data_fits(pcb, len))
        return false;
    if (unlikely(s->tcp.params.no_header_prediction))
        return false;

    STAT_INC(s, tcp_rx_fastpath);
    pcb->probes_unanswered = 0;
    if (SEQ_GT(sg->ack, pcb->snd_una)) {
        /* New data acknowledged: tcp_ack_process's path without recovery,
         * SACK, spurious-timeout undo or our FIN. */
        uint32_t acked = sg->ack - pcb->snd_una, old_una = pcb->snd_una;
        uint64_t now = clock_now_ns();

        if (pcb->rtt_start_ns && SEQ_GT(sg->ack, pcb->rtt_seq)) {
            tcp_rtt_sample(pcb, now - pcb->rtt_start_ns);
            pcb->rtt_start_ns = 0;
        }
        tcp_sndq_drop(pcb, acked);
        pcb->snd_una = sg->ack;
        pcb->rexmt_count = 0;
        tcp_stall_end(pcb);
        pcb->cc->ack(pcb, acked, now);
        pcb->dupacks = 0;
        if (pcb->snd_una == pcb->snd_max)
            tcp_rexmt_stop(pcb);
        else
            tcp_rexmt_arm(pcb);
        if (TCP_RACK_ON(pcb))
            tcp_rack_ack(pcb, old_una, &sg->o, now);
        ev |= TCP_EV_WRITABLE;
    }
    /* The newest segment to say the window (RFC 9293 3.10.7.4's SND.WL1/WL2
     * rule, tested above). */
    pcb->snd_wnd = wnd;
    if (wnd > pcb->max_snd_wnd)
        pcb->max_snd_wnd = wnd;
    pcb->snd_wl1 = sg->seq;
    pcb->snd_wl2 = sg->ack;
    tcp_keep_reset(pcb);
    if (pcb->ts_ok) { /* RFC 7323 4.3: it moves the left edge */
        pcb->ts_recent = sg->o.tsval;
        pcb->ts_recent_age_ns = clock_now_ns();
    }
    if (len > 0) {
        (void)tcp_reass(pcb, d, sg->seq); /* in order, nothing out of order */
        tcp_ack_inorder(pcb);
        ev |= TCP_EV_READABLE;
    }
    tcp_output(pcb);
    tcp_notify(pcb, ev);
    return true;
}
