/* SPDX-License-Identifier: MIT */
/*
 * pktrun: a packetdrill-style runner for libdemi's TCP.
 *
 * Each script runs in a child process of its own (demi_init once per
 * process) on LIBOS=cattest: the runner plays the remote peer 192.0.2.1
 * (2001:db8::1 in a script that starts with "ipv6"), injects the segments
 * the script writes as "<" lines and checks every segment the stack sends
 * against the script's ">" lines, in virtual time.
 * Scripts call the PDPIX API through a small syscall language. See
 * tests/pkt/README.md for the language.
 *
 * Only the public headers are used: <demi/...h> (the PDPIX calls, the
 * harness extension and libdemi's socket extensions) and libc.
 */
#define _GNU_SOURCE
#include <demi/ext.h>
#include <demi/harness.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRIPT_TIMEOUT_S 10
#define PEER_ADDR "192.0.2.1"
#define DEFAULT_LOCAL_ADDR "192.0.2.2"
#define PEER_ADDR6 "2001:db8::1"
#define DEFAULT_LOCAL_ADDR6 "2001:db8::2"
#define IP6_HOPS 64                /* the stack's default hop limit (RFC 8200 allows any; ours is fixed) */
#define DAD_WAIT_NS 10000000000ull /* DAD takes 1 s (one NS, RFC 4862); give up after 10 */
#define DEFAULT_PEER_PORT 50000
#define DEFAULT_LOCAL_PORT 8080
#define DEFAULT_PEER_ISN 1000000u
#define DEFAULT_TOLERANCE_NS 2000000ull /* 2 ms */
#define STEP_NS 10000ull                /* clock step: about the stack's timer tick (8.192 us) */
#define MAX_PENDING 1024
#define MAX_OPTS 16
#define MAX_VARS 64
#define MAX_QDS 64
#define MAX_CONNS 16
#define MAX_PKT 65536

/* ---- failure reporting --------------------------------------------------- */

static bool g_verbose;
static int g_result_fd = -1; /* the child reports its verdict here */
static int g_lineno;         /* script line being run (0: none) */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
    char msg[8192];
    int n = 0;
    va_list ap;

    if (g_lineno > 0)
        n = snprintf(msg, sizeof(msg), "line %d: ", g_lineno);
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (g_result_fd >= 0) {
        ssize_t w = write(g_result_fd, msg, strlen(msg));
        (void)w;
    } else {
        fprintf(stderr, "%s\n", msg);
    }
    fflush(stdout);
    _exit(1);
}

__attribute__((format(printf, 1, 2))) static void vlog(const char *fmt, ...)
{
    va_list ap;

    if (!g_verbose)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- small helpers ------------------------------------------------------- */

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;

    if (!parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "1.25" seconds -> ns, exactly (no floating point). */
static bool parse_seconds(const char *s, uint64_t *ns)
{
    uint64_t whole = 0, frac = 0, scale = 1000000000ull;
    bool digits = false;

    for (; isdigit((unsigned char)*s); s++, digits = true)
        whole = whole * 10 + (uint64_t)(*s - '0');
    if (*s == '.') {
        s++;
        for (; isdigit((unsigned char)*s); s++) {
            digits = true;
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*s - '0') * scale;
            }
        }
    }
    if (*s || !digits)
        return false;
    *ns = whole * 1000000000ull + frac;
    return true;
}

static const char *fmt_time(uint64_t ns, char *buf, size_t n)
{
    snprintf(buf, n, "%" PRIu64 ".%06" PRIu64, (uint64_t)(ns / 1000000000u), (uint64_t)((ns % 1000000000u) / 1000u));
    return buf;
}

static const struct {
    const char *name;
    int value;
} errnames[] = {
    {"EBADF", EBADF},
    {"EINVAL", EINVAL},
    {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},
    {"ETIMEDOUT", ETIMEDOUT},
    {"EEXIST", EEXIST},
    {"ENOTSUP", ENOTSUP},
    {"ECONNREFUSED", ECONNREFUSED},
    {"ECONNRESET", ECONNRESET},
    {"ECANCELED", ECANCELED},
    {"ENOTCONN", ENOTCONN},
    {"EPIPE", EPIPE},
    {"EISCONN", EISCONN},
    {"EALREADY", EALREADY},
    {"EADDRINUSE", EADDRINUSE},
    {"EADDRNOTAVAIL", EADDRNOTAVAIL},
    {"ENOPROTOOPT", ENOPROTOOPT},
    {"ENOBUFS", ENOBUFS},
    {"EMSGSIZE", EMSGSIZE},
    {"EDESTADDRREQ", EDESTADDRREQ},
    {"ENETUNREACH", ENETUNREACH},
    {"EHOSTUNREACH", EHOSTUNREACH},
    {"EMFILE", EMFILE},
    {"EPERM", EPERM},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
};

static const char *errname(int e)
{
    static char buf[32];

    if (e == 0)
        return "0";
    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
        if (errnames[i].value == e)
            return errnames[i].name;
    snprintf(buf, sizeof(buf), "errno %d", e);
    return buf;
}

static int errno_by_name(const char *s)
{
    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
        if (strcmp(errnames[i].name, s) == 0)
            return errnames[i].value;
    return -1;
}

/* Payload patterns: byte @i of a stream, ours and the peer's different so a
 * segment carrying the wrong side's or the wrong offset's bytes shows. */
static uint8_t our_pat(uint64_t i)
{
    return (uint8_t)((i * 7 + 1) % 251);
}

static uint8_t peer_pat(uint64_t i)
{
    return (uint8_t)((i * 13 + 3) % 251);
}

/* ---- checksums ----------------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The TCP checksum over the pseudo header and @tcp (addresses in network
 * order); 0 when @tcp already holds a correct checksum. */
static uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *tcp, size_t len)
{
    uint8_t ph[12];
    uint32_t sum;

    memcpy(ph, &src, 4);
    memcpy(ph + 4, &dst, 4);
    ph[8] = 0;
    ph[9] = IPPROTO_TCP;
    ph[10] = (uint8_t)(len >> 8);
    ph[11] = (uint8_t)len;
    sum = csum_add(0, ph, sizeof(ph));
    sum = csum_add(sum, tcp, len);
    return csum_fold(sum);
}

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The TCP checksum over the IPv6 pseudo-header (RFC 8200 8.1) and @tcp; 0
 * when @tcp already holds a correct checksum. */
static uint16_t tcp_csum6(const uint8_t *src, const uint8_t *dst, const uint8_t *tcp, size_t len)
{
    uint8_t ph[40];
    uint32_t sum;

    memcpy(ph, src, 16);
    memcpy(ph + 16, dst, 16);
    ph[32] = (uint8_t)(len >> 24);
    ph[33] = (uint8_t)(len >> 16);
    ph[34] = (uint8_t)(len >> 8);
    ph[35] = (uint8_t)len;
    ph[36] = ph[37] = ph[38] = 0;
    ph[39] = IPPROTO_TCP;
    sum = csum_add(0, ph, sizeof(ph));
    sum = csum_add(sum, tcp, len);
    return csum_fold(sum);
}

/* ---- TCP flags and options ---------------------------------------------- */

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20

enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACKOK = 4, OPT_SACK = 5, OPT_TS = 8 };

/* One option. Values: MSS v[0]; WS v[0]; TS v[0]=val v[1]=ecr; SACK
 * 2*nblocks edges; unknown kinds keep their length in v[0]. */
struct opt {
    int kind;
    int n;
    uint32_t v[8];
    bool wild[8];
};

static const char *flags_str(uint8_t f, char *buf)
{
    char *p = buf;

    if (f & F_FIN)
        *p++ = 'F';
    if (f & F_SYN)
        *p++ = 'S';
    if (f & F_RST)
        *p++ = 'R';
    if (f & F_PSH)
        *p++ = 'P';
    if (f & F_URG)
        *p++ = 'U';
    if (f & F_ACK)
        *p++ = '.';
    *p = '\0';
    return buf;
}

/* ---- connections (the peer's view) -------------------------------------- */

struct conn {
    uint16_t lport, pport; /* host order; lport 0 = learn from our first segment */
    uint32_t our_isn;      /* learned from the first SYN we send */
    bool isn_known;
    uint32_t peer_isn;
};

static struct conn g_conns[MAX_CONNS];
static int g_nconns;
static struct conn *g_cur;
static uint32_t g_peer_ip, g_local_ip; /* network order */
/* "ipv6": the peer and we are IPv6 addresses; script time 0 and our TS
 * values count from g_t0, when DAD of our addresses was over. */
static bool g_v6;
static struct in6_addr g_peer_ip6, g_local_ip6;
static uint64_t g_t0;
static uint32_t g_ts0; /* g_t0 in ms */
static uint16_t g_ipid = 1;
static uint64_t g_tolerance_ns = DEFAULT_TOLERANCE_NS;
static uint32_t g_peer_isn = DEFAULT_PEER_ISN;
static uint16_t g_bound_port = DEFAULT_LOCAL_PORT;

static struct conn *conn_get(uint16_t pport)
{
    for (int i = 0; i < g_nconns; i++)
        if (g_conns[i].pport == pport)
            return &g_conns[i];
    if (g_nconns == MAX_CONNS)
        fail("too many peer ports (max %d)", MAX_CONNS);
    g_conns[g_nconns] = (struct conn){.lport = g_bound_port, .pport = pport, .peer_isn = g_peer_isn};
    return &g_conns[g_nconns++];
}

/* ---- decoded packets ----------------------------------------------------- */

