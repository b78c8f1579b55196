/* SPDX-License-Identifier: MIT */
/*
 * test_dbuf.c: buffer pools (struct dbuf_pool) and the size-class set
 * (struct mem). Whether a pointer is one of ours is what stands between a
 * foreign or double-freed sga and a corrupted pool, so the lookup is tested
 * against every near miss.
 */
#include "mem/dbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define NSLOTS 4
#define DATA_SIZE 100

static void test_pool_geometry(void **state)
{
    struct dbuf_pool p;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    assert_non_null(p.base);
    assert_int_equal(p.count, NSLOTS);
    assert_int_equal(p.nfree, NSLOTS);
    assert_int_equal(p.data_size, DATA_SIZE);
    assert_int_equal(p.stride % 64, 0);
    assert_true(p.stride >= sizeof(struct dbuf) + DBUF_HEADROOM + DATA_SIZE);
    assert_int_equal(p.map_len, p.stride * NSLOTS);
    dbuf_pool_fini(&p);
    assert_null(p.base);
}

static void test_alloc_until_empty(void **state)
{
    struct dbuf_pool p;
    struct dbuf *d[NSLOTS];

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    for (int i = 0; i < NSLOTS; i++) {
        d[i] = dbuf_alloc(&p);
        assert_non_null(d[i]);
        assert_int_equal(d[i]->refcnt, 1);
        assert_int_equal(d[i]->len, 0);
        assert_int_equal(d[i]->flags, 0);
        assert_ptr_equal(d[i]->pool, &p);
        assert_null(d[i]->next);
        /* Allocation starts at slot 0 and goes up. */
        assert_ptr_equal((uint8_t *)d[i], p.base + (size_t)i * p.stride);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(d[i], d[j]);
        assert_int_equal(p.nfree, NSLOTS - 1 - i);
    }
    assert_int_equal(p.alloc_failures, 0);
    assert_null(dbuf_alloc(&p));
    assert_int_equal(p.alloc_failures, 1);
    assert_null(dbuf_alloc(&p));
    assert_int_equal(p.alloc_failures, 2);
    assert_int_equal(p.nfree, 0);
    for (int i = 0; i < NSLOTS; i++)
        dbuf_put(d[i]);
    assert_int_equal(p.nfree, NSLOTS);
    /* The pool works again after exhaustion. */
    d[0] = dbuf_alloc(&p);
    assert_non_null(d[0]);
    assert_int_equal(p.alloc_failures, 2);
    dbuf_put(d[0]);
    dbuf_pool_fini(&p);
}

static void test_empty_pool(void **state)
{
    struct dbuf_pool p;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "empty", DATA_SIZE, 0), 0);
    assert_null(dbuf_alloc(&p));
    assert_int_equal(p.alloc_failures, 1);
    assert_null(dbuf_pool_lookup(&p, &p));
    dbuf_pool_fini(&p);
}

static void test_refcount(void **state)
{
    struct dbuf_pool p;
    struct dbuf *d;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    d = dbuf_alloc(&p);
    assert_non_null(d);
    dbuf_ref(d);
    dbuf_ref(d);
    assert_int_equal(d->refcnt, 3);
    dbuf_put(d);
    assert_int_equal(d->refcnt, 2);
    assert_int_equal(p.nfree, NSLOTS - 1);
    assert_ptr_equal(dbuf_pool_lookup(&p, d), d);
    dbuf_put(d);
    assert_int_equal(p.nfree, NSLOTS - 1);
    assert_ptr_equal(dbuf_pool_lookup(&p, d), d);
    dbuf_put(d); /* the last reference frees the slot */
    assert_int_equal(d->refcnt, 0);
    assert_int_equal(p.nfree, NSLOTS);
    assert_null(dbuf_pool_lookup(&p, d));
    dbuf_pool_fini(&p);
}

static void test_lifo_reuse(void **state)
{
    struct dbuf_pool p;
    struct dbuf *a, *b, *c;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    a = dbuf_alloc(&p);
    b = dbuf_alloc(&p);
    c = dbuf_alloc(&p);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    dbuf_put(a);
    dbuf_put(c);
    /* Most recently freed first. */
    assert_ptr_equal(dbuf_alloc(&p), c);
    assert_ptr_equal(dbuf_alloc(&p), a);
    /* A reused slot is reset. */
    a->len = 50;
    a->data += 10;
    a->flags = DBUF_F_APP;
    dbuf_put(a);
    assert_ptr_equal(dbuf_alloc(&p), a);
    assert_int_equal(a->len, 0);
    assert_int_equal(a->flags, 0);
    assert_ptr_equal(a->data, a->buf + DBUF_HEADROOM);
    dbuf_put(a);
    dbuf_put(b);
    dbuf_put(c);
    assert_int_equal(p.nfree, NSLOTS);
    dbuf_pool_fini(&p);
}

