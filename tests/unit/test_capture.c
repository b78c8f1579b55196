/* SPDX-License-Identifier: MIT */
/*
 * test_capture.c: libdemi.pcap. capture.c on its own (a chained frame
 * written contiguously, the snap length, the size limit, timestamps in
 * order), then through a whole stack (LIBOS=cattest): the file holds every
 * frame the stack took and sent, byte for byte what the far side injected
 * and received, read back with libpcap as tcpdump would.
 */
#include "core/clock.h"
#include "libos/runtime.h"
#include "mem/dbuf.h"
#include "net/capture.h"
#include "net/checksum.h"
#include "net/proto.h"

#include <demi/harness.h>
#include <demi/libos.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char path[256];

static void temp_path(const char *what)
{
    snprintf(path, sizeof(path), "/tmp/test_capture_%s_%d.pcap", what, (int)getpid());
}

struct frame {
    uint32_t caplen, len;
    uint64_t ts_ns;
    uint8_t data[2048];
};

/* Every frame of @file, at most @max. */
static int read_pcap(const char *file, struct frame *out, int max)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, err);
    struct pcap_pkthdr *h;
    const u_char *data;
    int n = 0;

    if (!p)
        fail_msg("%s: %s", file, err);
    assert_int_equal(pcap_datalink(p), DLT_EN10MB);
    while (pcap_next_ex(p, &h, &data) == 1) {
        assert_true(n < max);
        assert_true(h->caplen <= sizeof(out[n].data));
        out[n].caplen = h->caplen;
        out[n].len = h->len;
        out[n].ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        memcpy(out[n].data, data, h->caplen);
        n++;
    }
    pcap_close(p);
    return n;
}

static struct dbuf *filled(struct mem *m, uint32_t len, uint8_t seed)
{
    struct dbuf *d = mem_alloc(m, len);

    assert_non_null(d);
    d->len = len;
    for (uint32_t i = 0; i < len; i++)
        d->data[i] = (uint8_t)(seed + i);
    return d;
}

/* A two-buffer chain lands as one frame; snap length cuts, len keeps the
 * whole; the limit stops the file before a record would cross it. */
