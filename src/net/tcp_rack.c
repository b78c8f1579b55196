/* SPDX-License-Identifier: MIT */
/*
 * tcp_rack.c: RACK-TLP loss detection (RFC 8985), on connections that
 * agreed SACK while tcp.rack is on (the default).
 *
 * RACK (section 6) declares a segment lost by time, not by counting: once a
 * segment sent later has been delivered (acknowledged or SACKed), an earlier
 * one still missing is lost when it has been out for RACK.rtt plus a
 * reordering window. One loss at the tail of a flight, or a retransmission
 * lost again, is thus found after about an RTT, where three duplicate ACKs
 * may never come and the RTO would. TLP (section 7) covers the case where
 * no ACK comes at all: 2 SRTT after the last send, instead of waiting for
 * the RTO, it sends one segment (new data if there is any, else the last
 * one again), whose ACK or SACK lets RACK find what was lost and fast
 * recovery repair it.
 *
 * What was sent, and when: a ring of TCP_XLOG_LEN records (pcb->xlog), in
 * the order of transmission. A record is a range sent at once: a burst of
 * segments of contiguous new data within 1/8 of the minimum RTT is one
 * record, with the times of its first and its last segment. Each use of a
 * record's time errs late: a record may be lost from its last segment's
 * time on, and a delivered one gives RACK.rtt from its first (the longest
 * its bytes may have taken). A retransmission is a record of its own.
 * Records fully below SND.UNA leave from the oldest end; when the ring is
 * full a new range joins the newest record (its last time too), which
 * again only delays.
 *
 * Choices, where RFC 8985 leaves room:
 *  - The reordering window is min_RTT / 4, at most SRTT (6.2 step 4), and 0
 *    while no reordering has been seen and either recovery runs or three
 *    segments' worth is SACKed (then RACK acts like the 3-dupack rule). It
 *    is not adapted with D-SACK (reo_wnd_mult stays 1). Reordering is seen
 *    when bytes below the highest delivered one arrive that we never
 *    retransmitted (6.2 step 3).
 *  - min_RTT is the least RACK.rtt of the connection, not a windowed one.
 *  - What a loss makes us resend is fast recovery's (tcp_sack.c): RACK
 *    starts it, or, in it, has a retransmission found lost sent again.
 *  - PTO = 2 SRTT, at least half the RTO floor (1 ms by default: at
 *    microsecond RTTs, 2 SRTT is shorter than an application's pause
 *    between polls, and a probe would go while the ACK waits in the receive
 *    ring; Linux keeps a 2-jiffy floor for the same reason), plus the RTO
 *    floor when one segment is out (the peer may hold a lone segment's ACK
 *    for its delayed-ACK time, 7.2), and never later than the RTO. One
 *    probe per tail (7.3): the next waits for an ACK of new data. A probe
 *    that was a retransmission and is acknowledged beyond its end without
 *    a D-SACK repaired a loss: the congestion module reduces its window as
 *    for fast recovery (7.4).
 */
#include "core/clock.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

static void tcp_rack_fire(struct timer *t, void *arg);

void tcp_rack_init(struct tcp_pcb *pcb)
{
    pcb->xlog_first = pcb->xlog_n = 0;
    pcb->rack_reordering_seen = false;
    pcb->rack_fack_set = false;
    pcb->tlp_out = false;
    pcb->rack_ts_ns = 0;
    pcb->rack_rtt_ns = 0;
    pcb->rack_min_rtt_ns = 0;
    pcb->rack_due_ns = 0;
    timer_init(&pcb->t_rack, tcp_rack_fire, pcb);
}

static struct tcp_xmit_rec *xlog_at(struct tcp_pcb *pcb, unsigned i)
{
    return &pcb->xlog[(pcb->xlog_first + i) % TCP_XLOG_LEN];
}

