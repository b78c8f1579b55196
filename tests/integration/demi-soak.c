/* SPDX-License-Identifier: MIT */
/*
 * demi-soak: a bounded mixed run through libdemi's whole stack in one
 * process (LIBOS=catloop): the echo and source services of soak_server.c
 * and, against them, clients that connect, move data and close, over and
 * over, a few dozen at a time:
 *   echo    1 B - 32 KiB echoed, checked, closed
 *   bulk    256 KiB - 4 MiB echoed, checked, closed
 *   source  up to 2 MiB from the server (which closes first: its end goes
 *           through TIME_WAIT), checked, end of stream seen
 *   reset   an echo, then a close with SO_LINGER {1, 0}: a RST
 *   abort   a bulk echo or a source transfer cut at a random point with
 *           SO_LINGER {1, 0} and operations pending: a process killed
 *           mid-transfer, as the server sees it
 * For the second quarter of the run every frame the stack sends may be
 * lost, duplicated or held back behind the next (soak_wire.c: 1 % / 0.5 % /
 * 1 %); at 60 % of it a burst of SYNs from random on-link and martian
 * sources is fed to the stack (10 k/s for 2 s). Not both at once: a
 * handshake completed by a SYN cookie whose first data segments are lost
 * is reset (the later segments' sequence numbers do not carry the cookie;
 * Linux does the same), which would count as a failed transfer. The ARP
 * TTL is 2 s (not 15): the entry every connection uses reaches it again and
 * again, during the burst too, whose thousands of pending resolutions once
 * evicted it and cut every connection off (arp.h).
 * Every byte that arrives is checked against the pattern it was sent with.
 *
 * At the end every client is done, the server closes its connections and
 * the stack runs until half-open connections, TIME_WAIT and ARP
 * resolutions are over; then every buffer pool, pcb, listener count, qd,
 * op, timer and ARP resolution must be back to its start value
 * (soak_counts.h).
 *
 *   demi-soak [--seconds S] [--clients C] [--seed N] [--drain-s S]
 *             [--loss-ppm N] [--syn-burst N]
 *
 * Defaults: 30 s, 32 clients at a time, seed 1, 30 s drain, loss 10000 ppm
 * (duplication half that, holding back the same), 10000 SYN/s. The stack's
 * configuration comes from the environment; unset, these are set:
 * LIBOS=catloop, 10.7.0.1, tcp.msl_ms 100, tcp.syn_retries 2,
 * tcp.rto_min_us 10000 (one thread plays both ends: a loaded poll round is
 * not a lost segment). Prints a summary, the counts (start -> end) and the
 * stack's counters; exits 0 when every transfer was exact and every count
 * is back, 1 on a failed transfer, 3 on a count that is not back.
 */
#include "soak_counts.h"
#include "soak_server.h"
#include "soak_wire.h"

#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define SERVER_IP "10.7.0.1"
#define ECHO_PORT 7000
#define CHUNK 65536u /* bytes per push */
#define CLIENT_MAX_PUSHES 4
#define CLIENT_IDLE_S 20.0 /* a client without progress this long has failed */
#define MAX_CLIENTS 1024

static struct {
    unsigned seconds, nclients, drain_s;
    uint32_t loss_ppm, burst;
    uint64_t seed;
} o = {.seconds = 30, .nclients = 32, .seed = 1, .drain_s = 30, .loss_ppm = 10000, .burst = 10000};

/* ----------------------------------------------------------------- clients */

enum client_kind { K_ECHO, K_BULK, K_SOURCE, K_RESET, K_ABORT, K_NKINDS };
static const char *const kind_names[K_NKINDS] = {"echo", "bulk", "source", "reset", "abort"};

struct client {
    bool used;
    int qd;
    int kind;
    bool source; /* talks to the source port */
    uint64_t seed;
    bool connecting, pop_pending;
    demi_qtoken_t conn_qt, pop_qt;
    demi_qtoken_t push_qt[CLIENT_MAX_PUSHES];
    unsigned npushes;
    uint64_t tx_total, tx_pushed; /* the echoed stream, or the 16-byte request */
    uint64_t rx_total, rx_got;
    uint64_t abort_at; /* K_ABORT: cut once this many bytes moved */
    bool eof_seen;
    bool starved; /* found the pools empty: fill again later */
    double t_progress;
};