static void test_lookup_exact_slots_only(void **state)
{
    struct dbuf_pool p;
    struct dbuf *d[NSLOTS];
    int on_stack = 0;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    for (int i = 0; i < NSLOTS; i++)
        d[i] = dbuf_alloc(&p);
    for (int i = 0; i < NSLOTS; i++) {
        uint8_t *s = (uint8_t *)d[i];
        assert_ptr_equal(dbuf_pool_lookup(&p, s), d[i]);
        assert_null(dbuf_pool_lookup(&p, s + 1));
        assert_null(dbuf_pool_lookup(&p, s + 64));
        assert_null(dbuf_pool_lookup(&p, d[i]->data));
        assert_null(dbuf_pool_lookup(&p, s + p.stride - 1));
    }
    assert_null(dbuf_pool_lookup(&p, p.base - 1));
    assert_null(dbuf_pool_lookup(&p, p.base - p.stride));
    assert_null(dbuf_pool_lookup(&p, p.base + p.map_len)); /* one past the end */
    assert_null(dbuf_pool_lookup(&p, p.base + p.map_len + p.stride));
    assert_null(dbuf_pool_lookup(&p, &on_stack));
    assert_null(dbuf_pool_lookup(&p, NULL));
    assert_null(dbuf_pool_lookup(&p, (void *)UINTPTR_MAX));
    /* A freed slot is no longer ours to hand out. */
    dbuf_put(d[2]);
    assert_null(dbuf_pool_lookup(&p, d[2]));
    assert_ptr_equal(dbuf_pool_lookup(&p, d[1]), d[1]);
    assert_ptr_equal(dbuf_pool_lookup(&p, d[3]), d[3]);
    dbuf_put(d[0]);
    dbuf_put(d[1]);
    dbuf_put(d[3]);
    for (int i = 0; i < NSLOTS; i++)
        assert_null(dbuf_pool_lookup(&p, d[i]));
    dbuf_pool_fini(&p);
}

static void test_headroom(void **state)
{
    struct dbuf_pool p;
    struct dbuf *d;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    d = dbuf_alloc(&p);
    assert_non_null(d);
    assert_int_equal(d->data - d->buf, DBUF_HEADROOM);
    assert_int_equal((uint8_t *)d->buf - (uint8_t *)d, 64);
    assert_int_equal(d->size, p.stride - sizeof(struct dbuf));
    assert_true(d->size >= DBUF_HEADROOM + DATA_SIZE);
    assert_int_equal(dbuf_tailroom(d), d->size - DBUF_HEADROOM);
    d->len = 10;
    assert_int_equal(dbuf_tailroom(d), d->size - DBUF_HEADROOM - 10);
    /* The whole slot is writable (ASan would flag an overrun into the next). */
    memset(d->buf, 0xab, d->size);
    dbuf_put(d);
    dbuf_pool_fini(&p);
}

static void test_contains(void **state)
{
    struct dbuf_pool p;
    struct dbuf *d, *e;
    uint8_t *end;

    (void)state;
    assert_int_equal(dbuf_pool_init(&p, "t", DATA_SIZE, NSLOTS), 0);
    d = dbuf_alloc(&p);
    e = dbuf_alloc(&p);
    end = d->buf + d->size;
    assert_true(dbuf_contains(d, d->data, 1));
    assert_true(dbuf_contains(d, d->data, d->size - DBUF_HEADROOM));
    assert_false(dbuf_contains(d, d->data, d->size - DBUF_HEADROOM + 1));
    assert_true(dbuf_contains(d, d->buf, d->size));
    assert_false(dbuf_contains(d, d->buf, d->size + 1));
    assert_true(dbuf_contains(d, end - 1, 1));
    assert_false(dbuf_contains(d, end - 1, 2));
    assert_true(dbuf_contains(d, end, 0));
    assert_false(dbuf_contains(d, end, 1));
    assert_false(dbuf_contains(d, end + 1, 0));
    assert_false(dbuf_contains(d, d->buf - 1, 1));
    assert_false(dbuf_contains(d, (uint8_t *)d, 1)); /* the header is not data */
    assert_false(dbuf_contains(d, d->data, UINT32_MAX));
    assert_false(dbuf_contains(d, d->data + 1, UINT32_MAX));
    /* The neighbour slot is not part of this one. */
    assert_false(dbuf_contains(d, e->data, 1));
    assert_true(dbuf_contains(e, e->data, 1));
    dbuf_put(d);
    dbuf_put(e);
    dbuf_pool_fini(&p);
}

