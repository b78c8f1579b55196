/* SPDX-License-Identifier: MIT */
/*
 * inet.c: the PDPIX API over libdemi's own TCP/IP stack, for any netdev.
 * catloop = inet + the in-process loopback device (catloop.c), cattest =
 * inet + the scripted device (cattest.c), catnip = inet + DPDK (catnip.c),
 * catpowder = inet + AF_PACKET or AF_XDP (catpowder.c).
 *
 * Received data is handed to the application in the buffer it arrived in
 * (zero copy), and a push of one of our buffers rides behind the headers as
 * a slice (zero copy). The stack reports progress through upcalls (UDP: a
 * datagram queued; TCP: event bits) and the libOS completes the waiting ops
 * right there. Everything runs inside the caller's poll loop. What the real
 * devices share (the exit drain, fault injection) is in inet_devices.c.
 */
#include "core/common.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "core/sigbuf.h"
#include "core/clock.h"
#include "dev/fault.h"
#include "libos/inet.h"
#include "libos/inet_int.h"
#include "libos/stats_shm.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const struct libos_ops inet_ops;

/* Fill a pop's result with @d (its reference moves to the app) and @addr
 * in sga_addr; a datagram's source (@is_source) also stays with the buffer
 * whole, for demi_sga_source. */
void inet_pop_complete(struct demi_op *op, struct dbuf *d, const struct inet_sockaddr *addr, bool is_source)
{
    demi_sgarray_t *sga = &op->qr.qr_value.sga;

    sga->sga_buf = dbuf_app_handout(d);
    sga->sga_numsegs = 1;
    sga->sga_segs[0].sgaseg_buf = d->data;
    sga->sga_segs[0].sgaseg_len = d->len;
    if (is_source) {
        inet_sockaddr_to_sga(sga, d, addr);
    } else {
        struct sockaddr_in sin; /* sga is packed: no pointer into it */
        inet_sockaddr_to_sin(addr, &sin);
        sga->sga_addr = sin;
    }
    op_complete(&rt.ops, op, DEMI_OPC_POP, 0);
}

/* A UDP pop of datagram @d, whose source the stack left in meta32/meta64
 * (IPv6: udp_src6, read before inet_pop_complete keeps the whole address
 * in the same headroom). An IPv4 source on an AF_INET6 socket is
 * ::ffff:a.b.c.d. No scope: one link (docs/architecture.md). */
static void inet_udp_pop_complete(struct inet_sock *s, struct demi_op *op, struct dbuf *d)
{
    struct inet_sockaddr src;
    struct in6_addr ip6;

    if (udp_src6(d, &ip6))
        inet_sockaddr_set_v6(&src, &ip6, (uint16_t)d->meta64, 0);
    else
        inet_sockaddr_set_v4(&src, s->q.family, d->meta32, (uint16_t)d->meta64);
    inet_pop_complete(op, d, &src, true);
}

/* An AF_INET6 UDP socket's IPV6_V6ONLY (the api's q.v6only) reaches the
 * stack before the bind that fixes it: demi_bind's, or connect's or
 * push's implicit one. */
static void inet_udp_v6only_sync(struct inet_sock *s)
{
    if (s->udp.v6 && !s->udp.local_port)
        s->udp.v6only = s->q.v6only;
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
    inet_udp_pop_complete(s, op, d);
}