static struct client clients[MAX_CLIENTS];
static int *slot_of_qd;
static size_t slot_cap;
static unsigned active;
static struct sockaddr_in echo_addr, source_addr;

static struct {
    uint64_t started, done[K_NKINDS], bytes, failures, pool_empty;
} cs;

static void fail(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void slot_set(int qd, int slot)
{
    if ((size_t)qd >= slot_cap) {
        size_t ncap = slot_cap ? slot_cap : 256;

        while (ncap <= (size_t)qd)
            ncap *= 2;
        slot_of_qd = realloc(slot_of_qd, ncap * sizeof(*slot_of_qd));
        if (!slot_of_qd) {
            fprintf(stderr, "demi-soak: out of memory\n");
            exit(1);
        }
        for (size_t i = slot_cap; i < ncap; i++)
            slot_of_qd[i] = -1;
        slot_cap = ncap;
    }
    slot_of_qd[qd] = slot;
}

static struct client *client_of(int qd)
{
    if (qd < 0 || (size_t)qd >= slot_cap || slot_of_qd[qd] < 0)
        return NULL;
    return &clients[slot_of_qd[qd]];
}

/* Operations still pending (or completed, not yet seen) when their client
 * closed: their completions come later and are expected, once each. */
static demi_qtoken_t *orphans;
static size_t norphans, orphans_cap;

static void orphan_add(demi_qtoken_t qt)
{
    if (norphans == orphans_cap) {
        orphans_cap = orphans_cap ? 2 * orphans_cap : 256;
        orphans = realloc(orphans, orphans_cap * sizeof(*orphans));
        if (!orphans) {
            fprintf(stderr, "demi-soak: out of memory\n");
            exit(1);
        }
    }
    orphans[norphans++] = qt;
}

static bool orphan_take(demi_qtoken_t qt)
{
    for (size_t i = 0; i < norphans; i++) {
        if (orphans[i] == qt) {
            orphans[i] = orphans[--norphans];
            return true;
        }
    }
    return false;
}

/* The end of a client: its qd closed (what was pending completes, cancelled
 * or not, as an orphan), @linger0: with a RST. */
static void client_end(struct client *c, bool linger0, bool counted)
{
    if (c->connecting)
        orphan_add(c->conn_qt);
    if (c->pop_pending)
        orphan_add(c->pop_qt);
    for (unsigned i = 0; i < c->npushes; i++)
        orphan_add(c->push_qt[i]);
    if (linger0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        demi_setsockopt(c->qd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    demi_close(c->qd);
    slot_set(c->qd, -1);
    if (counted)
        cs.done[c->kind]++;
    memset(c, 0, sizeof(*c));
    active--;
}

static void fail(struct client *c, const char *fmt, ...)
{
    va_list ap;

    cs.failures++;
    if (cs.failures <= 20) {
        struct tcp_pcb *pcb = inet_libos_tcp_pcb(qd_get(&rt.qds, c->qd));

        fprintf(stderr, "demi-soak: FAIL %s client (qd %d, seed %" PRIu64 "): ", kind_names[c->kind], c->qd, c->seed);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        if (cs.failures <= 5) {
            soak_pcb_describe(stderr, "demi-soak:   client ", pcb);
            if (pcb)
                soak_pcb_describe(
                    stderr, "demi-soak:   server ",
                    tcp_lookup(soak_stack(), pcb->remote_ip, pcb->remote_port, pcb->local_ip, pcb->local_port));
        }
    }
    client_end(c, true, false);
}

static void client_start(int slot)
{
    struct client *c = &clients[slot];
    uint64_t r = soak_rnd() % 100;
    int rc;

    memset(c, 0, sizeof(*c));
    c->kind = r < 40 ? K_ECHO : r < 50 ? K_BULK : r < 70 ? K_SOURCE : r < 85 ? K_RESET : K_ABORT;
    c->seed = soak_rnd() & 0xffffffffu;
    switch (c->kind) {
    case K_ECHO:
        c->tx_total = soak_rnd_range(1, 32768);
        break;
    case K_BULK:
        c->tx_total = soak_rnd_range(256 * 1024, 4u << 20);
        break;
    case K_SOURCE:
        c->source = true;
        c->rx_total = soak_rnd_range(1, 2u << 20);
        break;
    case K_RESET:
        c->tx_total = soak_rnd_range(1, 65536);
        break;
    default: /* K_ABORT: a bulk echo or a source transfer, cut short */
        c->source = soak_rnd() % 2;
        if (c->source)
            c->rx_total = soak_rnd_range(1u << 20, 4u << 20);
        else
            c->tx_total = soak_rnd_range(1u << 20, 4u << 20);
        c->abort_at = soak_rnd_range(1, (c->source ? c->rx_total : c->tx_total) - 1);
        break;
    }
    if (!c->source)
        c->rx_total = c->tx_total;
    else
        c->tx_total = SOAK_REQ_LEN;
    rc = demi_socket(&c->qd, AF_INET, SOCK_STREAM, 0);
    if (rc != 0) {
        fprintf(stderr, "demi-soak: demi_socket: %s\n", strerror(rc));
        exit(1);
    }
    c->used = true;
    active++;
    cs.started++;
    slot_set(c->qd, slot);
    c->t_progress = soak_now_s();
    rc =
        demi_connect(&c->conn_qt, c->qd, (struct sockaddr *)(c->source ? &source_addr : &echo_addr), sizeof(echo_addr));
    if (rc != 0) {
        fail(c, "demi_connect: %s", strerror(rc));
        return;
    }
    c->connecting = true;
}

static void client_pop(struct client *c)
{
    int rc = demi_pop(&c->pop_qt, c->qd);

    if (rc != 0)
        fail(c, "demi_pop: %s", strerror(rc));
    else
        c->pop_pending = true;
}

/* Push what the window of pushes allows; false when the client ended. */
static bool client_fill(struct client *c)
{
    c->starved = false;
    while (c->tx_pushed < c->tx_total && c->npushes < CLIENT_MAX_PUSHES) {
        uint64_t left = c->tx_total - c->tx_pushed;
        uint32_t n = left < CHUNK ? (uint32_t)left : CHUNK;
        demi_sgarray_t sga = demi_sgaalloc(n);
        uint8_t *p;
        int rc;

        if (sga.sga_numsegs != 1) {
            /* The pools are empty for now: retried from the main loop. */
            c->starved = true;
            cs.pool_empty++;
            return true;
        }
        p = sga.sga_segs[0].sgaseg_buf;
        if (c->source) { /* the request: length and seed, big-endian */
            for (int i = 0; i < 8; i++) {
                p[i] = (uint8_t)(c->rx_total >> (56 - 8 * i));
                p[8 + i] = (uint8_t)(c->seed >> (56 - 8 * i));
            }
        } else {
            for (uint32_t i = 0; i < n; i++)
                p[i] = soak_pattern(c->seed, c->tx_pushed + i);
        }
        rc = demi_push(&c->push_qt[c->npushes], c->qd, &sga);
        demi_sgafree(&sga);
        if (rc != 0) {
            fail(c, "demi_push: %s", strerror(rc));
            return false;
        }
        c->npushes++;
        c->tx_pushed += n;
    }
    return true;
}

/* Whether the client is complete (and ended, counted): all echoed, or the
 * whole source stream and its end seen, nothing pending. */
static void client_maybe_done(struct client *c)
{
    bool moved = c->rx_got == c->rx_total && (!c->source || c->eof_seen);

    if (!moved || c->npushes || c->pop_pending)
        return;
    cs.bytes += c->rx_got + (c->source ? 0 : c->tx_pushed);
    client_end(c, c->kind == K_RESET, true);
}

/* K_ABORT: cut once enough has moved, whatever is pending. */
static bool client_maybe_abort(struct client *c)
{
    if (c->kind != K_ABORT || (c->source ? c->rx_got : c->tx_pushed) < c->abort_at)
        return false;
    cs.bytes += c->rx_got;
    client_end(c, true, true);
    return true;
}

static void client_on_pop(struct client *c, demi_qresult_t *qr)
{
    demi_sgarray_t *sga = &qr->qr_value.sga;
    uint32_t len;
    const uint8_t *p;

    c->pop_pending = false;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        fail(c, "pop after %" PRIu64 " of %" PRIu64 " bytes: %s", c->rx_got, c->rx_total, strerror((int)qr->qr_ret));
        return;
    }
    len = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_len : 0;
    if (len == 0) {
        demi_sgafree(sga);
        if (c->rx_got != c->rx_total) {
            fail(c, "end of stream after %" PRIu64 " of %" PRIu64 " bytes", c->rx_got, c->rx_total);
            return;
        }
        c->eof_seen = true;
        client_maybe_done(c);
        return;
    }
    if (c->rx_got + len > c->rx_total) {
        demi_sgafree(sga);
        fail(c, "%" PRIu64 " bytes received, %" PRIu64 " expected", c->rx_got + len, c->rx_total);
        return;
    }
    p = sga->sga_segs[0].sgaseg_buf;
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] != soak_pattern(c->seed, c->rx_got + i)) {
            demi_sgafree(sga);
            fail(c, "byte %" PRIu64 " of %" PRIu64 " differs", c->rx_got + i, c->rx_total);
            return;
        }
    }
    demi_sgafree(sga);
    c->rx_got += len;
    c->t_progress = soak_now_s();
    if (client_maybe_abort(c))
        return;
    if (c->rx_got < c->rx_total || c->source) /* a source client waits for the end of stream too */
        client_pop(c);
    if (c->used)
        client_maybe_done(c);
}

