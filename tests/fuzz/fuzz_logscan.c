/* SPDX-License-Identifier: MIT */
/*
 * fuzz_logscan.c: libFuzzer target for the storage log's parser
 * (libos/cattree_log.c): arbitrary bytes as a whole log file, its header
 * through log_file_hdr_decode, its records through log_scan, read by a
 * callback over the input in pieces whose sizes the input picks (as the
 * libOS's recovery and demi-logcheck read a file).
 *
 *     input := cfg:u8 epoch:u8 arg:u16 file
 *     cfg bit 0    1: file is the whole file, header included (decoded as
 *                  it is); 0: file is the record area, after a valid header
 *                  of epoch @epoch made here (most inputs reach the records)
 *     cfg bits 1-2 reads: 0 as large as asked; 1 whole blocks, at most
 *                  (1 + @arg % 64) * 4096 bytes; 2 at most 1 + @arg bytes;
 *                  3 as large as asked, but read number @arg % 8 fails (EIO)
 *     cfg bit 3    the visitor stops the walk at record @arg % 64
 *
 * Oracles, besides ASan/UBSan (the file is a heap block of its exact size,
 * the scan buffer poisoned where nothing was read into it):
 *   - log_scan returns 0, or EIO only when a read failed;
 *   - end <= the record area's length, records * 32 <= end (a record takes
 *     at least 32 bytes), payload, next_seq and last_epoch agree with the
 *     records visited, the verdict is end, torn or stale;
 *   - every record visited starts where the previous one ended (the first
 *     at 0), lies inside the file, has sequence number 0, 1, 2, ... and
 *     epochs rising up to the header's; its payload is the file's bytes;
 *     log_record_check on the file's bytes there says valid again (its CRC
 *     re-checks), and encoding what was visited again (log_record_encode,
 *     or log_record_seal_block at its position for a block-aligned record)
 *     reproduces its header;
 *   - with reads of whole blocks the result equals that of reads as large
 *     as asked; what is at the end is consistent with the verdict (zeros,
 *     or a record log_record_check refuses with that verdict); with reads
 *     of any size the records found are a prefix of those (a read that
 *     stops short of a block is taken for the end of the file: see
 *     test_cattree_log.c's test_scan_short_reads_unaligned).
 *
 * The seeds in tests/fuzz/corpus/fuzz_logscan/ are logs written with
 * log_record_encode by this file built with -DFUZZ_LOGSCAN_GEN_SEEDS (its
 * main below):
 *   cc -DFUZZ_LOGSCAN_GEN_SEEDS -D_GNU_SOURCE -Isrc -Iinclude tests/fuzz/fuzz_logscan.c \
 *      src/libos/cattree_log.c src/core/crc32c.c -o /tmp/gen && /tmp/gen tests/fuzz/corpus/fuzz_logscan
 */
#include "fuzz_common.h"

#include "libos/cattree_log.h"

#include <errno.h>
#include <stdbool.h>

#define die(...) FUZZ_DIE("fuzz_logscan", __VA_ARGS__)

#define SCAN_CAP ((LOG_SCAN_BUF + 4095u) & ~(size_t)4095u)

enum { READ_WHOLE = 0, READ_BLOCKS, READ_ANY, READ_FAIL };

struct file {
    const uint8_t *area; /* the record area: what follows the file header */
    size_t len;
    int mode;
    size_t chunk;
    unsigned reads, fail_at;
    bool failed;
};

struct walk {
    const struct file *f;
    uint32_t max_epoch;
    uint64_t n, next_pos, payload, stop_at;
    uint32_t last_epoch;
    bool stopped;
    uint64_t seen_pos[64];
};

static uint8_t *scan_buf;
static uint8_t *enc_buf;

