/* SPDX-License-Identifier: MIT */
/* soak_counts.c: see soak_counts.h. */
#include "soak_counts.h"

#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t soak_pool_small_allow_below;

/* dev/afxdp.c refills its fill ring when 32 or more frames are missing. */
#define AFXDP_REFILL_BATCH 32

static bool soak_af_xdp(void)
{
    const char *libos = getenv("LIBOS");

    return libos && strcmp(libos, "catpowder") == 0 && strcmp(rt.cfg.raw_socket_mode, "af_xdp") == 0;
}

struct inet_stack *soak_stack(void)
{
    return inet_libos_stack(rt.net);
}

static uint64_t pool_in_use(const struct dbuf_pool *p)
{
    return p->count - p->nfree;
}

static uint32_t list_len(const struct list_node *head)
{
    uint32_t n = 0;

    for (const struct list_node *p = head->next; p != head; p = p->next)
        n++;
    return n;
}

void soak_counts_take(struct soak_counts *c)
{
    struct inet_stack *s = soak_stack();
    uint64_t arp_timers = 0;

    memset(c, 0, sizeof(*c));
    if (soak_af_xdp())
        soak_pool_small_allow_below = AFXDP_REFILL_BATCH - 1;
    c->pool_small = pool_in_use(&rt.mem.pools[MEM_SMALL]);
    c->pool_large = pool_in_use(&rt.mem.pools[MEM_LARGE]);
    c->pool_huge = pool_in_use(&rt.mem.pools[MEM_HUGE]);
    c->pool_slice = pool_in_use(&rt.mem.pools[MEM_SLICE]);
    for (int i = 0; i < rt.mem.nextra; i++)
        c->pool_extra += pool_in_use(rt.mem.extra[i]);

    c->tcp_pcbs = s->tcp.npcbs;
    for (int b = 0; b < TCP_HASH_BUCKETS; b++) {
        const struct list_node *head = &s->tcp.conns[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            const struct tcp_pcb *pcb = container_of(n, struct tcp_pcb, link);
            c->tcp_pcbs_hashed++;
            if (pcb->state < 11)
                c->by_state[pcb->state]++;
        }
    }
    for (size_t b = 0; b < ARRAY_SIZE(s->tcp.listeners); b++) {
        const struct list_node *head = &s->tcp.listeners[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            const struct tcp_pcb *l = container_of(n, struct tcp_pcb, link);
            c->tcp_pcbs_hashed++;
            c->by_state[TCPS_LISTEN]++;
            c->listen_syn += l->syn_count;
            c->listen_accept += l->accept_count;
            if (l->syn_count != list_len(&l->syn_q) || l->accept_count != list_len(&l->accept_q))
                c->listen_bad++;
        }
    }

    c->qds = rt.qds.nused;
    c->ops = rt.ops.nops - rt.ops.nfree;
    c->ops_done = rt.ops.ndone;

    for (uint32_t i = 0; i < ARP_MAX_ENTRIES; i++) {
        const struct arp_entry *e = &s->arp.entries[i];

        if (e->state == ARP_FREE)
            continue;
        if (timer_armed(&e->timer))
            arp_timers++;
        if (e->state == ARP_PENDING) {
            c->arp_pending++;
            c->arp_pending_pkts += e->npending;
        } else {
            c->arp_cached++;
        }
    }
    c->timers = s->timers.armed - arp_timers;
    c->tx_queued = s->ntx;
}

/* Whether count @name differs between @a and @b beyond what is allowed. */
#define SOAK_DIFFERS(a, b, name)                                                            \
    ((a)->name != (b)->name && !(&(a)->name == &(a)->pool_small && (b)->name < (a)->name && \
                                 (a)->name - (b)->name <= soak_pool_small_allow_below))

bool soak_counts_equal(const struct soak_counts *a, const struct soak_counts *b)
{
#define SOAK_COUNTS_EQ(name, help) \
    if (SOAK_DIFFERS(a, b, name))  \
        return false;
    SOAK_COUNTS(SOAK_COUNTS_EQ)
#undef SOAK_COUNTS_EQ
    return true;
}

void soak_counts_diff(const struct soak_counts *a, const struct soak_counts *b, char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
#define SOAK_COUNTS_DIFF(name, help)                                                                                   \
    if (SOAK_DIFFERS(a, b, name) && len < cap)                                                                         \
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %" PRIu64 " -> %" PRIu64, len ? ", " : "", #name, a->name, \
                                b->name);
    SOAK_COUNTS(SOAK_COUNTS_DIFF)
#undef SOAK_COUNTS_DIFF
}

