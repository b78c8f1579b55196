/* SPDX-License-Identifier: MIT */
/*
 * tcp_syncookie.c: SYN cookies (RFC 4987 3.6). While a listener's SYN queue
 * is full, a SYN is answered without keeping anything: what the handshake
 * must remember rides in our initial sequence number, and the ACK that
 * completes it brings it back (SEG.ACK - 1).
 *
 *   ISN = H1(4-tuple) + (t << 27 | mss_index << 24 | H2(4-tuple, peer ISN, t, mss_index) & 0xffffff)
 *
 * t counts 64-second periods (mod 32): a cookie is good for two of them.
 * H1 and H2 are SipHash-2-4 under the stack's secret (the RFC 6528 key,
 * with a domain byte of its own), so an off-path attacker can neither forge
 * a cookie nor learn t. The peer's MSS is rounded down to one of eight
 * values. With timestamps, the low 6 bits of our TSval carry the peer's
 * window scale (4 bits, 15 = none; ours follows from tcp.rcvbuf) and
 * SACK-permitted (1 bit), and the ACK's TSecr echoes them, as Linux does; without timestamps the connection goes on
 * without window scaling and SACK, which the SYN-ACK does not offer.
 */
#include "net/tcp.h"
#include "net/tcp_input.h"

#include "core/clock.h"
#include "net/siphash.h"
#include "net/stack.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <string.h>

#define COOKIE_PERIOD_NS (64ull * 1000000000ull)
#define COOKIE_MAX_AGE 1 /* periods: a cookie lives 64 to 128 s */
#define COOKIE_TS_BITS 6
#define COOKIE_TS_MASK ((1u << COOKIE_TS_BITS) - 1)
#define COOKIE_NO_WSCALE 0xf

static const uint16_t cookie_mss[8] = {536, 1200, 1300, 1400, 1440, 1452, 1460, 8960};

/* Over the segment's whole addresses (16 bytes each for IPv6), its ports,
 * and @a, @b. */
static uint32_t cookie_hash(const struct inet_stack *s, char domain, const struct tcp_seg *sg, uint32_t a, uint32_t b)
{
    uint8_t msg[45];
    size_t n = 0;

    msg[n++] = (uint8_t)domain;
    if (sg->v6) {
        memcpy(msg + n, &sg->src6, 16);
        memcpy(msg + n + 16, &sg->dst6, 16);
        n += 32;
    } else {
        memcpy(msg + n, &sg->src, 4);
        memcpy(msg + n + 4, &sg->dst, 4);
        n += 8;
    }
    memcpy(msg + n, &sg->th->sport, 2);
    memcpy(msg + n + 2, &sg->th->dport, 2);
    memcpy(msg + n + 4, &a, 4);
    memcpy(msg + n + 8, &b, 4);
    return (uint32_t)siphash24(s->tcp.isn_key, msg, n + 12);
}

static uint32_t cookie_period(void)
{
    return (uint32_t)(clock_now_ns() / COOKIE_PERIOD_NS) & 31;
}

/* The cookie for a SYN (or its ACK) @sg of the connection, peer ISN @irs. */
static uint32_t cookie_make(const struct inet_stack *s, const struct tcp_seg *sg, uint32_t irs, uint32_t t,
                            uint32_t mss_idx)
{
    uint32_t h1 = cookie_hash(s, 'A', sg, 0, 0);
    uint32_t h2 = cookie_hash(s, 'B', sg, irs, t << 3 | mss_idx);

    return h1 + (t << 27 | mss_idx << 24 | (h2 & 0xffffff));
}