static int inet_socket(struct libos *los, int domain, int type, int protocol, struct queue **q_out)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);
    struct inet_sock *s;

    (void)protocol;
    if (domain != AF_INET && domain != AF_INET6)
        return EAFNOSUPPORT; /* the api passes these two only */
    s = objpool_get(&il->socks);
    if (!s)
        return ENOBUFS;
    s->il = il;
    s->q.libos = los;
    s->q.family = (uint8_t)domain;
    s->q.v6only = false;
    list_init(&s->pops);
    list_init(&s->pushes);
    list_init(&s->accepts);
    if (type == SOCK_STREAM) {
        s->q.kind = QUEUE_TCP;
        /* Every pcb in use (tcp.max_connections): ENOBUFS, Linux's
         * answer when a socket cannot get its memory (socket(2)). */
        s->pcb = tcp_pcb_new(&il->stack, s, inet_tcp_upcall);
        if (!s->pcb) {
            objpool_put(&il->socks, s);
            return ENOBUFS;
        }
        s->pcb->v6 = domain == AF_INET6; /* until an IPv4(-mapped) bind or connect makes it IPv4 */
    } else {
        s->q.kind = QUEUE_UDP;
        if (udp_sock_init(&s->udp, INET_UDP_RXQ)) {
            objpool_put(&il->socks, s);
            return ENOMEM;
        }
        s->udp.on_readable = inet_udp_readable;
        s->udp.owner = s;
        if (domain == AF_INET6)
            udp_sock_set_v6(&s->udp, false); /* IPV6_V6ONLY: inet_udp_v6only_sync */
    }
    *q_out = &s->q;
    return 0;
}

static int inet_bind(struct queue *q, const struct inet_sockaddr *addr)
{
    struct inet_sock *s = isock(q);
    uint32_t ip;
    uint16_t port;

    if (s->pcb && s->q.family == AF_INET6) {
        /* An IPv6 socket: an IPv6 address, or an IPv4-mapped one, which
         * makes it an IPv4 socket that reports mapped addresses (Linux). */
        s->pcb->v6only = s->q.v6only;
        if (inet_sockaddr_v6(addr)) {
            s->pcb->v6 = true;
            return tcp_bind6(s->pcb, &addr->sin6.sin6_addr, addr->sin6.sin6_port);
        }
        if (!inet_sockaddr_v4(addr, &ip, &port))
            return EAFNOSUPPORT;
        if (s->pcb->local_port)
            return EINVAL;
        s->pcb->v6 = false;
        return tcp_bind(s->pcb, ip, port);
    }
    if (!s->pcb && s->udp.v6) { /* [::], one of ours, or IPv4-mapped (udp_bind6) */
        inet_udp_v6only_sync(s);
        return udp_bind6(&s->il->stack, &s->udp, &addr->sin6.sin6_addr, addr->sin6.sin6_port);
    }
    if (!inet_sockaddr_v4(addr, &ip, &port))
        return EAFNOSUPPORT;
    if (s->pcb)
        return tcp_bind(s->pcb, ip, port);
    return udp_bind(&s->il->stack, &s->udp, ip, port);
}

static int inet_listen(struct queue *q, int backlog)
{
    isock(q)->pcb->v6only = q->v6only; /* IPV6_V6ONLY as it is at listen() */
    return tcp_listen(isock(q)->pcb, (uint32_t)backlog);
}

static int inet_accept(struct queue *q, struct demi_op *op)
{
    struct inet_sock *s = isock(q);

    if (s->pcb->state != TCPS_LISTEN)
        return EINVAL;
    list_add_tail(&s->accepts, &op->link);
    inet_tcp_serve_accepts(s);
    return 0;
}

