/* SPDX-License-Identifier: MIT */
/*
 * demi-loadgen: open-loop load generator (latency under load) through
 * libdemi's public API, for bench/run-bench.sh. Any libOS (LIBOS=...).
 *
 *   demi-loadgen IP PORT --rate R [--conns N] [--secs S] [--warmup-secs W]
 *                [--grace-secs G] [--depth D]
 *
 * The peer is an echo server (examples/tcp-echo --server). The client opens
 * N TCP connections, then sends 64-byte requests on a fixed schedule: request
 * k is due at t0 + k / R seconds and goes to connection k mod N. Requests of
 * the first W seconds warm up; those of the next S seconds are measured.
 *
 * The latency of a request runs from its INTENDED send time (the schedule),
 * not from the moment it was actually sent, to the arrival of the last byte
 * of its 64-byte echo. A client that falls behind (a slow server, a full
 * connection) therefore still charges the wait to the requests that waited:
 * coordinated omission cannot hide queueing (Gil Tene, "How NOT to measure
 * latency"; wrk2 does the same).
 *
 * Echoes come back in order on each connection, so the per-connection FIFO of
 * intended send times is implicit: the j-th request of connection c is
 * request j * N + c of the schedule. At most D requests are in flight on a
 * connection (bounded buffers); a due request whose connection is full waits,
 * and so do the ones after it (their intended times keep running).
 *
 * Sending stops at t0 + W + S. Requests still unsent then are reported as
 * unsent (the client was over its capacity); responses missing G seconds later
 * are reported as missing and make the exit status 1.
 *
 * Output: a human summary and one line starting "demi-loadgen: RESULT" with
 * key=value words: libos conns rate secs achieved (responses per second during
 * the measured S seconds) sent done measured unsent missing max_send_lag_ns,
 * then p50_ns p99_ns p999_ns mean_ns min_ns max_ns over the measured requests.
 */
#define _POSIX_C_SOURCE 200809L
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "demi_client.h"
#include "rtt_common.h"

#define USAGE                                                                         \
    "usage: demi-loadgen IP PORT --rate R [--conns N] [--secs S] [--warmup-secs W]\n" \
    "                    [--grace-secs G] [--depth D]\n"                              \
    "  R requests/s in all (1..20000000), N connections (1..10000, default 1024),\n"  \
    "  S measured seconds (default 3), W warm-up seconds (default 1), G seconds to\n" \
    "  wait for late responses (default 2), D requests in flight per connection\n"    \
    "  (1..64, default 4). Seconds may be fractional."

#define REQ_SIZE 64
#define NS_PER_S 1000000000ull
/* Completions taken per demi_wait_next_n() call. */
#define BATCH 64
/* Bound on the samples kept (8 bytes each). */
#define MAX_MEASURED 20000000ull
#define CONNECT_TIMEOUT_S 10
/* Bound on draining cancelled operations after the close. */
#define DRAIN_NS (2 * NS_PER_S)

struct opts {
    struct sockaddr_in addr;
    uint32_t conns;
    uint64_t rate;
    uint64_t secs_ns, warmup_ns, grace_ns;
    uint32_t depth;
};

struct conn {
    int qd;
    int pop_pending;
    demi_qtoken_t pop_qt;
    uint64_t sent, done; /* requests of this connection */
    uint64_t rx_bytes;   /* bytes of echo received: the stream offset checked */
};

struct loadgen {
    const struct opts *o;
    struct conn *conns;
    int *by_qd; /* qd -> index in conns, -1 if none */
    size_t by_qd_cap;
    uint64_t t0;         /* request 0 is due then */
    uint64_t warm_count; /* requests 0 .. warm_count-1 warm up */
    uint64_t total;      /* requests in the schedule */
    uint64_t next;       /* the next request to send */
    uint64_t sent, done; /* over every connection */
    uint64_t pushes_pending;
    uint64_t t_meas_start, t_stop;
    uint64_t done_in_window; /* responses received in [t_meas_start, t_stop) */
    uint64_t max_send_lag;   /* worst (actual - intended) send time */
    uint64_t *samples;       /* latency of measured request k at [k - warm_count] */
    uint64_t measured;       /* samples filled */
};

