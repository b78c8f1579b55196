/* SPDX-License-Identifier: MIT */
/*
 * test_tcp_options.c: TCP option parsing and writing (tcp_options.c), the
 * SipHash-2-4 PRF (siphash.c) and RFC 6528 initial sequence numbers
 * (tcp_isn.c).
 *
 * The parser reads bytes a peer chose, so every parse here runs on an
 * exact-size heap copy of its input: under ASan a read one byte past the
 * options is an error, not a silent pass.
 */
#include "core/clock.h"
#include "mem/dbuf.h"
#include "net/siphash.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------ */

/* Parse @n bytes from an exact-size heap copy (overreads are caught). */
static bool parse(const uint8_t *bytes, size_t n, bool syn, struct tcp_opts *o)
{
    uint8_t *b = malloc(n);
    bool ok;

    if (n > 0) {
        assert_non_null(b);
        memcpy(b, bytes, n);
    }
    ok = tcp_opts_parse(b, (uint32_t)n, syn, o);
    free(b);
    return ok;
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define PARSE(syn, o, ...) parse(BYTES(__VA_ARGS__), sizeof(BYTES(__VA_ARGS__)), (syn), (o))

static void assert_absent(const struct tcp_opts *o)
{
    assert_int_equal(o->mss, 0);
    assert_int_equal(o->wscale, -1);
    assert_false(o->sack_ok);
    assert_false(o->ts_present);
    assert_int_equal(o->nsack, 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    uint32_t be = htonl(v);
    memcpy(p, &be, sizeof(be));
}

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_empty(void **state)
{
    struct tcp_opts o;

    (void)state;
    memset(&o, 0xa5, sizeof(o)); /* everything reset to "absent" */
    assert_true(tcp_opts_parse(NULL, 0, true, &o));
    assert_absent(&o);
    memset(&o, 0xa5, sizeof(o));
    assert_true(parse(NULL, 0, false, &o));
    assert_absent(&o);
}

static void test_parse_mss(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4));
    assert_int_equal(o.mss, 1460);
    assert_true(PARSE(true, &o, 2, 4, 0xff, 0xff));
    assert_int_equal(o.mss, 65535);
    /* Only on a SYN. */
    assert_true(PARSE(false, &o, 2, 4, 0x05, 0xb4));
    assert_absent(&o);
}

static void test_parse_wscale(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 1, 3, 3, 7));
    assert_int_equal(o.wscale, 7);
    assert_true(PARSE(true, &o, 1, 3, 3, 0));
    assert_int_equal(o.wscale, 0);
    assert_true(PARSE(true, &o, 1, 3, 3, 14));
    assert_int_equal(o.wscale, 14);
    /* RFC 7323 2.3: above 14, use 14. */
    assert_true(PARSE(true, &o, 1, 3, 3, 15));
    assert_int_equal(o.wscale, 14);
    assert_true(PARSE(true, &o, 1, 3, 3, 255));
    assert_int_equal(o.wscale, 14);
    assert_true(PARSE(false, &o, 1, 3, 3, 7));
    assert_absent(&o);
}

static void test_parse_sack_ok(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 1, 1, 4, 2));
    assert_true(o.sack_ok);
    assert_true(PARSE(false, &o, 1, 1, 4, 2));
    assert_absent(&o);
}

static void test_parse_timestamps(void **state)
{
    struct tcp_opts o;

    (void)state;
    for (int syn = 0; syn <= 1; syn++) {
        assert_true(PARSE(syn, &o, 1, 1, 8, 10, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0));
        assert_true(o.ts_present);
        assert_int_equal(o.tsval, 0x01020304u);
        assert_int_equal(o.tsecr, 0xa0b0c0d0u);
        assert_int_equal(o.mss, 0);
        assert_int_equal(o.wscale, -1);
    }
}

/* What Linux sends on a SYN. */
static void test_parse_linux_syn(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7));
    assert_int_equal(o.mss, 1460);
    assert_true(o.sack_ok);
    assert_true(o.ts_present);
    assert_int_equal(o.tsval, 0x1234);
    assert_int_equal(o.tsecr, 0);
    assert_int_equal(o.wscale, 7);
    assert_int_equal(o.nsack, 0);

    /* The same on a non-SYN: only the timestamps count. */
    assert_true(PARSE(false, &o, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7));
    assert_int_equal(o.mss, 0);
    assert_false(o.sack_ok);
    assert_int_equal(o.wscale, -1);
    assert_true(o.ts_present);
    assert_int_equal(o.tsval, 0x1234);
}

