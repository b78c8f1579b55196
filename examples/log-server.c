/* SPDX-License-Identifier: MIT */
/*
 * log-server: a durable request log over TCP. Every request is appended as
 * one record to a storage queue (<demi/storage.h>) and answered only once
 * that record is on stable storage; and its client, which checks every
 * answer.
 *
 *   log-server --server IP PORT --log PATH [--max-conns N] [--depth D] [--nosync]
 *   log-server --client IP PORT [--records N] [--conns C] [--depth D] [--size B] [--fixed]
 *                               [--seed S] [--acked FILE]
 *
 * Wire format, both ways little-endian:
 *   request  u32 length (1..LS_RECORD_MAX), then that many bytes: one record
 *   reply    u32 length, u64 sequence number, the request's bytes again
 *   refusal  u32 0, u64 errno: the request was not made durable (the log
 *            failed: a write error, no space; restart the server to recover)
 * The sequence number is the record's in the log (0: the file's first, as
 * demi-logcheck --list shows it), so an answer says exactly where its bytes
 * are; the echo lets the client check them. Replies on a connection come in
 * the order of its requests.
 *
 * The server is one loop over demi_wait_any: the accept, one pop per
 * connection, every storage push and every reply push are tokens in one
 * array, sockets and storage together, no threads. A connection keeps up to
 * D requests in flight (their pops go on while their records are written),
 * so requests from many connections reach the log together and are
 * committed by one write (group commit). The log is created, or, when PATH
 * exists, opened O_RDWR (recovered; the server counts its records by popping
 * them) so that a restart appends. SIGINT or SIGTERM: stop reading requests,
 * answer those in flight (for up to EX_IO_TIMEOUT_S), close every queue.
 *
 * The client runs C connections with D requests in flight each, N records
 * in all, of 1..B bytes (--fixed: all B bytes), their lengths and bytes
 * from a pattern seeded with S, different for every record. It checks
 * every reply: the echo byte-exact, the sequence numbers rising on each
 * connection and never given twice. --acked FILE receives one line per
 * acknowledged record, "SEQ HEX", in sequence order: the --expect form of
 * demi-logcheck(1). When the server goes away mid-run (a crash test kills
 * it), the client still writes FILE and exits with status 3.
 */
#include "common.h"

#include <demi/stats.h>
#include <demi/storage.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE                                                                                         \
    "log-server --server IP PORT --log PATH [--max-conns N] [--depth D] [--nosync]\n"                 \
    "       log-server --client IP PORT [--records N] [--conns C] [--depth D] [--size B] [--fixed]\n" \
    "                                   [--seed S] [--acked FILE]"

#define REQ_HDR 4u               /* u32 length */
#define REPLY_HDR 12u            /* u32 length, u64 sequence number */
#define LS_RECORD_MAX EX_SGA_MAX /* a record is one sga */
#define DEPTH_DEFAULT 32u
#define EXIT_SERVER_GONE 3 /* the client's status when the server went away */

struct opts {
    enum ex_mode mode;
    struct sockaddr_storage addr;
    const char *log;
    unsigned long max_conns; /* 0: no limit */
    uint32_t depth;
    int nosync;
    uint64_t records;
    uint32_t conns;
    uint32_t size;
    int fixed;
    uint64_t seed;
    const char *acked;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    ex_set_prog(argc, argv);
    memset(o, 0, sizeof(*o));
    o->depth = DEPTH_DEFAULT;
    o->records = 10000;
    o->conns = 4;
    o->size = 256;
    o->seed = 1;

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

        if (server && strcmp(opt, "--nosync") == 0) {
            o->nosync = 1;
            continue;
        }
        if (!server && strcmp(opt, "--fixed") == 0) {
            o->fixed = 1;
            continue;
        }
        if (val == NULL)
            ex_die("unknown option or missing value: '%s'\nusage: %s", opt, USAGE);
        if (strcmp(opt, "--depth") == 0)
            o->depth = (uint32_t)ex_parse_ulong(val, "--depth", 1, 4096);
        else if (server && strcmp(opt, "--log") == 0)
            o->log = val;
        else if (server && strcmp(opt, "--max-conns") == 0)
            o->max_conns = ex_parse_ulong(val, "--max-conns", 1, 1000000);
        else if (!server && strcmp(opt, "--records") == 0)
            o->records = ex_parse_ulong(val, "--records", 1, 1000000000);
        else if (!server && strcmp(opt, "--conns") == 0)
            o->conns = (uint32_t)ex_parse_ulong(val, "--conns", 1, 10000);
        else if (!server && strcmp(opt, "--size") == 0)
            o->size = (uint32_t)ex_parse_ulong(val, "--size", 1, LS_RECORD_MAX - REQ_HDR); /* a request is one sga */
        else if (!server && strcmp(opt, "--seed") == 0)
            o->seed = ex_parse_ulong(val, "--seed", 0, 4294967295ul);
        else if (!server && strcmp(opt, "--acked") == 0)
            o->acked = val;
        else
            ex_die("unknown option '%s'\nusage: %s", opt, USAGE);
        i++;
    }
    if (o->mode == EX_SERVER && o->log == NULL)
        ex_die("--log PATH is needed\nusage: %s", USAGE);
}

