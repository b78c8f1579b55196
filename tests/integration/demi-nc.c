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
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
    struct sockaddr_in addr, local;
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

static void parse_ip(const char *s, struct sockaddr_in *a)
{
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    if (inet_pton(AF_INET, s, &a->sin_addr) != 1)
        die("bad IPv4 address '%s'", s);
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
            o.addr.sin_port = htons((uint16_t)port);
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
    char peer[INET_ADDRSTRLEN + 8];
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    inet_ntop(AF_INET, &o.addr.sin_addr, peer, sizeof(peer));
    snprintf(peer + strlen(peer), 8, ":%u", ntohs(o.addr.sin_port));
    check(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), "demi_socket");
    if (!o.listen) {
        check(demi_connect(&qt, qd, (const struct sockaddr *)&o.addr, sizeof(o.addr)), "demi_connect");
        qr = wait_one(qt, "connect");
        (void)qr;
        fprintf(stderr, "demi-nc: connected to %s\n", peer);
        return qd;
    }
    check(demi_bind(qd, (const struct sockaddr *)&o.addr, sizeof(o.addr)), "demi_bind");
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

    check(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), "demi_socket");
    if (o.has_local) {
        o.local.sin_port = 0;
        check(demi_bind(qd, (const struct sockaddr *)&o.local, sizeof(o.local)), "demi_bind");
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
        check(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)&o.addr, sizeof(o.addr)), "demi_pushto");
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

    check(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), "demi_socket");
    check(demi_bind(qd, (const struct sockaddr *)&o.addr, sizeof(o.addr)), "demi_bind");
    fprintf(stderr, "demi-nc: listening on UDP port %u\n", ntohs(o.addr.sin_port));
    for (i = 0; i < o.count; i++) {
        demi_qresult_t qr;
        demi_qtoken_t qt;
        struct sockaddr_in from;

        check(demi_pop(&qt, qd), "demi_pop");
        qr = wait_one(qt, "pop");
        from = qr.qr_value.sga.sga_addr;
        check(demi_pushto(&qt, qd, &qr.qr_value.sga, (const struct sockaddr *)&from, sizeof(from)), "demi_pushto");
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
