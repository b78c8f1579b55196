/* SPDX-License-Identifier: MIT */
/*
 * demi-soak-server: the libdemi end of the SYN-flood and soak tests over
 * catpowder (synflood.sh, soak.sh). It serves Linux clients until told to
 * stop, then drains and checks that libdemi holds exactly what it held at
 * start: every buffer pool, TCP pcb, listener count, qd, op, timer and ARP
 * resolution (soak_counts.h).
 *
 *   demi-soak-server IP PORT [--duration S] [--drain-s S] [--quiet]
 *
 * PORT: echo (every byte popped is pushed back, zero copy). PORT+1: source:
 * the client sends 16 bytes, a length and a seed (two big-endian 64-bit
 * numbers), and gets that many bytes of the pattern below, then the server
 * closes (so the server's end goes through TIME_WAIT).
 *
 * SIGTERM, SIGINT or --duration: stop. The server closes every connection
 * (gracefully; an aborted peer gets a reset), keeps the listeners open and
 * runs the stack until the counts equal those taken just after the
 * listeners were set up (half-open connections time out, TIME_WAIT ends,
 * ARP resolutions give up), at most --drain-s seconds (default 30); then it
 * closes the listeners and checks the counts against those before them.
 * SIGUSR1: print the listeners' counts and the current counts to stdout.
 *
 * Prints "listening on IP:PORT" when ready; at the end a summary, the
 * counts (start -> end), every non-zero counter of the stack (two leading
 * spaces, "  name value help") and "demi-soak-server: OK ..." or
 * "demi-soak-server: LEAK: <count start -> end, ...>". Exits 0 when every
 * count is back, 3 when one is not, 1 on a setup error.
 */
#include "soak_counts.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define ECHO_MAX_PUSHES 16  /* pushes in flight before an echo stops popping */
#define SOURCE_CHUNK 65536u /* bytes per push of a source connection */
#define SOURCE_MAX_PUSHES 4
#define SOURCE_MAX_BYTES (1ull << 32)
#define REQ_LEN 16

enum conn_kind { CONN_ECHO, CONN_SOURCE };

struct conn {
    int open;
    int kind;
    int eof;         /* end of stream or an error: close once nothing is pending */
    int pop_pending;
    demi_qtoken_t pop_qt;
    unsigned npushes;
    uint8_t req[REQ_LEN];
    unsigned reqlen;
    uint64_t want, sent, seed;
};

static struct {
    struct sockaddr_in addr;
    unsigned duration_s, drain_s;
    int quiet;
} o = {.drain_s = 30};

static struct {
    uint64_t echo_conns, source_conns, echo_bytes, source_bytes;
    uint64_t resets, timeouts, errors, active_max;
} st;

static struct conn *conns; /* indexed by qd */
static size_t conns_cap;
static uint64_t active;
static volatile sig_atomic_t stop_flag, usr1_flag;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "demi-soak-server: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != 0)
        die("%s: %s", what, strerror(rc));
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pattern of examples/common.h (ex_pattern): byte @off of stream @seed. */
static uint8_t pattern(uint64_t seed, uint64_t off)
{
    return (uint8_t)(seed * 151u + off + (off >> 8) * 7u + (off >> 16) * 3u);
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        usr1_flag = 1;
    else
        stop_flag = 1;
}

static void parse(int argc, char **argv)
{
    unsigned long port;
    char *end;

    if (argc < 3)
        die("usage: demi-soak-server IP PORT [--duration S] [--drain-s S] [--quiet]");
    memset(&o.addr, 0, sizeof(o.addr));
    o.addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &o.addr.sin_addr) != 1)
        die("bad IPv4 address '%s'", argv[1]);
    port = strtoul(argv[2], &end, 10);
    if (*end || port == 0 || port > 65534)
        die("bad port '%s'", argv[2]);
    o.addr.sin_port = htons((uint16_t)port);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            o.duration_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--drain-s") == 0 && i + 1 < argc)
            o.drain_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            o.quiet = 1;
        else
            die("unknown option '%s'", argv[i]);
    }
}

static int listen_on(uint16_t port)
{
    struct sockaddr_in a = o.addr;
    int qd;

    a.sin_port = htons(port);
    check(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), "demi_socket");
    check(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), "demi_bind");
    check(demi_listen(qd, 64), "demi_listen");
    return qd;
}

