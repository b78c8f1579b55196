/* SPDX-License-Identifier: MIT */
/*
 * fuzz_api.c: libFuzzer target for the public API (<demi/libos.h>,
 * <demi/sga.h>, <demi/wait.h>) on LIBOS=catloop: sequences of calls with
 * arguments chosen by the input, good and bad, through the argument checks,
 * the qd and op tables, the buffer pools and the inet libOS over libdemi's
 * own stack on the in-process loopback.
 *
 * demi_init runs once per process (10.7.0.1, small tables and pools so that
 * exhausting them is reachable); the clock is then virtual, so a wait polls
 * once and time moves only when an input says so. Inputs share that one
 * runtime: each ends with everything closed and qds handed out from 0 again,
 * but tokens' generations, ephemeral ports, ISNs and the clock go on from
 * where the last input left them. Each input is a sequence of calls, op:u8
 * then its arguments, and ends with everything closed:
 *
 *     op % 20: socket, bind, listen, accept, connect, close, push, pushto,
 *              pop, wait, wait_any, wait_next_n, sgaalloc, sgafree,
 *              setsockopt, getsockopt, getpeername, advance time and poll,
 *              poll a few rounds, tamper with a held sga
 *
 * Arguments name the harness's tables or forge values: a qd of the 8 last
 * opened or a bad one (-1, out of range, closed); a token of the 16 last
 * issued (pending, completed, consumed) or a forged one (wrong generation,
 * slot out of range, random); an sga held by the application, a stale copy
 * of a freed one, a tampered copy (segment outside its buffer, sga_buf
 * moved, zero or two segments), a foreign buffer, or NULL; socket addresses
 * of every family, length and address class (ours, another host, loopback,
 * broadcast); NULL wherever the API checks for it. The harness keeps its
 * own pointers valid (a segment it forges lies in memory it owns), so what
 * it tests is the library's checking, not its own undefined behaviour.
 *
 * Oracles, besides ASan/UBSan and libFuzzer's leak check:
 *   - every call returns 0 or a positive errno; a result's opcode is one of
 *     the enum, a failure carries a positive errno, a pop's sga one segment
 *     no longer than its buffer; a consumed token waits with EINVAL; a
 *     wait_any consumes exactly the token at the offset it returns;
 *   - every sga the library hands out frees exactly once (a second free is
 *     EINVAL), and a stale copy never frees the buffer's next owner;
 *   - at the end of each input the application closes every qd, consumes
 *     every result and frees every buffer, the stack's timers run out in
 *     virtual time, and then no qd is open (qds.nused), no op is taken
 *     (ops.nfree == nops), no buffer is out (mem_in_use back to its value
 *     after demi_init) and no TCP pcb is left.
 */
#define ATTR_NONNULL(...) /* NULLs are arguments here, as for the library itself */

#include "fuzz_common.h"

#include "core/clock.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#define die(...) FUZZ_DIE("fuzz_api", __VA_ARGS__)

#define NQDS 8
#define NQTS 16
#define NSGAS 8
#define MS 1000000ull
#define SEC 1000000000ull

static int qds[NQDS];
static unsigned qd_next;
static demi_qtoken_t qts[NQTS];
static unsigned qt_next;

/* The application's buffers: held ones, and the last freed (stale) copy. */
struct app_sga {
    demi_sgarray_t sga;
    bool held;
};
static struct app_sga sgas[NSGAS];
static demi_sgarray_t stale;
static bool stale_valid;

static uint8_t foreign[4096]; /* memory of the application's own */
static uint32_t mem_base;     /* buffers out after demi_init */
static struct inet_stack *stack;

static bool trace; /* FUZZ_TRACE=1: print each call and result (reproducing a crash) */

static void check_ret(const char *call, int ret)
{
    if (trace)
        fprintf(stderr, "%s: %d\n", call, ret);
    if (ret < 0 || ret > 4095)
        die("%s returned %d: not 0 or a positive errno", call, ret);
}

/* ---- choosing arguments ------------------------------------------------ */

