/* SPDX-License-Identifier: MIT */
/**
 * @file demi/pipe.h
 * libdemi extension: shared-memory pipes between processes on one host
 * (Demikernel's Catmem, removed from Demikernel in 2024).
 *
 * A pipe is a duplex, message-oriented queue between two processes: the one
 * that creates it by name and the one that opens it. Once made, its qd takes
 * the calls of <demi/libos.h> and <demi/wait.h> like a socket's:
 *
 * - demi_push sends one message (1 byte up to half of catmem.ring_size, at
 *   most 1 MiB; larger: EMSGSIZE). It completes when the message is in the
 *   shared ring; while the ring is full it stays pending. The bytes are
 *   copied into the ring, so the sga may be freed or reused at completion
 *   (buffers from demi_sgaalloc may be freed at once, as on sockets).
 * - demi_pop completes with exactly one message (boundaries are kept),
 *   copied into a buffer the application frees with demi_sgafree. After the
 *   peer's demi_close and its last message: a zero-length sga (end of
 *   stream), for that pop and every later one. After the peer died (killed,
 *   crashed, exited without closing): DEMI_OPC_FAILED with ECONNRESET, once
 *   its last messages were popped; a pending push fails the same way, and a
 *   push to a peer that closed fails with EPIPE.
 * - demi_close, demi_wait, demi_wait_any and demi_wait_next_n as on sockets;
 *   one process may wait on pipe and socket tokens together, whatever its
 *   network libOS (LIBOS=catnap, catloop, catnip, catpowder), or run pipes
 *   only with LIBOS=catmem.
 * - The socket calls (bind, listen, accept, connect, pushto, options,
 *   getpeername) return ENOTSUP on a pipe.
 *
 * A pipe connects its creator with one opener, once. Names are 1 to 128
 * characters of [A-Za-z0-9._-]; the shared memory object is
 * /dev/shm/demi-pipe-NAME, readable by the creator's user only.
 *
 * Every call returns 0 or a positive errno.
 */
#ifndef DEMI_PIPE_H_IS_INCLUDED
#define DEMI_PIPE_H_IS_INCLUDED

#include <demi/cc.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Create the pipe @p name and give its creator's end a qd.
 * @param qd_out  receives the queue descriptor.
 * @param name    the pipe's name, 1..128 characters of [A-Za-z0-9._-].
 * @return 0;
 *   EINVAL  NULL argument, a bad name, or demi_init not called;
 *   EEXIST  a pipe of that name exists and its creator is alive (a pipe
 *           whose creator died is removed and created anew);
 *   EMFILE  the qd table is full; ENOMEM, or the errno of shm_open, mmap,
 *           ftruncate when the shared memory cannot be set up.
 */
ATTR_NONNULL(1, 2)
int demi_create_pipe(int *qd_out, const char *name);

/**
 * Open the pipe @p name that another process (or this one) created.
 * @param qd_out  receives the queue descriptor.
 * @param name    the pipe's name, as given to demi_create_pipe.
 * @return 0;
 *   EINVAL  NULL argument, a bad name, or demi_init not called;
 *   ENOENT  no such pipe (never created, closed by its creator, or its
 *           creator died);
 *   EBUSY   the pipe already has its opener, or had one (pipes connect once);
 *   EPROTO  the name holds something that is not a pipe of this libdemi;
 *   EMFILE  the qd table is full.
 */
ATTR_NONNULL(1, 2)
int demi_open_pipe(int *qd_out, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_PIPE_H_IS_INCLUDED */
