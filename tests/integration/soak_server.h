/* SPDX-License-Identifier: MIT */
/*
 * soak_server.h: the server side of the soak and SYN-flood tests, over the
 * public API: echo on a port (every byte popped is pushed back, zero copy)
 * and source on the next one (the client sends a length and a seed, two
 * big-endian 64-bit numbers, and gets that many bytes of soak_pattern, then
 * the server closes, so its end goes through TIME_WAIT). Used by
 * demi-soak-server (catpowder, against Linux clients) and demi-soak
 * (catloop, against its own clients in the same process).
 *
 * Completions are matched by token, never by qd alone: a qd closed with ops
 * pending sees them cancelled, and a qd number is reused at once.
 */
#ifndef DEMI_TESTS_SOAK_SERVER_H
#define DEMI_TESTS_SOAK_SERVER_H

#include <demi/types.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define SOAK_REQ_LEN 16 /* source request: length, seed */

struct soak_server_stats {
    uint64_t echo_conns, source_conns, echo_bytes, source_bytes;
    uint64_t resets, timeouts, errors, active_max;
    uint64_t pool_empty; /* demi_sgaalloc found the pools empty (retried later) */
};

/* Byte @off of stream @seed: the pattern of examples/common.h (ex_pattern). */
static inline uint8_t soak_pattern(uint64_t seed, uint64_t off)
{
    return (uint8_t)(seed * 151u + off + (off >> 8) * 7u + (off >> 16) * 3u);
}

/* Listen on @addr (echo) and its port + 1 (source), accepts posted. Exits
 * the process on failure. */
void soak_server_start(const struct sockaddr_in *addr);

/* Handle @qr if it is one of the server's operations: true when it was
 * (a pop's buffer is freed or reused), false otherwise. */
bool soak_server_handle(demi_qresult_t *qr);

/* Retry the connections that found the pools empty and wait for nothing
 * else; call it every round of the event loop. */
void soak_server_retry(void);

/* Stop serving: close every connection (gracefully; the stack resets those
 * whose data is unread). The listeners stay; a connection they complete
 * from now on is closed at once. */
void soak_server_stop(void);

/* Close the listeners (their accepts complete, cancelled). */
void soak_server_close_listeners(void);

uint64_t soak_server_active(void);
const struct soak_server_stats *soak_server_stats(void);

#endif /* DEMI_TESTS_SOAK_SERVER_H */