static int arg_qd(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in);

    if (b < 0xf0)
        return qds[b % NQDS];
    switch (b & 7) {
    case 0:
        return -1;
    case 1:
        return INT_MIN;
    case 2:
        return INT_MAX;
    case 3:
        return (int)rt.qds.nslots;
    case 4:
        return (int)rt.qds.nslots - 1;
    case 5:
        return 0;
    default:
        return (int)fuzz_u32(in);
    }
}

static demi_qtoken_t arg_qt(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in);
    demi_qtoken_t t = qts[b % NQTS];

    if (b < 0xc0)
        return t;
    switch (b & 7) {
    case 0:
        return t ^ (1ull << 32); /* another generation of the slot */
    case 1:
        return t + (1ull << 32);
    case 2:
        return (t & ~0xffffffffull) | rt.ops.nops; /* slot past the table */
    case 3:
        return 0;
    case 4:
        return UINT64_MAX;
    default:
        return fuzz_u64(in);
    }
}

static void qt_note(demi_qtoken_t qt)
{
    qts[qt_next++ % NQTS] = qt;
}

static void qd_note(int qd)
{
    qds[qd_next++ % NQDS] = qd;
}

/* A socket address: family, address class, port and length chosen. */
static const struct sockaddr *arg_addr(struct fuzz_in *in, struct sockaddr_storage *ss, socklen_t *len)
{
    static const uint32_t ips[8] = {0x0a070001, 0x00000000, 0x0a070002, 0x7f000001,
                                    0xffffffff, 0xe0000001, 0x0a0700ff, 0x0a070001};
    static const uint16_t ports[8] = {7000, 7001, 7002, 0, 80, 65535, 7000, 7001};
    static const socklen_t lens[8] = {sizeof(struct sockaddr_in),      sizeof(struct sockaddr_in), 0, 8, 15, 17,
                                      sizeof(struct sockaddr_storage), sizeof(struct sockaddr_in6)};
    uint8_t a = fuzz_u8(in), b = fuzz_u8(in);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;

    memset(ss, 0, sizeof(*ss));
    if ((b & 0xc0) == 0xc0)
        return NULL;
    sin->sin_family = (b & 0x30) == 0x10 ? AF_INET6 : (b & 0x30) == 0x20 ? AF_UNIX : AF_INET;
    sin->sin_addr.s_addr = htonl(ips[a & 7]);
    sin->sin_port = htons(ports[(a >> 3) & 7]);
    *len = lens[b & 7];
    return (const struct sockaddr *)ss;
}

static const struct timespec *arg_timeout(uint8_t b, struct timespec *ts)
{
    switch (b & 7) {
    case 0:
        return NULL; /* forever: in virtual time, one poll */
    case 1:
    case 2:
        ts->tv_sec = 0, ts->tv_nsec = 0;
        return ts;
    case 3:
        ts->tv_sec = 0, ts->tv_nsec = 1000;
        return ts;
    case 4:
        ts->tv_sec = -1, ts->tv_nsec = 0;
        return ts;
    case 5:
        ts->tv_sec = 0, ts->tv_nsec = 1000000000;
        return ts;
    default:
        ts->tv_sec = 1, ts->tv_nsec = 0;
        return ts;
    }
}

/* ---- buffers ------------------------------------------------------------- */

static void sga_take(const demi_sgarray_t *sga)
{
    struct app_sga *s = &sgas[0];

    for (int i = 0; i < NSGAS; i++)
        if (!sgas[i].held) {
            s = &sgas[i];
            break;
        }
    if (s->held) { /* table full: give the oldest back */
        int ret = demi_sgafree(&s->sga);
        if (ret)
            die("sgafree of a held buffer: %d", ret);
    }
    s->sga = *sga;
    s->held = true;
}

static void sga_free(struct app_sga *s)
{
    demi_sgarray_t copy = s->sga;
    int ret = demi_sgafree(&s->sga);

    if (ret)
        die("sgafree of a buffer the application holds: %d", ret);
    s->held = false;
    if (demi_sgafree(&copy) != EINVAL)
        die("a buffer freed twice");
    stale = copy;
    stale_valid = true;
}

