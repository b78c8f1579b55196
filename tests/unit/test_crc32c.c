/* SPDX-License-Identifier: MIT */
/*
 * test_crc32c.c: CRC-32C (src/core/crc32c.h): the check value and the
 * vectors of RFC 3720 B.4, the fast path (SSE4.2 where the CPU has it)
 * against the portable one and against a bitwise reference on every length
 * up to 4096 at every misalignment, and chaining (the pieces of a buffer,
 * in order, give the whole's CRC).
 */
#include "core/crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* One bit at a time, from the polynomial: the definition, no table. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* xorshift64*: the same bytes on every run, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c_ref(0, (const uint8_t *)"123456789", 9), 0xe3069283u);
    /* Nothing: the CRC goes through unchanged. */
    assert_int_equal(crc32c(0, "", 0), 0);
    assert_int_equal(crc32c(0x12345678u, "", 0), 0x12345678u);
    assert_int_equal(crc32c_sw(0x12345678u, "", 0), 0x12345678u);
}

/* RFC 3720 B.4: the iSCSI CRC examples (32-byte buffers). */
static void test_rfc3720_vectors(void **state)
{
    uint8_t b[32];

    (void)state;
    memset(b, 0, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x8a9136aau);
    assert_int_equal(crc32c_sw(0, b, 32), 0x8a9136aau);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x62a8ab43u);
    assert_int_equal(crc32c_sw(0, b, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, b, 32), 0x46dd794eu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(0, b, 32), 0x113fdb5cu);
    assert_int_equal(crc32c_sw(0, b, 32), 0x113fdb5cu);
}

#define AREA (4096 + 64)

/* Every length 0..4096 from every start 0..7 (the 8-byte loop's alignment
 * and its tail), then random lengths and starts, with a random initial CRC:
 * the fast path equals the portable one and both equal the bitwise one. */
static void test_hw_matches_sw(void **state)
{
    uint8_t *area = malloc(AREA);

    (void)state;
    assert_non_null(area);
#if defined(__x86_64__)
    __builtin_cpu_init();
    print_message("crc32c: the fast path is %s\n",
                  __builtin_cpu_supports("sse4.2") ? "SSE4.2's crc32" : "the table (no SSE4.2)");
#endif
    for (size_t i = 0; i < AREA; i++)
        area[i] = (uint8_t)rng();
    for (size_t start = 0; start < 8; start++)
        for (size_t len = 0; len <= 4096; len++) {
            uint32_t sw = crc32c_sw(0, area + start, len);
            if (crc32c(0, area + start, len) != sw)
                fail_msg("start %zu length %zu: fast %08x, portable %08x", start, len, crc32c(0, area + start, len),
                         sw);
            if (len % 61 == 0 && crc32c_ref(0, area + start, len) != sw)
                fail_msg("start %zu length %zu: portable %08x, bitwise %08x", start, len, sw,
                         crc32c_ref(0, area + start, len));
        }
    for (int i = 0; i < 5000; i++) {
        size_t len = (size_t)(rng() % 4097);
        size_t start = (size_t)(rng() % 64);
        uint32_t seed = (uint32_t)rng();
        uint32_t sw = crc32c_sw(seed, area + start, len);
        if (crc32c(seed, area + start, len) != sw || crc32c_ref(seed, area + start, len) != sw)
            fail_msg("seed %08x start %zu length %zu: fast %08x, portable %08x, bitwise %08x", seed, start, len,
                     crc32c(seed, area + start, len), sw, crc32c_ref(seed, area + start, len));
    }
    free(area);
}

/* A buffer cut anywhere, into any number of pieces: the same CRC. */
static void test_chaining(void **state)
{
    uint8_t *area = malloc(AREA);

    (void)state;
    assert_non_null(area);
    for (size_t i = 0; i < AREA; i++)
        area[i] = (uint8_t)rng();
    for (size_t len = 0; len <= 600; len++) {
        uint32_t whole = crc32c(0, area, len);
        for (size_t cut = 0; cut <= len; cut += 1 + cut / 16) {
            uint32_t c = crc32c(0, area, cut);
            assert_int_equal(crc32c(c, area + cut, len - cut), whole);
            c = crc32c_sw(0, area, cut);
            assert_int_equal(crc32c_sw(c, area + cut, len - cut), whole);
            c = crc32c_sw(0, area, cut); /* mixed paths chain too */
            assert_int_equal(crc32c(c, area + cut, len - cut), whole);
        }
    }
    for (int i = 0; i < 500; i++) {
        size_t len = (size_t)(rng() % 4097), at = 0;
        uint32_t c = 0;
        while (at < len) {
            size_t n = 1 + (size_t)(rng() % 97);
            if (n > len - at)
                n = len - at;
            c = crc32c(c, area + at, n);
            at += n;
        }
        assert_int_equal(c, crc32c(0, area, len));
        assert_int_equal(c, crc32c_sw(0, area, len));
    }
    free(area);
}

/* The 1 MiB of a record at its largest, in one call and chained: the
 * paths agree past any short-buffer special case. */
static void test_large(void **state)
{
    size_t n = (1u << 20) + 24;
    uint8_t *b = malloc(n + 1);
    uint32_t whole, c;

    (void)state;
    assert_non_null(b);
    for (size_t i = 0; i < n + 1; i++)
        b[i] = (uint8_t)(i * 2654435761u >> 13);
    whole = crc32c_sw(0, b + 1, n);
    assert_int_equal(crc32c(0, b + 1, n), whole);
    c = crc32c(0, b + 1, 24);
    assert_int_equal(crc32c(c, b + 25, n - 24), whole);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),   cmocka_unit_test(test_rfc3720_vectors),
        cmocka_unit_test(test_hw_matches_sw), cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
