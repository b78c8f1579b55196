/* SPDX-License-Identifier: MIT */
/*
 * tcp_subr.c: TCP control blocks: creation, hashing, binding, the calls the
 * libOS makes (listen, accept, connect, send, recv, shutdown, close) and
 * freeing.
 */
#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"
#include "net/stack.h"
#include "net/tcp.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const state_names[] = {
    "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK",     "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
    return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

/* Parameters come complete (struct tcp_params); one left 0 that cannot be
 * is a caller that did not start from the defaults: refuse it rather than
 * run with a zero RTO or no room for out-of-order data. */
static int tcp_params_check(const struct tcp_params *p)
{
    const char *bad = !p->rcvbuf               ? "rcvbuf"
                      : !p->sndbuf             ? "sndbuf"
                      : !p->rto_initial_ns     ? "rto_initial_ns"
                      : !p->rto_min_ns         ? "rto_min_ns"
                      : !p->rto_max_ns         ? "rto_max_ns"
                      : !p->max_retries        ? "max_retries"
                      : !p->syn_retries        ? "syn_retries"
                      : !p->msl_ns             ? "msl_ns"
                      : !p->syn_backlog        ? "syn_backlog"
                      : !p->max_connections    ? "max_connections"
                      : !p->ooo_max            ? "ooo_max"
                      : !p->keepalive_idle_ns  ? "keepalive_idle_ns"
                      : !p->keepalive_intvl_ns ? "keepalive_intvl_ns"
                      : !p->keepalive_probes   ? "keepalive_probes"
                      : !p->mss                ? "mss"
                                               : NULL;

    if (bad) {
        log_err("tcp: parameter %s is 0 (start from tcp_params_default())", bad);
        return EINVAL;
    }
    if (!tcp_cc_find(p->cc)) {
        log_err("tcp: unknown congestion control \"%s\" (expected cubic or newreno)", p->cc ? p->cc : "");
        return EINVAL;
    }
    return 0;
}

int tcp_init(struct inet_stack *s, const struct tcp_params *p)
{
    struct tcp_table *t = &s->tcp;

    memset(t, 0, sizeof(*t));
    if (tcp_params_check(p))
        return EINVAL;
    t->params = *p;
    if (objpool_init(&t->pcbs, p->max_connections, sizeof(struct tcp_pcb)) != 0)
        return ENOMEM;
    for (int i = 0; i < TCP_HASH_BUCKETS; i++)
        list_init(&t->conns[i]);
    for (int i = 0; i < (int)ARRAY_SIZE(t->listeners); i++)
        list_init(&t->listeners[i]);
    list_init(&t->txwait);
    list_init(&t->rxready);
    /* RFC 6528: the secret must not be guessable; simulations fix it so a
     * run is a function of its seed. */
    if (t->params.isn_key_seed) {
        uint64_t k[2] = {t->params.isn_key_seed, t->params.isn_key_seed * 0x9e3779b97f4a7c15ull};
        memcpy(t->isn_key, k, sizeof(t->isn_key));
    } else if (getrandom(t->isn_key, sizeof(t->isn_key), 0) != (ssize_t)sizeof(t->isn_key)) {
        uint64_t x = clock_real_ns() ^ (uint64_t)(uintptr_t)s;
        memcpy(t->isn_key, &x, sizeof(x));
        log_warn("tcp: getrandom failed; ISN secret from the clock");
    }
    if (tcp_ports_init(t) != 0) {
        objpool_fini(&t->pcbs);
        return ENOMEM;
    }
    return 0;
}

void tcp_fini(struct inet_stack *s)
{
    struct tcp_table *t = &s->tcp;
    struct list_node *pos, *tmp;

    for (int i = 0; i < TCP_HASH_BUCKETS; i++) {
        list_for_each_safe (pos, tmp, &t->conns[i]) {
            tcp_pcb_free(list_entry(pos, struct tcp_pcb, link));
        }
    }
    for (int i = 0; i < (int)ARRAY_SIZE(t->listeners); i++) {
        list_for_each_safe (pos, tmp, &t->listeners[i]) {
            tcp_pcb_free(list_entry(pos, struct tcp_pcb, link));
        }
    }
    tcp_ports_fini(t);
    objpool_fini(&t->pcbs); /* pcbs never hashed (sockets never bound) go with it */
}

