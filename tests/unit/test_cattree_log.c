/* SPDX-License-Identifier: MIT */
/*
 * test_cattree_log.c: the storage log's on-disk format (libos/cattree_log.h),
 * bytes only, no I/O: file headers and records encoded and decoded, every
 * way one can be damaged (each byte flipped, cut at every length, lengths
 * out of bounds, out of sequence, an earlier or a future epoch, zeros), and
 * log_scan over an in-memory file read through a callback: clean logs of
 * many sizes (a 1 MiB record across the scan buffer's blocks), a torn last
 * record, garbage or an earlier epoch's records after the end, a file that
 * ends inside a header, a reader that returns fewer bytes than asked, and a
 * reader that fails.
 */
#include "core/crc32c.h"
#include "libos/cattree_log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8) + 1);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* ---- file header ------------------------------------------------------- */

static void test_file_hdr_round_trip(void **state)
{
    uint8_t b[LOG_FILE_HDR];
    struct log_file_hdr h;
    static const uint32_t epochs[] = {0, 1, 2, 0x7fffffffu, UINT32_MAX};

    (void)state;
    for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
        memset(b, 0xa5, sizeof(b)); /* encode zero-fills */
        log_file_hdr_encode(b, epochs[i], 0x0123456789abcdefull + i);
        assert_memory_equal(b, LOG_FILE_MAGIC, 8);
        for (size_t j = 64; j < LOG_FILE_HDR; j++)
            assert_int_equal(b[j], 0);
        memset(&h, 0xcc, sizeof(h));
        assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), 0);
        assert_int_equal(h.version, LOG_VERSION);
        assert_int_equal(h.epoch, epochs[i]);
        assert_true(h.created_ns == 0x0123456789abcdefull + i);
        /* More bytes than the header (a whole first read) decode the same. */
        assert_int_equal(log_file_hdr_decode(b, SIZE_MAX, &h), 0);
    }
}

/* Every byte of the part the CRC covers (and the CRC itself), each bit and
 * the whole byte flipped: not a log. */
static void test_file_hdr_flipped(void **state)
{
    uint8_t good[LOG_FILE_HDR], b[LOG_FILE_HDR];
    struct log_file_hdr h;

    (void)state;
    log_file_hdr_encode(good, 7, 123456789);
    for (size_t i = 0; i < 64; i++)
        for (int bit = 0; bit <= 8; bit++) {
            memcpy(b, good, sizeof(b));
            b[i] ^= bit == 8 ? 0xff : (uint8_t)(1u << bit);
            if (log_file_hdr_decode(b, sizeof(b), &h) != EILSEQ)
                fail_msg("byte %zu flipped (mask %02x): %d, want EILSEQ", i, bit == 8 ? 0xff : 1u << bit,
                         log_file_hdr_decode(b, sizeof(b), &h));
        }
}

/* A header rewritten with a good CRC: another version or flags this code
 * does not know are ENOTSUP (a log, not ours to read); another header size
 * or magic is EILSEQ. */
static void test_file_hdr_version(void **state)
{
    uint8_t b[LOG_FILE_HDR];
    struct log_file_hdr h;
    static const uint32_t versions[] = {0, 2, 3, 0x100, UINT32_MAX};

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        log_file_hdr_encode(b, 1, 1);
        put32(b + 8, versions[i]);
        put32(b + 60, crc32c(0, b, 60));
        assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), ENOTSUP);
    }
    log_file_hdr_encode(b, 1, 1);
    put32(b + 20, 1); /* flags */
    put32(b + 60, crc32c(0, b, 60));
    assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), ENOTSUP);

    log_file_hdr_encode(b, 1, 1);
    put32(b + 12, 8192); /* header size */
    put32(b + 60, crc32c(0, b, 60));
    assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), EILSEQ);

    log_file_hdr_encode(b, 1, 1);
    b[7] = '\r'; /* "DEMILOG\r" */
    put32(b + 60, crc32c(0, b, 60));
    assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), EILSEQ);
}

static void test_file_hdr_short(void **state)
{
    uint8_t b[LOG_FILE_HDR];
    struct log_file_hdr h;

    (void)state;
    log_file_hdr_encode(b, 1, 1);
    for (size_t len = 0; len < LOG_FILE_HDR; len += len < 80 ? 1 : 97)
        assert_int_equal(log_file_hdr_decode(b, len, &h), EILSEQ);
    assert_int_equal(log_file_hdr_decode(b, LOG_FILE_HDR - 1, &h), EILSEQ);
    assert_int_equal(log_file_hdr_decode(b, LOG_FILE_HDR, &h), 0);
    /* Zeros (a file made by fallocate, never written): not a log. */
    memset(b, 0, sizeof(b));
    assert_int_equal(log_file_hdr_decode(b, sizeof(b), &h), EILSEQ);
}

/* ---- records ----------------------------------------------------------- */

/* A record of @len bytes of pat(@seq) at @dst; returns its framed size. */
static uint64_t rec_make(uint8_t *dst, uint32_t len, uint32_t epoch, uint64_t seq)
{
    uint8_t *payload = malloc(len ? len : 1);
    uint64_t framed;

    assert_non_null(payload);
    for (uint32_t i = 0; i < len; i++)
        payload[i] = pat(seq, i);
    framed = log_record_encode(dst, payload, len, epoch, seq);
    free(payload);
    return framed;
}

