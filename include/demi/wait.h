/* SPDX-License-Identifier: MIT */
/**
 * @file demi/wait.h
 * Waiting for asynchronous operations, Demikernel-compatible.
 *
 * Timeouts: NULL waits forever; {0, 0} polls once; otherwise a relative
 * duration. An operation already complete never times out. A wait that fails
 * (bad argument, timeout) does not consume its token.
 */
#ifndef DEMI_WAIT_H_IS_INCLUDED
#define DEMI_WAIT_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Strict C99 without _POSIX_C_SOURCE gets no struct timespec from <time.h>:
 * declared here at file scope, the prototypes below still name one type. */
struct timespec;

/**
 * Wait for the operation named by @p qt and consume its token.
 * @return 0 and *qr_out filled; EINVAL (NULL, unknown or consumed token, bad
 *         timeout) at once; ETIMEDOUT.
 */
ATTR_NONNULL(1)
extern int demi_wait(_Out_ demi_qresult_t *qr_out, _In_ demi_qtoken_t qt, _In_opt_ const struct timespec *timeout);

/**
 * Wait for the first of @p num_qts operations; consume only that token.
 * @return 0 with *ready_offset = its index; EINVAL (NULL, num_qts <= 0, an
 *         unknown or consumed token anywhere in the list) at once; ETIMEDOUT.
 */
ATTR_NONNULL(1, 2, 3)
extern int demi_wait_any(_Out_ demi_qresult_t *qr_out, _Out_ int *ready_offset,
                         _In_reads_(num_qts) const demi_qtoken_t qts[], _In_ int num_qts,
                         _In_opt_ const struct timespec *timeout);

/**
 * Return up to @p num_qrs completed operations, in completion order, consuming
 * their tokens. Waits until at least one is complete.
 * @return 0 with *num_qrs_out >= 1; EINVAL (NULL, num_qrs <= 0); ETIMEDOUT
 *         with *num_qrs_out = 0.
 */
ATTR_NONNULL(1, 3)
extern int demi_wait_next_n(_Out_writes_to_(num_qrs, *num_qrs_out) demi_qresult_t *qr_out, _In_ int num_qrs,
                            _Out_ int *num_qrs_out, _In_opt_ const struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_WAIT_H_IS_INCLUDED */