static long file_read(void *ctx, uint64_t pos, uint8_t *buf, size_t cap)
{
    struct file *f = ctx;
    size_t n;

    if (f->reads++ > 100000)
        die("log_scan read more than 100000 times");
    if (pos % 4096)
        die("a read at %llu, not on a 4 KiB boundary", (unsigned long long)pos);
    if (buf < scan_buf || cap > SCAN_CAP || (size_t)(buf - scan_buf) > SCAN_CAP - cap || cap % 4096 ||
        (size_t)(buf - scan_buf) % 4096)
        die("a read of %zu bytes at buffer offset %zu: outside the buffer or not whole blocks", cap,
            (size_t)(buf - scan_buf));
    if (f->mode == READ_FAIL && f->reads - 1 == f->fail_at) {
        f->failed = true;
        return -EIO;
    }
    if (pos >= f->len)
        return 0;
    n = f->len - pos < cap ? (size_t)(f->len - pos) : cap;
    if ((f->mode == READ_BLOCKS || f->mode == READ_ANY) && n > f->chunk)
        n = f->chunk;
    UNPOISON(buf, n);
    memcpy(buf, f->area + pos, n);
    return (long)n;
}

FUZZ_NOCOV static int visit(void *vctx, uint64_t pos, const struct log_rec *r)
{
    struct walk *w = vctx;
    const struct file *f = w->f;
    struct log_rec again;
    uint64_t framed;
    uint32_t word, pad, hp;

    if (pos != w->next_pos)
        die("record %llu at %llu, the previous one ended at %llu", (unsigned long long)w->n, (unsigned long long)pos,
            (unsigned long long)w->next_pos);
    if (r->len == 0 || r->len > LOG_RECORD_MAX || r->framed < log_framed_size(r->len) || r->framed % 8)
        die("record %llu: length %u, framed %llu", (unsigned long long)w->n, r->len, (unsigned long long)r->framed);
    if (pos + r->framed > f->len)
        die("record %llu at %llu (%llu bytes) runs past the file (%zu)", (unsigned long long)w->n,
            (unsigned long long)pos, (unsigned long long)r->framed, f->len);
    if (r->seq != w->n)
        die("record %llu has sequence number %llu", (unsigned long long)w->n, (unsigned long long)r->seq);
    if (r->epoch < w->last_epoch || r->epoch > w->max_epoch)
        die("record %llu: epoch %u after %u, file header's %u", (unsigned long long)w->n, r->epoch, w->last_epoch,
            w->max_epoch);
    memcpy(&word, f->area + pos + 4, 4);
    pad = ((word >> LOG_LEN_PAD_SHIFT) & LOG_LEN_PAD_MASK) * 8;
    if (r->payload != NULL && memcmp(r->payload, f->area + pos + LOG_REC_HDR + pad, r->len) != 0)
        die("record %llu: the payload handed out is not the file's bytes", (unsigned long long)w->n);
    if (log_record_check(f->area + pos, f->len - pos, w->n, w->last_epoch, w->max_epoch, &again) != LOG_REC_OK)
        die("record %llu: valid for log_scan, not for log_record_check on the file's bytes", (unsigned long long)w->n);
    /* Encoded again (as copied, or block-aligned at its position), it is the
     * header and payload in the file. The zeros around the payload are
     * outside the CRC (cattree_log.c): a file may hold anything there and
     * still be read the same. */
    if (word & LOG_LEN_BLOCK_TAIL) {
        hp = log_record_seal_block(enc_buf, pos, r->payload, r->len, r->epoch, r->seq);
        framed = hp + log_block_payload(r->len);
        if (hp != LOG_REC_HDR + pad)
            die("record %llu at %llu: %u bytes of padding, %u when sealed there", (unsigned long long)w->n,
                (unsigned long long)pos, pad, hp - LOG_REC_HDR);
    } else {
        framed = log_record_encode(enc_buf, r->payload, r->len, r->epoch, r->seq);
    }
    if (framed != r->framed)
        die("record %llu: encodes to %llu bytes, framed %llu", (unsigned long long)w->n, (unsigned long long)framed,
            (unsigned long long)r->framed);
    if (memcmp(enc_buf, f->area + pos, LOG_REC_HDR) != 0)
        die("record %llu: encoding it again gives another header", (unsigned long long)w->n);
    if (w->n < 64)
        w->seen_pos[w->n] = pos;
    if (w->n == w->stop_at) {
        w->stopped = true;
        return 1;
    }
    w->n++;
    w->next_pos = pos + r->framed;
    w->payload += r->len;
    w->last_epoch = r->epoch;
    return 0;
}

