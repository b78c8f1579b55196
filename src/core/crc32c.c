/* SPDX-License-Identifier: MIT */
/* crc32c.c: CRC-32C (crc32c.h), reflected polynomial 0x82f63b78. */
#include "core/crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY 0x82f63b78u

/* Slicing by 8: table[k][b] is the CRC of byte b followed by k zero bytes. */
static uint32_t crc32c_table[8][256];
static bool crc32c_have_table;

static void crc32c_table_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
        crc32c_table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            crc32c_table[k][b] = (crc32c_table[k - 1][b] >> 8) ^ crc32c_table[0][crc32c_table[k - 1][b] & 0xff];
    crc32c_have_table = true;
}

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t len)
{
    const uint8_t *s = p;

    if (!crc32c_have_table)
        crc32c_table_init(); /* idempotent: a race writes the same values */
    crc = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        w ^= crc; /* little-endian hosts only, as the rest of libdemi */
        crc = crc32c_table[7][w & 0xff] ^ crc32c_table[6][(w >> 8) & 0xff] ^ crc32c_table[5][(w >> 16) & 0xff] ^
              crc32c_table[4][(w >> 24) & 0xff] ^ crc32c_table[3][(w >> 32) & 0xff] ^
              crc32c_table[2][(w >> 40) & 0xff] ^ crc32c_table[1][(w >> 48) & 0xff] ^ crc32c_table[0][w >> 56];
        s += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *s++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t len)
{
    const uint8_t *s = p;
    uint64_t c = ~crc;

    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = __builtin_ia32_crc32di(c, w);
        s += 8;
        len -= 8;
    }
    while (len--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
    return ~(uint32_t)c;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
    static int have_hw = -1;

    if (__builtin_expect(have_hw < 0, 0)) {
        __builtin_cpu_init();
        have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return have_hw ? crc32c_hw(crc, p, len) : crc32c_sw(crc, p, len);
}
#else
uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
    return crc32c_sw(crc, p, len);
}
#endif
