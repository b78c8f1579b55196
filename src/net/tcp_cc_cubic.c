/* SPDX-License-Identifier: MIT */
/*
 * tcp_cc_cubic.c: CUBIC congestion control, RFC 9438.
 *
 * After a congestion event cwnd follows
 *
 *     W_cubic(t) = C * (t - K)^3 + W_max,  K = cbrt((W_max - cwnd_epoch) / C)
 *
 * (segments, seconds; t from the start of the congestion avoidance epoch):
 * concave up to the window of the last loss, W_max, reached at t = K, then
 * convex beyond it (4.4, 4.5). Each ACK moves cwnd towards the target
 * W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd], by (target - cwnd) / cwnd
 * segments per segment acknowledged (4.2). Where a Reno flow with the same
 * multiplicative decrease would do better, W_est (AIMD with alpha_cubic,
 * then 1 once past cwnd_prior) takes over: the Reno-friendly region (4.3).
 * On a loss: fast convergence (4.7) lowers W_max when the loss came below
 * the previous W_max, ssthresh = beta_cubic * FlightSize (4.6). Below
 * ssthresh: standard slow start (4.10), as in tcp_cc_newreno.c.
 *
 * State, in pcb->cc_state.cubic, this module's own (segments unless said):
 *   epoch_start_ns  start of the current congestion avoidance epoch; 0: none
 *                   (the next ACK in congestion avoidance starts one)
 *   w_max           W_max of RFC 9438 (after fast convergence); 0 after a
 *                   timeout: the next epoch starts on its plateau (K = 0,
 *                   W_max = cwnd_epoch, 4.8)
 *   w_last_max      cwnd_prior: cwnd just before the last reduction; W_est
 *                   switches from alpha_cubic to 1 there (4.3)
 *   k               K of the current epoch, seconds
 *   w_est           Reno-friendly estimate
 *   cwnd_cnt        growth earned but not yet added to cwnd, bytes, < 1
 *
 * Choices:
 *  - ssthresh = beta_cubic * min(cwnd, FlightSize), at least 2 SMSS. RFC
 *    9438 4.6 specifies FlightSize and allows cwnd only with other means to
 *    keep an application-limited cwnd from growing; the min keeps a flight
 *    inflated beyond cwnd (data still out after a reduction) from raising it.
 *    W_max and cwnd_prior use cwnd, as the RFC says.
 *  - Recovery sets cwnd = ssthresh (4.6); the caller then inflates it as
 *    RFC 5681 3.2 steps 3 and 4 do for every module (tcp_recovery_enter),
 *    so new data leaves on the 4th duplicate ACK after one loss in ten
 *    segments where NewReno's lower ssthresh waits for the 6th. Exit sets cwnd = ssthresh and ends
 *    the epoch, so the first ACK after it starts a new one with cwnd_epoch =
 *    ssthresh, K = cbrt(W_max * (1 - beta_cubic) / C). Time in recovery does
 *    not count as epoch time.
 *  - Timeout (4.8): ssthresh as for a loss, cwnd = 1 SMSS; the next epoch
 *    starts with K = 0 and W_max = cwnd_epoch. A timeout while cwnd is
 *    still 1 SMSS (nothing acked since the last one) keeps ssthresh, as in
 *    RFC 5681 for a segment timed out more than once.
 *  - RTT in the target is the smoothed RTT (1 ms before the first sample).
 *  - Not done: undo after a spurious loss (4.9), HyStart++, idle restart.
 *
 * Floating point: RFC 9438's curve is real-valued; doubles keep it simple
 * and exact enough, where fixed point (Linux) needs scaled cube roots. The
 * cost is a few multiplications per ACK in user space, where the FPU is
 * free to use; cbrt() (libm) runs once per epoch, not per ACK.
 */
#include "net/tcp.h"

#include "core/common.h"
#include "net/tcp_seq.h"