static void check_payload(const struct log_rec *r, uint64_t seq, uint32_t len)
{
    assert_int_equal(r->len, len);
    assert_non_null(r->payload);
    for (uint32_t i = 0; i < len; i++)
        if (r->payload[i] != pat(seq, i))
            fail_msg("record %llu byte %u: %02x, want %02x", (unsigned long long)seq, i, r->payload[i], pat(seq, i));
}

static void test_framed_size(void **state)
{
    (void)state;
    assert_int_equal(log_framed_size(1), 32);
    assert_int_equal(log_framed_size(7), 32);
    assert_int_equal(log_framed_size(8), 32);
    assert_int_equal(log_framed_size(9), 40);
    assert_int_equal(log_framed_size(4096), 24 + 4096);
    assert_int_equal(log_framed_size(LOG_RECORD_MAX), 24 + LOG_RECORD_MAX);
    assert_true(log_framed_size(UINT32_MAX) == 24 + (uint64_t)UINT32_MAX + 1); /* no wrap */
}

static void test_record_round_trip(void **state)
{
    static const uint32_t lens[] = {
        1, 2, 7, 8, 9, 15, 16, 17, 100, 4095, 4096, 4097, 65536, LOG_RECORD_MAX - 1, LOG_RECORD_MAX};
    size_t cap = log_framed_size(LOG_RECORD_MAX) + 64;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    struct log_rec r;

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint32_t len = lens[i];
        uint64_t seq = 1000 + i, framed;
        memset(a, 0xee, cap);
        framed = rec_make(a, len, 3, seq);
        assert_true(framed == log_framed_size(len));
        assert_int_equal(framed % LOG_REC_ALIGN, 0);
        for (uint64_t j = LOG_REC_HDR + len; j < framed; j++)
            assert_int_equal(a[j], 0);     /* the padding is zeros */
        assert_int_equal(a[framed], 0xee); /* and nothing past it */
        assert_int_equal(log_record_check(a, framed, seq, 3, 3, &r), LOG_REC_OK);
        assert_true(r.framed == framed);
        assert_int_equal(r.epoch, 3);
        assert_true(r.seq == seq);
        assert_ptr_equal(r.payload, a + LOG_REC_HDR);
        check_payload(&r, seq, len);
        /* Any epoch between the previous record's and the file's. */
        assert_int_equal(log_record_check(a, framed, seq, 0, 3, &r), LOG_REC_OK);
        assert_int_equal(log_record_check(a, framed, seq, 3, UINT32_MAX, &r), LOG_REC_OK);
        /* More bytes than the record: the same. */
        assert_int_equal(log_record_check(a, cap, seq, 3, 3, &r), LOG_REC_OK);
        /* seal over a payload copied in place gives the same bytes. */
        memset(b, 0x5a, cap);
        memcpy(b + LOG_REC_HDR, a + LOG_REC_HDR, len);
        assert_true(log_record_seal(b, len, 3, seq) == framed);
        assert_memory_equal(a, b, framed);
    }
    free(a);
    free(b);
}

/* Every byte of the header and the payload flipped (each bit, and the
 * whole byte): never valid. With the rest of a large buffer readable the
 * verdict is TORN; with only the record's bytes, a length made larger may
 * also be SHORT (the caller would read on, and call it torn at the end). */
static void test_record_flipped(void **state)
{
    static const uint32_t lens[] = {1, 8, 13, 4096};
    size_t cap = log_framed_size(LOG_RECORD_MAX) + 4096;
    uint8_t *good = calloc(1, cap), *b = malloc(cap);
    struct log_rec r;

    (void)state;
    assert_non_null(good);
    assert_non_null(b);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        uint32_t len = lens[k];
        uint64_t framed;
        memset(good, 0, cap);
        framed = rec_make(good, len, 2, 5);
        memcpy(b, good, cap);
        for (uint64_t i = 0; i < LOG_REC_HDR + len; i++)
            for (int bit = 0; bit <= 8; bit++) {
                uint8_t mask = bit == 8 ? 0xff : (uint8_t)(1u << bit);
                enum log_verdict v;
                b[i] ^= mask;
                v = log_record_check(b, cap, 5, 2, 2, &r);
                if (v != LOG_REC_TORN)
                    fail_msg("length %u, byte %llu ^ %02x, whole buffer: %s, want torn", len, (unsigned long long)i,
                             mask, log_verdict_name(v));
                v = log_record_check(b, framed, 5, 2, 2, &r);
                if (v != LOG_REC_TORN && v != LOG_REC_SHORT)
                    fail_msg("length %u, byte %llu ^ %02x, record only: %s, want torn or cut short", len,
                             (unsigned long long)i, mask, log_verdict_name(v));
                b[i] ^= mask; /* log_record_check only reads */
            }
        assert_memory_equal(b, good, framed);
        /* The padding is outside the CRC: it carries nothing, and a flip
         * there leaves the payload as it was (never different data). */
        for (uint64_t i = LOG_REC_HDR + len; i < framed; i++) {
            b[i] ^= 0xff;
            if (log_record_check(b, framed, 5, 2, 2, &r) == LOG_REC_OK)
                check_payload(&r, 5, len);
            b[i] ^= 0xff;
        }
    }
    free(good);
    free(b);
}

