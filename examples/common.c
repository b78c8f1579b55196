/* SPDX-License-Identifier: MIT */
/* common.c: helpers shared by the example programs (see common.h). */
#include "common.h"

#include <demi/ext.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

const char *ex_prog = "demi-example";

void ex_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s: ", ex_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void ex_check(int rc, const char *what)
{
    if (rc != 0)
        ex_die("%s: %s", what, strerror(rc));
}

void ex_set_prog(int argc, char **argv)
{
    if (argc > 0 && argv[0] != NULL) {
        const char *slash = strrchr(argv[0], '/');
        ex_prog = slash != NULL ? slash + 1 : argv[0];
    }
}

void ex_init(int argc, char **argv)
{
    struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};

    ex_set_prog(argc, argv);
    ex_check(demi_init(&args), "demi_init");
}

void ex_parse_addr(const char *ip, const char *port, struct sockaddr_storage *out)
{
    struct addrinfo hints, *res = NULL;
    char host[INET6_ADDRSTRLEN + 64];
    size_t n = strlen(ip);
    int rc;

    /* [2001:db8::1] as in a URL: the brackets are not the address's. */
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
        ip++;
        n -= 2;
    }
    memset(out, 0, sizeof(*out));
    if (memchr(ip, ':', n) == NULL) {
        /* IPv4 in dotted quad only, as inet_pton takes it (getaddrinfo
         * would also take inet_aton's "1.2.3"). */
        struct sockaddr_in *sin = (struct sockaddr_in *)out;

        sin->sin_family = AF_INET;
        if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
            ex_die("bad IPv4 address '%s'", ip);
        sin->sin_port = htons((uint16_t)ex_parse_ulong(port, "port", 0, 65535));
        return;
    }
    if (n >= sizeof(host))
        ex_die("bad IPv6 address '%s'", ip);
    memcpy(host, ip, n);
    host[n] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET6;
    hints.ai_flags = AI_NUMERICHOST; /* an address (and %scope), never a name to look up */
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL || res->ai_family != AF_INET6 || res->ai_addrlen > sizeof(*out))
        ex_die("bad IPv6 address '%s': %s", host, rc != 0 ? gai_strerror(rc) : "not an IPv6 address");
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)ex_parse_ulong(port, "port", 0, 65535));
}

socklen_t ex_addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6) : (socklen_t)sizeof(struct sockaddr_in);
}

