/* SPDX-License-Identifier: MIT */
/*
 * tcp_ports.c: local ports. Who holds a port is counted per port, so the
 * questions of the data path are O(1) whatever the number of connections:
 *
 *   users[p]  control blocks whose local port is p (bound, listening,
 *             connected, a listener's children, TIME_WAIT);
 *   excl[p]   those that took p by bind() or listen(): connect() never
 *             picks p.
 *
 * The holders themselves hang off port_owners[] by port (Linux's bind
 * bucket owners), walked only by an explicit bind() to a held port: Linux's
 * rule (inet_bind_conflict, no SO_REUSEPORT) needs a look at each. Such a
 * bind succeeds iff the newcomer and every holder have SO_REUSEADDR and no
 * holder listens; a server restarting on its port while the connections of
 * its old listener close (in any state) or wait in TIME_WAIT, or a second
 * socket bound beside an idle one. tcp_listen asks again, as Linux's
 * inet_csk_listen_start does: two sockets may share a port, one listening.
 *
 * connect() on an unbound socket picks its port by RFC 6056 algorithm 4
 * ("double-hash"): the search starts at an offset keyed by the destination,
 * so an off-path attacker cannot guess the next port, and one local port
 * serves any number of destinations: a port is suitable when no bind() or
 * listen() holds it and the 4-tuple is free (one hash lookup), or held only
 * by a TIME_WAIT connection that may be reused (RFC 6191, below).
 */
#include "net/tcp.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/siphash.h"
#include "net/stack.h"
#include "net/tcp_seq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define TCP_EPHEMERAL_FIRST 49152u
#define TCP_EPHEMERAL_LAST 65535u
#define TCP_EPHEMERAL_NUM (TCP_EPHEMERAL_LAST - TCP_EPHEMERAL_FIRST + 1)

int tcp_ports_init(struct tcp_table *t)
{
    t->port_users = calloc(65536, sizeof(*t->port_users));
    t->port_excl = calloc(65536, sizeof(*t->port_excl));
    if (!t->port_users || !t->port_excl) {
        tcp_ports_fini(t);
        return ENOMEM;
    }
    for (int i = 0; i < TCP_PORT_BUCKETS; i++)
        list_init(&t->port_owners[i]);
    /* RFC 6056 4: the table of per-destination offsets starts random. */
    if (getrandom(t->port_perturb, sizeof(t->port_perturb), 0) != (ssize_t)sizeof(t->port_perturb) ||
        getrandom(t->port_key, sizeof(t->port_key), 0) != (ssize_t)sizeof(t->port_key)) {
        uint64_t x = clock_real_ns();
        memcpy(t->port_key, &x, sizeof(x));
        log_warn("tcp: getrandom failed; port randomisation keyed from the clock");
    }
    if (t->params.isn_key_seed) { /* simulations: a function of the seed */
        uint64_t k[2] = {t->params.isn_key_seed ^ 0x5bd1e995u, t->params.isn_key_seed * 31};
        memcpy(t->port_key, k, sizeof(t->port_key));
        memset(t->port_perturb, 0, sizeof(t->port_perturb));
    }
    return 0;
}

void tcp_ports_fini(struct tcp_table *t)
{
    free(t->port_users);
    free(t->port_excl);
    t->port_users = t->port_excl = NULL;
}

static struct list_node *tcp_port_bucket(struct tcp_table *t, uint16_t port)
{
    return &t->port_owners[ntohs(port) & (TCP_PORT_BUCKETS - 1)];
}

static void tcp_port_take(struct tcp_pcb *pcb, uint16_t port, bool excl)
{
    struct tcp_table *t = &pcb->stack->tcp;
    uint16_t p = ntohs(port);

    pcb->local_port = port;
    t->port_users[p]++;
    list_add_tail(tcp_port_bucket(t, port), &pcb->port_link);
    if (excl) {
        t->port_excl[p]++;
        pcb->port_excl = true;
    }
}

void tcp_port_share(struct tcp_pcb *child, const struct tcp_pcb *l, uint16_t port)
{
    /* The listener this SYN found: its SO_REUSEADDR is the child's, as
     * Linux's sk_clone copies sk_reuse, so the connections of a closed
     * listener let it rebind (tcp_bind). */
    child->reuseaddr = l && l->reuseaddr;
    tcp_port_take(child, port, false);
}

void tcp_port_release(struct tcp_pcb *pcb)
{
    struct tcp_table *t = &pcb->stack->tcp;
    uint16_t p = ntohs(pcb->local_port);

    if (!pcb->local_port)
        return;
    t->port_users[p]--;
    list_del(&pcb->port_link);
    if (pcb->port_excl) {
        t->port_excl[p]--;
        pcb->port_excl = false;
    }
    pcb->local_port = 0;
}

/*
 * Linux's inet_bind_conflict without SO_REUSEPORT or devices: a holder
 * whose address overlaps conflicts unless both have SO_REUSEADDR and the
 * holder is not listening. The addresses always overlap here (ours or the
 * wildcard, which overlaps any), so every holder counts, in whatever state
 * (CLOSED but bound, SYN_SENT to TIME_WAIT, a listener's child), with its
 * flag as it is now. A scan of the port's bucket, on the control path of a
 * bind or a listen only.
 */
/* Whether two holders' address families overlap: an IPv4 socket and an
 * IPV6_V6ONLY one do not (Linux's ipv6_only_sock rule); the rest do. */
static bool tcp_families_overlap(const struct tcp_pcb *a, const struct tcp_pcb *b)
{
    if (a->v6 == b->v6)
        return true;
    return !(a->v6 ? a->v6only : b->v6only);
}

