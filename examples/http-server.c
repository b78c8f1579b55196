/* SPDX-License-Identifier: MIT */
/*
 * http-server: a small HTTP/1.1 server on the public API, for checking
 * libdemi's TCP against everyday clients (curl, wget, browsers).
 *
 *   http-server --server IP PORT [--once | --requests N]
 *
 *   GET /          a short text page
 *   GET /bytes/N   N bytes (at most 1 GiB) of a fixed pattern: record k, at
 *                  offset 16k, is k as 15 lower-case hex digits and "\n"
 *                  ("000000000000000\n000000000000001\n..."), cut after N
 *                  bytes. A chunk that is lost, repeated or shifted changes
 *                  the checksum; python3 -c "import sys;
 *                  sys.stdout.write(''.join('%015x\n' % k for k in
 *                  range(N // 16 + 1))[:N])" makes the same bytes.
 *   HEAD           the same headers, no body
 *
 * 404 for other paths, 405 for other methods, 400 for malformed requests,
 * 431 when the request line and headers exceed 8 KiB. Connections are kept
 * alive (HTTP/1.1's default; "Connection: close" and HTTP/1.0 without
 * "keep-alive" close after the response), and pipelined requests are
 * answered in order. Bodies are streamed in 64 KiB buffers from
 * demi_sgaalloc, a few pushes in flight, never built whole.
 *
 * One connection at a time: the next client waits in the listen backlog
 * until the current one closes or is idle for EX_IO_TIMEOUT_S. --once exits
 * after the first connection, --requests N after N responses; otherwise it
 * serves until killed.
 */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USAGE "http-server --server IP PORT [--once | --requests N]"

#define HDR_MAX 8192u                 /* request line + headers */
#define CHUNK (64u * 1024u)           /* body bytes per push */
#define BYTES_MAX (1ull << 30)        /* largest /bytes/N */
#define BODY_DISCARD_MAX (1ull << 20) /* request bodies we skip over */
#define PUSH_DEPTH 8                  /* body pushes in flight */

static const char index_page[] = "libdemi http-server\n"
                                 "GET /bytes/N for N bytes of the test pattern (N <= 1073741824)\n";

struct opts {
    struct sockaddr_storage addr;
    int once;
    unsigned long requests; /* 0: no limit */
};

/* A connection's receive side: popped bytes not yet parsed. */
struct conn {
    int qd;
    char buf[HDR_MAX];
    uint32_t used;
    demi_sgarray_t sga; /* a popped buffer not yet copied into buf */
    uint32_t off, len;
    int have;
    int eof; /* end of stream, reset or idle timeout */
};

struct request {
    char method[16];
    char path[HDR_MAX];
    int http10;
    int keep_alive;
    uint64_t content_length;
};

/* ------------------------------------------------------------- receiving */

/* Pop once more (bounded by EX_IO_TIMEOUT_S). 0, or -1 at end of stream. */
static int conn_pop(struct conn *c)
{
    struct timespec ts = {.tv_sec = EX_IO_TIMEOUT_S, .tv_nsec = 0};
    demi_qtoken_t qt;
    demi_qresult_t qr;

    if (c->eof)
        return -1;
    ex_check(demi_pop(&qt, c->qd), "demi_pop");
    /* A timeout leaves the pop pending; closing the queue cancels it. */
    if (demi_wait(&qr, qt, &ts) != 0 || qr.qr_opcode != DEMI_OPC_POP) {
        c->eof = 1;
        return -1;
    }
    c->sga = qr.qr_value.sga;
    c->len = ex_sga_len(&c->sga);
    c->off = 0;
    if (c->len == 0) {
        ex_sgafree(&c->sga);
        c->eof = 1;
        return -1;
    }
    c->have = 1;
    return 0;
}

/* Move popped bytes into buf while there is room. */
static void conn_fill(struct conn *c)
{
    uint32_t room = HDR_MAX - c->used;
    uint32_t k;

    if (!c->have)
        return;
    k = c->len - c->off < room ? c->len - c->off : room;
    memcpy(c->buf + c->used, (const char *)c->sga.sga_segs[0].sgaseg_buf + c->off, k);
    c->used += k;
    c->off += k;
    if (c->off == c->len) {
        c->have = 0;
        ex_sgafree(&c->sga);
    }
}