/*
 * The sga a push sends: a held one, or a copy the harness changed. Every
 * change keeps the segment in memory the harness owns: a segment that grows
 * past its buffer keeps sga_buf (the library must refuse it); one whose
 * sga_buf is cleared or moved stays inside the buffer.
 */
static const demi_sgarray_t *arg_sga(struct fuzz_in *in, demi_sgarray_t *tmp)
{
    uint8_t b = fuzz_u8(in);
    struct app_sga *s = &sgas[b % NSGAS];
    uint32_t n;

    switch (b >> 5) {
    case 0:
    case 1:
    case 2:
        if (!s->held)
            return NULL;
        return &s->sga;
    case 3:
        if (!stale_valid)
            return NULL;
        *tmp = stale;
        return tmp;
    case 4: /* the application's own memory */
        memset(tmp, 0, sizeof(*tmp));
        tmp->sga_numsegs = 1;
        n = fuzz_u16(in) % sizeof(foreign);
        tmp->sga_segs[0].sgaseg_buf = foreign + n;
        tmp->sga_segs[0].sgaseg_len = fuzz_u16(in) % (uint32_t)(sizeof(foreign) - n + 1);
        return tmp;
    case 5: /* a held buffer's segment past its end, sga_buf kept */
        if (!s->held)
            return NULL;
        *tmp = s->sga;
        tmp->sga_segs[0].sgaseg_len += 1 + fuzz_u16(in);
        return tmp;
    case 6: /* inside a held buffer, sga_buf moved or cleared */
        if (!s->held)
            return NULL;
        *tmp = s->sga;
        n = tmp->sga_segs[0].sgaseg_len ? fuzz_u16(in) % tmp->sga_segs[0].sgaseg_len : 0;
        tmp->sga_segs[0].sgaseg_buf = (uint8_t *)tmp->sga_segs[0].sgaseg_buf + n;
        tmp->sga_segs[0].sgaseg_len -= n;
        tmp->sga_buf = (b & 1) ? NULL : (uint8_t *)tmp->sga_buf + 64 * (1 + (b & 6));
        return tmp;
    default: /* segment count 0 or 2 */
        if (!s->held)
            return NULL;
        *tmp = s->sga;
        tmp->sga_numsegs = (b & 1) ? 0 : 2;
        return tmp;
    }
}

/* ---- results ------------------------------------------------------------- */

static void result_check(const demi_qresult_t *qr, demi_qtoken_t qt)
{
    if (trace)
        fprintf(stderr, "  result: qd %d opcode %d ret %lld\n", qr->qr_qd, (int)qr->qr_opcode, (long long)qr->qr_ret);
    if (qr->qr_qt != qt)
        die("result for token %llx carries %llx", (unsigned long long)qt, (unsigned long long)qr->qr_qt);
    switch (qr->qr_opcode) {
    case DEMI_OPC_PUSH:
    case DEMI_OPC_CONNECT:
    case DEMI_OPC_CLOSE:
        break;
    case DEMI_OPC_POP:
        if (qr->qr_value.sga.sga_numsegs > 1)
            die("pop result with %u segments", qr->qr_value.sga.sga_numsegs);
        if (qr->qr_value.sga.sga_buf) {
            demi_sgarray_t s = qr->qr_value.sga;
            if (s.sga_numsegs == 1 && s.sga_segs[0].sgaseg_len > 0) {
                /* every byte delivered is readable */
                volatile uint8_t x = 0;
                for (uint32_t i = 0; i < s.sga_segs[0].sgaseg_len; i++)
                    x ^= ((const uint8_t *)s.sga_segs[0].sgaseg_buf)[i];
                (void)x;
            }
            sga_take(&s);
        }
        break;
    case DEMI_OPC_ACCEPT:
        if (qr->qr_value.ares.qd < 0)
            die("accept result with qd %d", qr->qr_value.ares.qd);
        qd_note(qr->qr_value.ares.qd);
        break;
    case DEMI_OPC_FAILED:
        if (qr->qr_ret <= 0 || qr->qr_ret > 4095)
            die("failed result with qr_ret %lld", (long long)qr->qr_ret);
        break;
    default:
        die("result opcode %d", (int)qr->qr_opcode);
    }
}