static int inet_connect(struct queue *q, struct demi_op *op, const struct inet_sockaddr *addr)
{
    struct inet_sock *s = isock(q);
    uint32_t ip = 0;
    uint16_t port = 0;

    clock_fresh_ns(); /* segments may leave now: timers and timestamps from now */

    if (addr->sa.sa_family == AF_UNSPEC && !s->pcb) {
        /* UDP connect(AF_UNSPEC): no default peer any more, datagrams from
         * anyone again. The port stays (Linux frees one connect took). */
        s->has_peer = false;
        s->udp.connected = false;
        op_complete(&rt.ops, op, DEMI_OPC_CONNECT, 0);
        return 0;
    }
    if (s->pcb) {
        int ret;
        if (s->connect_op)
            return EALREADY;
        if (inet_sockaddr_v6(addr)) {
            if (!s->pcb->v6)
                return ENETUNREACH; /* bound to an IPv4 address */
            ret = tcp_connect6(s->pcb, &addr->sin6.sin6_addr, addr->sin6.sin6_port);
        } else if (inet_sockaddr_v4(addr, &ip, &port)) {
            /* An IPv4(-mapped) peer: an IPv4 connection, unless the socket
             * was bound to an IPv6 address. */
            if (s->pcb->v6 && s->pcb->local_port && !IN6_IS_ADDR_UNSPECIFIED(&s->pcb->local_ip6))
                return ENETUNREACH;
            s->pcb->v6 = false;
            ret = tcp_connect(s->pcb, ip, port);
        } else {
            return EAFNOSUPPORT;
        }
        if (ret)
            return ret;
        s->connect_op = op;
        return 0;
    }
    /* UDP: a default destination; nothing goes on the wire. An unbound
     * socket gets its ephemeral port now, as on Linux (getsockname shows
     * it, and replies can come before the first push). An AF_INET6 one
     * (on [::]) takes an IPv6 peer, or an IPv4(-mapped) one unless bound
     * to an address of the other family (ENETUNREACH). */
    if (inet_sockaddr_v6(addr)) {
        if (!s->udp.v6)
            return EAFNOSUPPORT; /* the api never passes it */
        if (s->udp.local_port && !s->udp.rx_v6)
            return ENETUNREACH;
    } else if (!inet_sockaddr_v4(addr, &ip, &port)) {
        return EAFNOSUPPORT;
    } else if (s->udp.local_port && !s->udp.rx_v4) {
        return ENETUNREACH;
    }
    inet_udp_v6only_sync(s);
    if (!s->udp.local_port) {
        int ret = udp_bind(&s->il->stack, &s->udp, 0, 0);
        if (ret)
            return ret;
    }
    s->has_peer = true;
    if (inet_sockaddr_v6(addr)) {
        udp_connect6(&s->udp, &addr->sin6.sin6_addr, addr->sin6.sin6_port);
    } else {
        s->peer_ip = ip;
        s->peer_port = port;
        udp_connect(&s->udp, s->peer_ip, s->peer_port); /* its datagrams only, before the port's other sharers */
    }
    op_complete(&rt.ops, op, DEMI_OPC_CONNECT, 0);
    return 0;
}

static int inet_close(struct queue *q)
{
    struct inet_sock *s = isock(q);
    struct list_node *pos, *tmp;

    clock_fresh_ns(); /* segments may leave now: timers and timestamps from now */

    list_for_each_safe (pos, tmp, &s->pops) {
        op_complete(&rt.ops, list_entry(pos, struct demi_op, link), DEMI_OPC_FAILED, ECANCELED);
    }
    list_for_each_safe (pos, tmp, &s->accepts) {
        op_complete(&rt.ops, list_entry(pos, struct demi_op, link), DEMI_OPC_FAILED, ECANCELED);
    }
    list_for_each_safe (pos, tmp, &s->pushes) {
        struct demi_op *op = list_entry(pos, struct demi_op, link);
        dbuf_put(op->u.push.buf);
        op->u.push.buf = NULL;
        op_complete(&rt.ops, op, DEMI_OPC_FAILED, ECANCELED);
    }
    if (s->connect_op)
        op_complete(&rt.ops, s->connect_op, DEMI_OPC_FAILED, ECANCELED);
    if (s->pcb)
        tcp_close(s->pcb); /* graceful: queued data, then FIN; the pcb lives on detached */
    else
        udp_sock_fini(&s->il->stack, &s->udp);
    objpool_put(&s->il->socks, s);
    return 0;
}

/* The payload of a push as a buffer the stack may keep: our own buffer (or a
 * slice of it) without copying, foreign memory copied. */
static struct dbuf *inet_payload(const demi_sgarray_t *sga, struct dbuf *d, bool private_copy)
{
    const uint8_t *p = sga->sga_segs[0].sgaseg_buf;
    uint32_t len = sga->sga_segs[0].sgaseg_len;
    struct dbuf *copy;

