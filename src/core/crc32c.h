/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h: CRC-32C (Castagnoli, iSCSI's and ext4's), which frames the
 * records of a storage log (libos/cattree_log.h). SSE4.2's crc32 instruction
 * when the CPU has it (about 8 bytes a cycle), else a sliced table.
 * Private header.
 */
#ifndef DEMI_CORE_CRC32C_H
#define DEMI_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue the CRC @crc (0 to start) over @len bytes at @p. The result of
 * one call over a whole buffer equals that of several calls over its
 * pieces in order. crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

/* The portable path alone, to test the fast one against. */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t len);

#endif /* DEMI_CORE_CRC32C_H */