/* A result consumed: its token no longer waits. */
static void consumed_check(demi_qtoken_t qt)
{
    demi_qresult_t qr;
    struct timespec zero = {0, 0};

    if (demi_wait(&qr, qt, &zero) != EINVAL)
        die("a consumed token waited again");
}

/* ---- the calls --------------------------------------------------------------- */

static void call_socket(struct fuzz_in *in)
{
    static const int domains[4] = {AF_INET, AF_INET6, AF_UNIX, -1};
    static const int types[4] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM | SOCK_NONBLOCK};
    static const int protos[4] = {0, IPPROTO_TCP, IPPROTO_UDP, 255};
    uint8_t b = fuzz_u8(in);
    int qd = -1, ret;

    ret = demi_socket((b & 0x80) ? NULL : &qd, domains[b & 3], types[(b >> 2) & 3], protos[(b >> 4) & 3]);
    check_ret("socket", ret);
    if (ret == 0) {
        if (qd < 0)
            die("socket gave qd %d", qd);
        qd_note(qd);
    }
}

static void call_bind(struct fuzz_in *in)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int qd = arg_qd(in);
    const struct sockaddr *a = arg_addr(in, &ss, &len);

    check_ret("bind", demi_bind(qd, a, len));
}

static void call_listen(struct fuzz_in *in)
{
    static const int backlogs[4] = {1, 16, 0, -1};
    int qd = arg_qd(in);

    check_ret("listen", demi_listen(qd, backlogs[fuzz_u8(in) & 3]));
}

static void call_accept(struct fuzz_in *in)
{
    demi_qtoken_t qt = 0;
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in), ret;

    ret = demi_accept((b & 0x80) ? NULL : &qt, qd);
    check_ret("accept", ret);
    if (ret == 0)
        qt_note(qt);
}

static void call_connect(struct fuzz_in *in)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    demi_qtoken_t qt = 0;
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in), ret;
    const struct sockaddr *a = arg_addr(in, &ss, &len);

    ret = demi_connect((b & 0x80) ? NULL : &qt, qd, a, len);
    check_ret("connect", ret);
    if (ret == 0)
        qt_note(qt);
}

static void call_push(struct fuzz_in *in, bool to)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    demi_sgarray_t tmp;
    demi_qtoken_t qt = 0;
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in), ret;
    const demi_sgarray_t *sga = arg_sga(in, &tmp);

    if (to) {
        const struct sockaddr *a = arg_addr(in, &ss, &len);
        ret = demi_pushto((b & 0x80) ? NULL : &qt, qd, sga, a, len);
    } else {
        ret = demi_push((b & 0x80) ? NULL : &qt, qd, sga);
    }
    check_ret("push", ret);
    if (ret == 0)
        qt_note(qt);
    /* The application may free its buffer as soon as push returns. */
    if (ret == 0 && (b & 0x40))
        for (int i = 0; i < NSGAS; i++)
            if (sgas[i].held && sga == &sgas[i].sga) {
                sga_free(&sgas[i]);
                break;
            }
}

static void call_pop(struct fuzz_in *in)
{
    demi_qtoken_t qt = 0;
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in), ret;

    ret = demi_pop((b & 0x80) ? NULL : &qt, qd);
    check_ret("pop", ret);
    if (ret == 0)
        qt_note(qt);
}

static void call_wait(struct fuzz_in *in)
{
    demi_qresult_t qr;
    struct timespec ts;
    uint8_t b = fuzz_u8(in);
    demi_qtoken_t qt = arg_qt(in);
    int ret;

    ret = demi_wait((b & 0x80) ? NULL : &qr, qt, arg_timeout(b, &ts));
    check_ret("wait", ret);
    if (ret == 0) {
        result_check(&qr, qt);
        consumed_check(qt);
    }
}

