/* SPDX-License-Identifier: MIT */
/* cattree_log.c: the storage log's format (cattree_log.h). */
#include "libos/cattree_log.h"

#include "core/crc32c.h"

#include <errno.h>
#include <string.h>

static inline void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* little-endian hosts only, as the rest of libdemi */
}

static inline void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static inline uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void log_file_hdr_encode(uint8_t *buf, uint32_t epoch, uint64_t created_ns)
{
    memset(buf, 0, LOG_FILE_HDR);
    memcpy(buf, LOG_FILE_MAGIC, 8);
    put32(buf + 8, LOG_VERSION);
    put32(buf + 12, LOG_FILE_HDR);
    put32(buf + 16, epoch);
    put32(buf + 20, 0); /* flags */
    put64(buf + 24, created_ns);
    put32(buf + 60, crc32c(0, buf, 60));
}

int log_file_hdr_decode(const uint8_t *buf, size_t len, struct log_file_hdr *out)
{
    if (len < LOG_FILE_HDR || memcmp(buf, LOG_FILE_MAGIC, 8) != 0)
        return EILSEQ;
    if (get32(buf + 60) != crc32c(0, buf, 60) || get32(buf + 12) != LOG_FILE_HDR)
        return EILSEQ;
    if (get32(buf + 8) != LOG_VERSION || get32(buf + 20) != 0)
        return ENOTSUP;
    out->version = get32(buf + 8);
    out->epoch = get32(buf + 16);
    out->created_ns = get64(buf + 24);
    return 0;
}

/* The CRC covers the header's epoch and sequence (bytes 12..23), then the
 * length word, then the payload: a record moved to another place or another
 * epoch, or cut short, does not check. */
static uint32_t log_record_crc(const uint8_t *hdr, uint32_t len, const uint8_t *payload)
{
    uint32_t crc = crc32c(0, hdr + 12, 12);
    crc = crc32c(crc, hdr + 4, 4);
    return crc32c(crc, payload, len);
}

uint64_t log_record_seal(uint8_t *dst, uint32_t len, uint32_t epoch, uint64_t seq)
{
    uint64_t framed = log_framed_size(len);

    put32(dst, LOG_REC_MAGIC);
    put32(dst + 4, len);
    put32(dst + 12, epoch);
    put64(dst + 16, seq);
    memset(dst + LOG_REC_HDR + len, 0, framed - LOG_REC_HDR - len);
    put32(dst + 8, log_record_crc(dst, len, dst + LOG_REC_HDR));
    return framed;
}

uint32_t log_record_seal_block(uint8_t *dst, uint64_t pos, const void *payload, uint32_t len, uint32_t epoch,
                               uint64_t seq)
{
    uint32_t pad = log_block_pad(pos), word = len | (pad / 8) << LOG_LEN_PAD_SHIFT | LOG_LEN_BLOCK_TAIL;
    uint32_t crc;

    put32(dst, LOG_REC_MAGIC);
    put32(dst + 4, word);
    put32(dst + 12, epoch);
    put64(dst + 16, seq);
    memset(dst + LOG_REC_HDR, 0, pad);
    crc = crc32c(0, dst + 12, 12);
    crc = crc32c(crc, dst + 4, 4);
    put32(dst + 8, crc32c(crc, payload, len));
    return LOG_REC_HDR + pad;
}