static void test_parse_sack_blocks(void **state)
{
    struct tcp_opts o;
    /* 36 bytes used; 8 more because GCC 12 at -O3 believes the fill loop
     * may run a fifth time (a -Wstringop-overflow false positive). */
    uint8_t b[44];

    (void)state;
    for (unsigned n = 1; n <= 4; n++) {
        size_t len = 2 + 2 + 8 * n;

        b[0] = 1;
        b[1] = 1;
        b[2] = 5;
        b[3] = (uint8_t)(2 + 8 * n);
        for (unsigned i = 0; i < n; i++) {
            put32(b + 4 + 8 * i, 0x10000000u * (i + 1) + 0x0102);
            put32(b + 8 + 8 * i, 0x10000000u * (i + 1) + 0x0a0b0c);
        }
        assert_true(parse(b, len, false, &o));
        assert_int_equal(o.nsack, n);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(o.sack[i][0], 0x10000000u * (i + 1) + 0x0102);
            assert_int_equal(o.sack[i][1], 0x10000000u * (i + 1) + 0x0a0b0c);
        }
        /* A SYN acknowledges no data: its SACK blocks are ignored. */
        assert_true(parse(b, len, true, &o));
        assert_int_equal(o.nsack, 0);
    }
    /* 3 blocks after timestamps: 40 bytes, the most a header carries. */
    {
        const uint8_t *p = BYTES(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 26, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0,
                                 30, 0, 0, 0, 40, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 5);
        assert_true(parse(p, 40, false, &o));
        assert_true(o.ts_present);
        assert_int_equal(o.nsack, 3);
        assert_int_equal(o.sack[0][0], 10);
        assert_int_equal(o.sack[0][1], 20);
        assert_int_equal(o.sack[1][0], 30);
        assert_int_equal(o.sack[1][1], 40);
        assert_int_equal(o.sack[2][0], 0xfffffff0u);
        assert_int_equal(o.sack[2][1], 5);
    }
}

/* A SACK option whose length is not 2 + 8n, n in 1..4, is skipped; what
 * follows it still counts. */
static void test_parse_sack_bad_len(void **state)
{
    static const uint8_t bad[] = {2, 3, 9, 11, 17, 25, 33};
    struct tcp_opts o;
    uint8_t b[48];

    (void)state;
    for (size_t k = 0; k < sizeof(bad); k++) {
        size_t n = 0;

        memset(b, 0x77, sizeof(b));
        b[n++] = 5;
        b[n++] = bad[k];
        n = bad[k];
        b[n++] = 8;
        b[n++] = 10;
        put32(b + n, 99);
        put32(b + n + 4, 98);
        n += 8;
        assert_true(parse(b, n, false, &o));
        assert_int_equal(o.nsack, 0);
        assert_true(o.ts_present);
        assert_int_equal(o.tsval, 99);
        assert_int_equal(o.tsecr, 98);
    }
    /* Five blocks (42 bytes): more than a header holds, refused as such. */
    memset(b, 0, sizeof(b));
    b[0] = 5;
    b[1] = 42;
    assert_true(parse(b, 42, false, &o));
    assert_int_equal(o.nsack, 0);
}

static void test_parse_nop_eol(void **state)
{
    struct tcp_opts o;
    uint8_t nops[40];

    (void)state;
    /* EOL ends the list: what follows is not read as options. */
    assert_true(PARSE(true, &o, 0, 2, 4, 0x05, 0xb4));
    assert_absent(&o);
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 0, 3, 3, 7));
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, -1);
    /* Garbage after EOL (a zero length, an overrun) does not matter. */
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 0, 0, 2, 0xff));
    assert_int_equal(o.mss, 1460);
    assert_true(PARSE(true, &o, 0, 0, 0, 0));
    assert_absent(&o);
    /* NOPs are skipped, in any number. */
    assert_true(PARSE(true, &o, 1, 1, 1, 2, 4, 0x05, 0xb4, 1, 1, 1, 1, 3, 3, 9));
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, 9);
    memset(nops, 1, sizeof(nops));
    assert_true(parse(nops, sizeof(nops), true, &o));
    assert_absent(&o);
    /* A lone NOP and a lone EOL. */
    assert_true(PARSE(true, &o, 1));
    assert_absent(&o);
    assert_true(PARSE(true, &o, 0));
    assert_absent(&o);
}

/* A known kind with the wrong length is skipped by its length. */
static void test_parse_wrong_fixed_len(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 2, 3, 0x05, 3, 3, 5));
    assert_int_equal(o.mss, 0);
    assert_int_equal(o.wscale, 5);
    assert_true(PARSE(true, &o, 2, 5, 0x05, 0xb4, 0, 3, 3, 5));
    assert_int_equal(o.mss, 0);
    assert_int_equal(o.wscale, 5);
    assert_true(PARSE(true, &o, 3, 4, 7, 0, 2, 4, 0x05, 0xb4));
    assert_int_equal(o.wscale, -1);
    assert_int_equal(o.mss, 1460);
    assert_true(PARSE(true, &o, 3, 2, 2, 4, 0x05, 0xb4));
    assert_int_equal(o.wscale, -1);
    assert_int_equal(o.mss, 1460);
    assert_true(PARSE(true, &o, 4, 3, 0, 2, 4, 0x05, 0xb4));
    assert_false(o.sack_ok);
    assert_int_equal(o.mss, 1460);
    assert_true(PARSE(false, &o, 8, 9, 1, 2, 3, 4, 5, 6, 7, 3, 3, 7));
    assert_false(o.ts_present);
    assert_true(PARSE(false, &o, 8, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2));
    assert_true(o.ts_present);
    assert_int_equal(o.tsval, 1);
    assert_int_equal(o.tsecr, 2);
}

