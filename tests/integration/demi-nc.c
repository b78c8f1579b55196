/* SPDX-License-Identifier: MIT */
/*
 * demi-nc: a small netcat over libdemi, for the integration tests that talk
 * to the Linux kernel's stack (catpowder.sh). Public API only.
 *
 *   demi-nc --connect IP PORT [options]   TCP: stdin -> socket -> stdout
 *   demi-nc --listen IP PORT [options]    the same on one accepted connection
 *   demi-nc --udp --connect IP PORT --bind LOCAL_IP
 *                                         each stdin line is one datagram; the
 *                                         reply to each is printed as a line
 *   demi-nc --udp --listen IP PORT --count N
 *                                         echo N datagrams to their senders
 * IP is IPv4 or IPv6 (2001:db8::2, [2001:db8::2], fe80::1%eth0; numeric, never
 * looked up): an IPv6 address makes an AF_INET6 socket (--bind's address must
 * then be IPv6 too).
 * Options:
 *   --until-peer-eof  after stdin ends, keep reading until the peer closes
 *                     (default: close once everything read is pushed)
 *   --linger-ms N     keep the stack running N ms after close (default 1000):
 *                     a libdemi stack lives in the process, so data still in
 *                     its send queue when the process exits is lost
 *   --timeout S       give up after S seconds without progress (default 30)
 *
 * Exits 0 on success; 1 with "demi-nc: <what>: <strerror>" otherwise (a
 * refused connection prints "Connection refused"). A summary with byte
 * counts and throughput goes to stderr.
 */
#include <demi/ext.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536u  /* bytes read from stdin per push */
#define MAX_PUSHES 64 /* pushes in flight before stdin waits */
#define BATCH 64

static struct {
    int listen, udp, until_peer_eof;
    unsigned linger_ms, timeout_s, count;
    struct sockaddr_storage addr, local; /* a sockaddr_in or a sockaddr_in6 */
    int has_local;
} o = {.linger_ms = 1000, .timeout_s = 30};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "demi-nc: ");
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

/* An IPv4 or IPv6 address (brackets allowed, a %scope for a link-local
 * one), port 0. */
static void parse_ip(const char *s, struct sockaddr_storage *a)
{
    struct addrinfo hints, *res = NULL;
    char host[INET6_ADDRSTRLEN + 64];
    size_t n = strlen(s);
    int rc;

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    memset(a, 0, sizeof(*a));
    if (memchr(s, ':', n) == NULL) {
        /* Dotted quad only, as before (getaddrinfo would take "1.2.3"). */
        a->ss_family = AF_INET;
        if (inet_pton(AF_INET, s, &((struct sockaddr_in *)a)->sin_addr) != 1)
            die("bad IPv4 address '%s'", s);
        return;
    }
    if (n >= sizeof(host))
        die("bad IPv6 address '%s'", s);
    memcpy(host, s, n);
    host[n] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET6;
    hints.ai_flags = AI_NUMERICHOST; /* an address (and %scope), never a name */
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_family != AF_INET6 || res->ai_addrlen > sizeof(*a))
        die("bad IPv6 address '%s': %s", host, rc != 0 ? gai_strerror(rc) : "not an IPv6 address");
    memcpy(a, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6) : (socklen_t)sizeof(struct sockaddr_in);
}

/* The port of either family (network order). */
static uint16_t *addr_port(struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET6)
        return &((struct sockaddr_in6 *)a)->sin6_port;
    return &((struct sockaddr_in *)a)->sin_port;
}

/* "a.b.c.d:port" or "[v6]:port". */
static const char *addr_str(struct sockaddr_storage *a)
{
    static char buf[INET6_ADDRSTRLEN + 16];
    char ip[INET6_ADDRSTRLEN] = "?";

    if (a->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof(ip));
        snprintf(buf, sizeof(buf), "[%s]:%u", ip, ntohs(*addr_port(a)));
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
        snprintf(buf, sizeof(buf), "%s:%u", ip, ntohs(*addr_port(a)));
    }
    return buf;
}

