/* SPDX-License-Identifier: MIT */
/*
 * inet.c: the PDPIX API over libdemi's own TCP/IP stack, for any netdev.
 * catloop = inet + the in-process loopback device; catnip and catpowder
 * (later) = inet + DPDK / AF_PACKET / AF_XDP. UDP now; TCP in the next step.
 *
 * A datagram is handed to the application in the buffer it arrived in (zero
 * copy), and a push of one of our buffers rides behind the headers as a
 * second segment (zero copy). Everything runs inside the caller's poll loop.
 */
#include "core/common.h"
#include "core/log.h"
#include "core/runtime.h"
#include "dev/loopback.h"
#include "libos/inet.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INET_UDP_RXQ 1024     /* datagrams queued per socket before drops */
#define INET_LOOPBACK_RING 4096

struct inet_libos {
    struct libos base;
    struct inet_stack stack;
    struct netdev *dev;
};

struct inet_sock {
    struct queue q;          /* first: the runtime sees a struct queue */
    struct inet_libos *il;
    struct udp_sock udp;
    struct list_node pops;   /* pending pops, FIFO */
    bool has_peer;           /* UDP connect() set a default destination */
    uint32_t peer_ip;
    uint16_t peer_port;
};

static struct inet_sock *isock(struct queue *q)
{
    return container_of(q, struct inet_sock, q);
}

/* Fill a pop's result with datagram @d (its reference moves to the app). */
static void inet_pop_complete(struct demi_op *op, struct dbuf *d)
{
    demi_sgarray_t *sga = &op->qr.qr_value.sga;

    sga->sga_buf = dbuf_app_handout(d);
    sga->sga_numsegs = 1;
    sga->sga_segs[0].sgaseg_buf = d->data;
    sga->sga_segs[0].sgaseg_len = d->len;
    sga->sga_addr.sin_family = AF_INET;
    sga->sga_addr.sin_addr.s_addr = d->meta32;
    sga->sga_addr.sin_port = (uint16_t)d->meta64;
    op_complete(&rt.ops, op, DEMI_OPC_POP, 0);
}

/* The stack queued a datagram: serve the oldest waiting pop at once. */
static void inet_udp_readable(struct udp_sock *u)
{
    struct inet_sock *s = u->owner;
    struct demi_op *op;
    struct dbuf *d;

    if (list_empty(&s->pops))
        return;
    op = list_entry(list_first(&s->pops), struct demi_op, link);
    d = udp_recv(u);
    inet_pop_complete(op, d);
}

static int inet_socket(struct libos *los, int domain, int type, int protocol, struct queue **q_out)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);
    struct inet_sock *s;

    (void)domain;
    (void)protocol;
    if (type != SOCK_DGRAM)
        return ENOTSUP; /* TCP arrives with the TCP module */
    s = calloc(1, sizeof(*s));
    if (!s)
        return ENOMEM;
    if (udp_sock_init(&s->udp, INET_UDP_RXQ)) {
        free(s);
        return ENOMEM;
    }
    s->udp.on_readable = inet_udp_readable;
    s->udp.owner = s;
    s->il = il;
    s->q.kind = QUEUE_UDP;
    s->q.libos = los;
    list_init(&s->pops);
    *q_out = &s->q;
    return 0;
}

static int inet_bind(struct queue *q, const struct sockaddr_in *addr)
{
    struct inet_sock *s = isock(q);
    return udp_bind(&s->il->stack, &s->udp, addr->sin_addr.s_addr, addr->sin_port);
}

static int inet_listen(struct queue *q, int backlog)
{
    (void)q;
    (void)backlog;
    return ENOTSUP;
}

static int inet_accept(struct queue *q, struct demi_op *op)
{
    (void)q;
    (void)op;
    return ENOTSUP;
}

static int inet_connect(struct queue *q, struct demi_op *op, const struct sockaddr_in *addr)
{
    struct inet_sock *s = isock(q);

    /* UDP: a default destination; nothing goes on the wire. */
    s->has_peer = true;
    s->peer_ip = addr->sin_addr.s_addr;
    s->peer_port = addr->sin_port;
    op_complete(&rt.ops, op, DEMI_OPC_CONNECT, 0);
    return 0;
}

static int inet_close(struct queue *q)
{
    struct inet_sock *s = isock(q);
    struct list_node *pos, *tmp;

    list_for_each_safe(pos, tmp, &s->pops) {
        op_complete(&rt.ops, list_entry(pos, struct demi_op, link), DEMI_OPC_FAILED, ECANCELED);
    }
    udp_sock_fini(&s->il->stack, &s->udp);
    free(s);
    return 0;
}

/* The payload of a push as a buffer the stack may keep: our own buffer (or a
 * slice of it) without copying, foreign memory copied. */
static struct dbuf *inet_payload(const demi_sgarray_t *sga, struct dbuf *d)
{
    const uint8_t *p = sga->sga_segs[0].sgaseg_buf;
    uint32_t len = sga->sga_segs[0].sgaseg_len;
    struct dbuf *copy;

    if (d) {
        if (p == d->data && len == d->len) {
            dbuf_ref(d);
            return d;
        }
        return dbuf_slice(&rt.mem, d, (uint32_t)(p - d->data), len);
    }
    copy = mem_alloc(&rt.mem, len);
    if (copy)
        memcpy(copy->data, p, len);
    return copy;
}

