/* SPDX-License-Identifier: MIT */
/**
 * @file demi/storage.h
 * libdemi extension: storage queues (Cattree). A storage queue is a durable
 * log in a file, driven through the same calls as a socket: demi_push
 * appends a record, demi_pop reads the next one, and their tokens are waited
 * on with demi_wait, demi_wait_any and demi_wait_next_n beside socket and
 * pipe tokens. The I/O goes through io_uring (docs/cattree.md).
 *
 * A log file starts with a 4 KiB file header; records follow, each a 24-byte
 * header (magic, length, CRC32C, epoch, sequence number) and the payload,
 * padded to 8 bytes. Positions (demi_lseek, demi_tell) count from the first
 * record: position 0 is the first record, and a record's position is the
 * sum of the framed sizes before it.
 *
 * - demi_push appends one record holding the sga's bytes (1 byte up to
 *   DEMI_STORAGE_RECORD_MAX). It completes when the record is on stable
 *   storage (O_DIRECT writes with RWF_DSYNC: a device flush or FUA), unless
 *   the queue was opened with DEMI_O_NOSYNC. Pushes that arrive while a
 *   write is in flight are committed together by the next write (group
 *   commit: one flush for many records); pushes complete in the order they
 *   were made. The bytes are copied into a registered, aligned staging
 *   buffer, at once or, while the stages are full, later: as on sockets,
 *   the sga may be reused or freed at completion (a buffer from
 *   demi_sgaalloc may be freed at once: libdemi holds a reference).
 * - demi_pop completes with the next record's payload, whole, in a buffer
 *   the application frees with demi_sgafree; at the end of the log, a
 *   zero-length sga (end of file, as on sockets). It reads only records whose
 *   pushes completed; it does not wait for records pushed later (a file, not
 *   a pipe). A queue sees its own appends as they complete, pop again to see
 *   them; another queue sees the log as it was when it was opened.
 * - demi_close closes the queue; pushes still pending complete first
 *   (their records are committed), pops pending fail with ECANCELED.
 *
 * When a log is opened for writing it is recovered: every record is checked
 * (header, CRC32C, sequence) up to the first that is not whole, which is
 * the end of the log. A record torn by a crash is reported (a warning, and
 * the counter cattree_torn_records) and is never returned; appends go where
 * it began. Records pushed and acknowledged before the crash are all there.
 *
 * Every call returns 0 or a positive errno.
 */
#ifndef DEMI_STORAGE_H_IS_INCLUDED
#define DEMI_STORAGE_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>

#include <fcntl.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The largest record payload a push takes (1 MiB); larger: EMSGSIZE. */
#define DEMI_STORAGE_RECORD_MAX (1u << 20)

/** demi_open flag: pushes complete when written, not when durable (no
 *  RWF_DSYNC). A crash may lose acknowledged records; none is ever torn
 *  into data. */
#define DEMI_O_NOSYNC 0x40000000

/**
 * Create the log @path, or empty an existing one (as creat(2)), with
 * permissions @mode (less the umask), and open it for reading and writing.
 * The file header is made durable before the call returns.
 *
 * @return 0 and *qd_out; EINVAL a NULL argument or demi_init not called;
 *   EBUSY the log is open for writing elsewhere; ENOTSUP libdemi built without liburing, or io_uring refused by the
 *   kernel (the message says which); EMFILE no queue descriptor left;
 *   otherwise the errno of open(2), fallocate(2) or the first write
 *   (EACCES, ENOENT, EISDIR, ENOSPC, EROFS, EIO, ...).
 */
extern int demi_creat(int *qd_out, const char *path, mode_t mode) ATTR_NONNULL(1, 2);

/**
 * Open the existing log @path. @flags: O_RDONLY, O_WRONLY or O_RDWR, with
 * DEMI_O_NOSYNC and O_CLOEXEC allowed (the file is always close-on-exec).
 * Opening for writing recovers the log (see above) and starts a new epoch,
 * made durable before the call returns.
 *
 * @return 0 and *qd_out; EINVAL a NULL argument, demi_init not called, or
 *   any other flag (O_CREAT: use demi_creat; O_TRUNC, O_APPEND, ...);
 *   EILSEQ the file is not a libdemi log (no valid file header);
 *   ENOTSUP a log of a version this libdemi does not read, or as
 *   demi_creat; EBUSY opened for writing while another queue (of this or
 *   another process) has it open for writing; otherwise open(2)'s errno.
 */
extern int demi_open(int *qd_out, const char *path, int flags) ATTR_NONNULL(1, 2);

/**
 * Move the read position of storage queue @qd. SEEK_SET: to position @off,
 * which must be 0 or a position demi_tell gave; SEEK_CUR: @off bytes from
 * the current position; SEEK_END: @off (<= 0) bytes from the end of the
 * committed log. A position that is not the start of a record is found out
 * by the next pop, which fails with EBADMSG (in general: a payload that
 * holds a whole record with a right CRC pops as that record).
 *
 * @return 0; EBADF @qd is not open; ENOTSUP @qd is not a storage queue;
 *   EINVAL a bad @whence, a position below 0 or past the end of the log, or
 *   one that is not a multiple of 8; EBUSY a pop is pending.
 */
extern int demi_lseek(int qd, off_t off, int whence);

/**
 * The read position of storage queue @qd: where the next pop reads.
 * Combined with demi_lseek(qd, pos, SEEK_SET) it marks a record to come
 * back to.
 *
 * @return 0 and *off_out; EBADF, ENOTSUP, EINVAL as demi_lseek.
 */
extern int demi_tell(int qd, off_t *off_out) ATTR_NONNULL(2);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_STORAGE_H_IS_INCLUDED */
