/* SPDX-License-Identifier: MIT */
/**
 * @file demi/pipe.h
 * libdemi extension: shared-memory pipes between processes on one host
 * (Demikernel's Catmem, removed from Demikernel in 2024). demi_create_pipe()
 * and demi_open_pipe() are in <demi/libos.h> (included here), as in
 * Demikernel; this header adds what Demikernel did not have.
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
 *   A buffer from demi_pipe_sgaalloc is not copied: see there.
 * - demi_pop completes with exactly one message (boundaries are kept),
 *   copied into a buffer the application frees with demi_sgafree; one that
 *   the peer pushed zero-copy is handed out in place (see
 *   demi_pipe_sgaalloc), up to 64 per pipe at once, copied beyond. After the
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
 * bytes, none of them '/', '~' (libdemi's temporary names use it) or an
 * ASCII control character: Demikernel's "NAME:rx" is fine, "" or "a/b" is
 * EINVAL with a message saying why. The shared memory object is
 * /dev/shm/demi-pipe-NAME, readable by the creator's user only.
 *
 * Every call returns 0 or a positive errno.
 */
#ifndef DEMI_PIPE_H_IS_INCLUDED
#define DEMI_PIPE_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/libos.h>
#include <demi/types.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* demi_create_pipe() and demi_open_pipe() are declared in <demi/libos.h>,
 * where Demikernel declares them; the details of their errors:
 *
 * demi_create_pipe(int *memqd_out, const char *name): 0;
 *   EINVAL  NULL argument, a bad name, or demi_init not called;
 *   EEXIST  a pipe of that name exists and its creator is alive (a pipe
 *           whose creator died is removed and created anew), or the name
 *           holds something that is not a libdemi pipe (never removed);
 *   EMFILE  the qd table is full; ENOMEM, or the errno of shm_open, mmap,
 *           ftruncate when the shared memory cannot be set up.
 *
 * demi_open_pipe(int *memqd_out, const char *name): 0;
 *   EINVAL  NULL argument, a bad name, or demi_init not called;
 *   ENOENT  no such pipe (never created, closed by its creator, or its
 *           creator died);
 *   EBUSY   the pipe already has its opener, or had one (pipes connect once);
 *   EPROTO  the name holds something that is not a pipe of this libdemi,
 *           or a pipe whose creator left its ring counters where none can
 *           be;
 *   EMFILE  the qd table is full.
 */

/**
 * Zero-copy push: a buffer of @p size bytes reserved in place in the pipe's
 * outgoing shared ring. Write the message into it, then demi_push it on
 * @p qd: the push publishes it where it is (no copy) and completes at once.
 *
 * - The pushed segment must start at the buffer's start; its length may be
 *   shorter than @p size (1..size).
 * - The push takes the buffer, whatever its outcome (a failed push drops
 *   the message): the application must not touch it afterwards, and
 *   demi_sgafree or a second demi_push of that sga fail with EINVAL.
 * - demi_sgafree of a buffer never pushed drops the reservation: nothing is
 *   published.
 * - One reservation per pipe at a time: until it is pushed or freed, a
 *   second demi_pipe_sgaalloc fails with EBUSY, and so does a demi_push of
 *   any other sga on @p qd (a ring publishes in order, and the reserved
 *   record's place is already fixed).
 * - demi_push of it on another pipe: EINVAL. On a socket it is an ordinary
 *   buffer (sent from there; the reservation stays until it is freed).
 * - The reader's demi_pop of such a message returns an sga pointing into the
 *   shared ring (no copy, up to 64 outstanding per pipe; beyond, copied).
 *   The ring space comes back to the writer only when the reader frees that
 *   sga: a reader holding popped buffers makes the writer see a full ring.
 *   Frees may come in any order. The bytes stay valid until freed, also
 *   after demi_close or the peer's death; the memory is the peer's too, so
 *   a reader that does not trust its peer should copy before it validates.
 *
 * @param sga_out  receives the buffer (one segment of @p size bytes).
 * @param qd       a pipe's queue descriptor.
 * @param size     1 .. the pipe's largest message.
 * @return 0;
 *   EBADF   @p qd is not open; ENOTSUP: not a pipe;
 *   EINVAL  NULL @p sga_out, @p size 0, or demi_init not called;
 *   EMSGSIZE @p size over the pipe's largest message;
 *   EBUSY   the pipe has a reservation not yet pushed or freed;
 *   EAGAIN  the ring has no room for it now (or pushes wait for room)
 *           and the reader may still make some: retry after the reader
 *           pops and frees, or push a copy;
 *   ENOBUFS no zero-copy buffer header left (1024 per process);
 *   EPIPE, ECONNRESET  the peer closed or died (sticky). A reader that
 *           died is noticed by the call that finds no room, within
 *           catmem.peer_check_us (1 ms) of the first such call: a writer
 *           retrying on EAGAIN gets ECONNRESET, never EAGAIN forever;
 *   EPROTO  the peer broke the ring (moved its read position where none
 *           can be): the pipe is dead, pushes fail the same way.
 * On failure *@p sga_out is a null sga (sga_numsegs 0).
 */
ATTR_NONNULL(1)
int demi_pipe_sgaalloc(demi_sgarray_t *sga_out, int qd, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_PIPE_H_IS_INCLUDED */
