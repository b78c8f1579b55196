/* SPDX-License-Identifier: MIT */
/*
 * tcp-echo: TCP echo server and round-trip latency client.
 *
 *   tcp-echo --server IP PORT [--max-conns N] [--once]
 *   tcp-echo --client IP PORT [--size B] [--msgs N] [--conns C] [--warmup W] [--csv FILE]
 *
 * Both sides are event loops over demi_wait_next_n(): every outstanding
 * operation (accept, one pop per connection, pushes) is a token, and the loop
 * reacts to completions in the order they happen. The server echoes the
 * popped buffer itself (zero-copy) and frees it when its push completes.
 *
 * The client runs C connections concurrently, each doing request/response
 * rounds of B bytes; W warm-up rounds, then N measured ones, each timed with
 * CLOCK_MONOTONIC from just before the push to the arrival of the last byte.
 * It ends by closing its connections; a server started with --once exits
 * when its last connection has closed.
 */
#include "common.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define USAGE                                              \
    "tcp-echo --server IP PORT [--max-conns N] [--once]\n" \
    "       tcp-echo --client IP PORT [--size B] [--msgs N] [--conns C] [--warmup W] [--csv FILE]"

/* Completions handled per demi_wait_next_n() call. */
#define BATCH 64

struct opts {
    enum ex_mode mode;
    struct sockaddr_storage addr;
    unsigned long max_conns; /* 0: no limit */
    int once;
    uint32_t size;
    uint32_t msgs;
    uint32_t conns;
    uint32_t warmup;
    const char *csv;
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
    ex_set_prog(argc, argv);
    memset(o, 0, sizeof(*o));
    o->size = 64;
    o->msgs = 10000;
    o->conns = 1;
    o->warmup = 100;

    if (argc < 4)
        ex_die("usage: %s", USAGE);
    if (strcmp(argv[1], "--server") == 0)
        o->mode = EX_SERVER;
    else if (strcmp(argv[1], "--client") == 0)
        o->mode = EX_CLIENT;
    else
        ex_die("usage: %s", USAGE);
    ex_parse_addr(argv[2], argv[3], &o->addr);

    for (int i = 4; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int server = o->mode == EX_SERVER;

        if (server && strcmp(opt, "--once") == 0) {
            o->once = 1;
            continue;
        }
        if (val == NULL)
            ex_die("unknown option or missing value: '%s'\nusage: %s", opt, USAGE);
        if (server && strcmp(opt, "--max-conns") == 0)
            o->max_conns = ex_parse_ulong(val, "--max-conns", 1, 1000000);
        else if (!server && strcmp(opt, "--size") == 0)
            o->size = (uint32_t)ex_parse_ulong(val, "--size", 1, EX_SGA_MAX);
        else if (!server && strcmp(opt, "--msgs") == 0)
            o->msgs = (uint32_t)ex_parse_ulong(val, "--msgs", 1, 100000000);
        else if (!server && strcmp(opt, "--conns") == 0)
            o->conns = (uint32_t)ex_parse_ulong(val, "--conns", 1, 10000);
        else if (!server && strcmp(opt, "--warmup") == 0)
            o->warmup = (uint32_t)ex_parse_ulong(val, "--warmup", 0, 100000000);
        else if (!server && strcmp(opt, "--csv") == 0)
            o->csv = val;
        else
            ex_die("unknown option '%s'\nusage: %s", opt, USAGE);
        i++;
    }
}

/* Latency matters more than coalescing for both sides. */
static void set_nodelay(int qd)
{
    int one = 1;

    ex_check(demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "demi_setsockopt(TCP_NODELAY)");
}

/* Wait for the next batch of completions; dies after @timeout_s idle seconds
 * unless @idle_ok, in which case it returns 0. */
static int wait_batch(demi_qresult_t *qrs, int timeout_s, int idle_ok)
{
    struct timespec ts = {.tv_sec = timeout_s, .tv_nsec = 0};
    int n = 0;
    int rc = demi_wait_next_n(qrs, BATCH, &n, &ts);

    if (rc == ETIMEDOUT) {
        if (!idle_ok)
            ex_die("no completion within %d s (peer gone?)", timeout_s);
        return 0;
    }
    ex_check(rc, "demi_wait_next_n");
    return n;
}

/* Grow a qd-indexed table so that @qd is a valid index. */
static void *grow_table(void *table, size_t *cap, int qd, size_t elem)
{
    size_t ncap = *cap ? *cap : 64;

    if ((size_t)qd < *cap)
        return table;
    while (ncap <= (size_t)qd)
        ncap *= 2;
    table = realloc(table, ncap * elem);
    if (table == NULL)
        ex_die("out of memory");
    memset((char *)table + *cap * elem, 0, (ncap - *cap) * elem);
    *cap = ncap;
    return table;
}