/* A header with @len in its length field and a right CRC for what follows. */
static enum log_verdict check_len(uint8_t *b, size_t cap, uint32_t len)
{
    struct log_rec r;
    memset(b, 0, LOG_REC_HDR);
    put32(b, LOG_REC_MAGIC);
    put32(b + 4, len);
    put32(b + 12, 1);
    /* seq 0; the CRC as the format computes it, over whatever follows */
    if (len && (uint64_t)len + LOG_REC_HDR <= cap) {
        uint32_t c = crc32c(0, b + 12, 12);
        c = crc32c(c, b + 4, 4);
        put32(b + 8, crc32c(c, b + LOG_REC_HDR, len));
    }
    return log_record_check(b, cap, 0, 0, 1, &r);
}

static void test_record_lengths(void **state)
{
    size_t cap = log_framed_size(LOG_RECORD_MAX + 1) + 64;
    uint8_t *b = calloc(1, cap);
    struct log_rec r;

    (void)state;
    assert_non_null(b);
    assert_int_equal(check_len(b, cap, 0), LOG_REC_TORN);
    assert_int_equal(check_len(b, cap, 1), LOG_REC_OK);
    assert_int_equal(check_len(b, cap, LOG_RECORD_MAX), LOG_REC_OK);
    assert_int_equal(check_len(b, cap, LOG_RECORD_MAX + 1), LOG_REC_TORN); /* even with a right CRC */
    assert_int_equal(check_len(b, cap, 0x7fffffffu), LOG_REC_TORN);
    assert_int_equal(check_len(b, cap, UINT32_MAX), LOG_REC_TORN);
    /* Encoded by log_record_encode at length 0 and MAX + 1: still refused. */
    memset(b, 0, cap);
    log_record_encode(b, "", 0, 1, 0);
    assert_int_equal(log_record_check(b, cap, 0, 0, 1, &r), LOG_REC_TORN);
    memset(b, 0x11, cap);
    log_record_seal(b, LOG_RECORD_MAX + 1, 1, 0);
    assert_int_equal(log_record_check(b, cap, 0, 0, 1, &r), LOG_REC_TORN);
    free(b);
}

/* Cut at every length: cut short (read more), never valid; nothing at
 * all reads as the end. */
static void test_record_cut(void **state)
{
    static const uint32_t lens[] = {1, 7, 8, 9, 100, 4096, 65536, LOG_RECORD_MAX};
    uint8_t *b = malloc(log_framed_size(LOG_RECORD_MAX));
    struct log_rec r;

    (void)state;
    assert_non_null(b);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        uint64_t framed = rec_make(b, lens[k], 1, 9);
        assert_int_equal(log_record_check(b, 0, 9, 1, 1, &r), LOG_REC_END);
        for (uint64_t avail = 1; avail<framed; avail += framed> 5000 && avail > 100 ? 4093 : 1) {
            enum log_verdict v = log_record_check(b, avail, 9, 1, 1, &r);
            if (v != LOG_REC_SHORT)
                fail_msg("length %u cut at %llu: %s, want cut short", lens[k], (unsigned long long)avail,
                         log_verdict_name(v));
        }
        assert_int_equal(log_record_check(b, framed - 1, 9, 1, 1, &r), LOG_REC_SHORT);
        assert_int_equal(log_record_check(b, LOG_REC_HDR + lens[k], 9, 1, 1, &r),
                         framed == LOG_REC_HDR + lens[k] ? LOG_REC_OK : LOG_REC_SHORT);
        assert_int_equal(log_record_check(b, framed, 9, 1, 1, &r), LOG_REC_OK);
    }
    free(b);
}

/* A whole, intact record that is not the one expected. */
static void test_record_stale(void **state)
{
    uint8_t b[64];
    struct log_rec r;

    (void)state;
    rec_make(b, 20, 5, 42);
    assert_int_equal(log_record_check(b, sizeof(b), 42, 5, 5, &r), LOG_REC_OK);
    assert_int_equal(log_record_check(b, sizeof(b), 41, 5, 5, &r), LOG_REC_STALE);
    assert_int_equal(log_record_check(b, sizeof(b), 43, 5, 5, &r), LOG_REC_STALE);
    assert_int_equal(log_record_check(b, sizeof(b), 0, 5, 5, &r), LOG_REC_STALE);
    assert_int_equal(log_record_check(b, sizeof(b), 42ull + (1ull << 32), 5, 5, &r), LOG_REC_STALE);
    /* The previous record's epoch was later: this one is older. */
    assert_int_equal(log_record_check(b, sizeof(b), 42, 6, 9, &r), LOG_REC_STALE);
    /* Above the file header's epoch: written by no opening of this file. */
    assert_int_equal(log_record_check(b, sizeof(b), 42, 0, 4, &r), LOG_REC_STALE);
    assert_int_equal(log_record_check(b, sizeof(b), 42, 4, 4, &r), LOG_REC_STALE);
    /* What is known of it is reported. */
    assert_int_equal(r.len, 20);
    assert_int_equal(r.epoch, 5);
    assert_true(r.seq == 42);
}

