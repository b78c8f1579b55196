/* SPDX-License-Identifier: MIT */
/* stack.c: the inetstack instance and its poll loop. */
#include "net/stack.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void inet_params_from_config(const struct demi_config *cfg, struct inet_params *p)
{
    const struct tcp_cc_ops *cc = tcp_cc_find(cfg->tcp_cc);

    memset(p, 0, sizeof(*p));
    p->ip = cfg->local_ipv4.s_addr;
    p->mtu = cfg->mtu;
    p->arp_retries = cfg->arp_request_retries;
    p->arp_timeout_ns = (uint64_t)cfg->arp_request_timeout_s * 1000000000ull;
    p->arp_ttl_ns = (uint64_t)cfg->arp_cache_ttl_s * 1000000000ull;
    p->prefix_len = cfg->ipv4_prefix_len;
    p->ip6 = cfg->has_local_ipv6 ? &cfg->local_ipv6 : NULL;
    p->ip6_dad_transmits = ND6_DAD_TRANSMITS;
    p->pcap = cfg->pcap;
    p->pcap_snaplen = cfg->pcap_snaplen;
    p->pcap_max_bytes = (uint64_t)cfg->pcap_max_mb << 20;
    p->static_arp = cfg->arp_table;
    p->static_arp_len = cfg->arp_table_len;
    p->udp_csum_offload = cfg->udp_checksum_offload;
    p->tcp_csum_offload = cfg->tcp_checksum_offload;
    p->tcp_tso = cfg->tcp_segmentation_offload;
    p->tcp.rcvbuf = cfg->tcp_rcvbuf;
    p->tcp.sndbuf = cfg->tcp_sndbuf;
    p->tcp.rto_initial_ns = (uint64_t)cfg->tcp_rto_initial_ms * 1000000u;
    p->tcp.rto_min_ns = (uint64_t)cfg->tcp_rto_min_us * 1000u;
    p->tcp.rto_max_ns = (uint64_t)cfg->tcp_rto_max_ms * 1000000u;
    p->tcp.max_retries = cfg->tcp_max_retries;
    p->tcp.syn_retries = cfg->tcp_syn_retries;
    p->tcp.delack_ns = (uint64_t)cfg->tcp_delayed_ack_us * 1000u;
    p->tcp.delack_off = cfg->tcp_delayed_ack_us == 0;
    p->tcp.quickacks = (uint8_t)cfg->tcp_quickack_segments;
    p->tcp.msl_ns = (uint64_t)cfg->tcp_msl_ms * 1000000u;
    p->tcp.syn_backlog = cfg->tcp_syn_backlog;
    p->tcp.syn_cookies = cfg->tcp_syn_cookies;
    p->tcp.user_timeout_ns = (uint64_t)cfg->tcp_user_timeout_ms * 1000000u;
    p->tcp.ooo_max = cfg->tcp_ooo_max;
    p->tcp.max_connections = cfg->tcp_max_connections;
    p->tcp.mss = cfg->mss;
    /* A jumbo MTU and no mss of the user's: segments as large as it allows
     * (Demikernel's own files set both; 1460 would waste the MTU). */
    if (cfg->mtu > CONFIG_MTU_STANDARD && config_key_source(cfg, "inetstack_config.mss") == CONFIG_SRC_DEFAULT)
        p->tcp.mss = cfg->mtu - IPV4_HLEN - TCP_HLEN;
    /* The module's own name: a string that outlives @cfg. An unknown name
     * (the loader allows none) stays for tcp_init to refuse. */
    p->tcp.cc = cc ? cc->name : cfg->tcp_cc;
    p->tcp.sack = cfg->tcp_sack;
    p->tcp.rack = cfg->tcp_rack;
    p->tcp.timestamps = cfg->tcp_timestamps;
    p->tcp.window_scaling = cfg->tcp_window_scaling;
    p->tcp.nodelay = cfg->nodelay;
    p->tcp.keepalive = cfg->tcp_options_from_file && cfg->keepalive_enabled;
    /* Demikernel's keys in its units when given (non-zero), else ours. */
    p->tcp.keepalive_idle_ns = cfg->keepalive_time_ms ? (uint64_t)cfg->keepalive_time_ms * 1000000u
                                                      : (uint64_t)cfg->tcp_keepalive_time_s * 1000000000u;
    p->tcp.keepalive_intvl_ns =
        (uint64_t)(cfg->keepalive_interval ? cfg->keepalive_interval : cfg->tcp_keepalive_intvl_s) * 1000000000u;
    p->tcp.keepalive_probes = cfg->tcp_keepalive_probes;
}