static void call_wait_any(struct fuzz_in *in)
{
    demi_qtoken_t list[8];
    demi_qresult_t qr;
    struct timespec ts;
    uint8_t b = fuzz_u8(in);
    int n = (int)(b & 7), off = -1, ret;

    for (int i = 0; i < n; i++)
        list[i] = arg_qt(in);
    if ((b & 0x18) == 0x18)
        n = -1;
    ret =
        demi_wait_any((b & 0x80) ? NULL : &qr, (b & 0x40) ? NULL : &off, n ? list : NULL, n, arg_timeout(b >> 3, &ts));
    check_ret("wait_any", ret);
    if (ret == 0) {
        if (off < 0 || off >= n)
            die("wait_any returned offset %d of %d", off, n);
        result_check(&qr, list[off]);
        consumed_check(list[off]);
    }
}

static void call_wait_next_n(struct fuzz_in *in)
{
    demi_qresult_t qr[8];
    struct timespec ts;
    uint8_t b = fuzz_u8(in);
    int n = (int)(b & 7) - 1, got = -1, ret;

    ret = demi_wait_next_n((b & 0x80) ? NULL : qr, n, (b & 0x40) ? NULL : &got, arg_timeout(b >> 3, &ts));
    check_ret("wait_next_n", ret);
    if (ret == 0) {
        if (got < 1 || got > n)
            die("wait_next_n returned %d results for %d", got, n);
        for (int i = 0; i < got; i++) {
            result_check(&qr[i], qr[i].qr_qt);
            consumed_check(qr[i].qr_qt);
        }
    } else if (ret == ETIMEDOUT && got != 0) {
        die("wait_next_n timed out with %d results", got);
    }
}

static void call_sgaalloc(struct fuzz_in *in)
{
    static const size_t sizes[8] = {1, 100, 2048, 2049, 65536, 65537, 1u << 20, 0};
    uint8_t b = fuzz_u8(in);
    size_t size = (b & 8) ? (size_t)fuzz_u32(in) : sizes[b & 7];
    demi_sgarray_t sga = demi_sgaalloc(size);

    if (!sga.sga_buf) {
        if (sga.sga_numsegs != 0)
            die("sgaalloc failed with %u segments", sga.sga_numsegs);
        return;
    }
    if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len != size || !sga.sga_segs[0].sgaseg_buf)
        die("sgaalloc(%zu): %u segments of %u bytes", size, sga.sga_numsegs, sga.sga_segs[0].sgaseg_len);
    memset(sga.sga_segs[0].sgaseg_buf, b, size); /* all of it is ours */
    sga_take(&sga);
}

static void call_sgafree(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in);
    struct app_sga *s = &sgas[b % NSGAS];
    demi_sgarray_t tmp;
    int ret;

    switch (b >> 6) {
    case 0:
    case 1:
        if (s->held)
            sga_free(s);
        break;
    case 2: /* a stale copy: the slot may have a new owner */
        if (stale_valid) {
            tmp = stale;
            ret = demi_sgafree(&tmp);
            if (ret != EINVAL)
                die("a stale sga freed (%d)", ret);
        }
        break;
    default: /* NULL, a moved sga_buf, foreign memory */
        tmp = s->sga;
        tmp.sga_buf = (b & 1) ? (void *)foreign : s->held ? (uint8_t *)s->sga.sga_buf + 1 : NULL;
        ret = demi_sgafree((b & 2) ? NULL : &tmp);
        if (ret != EINVAL)
            die("sgafree of a forged sga returned %d", ret);
        break;
    }
}

static void call_sockopt(struct fuzz_in *in, bool set)
{
    static const int opts[8][2] = {
        {SOL_SOCKET, SO_LINGER}, {IPPROTO_TCP, TCP_NODELAY}, {SOL_SOCKET, SO_KEEPALIVE}, {SOL_SOCKET, SO_REUSEADDR},
        {SOL_SOCKET, SO_RCVBUF}, {SOL_SOCKET, SO_SNDBUF},    {SOL_SOCKET, SO_ERROR},     {IPPROTO_IP, IP_TTL},
    };
    static const socklen_t lens[4] = {sizeof(int), sizeof(struct linger), 0, 64};
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in);
    union {
        int i;
        struct linger l;
        uint8_t raw[64];
    } v;
    socklen_t len = lens[(b >> 3) & 3];

    memset(&v, 0, sizeof(v));
    v.i = (int)fuzz_u32(in);
    if (set) {
        check_ret("setsockopt", demi_setsockopt(qd, opts[b & 7][0], opts[b & 7][1], (b & 0x80) ? NULL : &v, len));
    } else {
        int ret = demi_getsockopt(qd, opts[b & 7][0], opts[b & 7][1], (b & 0x80) ? NULL : &v, (b & 0x40) ? NULL : &len);
        check_ret("getsockopt", ret);
        if (ret == 0 && len > sizeof(v))
            die("getsockopt wrote %u bytes", (unsigned)len);
    }
}