static void test_record_zeros(void **state)
{
    uint8_t b[4096];
    struct log_rec r;

    (void)state;
    memset(b, 0, sizeof(b));
    for (size_t avail = 0; avail <= 64; avail++)
        assert_int_equal(log_record_check(b, avail, 0, 0, 1, &r), LOG_REC_END);
    assert_int_equal(log_record_check(b, sizeof(b), 17, 3, 4, &r), LOG_REC_END);
    /* Zeros but one byte: no longer the end. */
    for (size_t i = 0; i < LOG_REC_HDR; i++) {
        memset(b, 0, sizeof(b));
        b[i] = 1;
        assert_int_not_equal(log_record_check(b, sizeof(b), 0, 0, 1, &r), LOG_REC_END);
        assert_int_not_equal(log_record_check(b, sizeof(b), 0, 0, 1, &r), LOG_REC_OK);
    }
}

static void test_verdict_names(void **state)
{
    (void)state;
    assert_string_equal(log_verdict_name(LOG_REC_OK), "valid");
    assert_string_equal(log_verdict_name(LOG_REC_END), "end");
    assert_string_equal(log_verdict_name(LOG_REC_SHORT), "cut short");
    assert_string_equal(log_verdict_name(LOG_REC_TORN), "torn");
    assert_string_equal(log_verdict_name(LOG_REC_STALE), "stale");
    assert_string_equal(log_verdict_name((enum log_verdict)99), "?");
}

/* Block-aligned records (zero-copy appends): their header at every 8-byte
 * offset of a 512-byte block, in several blocks, with payloads of several
 * sizes; the payload starts on the next block and the record is valid,
 * whole, with its CRC over the payload alone. */
static void test_block_record_offsets(void **state)
{
    static const uint32_t lens[] = {1, 7, 511, 512, 513, 8192, 65536 + 8};
    static const uint64_t blocks[] = {0, 1, 8191, 1u << 22};
    size_t cap = LOG_REC_HDR + LOG_BLOCK + log_block_payload(65536 + 8) + 64;
    uint8_t *b = malloc(cap), *payload = malloc(65536 + 8);
    struct log_rec r;
    unsigned bad = 0;

    (void)state;
    assert_non_null(b);
    assert_non_null(payload);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        for (uint32_t i = 0; i < lens[k]; i++)
            payload[i] = pat(k, i);
        for (size_t bl = 0; bl < sizeof(blocks) / sizeof(blocks[0]); bl++)
            for (uint32_t off = 0; off < LOG_BLOCK; off += 8) {
                uint64_t pos = blocks[bl] * LOG_BLOCK + off;
                uint32_t hp;
                enum log_verdict v;
                memset(b, 0xee, cap);
                hp = log_record_seal_block(b, pos, payload, lens[k], 4, 77);
                assert_true(hp >= LOG_REC_HDR);
                assert_int_equal((pos + hp) % LOG_BLOCK, 0);
                assert_true(hp - LOG_REC_HDR < LOG_BLOCK);
                for (uint32_t i = LOG_REC_HDR; i < hp; i++)
                    assert_int_equal(b[i], 0);
                memcpy(b + hp, payload, lens[k]);
                memset(b + hp + lens[k], 0, log_block_payload(lens[k]) - lens[k]);
                v = log_record_check(b, hp + log_block_payload(lens[k]), 77, 4, 4, &r);
                if (v != LOG_REC_OK) {
                    if (bad++ < 8)
                        print_message("block record of %u bytes with its header at %llu (offset %u in its "
                                      "block, %u bytes of padding): %s\n",
                                      lens[k], (unsigned long long)pos, off, hp - LOG_REC_HDR, log_verdict_name(v));
                    continue;
                }
                assert_true(r.framed == hp + log_block_payload(lens[k]));
                assert_ptr_equal(r.payload, b + hp);
                assert_int_equal(r.len, lens[k]);
                assert_memory_equal(r.payload, payload, lens[k]);
                /* Cut anywhere before its end: cut short, never valid. */
                for (uint64_t cut = 1; cut < r.framed; cut += 1 + cut / 3)
                    assert_int_equal(log_record_check(b, cut, 77, 4, 4, &r), LOG_REC_SHORT);
            }
    }
    if (bad)
        fail_msg("%u block records written by log_record_seal_block are not valid for log_record_check", bad);
    free(b);
    free(payload);
}

/* A block record's header and payload flipped byte by byte: torn. */
static void test_block_record_flipped(void **state)
{
    size_t cap = 4 * LOG_BLOCK + LOG_RECORD_MAX;
    uint8_t *b = calloc(1, cap), payload[700];
    struct log_rec r;
    uint32_t hp;

    (void)state;
    assert_non_null(b);
    for (uint32_t i = 0; i < sizeof(payload); i++)
        payload[i] = pat(3, i);
    hp = log_record_seal_block(b, 40, payload, sizeof(payload), 1, 3);
    memcpy(b + hp, payload, sizeof(payload));
    assert_int_equal(log_record_check(b, cap, 3, 1, 1, &r), LOG_REC_OK);
    for (uint32_t i = 0; i < hp + sizeof(payload); i++) {
        if (i >= LOG_REC_HDR && i < hp)
            continue; /* the zeros before the payload: outside the CRC */
        for (int bit = 0; bit <= 8; bit++) {
            uint8_t mask = bit == 8 ? 0xff : (uint8_t)(1u << bit);
            enum log_verdict v;
            b[i] ^= mask;
            v = log_record_check(b, cap, 3, 1, 1, &r);
            if (v != LOG_REC_TORN)
                fail_msg("byte %u ^ %02x: %s, want torn", i, mask, log_verdict_name(v));
            b[i] ^= mask;
        }
    }
    free(b);
}