/* Drop the first @n bytes of buf. */
static void conn_shift(struct conn *c, uint32_t n)
{
    memmove(c->buf, c->buf + n, c->used - n);
    c->used -= n;
}

/* Skip @n bytes of request body. 0, or -1 if the stream ended first. */
static int conn_discard(struct conn *c, uint64_t n)
{
    while (n > 0) {
        uint32_t k;

        if (c->used == 0 && !c->have && conn_pop(c) != 0)
            return -1;
        conn_fill(c);
        k = c->used < n ? c->used : (uint32_t)n;
        conn_shift(c, k);
        n -= k;
    }
    return 0;
}

/* Length of the header block in buf (up to and including the empty line),
 * or 0 if it is not complete yet. Bare LF line ends are accepted. */
static uint32_t header_end(const struct conn *c)
{
    for (uint32_t i = 0; i + 1 < c->used; i++) {
        if (c->buf[i] != '\n')
            continue;
        if (c->buf[i + 1] == '\n')
            return i + 2;
        if (c->buf[i + 1] == '\r' && i + 2 < c->used && c->buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* ---------------------------------------------------------------- parsing */

static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Does the comma-separated header value @v contain the token @tok? */
static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);

    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (strncasecmp(v, tok, n) == 0 && (v[n] == '\0' || v[n] == ',' || v[n] == ' ' || v[n] == '\t'))
            return 1;
        while (*v && *v != ',')
            v++;
    }
    return 0;
}

/*
 * Parse the header block @h (NUL-terminated, lines ending in LF or CRLF).
 * Returns 0, or the status to answer with (400).
 */
static int parse_request(char *h, struct request *r)
{
    char *line, *next, *sp1, *sp2, *end;
    int have_host = 0, have_cl = 0;

    memset(r, 0, sizeof(*r));
    for (line = h; line != NULL; line = next) {
        char *name, *value, *colon;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        end = line + strlen(line);
        if (end > line && end[-1] == '\r')
            *--end = '\0';
        for (char *q = line; q < end; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return 400;
        if (line == h) { /* METHOD SP TARGET SP HTTP/1.x */
            sp1 = strchr(line, ' ');
            sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
            if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
                return 400;
            *sp1 = *sp2 = '\0';
            if (sp1 == line || (size_t)(sp1 - line) >= sizeof(r->method) || sp2 == sp1 + 1)
                return 400;
            for (char *q = line; *q; q++)
                if (!is_tchar(*q))
                    return 400;
            strcpy(r->method, line);
            strcpy(r->path, sp1 + 1);
            if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
                r->http10 = 0;
            else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
                r->http10 = 1;
            else
                return 400;
            r->keep_alive = !r->http10;
            continue;
        }
        if (*line == '\0')
            break; /* the empty line */
        if (*line == ' ' || *line == '\t')
            return 400; /* obsolete line folding */
        colon = strchr(line, ':');
        if (colon == NULL || colon == line)
            return 400;
        *colon = '\0';
        for (char *q = line; *q; q++)
            if (!is_tchar(*q))
                return 400;
        name = line;
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (strcasecmp(name, "Host") == 0) {
            have_host = 1;
        } else if (strcasecmp(name, "Connection") == 0) {
            if (has_token(value, "close"))
                r->keep_alive = 0;
            else if (has_token(value, "keep-alive"))
                r->keep_alive = 1;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            char *stop;
            unsigned long long v;

            if (have_cl || *value < '0' || *value > '9')
                return 400;
            errno = 0;
            v = strtoull(value, &stop, 10);
            while (*stop == ' ' || *stop == '\t')
                stop++;
            if (errno != 0 || *stop != '\0')
                return 400;
            r->content_length = v;
            have_cl = 1;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            return 400; /* no request bodies of unknown length */
        }
    }
    if (!r->http10 && !have_host)
        return 400; /* RFC 9112 3.2 */
    return 0;
}

/* ------------------------------------------------------------- responding */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    }
    return "Error";
}

