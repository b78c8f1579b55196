/* SPDX-License-Identifier: MIT */
/*
 * linux-rtt: round-trip latency over plain Linux sockets, the baseline of
 * bench/run-bench.sh and the Linux peer of its catpowder and net_af_xdp rows.
 * Same command line, wire protocol and output as demi-rtt:
 *
 *   linux-rtt --server IP PORT --proto tcp|udp [--msgs N --warmup N] [--busy-poll]
 *   linux-rtt --client IP PORT --proto tcp|udp --size N --msgs N --warmup N [--busy-poll]
 *
 * The server echoes (TCP: each recv's bytes; UDP: each datagram to its
 * sender). A TCP server serves one connection and exits at its end; a UDP
 * server exits after WARMUP + MSGS datagrams. The client sends SIZE bytes,
 * reads until SIZE bytes came back, and times the round with
 * CLOCK_MONOTONIC.
 *
 * --busy-poll: sockets are non-blocking and every recv is retried in a spin
 * loop (no sleep, no wakeup): the lowest latency the kernel's stack gives,
 * at the cost of a core per side. Without it, recv blocks.
 *
 * Output: one line "linux-rtt: RESULT mode=blocking|busy-poll proto size msgs
 * p50_ns p99_ns p999_ns mean_ns min_ns max_ns". Every wait is bounded (busy:
 * 10 s, the first 60 s; blocking: 30 s).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "rtt_common.h"
#include <unistd.h>

#define USAGE                                                                            \
    "usage: linux-rtt --server|--client IP PORT --proto tcp|udp [--size N] [--msgs N]\n" \
    "                 [--warmup N] [--busy-poll]"

#define IO_TIMEOUT_S 10
#define FIRST_TIMEOUT_S 60
/* Blocking mode: the bound of one recv (the first may wait for a slow peer). */
#define RCV_TIMEOUT_S 30

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        rtt_die("fcntl: %s", strerror(errno));
}

/* Wait until @fd is readable (blocking mode), bounded by @timeout_s. */
static void wait_readable(int fd, int timeout_s, const char *what)
{
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int rc;

    do
        rc = poll(&p, 1, timeout_s * 1000);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        rtt_die("poll: %s", strerror(errno));
    if (rc == 0)
        rtt_die("%s: nothing within %d s (peer gone?)", what, timeout_s);
}

/*
 * One recv (or recvfrom). Busy mode spins on the non-blocking socket,
 * checking the clock every 4096 tries; blocking mode blocks in recv, bounded
 * by SO_RCVTIMEO (set_rcvtimeo). Returns the byte count (0: end of stream).
 */
static ssize_t recv_one(const struct rtt_opts *o, int fd, void *buf, size_t cap, struct sockaddr_in *from,
                        int timeout_s)
{
    socklen_t flen = sizeof(*from);
    uint64_t deadline = 0;

    for (unsigned spins = 0;; spins++) {
        ssize_t n = from != NULL ? recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &flen) : recv(fd, buf, cap, 0);

        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            rtt_die("recv: %s", strerror(errno));
        if (!o->busy)
            rtt_die("recv: nothing within %d s (peer gone?)", RCV_TIMEOUT_S);
        if ((spins & 4095) == 0) {
            uint64_t t = rtt_now_ns();

            if (deadline == 0)
                deadline = t + (uint64_t)timeout_s * 1000000000u;
            else if (t > deadline)
                rtt_die("recv: nothing within %d s (peer gone?)", timeout_s);
        }
    }
}

/* Blocking mode: bound every recv. Busy mode: make the socket non-blocking. */
static void setup_recv(const struct rtt_opts *o, int fd)
{
    struct timeval tv = {.tv_sec = RCV_TIMEOUT_S, .tv_usec = 0};

    if (o->busy)
        set_nonblock(fd);
    else if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        rtt_die("SO_RCVTIMEO: %s", strerror(errno));
}

/* Send all of @buf (TCP; spins on EAGAIN in busy mode). */
static void send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            rtt_die("send: %s", strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
}

