/* SPDX-License-Identifier: MIT */
/*
 * tcp_cc_newreno.c: standard TCP congestion control, RFC 5681 with the
 * NewReno fast recovery of RFC 6582 and the initial window of RFC 6928.
 *
 * The module owns pcb->cwnd and pcb->ssthresh (bytes). It never touches
 * in_recovery, dupacks or recover: tcp_input.c decides when recovery starts
 * and ends and calls the hooks.
 *
 * Choices, where the RFCs leave room:
 *  - Slow start grows cwnd by min(acked, SMSS) per ACK (RFC 5681 3.1,
 *    equation 2), not by the L = 2*SMSS of RFC 3465: with an ACK per segment
 *    cwnd doubles per RTT; with delayed ACKs it grows 1.5x. It stops at
 *    ssthresh exactly (the part of an ACK beyond it is not carried over).
 *  - Congestion avoidance counts bytes (RFC 5681 3.1, RFC 3465 2.1): when the
 *    bytes acknowledged reach cwnd, cwnd grows by SMSS. That is exactly one
 *    SMSS per RTT whatever the ACK pattern, where the per-ACK formula
 *    SMSS*SMSS/cwnd loses up to a byte per ACK to truncation (half the growth
 *    at a 2 MB window) and halves with delayed ACKs. The counter is this
 *    module's state, pcb->cc_state.newreno.bytes_acked.
 *  - Recovery (RFC 5681 3.2 step 2, RFC 6582 3.2 step 2): ssthresh =
 *    max(FlightSize/2, 2*SMSS), cwnd = ssthresh. The inflation by the
 *    3*SMSS the duplicate ACKs say left the network (step 3), by SMSS for
 *    each further one (step 4) and the partial-ACK deflation (RFC 6582 3.2
 *    step 5) belong to the caller, which sees the ACKs, and is the same for
 *    every module (tcp_recovery_enter in tcp_sack.c).
 *  - Exit (RFC 6582 3.2 step 3, option 2): cwnd = min(ssthresh,
 *    max(FlightSize, SMSS) + SMSS), which avoids a burst when little is in
 *    flight.
 *  - Timeout (RFC 5681 3.1, equation 4): ssthresh = max(FlightSize/2,
 *    2*SMSS), cwnd = 1 SMSS (the loss window). A timeout while cwnd is still
 *    the loss window (the same data timed out again, nothing acked since)
 *    keeps ssthresh, as RFC 5681 asks for a segment retransmitted by the
 *    timer more than once.
 *
 * FlightSize is snd_max - snd_una: what has been sent and not acknowledged.
 * cwnd never exceeds TCP_CC_CWND_MAX; an MSS of 0 (not yet known) counts as
 * the RFC 9293 default of 536.
 */
#include "net/tcp.h"

#include "core/common.h"
#include "net/tcp_seq.h"

#include <stdint.h>

static uint32_t nr_mss(const struct tcp_pcb *pcb)
{
    return pcb->mss ? pcb->mss : TCP_DEFAULT_MSS;
}

/* Bytes sent and not yet acknowledged (0 if the sequence state is odd). */
static uint32_t nr_flight(const struct tcp_pcb *pcb)
{
    uint32_t top = SEQ_GT(pcb->snd_nxt, pcb->snd_max) ? pcb->snd_nxt : pcb->snd_max;

    return SEQ_GT(top, pcb->snd_una) ? top - pcb->snd_una : 0;
}

static uint32_t nr_cap(uint64_t cwnd)
{
    return cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

/* max(FlightSize / 2, 2 * SMSS): RFC 5681 equation 4. */
static uint32_t nr_half_flight(const struct tcp_pcb *pcb)
{
    return MAX(nr_flight(pcb) / 2, 2 * nr_mss(pcb));
}

/* Byte counter of congestion avoidance (see above). */
static uint64_t *nr_bytes_acked(struct tcp_pcb *pcb)
{
    return &pcb->cc_state.newreno.bytes_acked;
}

static void newreno_init(struct tcp_pcb *pcb)
{
    pcb->cwnd = tcp_cc_initial_window(nr_mss(pcb));
    /* RFC 5681 3.1: "arbitrarily high". */
    pcb->ssthresh = UINT32_MAX;
    pcb->cc_state.newreno = (struct tcp_cc_newreno_state){0};
}

static void newreno_ack(struct tcp_pcb *pcb, uint32_t acked, uint64_t now_ns)
{
    uint32_t mss = nr_mss(pcb);
    uint64_t *bytes_acked = nr_bytes_acked(pcb);

    (void)now_ns;
    if (acked == 0)
        return;
    if (pcb->cwnd < mss)
        pcb->cwnd = mss;

    if (pcb->cwnd < pcb->ssthresh) {
        /* Slow start: cwnd += min(N, SMSS), up to ssthresh. */
        uint64_t cwnd = (uint64_t)pcb->cwnd + MIN(acked, mss);
        pcb->cwnd = nr_cap(MIN(cwnd, (uint64_t)pcb->ssthresh));
        *bytes_acked = 0;
        return;
    }

    /* Congestion avoidance: one SMSS per cwnd of bytes acknowledged, at most
     * one per ACK; an ACK for more than two windows grants no more. */
    *bytes_acked += acked;
    if (*bytes_acked >= pcb->cwnd) {
        *bytes_acked -= pcb->cwnd;
        pcb->cwnd = nr_cap((uint64_t)pcb->cwnd + mss);
        if (*bytes_acked >= pcb->cwnd)
            *bytes_acked = 0;
    }
}

static void newreno_enter_recovery(struct tcp_pcb *pcb, uint64_t now_ns)
{
    (void)now_ns;
    pcb->ssthresh = nr_half_flight(pcb);
    pcb->cwnd = pcb->ssthresh; /* the caller inflates it (tcp_recovery_enter) */
    *nr_bytes_acked(pcb) = 0;
}

static void newreno_exit_recovery(struct tcp_pcb *pcb, uint64_t now_ns)
{
    uint32_t mss = nr_mss(pcb);
    uint64_t deflated = (uint64_t)MAX(nr_flight(pcb), mss) + mss;

    (void)now_ns;
    pcb->cwnd = nr_cap(MIN(deflated, (uint64_t)pcb->ssthresh));
    *nr_bytes_acked(pcb) = 0;
}

static void newreno_timeout(struct tcp_pcb *pcb, uint64_t now_ns)
{
    uint32_t mss = nr_mss(pcb);

    (void)now_ns;
    if (pcb->cwnd > mss) /* else: a repeated timeout, keep ssthresh */
        pcb->ssthresh = nr_half_flight(pcb);
    pcb->cwnd = mss;
    *nr_bytes_acked(pcb) = 0;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .ack = newreno_ack,
    .enter_recovery = newreno_enter_recovery,
    .exit_recovery = newreno_exit_recovery,
    .timeout = newreno_timeout,
};