/* Bytes [off, off + n) of the /bytes pattern into @buf. */
static void fill_pattern(uint8_t *buf, uint64_t off, uint32_t n)
{
    static const char hex[] = "0123456789abcdef";
    char rec[16];

    while (n > 0) {
        uint64_t k = off / 16;
        uint32_t r = (uint32_t)(off % 16);
        uint32_t take = 16 - r < n ? 16 - r : n;

        for (int i = 14; i >= 0; i--) {
            rec[i] = hex[k & 15];
            k >>= 4;
        }
        rec[15] = '\n';
        memcpy(buf, rec + r, take);
        buf += take;
        off += take;
        n -= take;
    }
}

/* Push the header block @head, then @n bytes of @data (of the /bytes
 * pattern when @data is NULL), in CHUNK pieces with PUSH_DEPTH in flight.
 * 0, or -1 if the peer is gone or stalls for EX_IO_TIMEOUT_S. */
static int push_body(int qd, const char *head, size_t head_len, const char *data, uint64_t n)
{
    demi_qtoken_t ring[PUSH_DEPTH];
    unsigned first = 0, count = 0;
    uint64_t off = 0;
    int failed = 0;
    size_t hl = head_len;

    while (!failed && (hl > 0 || off < n || count > 0)) {
        if (count == PUSH_DEPTH || (hl == 0 && off >= n)) {
            struct timespec ts = {.tv_sec = EX_IO_TIMEOUT_S, .tv_nsec = 0};
            demi_qresult_t qr;

            /* Pushes on a queue complete in order: wait for the oldest. */
            if (demi_wait(&qr, ring[first], &ts) != 0 || qr.qr_opcode != DEMI_OPC_PUSH)
                failed = 1;
            first = (first + 1) % PUSH_DEPTH;
            count--;
            continue;
        }
        {
            /* The headers share the first buffer with the start of the body. */
            uint64_t left = n - off;
            uint32_t room = (uint32_t)(CHUNK > hl ? CHUNK - hl : 0);
            uint32_t body = left < room ? (uint32_t)left : room;
            size_t total = hl + body;
            demi_sgarray_t sga = ex_sgaalloc(total);
            uint8_t *p = sga.sga_segs[0].sgaseg_buf;
            demi_qtoken_t qt;

            memcpy(p, head, hl);
            if (data != NULL)
                memcpy(p + hl, data + off, body);
            else
                fill_pattern(p + hl, off, body);
            if (demi_push(&qt, qd, &sga) != 0)
                failed = 1;
            ex_sgafree(&sga); /* the push holds its own reference */
            if (failed)
                break;
            ring[(first + count) % PUSH_DEPTH] = qt;
            count++;
            off += body;
            hl = 0;
        }
    }
    return failed ? -1 : 0;
}

/* Answer one request. Returns 0 to keep the connection, -1 to close it. */
static int respond(int qd, int status, const struct request *r, int keep, const char *text, uint64_t pattern_len)
{
    char head[512];
    uint64_t len = text != NULL ? strlen(text) : pattern_len;
    int is_head = r != NULL && strcmp(r->method, "HEAD") == 0;
    int n;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nServer: libdemi-http-server\r\nContent-Type: %s\r\n"
                 "Content-Length: %llu\r\n%sConnection: %s\r\n\r\n",
                 status, reason(status), text != NULL ? "text/plain; charset=utf-8" : "application/octet-stream",
                 (unsigned long long)len, status == 405 ? "Allow: GET, HEAD\r\n" : "", keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof(head))
        ex_die("response header too long");
    fprintf(stderr, "%s: %s %s -> %d (%llu bytes)\n", ex_prog, r ? r->method : "-", r ? r->path : "-", status,
            (unsigned long long)len);
    if (push_body(qd, head, (size_t)n, text, is_head ? 0 : len) != 0)
        return -1;
    return keep ? 0 : -1;
}