    if (d) {
        if (p == d->data && len == d->len && !private_copy) {
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

/* A TCP push: the send queue needs a buffer of its own (a slice of the
 * application's, or a copy of foreign memory, in chunks the pools hold). */
static int inet_tcp_push(struct inet_sock *s, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d)
{
    struct dbuf *payload;
    int ret;

    if (s->pcb->state == TCPS_CLOSED && s->pcb->err)
        return s->pcb->err;
    if (s->shut_wr)
        return EPIPE; /* shutdown(SHUT_WR), even with the FIN still waiting */
    if (!tcp_send_open(s->pcb)) {
        /* Never connected (or not yet): ENOTCONN; past its FIN: EPIPE. */
        switch (s->pcb->state) {
        case TCPS_CLOSED:
        case TCPS_LISTEN:
        case TCPS_SYN_SENT:
        case TCPS_SYN_RECEIVED:
            return ENOTCONN;
        default:
            return EPIPE;
        }
    }
    if (!d && sga->sga_segs[0].sgaseg_len > MEM_LARGE_SIZE) {
        /* Foreign memory beyond one pool buffer: copy it in pieces. */
        const uint8_t *p = sga->sga_segs[0].sgaseg_buf;
        uint32_t left = sga->sga_segs[0].sgaseg_len;
        while (left > 0) {
            uint32_t n = left < MEM_LARGE_SIZE ? left : MEM_LARGE_SIZE;
            struct dbuf *c = mem_alloc(&rt.mem, n);
            if (!c)
                return ENOBUFS;
            memcpy(c->data, p, n);
            ret = tcp_send(s->pcb, c);
            if (ret) {
                dbuf_put(c);
                return ret == EAGAIN ? ENOBUFS : ret;
            }
            p += n;
            left -= n;
        }
        op_complete(&rt.ops, op, DEMI_OPC_PUSH, 0);
        return 0;
    }
    payload = inet_payload(sga, d, true);
    if (!payload)
        return ENOBUFS;
    if (list_empty(&s->pushes)) {
        ret = tcp_send(s->pcb, payload);
        if (ret == 0) {
            /* Send now, not at the next poll: the RTO timer started when the
             * segment was built, and a µs-scale reply should not wait. */
            inet_tx_flush(&s->il->stack);
            op_complete(&rt.ops, op, DEMI_OPC_PUSH, 0);
            return 0;
        }
        if (ret != EAGAIN) {
            dbuf_put(payload);
            return ret;
        }
    }
    /* The send queue is full: wait for room, in order. */
    op->u.push.buf = payload;
    list_add_tail(&s->pushes, &op->link);
    return 0;
}

static int inet_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                     const struct inet_sockaddr *dest)
{
    struct inet_sock *s = isock(q);

    clock_fresh_ns(); /* segments may leave now: timers and timestamps from now */
    struct inet_stack *st = &s->il->stack;
    struct dbuf *payload;
    uint32_t ip;
    uint16_t port;
    int ret;

    if (s->pcb)
        return inet_tcp_push(s, op, sga, d);
    if (s->shut_wr)
        return EPIPE;
    if (dest && dest->sa.sa_family == AF_UNSPEC)
        dest = NULL; /* an AF_INET6 socket's pushto without a destination (sockaddr.h) */
    if (dest && inet_sockaddr_v6(dest)) {
        /* IPv6 (sockaddr.h: only on an AF_INET6 socket). No scope: one link. */
        const struct in6_addr *ip6 = &dest->sin6.sin6_addr;
        if (sga->sga_segs[0].sgaseg_len > udp_max_payload6(st))
            return EMSGSIZE; /* we never fragment */
        if (dest->sin6.sin6_port == 0 || IN6_IS_ADDR_UNSPECIFIED(ip6))
            return EINVAL;
        inet_udp_v6only_sync(s);
        payload = inet_payload(sga, d, false);
        if (!payload)
            return ENOBUFS;
        ret = udp_output6(st, &s->udp, payload, ip6, dest->sin6.sin6_port);
        goto sent;
    }
    if (dest) {
        if (!inet_sockaddr_v4(dest, &ip, &port))
            return EAFNOSUPPORT;
    } else if (s->has_peer && s->udp.peer_v6) {
        if (sga->sga_segs[0].sgaseg_len > udp_max_payload6(st))
            return EMSGSIZE;
        payload = inet_payload(sga, d, false);
        if (!payload)
            return ENOBUFS;
        ret = udp_output6(st, &s->udp, payload, &s->udp.peer_ip6, s->udp.peer_port);
        goto sent;
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
    inet_udp_v6only_sync(s);
    payload = inet_payload(sga, d, false);
    if (!payload)
        return ENOBUFS;
    ret = udp_output(st, &s->udp, payload, ip, port);
sent:
    if (ret)
        return ret;
    inet_tx_flush(st); /* a completed push is on the wire, not in a batch */
    /* Accepted into the send path: complete now. The stack holds its own
     * reference on the buffer until the device is done with it. */
    op_complete(&rt.ops, op, DEMI_OPC_PUSH, 0);
    return 0;
}

static int inet_pop(struct queue *q, struct demi_op *op)
{
    struct inet_sock *s = isock(q);
    struct dbuf *d;

    if (s->pcb) {
        /* CLOSED without an error: never connected, or (after a half-close)
         * both FINs exchanged, which leaves end of stream to read. */
        if (s->pcb->state == TCPS_LISTEN || (s->pcb->state == TCPS_CLOSED && !s->pcb->err && !s->pcb->rcv_fin))
            return ENOTCONN;
        list_add_tail(&s->pops, &op->link);
        if (s->pcb->state != TCPS_SYN_SENT && s->pcb->state != TCPS_SYN_RECEIVED)
            inet_tcp_serve_pops(s);
        return 0;
    }

    if (list_empty(&s->pops) && (d = udp_recv(&s->udp)) != NULL) {
        inet_udp_pop_complete(s, op, d);
        return 0;
    }
    if (s->shut_rd) { /* nothing queued: end of stream, as Linux's recv */
        inet_pop_eof(s, op, NULL);
        return 0;
    }
    list_add_tail(&s->pops, &op->link);
    return 0;
}

static int inet_shutdown(struct queue *q, int how)
{
    struct inet_sock *s = isock(q);
    bool rd = how != SHUT_WR, wr = how != SHUT_RD;
    int ret;

    if (!s->pcb) {
        /* UDP: only a socket with a default peer is "connected" (Linux). */
        if (!s->has_peer)
            return ENOTCONN;
        s->shut_wr |= wr;
        if (rd) {
            struct list_node *pos, *tmp;
            s->shut_rd = true;
            list_for_each_safe (pos, tmp, &s->pops) {
                inet_pop_eof(s, list_entry(pos, struct demi_op, link), NULL);
            }
        }
        return 0;
    }
    clock_fresh_ns(); /* segments may leave now: timers and timestamps from now */
    /* The FIN goes after the pushes still waiting for send-queue room:
     * inet_tcp_serve_pushes sends it when the last one is queued. */
    ret = tcp_shutdown(s->pcb, rd, wr && list_empty(&s->pushes));
    if (ret)
        return ret;
    if (wr) {
        s->shut_wr = true;
        if (!list_empty(&s->pushes) && !s->pcb->fin_queued)
            s->fin_pending = true;
        inet_tx_flush(&s->il->stack);
    }
    if (rd)
        inet_tcp_serve_pops(s);
    return 0;
}

struct inet_stack *inet_libos_stack(struct libos *los)
{
    return &container_of(los, struct inet_libos, base)->stack;
}

struct inet_stack *inet_libos_stack_of(struct libos *los)
{
    return los && los->ops == &inet_ops ? inet_libos_stack(los) : NULL;
}

struct tcp_pcb *inet_libos_tcp_pcb(struct queue *q)
{
    if (!q || !q->libos || q->libos->ops != &inet_ops || q->kind != QUEUE_TCP)
        return NULL;
    return isock(q)->pcb;
}

const struct queue *inet_pcb_queue(const struct tcp_pcb *pcb)
{
    /* The owner of an attached pcb is its inet_sock, whose first member is
     * the queue; a child not yet accepted has none. */
    return pcb->owner && pcb->upcall == inet_tcp_upcall ? &((const struct inet_sock *)pcb->owner)->q : NULL;
}

struct netdev *inet_libos_harness_dev(struct libos *los)
{
    struct inet_libos *il;

    if (!los || los->ops != &inet_ops)
        return NULL;
    il = container_of(los, struct inet_libos, base);
    return il->harness ? il->dev : NULL;
}

static int inet_poll(struct libos *los)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);
    int n = inet_stack_poll(&il->stack);

    stats_shm_poll(il->pub, clock_now_ns()); /* one compare when not due */
    return n;
}

/* libdemi.stats: the stack's counters (rt_stats_print; maybe from a
 * signal handler, so no stdio). */
static void inet_stats(struct libos *los, struct sigbuf *out)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);
    const struct fault_stats *fs = fault_wrap_stats(il->dev);

    sigbuf_str(out, "libdemi: inetstack counters (");
    sigbuf_str(out, il->dev->name);
    sigbuf_str(out, "):\n");
    inet_stats_write(out, &il->stack.stats);
    if (fs) {
        sigbuf_str(out, "libdemi: fault injection: offered ");
        sigbuf_u64(out, fs->offered, 0);
        sigbuf_str(out, ", dropped ");
        sigbuf_u64(out, fs->dropped, 0);
        sigbuf_str(out, ", duplicated ");
        sigbuf_u64(out, fs->duplicated, 0);
        sigbuf_str(out, ", corrupted ");
        sigbuf_u64(out, fs->corrupted, 0);
        sigbuf_str(out, ", reordered ");
        sigbuf_u64(out, fs->reordered, 0);
        sigbuf_str(out, "\n");
    }
}

