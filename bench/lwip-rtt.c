/* SPDX-License-Identifier: MIT */
/*
 * lwip-rtt: the lwIP peer row of bench/run-bench.sh. The same TCP round trip
 * as demi-rtt over catnip memif, through a packaged user-space stack instead
 * of libdemi's: Debian's liblwip (lwIP 2.1.3) on a DPDK net_memif port, raw
 * TCP API, one thread busy-polling.
 *
 *   lwip-rtt EAL_ARGS -- --server IP PORT [--proto tcp] [--msgs N --warmup N]
 *   lwip-rtt EAL_ARGS -- --client IP PORT [--proto tcp] --size N --msgs N --warmup N [--local IP]
 *
 * EAL_ARGS name one port as for bench/memif-pingpong (e.g. "-l 0 --no-huge
 * --no-pci --file-prefix=P --vdev=net_memif0,role=server,socket=/tmp/S.sock,
 * mac=02:00:00:00:01:01"); start the server (memif role=server) first. The
 * server takes IP (a /24) and echoes every byte back; it exits when the
 * client closes. The client takes --local IP (default: the server's address
 * plus one), sends SIZE bytes, polls until SIZE bytes are back, checks the
 * first and last byte of every piece, and times the round with
 * CLOCK_MONOTONIC: WARMUP rounds, then MSGS measured ones. ARP runs over the
 * memif link. Every wait is bounded (10 s without progress; the server's
 * wait for its connection, 60 s): a silent peer is an error, exit 1.
 *
 * Threading: Debian builds lwIP with NO_SYS=0 and LWIP_TCPIP_CORE_LOCKING=1
 * (/usr/include/lwip/lwipopts.h, for the Hurd). We call lwip_init(), not
 * tcpip_init(): no tcpip thread exists, so this thread is the stack's only
 * user. It hands frames to ethernet_input() itself (tcpip_input() would post
 * them to the absent thread's mailbox) and runs lwIP's timers with
 * sys_check_timeouts() in the same loop. The core-locking assertions
 * (sys_check_core_locking) apply only once a tcpip thread has marked itself,
 * so they pass without taking the lock.
 *
 * Output (client): "lwip-rtt: RESULT stack=lwip-2.1.3 proto=tcp size=B
 * msgs=N p50_ns=.. p99_ns=.. p999_ns=.. mean_ns=.. min_ns=.. max_ns=..".
 */
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* glibc's struct ip6_hdr (netinet/ip6.h, through rte_ip.h) and lwIP's share
 * a tag; neither is used here, so lwIP's is renamed in this file. */
#define ip6_hdr lwip_ip6_hdr
#include "lwip/init.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#undef ip6_hdr

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtt_common.h"

#define USAGE                                                                              \
    "usage: lwip-rtt EAL_ARGS -- --server IP PORT [--proto tcp] [--msgs N] [--warmup N]\n" \
    "       lwip-rtt EAL_ARGS -- --client IP PORT [--proto tcp] --size N --msgs N --warmup N [--local IP]"

#define BURST 32
#define RING 1024
#define MTU 1500
#define SEC_NS 1000000000ull
#define IO_TIMEOUT_NS (10 * SEC_NS)
#define FIRST_TIMEOUT_NS (60 * SEC_NS)
#define CONNECT_TRIES 50

static struct {
    uint16_t port;
    struct rte_mempool *mp;
    int port_started;
    struct netif netif;
} dev;

/* The one connection, either side. */
static struct {
    struct tcp_pcb *pcb;
    int connected;
    int peer_closed;
    err_t error; /* from the err callback; the pcb is gone then */
    int failed;
    /* Server: bytes received but not yet taken by tcp_write (send buffer full). */
    uint8_t *backlog;
    size_t blen, bcap;
    uint64_t echoed;
    /* Client: the round in flight. */
    uint64_t round;
    uint32_t size, got;
    uint64_t t1;
} conn;

/* lwip_strerr() is empty without LWIP_DEBUG (Debian's build): go through errno. */
static const char *lwip_err(err_t e)
{
    return strerror(err_to_errno(e));
}

/* ------------------------------------------------------------------ device */

static void dev_cleanup(void)
{
    if (dev.port_started) {
        rte_delay_ms(10); /* let our last frames leave before the port stops */
        rte_eth_dev_stop(dev.port);
        rte_eth_dev_close(dev.port);
    }
    rte_eal_cleanup();
}

