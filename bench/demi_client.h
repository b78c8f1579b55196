/* SPDX-License-Identifier: MIT */
/*
 * demi_client.h: what the benchmark clients over libdemi's API (demi-rtt,
 * demi-loadgen) share: dying on an error code, TCP_NODELAY, and a connect
 * that waits for a server still starting.
 */
#ifndef DEMI_BENCH_DEMI_CLIENT_H
#define DEMI_BENCH_DEMI_CLIENT_H

#include <netinet/in.h>

/* Exit with "@what: strerror(@rc)" unless @rc is 0. */
void bench_check(int rc, const char *what);

/* TCP_NODELAY on @qd: every message leaves at once. */
void bench_nodelay(int qd);

/* A connected TCP queue to @addr with TCP_NODELAY, retrying every 100 ms
 * for about 5 s while the server refuses (it may still be starting); exit
 * on any other failure, or after @timeout_s of one connect unanswered. */
int bench_connect(const struct sockaddr_in *addr, int timeout_s);

#endif /* DEMI_BENCH_DEMI_CLIENT_H */