void tcp_syncookie_send(struct inet_stack *s, const struct tcp_pcb *l, const struct tcp_seg *sg)
{
    const struct tcp_params *p = &s->tcp.params;
    const struct tcp_opts *o = &sg->o;
    uint32_t irs = sg->seq;
    struct tcp_pcb tmp;
    uint32_t mss_idx = 0, peer_mss = o->mss ? o->mss : TCP_DEFAULT_MSS;

    for (uint32_t i = 0; i < 8; i++)
        if (cookie_mss[i] <= peer_mss)
            mss_idx = i;
    /* A throw-away control block describes the SYN-ACK; nothing of it is
     * kept, no timer is armed. */
    memset(&tmp, 0, sizeof(tmp));
    tmp.stack = s;
    tmp.state = TCPS_SYN_RECEIVED;
    tcp_child_addrs(&tmp, sg);
    tmp.local_port = sg->th->dport;
    tmp.remote_port = sg->th->sport;
    tmp.rcvbuf = l->rcvbuf;
    tmp.irs = irs;
    tmp.rcv_nxt = irs + 1;
    tmp.rcv_adv = tmp.rcv_nxt;
    tmp.ts_ok = p->timestamps && o->ts_present;
    /* Without timestamps nowhere to keep them: not offered. */
    tmp.ws_ok = tmp.ts_ok && p->window_scaling && o->wscale >= 0;
    tmp.sack_ok = tmp.ts_ok && p->sack && o->sack_ok;
    if (tmp.ws_ok)
        tmp.rcv_wscale = MAX(tmp.rcv_wscale, tcp_rcv_wscale_for(tmp.rcvbuf));
    if (tmp.ts_ok) {
        uint32_t now = tcp_ts_now(clock_now_ns());
        uint32_t bits = (tmp.ws_ok ? (uint32_t)o->wscale : COOKIE_NO_WSCALE) | (tmp.sack_ok ? 0x10u : 0);
        uint32_t ts = (now & ~COOKIE_TS_MASK) | bits;
        if (TSTMP_GT(ts, now)) /* never ahead of the clock later TSvals come from */
            ts -= COOKIE_TS_MASK + 1;
        tmp.ts_recent = o->tsval;
        tmp.syn_tsval = ts;
    }
    tmp.iss = cookie_make(s, sg, irs, cookie_period(), mss_idx);
    tmp.snd_una = tmp.snd_nxt = tmp.snd_max = tmp.iss;
    STAT_INC(s, tcp_syncookies_sent);
    tcp_send_ctl(&tmp, TH_SYN | TH_ACK, tmp.iss);
}

struct tcp_pcb *tcp_syncookie_check(struct inet_stack *s, struct tcp_pcb *l, const struct tcp_seg *sg)
{
    const struct tcp_params *p = &s->tcp.params;
    const struct tcp_opts *o = &sg->o;
    uint32_t seq = sg->seq, ack = sg->ack, wnd = sg->wnd;
    uint32_t irs = seq - 1, iss = ack - 1, t, mss_idx, age;
    uint32_t v = iss - cookie_hash(s, 'A', sg, 0, 0);
    struct tcp_pcb *c;

    t = v >> 27;
    mss_idx = (v >> 24) & 7;
    age = (cookie_period() - t) & 31;
    if (age > COOKIE_MAX_AGE || cookie_make(s, sg, irs, t, mss_idx) != iss) {
        STAT_INC(s, tcp_syncookies_failed);
        return NULL;
    }
    c = tcp_pcb_new(s, NULL, NULL);
    if (!c)
        return NULL;
    c->nodelay = l->nodelay;
    c->keepalive = l->keepalive;
    c->keep_idle_ns = l->keep_idle_ns;
    c->keep_intvl_ns = l->keep_intvl_ns;
    c->keep_cnt = l->keep_cnt;
    c->rcvbuf = l->rcvbuf;
    c->sndbuf = l->sndbuf;
    tcp_child_addrs(c, sg);
    tcp_port_share(c, l, sg->th->dport);
    c->remote_port = sg->th->sport;
    c->irs = irs;
    c->rcv_nxt = seq;
    c->rcv_adv = seq + MIN(c->rcvbuf, TCP_MAXWIN); /* what the SYN-ACK offered (unscaled) */
    c->iss = iss;
    c->snd_una = c->snd_nxt = c->snd_max = ack;
    c->recover = c->sack_high = ack;
    /* What the SYN-ACK offered comes back in the TSecr's low bits. */
    c->ts_ok = p->timestamps && o->ts_present && o->tsecr != 0;
    c->ws_ok = c->sack_ok = false;
    c->snd_wscale = c->rcv_wscale = 0;
    if (c->ts_ok) {
        uint32_t ws = o->tsecr & 0xf;
        c->ts_recent = o->tsval;
        c->ts_recent_age_ns = clock_now_ns();
        c->sack_ok = p->sack && (o->tsecr & 0x10);
        if (ws != COOKIE_NO_WSCALE && ws <= 14 && p->window_scaling) {
            c->ws_ok = true;
            c->snd_wscale = (uint8_t)ws;
            c->rcv_wscale = MAX(c->rcv_wscale, tcp_rcv_wscale_for(c->rcvbuf)); /* as the SYN-ACK computed it */
        }
    }
    tcp_mss_set(c, cookie_mss[mss_idx]);
    c->snd_wnd = wnd << c->snd_wscale;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seq;
    c->snd_wl2 = ack;
    c->cc->init(c);
    c->state = TCPS_ESTABLISHED;
    tcp_hash_insert(c);
    tcp_keep_reset(c);
    tcp_child_move(l, c, TCP_CHILDQ_ACCEPT);
    STAT_INC(s, tcp_syncookies_ok);
    STAT_INC(s, tcp_conn_passive);
    tcp_notify(l, TCP_EV_ACCEPT);
    return c;
}