/* ---- log_scan over an in-memory file ----------------------------------- */

/* The record area of a log file (what follows its header). */
struct mfile {
    uint8_t *data;
    size_t len, cap;
    uint64_t rend; /* the end of the records appended (zeros may follow) */
    /* The reader: at most @chunk bytes a call (0: as asked); -@err for a
     * read reaching @err_at or past it; calls counted. */
    size_t chunk;
    int err;
    uint64_t err_at;
    unsigned reads;
    /* What was appended, for the visitor to compare. */
    uint64_t nrec;
    uint64_t pos[4096];
    uint32_t rlen[4096];
    uint64_t rseq[4096];
};

static struct mfile *mf_new(void)
{
    struct mfile *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cap = 8u << 20;
    f->data = calloc(1, f->cap);
    assert_non_null(f->data);
    return f;
}

static void mf_free(struct mfile *f)
{
    free(f->data);
    free(f);
}

static void mf_append(struct mfile *f, uint32_t len, uint32_t epoch, uint64_t seq)
{
    assert_true(f->len + log_framed_size(len) <= f->cap);
    assert_true(f->nrec < 4096);
    f->pos[f->nrec] = f->len;
    f->rlen[f->nrec] = len;
    f->rseq[f->nrec] = seq;
    f->nrec++;
    f->len += rec_make(f->data + f->len, len, epoch, seq);
    f->rend = f->len;
}

/* A block-aligned record (as a zero-copy append writes it): header at the
 * end of the file, zeros to the next 512-byte block, the payload, zeros to
 * a whole block. */
static void mf_append_block(struct mfile *f, uint32_t len, uint32_t epoch, uint64_t seq)
{
    uint8_t *payload = malloc(len);
    uint32_t hp;

    assert_non_null(payload);
    assert_true(f->len + LOG_REC_HDR + LOG_BLOCK + log_block_payload(len) <= f->cap);
    assert_true(f->nrec < 4096);
    for (uint32_t i = 0; i < len; i++)
        payload[i] = pat(seq, i);
    f->pos[f->nrec] = f->len;
    f->rlen[f->nrec] = len;
    f->rseq[f->nrec] = seq;
    f->nrec++;
    hp = log_record_seal_block(f->data + f->len, f->len, payload, len, epoch, seq);
    assert_int_equal((f->len + hp) % LOG_BLOCK, 0);
    memcpy(f->data + f->len + hp, payload, len);
    memset(f->data + f->len + hp + len, 0, log_block_payload(len) - len);
    f->len += hp + log_block_payload(len);
    f->rend = f->len;
    free(payload);
}

static long mf_read(void *ctx, uint64_t pos, uint8_t *buf, size_t cap)
{
    struct mfile *f = ctx;
    size_t n;

    f->reads++;
    assert_true(f->reads < 100000); /* a scan that never ends */
    assert_int_equal(pos % 4096, 0);
    assert_int_equal((uintptr_t)buf % 4096, 0);
    if (f->err && pos + cap > f->err_at)
        return -f->err;
    if (pos >= f->len)
        return 0;
    n = f->len - pos < cap ? f->len - pos : cap;
    if (f->chunk && n > f->chunk)
        n = f->chunk;
    memcpy(buf, f->data + pos, n);
    return (long)n;
}

struct visit_ctx {
    struct mfile *f;
    uint64_t seen;
    uint64_t stop_at; /* stop the walk at this record (UINT64_MAX: never) */
};

static int visit(void *vctx, uint64_t pos, const struct log_rec *r)
{
    struct visit_ctx *v = vctx;
    struct mfile *f = v->f;
    uint8_t *again;

    assert_true(v->seen < f->nrec);
    if (pos != f->pos[v->seen])
        fail_msg("record %llu at %llu, want %llu", (unsigned long long)v->seen, (unsigned long long)pos,
                 (unsigned long long)f->pos[v->seen]);
    assert_true(r->seq == f->rseq[v->seen]);
    check_payload(r, r->seq, f->rlen[v->seen]);
    /* Encoded again, it is the same bytes as in the file. */
    again = malloc(r->framed);
    assert_non_null(again);
    if (f->data[pos + 7] & (LOG_LEN_BLOCK_TAIL >> 24)) {
        uint32_t hp = log_record_seal_block(again, pos, r->payload, r->len, r->epoch, r->seq);
        assert_true(hp + log_block_payload(r->len) == r->framed);
        memcpy(again + hp, r->payload, r->len);
        memset(again + hp + r->len, 0, r->framed - hp - r->len);
    } else {
        assert_true(log_record_encode(again, r->payload, r->len, r->epoch, r->seq) == r->framed);
    }
    assert_memory_equal(again, f->data + pos, r->framed);
    free(again);
    if (v->seen == v->stop_at)
        return 1;
    v->seen++;
    return 0;
}