static void test_parse_unknown_kinds(void **state)
{
    struct tcp_opts o;

    (void)state;
    /* TCP-MD5 (19, 18 bytes), TFO (34), experimental (254), an unassigned kind. */
    assert_true(PARSE(true, &o, 19, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 34, 2, 254, 4, 0xf9,
                      0x89, 99, 3, 0, 2, 4, 0x05, 0xb4));
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, -1);
    assert_false(o.sack_ok);
}

/* A repeated option: the last well-formed one wins. */
static void test_parse_repeated(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18, 3, 3, 2, 3, 3, 4));
    assert_int_equal(o.mss, 536);
    assert_int_equal(o.wscale, 4);
    assert_true(PARSE(false, &o, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 18, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8));
    assert_int_equal(o.nsack, 2);
    assert_int_equal(o.sack[0][0], 5);
    assert_int_equal(o.sack[1][1], 8);
}

/* A length below 2 cannot be skipped: parsing stops, keeps what it has and
 * reports success. */
static void test_parse_zero_length(void **state)
{
    struct tcp_opts o;

    (void)state;
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 9, 0, 3, 3, 7));
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, -1);
    assert_true(PARSE(true, &o, 2, 4, 0x05, 0xb4, 9, 1, 3, 3, 7));
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, -1);
    /* Known kinds too. */
    assert_true(PARSE(true, &o, 2, 0, 0x05, 0xb4));
    assert_absent(&o);
    assert_true(PARSE(true, &o, 8, 1, 3, 3, 7));
    assert_absent(&o);
    assert_true(PARSE(false, &o, 5, 0));
    assert_absent(&o);
}

/* A length that runs past the options: false, with what came before kept. */
static void test_parse_overrun(void **state)
{
    struct tcp_opts o;
    uint8_t b[40];

    (void)state;
    /* The kind is the last byte: no length byte. */
    assert_false(PARSE(true, &o, 2));
    assert_absent(&o);
    assert_false(PARSE(true, &o, 1, 1, 3));
    assert_absent(&o);
    assert_false(PARSE(true, &o, 2, 4, 0x05, 0xb4, 99));
    assert_int_equal(o.mss, 1460);
    /* Length larger than what is left. */
    assert_false(PARSE(true, &o, 2, 4, 0x05));
    assert_absent(&o);
    assert_false(PARSE(true, &o, 3, 3));
    assert_absent(&o);
    assert_false(PARSE(false, &o, 8, 10, 0, 0, 0, 1, 0, 0, 0));
    assert_absent(&o);
    assert_false(PARSE(false, &o, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0));
    assert_absent(&o);
    assert_false(PARSE(false, &o, 5, 10, 0, 0, 0, 1, 0, 0, 0));
    assert_absent(&o);
    assert_false(PARSE(true, &o, 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0, 2, 4, 0x05));
    assert_true(o.ts_present); /* parsed before the overrun, and kept */
    assert_int_equal(o.tsval, 7);
    assert_int_equal(o.mss, 0);
    /* Length 255 in a full 40-byte header. */
    memset(b, 1, sizeof(b));
    b[38] = 30;
    b[39] = 255;
    assert_false(parse(b, sizeof(b), true, &o));
    b[0] = 30;
    b[1] = 255;
    assert_false(parse(b, sizeof(b), true, &o));
    /* One byte short for every known kind. */
    {
        static const uint8_t kinds[][2] = {{2, 4}, {3, 3}, {4, 2}, {5, 10}, {5, 34}, {8, 10}};
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            memset(b, 0, sizeof(b));
            b[0] = kinds[k][0];
            b[1] = kinds[k][1];
            assert_true(parse(b, kinds[k][1], true, &o));
            assert_true(parse(b, kinds[k][1], false, &o));
            assert_false(parse(b, kinds[k][1] - 1u, true, &o));
            assert_false(parse(b, kinds[k][1] - 1u, false, &o));
        }
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    /* xorshift64*: reproducible, no libc state. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Random option lists biased towards the known kinds and edge lengths: the
 * parser never reads past its input (ASan) and its output stays in range. */
static void test_parse_random(void **state)
{
    static const uint8_t kinds[] = {0, 1, 1, 2, 3, 4, 5, 5, 8, 8, 19, 254};
    static const uint8_t lens[] = {0, 1, 2, 3, 4, 9, 10, 11, 18, 26, 34, 42, 255};
    uint8_t b[64];

    (void)state;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = rng() % 61;
        struct tcp_opts o;
        bool syn = rng() & 1;

        for (size_t i = 0; i < n; i++) {
            switch (rng() % 3) {
            case 0:
                b[i] = kinds[rng() % sizeof(kinds)];
                break;
            case 1:
                b[i] = lens[rng() % sizeof(lens)];
                break;
            default:
                b[i] = (uint8_t)rng();
            }
        }
        (void)parse(b, n, syn, &o);
        assert_true(o.wscale >= -1 && o.wscale <= 14);
        assert_true(o.nsack <= 4);
        if (syn) {
            assert_int_equal(o.nsack, 0);
        } else {
            assert_int_equal(o.mss, 0);
            assert_int_equal(o.wscale, -1);
            assert_false(o.sack_ok);
        }
    }
}