/* ------------------------------------------------------------------ server */

struct pending_push {
    demi_qtoken_t qt;
    demi_sgarray_t sga; /* the popped buffer being echoed: freed on completion */
};

struct sconn {
    int open;
    int eof; /* end of stream or error seen: close once drained */
    int pop_pending;
    demi_qtoken_t pop_qt;
    struct pending_push *pushes;
    size_t npushes, cap;
};

static struct sconn *sconns; /* indexed by qd */
static size_t sconns_cap;
static unsigned long active, served;

/* One client's trouble ends its connection, not the server. */
static void sconn_error(int qd, struct sconn *c, const char *what, int err)
{
    fprintf(stderr, "%s: connection %d: %s: %s\n", ex_prog, qd, what, strerror(err));
    c->eof = 1;
}

static void sconn_pop(int qd, struct sconn *c)
{
    int rc = demi_pop(&c->pop_qt, qd);

    if (rc != 0)
        sconn_error(qd, c, "demi_pop", rc);
    else
        c->pop_pending = 1;
}

/* Close only with nothing pending, so no completion can name a closed qd. */
static void sconn_maybe_close(int qd, struct sconn *c)
{
    if (!c->eof || c->pop_pending || c->npushes > 0)
        return;
    ex_check(demi_close(qd), "demi_close");
    free(c->pushes);
    memset(c, 0, sizeof(*c));
    active--;
}

static void on_accept(const demi_qresult_t *qr, const struct opts *o)
{
    int qd = qr->qr_value.ares.qd;
    struct sconn *c;

    if (o->max_conns != 0 && active >= o->max_conns) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);

        /* The whole address (ares.addr holds 16 bytes of an IPv6 one). */
        memset(&peer, 0, sizeof(peer));
        ex_check(demi_getpeername(qd, (struct sockaddr *)&peer, &len), "demi_getpeername");
        fprintf(stderr, "%s: refusing connection from %s: --max-conns %lu reached\n", ex_prog, ex_addr_str(&peer),
                o->max_conns);
        ex_check(demi_close(qd), "demi_close");
        return;
    }
    set_nodelay(qd);
    sconns = grow_table(sconns, &sconns_cap, qd, sizeof(*sconns));
    c = &sconns[qd];
    memset(c, 0, sizeof(*c));
    c->open = 1;
    active++;
    served++;
    sconn_pop(qd, c);
    sconn_maybe_close(qd, c);
}

static void on_pop(int qd, struct sconn *c, demi_qresult_t *qr)
{
    demi_sgarray_t *sga = &qr->qr_value.sga;
    struct pending_push *p;
    int rc;

    c->pop_pending = 0;
    if (qr->qr_opcode == DEMI_OPC_FAILED) {
        sconn_error(qd, c, "pop", (int)qr->qr_ret);
        return;
    }
    if (ex_sga_len(sga) == 0) { /* the client closed */
        ex_sgafree(sga);
        c->eof = 1;
        return;
    }
    if (c->npushes == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->pushes = realloc(c->pushes, c->cap * sizeof(*c->pushes));
        if (c->pushes == NULL)
            ex_die("out of memory");
    }
    p = &c->pushes[c->npushes];
    p->sga = *sga;
    rc = demi_push(&p->qt, qd, &p->sga);
    if (rc != 0) {
        ex_sgafree(&p->sga);
        sconn_error(qd, c, "demi_push", rc);
        return;
    }
    c->npushes++;
    sconn_pop(qd, c);
}

static void on_push(int qd, struct sconn *c, const demi_qresult_t *qr)
{
    size_t i;

    for (i = 0; i < c->npushes; i++)
        if (c->pushes[i].qt == qr->qr_qt)
            break;
    if (i == c->npushes)
        ex_die("completion of an unknown operation on queue %d", qd);
    ex_sgafree(&c->pushes[i].sga);
    c->pushes[i] = c->pushes[--c->npushes];
    /* The pending pop fails too once the peer is gone; then we close. */
    if (qr->qr_opcode == DEMI_OPC_FAILED)
        sconn_error(qd, c, "push", (int)qr->qr_ret);
}

