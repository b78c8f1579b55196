/* SPDX-License-Identifier: MIT */
/*
 * demi-logcheck: check a storage log (<demi/storage.h>) offline, as a
 * recovery would see it: every record's header, CRC32C, sequence number
 * and epoch, through the same parser as the libOS (libos/cattree_log.c),
 * without libdemi's runtime. Reads only.
 *
 * --expect FILE says whether the records a client saw acknowledged are all
 * there, in order and byte-exact; --via-api reads the log once more through
 * demi_open(O_RDONLY) and demi_pop, and compares what the application would
 * get with what the file holds (man/demi-logcheck.1.scd).
 */
#include "libos/cattree_log.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/storage.h>
#include <demi/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses (documented in the man page). */
#define EXIT_CLEAN 0
#define EXIT_TAIL 1     /* a torn or stale tail: the prefix before it is valid */
#define EXIT_NOTLOG 2   /* not a log, unreadable, bad usage */
#define EXIT_MISMATCH 3 /* --expect or --via-api found a difference */

/* A pop through the API that takes longer than this is a hang. */
#define API_POP_TIMEOUT_S 10

static const char *prog = "demi-logcheck";

enum dump_mode { DUMP_NONE, DUMP_HEX, DUMP_RAW };

struct opts {
    const char *path;
    const char *expect;
    enum dump_mode dump;
    bool list;
    bool via_api;
};

/* The expectations of --expect, read one line at a time. */
struct expect {
    FILE *f;
    char *line;
    size_t line_cap;
    unsigned long lineno;
    bool have;       /* a pending expectation (below) */
    bool eof;        /* no more lines */
    bool has_seq;    /* the line named the record's sequence number */
    uint64_t seq;    /* that number */
    uint8_t *bytes;  /* the expected payload */
    size_t len, cap; /* its length, the buffer's size */
    uint64_t found;  /* expectations met */
    bool failed;     /* the first failure was reported */
};

/* What the scan's visitor keeps. */
struct check {
    const struct opts *o;
    struct expect *ex;
    FILE *dump; /* stdout under --dump */
    int qd;     /* --via-api: the log's queue, else -1 */
    uint64_t api_records;
    bool mismatch; /* --via-api disagreed, or a write failed */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: demi-logcheck [--list] [--dump | --dump-raw] [--expect FILE] [--via-api] LOG\n"
                 "\n"
                 "Checks every record of the storage log LOG (header, CRC32C, sequence, epoch) and\n"
                 "says what ends it: the clean end, a torn record or a stale one. Reads only.\n"
                 "\n"
                 "  --list        one line per record: sequence, position, epoch, length\n"
                 "  --dump        each record's payload on stdout as \"SEQ HEX\" (the --expect form)\n"
                 "  --dump-raw    each record's payload on stdout as a u32 little-endian length and\n"
                 "                the bytes\n"
                 "  --expect FILE every record FILE lists must be in the log, in order, byte-exact:\n"
                 "                one line per record, \"HEX\" or \"SEQ HEX\" (then the record must\n"
                 "                have that sequence number); other records may come between and\n"
                 "                after them. Empty lines and lines starting with # are skipped.\n"
                 "  --via-api     also read the log through libdemi: demi_open(O_RDONLY) and\n"
                 "                demi_pop to the end (LIBOS and CONFIG_PATH as for any program);\n"
                 "                every record must be the file's, at its position, and the\n"
                 "                end the same (--dump and --expect then see the API's records)\n"
                 "\n"
                 "Exit status: 0 a clean log; 1 a torn or stale tail (the records before it are\n"
                 "valid); 2 not a log, unreadable, or bad usage; 3 --expect or --via-api found a\n"
                 "difference.\n");
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(EXIT_CLEAN);
        } else if (strcmp(a, "--list") == 0) {
            o->list = true;
        } else if (strcmp(a, "--dump") == 0) {
            o->dump = DUMP_HEX;
        } else if (strcmp(a, "--dump-raw") == 0) {
            o->dump = DUMP_RAW;
        } else if (strcmp(a, "--via-api") == 0) {
            o->via_api = true;
        } else if (strcmp(a, "--expect") == 0 && i + 1 < argc) {
            o->expect = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unknown option or missing value: '%s'\n", prog, a);
            usage(stderr);
            exit(EXIT_NOTLOG);
        } else if (o->path == NULL) {
            o->path = a;
        } else {
            fprintf(stderr, "%s: one log at a time ('%s' and '%s')\n", prog, o->path, a);
            exit(EXIT_NOTLOG);
        }
    }
    if (o->path == NULL) {
        usage(stderr);
        exit(EXIT_NOTLOG);
    }
    if (o->list && o->dump != DUMP_NONE) {
        fprintf(stderr, "%s: --list and --dump both write to stdout: choose one\n", prog);
        exit(EXIT_NOTLOG);
    }
}

