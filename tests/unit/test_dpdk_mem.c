/* SPDX-License-Identifier: MIT */
/*
 * test_dpdk_mem.c: DPDK mbufs as libdemi buffers (dev/dpdk.c), and LIBOS=catnip
 * over net_ring (a port whose transmit ring is its own receive ring), in
 * one process with --no-huge.
 *
 * The mbuf-backed small class must keep every promise of the slab one:
 * foreign pointers, interior pointers, freed buffers and stale tags are
 * refused by the lookup, and counts return to their start. On transmit, our
 * references and DPDK's are independent: a payload sent in place stays
 * alive in the device after we drop ours.
 */
#include "libos/runtime.h"
#include "dev/dpdk.h"
#include "libos/inet.h"
#include "mem/dbuf.h"
#include "net/stack.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define SMALL_COUNT 256u
#define SLACK 64u

static char *eal_args[] = {
    "test_dpdk_mem",   "-l", "0", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "--log-level=error",
    "--vdev=net_ring0"};

static const struct timespec one_s = {1, 0};

/* EAL fails clearly on bad arguments, and a second attempt in the same
 * process fails too, without running rte_eal_init again. In a child, so
 * this process can still initialise EAL for the other tests. */
static void test_eal_bad_args_fail_once(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* EAL prints its usage on a bad option: keep the test log readable. */
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(2);
        char *bad[] = {"x", "--no-huge", "--no-pci", "--no-shconf", "--log-level=emerg", "--no-such-option"};
        char err[512];
        int e1 = dpdk_eal_init(6, bad, err, sizeof(err));
        bool named = strstr(err, "rte_eal_init failed") != NULL && strstr(err, "cannot retry") != NULL;
        int e2 = dpdk_eal_init(ARRAY_SIZE(eal_args), eal_args, err, sizeof(err));
        bool again = strstr(err, "rte_eal_init failed") != NULL;
        _exit(e1 != 0 && e2 == e1 && named && again ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_eal_empty_args(void **state)
{
    char err[512] = "";

    (void)state;
    assert_int_equal(dpdk_eal_init(0, NULL, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "dpdk.eal_init is empty"));
}

static void test_eal_init(void **state)
{
    char err[512] = "";
    uint16_t port = 99;

    (void)state;
    assert_int_equal(dpdk_eal_init(ARRAY_SIZE(eal_args), eal_args, err, sizeof(err)), 0);
    /* Once per process: a second call is a no-op that succeeds. */
    assert_int_equal(dpdk_eal_init(ARRAY_SIZE(eal_args), eal_args, err, sizeof(err)), 0);
    assert_int_equal(dpdk_first_port(&port), 0);
    assert_int_equal(port, 0);
}

static struct mem mem;

static int mem_setup(void **state)
{
    char err[512] = "";

    (void)state;
    if (mem_init(&mem, SMALL_COUNT, 4, 1) != 0)
        return -1;
    if (dpdk_mem_attach(&mem, SMALL_COUNT, SLACK, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "dpdk_mem_attach: %s\n", err);
        return -1;
    }
    return 0;
}

static int mem_teardown(void **state)
{
    (void)state;
    mem_fini(&mem);
    return 0;
}

static void test_alloc_free(void **state)
{
    struct dbuf_pool *p = &mem.pools[MEM_SMALL];
    uint32_t out0 = dpdk_mbufs_out();
    struct dbuf *d;

    (void)state;
    assert_non_null(p->ops);
    assert_int_equal(mem_in_use(&mem), 0);
    d = dbuf_alloc(p);
    assert_non_null(d);
    assert_true(dpdk_dbuf_is_mbuf(d));
    assert_int_equal(d->refcnt, 1);
    assert_int_equal(d->len, 0);
    assert_int_equal(d->flags, 0);
    assert_ptr_equal(d->pool, p);
    assert_null(d->next);
    assert_null(d->parent);
    assert_ptr_equal(d->data, d->buf + DBUF_HEADROOM);
    assert_true(dbuf_tailroom(d) >= MEM_SMALL_SIZE);
    assert_int_equal(dbuf_headroom(d), DBUF_HEADROOM);
    assert_int_equal((uintptr_t)d % 64, 0); /* room for the sga_buf tag */
    assert_int_equal(dpdk_dbuf_mbuf_refcnt(d), 1);
    assert_int_equal(mem_in_use(&mem), 1);
    assert_int_equal(dpdk_mbufs_out(), out0 + 1);
    memset(d->data, 0xab, MEM_SMALL_SIZE); /* the whole class size is ours */
    dbuf_put(d);
    assert_int_equal(mem_in_use(&mem), 0);
    assert_int_equal(dpdk_mbufs_out(), out0);
}

static void test_mem_alloc_classes(void **state)
{
    struct dbuf *s, *l;

    (void)state;
    s = mem_alloc(&mem, MEM_SMALL_SIZE);
    l = mem_alloc(&mem, MEM_SMALL_SIZE + 1);
    assert_non_null(s);
    assert_non_null(l);
    assert_true(dpdk_dbuf_is_mbuf(s));
    assert_false(dpdk_dbuf_is_mbuf(l));
    assert_int_equal(s->len, MEM_SMALL_SIZE);
    assert_ptr_equal(s->pool, &mem.pools[MEM_SMALL]);
    assert_ptr_equal(l->pool, &mem.pools[MEM_LARGE]);
    assert_int_equal(mem_in_use(&mem), 2);
    dbuf_put(s);
    dbuf_put(l);
    assert_int_equal(mem_in_use(&mem), 0);
}

/* Every near miss of a dbuf position is refused, as with the slab pools. */
static void test_lookup(void **state)
{
    struct dbuf *a = dbuf_alloc(&mem.pools[MEM_SMALL]);
    struct dbuf *b = dbuf_alloc(&mem.pools[MEM_SMALL]);
    uint8_t *pa = (uint8_t *)a;
    int local;
    void *heap = malloc(64);

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(mem_lookup(&mem, a), a);
    assert_ptr_equal(mem_lookup(&mem, b), b);
    assert_ptr_equal(dbuf_pool_lookup(&mem.pools[MEM_SMALL], a), a);
    /* Interior pointers: the mbuf header, the data, one byte off. */
    assert_null(mem_lookup(&mem, pa + 1));
    assert_null(mem_lookup(&mem, pa - 1));
    assert_null(mem_lookup(&mem, pa - 64));
    assert_null(mem_lookup(&mem, pa - 128)); /* the rte_mbuf itself */
    assert_null(mem_lookup(&mem, a->data));
    assert_null(mem_lookup(&mem, pa + 64));
    assert_true(mem_owns(&mem, a));
    assert_true(mem_owns(&mem, a->data));
    /* Foreign memory. */
    assert_null(mem_lookup(&mem, &local));
    assert_null(mem_lookup(&mem, heap));
    assert_null(mem_lookup(&mem, NULL));
    assert_false(mem_owns(&mem, &local));
    assert_false(mem_owns(&mem, heap));
    /* Not a small-class buffer. */
    assert_null(dbuf_pool_lookup(&mem.pools[MEM_LARGE], a));
    /* Freed: refused, though its memory is still ours. */
    dbuf_put(b);
    assert_null(mem_lookup(&mem, b));
    assert_true(mem_owns(&mem, b));
    dbuf_put(a);
    free(heap);
    assert_int_equal(mem_in_use(&mem), 0);
}

/* sga_buf tags: a double free and a stale copy are refused. */
static void test_app_handout(void **state)
{
    struct dbuf *d = dbuf_alloc(&mem.pools[MEM_SMALL]);
    void *t1, *t2;

    (void)state;
    assert_non_null(d);
    t1 = dbuf_app_handout(d);
    assert_ptr_equal(mem_lookup_app(&mem, t1), d);
    assert_null(mem_lookup_app(&mem, d)); /* untagged */
    d->flags &= (uint16_t)~DBUF_F_APP;
    dbuf_put(d);
    assert_null(mem_lookup_app(&mem, t1)); /* freed: a double free is refused */
    /* LIFO: the same mbuf comes back; the old tag no longer matches. */
    assert_ptr_equal(dbuf_alloc(&mem.pools[MEM_SMALL]), d);
    t2 = dbuf_app_handout(d);
    assert_ptr_not_equal(t1, t2);
    assert_null(mem_lookup_app(&mem, t1));
    assert_ptr_equal(mem_lookup_app(&mem, t2), d);
    d->flags &= (uint16_t)~DBUF_F_APP;
    dbuf_put(d);
    assert_int_equal(mem_in_use(&mem), 0);
}

/* The class holds SMALL_COUNT for us; the mempool has SLACK more for the
 * ports. Exhaustion is a NULL and a counted failure, never a crash. */
static void test_exhaustion(void **state)
{
    struct dbuf_pool *p = &mem.pools[MEM_SMALL];
    uint32_t cap = SMALL_COUNT + SLACK + 1024, n = 0;
    struct dbuf **d = calloc(cap, sizeof(*d));
    uint64_t failures = p->alloc_failures;

    (void)state;
    assert_non_null(d);
    while (n < cap && (d[n] = dbuf_alloc(p)) != NULL)
        n++;
    assert_true(n >= SMALL_COUNT);
    assert_true(n < cap);
    assert_int_equal(p->alloc_failures, failures + 1);
    assert_int_equal(mem_in_use(&mem), n);
    for (uint32_t i = 0; i < n; i++)
        dbuf_put(d[i]);
    assert_int_equal(mem_in_use(&mem), 0);
    free(d);
}

/* The class can only be switched while none of its buffers is out. */
static void test_set_class_busy(void **state)
{
    struct mem m2;
    struct dbuf *d;
    char err[256];

    (void)state;
    assert_int_equal(mem_init(&m2, 4, 1, 1), 0);
    d = dbuf_alloc(&m2.pools[MEM_SMALL]);
    assert_non_null(d);
    assert_int_equal(mem_set_class_pool(&m2, MEM_SMALL, mem.pools[MEM_SMALL].ops, NULL, 4096, 4), EBUSY);
    assert_int_equal(mem_set_class_pool(&m2, MEM_LARGE, mem.pools[MEM_SMALL].ops, NULL, 4096, 4), EINVAL);
    dbuf_put(d);
    /* One struct mem at a time is backed by the process's mbuf pool. */
    assert_int_equal(dpdk_mem_attach(&m2, 4, 4, 0, err, sizeof(err)), EBUSY);
    mem_fini(&m2);
}

/* ---- the netdev over net_ring ---------------------------------------------- */

static struct netdev *ring_dev(void)
{
    struct dpdk_port_params pp = {.port = 0, .mtu = 1500, .link_wait_ms = 1000};
    struct netdev *dev = NULL;
    char err[512] = "";

    if (dpdk_netdev_create(&mem, &pp, &dev, err, sizeof(err)) != 0)
        fail_msg("dpdk_netdev_create: %s", err);
    return dev;
}

/* A frame of a 64-byte head and @payload's bytes, back from the ring. */
static void check_frame(struct netdev *dev, const uint8_t *expect, uint32_t len)
{
    struct dbuf *rx[4];
    uint16_t n = 0;

    for (int i = 0; i < 1000 && n == 0; i++)
        n = netdev_rx_burst(dev, rx, 4);
    assert_int_equal(n, 1);
    assert_true(dpdk_dbuf_is_mbuf(rx[0]));
    assert_null(rx[0]->next);
    assert_int_equal(rx[0]->len, len);
    assert_memory_equal(rx[0]->data, expect, len);
    dbuf_put(rx[0]);
}

static struct dbuf *head_buf_from(struct mem *m, uint32_t len)
{
    struct dbuf *h = dbuf_alloc(&m->pools[MEM_SMALL]);

    assert_non_null(h);
    memset(dbuf_append(h, len), 0x11, len);
    return h;
}

static struct dbuf *head_buf(uint32_t len)
{
    return head_buf_from(&mem, len);
}

/* A payload mbuf goes out in place: DPDK holds its own reference, so our
 * buffer survives our last put until the frame is received. */
static void test_tx_zero_copy_refcounts(void **state)
{
    struct netdev *dev = ring_dev();
    uint32_t out0 = dpdk_mbufs_out();
    struct dbuf *h, *payload, *slice;
    uint8_t expect[64 + 1000];

    (void)state;
    payload = mem_alloc(&mem, 1500);
    assert_non_null(payload);
    for (uint32_t i = 0; i < 1500; i++)
        payload->data[i] = (uint8_t)i;
    slice = dbuf_slice(&mem, payload, 100, 1000);
    assert_non_null(slice);
    h = head_buf(64);
    h->next = slice;
    memset(expect, 0x11, 64);
    memcpy(expect + 64, payload->data + 100, 1000);
    assert_int_equal(netdev_tx_burst(dev, &h, 1), 1);
    /* Our slice is gone, our payload reference stays; DPDK added its own. */
    assert_int_equal(payload->refcnt, 1);
    assert_int_equal(dpdk_dbuf_mbuf_refcnt(payload), 2);
    dbuf_put(payload);
    assert_int_equal(mem_in_use(&mem), 0);
    check_frame(dev, expect, sizeof(expect)); /* multi-segment: copied into one */
    assert_int_equal(mem_in_use(&mem), 0);
    assert_int_equal(dpdk_mbufs_out(), out0);
    netdev_destroy(dev);
}

/* A payload of the 64 KiB class goes as an external buffer: no copy, and
 * the port's mbuf holds a reference on the buffer until it is freed. */
static void test_tx_external_large_buffer(void **state)
{
    struct netdev *dev = ring_dev();
    uint32_t out0 = dpdk_mbufs_out();
    struct dbuf *h, *big;
    static uint8_t expect[42 + 1400];

    (void)state;
    big = mem_alloc(&mem, 4000);
    assert_non_null(big);
    assert_false(dpdk_dbuf_is_mbuf(big));
    for (uint32_t i = 0; i < 4000; i++)
        big->data[i] = (uint8_t)(i * 7);
    h = head_buf(42);
    h->next = dbuf_slice(&mem, big, 2000, 1400);
    assert_non_null(h->next);
    memset(expect, 0x11, 42);
    memcpy(expect + 42, big->data + 2000, 1400);
    dbuf_put(big); /* the slice keeps it */
    assert_int_equal(netdev_tx_burst(dev, &h, 1), 1);
    /* The slice is gone; the external mbuf in the ring holds the buffer. */
    assert_int_equal(big->refcnt, 1);
    assert_int_equal(mem_in_use(&mem), 1);
    big->data[2000] ^= 0xff; /* in place: the frame sees this write */
    expect[42] ^= 0xff;
    check_frame(dev, expect, sizeof(expect)); /* received: linearised, the chain freed */
    assert_int_equal(mem_in_use(&mem), 0);
    assert_int_equal(dpdk_mbufs_out(), out0);
    netdev_destroy(dev);
}

/* A head someone else still holds is copied, not given away. */
static void test_tx_shared_head(void **state)
{
    struct netdev *dev = ring_dev();
    uint32_t out0 = dpdk_mbufs_out();
    struct dbuf *h = head_buf(60);
    uint8_t expect[60];

    (void)state;
    memset(expect, 0x11, sizeof(expect));
    dbuf_ref(h);
    assert_int_equal(netdev_tx_burst(dev, &h, 1), 1);
    assert_int_equal(h->refcnt, 1);
    assert_int_equal(dpdk_dbuf_mbuf_refcnt(h), 1);
    h->data[0] = 0x22; /* ours again: the frame in flight is a copy */
    check_frame(dev, expect, sizeof(expect));
    dbuf_put(h);
    assert_int_equal(mem_in_use(&mem), 0);
    assert_int_equal(dpdk_mbufs_out(), out0);
    netdev_destroy(dev);
}

/* ---- LIBOS=catnip over net_ring: the whole stack, one process ------------- */

static struct sockaddr_in addr_of(const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static uint8_t pat(size_t off)
{
    return (uint8_t)((off * 31u) ^ (off >> 11));
}

static void catnip_init(void)
{
    struct demi_args args = {0, NULL, NULL};

    setenv("LIBOS", "catnip", 1);
    setenv("DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR", "10.8.0.1", 1);
    setenv("DEMI_LIBDEMI_POOL_SMALL_COUNT", "2048", 1);
    setenv("DEMI_DPDK_LINK_WAIT_MS", "1000", 1);
    /* The device loses nothing, so no retransmission is expected: a long
     * minimum RTO keeps a slow run (sanitizers, a loaded machine) from
     * retransmitting spuriously. */
    setenv("DEMI_TCP_RTO_MIN_US", "500000", 1);
    assert_int_equal(demi_init(&args), 0);
}

/* @total bytes from @from to @to in pushes of @chunk, checked on arrival. */
static void tcp_stream(int from, int to, size_t total, size_t chunk)
{
    size_t sent = 0, got = 0;
    demi_qtoken_t qts[2];
    bool pushing = false;

    assert_int_equal(demi_pop(&qts[1], to), 0);
    while (got < total) {
        demi_qresult_t qr;
        int off;
        if (!pushing && sent < total) {
            size_t n = total - sent < chunk ? total - sent : chunk;
            demi_sgarray_t sga = demi_sgaalloc(n);
            assert_int_equal(sga.sga_numsegs, 1);
            for (size_t i = 0; i < n; i++)
                ((uint8_t *)sga.sga_segs[0].sgaseg_buf)[i] = pat(sent + i);
            assert_int_equal(demi_push(&qts[0], from, &sga), 0);
            assert_int_equal(demi_sgafree(&sga), 0); /* free-protection: the stack keeps it */
            sent += n;
            pushing = true;
        }
        if (pushing) {
            assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &one_s), 0);
        } else {
            assert_int_equal(demi_wait(&qr, qts[1], &one_s), 0);
            off = 1;
        }
        if (off == 0) {
            assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
            pushing = false;
            continue;
        }
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        uint32_t n = qr.qr_value.sga.sga_segs[0].sgaseg_len;
        assert_true(n > 0);
        for (uint32_t i = 0; i < n; i++)
            if (((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[i] != pat(got + i))
                fail_msg("byte %zu differs", got + i);
        got += n;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        if (got < total)
            assert_int_equal(demi_pop(&qts[1], to), 0);
    }
    if (pushing) {
        demi_qresult_t qr;
        assert_int_equal(demi_wait(&qr, qts[0], &one_s), 0);
    }
}

static void tcp_pair(uint16_t port, int *cli, int *srv, int *lis)
{
    struct sockaddr_in a = addr_of("10.8.0.1", port);
    demi_qtoken_t qa, qc;
    demi_qresult_t qr;

    assert_int_equal(demi_socket(lis, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(*lis, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_listen(*lis, 16), 0);
    assert_int_equal(demi_socket(cli, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_accept(&qa, *lis), 0);
    assert_int_equal(demi_connect(&qc, *cli, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_wait(&qr, qc, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(demi_wait(&qr, qa, &one_s), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    *srv = qr.qr_value.ares.qd;
}

static void test_catnip_tcp_over_ring(void **state)
{
    struct inet_stack *st;
    uint32_t bufs, out0;
    int cli, srv, lis;
    demi_sgarray_t sga;

    (void)state;
    catnip_init();
    out0 = dpdk_mbufs_out();
    st = inet_libos_stack(rt.net);
    bufs = mem_in_use(&rt.mem);
    /* demi_sgaalloc up to 2 KiB hands out mbufs. */
    sga = demi_sgaalloc(1000);
    assert_true(dpdk_dbuf_is_mbuf(mem_lookup_app(&rt.mem, sga.sga_buf)));
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_sgafree(&sga), EINVAL); /* double free */

    tcp_pair(8000, &cli, &srv, &lis);
    tcp_stream(cli, srv, 1u << 20, 1000);      /* mbuf payloads, in place */
    tcp_stream(srv, cli, 1u << 20, 64 * 1024); /* 64 KiB payloads, copied at tx */
    tcp_stream(cli, srv, 20000, 1);            /* tiny pushes */
    assert_int_equal(demi_close(cli), 0);
    assert_int_equal(demi_close(srv), 0);
    assert_int_equal(demi_close(lis), 0);
    for (int i = 0; i < 1000; i++)
        inet_stack_poll(st);
    assert_int_equal(st->stats.tcp_rexmt, 0);
    assert_int_equal(mem_in_use(&rt.mem), bufs);
    rt_shutdown();
    assert_int_equal(dpdk_mbufs_out(), out0);
}

/* A full device ring refuses frames: the refused ones are still the
 * caller's, intact (head, segments, references), and nothing leaks. */
static void test_catnip_tx_ring_full(void **state)
{
    enum { N = 1100 };
    static struct dbuf *frames[N];
    struct netdev *dev;
    struct dbuf *pl, *rx[32];
    uint32_t bufs, out0, got = 0;
    uint16_t sent, k;

    (void)state;
    catnip_init();
    dev = inet_libos_stack(rt.net)->dev;
    bufs = mem_in_use(&rt.mem);
    out0 = dpdk_mbufs_out();
    pl = mem_alloc(&rt.mem, 1000);
    assert_non_null(pl);
    memset(pl->data, 0x5a, 1000);
    for (int i = 0; i < N; i++) {
        frames[i] = head_buf_from(&rt.mem, 60);
        frames[i]->next = dbuf_slice(&rt.mem, pl, 0, 500);
        assert_non_null(frames[i]->next);
    }
    sent = netdev_tx_burst(dev, frames, N);
    assert_true(sent > 0 && sent < N);                     /* net_ring holds 1023 */
    assert_int_equal(dpdk_dbuf_mbuf_refcnt(pl), 1 + sent); /* one per frame in the ring */
    assert_int_equal(pl->refcnt, 1 + (N - sent));          /* ours: the refused slices */
    for (int i = sent; i < N; i++) {
        assert_int_equal(frames[i]->refcnt, 1);
        assert_non_null(frames[i]->next);
        assert_ptr_equal(frames[i]->next->parent, pl);
        assert_int_equal(frames[i]->len, 60);
        dbuf_chain_put(frames[i]);
    }
    assert_int_equal(pl->refcnt, 1);
    while ((k = netdev_rx_burst(dev, rx, 32)) > 0) {
        for (uint16_t i = 0; i < k; i++) {
            assert_int_equal(rx[i]->len, 560);
            assert_int_equal(rx[i]->data[559], 0x5a);
            dbuf_put(rx[i]);
        }
        got += k;
    }
    assert_int_equal(got, sent);
    assert_int_equal(dpdk_dbuf_mbuf_refcnt(pl), 1);
    dbuf_put(pl);
    assert_int_equal(mem_in_use(&rt.mem), bufs);
    assert_int_equal(dpdk_mbufs_out(), out0);
    rt_shutdown();
}

static void test_catnip_udp_and_reinit(void **state)
{
    struct sockaddr_in a = addr_of("10.8.0.1", 9000), b = addr_of("10.8.0.1", 9001);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    int qa, qb;

    (void)state;
    /* A second demi_init in the process: EAL stays, the port is set up again. */
    catnip_init();
    assert_int_equal(demi_socket(&qa, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qa, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(demi_socket(&qb, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qb, (struct sockaddr *)&b, sizeof(b)), 0);
    for (uint32_t size = 1; size <= 1472; size = size * 3 + 1) {
        sga = demi_sgaalloc(size);
        memset(sga.sga_segs[0].sgaseg_buf, (int)size, size);
        assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
        assert_int_equal(demi_sgafree(&sga), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(demi_pop(&qt, qb), 0);
        assert_int_equal(demi_wait(&qr, qt, &one_s), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(qr.qr_value.sga.sga_segs[0].sgaseg_len, size);
        assert_int_equal(((uint8_t *)qr.qr_value.sga.sga_segs[0].sgaseg_buf)[size - 1], (uint8_t)size);
        assert_true(dpdk_dbuf_is_mbuf(mem_lookup_app(&rt.mem, qr.qr_value.sga.sga_buf)));
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    assert_int_equal(demi_close(qa), 0);
    assert_int_equal(demi_close(qb), 0);
    rt_shutdown();
}

int main(void)
{
    const struct CMUnitTest first[] = {
        cmocka_unit_test(test_eal_bad_args_fail_once),
        cmocka_unit_test(test_eal_empty_args),
        cmocka_unit_test(test_eal_init),
    };
    const struct CMUnitTest pool[] = {
        cmocka_unit_test(test_alloc_free),
        cmocka_unit_test(test_mem_alloc_classes),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_app_handout),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_set_class_busy),
        cmocka_unit_test(test_tx_zero_copy_refcounts),
        cmocka_unit_test(test_tx_external_large_buffer),
        cmocka_unit_test(test_tx_shared_head),
    };
    const struct CMUnitTest catnip[] = {
        cmocka_unit_test(test_catnip_tcp_over_ring),
        cmocka_unit_test(test_catnip_tx_ring_full),
        cmocka_unit_test(test_catnip_udp_and_reinit),
    };
    int failed = cmocka_run_group_tests_name("eal", first, NULL, NULL);

    failed += cmocka_run_group_tests_name("mbuf pool", pool, mem_setup, mem_teardown);
    failed += cmocka_run_group_tests_name("catnip over net_ring", catnip, NULL, NULL);
    return failed ? 1 : 0;
}