static void client_on_push(struct client *c, unsigned i, const demi_qresult_t *qr)
{
    c->push_qt[i] = c->push_qt[--c->npushes];
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        fail(c, "push after %" PRIu64 " bytes: %s", c->tx_pushed, strerror((int)qr->qr_ret));
        return;
    }
    c->t_progress = soak_now_s();
    if (client_maybe_abort(c) || !client_fill(c))
        return;
    client_maybe_done(c);
}

static void client_on_connect(struct client *c, const demi_qresult_t *qr)
{
    c->connecting = false;
    if (qr->qr_opcode != DEMI_OPC_CONNECT) {
        fail(c, "connect: %s", strerror((int)qr->qr_ret));
        return;
    }
    c->t_progress = soak_now_s();
    if (!client_fill(c))
        return;
    client_pop(c);
}

/* A completion of one of the clients' operations: true when it was. */
static bool client_handle(demi_qresult_t *qr)
{
    struct client *c = client_of(qr->qr_qd);

    if (!c)
        return false;
    if (c->connecting && qr->qr_qt == c->conn_qt) {
        client_on_connect(c, qr);
        return true;
    }
    if (c->pop_pending && qr->qr_qt == c->pop_qt) {
        client_on_pop(c, qr);
        return true;
    }
    for (unsigned i = 0; i < c->npushes; i++) {
        if (c->push_qt[i] == qr->qr_qt) {
            client_on_push(c, i, qr);
            return true;
        }
    }
    return false;
}

