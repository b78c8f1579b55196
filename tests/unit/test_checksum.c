/* SPDX-License-Identifier: MIT */
/*
 * test_checksum.c: the Internet checksum (checksum.c) against an
 * independent reference implementation of RFC 1071 (net_harness.h): the
 * RFC's vector, random data in random pieces, the pseudo-header, chains and
 * CHECKSUM_PARTIAL frames.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* Checksum                                                                */
/* ======================================================================= */

static void test_csum_rfc1071_vector(void **state)
{
    static const uint8_t v[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    uint8_t withsum[10];
    uint16_t r;
    uint8_t out[2];

    (void)state;
    r = inet_csum(v, sizeof(v));
    memcpy(out, &r, 2); /* stored as is: network order */
    assert_int_equal(out[0], 0x22);
    assert_int_equal(out[1], 0x0d);
    assert_int_equal(ntohs(r), 0x220d);
    assert_int_equal(ntohs((uint16_t)~r), 0xddf2); /* the folded sum */
    assert_int_equal(ref_csum(v, sizeof(v)), 0x220d);
    /* Data followed by its checksum sums to zero. */
    memcpy(withsum, v, 8);
    memcpy(withsum + 8, &r, 2);
    assert_int_equal(inet_csum(withsum, sizeof(withsum)), 0);
    /* Empty input: sum 0, checksum 0xffff. */
    assert_int_equal(inet_csum(v, 0), 0xffff);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void test_csum_pieces_randomized(void **state)
{
    uint8_t buf[1600];

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rnd() % (iter < 200 ? 16 : sizeof(buf));
        struct csum whole, parts;
        uint16_t expect;

        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        if (iter % 5 == 0) /* sums that carry a lot */
            memset(buf, 0xff, len);
        csum_init(&whole);
        csum_add(&whole, buf, len);
        expect = csum_finish(&whole);
        assert_int_equal(ntohs(expect), ref_csum(buf, len));

        /* Random splits, pieces of any length including 0 and odd. */
        for (int split = 0; split < 8; split++) {
            size_t off = 0;
            csum_init(&parts);
            while (off < len) {
                size_t n = rnd() % 4 == 0 ? 0 : rnd() % (len - off + 1);
                size_t tiny = rnd() % 5;
                if (rnd() % 2 && tiny < n)
                    n = tiny; /* many tiny odd pieces */
                csum_add(&parts, buf + off, n);
                off += n;
            }
            csum_add(&parts, buf + off, 0);
            if (csum_finish(&parts) != expect)
                fail_msg("iter %d split %d len %zu: pieces %04x, whole %04x", iter, split, len, csum_finish(&parts),
                         expect);
        }
    }
}

/* The vector loops for long buffers, each one this CPU has: buffers up to
 * 1 MiB (more than one flush of the lane sums), at every alignment, all
 * 0xff (the largest lane sums) and random, whole and in pieces that start
 * and end mid-block, against the reference. */
static void test_csum_vector_loops(void **state)
{
    static const char *const impls[] = {"portable", "avx2"};
    const char *was = csum_impl();
    size_t cap = (1u << 20) + 64;
    uint8_t *buf = malloc(cap);

    (void)state;
    assert_non_null(buf);
    for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
        if (csum_set_impl(impls[k]) != 0) {
            printf("# csum %s: this CPU has no such loop, not run\n", impls[k]);
            continue;
        }
        for (int iter = 0; iter < 60; iter++) {
            size_t len = iter < 40 ? 100 + rnd() % 9000 : (iter < 50 ? 65536 + rnd() % 64 : (1u << 20) - rnd() % 64);
            size_t off = rnd() % 33, cut = rnd() % (len + 1);
            uint8_t *b = buf + off;
            struct csum whole, parts;

            for (size_t i = 0; i < len; i++)
                b[i] = iter % 3 == 0 ? 0xff : (uint8_t)rnd();
            csum_init(&whole);
            csum_add(&whole, b, len);
            csum_init(&parts);
            csum_add(&parts, b, cut);
            csum_add(&parts, b + cut, len - cut);
            if (ntohs(csum_finish(&whole)) != ref_csum(b, len) || csum_finish(&parts) != csum_finish(&whole))
                fail_msg("%s: len %zu off %zu cut %zu: whole %04x, pieces %04x, reference %04x", impls[k], len, off,
                         cut, ntohs(csum_finish(&whole)), ntohs(csum_finish(&parts)), ref_csum(b, len));
        }
    }
    assert_int_equal(csum_set_impl("sse9"), ENOTSUP);
    assert_int_equal(csum_set_impl(was), 0);
    free(buf);
}

/* CHECKSUM_PARTIAL frames (AF_PACKET from a veth peer): the field holds the
 * pseudo-header sum (not complemented); csum_complete_partial finishes it
 * as a NIC would, and leaves alone what it cannot finish. */
static void test_csum_complete_partial(void **state)
{
    static const uint8_t payload[] = "partial checksum, odd length";
    struct pkt p, q;
    uint16_t good, len;

    (void)state;
    mk_udp(&p, PEER_IP, MY_IP, 1111, 2222, payload, sizeof(payload));
    good = UDPH(&p)->csum;
    len = ntohs(UDPH(&p)->len);
    UDPH(&p)->csum = htons(ref_fold(ref_pseudo(PEER_IP, MY_IP, IPV4_PROTO_UDP, len)) ^ 0xffff);
    assert_true(csum_complete_partial(p.b, (uint32_t)p.len));
    assert_int_equal(UDPH(&p)->csum, good);

    /* Not finishable: untouched. */
    memcpy(&q, &p, sizeof(q));
    IPH(&q)->frag = htons(IPV4_FLAG_MF); /* a first fragment */
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    assert_memory_equal(q.b + ETH_HLEN + IPV4_HLEN, p.b + ETH_HLEN + IPV4_HLEN, p.len - ETH_HLEN - IPV4_HLEN);
    memcpy(&q, &p, sizeof(q));
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len - 1)); /* truncated */
    IPH(&q)->proto = IPV4_PROTO_ICMP;
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    ETH(&q)->type = htons(ETH_TYPE_ARP);
    assert_false(csum_complete_partial(q.b, (uint32_t)q.len));
    assert_false(csum_complete_partial(q.b, ETH_HLEN + IPV4_HLEN - 1));
}

static void test_csum_pseudo_and_chain(void **state)
{
    struct ctx *c = *state;
    uint8_t b[301];
    struct dbuf *d1, *d2;
    struct csum s;

    fill_pattern(b, sizeof(b), 11);
    csum_init(&s);
    csum_add_pseudo(&s, PEER_IP, MY_IP, IPV4_PROTO_UDP, 301);
    csum_add(&s, b, sizeof(b));
    assert_int_equal(ntohs(csum_finish(&s)), ref_fold(ref_sum(ref_pseudo(PEER_IP, MY_IP, 17, 301), b, sizeof(b))));

    /* A chain split at an odd offset. */
    d1 = payload_buf(c, b, 101);
    d2 = payload_buf(c, b + 101, 200);
    d1->next = d2;
    csum_init(&s);
    csum_add_chain(&s, d1);
    assert_int_equal(ntohs(csum_finish(&s)), ref_csum(b, sizeof(b)));
    dbuf_chain_put(d1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_csum_rfc1071_vector),   T(test_csum_pieces_randomized), T(test_csum_vector_loops),
        T(test_csum_pseudo_and_chain), T(test_csum_complete_partial),
    };

    return cmocka_run_group_tests_name("checksum", tests, NULL, NULL);
}
