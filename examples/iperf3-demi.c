/* SPDX-License-Identifier: MIT */
/*
 * iperf3-demi: the iperf3 protocol (TCP, one stream) on the public API, so
 * that the stock Linux iperf3 measures libdemi and libdemi measures Linux.
 *
 *   iperf3-demi --server IP PORT [--once]
 *       runs what `iperf3 -c IP -p PORT [-n BYTES | -t SECONDS] [-R] [-l LEN]`
 *       asks for; --once: exit after one test (status 0 if it completed).
 *   iperf3-demi --client IP PORT --bytes N [--reverse] [--len L]
 *       the client side against `iperf3 -s`: sends (or with --reverse
 *       receives) exactly N bytes over one data stream.
 *
 * Both print one summary line on stdout (bytes, seconds, Gbit/s, and the
 * byte count the peer reported). Errors end the program with status 1.
 *
 * The protocol, as iperf3 3.x speaks it. The client opens a control
 * connection and sends a 37-byte cookie (36 characters and a NUL). The server
 * drives the test by sending one signed byte per state: PARAM_EXCHANGE (the
 * client answers with its parameters as JSON), CREATE_STREAMS (the client
 * opens the data connection to the same port and sends the cookie on it
 * too), TEST_START, TEST_RUNNING (data flows). The client ends the test with
 * TEST_END; the server answers EXCHANGE_RESULTS (the client sends its
 * results JSON, the server its own), then DISPLAY_RESULTS, and the client
 * closes with IPERF_DONE. JSON goes as a 4-byte big-endian length, then the
 * text (no NUL). Written from reading iperf3's source (iperf_api.c,
 * iperf_client_api.c, iperf_server_api.c, iperf_tcp.c); none of it is copied.
 *
 * Two choices differ from iperf3 itself, both so byte counts are exact:
 * - The receiving server keeps reading the data connection after TEST_END
 *   until it is idle for IDLE_MS: bytes still in flight when the client's
 *   TEST_END overtook them (it travels on another connection) are counted.
 * - The sending client waits until its data is acknowledged and IDLE_MS
 *   more before sending TEST_END, since a Linux iperf3 server stops counting
 *   at TEST_END. A push completes when its bytes enter the send queue, so it
 *   shrinks SO_SNDBUF to 4 KiB before the last block and pushes that block's
 *   last byte alone: that push completes only once the queue holds no more
 *   than a few KiB.
 *
 * One test at a time; a second client that connects during a test gets
 * ACCESS_DENIED, as from iperf3.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define USAGE                                 \
    "iperf3-demi --server IP PORT [--once]\n" \
    "       iperf3-demi --client IP PORT --bytes N [--reverse] [--len L]"

/* iperf3's control states (iperf.h). */
enum {
    TEST_START = 1,
    TEST_RUNNING = 2,
    TEST_END = 4,
    PARAM_EXCHANGE = 9,
    CREATE_STREAMS = 10,
    SERVER_TERMINATE = 11,
    CLIENT_TERMINATE = 12,
    EXCHANGE_RESULTS = 13,
    DISPLAY_RESULTS = 14,
    IPERF_DONE = 16,
    ACCESS_DENIED = -1,
    SERVER_ERROR = -2,
};

/* iperf3 error numbers sent with SERVER_ERROR (iperf_api.h). */
#define IE_NUMSTREAMS 6 /* "number of parallel streams too large" */
#define IE_UNIMP 13     /* "not implemented yet" */

#define COOKIE_SIZE 37
#define JSON_MAX (64u * 1024u)     /* a longer JSON blob is refused */
#define DEFAULT_LEN (128u * 1024u) /* iperf3's TCP block size */
#define PUSH_DEPTH 8               /* pushes in flight on the data connection */
#define IDLE_MS 100                /* see the header comment */
#define DRAIN_MAX_S 3              /* bound on the receiver's drain after TEST_END */

struct opts {
    enum ex_mode mode;
    struct sockaddr_storage addr;
    int once;
    int reverse;
    uint64_t bytes;
    uint32_t len;
};

/* What a test is about: the parameters' fields iperf3-demi reads. */
struct params {
    int tcp, udp, sctp, reverse, bidir;
    double time;
    uint64_t num, blockcount;
    long parallel;
    uint32_t len;
};

/* ====================================================== a tiny JSON reader */

/*
 * Just enough JSON for iperf3's blobs: validates the whole text (strings,
 * numbers, literals, nesting at most J_DEPTH deep) and finds members of an
 * object by name. Values are spans of the input; nothing is allocated.
 */
