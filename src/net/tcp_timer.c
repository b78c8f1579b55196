/* SPDX-License-Identifier: MIT */
/*
 * tcp_timer.c: the per-connection timers: retransmission (RFC 6298), SYN
 * retries, zero-window probes (RFC 9293 3.8.6.1), delayed ACK, keepalive
 * (RFC 1122 4.2.3.6) and TIME_WAIT (2 MSL).
 *
 * The retransmission and delayed-ACK timers run on every request of a
 * request/response exchange (armed when data goes or comes, stopped when it
 * is acknowledged, pushed later by every ACK), so they are lazy, as
 * keepalive is (last_rx_ns) and as Linux and FreeBSD keep theirs: the pcb
 * holds the due time (rexmt_due_ns, delack_due_ns with delack_pending);
 * arming moves it and touches the wheel only to move the entry earlier;
 * stopping clears it and leaves the entry. An entry that fires early
 * re-arms to the due time, strictly later, and one that finds nothing due
 * just goes: at most one wheel operation per RTO (or delayed-ACK time)
 * instead of several per request, and the same times on the wire.
 * tcp_timers_cancel really unlinks them: a freed pcb never stays in the wheel.
 */
#include "core/clock.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

#include <assert.h>
#include <errno.h>

static void tcp_rexmt_fire(struct timer *t, void *arg);
static void tcp_delack_fire(struct timer *t, void *arg);
static void tcp_keep_fire(struct timer *t, void *arg);
static void tcp_2msl_fire(struct timer *t, void *arg);

void tcp_timers_init(struct tcp_pcb *pcb)
{
    timer_init(&pcb->t_rexmt, tcp_rexmt_fire, pcb);
    timer_init(&pcb->t_delack, tcp_delack_fire, pcb);
    timer_init(&pcb->t_keep, tcp_keep_fire, pcb);
    timer_init(&pcb->t_2msl, tcp_2msl_fire, pcb);
}

void tcp_timers_cancel(struct tcp_pcb *pcb)
{
    struct timer_wheel *w = &pcb->stack->timers;

    pcb->rexmt_due_ns = 0;
    timer_cancel(w, &pcb->t_rexmt);
    timer_cancel(w, &pcb->t_delack);
    timer_cancel(w, &pcb->t_keep);
    timer_cancel(w, &pcb->t_2msl);
    tcp_rack_stop(pcb);
}

static uint64_t tcp_rto_backoff(const struct tcp_pcb *pcb)
{
    const struct tcp_params *p = &pcb->stack->tcp.params;
    uint64_t rto = pcb->rto_ns;

    /* RFC 6298 5.5: double per consecutive timeout, up to the maximum. */
    for (uint32_t i = 0; i < pcb->rexmt_count && rto < p->rto_max_ns; i++)
        rto <<= 1;
    return rto < p->rto_max_ns ? rto : p->rto_max_ns;
}

/* When t_rexmt fires next: after the backed-off RTO, but never past the
 * user timeout (as Linux clamps its RTO to TCP_USER_TIMEOUT). */
static uint64_t tcp_rexmt_due(const struct tcp_pcb *pcb, uint64_t now)
{
    uint64_t uto = pcb->stack->tcp.params.user_timeout_ns, due = now + tcp_rto_backoff(pcb);

    if (uto && pcb->stall_since_ns && pcb->stall_since_ns + uto < due)
        due = pcb->stall_since_ns + uto > now ? pcb->stall_since_ns + uto : now + 1;
    return due;
}

void tcp_rexmt_arm_at(struct tcp_pcb *pcb, uint64_t due_ns)
{
    assert(due_ns > clock_now_ns());
    pcb->rexmt_due_ns = due_ns;
    timer_arm_earlier(&pcb->stack->timers, &pcb->t_rexmt, due_ns);
}

void tcp_rexmt_arm(struct tcp_pcb *pcb)
{
    pcb->persist = false;
    tcp_rexmt_arm_at(pcb, tcp_rexmt_due(pcb, clock_now_ns()));
}

void tcp_rexmt_stop(struct tcp_pcb *pcb)
{
    pcb->rexmt_due_ns = 0;
}

/* The peer acknowledged new data, or opened its window: not stalled. */
void tcp_stall_end(struct tcp_pcb *pcb)
{
    pcb->stall_since_ns = 0;
    pcb->probes_unanswered = 0;
}

/* RFC 6298 2.2-2.3 with the usual alpha = 1/8, beta = 1/4, K = 4. */
void tcp_rtt_sample(struct tcp_pcb *pcb, uint64_t rtt_ns)
{
    const struct tcp_params *p = &pcb->stack->tcp.params;
    uint64_t rto;

    if (pcb->srtt_ns == 0) {
        pcb->srtt_ns = rtt_ns;
        pcb->rttvar_ns = rtt_ns / 2;
    } else {
        uint64_t delta = pcb->srtt_ns > rtt_ns ? pcb->srtt_ns - rtt_ns : rtt_ns - pcb->srtt_ns;
        pcb->rttvar_ns = (3 * pcb->rttvar_ns + delta) / 4;
        pcb->srtt_ns = (7 * pcb->srtt_ns + rtt_ns) / 8;
    }
    rto = pcb->srtt_ns + (4 * pcb->rttvar_ns > 1000 ? 4 * pcb->rttvar_ns : 1000);
    /* A floor raised by a late ACK (tcp_rto_undo) sinks back towards
     * tcp.rto_min_us by 1/16 of the difference per sample. */
    if (pcb->rto_floor_ns > p->rto_min_ns)
        pcb->rto_floor_ns -= (pcb->rto_floor_ns - p->rto_min_ns) / 16;
    if (rto < pcb->rto_floor_ns)
        rto = pcb->rto_floor_ns;
    if (rto > p->rto_max_ns)
        rto = p->rto_max_ns;
    pcb->rto_ns = rto;
}