static void port_up(void)
{
    struct rte_eth_conf conf;
    int rc;

    memset(&conf, 0, sizeof(conf));
    if ((rc = rte_eth_dev_configure(dev.port, 1, 1, &conf)) != 0)
        rtt_die("rte_eth_dev_configure: %s", strerror(-rc));
    if ((rc = rte_eth_rx_queue_setup(dev.port, 0, RING, rte_eth_dev_socket_id(dev.port), NULL, dev.mp)) != 0)
        rtt_die("rte_eth_rx_queue_setup: %s", strerror(-rc));
    if ((rc = rte_eth_tx_queue_setup(dev.port, 0, RING, rte_eth_dev_socket_id(dev.port), NULL)) != 0)
        rtt_die("rte_eth_tx_queue_setup: %s", strerror(-rc));
    if ((rc = rte_eth_dev_start(dev.port)) != 0)
        rtt_die("rte_eth_dev_start: %s (a memif client needs its server running)", strerror(-rc));
    dev.port_started = 1;
}

static int link_up(void)
{
    struct rte_eth_link link;

    memset(&link, 0, sizeof(link));
    rte_eth_link_get_nowait(dev.port, &link);
    return link.link_status == RTE_ETH_LINK_UP;
}

static void wait_link(void)
{
    for (int i = 0; i < 100; i++) { /* 10 s */
        if (link_up())
            return;
        rte_delay_ms(100);
    }
    rtt_die("link still down after 10 s (is the memif server running?)");
}

/* lwIP's linkoutput: the frame (one pbuf here: LWIP_NETIF_TX_SINGLE_PBUF)
 * is copied into an mbuf and goes straight to the port. */
static err_t link_output(struct netif *nif, struct pbuf *p)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(dev.mp);
    uint64_t give_up = 0;
    char *d;

    (void)nif;
    if (m == NULL)
        return ERR_MEM;
    d = rte_pktmbuf_append(m, p->tot_len);
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return ERR_BUF;
    }
    pbuf_copy_partial(p, d, p->tot_len, 0);
    while (rte_eth_tx_burst(dev.port, 0, &m, 1) != 1) {
        uint64_t now = rtt_now_ns();

        /* The server's link is down until the client connects: lwIP's
         * announcements (gratuitous ARP) before that are dropped. */
        if (!link_up()) {
            rte_pktmbuf_free(m);
            return ERR_IF;
        }
        if (give_up == 0)
            give_up = now + SEC_NS;
        else if (now > give_up)
            rtt_die("tx ring full for 1 s (peer not reading)");
    }
    return ERR_OK;
}

static err_t netif_setup(struct netif *nif)
{
    struct rte_ether_addr mac;
    int rc = rte_eth_macaddr_get(dev.port, &mac);

    if (rc != 0)
        rtt_die("rte_eth_macaddr_get: %s", strerror(-rc));
    nif->name[0] = 'm';
    nif->name[1] = 'f';
    nif->mtu = MTU;
    nif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(nif->hwaddr, mac.addr_bytes, ETH_HWADDR_LEN);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    nif->output = etharp_output;
    nif->output_ip6 = ethip6_output;
    nif->linkoutput = link_output;
    return ERR_OK;
}

static void stack_up(struct in_addr local)
{
    ip4_addr_t ip, mask, gw;

    lwip_init();
    ip4_addr_set_u32(&ip, local.s_addr);
    ip4_addr_set_u32(&mask, htonl(0xffffff00u));
    ip4_addr_set_zero(&gw);
    /* ethernet_input, not tcpip_input: no tcpip thread (see the top). */
    if (netif_add(&dev.netif, &ip, &mask, &gw, NULL, netif_setup, ethernet_input) == NULL)
        rtt_die("netif_add failed");
    netif_set_default(&dev.netif);
    netif_set_up(&dev.netif);
    netif_set_link_up(&dev.netif);
}

/* One turn of the loop: received frames into lwIP, each copied into one
 * PBUF_RAM pbuf, then lwIP's timers. Returns the number of frames.
 * Not PBUF_POOL: in Debian's liblwip a pool element is 616 bytes (what a
 * 536-byte MSS over IPv4 needs) while pbuf_alloc puts up to 1536 bytes
 * (TCP_MSS 1460) in one; ASan finds the heap overflow for any frame above
 * 592 bytes. */
