/* SPDX-License-Identifier: MIT */
/*
 * test_drop_hints.c: drops that speak (drop_hints.c) on the sink netdev
 * (net_harness.h): a run of drops of a misconfiguration kind logs its
 * likely cause once, then nothing for a minute.
 *
 * Every test ends (teardown) with the stack torn down and the captured frames
 * freed, and asserts that every buffer went back to its pool.
 */
#include "net_harness.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run @fn with stderr captured; the captured text in @out. */
static void capture_stderr(void (*fn)(struct ctx *), struct ctx *c, char *out, size_t cap)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    assert_non_null(f);
    fflush(stderr);
    dup2(fileno(f), 2);
    fn(c);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static unsigned count_lines_with(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int bad_csum_count = 20;

static void bad_udp_csums(struct ctx *c)
{
    struct pkt p;
    for (int i = 0; i < bad_csum_count; i++) {
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "abcd", 4);
        UDPH(&p)->csum ^= htons(0x0001);
        if (UDPH(&p)->csum == 0)
            UDPH(&p)->csum = htons(0x1234);
        feed(c, &p);
    }
}

static void frames_for_others(struct ctx *c)
{
    static const uint8_t multicast[ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};
    struct pkt p;
    for (int i = 0; i < 20; i++) { /* multicast we never joined: no warning */
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "x", 1);
        memcpy(ETH(&p)->dst, multicast, ETH_ALEN);
        feed(c, &p);
    }
    for (int i = 0; i < 8; i++) {
        mk_udp(&p, PEER_IP, MY_IP, 4242, MY_PORT, "x", 1);
        memcpy(ETH(&p)->dst, other_mac, ETH_ALEN);
        feed(c, &p);
    }
    for (int i = 0; i < 8; i++) {
        mk_udp(&p, PEER_IP, ip4(10, 0, 0, 77), 4242, MY_PORT, "x", 1);
        feed(c, &p);
    }
}

/* A run of drops of a misconfiguration kind says its likely cause once,
 * then nothing for a minute; the next run after that says it again. A few
 * stray frames, and multicast we never joined, say nothing. */
static void test_drop_hints(void **state)
{
    struct ctx *c = *state;
    char *out = malloc(16384);

    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    assert_non_null(strstr(out, "ethtool -K"));
    assert_non_null(strstr(out, "10.0.0.2"));
    capture_stderr(bad_udp_csums, c, out, 16384); /* within the minute: quiet */
    assert_int_equal(count_lines_with(out, "checksums"), 0);
    clock_advance(61 * NS_PER_S);
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    /* Two, then two more 11 s later: no run of three within 10 s. */
    clock_advance(61 * NS_PER_S);
    bad_csum_count = 2;
    capture_stderr(bad_udp_csums, c, out, 16384);
    clock_advance(11 * NS_PER_S);
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "checksums"), 0);
    bad_csum_count = 1; /* the third within 10 s of the last two */
    capture_stderr(bad_udp_csums, c, out, 16384);
    assert_int_equal(count_lines_with(out, "bad UDP checksums"), 1);
    bad_csum_count = 20;

    capture_stderr(frames_for_others, c, out, 16384);
    assert_int_equal(count_lines_with(out, "not ours"), 1);
    assert_non_null(strstr(out, "02:00:00:00:00:77"));
    assert_int_equal(count_lines_with(out, "not our address"), 1);
    assert_non_null(strstr(out, "10.0.0.77"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_drop_hints),
    };

    return cmocka_run_group_tests_name("drop_hints", tests, NULL, NULL);
}
