/* SPDX-License-Identifier: MIT */
/*
 * memif-pingpong: the floor of bench/run-bench.sh's memif rows. Two
 * processes bounce one 64-byte Ethernet frame over DPDK's net_memif, using
 * DPDK directly (no libdemi, no TCP/IP): a round trip is tx_burst, the
 * peer's rx_burst + tx_burst, and our rx_burst, nothing else. No stack can
 * beat it on this path.
 *
 *   memif-pingpong EAL_ARGS -- --server|--client [--rounds N] [--warmup N] [--size B]
 *
 * EAL_ARGS name one port, e.g. "-l 0 --no-huge --no-pci --file-prefix=P
 * --vdev=net_memif0,role=server,socket=/tmp/S.sock" (memif needs EAL's
 * multi-process channel: one --file-prefix per process, no --no-shconf).
 * Start the server (memif role=server) first. The client waits for the link,
 * then times each round with the TSC; a frame unanswered for 100 ms is sent
 * again (counted as a retry). The client's last frame says goodbye; the
 * server exits on it, or after 10 s without frames (60 s before the first).
 *
 * Output (client): "memif-pingpong: RESULT size=B rounds=N retries=R
 * p50_ns=.. p99_ns=.. p999_ns=.. mean_ns=.. min_ns=.. max_ns=..".
 */
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETHERTYPE_BENCH 0x88b5 /* IEEE local experimental */
#define BURST 32
#define RING 1024
#define MAGIC_PING 0x50494e47u
#define MAGIC_BYE 0x00425945u

struct payload {
    uint32_t magic;
    uint32_t pad;
    uint64_t seq;
} __attribute__((packed));

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("memif-pingpong: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    rte_eal_cleanup();
    exit(1);
}

static unsigned long parse_num(const char *s, const char *what, unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v;

    if (s == NULL)
        die("%s needs a value", what);
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
        die("bad %s '%s' (expected %lu..%lu)", what, s, min, max);
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static uint64_t pct(const uint64_t *v, size_t n, unsigned permille)
{
    size_t rank = (size_t)(((uint64_t)n * permille + 999) / 1000);

    return v[rank < 1 ? 0 : rank - 1];
}

static void port_up(uint16_t port, struct rte_mempool *mp)
{
    struct rte_eth_conf conf;
    int rc;

    memset(&conf, 0, sizeof(conf));
    if ((rc = rte_eth_dev_configure(port, 1, 1, &conf)) != 0)
        die("rte_eth_dev_configure: %s", strerror(-rc));
    if ((rc = rte_eth_rx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL, mp)) != 0)
        die("rte_eth_rx_queue_setup: %s", strerror(-rc));
    if ((rc = rte_eth_tx_queue_setup(port, 0, RING, rte_eth_dev_socket_id(port), NULL)) != 0)
        die("rte_eth_tx_queue_setup: %s", strerror(-rc));
    if ((rc = rte_eth_dev_start(port)) != 0)
        die("rte_eth_dev_start: %s (a memif client needs its server running)", strerror(-rc));
}

static struct rte_mbuf *make_frame(struct rte_mempool *mp, uint16_t size, uint32_t magic, uint64_t seq)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
    char *p;
    struct rte_ether_hdr *eth;
    struct payload pl;

    if (m == NULL)
        die("rte_pktmbuf_alloc: pool empty");
    p = rte_pktmbuf_append(m, size);
    if (p == NULL)
        die("rte_pktmbuf_append(%u) failed", size);
    memset(p, 0, size);
    eth = (struct rte_ether_hdr *)p;
    memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
    eth->src_addr.addr_bytes[0] = 0x02;
    eth->ether_type = rte_cpu_to_be_16(ETHERTYPE_BENCH);
    pl.magic = magic;
    pl.pad = 0;
    pl.seq = seq;
    memcpy(p + sizeof(*eth), &pl, sizeof(pl));
    return m;
}

static struct payload frame_payload(const struct rte_mbuf *m)
{
    struct payload pl;

    memset(&pl, 0, sizeof(pl));
    if (rte_pktmbuf_data_len(m) >= sizeof(struct rte_ether_hdr) + sizeof(pl))
        memcpy(&pl, rte_pktmbuf_mtod_offset(m, const char *, sizeof(struct rte_ether_hdr)), sizeof(pl));
    return pl;
}

static void send_one(uint16_t port, struct rte_mbuf *m)
{
    uint64_t give_up = rte_get_tsc_cycles() + rte_get_tsc_hz();

    while (rte_eth_tx_burst(port, 0, &m, 1) != 1)
        if (rte_get_tsc_cycles() > give_up)
            die("tx ring full for 1 s");
}