static uint32_t tcp_hash(uint16_t lport, uint32_t rip, uint16_t rport)
{
    uint32_t h = rip ^ ((uint32_t)lport << 16 | rport);
    h *= 2654435761u;
    return (h >> 16) & (TCP_HASH_BUCKETS - 1);
}

struct list_node *tcp_conn_bucket(struct tcp_table *t, uint16_t lport, uint32_t rip, uint16_t rport)
{
    return &t->conns[tcp_hash(lport, rip, rport)];
}

struct list_node *tcp_listen_bucket(struct tcp_table *t, uint16_t lport)
{
    return &t->listeners[ntohs(lport) & (ARRAY_SIZE(t->listeners) - 1)];
}

void tcp_hash_insert(struct tcp_pcb *pcb)
{
    struct tcp_table *t = &pcb->stack->tcp;

    if (list_linked(&pcb->link))
        list_del(&pcb->link);
    if (pcb->state == TCPS_LISTEN)
        list_add_tail(tcp_listen_bucket(t, pcb->local_port), &pcb->link);
    else
        list_add_tail(tcp_conn_bucket(t, pcb->local_port, pcb->v6 ? tcp_addr6_fold(&pcb->remote_ip6) : pcb->remote_ip,
                                      pcb->remote_port),
                      &pcb->link);
}

struct tcp_pcb *tcp_lookup(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    struct list_node *head = &s->tcp.conns[tcp_hash(lport, rip, rport)], *pos;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct tcp_pcb *p = list_entry(pos, struct tcp_pcb, link);
        if (p->local_port == lport && p->remote_port == rport && p->remote_ip == rip &&
            (p->local_ip == lip || p->local_ip == 0))
            return p;
    }
    return NULL;
}

struct tcp_pcb *tcp_lookup_listener(struct inet_stack *s, uint32_t lip, uint16_t lport)
{
    struct list_node *head = tcp_listen_bucket(&s->tcp, lport), *pos;
    struct tcp_pcb *any = NULL;

    for (pos = head->next; pos != head; pos = pos->next) {
        struct tcp_pcb *p = list_entry(pos, struct tcp_pcb, link);
        if (p->local_port != lport)
            continue;
        /* An IPv6 listener takes IPv4 too when bound to :: without
         * IPV6_V6ONLY (dual stack); its local_ip is 0 then: a wildcard. */
        if (p->v6 && (p->v6only || !IN6_IS_ADDR_UNSPECIFIED(&p->local_ip6)))
            continue;
        if (p->local_ip == lip && !p->v6)
            return p;
        if (p->local_ip == 0 && (!any || any->v6)) /* an IPv4 wildcard before a dual-stack one */
            any = p;
    }
    return any;
}

struct tcp_pcb *tcp_pcb_new(struct inet_stack *s, void *owner, tcp_upcall_fn upcall)
{
    const struct tcp_params *p = &s->tcp.params;
    struct tcp_pcb *pcb = objpool_get(&s->tcp.pcbs);

    if (!pcb) {
        STAT_INC(s, tcp_pcb_exhausted);
        return NULL;
    }
    pcb->stack = s;
    pcb->owner = owner;
    pcb->upcall = upcall;
    list_init(&pcb->link);
    list_init(&pcb->child_link);
    list_init(&pcb->txwait_link);
    list_init(&pcb->rxready_link);
    pcb->route = NULL;
    pcb->route6 = NULL;
    pcb->v6 = pcb->v6only = false;
    memset(&pcb->local_ip6, 0, sizeof(pcb->local_ip6));
    memset(&pcb->remote_ip6, 0, sizeof(pcb->remote_ip6));
    list_init(&pcb->syn_q);
    list_init(&pcb->accept_q);
    pcb->rcvbuf = p->rcvbuf;
    pcb->sndbuf = p->sndbuf;
    pcb->nodelay = p->nodelay;
    pcb->keepalive = p->keepalive;
    pcb->quickacks = p->quickacks;
    pcb->quickack_rx_ns = 0;
    pcb->keep_idle_ns = p->keepalive_idle_ns;
    pcb->keep_intvl_ns = p->keepalive_intvl_ns;
    pcb->keep_cnt = p->keepalive_probes;
    pcb->rto_ns = p->rto_initial_ns;
    pcb->rto_floor_ns = p->rto_min_ns;
    pcb->cc = tcp_cc_find(p->cc);
    /* What we offer at the handshake; the peer's options decide. */
    pcb->ws_ok = p->window_scaling;
    pcb->ts_ok = p->timestamps;
    pcb->sack_ok = p->sack;
    tcp_timers_init(pcb);
    tcp_rack_init(pcb);
    s->tcp.npcbs++;
    return pcb;
}