/* ---- writing ------------------------------------------------------------ */

struct wfix {
    struct inet_stack *s;
    struct tcp_pcb *pcb;
    struct mem m;
    struct dbuf *ooo[8];
    int nooo;
};

static int wfix_setup(void **state)
{
    struct wfix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->s = calloc(1, sizeof(*f->s));
    f->pcb = calloc(1, sizeof(*f->pcb));
    assert_non_null(f->s);
    assert_non_null(f->pcb);
    f->s->mtu = 1500;
    tcp_params_default(&f->s->tcp.params);
    f->s->tcp.params.mss = 65535; /* the MTU decides (test_write_mss_clamped: the key) */
    f->pcb->stack = f->s;
    f->pcb->rcv_wscale = 7;
    f->pcb->ts_recent = 0x11223344;
    assert_int_equal(mem_init(&f->m, 64, 0, 0), 0);
    *state = f;
    return 0;
}

static void wfix_clear_ooo(struct wfix *f)
{
    for (int i = 0; i < f->nooo; i++)
        dbuf_put(f->ooo[i]);
    f->nooo = 0;
    f->pcb->ooo_head = NULL;
}

static int wfix_teardown(void **state)
{
    struct wfix *f = *state;

    wfix_clear_ooo(f);
    assert_int_equal(mem_in_use(&f->m), 0);
    mem_fini(&f->m);
    free(f->pcb);
    free(f->s);
    free(f);
    return 0;
}

/* Replace the out-of-order queue with buffers covering [seq[i], seq[i] + len[i]). */
static void set_ooo(struct wfix *f, const uint32_t *seq, const uint32_t *len, int n)
{
    struct dbuf *prev = NULL;

    wfix_clear_ooo(f);
    assert_true(n <= (int)(sizeof(f->ooo) / sizeof(f->ooo[0])));
    for (int i = 0; i < n; i++) {
        struct dbuf *d = mem_alloc(&f->m, 1);
        assert_non_null(d);
        assert_true(len[i] <= MEM_SMALL_SIZE);
        d->meta32 = seq[i];
        d->len = len[i];
        d->next = NULL;
        if (prev)
            prev->next = d;
        else
            f->pcb->ooo_head = d;
        prev = d;
        f->ooo[f->nooo++] = d;
    }
}

#define NOW_NS 123456789012ull /* tcp_ts_now: 123456 */

/* Write into an exact TCP_MAX_OPTLEN heap buffer (ASan catches an overrun),
 * check the length rules, and copy the bytes out. */
static uint32_t write_opts(struct tcp_pcb *pcb, uint8_t out[TCP_MAX_OPTLEN], uint8_t flags)
{
    uint8_t *b = malloc(TCP_MAX_OPTLEN);
    uint32_t len;

    assert_non_null(b);
    memset(b, 0xee, TCP_MAX_OPTLEN);
    len = tcp_opts_write(pcb, b, flags, NOW_NS);
    assert_true(len <= TCP_MAX_OPTLEN);
    assert_int_equal(len % 4, 0);
    for (uint32_t i = len; i < TCP_MAX_OPTLEN; i++)
        assert_int_equal(b[i], 0xee); /* nothing written past the length */
    memcpy(out, b, TCP_MAX_OPTLEN);
    free(b);
    return len;
}

static void test_write_syn_combos(void **state)
{
    struct wfix *f = *state;
    struct tcp_pcb *pcb = f->pcb;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;

    for (int mask = 0; mask < 8; mask++) {
        for (int ack = 0; ack <= 1; ack++) {
            bool ws = mask & 1, ts = mask & 2, sack = mask & 4;
            uint32_t len, want;

            pcb->ws_ok = ws;
            pcb->ts_ok = ts;
            pcb->sack_ok = sack;
            len = write_opts(pcb, b, (uint8_t)(TH_SYN | (ack ? TH_ACK : 0)));
            want = 4 + (ts ? 12 : sack ? 4 : 0) + (ws ? 4 : 0);
            assert_int_equal(len, want);

            assert_true(parse(b, len, true, &o));
            assert_int_equal(o.mss, 1460);
            assert_int_equal(o.wscale, ws ? 7 : -1);
            assert_int_equal(o.sack_ok, sack);
            assert_int_equal(o.ts_present, ts);
            if (ts) {
                assert_int_equal(o.tsval, tcp_ts_now(NOW_NS));
                /* TSecr only with ACK (RFC 7323 3.2): 0 on an initial SYN. */
                assert_int_equal(o.tsecr, ack ? 0x11223344u : 0);
            }
            assert_int_equal(o.nsack, 0);
        }
    }

    /* The exact layout with everything on, as Linux sends it. */
    pcb->ws_ok = pcb->ts_ok = pcb->sack_ok = true;
    assert_int_equal(write_opts(pcb, b, TH_SYN), 20);
    assert_memory_equal(b, BYTES(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 1, 0xe2, 0x40, 0, 0, 0, 0, 1, 3, 3, 7), 20);
}