#define J_DEPTH 16

enum jtype { J_BAD, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL, J_OBJ, J_ARR };

struct jval {
    enum jtype type;
    const char *p; /* the value's text */
    size_t n;
};

struct jcur {
    const char *p, *end;
};

static void j_ws(struct jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int j_lit(struct jcur *c, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* A string; @s and @n get its raw contents (escapes left as they are). */
static int j_str(struct jcur *c, const char **s, size_t *n)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    *s = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        if ((unsigned char)*c->p < 0x20)
            return -1;
        if (*c->p == '\\') {
            if (++c->p >= c->end)
                return -1;
            if (*c->p == 'u') {
                for (int i = 0; i < 4; i++)
                    if (++c->p >= c->end || !strchr("0123456789abcdefABCDEF", *c->p))
                        return -1;
            } else if (!strchr("\"\\/bfnrt", *c->p)) {
                return -1;
            }
        }
        c->p++;
    }
    if (c->p >= c->end)
        return -1;
    *n = (size_t)(c->p - *s);
    c->p++;
    return 0;
}

static int j_digits(struct jcur *c)
{
    const char *start = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start ? 0 : -1;
}

static int j_num(struct jcur *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (j_digits(c) != 0)
        return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (j_digits(c) != 0)
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (j_digits(c) != 0)
            return -1;
    }
    return 0;
}

/* Parse (validate and skip) one value at the cursor into @v. */
static int j_value(struct jcur *c, struct jval *v, int depth)
{
    const char *s;
    size_t n;

    j_ws(c);
    if (c->p >= c->end || depth > J_DEPTH)
        return -1;
    v->p = c->p;
    switch (*c->p) {
    case '"':
        v->type = J_STR;
        if (j_str(c, &s, &n) != 0)
            return -1;
        break;
    case 't':
        v->type = J_TRUE;
        if (j_lit(c, "true") != 0)
            return -1;
        break;
    case 'f':
        v->type = J_FALSE;
        if (j_lit(c, "false") != 0)
            return -1;
        break;
    case 'n':
        v->type = J_NULL;
        if (j_lit(c, "null") != 0)
            return -1;
        break;
    case '{':
    case '[': {
        int obj = *c->p == '{';
        char close = obj ? '}' : ']';
        struct jval inner;

        v->type = obj ? J_OBJ : J_ARR;
        c->p++;
        j_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            break;
        }
        for (;;) {
            if (obj) {
                j_ws(c);
                if (j_str(c, &s, &n) != 0)
                    return -1;
                j_ws(c);
                if (c->p >= c->end || *c->p++ != ':')
                    return -1;
            }
            if (j_value(c, &inner, depth + 1) != 0)
                return -1;
            j_ws(c);
            if (c->p >= c->end)
                return -1;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p++ != close)
                return -1;
            break;
        }
        break;
    }
    default:
        v->type = J_NUM;
        if (j_num(c) != 0)
            return -1;
    }
    v->n = (size_t)(c->p - v->p);
    return 0;
}

/* Check that @text is exactly one JSON object; its span goes to @v. */
static int j_parse_object(const char *text, size_t len, struct jval *v)
{
    struct jcur c = {text, text + len};

    if (j_value(&c, v, 0) != 0 || v->type != J_OBJ)
        return -1;
    j_ws(&c);
    return c.p == c.end ? 0 : -1;
}

/* Member @key of the (already validated) object @obj; 0 if found. */
static int j_get(const struct jval *obj, const char *key, struct jval *out)
{
    struct jcur c = {obj->p + 1, obj->p + obj->n};
    size_t klen = strlen(key);

    for (;;) {
        const char *s;
        size_t n;

        j_ws(&c);
        if (c.p >= c.end || *c.p == '}' || j_str(&c, &s, &n) != 0)
            return -1;
        j_ws(&c);
        c.p++; /* ':' */
        if (j_value(&c, out, 1) != 0)
            return -1;
        if (n == klen && memcmp(s, key, n) == 0)
            return 0;
        j_ws(&c);
        if (c.p < c.end && *c.p == ',')
            c.p++;
    }
}

/* First element of the (validated) array @arr. */
static int j_first(const struct jval *arr, struct jval *out)
{
    struct jcur c = {arr->p + 1, arr->p + arr->n};

    j_ws(&c);
    if (c.p >= c.end || *c.p == ']')
        return -1;
    return j_value(&c, out, 1);
}