/* An answer is a header and the record, pushed one after the other: without
 * TCP_NODELAY the record would wait for the peer's (delayed) ACK of the
 * header. */
static void set_nodelay(int qd)
{
    int one = 1;

    ex_check(demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "demi_setsockopt(TCP_NODELAY)");
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ------------------------------------------------------------ the tokens */

/* Every pending operation of the process, in the array demi_wait_any
 * takes, and beside it what the operation is for. */
enum tok_kind { T_ACCEPT, T_POP, T_LOG, T_HDR, T_REPLY, T_REQUEST };

struct tok {
    enum tok_kind kind;
    void *conn; /* T_POP, T_HDR, T_REPLY, T_REQUEST: the connection */
    void *req;  /* T_LOG, T_REPLY: the request */
};

static demi_qtoken_t *tok_qts;
static struct tok *toks;
static int ntoks, tok_cap;

static void tok_add(demi_qtoken_t qt, enum tok_kind kind, void *conn, void *req)
{
    if (ntoks == tok_cap) {
        tok_cap = tok_cap ? tok_cap * 2 : 256;
        tok_qts = realloc(tok_qts, (size_t)tok_cap * sizeof(*tok_qts));
        toks = realloc(toks, (size_t)tok_cap * sizeof(*toks));
        if (tok_qts == NULL || toks == NULL)
            ex_die("out of memory");
    }
    tok_qts[ntoks] = qt;
    toks[ntoks].kind = kind;
    toks[ntoks].conn = conn;
    toks[ntoks].req = req;
    ntoks++;
}

/* Wait up to @timeout_ms for one of the tokens: 1 and the completion (its
 * token out of the array), or 0 on timeout. */
static int tok_wait(demi_qresult_t *qr, struct tok *t, long timeout_ms)
{
    struct timespec ts;
    int i, rc;

    if (ntoks == 0)
        return 0;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
    rc = demi_wait_any(qr, &i, tok_qts, ntoks, &ts);
    if (rc == ETIMEDOUT)
        return 0;
    ex_check(rc, "demi_wait_any");
    *t = toks[i];
    ntoks--;
    tok_qts[i] = tok_qts[ntoks];
    toks[i] = toks[ntoks];
    return 1;
}

/* A connection's received bytes not yet parsed into messages: @len bytes
 * at @buf + @off. */
struct rxbuf {
    uint8_t *buf;
    size_t off, len, cap;
};

static const uint8_t *rx_data(const struct rxbuf *rx)
{
    return rx->buf + rx->off;
}

static void rx_append(struct rxbuf *rx, const demi_sgarray_t *sga)
{
    if (rx->off != 0) { /* once per pop, not once per message */
        memmove(rx->buf, rx->buf + rx->off, rx->len);
        rx->off = 0;
    }
    for (uint32_t i = 0; i < sga->sga_numsegs; i++) {
        size_t n = sga->sga_segs[i].sgaseg_len;

        if (rx->len + n > rx->cap) {
            size_t cap = rx->cap ? rx->cap : 4096;
            while (cap < rx->len + n)
                cap *= 2;
            rx->buf = realloc(rx->buf, cap);
            if (rx->buf == NULL)
                ex_die("out of memory");
            rx->cap = cap;
        }
        memcpy(rx->buf + rx->len, sga->sga_segs[i].sgaseg_buf, n);
        rx->len += n;
    }
}

static void rx_consume(struct rxbuf *rx, size_t n)
{
    rx->off += n;
    rx->len -= n;
}

/* ------------------------------------------------------------- the server */

struct sconn {
    int qd;
    int closed;        /* demi_close called */
    int rx_eof;        /* the client sent everything (it may still read) */
    int broken;        /* a pop or push failed: no more replies */
    int pop_pending;   /* one pop at a time */
    uint32_t inflight; /* requests received, not yet answered */
    uint32_t refs;     /* its pending tokens and requests in the log queue */
    struct rxbuf rx;
};

/* A request, from its arrival to its answer. The log's pushes may be
 * reported in any order (demi_wait_any returns the first done token of its
 * array), so requests wait in the log queue, in push order, and are
 * answered from its head: each connection's answers go out in the order of
 * its requests, and after a failed push none that follows is acknowledged. */
struct sreq {
    struct sreq *next; /* the log queue */
    struct sconn *c;
    demi_sgarray_t rec; /* the record's bytes: pushed to the log, then echoed */
    uint32_t len;
    uint64_t seq; /* the record's sequence number in the log */
    int done;     /* the push completed, or was never made */
    int err;      /* a refusal's errno */
};

struct server {
    const struct opts *o;
    int lqd, log;
    uint64_t next_seq;    /* the sequence number the next record gets */
    int log_err;          /* after a failed push: every request refused */
    struct sreq *lq_head; /* the log queue, in push order */
    struct sreq **lq_tail;
    uint32_t log_inflight;   /* storage pushes pending */
    uint32_t reply_inflight; /* reply pushes pending */
    unsigned long conns, served;
    uint64_t appended, appended_bytes, refused;
};

static void sconn_release(struct server *s, struct sconn *c)
{
    if (!c->closed && ((c->rx_eof && c->inflight == 0 && !c->pop_pending) || c->broken)) {
        /* Closing cancels a pending pop and reply pushes: their tokens
         * still complete (ECANCELED), and are let go then. */
        ex_check(demi_close(c->qd), "demi_close");
        c->closed = 1;
        s->conns--;
    }
    if (c->closed && c->refs == 0) {
        free(c->rx.buf);
        free(c);
    }
}

static void sconn_error(struct sconn *c, const char *what, int err)
{
    if (!c->broken && err != ECANCELED)
        fprintf(stderr, "%s: connection %d: %s: %s\n", ex_prog, c->qd, what, strerror(err));
    c->broken = 1;
}

static void sreq_free(struct sreq *r)
{
    r->c->inflight--;
    ex_sgafree(&r->rec);
    free(r);
}

/* Answer @r on its connection: a header of its own (freed at once: libdemi
 * holds a reference while it is sent), then the record's buffer itself; or
 * a refusal, the header alone. */
static void sreq_answer(struct server *s, struct sreq *r)
{
    struct sconn *c = r->c;
    demi_sgarray_t hdr;
    demi_qtoken_t qt;
    uint8_t *p;
    int rc;

    if (c->broken || c->closed) {
        sreq_free(r);
        return;
    }
    hdr = ex_sgaalloc(REPLY_HDR);
    p = hdr.sga_segs[0].sgaseg_buf;
    put32(p, r->err != 0 ? 0 : r->len);
    put64(p + 4, r->err != 0 ? (uint64_t)r->err : r->seq);
    rc = demi_push(&qt, c->qd, &hdr);
    ex_sgafree(&hdr);
    if (rc == 0 && r->err == 0) {
        tok_add(qt, T_HDR, c, NULL);
        c->refs++;
        rc = demi_push(&qt, c->qd, &r->rec);
    }
    if (rc != 0) {
        sconn_error(c, "demi_push", rc);
        sreq_free(r);
        return;
    }
    tok_add(qt, T_REPLY, c, r);
    c->refs++;
    s->reply_inflight++;
}

/* Answer the requests at the head of the log queue whose pushes are done. */
static void log_drain(struct server *s)
{
    struct sreq *r;

    while ((r = s->lq_head) != NULL && r->done) {
        struct sconn *c = r->c;

        s->lq_head = r->next;
        if (s->lq_head == NULL)
            s->lq_tail = &s->lq_head;
        if (r->err != 0 && s->log_err == 0) {
            s->log_err = r->err;
            fprintf(stderr, "%s: the log failed: %s: refusing requests from now on (restart to recover)\n", ex_prog,
                    strerror(r->err));
        }
        if (s->log_err != 0) {
            /* After a failure the numbers the later records were given are
             * no longer sure: refuse them too, even those written. */
            r->err = s->log_err;
            s->refused++;
        } else {
            s->appended++;
            s->appended_bytes += r->len;
        }
        c->refs--;
        sreq_answer(s, r);
        sconn_release(s, c);
    }
}

/* Append the request in @r to the log. The whole buffer is pushed, so a
 * large one is written from where it is (zero-copy, docs/cattree.md). */
static void sreq_log(struct server *s, struct sconn *c, struct sreq *r)
{
    demi_qtoken_t qt;
    int rc;

    r->c = c;
    c->refs++;
    *s->lq_tail = r;
    s->lq_tail = &r->next;
    if (s->log_err != 0) {
        r->done = 1;
        r->err = s->log_err;
        return;
    }
    rc = demi_push(&qt, s->log, &r->rec);
    if (rc != 0) {
        fprintf(stderr, "%s: demi_push to the log: %s\n", ex_prog, strerror(rc));
        r->done = 1;
        r->err = rc;
        return;
    }
    /* Records go into the log in push order: this one's number is known. */
    r->seq = s->next_seq++;
    s->log_inflight++;
    tok_add(qt, T_LOG, NULL, r);
}

static void sconn_pop(struct sconn *c)
{
    demi_qtoken_t qt;
    int rc = demi_pop(&qt, c->qd);

    if (rc != 0) {
        sconn_error(c, "demi_pop", rc);
        return;
    }
    tok_add(qt, T_POP, c, NULL);
    c->pop_pending = 1;
    c->refs++;
}

/* Turn the whole requests received into log pushes while fewer than
 * --depth are in flight, then read on if there is room. */
static void sconn_pump(struct server *s, struct sconn *c)
{
    while (!c->broken && c->inflight < s->o->depth && c->rx.len >= REQ_HDR) {
        uint32_t len = get32(rx_data(&c->rx));
        struct sreq *r;

        if (len == 0 || len > LS_RECORD_MAX) {
            fprintf(stderr, "%s: connection %d: a request of %u bytes (1..%u): closing it\n", ex_prog, c->qd, len,
                    (unsigned)LS_RECORD_MAX);
            c->broken = 1;
            break;
        }
        if (c->rx.len < REQ_HDR + (size_t)len)
            break;
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            ex_die("out of memory");
        r->len = len;
        r->rec = ex_sgaalloc(len);
        memcpy(r->rec.sga_segs[0].sgaseg_buf, rx_data(&c->rx) + REQ_HDR, len);
        rx_consume(&c->rx, REQ_HDR + len);
        c->inflight++;
        sreq_log(s, c, r);
    }
    log_drain(s);
    if (!c->broken && !c->rx_eof && !c->pop_pending && c->inflight < s->o->depth && !stop_signal)
        sconn_pop(c);
}

static void on_accept(struct server *s, const demi_qresult_t *qr)
{
    int qd = qr->qr_value.ares.qd;
    struct sconn *c;

    if (s->o->max_conns != 0 && s->conns >= s->o->max_conns) {
        fprintf(stderr, "%s: refusing a connection: --max-conns %lu reached\n", ex_prog, s->o->max_conns);
        ex_check(demi_close(qd), "demi_close");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        ex_die("out of memory");
    c->qd = qd;
    c->refs = 1; /* ours, while the first pump runs */
    set_nodelay(qd);
    s->conns++;
    s->served++;
    sconn_pump(s, c);
    c->refs--;
    sconn_release(s, c);
}

static void on_pop(struct server *s, struct sconn *c, demi_qresult_t *qr)
{
    c->pop_pending = 0;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        sconn_error(c, "pop", (int)qr->qr_ret);
    } else if (ex_sga_len(&qr->qr_value.sga) == 0) {
        c->rx_eof = 1; /* answers still go out: the client may only have shut down its side */
        ex_sgafree(&qr->qr_value.sga);
        if (c->rx.len != 0)
            fprintf(stderr, "%s: connection %d: %zu bytes of an unfinished request at its end\n", ex_prog, c->qd,
                    c->rx.len);
    } else {
        rx_append(&c->rx, &qr->qr_value.sga);
        ex_sgafree(&qr->qr_value.sga);
    }
    sconn_pump(s, c);
}

static void on_logged(struct server *s, struct sreq *r, const demi_qresult_t *qr)
{
    s->log_inflight--;
    r->done = 1;
    if (qr->qr_opcode != DEMI_OPC_PUSH)
        r->err = qr->qr_ret > 0 ? (int)qr->qr_ret : EIO;
    log_drain(s);
}

static void on_replied(struct server *s, struct sconn *c, struct sreq *r, const demi_qresult_t *qr)
{
    s->reply_inflight--;
    if (qr->qr_opcode != DEMI_OPC_PUSH)
        sconn_error(c, "push", (int)qr->qr_ret);
    sreq_free(r);
}

/* Open the log: an existing one is recovered by demi_open, and its records
 * are counted by reading them (the next record's sequence number). */
static void server_open_log(struct server *s)
{
    const struct opts *o = s->o;
    struct stat st;
    int rc;

    if (stat(o->log, &st) != 0) {
        ex_check(demi_creat(&s->log, o->log, 0644), "demi_creat");
        if (!o->nosync)
            return;
        /* demi_creat has no flags: reopen to drop the sync. */
        ex_check(demi_close(s->log), "demi_close");
    }
    rc = demi_open(&s->log, o->log, O_RDWR | (o->nosync ? DEMI_O_NOSYNC : 0));
    if (rc != 0)
        ex_die("demi_open(%s): %s", o->log, strerror(rc));
    for (;;) {
        demi_qtoken_t qt;
        demi_qresult_t qr;

        ex_check(demi_pop(&qt, s->log), "demi_pop (the log)");
        qr = ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_POP, "reading the log");
        if (ex_sga_len(&qr.qr_value.sga) == 0) {
            ex_sgafree(&qr.qr_value.sga);
            break;
        }
        ex_sgafree(&qr.qr_value.sga);
        s->next_seq++;
    }
}