struct wire {
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t win, sport, dport;
    uint32_t len;
    const uint8_t *payload;
    struct opt opts[MAX_OPTS];
    int nopts;
    uint64_t when; /* script time (from g_t0) */
    uint32_t src, dst;
    uint8_t src6[16], dst6[16];
};

/* Parse TCP options; false on a malformed list. */
static bool decode_opts(const uint8_t *o, uint32_t olen, struct wire *w, char *why, size_t whylen)
{
    uint32_t i = 0;

    w->nopts = 0;
    while (i < olen) {
        struct opt *op;
        uint8_t kind = o[i], len;

        if (w->nopts == MAX_OPTS) {
            snprintf(why, whylen, "more than %d options", MAX_OPTS);
            return false;
        }
        op = &w->opts[w->nopts++];
        memset(op, 0, sizeof(*op));
        op->kind = kind;
        if (kind == OPT_EOL) {
            /* Everything after EOL must be padding (zeros). */
            for (uint32_t j = i + 1; j < olen; j++)
                if (o[j] != 0) {
                    snprintf(why, whylen, "non-zero byte after EOL");
                    return false;
                }
            return true;
        }
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= olen || (len = o[i + 1]) < 2 || i + len > olen) {
            snprintf(why, whylen, "option kind %u overruns the header", kind);
            return false;
        }
        switch (kind) {
        case OPT_MSS:
            if (len != 4)
                goto badlen;
            op->n = 1;
            op->v[0] = get16(o + i + 2);
            break;
        case OPT_WS:
            if (len != 3)
                goto badlen;
            op->n = 1;
            op->v[0] = o[i + 2];
            break;
        case OPT_SACKOK:
            if (len != 2)
                goto badlen;
            break;
        case OPT_TS:
            if (len != 10)
                goto badlen;
            op->n = 2;
            op->v[0] = get32(o + i + 2);
            op->v[1] = get32(o + i + 6);
            break;
        case OPT_SACK:
            if (len < 10 || (len - 2) % 8 != 0 || (len - 2) / 8 > 4)
                goto badlen;
            op->n = (len - 2) / 4;
            for (int k = 0; k < op->n; k++)
                op->v[k] = get32(o + i + 2 + 4 * k);
            break;
        default:
            op->n = 1;
            op->v[0] = len;
            break;
        }
        i += len;
    }
    return true;
badlen:
    snprintf(why, whylen, "option kind %u with length %u", o[i], o[i + 1]);
    return false;
}

static const char *opt_name(int kind)
{
    switch (kind) {
    case OPT_EOL:
        return "eol";
    case OPT_NOP:
        return "nop";
    case OPT_MSS:
        return "mss";
    case OPT_WS:
        return "wscale";
    case OPT_SACKOK:
        return "sackOK";
    case OPT_SACK:
        return "sack";
    case OPT_TS:
        return "TS";
    default:
        return "unknown option";
    }
}

static size_t fmt_opts(const struct opt *opts, int n, bool our_side, const struct conn *c, char *buf, size_t cap)
{
    size_t o = 0;

#define OUT(...) o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__)
    OUT("<");
    for (int i = 0; i < n; i++) {
        const struct opt *op = &opts[i];
        if (i)
            OUT(",");
        switch (op->kind) {
        case OPT_EOL:
            OUT("eol");
            break;
        case OPT_NOP:
            OUT("nop");
            break;
        case OPT_MSS:
            OUT("mss %" PRIu32, op->v[0]);
            break;
        case OPT_WS:
            OUT("wscale %" PRIu32, op->v[0]);
            break;
        case OPT_SACKOK:
            OUT("sackOK");
            break;
        case OPT_TS:
            OUT("TS val %" PRIu32 " ecr %" PRIu32, op->v[0], op->v[1]);
            break;
        case OPT_SACK: {
            /* Blocks name the other side's sequence space. */
            uint32_t base = our_side ? c->peer_isn : (c->isn_known ? c->our_isn : 0);
            OUT("sack");
            for (int k = 0; k + 1 < op->n; k += 2)
                OUT(" %" PRIu32 ":%" PRIu32, op->v[k] - base, op->v[k + 1] - base);
            break;
        }
        default:
            OUT("opt%d len %" PRIu32, op->kind, op->v[0]);
            break;
        }
    }
    OUT(">");
#undef OUT
    return o;
}

/* A packet we sent, as a script line would write it (relative numbers). */
static const char *fmt_wire(const struct wire *w, const struct conn *c, char *buf, size_t cap)
{
    char fl[8], t[32];
    /* Our SYN before its ISN is learned: relative to itself. */
    uint32_t base = c && c->isn_known ? c->our_isn : (w->flags & F_SYN) ? w->seq : 0;
    uint32_t pbase = c ? c->peer_isn : 0;
    uint32_t rs = w->seq - base;
    size_t o;

    o = (size_t)snprintf(buf, cap, "> %s %" PRIu32 ":%" PRIu32 "(%" PRIu32 ")", flags_str(w->flags, fl), rs,
                         rs + w->len, w->len);
    if (w->flags & F_ACK)
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, " ack %" PRIu32, w->ack - pbase);
    o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, " win %u", w->win);
    if (w->nopts > 0 && o < cap) {
        buf[o++] = ' ';
        buf[o] = '\0';
        struct conn dummy = {0};
        o += fmt_opts(w->opts, w->nopts, true, c ? c : &dummy, buf + o, o < cap ? cap - o : 0);
    }
    if (!c || w->sport != c->lport || w->dport != c->pport)
        o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, " [ports %u > %u]", w->sport, w->dport);
    snprintf(buf + o, o < cap ? cap - o : 0, " (sent at %s)", fmt_time(w->when, t, sizeof(t)));
    return buf;
}

/* ---- the packets the stack sent ----------------------------------------- */

struct sent {
    uint8_t *buf;
    size_t len;
    uint64_t when;
};

static struct sent g_pend[MAX_PENDING];
static int g_pend_head, g_pend_len;

/* Take everything the stack sent so far into our queue. */
static void drain(void)
{
    static uint8_t buf[MAX_PKT];

    for (;;) {
        size_t len = 0;
        uint64_t when = 0;
        int r = demi_harness_take(buf, sizeof(buf), &len, &when);
        struct sent *s;

        if (r == EAGAIN)
            return;
        if (r)
            fail("demi_harness_take: %s", errname(r));
        if (g_pend_len == MAX_PENDING)
            fail("more than %d packets sent and not consumed by the script", MAX_PENDING);
        s = &g_pend[(g_pend_head + g_pend_len++) % MAX_PENDING];
        s->buf = malloc(len);
        if (!s->buf)
            fail("out of memory");
        memcpy(s->buf, buf, len);
        s->len = len;
        s->when = when;
    }
}

static void pend_pop(void)
{
    free(g_pend[g_pend_head].buf);
    g_pend_head = (g_pend_head + 1) % MAX_PENDING;
    g_pend_len--;
}

/* Check the IPv4 and TCP headers of a sent packet and decode it. */
static void decode_sent(const struct sent *s, struct wire *w)
{
    const uint8_t *ip = s->buf, *th;
    uint32_t ihl, tot, tlen, off;
    char why[128];

    memset(w, 0, sizeof(*w));
    w->when = s->when - g_t0;
    if (g_v6) {
        /* Ours carry no extension header: TCP follows at once. */
        if (s->len < 40 || (ip[0] >> 4) != 6)
            fail("sent a packet that is not IPv6 (%zu bytes, version %u)", s->len, s->len ? ip[0] >> 4 : 0);
        tot = (uint32_t)s->len;
        ihl = 40;
        if (get16(ip + 4) != tot - ihl)
            fail("sent an IPv6 packet with payload length %u in %u bytes", get16(ip + 4), tot);
        if (ip[6] != IPPROTO_TCP)
            fail("sent a non-TCP packet (IPv6 next header %u, %u bytes)", ip[6], tot);
        if (ip[7] != IP6_HOPS)
            fail("sent an IPv6 packet with hop limit %u, expected %u", ip[7], IP6_HOPS);
        memcpy(w->src6, ip + 8, 16);
        memcpy(w->dst6, ip + 24, 16);
    } else {
        if (s->len < 20 || (ip[0] >> 4) != 4)
            fail("sent a packet that is not IPv4 (%zu bytes)", s->len);
        ihl = (uint32_t)(ip[0] & 15) * 4;
        tot = get16(ip + 2);
        if (ihl < 20 || ihl > s->len || tot != s->len)
            fail("sent an IPv4 packet with a bad header (ihl %u, total length %u, %zu bytes)", ihl, tot, s->len);
        if (csum_fold(csum_add(0, ip, ihl)) != 0)
            fail("sent an IPv4 packet with a wrong header checksum 0x%04x", get16(ip + 10));
        if (ip[9] != IPPROTO_TCP)
            fail("sent a non-TCP packet (IP protocol %u, %u bytes)", ip[9], tot);
        memcpy(&w->src, ip + 12, 4);
        memcpy(&w->dst, ip + 16, 4);
    }
    th = ip + ihl;
    tlen = tot - ihl;
    if (tlen < 20)
        fail("sent a TCP segment shorter than its header (%u bytes)", tlen);
    off = (uint32_t)(th[12] >> 4) * 4;
    if (off < 20 || off > tlen)
        fail("sent a TCP segment with data offset %u (segment %u bytes)", off, tlen);
    if ((g_v6 ? tcp_csum6(w->src6, w->dst6, th, tlen) : tcp_csum(w->src, w->dst, th, tlen)) != 0)
        fail("sent a TCP segment with a wrong checksum 0x%04x", get16(th + 16));
    w->sport = get16(th);
    w->dport = get16(th + 2);
    w->seq = get32(th + 4);
    w->ack = get32(th + 8);
    w->flags = th[13];
    w->win = get16(th + 14);
    w->payload = th + off;
    w->len = tlen - off;
    if (!decode_opts(th + 20, off - 20, w, why, sizeof(why)))
        fail("sent malformed TCP options: %s", why);
    for (int i = 0; i < w->nopts; i++)
        if (w->opts[i].kind == OPT_TS)
            w->opts[i].v[0] -= g_ts0; /* our clock, from the script's time 0 */
}