static unsigned poll_once(void)
{
    struct rte_mbuf *pkts[BURST];
    uint16_t n = rte_eth_rx_burst(dev.port, 0, pkts, BURST);

    for (uint16_t i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        uint32_t len = rte_pktmbuf_pkt_len(m);
        struct pbuf *p = len <= 0xffff ? pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM) : NULL;

        if (p != NULL) {
            uint16_t off = 0;

            for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
                pbuf_take_at(p, rte_pktmbuf_mtod(s, const void *), rte_pktmbuf_data_len(s), off);
                off = (uint16_t)(off + rte_pktmbuf_data_len(s));
            }
        }
        rte_pktmbuf_free(m);
        if (p != NULL && dev.netif.input(p, &dev.netif) != ERR_OK)
            pbuf_free(p);
    }
    sys_check_timeouts();
    return n;
}

/* Poll until *@done, dying after @timeout_ns without a frame. */
static void poll_until(const int *done, uint64_t timeout_ns, const char *what)
{
    uint64_t last = rtt_now_ns();

    while (!*done) {
        if (conn.failed)
            rtt_die("%s: connection failed: %s", what, lwip_err(conn.error));
        if (poll_once() > 0) {
            last = rtt_now_ns();
        } else if (rtt_now_ns() - last > timeout_ns) {
            rtt_die("%s: nothing from the peer for %llu s", what, (unsigned long long)(timeout_ns / SEC_NS));
        }
    }
}

/* ------------------------------------------------------------- connection */

static void on_err(void *arg, err_t err)
{
    (void)arg;
    conn.pcb = NULL; /* lwIP has freed it */
    conn.error = err;
    conn.failed = 1;
}

/* As much of @len bytes as the send buffer takes, copied into lwIP's
 * segments; returns how much. */
static size_t write_some(const uint8_t *b, size_t len)
{
    size_t n = len;

    if (n > tcp_sndbuf(conn.pcb))
        n = tcp_sndbuf(conn.pcb);
    if (n > 0xffff)
        n = 0xffff;
    if (n == 0 || tcp_write(conn.pcb, b, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
        return 0; /* full (bytes or segments): the next ACK makes room */
    return n;
}

/* ------------------------------------------------------------------ server */

static void backlog_append(const uint8_t *b, size_t len)
{
    if (conn.blen + len > conn.bcap) {
        size_t cap = conn.bcap ? conn.bcap : 65536;

        while (cap < conn.blen + len)
            cap *= 2;
        conn.backlog = realloc(conn.backlog, cap);
        if (conn.backlog == NULL)
            rtt_die("out of memory");
        conn.bcap = cap;
    }
    memcpy(conn.backlog + conn.blen, b, len);
    conn.blen += len;
}

static void flush_backlog(void)
{
    size_t n;

    while (conn.blen > 0 && (n = write_some(conn.backlog, conn.blen)) > 0) {
        memmove(conn.backlog, conn.backlog + n, conn.blen - n);
        conn.blen -= n;
    }
    tcp_output(conn.pcb); /* a no-op inside tcp_input, which sends after the callbacks */
}

static err_t srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) { /* the client is done */
        conn.peer_closed = 1;
        return ERR_OK;
    }
    /* Echo each piece straight from the pbuf; what does not fit waits. */
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *b = q->payload;
        size_t len = q->len, n = conn.blen == 0 ? write_some(b, len) : 0;

        if (n < len)
            backlog_append(b + n, len - n);
    }
    conn.echoed += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    tcp_output(pcb);
    return ERR_OK;
}

static err_t srv_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)pcb;
    (void)len;
    flush_backlog();
    return ERR_OK;
}

static err_t srv_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tcp_pcb *listener = arg;

    if (err != ERR_OK || pcb == NULL)
        return ERR_VAL;
    if (conn.pcb != NULL) { /* one connection per run */
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    conn.pcb = pcb;
    conn.connected = 1;
    tcp_nagle_disable(pcb);
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, srv_recv);
    tcp_sent(pcb, srv_sent);
    tcp_err(pcb, on_err);
    tcp_close(listener);
    return ERR_OK;
}