/* A SYN carries no SACK blocks, even with out-of-order data queued. */
static void test_write_syn_no_sack_blocks(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;
    uint32_t len;

    f->pcb->sack_ok = true;
    f->pcb->rcv_nxt = 1000;
    set_ooo(f, (const uint32_t[]){2000}, (const uint32_t[]){100}, 1);
    len = write_opts(f->pcb, b, TH_SYN | TH_ACK);
    assert_int_equal(len, 8);
    assert_true(parse(b, len, false, &o));
    assert_int_equal(o.nsack, 0);
}

static void test_write_mss_from_mtu(void **state)
{
    static const uint32_t mtu[] = {1500, 9000, 576, 68, 70000, 0};
    static const uint16_t mss[] = {1460, 8960, 536, 28, 65535, 536};
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;

    for (size_t i = 0; i < sizeof(mtu) / sizeof(mtu[0]); i++) {
        f->s->mtu = mtu[i];
        assert_int_equal(write_opts(f->pcb, b, TH_SYN), 4);
        assert_true(parse(b, 4, true, &o));
        assert_int_equal(o.mss, mss[i]);
    }
}

/* inetstack_config.mss bounds what we advertise below what the MTU allows
 * (Demikernel's advertised MSS), and the MSS we send with (tcp_mss_set). */
static void test_write_mss_clamped(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;

    f->s->mtu = 9000;
    f->s->tcp.params.mss = 1460;
    assert_int_equal(write_opts(f->pcb, b, TH_SYN), 4);
    assert_true(parse(b, 4, true, &o));
    assert_int_equal(o.mss, 1460);
    tcp_mss_set(f->pcb, 8960);
    assert_int_equal(f->pcb->mss, 1460);
    assert_int_equal(f->pcb->peer_mss, 8960);
    f->pcb->ts_ok = true;
    tcp_mss_set(f->pcb, 1000);
    assert_int_equal(f->pcb->mss, 1000 - TCP_TS_OPTLEN);
    tcp_mss_set(f->pcb, 0); /* none given: RFC 9293 3.7.1's 536 */
    assert_int_equal(f->pcb->peer_mss, TCP_DEFAULT_MSS);
    tcp_mss_set(f->pcb, 1);
    assert_int_equal(f->pcb->mss, TCP_MIN_MSS);
    f->pcb->ts_ok = false;
}

static void test_write_wscale_clamped(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;

    f->pcb->ws_ok = true;
    f->pcb->rcv_wscale = 20;
    assert_int_equal(write_opts(f->pcb, b, TH_SYN), 8);
    assert_true(parse(b, 8, true, &o));
    assert_int_equal(o.wscale, 14);
}

static void test_write_data_none(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];

    assert_int_equal(write_opts(f->pcb, b, TH_ACK), 0);
    /* SACK agreed but nothing out of order. */
    f->pcb->sack_ok = true;
    assert_int_equal(write_opts(f->pcb, b, TH_ACK | TH_PSH), 0);
    /* Out-of-order data but SACK not agreed. */
    f->pcb->sack_ok = false;
    f->pcb->rcv_nxt = 1;
    set_ooo(f, (const uint32_t[]){100}, (const uint32_t[]){10}, 1);
    assert_int_equal(write_opts(f->pcb, b, TH_ACK), 0);
}

static void test_write_data_timestamps(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];

    f->pcb->ts_ok = true;
    assert_int_equal(write_opts(f->pcb, b, TH_ACK), 12);
    assert_memory_equal(b, BYTES(1, 1, 8, 10, 0, 1, 0xe2, 0x40, 0x11, 0x22, 0x33, 0x44), 12);
    /* A RST without ACK: TSecr 0. */
    assert_int_equal(write_opts(f->pcb, b, TH_RST), 12);
    assert_memory_equal(b, BYTES(1, 1, 8, 10, 0, 1, 0xe2, 0x40, 0, 0, 0, 0), 12);
}

/* 0..5 disjoint out-of-order ranges, with and without timestamps: the lowest
 * 4 (3 next to timestamps) are reported, ascending. */