static void test_capture_file(void **state)
{
    struct mem m;
    struct capture *c;
    struct frame *f = calloc(8, sizeof(*f));
    char err[256];
    struct dbuf *a, *b;
    (void)state;

    assert_int_equal(mem_init(&m, 16, 0, 0), 0);
    clock_set_virtual(5000);
    temp_path("file");
    assert_int_equal(capture_open(&c, path, 100, 24 + 2 * (16 + 100) + 16 + 10, err, sizeof(err)), 0);
    a = filled(&m, 60, 1);
    b = filled(&m, 70, 100);
    a->next = b;
    capture_frame(c, a, 6000); /* 130 bytes, 100 kept */
    capture_frame(c, b, 7000); /* 70 bytes */
    capture_frame(c, a, 8000); /* would cross the limit: stopped */
    capture_frame(c, b, 9000); /* nothing after */
    assert_int_equal(capture_frames(c), 2);
    capture_close(c);
    assert_int_equal(read_pcap(path, f, 8), 2);
    assert_int_equal(f[0].len, 130);
    assert_int_equal(f[0].caplen, 100);
    for (uint32_t i = 0; i < 100; i++)
        assert_int_equal(f[0].data[i], i < 60 ? (uint8_t)(1 + i) : (uint8_t)(100 + i - 60));
    assert_int_equal(f[1].len, 70);
    assert_int_equal(f[1].caplen, 70);
    assert_int_equal(f[1].ts_ns - f[0].ts_ns, 1000); /* the clock's spacing, to the ns */
    a->next = NULL;
    dbuf_put(a);
    dbuf_put(b);
    unlink(path);
    /* "%p" is the PID: a client and a server sharing the setting write a
     * file each. */
    {
        char want[256];
        assert_int_equal(capture_open(&c, "/tmp/test_capture_pid_%p.pcap", 100, 0, err, sizeof(err)), 0);
        capture_close(c);
        snprintf(want, sizeof(want), "/tmp/test_capture_pid_%d.pcap", (int)getpid());
        assert_int_equal(access(want, R_OK), 0);
        unlink(want);
    }
    /* A file that cannot be written is an error that names it. */
    assert_int_equal(capture_open(&c, "/nonexistent-dir/x.pcap", 100, 0, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcap"));
    mem_fini(&m);
    clock_set_real();
    free(f);
}

static uint16_t csum16(const void *p, size_t n)
{
    return inet_csum(p, n);
}

/* The far side: an ICMP echo request to us. */
static size_t mk_ping(uint8_t *b, uint16_t seq)
{
    struct ipv4_hdr *ip = (struct ipv4_hdr *)b;
    uint8_t *icmp = b + IPV4_HLEN;
    size_t len = IPV4_HLEN + 8 + 32;

    memset(b, 0, len);
    ip->ver_ihl = 0x45;
    ip->total_len = htons((uint16_t)len);
    ip->ttl = 64;
    ip->proto = IPV4_PROTO_ICMP;
    ip->src = inet_addr("192.0.2.1");
    ip->dst = inet_addr("192.0.2.2");
    ip->csum = csum16(ip, IPV4_HLEN);
    icmp[0] = 8; /* echo request */
    icmp[5] = 7; /* id */
    icmp[7] = (uint8_t)seq;
    for (int i = 0; i < 32; i++)
        icmp[8 + i] = (uint8_t)(seq * 3 + i);
    {
        uint16_t s = csum16(icmp, 8 + 32);
        memcpy(icmp + 2, &s, 2);
    }
    return len;
}

/* Three pings through a cattest stack; every IPv4 frame of the capture is,
 * past its Ethernet header, exactly a packet the far side injected or took,
 * in that order, and the capture holds as many frames as the stack counted. */
static void test_capture_through_stack(void **state)
{
    struct demi_args args = {0, NULL, NULL};
    uint8_t sent[3][128], got[3][2048];
    size_t sent_len[3], got_len[3];
    struct frame *f = calloc(64, sizeof(*f));
    uint64_t rx = 0, tx = 0;
    int n, ip_frames = 0;
    (void)state;

    temp_path("stack");
    setenv("LIBOS", "cattest", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "192.0.2.2", 1);
    setenv("DEMI_LIBDEMI_PCAP", path, 1);
    assert_int_equal(demi_init(&args), 0);
    for (uint16_t i = 0; i < 3; i++) {
        sent_len[i] = mk_ping(sent[i], i);
        assert_int_equal(demi_harness_inject(sent[i], sent_len[i]), 0);
        assert_int_equal(demi_harness_take(got[i], sizeof(got[i]), &got_len[i], NULL), 0);
        assert_int_equal(got[i][IPV4_HLEN], 0); /* an echo reply */
        assert_int_equal(demi_harness_advance(1000000), 0);
    }
    assert_int_equal(demi_harness_counter("eth_rx", &rx), 0);
    assert_int_equal(demi_harness_counter("eth_tx", &tx), 0);
    rt_shutdown(); /* closes the capture */
    unsetenv("DEMI_LIBDEMI_PCAP");

    n = read_pcap(path, f, 64);
    assert_int_equal((uint64_t)n, rx + tx);
    for (int i = 0; i < n; i++) {
        const uint8_t *eth = f[i].data;
        assert_int_equal(f[i].caplen, f[i].len);
        if (eth[12] != 0x08 || eth[13] != 0x00)
            continue; /* ARP, answered inside the harness device */
        assert_true(ip_frames < 6);
        {
            int k = ip_frames / 2;
            bool request = ip_frames % 2 == 0;
            size_t len = request ? sent_len[k] : got_len[k];
            const uint8_t *want = request ? sent[k] : got[k];
            assert_true(f[i].caplen >= ETH_HLEN + len);
            assert_memory_equal(eth + ETH_HLEN, want, len);
        }
        if (i > 0)
            assert_true(f[i].ts_ns >= f[i - 1].ts_ns);
        ip_frames++;
    }
    assert_int_equal(ip_frames, 6);
    unlink(path);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_file),
        cmocka_unit_test(test_capture_through_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
