/* SPDX-License-Identifier: MIT */
/* soak_server.c: see soak_server.h. Public API only. */
#include "soak_server.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ECHO_MAX_PUSHES 16  /* pushes in flight before an echo stops popping */
#define SOURCE_CHUNK 65536u /* bytes per push of a source connection */
#define SOURCE_MAX_PUSHES 4
#define SOURCE_MAX_BYTES (1ull << 32)
#define MAX_PUSHES ECHO_MAX_PUSHES

enum conn_kind { CONN_ECHO, CONN_SOURCE };

struct conn {
    int open;
    int kind;
    int eof; /* end of stream or an error: close once nothing is pending */
    int pop_pending;
    demi_qtoken_t pop_qt;
    demi_qtoken_t push_qt[MAX_PUSHES];
    unsigned npushes;
    uint8_t req[SOAK_REQ_LEN];
    unsigned reqlen;
    uint64_t want, sent, seed;
    int starved; /* waits for a buffer */
};

static struct soak_server_stats st;
static struct conn *conns; /* indexed by qd */
static size_t conns_cap;
static uint64_t active;
static int lqds[2] = {-1, -1};
static demi_qtoken_t accept_qt[2];
static bool stopped;
static unsigned nstarved;

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "soak server: %s: %s\n", what, strerror(rc));
        exit(1);
    }
}

static int listen_on(const struct sockaddr_in *addr, uint16_t port)
{
    struct sockaddr_in a = *addr;
    int qd;

    a.sin_port = htons(port);
    check(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), "demi_socket");
    check(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), "demi_bind");
    check(demi_listen(qd, 64), "demi_listen");
    return qd;
}

void soak_server_start(const struct sockaddr_in *addr)
{
    for (int i = 0; i < 2; i++) {
        lqds[i] = listen_on(addr, (uint16_t)(ntohs(addr->sin_port) + i));
        check(demi_accept(&accept_qt[i], lqds[i]), "demi_accept");
    }
}