/* One scan; the walk's own account in @w. */
static int scan(struct file *f, uint32_t max_epoch, uint64_t stop_at, struct walk *w, struct log_scan *s)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->max_epoch = max_epoch;
    w->stop_at = stop_at;
    f->reads = 0;
    f->failed = false;
    POISON(scan_buf, SCAN_CAP);
    return log_scan(file_read, f, scan_buf, SCAN_CAP, max_epoch, visit, w, s);
}

FUZZ_NOCOV static void check_result(const struct file *f, const struct walk *w, const struct log_scan *s, bool stopped)
{
    if (s->end > f->len)
        die("end %llu past the record area (%zu bytes)", (unsigned long long)s->end, f->len);
    if (s->records * 32 > s->end)
        die("%llu records in %llu bytes", (unsigned long long)s->records, (unsigned long long)s->end);
    if (s->records != w->n || s->payload != w->payload || s->end != (stopped ? w->seen_pos[w->n] : w->next_pos))
        die("scan: %llu records, %llu payload bytes, end %llu; visited %llu, %llu bytes, end %llu",
            (unsigned long long)s->records, (unsigned long long)s->payload, (unsigned long long)s->end,
            (unsigned long long)w->n, (unsigned long long)w->payload, (unsigned long long)w->next_pos);
    if (s->next_seq != s->records || s->last_epoch != w->last_epoch)
        die("next_seq %llu, last_epoch %u after %llu records (last epoch %u)", (unsigned long long)s->next_seq,
            s->last_epoch, (unsigned long long)s->records, w->last_epoch);
    if (s->why != LOG_REC_END && s->why != LOG_REC_TORN && s->why != LOG_REC_STALE)
        die("verdict %s at the end", log_verdict_name(s->why));
    if (stopped && s->why != LOG_REC_END)
        die("stopped by the visitor: verdict %s", log_verdict_name(s->why));
}