static void test_mem_size_classes(void **state)
{
    static const struct {
        uint32_t size;
        int cls; /* -1: refused */
    } cases[] = {
        {1, MEM_SMALL},
        {MEM_SMALL_SIZE, MEM_SMALL},
        {MEM_SMALL_SIZE + 1, MEM_LARGE},
        {MEM_LARGE_SIZE, MEM_LARGE},
        {MEM_LARGE_SIZE + 1, MEM_HUGE},
        {MEM_HUGE_SIZE, MEM_HUGE},
        {MEM_HUGE_SIZE + 1, -1},
        {0, -1},
        {UINT32_MAX, -1},
    };
    struct mem m;

    (void)state;
    assert_int_equal(MEM_SMALL_SIZE, 2048);
    assert_int_equal(MEM_LARGE_SIZE, 65536);
    assert_int_equal(MEM_HUGE_SIZE, 1048576);
    assert_int_equal(mem_init(&m, 4, 2, 2), 0);
    assert_int_equal(mem_in_use(&m), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dbuf *d = mem_alloc(&m, cases[i].size);
        if (cases[i].cls < 0) {
            assert_null(d);
            assert_int_equal(mem_in_use(&m), 0);
            continue;
        }
        assert_non_null(d);
        assert_ptr_equal(d->pool, &m.pools[cases[i].cls]);
        assert_int_equal(d->len, cases[i].size);
        assert_true(dbuf_contains(d, d->data, cases[i].size));
        assert_int_equal(d->data - d->buf, DBUF_HEADROOM);
        assert_ptr_equal(mem_lookup(&m, d), d);
        assert_null(mem_lookup(&m, (uint8_t *)d + 1));
        assert_int_equal(mem_in_use(&m), 1);
        /* Write the whole payload: the slot must really be that large. */
        memset(d->data, 0x5a, cases[i].size);
        dbuf_put(d);
        assert_int_equal(mem_in_use(&m), 0);
        assert_null(mem_lookup(&m, d));
    }
    mem_fini(&m);
}

static void test_mem_exhaustion_per_class(void **state)
{
    struct mem m;
    struct dbuf *s[2], *l[2], *x;

    (void)state;
    assert_int_equal(mem_init(&m, 2, 2, 1), 0);
    s[0] = mem_alloc(&m, 10);
    s[1] = mem_alloc(&m, 10);
    assert_non_null(s[0]);
    assert_non_null(s[1]);
    /* The small class is empty: no silent fall-back to a larger one. */
    assert_null(mem_alloc(&m, 10));
    assert_int_equal(m.pools[MEM_SMALL].alloc_failures, 1);
    assert_int_equal(mem_in_use(&m), 2);
    l[0] = mem_alloc(&m, 3000);
    l[1] = mem_alloc(&m, 3000);
    assert_non_null(l[0]);
    assert_non_null(l[1]);
    assert_null(mem_alloc(&m, 3000));
    assert_int_equal(m.pools[MEM_LARGE].alloc_failures, 1);
    x = mem_alloc(&m, MEM_HUGE_SIZE);
    assert_non_null(x);
    assert_null(mem_alloc(&m, MEM_HUGE_SIZE));
    assert_int_equal(m.pools[MEM_HUGE].alloc_failures, 1);
    assert_int_equal(mem_in_use(&m), 5);
    /* A buffer of one class is not found in another's pool. */
    assert_null(dbuf_pool_lookup(&m.pools[MEM_SMALL], l[0]));
    assert_null(dbuf_pool_lookup(&m.pools[MEM_LARGE], s[0]));
    assert_ptr_equal(mem_lookup(&m, x), x);
    dbuf_put(s[0]);
    dbuf_put(s[1]);
    dbuf_put(l[0]);
    dbuf_put(l[1]);
    dbuf_put(x);
    assert_int_equal(mem_in_use(&m), 0);
    mem_fini(&m);
}

static void test_mem_refs_count_once(void **state)
{
    struct mem m;
    struct dbuf *d;

    (void)state;
    assert_int_equal(mem_init(&m, 4, 1, 1), 0);
    d = mem_alloc(&m, 100);
    assert_non_null(d);
    dbuf_ref(d);
    assert_int_equal(mem_in_use(&m), 1); /* buffers, not references */
    dbuf_put(d);
    assert_int_equal(mem_in_use(&m), 1);
    dbuf_put(d);
    assert_int_equal(mem_in_use(&m), 0);
    mem_fini(&m);
}