void soak_counts_print(FILE *out, const char *prefix, const struct soak_counts *a, const struct soak_counts *b,
                       bool final)
{
#define SOAK_COUNTS_PRINT(name, help)                                                               \
    fprintf(out, "%s%-18s %10" PRIu64 " -> %-10" PRIu64 " %s%s\n", prefix, #name, a->name, b->name, \
            final &&SOAK_DIFFERS(a, b, name) ? "LEAK: " : "", help);
    SOAK_COUNTS(SOAK_COUNTS_PRINT)
#undef SOAK_COUNTS_PRINT
    if (soak_pool_small_allow_below)
        fprintf(out,
                "%s(pool_small may end up to %" PRIu64 " lower: AF_XDP tops its fill ring up %d frames at a time)\n",
                prefix, soak_pool_small_allow_below, AFXDP_REFILL_BATCH);
    fprintf(out, "%s%-18s %10" PRIu64 " -> %-10" PRIu64 " (not compared: the cache)\n", prefix, "arp_cached",
            a->arp_cached, b->arp_cached);
    if (!final || !soak_counts_equal(a, b)) {
        fprintf(out, "%shashed pcbs by state:", prefix);
        for (int st = 0; st < 11; st++)
            if (b->by_state[st])
                fprintf(out, " %s %u", tcp_state_name((enum tcp_state)st), b->by_state[st]);
        fprintf(out, "\n");
    }
}

int soak_listeners_print(FILE *out, const char *prefix)
{
    struct inet_stack *s = soak_stack();
    int bad = 0;

    for (size_t b = 0; b < ARRAY_SIZE(s->tcp.listeners); b++) {
        const struct list_node *head = &s->tcp.listeners[b];
        for (const struct list_node *n = head->next; n != head; n = n->next) {
            const struct tcp_pcb *l = container_of(n, struct tcp_pcb, link);
            uint32_t nsyn = list_len(&l->syn_q), nacc = list_len(&l->accept_q);
            int ok = l->syn_count == nsyn && l->accept_count == nacc;

            fprintf(out, "%slistener :%u syn_count %u (queue %u) accept_count %u (queue %u) backlog %u%s\n", prefix,
                    ntohs(l->local_port), l->syn_count, nsyn, l->accept_count, nacc, l->backlog, ok ? "" : " MISMATCH");
            bad += !ok;
        }
    }
    return bad;
}

void soak_stats_print(FILE *out)
{
    inet_stats_print(out, &soak_stack()->stats, 1);
}

double soak_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool soak_drain(const struct soak_counts *want, double timeout_s, bool (*handle)(demi_qresult_t *qr),
                struct soak_counts *now)
{
    double end = soak_now_s() + timeout_s;
    demi_qresult_t qrs[64];

    for (;;) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        int n = 0;

        soak_counts_take(now);
        if (soak_counts_equal(want, now))
            return true;
        if (soak_now_s() >= end)
            return false;
        demi_wait_next_n(qrs, 64, &n, &ts);
        for (int i = 0; i < n; i++) {
            if (handle && handle(&qrs[i]))
                continue;
            if (qrs[i].qr_opcode == DEMI_OPC_POP && qrs[i].qr_value.sga.sga_numsegs > 0)
                demi_sgafree(&qrs[i].qr_value.sga);
        }
    }
}

void soak_pcb_describe(FILE *out, const char *prefix, const struct tcp_pcb *pcb)
{
    if (!pcb) {
        fprintf(out, "%sno pcb\n", prefix);
        return;
    }
    fprintf(out,
            "%s:%u->:%u %s err %d snd una+%u nxt+%u max+%u wnd %u sndq %u%s rcv nxt+%u rcvq %u ooo %u adv+%u; "
            "rto %" PRIu64 " ms x%u%s; timers rexmt %d delack %d 2msl %d; %s\n",
            prefix, ntohs(pcb->local_port), ntohs(pcb->remote_port), tcp_state_name((enum tcp_state)pcb->state),
            pcb->err, pcb->snd_una - pcb->iss, pcb->snd_nxt - pcb->iss, pcb->snd_max - pcb->iss, pcb->snd_wnd,
            pcb->sndq_bytes, pcb->fin_queued ? " +FIN" : "", pcb->rcv_nxt - pcb->irs, pcb->rcvq_bytes, pcb->ooo_count,
            pcb->rcv_adv - pcb->irs, pcb->rto_ns / 1000000, pcb->rexmt_count, pcb->persist ? " persist" : "",
            tcp_rexmt_armed(pcb), pcb->delack_pending, timer_armed(&pcb->t_2msl), pcb->owner ? "owned" : "detached");
}

void soak_pcbs_describe(FILE *out, const char *prefix, int max)
{
    struct inet_stack *s = soak_stack();
    int n = 0;

    for (int b = 0; b < TCP_HASH_BUCKETS && n < max; b++) {
        const struct list_node *head = &s->tcp.conns[b];
        for (const struct list_node *p = head->next; p != head && n < max; p = p->next, n++)
            soak_pcb_describe(out, prefix, container_of(p, struct tcp_pcb, link));
    }
}

void soak_pool_failures(char *buf, size_t cap)
{
    static const char *const names[MEM_NCLASSES] = {"small", "large", "huge", "slice"};
    size_t len = 0;

    buf[0] = '\0';
    for (int c = 0; c < MEM_NCLASSES && len < cap; c++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %" PRIu64, c ? ", " : "", names[c],
                                rt.mem.pools[c].alloc_failures);
}