/* The cattree counters, when the libOS has them. */
static void print_counters(void)
{
    uint64_t writes, appends, zc = 0;

    if (demi_stats_counter("cattree_writes", &writes) != 0 || demi_stats_counter("cattree_appends", &appends) != 0)
        return;
    demi_stats_counter("cattree_zero_copy", &zc);
    printf("%s: cattree: %llu appends in %llu writes: %.1f records per write, %llu zero-copy\n", ex_prog,
           (unsigned long long)appends, (unsigned long long)writes, writes ? (double)appends / (double)writes : 0.0,
           (unsigned long long)zc);
}

static void server(const struct opts *o)
{
    struct server s;
    demi_qtoken_t qt;
    uint64_t t0, drain_end = 0;

    memset(&s, 0, sizeof(s));
    s.o = o;
    s.lq_tail = &s.lq_head;
    server_open_log(&s);
    s.lqd = ex_tcp_listen(&o->addr);
    ex_check(demi_accept(&qt, s.lqd), "demi_accept");
    tok_add(qt, T_ACCEPT, NULL, NULL);
    printf("%s: listening on %s, log %s (%llu records)\n", ex_prog, ex_addr_str(&o->addr), o->log,
           (unsigned long long)s.next_seq);
    fflush(stdout);
    t0 = ex_now_ns();

    for (;;) {
        demi_qresult_t qr;
        struct tok t;

        if (stop_signal && drain_end == 0) {
            /* Stop reading; the records in flight are answered. */
            drain_end = ex_now_ns() + (uint64_t)EX_IO_TIMEOUT_S * 1000000000u;
            ex_check(demi_close(s.lqd), "demi_close");
            s.lqd = -1;
        }
        if (drain_end != 0 && ((s.log_inflight == 0 && s.reply_inflight == 0) || ex_now_ns() > drain_end))
            break;
        if (!tok_wait(&qr, &t, 100))
            continue;
        switch (t.kind) {
        case T_ACCEPT:
            if (s.lqd < 0) { /* stopping: cancelled by our close, or just too late */
                if (qr.qr_opcode == DEMI_OPC_ACCEPT)
                    demi_close(qr.qr_value.ares.qd);
                break;
            }
            if (qr.qr_opcode != DEMI_OPC_ACCEPT)
                ex_die("accept: %s", strerror((int)qr.qr_ret));
            on_accept(&s, &qr);
            ex_check(demi_accept(&qt, s.lqd), "demi_accept");
            tok_add(qt, T_ACCEPT, NULL, NULL);
            break;
        case T_POP:
            on_pop(&s, t.conn, &qr);
            break;
        case T_LOG:
            on_logged(&s, t.req, &qr);
            break;
        case T_HDR:
            if (qr.qr_opcode != DEMI_OPC_PUSH)
                sconn_error(t.conn, "push", (int)qr.qr_ret);
            break;
        case T_REPLY:
            on_replied(&s, t.conn, t.req, &qr);
            sconn_pump(&s, t.conn);
            break;
        case T_REQUEST:
            ex_die("a client's token in the server");
        }
        /* The token's reference is let go only now: the handlers may
         * release the connection's other references meanwhile. */
        if (t.conn != NULL) {
            ((struct sconn *)t.conn)->refs--;
            sconn_release(&s, t.conn);
        }
    }
    if (s.log_inflight != 0 || s.reply_inflight != 0)
        fprintf(stderr, "%s: %u records still being written, %u answers being sent after %d s\n", ex_prog,
                s.log_inflight, s.reply_inflight, EX_IO_TIMEOUT_S);
    /* Closing every queue cancels what is pending; the process ends here,
     * so nobody waits for those tokens. */
    for (int i = 0; i < ntoks; i++) {
        struct sconn *c = toks[i].conn;
        if (c != NULL && !c->closed) {
            demi_close(c->qd);
            c->closed = 1;
        }
    }
    ex_check(demi_close(s.log), "demi_close (the log)");
    printf("%s: %s: %llu records (%llu bytes) appended in %.1f s, %llu refused, %lu connections; log at %llu "
           "records\n",
           ex_prog, stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)s.appended,
           (unsigned long long)s.appended_bytes, (double)(ex_now_ns() - t0) / 1e9, (unsigned long long)s.refused,
           s.served, (unsigned long long)s.next_seq);
    print_counters();
}