static int inet_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                     const struct sockaddr_in *dest)
{
    struct inet_sock *s = isock(q);
    struct inet_stack *st = &s->il->stack;
    struct dbuf *payload;
    uint32_t ip;
    uint16_t port;
    int ret;

    if (dest) {
        ip = dest->sin_addr.s_addr;
        port = dest->sin_port;
    } else if (s->has_peer) {
        ip = s->peer_ip;
        port = s->peer_port;
    } else {
        return EDESTADDRREQ;
    }
    if (sga->sga_segs[0].sgaseg_len > udp_max_payload(st))
        return EMSGSIZE; /* we never fragment */
    if (port == 0 || ip == 0)
        return EINVAL;
    payload = inet_payload(sga, d);
    if (!payload)
        return ENOBUFS;
    ret = udp_output(st, &s->udp, payload, ip, port);
    if (ret)
        return ret;
    /* Accepted into the send path: complete now. The stack holds its own
     * reference on the buffer until the device is done with it. */
    op_complete(&rt.ops, op, DEMI_OPC_PUSH, 0);
    return 0;
}

static int inet_pop(struct queue *q, struct demi_op *op)
{
    struct inet_sock *s = isock(q);
    struct dbuf *d;

    if (list_empty(&s->pops) && (d = udp_recv(&s->udp)) != NULL) {
        inet_pop_complete(op, d);
        return 0;
    }
    list_add_tail(&s->pops, &op->link);
    return 0;
}

static int inet_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    (void)q;
    (void)level;
    (void)optname;
    (void)optval;
    (void)optlen;
    return ENOPROTOOPT;
}

static int inet_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    (void)q;
    (void)level;
    (void)optname;
    (void)optval;
    (void)optlen;
    return ENOPROTOOPT;
}

static int inet_getpeername(struct queue *q, struct sockaddr_in *addr)
{
    struct inet_sock *s = isock(q);

    if (!s->has_peer)
        return ENOTCONN;
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = s->peer_ip;
    addr->sin_port = s->peer_port;
    return 0;
}

struct inet_stack *inet_libos_stack(struct libos *los)
{
    return &container_of(los, struct inet_libos, base)->stack;
}

static int inet_poll(struct libos *los)
{
    return inet_stack_poll(&container_of(los, struct inet_libos, base)->stack);
}

static void inet_destroy(struct libos *los)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);

    if (getenv("DEMI_STATS")) {
        fprintf(stderr, "libdemi: inetstack counters (%s):\n", il->dev->name);
        inet_stats_print(stderr, &il->stack.stats, 1);
    }
    inet_stack_fini(&il->stack);
    netdev_destroy(il->dev);
    free(il);
}

static const struct libos_ops inet_ops = {
    .name = "inet",
    .socket = inet_socket,
    .bind = inet_bind,
    .listen = inet_listen,
    .accept = inet_accept,
    .connect = inet_connect,
    .close = inet_close,
    .push = inet_push,
    .pop = inet_pop,
    .setsockopt = inet_setsockopt,
    .getsockopt = inet_getsockopt,
    .getpeername = inet_getpeername,
    .poll = inet_poll,
    .block = NULL,
    .destroy = inet_destroy,
};

/* The stack's parameters from the configuration. */
static void inet_params_from(const struct demi_config *cfg, struct inet_params *p)
{
    memset(p, 0, sizeof(*p));
    p->ip = cfg->local_ipv4.s_addr;
    p->mtu = cfg->mtu;
    p->arp_retries = cfg->arp_request_retries;
    p->arp_timeout_ns = (uint64_t)cfg->arp_request_timeout_s * 1000000000ull;
    p->arp_ttl_ns = (uint64_t)cfg->arp_cache_ttl_s * 1000000000ull;
    p->static_arp = cfg->arp_table;
    p->static_arp_len = cfg->arp_table_len;
    p->udp_csum_offload = cfg->udp_checksum_offload;
}

/* Start the inet libOS over @dev (ownership moves to the libOS). */
static int inet_create(const struct demi_config *cfg, struct netdev *dev, struct libos **out)
{
    struct inet_libos *il = calloc(1, sizeof(*il));
    struct inet_params p;
    int ret;

    if (!il) {
        netdev_destroy(dev);
        return ENOMEM;
    }
    inet_params_from(cfg, &p);
    ret = inet_stack_init(&il->stack, dev, &rt.mem, &p);
    if (ret) {
        netdev_destroy(dev);
        free(il);
        return ret;
    }
    il->dev = dev;
    il->base.ops = &inet_ops;
    *out = &il->base;
    return 0;
}

int catloop_create(const struct demi_config *cfg, struct libos **out)
{
    /* A locally administered unicast MAC when the configuration gives none. */
    static const uint8_t default_mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    struct netdev *dev;

    if (!cfg->has_local_ipv4) {
        log_err("LIBOS=catloop needs demikernel.local_ipv4_addr (in CONFIG_PATH or "
                "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR)");
        return EINVAL;
    }
    dev = loopback_create(&rt.mem, cfg->has_local_mac ? cfg->local_mac : default_mac, cfg->mtu,
                          INET_LOOPBACK_RING);
    if (!dev)
        return ENOMEM;
    return inet_create(cfg, dev, out);
}