static int make_socket(const struct rtt_opts *o)
{
    int one = 1;
    int fd = socket(AF_INET, o->udp ? SOCK_DGRAM : SOCK_STREAM, 0);

    if (fd < 0)
        rtt_die("socket: %s", strerror(errno));
    if (!o->udp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        rtt_die("TCP_NODELAY: %s", strerror(errno));
    return fd;
}

/* ------------------------------------------------------------------ server */

static void server(const struct rtt_opts *o)
{
    uint8_t *buf = malloc(RTT_MAX_SIZE);
    int one = 1;
    int fd = make_socket(o);

    if (buf == NULL)
        rtt_die("out of memory");
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        rtt_die("SO_REUSEADDR: %s", strerror(errno));
    if (bind(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0)
        rtt_die("bind: %s", strerror(errno));
    if (o->udp) {
        uint64_t total = (uint64_t)o->msgs + o->warmup;

        setup_recv(o, fd);
        printf("linux-rtt: listening on udp port %u\n", (unsigned)ntohs(o->addr.sin_port));
        fflush(stdout);
        for (uint64_t i = 0; i < total; i++) {
            struct sockaddr_in from;
            ssize_t n = recv_one(o, fd, buf, RTT_MAX_SIZE, &from, i == 0 ? FIRST_TIMEOUT_S : IO_TIMEOUT_S);

            while (sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)&from, sizeof(from)) < 0)
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                    rtt_die("sendto: %s", strerror(errno));
        }
    } else {
        int cfd;

        if (listen(fd, 16) < 0)
            rtt_die("listen: %s", strerror(errno));
        printf("linux-rtt: listening on tcp port %u\n", (unsigned)ntohs(o->addr.sin_port));
        fflush(stdout);
        wait_readable(fd, FIRST_TIMEOUT_S, "accept");
        cfd = accept(fd, NULL, NULL);
        if (cfd < 0)
            rtt_die("accept: %s", strerror(errno));
        if (setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            rtt_die("TCP_NODELAY: %s", strerror(errno));
        setup_recv(o, cfd);
        for (;;) {
            ssize_t n = recv_one(o, cfd, buf, RTT_MAX_SIZE, NULL, IO_TIMEOUT_S);

            if (n == 0)
                break;
            send_all(cfd, buf, (size_t)n);
        }
        close(cfd);
    }
    close(fd);
    free(buf);
}

/* ------------------------------------------------------------------ client */

static void connect_retry(int fd, const struct rtt_opts *o)
{
    for (int attempt = 0;; attempt++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000L};

        if (connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) == 0)
            return;
        if (errno != ECONNREFUSED || attempt >= 50)
            rtt_die("connect: %s", strerror(errno));
        nanosleep(&pause, NULL);
    }
}

static void client(const struct rtt_opts *o)
{
    uint64_t total = (uint64_t)o->warmup + o->msgs;
    uint64_t *samples = calloc(o->msgs, sizeof(*samples));
    uint8_t *tx = malloc(o->size), *rx = malloc(o->size);
    int fd = make_socket(o);

    if (samples == NULL || tx == NULL || rx == NULL)
        rtt_die("out of memory");
    if (o->udp) {
        if (connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0)
            rtt_die("connect: %s", strerror(errno));
    } else {
        connect_retry(fd, o);
    }
    setup_recv(o, fd);

    for (uint64_t r = 0; r < total; r++) {
        int timeout = r == 0 ? FIRST_TIMEOUT_S : IO_TIMEOUT_S;
        uint32_t got = 0;
        uint64_t t0;

        for (uint32_t i = 0; i < o->size; i++)
            tx[i] = rtt_pattern(r, i);
        t0 = rtt_now_ns();
        if (o->udp) {
            while (send(fd, tx, o->size, 0) < 0)
                if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                    rtt_die("send: %s", strerror(errno));
            got = (uint32_t)recv_one(o, fd, rx, o->size, NULL, timeout);
            if (got != o->size)
                rtt_die("datagram of %u bytes back, sent %u", got, o->size);
        } else {
            send_all(fd, tx, o->size);
            while (got < o->size) {
                ssize_t n = recv_one(o, fd, rx + got, o->size - got, NULL, timeout);

                if (n == 0)
                    rtt_die("the server closed the connection");
                got += (uint32_t)n;
            }
        }
        if (r >= o->warmup)
            samples[r - o->warmup] = rtt_now_ns() - t0;
        if (rx[0] != tx[0] || rx[o->size - 1] != tx[o->size - 1] || rx[o->size / 2] != tx[o->size / 2])
            rtt_die("round %llu: wrong bytes echoed", (unsigned long long)r);
    }
    close(fd);

    printf("linux-rtt: RESULT mode=%s proto=%s size=%u msgs=%u ", o->busy ? "busy-poll" : "blocking",
           o->udp ? "udp" : "tcp", o->size, o->msgs);
    rtt_print_stats(samples, o->msgs);
    free(samples);
    free(tx);
    free(rx);
}

int main(int argc, char **argv)
{
    struct rtt_opts o;

    rtt_prog = "linux-rtt";
    rtt_parse(argc, argv, &o, USAGE, RTT_OPT_BUSY);
    if (o.server)
        server(&o);
    else
        client(&o);
    return 0;
}