static void call_getpeername(struct fuzz_in *in)
{
    static const socklen_t lens[4] = {sizeof(struct sockaddr_in), sizeof(struct sockaddr_storage), 4, 0};
    struct sockaddr_storage ss;
    uint8_t b = fuzz_u8(in);
    int qd = arg_qd(in), ret;
    socklen_t len = lens[b & 3];

    ret = demi_getpeername(qd, (b & 0x80) ? NULL : (struct sockaddr *)&ss, (b & 0x40) ? NULL : &len);
    check_ret("getpeername", ret);
    /* An AF_INET6 socket's peer is 28 bytes, cut to the buffer as Linux
     * does (*len still says 28). */
    if (ret == 0 && !(len == sizeof(struct sockaddr_in) && ss.ss_family == AF_INET) &&
        !(len == sizeof(struct sockaddr_in6) && ss.ss_family == AF_INET6))
        die("getpeername: length %u family %u", (unsigned)len, ss.ss_family);
}

/* Virtual time: the stack's timers (retransmission, TIME_WAIT, ARP). */
static void call_time(struct fuzz_in *in)
{
    static const uint64_t steps[8] = {0, 100000, 1 * MS, 10 * MS, 200 * MS, 1 * SEC, 61 * SEC, 0};
    uint8_t b = fuzz_u8(in);

    if ((b & 7) == 7) {
        uint64_t next = timer_wheel_next(&stack->timers);
        if (next != UINT64_MAX && next > clock_now_ns())
            clock_advance(next - clock_now_ns());
    } else {
        clock_advance(steps[b & 7]);
    }
    rt_poll();
}

static void call_poll(struct fuzz_in *in)
{
    unsigned n = 1 + (fuzz_u8(in) & 7);

    while (n--)
        rt_poll();
}

/* ---- one input --------------------------------------------------------------- */

static void init_once(void)
{
    static bool done;
    struct demi_args args = {0, NULL, NULL};
    int ret;

    if (done)
        return;
    done = true;
    trace = getenv("FUZZ_TRACE") != NULL;
    setenv("LIBOS", "catloop", 1);
    unsetenv("CONFIG_PATH");
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.7.0.1", 1);
    setenv("DEMI_LIBDEMI_MAX_QUEUES", "16", 1);
    setenv("DEMI_LIBDEMI_MAX_OPS", "64", 1);
    setenv("DEMI_LIBDEMI_POOL_SMALL_COUNT", "512", 1);
    setenv("DEMI_LIBDEMI_POOL_LARGE_COUNT", "16", 1);
    setenv("DEMI_LIBDEMI_POOL_HUGE_COUNT", "2", 1);
    setenv("DEMI_TCP_MSL_MS", "1000", 1);
    setenv("DEMI_TCP_MAX_CONNECTIONS", "64", 1);
    setenv("DEMI_LIBDEMI_LOG_LEVEL", "error", 1);
    ret = demi_init(&args);
    if (ret)
        die("demi_init: %d", ret);
    if (demi_init(&args) != EEXIST)
        die("a second demi_init did not say EEXIST");
    log_set_level(LOG_ERROR);
    /* From here only the harness moves time: the stack's wheel goes on
     * from where the real clock left it. */
    clock_set_virtual(clock_real_ns());
    stack = inet_libos_stack(rt.net);
    mem_base = mem_in_use(&rt.mem);
}

/* Close everything the input left, consume every result, free every buffer,
 * let the stack's timers run out; then nothing may remain. */
