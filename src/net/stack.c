/* SPDX-License-Identifier: MIT */
/* stack.c: the inetstack instance and its poll loop. */
#include "net/stack.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

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
    if (s->ntx >= INET_TX_BATCH && !s->tx_stalled)
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
}

int inet_stack_poll(struct inet_stack *s)
{
    struct dbuf *rx[INET_RX_BURST];
    uint16_t n = netdev_rx_burst(s->dev, rx, INET_RX_BURST);
    int fired;

    if (unlikely(s->capture))
        for (uint16_t i = 0; i < n; i++)
            capture_frame(s->capture, rx[i], clock_now_ns());
    for (uint16_t i = 0; i < n; i++)
        eth_input(s, rx[i]);
    fired = timer_wheel_run(&s->timers, clock_now_ns());
    inet_tx_flush(s);
    return n + fired;
}
