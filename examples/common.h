/* SPDX-License-Identifier: MIT */
/*
 * common.h: helpers shared by the example programs. They use only the public
 * API (the demi/ headers) and libc, like any application would.
 *
 * Every helper that can fail prints "<program>: <what>: <strerror>" and exits
 * with status 1, so the programs themselves read as straight-line code.
 */
#ifndef DEMI_EXAMPLES_COMMON_H
#define DEMI_EXAMPLES_COMMON_H

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/types.h>
#include <demi/wait.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Bound on every wait for data in a running exchange: a peer that stops
 * answering is an error, not a hang. */
#define EX_IO_TIMEOUT_S 10
/* Servers wait this long for their first client. */
#define EX_ACCEPT_TIMEOUT_S 60

/* Largest UDP payload over IPv4 (65535 - 20 - 8). */
#define EX_UDP_MAX_PAYLOAD 65507u
/* Largest single sga libdemi hands out (its biggest pool class). */
#define EX_SGA_MAX (1u << 20)

enum ex_mode { EX_SERVER, EX_CLIENT };

/* Arguments of the simple programs: --server IP PORT [size] [msgs] or
 * --client IP PORT [size] [msgs]. IP is IPv4 (10.0.0.1) or IPv6 (2001:db8::1,
 * [2001:db8::1], fe80::1%eth0): the programs open AF_INET or AF_INET6
 * sockets accordingly. */
struct ex_args {
    enum ex_mode mode;
    struct sockaddr_storage addr; /* a sockaddr_in or a sockaddr_in6 */
    uint32_t size;
    uint32_t msgs;
    int counts_given; /* size/msgs were on the command line */
};

/* Name used in messages (argv[0] without its directory). */
extern const char *ex_prog;

void ex_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Exit with "<what>: <strerror(rc)>" when @rc (a positive errno) is not 0. */
void ex_check(int rc, const char *what);

/* Set ex_prog from argv[0]. */
void ex_set_prog(int argc, char **argv);

/* demi_init() with the program's argc/argv; also sets ex_prog. */
void ex_init(int argc, char **argv);

/* Parse "IP" and "PORT" into @out (a sockaddr_in for an IPv4 address, a
 * sockaddr_in6 for an IPv6 one, with or without [brackets], a link-local one
 * with its %scope): getaddrinfo(3) with AF_UNSPEC and AI_NUMERICHOST, so no
 * name is looked up. Exits with a message on error. */
void ex_parse_addr(const char *ip, const char *port, struct sockaddr_storage *out);

/* The size of @a's struct for its family (16 or 28). */
socklen_t ex_addr_len(const struct sockaddr_storage *a);

/* @a's family's wildcard address (0.0.0.0 or ::) with port 0, for a client
 * socket's bind. */
void ex_addr_any(const struct sockaddr_storage *a, struct sockaddr_storage *out);

/* A popped datagram's whole source (demi_sga_source of <demi/ext.h>: the
 * 16-byte sga_addr cannot hold an IPv6 address); its size goes to *@len.
 * Call before pushing or freeing the sga. */
void ex_sga_source(const demi_sgarray_t *sga, struct sockaddr_storage *out, socklen_t *len);

/* Parse a decimal number in [min, max]; exits naming @what on error. */
unsigned long ex_parse_ulong(const char *s, const char *what, unsigned long min,
                             unsigned long max);

/* Parse the common --server/--client form; @usage is printed on error. */
void ex_parse_args(int argc, char **argv, struct ex_args *a, uint32_t max_size, const char *usage);

/* Wait for @qt up to @timeout_s seconds (<= 0: forever). Exits on timeout, on
 * a failed operation and when the opcode is not @expect. */
demi_qresult_t ex_wait(demi_qtoken_t qt, int timeout_s, demi_opcode_t expect, const char *what);

/* TCP socket of @addr's family bound to @addr and listening. */
int ex_tcp_listen(const struct sockaddr_storage *addr);

/* Accept one connection on @lqd (bounded by EX_ACCEPT_TIMEOUT_S). */
int ex_tcp_accept(int lqd);

/* TCP socket connected to @addr. Retries for a few seconds while the server
 * refuses, so scripts may start both sides at once. */
int ex_tcp_connect(const struct sockaddr_storage *addr);

/* UDP socket of @addr's family bound to @addr. */
int ex_udp_bind(const struct sockaddr_storage *addr);

/* Arguments of the pipe programs, Demikernel's command line:
 * --server|--client NAME [size=64] [msgs=1024]. */
struct ex_pipe_args {
    enum ex_mode mode;
    const char *name;
    uint32_t size;
    uint32_t msgs;
};

/* Parse the pipe programs' command line; @usage is printed on error. */
void ex_parse_pipe_args(int argc, char **argv, struct ex_pipe_args *a, const char *usage);

/* Create the pipe "@base@suffix" (Demikernel's "NAME:rx" style). */
int ex_pipe_create(const char *base, const char *suffix);

/* Open the pipe "@base@suffix". Retries for a few seconds while it does not
 * exist yet, so scripts may start both sides at once. */
int ex_pipe_open(const char *base, const char *suffix);

/* An sga of @size bytes; exits if the pool cannot provide one. */
demi_sgarray_t ex_sgaalloc(size_t size);

void ex_sgafree(demi_sgarray_t *sga);

/* Bytes of a received sga, checking that it has one segment or none. */
uint32_t ex_sga_len(const demi_sgarray_t *sga);

/*
 * Test pattern: byte @off of the stream or message numbered @seed. Mixing in
 * the higher bits of @off makes a chunk that is duplicated or shifted by a
 * multiple of 256 bytes visible.
 */
static inline uint8_t ex_pattern(uint64_t seed, uint64_t off)
{
    return (uint8_t)(seed * 151u + off + (off >> 8) * 7u + (off >> 16) * 3u);
}

void ex_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off);

/* Index of the first byte of @buf differing from the pattern, or @len. */
size_t ex_verify(const uint8_t *buf, size_t len, uint64_t seed, uint64_t off);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ex_now_ns(void);

void ex_sleep_ms(unsigned ms);

/* Printable "IP:PORT" or "[IPv6]:PORT". Returns a static buffer. */
const char *ex_addr_str(const struct sockaddr_storage *addr);

#endif /* DEMI_EXAMPLES_COMMON_H */