/* A number member as a double; @def when absent. -1 if not a number. */
static int j_get_num(const struct jval *obj, const char *key, double def, double *out)
{
    struct jval v;
    char buf[64];

    *out = def;
    if (j_get(obj, key, &v) != 0)
        return 0;
    if (v.type != J_NUM || v.n >= sizeof(buf))
        return -1;
    memcpy(buf, v.p, v.n);
    buf[v.n] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

/* A non-negative integer member; @def when absent. Digits are exact up to
 * 2^64-1; cJSON writes large counts as doubles ("1e+18"), which are taken
 * when they are whole and in range. */
static int j_get_u64(const struct jval *obj, const char *key, uint64_t def, uint64_t *out)
{
    struct jval v;
    char buf[64];
    int digits = 1;
    double d;

    *out = def;
    if (j_get(obj, key, &v) != 0)
        return 0;
    if (v.type != J_NUM || v.n >= sizeof(buf))
        return -1;
    for (size_t i = 0; i < v.n; i++)
        if (v.p[i] < '0' || v.p[i] > '9')
            digits = 0;
    memcpy(buf, v.p, v.n);
    buf[v.n] = '\0';
    if (digits) {
        errno = 0;
        *out = strtoull(buf, NULL, 10);
        return errno == 0 ? 0 : -1;
    }
    d = strtod(buf, NULL);
    if (!(d >= 0 && d < 18446744073709551616.0) || (double)(uint64_t)d != d)
        return -1; /* negative, fractional or too large: not a count */
    *out = (uint64_t)d;
    return 0;
}

/* A boolean member: 1, 0, or @def when absent; -1 if not a boolean. */
static int j_get_bool(const struct jval *obj, const char *key, int def)
{
    struct jval v;

    if (j_get(obj, key, &v) != 0)
        return def;
    if (v.type == J_TRUE)
        return 1;
    return v.type == J_FALSE ? 0 : -1;
}

/* The client's parameters. Returns NULL or what is wrong with them. */
static const char *parse_params(const char *text, size_t len, struct params *p)
{
    struct jval obj;
    uint64_t parallel, blen;

    memset(p, 0, sizeof(*p));
    if (j_parse_object(text, len, &obj) != 0)
        return "malformed JSON";
    p->tcp = j_get_bool(&obj, "tcp", 0);
    p->udp = j_get_bool(&obj, "udp", 0);
    p->sctp = j_get_bool(&obj, "sctp", 0);
    p->reverse = j_get_bool(&obj, "reverse", 0);
    p->bidir = j_get_bool(&obj, "bidirectional", 0);
    if (p->tcp < 0 || p->udp < 0 || p->sctp < 0 || p->reverse < 0 || p->bidir < 0)
        return "a flag is not true/false";
    if (j_get_num(&obj, "time", 0, &p->time) != 0 || p->time < 0)
        return "bad \"time\"";
    if (j_get_u64(&obj, "num", 0, &p->num) != 0)
        return "bad \"num\"";
    if (j_get_u64(&obj, "blockcount", 0, &p->blockcount) != 0)
        return "bad \"blockcount\"";
    if (j_get_u64(&obj, "parallel", 1, &parallel) != 0 || parallel > 1000000)
        return "bad \"parallel\"";
    p->parallel = (long)parallel;
    if (j_get_u64(&obj, "len", DEFAULT_LEN, &blen) != 0 || blen > EX_SGA_MAX)
        return "bad \"len\" (at most 1 MiB)";
    p->len = blen ? (uint32_t)blen : DEFAULT_LEN;
    return NULL;
}

/* streams[0].bytes of a results blob, or -1 if absent or malformed. */
static int64_t results_bytes(const char *text, size_t len)
{
    struct jval obj, streams, first, bytes_v;
    uint64_t bytes;

    if (j_parse_object(text, len, &obj) != 0 || j_get(&obj, "streams", &streams) != 0 || streams.type != J_ARR ||
        j_first(&streams, &first) != 0 || first.type != J_OBJ)
        return -1;
    if (j_get(&first, "bytes", &bytes_v) != 0 || j_get_u64(&first, "bytes", 0, &bytes) != 0 || bytes > INT64_MAX)
        return -1;
    return (int64_t)bytes;
}

/* ============================================================ connections */

/* A TCP connection read as a byte stream: one pop outstanding at a time,
 * the current popped buffer consumed piecewise. */
struct conn {
    int qd;
    const char *name;
    int pop_pending;
    demi_qtoken_t pop_qt;
    int have; /* sga holds unread bytes from off */
    demi_sgarray_t sga;
    uint32_t off, len;
    int eof;
};

static void conn_init(struct conn *c, int qd, const char *name)
{
    memset(c, 0, sizeof(*c));
    c->qd = qd;
    c->name = name;
}

/* Make sure a pop is outstanding when nothing is buffered. */
static void conn_arm(struct conn *c)
{
    if (c->pop_pending || c->have || c->eof)
        return;
    ex_check(demi_pop(&c->pop_qt, c->qd), "demi_pop");
    c->pop_pending = 1;
}

/* The outstanding pop completed with @qr. */
static void conn_take(struct conn *c, const demi_qresult_t *qr)
{
    c->pop_pending = 0;
    if (qr->qr_opcode == DEMI_OPC_FAILED)
        ex_die("%s connection: %s", c->name, strerror((int)qr->qr_ret));
    if (qr->qr_opcode != DEMI_OPC_POP)
        ex_die("%s connection: unexpected completion", c->name);
    c->sga = qr->qr_value.sga;
    c->len = ex_sga_len(&c->sga);
    c->off = 0;
    if (c->len == 0) {
        c->eof = 1;
        ex_sgafree(&c->sga);
        return;
    }
    c->have = 1;
}

/* Take up to @n buffered bytes (to @dst unless NULL); returns how many. */
static uint32_t conn_consume(struct conn *c, void *dst, uint32_t n)
{
    uint32_t k;

    if (!c->have)
        return 0;
    k = c->len - c->off < n ? c->len - c->off : n;
    if (dst != NULL)
        memcpy(dst, (const uint8_t *)c->sga.sga_segs[0].sgaseg_buf + c->off, k);
    c->off += k;
    if (c->off == c->len) {
        c->have = 0;
        ex_sgafree(&c->sga);
    }
    return k;
}

static void conn_close(struct conn *c)
{
    if (c->have) {
        c->have = 0;
        ex_sgafree(&c->sga);
    }
    if (c->qd >= 0)
        ex_check(demi_close(c->qd), "demi_close");
    c->qd = -1;
    c->pop_pending = 0;
}

/* Bytes moved on the data connection while waiting for the control one. */
static uint64_t drained;

/*
 * Wait until @ctrl has bytes to read or, with @target, until `drained`
 * reaches it. Meanwhile, if @data is given, everything arriving on it is
 * counted in `drained` and released, so a peer still sending never blocks on
 * us. Dies after EX_IO_TIMEOUT_S without progress.
 */
static void pump(struct conn *ctrl, struct conn *data, uint64_t target)
{
    uint64_t idle_ns = (uint64_t)EX_IO_TIMEOUT_S * 1000000000u;
    uint64_t deadline = ex_now_ns() + idle_ns;

    while (!ctrl->have && !(target && drained >= target)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 0};
        demi_qtoken_t qts[2];
        demi_qresult_t qr;
        int n = 0, idx = -1, rc;
        uint64_t now = ex_now_ns();

        if (target && data != NULL && data->eof)
            return;
        if (ctrl->eof)
            ex_die("the peer closed the %s connection", ctrl->name);
        if (now >= deadline)
            ex_die("nothing from the peer within %d s", EX_IO_TIMEOUT_S);
        ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
        ts.tv_nsec = (long)((deadline - now) % 1000000000u);
        conn_arm(ctrl);
        qts[n++] = ctrl->pop_qt;
        if (data != NULL) {
            drained += conn_consume(data, NULL, UINT32_MAX);
            conn_arm(data);
            if (data->pop_pending)
                qts[n++] = data->pop_qt;
        }
        rc = demi_wait_any(&qr, &idx, qts, n, &ts);
        if (rc == ETIMEDOUT)
            continue;
        ex_check(rc, "demi_wait_any");
        deadline = ex_now_ns() + idle_ns;
        if (idx == 0) {
            conn_take(ctrl, &qr);
        } else if (qr.qr_opcode == DEMI_OPC_FAILED) {
            /* The peer may reset a data connection it is done with. */
            data->pop_pending = 0;
            data->eof = 1;
        } else {
            conn_take(data, &qr);
            drained += conn_consume(data, NULL, UINT32_MAX);
        }
    }
}

