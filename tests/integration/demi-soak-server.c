/* SPDX-License-Identifier: MIT */
/*
 * demi-soak-server: the libdemi end of the SYN-flood and soak tests over
 * catpowder (synflood.sh, soak.sh). It serves Linux clients until told to
 * stop, then drains and checks that libdemi holds exactly what it held at
 * start: every buffer pool, TCP pcb, listener count, qd, op, timer and ARP
 * resolution (soak_counts.h).
 *
 *   demi-soak-server IP PORT [--duration S] [--drain-s S]
 *
 * PORT: echo (every byte popped is pushed back, zero copy). PORT+1: source:
 * the client sends 16 bytes, a length and a seed (two big-endian 64-bit
 * numbers), and gets that many bytes of soak_pattern, then the server
 * closes (so the server's end goes through TIME_WAIT). The services are
 * soak_server.c's.
 *
 * SIGTERM, SIGINT or --duration: stop. The server closes every connection
 * (gracefully; an aborted peer gets a reset), keeps the listeners open and
 * runs the stack until the counts equal those taken just after the
 * listeners were set up (half-open connections time out, TIME_WAIT ends,
 * ARP resolutions give up), at most --drain-s seconds (default 30); then it
 * closes the listeners and checks the counts against those before them.
 * SIGUSR1: print the listeners' counts and the current counts to stdout.
 *
 * Prints "listening on IP:PORT" when ready; at the end a summary, the counts
 * (start -> end), every non-zero counter of the stack (two leading spaces,
 * "  name value help") and "demi-soak-server: OK ..." or
 * "demi-soak-server: LEAK: <count start -> end, ...>". Exits 0 when every
 * count is back, 3 when one is not, 1 on a setup error.
 */
#include "soak_counts.h"
#include "soak_server.h"

#include <demi/libos.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64

static struct {
    struct sockaddr_in addr;
    unsigned duration_s, drain_s;
} o = {.drain_s = 30};

static volatile sig_atomic_t stop_flag, usr1_flag;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        usr1_flag = 1;
    else
        stop_flag = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: demi-soak-server IP PORT [--duration S] [--drain-s S]\n");
    exit(1);
}

static void parse(int argc, char **argv)
{
    unsigned long port;
    char *end;

    if (argc < 3)
        usage();
    memset(&o.addr, 0, sizeof(o.addr));
    o.addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &o.addr.sin_addr) != 1)
        usage();
    port = strtoul(argv[2], &end, 10);
    if (*end || port == 0 || port > 65534)
        usage();
    o.addr.sin_port = htons((uint16_t)port);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            o.duration_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--drain-s") == 0 && i + 1 < argc)
            o.drain_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else
            usage();
    }
}

static void print_counts_now(const struct soak_counts *start)
{
    struct soak_counts now;

    soak_counts_take(&now);
    printf("demi-soak-server: counts now (%" PRIu64 " connections open):\n", soak_server_active());
    soak_listeners_print(stdout, "  ");
    soak_counts_print(stdout, "  ", start, &now, false);
    soak_stats_print(stdout);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};
    struct soak_counts c0, c1, c2, c3;
    const struct soak_server_stats *st;
    demi_qresult_t qrs[BATCH];
    struct sigaction sa;
    int rc, bad_listeners;
    bool back1, back0;
    double t_start, t_stop, t_drained;
    char diff[1024];

    parse(argc, argv);
    rc = demi_init(&args);
    if (rc != 0) {
        fprintf(stderr, "demi-soak-server: demi_init: %s\n", strerror(rc));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    soak_counts_take(&c0);
    soak_server_start(&o.addr);
    soak_counts_take(&c1);
    printf("demi-soak-server: listening on %s:%u (echo) and :%u (source)\n", inet_ntoa(o.addr.sin_addr),
           ntohs(o.addr.sin_port), ntohs(o.addr.sin_port) + 1);
    fflush(stdout);

    t_start = soak_now_s();
    while (!stop_flag && (o.duration_s == 0 || soak_now_s() - t_start < o.duration_s)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int n = 0;

        if (usr1_flag) {
            usr1_flag = 0;
            print_counts_now(&c1);
        }
        rc = demi_wait_next_n(qrs, BATCH, &n, &ts);
        if (rc != 0 && rc != ETIMEDOUT) {
            fprintf(stderr, "demi-soak-server: demi_wait_next_n: %s\n", strerror(rc));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (!soak_server_handle(&qrs[i])) {
                fprintf(stderr, "demi-soak-server: a completion of no operation of ours (queue %d)\n", qrs[i].qr_qd);
                return 1;
            }
        }
        soak_server_retry();
    }

    /* Stop: every connection closed, the listeners kept while half-open
     * connections time out, TIME_WAIT ends and ARP resolutions give up. */
    t_stop = soak_now_s();
    printf("demi-soak-server: stopping after %.1f s with %" PRIu64 " connections open; draining (at most %u s)\n",
           t_stop - t_start, soak_server_active(), o.drain_s);
    fflush(stdout);
    soak_server_stop();
    back1 = soak_drain(&c1, o.drain_s, soak_server_handle, &c2);
    t_drained = soak_now_s();
    printf("demi-soak-server: listeners after the drain:\n");
    bad_listeners = soak_listeners_print(stdout, "  ");
    /* Then the listeners: their pending accepts complete, cancelled. */
    soak_server_close_listeners();
    back0 = soak_drain(&c0, 1.0, NULL, &c3);

    st = soak_server_stats();
    printf("demi-soak-server: served %" PRIu64 " echo and %" PRIu64 " source connections (at most %" PRIu64
           " at once); echoed %" PRIu64 " bytes, sourced %" PRIu64 " bytes; %" PRIu64 " resets, %" PRIu64
           " timeouts, %" PRIu64 " other errors; the pools were empty %" PRIu64 " times\n",
           st->echo_conns, st->source_conns, st->active_max, st->echo_bytes, st->source_bytes, st->resets, st->timeouts,
           st->errors, st->pool_empty);
    printf("demi-soak-server: drained in %.1f s\n", t_drained - t_stop);
    soak_pool_failures(diff, sizeof(diff));
    printf("demi-soak-server: buffer allocations that failed: %s\n", diff);
    printf("demi-soak-server: counts with the listeners open, start -> after the drain:\n");
    soak_counts_print(stdout, "  ", &c1, &c2, true);
    printf("demi-soak-server: counts before the listeners, start -> after closing them:\n");
    soak_counts_print(stdout, "  ", &c0, &c3, true);
    printf("demi-soak-server: counters of the stack:\n");
    soak_stats_print(stdout);

    if (!back1) {
        soak_counts_diff(&c1, &c2, diff, sizeof(diff));
        printf("demi-soak-server: LEAK after a %u s drain, listeners open: %s\n", o.drain_s, diff);
        soak_pcbs_describe(stdout, "demi-soak-server:   left: ", 10);
    } else if (!back0) {
        soak_counts_diff(&c0, &c3, diff, sizeof(diff));
        printf("demi-soak-server: LEAK after closing the listeners: %s\n", diff);
    } else if (bad_listeners) {
        printf("demi-soak-server: LEAK: a listener's counts differ from its queues\n");
    } else {
        printf("demi-soak-server: OK: every count back to its start value\n");
    }
    fflush(stdout);
    return back1 && back0 && !bad_listeners ? 0 : 3;
}