/* Seconds, fractional allowed, in [min, max]: returned in ns. */
static uint64_t parse_secs(const char *s, const char *what, double min, double max)
{
    char *end;
    double v;

    if (s == NULL)
        rtt_die("%s needs a value\n%s", what, USAGE);
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
        rtt_die("bad %s '%s' (expected seconds in %g..%g)", what, s, min, max);
    return (uint64_t)llround(v * (double)NS_PER_S);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    int rate_given = 0;

    memset(o, 0, sizeof(*o));
    o->conns = 1024;
    o->secs_ns = 3 * NS_PER_S;
    o->warmup_ns = NS_PER_S;
    o->grace_ns = 2 * NS_PER_S;
    o->depth = 4;
    if (argc < 3 || argv[1][0] == '-')
        rtt_die("%s", USAGE);
    o->addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &o->addr.sin_addr) != 1)
        rtt_die("bad IPv4 address '%s'\n%s", argv[1], USAGE);
    o->addr.sin_port = htons((uint16_t)rtt_parse_num(argv[2], "PORT", 1, 65535, USAGE));
    for (int i = 3; i < argc; i += 2) { /* every option takes a value */
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(opt, "--rate") == 0) {
            o->rate = rtt_parse_num(val, "--rate", 1, 20000000, USAGE);
            rate_given = 1;
        } else if (strcmp(opt, "--conns") == 0) {
            o->conns = (uint32_t)rtt_parse_num(val, "--conns", 1, 10000, USAGE);
        } else if (strcmp(opt, "--secs") == 0) {
            o->secs_ns = parse_secs(val, "--secs", 0.001, 3600);
        } else if (strcmp(opt, "--warmup-secs") == 0) {
            o->warmup_ns = parse_secs(val, "--warmup-secs", 0, 3600);
        } else if (strcmp(opt, "--grace-secs") == 0) {
            o->grace_ns = parse_secs(val, "--grace-secs", 0, 600);
        } else if (strcmp(opt, "--depth") == 0) {
            o->depth = (uint32_t)rtt_parse_num(val, "--depth", 1, 64, USAGE);
        } else {
            rtt_die("unknown option '%s'\n%s", opt, USAGE);
        }
    }
    if (!rate_given)
        rtt_die("--rate is required\n%s", USAGE);
}

/* Requests due in the first @ns nanoseconds of the schedule (k / rate < ns). */
static uint64_t requests_within(uint64_t rate, uint64_t ns)
{
    uint64_t s = ns / NS_PER_S, rem = ns % NS_PER_S;

    /* ceil(ns * rate / 1e9) without overflow: rem * rate < 1e9 * 2e7. */
    return s * rate + (rem * rate + NS_PER_S - 1) / NS_PER_S;
}

/* When request @k is due: t0 + k / rate, exactly in integer ns. */
static uint64_t intended_ns(const struct loadgen *g, uint64_t k)
{
    uint64_t rate = g->o->rate;

    return g->t0 + k / rate * NS_PER_S + k % rate * NS_PER_S / rate;
}

static void arm_pop(struct conn *c)
{
    bench_check(demi_pop(&c->pop_qt, c->qd), "demi_pop");
    c->pop_pending = 1;
}

