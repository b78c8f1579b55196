/* SPDX-License-Identifier: MIT */
/*
 * shim-calls: what the preload shim costs per call, in ns. A plain POSIX
 * program: run it under `demirun --libos catloop` (bench/run-bench.sh does),
 * where its sockets are libdemi's, and plainly, where they are the
 * kernel's; each row is the median of 15 batches.
 *
 *   passthrough  read() of an empty non-blocking pipe, through the shim's
 *                interposer (it is not a socket: straight to the kernel),
 *                minus the same syscall made directly: the interposer's cost
 *                for every fd that is not libdemi's
 *   recv EAGAIN  recv(MSG_DONTWAIT) on an empty connected socket
 *   epoll_wait   epoll_wait(timeout 0) on a set of one idle socket
 *   send+recv    64 B sent on one end and read on the other (loopback:
 *                the whole TCP stack in between, both ways of the shim)
 *
 * usage: shim-calls [ADDR]   (default 127.0.0.1; under demirun: the
 *        catloop address, e.g. 10.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH 20000
#define ROUNDS 15

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "shim-calls: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A connected TCP pair on @addr, both non-blocking. */
static void tcp_pair(const char *addr, int *a, int *b)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

    if (l < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        die("socket");
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) || listen(l, 4) || getsockname(l, (struct sockaddr *)&sin, &len))
        die("listen");
    *a = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(*a, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS)
        die("connect");
    fcntl(l, F_SETFL, O_NONBLOCK);
    for (uint64_t end = now_ns() + 2000000000ull; (*b = accept4(l, NULL, NULL, SOCK_NONBLOCK)) < 0;) {
        if (errno != EAGAIN || now_ns() > end)
            die("accept");
        char c;
        recv(*a, &c, 1, MSG_DONTWAIT); /* drives a one-process stack */
    }
    setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    close(l);
}

enum what { PASS, DIRECT, RECV_EAGAIN, EPOLL0, PINGPONG };

static uint64_t batch(enum what w, int p, int a, int b, int ep)
{
    char buf[64] = {0};
    struct epoll_event ev;
    uint64_t t0 = now_ns();

    for (int i = 0; i < BATCH; i++) {
        switch (w) {
        case PASS:
            if (read(p, buf, 1) != -1)
                exit(2);
            break;
        case DIRECT:
            if (syscall(SYS_read, p, buf, 1) != -1)
                exit(2);
            break;
        case RECV_EAGAIN:
            if (recv(a, buf, 64, MSG_DONTWAIT) != -1)
                exit(2);
            break;
        case EPOLL0:
            epoll_wait(ep, &ev, 1, 0);
            break;
        case PINGPONG: {
            size_t got = 0;
            if (send(a, buf, 64, 0) != 64)
                die("send");
            while (got < 64) {
                ssize_t n = recv(b, buf, 64 - got, 0);
                if (n > 0)
                    got += (size_t)n;
                else if (n < 0 && errno != EAGAIN)
                    die("recv");
            }
            break;
        }
        }
    }
    return now_ns() - t0;
}

static double median_ns(enum what w, int p, int a, int b, int ep)
{
    uint64_t r[ROUNDS];

    for (int i = 0; i < ROUNDS; i++)
        r[i] = batch(w, p, a, b, ep);
    qsort(r, ROUNDS, sizeof(r[0]), cmp_u64);
    return (double)r[ROUNDS / 2] / BATCH;
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
    const char *pre = getenv("LD_PRELOAD");
    int pipefd[2], a, b, ep;
    struct epoll_event ev = {.events = EPOLLIN};
    double direct, pass;

    if (pipe2(pipefd, O_NONBLOCK))
        die("pipe");
    tcp_pair(addr, &a, &b);
    ep = epoll_create1(0);
    ev.data.fd = b;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev))
        die("epoll");
    /* The two reads interleaved, batch by batch, so the machine's drift
     * (another process, frequency) falls on both alike. */
    {
        uint64_t rd[ROUNDS], rp[ROUNDS];
        batch(DIRECT, pipefd[0], a, b, ep); /* warm-up */
        for (int i = 0; i < ROUNDS; i++) {
            rd[i] = batch(DIRECT, pipefd[0], a, b, ep);
            rp[i] = batch(PASS, pipefd[0], a, b, ep);
        }
        qsort(rd, ROUNDS, sizeof(rd[0]), cmp_u64);
        qsort(rp, ROUNDS, sizeof(rp[0]), cmp_u64);
        direct = (double)rd[ROUNDS / 2] / BATCH;
        pass = (double)rp[ROUNDS / 2] / BATCH;
    }
    printf("# shim-calls %s (%s), ns per call, median of %d batches of %d\n", addr,
           pre && strstr(pre, "demi-preload") ? "demirun: libdemi sockets" : "Linux sockets", ROUNDS, BATCH);
    printf("passthrough  %8.1f  (read of an empty pipe %.1f, the syscall itself %.1f)\n", pass - direct, pass, direct);
    printf("recv EAGAIN  %8.1f\n", median_ns(RECV_EAGAIN, pipefd[0], a, b, ep));
    printf("epoll_wait   %8.1f\n", median_ns(EPOLL0, pipefd[0], a, b, ep));
    printf("send+recv    %8.1f  (64 B through the TCP stack, one process)\n", median_ns(PINGPONG, pipefd[0], a, b, ep));
    return 0;
}