/* Read exactly @n bytes from @c (a control message). */
static void conn_read(struct conn *c, void *buf, uint32_t n, struct conn *data)
{
    uint8_t *p = buf;

    while (n > 0) {
        uint32_t k;

        pump(c, data, 0);
        k = conn_consume(c, p, n);
        p += k;
        n -= k;
    }
}

/* Send @n bytes on @qd and wait until the libOS took them. */
static void send_bytes(int qd, const void *buf, size_t n, const char *what)
{
    demi_sgarray_t sga = ex_sgaalloc(n);
    demi_qtoken_t qt;

    memcpy(sga.sga_segs[0].sgaseg_buf, buf, n);
    ex_check(demi_push(&qt, qd, &sga), what);
    ex_sgafree(&sga); /* the push holds its own reference */
    (void)ex_wait(qt, EX_IO_TIMEOUT_S, DEMI_OPC_PUSH, what);
}

static void send_state(int qd, signed char state)
{
    send_bytes(qd, &state, 1, "push state");
}

static signed char read_state(struct conn *ctrl, struct conn *data)
{
    signed char s;

    conn_read(ctrl, &s, 1, data);
    return s;
}

static void send_json(int qd, const char *json)
{
    size_t n = strlen(json);
    char *msg = malloc(n + 4);
    uint32_t be = htonl((uint32_t)n);

    if (msg == NULL)
        ex_die("out of memory");
    memcpy(msg, &be, 4);
    memcpy(msg + 4, json, n);
    send_bytes(qd, msg, n + 4, "push JSON");
    free(msg);
}