static void usage(void)
{
    die("usage: demi-nc [--udp] --connect|--listen IP PORT [--bind LOCAL_IP] [--count N] "
        "[--until-peer-eof] [--linger-ms N] [--timeout S]");
}

static void parse(int argc, char **argv)
{
    int have = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--udp") == 0) {
            o.udp = 1;
        } else if (strcmp(a, "--until-peer-eof") == 0) {
            o.until_peer_eof = 1;
        } else if ((strcmp(a, "--connect") == 0 || strcmp(a, "--listen") == 0) && i + 2 < argc) {
            char *end;
            unsigned long port = strtoul(argv[i + 2], &end, 10);

            o.listen = a[2] == 'l';
            parse_ip(argv[i + 1], &o.addr);
            if (*end || port == 0 || port > 65535)
                die("bad port '%s'", argv[i + 2]);
            *addr_port(&o.addr) = htons((uint16_t)port);
            have = 1;
            i += 2;
        } else if (strcmp(a, "--bind") == 0 && i + 1 < argc) {
            parse_ip(argv[++i], &o.local);
            o.has_local = 1;
        } else if (strcmp(a, "--linger-ms") == 0 && i + 1 < argc) {
            o.linger_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
            o.count = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            o.timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            usage();
        }
    }
    if (!have || (o.udp && o.listen && o.count == 0))
        usage();
    if (o.has_local && o.local.ss_family != o.addr.ss_family)
        die("--bind's address and the peer's are of different families (IPv4 and IPv6)");
}

/* Run the stack for @ms milliseconds with nothing to wait for. */
static void linger(unsigned ms)
{
    double end = now_s() + ms / 1000.0;

    while (now_s() < end) {
        demi_qresult_t qrs[BATCH];
        struct timespec ts = {0, 10 * 1000 * 1000};
        int n = 0;

        if (demi_wait_next_n(qrs, BATCH, &n, &ts) == 0)
            for (int i = 0; i < n; i++)
                if (qrs[i].qr_opcode == DEMI_OPC_POP && qrs[i].qr_value.sga.sga_numsegs > 0)
                    demi_sgafree(&qrs[i].qr_value.sga);
    }
}

/* demi_bind, waiting up to 5 s while an IPv6 address is not ours yet:
 * libdemi's are tentative for their first second (duplicate address
 * detection), and like Linux it refuses a bind to one (EADDRNOTAVAIL). */
static void bind_when_ready(int qd, struct sockaddr_storage *a)
{
    int rc;

    for (int i = 0;; i++) {
        rc = demi_bind(qd, (const struct sockaddr *)a, addr_len(a));
        if (rc != EADDRNOTAVAIL || a->ss_family != AF_INET6 || i >= 50)
            break;
        linger(100);
    }
    check(rc, "demi_bind");
}

static demi_qresult_t wait_one(demi_qtoken_t qt, const char *what)
{
    struct timespec ts = {(time_t)o.timeout_s, 0};
    demi_qresult_t qr;
    int rc = demi_wait(&qr, qt, &ts);

    if (rc == ETIMEDOUT)
        die("%s: no answer within %u s", what, o.timeout_s);
    check(rc, what);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        die("%s: %s", what, strerror((int)qr.qr_ret));
    return qr;
}

static void write_all(const void *p, size_t len)
{
    const char *c = p;

    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("write to stdout: %s", strerror(errno));
        c += n;
        len -= (size_t)n;
    }
}