void tcp_rack_sent(struct tcp_pcb *pcb, uint32_t seq, uint32_t len, bool retx, uint64_t now)
{
    struct tcp_xmit_rec *last = pcb->xlog_n ? xlog_at(pcb, pcb->xlog_n - 1u) : NULL;

    if (last && !retx && !last->retx && last->end == seq && now - last->first_ns <= pcb->rack_min_rtt_ns / 8) {
        last->end = seq + len;
        last->ts_ns = now;
        return;
    }
    if (pcb->xlog_n == TCP_XLOG_LEN) { /* full: the newest takes it in */
        last->start = SEQ_MIN(last->start, seq);
        last->end = SEQ_MAX(last->end, seq + len);
        last->ts_ns = now;
        last->retx = last->retx || retx;
        last->lost = false;
        return;
    }
    *xlog_at(pcb, pcb->xlog_n++) =
        (struct tcp_xmit_rec){.start = seq, .end = seq + len, .first_ns = now, .ts_ns = now, .retx = retx};
}

/* Bytes of [start, end) the scoreboard or the cumulative ACK covers, and
 * the end of the highest of them in *@hi (@start when none). */
static uint32_t rack_delivered(const struct tcp_pcb *pcb, uint32_t start, uint32_t end, uint32_t *hi)
{
    uint32_t n = 0;

    *hi = start;
    if (SEQ_LEQ(end, pcb->snd_una)) {
        *hi = end;
        return end - start;
    }
    if (SEQ_LT(start, pcb->snd_una)) {
        n = pcb->snd_una - start;
        *hi = start = pcb->snd_una;
    }
    for (int i = 0; i < pcb->nsacked; i++) {
        uint32_t l = SEQ_MAX(start, pcb->scoreboard[i].start), r = SEQ_MIN(end, pcb->scoreboard[i].end);
        if (SEQ_LT(l, r)) {
            n += r - l;
            *hi = SEQ_MAX(*hi, r);
        }
    }
    return n;
}

/* A record delivered up to @hi (in part or whole) moves RACK's reference
 * (6.2 step 2) when it was sent later than the reference: its time, and
 * the end of its highest delivered byte (the segments of a record sent
 * after that one are not "before" it). A retransmission's RTT is
 * ambiguous: taken only when it is not shorter than min_RTT (the original
 * cannot have been what arrived). */
static void rack_update(struct tcp_pcb *pcb, const struct tcp_xmit_rec *r, uint32_t hi, uint64_t now)
{
    uint64_t rtt = now - r->first_ns;

    if (r->retx && rtt < pcb->rack_min_rtt_ns)
        return;
    if (r->first_ns > pcb->rack_ts_ns || (r->first_ns == pcb->rack_ts_ns && SEQ_GT(hi, pcb->rack_end))) {
        pcb->rack_ts_ns = r->first_ns;
        pcb->rack_end = hi;
        pcb->rack_rtt_ns = rtt;
    }
    if (!r->retx && (pcb->rack_min_rtt_ns == 0 || rtt < pcb->rack_min_rtt_ns))
        pcb->rack_min_rtt_ns = rtt;
}

/* Forget the oldest records the cumulative ACK covers. */
static void rack_prune(struct tcp_pcb *pcb, uint64_t now)
{
    while (pcb->xlog_n) {
        struct tcp_xmit_rec *r = xlog_at(pcb, 0);
        if (!SEQ_LEQ(r->end, pcb->snd_una))
            break;
        rack_update(pcb, r, r->end, now);
        pcb->xlog_first = (uint8_t)((pcb->xlog_first + 1u) % TCP_XLOG_LEN);
        pcb->xlog_n--;
    }
}

static uint64_t rack_reo_wnd(const struct tcp_pcb *pcb)
{
    uint64_t w = pcb->rack_min_rtt_ns / 4;

    if (!pcb->rack_reordering_seen && (pcb->in_recovery || tcp_sacked_bytes(pcb) >= 3u * pcb->mss))
        return 0;
    return pcb->srtt_ns && w > pcb->srtt_ns ? pcb->srtt_ns : w;
}