static struct conn *conn_slot(int qd)
{
    if ((size_t)qd >= conns_cap) {
        size_t ncap = conns_cap ? conns_cap : 64;

        while (ncap <= (size_t)qd)
            ncap *= 2;
        conns = realloc(conns, ncap * sizeof(*conns));
        if (!conns)
            die("out of memory");
        memset(conns + conns_cap, 0, (ncap - conns_cap) * sizeof(*conns));
        conns_cap = ncap;
    }
    return &conns[qd];
}

static struct conn *conn_get(int qd)
{
    if (qd < 0 || (size_t)qd >= conns_cap || !conns[qd].open)
        return NULL;
    return &conns[qd];
}

/* A peer's trouble ends its connection, never the server. */
static void conn_error(int qd, struct conn *c, const char *what, int err)
{
    if (err == ECONNRESET || err == EPIPE || err == ECONNABORTED)
        st.resets++;
    else if (err == ETIMEDOUT)
        st.timeouts++;
    else if (err != ECANCELED) {
        st.errors++;
        fprintf(stderr, "demi-soak-server: connection %d: %s: %s\n", qd, what, strerror(err));
    }
    c->eof = 1;
}

static void conn_pop(int qd, struct conn *c)
{
    int rc = demi_pop(&c->pop_qt, qd);

    if (rc != 0)
        conn_error(qd, c, "demi_pop", rc);
    else
        c->pop_pending = 1;
}

/* Close only with nothing pending, so no completion names a closed qd
 * that a later accept may reuse. */
static void conn_maybe_close(int qd, struct conn *c)
{
    if (!c->eof || c->pop_pending || c->npushes > 0)
        return;
    check(demi_close(qd), "demi_close");
    memset(c, 0, sizeof(*c));
    active--;
}

/* Push @sga (freed at once: the push holds its own reference). */
static int conn_push(int qd, struct conn *c, demi_sgarray_t *sga)
{
    demi_qtoken_t qt;
    int rc = demi_push(&qt, qd, sga);

    demi_sgafree(sga);
    if (rc != 0) {
        conn_error(qd, c, "demi_push", rc);
        return rc;
    }
    c->npushes++;
    return 0;
}

static void source_fill(int qd, struct conn *c)
{
    while (!c->eof && c->sent < c->want && c->npushes < SOURCE_MAX_PUSHES) {
        uint64_t left = c->want - c->sent;
        uint32_t n = left < SOURCE_CHUNK ? (uint32_t)left : SOURCE_CHUNK;
        demi_sgarray_t sga = demi_sgaalloc(n);
        uint8_t *p;

        if (sga.sga_numsegs != 1) {
            conn_error(qd, c, "demi_sgaalloc", ENOMEM);
            return;
        }
        p = sga.sga_segs[0].sgaseg_buf;
        for (uint32_t i = 0; i < n; i++)
            p[i] = pattern(c->seed, c->sent + i);
        if (conn_push(qd, c, &sga) != 0)
            return;
        c->sent += n;
        st.source_bytes += n;
    }
    if (c->sent == c->want && c->npushes == 0)
        c->eof = 1; /* all of it is in the send queue: close, FIN follows the data */
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void on_accept(const demi_qresult_t *qr, int kind)
{
    int qd = qr->qr_value.ares.qd;
    int one = 1;
    struct conn *c = conn_slot(qd);

    memset(c, 0, sizeof(*c));
    c->open = 1;
    c->kind = kind;
    active++;
    if (active > st.active_max)
        st.active_max = active;
    if (kind == CONN_ECHO)
        st.echo_conns++;
    else
        st.source_conns++;
    demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_pop(qd, c);
    conn_maybe_close(qd, c);
}

static void on_pop(int qd, struct conn *c, demi_qresult_t *qr)
{
    demi_sgarray_t *sga = &qr->qr_value.sga;
    uint32_t len;

    c->pop_pending = 0;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        conn_error(qd, c, "pop", (int)qr->qr_ret);
        return;
    }
    len = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_len : 0;
    if (sga->sga_numsegs > 1)
        die("popped sga has %u segments, expected 1", (unsigned)sga->sga_numsegs);
    if (len == 0) { /* the peer closed */
        demi_sgafree(sga);
        c->eof = 1;
        return;
    }
    if (c->kind == CONN_ECHO) {
        st.echo_bytes += len;
        if (conn_push(qd, c, sga) == 0 && c->npushes < ECHO_MAX_PUSHES)
            conn_pop(qd, c);
        return;
    }
    /* Source: the request, then nothing more is expected. */
    if (c->reqlen + len > REQ_LEN) {
        demi_sgafree(sga);
        conn_error(qd, c, "request", EPROTO);
        return;
    }
    memcpy(c->req + c->reqlen, sga->sga_segs[0].sgaseg_buf, len);
    c->reqlen += len;
    demi_sgafree(sga);
    if (c->reqlen < REQ_LEN) {
        conn_pop(qd, c);
        return;
    }
    c->want = be64(c->req);
    c->seed = be64(c->req + 8);
    if (c->want > SOURCE_MAX_BYTES) {
        conn_error(qd, c, "request", EPROTO);
        return;
    }
    source_fill(qd, c);
}