/* Completions nobody claims: a closed client's orphans, and after the
 * stop whatever the server's closes cancelled. Anything else is a fault. */
static uint64_t strangers;
static bool draining;

static void stranger(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP && qr->qr_value.sga.sga_numsegs > 0)
        demi_sgafree(&qr->qr_value.sga);
    if (orphan_take(qr->qr_qt) || draining)
        return;
    strangers++;
    if (strangers <= 5)
        fprintf(stderr, "demi-soak: a completion of no pending operation: qd %d, opcode %d, ret %" PRId64 "\n",
                qr->qr_qd, (int)qr->qr_opcode, (int64_t)qr->qr_ret);
}

static bool any_handle(demi_qresult_t *qr)
{
    if (!client_handle(qr) && !soak_server_handle(qr))
        stranger(qr);
    return true;
}

static void check_idle(double now)
{
    for (unsigned i = 0; i < o.nclients; i++) {
        struct client *c = &clients[i];

        if (c->used && now - c->t_progress > CLIENT_IDLE_S)
            fail(c, "no progress for %.0f s (%" PRIu64 " of %" PRIu64 " bytes back, %" PRIu64 " of %" PRIu64 " pushed)",
                 CLIENT_IDLE_S, c->rx_got, c->rx_total, c->tx_pushed, c->tx_total);
    }
}