void inet_params_default(struct inet_params *p)
{
    struct demi_config cfg;

    /* The table's defaults are checked by test_config: this cannot fail. */
    if (config_defaults(&cfg) != 0)
        abort();
    inet_params_from_config(&cfg, p);
    p->pcap = NULL;
    p->static_arp = NULL;
    p->static_arp_len = 0;
    p->ip6 = NULL;
    /* A stack built by hand sends only what its caller causes: tests that
     * want DAD set it. */
    p->ip6_dad_transmits = 0;
    config_free(&cfg);
}

void tcp_params_default(struct tcp_params *tp)
{
    struct inet_params p;

    inet_params_default(&p);
    *tp = p.tcp;
}

int inet_stack_init(struct inet_stack *s, struct netdev *dev, struct mem *mem, const struct inet_params *p)
{
    int ret;

    memset(s, 0, sizeof(*s));
    s->dev = dev;
    s->mem = mem;
    memcpy(s->mac, dev->mac, ETH_ALEN);
    s->ip = p->ip;
    s->self_martian = dev->loopback ? 0 : p->ip;
    if (p->prefix_len > 0 && p->prefix_len < 31) /* /31, /32: no broadcast (RFC 3021) */
        s->subnet_bcast = p->ip | htonl(0xffffffffu >> p->prefix_len);
    s->mtu = p->mtu && p->mtu < dev->mtu ? p->mtu : dev->mtu;
    if (s->mtu < 68) { /* RFC 791: every host must accept 68-byte datagrams */
        log_err("inetstack: MTU %u of %s is below 68", s->mtu, dev->name);
        return EINVAL;
    }
    /* Use checksum offloads only where the device has them and the
     * configuration allows (inetstack_config.*_checksum_offload). */
    s->offloads = dev->offloads & (NETDEV_OFF_IPV4_CSUM | NETDEV_OFF_RX_CSUM);
    if (p->udp_csum_offload)
        s->offloads |= dev->offloads & NETDEV_OFF_UDP_CSUM;
    if (p->tcp_csum_offload)
        s->offloads |= dev->offloads & NETDEV_OFF_TCP_CSUM;
    /* TCP segmentation offload likewise (inetstack_config.tcp_segmentation_
     * offload); a frame the device cuts has its checksums filled there
     * whatever tcp_checksum_offload says (netdev.h, DBUF_F_TX_TSO). */
    if (dev->offloads & NETDEV_OFF_TCP_TSO) {
        if (p->tcp_tso && dev->tso_max_len > 0 && dev->tso_max_segs > 1)
            s->offloads |= NETDEV_OFF_TCP_TSO;
        log_info("inetstack: %s: TCP segmentation offload %s", dev->name,
                 s->offloads & NETDEV_OFF_TCP_TSO ? "in use"
                                                  : "offered by the device, off (inetstack_config.tcp_segmentation_"
                                                    "offload)");
    }
    if (s->mtu > IPV4_HLEN + TCP_HLEN + p->tcp.mss)
        log_info("inetstack: TCP segments carry at most inetstack_config.mss = %u bytes, below the %u the MTU "
                 "of %s allows",
                 p->tcp.mss, s->mtu - IPV4_HLEN - TCP_HLEN, dev->name);
    ret = timer_wheel_init(&s->timers, INET_TIMER_SLOTS, INET_TIMER_TICK_NS, clock_now_ns());
    if (ret)
        return ret;
    ret = arp_init(s, p->arp_retries, p->arp_timeout_ns, p->arp_ttl_ns);
    if (ret) {
        timer_wheel_fini(&s->timers);
        return ret;
    }
    udp_table_init(&s->udp);
    ret = tcp_init(s, &p->tcp);
    if (ret) {
        arp_fini(s);
        timer_wheel_fini(&s->timers);
        return ret;
    }
    ret = ipv6_init(s, p->ip6, p->ip6_dad_transmits);
    if (ret) {
        tcp_fini(s);
        arp_fini(s);
        timer_wheel_fini(&s->timers);
        return ret;
    }
    for (int i = 0; i < p->static_arp_len; i++)
        arp_add_static(s, p->static_arp[i].ip.s_addr, p->static_arp[i].mac);
    if (p->pcap && p->pcap[0]) {
        char err[512];
        ret = capture_open(&s->capture, p->pcap, p->pcap_snaplen ? p->pcap_snaplen : 65535, p->pcap_max_bytes, err,
                           sizeof(err));
        if (ret) {
            log_err("%s", err);
            inet_stack_fini(s);
            return ret;
        }
    }
    return 0;
}