static void tcp_fail(struct tcp_pcb *pcb, int err)
{
    pcb->err = err;
    tcp_notify(pcb,
               TCP_EV_ERROR | TCP_EV_READABLE | TCP_EV_WRITABLE | (pcb->state == TCPS_SYN_SENT ? TCP_EV_CONNECTED : 0));
    tcp_set_state(pcb, TCPS_CLOSED);
}

/* Give up: RST to the peer (unless it never heard of us), ETIMEDOUT to the
 * application. */
static void tcp_give_up(struct tcp_pcb *pcb)
{
    STAT_INC(pcb->stack, tcp_conn_timeout);
    if (pcb->state != TCPS_SYN_SENT)
        tcp_send_ctl(pcb, TH_RST | TH_ACK, pcb->snd_max);
    tcp_fail(pcb, ETIMEDOUT);
}

static void tcp_rexmt_fire(struct timer *t, void *arg)
{
    struct tcp_pcb *pcb = arg;
    struct inet_stack *s = pcb->stack;
    const struct tcp_params *p = &s->tcp.params;
    uint32_t limit = pcb->state == TCPS_SYN_SENT || pcb->state == TCPS_SYN_RECEIVED ? p->syn_retries : p->max_retries;
    uint64_t now = clock_now_ns();

    (void)t;
    if (pcb->rexmt_due_ns == 0) /* stopped since armed */
        return;
    if (now < pcb->rexmt_due_ns) { /* pushed later since armed */
        timer_arm(&s->timers, &pcb->t_rexmt, pcb->rexmt_due_ns);
        return;
    }
    pcb->rexmt_due_ns = 0; /* fired: what follows may arm it again */
    if (!pcb->stall_since_ns && (pcb->snd_una != pcb->snd_max || pcb->snd_wnd == 0))
        /* The first timeout of this stall: the data it waits for went out
         * one RTO ago (the window, if shut, was found shut then too). */
        pcb->stall_since_ns = now > pcb->rto_ns ? now - pcb->rto_ns : 1;
    /* RFC 5482's user timeout: data unacknowledged, or the window shut, for
     * this long ends the connection, whatever the retry counts say (and
     * even when the peer answers our probes: a window that never opens is
     * as dead to the application as a peer that never answers). */
    if (p->user_timeout_ns && pcb->stall_since_ns && now - pcb->stall_since_ns >= p->user_timeout_ns) {
        tcp_give_up(pcb);
        return;
    }
    if (!pcb->persist && pcb->snd_wnd == 0 && pcb->snd_una != pcb->snd_max && pcb->state >= TCPS_ESTABLISHED) {
        /* The peer closed its window with data in flight: nothing may be
         * resent into it, so probe instead, starting over from SND.UNA. */
        pcb->snd_nxt = pcb->snd_una;
        pcb->persist = true;
    }
    if (pcb->persist) {
        /* Zero-window probe: one byte past the window (RFC 9293 3.8.6.1).
         * A peer that answers may keep its window shut as long as it likes
         * (RFC 1122 4.2.2.17), so only probes left unanswered count against
         * tcp.max_retries, as retransmissions do: a peer that vanished
         * behind a zero window is given up like one that vanished with data
         * in flight. */
        if (pcb->probes_unanswered >= p->max_retries) {
            tcp_give_up(pcb);
            return;
        }
        pcb->probes_unanswered++;
        if (pcb->rexmt_count < 30)
            pcb->rexmt_count++;
        tcp_send_probe(pcb);
        tcp_rexmt_arm_at(pcb, tcp_rexmt_due(pcb, clock_now_ns()));
        pcb->persist = true;
        return;
    }
    if (pcb->snd_una == pcb->snd_max) {
        /* Everything sent was acknowledged meanwhile; what a failed send
         * left queued (no buffer, tcp_output) goes now. */
        tcp_output(pcb);
        return;
    }
    if (++pcb->rexmt_count > limit) {
        tcp_give_up(pcb);
        return;
    }
    STAT_INC(s, tcp_rto);
    /* RFC 6298 5.4-5.7 and RFC 5681 3.1: back off, collapse the window,
     * resend from the first unacknowledged byte. Karn: no RTT sample from a
     * retransmitted segment. */
    pcb->rtt_start_ns = 0;
    if (pcb->rexmt_count == 1 && (pcb->ts_ok || pcb->sack_ok) && pcb->state >= TCPS_ESTABLISHED) {
        pcb->rto_undo_armed = true;
        pcb->rto_tsval = tcp_ts_now(clock_now_ns());
        pcb->rto_seq = pcb->snd_una;
        pcb->rto_prior_cwnd = pcb->cwnd;
        pcb->rto_prior_ssthresh = pcb->ssthresh;
    }
    if (pcb->state >= TCPS_ESTABLISHED)
        pcb->cc->timeout(pcb, clock_now_ns());
    pcb->in_recovery = false;
    pcb->dupacks = 0;
    pcb->nsacked = 0; /* RFC 6675 5.1: the scoreboard may be stale */
    tcp_rack_rto(pcb);
    pcb->snd_nxt = pcb->snd_una;
    tcp_output(pcb);
    tcp_rexmt_arm(pcb);
}