/* The connection a sent packet belongs to (by the peer's port). */
static struct conn *conn_of_sent(const struct wire *w)
{
    for (int i = 0; i < g_nconns; i++)
        if (g_conns[i].pport == w->dport && (g_conns[i].lport == 0 || g_conns[i].lport == w->sport))
            return &g_conns[i];
    return g_cur;
}

static const char *fmt_pending(char *buf, size_t cap)
{
    struct wire w;

    decode_sent(&g_pend[g_pend_head], &w);
    return fmt_wire(&w, conn_of_sent(&w), buf, cap);
}

/* ---- virtual time -------------------------------------------------------- */

static uint64_t now_ns(void)
{
    return demi_harness_now();
}

/* Advance the clock towards @target in timer-tick steps; stop early once a
 * packet is waiting when @stop_on_packet. Only timers act between injected
 * packets, so the clock skips the steps before the next one is due: it
 * lands on the same step boundary a tick-by-tick walk would fire it at, and
 * a script spanning minutes of virtual time runs in milliseconds (ASan
 * included). */
static void advance_to(uint64_t target, bool stop_on_packet)
{
    drain();
    while (now_ns() < target) {
        uint64_t now = now_ns(), step = target - now, due;
        int r;

        if (stop_on_packet && g_pend_len > 0)
            return;
        if (step > STEP_NS) {
            uint64_t next = (now / STEP_NS + 1) * STEP_NS; /* stay on tick boundaries */

            if (demi_harness_next_timer(&due) == ENOENT)
                due = UINT64_MAX;
            if (due > next) /* the step boundary it fires at, not past @target */
                next = due >= target ? target : (due + STEP_NS - 1) / STEP_NS * STEP_NS;
            if (next > target)
                next = target;
            step = next - now;
        }
        r = demi_harness_advance(step);
        if (r)
            fail("demi_harness_advance: %s", errname(r));
        drain();
    }
}

/* Bring the clock to @t; any packet sent before is one the script did not
 * expect. */
static void advance_checked(uint64_t t)
{
    char buf[1024];

    advance_to(g_t0 + t, true);
    if (g_pend_len > 0)
        fail("unexpected packet: %s", fmt_pending(buf, sizeof(buf)));
}

/* ---- script packets ------------------------------------------------------ */

struct pktspec {
    bool out;
    uint8_t flags;
    uint32_t seq, end, len;
    bool has_ack, ack_wild;
    uint32_t ack;
    bool has_win, win_wild;
    uint32_t win;
    bool has_opts;
    struct opt opts[MAX_OPTS];
    int nopts;
    bool bad_csum; /* "<" only: send a wrong TCP checksum */
};

static bool parse_val(const char *s, bool allow_wild, uint32_t *v, bool *wild)
{
    if (strcmp(s, "*") == 0) {
        if (!allow_wild)
            return false;
        *wild = true;
        *v = 0;
        return true;
    }
    *wild = false;
    return parse_u32(s, v);
}