/* A JSON blob from the peer, NUL-terminated (free() it); length in *len. */
static char *read_json(struct conn *ctrl, struct conn *data, uint32_t *len)
{
    uint32_t be;
    char *text;

    conn_read(ctrl, &be, 4, data);
    *len = ntohl(be);
    if (*len > JSON_MAX)
        ex_die("refusing a %lu-byte JSON message (at most %u)", (unsigned long)*len, JSON_MAX);
    text = malloc(*len + 1);
    if (text == NULL)
        ex_die("out of memory");
    conn_read(ctrl, text, *len, data);
    text[*len] = '\0';
    return text;
}

static void send_results(int qd, int sender, uint64_t bytes, double secs)
{
    char json[512];

    /* We know no CPU use or retransmissions: report 0, and "no retransmit
     * counts" (sender_has_retransmits 0) when we sent. */
    snprintf(json, sizeof(json),
             "{\"cpu_util_total\":0,\"cpu_util_user\":0,\"cpu_util_system\":0,"
             "\"sender_has_retransmits\":%d,\"streams\":[{\"id\":1,\"bytes\":%llu,"
             "\"retransmits\":%d,\"jitter\":0,\"errors\":0,\"omitted_errors\":0,\"packets\":0,"
             "\"omitted_packets\":0,\"start_time\":0,\"end_time\":%.6f}]}",
             sender ? 0 : -1, (unsigned long long)bytes, sender ? 0 : -1, secs);
    send_json(qd, json);
}

static void summary(const char *role, int sender, uint64_t bytes, double secs, int64_t peer)
{
    if (secs <= 0)
        secs = 1e-9;
    printf("%s: %s: %s %llu bytes in %.3f s = %.3f Gbit/s (peer counted %lld)\n", ex_prog, role,
           sender ? "sent" : "received", (unsigned long long)bytes, secs, (double)bytes * 8 / secs / 1e9,
           (long long)peer);
    fflush(stdout);
}

/* ============================================================ data phase */

/*
 * Send on @data until @limit bytes went (0: no limit) and, when @until_ctrl,
 * until the control connection has a message (the peer's TEST_END). Blocks
 * of @len bytes, PUSH_DEPTH in flight. Returns the bytes whose push completed.
 * @last_sync: push the final block only once the rest is acknowledged (see
 * the header comment).
 */