uint8_t tcp_rcv_wscale_for(uint32_t rcvbuf)
{
    uint8_t ws = 0;

    while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > TCP_MAXWIN)
        ws++;
    return ws;
}

uint32_t tcp_mss_local(const struct inet_stack *s)
{
    uint32_t mss = s->mtu > IPV4_HLEN + TCP_HLEN ? s->mtu - IPV4_HLEN - TCP_HLEN : TCP_DEFAULT_MSS;

    return MIN(mss, s->tcp.params.mss);
}

void tcp_mss_set(struct tcp_pcb *pcb, uint32_t peer_mss)
{
    uint32_t mss = tcp_mss_local_pcb(pcb);

    pcb->peer_mss = (uint16_t)(peer_mss ? peer_mss : TCP_DEFAULT_MSS);
    if (pcb->peer_mss < mss)
        mss = pcb->peer_mss;
    /* A peer's MSS below the timestamps' room must not wrap (it did: an
     * MSS option of 1 made us send 65525-byte segments). */
    if (pcb->ts_ok)
        mss = mss > TCP_TS_OPTLEN ? mss - TCP_TS_OPTLEN : 0;
    pcb->mss = (uint16_t)MAX(mss, TCP_MIN_MSS);
}

int tcp_listen(struct tcp_pcb *pcb, uint32_t backlog)
{
    if (pcb->state == TCPS_LISTEN) {
        pcb->backlog = backlog ? backlog : 1;
        return 0;
    }
    if (pcb->state != TCPS_CLOSED || !pcb->local_port)
        return EINVAL;
    /* Sockets with SO_REUSEADDR may share a port; only one may listen on
     * it (the bind rule asked again, as Linux's inet_csk_listen_start). */
    if (tcp_port_conflict(pcb, pcb->local_port))
        return EADDRINUSE;
    pcb->backlog = backlog ? backlog : 1;
    pcb->state = TCPS_LISTEN;
    tcp_hash_insert(pcb);
    return 0;
}

struct tcp_pcb *tcp_accept(struct tcp_pcb *listener, void *owner, tcp_upcall_fn upcall)
{
    struct tcp_pcb *c;

    if (list_empty(&listener->accept_q))
        return NULL;
    c = list_entry(list_first(&listener->accept_q), struct tcp_pcb, child_link);
    tcp_child_move(listener, c, TCP_CHILDQ_NONE);
    c->owner = owner;
    c->upcall = upcall;
    return c;
}

int tcp_connect(struct tcp_pcb *pcb, uint32_t ip, uint16_t port)
{
    if (pcb->v6)
        return EAFNOSUPPORT; /* the libOS maps an IPv4 peer of an IPv6 socket (tcp_connect6) */
    return tcp_connect_v(pcb, ip, NULL, NULL, port);
}

int tcp_connect_v(struct tcp_pcb *pcb, uint32_t ip, const struct in6_addr *src6, const struct in6_addr *dst6,
                  uint16_t port)
{
    struct inet_stack *s = pcb->stack;
    int ret;

    if (pcb->state == TCPS_SYN_SENT || pcb->state == TCPS_SYN_RECEIVED)
        return EALREADY;
    if (pcb->state != TCPS_CLOSED)
        return pcb->state == TCPS_LISTEN ? EINVAL : EISCONN;
    if (pcb->err)
        return EINVAL; /* a failed connect leaves the socket unusable, as POSIX */
    if (dst6) {
        pcb->local_ip6 = *src6; /* the tuple's, for tcp_connect_tuple */
        pcb->remote_ip6 = *dst6;
    }
    if ((ret = tcp_connect_tuple(pcb, ip, dst6, port)) != 0)
        return ret;
    if (!dst6) {
        pcb->local_ip = s->ip;
        pcb->remote_ip = ip;
    }
    pcb->remote_port = port;
    pcb->iss = tcp_new_isn(pcb);
    pcb->snd_una = pcb->snd_nxt = pcb->snd_max = pcb->iss;
    pcb->recover = pcb->sack_high = pcb->iss; /* RFC 6582 3.2 step 1 */
    /* Our window scale from the receive buffer (RFC 7323 2.2). */
    pcb->rcv_wscale = MAX(pcb->rcv_wscale, tcp_rcv_wscale_for(pcb->rcvbuf));
    pcb->mss = (uint16_t)tcp_mss_local_pcb(pcb); /* until the SYN-ACK says more (tcp_mss_set) */
    pcb->cc->init(pcb);
    pcb->state = TCPS_SYN_SENT;
    tcp_hash_insert(pcb);
    STAT_INC(s, tcp_conn_active);
    tcp_output(pcb);
    return 0;
}