static void open_conns(struct loadgen *g)
{
    const struct opts *o = g->o;

    for (uint32_t i = 0; i < o->conns; i++) {
        int qd = bench_connect(&o->addr, CONNECT_TIMEOUT_S);

        if ((size_t)qd >= g->by_qd_cap) {
            size_t cap = g->by_qd_cap ? g->by_qd_cap : 256;

            while (cap <= (size_t)qd)
                cap *= 2;
            g->by_qd = realloc(g->by_qd, cap * sizeof(*g->by_qd));
            if (g->by_qd == NULL)
                rtt_die("out of memory");
            for (size_t j = g->by_qd_cap; j < cap; j++)
                g->by_qd[j] = -1;
            g->by_qd_cap = cap;
        }
        g->by_qd[qd] = (int)i;
        g->conns[i].qd = qd;
        arm_pop(&g->conns[i]); /* one pop always pending: echoes are never left waiting */
    }
}

/* Push request @k on its connection: bytes rtt_pattern(conn, stream offset). */
static void send_request(struct loadgen *g, struct conn *c, uint32_t idx)
{
    demi_sgarray_t sga = demi_sgaalloc(REQ_SIZE);
    uint64_t off = c->sent * REQ_SIZE;
    uint8_t *b;
    demi_qtoken_t qt;

    if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len != REQ_SIZE)
        rtt_die("demi_sgaalloc(%u) failed", REQ_SIZE);
    b = sga.sga_segs[0].sgaseg_buf;
    for (uint32_t i = 0; i < REQ_SIZE; i++)
        b[i] = rtt_pattern(idx, off + i);
    bench_check(demi_push(&qt, c->qd, &sga), "demi_push");
    /* libdemi keeps a pushed sgaalloc buffer alive as long as it needs it. */
    bench_check(demi_sgafree(&sga), "demi_sgafree");
    c->sent++;
    g->sent++;
    g->pushes_pending++;
}

/* Send every request due by @now, in schedule order, until one finds its
 * connection full or the schedule ends. */
static void send_due(struct loadgen *g, uint64_t now)
{
    uint32_t nconns = g->o->conns;

    while (g->next < g->total) {
        uint64_t due = intended_ns(g, g->next);
        uint32_t idx = (uint32_t)(g->next % nconns);
        struct conn *c = &g->conns[idx];

        if (due > now || c->sent - c->done >= g->o->depth)
            return;
        if (now - due > g->max_send_lag)
            g->max_send_lag = now - due;
        send_request(g, c, idx);
        g->next++;
    }
}

/* Every whole 64-byte echo completes the oldest request of the connection. */
static void on_echo(struct loadgen *g, struct conn *c, uint32_t idx, demi_sgarray_t *sga, uint64_t now)
{
    uint32_t len;
    const uint8_t *b;

    c->pop_pending = 0;
    if (sga->sga_numsegs != 1)
        rtt_die("connection %u: popped sga has %u segments, expected 1", idx, (unsigned)sga->sga_numsegs);
    len = sga->sga_segs[0].sgaseg_len;
    if (len == 0)
        rtt_die("connection %u: the server closed the connection", idx);
    if (len > c->sent * REQ_SIZE - c->rx_bytes)
        rtt_die("connection %u: %u bytes back, only %llu outstanding", idx, len,
                (unsigned long long)(c->sent * REQ_SIZE - c->rx_bytes));
    /* First and last byte: cheap, and enough to catch a lost, repeated or
     * reordered piece. */
    b = sga->sga_segs[0].sgaseg_buf;
    if (b[0] != rtt_pattern(idx, c->rx_bytes) || b[len - 1] != rtt_pattern(idx, c->rx_bytes + len - 1))
        rtt_die("connection %u: wrong bytes echoed at stream offset %llu", idx, (unsigned long long)c->rx_bytes);
    bench_check(demi_sgafree(sga), "demi_sgafree");
    c->rx_bytes += len;

    while ((c->done + 1) * REQ_SIZE <= c->rx_bytes) {
        uint64_t k = c->done * g->o->conns + idx;

        c->done++;
        g->done++;
        if (k >= g->warm_count) {
            uint64_t latency = now - intended_ns(g, k);

            /* 0 marks "never answered" in report(). */
            g->samples[k - g->warm_count] = latency > 0 ? latency : 1;
            g->measured++;
        }
        if (now >= g->t_meas_start && now < g->t_stop)
            g->done_in_window++;
    }
    arm_pop(c);
}

