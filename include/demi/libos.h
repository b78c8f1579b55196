/* SPDX-License-Identifier: MIT */
/**
 * @file demi/libos.h
 * Queue (socket) calls of the PDPIX API, Demikernel-compatible.
 *
 * Every call returns 0 on success or a positive errno value:
 *  - EBADF  the queue descriptor is negative, unknown or closed;
 *  - EINVAL a NULL pointer, a wrong size or an out-of-range argument;
 *  - others as documented per call (ENOTSUP, EAGAIN, ENOMEM, ...).
 * Nothing aborts the process. See docs/api.md for the full contract.
 *
 * The prototypes, their nonnull attributes included, are Demikernel's own:
 * a program that builds with -Werror against Demikernel's headers builds
 * against these. Where Demikernel marks no pointer nonnull (demi_getsockopt's
 * optlen, demi_getpeername's addrlen, demi_sgafree's sga) neither do we;
 * NULL there is EINVAL at run time, as everywhere.
 */
#ifndef DEMI_LIBOS_H_IS_INCLUDED
#define DEMI_LIBOS_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Initialise libdemi: select the libOS named by the environment variable
 * LIBOS (catnap by default) and read the YAML file named by CONFIG_PATH
 * (optional for catnap).
 * @param args  argc/argv of the application (may be 0/NULL); callback reserved.
 * @return 0; EEXIST if already initialised; EINVAL for a NULL @p args, an
 *         unknown LIBOS or a bad configuration (the message names the file,
 *         key and expected form); ENOTSUP for a libOS not built in.
 */
ATTR_NONNULL(1)
extern int demi_init(_In_ const struct demi_args *args);

/**
 * Create the shared-memory pipe @p name between processes on this host
 * (Demikernel's Catmem) and give its creator's end a qd. Semantics, the
 * zero-copy extension and the pipe's errors in detail: <demi/pipe.h>.
 * @param memqd_out receives the queue descriptor.
 * @param name      1..128 bytes, none of them '/', '~' or an ASCII control
 *                  character (Demikernel's "NAME:rx" style is fine).
 * @return 0; EINVAL (NULL, bad name, demi_init not called); EEXIST (a live
 *         pipe of that name, or a non-pipe object under it); EMFILE; the
 *         errno of the shared memory calls.
 */
ATTR_NONNULL(1, 2)
extern int demi_create_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Open the pipe @p name that another process (or this one) created.
 * @param memqd_out receives the queue descriptor.
 * @param name      the pipe's name, as given to demi_create_pipe().
 * @return 0; EINVAL (NULL, bad name, demi_init not called); ENOENT (no such
 *         pipe); EBUSY (it has, or had, its opener); EPROTO (not a pipe of
 *         this libdemi); EMFILE.
 */
ATTR_NONNULL(1, 2)
extern int demi_open_pipe(_Out_ int *memqd_out, _In_z_ const char *name);

/**
 * Create a socket queue.
 * @param sockqd_out receives the new queue descriptor.
 * @param domain     AF_INET.
 * @param type       SOCK_STREAM (TCP) or SOCK_DGRAM (UDP).
 * @param protocol   0, or the protocol matching @p type.
 * @return 0; EINVAL (NULL output); ENOTSUP (other domain/type/protocol);
 *         EMFILE (queue table full).
 */
ATTR_NONNULL(1)
extern int demi_socket(_Out_ int *sockqd_out, _In_ int domain, _In_ int type, _In_ int protocol);

/**
 * Mark a TCP socket as listening.
 * @return 0; EBADF; EINVAL (backlog < 0 ... or not bound); ENOTSUP (UDP).
 */
extern int demi_listen(_In_ int sockqd, _In_ int backlog);

/**
 * Bind a socket to a local IPv4 address and port (port 0: ephemeral).
 * @return 0; EBADF; EINVAL (NULL, size < sizeof(struct sockaddr_in), not
 *         AF_INET, already bound); EADDRINUSE; EADDRNOTAVAIL.
 */
ATTR_NONNULL(2)
extern int demi_bind(_In_ int sockqd, _In_reads_bytes_(size) const struct sockaddr *addr, _In_ socklen_t size);

/**
 * Accept a connection on a listening socket, asynchronously.
 * Completes with DEMI_OPC_ACCEPT and qr_value.ares = new queue and peer.
 * @return 0; EBADF; EINVAL (NULL, socket not listening).
 */