/* ------------------------------------------------------------- the client */

/* Record k of a run: its length and bytes follow from (seed, k), so an
 * acknowledged one is written out again without keeping it. Lengths are
 * spread over 1..B, with a short one three times in four, so records both
 * share and straddle the log's blocks. */
static uint32_t rec_len(const struct opts *o, uint64_t k)
{
    uint64_t h = (k + 1) * 0x9e3779b97f4a7c15ull;

    if (o->fixed)
        return o->size;
    h ^= h >> 29;
    if ((h & 3) != 3 && o->size > 64)
        return 1 + (uint32_t)((h >> 8) % 64);
    return 1 + (uint32_t)((h >> 8) % o->size);
}

/* splitmix64: one stream per record, so no two records of a run (or of
 * runs with different seeds) hold the same bytes. */
static uint64_t mix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rec_fill(const struct opts *o, uint64_t k, uint8_t *p, uint32_t len)
{
    uint64_t state = o->seed << 40 ^ k, v = 0;

    for (uint32_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            v = mix64(&state);
        p[i] = (uint8_t)(v >> (8 * (i % 8)));
    }
}

struct cconn {
    int qd;
    int dead;       /* the server went away, or the connection failed */
    uint64_t *fifo; /* records sent, not yet answered, oldest first */
    uint32_t head, count;
    uint64_t last_seq; /* + 1; 0: none yet */
    struct rxbuf rx;
};