/* What lies at the end, read whole, agrees with the verdict. */
FUZZ_NOCOV static void check_end(const struct file *f, const struct log_scan *s, uint32_t max_epoch)
{
    const uint8_t *p = f->area + s->end;
    size_t avail = f->len - s->end;
    struct log_rec r;
    enum log_verdict v = log_record_check(p, avail, s->next_seq, s->last_epoch, max_epoch, &r);

    if (v == LOG_REC_OK)
        die("a valid record at the end (%llu) of the log", (unsigned long long)s->end);
    if (s->why == LOG_REC_END && v != LOG_REC_END)
        die("the log ends cleanly at %llu but log_record_check says %s there", (unsigned long long)s->end,
            log_verdict_name(v));
    if (s->why == LOG_REC_STALE && v != LOG_REC_STALE)
        die("stale at %llu but log_record_check says %s", (unsigned long long)s->end, log_verdict_name(v));
    if (s->why == LOG_REC_TORN && v != LOG_REC_TORN && v != LOG_REC_SHORT)
        die("torn at %llu but log_record_check says %s", (unsigned long long)s->end, log_verdict_name(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    struct log_file_hdr hdr;
    struct file f;
    struct walk w, w0;
    struct log_scan s, s0;
    uint8_t *file;
    size_t flen, got;
    const uint8_t *rest;
    uint8_t cfg, epoch;
    uint16_t arg;
    uint32_t max_epoch;
    uint64_t stop_at;
    int ret, ret0, hret;

    if (!scan_buf) {
        scan_buf = aligned_alloc(4096, SCAN_CAP);
        enc_buf = malloc(log_framed_size(LOG_RECORD_MAX));
        if (!scan_buf || !enc_buf)
            die("out of memory");
    }
    fuzz_in_init(&in, data, size);
    cfg = fuzz_u8(&in);
    epoch = fuzz_u8(&in);
    arg = fuzz_u16(&in);
    rest = fuzz_bytes(&in, fuzz_in_left(&in), &got);

    /* The whole file, in a heap block of its exact size. */
    flen = cfg & 1 ? got : LOG_FILE_HDR + got;
    file = malloc(flen ? flen : 1);
    if (!file)
        die("out of memory");
    if (cfg & 1) {
        memcpy(file, rest, got);
    } else {
        log_file_hdr_encode(file, epoch, 0);
        memcpy(file + LOG_FILE_HDR, rest, got);
    }

    hret = log_file_hdr_decode(file, flen, &hdr);
    if (hret != 0 && hret != EILSEQ && hret != ENOTSUP)
        die("log_file_hdr_decode: %d", hret);
    if (!(cfg & 1) && (hret != 0 || hdr.epoch != epoch || hdr.version != LOG_VERSION))
        die("a header made by log_file_hdr_encode does not decode (%d)", hret);
    if (hret == 0 && flen < LOG_FILE_HDR)
        die("a header decoded from %zu bytes", flen);
    /* A file whose header does not decode is scanned anyway, as a recovery
     * tool asked to look at the records would. */
    max_epoch = hret == 0 ? hdr.epoch : epoch;

    memset(&f, 0, sizeof(f));
    f.area = flen > LOG_FILE_HDR ? file + LOG_FILE_HDR : file + flen;
    f.len = flen > LOG_FILE_HDR ? flen - LOG_FILE_HDR : 0;
    stop_at = cfg & 8 ? arg % 64 : UINT64_MAX;

    /* Reads as large as asked: the reference. */
    f.mode = READ_WHOLE;
    ret0 = scan(&f, max_epoch, stop_at, &w0, &s0);
    if (ret0 != 0)
        die("log_scan: %d with reads that never fail", ret0);
    check_result(&f, &w0, &s0, w0.stopped);
    if (!w0.stopped)
        check_end(&f, &s0, max_epoch);

    f.mode = (cfg >> 1) & 3;
    if (f.mode != READ_WHOLE) {
        f.chunk = f.mode == READ_BLOCKS ? (1 + (size_t)(arg % 64)) * 4096 : 1 + (size_t)arg;
        f.fail_at = arg % 8;
        ret = scan(&f, max_epoch, stop_at, &w, &s);
        if (f.mode == READ_FAIL) {
            if (ret != (f.failed ? EIO : 0))
                die("log_scan: %d, a read %s", ret, f.failed ? "failed with EIO" : "never failed");
        } else if (ret != 0) {
            die("log_scan: %d with reads that never fail", ret);
        }
        if (ret == 0) {
            check_result(&f, &w, &s, w.stopped);
            if (f.mode == READ_ANY) {
                if (s.records > s0.records)
                    die("short reads found %llu records, whole reads %llu", (unsigned long long)s.records,
                        (unsigned long long)s0.records);
            } else if (memcmp(&s, &s0, sizeof(s)) != 0) {
                die("reads of whole blocks (%zu bytes): %llu records, end %llu, %s; whole reads: %llu, %llu, %s",
                    f.chunk, (unsigned long long)s.records, (unsigned long long)s.end, log_verdict_name(s.why),
                    (unsigned long long)s0.records, (unsigned long long)s0.end, log_verdict_name(s0.why));
            }
        }
    }
    free(file);
    return 0;
}

#ifdef FUZZ_LOGSCAN_GEN_SEEDS
/* The seeds: valid logs, written with the format's own encoder. */
#include <stdio.h>

static uint8_t seed[1 << 20];
static size_t seed_len;

static void seed_start(uint8_t cfg, uint8_t epoch, uint16_t arg)
{
    seed[0] = cfg;
    seed[1] = epoch;
    seed[2] = (uint8_t)(arg >> 8);
    seed[3] = (uint8_t)arg;
    seed_len = 4;
    if (cfg & 1) {
        log_file_hdr_encode(seed + 4, epoch, 1700000000000000000ull);
        seed_len += LOG_FILE_HDR;
    }
}

static void seed_rec(uint32_t len, uint32_t epoch, uint64_t seq)
{
    uint8_t payload[70000];
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(seq * 131u + i * 7u);
    seed_len += log_record_encode(seed + seed_len, payload, len, epoch, seq);
}

/* A block-aligned record (a zero-copy append's) at the end of the seed. */
static void seed_block(uint32_t len, uint32_t epoch, uint64_t seq)
{
    static uint8_t payload[70000];
    uint64_t pos = seed_len - 4 - (seed[0] & 1 ? LOG_FILE_HDR : 0);
    uint32_t hp;
    for (uint32_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(seq * 131u + i * 7u);
    hp = log_record_seal_block(seed + seed_len, pos, payload, len, epoch, seq);
    memcpy(seed + seed_len + hp, payload, len);
    memset(seed + seed_len + hp + len, 0, log_block_payload(len) - len);
    seed_len += hp + log_block_payload(len);
}

static uint64_t seed_nrec;

static void seed_write(const char *dir, const char *name)
{
    char path[512];
    FILE *fp;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (!fp || fwrite(seed, 1, seed_len, fp) != seed_len || fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
    LLVMFuzzerTestOneInput(seed, seed_len); /* the oracles hold on it */
}

/* Every record of the last seed (a made header, read whole) is valid. */
static int seed_all_valid(const char *name, uint64_t nrec)
{
    struct file f = {.area = seed + 4, .len = seed_len - 4, .mode = READ_WHOLE};
    struct walk w;
    struct log_scan s;

    if (scan(&f, seed[1], UINT64_MAX, &w, &s) != 0 || s.records != nrec || s.why != LOG_REC_END) {
        fprintf(stderr, "%s: log_scan finds %llu of its %llu records, then %s at %llu (offset %llu in its block)\n",
                name, (unsigned long long)s.records, (unsigned long long)nrec, log_verdict_name(s.why),
                (unsigned long long)s.end, (unsigned long long)(s.end % LOG_BLOCK));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    /* A few small records after a made header, read whole. */
    seed_start(0, 1, 0);
    for (uint64_t i = 0; i < 6; i++)
        seed_rec(1 + (uint32_t)i * 5, 1, i);
    seed_write(argv[1], "small.bin");
    /* Three epochs, then zeros: the clean end. */
    seed_start(0, 3, 0);
    for (uint64_t i = 0; i < 9; i++)
        seed_rec(8 + (uint32_t)i, 1 + (uint32_t)i / 3, i);
    memset(seed + seed_len, 0, 64);
    seed_len += 64;
    seed_write(argv[1], "epochs.bin");
    /* An earlier epoch's record after the end (stale). */
    seed_start(0, 2, 0);
    seed_rec(40, 1, 0);
    seed_rec(40, 2, 1);
    seed_rec(40, 1, 2);
    seed_write(argv[1], "stale.bin");
    /* A torn last record: cut in its payload. */
    seed_start(0, 1, 0);
    seed_rec(100, 1, 0);
    seed_rec(100, 1, 1);
    seed_len -= 50;
    seed_write(argv[1], "torn.bin");
    /* The whole file, header included, records across 4 KiB blocks, read
     * in whole blocks. */
    seed_start(1 | 1 << 1, 1, 0);
    for (uint64_t i = 0; i < 5; i++)
        seed_rec(3000, 1, i);
    seed_write(argv[1], "whole_file_blocks.bin");
    /* A record of 64 KiB and more, read 4 KiB at a time. */
    seed_start(1 << 1, 1, 0);
    seed_rec(10, 1, 0);
    seed_rec(66000, 1, 1);
    seed_rec(10, 1, 2);
    seed_write(argv[1], "large_record.bin");
    /* Reads of 1000 bytes; a read that fails; the visitor stopping. */
    seed_start(2 << 1, 1, 999);
    for (uint64_t i = 0; i < 8; i++)
        seed_rec(700, 1, i);
    seed_write(argv[1], "short_reads.bin");
    seed_start(3 << 1, 1, 1);
    for (uint64_t i = 0; i < 8; i++)
        seed_rec(1000, 1, i);
    seed_write(argv[1], "read_fails.bin");
    seed_start(8, 1, 3);
    for (uint64_t i = 0; i < 8; i++)
        seed_rec(20, 1, i);
    seed_write(argv[1], "visit_stops.bin");
    /* Block-aligned records (zero-copy appends), their headers at every
     * 8-byte offset of a block, after copied ones that put them there. */
    seed_start(0, 1, 0);
    seed_nrec = 0;
    for (uint32_t off = 0; off < LOG_BLOCK; off += 8) {
        if (off)
            seed_rec(off >= 32 ? off - LOG_REC_HDR : off + LOG_BLOCK - LOG_REC_HDR, 1, seed_nrec++);
        seed_block(1 + off, 1, seed_nrec++);
    }
    seed_write(argv[1], "block_records.bin");
    bad |= seed_all_valid("block_records.bin", seed_nrec);
    /* Another version in a whole file's header. */
    seed_start(1, 1, 0);
    seed[4 + 8] = 2;
    seed_rec(16, 1, 0);
    seed_write(argv[1], "other_version.bin");
    return bad;
}
#endif