static void server(uint16_t port)
{
    uint64_t hz = rte_get_tsc_hz(), bounced = 0, last = rte_get_tsc_cycles();
    struct rte_mbuf *pkts[BURST];

    printf("memif-pingpong: server ready\n");
    fflush(stdout);
    for (;;) {
        uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);
        int bye = 0;

        if (n == 0) {
            uint64_t idle = (rte_get_tsc_cycles() - last) / hz;

            if (idle >= (bounced ? 10u : 60u))
                die("no frame for %llu s", (unsigned long long)idle);
            continue;
        }
        last = rte_get_tsc_cycles();
        for (uint16_t i = 0; i < n; i++)
            if (frame_payload(pkts[i]).magic == MAGIC_BYE)
                bye = 1;
        /* Bounce the frames as they are: the mbufs go back out. */
        for (uint16_t sent = 0; sent < n;) {
            sent += rte_eth_tx_burst(port, 0, pkts + sent, (uint16_t)(n - sent));
            if (rte_get_tsc_cycles() - last > hz)
                die("tx ring full for 1 s");
        }
        bounced += n;
        if (bye)
            break;
    }
    printf("memif-pingpong: server bounced %llu frames\n", (unsigned long long)bounced);
}

static void client(uint16_t port, struct rte_mempool *mp, uint16_t size, uint32_t rounds, uint32_t warmup)
{
    uint64_t hz = rte_get_tsc_hz(), total = (uint64_t)rounds + warmup, retries = 0;
    uint64_t *samples = calloc(rounds, sizeof(*samples));
    struct rte_eth_link link;
    struct rte_mbuf *pkts[BURST];
    double sum = 0;
    int up = 0;

    if (samples == NULL)
        die("out of memory");
    for (int i = 0; i < 100 && !up; i++) { /* 10 s */
        memset(&link, 0, sizeof(link));
        rte_eth_link_get_nowait(port, &link);
        up = link.link_status == RTE_ETH_LINK_UP;
        if (!up)
            rte_delay_ms(100);
    }
    if (!up)
        die("link still down after 10 s (is the memif server running?)");

    for (uint64_t r = 0; r < total; r++) {
        uint64_t t0 = rte_get_tsc_cycles(), sent_at = t0, t1 = 0;
        int tries = 0;

        send_one(port, make_frame(mp, size, MAGIC_PING, r));
        while (t1 == 0) {
            uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);
            uint64_t now = rte_get_tsc_cycles();

            for (uint16_t i = 0; i < n; i++) {
                struct payload pl = frame_payload(pkts[i]);

                if (pl.magic == MAGIC_PING && pl.seq == r)
                    t1 = now;
                rte_pktmbuf_free(pkts[i]);
            }
            if (t1 == 0 && now - sent_at > hz / 10) { /* 100 ms: lost, send again */
                if (++tries > 100)
                    die("round %llu: no answer after 100 tries", (unsigned long long)r);
                retries++;
                sent_at = now;
                send_one(port, make_frame(mp, size, MAGIC_PING, r));
            }
        }
        if (r >= warmup)
            samples[r - warmup] = (uint64_t)((double)(t1 - t0) * 1e9 / (double)hz);
    }
    send_one(port, make_frame(mp, size, MAGIC_BYE, total));
    rte_delay_ms(10); /* let the goodbye leave before the port stops */

    qsort(samples, rounds, sizeof(*samples), cmp_u64);
    for (uint32_t i = 0; i < rounds; i++)
        sum += (double)samples[i];
    printf("memif-pingpong: RESULT size=%u rounds=%u retries=%llu p50_ns=%llu p99_ns=%llu "
           "p999_ns=%llu mean_ns=%.0f min_ns=%llu max_ns=%llu\n",
           size, rounds, (unsigned long long)retries, (unsigned long long)pct(samples, rounds, 500),
           (unsigned long long)pct(samples, rounds, 990), (unsigned long long)pct(samples, rounds, 999), sum / rounds,
           (unsigned long long)samples[0], (unsigned long long)samples[rounds - 1]);
    free(samples);
}

int main(int argc, char **argv)
{
    int used = rte_eal_init(argc, argv);
    int is_server = -1;
    uint32_t rounds = 20000, warmup = 1000;
    uint16_t size = 64, port;
    struct rte_mempool *mp;

    if (used < 0)
        die("rte_eal_init failed: %s", rte_strerror(rte_errno));
    argc -= used;
    argv += used;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--server") == 0) {
            is_server = 1;
        } else if (strcmp(argv[i], "--client") == 0) {
            is_server = 0;
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rounds = (uint32_t)parse_num(val, "--rounds", 1, 100000000);
            i++;
        } else if (strcmp(argv[i], "--warmup") == 0) {
            warmup = (uint32_t)parse_num(val, "--warmup", 0, 100000000);
            i++;
        } else if (strcmp(argv[i], "--size") == 0) {
            size = (uint16_t)parse_num(val, "--size", 60, 1514);
            i++;
        } else {
            die("unknown option '%s'\nusage: memif-pingpong EAL_ARGS -- --server|--client "
                "[--rounds N] [--warmup N] [--size B]",
                argv[i]);
        }
    }
    if (is_server < 0)
        die("give --server or --client after EAL's arguments and --");
    if (rte_eth_dev_count_avail() != 1)
        die("need exactly one DPDK port (a --vdev=net_memif0,...), found %u", (unsigned)rte_eth_dev_count_avail());
    port = (uint16_t)rte_eth_find_next(0);
    mp = rte_pktmbuf_pool_create("pingpong", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (mp == NULL)
        die("rte_pktmbuf_pool_create: %s", rte_strerror(rte_errno));
    port_up(port, mp);
    if (is_server)
        server(port);
    else
        client(port, mp, size, rounds, warmup);
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    rte_eal_cleanup();
    return 0;
}