struct acked {
    uint64_t seq, k;
};

struct client {
    const struct opts *o;
    struct cconn *conns;
    uint64_t next_k, acked_n, refused, bytes;
    struct acked *acked;
    size_t acked_cap;
    uint32_t live;
    uint64_t waiting; /* requests sent on live connections, not answered */
    uint8_t *scratch; /* a record's expected bytes */
};

static void cconn_dead(struct client *cl, struct cconn *c, const char *what, int err)
{
    if (c->dead)
        return;
    fprintf(stderr, "%s: connection %d: %s: %s\n", ex_prog, c->qd, what, err ? strerror(err) : "closed by the server");
    c->dead = 1;
    cl->live--;
    cl->waiting -= c->count;
}

/* Send requests until @c has --depth in flight or the run is over. */
static void cconn_fill(struct client *cl, struct cconn *c)
{
    const struct opts *o = cl->o;

    while (!c->dead && c->count < o->depth && cl->next_k < o->records) {
        uint64_t k = cl->next_k++;
        uint32_t len = rec_len(o, k);
        demi_sgarray_t sga = ex_sgaalloc(REQ_HDR + len);
        uint8_t *p = sga.sga_segs[0].sgaseg_buf;
        demi_qtoken_t qt;
        int rc;

        put32(p, len);
        rec_fill(o, k, p + REQ_HDR, len);
        rc = demi_push(&qt, c->qd, &sga);
        ex_sgafree(&sga); /* libdemi holds its own reference while pushing */
        if (rc != 0) {
            cconn_dead(cl, c, "demi_push", rc);
            return;
        }
        tok_add(qt, T_REQUEST, c, NULL);
        c->fifo[(c->head + c->count) % o->depth] = k;
        c->count++;
        cl->waiting++;
    }
}