static uint64_t send_data(struct conn *ctrl, int data, uint64_t limit, uint32_t len, int until_ctrl, int last_sync)
{
    static const char digits[] = "0123456789abcdef";
    uint8_t *tmpl = malloc(len);
    demi_qtoken_t qts[PUSH_DEPTH + 1];
    uint32_t sizes[PUSH_DEPTH + 1];
    uint64_t queued = 0, done = 0;
    int inflight = 0; /* qts[1..inflight] */
    int synced = 0;

    if (tmpl == NULL)
        ex_die("out of memory");
    for (uint32_t i = 0; i < len; i++)
        tmpl[i] = (uint8_t)digits[i % 16];
    for (;;) {
        struct timespec ts = {.tv_sec = EX_IO_TIMEOUT_S, .tv_nsec = 0};
        demi_qresult_t qr;
        int idx = -1, rc;

        while (inflight < PUSH_DEPTH && (limit == 0 || queued < limit)) {
            uint64_t left = limit ? limit - queued : len;
            uint32_t n = left < len ? (uint32_t)left : len;
            demi_sgarray_t sga;
            demi_qtoken_t qt;

            if (last_sync && limit && left <= len) {
                int small = 4096;

                if (!synced) {
                    if (inflight > 0)
                        break; /* the last block waits for the others */
                    ex_check(demi_setsockopt(data, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
                             "demi_setsockopt(SO_SNDBUF)");
                    synced = 1;
                }
                /* The last byte goes alone: its push completes once the
                 * rest of the last block is acknowledged too. */
                if (left > 1)
                    n = (uint32_t)(left - 1);
            }
            sga = ex_sgaalloc(n);
            memcpy(sga.sga_segs[0].sgaseg_buf, tmpl, n);
            ex_check(demi_push(&qt, data, &sga), "demi_push (data)");
            ex_sgafree(&sga);
            qts[++inflight] = qt;
            sizes[inflight] = n;
            queued += n;
        }
        if (!until_ctrl && limit && done == limit)
            break;
        conn_arm(ctrl);
        if (ctrl->have)
            break;
        qts[0] = ctrl->pop_qt;
        rc = demi_wait_any(&qr, &idx, qts, inflight + 1, &ts);
        if (rc == ETIMEDOUT)
            ex_die("data connection stalled for %d s", EX_IO_TIMEOUT_S);
        ex_check(rc, "demi_wait_any");
        if (idx == 0) {
            conn_take(ctrl, &qr);
            break;
        }
        if (qr.qr_opcode != DEMI_OPC_PUSH)
            ex_die("data connection: %s",
                   qr.qr_opcode == DEMI_OPC_FAILED ? strerror((int)qr.qr_ret) : "bad completion");
        done += sizes[idx];
        memmove(&qts[idx], &qts[idx + 1], (size_t)(inflight - idx) * sizeof(qts[0]));
        memmove(&sizes[idx], &sizes[idx + 1], (size_t)(inflight - idx) * sizeof(sizes[0]));
        inflight--;
    }
    free(tmpl);
    return done;
}

/* Wait until the control connection has been quiet for IDLE_MS while data
 * still drains; bounded by DRAIN_MAX_S. */
static void drain_idle(struct conn *ctrl, struct conn *data)
{
    uint64_t end = ex_now_ns() + (uint64_t)DRAIN_MAX_S * 1000000000u;

    while (ex_now_ns() < end && !data->eof && !ctrl->have) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = IDLE_MS * 1000000L};
        demi_qresult_t qr;

        drained += conn_consume(data, NULL, UINT32_MAX);
        conn_arm(data);
        if (demi_wait(&qr, data->pop_qt, &ts) == ETIMEDOUT)
            break;
        if (qr.qr_opcode == DEMI_OPC_FAILED) {
            data->pop_pending = 0;
            data->eof = 1;
            break;
        }
        conn_take(data, &qr);
    }
    drained += conn_consume(data, NULL, UINT32_MAX);
}

static void make_cookie(char cookie[COOKIE_SIZE])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[COOKIE_SIZE - 1];
    FILE *f = fopen("/dev/urandom", "rb");

    if (f == NULL || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
        uint64_t x = ex_now_ns();
        for (size_t i = 0; i < sizeof(rnd); i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            rnd[i] = (unsigned char)(x >> 56);
        }
    }
    if (f != NULL)
        fclose(f);
    for (int i = 0; i < COOKIE_SIZE - 1; i++)
        cookie[i] = alphabet[rnd[i] % 32];
    cookie[COOKIE_SIZE - 1] = '\0';
}

/* ================================================================ server */

static void server_error(int qd, int ierr, const char *why)
{
    signed char s = SERVER_ERROR;
    uint32_t words[2] = {htonl((uint32_t)ierr), 0};

    fprintf(stderr, "%s: refusing the test: %s\n", ex_prog, why);
    send_bytes(qd, &s, 1, "push SERVER_ERROR");
    send_bytes(qd, words, sizeof(words), "push SERVER_ERROR");
}

/* Accept the data connection carrying @cookie; others are denied. */
static int accept_stream(int lqd, const char *cookie)
{
    for (int tries = 0; tries < 16; tries++) {
        struct conn c;
        char got[COOKIE_SIZE];
        int qd = ex_tcp_accept(lqd);

        conn_init(&c, qd, "data");
        conn_read(&c, got, COOKIE_SIZE, NULL);
        if (memcmp(got, cookie, COOKIE_SIZE) == 0) {
            if (c.have) /* data after the cookie: the client starts early */
                drained += conn_consume(&c, NULL, UINT32_MAX);
            return qd;
        }
        /* Another client while a test runs: what iperf3 says to it. */
        send_state(qd, ACCESS_DENIED);
        conn_close(&c);
    }
    ex_die("no data connection with the test's cookie");
}

