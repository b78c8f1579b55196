/* SPDX-License-Identifier: MIT */
/**
 * @file demi/ext.h
 * libdemi extensions to the PDPIX socket calls that Demikernel does not have:
 * half-close (demi_shutdown), the local address (demi_getsockname) and a
 * datagram's whole source (demi_sga_source, for IPv6), for programs written
 * against POSIX sockets (the preload shim). Per-socket TCP
 * keepalive options (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) go through
 * demi_setsockopt() / demi_getsockopt() of <demi/libos.h>.
 *
 * Same conventions as every demi_* call: 0 or a positive errno, checked in
 * this order: EBADF (qd negative, unknown or closed), EINVAL (NULL, sizes,
 * out-of-range arguments), ENOTSUP (a queue that cannot do it: a pipe), then
 * the libOS's own answer. Nothing aborts the process. docs/api.md has the
 * full contract ("libdemi extensions: <demi/ext.h>").
 */
#ifndef DEMI_EXT_H_IS_INCLUDED
#define DEMI_EXT_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's values, for programs built without _DEFAULT_SOURCE (strict C99 +
 * POSIX), where <netinet/tcp.h> defines only TCP_NODELAY. Identical
 * redefinitions by a later <netinet/tcp.h> are harmless. */
#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE 4 /**< int seconds idle before the first probe, 1..32767 */
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL 5 /**< int seconds between probes, 1..32767 */
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT 6 /**< int unanswered probes before the connection fails, 1..127 */
#endif

/**
 * Shut down part of a full-duplex connection, as shutdown(2).
 *
 * TCP:
 *  - SHUT_WR: half-close. The FIN is sent after every byte already pushed,
 *    including pushes still waiting for send-queue room; pops keep returning
 *    what the peer sends until its FIN (end of stream). A later push fails at
 *    the call with EPIPE. The connection ends when the peer closes its side;
 *    demi_close() afterwards releases everything.
 *  - SHUT_RD: what is queued stays readable; after it a pop completes with
 *    end of stream (a zero-length sga) at once instead of waiting, and a pop
 *    already waiting completes so. As on Linux, data that arrives later is
 *    still accepted and returned by a pop that finds it queued; closing with
 *    such data unread resets the connection. With SHUT_WR as well, data that
 *    arrives after our FIN resets the connection (RFC 1122 4.2.2.13, as
 *    Linux): pops then fail with ECONNRESET.
 *  - SHUT_RDWR: both.
 * UDP (a socket with a default peer from demi_connect): SHUT_WR makes pushes
 * fail with EPIPE; SHUT_RD makes a pop that finds no datagram queued complete
 * with a zero-length sga.
 * Shutting down a direction twice is allowed and does nothing more.
 *
 * @param qd   a socket queue.
 * @param how  SHUT_RD, SHUT_WR or SHUT_RDWR.
 * @return 0; EBADF; EINVAL (@p how not one of the three); ENOTCONN (TCP not
 *         connected: fresh, bound, listening, connect in progress, reset or
 *         closed; UDP without a default peer); ENOTSUP (a pipe).
 */
extern int demi_shutdown(_In_ int qd, _In_ int how);

/**
 * The local address of a socket, as getsockname(2): a struct sockaddr_in.
 * 0.0.0.0:0 for a fresh socket; the address and port bound (the ephemeral
 * port chosen for a bind to port 0); after a connect, the local IPv4 address
 * and the port in use; for an accepted connection, the address it was
 * reached at and the listener's port.
 *
 * @param addr     receives the address.
 * @param addrlen  in: the size of @p addr, at least sizeof(struct
 *                 sockaddr_in); out: the size written.
 * @return 0; EBADF; EINVAL (NULL, *addrlen too small); ENOTSUP (a pipe).
 */
ATTR_NONNULL(2, 3)
extern int demi_getsockname(_In_ int qd, _Out_writes_to_(*addrlen, *addrlen) struct sockaddr *addr,
                            _Out_ socklen_t *addrlen);

/**
 * The source of a datagram popped from a UDP socket, whole, as recvfrom(2)
 * writes it: a struct sockaddr_in from an AF_INET socket, a struct
 * sockaddr_in6 from an AF_INET6 one (an IPv4 sender as ::ffff:a.b.c.d).
 * The sga's own sga_addr is Demikernel's 16-byte struct sockaddr_in, which
 * an IPv6 address does not fit: there sin_family says AF_INET6 and sin_port
 * is the port, the rest being the first 16 bytes of the sockaddr_in6
 * (Linux's truncation). This call gives the rest.
 *
 * The answer is kept with the buffer: valid while the application holds the
 * sga, until it pushes it (the stack writes headers there) or frees it.
 *
 * @param sga      a popped sga, still held (not freed).
 * @param addr     receives the address: at most *@p addrlen bytes.
 * @param addrlen  in: the size of @p addr; out: the address's full size (16
 *                 or 28), larger than given when it was cut, as recvfrom(2).
 * @return 0; EINVAL (NULL, a foreign, freed or null sga, demi_init not
 *         called); ENOENT (the sga has no source: a TCP or pipe pop, a
 *         buffer from demi_sgaalloc, or one pushed since).
 */
ATTR_NONNULL(1, 2, 3)
extern int demi_sga_source(_In_ const demi_sgarray_t *sga, _Out_writes_to_(*addrlen, *addrlen) struct sockaddr *addr,
                           socklen_t *addrlen);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_EXT_H_IS_INCLUDED */