static void cconn_pop(struct client *cl, struct cconn *c)
{
    demi_qtoken_t qt;
    int rc = demi_pop(&qt, c->qd);

    if (rc != 0) {
        cconn_dead(cl, c, "demi_pop", rc);
        return;
    }
    tok_add(qt, T_POP, c, NULL);
}

/* Check the whole replies received on @c. A wrong one ends the program:
 * the server broke its promise. */
static void cconn_replies(struct client *cl, struct cconn *c)
{
    const struct opts *o = cl->o;

    while (c->rx.len >= REPLY_HDR) {
        uint32_t len = get32(rx_data(&c->rx));
        uint64_t seq = get64(rx_data(&c->rx) + 4), k;
        size_t bad;

        if (c->count == 0)
            ex_die("connection %d: a reply to no request", c->qd);
        k = c->fifo[c->head];
        if (len == 0) { /* a refusal: the first is worth a line */
            if (cl->refused == 0)
                fprintf(stderr, "%s: connection %d: record %llu refused: %s (and maybe more; counted below)\n", ex_prog,
                        c->qd, (unsigned long long)k, strerror((int)seq));
            rx_consume(&c->rx, REPLY_HDR);
            cl->refused++;
        } else {
            if (c->rx.len < REPLY_HDR + (size_t)len)
                return;
            if (len != rec_len(o, k))
                ex_die("connection %d: record %llu: a reply of %u bytes, %u sent", c->qd, (unsigned long long)k, len,
                       rec_len(o, k));
            rec_fill(o, k, cl->scratch, len);
            bad = 0;
            while (bad < len && rx_data(&c->rx)[REPLY_HDR + bad] == cl->scratch[bad])
                bad++;
            if (bad != len)
                ex_die("connection %d: record %llu: echoed byte %lu is wrong", c->qd, (unsigned long long)k,
                       (unsigned long)bad);
            if (c->last_seq != 0 && seq < c->last_seq)
                ex_die("connection %d: record %llu acknowledged as %llu, after %llu", c->qd, (unsigned long long)k,
                       (unsigned long long)seq, (unsigned long long)(c->last_seq - 1));
            c->last_seq = seq + 1;
            if (cl->acked_n == cl->acked_cap) {
                cl->acked_cap = cl->acked_cap ? cl->acked_cap * 2 : 4096;
                cl->acked = realloc(cl->acked, cl->acked_cap * sizeof(*cl->acked));
                if (cl->acked == NULL)
                    ex_die("out of memory");
            }
            cl->acked[cl->acked_n].seq = seq;
            cl->acked[cl->acked_n].k = k;
            cl->acked_n++;
            cl->bytes += len;
            rx_consume(&c->rx, REPLY_HDR + len);
        }
        c->head = (c->head + 1) % o->depth;
        c->count--;
        cl->waiting--;
    }
}

