/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h: what the libFuzzer targets share: reading an input as a
 * stream of fields (past its end every field reads 0, so any prefix of an
 * input is an input), poisoning memory for ASan, and dying with a message
 * libFuzzer keeps with the crash artifact.
 */
#ifndef DEMI_FUZZ_COMMON_H
#define DEMI_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif

#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For the harness's own checking and building loops (never inlined into
 * instrumented code, which would instrument them again): their edges tell the
 * fuzzer nothing about the code under test and, instrumented, cost more
 * than it does (every byte compared is a traced comparison). */
#if defined(__clang__)
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage"), noinline))
#else
#define FUZZ_NOCOV
#endif

/* An oracle failed: abort, so libFuzzer saves the input. @target prefixes
 * the message (run-fuzz.sh quotes lines starting with "fuzz_"). */
#define FUZZ_DIE(target, ...)                     \
    do {                                          \
        fprintf(stderr, target ": " __VA_ARGS__); \
        fputc('\n', stderr);                      \
        abort();                                  \
    } while (0)

struct fuzz_in {
    const uint8_t *p;
    size_t len, off;
};

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *p, size_t len)
{
    in->p = p;
    in->len = len;
    in->off = 0;
}

static inline size_t fuzz_in_left(const struct fuzz_in *in)
{
    return in->len - in->off;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    return in->off < in->len ? in->p[in->off++] : 0;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)(hi << 8 | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t hi = fuzz_u16(in);
    return hi << 16 | fuzz_u16(in);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t hi = fuzz_u32(in);
    return hi << 32 | fuzz_u32(in);
}

/* Up to @n bytes of the input, in place; *@got says how many. */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p + in->off;

    if (n > in->len - in->off)
        n = in->len - in->off;
    in->off += n;
    *got = n;
    return p;
}

#endif /* DEMI_FUZZ_COMMON_H */