static void on_push(int qd, struct conn *c, const demi_qresult_t *qr)
{
    if (c->npushes == 0)
        die("a push completion on connection %d with none in flight", qd);
    c->npushes--;
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        conn_error(qd, c, "push", (int)qr->qr_ret);
        return;
    }
    if (c->kind == CONN_SOURCE)
        source_fill(qd, c);
    else if (!c->eof && !c->pop_pending)
        conn_pop(qd, c); /* an echo that had stopped popping resumes */
}

static void print_counts_now(const struct soak_counts *start)
{
    struct soak_counts now;

    soak_counts_take(&now);
    printf("demi-soak-server: counts now (%" PRIu64 " connections open):\n", active);
    soak_listeners_print(stdout, "  ");
    soak_counts_print(stdout, "  ", start, &now, false);
    soak_stats_print(stdout);
    fflush(stdout);
}

/* Every completion after the stop: nothing is served any more. */
static void drain_completion(demi_qresult_t *qr, const int *lqds)
{
    if (qr->qr_opcode == DEMI_OPC_POP && qr->qr_value.sga.sga_numsegs > 0)
        demi_sgafree(&qr->qr_value.sga);
    if (qr->qr_opcode == DEMI_OPC_ACCEPT) {
        /* A handshake finished after the stop. */
        check(demi_close(qr->qr_value.ares.qd), "demi_close");
        if (qr->qr_qd == lqds[0] || qr->qr_qd == lqds[1]) {
            demi_qtoken_t qt;
            check(demi_accept(&qt, qr->qr_qd), "demi_accept");
        }
    }
}

