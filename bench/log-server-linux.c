/* SPDX-License-Identifier: MIT */
/*
 * log-server-linux: examples/log-server's server written as an application
 * would write it without libdemi, the baseline of bench/storage.sh. Kernel
 * sockets, one epoll loop, and for each request write(2) of the record to a
 * file opened O_APPEND then fdatasync(2) before the answer: each request
 * is durable on its own, as log-server's are (one request per
 * fdatasync; log-server's group commit shows only with more than one
 * request in flight, and bench/storage.sh sends one).
 *
 *   log-server-linux IP PORT --log PATH
 *
 * Same protocol as log-server: request u32 length (1..65536) and the bytes;
 * answer u32 length, u64 sequence number (0 for the first record), the
 * bytes. The record written is the request as it came (length and bytes).
 * Prints "log-server-linux: listening on IP:PORT, log PATH"; SIGINT or
 * SIGTERM ends it with a summary.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_HDR 4u
#define REPLY_HDR 12u
#define MAX_SIZE 65536u
#define MAX_EVENTS 64

struct conn {
    int fd;
    uint32_t have; /* bytes of the request so far */
    uint8_t req[REQ_HDR + MAX_SIZE];
    uint8_t rep[REPLY_HDR + MAX_SIZE];
};

static volatile sig_atomic_t stop;
static int log_fd;
static uint64_t next_seq, fsyncs;

static void on_signal(int sig)
{
    stop = sig;
}

static void die(const char *what)
{
    fprintf(stderr, "log-server-linux: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Write all of @n bytes to a blocking @fd; 0, or -1 on failure. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* The request in @c is whole: log it durably, then answer. */
static int serve(struct conn *c, uint32_t len)
{
    if (write_all(log_fd, c->req, REQ_HDR + len) != 0)
        die("write to the log");
    if (fdatasync(log_fd) != 0)
        die("fdatasync");
    fsyncs++;
    put_le(c->rep, len, 4);
    put_le(c->rep + 4, next_seq++, 8);
    memcpy(c->rep + REPLY_HDR, c->req + REQ_HDR, len);
    c->have = 0;
    return write_all(c->fd, c->rep, REPLY_HDR + len);
}

/* Read what @c has sent; -1: close it. */
static int conn_input(struct conn *c)
{
    for (;;) {
        uint32_t want = REQ_HDR, len = 0;
        if (c->have >= REQ_HDR) {
            len = get32(c->req);
            if (len == 0 || len > MAX_SIZE)
                return -1;
            want = REQ_HDR + len;
        }
        if (c->have == want) {
            if (serve(c, len) != 0)
                return -1;
            continue;
        }
        ssize_t r = recv(c->fd, c->req + c->have, want - c->have, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0)
            return -1;
        c->have += (uint32_t)r;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    struct epoll_event ev, evs[MAX_EVENTS];
    struct sigaction sa;
    int lfd, ep, one = 1;

    if (argc != 5 || strcmp(argv[3], "--log") != 0 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "usage: log-server-linux IP PORT --log PATH\n");
        return 2;
    }
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        die(argv[4]);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 128) != 0)
        die("bind/listen");
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the listener */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        die("epoll_ctl");
    printf("log-server-linux: listening on %s:%s, log %s\n", argv[1], argv[2], argv[4]);
    fflush(stdout);

    while (!stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = calloc(1, sizeof(*c));
                if (!c)
                    die("calloc");
                c->fd = fd;
                ev.events = EPOLLIN;
                ev.data.ptr = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                    die("epoll_ctl");
                continue;
            }
            if (conn_input(c) != 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                conn_close(c);
            }
        }
    }
    printf("log-server-linux: %llu records, %llu fdatasyncs\n", (unsigned long long)next_seq,
           (unsigned long long)fsyncs);
    close(log_fd);
    return 0;
}