static void finish(void)
{
    struct timespec zero = {0, 0};
    int rounds = 0;

    /* Highest first: the LIFO free stack of qds then hands out 0, 1, 2...
     * again, as after demi_init, so the next input sees the same numbers. */
    for (int qd = (int)rt.qds.nslots - 1; qd >= 0; qd--)
        if (rt.qds.slots[qd])
            check_ret("close", demi_close(qd));
    for (;;) {
        demi_qresult_t qr[8];
        int got = 0, ret;
        uint64_t next;

        if (++rounds > 4000)
            die("the end never comes: %u ops taken, %u pcbs", rt.ops.nops - rt.ops.nfree, stack->tcp.npcbs);
        ret = demi_wait_next_n(qr, 8, &got, &zero);
        if (ret == 0) {
            for (int i = 0; i < got; i++) {
                result_check(&qr[i], qr[i].qr_qt);
                if (qr[i].qr_opcode == DEMI_OPC_ACCEPT) /* a qd the application never saw */
                    demi_close(qr[i].qr_value.ares.qd);
            }
            continue;
        }
        if (ret != ETIMEDOUT)
            die("wait_next_n at the end: %d", ret);
        /* Frames on the loopback, sent and not yet received, are buffers
         * out too: poll them through before time moves. */
        if (stack->dev->stats.tx_frames != stack->dev->stats.rx_frames) {
            rt_poll();
            continue;
        }
        next = timer_wheel_next(&stack->timers);
        if (next == UINT64_MAX && rt.ops.ndone == 0)
            break;
        if (next != UINT64_MAX && next > clock_now_ns())
            clock_advance(next - clock_now_ns());
        rt_poll();
    }
    for (int i = 0; i < NSGAS; i++)
        if (sgas[i].held)
            sga_free(&sgas[i]);
    if (rt.qds.nused != 0)
        die("%u qds open after closing them all", rt.qds.nused);
    if (rt.ops.nfree != rt.ops.nops)
        die("%u ops still taken with every qd closed and every result consumed", rt.ops.nops - rt.ops.nfree);
    if (stack->tcp.npcbs != 0)
        die("%u TCP pcbs left", stack->tcp.npcbs);
    if (mem_in_use(&rt.mem) != mem_base)
        die("%u buffers out, %u after demi_init", mem_in_use(&rt.mem), mem_base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;

    init_once();
    fuzz_in_init(&in, data, size);
    for (int i = 0; i < NQDS; i++)
        qds[i] = -1;
    memset(qts, 0, sizeof(qts));
    memset(sgas, 0, sizeof(sgas));
    qd_next = qt_next = 0;
    stale_valid = false;
    while (fuzz_in_left(&in) > 0) {
        uint8_t op = fuzz_u8(&in);
        uint8_t b;

        switch (op % 20) {
        case 0:
            call_socket(&in);
            break;
        case 1:
            call_bind(&in);
            break;
        case 2:
            call_listen(&in);
            break;
        case 3:
            call_accept(&in);
            break;
        case 4:
            call_connect(&in);
            break;
        case 5:
            check_ret("close", demi_close(arg_qd(&in)));
            break;
        case 6:
            call_push(&in, false);
            break;
        case 7:
            call_push(&in, true);
            break;
        case 8:
            call_pop(&in);
            break;
        case 9:
            call_wait(&in);
            break;
        case 10:
            call_wait_any(&in);
            break;
        case 11:
            call_wait_next_n(&in);
            break;
        case 12:
            call_sgaalloc(&in);
            break;
        case 13:
            call_sgafree(&in);
            break;
        case 14:
            call_sockopt(&in, true);
            break;
        case 15:
            call_sockopt(&in, false);
            break;
        case 16:
            call_getpeername(&in);
            break;
        case 17:
            call_time(&in);
            break;
        case 18:
            call_poll(&in);
            break;
        default: /* write into a held buffer, as the application may */
            b = fuzz_u8(&in);
            if (sgas[b % NSGAS].held)
                memset(sgas[b % NSGAS].sga.sga_segs[0].sgaseg_buf, b, sgas[b % NSGAS].sga.sga_segs[0].sgaseg_len);
            break;
        }
    }
    finish();
    return 0;
}
