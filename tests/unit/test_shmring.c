/* SPDX-License-Identifier: MIT */
/*
 * test_shmring.c: the SPSC message ring of catmem's pipes (mem/shmring.h):
 * boundaries, wrap-around at every offset, full and empty, the size limit,
 * a hostile peer's counters and records, and a two-thread stream checked
 * byte by byte (the acquire/release pairs under real concurrency).
 */
#include "mem/shmring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct ring_mem {
    struct shmring_ctl ctl;
    uint8_t *data;
    uint64_t size;
};

static struct ring_mem *ring_mem_new(uint64_t size)
{
    struct ring_mem *m = aligned_alloc(128, sizeof(*m));

    assert_non_null(m);
    memset(m, 0, sizeof(*m));
    m->data = aligned_alloc(SHMRING_ALIGN, size);
    assert_non_null(m->data);
    memset(m->data, 0xee, size);
    m->size = size;
    return m;
}

static void ring_mem_free(struct ring_mem *m)
{
    free(m->data);
    free(m);
}

static uint8_t pat(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static uint32_t len_of(uint64_t seq, uint32_t max)
{
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    x ^= x >> 29;
    return 1 + (uint32_t)(x % max);
}

static void test_sizes(void **state)
{
    (void)state;
    assert_true(shmring_size_ok(4096));
    assert_true(shmring_size_ok(1u << 20));
    assert_false(shmring_size_ok(0));
    assert_false(shmring_size_ok(2048));
    assert_false(shmring_size_ok(4096 + 64));
    assert_false(shmring_size_ok((uint64_t)SHMRING_MAX_SIZE * 2));
    assert_int_equal(shmring_max_msg(4096), 2048 - 8);
    assert_int_equal(shmring_rec_bytes(1), 64);
    assert_int_equal(shmring_rec_bytes(56), 64);
    assert_int_equal(shmring_rec_bytes(57), 128);
}

/* One side pushes until full, the other drains; many rounds move the wrap
 * point through every offset. Boundaries and bytes are checked. */
static void test_boundaries_and_wrap(void **state)
{
    struct ring_mem *m = ring_mem_new(8192);
    struct shmring tx, rx;
    uint64_t sent = 0, got = 0;
    uint32_t max = shmring_max_msg(m->size);
    uint8_t buf[8192];

    (void)state;
    shmring_attach(&tx, &m->ctl, m->data, m->size, true);
    shmring_attach(&rx, &m->ctl, m->data, m->size, false);
    for (int round = 0; round < 3000; round++) {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        int pushed = 0;

        for (;;) {
            uint32_t n = len_of(sent, sent % 3 == 0 ? max : 200);
            for (uint32_t i = 0; i < n; i++)
                buf[i] = pat(sent, i);
            if (!shmring_push(&tx, buf, n))
                break;
            sent++;
            pushed++;
        }
        (void)pushed;
        /* Drain all but (sometimes) one, so the rings' phases differ. */
        while (got < sent - (round & 1)) {
            assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_MSG);
            assert_int_equal(len, len_of(got, got % 3 == 0 ? max : 200));
            for (uint32_t i = 0; i < len; i++)
                if (p[i] != pat(got, i))
                    fail_msg("message %llu byte %u differs", (unsigned long long)got, i);
            shmring_release(&rx, len);
            got++;
        }
    }
    while (got < sent) {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_MSG);
        shmring_release(&rx, len);
        got++;
    }
    {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_EMPTY);
    }
    assert_true(shmring_drained(&tx));
    ring_mem_free(m);
}

/* The largest message always fits once the ring is empty, wherever the
 * producer stands. */
static void test_max_message_fits_everywhere(void **state)
{
    struct ring_mem *m = ring_mem_new(4096);
    uint32_t max = shmring_max_msg(m->size);
    struct shmring tx, rx;
    static uint8_t big[4096];

    (void)state;
    shmring_attach(&tx, &m->ctl, m->data, m->size, true);
    shmring_attach(&rx, &m->ctl, m->data, m->size, false);
    for (uint32_t step = 0; step < 4096 / SHMRING_ALIGN * 2; step++) {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        /* Move by one record of one cache line, then the biggest message. */
        assert_true(shmring_push(&tx, big, 1));
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_MSG);
        shmring_release(&rx, len);
        memset(big, (int)step, max);
        assert_true(shmring_push(&tx, big, max));
        assert_false(shmring_push(&tx, big, max)); /* full now */
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_MSG);
        assert_int_equal(len, max);
        assert_int_equal(p[0], (uint8_t)step);
        assert_int_equal(p[max - 1], (uint8_t)step);
        shmring_release(&rx, len);
    }
    ring_mem_free(m);
}