static uint8_t *scan_buf(size_t *cap)
{
    *cap = (LOG_SCAN_BUF + 4095u) & ~(size_t)4095u;
    uint8_t *b = aligned_alloc(4096, *cap);
    assert_non_null(b);
    memset(b, 0x77, *cap); /* never taken for zeros */
    return b;
}

/* Scan @f and check the result against what was appended up to record
 * @nvalid (the others are beyond the end). */
static void scan_expect(struct mfile *f, uint8_t *buf, size_t cap, uint32_t max_epoch, uint64_t nvalid,
                        enum log_verdict why)
{
    struct visit_ctx v = {f, 0, UINT64_MAX};
    struct log_scan s;
    uint64_t payload = 0;

    for (uint64_t i = 0; i < nvalid; i++)
        payload += f->rlen[i];
    f->reads = 0;
    assert_int_equal(log_scan(mf_read, f, buf, cap, max_epoch, visit, &v, &s), 0);
    if (s.records != nvalid || s.why != why)
        fail_msg("scan: %llu records, then %s; want %llu, then %s", (unsigned long long)s.records,
                 log_verdict_name(s.why), (unsigned long long)nvalid, log_verdict_name(why));
    assert_true(v.seen == nvalid);
    assert_true(s.payload == payload);
    assert_true(s.end == (nvalid < f->nrec ? f->pos[nvalid] : f->rend));
    assert_true(s.end <= f->len);
    assert_true(s.next_seq == (nvalid ? f->rseq[nvalid - 1] + 1 : 0));
    if (nvalid == 0)
        assert_int_equal(s.last_epoch, 0);
    /* Without a visitor: the same figures. */
    {
        struct log_scan s2;
        assert_int_equal(log_scan(mf_read, f, buf, cap, max_epoch, NULL, NULL, &s2), 0);
        assert_memory_equal(&s, &s2, sizeof(s));
    }
}

static void test_scan_empty(void **state)
{
    struct mfile *f = mf_new();
    size_t cap;
    uint8_t *buf = scan_buf(&cap);

    (void)state;
    scan_expect(f, buf, cap, 1, 0, LOG_REC_END); /* no byte after the header */
    f->len = 4096;                               /* preallocated zeros */
    scan_expect(f, buf, cap, 1, 0, LOG_REC_END);
    f->len = 3 << 20;
    scan_expect(f, buf, cap, 1, 0, LOG_REC_END);
    free(buf);
    mf_free(f);
}

/* Clean logs: 1..1000 records of random sizes, ending exactly at the end
 * of the file or followed by preallocated zeros. */
static void test_scan_clean(void **state)
{
    static const unsigned counts[] = {1, 2, 3, 5, 17, 100, 511, 1000};
    size_t cap;
    uint8_t *buf = scan_buf(&cap);

    (void)state;
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
        for (int tail = 0; tail < 3; tail++) {
            struct mfile *f = mf_new();
            uint32_t maxlen = k & 1 ? 64 : 5000;
            for (unsigned i = 0; i < counts[k]; i++)
                mf_append(f, 1 + (uint32_t)(rng() % maxlen), 1 + i / 300, i);
            if (tail == 1)
                f->len += 4096 - f->len % 4096; /* zeros to the block's end */
            else if (tail == 2)
                f->len += 64u << 10; /* a preallocated stretch */
            scan_expect(f, buf, cap, 1 + (counts[k] - 1) / 300, counts[k], LOG_REC_END);
            mf_free(f);
        }
    free(buf);
}

/* A 1 MiB record (the largest) starting at several offsets within a 4 KiB
 * block, its header across a block boundary, between smaller records: it
 * spans most of the scan buffer, which must move it to the front and read
 * the rest. With the smallest buffer log_scan takes, and one block less
 * refused. */
static void test_scan_largest_record(void **state)
{
    static const uint32_t before[] = {0, 32, 4064, 4072, 4080, 4088, 12000};
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    size_t min_cap = ((LOG_SCAN_BUF - 4096u) + 4095u) & ~(size_t)4095u;

    (void)state;
    for (size_t k = 0; k < sizeof(before) / sizeof(before[0]); k++) {
        struct mfile *f = mf_new();
        uint64_t seq = 0;
        /* Filler records bringing the big one to offset before[k]. */
        while (f->len < before[k]) {
            uint64_t left = before[k] - f->len;
            /* 1000-byte records while one of at least 8 bytes stays. */
            uint32_t len = left >= 1024 + 32 ? 1000 : (uint32_t)(left - LOG_REC_HDR);
            mf_append(f, len, 1, seq++);
        }
        mf_append(f, LOG_RECORD_MAX, 1, seq++);
        mf_append(f, 3, 1, seq++);
        mf_append(f, LOG_RECORD_MAX, 1, seq++); /* two in a row */
        mf_append(f, 4096, 1, seq++);
        assert_true(f->pos[f->nrec - 4] == before[k]);
        scan_expect(f, buf, cap, 1, f->nrec, LOG_REC_END);
        scan_expect(f, buf, min_cap, 1, f->nrec, LOG_REC_END);
        mf_free(f);
    }
    {
        struct log_scan s;
        struct mfile *f = mf_new();
        assert_int_equal(log_scan(mf_read, f, buf, min_cap - 4096, 1, NULL, NULL, &s), EINVAL);
        mf_free(f);
    }
    free(buf);
}