/* One test; returns 0 if it ran to IPERF_DONE. */
static int serve_one(int lqd, int first_timeout)
{
    struct conn ctrl, data;
    struct params p;
    char cookie[COOKIE_SIZE];
    const char *bad;
    char *text;
    uint32_t jlen;
    uint64_t t0, t1, bytes;
    int64_t peer;
    signed char st;
    demi_qtoken_t qt;
    demi_qresult_t qr;

    ex_check(demi_accept(&qt, lqd), "demi_accept");
    qr = ex_wait(qt, first_timeout, DEMI_OPC_ACCEPT, "accept");
    conn_init(&ctrl, qr.qr_value.ares.qd, "control");
    conn_read(&ctrl, cookie, COOKIE_SIZE, NULL);
    send_state(ctrl.qd, PARAM_EXCHANGE);
    text = read_json(&ctrl, NULL, &jlen);
    bad = parse_params(text, jlen, &p);
    free(text);
    if (bad == NULL && (p.udp || p.sctp || !p.tcp))
        bad = "only TCP tests are supported";
    if (bad == NULL && p.bidir)
        bad = "--bidir is not supported";
    if (bad != NULL) {
        server_error(ctrl.qd, IE_UNIMP, bad);
        conn_close(&ctrl);
        return 1;
    }
    if (p.parallel > 1) {
        char why[96];
        snprintf(why, sizeof(why), "%ld parallel streams asked; iperf3-demi runs one (-P 1)", p.parallel);
        server_error(ctrl.qd, IE_NUMSTREAMS, why);
        conn_close(&ctrl);
        return 1;
    }
    send_state(ctrl.qd, CREATE_STREAMS);
    drained = 0;
    conn_init(&data, accept_stream(lqd, cookie), "data");
    send_state(ctrl.qd, TEST_START);
    send_state(ctrl.qd, TEST_RUNNING);
    t0 = ex_now_ns();
    if (p.reverse) {
        /* We send: exactly num bytes in -n mode (as iperf3), else until TEST_END. */
        bytes = send_data(&ctrl, data.qd, p.num, p.len, 1, 0);
        t1 = ex_now_ns();
        st = read_state(&ctrl, NULL);
    } else {
        st = read_state(&ctrl, &data);
        t1 = ex_now_ns();
        if (st == TEST_END)
            drain_idle(&ctrl, &data);
        bytes = drained;
    }
    conn_close(&data);
    if (st == CLIENT_TERMINATE)
        ex_die("the client ended the test (CLIENT_TERMINATE)");
    if (st != TEST_END)
        ex_die("expected TEST_END, got state %d", st);
    send_state(ctrl.qd, EXCHANGE_RESULTS);
    text = read_json(&ctrl, NULL, &jlen);
    peer = results_bytes(text, jlen);
    free(text);
    if (peer < 0)
        ex_die("malformed results from the client");
    send_results(ctrl.qd, p.reverse, bytes, (double)(t1 - t0) / 1e9);
    send_state(ctrl.qd, DISPLAY_RESULTS);
    st = read_state(&ctrl, NULL);
    if (st != IPERF_DONE && st != CLIENT_TERMINATE)
        ex_die("expected IPERF_DONE, got state %d", st);
    conn_close(&ctrl);
    summary("server", p.reverse, bytes, (double)(t1 - t0) / 1e9, peer);
    return 0;
}

static int run_server(const struct opts *o)
{
    int lqd = ex_tcp_listen(&o->addr);
    int rc;

    fprintf(stderr, "%s: listening on %s\n", ex_prog, ex_addr_str(&o->addr));
    do
        rc = serve_one(lqd, o->once ? EX_ACCEPT_TIMEOUT_S : 0);
    while (!o->once);
    ex_check(demi_close(lqd), "demi_close");
    return rc;
}

/* ================================================================ client */