uint32_t tcp_send_space(const struct tcp_pcb *pcb)
{
    return pcb->sndq_cost >= pcb->sndbuf ? 0 : pcb->sndbuf - pcb->sndq_cost;
}

int tcp_send(struct tcp_pcb *pcb, struct dbuf *d)
{
    if (!tcp_send_open(pcb)) {
        if (pcb->state == TCPS_SYN_SENT || pcb->state == TCPS_SYN_RECEIVED)
            return ENOTCONN;
        if (pcb->fin_queued && (pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_CLOSE_WAIT))
            return EPIPE;
        return pcb->err ? pcb->err : EPIPE;
    }
    if (tcp_send_space(pcb) == 0)
        return EAGAIN;
    /* The bytes take the next sequence numbers after what is queued. */
    d->meta32 = pcb->snd_una + pcb->sndq_bytes;
    d->next = NULL;
    if (pcb->sndq_tail)
        pcb->sndq_tail->next = d;
    else
        pcb->sndq_head = d;
    pcb->sndq_tail = d;
    pcb->sndq_bytes += d->len;
    pcb->sndq_cost += TCP_TRUESIZE(d->len);
    tcp_output(pcb);
    return 0;
}

struct dbuf *tcp_recv(struct tcp_pcb *pcb)
{
    struct dbuf *d = pcb->rcvq_head;

    if (!d)
        return NULL;
    pcb->rcvq_head = d->next;
    if (!pcb->rcvq_head)
        pcb->rcvq_tail = NULL;
    d->next = NULL;
    pcb->rcvq_bytes -= d->len;
    /* Window update (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3, receiver SWS
     * avoidance): tell the peer once the window we could offer exceeds the
     * one we last advertised by two segments or half the buffer. */
    if (pcb->state >= TCPS_ESTABLISHED && !pcb->rcv_fin) {
        uint32_t space = tcp_rcv_space(pcb);
        uint32_t offered = SEQ_GT(pcb->rcv_adv, pcb->rcv_nxt) ? pcb->rcv_adv - pcb->rcv_nxt : 0;
        uint32_t step = MIN(2u * pcb->mss, pcb->rcvbuf / 2);
        uint32_t max_win = TCP_MAXWIN << pcb->rcv_wscale; /* what the header can say */
        if (space > max_win)
            space = max_win;
        if (space > offered && space - offered >= step) {
            pcb->ack_now = true;
            tcp_output(pcb);
        }
    }
    return d;
}

bool tcp_at_eof(const struct tcp_pcb *pcb)
{
    return pcb->rcv_fin && !pcb->rcvq_head;
}

/*
 * Large receive batching: within a receive burst, "readable" is held back
 * while more frames follow (tcp_table.in_rx_burst) and told once when the
 * burst is over, so segments of one connection that arrive together reach
 * the application together; the last frame's is told at once. The receive queue has
 * already coalesced the small ones into one buffer (tcp_reass.c), which a
 * single pop then takes, instead of a pop per segment. Every other event
 * (connected, writable, an error) is told at once; an error also serves
 * the pops, data first, so nothing waits behind it.
 */
void tcp_notify(struct tcp_pcb *pcb, unsigned events)
{
    struct tcp_table *t = &pcb->stack->tcp;

    if (!pcb->owner || !pcb->upcall)
        return;
    if ((events & TCP_EV_READABLE) && t->in_rx_burst) {
        if (!list_linked(&pcb->rxready_link))
            list_add_tail(&t->rxready, &pcb->rxready_link);
        events &= ~TCP_EV_READABLE;
        if (!events)
            return;
    }
    pcb->upcall(pcb, events);
}

void tcp_rxready_flush(struct inet_stack *s)
{
    struct tcp_table *t = &s->tcp;

    while (!list_empty(&t->rxready)) {
        struct tcp_pcb *pcb = list_entry(list_first(&t->rxready), struct tcp_pcb, rxready_link);

        list_del(&pcb->rxready_link);
        if (pcb->owner && pcb->upcall)
            pcb->upcall(pcb, TCP_EV_READABLE);
    }
}