void ex_addr_any(const struct sockaddr_storage *a, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    out->ss_family = a->ss_family;
    if (a->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_addr.s_addr = htonl(INADDR_ANY);
    else
        ((struct sockaddr_in6 *)out)->sin6_addr = in6addr_any;
}

void ex_sga_source(const demi_sgarray_t *sga, struct sockaddr_storage *out, socklen_t *len)
{
    memset(out, 0, sizeof(*out));
    *len = (socklen_t)sizeof(*out);
    if (sga->sga_addr.sin_family != AF_INET6) {
        /* The whole of an IPv4 source fits Demikernel's field. */
        memcpy(out, &sga->sga_addr, sizeof(sga->sga_addr));
        *len = (socklen_t)sizeof(struct sockaddr_in);
        return;
    }
    ex_check(demi_sga_source(sga, (struct sockaddr *)out, len), "demi_sga_source");
}

unsigned long ex_parse_ulong(const char *s, const char *what, unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
        ex_die("bad %s '%s' (expected a number from %lu to %lu)", what, s, min, max);
    return v;
}

void ex_parse_args(int argc, char **argv, struct ex_args *a, uint32_t max_size, const char *usage)
{
    ex_set_prog(argc, argv);
    if (argc < 4 || argc > 6)
        ex_die("usage: %s", usage);
    if (strcmp(argv[1], "--server") == 0)
        a->mode = EX_SERVER;
    else if (strcmp(argv[1], "--client") == 0)
        a->mode = EX_CLIENT;
    else
        ex_die("usage: %s", usage);
    ex_parse_addr(argv[2], argv[3], &a->addr);
    a->size = 64;
    a->msgs = 1000;
    a->counts_given = argc > 4;
    if (argc > 4)
        a->size = (uint32_t)ex_parse_ulong(argv[4], "size", 1, max_size);
    if (argc > 5)
        a->msgs = (uint32_t)ex_parse_ulong(argv[5], "msgs", 1, UINT32_MAX);
}

void ex_parse_pipe_args(int argc, char **argv, struct ex_pipe_args *a, const char *usage)
{
    ex_set_prog(argc, argv);
    if (argc < 3 || argc > 5)
        ex_die("usage: %s", usage);
    if (strcmp(argv[1], "--server") == 0)
        a->mode = EX_SERVER;
    else if (strcmp(argv[1], "--client") == 0)
        a->mode = EX_CLIENT;
    else
        ex_die("usage: %s", usage);
    a->name = argv[2];
    a->size = 64;
    a->msgs = 1024;
    if (argc > 3)
        a->size = (uint32_t)ex_parse_ulong(argv[3], "size", 1, EX_SGA_MAX);
    if (argc > 4)
        a->msgs = (uint32_t)ex_parse_ulong(argv[4], "msgs", 1, UINT32_MAX);
}

static const char *pipe_name(const char *base, const char *suffix)
{
    static char name[1024];

    if ((size_t)snprintf(name, sizeof(name), "%s%s", base, suffix) >= sizeof(name))
        ex_die("pipe name '%s%s' is too long", base, suffix);
    return name;
}

int ex_pipe_create(const char *base, const char *suffix)
{
    const char *name = pipe_name(base, suffix);
    int qd, rc = demi_create_pipe(&qd, name);

    if (rc != 0)
        ex_die("demi_create_pipe(\"%s\"): %s", name, strerror(rc));
    return qd;
}

int ex_pipe_open(const char *base, const char *suffix)
{
    const char *name = pipe_name(base, suffix);
    const int attempts = 100; /* 5 s at 50 ms */
    int qd, rc;

    for (int i = 0; (rc = demi_open_pipe(&qd, name)) == ENOENT && i + 1 < attempts; i++)
        ex_sleep_ms(50);
    if (rc != 0)
        ex_die("demi_open_pipe(\"%s\"): %s", name, strerror(rc));
    return qd;
}

static const char *opcode_name(demi_opcode_t opc)
{
    switch (opc) {
    case DEMI_OPC_PUSH:
        return "push";
    case DEMI_OPC_POP:
        return "pop";
    case DEMI_OPC_ACCEPT:
        return "accept";
    case DEMI_OPC_CONNECT:
        return "connect";
    case DEMI_OPC_CLOSE:
        return "close";
    case DEMI_OPC_FAILED:
        return "failed";
    case DEMI_OPC_INVALID:
        break;
    }
    return "invalid";
}

demi_qresult_t ex_wait(demi_qtoken_t qt, int timeout_s, demi_opcode_t expect, const char *what)
{
    struct timespec ts = {.tv_sec = timeout_s, .tv_nsec = 0};
    demi_qresult_t qr;
    int rc;

    memset(&qr, 0, sizeof(qr));
    rc = demi_wait(&qr, qt, timeout_s > 0 ? &ts : NULL);
    if (rc == ETIMEDOUT)
        ex_die("%s: no completion within %d s", what, timeout_s);
    ex_check(rc, what);
    if (qr.qr_opcode == DEMI_OPC_FAILED)
        ex_die("%s: %s", what, strerror((int)qr.qr_ret));
    if (qr.qr_opcode != expect)
        ex_die("%s: completed as %s, expected %s", what, opcode_name(qr.qr_opcode), opcode_name(expect));
    return qr;
}

/* demi_bind, waiting up to 5 s while an IPv6 address is not ours yet:
 * libdemi's are tentative for their first second (duplicate address
 * detection), and like Linux it refuses a bind to one (EADDRNOTAVAIL). */
static void bind_when_ready(int qd, const struct sockaddr_storage *addr)
{
    for (int i = 0;; i++) {
        int rc = demi_bind(qd, (const struct sockaddr *)addr, ex_addr_len(addr));

        if (rc == EADDRNOTAVAIL && addr->ss_family == AF_INET6 && i < 50) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
            demi_qresult_t none;
            int n = 0;

            (void)demi_wait_next_n(&none, 1, &n, &ts); /* runs the stack */
            continue;
        }
        ex_check(rc, "demi_bind");
        return;
    }
}

int ex_tcp_listen(const struct sockaddr_storage *addr)
{
    int qd;

    ex_check(demi_socket(&qd, addr->ss_family, SOCK_STREAM, 0), "demi_socket");
    bind_when_ready(qd, addr);
    ex_check(demi_listen(qd, 64), "demi_listen");
    return qd;
}

