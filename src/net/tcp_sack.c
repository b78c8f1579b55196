/* SPDX-License-Identifier: MIT */
/*
 * tcp_sack.c: the sender's SACK scoreboard (RFC 2018) and what loss recovery
 * resends from it (RFC 6675, simplified; NewReno's RFC 6582 without SACK).
 * The receiver's side, the SACK blocks we send, is in tcp_options.c.
 */
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

/* Merge the SACK blocks of an ACK into the scoreboard (RFC 2018, 6675). */
void tcp_sack_update(struct tcp_pcb *pcb, const struct tcp_opts *o)
{
    for (int i = 0; i < o->nsack; i++) {
        uint32_t l = o->sack[i][0], r = o->sack[i][1];
        int j;

        /* Only blocks above the cumulative ACK and within what we sent. */
        if (!SEQ_LT(l, r) || SEQ_LEQ(r, pcb->snd_una) || SEQ_GT(r, pcb->snd_max))
            continue;
        if (SEQ_LT(l, pcb->snd_una))
            l = pcb->snd_una;
        for (j = 0; j < pcb->nsacked; j++) {
            struct tcp_sack_block *b = &pcb->scoreboard[j];
            if (SEQ_LEQ(l, b->end) && SEQ_GEQ(r, b->start)) { /* overlaps or touches */
                b->start = SEQ_MIN(b->start, l);
                b->end = SEQ_MAX(b->end, r);
                break;
            }
        }
        if (j == pcb->nsacked && pcb->nsacked < TCP_SACK_SCOREBOARD)
            pcb->scoreboard[pcb->nsacked++] = (struct tcp_sack_block){l, r};
    }
    /* Forget what the cumulative ACK now covers; keep blocks sorted. */
    for (int i = 0; i < pcb->nsacked;) {
        struct tcp_sack_block *b = &pcb->scoreboard[i];
        if (SEQ_LEQ(b->end, pcb->snd_una)) {
            pcb->scoreboard[i] = pcb->scoreboard[--pcb->nsacked];
            continue;
        }
        if (SEQ_LT(b->start, pcb->snd_una))
            b->start = pcb->snd_una;
        i++;
    }
    for (int i = 1; i < pcb->nsacked; i++)
        for (int j = i; j > 0 && SEQ_LT(pcb->scoreboard[j].start, pcb->scoreboard[j - 1].start); j--) {
            struct tcp_sack_block t = pcb->scoreboard[j];
            pcb->scoreboard[j] = pcb->scoreboard[j - 1];
            pcb->scoreboard[j - 1] = t;
        }
}

/* The first byte at or after @from not covered by a SACK block and below the
 * highest SACKed byte (a hole), or 0-length when none: returns its length. */
static uint32_t tcp_sack_next_hole(const struct tcp_pcb *pcb, uint32_t *from)
{
    uint32_t seq = *from;

    for (int i = 0; i < pcb->nsacked; i++) {
        const struct tcp_sack_block *b = &pcb->scoreboard[i];
        if (SEQ_LT(seq, b->start)) {
            *from = seq;
            return b->start - seq;
        }
        if (SEQ_LT(seq, b->end))
            seq = b->end;
    }
    return 0;
}

/* Bytes the scoreboard holds above the cumulative ACK. */
uint32_t tcp_sacked_bytes(const struct tcp_pcb *pcb)
{
    uint32_t n = 0;

    for (int i = 0; i < pcb->nsacked; i++)
        n += pcb->scoreboard[i].end - pcb->scoreboard[i].start;
    return n;
}

/* Loss recovery on an ACK during fast recovery: with SACK, resend the holes
 * below the highest SACKed byte (RFC 6675's NextSeg, simplified: holes in
 * order, each once per recovery); without, NewReno's partial-ACK rule
 * (RFC 6582 3.2 step 5): resend the next unacknowledged segment. */
void tcp_recovery_rexmt(struct tcp_pcb *pcb)
{
    if (pcb->sack_ok && pcb->nsacked > 0) {
        uint32_t from = SEQ_MAX(pcb->sack_high, pcb->snd_una);
        uint32_t len = tcp_sack_next_hole(pcb, &from);
        if (len > 0) {
            uint32_t n = len < tcp_seg_max(pcb) ? len : tcp_seg_max(pcb);
            tcp_retransmit(pcb, from, n);
            pcb->sack_high = from + n;
        }
        return;
    }
    tcp_retransmit(pcb, pcb->snd_una, tcp_seg_max(pcb));
}

void tcp_recovery_enter(struct tcp_pcb *pcb, uint64_t now_ns)
{
    STAT_INC(pcb->stack, tcp_fast_rexmt);
    pcb->cc->enter_recovery(pcb, now_ns);
    pcb->tlp_out = false; /* a probe's episode ends in this reduction (RFC 8985 7.4) */
    /* Fast recovery's window for every module (RFC 5681 3.2 step 3, RFC
     * 6582 3.2 step 2): the module's reduced window, inflated by the three
     * segments the duplicate ACKs (or the SACKed bytes, RFC 6675 5 (b))
     * say have left the network; each further duplicate ACK adds one
     * (tcp_input.c). The module's decrease alone decides how soon new data
     * leaves: with Cubic's beta 0.7 (RFC 9438 4.6) on the 4th duplicate ACK
     * after one loss in ten segments, with NewReno's 0.5 on the 6th. An
     * inflation inside some modules only (as NewReno's used to be) made
     * Cubic's recovery slower than NewReno's. */
    pcb->cwnd = MIN((uint64_t)pcb->cwnd + 3u * pcb->mss, TCP_CC_CWND_MAX);
    pcb->in_recovery = true;
    pcb->recover = pcb->snd_max;
    pcb->sack_high = pcb->snd_una;
    pcb->rtt_start_ns = 0; /* Karn: nothing sent before is timed */
    tcp_recovery_rexmt(pcb);
    /* Without a scoreboard the retransmission was the first segment. */
    if (!pcb->sack_ok || pcb->nsacked == 0)
        pcb->sack_high = pcb->snd_una + pcb->mss;
}