/* Slices share bytes without copying and keep their parent alive. */
static void test_slice(void **state)
{
    struct mem m;
    struct dbuf *d, *a, *b;
    (void)state;

    assert_int_equal(mem_init(&m, 4, 1, 0), 0);
    d = mem_alloc(&m, 1000);
    for (uint32_t i = 0; i < 1000; i++)
        d->data[i] = (uint8_t)i;
    a = dbuf_slice(&m, d, 0, 500);
    b = dbuf_slice(&m, d, 500, 500);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(a->data, d->data);
    assert_ptr_equal(b->data, d->data + 500);
    assert_int_equal(b->len, 500);
    assert_int_equal(d->refcnt, 3);
    assert_int_equal(dbuf_headroom(a), 0); /* nothing may be prepended into a slice */
    assert_int_equal(dbuf_tailroom(a), 0);
    assert_null(dbuf_prepend(a, 1));
    assert_null(dbuf_slice(&m, d, 900, 101)); /* past the end */
    assert_null(dbuf_slice(&m, d, 1001, 0));
    dbuf_put(d); /* the slices still hold it */
    assert_int_equal(b->data[499], (uint8_t)999);
    dbuf_put(a);
    dbuf_put(b);
    assert_int_equal(mem_in_use(&m), 0);
    mem_fini(&m);
}

static void test_prepend_adj_append_trim(void **state)
{
    struct mem m;
    struct dbuf *d;
    uint8_t *p;
    (void)state;

    assert_int_equal(mem_init(&m, 1, 0, 0), 0);
    d = dbuf_alloc(&m.pools[MEM_SMALL]);
    p = dbuf_append(d, 10);
    assert_ptr_equal(p, d->data);
    assert_int_equal(d->len, 10);
    p = dbuf_prepend(d, 20);
    assert_ptr_equal(p, d->data);
    assert_int_equal(d->len, 30);
    assert_int_equal(dbuf_headroom(d), DBUF_HEADROOM - 20);
    assert_null(dbuf_prepend(d, DBUF_HEADROOM)); /* more than is left */
    assert_non_null(dbuf_adj(d, 20));
    assert_int_equal(d->len, 10);
    assert_null(dbuf_adj(d, 11));
    dbuf_trim(d, 4);
    assert_int_equal(d->len, 4);
    dbuf_trim(d, 100); /* never grows */
    assert_int_equal(d->len, 4);
    assert_null(dbuf_append(d, dbuf_tailroom(d) + 1));
    dbuf_put(d);
    mem_fini(&m);
}

/* The sga_buf tag changes on every handout, so a stale copy never matches. */
static void test_app_tag(void **state)
{
    struct mem m;
    struct dbuf *d;
    void *t1, *t2;
    (void)state;

    assert_int_equal(mem_init(&m, 1, 0, 0), 0);
    d = mem_alloc(&m, 10);
    t1 = dbuf_app_handout(d);
    assert_ptr_equal(mem_lookup_app(&m, t1), d);
    assert_null(mem_lookup_app(&m, d)); /* untagged */
    d->flags &= (uint16_t)~DBUF_F_APP;
    assert_null(mem_lookup_app(&m, t1)); /* released */
    t2 = dbuf_app_handout(d);
    assert_ptr_not_equal(t1, t2);
    assert_null(mem_lookup_app(&m, t1)); /* stale */
    for (int i = 0; i < 200; i++) {
        void *t = dbuf_app_handout(d);
        assert_true(((uintptr_t)t & DBUF_TAG_MASK) != 0);
        assert_ptr_equal((void *)((uintptr_t)t & ~(uintptr_t)DBUF_TAG_MASK), d);
    }
    assert_true(mem_owns(&m, d));
    assert_false(mem_owns(&m, &m));
    dbuf_put(d);
    mem_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_geometry),
        cmocka_unit_test(test_alloc_until_empty),
        cmocka_unit_test(test_empty_pool),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_lifo_reuse),
        cmocka_unit_test(test_lookup_exact_slots_only),
        cmocka_unit_test(test_headroom),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_mem_size_classes),
        cmocka_unit_test(test_mem_exhaustion_per_class),
        cmocka_unit_test(test_mem_refs_count_once),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_prepend_adj_append_trim),
        cmocka_unit_test(test_app_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