static void tcp_free_chain(struct dbuf **head, struct dbuf **tail)
{
    struct dbuf *d = *head;

    while (d) {
        struct dbuf *next = d->next;
        d->next = NULL;
        dbuf_put(d);
        d = next;
    }
    *head = NULL;
    if (tail)
        *tail = NULL;
}

void tcp_pcb_free(struct tcp_pcb *pcb)
{
    struct list_node *pos, *tmp;

    tcp_timers_cancel(pcb);
    if (list_linked(&pcb->link))
        list_del(&pcb->link);
    if (list_linked(&pcb->txwait_link))
        list_del(&pcb->txwait_link);
    if (list_linked(&pcb->rxready_link))
        list_del(&pcb->rxready_link);
    if (pcb->listener) /* still queued on its listener */
        tcp_child_move(pcb->listener, pcb, TCP_CHILDQ_NONE);
    list_for_each_safe (pos, tmp, &pcb->syn_q) {
        tcp_abort(list_entry(pos, struct tcp_pcb, child_link));
    }
    list_for_each_safe (pos, tmp, &pcb->accept_q) {
        tcp_abort(list_entry(pos, struct tcp_pcb, child_link));
    }
    tcp_free_chain(&pcb->sndq_head, &pcb->sndq_tail);
    tcp_free_chain(&pcb->rcvq_head, &pcb->rcvq_tail);
    tcp_free_chain(&pcb->ooo_head, NULL);
    tcp_port_release(pcb);
    pcb->stack->tcp.npcbs--;
    objpool_put(&pcb->stack->tcp.pcbs, pcb);
}

void tcp_child_move(struct tcp_pcb *l, struct tcp_pcb *c, enum tcp_child_queue q)
{
    assert(c->child_q == TCP_CHILDQ_NONE || c->listener == l);
    switch (c->child_q) {
    case TCP_CHILDQ_SYN:
        assert(l->syn_count > 0);
        l->syn_count--;
        list_del(&c->child_link);
        break;
    case TCP_CHILDQ_ACCEPT:
        assert(l->accept_count > 0);
        l->accept_count--;
        list_del(&c->child_link);
        break;
    default:
        break;
    }
    c->child_q = (uint8_t)q;
    switch (q) {
    case TCP_CHILDQ_SYN:
        list_add_tail(&l->syn_q, &c->child_link);
        l->syn_count++;
        c->listener = l;
        break;
    case TCP_CHILDQ_ACCEPT:
        list_add_tail(&l->accept_q, &c->child_link);
        l->accept_count++;
        c->listener = l;
        break;
    default:
        c->listener = NULL;
        break;
    }
}

void tcp_foreach(const struct inet_stack *s, void (*fn)(const struct tcp_pcb *pcb, void *arg), void *arg)
{
    for (size_t b = 0; b < ARRAY_SIZE(s->tcp.listeners); b++)
        for (const struct list_node *x = s->tcp.listeners[b].next; x != &s->tcp.listeners[b]; x = x->next)
            fn(container_of(x, struct tcp_pcb, link), arg);
    for (size_t b = 0; b < TCP_HASH_BUCKETS; b++)
        for (const struct list_node *x = s->tcp.conns[b].next; x != &s->tcp.conns[b]; x = x->next)
            fn(container_of(x, struct tcp_pcb, link), arg);
}

static int tcp_check_listener(const struct tcp_pcb *l, char *msg, size_t cap)
{
    const struct list_node *qs[2] = {&l->syn_q, &l->accept_q};
    const uint32_t counts[2] = {l->syn_count, l->accept_count};
    static const char *const names[2] = {"SYN", "accept"};

    for (int i = 0; i < 2; i++) {
        uint32_t n = 0;
        for (const struct list_node *p = qs[i]->next; p != qs[i]; p = p->next) {
            const struct tcp_pcb *c = container_of(p, struct tcp_pcb, child_link);
            if (c->listener != l || c->child_q != (i == 0 ? TCP_CHILDQ_SYN : TCP_CHILDQ_ACCEPT)) {
                snprintf(msg, cap, "listener :%u: a child on its %s queue (%s) points elsewhere", ntohs(l->local_port),
                         names[i], tcp_state_name(c->state));
                return EIO;
            }
            if (i == 0 && c->state != TCPS_SYN_RECEIVED) {
                snprintf(msg, cap, "listener :%u: a %s child on its SYN queue", ntohs(l->local_port),
                         tcp_state_name(c->state));
                return EIO;
            }
            n++;
        }
        if (n != counts[i]) {
            snprintf(msg, cap, "listener :%u: %s count %u, queue holds %u", ntohs(l->local_port), names[i], counts[i],
                     n);
            return EIO;
        }
    }
    return 0;
}