/* A hostile or broken peer: bad counters and records are reported, never
 * followed outside the ring. */
static void test_corrupt_peer(void **state)
{
    struct ring_mem *m = ring_mem_new(4096);
    uint32_t max = shmring_max_msg(m->size);
    struct shmring tx, rx;
    const uint8_t *p = NULL;
    uint32_t len = 0;
    uint8_t b[16] = {0};

    (void)state;
    /* Tail a whole ring and more ahead of head. */
    shmring_attach(&rx, &m->ctl, m->data, m->size, false);
    atomic_store(&m->ctl.tail, 8192 + 64);
    assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);

    /* A record longer than the limit, or than what was published. */
    memset(&m->ctl, 0, sizeof(m->ctl));
    shmring_attach(&tx, &m->ctl, m->data, m->size, true);
    shmring_attach(&rx, &m->ctl, m->data, m->size, false);
    assert_true(shmring_push(&tx, b, sizeof(b)));
    ((struct shmring_rec *)m->data)->len = max + 1;
    assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);
    ((struct shmring_rec *)m->data)->len = 100; /* 2 lines; 1 published */
    assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);
    /* A WRAP with nothing behind it. */
    ((struct shmring_rec *)m->data)->flags = SHMRING_F_WRAP;
    atomic_store(&m->ctl.tail, 4096);
    rx.other = 0;
    assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);

    /* A consumer whose head runs ahead of tail: the producer writes
     * nothing, and says the ring is broken rather than full. */
    memset(&m->ctl, 0, sizeof(m->ctl));
    assert_true(shmring_attach(&tx, &m->ctl, m->data, m->size, true));
    atomic_store(&m->ctl.head, 1u << 20);
    tx.other = 1u << 20;
    assert_false(shmring_push(&tx, b, sizeof(b)));
    assert_true(shmring_broken(&tx));
    atomic_store(&m->ctl.head, 0); /* sticky: a peer that broke it once is not trusted again */
    assert_false(shmring_push(&tx, b, sizeof(b)));
    /* ... or more than a ring behind. */
    memset(&m->ctl, 0, sizeof(m->ctl));
    atomic_store(&m->ctl.tail, 8192);
    atomic_store(&m->ctl.head, 0);
    assert_true(shmring_attach(&tx, &m->ctl, m->data, m->size, true));
    assert_false(shmring_push(&tx, b, sizeof(b)));
    assert_true(shmring_broken(&tx));
    /* A full ring is not broken. */
    memset(&m->ctl, 0, sizeof(m->ctl));
    assert_true(shmring_attach(&tx, &m->ctl, m->data, m->size, true));
    while (shmring_push(&tx, b, sizeof(b)))
        ;
    assert_false(shmring_broken(&tx));
    ring_mem_free(m);
}

/* Counters the peer left off a record boundary before we attached: the
 * first record header would straddle the ring's end (heap overflow under
 * ASan before attach refused them). Nothing is read or written. */
static void test_unaligned_counters(void **state)
{
    struct ring_mem *m = ring_mem_new(4096);
    uint32_t max = shmring_max_msg(m->size);
    struct shmring tx, rx;
    const uint8_t *p = NULL;
    uint32_t len = 0;
    uint8_t b[16] = {0};

    (void)state;
    for (uint64_t off = 1; off < SHMRING_ALIGN; off++) {
        uint64_t at = m->size - off; /* the last bytes of the ring */
        memset(&m->ctl, 0, sizeof(m->ctl));
        atomic_store(&m->ctl.tail, at);
        atomic_store(&m->ctl.head, at);
        assert_false(shmring_attach(&tx, &m->ctl, m->data, m->size, true));
        assert_true(shmring_broken(&tx));
        assert_null(shmring_reserve(&tx, 16));
        assert_false(shmring_push(&tx, b, sizeof(b)));
        atomic_store(&m->ctl.tail, at + 64);
        assert_false(shmring_attach(&rx, &m->ctl, m->data, m->size, false));
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);
        atomic_store(&m->ctl.tail, at); /* and when the peer says empty */
        assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_CORRUPT);
    }
    /* On a boundary, anywhere: fine. */
    atomic_store(&m->ctl.tail, 3 * 4096 + 64);
    atomic_store(&m->ctl.head, 3 * 4096 + 64);
    assert_true(shmring_attach(&tx, &m->ctl, m->data, m->size, true));
    assert_true(shmring_attach(&rx, &m->ctl, m->data, m->size, false));
    assert_true(shmring_push(&tx, b, sizeof(b)));
    assert_int_equal(shmring_peek(&rx, max, &p, &len), SHMRING_MSG);
    assert_int_equal(len, sizeof(b));
    ring_mem_free(m);
}