static void test_write_data_sack_ranges(void **state)
{
    struct wfix *f = *state;
    struct tcp_pcb *pcb = f->pcb;
    uint8_t b[TCP_MAX_OPTLEN];
    uint32_t seq[6], len[6];
    struct tcp_opts o;

    pcb->sack_ok = true;
    pcb->rcv_nxt = 100000;
    for (int i = 0; i < 6; i++) {
        seq[i] = 100000 + 1000 * (uint32_t)(i + 1);
        len[i] = 500 + (uint32_t)i;
    }
    for (int ts = 0; ts <= 1; ts++) {
        for (int n = 0; n <= 6; n++) {
            int max = ts ? 3 : 4, want = n < max ? n : max;
            uint32_t wlen = (ts ? 12u : 0u) + (want ? 4u + 8u * (uint32_t)want : 0u), l;

            pcb->ts_ok = ts;
            set_ooo(f, seq, len, n);
            l = write_opts(pcb, b, TH_ACK);
            assert_int_equal(l, wlen);
            assert_true(parse(b, l, false, &o));
            assert_int_equal(o.ts_present, ts);
            assert_int_equal(o.nsack, want);
            for (int i = 0; i < want; i++) {
                assert_int_equal(o.sack[i][0], seq[i]);
                assert_int_equal(o.sack[i][1], seq[i] + len[i]);
            }
            /* No SACK blocks on a RST. */
            l = write_opts(pcb, b, TH_RST | TH_ACK);
            assert_int_equal(l, ts ? 12 : 0);
        }
    }
}

/* Adjacent, overlapping and contained buffers merge into one block; empty
 * buffers are skipped. */
static void test_write_sack_merge(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;
    uint32_t l;
    static const uint32_t seq[] = {1000, 1100, 1500, 1550, 1700, 1720, 1800, 1900, 2000};
    static const uint32_t len[] = {100, 100, 100, 100, 100, 30, 0, 100, 50};

    f->pcb->sack_ok = true;
    f->pcb->rcv_nxt = 500;
    set_ooo(f, seq, len, 8); /* the last one does not fit in f->ooo */
    l = write_opts(f->pcb, b, TH_ACK);
    assert_int_equal(l, 4 + 8 * 4);
    assert_true(parse(b, l, false, &o));
    assert_int_equal(o.nsack, 4);
    assert_int_equal(o.sack[0][0], 1000);
    assert_int_equal(o.sack[0][1], 1200);
    assert_int_equal(o.sack[1][0], 1500);
    assert_int_equal(o.sack[1][1], 1650);
    assert_int_equal(o.sack[2][0], 1700);
    assert_int_equal(o.sack[2][1], 1800);
    assert_int_equal(o.sack[3][0], 1900);
    assert_int_equal(o.sack[3][1], 2000);

    /* Five buffers making one range (a chain of adjacent segments). */
    set_ooo(f, (const uint32_t[]){600, 700, 800, 900, 1000}, (const uint32_t[]){100, 100, 100, 100, 100}, 5);
    l = write_opts(f->pcb, b, TH_ACK);
    assert_int_equal(l, 12);
    assert_true(parse(b, l, false, &o));
    assert_int_equal(o.nsack, 1);
    assert_int_equal(o.sack[0][0], 600);
    assert_int_equal(o.sack[0][1], 1100);
}

/* Sequence numbers wrap: ranges across 2^32 merge and stay in order. */
static void test_write_sack_wrap(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;
    uint32_t l;

    f->pcb->sack_ok = true;
    f->pcb->ts_ok = true;
    f->pcb->rcv_nxt = 0xfffff000u;
    set_ooo(f, (const uint32_t[]){0xffffff00u, 0x00000000u, 0x00000200u}, (const uint32_t[]){0x100, 0x80, 0x100}, 3);
    l = write_opts(f->pcb, b, TH_ACK);
    assert_int_equal(l, 12 + 4 + 16);
    assert_true(parse(b, l, false, &o));
    assert_int_equal(o.nsack, 2);
    assert_int_equal(o.sack[0][0], 0xffffff00u);
    assert_int_equal(o.sack[0][1], 0x80);
    assert_int_equal(o.sack[1][0], 0x200);
    assert_int_equal(o.sack[1][1], 0x300);
}

/* Blocks never reach below rcv_nxt: a buffer entirely below is left out, one
 * across it is cut. */
static void test_write_sack_below_rcv_nxt(void **state)
{
    struct wfix *f = *state;
    uint8_t b[TCP_MAX_OPTLEN];
    struct tcp_opts o;
    uint32_t l;

    f->pcb->sack_ok = true;
    f->pcb->rcv_nxt = 5000;
    set_ooo(f, (const uint32_t[]){4000, 4800, 6000}, (const uint32_t[]){500, 400, 100}, 3);
    l = write_opts(f->pcb, b, TH_ACK);
    assert_true(parse(b, l, false, &o));
    assert_int_equal(o.nsack, 2);
    assert_int_equal(o.sack[0][0], 5000);
    assert_int_equal(o.sack[0][1], 5200);
    assert_int_equal(o.sack[1][0], 6000);
    assert_int_equal(o.sack[1][1], 6100);

    /* All of it below: no SACK option at all. */
    set_ooo(f, (const uint32_t[]){4000}, (const uint32_t[]){1000}, 1);
    assert_int_equal(write_opts(f->pcb, b, TH_ACK), 0);
}