/* /bytes/N: N, or -1 if the path is not of that form or N is too large. */
static int64_t bytes_path(const char *path)
{
    const char *d = path + strlen("/bytes/");
    uint64_t v = 0;

    if (strncmp(path, "/bytes/", strlen("/bytes/")) != 0 || *d == '\0')
        return -1;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || (v = v * 10 + (uint64_t)(*d - '0')) > BYTES_MAX)
            return -1;
    }
    return (int64_t)v;
}

/* One request from the head of c->buf (header block of @hlen bytes). */
static int handle(struct conn *c, uint32_t hlen)
{
    char h[HDR_MAX + 1];
    struct request r;
    char *q;
    int status;
    int64_t n;

    memcpy(h, c->buf, hlen);
    h[hlen] = '\0';
    conn_shift(c, hlen);
    status = parse_request(h, &r);
    if (status != 0)
        return respond(c->qd, status, NULL, 0, "bad request\n", 0);
    if (strcmp(r.method, "GET") != 0 && strcmp(r.method, "HEAD") != 0)
        return respond(c->qd, 405, &r, 0, "method not allowed\n", 0);
    if (r.content_length > BODY_DISCARD_MAX)
        return respond(c->qd, 413, &r, 0, "request body too large\n", 0);
    if (conn_discard(c, r.content_length) != 0)
        return -1;
    q = strchr(r.path, '?');
    if (q != NULL)
        *q = '\0'; /* the query does not select anything here */
    if (strcmp(r.path, "/") == 0)
        return respond(c->qd, 200, &r, r.keep_alive, index_page, 0);
    n = bytes_path(r.path);
    if (n >= 0)
        return respond(c->qd, 200, &r, r.keep_alive, NULL, (uint64_t)n);
    return respond(c->qd, 404, &r, r.keep_alive, "not found\n", 0);
}

/* Serve one connection until it closes; counts responses in *served. */
static void serve_conn(int qd, const struct opts *o, unsigned long *served)
{
    static struct conn c; /* one connection at a time; 8 KiB is no stack object */

    memset(&c, 0, sizeof(c));
    c.qd = qd;
    for (;;) {
        uint32_t hlen;

        conn_fill(&c);
        hlen = header_end(&c);
        if (hlen == 0) {
            if (c.used == HDR_MAX) {
                respond(qd, 431, NULL, 0, "request headers too large\n", 0);
                ++*served;
                break;
            }
            if (c.have)
                continue;
            if (conn_pop(&c) != 0)
                break; /* closed, reset or idle */
            continue;
        }
        ++*served;
        if (handle(&c, hlen) != 0)
            break;
        if (o->requests != 0 && *served >= o->requests)
            break;
    }
    if (c.have)
        ex_sgafree(&c.sga);
    /* Graceful: queued response bytes go out before the FIN. */
    ex_check(demi_close(qd), "demi_close");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    ex_set_prog(argc, argv);
    memset(o, 0, sizeof(*o));
    if (argc < 4 || strcmp(argv[1], "--server") != 0)
        ex_die("usage: %s", USAGE);
    ex_parse_addr(argv[2], argv[3], &o->addr);
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            o->once = 1;
        else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            o->requests = ex_parse_ulong(argv[++i], "--requests", 1, 1000000000);
        else
            ex_die("unknown option '%s'\nusage: %s", argv[i], USAGE);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    unsigned long served = 0;
    int lqd;

    parse_opts(argc, argv, &o);
    ex_init(argc, argv);
    lqd = ex_tcp_listen(&o.addr);
    fprintf(stderr, "%s: listening on %s\n", ex_prog, ex_addr_str(&o.addr));
    for (;;) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        int bounded = o.once || o.requests != 0;

        ex_check(demi_accept(&qt, lqd), "demi_accept");
        qr = ex_wait(qt, bounded ? EX_ACCEPT_TIMEOUT_S : 0, DEMI_OPC_ACCEPT, "accept");
        serve_conn(qr.qr_value.ares.qd, &o, &served);
        if (o.once || (o.requests != 0 && served >= o.requests))
            break;
    }
    ex_check(demi_close(lqd), "demi_close");
    fprintf(stderr, "%s: served %lu requests\n", ex_prog, served);
    return 0;
}
