/* SPDX-License-Identifier: MIT */
/**
 * @file demi/sga.h
 * Zero-copy buffers of the PDPIX API, Demikernel-compatible.
 */
#ifndef DEMI_SGA_H_IS_INCLUDED
#define DEMI_SGA_H_IS_INCLUDED

#include <demi/cc.h>
#include <demi/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Allocate one segment of @p size bytes from the libOS's zero-copy pool.
 * @return the sga; a null sga (sga_numsegs == 0, sga_buf == NULL) when
 *         @p size is 0 or too large, the pool is empty or libdemi is not
 *         initialised.
 */
ATTR_NODISCARD
extern demi_sgarray_t demi_sgaalloc(_In_ size_t size);

/**
 * Release an sga returned by demi_sgaalloc() or a pop. Safe while a push of
 * it is still in flight: the stack keeps its own reference.
 * @return 0; EINVAL for NULL, a null sga, a foreign sga or a double free
 *         (the pool stays intact).
 */
extern int demi_sgafree(_In_ demi_sgarray_t *sga);

#ifdef __cplusplus
}
#endif

#endif /* DEMI_SGA_H_IS_INCLUDED */