int ex_tcp_accept(int lqd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;

    ex_check(demi_accept(&qt, lqd), "demi_accept");
    qr = ex_wait(qt, EX_ACCEPT_TIMEOUT_S, DEMI_OPC_ACCEPT, "accept");
    return qr.qr_value.ares.qd;
}

int ex_tcp_connect(const struct sockaddr_storage *addr)
{
    const int attempts = 50; /* 5 s at 100 ms */

    for (int i = 0;; i++) {
        struct timespec ts = {.tv_sec = EX_IO_TIMEOUT_S, .tv_nsec = 0};
        demi_qtoken_t qt;
        demi_qresult_t qr;
        int qd, rc;

        ex_check(demi_socket(&qd, addr->ss_family, SOCK_STREAM, 0), "demi_socket");
        rc = demi_connect(&qt, qd, (const struct sockaddr *)addr, ex_addr_len(addr));
        if (rc == EADDRNOTAVAIL && addr->ss_family == AF_INET6 && i + 1 < attempts) {
            /* No IPv6 source address yet: libdemi's are tentative for the
             * first second (duplicate address detection). Run the stack
             * meanwhile (a wait with nothing to wait for). */
            demi_qresult_t none;
            int n = 0;

            ts.tv_sec = 0;
            ts.tv_nsec = 100 * 1000 * 1000;
            (void)demi_wait_next_n(&none, 1, &n, &ts);
            ex_check(demi_close(qd), "demi_close");
            continue;
        }
        ex_check(rc, "demi_connect");
        rc = demi_wait(&qr, qt, &ts);
        if (rc == ETIMEDOUT)
            ex_die("connect to %s: no answer within %d s", ex_addr_str(addr), EX_IO_TIMEOUT_S);
        ex_check(rc, "wait for connect");
        if (qr.qr_opcode == DEMI_OPC_CONNECT)
            return qd;
        if (qr.qr_opcode != DEMI_OPC_FAILED)
            ex_die("connect: completed as %s", opcode_name(qr.qr_opcode));
        /* A refused connection leaves the socket unusable: start afresh. */
        ex_check(demi_close(qd), "demi_close");
        if (qr.qr_ret != ECONNREFUSED || i + 1 >= attempts)
            ex_die("connect to %s: %s", ex_addr_str(addr), strerror((int)qr.qr_ret));
        ex_sleep_ms(100);
    }
}

int ex_udp_bind(const struct sockaddr_storage *addr)
{
    int qd;

    ex_check(demi_socket(&qd, addr->ss_family, SOCK_DGRAM, 0), "demi_socket");
    bind_when_ready(qd, addr);
    return qd;
}

demi_sgarray_t ex_sgaalloc(size_t size)
{
    demi_sgarray_t sga = demi_sgaalloc(size);

    if (sga.sga_numsegs != 1 || sga.sga_segs[0].sgaseg_len != size)
        ex_die("demi_sgaalloc(%lu) failed", (unsigned long)size);
    return sga;
}

void ex_sgafree(demi_sgarray_t *sga)
{
    ex_check(demi_sgafree(sga), "demi_sgafree");
}

uint32_t ex_sga_len(const demi_sgarray_t *sga)
{
    if (sga->sga_numsegs == 0)
        return 0;
    if (sga->sga_numsegs != 1)
        ex_die("popped sga has %u segments, expected 1", (unsigned)sga->sga_numsegs);
    return sga->sga_segs[0].sgaseg_len;
}

void ex_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = ex_pattern(seed, off + i);
}

size_t ex_verify(const uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != ex_pattern(seed, off + i))
            return i;
    return len;
}

uint64_t ex_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ex_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *ex_addr_str(const struct sockaddr_storage *addr)
{
    static char buf[INET6_ADDRSTRLEN + 32];
    char ip[INET6_ADDRSTRLEN];

    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;

        if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip)) == NULL)
            strcpy(ip, "?");
        if (a->sin6_scope_id != 0)
            snprintf(buf, sizeof(buf), "[%s%%%u]:%u", ip, (unsigned)a->sin6_scope_id, (unsigned)ntohs(a->sin6_port));
        else
            snprintf(buf, sizeof(buf), "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
        return buf;
    }
    if (inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip)) == NULL)
        strcpy(ip, "?");
    snprintf(buf, sizeof(buf), "%s:%u", ip, (unsigned)ntohs(((const struct sockaddr_in *)addr)->sin_port));
    return buf;
}