/* ---- the file ----------------------------------------------------------- */

static long file_read(void *ctx, uint64_t pos, uint8_t *buf, size_t cap)
{
    int fd = *(const int *)ctx;
    size_t got = 0;

    /* Fill the buffer: log_scan takes a short read for the end of the file. */
    while (got < cap) {
        ssize_t n = pread(fd, buf + got, cap - got, (off_t)(LOG_FILE_HDR + pos + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -(long)errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long)got;
}

/* ---- --expect ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read the next expectation into @ex. Exits on a malformed line. */
static void expect_next(struct expect *ex)
{
    ex->have = false;
    while (!ex->eof) {
        ssize_t n = getline(&ex->line, &ex->line_cap, ex->f);
        char *p, *sp;
        size_t hexlen;

        if (n < 0) {
            if (ferror(ex->f)) {
                fprintf(stderr, "%s: reading the --expect file: %s\n", prog, strerror(errno));
                exit(EXIT_NOTLOG);
            }
            ex->eof = true;
            return;
        }
        ex->lineno++;
        while (n > 0 && (ex->line[n - 1] == '\n' || ex->line[n - 1] == '\r' || ex->line[n - 1] == ' '))
            ex->line[--n] = '\0';
        p = ex->line;
        if (*p == '\0' || *p == '#')
            continue;
        ex->has_seq = false;
        sp = strchr(p, ' ');
        if (sp != NULL) {
            char *end;
            errno = 0;
            ex->seq = strtoull(p, &end, 10);
            if (end != sp || errno != 0 || *p < '0' || *p > '9')
                goto bad;
            ex->has_seq = true;
            p = sp + 1;
        }
        hexlen = strlen(p);
        if (hexlen == 0 || hexlen % 2 != 0 || hexlen / 2 > LOG_RECORD_MAX)
            goto bad;
        if (hexlen / 2 > ex->cap) {
            ex->cap = hexlen / 2;
            ex->bytes = realloc(ex->bytes, ex->cap);
            if (ex->bytes == NULL) {
                fprintf(stderr, "%s: out of memory\n", prog);
                exit(EXIT_NOTLOG);
            }
        }
        for (size_t i = 0; i < hexlen / 2; i++) {
            int hi = hexval((unsigned char)p[2 * i]), lo = hexval((unsigned char)p[2 * i + 1]);
            if (hi < 0 || lo < 0)
                goto bad;
            ex->bytes[i] = (uint8_t)(hi << 4 | lo);
        }
        ex->len = hexlen / 2;
        ex->have = true;
        return;
    bad:
        fprintf(stderr,
                "%s: --expect line %lu: not \"HEX\" or \"SEQ HEX\" (an even number of hex digits, 1 to %u bytes)\n",
                prog, ex->lineno, LOG_RECORD_MAX);
        exit(EXIT_NOTLOG);
    }
}

/* Where the payloads first differ (for the report). */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

static void expect_fail(struct expect *ex, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void expect_fail(struct expect *ex, const char *fmt, ...)
{
    va_list ap;

    if (ex->failed)
        return;
    ex->failed = true;
    fprintf(stderr, "%s: --expect line %lu", prog, ex->lineno);
    if (ex->has_seq)
        fprintf(stderr, " (seq %" PRIu64 ")", ex->seq);
    fprintf(stderr, ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* One record of the log against the pending expectation. A line with a
 * sequence number must match that record exactly; one without matches the
 * next record with its bytes (records between are allowed: written and
 * never acknowledged). */
static void expect_record(struct expect *ex, uint64_t seq, const uint8_t *payload, uint32_t len)
{
    if (ex->failed || !ex->have)
        return;
    if (ex->has_seq) {
        if (seq < ex->seq)
            return;
        if (seq > ex->seq) { /* lines out of order: the log's numbers only go up */
            expect_fail(ex, "sequence numbers in the file must go up (the log is at %" PRIu64 ")", seq);
            return;
        }
        if (len != ex->len || memcmp(payload, ex->bytes, len) != 0) {
            size_t at = first_diff(payload, ex->bytes, len < ex->len ? len : ex->len);
            expect_fail(ex,
                        "record %" PRIu64 " differs: %u bytes in the log, %zu expected, first difference at byte %zu",
                        seq, len, ex->len, at);
            return;
        }
    } else if (len != ex->len || memcmp(payload, ex->bytes, len) != 0) {
        return;
    }
    ex->found++;
    expect_next(ex);
}

/* ---- --via-api ------------------------------------------------------------- */

/* Pop the next record through the API: 0 and the sga, or an errno. */
static int api_pop(int qd, demi_sgarray_t *sga)
{
    struct timespec ts = {.tv_sec = API_POP_TIMEOUT_S, .tv_nsec = 0};
    demi_qtoken_t qt;
    demi_qresult_t qr;
    int rc = demi_pop(&qt, qd);

    if (rc != 0)
        return rc;
    rc = demi_wait(&qr, qt, &ts);
    if (rc != 0)
        return rc;
    if (qr.qr_opcode != DEMI_OPC_POP)
        return qr.qr_ret > 0 ? (int)qr.qr_ret : EIO;
    *sga = qr.qr_value.sga;
    return 0;
}

static uint32_t sga_bytes(const demi_sgarray_t *sga)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < sga->sga_numsegs; i++)
        n += sga->sga_segs[i].sgaseg_len;
    return n;
}

/* The API's record at @pos must be the file's @r. Returns false (after
 * saying why) when it is not. */
static bool api_compare(struct check *c, uint64_t pos, const struct log_rec *r)
{
    demi_sgarray_t sga;
    off_t at;
    uint32_t n;
    int rc;

    if ((rc = demi_tell(c->qd, &at)) != 0 || (uint64_t)at != pos) {
        fprintf(stderr, "%s: --via-api: demi_tell before record %" PRIu64 ": %s%lld, the file has it at %" PRIu64 "\n",
                prog, r->seq, rc ? strerror(rc) : "", rc ? 0LL : (long long)at, pos);
        return false;
    }
    if ((rc = api_pop(c->qd, &sga)) != 0) {
        fprintf(stderr, "%s: --via-api: pop of record %" PRIu64 " (position %" PRIu64 "): %s\n", prog, r->seq, pos,
                strerror(rc));
        return false;
    }
    n = sga_bytes(&sga);
    if (sga.sga_numsegs != 1 || n != r->len || memcmp(sga.sga_segs[0].sgaseg_buf, r->payload, n) != 0) {
        fprintf(stderr,
                "%s: --via-api: record %" PRIu64 " (position %" PRIu64 "): the pop returned %u bytes in %u "
                "segment(s), the file holds %u bytes%s\n",
                prog, r->seq, pos, n, sga.sga_numsegs, r->len, n == r->len ? " that differ" : "");
        demi_sgafree(&sga);
        return false;
    }
    demi_sgafree(&sga);
    c->api_records++;
    return true;
}

/* After the last valid record the API must say end of log, at the end. */
static bool api_check_end(struct check *c, uint64_t end)
{
    demi_sgarray_t sga;
    off_t at;
    int rc;

    if ((rc = demi_tell(c->qd, &at)) != 0 || (uint64_t)at != end) {
        fprintf(stderr, "%s: --via-api: demi_tell at the end: %s%lld, the file ends at %" PRIu64 "\n", prog,
                rc ? strerror(rc) : "", rc ? 0LL : (long long)at, end);
        return false;
    }
    if ((rc = api_pop(c->qd, &sga)) != 0) {
        fprintf(stderr, "%s: --via-api: pop at the end (position %" PRIu64 "): %s\n", prog, end, strerror(rc));
        return false;
    }
    if (sga_bytes(&sga) != 0) {
        fprintf(stderr,
                "%s: --via-api: the pop after the last valid record (position %" PRIu64 ") returned %u bytes, "
                "not the end of the log\n",
                prog, end, sga_bytes(&sga));
        demi_sgafree(&sga);
        return false;
    }
    demi_sgafree(&sga);
    return true;
}

/* ---- the walk ----------------------------------------------------------- */

static bool put_hex(FILE *f, uint64_t seq, const uint8_t *p, uint32_t len)
{
    static const char digits[] = "0123456789abcdef";
    char buf[4096];
    size_t k = 0;

    if (fprintf(f, "%" PRIu64 " ", seq) < 0)
        return false;
    for (uint32_t i = 0; i < len; i++) {
        buf[k++] = digits[p[i] >> 4];
        buf[k++] = digits[p[i] & 15];
        if (k == sizeof(buf)) {
            if (fwrite(buf, 1, k, f) != k)
                return false;
            k = 0;
        }
    }
    buf[k++] = '\n';
    return fwrite(buf, 1, k, f) == k;
}

static bool put_raw(FILE *f, const uint8_t *p, uint32_t len)
{
    uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    return fwrite(le, 1, 4, f) == 4 && fwrite(p, 1, len, f) == len;
}

static int visit(void *vctx, uint64_t pos, const struct log_rec *r)
{
    struct check *c = vctx;
    const struct opts *o = c->o;

    /* Under --via-api the API's bytes are the ones checked further; they
     * equal the file's once api_compare passes. */
    if (c->qd >= 0 && !api_compare(c, pos, r)) {
        c->mismatch = true;
        return 1; /* stop: the API and the file disagree from here */
    }
    if (o->list)
        printf("%" PRIu64 " %" PRIu64 " %u %u\n", r->seq, pos, r->epoch, r->len);
    if (o->dump == DUMP_HEX && !put_hex(c->dump, r->seq, r->payload, r->len))
        c->mismatch = true;
    if (o->dump == DUMP_RAW && !put_raw(c->dump, r->payload, r->len))
        c->mismatch = true;
    if (c->ex != NULL)
        expect_record(c->ex, r->seq, r->payload, r->len);
    return 0;
}

/* Say what lies at the end of the valid records (@sc->end), in a few words:
 * the record found there again (into @buf, the scan's), and why it is not
 * valid. */
static void describe_tail(int fd, const struct log_scan *sc, uint32_t max_epoch, uint8_t *buf, size_t cap, FILE *out)
{
    struct log_rec r;
    uint32_t magic, word;
    long n = file_read(&fd, sc->end, buf, cap);
    enum log_verdict v;

    if (n < (long)LOG_REC_HDR) {
        fprintf(out, "the file ends %ld byte(s) into a record header\n", n < 0 ? 0 : n);
        return;
    }
    memcpy(&magic, buf, 4);
    memcpy(&word, buf + 4, 4);
    if (magic != LOG_REC_MAGIC) {
        fprintf(out, "no record header (magic 0x%08x)\n", magic);
        return;
    }
    v = log_record_check(buf, (size_t)n, sc->next_seq, sc->last_epoch, max_epoch, &r);
    fprintf(out, "seq %" PRIu64 ", epoch %u, length word 0x%08x: ", r.seq, r.epoch, word);
    if (v == LOG_REC_SHORT)
        fprintf(out, "cut by the end of the file (%ld of %" PRIu64 " bytes)\n", n, r.framed);
    else if (v == LOG_REC_TORN && r.framed == 0)
        fprintf(out, "a length no record has\n");
    else if (v == LOG_REC_TORN)
        fprintf(out, "its CRC32C does not match its bytes\n");
    else if (v == LOG_REC_STALE)
        fprintf(out, "whole, but seq %" PRIu64 " and epoch %u..%u were expected (left by an earlier epoch)\n",
                sc->next_seq, sc->last_epoch, max_epoch);
    else
        fprintf(out, "%s when read again (the file changed while it was checked?)\n", log_verdict_name(v));
}

int main(int argc, char **argv)
{
    struct opts o;
    struct check c;
    struct expect ex;
    struct log_file_hdr fh;
    struct log_scan sc;
    struct stat st;
    uint8_t *buf;
    uint8_t head[LOG_FILE_HDR];
    FILE *info;
    long n;
    int fd, rc, status;

    parse_opts(argc, argv, &o);
    /* The summary goes to stderr when stdout carries the records. */
    info = o.dump != DUMP_NONE || o.list ? stderr : stdout;

    fd = open(o.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.path, strerror(errno));
        return EXIT_NOTLOG;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: %s: not a regular file\n", prog, o.path);
        return EXIT_NOTLOG;
    }
    n = pread(fd, head, sizeof(head), 0);
    if (n < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, o.path, strerror(errno));
        return EXIT_NOTLOG;
    }
    rc = log_file_hdr_decode(head, (size_t)n, &fh);
    if (rc == ENOTSUP) {
        uint32_t v;
        memcpy(&v, head + 8, 4);
        fprintf(stderr, "%s: %s: a libdemi log of version %u (or with flags) that this tool does not read\n", prog,
                o.path, v);
        return EXIT_NOTLOG;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s: not a libdemi log (%s)\n", prog, o.path,
                (size_t)n < LOG_FILE_HDR ? "shorter than the 4 KiB file header" : "no valid file header");
        return EXIT_NOTLOG;
    }

    memset(&c, 0, sizeof(c));
    memset(&ex, 0, sizeof(ex));
    c.o = &o;
    c.qd = -1;
    c.dump = stdout;
    if (o.expect != NULL) {
        ex.f = fopen(o.expect, "r");
        if (ex.f == NULL) {
            fprintf(stderr, "%s: %s: %s\n", prog, o.expect, strerror(errno));
            return EXIT_NOTLOG;
        }
        expect_next(&ex);
        c.ex = &ex;
    }
    if (o.via_api) {
        struct demi_args args = {.argc = argc, .argv = argv, .callback = NULL};

        if ((rc = demi_init(&args)) != 0) {
            fprintf(stderr, "%s: --via-api: demi_init: %s\n", prog, strerror(rc));
            return EXIT_NOTLOG;
        }
        if ((rc = demi_open(&c.qd, o.path, O_RDONLY)) != 0) {
            fprintf(stderr, "%s: --via-api: demi_open(%s, O_RDONLY): %s\n", prog, o.path, strerror(rc));
            return rc == EILSEQ ? EXIT_MISMATCH : EXIT_NOTLOG; /* the file header read fine above */
        }
    }

    buf = aligned_alloc(4096, (LOG_SCAN_BUF + 4095u) & ~4095u);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_NOTLOG;
    }
    rc = log_scan(file_read, &fd, buf, (LOG_SCAN_BUF + 4095u) & ~4095u, fh.epoch, visit, &c, &sc);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: reading the records: %s\n", prog, o.path, strerror(rc));
        return EXIT_NOTLOG;
    }
    if (c.qd >= 0 && !c.mismatch && !api_check_end(&c, sc.end))
        c.mismatch = true;
    if (o.dump != DUMP_NONE && fflush(stdout) != 0) {
        fprintf(stderr, "%s: writing the records: %s\n", prog, strerror(errno));
        c.mismatch = true;
    }

    fprintf(info,
            "%s: epoch %u, %" PRIu64 " records, %" PRIu64 " payload bytes, end at position %" PRIu64 " (byte %" PRIu64
            " of %lld)\n",
            o.path, fh.epoch, sc.records, sc.payload, sc.end, LOG_FILE_HDR + sc.end, (long long)st.st_size);
    status = EXIT_CLEAN;
    if (c.mismatch && c.qd >= 0) {
        fprintf(info, "%s: the scan stopped where the API disagreed (record %" PRIu64 ")\n", o.path, c.api_records);
    } else if (sc.why == LOG_REC_END) {
        fprintf(info, "%s: clean end\n", o.path);
    } else {
        fprintf(info, "%s: %s record at position %" PRIu64 ": ", o.path, log_verdict_name(sc.why), sc.end);
        describe_tail(fd, &sc, fh.epoch, buf, (LOG_SCAN_BUF + 4095u) & ~4095u, info);
        status = EXIT_TAIL;
    }
    if (c.qd >= 0 && !c.mismatch)
        fprintf(info, "%s: --via-api: %" PRIu64 " records popped, each the file's, then the end of the log\n", o.path,
                c.api_records);
    if (c.ex != NULL) {
        if (ex.have && !ex.failed) {
            if (ex.has_seq && ex.seq >= sc.next_seq)
                expect_fail(&ex, "record %" PRIu64 " missing: the log ends before it (%" PRIu64 " records)", ex.seq,
                            sc.records);
            else if (ex.has_seq)
                expect_fail(&ex, "out of order: sequence numbers in the file must go up");
            else
                expect_fail(&ex, "missing: no record after the %" PRIu64 " found holds its %zu bytes", ex.found,
                            ex.len);
        }
        if (ex.failed)
            fprintf(info, "%s: --expect %s: %" PRIu64 " expected records found, then one missing or different\n",
                    o.path, o.expect, ex.found);
        else
            fprintf(info, "%s: --expect %s: all %" PRIu64 " expected records found, in order, byte-exact\n", o.path,
                    o.expect, ex.found);
        fclose(ex.f);
    }
    if (c.qd >= 0)
        demi_close(c.qd);
    free(ex.line);
    free(ex.bytes);
    free(buf);
    close(fd);
    if (c.mismatch || ex.failed)
        return EXIT_MISMATCH;
    return status;
}