int main(int argc, char **argv)
{
    struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};
    struct soak_counts c0, c1, c2, c3;
    demi_qtoken_t accept_qt[2];
    demi_qresult_t qrs[BATCH];
    struct sigaction sa;
    int lqds[2], rc, leaked = 0;
    double t_start, t_stop, t_drained;
    char diff[1024];

    parse(argc, argv);
    check(demi_init(&args), "demi_init");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    soak_counts_take(&c0);
    lqds[0] = listen_on(ntohs(o.addr.sin_port));
    lqds[1] = listen_on((uint16_t)(ntohs(o.addr.sin_port) + 1));
    for (int i = 0; i < 2; i++)
        check(demi_accept(&accept_qt[i], lqds[i]), "demi_accept");
    soak_counts_take(&c1);
    printf("demi-soak-server: listening on %s:%u (echo) and :%u (source)\n", inet_ntoa(o.addr.sin_addr),
           ntohs(o.addr.sin_port), ntohs(o.addr.sin_port) + 1);
    fflush(stdout);

    t_start = now_s();
    while (!stop_flag && (o.duration_s == 0 || now_s() - t_start < o.duration_s)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int n = 0;

        if (usr1_flag) {
            usr1_flag = 0;
            print_counts_now(&c1);
        }
        rc = demi_wait_next_n(qrs, BATCH, &n, &ts);
        if (rc != 0 && rc != ETIMEDOUT)
            die("demi_wait_next_n: %s", strerror(rc));
        for (int i = 0; i < n; i++) {
            demi_qresult_t *qr = &qrs[i];
            int qd = qr->qr_qd;
            struct conn *c;

            if (qr->qr_qt == accept_qt[0] || qr->qr_qt == accept_qt[1]) {
                int k = qr->qr_qt == accept_qt[0] ? 0 : 1;

                if (qr->qr_opcode != DEMI_OPC_ACCEPT)
                    die("accept: %s", strerror((int)qr->qr_ret));
                on_accept(qr, k == 0 ? CONN_ECHO : CONN_SOURCE);
                check(demi_accept(&accept_qt[k], lqds[k]), "demi_accept");
                continue;
            }
            c = conn_get(qd);
            if (!c)
                die("completion on unknown queue %d", qd);
            if (c->pop_pending && qr->qr_qt == c->pop_qt)
                on_pop(qd, c, qr);
            else
                on_push(qd, c, qr);
            conn_maybe_close(qd, c);
        }
    }

    /* Stop: every connection closed, the listeners kept. */
    t_stop = now_s();
    for (size_t qd = 0; qd < conns_cap; qd++) {
        if (conns[qd].open) {
            check(demi_close((int)qd), "demi_close");
            memset(&conns[qd], 0, sizeof(conns[qd]));
        }
    }
    printf("demi-soak-server: stopping after %.1f s with %" PRIu64 " connections open; draining (at most %u s)\n",
           t_stop - t_start, active, o.drain_s);
    fflush(stdout);
    active = 0;
    for (;;) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        int n = 0;

        soak_counts_take(&c2);
        if (soak_counts_equal(&c1, &c2) || now_s() - t_stop >= o.drain_s)
            break;
        rc = demi_wait_next_n(qrs, BATCH, &n, &ts);
        if (rc != 0 && rc != ETIMEDOUT)
            die("demi_wait_next_n: %s", strerror(rc));
        for (int i = 0; i < n; i++)
            drain_completion(&qrs[i], lqds);
    }
    t_drained = now_s();

    /* Then the listeners: their pending accepts complete, cancelled. */
    printf("demi-soak-server: listeners after the drain:\n");
    leaked += soak_listeners_print(stdout, "  ") != 0;
    for (int i = 0; i < 2; i++)
        check(demi_close(lqds[i]), "demi_close");
    for (int round = 0; round < 100; round++) {
        struct timespec ts = {0, 1000 * 1000};
        int n = 0;

        soak_counts_take(&c3);
        if (soak_counts_equal(&c0, &c3))
            break;
        demi_wait_next_n(qrs, BATCH, &n, &ts);
        for (int i = 0; i < n; i++)
            if (qrs[i].qr_opcode == DEMI_OPC_POP && qrs[i].qr_value.sga.sga_numsegs > 0)
                demi_sgafree(&qrs[i].qr_value.sga);
    }

    printf("demi-soak-server: served %" PRIu64 " echo and %" PRIu64 " source connections (at most %" PRIu64
           " at once); echoed %" PRIu64 " bytes, sourced %" PRIu64 " bytes; %" PRIu64 " resets, %" PRIu64
           " timeouts, %" PRIu64 " other errors\n",
           st.echo_conns, st.source_conns, st.active_max, st.echo_bytes, st.source_bytes, st.resets,
           st.timeouts, st.errors);
    printf("demi-soak-server: drained in %.1f s\n", t_drained - t_stop);
    printf("demi-soak-server: counts with the listeners open, start -> after the drain:\n");
    soak_counts_print(stdout, "  ", &c1, &c2, true);
    printf("demi-soak-server: counts before the listeners, start -> after closing them:\n");
    soak_counts_print(stdout, "  ", &c0, &c3, true);
    printf("demi-soak-server: counters of the stack:\n");
    soak_stats_print(stdout);

    if (!soak_counts_equal(&c1, &c2)) {
        soak_counts_diff(&c1, &c2, diff, sizeof(diff));
        printf("demi-soak-server: LEAK after a %u s drain, listeners open: %s\n", o.drain_s, diff);
        leaked = 1;
    } else if (!soak_counts_equal(&c0, &c3)) {
        soak_counts_diff(&c0, &c3, diff, sizeof(diff));
        printf("demi-soak-server: LEAK after closing the listeners: %s\n", diff);
        leaked = 1;
    } else if (leaked) {
        printf("demi-soak-server: LEAK: a listener's counts differ from its queues\n");
    } else {
        printf("demi-soak-server: OK: every count back to its start value\n");
    }
    fflush(stdout);
    free(conns);
    return leaked ? 3 : 0;
}