static int tcp_open(void)
{
    const char *peer = addr_str(&o.addr);
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    check(demi_socket(&qd, o.addr.ss_family, SOCK_STREAM, 0), "demi_socket");
    if (!o.listen) {
        int rc;

        /* libdemi's IPv6 addresses are tentative for the first second
         * (duplicate address detection): no source address until then. */
        for (int i = 0;; i++) {
            rc = demi_connect(&qt, qd, (const struct sockaddr *)&o.addr, addr_len(&o.addr));
            if (rc != EADDRNOTAVAIL || o.addr.ss_family != AF_INET6 || i >= 50)
                break;
            linger(100);
        }
        check(rc, "demi_connect");
        qr = wait_one(qt, "connect");
        (void)qr;
        fprintf(stderr, "demi-nc: connected to %s\n", peer);
        return qd;
    }
    bind_when_ready(qd, &o.addr);
    check(demi_listen(qd, 16), "demi_listen");
    fprintf(stderr, "demi-nc: listening on %s\n", peer);
    check(demi_accept(&qt, qd), "demi_accept");
    {
        struct timespec ts = {60, 0};
        int rc = demi_wait(&qr, qt, &ts);

        if (rc == ETIMEDOUT)
            die("accept: no connection within 60 s");
        check(rc, "accept");
        if (qr.qr_opcode == DEMI_OPC_FAILED)
            die("accept: %s", strerror((int)qr.qr_ret));
    }
    check(demi_close(qd), "demi_close (listener)");
    fprintf(stderr, "demi-nc: accepted a connection\n");
    return qr.qr_value.ares.qd;
}

static void tcp_stream(void)
{
    static char buf[CHUNK];
    int qd = tcp_open();
    int in_eof = 0, peer_eof = 0, pop_pending = 0, pushes = 0;
    demi_qtoken_t pop_qt = 0;
    uint64_t sent = 0, received = 0;
    double start = now_s(), last = start, elapsed;
    int in_flags = fcntl(STDIN_FILENO, F_GETFL);

    /* A pipe or terminal must not block the stack's progress. */
    if (in_flags < 0 || fcntl(STDIN_FILENO, F_SETFL, in_flags | O_NONBLOCK) < 0)
        die("stdin: %s", strerror(errno));

    for (;;) {
        demi_qresult_t qrs[BATCH];
        struct timespec ts = {0, 1000 * 1000};
        int n = 0, rc;

        while (!in_eof && pushes < MAX_PUSHES) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            demi_sgarray_t sga;
            demi_qtoken_t qt;

            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (r < 0)
                die("read from stdin: %s", strerror(errno));
            if (r == 0) {
                in_eof = 1;
                break;
            }
            sga = demi_sgaalloc((size_t)r);
            if (sga.sga_numsegs == 0)
                die("demi_sgaalloc(%zd): out of buffers", r);
            memcpy(sga.sga_segs[0].sgaseg_buf, buf, (size_t)r);
            check(demi_push(&qt, qd, &sga), "demi_push");
            check(demi_sgafree(&sga), "demi_sgafree"); /* the push holds its own reference */
            pushes++;
            sent += (uint64_t)r;
        }
        if (!peer_eof && !pop_pending) {
            check(demi_pop(&pop_qt, qd), "demi_pop");
            pop_pending = 1;
        }
        if (in_eof && pushes == 0 && (peer_eof || !o.until_peer_eof))
            break;

        if (in_eof)
            ts.tv_nsec = 100 * 1000 * 1000;
        rc = demi_wait_next_n(qrs, BATCH, &n, &ts);
        if (rc == ETIMEDOUT) {
            if (now_s() - last > o.timeout_s)
                die("no progress for %u s (sent %llu, received %llu bytes)", o.timeout_s, (unsigned long long)sent,
                    (unsigned long long)received);
            continue;
        }
        check(rc, "demi_wait_next_n");
        last = now_s();
        for (int i = 0; i < n; i++) {
            demi_qresult_t *qr = &qrs[i];

            if (pop_pending && qr->qr_qt == pop_qt) {
                uint32_t len;

                pop_pending = 0;
                if (qr->qr_opcode == DEMI_OPC_FAILED)
                    die("pop: %s (sent %llu, received %llu bytes)", strerror((int)qr->qr_ret), (unsigned long long)sent,
                        (unsigned long long)received);
                len = qr->qr_value.sga.sga_numsegs ? qr->qr_value.sga.sga_segs[0].sgaseg_len : 0;
                if (len == 0)
                    peer_eof = 1;
                else
                    write_all(qr->qr_value.sga.sga_segs[0].sgaseg_buf, len);
                received += len;
                demi_sgafree(&qr->qr_value.sga);
            } else {
                if (qr->qr_opcode == DEMI_OPC_FAILED)
                    die("push: %s", strerror((int)qr->qr_ret));
                pushes--;
            }
        }
    }
    elapsed = now_s() - start;
    (void)fcntl(STDIN_FILENO, F_SETFL, in_flags); /* the descriptor may be shared */
    check(demi_close(qd), "demi_close");
    linger(o.linger_ms);
    fprintf(stderr, "demi-nc: sent %llu bytes, received %llu bytes in %.3f s (%.1f MB/s)\n", (unsigned long long)sent,
            (unsigned long long)received, elapsed,
            (double)(sent > received ? sent : received) / 1e6 / (elapsed > 0 ? elapsed : 1));
}