static void rack_timer_set(struct tcp_pcb *pcb, uint8_t kind, uint64_t due)
{
    pcb->rack_timer_kind = kind;
    pcb->rack_due_ns = due;
    timer_arm_earlier(&pcb->stack->timers, &pcb->t_rack, due);
}

/* RFC 8985 6.2 step 5 (RACK_detect_loss): which records sent before the
 * reference are lost now, and when the next one would be. Returns whether
 * any undelivered byte is lost; a lost retransmission is made resendable
 * (recovery's sack_high is pulled back to it). */
static bool rack_detect(struct tcp_pcb *pcb, uint64_t now, uint64_t *next_due)
{
    uint64_t reo = rack_reo_wnd(pcb);
    bool lost = false;

    *next_due = 0;
    if (!pcb->rack_ts_ns)
        return false;
    for (unsigned i = 0; i < pcb->xlog_n; i++) {
        struct tcp_xmit_rec *r = xlog_at(pcb, i);
        uint32_t end = r->end, hi;
        uint64_t due;

        if (r->lost || (r->ts_ns > pcb->rack_ts_ns && r->first_ns != pcb->rack_ts_ns))
            continue;                         /* sent after the reference */
        if (r->first_ns == pcb->rack_ts_ns) { /* the reference's own: its bytes below the reference's only */
            if (!SEQ_LT(r->start, pcb->rack_end))
                continue;
            end = SEQ_MIN(end, pcb->rack_end);
        }
        if (rack_delivered(pcb, r->start, end, &hi) == end - r->start)
            continue;
        due = r->ts_ns + pcb->rack_rtt_ns + reo;
        if (now >= due) {
            lost = true;
            r->lost = true;
            if (r->retx && pcb->in_recovery && SEQ_LT(r->start, pcb->sack_high))
                pcb->sack_high = SEQ_MAX(r->start, pcb->snd_una);
        } else if (*next_due == 0 || due < *next_due) {
            *next_due = due;
        }
    }
    return lost;
}

/* Start or restart the probe timeout (7.2), when a probe may be due. */
static void tlp_arm(struct tcp_pcb *pcb, uint64_t now)
{
    uint32_t flight = pcb->snd_max - pcb->snd_una;
    uint64_t pto;

    if (pcb->tlp_out || pcb->in_recovery || !pcb->srtt_ns || flight == 0 || pcb->persist || pcb->snd_wnd == 0 ||
        (pcb->state != TCPS_ESTABLISHED && pcb->state != TCPS_CLOSE_WAIT)) {
        if (pcb->rack_timer_kind == TCP_RACK_PTO)
            pcb->rack_due_ns = 0;
        return;
    }
    pto = MAX(2 * pcb->srtt_ns, pcb->rto_floor_ns / 2);
    if (flight <= pcb->mss)
        pto += pcb->rto_floor_ns;
    if (pcb->rexmt_due_ns && now + pto >= pcb->rexmt_due_ns) {
        if (pcb->rack_timer_kind == TCP_RACK_PTO)
            pcb->rack_due_ns = 0; /* the RTO comes first: no probe */
        return;
    }
    rack_timer_set(pcb, TCP_RACK_PTO, now + pto);
}

/* A loss found: recovery starts, or resends what RACK found lost in it. */
static void rack_repair(struct tcp_pcb *pcb, uint64_t now)
{
    STAT_INC(pcb->stack, tcp_rack_loss);
    if (!pcb->in_recovery && SEQ_GT(pcb->snd_una, pcb->recover - 1))
        tcp_recovery_enter(pcb, now);
    else if (pcb->in_recovery)
        tcp_recovery_rexmt(pcb);
}

/* After the reference moved or time passed: losses now, the reorder timer
 * for the next candidate, else the probe timer. */