static struct conn *conn_of(struct loadgen *g, int qd, uint32_t *idx)
{
    if (qd < 0 || (size_t)qd >= g->by_qd_cap || g->by_qd[qd] < 0)
        rtt_die("completion on unknown queue %d", qd);
    *idx = (uint32_t)g->by_qd[qd];
    return &g->conns[*idx];
}

/* Take the completions ready now (no waiting: the caller busy-polls).
 * @closing: cancelled operations are expected, not errors. */
static void poll_completions(struct loadgen *g, int closing)
{
    static const struct timespec zero = {.tv_sec = 0, .tv_nsec = 0};
    demi_qresult_t qrs[BATCH];
    int n = 0, rc = demi_wait_next_n(qrs, BATCH, &n, &zero);
    uint64_t now;

    if (rc == ETIMEDOUT)
        return;
    bench_check(rc, "demi_wait_next_n");
    now = rtt_now_ns(); /* one arrival time for the batch: when we learnt of it */
    for (int i = 0; i < n; i++) {
        demi_qresult_t *qr = &qrs[i];
        uint32_t idx;
        struct conn *c = conn_of(g, qr->qr_qd, &idx);

        if (c->pop_pending && qr->qr_qt == c->pop_qt) {
            if (qr->qr_opcode == DEMI_OPC_POP && closing) {
                c->pop_pending = 0;
                bench_check(demi_sgafree(&qr->qr_value.sga), "demi_sgafree");
            } else if (qr->qr_opcode == DEMI_OPC_POP) {
                on_echo(g, c, idx, &qr->qr_value.sga, now);
            } else if (closing && qr->qr_ret == ECANCELED) {
                c->pop_pending = 0;
            } else {
                rtt_die("connection %u: pop: %s", idx, strerror((int)qr->qr_ret));
            }
            continue;
        }
        /* Anything else is one of our pushes. */
        if (qr->qr_opcode != DEMI_OPC_PUSH && !(closing && qr->qr_ret == ECANCELED))
            rtt_die("connection %u: push: %s", idx, strerror((int)qr->qr_ret));
        g->pushes_pending--;
    }
}

static void run(struct loadgen *g)
{
    const struct opts *o = g->o;
    uint64_t now = rtt_now_ns(), t_end;

    /* The schedule starts just after the connections are up. */
    g->t0 = now + NS_PER_S / 1000;
    g->warm_count = requests_within(o->rate, o->warmup_ns);
    g->total = requests_within(o->rate, o->warmup_ns + o->secs_ns);
    g->t_meas_start = g->t0 + o->warmup_ns;
    g->t_stop = g->t0 + o->warmup_ns + o->secs_ns;
    t_end = g->t_stop + o->grace_ns;
    while (now < t_end) {
        if (now < g->t_stop)
            send_due(g, now);
        else if (g->done == g->sent)
            break; /* sending is over and every response is in */
        poll_completions(g, 0);
        now = rtt_now_ns();
    }
}

/* Close every queue, then take the completions of what the close cancelled
 * (bounded): nothing is left for the libOS to hand back. */
static void close_conns(struct loadgen *g)
{
    uint64_t deadline;
    uint64_t pops;

    for (uint32_t i = 0; i < g->o->conns; i++)
        bench_check(demi_close(g->conns[i].qd), "demi_close");
    deadline = rtt_now_ns() + DRAIN_NS;
    for (;;) {
        pops = 0;
        for (uint32_t i = 0; i < g->o->conns; i++)
            pops += (uint64_t)g->conns[i].pop_pending;
        if ((pops == 0 && g->pushes_pending == 0) || rtt_now_ns() >= deadline)
            break;
        poll_completions(g, 1);
    }
    if (pops != 0 || g->pushes_pending != 0)
        fprintf(stderr, "demi-loadgen: after close, %llu pops and %llu pushes still pending\n",
                (unsigned long long)pops, (unsigned long long)g->pushes_pending);
}