/* ---- SipHash-2-4 -------------------------------------------------------- */

/* The reference vectors of the SipHash paper (Appendix A) and its reference
 * code: key 00..0f, message 00..(n-1) for n = 0..63. */
static const uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull, 0xcf2794e0277187b7ull,
    0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull, 0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull,
    0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull, 0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull,
    0xa129ca6149be45e5ull, 0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
    0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull, 0xb8ad50c6f649af94ull,
    0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull, 0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull,
    0xad87a3535c49ef28ull, 0x32d892fad841c342ull, 0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull,
    0x15e034d40fa197aeull, 0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
    0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull, 0xf935451de4f21df2ull,
    0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull, 0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull,
    0xee64435a9752fe72ull, 0xa192d576b245165aull, 0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull,
    0x245731c13ca42499ull, 0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
    0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

static void test_siphash_reference(void **state)
{
    uint8_t key[16], msg[64];

    (void)state;
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    /* The paper's example: 15 bytes. */
    assert_int_equal(siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
    assert_int_equal(siphash24(key, NULL, 0), 0x726fdb47dd0e0e31ull);
    for (size_t n = 0; n < 64; n++) {
        /* Exact-size, and at an odd address: no overread, no alignment. */
        uint8_t *p = malloc(n + 1);
        assert_non_null(p);
        memcpy(p + 1, msg, n);
        assert_int_equal(siphash24(key, p + 1, n), sip_vectors[n]);
        free(p);
    }
}

/* ---- initial sequence numbers ------------------------------------------- */

static int isn_setup(void **state)
{
    struct inet_stack *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    for (int i = 0; i < 16; i++)
        s->tcp.isn_key[i] = (uint8_t)(0x5a ^ (i * 37));
    clock_set_virtual(1000000000ull); /* a multiple of 4 us */
    *state = s;
    return 0;
}

static int isn_teardown(void **state)
{
    clock_set_real();
    free(*state);
    return 0;
}

#define LIP 0x0100000a /* 10.0.0.1, network order on little-endian hosts */
#define RIP 0x0200000a
#define LPORT 0x5000 /* 80 */
#define RPORT 0x39c3 /* 50,000 */

/* tcp_new_isn for an IPv4 4-tuple (it takes a pcb). */
static uint32_t isn4(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    struct tcp_pcb pcb;

    memset(&pcb, 0, sizeof(pcb));
    pcb.stack = s;
    pcb.local_ip = lip;
    pcb.local_port = lport;
    pcb.remote_ip = rip;
    pcb.remote_port = rport;
    return tcp_new_isn(&pcb);
}

/* IPv6: the whole addresses go into the hash. Two peers whose addresses
 * fold to the same 32 bits (the hash buckets' fold) get different ISNs: an
 * attacker choosing such an address learns nothing of another's ISN. */
static void test_isn_ipv6_whole_address(void **state)
{
    struct inet_stack *s = *state;
    struct tcp_pcb a, b;

    memset(&a, 0, sizeof(a));
    a.stack = s;
    a.v6 = true;
    inet_pton(AF_INET6, "2001:db8::1", &a.local_ip6);
    inet_pton(AF_INET6, "2001:db8:0:0:1:2:3:4", &a.remote_ip6);
    a.local_port = LPORT;
    a.remote_port = RPORT;
    b = a;
    inet_pton(AF_INET6, "2001:db8:0:0:3:4:1:2", &b.remote_ip6); /* words swapped */
    assert_int_equal(tcp_addr6_fold(&a.remote_ip6), tcp_addr6_fold(&b.remote_ip6));
    assert_int_equal(tcp_new_isn(&a), tcp_new_isn(&a));
    assert_int_not_equal(tcp_new_isn(&a), tcp_new_isn(&b));
    assert_int_not_equal(tcp_new_isn(&a), isn4(s, LIP, LPORT, RIP, RPORT));
}

static void test_isn_same_tuple(void **state)
{
    struct inet_stack *s = *state;

    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), isn4(s, LIP, LPORT, RIP, RPORT));
}