/* The last record torn: cut by the end of the file at every length, or
 * damaged in place (a write that did not land whole). */
static void test_scan_torn_last(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();
    uint64_t whole;

    (void)state;
    for (unsigned i = 0; i < 20; i++)
        mf_append(f, 100 + i * 37, 2, i);
    mf_append(f, 9000, 2, 20);
    whole = f->len;
    for (uint64_t cut = f->pos[20] + 1; cut < whole; cut += 1 + (cut % 7) * 53) {
        f->len = cut;
        scan_expect(f, buf, cap, 2, 20, LOG_REC_TORN);
    }
    /* Cut inside the header (the file ends mid-header). */
    for (uint64_t cut = f->pos[20] + 1; cut < f->pos[20] + LOG_REC_HDR; cut++) {
        f->len = cut;
        scan_expect(f, buf, cap, 2, 20, LOG_REC_TORN);
    }
    /* Whole in length, with zeros after, but its payload half written. */
    f->len = whole + 8192;
    memset(f->data + f->pos[20] + LOG_REC_HDR + 4096, 0, 4904);
    scan_expect(f, buf, cap, 2, 20, LOG_REC_TORN);
    /* Its header alone written: the payload still zeros. */
    memset(f->data + f->pos[20] + LOG_REC_HDR, 0, 9000);
    scan_expect(f, buf, cap, 2, 20, LOG_REC_TORN);
    mf_free(f);
    free(buf);
}

/* Past a clean end (a zero header), whatever follows is not read as
 * records; right after the last record, garbage is a torn record. */
static void test_scan_garbage_after_end(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();
    uint64_t end;

    (void)state;
    for (unsigned i = 0; i < 10; i++)
        mf_append(f, 50, 1, i);
    end = f->len;
    /* Zeros, then garbage, then a valid-looking record with the next seq. */
    f->len = end + 64;
    for (int i = 0; i < 1000; i++)
        f->data[f->len++] = (uint8_t)rng();
    rec_make(f->data + f->len, 50, 1, 10);
    f->len += log_framed_size(50);
    scan_expect(f, buf, cap, 1, 10, LOG_REC_END);
    /* Garbage right after the last record. */
    for (int k = 0; k < 100; k++) {
        f->len = end;
        for (int i = 0; i < 1 + k * 37; i++)
            f->data[f->len++] = (uint8_t)(rng() | 1);
        scan_expect(f, buf, cap, 1, 10, LOG_REC_TORN);
    }
    mf_free(f);
    free(buf);
}

/* Epoch 1 wrote records 0..9; the log was reopened (epoch 2) with its end
 * found after record 4, and epoch 2 wrote records 5 and 6 of the same
 * sizes over 5 and 6: epoch 1's records 7..9 lie after the end, aligned and
 * intact, and must read as stale. Likewise a record of the right epoch but
 * out of sequence, and one from an epoch above the file header's. */
static void test_scan_stale_after_end(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();

    (void)state;
    for (unsigned i = 0; i < 10; i++)
        mf_append(f, 200, 1, i);
    scan_expect(f, buf, cap, 1, 10, LOG_REC_END);
    for (unsigned i = 5; i < 7; i++)
        rec_make(f->data + f->pos[i], 200, 2, i);
    scan_expect(f, buf, cap, 2, 7, LOG_REC_STALE);
    /* The next record in sequence, but written before (epoch 1 < 2). */
    rec_make(f->data + f->pos[7], 200, 1, 7);
    scan_expect(f, buf, cap, 2, 7, LOG_REC_STALE);
    /* Right epoch, a sequence number skipped. */
    rec_make(f->data + f->pos[7], 200, 2, 8);
    scan_expect(f, buf, cap, 2, 7, LOG_REC_STALE);
    /* Right sequence, an epoch this file never had. */
    rec_make(f->data + f->pos[7], 200, 3, 7);
    scan_expect(f, buf, cap, 2, 7, LOG_REC_STALE);
    /* With the file header at epoch 3 it is valid, and 8, 9 are stale. */
    scan_expect(f, buf, cap, 3, 8, LOG_REC_STALE);
    mf_free(f);
    free(buf);
}

/* A reader that returns fewer bytes than asked, whole blocks at a time:
 * the same scan as with one that fills the buffer. */
static void test_scan_short_reads(void **state)
{
    static const size_t chunks[] = {4096, 8192, 4096 * 3, 65536, 1u << 20};
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();

    (void)state;
    for (unsigned i = 0; i < 300; i++)
        mf_append(f, 1 + (uint32_t)(rng() % 3000), 1, i);
    mf_append(f, LOG_RECORD_MAX, 1, 300);
    mf_append(f, 77, 1, 301);
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        f->chunk = chunks[k];
        scan_expect(f, buf, cap, 1, f->nrec, LOG_REC_END);
        f->len += 5000; /* zeros after, the last block partial */
        scan_expect(f, buf, cap, 1, f->nrec, LOG_REC_END);
        f->len -= 5000;
    }
    mf_free(f);
    free(buf);
}