static int cmp_acked(const void *a, const void *b)
{
    const struct acked *x = a, *y = b;

    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort the acknowledgements by sequence number (each given once), and write
 * them as demi-logcheck --expect lines. */
static void client_write_acked(struct client *cl)
{
    static const char digits[] = "0123456789abcdef";
    const struct opts *o = cl->o;
    uint8_t *buf = malloc(o->size);
    char *hex = malloc(2 * (size_t)o->size + 2);
    FILE *f;

    if (buf == NULL || hex == NULL)
        ex_die("out of memory");
    qsort(cl->acked, cl->acked_n, sizeof(*cl->acked), cmp_acked);
    for (uint64_t i = 1; i < cl->acked_n; i++)
        if (cl->acked[i].seq == cl->acked[i - 1].seq)
            ex_die("sequence number %llu acknowledged twice (records %llu and %llu)",
                   (unsigned long long)cl->acked[i].seq, (unsigned long long)cl->acked[i - 1].k,
                   (unsigned long long)cl->acked[i].k);
    if (o->acked == NULL)
        goto out;
    f = fopen(o->acked, "w");
    if (f == NULL)
        ex_die("%s: %s", o->acked, strerror(errno));
    for (uint64_t i = 0; i < cl->acked_n; i++) {
        uint64_t k = cl->acked[i].k;
        uint32_t len = rec_len(o, k);

        rec_fill(o, k, buf, len);
        for (uint32_t j = 0; j < len; j++) {
            hex[2 * j] = digits[buf[j] >> 4];
            hex[2 * j + 1] = digits[buf[j] & 15];
        }
        hex[2 * len] = '\n';
        if (fprintf(f, "%llu ", (unsigned long long)cl->acked[i].seq) < 0 ||
            fwrite(hex, 1, 2 * (size_t)len + 1, f) != 2 * (size_t)len + 1)
            ex_die("%s: %s", o->acked, strerror(errno));
    }
    if (fclose(f) != 0)
        ex_die("%s: %s", o->acked, strerror(errno));
out:
    free(buf);
    free(hex);
}

static int client(const struct opts *o)
{
    struct client cl;
    uint64_t t0, in_flight = 0;
    double secs;

    memset(&cl, 0, sizeof(cl));
    cl.o = o;
    cl.conns = calloc(o->conns, sizeof(*cl.conns));
    cl.scratch = malloc(o->size);
    if (cl.conns == NULL || cl.scratch == NULL)
        ex_die("out of memory");
    for (uint32_t i = 0; i < o->conns; i++) {
        struct cconn *c = &cl.conns[i];

        c->qd = ex_tcp_connect(&o->addr);
        set_nodelay(c->qd);
        c->fifo = calloc(o->depth, sizeof(*c->fifo));
        if (c->fifo == NULL)
            ex_die("out of memory");
        cl.live++;
    }
    t0 = ex_now_ns();
    for (uint32_t i = 0; i < o->conns; i++) {
        cconn_fill(&cl, &cl.conns[i]);
        cconn_pop(&cl, &cl.conns[i]);
    }

    /* Until every record is answered, or no live connection has one to
     * answer (the server went away). */
    while (cl.waiting > 0 || (cl.live > 0 && cl.next_k < o->records)) {
        demi_qresult_t qr;
        struct tok t;
        struct cconn *c;

        if (!tok_wait(&qr, &t, EX_IO_TIMEOUT_S * 1000)) {
            /* A server whose stack died with it (catnip) sends no reset. */
            fprintf(stderr, "%s: no answer within %d s: the server is taken for gone\n", ex_prog, EX_IO_TIMEOUT_S);
            break;
        }
        c = t.conn;
        if (t.kind == T_REQUEST) {
            if (qr.qr_opcode != DEMI_OPC_PUSH)
                cconn_dead(&cl, c, "push", (int)qr.qr_ret);
            continue;
        }
        if (qr.qr_opcode != DEMI_OPC_POP) {
            cconn_dead(&cl, c, "pop", (int)qr.qr_ret);
            continue;
        }
        if (ex_sga_len(&qr.qr_value.sga) == 0) {
            ex_sgafree(&qr.qr_value.sga);
            cconn_dead(&cl, c, "pop", 0);
            continue;
        }
        if (c->dead) { /* bytes after a failed push: the connection is over */
            ex_sgafree(&qr.qr_value.sga);
            continue;
        }
        rx_append(&c->rx, &qr.qr_value.sga);
        ex_sgafree(&qr.qr_value.sga);
        cconn_replies(&cl, c);
        cconn_fill(&cl, c);
        cconn_pop(&cl, c);
    }
    secs = (double)(ex_now_ns() - t0) / 1e9;
    for (uint32_t i = 0; i < o->conns; i++) {
        in_flight += cl.conns[i].count;
        demi_close(cl.conns[i].qd);
    }
    client_write_acked(&cl);
    printf("%s: %llu records acknowledged (%llu bytes) in %.2f s (%.0f records/s), %llu refused, %llu unanswered\n",
           ex_prog, (unsigned long long)cl.acked_n, (unsigned long long)cl.bytes, secs,
           secs > 0 ? (double)cl.acked_n / secs : 0.0, (unsigned long long)cl.refused, (unsigned long long)in_flight);
    for (uint32_t i = 0; i < o->conns; i++) {
        free(cl.conns[i].fifo);
        free(cl.conns[i].rx.buf);
    }
    free(cl.conns);
    free(cl.acked);
    free(cl.scratch);
    if (cl.acked_n + cl.refused < o->records) {
        printf("%s: the server went away after %llu of %llu records\n", ex_prog,
               (unsigned long long)(cl.acked_n + cl.refused), (unsigned long long)o->records);
        return EXIT_SERVER_GONE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct sigaction sa;

    parse_opts(argc, argv, &o);
    /* Our own handlers, before demi_init: libdemi then leaves them be. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (o.mode == EX_SERVER && (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0))
        ex_die("sigaction: %s", strerror(errno));
    ex_init(argc, argv);
    if (o.mode == EX_SERVER) {
        server(&o);
        return 0;
    }
    return client(&o);
}