/* ---- two threads -------------------------------------------------------- */

#define STREAM_MSGS 100000u

/* A reservation committed shorter than reserved, at every offset: the
 * record stays where it was reserved (behind the WRAP decided then); one
 * dropped (never committed) publishes nothing; a consumer that holds a
 * record (consume without publishing) keeps its bytes from the producer. */
static void test_reserve_shorter_and_hold(void **state)
{
    const uint64_t size = 4096;
    struct ring_mem *m = ring_mem_new(size);
    struct shmring tx, rx;
    const uint8_t *payload = NULL;
    uint32_t len = 0, flags = 0;
    uint64_t held;

    (void)state;
    shmring_attach(&tx, &m->ctl, m->data, size, true);
    shmring_attach(&rx, &m->ctl, m->data, size, false);
    for (uint64_t seq = 0; seq < 600; seq++) {
        uint32_t resv = 1 + (uint32_t)(seq * 37 % 1500), n = 1 + (uint32_t)(seq % resv);
        uint8_t *dst;

        /* Dropped: nothing visible. */
        assert_non_null(shmring_reserve(&tx, 100));
        assert_int_equal(shmring_peek(&rx, 2048, &payload, &len), SHMRING_EMPTY);
        dst = shmring_reserve(&tx, resv);
        assert_non_null(dst);
        for (uint32_t i = 0; i < n; i++)
            dst[i] = pat(seq, i);
        shmring_commit_flags(&tx, n, SHMRING_F_ZC);
        assert_int_equal(shmring_peek_flags(&rx, 2048, &payload, &len, &flags), SHMRING_MSG);
        assert_ptr_equal(payload, dst);
        assert_int_equal(len, n);
        assert_int_equal(flags, SHMRING_F_ZC);
        for (uint32_t i = 0; i < n; i++)
            assert_int_equal(payload[i], pat(seq, i));
        held = shmring_read_pos(&rx);
        shmring_consume(&rx, len);
        /* Held: the producer cannot have more than the ring minus it. */
        if (seq % 50 == 0) {
            uint32_t pushed = 0;
            while (shmring_reserve(&tx, 1000) != NULL) {
                shmring_commit(&tx, 1000);
                pushed++;
            }
            assert_true(pushed <= 3);
            for (uint32_t k = 0; k < pushed; k++) {
                assert_int_equal(shmring_peek(&rx, 2048, &payload, &len), SHMRING_MSG);
                shmring_consume(&rx, len);
            }
            for (uint32_t i = 0; i < n; i++)
                assert_int_equal(((const uint8_t *)m->data)[(held + SHMRING_HDR + i) & (size - 1)], pat(seq, i));
        }
        shmring_publish_head(&rx, shmring_read_pos(&rx));
    }
    ring_mem_free(m);
}

static void *producer(void *arg)
{
    struct shmring *tx = arg;
    uint8_t buf[4096];

    for (uint64_t seq = 0; seq < STREAM_MSGS; seq++) {
        uint32_t n = len_of(seq, 1000);
        for (uint32_t i = 0; i < n; i++)
            buf[i] = pat(seq, i);
        while (!shmring_push(tx, buf, n))
            sched_yield(); /* a loaded 2-core box may share one core */
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    struct ring_mem *m = ring_mem_new(16384);
    uint32_t max = shmring_max_msg(m->size);
    struct shmring tx, rx;
    pthread_t th;

    (void)state;
    shmring_attach(&tx, &m->ctl, m->data, m->size, true);
    shmring_attach(&rx, &m->ctl, m->data, m->size, false);
    assert_int_equal(pthread_create(&th, NULL, producer, &tx), 0);
    for (uint64_t seq = 0; seq < STREAM_MSGS; seq++) {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        enum shmring_peek r;
        while ((r = shmring_peek(&rx, max, &p, &len)) == SHMRING_EMPTY)
            sched_yield();
        assert_int_equal(r, SHMRING_MSG);
        if (len != len_of(seq, 1000))
            fail_msg("message %llu: %u bytes, want %u", (unsigned long long)seq, len, len_of(seq, 1000));
        for (uint32_t i = 0; i < len; i++)
            if (p[i] != pat(seq, i))
                fail_msg("message %llu byte %u differs", (unsigned long long)seq, i);
        shmring_release(&rx, len);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    ring_mem_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_boundaries_and_wrap),
        cmocka_unit_test(test_max_message_fits_everywhere),
        cmocka_unit_test(test_corrupt_peer),
        cmocka_unit_test(test_unaligned_counters),
        cmocka_unit_test(test_reserve_shorter_and_hold),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