/* Returns the exit status: 1 if responses are missing. */
static int report(struct loadgen *g)
{
    const struct opts *o = g->o;
    const char *libos = getenv("LIBOS");
    double secs = (double)o->secs_ns / (double)NS_PER_S;
    double achieved = (double)g->done_in_window / secs;
    uint64_t unsent = g->total - g->next, missing = g->sent - g->done;

    printf("demi-loadgen: %u connections, offered %llu req/s for %.3f s after %.3f s of warm-up: "
           "achieved %.0f req/s; %llu requests sent, %llu answered, %llu unsent, %llu missing\n",
           o->conns, (unsigned long long)o->rate, secs, (double)o->warmup_ns / (double)NS_PER_S, achieved,
           (unsigned long long)g->sent, (unsigned long long)g->done, (unsigned long long)unsent,
           (unsigned long long)missing);
    if (unsent > 0)
        printf("demi-loadgen: %llu requests were never sent (connections full with %u in flight, the oldest due "
               "%.3f ms before the end): the offered rate is beyond what this pair sustains\n",
               (unsigned long long)unsent, o->depth, (double)(g->t_stop - intended_ns(g, g->next)) / 1e6);
    printf("demi-loadgen: RESULT libos=%s conns=%u rate=%llu secs=%.3f achieved=%.0f sent=%llu done=%llu "
           "measured=%llu unsent=%llu missing=%llu max_send_lag_ns=%llu ",
           libos != NULL && libos[0] != '\0' ? libos : "catnap", o->conns, (unsigned long long)o->rate, secs, achieved,
           (unsigned long long)g->sent, (unsigned long long)g->done, (unsigned long long)g->measured,
           (unsigned long long)unsent, (unsigned long long)missing, (unsigned long long)g->max_send_lag);
    if (g->measured > 0) {
        /* The samples of requests never answered are still 0: keep only the
         * answered ones. */
        size_t n = 0;

        for (uint64_t i = 0; i < g->total - g->warm_count; i++)
            if (g->samples[i] != 0)
                g->samples[n++] = g->samples[i];
        rtt_print_stats(g->samples, n);
    } else {
        printf("p50_ns=0 p99_ns=0 p999_ns=0 mean_ns=0 min_ns=0 max_ns=0\n");
    }
    fflush(stdout);
    if (missing > 0) {
        fprintf(stderr, "demi-loadgen: %llu responses missing %.3f s after the end of the run\n",
                (unsigned long long)missing, (double)o->grace_ns / (double)NS_PER_S);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct demi_args args;
    struct loadgen g;
    uint64_t measured_max;
    int status;

    rtt_prog = "demi-loadgen";
    parse_opts(argc, argv, &o);
    measured_max = requests_within(o.rate, o.warmup_ns + o.secs_ns) - requests_within(o.rate, o.warmup_ns);
    if (measured_max > MAX_MEASURED)
        rtt_die("--rate x --secs = %llu measured requests: at most %llu (lower the rate or the seconds)",
                (unsigned long long)measured_max, (unsigned long long)MAX_MEASURED);
    if (measured_max == 0)
        rtt_die("--rate x --secs is below one request: nothing would be measured");

    memset(&args, 0, sizeof(args));
    args.argc = argc;
    args.argv = argv;
    bench_check(demi_init(&args), "demi_init");

    memset(&g, 0, sizeof(g));
    g.o = &o;
    g.conns = calloc(o.conns, sizeof(*g.conns));
    g.samples = calloc(measured_max, sizeof(*g.samples));
    if (g.conns == NULL || g.samples == NULL)
        rtt_die("out of memory");
    open_conns(&g);
    run(&g);
    close_conns(&g);
    status = report(&g);
    free(g.samples);
    free(g.by_qd);
    free(g.conns);
    return status;
}