uint64_t log_record_encode(uint8_t *dst, const void *payload, uint32_t len, uint32_t epoch, uint64_t seq)
{
    memcpy(dst + LOG_REC_HDR, payload, len);
    return log_record_seal(dst, len, epoch, seq);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

enum log_verdict log_record_check(const uint8_t *p, size_t avail, uint64_t expect_seq, uint32_t min_epoch,
                                  uint32_t max_epoch, struct log_rec *out)
{
    uint32_t word, pad, crc;

    memset(out, 0, sizeof(*out));
    if (avail < LOG_REC_HDR)
        return all_zero(p, avail) ? LOG_REC_END : LOG_REC_SHORT;
    if (all_zero(p, LOG_REC_HDR))
        return LOG_REC_END;
    if (get32(p) != LOG_REC_MAGIC)
        return LOG_REC_TORN;
    word = get32(p + 4);
    out->len = word & LOG_LEN_MASK;
    out->epoch = get32(p + 12);
    out->seq = get64(p + 16);
    pad = ((word >> LOG_LEN_PAD_SHIFT) & LOG_LEN_PAD_MASK) * 8;
    if (out->len == 0 || out->len > LOG_RECORD_MAX || (word & LOG_LEN_RESERVED) || pad >= LOG_BLOCK ||
        (pad && !(word & LOG_LEN_BLOCK_TAIL)))
        return LOG_REC_TORN;
    if (word & LOG_LEN_BLOCK_TAIL)
        out->framed = LOG_REC_HDR + pad + log_block_payload(out->len);
    else
        out->framed = log_framed_size(out->len);
    if (avail < out->framed)
        return LOG_REC_SHORT;
    crc = crc32c(0, p + 12, 12);
    crc = crc32c(crc, p + 4, 4);
    if (get32(p + 8) != crc32c(crc, p + LOG_REC_HDR + pad, out->len))
        return LOG_REC_TORN;
    if (out->seq != expect_seq || out->epoch < min_epoch || out->epoch > max_epoch)
        return LOG_REC_STALE;
    out->payload = p + LOG_REC_HDR + pad;
    return LOG_REC_OK;
}

#define LOG_SCAN_BLOCK 4096u

int log_scan(log_read_fn read, void *ctx, uint8_t *buf, size_t cap, uint32_t max_epoch,
             int (*visit)(void *vctx, uint64_t pos, const struct log_rec *r), void *vctx, struct log_scan *out)
{
    uint64_t base = 0; /* the position of buf[0], a multiple of LOG_SCAN_BLOCK */
    size_t filled = 0, at = 0;
    bool eof = false;

    memset(out, 0, sizeof(*out));
    cap &= ~(size_t)(LOG_SCAN_BLOCK - 1);
    if (cap < LOG_SCAN_BUF - LOG_SCAN_BLOCK)
        return EINVAL;
    for (;;) {
        struct log_rec r;
        enum log_verdict v = log_record_check(buf + at, filled - at, out->next_seq, out->last_epoch, max_epoch, &r);

        if (!eof && filled - at < LOG_REC_HDR)
            v = LOG_REC_SHORT; /* not even a header read yet */

        if (v == LOG_REC_SHORT && !eof) {
            /* Keep the blocks from the one holding @at, and read on. */
            size_t keep = at & ~(size_t)(LOG_SCAN_BLOCK - 1);
            long n;
            memmove(buf, buf + keep, filled - keep);
            base += keep;
            filled -= keep;
            at -= keep;
            n = read(ctx, base + filled, buf + filled, (cap - filled) & ~(size_t)(LOG_SCAN_BLOCK - 1));
            if (n < 0)
                return (int)-n;
            if (n == 0)
                eof = true;
            filled += (size_t)n;
            if ((size_t)n % LOG_SCAN_BLOCK)
                eof = true; /* a short read: the file ends there */
            continue;
        }
        if (v != LOG_REC_OK) {
            out->why = v == LOG_REC_SHORT ? LOG_REC_TORN : v; /* cut by the end of the file */
            out->end = base + at;
            return 0;
        }
        if (visit && visit(vctx, base + at, &r)) {
            out->why = LOG_REC_END;
            out->end = base + at;
            return 0;
        }
        out->records++;
        out->payload += r.len;
        out->next_seq = r.seq + 1;
        out->last_epoch = r.epoch;
        at += r.framed;
        out->end = base + at;
    }
}

const char *log_verdict_name(enum log_verdict v)
{
    switch (v) {
    case LOG_REC_OK:
        return "valid";
    case LOG_REC_END:
        return "end";
    case LOG_REC_SHORT:
        return "cut short";
    case LOG_REC_TORN:
        return "torn";
    case LOG_REC_STALE:
        return "stale";
    }
    return "?";
}