static void rack_check(struct tcp_pcb *pcb, uint64_t now)
{
    uint64_t next;

    if (rack_detect(pcb, now, &next))
        rack_repair(pcb, now);
    if (next)
        rack_timer_set(pcb, TCP_RACK_REO, next);
    else
        tlp_arm(pcb, now);
}

/* Whether a retransmission of ours covers any of [start, end). */
static bool rack_retransmitted(struct tcp_pcb *pcb, uint32_t start, uint32_t end)
{
    for (unsigned i = 0; i < pcb->xlog_n; i++) {
        const struct tcp_xmit_rec *r = xlog_at(pcb, i);
        if (r->retx && SEQ_LT(r->start, end) && SEQ_LT(start, r->end))
            return true;
    }
    return false;
}

/* RFC 8985 6.2 step 3: bytes delivered now below the highest delivered
 * before, and never retransmitted, arrived out of order: the network
 * reorders, and the reordering window opens. Of the SACK blocks, the
 * first only: it holds the segment that triggered the ACK (RFC 2018 4);
 * the others repeat what earlier ACKs said. */
static void rack_reordering(struct tcp_pcb *pcb, uint32_t old_una, const struct tcp_opts *o)
{
    uint32_t fack = pcb->rack_fack;

    if (!pcb->rack_reordering_seen && SEQ_GT(fack, old_una)) {
        uint32_t hi = SEQ_MIN(pcb->snd_una, fack);
        if (SEQ_LT(old_una, hi) && !rack_retransmitted(pcb, old_una, hi))
            pcb->rack_reordering_seen = true;
        if (o->nsack > 0 && !pcb->rack_reordering_seen) {
            uint32_t l = SEQ_MAX(o->sack[0][0], pcb->snd_una), r = o->sack[0][1];
            if (SEQ_LT(l, r) && SEQ_LEQ(r, fack) && !rack_retransmitted(pcb, l, r))
                pcb->rack_reordering_seen = true;
        }
    }
    fack = SEQ_MAX(fack, pcb->snd_una);
    for (int i = 0; i < pcb->nsacked; i++)
        fack = SEQ_MAX(fack, pcb->scoreboard[i].end);
    pcb->rack_fack = fack;
}

bool tcp_rack_ack(struct tcp_pcb *pcb, uint32_t old_una, const struct tcp_opts *o, uint64_t now)
{
    bool advanced = SEQ_GT(pcb->snd_una, old_una);

    if (!pcb->rack_fack_set) {
        pcb->rack_fack = old_una;
        pcb->rack_fack_set = true;
    }
    if (o->nsack > 0 || (advanced && SEQ_GT(pcb->rack_fack, old_una)))
        rack_reordering(pcb, old_una, o);
    else if (advanced)
        pcb->rack_fack = SEQ_MAX(pcb->rack_fack, pcb->snd_una);
    /* The probe's episode (7.4): its ACK ends it; a retransmitted probe
     * acknowledged without a D-SACK repaired a loss. */
    if (pcb->tlp_out && SEQ_GEQ(pcb->snd_una, pcb->tlp_end)) {
        /* A D-SACK says both copies arrived: no loss. An ACK of exactly
         * the probe's end may come from the original, its D-SACK next:
         * wait for a later ACK, unless nothing is left in flight (then no
         * loss is assumed). Beyond the end without a D-SACK first: the
         * probe repaired a loss. */
        bool dsack = o->nsack > 0 && SEQ_LEQ(o->sack[0][1], pcb->snd_una);
        if (dsack || SEQ_GT(pcb->snd_una, pcb->tlp_end) || pcb->snd_una == pcb->snd_max) {
            pcb->tlp_out = false;
            if (pcb->tlp_retx && !dsack && SEQ_GT(pcb->snd_una, pcb->tlp_end) && !pcb->in_recovery) {
                STAT_INC(pcb->stack, tcp_tlp_recovered);
                pcb->cc->enter_recovery(pcb, now);
                pcb->cc->exit_recovery(pcb, now);
            }
        }
    }
    if (pcb->snd_una == pcb->snd_max) {
        /* All delivered (every request/response ACK): the newest record
         * is the reference, and nothing is left to find lost. */
        if (pcb->xlog_n) {
            const struct tcp_xmit_rec *r = xlog_at(pcb, pcb->xlog_n - 1u);
            rack_update(pcb, r, r->end, now);
            pcb->xlog_n = 0;
        }
        pcb->rack_due_ns = 0;
        return advanced;
    }
    rack_prune(pcb, now);
    for (unsigned i = 0; (o->nsack > 0 || advanced) && i < pcb->xlog_n; i++) {
        const struct tcp_xmit_rec *r = xlog_at(pcb, i);
        uint32_t hi;
        if (rack_delivered(pcb, r->start, r->end, &hi))
            rack_update(pcb, r, hi, now);
    }
    if (o->nsack > 0 || pcb->nsacked > 0 || pcb->rack_timer_kind == TCP_RACK_REO)
        rack_check(pcb, now);
    else if (advanced)
        tlp_arm(pcb, now);
    return advanced;
}