static void server(const struct rtt_opts *o)
{
    struct tcp_pcb *pcb = tcp_new(), *lpcb;
    ip_addr_t any = IPADDR4_INIT(0);
    err_t e;
    uint64_t end, last;

    if (pcb == NULL)
        rtt_die("tcp_new failed");
    if ((e = tcp_bind(pcb, &any, ntohs(o->addr.sin_port))) != ERR_OK)
        rtt_die("tcp_bind: %s", lwip_err(e));
    lpcb = tcp_listen(pcb);
    if (lpcb == NULL)
        rtt_die("tcp_listen failed");
    tcp_arg(lpcb, lpcb);
    tcp_accept(lpcb, srv_accept);
    printf("lwip-rtt: listening on tcp port %u\n", (unsigned)ntohs(o->addr.sin_port));
    fflush(stdout);

    poll_until(&conn.connected, FIRST_TIMEOUT_NS, "accept");
    poll_until(&conn.peer_closed, IO_TIMEOUT_NS, "echo");
    /* Our FIN, then a short linger for the client's ACK of it. */
    if (conn.pcb != NULL && tcp_close(conn.pcb) != ERR_OK)
        tcp_abort(conn.pcb);
    conn.pcb = NULL;
    end = rtt_now_ns() + SEC_NS;
    last = rtt_now_ns();
    while (rtt_now_ns() < end && rtt_now_ns() - last < 50000000ull)
        if (poll_once() > 0)
            last = rtt_now_ns();
    printf("lwip-rtt: server echoed %llu bytes\n", (unsigned long long)conn.echoed);
}

/* ------------------------------------------------------------------ client */

/* The first and last byte of each piece are checked, as demi-rtt does. */
static err_t cli_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p == NULL) {
        conn.peer_closed = 1;
        return ERR_OK;
    }
    if (p->tot_len > conn.size - conn.got)
        rtt_die("%u bytes back, only %u outstanding", (unsigned)p->tot_len, conn.size - conn.got);
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *b = q->payload;

        if (q->len == 0)
            continue;
        if (b[0] != rtt_pattern(conn.round, conn.got) ||
            b[q->len - 1] != rtt_pattern(conn.round, conn.got + q->len - 1u))
            rtt_die("round %llu: wrong bytes echoed at offset %u", (unsigned long long)conn.round, conn.got);
        conn.got += q->len;
    }
    if (conn.got == conn.size)
        conn.t1 = rtt_now_ns();
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t cli_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        return err;
    tcp_nagle_disable(pcb);
    conn.connected = 1;
    return ERR_OK;
}

/* Connect, again every 100 ms while refused (the server not listening yet). */
static void connect_server(const struct rtt_opts *o)
{
    ip_addr_t dst = IPADDR4_INIT(o->addr.sin_addr.s_addr);

    for (int attempt = 0;; attempt++) {
        err_t e;

        conn.failed = 0;
        conn.pcb = tcp_new();
        if (conn.pcb == NULL)
            rtt_die("tcp_new failed");
        tcp_recv(conn.pcb, cli_recv);
        tcp_err(conn.pcb, on_err);
        if ((e = tcp_connect(conn.pcb, &dst, ntohs(o->addr.sin_port), cli_connected)) != ERR_OK)
            rtt_die("tcp_connect: %s", lwip_err(e));
        {
            uint64_t last = rtt_now_ns();

            while (!conn.connected && !conn.failed) {
                if (poll_once() > 0)
                    last = rtt_now_ns();
                else if (rtt_now_ns() - last > IO_TIMEOUT_NS)
                    rtt_die("connect: no answer within 10 s");
            }
        }
        if (conn.connected)
            return;
        if (conn.error != ERR_RST || attempt >= CONNECT_TRIES)
            rtt_die("connect: %s", lwip_err(conn.error));
        usleep(100000);
    }
}