#include <math.h>
#include <stdint.h>

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))

#define CUBIC_RTT_DEFAULT_NS 1000000u

static uint32_t cubic_mss(const struct tcp_pcb *pcb)
{
    return pcb->mss ? pcb->mss : TCP_DEFAULT_MSS;
}

static uint32_t cubic_flight(const struct tcp_pcb *pcb)
{
    uint32_t top = SEQ_GT(pcb->snd_nxt, pcb->snd_max) ? pcb->snd_nxt : pcb->snd_max;

    return SEQ_GT(top, pcb->snd_una) ? top - pcb->snd_una : 0;
}

/* A window in bytes from a real number, clamped to [lo, TCP_CC_CWND_MAX]. */
static uint32_t cubic_bytes(double bytes, uint32_t lo)
{
    if (!(bytes < (double)TCP_CC_CWND_MAX)) /* also NaN */
        return TCP_CC_CWND_MAX;
    if (bytes < (double)lo)
        return lo;
    return (uint32_t)bytes;
}

/* W_cubic(t), segments (RFC 9438 figure 1). */
static double cubic_w(const struct tcp_cc_cubic_state *c, double t)
{
    double d = t - c->k;

    return CUBIC_C * d * d * d + c->w_max;
}

static void cubic_init(struct tcp_pcb *pcb)
{
    pcb->cwnd = tcp_cc_initial_window(cubic_mss(pcb));
    pcb->ssthresh = UINT32_MAX;
    pcb->cc_state.cubic = (struct tcp_cc_cubic_state){0};
}

/* Start a congestion avoidance epoch at @now_ns with the current cwnd. */
static void cubic_epoch_start(struct tcp_pcb *pcb, double cwnd_seg, uint64_t now_ns)
{
    struct tcp_cc_cubic_state *c = &pcb->cc_state.cubic;

    c->epoch_start_ns = now_ns ? now_ns : 1;
    if (c->w_max <= 0) {
        /* No reference point (after a timeout, or no loss yet): start on
         * the plateau of a curve through cwnd_epoch (4.8). */
        c->w_max = cwnd_seg;
        c->k = 0;
    } else {
        /* Negative when cwnd_epoch > W_max: the curve still passes through
         * cwnd_epoch at t = 0, already convex. */
        c->k = cbrt((c->w_max - cwnd_seg) / CUBIC_C);
    }
    c->w_est = cwnd_seg;
    c->cwnd_cnt = 0;
}

