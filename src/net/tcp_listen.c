/* SPDX-License-Identifier: MIT */
/*
 * tcp_listen.c: segments for a listener (RFC 9293 3.10.7.2): a SYN makes a
 * half-open child in the SYN queue, or, while that queue is full, a SYN
 * cookie (RFC 4987) answers and nothing is kept; and whether an ACK may be
 * a cookie's. tcp_input.c's entry dispatches here.
 */
#include "core/clock.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_input.h"

/* ---- LISTEN ------------------------------------------------------------- */

void tcp_input_listen(struct inet_stack *s, struct tcp_pcb *l, const struct tcp_seg *sg)
{
    struct tcp_pcb *c;

    if (sg->flags & TH_RST)
        return;
    if (sg->flags & TH_ACK) {
        STAT_INC(s, tcp_drop_listen);
        tcp_seg_rst(s, sg);
        return;
    }
    if (!(sg->flags & TH_SYN)) {
        STAT_INC(s, tcp_drop_listen);
        return;
    }
    /* A bounded SYN queue. Full (a flood): a SYN cookie answers and
     * nothing is kept (RFC 4987 3.6); with tcp.syn_cookies off, the oldest
     * half-open connection makes room (its peer, if real, retries). */
    if (l->syn_count >= s->tcp.params.syn_backlog) {
        if (s->tcp.params.syn_cookies) {
            l->cookie_sent_ns = clock_now_ns();
            l->cookies_sent = true;
            tcp_syncookie_send(s, l, sg);
            return;
        }
        STAT_INC(s, tcp_syn_drop_oldest);
        tcp_pcb_free(list_entry(list_first(&l->syn_q), struct tcp_pcb, child_link));
    }
    /* Every pcb in use (tcp.max_connections): the SYN is dropped, counted
     * (tcp_pcb_exhausted), as a full SYN queue would without cookies; the
     * peer retries. No cookie: its ACK would need a pcb too. */
    c = tcp_pcb_new(s, NULL, NULL);
    if (!c)
        return;
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
    c->irs = sg->seq;
    c->rcv_nxt = sg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->iss = tcp_new_isn(c);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->recover = c->sack_high = c->iss; /* RFC 6582 3.2 step 1 */
    tcp_negotiate(c, sg);
    c->snd_wnd = sg->wnd; /* a SYN's window is never scaled */
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = sg->seq;
    c->snd_wl2 = c->iss;
    c->cc->init(c);
    c->state = TCPS_SYN_RECEIVED;
    tcp_hash_insert(c);
    tcp_child_move(l, c, TCP_CHILDQ_SYN);
    /* Data on the SYN is not queued (no TCP Fast Open): only the SYN is
     * acknowledged and the peer sends it again. */
    tcp_output(c);
}

void tcp_child_addrs(struct tcp_pcb *c, const struct tcp_seg *sg)
{
    c->v6 = sg->v6;
    if (sg->v6) {
        c->local_ip6 = sg->dst6;
        c->remote_ip6 = sg->src6;
    } else {
        c->local_ip = sg->dst;
        c->remote_ip = sg->src;
    }
}

/* Could this segment be the ACK of a SYN cookie? Only a bare ACK (no SYN,
 * RST) to a listener that sent cookies in their lifetime (about 2 min); at
 * other times an ACK to a listener gets its RST without a hash computed. */
bool tcp_cookie_ack(const struct tcp_pcb *l, const struct tcp_seg *sg)
{
    /* Signed: the cached clock of this poll round may read a little behind
     * the time the cookie was stamped with. */
    return l->cookies_sent && (sg->flags & (TH_SYN | TH_RST | TH_ACK)) == TH_ACK &&
           (int64_t)(clock_now_ns() - l->cookie_sent_ns) < (int64_t)(128ull * 1000000000ull);
}