void inet_stack_fini(struct inet_stack *s)
{
    tcp_fini(s);
    inet_tx_flush(s);
    while (s->ntx > 0) { /* what the device would not take */
        dbuf_chain_put(s->txq[s->tx_head++ & (INET_TXQ_LEN - 1)]);
        s->ntx--;
    }
    ipv6_fini(s);
    arp_fini(s);
    timer_wheel_fini(&s->timers);
    capture_close(s->capture);
    s->capture = NULL;
}

struct dbuf *inet_alloc_hdr(struct inet_stack *s)
{
    struct dbuf *d = dbuf_alloc(&s->mem->pools[MEM_SMALL]);

    if (unlikely(!d))
        STAT_INC(s, mem_drop_nobuf);
    return d;
}

void inet_tx_flush(struct inet_stack *s)
{
    s->tx_stalled = false;
    s->ntx_bytes = 0;
    while (s->ntx > 0) {
        uint32_t head = s->tx_head & (INET_TXQ_LEN - 1);
        uint32_t n = MIN(MIN(s->ntx, (uint32_t)INET_TX_BATCH), INET_TXQ_LEN - head);
        uint16_t sent = netdev_tx_burst(s->dev, &s->txq[head], (uint16_t)n);

        s->stats.eth_tx += sent;
        s->tx_head += sent;
        s->ntx -= sent;
        if (sent < n) {
            /* The device is full: the rest keeps its place for the next
             * poll (the device drains meanwhile). */
            STAT_INC(s, eth_tx_stalled);
            s->tx_stalled = true;
            return;
        }
    }
}

void inet_tx(struct inet_stack *s, struct dbuf *frame)
{
    if ((s->ntx >= INET_TX_BATCH || s->ntx_bytes >= INET_TX_FLUSH_BYTES) && !s->tx_stalled)
        inet_tx_flush(s);
    if (unlikely(s->ntx == INET_TXQ_LEN)) {
        /* Past the queue: drop, as a full router queue would. TCP recovers. */
        STAT_INC(s, eth_drop_tx_full);
        inet_hint(s, INET_HINT_TX_FULL, 0, NULL, INET_TXQ_LEN);
        dbuf_chain_put(frame);
        return;
    }
    if (unlikely(s->capture))
        capture_frame(s->capture, frame, clock_now_ns());
    s->txq[(s->tx_head + s->ntx++) & (INET_TXQ_LEN - 1)] = frame;
    s->ntx_bytes += dbuf_chain_len(frame);
}

int inet_stack_poll(struct inet_stack *s)
{
    struct dbuf *rx[INET_RX_BURST];
    uint16_t n = netdev_rx_burst(s->dev, rx, INET_RX_BURST);
    int fired;

    if (unlikely(s->capture))
        for (uint16_t i = 0; i < n; i++)
            capture_frame(s->capture, rx[i], clock_now_ns());
    for (uint16_t i = 0; i < n; i++) {
        /* The next frame's headers, while this one goes up the stack (a
         * NIC's DMA left them in memory, not in this core's cache). While
         * more frames follow, TCP holds READABLE back for after the burst
         * (tcp_notify); the last frame's is told at once, so a burst of
         * one costs nothing. */
        s->tcp.in_rx_burst = i + 1 < n;
        if (i + 1 < n)
            __builtin_prefetch(rx[i + 1]->data);
        eth_input(s, rx[i]);
    }
    s->tcp.in_rx_burst = false;
    if (!list_empty(&s->tcp.rxready))
        tcp_rxready_flush(s);
    fired = timer_wheel_run(&s->timers, clock_now_ns());
    inet_tx_flush(s);
    /* Data held back by a full queue goes once half of it is free. */
    if (unlikely(!list_empty(&s->tcp.txwait)) && s->ntx <= INET_TXQ_LEN / 2) {
        tcp_txwait_wake(s);
        inet_tx_flush(s);
    }
    return n + fired;
}