/* Each stdin line is one datagram; each reply is printed as one line. */
static void udp_lines(void)
{
    char line[65536];
    unsigned count = 0;
    int qd;

    check(demi_socket(&qd, o.addr.ss_family, SOCK_DGRAM, 0), "demi_socket");
    if (o.has_local) {
        *addr_port(&o.local) = 0;
        check(demi_bind(qd, (const struct sockaddr *)&o.local, addr_len(&o.local)), "demi_bind");
    }
    while (fgets(line, sizeof(line), stdin)) {
        size_t len = strcspn(line, "\n");
        demi_sgarray_t sga;
        demi_qresult_t qr;
        demi_qtoken_t qt;
        uint32_t rlen;

        if (len == 0)
            continue;
        sga = demi_sgaalloc(len);
        if (sga.sga_numsegs == 0)
            die("demi_sgaalloc(%zu): out of buffers", len);
        memcpy(sga.sga_segs[0].sgaseg_buf, line, len);
        check(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&o.addr, addr_len(&o.addr)), "demi_pushto");
        (void)wait_one(qt, "pushto");
        demi_sgafree(&sga);
        check(demi_pop(&qt, qd), "demi_pop");
        qr = wait_one(qt, "pop (reply)");
        rlen = qr.qr_value.sga.sga_numsegs ? qr.qr_value.sga.sga_segs[0].sgaseg_len : 0;
        write_all(qr.qr_value.sga.sga_segs[0].sgaseg_buf, rlen);
        write_all("\n", 1);
        demi_sgafree(&qr.qr_value.sga);
        count++;
    }
    check(demi_close(qd), "demi_close");
    fprintf(stderr, "demi-nc: %u datagrams echoed\n", count);
}

/* Echo @o.count datagrams back to their senders (zero copy: the popped
 * buffer itself is pushed). */
static void udp_echo(void)
{
    unsigned i;
    int qd;

    check(demi_socket(&qd, o.addr.ss_family, SOCK_DGRAM, 0), "demi_socket");
    bind_when_ready(qd, &o.addr);
    fprintf(stderr, "demi-nc: listening on UDP port %u\n", ntohs(*addr_port(&o.addr)));
    for (i = 0; i < o.count; i++) {
        demi_qresult_t qr;
        demi_qtoken_t qt;
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);

        check(demi_pop(&qt, qd), "demi_pop");
        qr = wait_one(qt, "pop");
        /* The whole source: sga_addr's 16 bytes cannot hold an IPv6 one. */
        memset(&from, 0, sizeof(from));
        if (qr.qr_value.sga.sga_addr.sin_family == AF_INET6) {
            check(demi_sga_source(&qr.qr_value.sga, (struct sockaddr *)&from, &from_len), "demi_sga_source");
        } else {
            memcpy(&from, &qr.qr_value.sga.sga_addr, sizeof(qr.qr_value.sga.sga_addr));
            from_len = sizeof(struct sockaddr_in);
        }
        check(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, from_len), "demi_pushto");
        (void)wait_one(qt, "pushto");
        demi_sgafree(&qr.qr_value.sga);
    }
    /* The last reply may still be queued in the stack: let it go out. */
    linger(o.linger_ms);
    check(demi_close(qd), "demi_close");
    fprintf(stderr, "demi-nc: %u datagrams echoed\n", i);
}

int main(int argc, char **argv)
{
    struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};

    parse(argc, argv);
    check(demi_init(&args), "demi_init");
    if (o.udp && o.listen)
        udp_echo();
    else if (o.udp)
        udp_lines();
    else
        tcp_stream();
    return 0;
}