static int inet_counter(struct libos *los, const char *name, uint64_t *value)
{
    return inet_stats_get(&inet_libos_stack(los)->stats, name, value);
}

static void inet_destroy(struct libos *los)
{
    struct inet_libos *il = container_of(los, struct inet_libos, base);
    bool harness = il->harness;

    stats_shm_destroy(il->pub);
    inet_stack_fini(&il->stack);
    objpool_fini(&il->socks);
    netdev_destroy(il->dev);
    free(il);
    if (harness)
        clock_set_real();
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
    .shutdown = inet_shutdown,
    .getsockname = inet_getsockname,
    .poll = inet_poll,
    .block = NULL,
    .stats = inet_stats,
    .counter = inet_counter,
    .destroy = inet_destroy,
};

int inet_create(const struct demi_config *cfg, struct netdev *dev, bool harness, struct libos **out)
{
    struct inet_libos *il = calloc(1, sizeof(*il));
    struct inet_params p;
    int ret;

    if (!il) {
        netdev_destroy(dev);
        return ENOMEM;
    }
    inet_params_from_config(cfg, &p);
    /* A socket record per queue descriptor at most, and one more: the qd
     * table, not this pool, refuses first (EMFILE, as socket(2) and
     * accept(2) with a full descriptor table). Preallocated, so accept and
     * socket take no malloc. */
    ret = objpool_init(&il->socks, cfg->max_queues + 1, sizeof(struct inet_sock));
    if (!ret)
        ret = inet_stack_init(&il->stack, dev, &rt.mem, &p);
    if (ret) {
        objpool_fini(&il->socks);
        netdev_destroy(dev);
        free(il);
        return ret;
    }
    il->dev = dev;
    il->harness = harness;
    il->base.ops = &inet_ops;
    /* Virtual-time test stacks publish nothing: their clock is not time. */
    if (cfg->live_stats && !harness)
        il->pub = stats_shm_create(&il->stack, getenv("LIBOS") ? getenv("LIBOS") : "inet", dev->name, cfg->pcap_snaplen,
                                   (uint64_t)cfg->pcap_max_mb << 20);
    *out = &il->base;
    return 0;
}
