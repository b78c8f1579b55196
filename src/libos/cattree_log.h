/* SPDX-License-Identifier: MIT */
/*
 * cattree_log.h: the on-disk format of a storage log (<demi/storage.h>),
 * pure functions over bytes: no I/O, so the libOS, the recovery tool
 * (demi-logcheck) and the fuzzers share one parser.
 *
 * File:   [file header, LOG_FILE_HDR bytes][record][record]...[zeros]
 * Record: [24-byte header][payload][zeros to a multiple of 8]
 *
 * File header (little-endian): "DEMILOG\n", u32 version (1), u32 header
 * size (4096), u32 epoch, u32 flags (0), u64 creation time (ns since the
 * epoch), zeros, and at byte 60 the CRC32C of bytes 0..59.
 *
 * Record header (little-endian): u32 magic "REC1", u32 length word, u32
 * CRC32C of (epoch, seq, length word, payload), u32 epoch, u64 sequence
 * number (0 for the first record of the file). The length word holds the
 * payload length (1..LOG_RECORD_MAX) in bits 0-23; bits 24-29, the zeros
 * between header and payload in 8-byte units; bit 30, that the payload is
 * followed by zeros to a multiple of LOG_BLOCK bytes instead of 8; bit 31
 * is 0. A record copied into libdemi's staging buffer has neither; one
 * written from the application's own aligned buffer (zero-copy) has its
 * payload in whole blocks at a block-aligned position:
 *
 *   [24-byte header][zeros to the block][payload][zeros to the block]
 *
 * A record is valid when its magic, length and CRC are right, its sequence
 * number is the one expected, and its epoch is neither below the previous
 * record's nor above the file header's. The epoch goes up each time the log
 * is opened for writing, and appends then overwrite from the end found: a
 * record left behind by an earlier epoch after the new end (written past a
 * torn one, never acknowledged) therefore reads as stale, never as data.
 * Private header.
 */
#ifndef DEMI_LIBOS_CATTREE_LOG_H
#define DEMI_LIBOS_CATTREE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_FILE_HDR 4096u
#define LOG_REC_HDR 24u
#define LOG_REC_ALIGN 8u
#define LOG_RECORD_MAX (1u << 20) /* DEMI_STORAGE_RECORD_MAX */
#define LOG_VERSION 1u
#define LOG_FILE_MAGIC "DEMILOG\n"
#define LOG_REC_MAGIC 0x31434552u /* "REC1" little-endian */

#define LOG_BLOCK 512u /* O_DIRECT's unit, and a block-aligned record's */
#define LOG_LEN_MASK 0x00ffffffu
#define LOG_LEN_PAD_SHIFT 24 /* bits 24-29: zeros before the payload / 8 */
#define LOG_LEN_PAD_MASK 0x3fu
#define LOG_LEN_BLOCK_TAIL (1u << 30)
#define LOG_LEN_RESERVED (1u << 31)

/* Bytes a record of @len payload bytes takes in the file (a copied one). */
static inline uint64_t log_framed_size(uint32_t len)
{
    return LOG_REC_HDR + (((uint64_t)len + LOG_REC_ALIGN - 1) & ~(uint64_t)(LOG_REC_ALIGN - 1));
}

/* A block-aligned record at position @pos: the zeros between its header
 * and its payload, which starts at the next block boundary. */
static inline uint32_t log_block_pad(uint64_t pos)
{
    return (uint32_t)((LOG_BLOCK - (pos + LOG_REC_HDR) % LOG_BLOCK) % LOG_BLOCK);
}

/* Bytes of a block-aligned record's payload in the file. */
static inline uint64_t log_block_payload(uint32_t len)
{
    return ((uint64_t)len + LOG_BLOCK - 1) & ~(uint64_t)(LOG_BLOCK - 1);
}

struct log_file_hdr {
    uint32_t version;
    uint32_t epoch;
    uint64_t created_ns;
};

/* Write a file header into @buf (LOG_FILE_HDR bytes, zero-filled here). */
void log_file_hdr_encode(uint8_t *buf, uint32_t epoch, uint64_t created_ns);

/* Parse the file header in @buf (@len bytes, at least LOG_FILE_HDR for
 * success): 0, or EILSEQ (not a log: short, bad magic, size or CRC) or
 * ENOTSUP (a log of a version this code does not read). */
int log_file_hdr_decode(const uint8_t *buf, size_t len, struct log_file_hdr *out);