void tcp_rack_sent_new(struct tcp_pcb *pcb, uint64_t now)
{
    /* A probe timer running is left as it is: ACKs of new data restart it
     * (tcp_rack_ack), and a send is not worth the arithmetic of a restart. */
    if (pcb->rack_due_ns == 0)
        tlp_arm(pcb, now);
}

/* The probe (7.3): one new segment if the window takes it, else the last
 * segment sent again; then the RTO, restarted. */
static void tlp_send(struct tcp_pcb *pcb, uint64_t now)
{
    uint32_t before = pcb->snd_max;

    STAT_INC(pcb->stack, tcp_tlp);
    pcb->tlp_out = true;
    pcb->tlp_probe = true; /* tcp_output: one segment beyond cwnd */
    tcp_output(pcb);
    pcb->tlp_probe = false;
    if (SEQ_GT(pcb->snd_max, before)) {
        pcb->tlp_retx = false;
        pcb->tlp_end = pcb->snd_max;
    } else {
        uint32_t seg = tcp_seg_max(pcb), out = pcb->snd_max - pcb->snd_una;
        uint32_t len = out < seg ? out : seg;
        pcb->tlp_retx = true;
        pcb->tlp_end = pcb->snd_max;
        tcp_retransmit(pcb, pcb->snd_max - len, len);
    }
    tcp_rexmt_arm(pcb);
    (void)now;
}

static void tcp_rack_fire(struct timer *t, void *arg)
{
    struct tcp_pcb *pcb = arg;
    uint64_t now = clock_now_ns();

    (void)t;
    if (pcb->rack_due_ns == 0)
        return;
    if (now < pcb->rack_due_ns) { /* moved later since armed */
        timer_arm(&pcb->stack->timers, &pcb->t_rack, pcb->rack_due_ns);
        return;
    }
    pcb->rack_due_ns = 0;
    if (pcb->snd_una == pcb->snd_max || pcb->state < TCPS_ESTABLISHED)
        return;
    if (pcb->rack_timer_kind == TCP_RACK_REO) {
        STAT_INC(pcb->stack, tcp_rack_reo_timeout);
        rack_check(pcb, now);
        tcp_output(pcb);
        return;
    }
    tlp_send(pcb, now);
}

void tcp_rack_rto(struct tcp_pcb *pcb)
{
    /* Everything out is resent from SND.UNA (go-back-N) in new records:
     * the old ones would only be found lost again. */
    pcb->xlog_n = 0;
    pcb->tlp_out = false;
    pcb->rack_due_ns = 0;
}

void tcp_rack_stop(struct tcp_pcb *pcb)
{
    pcb->rack_due_ns = 0;
    timer_cancel(&pcb->stack->timers, &pcb->t_rack);
}