static void parse_opts(char *s, struct pktspec *p)
{
    char *save = NULL;

    p->nopts = 0;
    for (char *it = strtok_r(s, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *words[12];
        int nw = 0;
        char *ws = NULL;
        struct opt *op;

        it = trim(it);
        if (!*it)
            fail("empty option in <...>");
        for (char *w = strtok_r(it, " \t", &ws); w; w = strtok_r(NULL, " \t", &ws)) {
            if (nw == 12)
                fail("option too long: %s", it);
            words[nw++] = w;
        }
        if (p->nopts == MAX_OPTS)
            fail("more than %d options", MAX_OPTS);
        op = &p->opts[p->nopts++];
        memset(op, 0, sizeof(*op));
        if (strcmp(words[0], "nop") == 0 && nw == 1) {
            op->kind = OPT_NOP;
        } else if (strcmp(words[0], "eol") == 0 && nw == 1) {
            op->kind = OPT_EOL;
        } else if (strcmp(words[0], "sackOK") == 0 && nw == 1) {
            op->kind = OPT_SACKOK;
        } else if (strcmp(words[0], "mss") == 0 && nw == 2) {
            op->kind = OPT_MSS;
            op->n = 1;
            if (!parse_val(words[1], p->out, &op->v[0], &op->wild[0]) || op->v[0] > 65535)
                fail("bad mss value '%s'", words[1]);
        } else if (strcmp(words[0], "wscale") == 0 && nw == 2) {
            op->kind = OPT_WS;
            op->n = 1;
            if (!parse_val(words[1], p->out, &op->v[0], &op->wild[0]) || op->v[0] > 255)
                fail("bad wscale value '%s'", words[1]);
        } else if (strcmp(words[0], "TS") == 0 && nw == 5 && strcmp(words[1], "val") == 0 &&
                   strcmp(words[3], "ecr") == 0) {
            op->kind = OPT_TS;
            op->n = 2;
            if (!parse_val(words[2], p->out, &op->v[0], &op->wild[0]) ||
                !parse_val(words[4], p->out, &op->v[1], &op->wild[1]))
                fail("bad TS values '%s' '%s'", words[2], words[4]);
        } else if (strcmp(words[0], "sack") == 0 && nw >= 2 && nw <= 5) {
            op->kind = OPT_SACK;
            for (int k = 1; k < nw; k++) {
                char *colon = strchr(words[k], ':');
                if (!colon)
                    fail("bad sack block '%s' (want L:R)", words[k]);
                *colon = '\0';
                if (!parse_val(words[k], p->out, &op->v[op->n], &op->wild[op->n]) ||
                    !parse_val(colon + 1, p->out, &op->v[op->n + 1], &op->wild[op->n + 1]))
                    fail("bad sack block '%s:%s'", words[k], colon + 1);
                op->n += 2;
            }
        } else {
            fail("unknown option '%s' (want nop, eol, mss N, wscale N, sackOK, TS val N ecr N, sack L:R...)", words[0]);
        }
    }
}

/* "S. 0:0(0) ack 1 win 65535 <mss 1460,...>" after the direction. */
static void parse_packet(char *s, bool out, struct pktspec *p)
{
    char *opts = NULL, *lt, *tok, *save = NULL, empty[1] = "", *tail = empty;
    char *words[16];
    int nw = 0, i;

    memset(p, 0, sizeof(*p));
    p->out = out;
    lt = strchr(s, '<');
    if (lt) {
        char *gt = strrchr(lt, '>');
        if (!gt)
            fail("options without closing '>'");
        *gt = '\0';
        *lt = '\0';
        opts = lt + 1;
        tail = gt + 1;
        p->has_opts = true;
    }
    for (tok = strtok_r(s, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (nw == 16)
            fail("too many words in the packet");
        words[nw++] = tok;
    }
    /* Keywords may follow the options too ("... <mss 1460> badcsum"). */
    for (tok = strtok_r(tail, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (nw == 16)
            fail("too many words in the packet");
        words[nw++] = tok;
    }
    if (nw < 2)
        fail("packet needs flags and seq:end(len)");
    for (const char *f = words[0]; *f; f++) {
        switch (*f) {
        case 'S':
            p->flags |= F_SYN;
            break;
        case 'F':
            p->flags |= F_FIN;
            break;
        case 'R':
            p->flags |= F_RST;
            break;
        case 'P':
            p->flags |= F_PSH;
            break;
        case 'U':
            p->flags |= F_URG;
            break;
        case '.':
            p->flags |= F_ACK;
            break;
        default:
            fail("unknown flag '%c' in '%s' (flags: S F R P U .)", *f, words[0]);
        }
    }
    {
        char a[32], b[32], c[32];
        char extra;
        if (sscanf(words[1], "%31[0-9]:%31[0-9](%31[0-9])%c", a, b, c, &extra) != 3 || !parse_u32(a, &p->seq) ||
            !parse_u32(b, &p->end) || !parse_u32(c, &p->len))
            fail("bad seq:end(len) '%s'", words[1]);
        if (p->end - p->seq != p->len)
            fail("seq:end(len) '%s': end - seq != len", words[1]);
        if (p->len > MAX_PKT - 120)
            fail("segment too long: %" PRIu32, p->len);
    }
    for (i = 2; i < nw; i++) {
        if (strcmp(words[i], "ack") == 0 && i + 1 < nw) {
            if (!parse_val(words[++i], out, &p->ack, &p->ack_wild))
                fail("bad ack '%s'", words[i]);
            p->has_ack = true;
        } else if (strcmp(words[i], "win") == 0 && i + 1 < nw) {
            if (!parse_val(words[++i], out, &p->win, &p->win_wild) || p->win > 65535)
                fail("bad win '%s'", words[i]);
            p->has_win = true;
        } else if (strcmp(words[i], "badcsum") == 0 && !out) {
            p->bad_csum = true;
        } else {
            fail("unexpected '%s' in packet (want ack N, win N, <options>%s)", words[i], out ? "" : ", badcsum");
        }
    }
    if (p->has_ack && !(p->flags & F_ACK))
        fail("'ack' given without the ACK flag '.'");
    if (!out && (p->flags & F_ACK) && !p->has_ack)
        fail("an injected segment with '.' needs 'ack N'");
    if (opts)
        parse_opts(opts, p);
}

/* Build and inject the segment of a "<" line. */
static void inject(const struct pktspec *p)
{
    static uint8_t pkt[MAX_PKT];
    struct conn *c = g_cur;
    uint8_t opt[64];
    uint32_t olen = 0, tlen, tot;
    uint32_t hl = g_v6 ? 40 : 20;
    uint8_t *th = pkt + hl;
    uint32_t our_base = c->isn_known ? c->our_isn : 0;
    int r;

    if (c->lport == 0)
        fail("our port is not known yet (inject after our first segment, or bind)");
    for (int i = 0; i < p->nopts; i++) {
        const struct opt *op = &p->opts[i];
        uint8_t *q = opt + olen;
        uint32_t need = op->kind == OPT_EOL || op->kind == OPT_NOP ? 1
                        : op->kind == OPT_MSS                      ? 4
                        : op->kind == OPT_WS                       ? 3
                        : op->kind == OPT_SACKOK                   ? 2
                        : op->kind == OPT_TS                       ? 10
                                                                   : 2 + 4 * (uint32_t)op->n;
        if (olen + need > 40)
            fail("options longer than 40 bytes");
        q[0] = (uint8_t)op->kind;
        if (need > 1)
            q[1] = (uint8_t)need;
        switch (op->kind) {
        case OPT_MSS:
            put16(q + 2, (uint16_t)op->v[0]);
            break;
        case OPT_WS:
            q[2] = (uint8_t)op->v[0];
            break;
        case OPT_TS:
            put32(q + 2, op->v[0]);
            put32(q + 6, op->v[1] + g_ts0); /* echoes our clock */
            break;
        case OPT_SACK:
            for (int k = 0; k < op->n; k++)
                put32(q + 2 + 4 * k, op->v[k] + our_base);
            break;
        default:
            break;
        }
        olen += need;
    }
    while (olen % 4)
        opt[olen++] = OPT_EOL;
    tlen = 20 + olen + p->len;
    tot = hl + tlen;
    memset(pkt, 0, hl + 20);
    if (g_v6) {
        pkt[0] = 0x60;
        put16(pkt + 4, (uint16_t)tlen);
        pkt[6] = IPPROTO_TCP;
        pkt[7] = IP6_HOPS;
        memcpy(pkt + 8, &g_peer_ip6, 16);
        memcpy(pkt + 24, &g_local_ip6, 16);
    } else {
        pkt[0] = 0x45;
        put16(pkt + 2, (uint16_t)tot);
        put16(pkt + 4, g_ipid++);
        put16(pkt + 6, 0x4000); /* DF */
        pkt[8] = 64;
        pkt[9] = IPPROTO_TCP;
        memcpy(pkt + 12, &g_peer_ip, 4);
        memcpy(pkt + 16, &g_local_ip, 4);
        put16(pkt + 10, csum_fold(csum_add(0, pkt, 20)));
    }
    put16(th, c->pport);
    put16(th + 2, c->lport);
    put32(th + 4, p->seq + c->peer_isn);
    put32(th + 8, (p->flags & F_ACK) ? p->ack + our_base : 0);
    th[12] = (uint8_t)(((20 + olen) / 4) << 4);
    th[13] = p->flags;
    put16(th + 14, (uint16_t)(p->has_win ? p->win : 65535));
    put16(th + 16, 0);
    put16(th + 18, 0);
    memcpy(th + 20, opt, olen);
    /* Payload: the peer's stream pattern at these sequence numbers (after
     * the SYN, which takes sequence number 0). */
    for (uint32_t i = 0; i < p->len; i++) {
        uint32_t rel = p->seq + ((p->flags & F_SYN) ? 1 : 0) + i;
        th[20 + olen + i] = peer_pat((uint32_t)(rel - 1));
    }
    put16(th + 16, (uint16_t)((g_v6 ? tcp_csum6(g_peer_ip6.s6_addr, g_local_ip6.s6_addr, th, tlen)
                                    : tcp_csum(g_peer_ip, g_local_ip, th, tlen)) ^
                              (p->bad_csum ? 0x5a5a : 0)));
    r = demi_harness_inject(pkt, tot);
    if (r)
        fail("demi_harness_inject: %s", errname(r));
    drain();
}

/* Compare a sent packet with a ">" line; NULL when it matches, else why. */
static const char *match(const struct pktspec *p, const struct wire *w, struct conn *c, uint64_t t, char *why,
                         size_t cap)
{
    char a[8], b[8], tb[32];
    uint32_t base, pbase;

    if (g_v6 && (memcmp(w->src6, &g_local_ip6, 16) != 0 || memcmp(w->dst6, &g_peer_ip6, 16) != 0)) {
        char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], la[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, w->src6, sa, sizeof(sa));
        inet_ntop(AF_INET6, w->dst6, da, sizeof(da));
        inet_ntop(AF_INET6, &g_local_ip6, la, sizeof(la));
        return snprintf(why, cap, "addresses %s > %s, expected %s > %s", sa, da, la, PEER_ADDR6), why;
    }
    if (!g_v6 && (w->src != g_local_ip || w->dst != g_peer_ip)) {
        char sa[INET_ADDRSTRLEN], da[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &w->src, sa, sizeof(sa));
        inet_ntop(AF_INET, &w->dst, da, sizeof(da));
        return snprintf(why, cap, "addresses %s > %s, expected %s > %s", sa, da, DEFAULT_LOCAL_ADDR, PEER_ADDR), why;
    }
    if (c->lport == 0 && !(w->flags & F_RST))
        c->lport = w->sport; /* an active open: our ephemeral port */
    if (w->sport != c->lport || w->dport != c->pport)
        return snprintf(why, cap, "ports %u > %u, expected %u > %u", w->sport, w->dport, c->lport, c->pport), why;
    if ((w->flags & F_SYN) && !c->isn_known) {
        c->our_isn = w->seq;
        c->isn_known = true;
    }
    base = c->isn_known ? c->our_isn : 0;
    pbase = c->peer_isn;
    if (w->when + g_tolerance_ns < t || w->when > t + g_tolerance_ns) {
        char tw[32];
        return snprintf(why, cap, "sent at %s, expected at %s (too %s; tolerance %" PRIu64 " us)",
                        fmt_time(w->when, tb, sizeof(tb)), fmt_time(t, tw, sizeof(tw)), w->when < t ? "early" : "late",
                        g_tolerance_ns / 1000),
               why;
    }
    if (w->flags != p->flags)
        return snprintf(why, cap, "flags %s, expected %s", flags_str(w->flags, a), flags_str(p->flags, b)), why;
    if (w->seq - base != p->seq)
        return snprintf(why, cap, "seq %" PRIu32 ", expected %" PRIu32, w->seq - base, p->seq), why;
    if (w->len != p->len)
        return snprintf(why, cap, "payload length %" PRIu32 ", expected %" PRIu32, w->len, p->len), why;
    if (p->has_ack && !p->ack_wild && w->ack - pbase != p->ack)
        return snprintf(why, cap, "ack %" PRIu32 ", expected %" PRIu32, w->ack - pbase, p->ack), why;
    if (p->has_win && !p->win_wild && w->win != p->win)
        return snprintf(why, cap, "win %u, expected %" PRIu32, w->win, p->win), why;
    if (p->has_opts) {
        if (w->nopts != p->nopts)
            return snprintf(why, cap, "%d options, expected %d", w->nopts, p->nopts), why;
        for (int i = 0; i < p->nopts; i++) {
            const struct opt *e = &p->opts[i], *g = &w->opts[i];
            if (e->kind != g->kind || e->n != g->n)
                return snprintf(why, cap, "option %d is %s, expected %s", i + 1, opt_name(g->kind), opt_name(e->kind)),
                       why;
            for (int k = 0; k < e->n; k++) {
                uint32_t gv = g->v[k];
                if (e->kind == OPT_SACK)
                    gv -= pbase;
                if (!e->wild[k] && gv != e->v[k])
                    return snprintf(why, cap, "option %d (%s) value %" PRIu32 ", expected %" PRIu32, i + 1,
                                    opt_name(e->kind), gv, e->v[k]),
                           why;
            }
        }
    }
    /* Our payload is our stream pattern at its sequence numbers. */
    for (uint32_t i = 0; i < w->len; i++) {
        uint32_t rel = w->seq - base + ((w->flags & F_SYN) ? 1 : 0) + i;
        if (w->payload[i] != our_pat((uint32_t)(rel - 1)))
            return snprintf(why, cap,
                            "payload byte at seq %" PRIu32 " is 0x%02x, expected 0x%02x (our stream offset %" PRIu32
                            ")",
                            rel, w->payload[i], our_pat((uint32_t)(rel - 1)), rel - 1),
                   why;
    }
    return NULL;
}

static void expect_packet(const struct pktspec *p, uint64_t t, const char *text)
{
    char got[1024], why[256];
    struct wire w;
    struct conn *c = g_cur;
    const char *bad;

    advance_to(g_t0 + t + g_tolerance_ns, true);
    if (g_pend_len == 0)
        fail("expected packet, none sent: expected '%s' at %s (by %s)", text, fmt_time(t, got, sizeof(got)),
             fmt_time(t + g_tolerance_ns, why, sizeof(why)));
    decode_sent(&g_pend[g_pend_head], &w);
    bad = match(p, &w, c, t, why, sizeof(why));
    fmt_wire(&w, c, got, sizeof(got));
    if (bad)
        fail("expected '%s', got '%s': %s", text, got, bad);
    vlog("    got %s\n", got);
    pend_pop();
}

/* ---- PDPIX state: variables and queues ---------------------------------- */

enum tok_kind { TOK_PUSH, TOK_POP, TOK_ACCEPT, TOK_CONNECT };

struct var {
    char name[32];
    bool is_token;
    int qd;
    demi_qtoken_t qt;
    enum tok_kind kind;
    bool used;
};

struct qstate {
    int qd;
    bool used;
    uint64_t pushed, popped;
    demi_qtoken_t pops[8]; /* pops left pending by "pop(q) = pending" */
    int npops;
    demi_qtoken_t connect_qt;
    bool has_connect;
    demi_qtoken_t accept_qt; /* an accept left pending by "accept(s) = pending" */
    bool has_accept;
};

static struct var g_vars[MAX_VARS];
static struct qstate g_qs[MAX_QDS];

static struct var *var_find(const char *name)
{
    for (int i = 0; i < MAX_VARS; i++)
        if (g_vars[i].used && strcmp(g_vars[i].name, name) == 0)
            return &g_vars[i];
    return NULL;
}

static struct var *var_set(const char *name)
{
    struct var *v = var_find(name);

    if (!v) {
        for (int i = 0; i < MAX_VARS && !v; i++)
            if (!g_vars[i].used)
                v = &g_vars[i];
        if (!v)
            fail("too many variables");
    }
    if (strlen(name) >= sizeof(v->name) || !*name)
        fail("bad variable name '%s'", name);
    memset(v, 0, sizeof(*v));
    strcpy(v->name, name);
    v->used = true;
    return v;
}

static struct qstate *qs_of(int qd)
{
    struct qstate *free_slot = NULL;

    for (int i = 0; i < MAX_QDS; i++) {
        if (g_qs[i].used && g_qs[i].qd == qd)
            return &g_qs[i];
        if (!g_qs[i].used && !free_slot)
            free_slot = &g_qs[i];
    }
    if (!free_slot)
        fail("too many queues");
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->qd = qd;
    free_slot->used = true;
    return free_slot;
}

/* A queue argument: a variable bound to a qd, or a number. */
static int arg_qd(const char *s)
{
    struct var *v = var_find(s);
    uint32_t n;

    if (v) {
        if (v->is_token)
            fail("'%s' is a token, not a queue", s);
        return v->qd;
    }
    if (parse_u32(s, &n))
        return (int)n;
    fail("unknown queue '%s'", s);
}

static uint32_t arg_u32(const char *s, const char *what)
{
    uint32_t v;

    if (!parse_u32(s, &v))
        fail("bad %s '%s'", what, s);
    return v;
}

/* What a call is expected to return. */
enum exp_kind { EXP_DEFAULT, EXP_INT, EXP_ERR, EXP_EOF, EXP_PENDING };

struct expect {
    enum exp_kind kind;
    int64_t v;
};

static const char *exp_str(const struct expect *e, char *buf, size_t n)
{
    switch (e->kind) {
    case EXP_DEFAULT:
        return "0";
    case EXP_INT:
        snprintf(buf, n, "%" PRId64, e->v);
        return buf;
    case EXP_ERR:
        return errname((int)e->v);
    case EXP_EOF:
        return "EOF";
    case EXP_PENDING:
        return "pending";
    }
    return "?";
}

static const struct timespec poll_once = {0, 0};

/* Wait (poll once) for @qt; false when not complete. */
static bool wait_once(demi_qtoken_t qt, demi_qresult_t *qr)
{
    int r = demi_wait(qr, qt, &poll_once);

    if (r == ETIMEDOUT)
        return false;
    if (r)
        fail("demi_wait: %s", errname(r));
    return true;
}

/* A call returning 0 or an errno: check it against the expectation.
 * Returns true when the call succeeded and the caller goes on. */
static bool check_ret(const char *call, int r, const struct expect *e)
{
    char b[32];

    if (e->kind == EXP_ERR) {
        if (r == e->v)
            return false;
        fail("%s returned %s, expected %s", call, errname(r), exp_str(e, b, sizeof(b)));
    }
    if (e->kind != EXP_DEFAULT && !(e->kind == EXP_INT && e->v == 0) && e->kind != EXP_PENDING)
        fail("%s: expectation %s makes no sense here", call, exp_str(e, b, sizeof(b)));
    if (r)
        fail("%s returned %s, expected 0", call, errname(r));
    return true;
}

/* The result of a completed pop: check data (peer's pattern) or end/error. */
static void pop_result(struct qstate *q, demi_qresult_t *qr, const struct expect *e, uint64_t *total)
{
    char b[32];

    if (qr->qr_opcode == DEMI_OPC_FAILED) {
        if (e->kind == EXP_ERR && qr->qr_ret == e->v && *total == 0)
            return;
        fail("pop failed with %s after %" PRIu64 " bytes, expected %s", errname((int)qr->qr_ret), *total,
             exp_str(e, b, sizeof(b)));
    }
    if (qr->qr_opcode != DEMI_OPC_POP)
        fail("pop completed with opcode %d", qr->qr_opcode);
    {
        demi_sgarray_t *sga = &qr->qr_value.sga;
        uint32_t len = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_len : 0;
        const uint8_t *d = sga->sga_numsegs ? sga->sga_segs[0].sgaseg_buf : NULL;

        for (uint32_t i = 0; i < len; i++)
            if (d[i] != peer_pat(q->popped + i))
                fail("popped byte %" PRIu64 " of the stream is 0x%02x, expected 0x%02x", q->popped + i, d[i],
                     peer_pat(q->popped + i));
        q->popped += len;
        *total += len;
        if (demi_sgafree(sga) != 0)
            fail("demi_sgafree of a popped sga failed");
        if (len == 0) {
            if (e->kind == EXP_EOF && *total == 0)
                return;
            fail("pop returned end of stream after %" PRIu64 " bytes, expected %s", *total, exp_str(e, b, sizeof(b)));
        }
        if (e->kind != EXP_INT)
            fail("pop returned %" PRIu32 " bytes, expected %s", len, exp_str(e, b, sizeof(b)));
    }
}

/* ---- the syscalls --------------------------------------------------------- */

static void sockaddr_of(struct sockaddr_in *sa, const char *ip, uint32_t port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
        fail("bad IPv4 address '%s'", ip);
}

/* An address of either family, by its syntax (a ':' makes it IPv6). */
static socklen_t sockaddr_any(struct sockaddr_storage *ss, const char *ip, uint32_t port)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (!strchr(ip, ':')) {
        sockaddr_of((struct sockaddr_in *)ss, ip, port);
        return sizeof(struct sockaddr_in);
    }
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
        fail("bad IPv6 address '%s'", ip);
    return sizeof(*s6);
}

static void need_args(const char *name, int n, int lo, int hi)
{
    if (n < lo || n > hi)
        fail("%s takes %d to %d arguments, got %d", name, lo, hi, n);
}

/* Start a push of @len pattern bytes; returns the token (0: failed as
 * expected). */
static bool push_start(int qd, uint32_t len, demi_qtoken_t *qt, const struct expect *e)
{
    struct qstate *q = qs_of(qd);
    demi_sgarray_t sga = demi_sgaalloc(len);
    uint8_t *buf;
    int r;

    if (len == 0)
        fail("push of 0 bytes");
    if (sga.sga_numsegs == 0)
        fail("demi_sgaalloc(%" PRIu32 ") failed", len);
    buf = sga.sga_segs[0].sgaseg_buf;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = our_pat(q->pushed + i);
    r = demi_push(qt, qd, &sga);
    /* The stack keeps its own reference: freeing now is safe. */
    if (demi_sgafree(&sga) != 0)
        fail("demi_sgafree after push failed");
    if (!check_ret("push", r, e))
        return false;
    q->pushed += len;
    return true;
}

static void do_wait(struct var *v, const char *bind, const struct expect *e)
{
    demi_qresult_t qr;
    char b[32];
    bool done;

    if (!v->is_token)
        fail("'%s' is not a token", v->name);
    done = wait_once(v->qt, &qr);
    if (!done) {
        if (e->kind == EXP_PENDING)
            return;
        fail("wait(%s): not complete, expected %s", v->name, exp_str(e, b, sizeof(b)));
    }
    if (e->kind == EXP_PENDING)
        fail("wait(%s): completed (opcode %d, %s), expected pending", v->name, qr.qr_opcode, errname((int)qr.qr_ret));
    switch (v->kind) {
    case TOK_POP: {
        uint64_t total = 0;
        pop_result(qs_of(v->qd), &qr, e, &total);
        if (e->kind == EXP_INT && total != (uint64_t)e->v)
            fail("wait(%s): pop returned %" PRIu64 " bytes, expected %" PRId64, v->name, total, e->v);
        break;
    }
    case TOK_ACCEPT:
        if (qr.qr_opcode == DEMI_OPC_ACCEPT) {
            if (e->kind == EXP_ERR)
                fail("accept completed, expected %s", exp_str(e, b, sizeof(b)));
            if (bind) {
                struct var *nv = var_set(bind);
                nv->qd = qr.qr_value.ares.qd;
                qs_of(nv->qd);
            }
        } else if (!(e->kind == EXP_ERR && qr.qr_ret == e->v)) {
            fail("accept failed with %s, expected %s", errname((int)qr.qr_ret), exp_str(e, b, sizeof(b)));
        }
        break;
    case TOK_CONNECT:
    case TOK_PUSH: {
        demi_opcode_t want = v->kind == TOK_CONNECT ? DEMI_OPC_CONNECT : DEMI_OPC_PUSH;
        int got = qr.qr_opcode == want ? 0 : (int)qr.qr_ret;
        if (qr.qr_opcode != want && qr.qr_opcode != DEMI_OPC_FAILED)
            fail("completed with opcode %d", qr.qr_opcode);
        if (got == 0 && qr.qr_opcode != want)
            fail("failed with qr_ret 0");
        if (e->kind == EXP_ERR ? got != e->v : got != 0)
            fail("%s completed with %s, expected %s", v->kind == TOK_CONNECT ? "connect" : "push", errname(got),
                 exp_str(e, b, sizeof(b)));
        break;
    }
    }
    v->used = false; /* consumed */
}

static void do_syscall(char *text)
{
    char *bind = NULL, *lp, *rp, *name, *rest;
    char *args[8];
    int nargs = 0;
    struct expect e = {EXP_DEFAULT, 0};
    char b[32];

    lp = strchr(text, '(');
    rp = lp ? strchr(lp, ')') : NULL;
    if (!lp || !rp)
        fail("not a packet, syscall or directive: '%s'", text);
    *lp = '\0';
    *rp = '\0';
    name = text;
    {
        char *eq = strchr(name, '=');
        if (eq) {
            *eq = '\0';
            bind = trim(name);
            name = eq + 1;
        }
        name = trim(name);
    }
    /* Arguments. */
    {
        char *save = NULL, *a = trim(lp + 1);
        if (*a)
            for (char *t = strtok_r(a, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (nargs == 8)
                    fail("too many arguments");
                args[nargs++] = trim(t);
            }
    }
    /* Expectation. */
    rest = trim(rp + 1);
    if (*rest) {
        if (*rest != '=')
            fail("unexpected '%s' after the call", rest);
        rest = trim(rest + 1);
        if (strcmp(rest, "EOF") == 0) {
            e.kind = EXP_EOF;
        } else if (strcmp(rest, "pending") == 0) {
            e.kind = EXP_PENDING;
        } else if (isdigit((unsigned char)*rest)) {
            uint64_t v;
            if (!parse_u64(rest, &v))
                fail("bad expected value '%s'", rest);
            e.kind = EXP_INT;
            e.v = (int64_t)v;
        } else if (errno_by_name(rest) > 0) {
            e.kind = EXP_ERR;
            e.v = errno_by_name(rest);
        } else {
            fail("bad expected value '%s' (a number, an errno name, EOF or pending)", rest);
        }
    }

    if (strcmp(name, "socket") == 0) {
        int qd = -1, type, r;
        need_args(name, nargs, 1, 1);
        if (strcmp(args[0], "SOCK_STREAM") == 0)
            type = SOCK_STREAM;
        else if (strcmp(args[0], "SOCK_DGRAM") == 0)
            type = SOCK_DGRAM;
        else
            fail("socket type '%s' (SOCK_STREAM or SOCK_DGRAM)", args[0]);
        r = demi_socket(&qd, g_v6 ? AF_INET6 : AF_INET, type, 0);
        if (check_ret("socket", r, &e)) {
            if (!bind)
                fail("socket() needs a variable: s = socket(SOCK_STREAM)");
            var_set(bind)->qd = qd;
            qs_of(qd);
        }
    } else if (strcmp(name, "bind") == 0) {
        struct sockaddr_storage sa;
        socklen_t salen;
        uint32_t port;
        need_args(name, nargs, 2, 3);
        port = arg_u32(args[nargs - 1], "port");
        if (port > 65535)
            fail("bad port %" PRIu32, port);
        salen = sockaddr_any(&sa, nargs == 3 ? args[1] : g_v6 ? "::" : "0.0.0.0", port);
        if (check_ret("bind", demi_bind(arg_qd(args[0]), (struct sockaddr *)&sa, salen), &e)) {
            g_bound_port = (uint16_t)port;
            g_cur->lport = (uint16_t)port;
        }
    } else if (strcmp(name, "listen") == 0) {
        need_args(name, nargs, 2, 2);
        check_ret("listen", demi_listen(arg_qd(args[0]), (int)arg_u32(args[1], "backlog")), &e);
    } else if (strcmp(name, "accept_start") == 0) {
        demi_qtoken_t qt;
        struct var *v;
        need_args(name, nargs, 1, 1);
        if (!check_ret(name, demi_accept(&qt, arg_qd(args[0])), &e))
            return;
        if (!bind)
            fail("accept_start() needs a variable: t = accept_start(s)");
        v = var_set(bind);
        v->is_token = true;
        v->qt = qt;
        v->kind = TOK_ACCEPT;
        v->qd = arg_qd(args[0]);
    } else if (strcmp(name, "accept") == 0) {
        struct qstate *q;
        struct var tv = {0};
        need_args(name, nargs, 1, 1);
        q = qs_of(arg_qd(args[0]));
        if (!q->has_accept) {
            demi_qtoken_t qt;
            if (!check_ret(name, demi_accept(&qt, q->qd), &e))
                return;
            q->accept_qt = qt;
            q->has_accept = true;
        }
        if (!bind && e.kind != EXP_PENDING)
            fail("accept() needs a variable: a = accept(s)");
        snprintf(tv.name, sizeof(tv.name), "accept");
        tv.is_token = true;
        tv.qt = q->accept_qt;
        tv.kind = TOK_ACCEPT;
        do_wait(&tv, bind, &e);
        if (e.kind != EXP_PENDING)
            q->has_accept = false; /* consumed (else stays for the next accept) */
    } else if (strcmp(name, "connect") == 0) {
        struct sockaddr_storage sa;
        socklen_t salen;
        demi_qtoken_t qt;
        uint32_t port;
        int qd;
        need_args(name, nargs, 3, 3);
        qd = arg_qd(args[0]);
        port = arg_u32(args[2], "port");
        if (port > 65535)
            fail("bad port %" PRIu32, port);
        salen = sockaddr_any(&sa, args[1], port);
        if (!check_ret("connect", demi_connect(&qt, qd, (struct sockaddr *)&sa, salen), &e))
            return;
        qs_of(qd)->connect_qt = qt;
        qs_of(qd)->has_connect = true;
        /* The peer is whoever we connect to: a fresh connection state. */
        g_cur = conn_get((uint16_t)port);
        g_cur->lport = 0;
        g_cur->isn_known = false;
        if (bind) {
            struct var *v = var_set(bind);
            v->is_token = true;
            v->qt = qt;
            v->kind = TOK_CONNECT;
            v->qd = qd;
            qs_of(qd)->has_connect = false;
        }
    } else if (strcmp(name, "wait_connect") == 0) {
        struct qstate *q;
        struct var tv = {0};
        need_args(name, nargs, 1, 1);
        q = qs_of(arg_qd(args[0]));
        if (!q->has_connect)
            fail("wait_connect(%s): no connect pending", args[0]);
        snprintf(tv.name, sizeof(tv.name), "connect");
        tv.is_token = true;
        tv.qt = q->connect_qt;
        tv.kind = TOK_CONNECT;
        do_wait(&tv, NULL, &e);
        if (e.kind != EXP_PENDING)
            q->has_connect = false;
    } else if (strcmp(name, "push") == 0 || strcmp(name, "push_start") == 0) {
        demi_qtoken_t qt;
        int qd;
        need_args(name, nargs, 2, 2);
        qd = arg_qd(args[0]);
        if (strcmp(name, "push_start") == 0) {
            struct expect ok = {EXP_DEFAULT, 0};
            struct var *v;
            if (!bind)
                fail("push_start() needs a variable: t = push_start(c, N)");
            if (!push_start(qd, arg_u32(args[1], "length"), &qt, e.kind == EXP_ERR ? &e : &ok))
                return;
            v = var_set(bind);
            v->is_token = true;
            v->qt = qt;
            v->kind = TOK_PUSH;
            v->qd = qd;
        } else {
            struct var tv = {0};
            if (!push_start(qd, arg_u32(args[1], "length"), &qt, &e))
                return;
            snprintf(tv.name, sizeof(tv.name), "push");
            tv.is_token = true;
            tv.qt = qt;
            tv.kind = TOK_PUSH;
            do_wait(&tv, NULL, &e);
        }
    } else if (strcmp(name, "pop_start") == 0) {
        demi_qtoken_t qt;
        struct var *v;
        int qd;
        need_args(name, nargs, 1, 1);
        qd = arg_qd(args[0]);
        if (!check_ret("pop_start", demi_pop(&qt, qd), &e))
            return;
        if (!bind)
            fail("pop_start() needs a variable: t = pop_start(c)");
        v = var_set(bind);
        v->is_token = true;
        v->qt = qt;
        v->kind = TOK_POP;
        v->qd = qd;
    } else if (strcmp(name, "pop") == 0) {
        struct qstate *q;
        uint64_t total = 0;
        int qd;
        need_args(name, nargs, 1, 1);
        qd = arg_qd(args[0]);
        q = qs_of(qd);
        if (e.kind == EXP_DEFAULT || (e.kind == EXP_INT && e.v == 0))
            fail("pop(%s) needs = N (bytes), EOF, an errno or pending", args[0]);
        for (;;) {
            demi_qresult_t qr;
            demi_qtoken_t qt;
            if (q->npops > 0) {
                qt = q->pops[0];
            } else {
                int r = demi_pop(&qt, qd);
                if (r) {
                    if (e.kind == EXP_ERR && r == e.v && total == 0)
                        return;
                    fail("demi_pop returned %s, expected %s", errname(r), exp_str(&e, b, sizeof(b)));
                }
                q->pops[q->npops++] = qt;
            }
            if (!wait_once(qt, &qr)) {
                if (e.kind == EXP_PENDING && total == 0)
                    return; /* stays pending: the next pop(q) waits for it */
                fail("pop(%s): %" PRIu64 " bytes available, expected %s", args[0], total, exp_str(&e, b, sizeof(b)));
            }
            memmove(q->pops, q->pops + 1, (size_t)(--q->npops) * sizeof(q->pops[0]));
            if (e.kind == EXP_PENDING)
                fail("pop(%s): completed (%s, %" PRIu32 " bytes), expected pending", args[0],
                     qr.qr_opcode == DEMI_OPC_POP ? "data" : errname((int)qr.qr_ret),
                     qr.qr_opcode == DEMI_OPC_POP ? qr.qr_value.sga.sga_segs[0].sgaseg_len : 0);
            pop_result(q, &qr, &e, &total);
            if (e.kind != EXP_INT || total >= (uint64_t)e.v)
                break;
        }
        if (e.kind == EXP_INT && total != (uint64_t)e.v)
            fail("pop(%s): %" PRIu64 " bytes, expected %" PRId64, args[0], total, e.v);
    } else if (strcmp(name, "wait") == 0) {
        struct var *v;
        need_args(name, nargs, 1, 1);
        v = var_find(args[0]);
        if (!v)
            fail("unknown token '%s'", args[0]);
        do_wait(v, bind, &e);
    } else if (strcmp(name, "close") == 0) {
        int qd;
        need_args(name, nargs, 1, 1);
        qd = arg_qd(args[0]);
        if (check_ret("close", demi_close(qd), &e))
            qs_of(qd)->used = false;
    } else if (strcmp(name, "setsockopt") == 0) {
        int qd, level, opt, v;
        struct linger l;
        const void *val = &v;
        socklen_t len = sizeof(v);
        need_args(name, nargs, 3, 4);
        qd = arg_qd(args[0]);
        if (strcmp(args[1], "TCP_NODELAY") == 0)
            level = IPPROTO_TCP, opt = TCP_NODELAY;
        else if (strcmp(args[1], "SO_KEEPALIVE") == 0)
            level = SOL_SOCKET, opt = SO_KEEPALIVE;
        else if (strcmp(args[1], "SO_REUSEADDR") == 0)
            level = SOL_SOCKET, opt = SO_REUSEADDR;
        else if (strcmp(args[1], "SO_RCVBUF") == 0)
            level = SOL_SOCKET, opt = SO_RCVBUF;
        else if (strcmp(args[1], "SO_SNDBUF") == 0)
            level = SOL_SOCKET, opt = SO_SNDBUF;
        else if (strcmp(args[1], "SO_LINGER") == 0)
            level = SOL_SOCKET, opt = SO_LINGER;
        else if (strcmp(args[1], "TCP_KEEPIDLE") == 0)
            level = IPPROTO_TCP, opt = TCP_KEEPIDLE;
        else if (strcmp(args[1], "TCP_KEEPINTVL") == 0)
            level = IPPROTO_TCP, opt = TCP_KEEPINTVL;
        else if (strcmp(args[1], "TCP_KEEPCNT") == 0)
            level = IPPROTO_TCP, opt = TCP_KEEPCNT;
        else
            fail("unknown option '%s'", args[1]);
        if (opt == SO_LINGER && level == SOL_SOCKET) {
            need_args("setsockopt(SO_LINGER)", nargs, 4, 4);
            l.l_onoff = (int)arg_u32(args[2], "l_onoff");
            l.l_linger = (int)arg_u32(args[3], "l_linger");
            val = &l;
            len = sizeof(l);
        } else {
            need_args(name, nargs, 3, 3);
            v = (int)arg_u32(args[2], "value");
        }
        check_ret("setsockopt", demi_setsockopt(qd, level, opt, val, len), &e);
    } else if (strcmp(name, "shutdown") == 0) {
        int how;
        need_args(name, nargs, 2, 2);
        if (strcmp(args[1], "SHUT_RD") == 0)
            how = SHUT_RD;
        else if (strcmp(args[1], "SHUT_WR") == 0)
            how = SHUT_WR;
        else if (strcmp(args[1], "SHUT_RDWR") == 0)
            how = SHUT_RDWR;
        else
            how = (int)arg_u32(args[1], "how (SHUT_RD, SHUT_WR, SHUT_RDWR or a number)");
        check_ret("shutdown", demi_shutdown(arg_qd(args[0]), how), &e);
    } else if (strcmp(name, "getsockname") == 0) {
        struct sockaddr_storage sa, want;
        socklen_t len = sizeof(sa), want_len;
        char got_ip[INET6_ADDRSTRLEN];
        uint16_t got_port;
        bool same;
        need_args(name, nargs, 3, 3);
        memset(&sa, 0xa5, sizeof(sa));
        if (!check_ret("getsockname", demi_getsockname(arg_qd(args[0]), (struct sockaddr *)&sa, &len), &e))
            return;
        want_len = sockaddr_any(&want, args[1], 0);
        if (len != want_len || sa.ss_family != want.ss_family)
            fail("getsockname(%s): length %u, family %u, expected %u and %s", args[0], (unsigned)len,
                 (unsigned)sa.ss_family, (unsigned)want_len, want.ss_family == AF_INET6 ? "AF_INET6" : "AF_INET");
        if (sa.ss_family == AF_INET6) {
            const struct sockaddr_in6 *g = (const struct sockaddr_in6 *)&sa, *w = (const struct sockaddr_in6 *)&want;
            inet_ntop(AF_INET6, &g->sin6_addr, got_ip, sizeof(got_ip));
            got_port = ntohs(g->sin6_port);
            same = memcmp(&g->sin6_addr, &w->sin6_addr, 16) == 0;
        } else {
            const struct sockaddr_in *g = (const struct sockaddr_in *)&sa, *w = (const struct sockaddr_in *)&want;
            inet_ntop(AF_INET, &g->sin_addr, got_ip, sizeof(got_ip));
            got_port = ntohs(g->sin_port);
            same = g->sin_addr.s_addr == w->sin_addr.s_addr;
        }
        if (!same)
            fail("getsockname(%s): address %s, expected %s", args[0], got_ip, args[1]);
        if (strcmp(args[2], "*") == 0) {
            /* Our ephemeral port: the one our segments carry, once seen. */
            if (got_port == 0 || (g_cur->lport != 0 && got_port != g_cur->lport))
                fail("getsockname(%s): port %u, expected %u", args[0], got_port, g_cur->lport);
        } else if (got_port != arg_u32(args[2], "port")) {
            fail("getsockname(%s): port %u, expected %s", args[0], got_port, args[2]);
        }
    } else if (strcmp(name, "poll") == 0) {
        need_args(name, nargs, 0, 0);
        check_ret("poll", demi_harness_poll(), &e);
    } else if (strcmp(name, "syn_queue") == 0 || strcmp(name, "accept_queue") == 0) {
        uint32_t half_open, ready, got;
        int r;
        need_args(name, nargs, 1, 1);
        if (e.kind != EXP_INT)
            fail("%s() needs an expected count: %s(s) = N", name, name);
        r = demi_harness_listener(arg_qd(args[0]), &half_open, &ready);
        if (r)
            fail("%s(%s): %s", name, args[0], errname(r));
        got = name[0] == 's' ? half_open : ready;
        if (got != (uint64_t)e.v)
            fail("%s(%s) = %" PRIu32 ", expected %" PRId64, name, args[0], got, e.v);
    } else if (strcmp(name, "counter") == 0) {
        uint64_t v;
        int r;
        need_args(name, nargs, 1, 1);
        if (e.kind != EXP_INT)
            fail("counter() needs an expected value: counter(NAME) = N");
        r = demi_harness_counter(args[0], &v);
        if (r)
            fail("counter(%s): %s", args[0], r == ENOENT ? "no such counter" : errname(r));
        if (v != (uint64_t)e.v)
            fail("counter(%s) = %" PRIu64 ", expected %" PRId64, args[0], v, e.v);
    } else {
        fail("unknown call '%s'", name);
    }
}

/* ---- scripts ------------------------------------------------------------- */

struct line {
    int no;
    char *text;
};

struct script {
    char *data;
    struct line *lines;
    int nlines;
};

static int load(const char *path, struct script *sc, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int no = 0;

    memset(sc, 0, sizeof(*sc));
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        char *c, *t;
        no++;
        (void)n;
        c = strchr(line, '#');
        if (c)
            *c = '\0';
        c = strstr(line, "//");
        if (c)
            *c = '\0';
        t = trim(line);
        if (!*t)
            continue;
        sc->lines = realloc(sc->lines, (size_t)(sc->nlines + 1) * sizeof(*sc->lines));
        if (!sc->lines) {
            snprintf(err, errlen, "out of memory");
            fclose(f);
            return -1;
        }
        sc->lines[sc->nlines].no = no;
        sc->lines[sc->nlines].text = strdup(t);
        sc->nlines++;
    }
    free(line);
    fclose(f);
    return 0;
}

/* "env KEY=VALUE": a libdemi configuration key (tcp.syn_retries) or a
 * variable name (DEMI_TCP_SYN_RETRIES). */
static void apply_env(const char *kv)
{
    char key[256], name[300];
    const char *eq = strchr(kv, '=');
    size_t o = 0;

    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
        fail("env needs KEY=VALUE, got '%s'", kv);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if (strchr(key, '.')) {
        o = (size_t)snprintf(name, sizeof(name), "DEMI_");
        for (const char *k = key; *k && o + 1 < sizeof(name); k++)
            name[o++] = *k == '.' ? '_' : (char)toupper((unsigned char)*k);
        name[o] = '\0';
    } else {
        snprintf(name, sizeof(name), "%s", key);
    }
    if (setenv(name, eq + 1, 1) != 0)
        fail("setenv %s failed", name);
}

/* Directives: lines without a time. Returns false when @t is not one. */
static bool directive(char *t)
{
    char *arg;

    if (strncmp(t, "env ", 4) == 0 || strcmp(t, "ipv6") == 0)
        fail("'%s' lines must come before every other line", t[0] == 'e' ? "env" : "ipv6");
    if (strncmp(t, "tolerance_usecs", 15) == 0 && isspace((unsigned char)t[15])) {
        uint64_t v;
        arg = trim(t + 15);
        if (!parse_u64(arg, &v))
            fail("bad tolerance_usecs '%s'", arg);
        g_tolerance_ns = v * 1000u;
        return true;
    }
    if (strncmp(t, "peer_port", 9) == 0 && isspace((unsigned char)t[9])) {
        uint32_t v;
        arg = trim(t + 9);
        if (!parse_u32(arg, &v) || v == 0 || v > 65535)
            fail("bad peer_port '%s'", arg);
        g_cur = conn_get((uint16_t)v);
        return true;
    }
    if (strcmp(t, "forget_isn") == 0) {
        g_cur->isn_known = false; /* a new incarnation: learn our ISN again */
        return true;
    }
    if (strncmp(t, "peer_isn", 8) == 0 && isspace((unsigned char)t[8])) {
        arg = trim(t + 8);
        if (!parse_u32(arg, &g_peer_isn))
            fail("bad peer_isn '%s'", arg);
        g_cur->peer_isn = g_peer_isn;
        return true;
    }
    return false;
}

/* An ipv6 script starts once DAD (RFC 4862 5.4) has made our link-local and
 * global addresses usable: before, the stack neither sends from them nor
 * takes packets for them. The device swallows the DAD probes (as every ND
 * message); anything else sent meanwhile is unexpected. Script time 0 is
 * then, on a whole millisecond so that our TS values (ms) shift by exactly
 * g_ts0. */
static void wait_dad(void)
{
    uint64_t ok = 0;
    char buf[1024];

    while (demi_harness_counter("nd6_dad_ok", &ok) == 0 && ok < 2 && now_ns() < DAD_WAIT_NS)
        advance_to(now_ns() + 1000000u, false);
    if (ok < 2)
        fail("DAD of our IPv6 addresses not over after %" PRIu64 " s (nd6_dad_ok = %" PRIu64 ")",
             (uint64_t)(DAD_WAIT_NS / 1000000000u), ok);
    advance_to((now_ns() + 999999u) / 1000000u * 1000000u, false);
    if (g_pend_len > 0) {
        struct sent *p = &g_pend[g_pend_head];
        snprintf(buf, sizeof(buf), "%zu bytes, first byte 0x%02x", p->len, p->len ? p->buf[0] : 0);
        fail("unexpected packet during DAD: %s", buf);
    }
    g_t0 = now_ns();
    g_ts0 = (uint32_t)(g_t0 / 1000000u);
}

/* Run one script, in the child. Never returns on failure. */
static void run(const struct script *sc)
{
    struct demi_args args = {0};
    uint64_t script_t = 0;
    const char *addr;
    int i, r;

    /* Environment first: env and ipv6 lines, then what the runner needs. */
    unsetenv("CONFIG_PATH");
    for (i = 0; i < sc->nlines; i++) {
        g_lineno = sc->lines[i].no;
        if (strncmp(sc->lines[i].text, "env ", 4) == 0)
            apply_env(trim(sc->lines[i].text + 4));
        else if (strcmp(sc->lines[i].text, "ipv6") == 0)
            g_v6 = true;
        else
            break;
    }
    g_lineno = 0;
    setenv("LIBOS", "cattest", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", DEFAULT_LOCAL_ADDR, 0);
    addr = getenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR");
    if (inet_pton(AF_INET, addr, &g_local_ip) != 1)
        fail("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR '%s' is not an IPv4 address", addr);
    inet_pton(AF_INET, PEER_ADDR, &g_peer_ip);
    if (g_v6) {
        setenv("DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR", DEFAULT_LOCAL_ADDR6, 0);
        addr = getenv("DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR");
        if (inet_pton(AF_INET6, addr, &g_local_ip6) != 1)
            fail("DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR '%s' is not an IPv6 address", addr);
        inet_pton(AF_INET6, PEER_ADDR6, &g_peer_ip6);
    }
    r = demi_init(&args);
    if (r)
        fail("demi_init: %s", errname(r));
    if (demi_harness_now() != 0)
        fail("virtual clock does not start at 0");
    g_cur = conn_get(DEFAULT_PEER_PORT);
    if (g_v6)
        wait_dad();

    for (; i < sc->nlines; i++) {
        char *text = sc->lines[i].text, *cmd;
        char tb[32];
        uint64_t t;

        g_lineno = sc->lines[i].no;
        if (directive(text)) {
            vlog("  %4d: %s\n", g_lineno, text);
            continue;
        }
        /* Time prefix. */
        if (*text == '+' || isdigit((unsigned char)*text) || *text == '.') {
            char *sp = text;
            bool rel = *text == '+';
            uint64_t v;
            while (*sp && !isspace((unsigned char)*sp))
                sp++;
            if (*sp)
                *sp++ = '\0';
            if (!parse_seconds(text + (rel ? 1 : 0), &v))
                fail("bad time '%s'", text);
            t = rel ? script_t + v : v;
            if (t < script_t) {
                char pb[32];
                fail("time %s goes back (previous line at %s)", fmt_time(t, tb, sizeof(tb)),
                     fmt_time(script_t, pb, sizeof(pb)));
            }
            cmd = trim(sp);
        } else {
            fail("line needs a time (like 0.100 or +0.010) or is an unknown directive: '%s'", text);
        }
        script_t = t;
        vlog("  %4d: [%s] %s\n", g_lineno, fmt_time(t, tb, sizeof(tb)), cmd);

        if (cmd[0] == '<' && isspace((unsigned char)cmd[1])) {
            struct pktspec p;
            char *copy = strdup(cmd + 2);
            parse_packet(copy, false, &p);
            free(copy);
            advance_checked(t);
            inject(&p);
        } else if (cmd[0] == '>' && isspace((unsigned char)cmd[1])) {
            char *body = trim(cmd + 2);
            if (strcmp(body, "none") == 0) {
                advance_checked(t);
            } else {
                struct pktspec p;
                char *copy = strdup(body);
                parse_packet(copy, true, &p);
                free(copy);
                expect_packet(&p, t, cmd);
            }
        } else if (strcmp(cmd, "no-packet") == 0) {
            advance_checked(t);
        } else {
            advance_checked(t);
            do_syscall(cmd);
            r = demi_harness_poll();
            if (r)
                fail("demi_harness_poll: %s", errname(r));
            drain();
        }
        /* The stack's own invariants (listener counts...) after every step:
         * a count that drifts fails where it drifted. */
        {
            char why[256];
            if (demi_harness_check(why, sizeof(why)) != 0)
                fail("stack invariant broken: %s", why);
        }
    }
}

/* ---- the parent ----------------------------------------------------------- */

static const char *script_name(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    size_t len;

    b = b ? b + 1 : path;
    len = strlen(b);
    if (len > 4 && strcmp(b + len - 4, ".pkt") == 0)
        len -= 4;
    snprintf(buf, n, "%.*s", (int)len, b);
    return buf;
}

/* Run @path in a child; true when it passed. */
static bool run_one(const char *path)
{
    char name[256], msg[8192];
    struct script sc;
    int fds[2], status;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    script_name(path, name, sizeof(name));
    if (load(path, &sc, msg, sizeof(msg)) != 0) {
        printf("not ok - %s: %s\n", name, msg);
        return false;
    }
    if (pipe(fds) != 0) {
        printf("not ok - %s: pipe: %s\n", name, strerror(errno));
        return false;
    }
    if (g_verbose)
        printf("# %s\n", path);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        printf("not ok - %s: fork: %s\n", name, strerror(errno));
        return false;
    }
    if (pid == 0) {
        close(fds[0]);
        g_result_fd = fds[1];
        alarm(SCRIPT_TIMEOUT_S);
        run(&sc);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    while (got + 1 < sizeof(msg) && (n = read(fds[0], msg + got, sizeof(msg) - 1 - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    msg[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < sc.nlines; i++)
        free(sc.lines[i].text);
    free(sc.lines);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok - %s\n", name);
        return true;
    }
    if (WIFSIGNALED(status))
        printf("not ok - %s: %s\n", name,
               WTERMSIG(status) == SIGALRM ? "timed out (10 s of wall-clock time)" : strsignal(WTERMSIG(status)));
    else
        printf("not ok - %s: %s\n", name, got ? msg : "failed without a message");
    return false;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, i = 1;

    if (i < argc && strcmp(argv[i], "-v") == 0) {
        g_verbose = true;
        i++;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [-v] SCRIPT...\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (; i < argc; i++) {
        if (run_one(argv[i]))
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