/* Frame a record: header and @len payload bytes from @payload, and the
 * padding zeros, at @dst (log_framed_size(@len) bytes). Returns that size. */
uint64_t log_record_encode(uint8_t *dst, const void *payload, uint32_t len, uint32_t epoch, uint64_t seq);

/* The same, with the payload already at dst + LOG_REC_HDR (copied there by
 * the caller, e.g. gathered from several pieces): header and padding only. */
uint64_t log_record_seal(uint8_t *dst, uint32_t len, uint32_t epoch, uint64_t seq);

/* The header of a block-aligned record at position @pos, into @dst
 * (LOG_REC_HDR + log_block_pad(@pos) bytes, the padding zeroed); its
 * payload, @len bytes at @payload, is written by the caller from its own
 * buffer at the next block, followed by zeros to a whole block. Returns
 * the bytes of header and padding. */
uint32_t log_record_seal_block(uint8_t *dst, uint64_t pos, const void *payload, uint32_t len, uint32_t epoch,
                               uint64_t seq);

enum log_verdict {
    LOG_REC_OK = 0, /* a valid record */
    LOG_REC_END,    /* the header is all zeros: the clean end of the log */
    LOG_REC_SHORT,  /* valid so far, but the record runs past @avail */
    LOG_REC_TORN,   /* not zeros, not a record: bad magic, length or CRC */
    LOG_REC_STALE,  /* a whole record, but not the one expected: an earlier
                     * epoch's, or out of sequence */
};

struct log_rec {
    uint32_t len;    /* payload bytes */
    uint32_t epoch;  /* the record's */
    uint64_t seq;    /* the record's */
    uint64_t framed; /* bytes in the file: header, padding, payload, padding */
    const uint8_t *payload;
};

/* Check the record at @p, with @avail bytes readable from @p. @expect_seq
 * is the sequence number it must have, @min_epoch the previous record's
 * epoch (0 for the first), @max_epoch the file header's. LOG_REC_SHORT
 * needs the caller to read more; at the end of the file it means torn.
 * @out is filled for LOG_REC_OK (and as far as known otherwise). */
enum log_verdict log_record_check(const uint8_t *p, size_t avail, uint64_t expect_seq, uint32_t min_epoch,
                                  uint32_t max_epoch, struct log_rec *out);

/* What log_scan found. */
struct log_scan {
    uint64_t records;     /* valid records */
    uint64_t payload;     /* their payload bytes */
    uint64_t end;         /* position (from the first record) after the last valid one */
    uint64_t next_seq;    /* the sequence number of the next record */
    uint32_t last_epoch;  /* the last valid record's (0: none) */
    enum log_verdict why; /* what is at end: LOG_REC_END (clean), _TORN or _STALE */
};

/* A reader of the file's record area: fill @buf with up to @cap bytes from
 * position @pos (after the file header); returns bytes read (0: end of
 * file), or -errno. log_scan asks for whole 4 KiB blocks at 4 KiB-aligned
 * positions (O_DIRECT's rules) and takes a count that is not a multiple of
 * 4 KiB as the end of the file, as pread(2) on a regular file has it: a
 * reader must not return less than asked before the end. */
typedef long (*log_read_fn)(void *ctx, uint64_t pos, uint8_t *buf, size_t cap);

/* Bytes of buffer log_scan needs: the largest record (a block-aligned one:
 * LOG_REC_HDR + 504 + LOG_RECORD_MAX), and a 4 KiB block on either side (its reads start and, but at the end of the file, end on
 * 4 KiB boundaries, as O_DIRECT wants; @buf must be 4 KiB-aligned). */
#define LOG_SCAN_BUF (LOG_REC_HDR + LOG_RECORD_MAX + 3 * 4096u)

/* Walk the records from position 0 with @read (into @buf of @cap >=
 * LOG_SCAN_BUF bytes), stopping at the
 * first record that is not valid. @visit, if set, sees each valid record
 * and may stop the walk by returning non-zero (a recovery tool's check).
 * Returns 0, or the reader's positive errno. */
int log_scan(log_read_fn read, void *ctx, uint8_t *buf, size_t cap, uint32_t max_epoch,
             int (*visit)(void *vctx, uint64_t pos, const struct log_rec *r), void *vctx, struct log_scan *out);

const char *log_verdict_name(enum log_verdict v);

#endif /* DEMI_LIBOS_CATTREE_LOG_H */