int tcp_check(const struct inet_stack *s, char *msg, size_t cap)
{
    for (size_t b = 0; b < ARRAY_SIZE(s->tcp.listeners); b++) {
        const struct list_node *head = &s->tcp.listeners[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            int r = tcp_check_listener(container_of(n, struct tcp_pcb, link), msg, cap);
            if (r)
                return r;
        }
    }
    return 0;
}

bool tcp_set_state(struct tcp_pcb *pcb, enum tcp_state st)
{
    pcb->state = st;
    if (st == TCPS_CLOSED) {
        tcp_timers_cancel(pcb);
        if (list_linked(&pcb->link))
            list_del(&pcb->link);
        if (!pcb->owner) {
            tcp_pcb_free(pcb);
            return false;
        }
    }
    return true;
}

void tcp_abort(struct tcp_pcb *pcb)
{
    if (pcb->state >= TCPS_SYN_RECEIVED && pcb->state != TCPS_TIME_WAIT)
        tcp_send_ctl(pcb, TH_RST | TH_ACK, pcb->snd_max);
    pcb->owner = NULL;
    tcp_set_state(pcb, TCPS_CLOSED);
}

/* Our FIN after the queued data (RFC 9293 3.10.4, CLOSE). */
static void tcp_queue_fin(struct tcp_pcb *pcb)
{
    pcb->fin_queued = true;
    switch (pcb->state) {
    case TCPS_SYN_RECEIVED:
        /* RFC 9293 3.10.4: the FIN waits for ESTABLISHED (tcp_input). */
        return;
    case TCPS_ESTABLISHED:
        pcb->state = TCPS_FIN_WAIT_1;
        break;
    case TCPS_CLOSE_WAIT:
        pcb->state = TCPS_LAST_ACK;
        break;
    default:
        break;
    }
    tcp_output(pcb);
}

void tcp_close(struct tcp_pcb *pcb)
{
    switch (pcb->state) {
    case TCPS_CLOSED:
    case TCPS_LISTEN:
    case TCPS_SYN_SENT:
        pcb->owner = NULL;
        if (list_linked(&pcb->link) || pcb->state != TCPS_CLOSED)
            tcp_set_state(pcb, TCPS_CLOSED);
        else
            tcp_pcb_free(pcb);
        return;
    default:
        break;
    }
    /* RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data, or with
     * SO_LINGER {1, 0}, resets the connection instead of losing it quietly. */
    if (pcb->linger_zero || pcb->rcvq_head) {
        tcp_abort(pcb);
        return;
    }
    pcb->owner = NULL;
    if (pcb->state == TCPS_TIME_WAIT)
        return;
    if (pcb->fin_queued) {
        /* Half-closed before (tcp_shutdown). Waiting in FIN_WAIT_2 for a
         * FIN no one will read is bounded now, as after a close. */
        if (pcb->state == TCPS_FIN_WAIT_2)
            tcp_2msl_arm(pcb);
        return;
    }
    tcp_queue_fin(pcb);
}

int tcp_shutdown(struct tcp_pcb *pcb, bool rd, bool wr)
{
    if (pcb->state < TCPS_ESTABLISHED || pcb->state == TCPS_TIME_WAIT)
        return ENOTCONN;
    if (rd)
        pcb->rcv_shut = true;
    if (wr && !pcb->fin_queued)
        tcp_queue_fin(pcb);
    return 0;
}

bool tcp_owes_peers(const struct inet_stack *s)
{
    for (uint32_t b = 0; b < TCP_HASH_BUCKETS; b++) {
        const struct list_node *head = &s->tcp.conns[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            const struct tcp_pcb *pcb = container_of(n, struct tcp_pcb, link);
            switch (pcb->state) {
            case TCPS_ESTABLISHED:
            case TCPS_CLOSE_WAIT:
                if (pcb->sndq_bytes || pcb->snd_una != pcb->snd_max || pcb->fin_queued)
                    return true;
                break;
            case TCPS_FIN_WAIT_1:
            case TCPS_CLOSING:
            case TCPS_LAST_ACK:
                return true;
            default:
                break;
            }
        }
    }
    return false;
}