static void server(const struct opts *o)
{
    int lqd = ex_tcp_listen(&o->addr);
    demi_qtoken_t accept_qt;
    demi_qresult_t qrs[BATCH];

    ex_check(demi_accept(&accept_qt, lqd), "demi_accept");
    printf("%s: listening on %s\n", ex_prog, ex_addr_str(&o->addr));
    fflush(stdout);

    while (!(o->once && served > 0 && active == 0)) {
        /* Idle time is normal for a server: just wait again. */
        int n = wait_batch(qrs, 1, 1);

        for (int i = 0; i < n; i++) {
            demi_qresult_t *qr = &qrs[i];
            int qd = qr->qr_qd;
            struct sconn *c;

            if (qr->qr_qt == accept_qt) {
                if (qr->qr_opcode != DEMI_OPC_ACCEPT)
                    ex_die("accept: %s", strerror((int)qr->qr_ret));
                on_accept(qr, o);
                ex_check(demi_accept(&accept_qt, lqd), "demi_accept");
                continue;
            }
            if (qd < 0 || (size_t)qd >= sconns_cap || !sconns[qd].open)
                ex_die("completion on unknown queue %d", qd);
            c = &sconns[qd];
            if (c->pop_pending && qr->qr_qt == c->pop_qt)
                on_pop(qd, c, qr);
            else
                on_push(qd, c, qr);
            sconn_maybe_close(qd, c);
        }
    }
    /* The pending accept is cancelled by the close; nobody waits for it. */
    ex_check(demi_close(lqd), "demi_close");
    free(sconns);
    printf("%s: server done after %lu connections\n", ex_prog, served);
}

/* ------------------------------------------------------------------ client */

struct cconn {
    int qd;
    int busy; /* a round is in progress */
    int push_pending, pop_pending;
    demi_qtoken_t push_qt, pop_qt;
    demi_sgarray_t tx; /* request being pushed, freed on push completion */
    uint64_t round;    /* global number of the current round */
    uint32_t got;      /* bytes of the response received */
    uint64_t t_start, t_end;
};

struct client_state {
    const struct opts *o;
    struct cconn *conns;
    int *by_qd; /* qd -> index in conns, -1 if none */
    size_t by_qd_cap;
    uint64_t total, next_round, done;
    uint64_t *samples; /* RTT of measured round r at [r - warmup] */
    uint64_t t_first, t_last;
};

static void start_round(struct client_state *s, struct cconn *c)
{
    uint32_t size = s->o->size;

    if (s->next_round >= s->total) {
        c->busy = 0;
        return;
    }
    c->busy = 1;
    c->round = s->next_round++;
    c->got = 0;
    c->tx = ex_sgaalloc(size);
    ex_fill(c->tx.sga_segs[0].sgaseg_buf, size, c->round, 0);

    c->t_start = ex_now_ns();
    if (c->round == s->o->warmup)
        s->t_first = c->t_start;
    ex_check(demi_push(&c->push_qt, c->qd, &c->tx), "demi_push");
    c->push_pending = 1;
    ex_check(demi_pop(&c->pop_qt, c->qd), "demi_pop");
    c->pop_pending = 1;
}

static void finish_round(struct client_state *s, struct cconn *c)
{
    if (c->round >= s->o->warmup)
        s->samples[c->round - s->o->warmup] = c->t_end - c->t_start;
    s->t_last = c->t_end;
    s->done++;
    start_round(s, c);
}

static void on_response(struct client_state *s, struct cconn *c, demi_qresult_t *qr)
{
    uint64_t now = ex_now_ns(); /* before checking, which is not part of the RTT */
    uint32_t size = s->o->size;
    uint32_t len;
    size_t bad;

    c->pop_pending = 0;
    if (qr->qr_opcode != DEMI_OPC_POP)
        ex_die("connection %d: pop: %s", c->qd, strerror((int)qr->qr_ret));
    len = ex_sga_len(&qr->qr_value.sga);
    if (len == 0)
        ex_die("connection %d: server closed the connection", c->qd);
    if (len > size - c->got)
        ex_die("connection %d: %u bytes back, only %u outstanding", c->qd, len, size - c->got);
    bad = ex_verify(qr->qr_value.sga.sga_segs[0].sgaseg_buf, len, c->round, c->got);
    if (bad != len)
        ex_die("connection %d, round %llu: echoed byte %lu is wrong", c->qd, (unsigned long long)c->round,
               (unsigned long)(c->got + bad));
    ex_sgafree(&qr->qr_value.sga);
    c->got += len;

    if (c->got < size) { /* a partial echo: the rest is on its way */
        ex_check(demi_pop(&c->pop_qt, c->qd), "demi_pop");
        c->pop_pending = 1;
        return;
    }
    c->t_end = now;
    if (!c->push_pending)
        finish_round(s, c);
}

