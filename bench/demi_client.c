/* SPDX-License-Identifier: MIT */
/* demi_client.c: see demi_client.h. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, struct timespec under -std=c99 */
#include "demi_client.h"

#include "rtt_common.h"

#include <demi/libos.h>
#include <demi/wait.h>

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <time.h>

#define CONNECT_ATTEMPTS 50 /* of 100 ms each, while the server refuses */

void bench_check(int rc, const char *what)
{
    if (rc != 0)
        rtt_die("%s: %s", what, strerror(rc));
}

void bench_nodelay(int qd)
{
    int one = 1;

    bench_check(demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "demi_setsockopt(TCP_NODELAY)");
}

int bench_connect(const struct sockaddr_in *addr, int timeout_s)
{
    for (int attempt = 0;; attempt++) {
        struct timespec ts = {.tv_sec = timeout_s, .tv_nsec = 0};
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 100000000L};
        demi_qtoken_t qt;
        demi_qresult_t qr;
        int qd, rc;

        bench_check(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), "demi_socket");
        bench_check(demi_connect(&qt, qd, (const struct sockaddr *)addr, sizeof(*addr)), "demi_connect");
        rc = demi_wait(&qr, qt, &ts);
        if (rc == ETIMEDOUT)
            rtt_die("connect: no answer within %d s", timeout_s);
        bench_check(rc, "wait for connect");
        if (qr.qr_opcode == DEMI_OPC_CONNECT) {
            bench_nodelay(qd);
            return qd;
        }
        bench_check(demi_close(qd), "demi_close");
        if (qr.qr_ret != ECONNREFUSED || attempt >= CONNECT_ATTEMPTS)
            rtt_die("connect: %s", strerror((int)qr.qr_ret));
        nanosleep(&pause, NULL);
    }
}