/* Sending an ACK stops it (tcp_xmit clears delack_pending). */
void tcp_delack_arm(struct tcp_pcb *pcb)
{
    if (!pcb->delack_pending) {
        pcb->delack_pending = true;
        pcb->delack_due_ns = clock_now_ns() + pcb->stack->tcp.params.delack_ns;
        timer_arm_earlier(&pcb->stack->timers, &pcb->t_delack, pcb->delack_due_ns);
    }
}

static void tcp_delack_fire(struct timer *t, void *arg)
{
    struct tcp_pcb *pcb = arg;

    (void)t;
    if (!pcb->delack_pending)
        return;
    if (clock_now_ns() < pcb->delack_due_ns) { /* an earlier one was stopped */
        timer_arm(&pcb->stack->timers, &pcb->t_delack, pcb->delack_due_ns);
        return;
    }
    STAT_INC(pcb->stack, tcp_delack);
    pcb->ack_now = true;
    tcp_output(pcb);
}

/* Called for every segment received: without keepalive, nothing to note
 * (turning it on calls this again, which starts the idle time then). */
void tcp_keep_reset(struct tcp_pcb *pcb)
{
    pcb->keep_probes_sent = 0;
    if (!pcb->keepalive)
        return;
    pcb->last_rx_ns = clock_now_ns();
    if (!timer_armed(&pcb->t_keep))
        timer_arm(&pcb->stack->timers, &pcb->t_keep, pcb->last_rx_ns + pcb->keep_idle_ns);
}

/* When the next keepalive probe (or the verdict on the last one) is due:
 * the idle time after the last segment received, then one interval per
 * probe sent since. */
static uint64_t tcp_keep_due(const struct tcp_pcb *pcb)
{
    return pcb->last_rx_ns + pcb->keep_idle_ns + (uint64_t)pcb->keep_probes_sent * pcb->keep_intvl_ns;
}

/* TCP_KEEPIDLE or TCP_KEEPINTVL changed on a live connection: the timer
 * moves to the new due time, earlier or later (Linux does the same for
 * TCP_KEEPIDLE: the idle time already passed counts). */
void tcp_keep_retime(struct tcp_pcb *pcb)
{
    if (!pcb->keepalive || pcb->state < TCPS_ESTABLISHED || pcb->state > TCPS_CLOSE_WAIT)
        return;
    timer_arm(&pcb->stack->timers, &pcb->t_keep, tcp_keep_due(pcb));
}

static void tcp_keep_fire(struct timer *t, void *arg)
{
    struct tcp_pcb *pcb = arg;
    uint64_t now = clock_now_ns(), due;

    (void)t;
    if (!pcb->keepalive || pcb->state < TCPS_ESTABLISHED || pcb->state > TCPS_CLOSE_WAIT)
        return;
    due = tcp_keep_due(pcb);
    if (now < due) { /* traffic since: wait for the remaining idle time */
        timer_arm(&pcb->stack->timers, &pcb->t_keep, due);
        return;
    }
    if (pcb->keep_probes_sent >= pcb->keep_cnt) {
        STAT_INC(pcb->stack, tcp_conn_timeout);
        tcp_send_ctl(pcb, TH_RST | TH_ACK, pcb->snd_max);
        tcp_fail(pcb, ETIMEDOUT);
        return;
    }
    /* RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT - 1 makes the peer answer. */
    STAT_INC(pcb->stack, tcp_keepalive);
    pcb->keep_probes_sent++;
    tcp_send_ctl(pcb, TH_ACK, pcb->snd_max - 1);
    timer_arm(&pcb->stack->timers, &pcb->t_keep, now + pcb->keep_intvl_ns);
}

void tcp_2msl_arm(struct tcp_pcb *pcb)
{
    timer_arm(&pcb->stack->timers, &pcb->t_2msl, clock_now_ns() + 2 * pcb->stack->tcp.params.msl_ns);
}

static void tcp_2msl_fire(struct timer *t, void *arg)
{
    struct tcp_pcb *pcb = arg;

    (void)t;
    /* TIME_WAIT over; or FIN_WAIT_2 detached and idle too long. */
    if (pcb->state == TCPS_TIME_WAIT || (pcb->state == TCPS_FIN_WAIT_2 && !pcb->owner))
        tcp_set_state(pcb, TCPS_CLOSED);
}
