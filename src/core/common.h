/* SPDX-License-Identifier: MIT */
/* common.h: small helpers shared by every layer. Private header. */
#ifndef DEMI_CORE_COMMON_H
#define DEMI_CORE_COMMON_H

#include <stddef.h>

/* Marks the functions of the public API; everything else is hidden. */
#define DEMI_EXPORT __attribute__((visibility("default")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* DEMI_CORE_COMMON_H */