static void client(const struct rtt_opts *o)
{
    uint64_t total = (uint64_t)o->warmup + o->msgs;
    uint64_t *samples = calloc(o->msgs, sizeof(*samples));
    uint8_t *tx = malloc(o->size);

    if (samples == NULL || tx == NULL)
        rtt_die("out of memory");
    wait_link();
    connect_server(o);
    conn.size = o->size;
    for (uint64_t r = 0; r < total; r++) {
        uint64_t t0, last;
        uint32_t sent = 0;

        for (uint32_t i = 0; i < o->size; i++)
            tx[i] = rtt_pattern(r, i);
        conn.round = r;
        conn.got = 0;
        conn.t1 = 0;
        t0 = rtt_now_ns();
        last = t0;
        /* Send what the buffer takes, poll (ACKs make room, the echo starts
         * coming back), until all is sent and all is back. */
        while (conn.got < o->size) {
            if (sent < o->size) {
                sent += (uint32_t)write_some(tx + sent, o->size - sent);
                tcp_output(conn.pcb);
            }
            if (poll_once() > 0)
                last = rtt_now_ns();
            else if (rtt_now_ns() - last > IO_TIMEOUT_NS)
                rtt_die("round %llu: %u of %u bytes back, nothing for 10 s", (unsigned long long)r, conn.got, o->size);
            if (conn.failed)
                rtt_die("round %llu: connection failed: %s", (unsigned long long)r, lwip_err(conn.error));
            if (conn.peer_closed)
                rtt_die("the server closed the connection");
        }
        if (r >= o->warmup)
            samples[r - o->warmup] = conn.t1 - t0;
    }
    /* Our FIN; the server answers with its own, which lwIP ACKs at once. */
    if (tcp_close(conn.pcb) != ERR_OK)
        rtt_die("tcp_close failed");
    poll_until(&conn.peer_closed, IO_TIMEOUT_NS, "close");
    printf("lwip-rtt: RESULT stack=lwip-%s proto=tcp size=%u msgs=%u ", LWIP_VERSION_STRING, o->size, o->msgs);
    rtt_print_stats(samples, o->msgs);
    free(samples);
    free(tx);
}

/* ------------------------------------------------------------------- main */

/* rtt_parse's options, plus --local IP (taken out here) and --proto tcp by
 * default (the bench passes it; only TCP is measured). */
static void parse(int argc, char **argv, struct rtt_opts *o, struct in_addr *local)
{
    char **args = calloc((size_t)argc + 3, sizeof(*args));
    const char *local_s = NULL;
    int n = 0, proto = 0;

    if (args == NULL)
        rtt_die("out of memory");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--local") == 0) {
            if (i + 1 >= argc)
                rtt_die("--local needs an address\n%s", USAGE);
            local_s = argv[++i];
            continue;
        }
        if (i > 0 && strcmp(argv[i], "--proto") == 0)
            proto = 1;
        args[n++] = argv[i];
    }
    if (!proto) {
        args[n++] = "--proto";
        args[n++] = "tcp";
    }
    rtt_parse(n, args, o, USAGE, 0);
    free(args);
    if (o->udp)
        rtt_die("--proto udp: lwip-rtt measures TCP only");
    if (o->server) {
        *local = o->addr.sin_addr;
    } else if (local_s != NULL) {
        if (inet_pton(AF_INET, local_s, local) != 1)
            rtt_die("bad --local address '%s'", local_s);
    } else {
        uint32_t a = ntohl(o->addr.sin_addr.s_addr) + 1;

        if ((a & 0xff) == 0 || (a & 0xff) == 0xff)
            rtt_die("give --local IP (the server's address plus one is not a host)");
        local->s_addr = htonl(a);
    }
}

int main(int argc, char **argv)
{
    struct rtt_opts o;
    struct in_addr local;
    int used;

    rtt_prog = "lwip-rtt";
    used = rte_eal_init(argc, argv);
    if (used < 0)
        rtt_die("rte_eal_init failed: %s", rte_strerror(rte_errno));
    atexit(dev_cleanup);
    argc -= used;
    argv += used; /* argv[0] is the program name again */
    parse(argc, argv, &o, &local);
    if (rte_eth_dev_count_avail() != 1)
        rtt_die("need exactly one DPDK port (a --vdev=net_memif0,...), found %u", (unsigned)rte_eth_dev_count_avail());
    dev.port = (uint16_t)rte_eth_find_next(0);
    dev.mp = rte_pktmbuf_pool_create("lwip_rtt", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (dev.mp == NULL)
        rtt_die("rte_pktmbuf_pool_create: %s", rte_strerror(rte_errno));
    srand((unsigned)getpid()); /* LWIP_RAND: the client's local port */
    port_up();
    stack_up(local);
    if (o.server)
        server(&o);
    else
        client(&o);
    return 0;
}