/* A read of fewer bytes than asked and not whole blocks is the end of the
 * file (log_read_fn's contract, as pread(2) on a regular file): the records
 * wholly inside what was read are found, one it cuts is torn. */
static void test_scan_short_reads_unaligned(void **state)
{
    static const size_t chunks[] = {1000, 512, 4095, 4097, 100000, 24, 1};
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();

    (void)state;
    for (unsigned i = 0; i < 300; i++)
        mf_append(f, 1 + (uint32_t)(rng() % 3000), 1, i);
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        uint64_t n = 0;
        f->chunk = chunks[k];
        while (n < f->nrec && f->pos[n] + log_framed_size(f->rlen[n]) <= chunks[k])
            n++;
        scan_expect(f, buf, cap, 1, n, n < f->nrec && f->pos[n] < chunks[k] ? LOG_REC_TORN : LOG_REC_END);
    }
    /* A cut exactly between two records: the clean end there. */
    f->chunk = f->pos[3];
    scan_expect(f, buf, cap, 1, 3, LOG_REC_END);
    mf_free(f);
    free(buf);
}

/* Copied and block-aligned records mixed, a block record's header at every
 * 8-byte offset of a block: the scan finds them all. */
static void test_scan_block_records(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();
    uint64_t seq = 0;

    (void)state;
    for (uint32_t off = 0; off < LOG_BLOCK; off += 8) {
        /* From a block boundary, a copied record to reach @off. */
        if (off >= 32)
            mf_append(f, off - LOG_REC_HDR, 1, seq++);
        else if (off > 0)
            mf_append(f, off + LOG_BLOCK - LOG_REC_HDR, 1, seq++);
        assert_int_equal(f->len % LOG_BLOCK, off);
        mf_append_block(f, 8192 + off, 1, seq++);
    }
    mf_append_block(f, LOG_RECORD_MAX, 1, seq++);
    mf_append(f, 5, 1, seq++);
    mf_append_block(f, 1, 1, seq++);
    scan_expect(f, buf, cap, 1, f->nrec, LOG_REC_END);
    mf_free(f);
    free(buf);
}

/* A reader that fails: its errno comes back, at the first read or in the
 * middle of the log. */
static void test_scan_read_error(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();
    struct log_scan s;
    struct visit_ctx v = {f, 0, UINT64_MAX};

    (void)state;
    for (unsigned i = 0; i < 3000; i++)
        mf_append(f, 1000, 1, i);
    f->err = EIO;
    f->err_at = 0;
    assert_int_equal(log_scan(mf_read, f, buf, cap, 1, NULL, NULL, &s), EIO);
    f->err_at = f->len / 2;
    assert_int_equal(log_scan(mf_read, f, buf, cap, 1, visit, &v, &s), EIO);
    assert_true(v.seen > 0); /* it got somewhere before the error */
    assert_true(v.seen < f->nrec);
    f->err = ENOMEM;
    assert_int_equal(log_scan(mf_read, f, buf, cap, 1, NULL, NULL, &s), ENOMEM);
    mf_free(f);
    free(buf);
}

/* A visitor that stops the walk: the end is where it stopped. */
static void test_scan_visit_stops(void **state)
{
    size_t cap;
    uint8_t *buf = scan_buf(&cap);
    struct mfile *f = mf_new();
    struct log_scan s;

    (void)state;
    for (unsigned i = 0; i < 50; i++)
        mf_append(f, 10 + i, 1, i);
    for (uint64_t stop = 0; stop < 50; stop += 7) {
        struct visit_ctx v = {f, 0, stop};
        assert_int_equal(log_scan(mf_read, f, buf, cap, 1, visit, &v, &s), 0);
        assert_true(s.records == stop);
        assert_true(s.end == f->pos[stop]);
        assert_int_equal(s.why, LOG_REC_END);
    }
    mf_free(f);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_hdr_round_trip),
        cmocka_unit_test(test_file_hdr_flipped),
        cmocka_unit_test(test_file_hdr_version),
        cmocka_unit_test(test_file_hdr_short),
        cmocka_unit_test(test_framed_size),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_flipped),
        cmocka_unit_test(test_record_lengths),
        cmocka_unit_test(test_record_cut),
        cmocka_unit_test(test_record_stale),
        cmocka_unit_test(test_record_zeros),
        cmocka_unit_test(test_block_record_offsets),
        cmocka_unit_test(test_block_record_flipped),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_scan_empty),
        cmocka_unit_test(test_scan_clean),
        cmocka_unit_test(test_scan_largest_record),
        cmocka_unit_test(test_scan_torn_last),
        cmocka_unit_test(test_scan_garbage_after_end),
        cmocka_unit_test(test_scan_stale_after_end),
        cmocka_unit_test(test_scan_short_reads),
        cmocka_unit_test(test_scan_short_reads_unaligned),
        cmocka_unit_test(test_scan_block_records),
        cmocka_unit_test(test_scan_read_error),
        cmocka_unit_test(test_scan_visit_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