static int run_client(const struct opts *o)
{
    struct conn ctrl, data;
    char cookie[COOKIE_SIZE];
    char json[512];
    char *text;
    uint32_t jlen;
    uint64_t t0 = 0, t1 = 0, bytes = 0;
    int64_t peer = -1;
    int running = 1;

    make_cookie(cookie);
    conn_init(&ctrl, ex_tcp_connect(&o->addr), "control");
    conn_init(&data, -1, "data");
    send_bytes(ctrl.qd, cookie, COOKIE_SIZE, "push cookie");
    while (running) {
        signed char st = read_state(&ctrl, data.qd >= 0 ? &data : NULL);
        uint32_t words[2];

        switch (st) {
        case PARAM_EXCHANGE:
            snprintf(json, sizeof(json),
                     "{\"tcp\":true,\"omit\":0,\"time\":0,\"num\":%llu,\"blockcount\":0,"
                     "\"parallel\":1,%s\"len\":%u,\"pacing_timer\":1000,"
                     "\"client_version\":\"3.12\"}",
                     (unsigned long long)o->bytes, o->reverse ? "\"reverse\":true," : "", (unsigned)o->len);
            send_json(ctrl.qd, json);
            break;
        case CREATE_STREAMS:
            data.qd = ex_tcp_connect(&o->addr);
            send_bytes(data.qd, cookie, COOKIE_SIZE, "push cookie");
            break;
        case TEST_START:
            break;
        case TEST_RUNNING:
            t0 = ex_now_ns();
            drained = 0;
            if (o->reverse) {
                /* A control message before the last byte: an error state. */
                pump(&ctrl, &data, o->bytes);
                if (!ctrl.have && drained < o->bytes)
                    ex_die("the server closed the data connection early");
                t1 = ex_now_ns();
                /* iperf3 checks -n after a write: it may send one block
                 * more than asked. Count it too, so both sides agree. */
                if (!ctrl.have)
                    drain_idle(&ctrl, &data);
                bytes = drained;
            } else {
                bytes = send_data(&ctrl, data.qd, o->bytes, o->len, 0, 1);
                t1 = ex_now_ns();
                if (!ctrl.have) {
                    /* Let the server read what was acknowledged; waiting
                     * on the control pop keeps our stack running meanwhile. */
                    struct timespec ts = {.tv_sec = 0, .tv_nsec = IDLE_MS * 1000000L};
                    demi_qresult_t qr;

                    conn_arm(&ctrl);
                    if (demi_wait(&qr, ctrl.pop_qt, &ts) == 0)
                        conn_take(&ctrl, &qr);
                }
            }
            if (ctrl.have && bytes < o->bytes)
                break; /* the server says something first: next round reads it */
            send_state(ctrl.qd, TEST_END);
            break;
        case EXCHANGE_RESULTS:
            send_results(ctrl.qd, !o->reverse, bytes, (double)(t1 - t0) / 1e9);
            text = read_json(&ctrl, &data, &jlen);
            peer = results_bytes(text, jlen);
            free(text);
            if (peer < 0)
                ex_die("malformed results from the server");
            break;
        case DISPLAY_RESULTS:
            send_state(ctrl.qd, IPERF_DONE);
            running = 0;
            break;
        case ACCESS_DENIED:
            ex_die("the server is busy running a test (ACCESS_DENIED)");
        case SERVER_ERROR:
            conn_read(&ctrl, words, sizeof(words), NULL);
            ex_die("the server refused the test: iperf3 error %u, errno %u", (unsigned)ntohl(words[0]),
                   (unsigned)ntohl(words[1]));
        case SERVER_TERMINATE:
            ex_die("the server ended the test (SERVER_TERMINATE)");
        default:
            ex_die("unexpected control state %d", st);
        }
    }
    if (data.qd >= 0)
        conn_close(&data);
    conn_close(&ctrl);
    summary("client", !o->reverse, bytes, (double)(t1 - t0) / 1e9, peer);
    return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    ex_set_prog(argc, argv);
    memset(o, 0, sizeof(*o));
    o->len = DEFAULT_LEN;
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
        if (!server && strcmp(opt, "--reverse") == 0) {
            o->reverse = 1;
            continue;
        }
        if (val == NULL)
            ex_die("unknown option or missing value: '%s'\nusage: %s", opt, USAGE);
        if (!server && strcmp(opt, "--bytes") == 0)
            o->bytes = ex_parse_ulong(val, "--bytes", 1, (unsigned long)1 << 40);
        else if (!server && strcmp(opt, "--len") == 0)
            o->len = (uint32_t)ex_parse_ulong(val, "--len", 1, EX_SGA_MAX);
        else
            ex_die("unknown option '%s'\nusage: %s", opt, USAGE);
        i++;
    }
    if (o->mode == EX_CLIENT && o->bytes == 0)
        ex_die("--client needs --bytes N\nusage: %s", USAGE);
}

int main(int argc, char **argv)
{
    struct opts o;

    parse_opts(argc, argv, &o);
    ex_init(argc, argv);
    return o.mode == EX_SERVER ? run_server(&o) : run_client(&o);
}