/* ------------------------------------------------------------------- main */

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) { /* OPTION VALUE pairs */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v) {
            fprintf(stderr, "usage: demi-soak [--seconds S] [--clients C] [--seed N] [--drain-s S] "
                            "[--loss-ppm N] [--syn-burst N]\n");
            exit(1);
        }
        if (strcmp(a, "--seconds") == 0)
            o.seconds = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--clients") == 0)
            o.nclients = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--drain-s") == 0)
            o.drain_s = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--loss-ppm") == 0)
            o.loss_ppm = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--syn-burst") == 0)
            o.burst = (uint32_t)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "demi-soak: unknown option '%s'\n", a);
            exit(1);
        }
    }
    if (o.nclients == 0 || o.nclients > MAX_CLIENTS || o.seconds == 0) {
        fprintf(stderr, "demi-soak: --clients 1..%d, --seconds > 0\n", MAX_CLIENTS);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};
    struct soak_counts c0, c1, c2, c3;
    const struct soak_server_stats *st;
    const struct soak_wire_stats *w = soak_wire_stats();
    struct inet_stack *s;
    demi_qresult_t qrs[BATCH];
    double t0, now, t_end, t_burst, t_wind;
    bool back1, back0;
    int rc, bad_listeners;
    char diff[1024];

    parse(argc, argv);
    soak_rng_seed(o.seed);
    setenv("LIBOS", "catloop", 0);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", SERVER_IP, 0);
    setenv("DEMI_TCP_MSL_MS", "100", 0);
    setenv("DEMI_TCP_SYN_RETRIES", "2", 0);
    setenv("DEMI_TCP_RTO_MIN_US", "10000", 0);
    setenv("DEMI_INETSTACK_CONFIG_ARP_CACHE_TTL", "2", 0);
    rc = demi_init(&args);
    if (rc != 0) {
        fprintf(stderr, "demi-soak: demi_init: %s\n", strerror(rc));
        return 1;
    }
    s = soak_stack();
    memset(&echo_addr, 0, sizeof(echo_addr));
    echo_addr.sin_family = AF_INET;
    inet_pton(AF_INET, SERVER_IP, &echo_addr.sin_addr);
    echo_addr.sin_port = htons(ECHO_PORT);
    source_addr = echo_addr;
    source_addr.sin_port = htons(ECHO_PORT + 1);

    soak_counts_take(&c0);
    soak_server_start(&echo_addr);
    soak_counts_take(&c1);
    soak_wire_install(s, o.loss_ppm);
    printf("demi-soak: catloop, %u s, %u clients at a time, seed %" PRIu64 "; loss from %u s to %u s, "
           "a SYN burst at %.0f s\n",
           o.seconds, o.nclients, o.seed, o.seconds / 4, o.seconds / 2, 0.6 * o.seconds);
    fflush(stdout);

    t0 = soak_now_s();
    t_end = t0 + o.seconds;
    t_burst = t0 + 0.6 * o.seconds;
    t_wind = 0;
    for (unsigned i = 0; i < o.nclients; i++)
        client_start((int)i);
    for (;;) {
        struct timespec ts = {0, 1000 * 1000};
        int n = 0;

        now = soak_now_s();
        soak_wire_faults(now >= t0 + o.seconds / 4.0 && now < t0 + o.seconds / 2.0);
        /* --syn-burst SYN/s (10 k) for 2 s, every 10 ms. */
        if (o.burst && now >= t_burst && now < t_burst + 2.0 && now >= t_wind) {
            for (uint32_t k = 0; k < o.burst / 100; k++)
                soak_syn_inject(s, ECHO_PORT);
            t_wind = now + 0.01;
        }
        if (now >= t_end && active == 0)
            break;
        if (now >= t_end + CLIENT_IDLE_S + 10) { /* bounded even if a client never ends */
            check_idle(now + 2 * CLIENT_IDLE_S);
            break;
        }
        rc = demi_wait_next_n(qrs, BATCH, &n, &ts);
        if (rc != 0 && rc != ETIMEDOUT) {
            fprintf(stderr, "demi-soak: demi_wait_next_n: %s\n", strerror(rc));
            return 1;
        }
        for (int i = 0; i < n; i++)
            any_handle(&qrs[i]);
        check_idle(soak_now_s());
        soak_server_retry();
        for (unsigned i = 0; i < o.nclients; i++)
            if (clients[i].used && clients[i].starved && client_fill(&clients[i]))
                client_maybe_done(&clients[i]);
        if (soak_now_s() < t_end)
            for (unsigned i = 0; i < o.nclients; i++)
                if (!clients[i].used)
                    client_start((int)i);
    }
    soak_wire_remove(s);

    /* Drain: the server's connections closed, the listeners kept while
     * half-open connections time out, TIME_WAIT ends and ARP gives up. */
    now = soak_now_s();
    draining = true;
    soak_server_stop();
    back1 = soak_drain(&c1, o.drain_s, any_handle, &c2);
    printf("demi-soak: drained in %.1f s; listeners after the drain:\n", soak_now_s() - now);
    bad_listeners = soak_listeners_print(stdout, "  ");
    soak_server_close_listeners();
    back0 = soak_drain(&c0, 1.0, any_handle, &c3);

    st = soak_server_stats();
    printf("demi-soak: %" PRIu64 " connections (echo %" PRIu64 ", bulk %" PRIu64 ", source %" PRIu64 ", reset %" PRIu64
           ", aborted mid-transfer %" PRIu64 "), %.1f MB checked, %" PRIu64 " failures, %" PRIu64
           " stray completions; the pools were empty %" PRIu64 " times for a client, %" PRIu64 " for the server\n",
           cs.started, cs.done[K_ECHO], cs.done[K_BULK], cs.done[K_SOURCE], cs.done[K_RESET], cs.done[K_ABORT],
           (double)cs.bytes / 1e6, cs.failures, strangers, cs.pool_empty, soak_server_stats()->pool_empty);
    printf("demi-soak: server: %" PRIu64 " echo and %" PRIu64 " source connections, %" PRIu64 " resets, %" PRIu64
           " timeouts, %" PRIu64 " other errors\n",
           st->echo_conns, st->source_conns, st->resets, st->timeouts, st->errors);
    printf("demi-soak: SYN burst: %" PRIu64 " SYNs (%" PRIu64 " from martian sources); loss: %" PRIu64
           " frames sent, %" PRIu64 " dropped, %" PRIu64 " duplicated, %" PRIu64 " held back\n",
           w->syns, w->syns_martian, w->offered, w->dropped, w->duplicated, w->reordered);
    soak_pool_failures(diff, sizeof(diff));
    printf("demi-soak: buffer allocations that failed: %s\n", diff);
    printf("demi-soak: counts with the listeners open, start -> after the drain:\n");
    soak_counts_print(stdout, "  ", &c1, &c2, true);
    printf("demi-soak: counts before the listeners, start -> after closing them:\n");
    soak_counts_print(stdout, "  ", &c0, &c3, true);
    printf("demi-soak: counters of the stack:\n");
    soak_stats_print(stdout);

    rc = 0;
    if (cs.failures || strangers) {
        printf("demi-soak: FAIL: %" PRIu64 " failed transfers, %" PRIu64 " stray completions\n", cs.failures,
               strangers);
        rc = 1;
    }
    if (!back1) {
        soak_counts_diff(&c1, &c2, diff, sizeof(diff));
        printf("demi-soak: LEAK after a %u s drain, listeners open: %s\n", o.drain_s, diff);
        soak_pcbs_describe(stdout, "demi-soak:   left: ", 10);
        rc = rc ? rc : 3;
    } else if (!back0) {
        soak_counts_diff(&c0, &c3, diff, sizeof(diff));
        printf("demi-soak: LEAK after closing the listeners: %s\n", diff);
        rc = rc ? rc : 3;
    } else if (bad_listeners) {
        printf("demi-soak: LEAK: a listener's counts differ from its queues\n");
        rc = rc ? rc : 3;
    }
    if (rc == 0)
        printf("demi-soak: OK: every transfer exact, every count back to its start value\n");
    fflush(stdout);
    free(slot_of_qd);
    free(orphans);
    return rc;
}
