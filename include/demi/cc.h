/* SPDX-License-Identifier: MIT */
/**
 * @file demi/cc.h
 * Compiler markers used by the public prototypes (Demikernel-compatible).
 *
 * ATTR_NONNULL lets the application's compiler warn about literal NULLs. The
 * library itself is built with ATTR_NONNULL defined empty, because GCC would
 * otherwise delete the library's own NULL checks; every NULL argument still
 * gets EINVAL at run time.
 */
#ifndef DEMI_CC_H_IS_INCLUDED
#define DEMI_CC_H_IS_INCLUDED

#ifndef ATTR_NONNULL
#if defined(__GNUC__) || defined(__clang__)
#define ATTR_NONNULL(...) __attribute__((__nonnull__(__VA_ARGS__)))
#else
#define ATTR_NONNULL(...)
#endif
#endif

#ifndef ATTR_NODISCARD
#if defined(__GNUC__) || defined(__clang__)
#define ATTR_NODISCARD __attribute__((__warn_unused_result__))
#else
#define ATTR_NODISCARD
#endif
#endif

/* Source annotation language markers: documentation only. */
#ifndef _In_
#define _In_
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _In_reads_
#define _In_reads_(s)
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(b)
#endif
#ifndef _Out_writes_to_
#define _Out_writes_to_(s, c)
#endif
#ifndef _In_z_
#define _In_z_
#endif
#ifndef _Deref_pre_z_
#define _Deref_pre_z_
#endif

#endif /* DEMI_CC_H_IS_INCLUDED */