static struct conn *conn_slot(int qd)
{
    if ((size_t)qd >= conns_cap) {
        size_t ncap = conns_cap ? conns_cap : 64;

        while (ncap <= (size_t)qd)
            ncap *= 2;
        conns = realloc(conns, ncap * sizeof(*conns));
        if (!conns) {
            fprintf(stderr, "soak server: out of memory\n");
            exit(1);
        }
        memset(conns + conns_cap, 0, (ncap - conns_cap) * sizeof(*conns));
        conns_cap = ncap;
    }
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
        fprintf(stderr, "soak server: connection %d: %s: %s\n", qd, what, strerror(err));
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

/* During the run a connection is closed only with nothing pending. */
static void conn_maybe_close(int qd, struct conn *c)
{
    if (!c->eof || c->pop_pending || c->npushes > 0)
        return;
    if (c->starved)
        nstarved--;
    check(demi_close(qd), "demi_close");
    memset(c, 0, sizeof(*c));
    active--;
}

/* Push @sga and free it at once (the push holds its own reference). */
static int conn_push(int qd, struct conn *c, demi_sgarray_t *sga)
{
    demi_qtoken_t qt;
    int rc = demi_push(&qt, qd, sga);

    demi_sgafree(sga);
    if (rc != 0) {
        conn_error(qd, c, "demi_push", rc);
        return rc;
    }
    c->push_qt[c->npushes++] = qt;
    return 0;
}

static void source_fill(int qd, struct conn *c)
{
    if (c->starved) {
        c->starved = 0;
        nstarved--;
    }
    while (!c->eof && c->sent < c->want && c->npushes < SOURCE_MAX_PUSHES) {
        uint64_t left = c->want - c->sent;
        uint32_t n = left < SOURCE_CHUNK ? (uint32_t)left : SOURCE_CHUNK;
        demi_sgarray_t sga = demi_sgaalloc(n);
        uint8_t *p;

        if (sga.sga_numsegs != 1) {
            /* The pools are empty for now (a flood, full queues): try
             * again at the next completion, or from soak_server_retry. */
            if (!c->starved)
                nstarved++;
            c->starved = 1;
            st.pool_empty++;
            return;
        }
        p = sga.sga_segs[0].sgaseg_buf;
        for (uint32_t i = 0; i < n; i++)
            p[i] = soak_pattern(c->seed, c->sent + i);
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

static void on_accept(int qd, int kind)
{
    int one = 1;
    struct conn *c;

    if (stopped) { /* a handshake that finished after the stop */
        check(demi_close(qd), "demi_close");
        return;
    }
    c = conn_slot(qd);
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
    if (sga->sga_numsegs > 1) {
        fprintf(stderr, "soak server: popped sga has %u segments, expected 1\n", (unsigned)sga->sga_numsegs);
        exit(1);
    }
    len = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_len : 0;
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
    if (c->reqlen + len > SOAK_REQ_LEN) {
        demi_sgafree(sga);
        conn_error(qd, c, "request", EPROTO);
        return;
    }
    memcpy(c->req + c->reqlen, sga->sga_segs[0].sgaseg_buf, len);
    c->reqlen += len;
    demi_sgafree(sga);
    if (c->reqlen < SOAK_REQ_LEN) {
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

static void on_push(int qd, struct conn *c, unsigned i, const demi_qresult_t *qr)
{
    c->push_qt[i] = c->push_qt[--c->npushes];
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        conn_error(qd, c, "push", (int)qr->qr_ret);
        return;
    }
    if (c->kind == CONN_SOURCE)
        source_fill(qd, c);
    else if (!c->eof && !c->pop_pending)
        conn_pop(qd, c); /* an echo that had stopped popping resumes */
}

bool soak_server_handle(demi_qresult_t *qr)
{
    int qd = qr->qr_qd;
    struct conn *c;

    for (int k = 0; k < 2; k++) {
        if (lqds[k] < 0 || qr->qr_qt != accept_qt[k])
            continue;
        if (qr->qr_opcode != DEMI_OPC_ACCEPT) {
            fprintf(stderr, "soak server: accept: %s\n", strerror((int)qr->qr_ret));
            exit(1);
        }
        on_accept(qr->qr_value.ares.qd, k == 0 ? CONN_ECHO : CONN_SOURCE);
        check(demi_accept(&accept_qt[k], lqds[k]), "demi_accept");
        return true;
    }
    if (qd < 0 || (size_t)qd >= conns_cap || !conns[qd].open)
        return false;
    c = &conns[qd];
    if (c->pop_pending && qr->qr_qt == c->pop_qt) {
        on_pop(qd, c, qr);
    } else {
        unsigned i;

        for (i = 0; i < c->npushes; i++)
            if (c->push_qt[i] == qr->qr_qt)
                break;
        if (i == c->npushes)
            return false;
        on_push(qd, c, i, qr);
    }
    conn_maybe_close(qd, c);
    return true;
}

void soak_server_retry(void)
{
    for (size_t qd = 0; nstarved > 0 && qd < conns_cap; qd++) {
        struct conn *c = &conns[qd];

        if (c->open && c->starved && c->npushes == 0) {
            source_fill((int)qd, c);
            conn_maybe_close((int)qd, c);
        }
    }
}

void soak_server_stop(void)
{
    stopped = true;
    for (size_t qd = 0; qd < conns_cap; qd++) {
        if (conns[qd].open) {
            check(demi_close((int)qd), "demi_close");
            memset(&conns[qd], 0, sizeof(conns[qd]));
        }
    }
    active = 0;
    nstarved = 0;
    free(conns);
    conns = NULL;
    conns_cap = 0;
}

void soak_server_close_listeners(void)
{
    for (int k = 0; k < 2; k++) {
        if (lqds[k] >= 0)
            check(demi_close(lqds[k]), "demi_close");
        lqds[k] = -1;
    }
}

uint64_t soak_server_active(void)
{
    return active;
}

const struct soak_server_stats *soak_server_stats(void)
{
    return &st;
}