static void cubic_ack(struct tcp_pcb *pcb, uint32_t acked, uint64_t now_ns)
{
    struct tcp_cc_cubic_state *c = &pcb->cc_state.cubic;
    uint32_t mss = cubic_mss(pcb);

    if (acked == 0)
        return;
    if (pcb->cwnd < mss)
        pcb->cwnd = mss;

    if (pcb->cwnd < pcb->ssthresh) {
        /* Slow start (4.10): cwnd += min(N, SMSS), up to ssthresh. */
        uint64_t cwnd = (uint64_t)pcb->cwnd + MIN(acked, mss);
        cwnd = MIN(cwnd, (uint64_t)pcb->ssthresh);
        pcb->cwnd = cwnd > TCP_CC_CWND_MAX ? TCP_CC_CWND_MAX : (uint32_t)cwnd;
        return;
    }

    double cwnd_seg = (double)pcb->cwnd / mss;
    if (c->epoch_start_ns == 0 || now_ns < c->epoch_start_ns)
        cubic_epoch_start(pcb, cwnd_seg, now_ns);

    double t = (double)(now_ns - c->epoch_start_ns) / 1e9;
    double rtt = (double)(pcb->srtt_ns ? pcb->srtt_ns : CUBIC_RTT_DEFAULT_NS) / 1e9;
    /* An ACK for more than a window counts as a window. */
    double acked_bytes = (double)MIN(acked, pcb->cwnd);

    /* Reno-friendly estimate (4.3): alpha_cubic per RTT up to cwnd_prior,
     * then 1 per RTT like Reno. */
    double alpha = c->w_est >= c->w_last_max ? 1.0 : CUBIC_ALPHA;
    c->w_est += alpha * (acked_bytes / mss) / cwnd_seg;
    if (c->w_est > (double)TCP_CC_CWND_MAX / mss)
        c->w_est = (double)TCP_CC_CWND_MAX / mss;

    if (cubic_w(c, t) < c->w_est) {
        /* Reno-friendly region: cwnd = W_est (never shrinking on an ACK). */
        pcb->cwnd = cubic_bytes(c->w_est * mss, pcb->cwnd);
        c->cwnd_cnt = 0;
        return;
    }

    /* Concave or convex region (4.4, 4.5): grow towards the target. */
    double target = cubic_w(c, t + rtt);
    if (target < cwnd_seg)
        target = cwnd_seg;
    else if (target > 1.5 * cwnd_seg)
        target = 1.5 * cwnd_seg;
    /* (target - cwnd) / cwnd segments per segment acked, in bytes; with
     * acked_bytes <= cwnd this never passes the target. */
    c->cwnd_cnt += (target - cwnd_seg) / cwnd_seg * acked_bytes;
    if (c->cwnd_cnt >= 1.0) {
        double inc = floor(c->cwnd_cnt);
        c->cwnd_cnt -= inc;
        pcb->cwnd = cubic_bytes((double)pcb->cwnd + inc, pcb->cwnd);
    }
}

/* The reduction shared by a loss and a timeout: W_max with fast convergence
 * (4.7), cwnd_prior, ssthresh (4.6); the epoch ends. */
static void cubic_reduce(struct tcp_pcb *pcb)
{
    struct tcp_cc_cubic_state *c = &pcb->cc_state.cubic;
    uint32_t mss = cubic_mss(pcb);
    double cwnd_seg = (double)pcb->cwnd / mss;
    uint32_t base = MIN(pcb->cwnd, cubic_flight(pcb));

    if (cwnd_seg < c->w_max)
        c->w_max = cwnd_seg * (1.0 + CUBIC_BETA) / 2.0;
    else
        c->w_max = cwnd_seg;
    c->w_last_max = cwnd_seg;
    pcb->ssthresh = MAX((uint32_t)(base * CUBIC_BETA), 2 * mss);
    c->epoch_start_ns = 0;
    c->cwnd_cnt = 0;
}

static void cubic_enter_recovery(struct tcp_pcb *pcb, uint64_t now_ns)
{
    (void)now_ns;
    cubic_reduce(pcb);
    pcb->cwnd = MIN(pcb->ssthresh, TCP_CC_CWND_MAX);
}

static void cubic_exit_recovery(struct tcp_pcb *pcb, uint64_t now_ns)
{
    (void)now_ns;
    pcb->cwnd = MIN(pcb->ssthresh, TCP_CC_CWND_MAX);
    pcb->cc_state.cubic.epoch_start_ns = 0;
    pcb->cc_state.cubic.cwnd_cnt = 0;
}

static void cubic_timeout(struct tcp_pcb *pcb, uint64_t now_ns)
{
    uint32_t mss = cubic_mss(pcb);

    (void)now_ns;
    if (pcb->cwnd > mss) /* else: a repeated timeout, keep ssthresh */
        cubic_reduce(pcb);
    pcb->cc_state.cubic.w_max = 0; /* next epoch: K = 0, W_max = cwnd_epoch (4.8) */
    pcb->cc_state.cubic.epoch_start_ns = 0;
    pcb->cc_state.cubic.cwnd_cnt = 0;
    pcb->cwnd = mss;
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .ack = cubic_ack,
    .enter_recovery = cubic_enter_recovery,
    .exit_recovery = cubic_exit_recovery,
    .timeout = cubic_timeout,
};