static void on_push_done(struct client_state *s, struct cconn *c, const demi_qresult_t *qr)
{
    c->push_pending = 0;
    if (qr->qr_opcode != DEMI_OPC_PUSH)
        ex_die("connection %d: push: %s", c->qd, strerror((int)qr->qr_ret));
    ex_sgafree(&c->tx);
    if (c->got == s->o->size)
        finish_round(s, c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted @v, @permille in [1, 1000]: the smallest
 * sample with at least that share of the samples at or below it. Integer
 * arithmetic, so p99.9 of 1000 samples is exactly the 999th. */
static double percentile_us(const uint64_t *v, size_t n, unsigned permille)
{
    size_t rank = (size_t)(((uint64_t)n * permille + 999) / 1000);

    if (rank < 1)
        rank = 1;
    return (double)v[rank - 1] / 1000.0;
}

static void write_csv(const struct client_state *s)
{
    FILE *f = fopen(s->o->csv, "w");

    if (f == NULL)
        ex_die("%s: %s", s->o->csv, strerror(errno));
    fprintf(f, "msg,rtt_ns\n");
    for (uint32_t i = 0; i < s->o->msgs; i++)
        fprintf(f, "%u,%llu\n", i, (unsigned long long)s->samples[i]);
    if (fclose(f) != 0)
        ex_die("%s: %s", s->o->csv, strerror(errno));
}

static void report(struct client_state *s)
{
    const struct opts *o = s->o;
    const char *libos = getenv("LIBOS");
    uint64_t *v = s->samples;
    size_t n = o->msgs;
    double sum = 0, secs;

    if (o->csv != NULL)
        write_csv(s); /* in round order, before sorting */
    qsort(v, n, sizeof(*v), cmp_u64);
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    secs = (double)(s->t_last - s->t_first) / 1e9;

    printf("%s: libos=%s size=%u conns=%u msgs=%u p50=%.2fus p99=%.2fus p999=%.2fus "
           "mean=%.2fus min=%.2fus max=%.2fus throughput=%.0f msg/s\n",
           ex_prog, libos != NULL && libos[0] != '\0' ? libos : "catnap", o->size, o->conns, o->msgs,
           percentile_us(v, n, 500), percentile_us(v, n, 990), percentile_us(v, n, 999), sum / (double)n / 1000.0,
           (double)v[0] / 1000.0, (double)v[n - 1] / 1000.0, secs > 0 ? (double)n / secs : 0.0);
}

static void client(const struct opts *o)
{
    struct client_state s;
    demi_qresult_t qrs[BATCH];

    memset(&s, 0, sizeof(s));
    s.o = o;
    s.total = (uint64_t)o->warmup + o->msgs;
    s.conns = calloc(o->conns, sizeof(*s.conns));
    s.samples = calloc(o->msgs, sizeof(*s.samples));
    if (s.conns == NULL || s.samples == NULL)
        ex_die("out of memory");

    for (uint32_t i = 0; i < o->conns; i++) {
        int qd = ex_tcp_connect(&o->addr);
        size_t old = s.by_qd_cap;

        set_nodelay(qd);
        s.by_qd = grow_table(s.by_qd, &s.by_qd_cap, qd, sizeof(*s.by_qd));
        for (size_t j = old; j < s.by_qd_cap; j++)
            s.by_qd[j] = -1;
        s.by_qd[qd] = (int)i;
        s.conns[i].qd = qd;
    }
    for (uint32_t i = 0; i < o->conns; i++)
        start_round(&s, &s.conns[i]);

    while (s.done < s.total) {
        int n = wait_batch(qrs, EX_IO_TIMEOUT_S, 0);

        for (int i = 0; i < n; i++) {
            demi_qresult_t *qr = &qrs[i];
            int qd = qr->qr_qd;
            struct cconn *c;

            if (qd < 0 || (size_t)qd >= s.by_qd_cap || s.by_qd[qd] < 0)
                ex_die("completion on unknown queue %d", qd);
            c = &s.conns[s.by_qd[qd]];
            if (c->pop_pending && qr->qr_qt == c->pop_qt)
                on_response(&s, c, qr);
            else if (c->push_pending && qr->qr_qt == c->push_qt)
                on_push_done(&s, c, qr);
            else
                ex_die("completion of an unknown operation on queue %d", qd);
        }
    }
    /* Every round is complete, so nothing is pending: closing tells the
     * server we are done. */
    for (uint32_t i = 0; i < o->conns; i++)
        ex_check(demi_close(s.conns[i].qd), "demi_close");

    report(&s);
    free(s.samples);
    free(s.by_qd);
    free(s.conns);
}

int main(int argc, char **argv)
{
    struct opts o;

    parse_opts(argc, argv, &o);
    ex_init(argc, argv);
    if (o.mode == EX_SERVER)
        server(&o);
    else
        client(&o);
    return 0;
}