static void test_isn_different_tuples(void **state)
{
    struct inet_stack *s = *state;
    uint32_t isn[7];

    isn[0] = isn4(s, LIP, LPORT, RIP, RPORT);
    isn[1] = isn4(s, LIP + 1, LPORT, RIP, RPORT);
    isn[2] = isn4(s, LIP, LPORT + 1, RIP, RPORT);
    isn[3] = isn4(s, LIP, LPORT, RIP + 1, RPORT);
    isn[4] = isn4(s, LIP, LPORT, RIP, RPORT + 1);
    isn[5] = isn4(s, RIP, RPORT, LIP, LPORT); /* the other direction */
    isn[6] = isn4(s, RIP, LPORT, LIP, RPORT); /* addresses swapped */
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < i; j++)
            assert_int_not_equal(isn[i], isn[j]);

    /* Many source ports: all distinct (a 32-bit PRF collides with
     * probability ~ n^2 / 2^33, ~ 1e-4 here; the key is fixed, so this is
     * deterministic). */
    {
        enum { N = 1000 };
        uint32_t *v = malloc(N * sizeof(*v));
        assert_non_null(v);
        for (int i = 0; i < N; i++)
            v[i] = isn4(s, LIP, LPORT, RIP, (uint16_t)(1024 + i));
        for (int i = 0; i < N; i++)
            for (int j = 0; j < i; j++)
                assert_int_not_equal(v[i], v[j]);
        free(v);
    }
}

/* The key is what makes the ISN unpredictable: another key, another ISN. */
static void test_isn_key(void **state)
{
    struct inet_stack *s = *state;
    uint32_t a = isn4(s, LIP, LPORT, RIP, RPORT);

    s->tcp.isn_key[7] ^= 1;
    assert_int_not_equal(isn4(s, LIP, LPORT, RIP, RPORT), a);
}

/* M ticks every 4 us: one tick moves the ISN by exactly one. */
static void test_isn_clock(void **state)
{
    struct inet_stack *s = *state;
    uint32_t isn0 = isn4(s, LIP, LPORT, RIP, RPORT);

    clock_advance(3999);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), isn0);
    clock_advance(1);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), isn0 + 1);
    for (uint32_t k = 2; k < 1000; k++) {
        clock_advance(4000);
        assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), isn0 + k);
    }
    /* One second: 250,000 ticks. */
    clock_advance(1000000000ull);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), isn0 + 999 + 250000);
}

/* The construction itself: ISN = now / 4 us + low 32 bits of SipHash-2-4 of
 * the 4-tuple's wire bytes (local ip, local port, remote ip, remote port). */
static void test_isn_construction(void **state)
{
    struct inet_stack *s = *state;
    uint32_t lip = LIP, rip = RIP;
    uint16_t lport = LPORT, rport = RPORT;
    uint8_t msg[12];
    uint32_t f;

    memcpy(msg, &lip, 4);
    memcpy(msg + 4, &lport, 2);
    memcpy(msg + 6, &rip, 4);
    memcpy(msg + 10, &rport, 2);
    f = (uint32_t)siphash24(s->tcp.isn_key, msg, sizeof(msg));
    clock_advance(12345 * 4000ull + 17);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), (uint32_t)(clock_now_ns() / 4000) + f);
    /* M wraps modulo 2^32 with the sequence space. */
    clock_set_virtual((1ull << 32) * 4000ull + 8000);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), 2 + f);
}

static void test_isn_fixed(void **state)
{
    struct inet_stack *s = *state;

    s->tcp.params.use_fixed_isn = true;
    s->tcp.params.fixed_isn = 0xdeadbeef;
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), 0xdeadbeef);
    assert_int_equal(isn4(s, RIP, RPORT, LIP, LPORT), 0xdeadbeef);
    clock_advance(1000000);
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), 0xdeadbeef);
    s->tcp.params.fixed_isn = 0;
    assert_int_equal(isn4(s, LIP, LPORT, RIP, RPORT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_mss),
        cmocka_unit_test(test_parse_wscale),
        cmocka_unit_test(test_parse_sack_ok),
        cmocka_unit_test(test_parse_timestamps),
        cmocka_unit_test(test_parse_linux_syn),
        cmocka_unit_test(test_parse_sack_blocks),
        cmocka_unit_test(test_parse_sack_bad_len),
        cmocka_unit_test(test_parse_nop_eol),
        cmocka_unit_test(test_parse_wrong_fixed_len),
        cmocka_unit_test(test_parse_unknown_kinds),
        cmocka_unit_test(test_parse_repeated),
        cmocka_unit_test(test_parse_zero_length),
        cmocka_unit_test(test_parse_overrun),
        cmocka_unit_test(test_parse_random),
        cmocka_unit_test_setup_teardown(test_write_syn_combos, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_syn_no_sack_blocks, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_mss_from_mtu, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_mss_clamped, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_wscale_clamped, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_data_none, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_data_timestamps, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_data_sack_ranges, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_sack_merge, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_sack_wrap, wfix_setup, wfix_teardown),
        cmocka_unit_test_setup_teardown(test_write_sack_below_rcv_nxt, wfix_setup, wfix_teardown),
        cmocka_unit_test(test_siphash_reference),
        cmocka_unit_test_setup_teardown(test_isn_same_tuple, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_ipv6_whole_address, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_different_tuples, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_key, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_clock, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_construction, isn_setup, isn_teardown),
        cmocka_unit_test_setup_teardown(test_isn_fixed, isn_setup, isn_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