ATTR_NONNULL(1)
extern int demi_accept(_Out_ demi_qtoken_t *qt_out, _In_ int sockqd);

/**
 * Connect a socket, asynchronously. Completes with DEMI_OPC_CONNECT, or
 * DEMI_OPC_FAILED with qr_ret ECONNREFUSED / ETIMEDOUT / ENETUNREACH.
 * @return 0; EBADF; EINVAL (NULL, bad size or family); EISCONN; EALREADY.
 */
ATTR_NONNULL(1, 3)
extern int demi_connect(_Out_ demi_qtoken_t *qt_out, _In_ int sockqd,
                        _In_reads_bytes_(size) const struct sockaddr *addr, _In_ socklen_t size);

/**
 * Close a queue. Pending operations on it complete with DEMI_OPC_FAILED and
 * qr_ret ECANCELED; their tokens stay waitable. Pushes already completed are
 * still delivered (graceful close).
 * @return 0; EBADF.
 */
extern int demi_close(_In_ int qd);

/**
 * Push the data of @p sga to a connected queue, asynchronously. Completes
 * with DEMI_OPC_PUSH once the libOS has accepted all bytes into its send path.
 * Buffers from demi_sgaalloc() are sent without copying and stay protected
 * until the stack no longer needs them, so freeing them early is safe.
 * @return 0; EBADF; EINVAL (NULL, no segment, zero length, too many
 *         segments); ENOTCONN; EDESTADDRREQ (unconnected UDP).
 */
ATTR_NONNULL(1, 3)
extern int demi_push(_Out_ demi_qtoken_t *qt_out, _In_ int qd, _In_ const demi_sgarray_t *sga);

/**
 * Push one datagram to @p dest (UDP), asynchronously.
 * @return as demi_push(); EINVAL also for a bad address or size; ENOTSUP on TCP.
 */
ATTR_NONNULL(1, 3, 4)
extern int demi_pushto(_Out_ demi_qtoken_t *qt_out, _In_ int qd, _In_ const demi_sgarray_t *sga,
                       _In_reads_bytes_(size) const struct sockaddr *dest, _In_ socklen_t size);

/**
 * Pop data from a queue, asynchronously. Completes with DEMI_OPC_POP and an
 * sga the application must demi_sgafree(). TCP: at least one byte, boundaries
 * not kept; end of stream is a zero-length sga; a reset is DEMI_OPC_FAILED
 * with ECONNRESET. UDP: one datagram, sga_addr = sender.
 * @return 0; EBADF; EINVAL (NULL); ENOTCONN.
 */
ATTR_NONNULL(1)
extern int demi_pop(_Out_ demi_qtoken_t *qt_out, _In_ int qd);

/**
 * Set a socket option: SOL_SOCKET {SO_LINGER, SO_KEEPALIVE, SO_REUSEADDR,
 * SO_RCVBUF, SO_SNDBUF}, IPPROTO_TCP {TCP_NODELAY}.
 * @return 0; EBADF; EINVAL (NULL, wrong optlen); ENOPROTOOPT (other option).
 */
ATTR_NONNULL(4)
extern int demi_setsockopt(_In_ int qd, _In_ int level, _In_ int optname, _In_reads_bytes_(optlen) const void *optval,
                           _In_ socklen_t optlen);

/**
 * Read a socket option (same set as demi_setsockopt()). On entry *optlen is
 * the size of @p optval; on return, the size written.
 * @return 0; EBADF; EINVAL (NULL, buffer too small); ENOPROTOOPT.
 */
ATTR_NONNULL(4)
extern int demi_getsockopt(_In_ int qd, _In_ int level, _In_ int optname,
                           _Out_writes_to_(*optlen, *optlen) void *optval, _Out_ socklen_t *optlen);

/**
 * Address of a connected socket's peer.
 * @return 0; EBADF; EINVAL (NULL, *addrlen too small); ENOTCONN.
 */
ATTR_NONNULL(2)
extern int demi_getpeername(_In_ int qd, _Out_writes_to_(*addrlen, *addrlen) struct sockaddr *addr,
                            _Out_ socklen_t *addrlen);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_LIBOS_H_IS_INCLUDED */
