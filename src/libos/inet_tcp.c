/* SPDX-License-Identifier: MIT */
/*
 * inet_tcp.c: the inet libOS's TCP sockets as the stack tells their news
 * (tcp.h's upcall): pops, pushes and accepts completed from the stack's
 * events, and the peer's address as the socket reports it. The calls that
 * start them are in inet.c.
 */
#include "core/common.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "libos/inet_int.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

void inet_tcp_peer(const struct inet_sock *s, const struct tcp_pcb *pcb, struct inet_sockaddr *a)
{
    if (pcb->v6)
        inet_sockaddr_set_v6(a, &pcb->remote_ip6, pcb->remote_port, 0);
    else
        inet_sockaddr_set_v4(a, s->q.family, pcb->remote_ip, pcb->remote_port);
}

/* A pop of @d on @s: a stream's sga_addr is the peer (not a source kept
 * with the buffer); UDP's end of stream (@pcb NULL) has 0.0.0.0:0. */
static void inet_complete_pop(struct inet_sock *s, struct demi_op *op, struct dbuf *d, const struct tcp_pcb *pcb)
{
    struct inet_sockaddr a;

    if (pcb)
        inet_tcp_peer(s, pcb, &a);
    else
        inet_sockaddr_set_v4(&a, s->q.family, 0, 0);
    inet_pop_complete(op, d, &a, false);
}

/* Complete a pop with end of stream: a real, zero-length sga. */
void inet_pop_eof(struct inet_sock *s, struct demi_op *op, const struct tcp_pcb *pcb)
{
    struct dbuf *d = dbuf_alloc(&rt.mem.pools[MEM_SMALL]);

    if (!d) {
        op_complete(&rt.ops, op, DEMI_OPC_FAILED, ENOMEM);
        return;
    }
    d->len = 0;
    d->meta32 = 0;
    d->meta64 = 0;
    inet_complete_pop(s, op, d, pcb);
}

/* Serve waiting pops from the receive queue: data, then end of stream or the
 * error, which every later pop sees too. After shutdown(SHUT_RD), a pop that
 * finds nothing queued is end of stream (the order of Linux's tcp_recvmsg:
 * the peer's FIN, an error, then the shutdown). */
void inet_tcp_serve_pops(struct inet_sock *s)
{
    while (!list_empty(&s->pops)) {
        struct demi_op *op = list_entry(list_first(&s->pops), struct demi_op, link);
        struct dbuf *d = tcp_recv(s->pcb);

        if (d)
            inet_complete_pop(s, op, d, s->pcb);
        else if (tcp_at_eof(s->pcb))
            inet_pop_eof(s, op, s->pcb);
        else if (s->pcb->err)
            op_complete(&rt.ops, op, DEMI_OPC_FAILED, s->pcb->err);
        else if (s->pcb->rcv_shut)
            inet_pop_eof(s, op, s->pcb);
        else
            return;
    }
}

static void inet_tcp_serve_pushes(struct inet_sock *s)
{
    while (!list_empty(&s->pushes)) {
        struct demi_op *op = list_entry(list_first(&s->pushes), struct demi_op, link);
        int ret = tcp_send(s->pcb, op->u.push.buf);

        if (ret == EAGAIN)
            return;
        if (ret) /* the buffer is still ours */
            dbuf_put(op->u.push.buf);
        op->u.push.buf = NULL;
        op_complete(&rt.ops, op, ret ? DEMI_OPC_FAILED : DEMI_OPC_PUSH, ret);
    }
    if (s->fin_pending) {
        /* shutdown(SHUT_WR) came while these waited: its FIN goes after
         * them. A connection that ended meanwhile has nothing to shut. */
        s->fin_pending = false;
        (void)tcp_shutdown(s->pcb, false, true);
    }
}

static int inet_sock_new_accepted(struct inet_sock *l, struct inet_sock **out);

void inet_tcp_serve_accepts(struct inet_sock *s)
{
    while (!list_empty(&s->accepts) && !list_empty(&s->pcb->accept_q)) {
        struct demi_op *op = list_entry(list_first(&s->accepts), struct demi_op, link);
        struct inet_sock *ns;
        struct tcp_pcb *c;
        int ret;

        /* The queue descriptor first: when none is left (EMFILE) or no
         * memory, this accept fails and the connection stays queued for a
         * later one, as accept(2) does. It is never freed here: this runs
         * inside the stack's processing of the handshake's last ACK, which
         * goes on with the connection afterwards. */
        ret = inet_sock_new_accepted(s, &ns);
        if (ret) {
            op_complete(&rt.ops, op, DEMI_OPC_FAILED, ret);
            continue;
        }
        c = tcp_accept(s->pcb, ns, inet_tcp_upcall);
        ns->pcb = c;
        op->qr.qr_value.ares.qd = ns->q.qd;
        {
            struct inet_sockaddr peer;
            struct sockaddr_in sin; /* ares is packed: no pointer into it */
            inet_tcp_peer(s, c, &peer);
            inet_sockaddr_to_sin(&peer, &sin);
            op->qr.qr_value.ares.addr = sin;
        }
        op_complete(&rt.ops, op, DEMI_OPC_ACCEPT, 0);
    }
}

void inet_tcp_upcall(struct tcp_pcb *pcb, unsigned ev)
{
    struct inet_sock *s = pcb->owner;

    if ((ev & TCP_EV_CONNECTED) && s->connect_op) {
        struct demi_op *op = s->connect_op;
        s->connect_op = NULL;
        op_complete(&rt.ops, op, pcb->err ? DEMI_OPC_FAILED : DEMI_OPC_CONNECT, pcb->err);
    }
    if (ev & TCP_EV_ACCEPT)
        inet_tcp_serve_accepts(s);
    if (ev & (TCP_EV_READABLE | TCP_EV_ERROR))
        inet_tcp_serve_pops(s);
    if (ev & (TCP_EV_WRITABLE | TCP_EV_ERROR))
        inet_tcp_serve_pushes(s);
}

/* A socket and its qd for a connection about to be accepted (the caller
 * attaches its pcb). */
static int inet_sock_new_accepted(struct inet_sock *l, struct inet_sock **out)
{
    struct inet_sock *s = objpool_get(&l->il->socks);
    int ret;

    if (!s)
        return ENOBUFS;
    s->il = l->il;
    s->q.libos = l->q.libos;
    s->q.kind = QUEUE_TCP;
    s->q.family = l->q.family;
    s->q.v6only = l->q.v6only;
    list_init(&s->pops);
    list_init(&s->pushes);
    list_init(&s->accepts);
    ret = qd_alloc(&rt.qds, &s->q);
    if (ret) {
        objpool_put(&l->il->socks, s);
        return ret;
    }
    *out = s;
    return 0;
}