bool tcp_port_conflict(const struct tcp_pcb *pcb, uint16_t port)
{
    struct tcp_table *t = &pcb->stack->tcp;
    const struct list_node *head = tcp_port_bucket(t, port);

    for (const struct list_node *n = head->next; n != head; n = n->next) {
        const struct tcp_pcb *h = container_of(n, struct tcp_pcb, port_link);
        if (h != pcb && h->local_port == port && tcp_families_overlap(pcb, h) &&
            (!pcb->reuseaddr || !h->reuseaddr || h->state == TCPS_LISTEN))
            return true;
    }
    return false;
}

int tcp_bind(struct tcp_pcb *pcb, uint32_t ip, uint16_t port)
{
    struct inet_stack *s = pcb->stack;
    struct tcp_table *t = &s->tcp;

    if (pcb->local_port)
        return EINVAL;
    if (ip != 0 && ip != s->ip)
        return EADDRNOTAVAIL;
    if (port == 0) {
        /* bind() to port 0: a port nobody holds, from a random start. */
        uint32_t start;
        if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != (ssize_t)sizeof(start))
            start = (uint32_t)clock_now_ns();
        for (uint32_t i = 0; i < TCP_EPHEMERAL_NUM; i++) {
            uint32_t p = TCP_EPHEMERAL_FIRST + (start + i) % TCP_EPHEMERAL_NUM;
            if (t->port_users[p] == 0) {
                port = htons((uint16_t)p);
                break;
            }
        }
        if (port == 0)
            return EADDRNOTAVAIL;
    } else if (t->port_users[ntohs(port)] && tcp_port_conflict(pcb, port)) {
        return EADDRINUSE;
    }
    pcb->local_ip = ip;
    tcp_port_take(pcb, port, true);
    return 0;
}

/*
 * May a new connection of ours take the 4-tuple of @tw, in TIME_WAIT?
 * TIME_WAIT keeps old duplicates from the new incarnation; RFC 6191 lets
 * the peer tell them apart by timestamps: it accepts our new SYN when its
 * TSval is above the last one it saw from us. With timestamps on the old
 * connection, one second since it last heard from us (as Linux's
 * tcp_twsk_unique) puts our millisecond clock well past it; our ISN
 * (RFC 6528, a 4 µs clock plus a per-tuple constant) has moved on too.
 * Only a detached connection is taken over: an application that has not
 * closed its socket still owns it.
 */
static bool tcp_time_wait_reusable(const struct tcp_pcb *tw)
{
    return tw->state == TCPS_TIME_WAIT && !tw->owner && tw->ts_ok &&
           clock_now_ns() - tw->ts_recent_age_ns >= 1000000000ull;
}

/* The connection that holds the 4-tuple @pcb would take with @port. */
static struct tcp_pcb *tcp_tuple_holder(struct tcp_pcb *pcb, uint16_t port, uint32_t rip, const struct in6_addr *rip6,
                                        uint16_t rport)
{
    struct inet_stack *s = pcb->stack;

    if (rip6)
        return tcp_lookup6(s, &pcb->local_ip6, port, rip6, rport);
    return tcp_lookup(s, s->ip, port, rip, rport);
}

int tcp_connect_tuple(struct tcp_pcb *pcb, uint32_t rip, const struct in6_addr *rip6, uint16_t rport)
{
    struct inet_stack *s = pcb->stack;
    struct tcp_table *t = &s->tcp;
    uint8_t msg[34];
    size_t n;
    uint64_t h;
    uint32_t offset, idx;
    struct tcp_pcb *old;

    if (pcb->local_port) {
        /* Bound already: the 4-tuple must be free, or reusable. */
        old = tcp_tuple_holder(pcb, pcb->local_port, rip, rip6, rport);
        if (!old)
            return 0;
        if (!tcp_time_wait_reusable(old))
            return EADDRINUSE;
        STAT_INC(s, tcp_time_wait_reused);
        tcp_set_state(old, TCPS_CLOSED); /* detached: freed */
        return 0;
    }
    /* RFC 6056 3.3.4: offset = F(local, remote, secret), a perturbation
     * table indexed by G(...) moves on with each use, so one destination
     * gets successive ports while different ones start apart. */
    if (rip6) {
        memcpy(msg, &pcb->local_ip6, 16);
        memcpy(msg + 16, rip6, 16);
        n = 32;
    } else {
        memcpy(msg, &s->ip, 4);
        memcpy(msg + 4, &rip, 4);
        n = 8;
    }
    memcpy(msg + n, &rport, 2);
    h = siphash24(t->port_key, msg, n + 2);
    offset = (uint32_t)h;
    idx = (uint32_t)(h >> 32) % TCP_PORT_PERTURB;
    for (uint32_t i = 0; i < TCP_EPHEMERAL_NUM; i++) {
        uint32_t p = TCP_EPHEMERAL_FIRST + (offset + t->port_perturb[idx] + i) % TCP_EPHEMERAL_NUM;
        uint16_t port = htons((uint16_t)p);
        if (t->port_excl[p])
            continue;
        old = t->port_users[p] ? tcp_tuple_holder(pcb, port, rip, rip6, rport) : NULL;
        if (old && !tcp_time_wait_reusable(old))
            continue;
        if (old) {
            STAT_INC(s, tcp_time_wait_reused);
            tcp_set_state(old, TCPS_CLOSED);
        }
        /* Algorithm 4 step: the next connection to this destination starts
         * past this one (the RFC adds 1 per port tried; a random step would
         * be algorithm 5). */
        t->port_perturb[idx] += (uint16_t)(i + 1);
        tcp_port_take(pcb, port, false);
        return 0;
    }
    return EADDRNOTAVAIL;
}
