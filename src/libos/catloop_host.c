/* SPDX-License-Identifier: MIT */
/*
 * catloop_host.c: LIBOS=catloop with catloop.mode: host, TCP sockets
 * between processes of one host over shared memory, as Demikernel's
 * catloop was (it built on catmem too).
 *
 * A connection is one catmem pipe (both directions, EOF after a close,
 * ECONNRESET after the peer's death: catmem.c). Its pushes and pops are
 * catmem's, called on that pipe with the application's op, so they
 * complete from catmem's poll like any pipe op and every wait call sees
 * them. What this file adds is the connection set-up (catloop_int.h:
 * a listener's object with request slots) and the socket states around it.
 *
 * Differences from TCP on the inet stack, all from the pipes: a pop
 * returns one push's bytes (a stream may be cut anywhere, so that is
 * TCP-correct); a push is at most half of catmem.ring_size (EMSGSIZE
 * above: one pipe message); no half-close (demi_shutdown: ENOTSUP); UDP
 * sockets: ENOTSUP (Demikernel's catloop had none either).
 */
#include "libos/catloop_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "libos/runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CL_CONNECT_TIMEOUT_NS (30 * 1000000000ull) /* a listener that never answers */
#define CL_BACKLOG_MAX 4096u
#define CL_EPHEMERAL_LO 49152u

struct catloop {
    struct libos base;
    struct libos *pipes;     /* the runtime's catmem, from the first listen/connect */
    uint32_t local_ip;       /* demikernel.local_ipv4_addr */
    uint64_t check_ns;       /* catmem.peer_check_us: listener liveness */
    uint32_t seq;            /* pipe names, ephemeral ports */
    struct list_node active; /* listeners and connecting sockets: what poll visits */
};

enum cl_state { CLS_NEW, CLS_BOUND, CLS_LISTEN, CLS_CONNECTING, CLS_CONNECTED, CLS_DEAD };

struct cl_sock {
    struct queue q; /* first: the runtime sees a struct queue */
    struct catloop *cl;
    uint8_t state; /* enum cl_state */
    struct sockaddr_in local, remote;
    struct queue *pipe;      /* CONNECTED: the connection's catmem pipe */
    struct cl_lmap lm;       /* LISTEN: our object; CONNECTING: the listener's */
    struct list_node active; /* on catloop.active */
    uint64_t next_check_ns;
    /* LISTEN */
    struct list_node accepts; /* pending accept ops, FIFO */
    struct list_node ready;   /* connections accepted here, waiting for an accept */
    uint32_t nready, backlog;
    /* CONNECTING */
    struct demi_op *connect_op;
    uint32_t pipe_seq; /* our pipe is catloop-PID-PIPE_SEQ */
    int slot;          /* the slot we claimed, -1: none yet */
    uint32_t word;     /* our request's word in it */
    uint64_t deadline_ns;
    struct list_node link; /* on the listener's ready list */
};

static const struct libos_ops catloop_host_ops;

static inline struct cl_sock *cl_sock(struct queue *q)
{
    return container_of(q, struct cl_sock, q);
}

static struct cl_sock *cl_sock_new(struct catloop *cl)
{
    struct cl_sock *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->cl = cl;
    s->q.qd = -1;
    s->q.kind = QUEUE_TCP;
    s->q.libos = &cl->base;
    s->lm.fd = -1;
    s->slot = -1;
    s->q.family = AF_INET; /* the only family here (cl_socket) */
    s->local.sin_family = AF_INET;
    s->remote.sin_family = AF_INET;
    list_init(&s->active);
    list_init(&s->accepts);
    list_init(&s->ready);
    list_init(&s->link);
    return s;
}

/* The pipe libOS, joined to the runtime on first use (as demi_create_pipe
 * does). */
static int cl_pipes(struct catloop *cl)
{
    return cl->pipes ? 0 : catmem_instance(&cl->pipes);
}

static void cl_activate(struct cl_sock *s)
{
    if (!list_linked(&s->active))
        list_add_tail(&s->cl->active, &s->active);
}

static uint16_t cl_ephemeral(struct catloop *cl)
{
    return htons((uint16_t)(CL_EPHEMERAL_LO + ((uint32_t)getpid() * 7919u + cl->seq++) % (65536u - CL_EPHEMERAL_LO)));
}

static void cl_pipe_name(char *buf, size_t len, int32_t pid, uint32_t seq)
{
    snprintf(buf, len, CATLOOP_PIPE_PREFIX "%d-%u", (int)pid, seq);
}

static void cl_pipe_close(struct cl_sock *s)
{
    if (s->pipe) {
        s->pipe->libos->ops->close(s->pipe);
        s->pipe = NULL;
    }
}

/* ---- socket, bind, listen ----------------------------------------------- */

static int cl_socket(struct libos *los, int domain, int type, int protocol, struct queue **q_out)
{
    struct cl_sock *s;

    (void)protocol;
    if (domain != AF_INET) {
        static bool told;
        if (!told)
            log_warn("demi_socket: AF_INET6 sockets are not built yet on LIBOS=catloop with catloop.mode host "
                     "(listeners are named by IPv4 address and port): EAFNOSUPPORT");
        told = true;
        return EAFNOSUPPORT;
    }
    if (type != SOCK_STREAM) {
        log_err("demi_socket: LIBOS=catloop with catloop.mode host has TCP sockets only (SOCK_STREAM)");
        return ENOTSUP;
    }
    s = cl_sock_new(container_of(los, struct catloop, base));
    if (!s)
        return ENOMEM;
    *q_out = &s->q;
    return 0;
}

static int cl_bind(struct queue *q, const struct inet_sockaddr *sa)
{
    struct cl_sock *s = cl_sock(q);
    const struct sockaddr_in *addr = &sa->sin; /* AF_INET sockets only (cl_socket) */
    struct cl_lmap probe = {.shm = NULL, .fd = -1};

    if (s->state != CLS_NEW)
        return EINVAL;
    s->local = *addr;
    if (addr->sin_port == 0) {
        s->local.sin_port = cl_ephemeral(s->cl);
    } else if (cl_shm_open(addr->sin_addr.s_addr, addr->sin_port, &probe) == 0) {
        cl_shm_close(&probe); /* a live listener has that address */
        return EADDRINUSE;
    }
    s->state = CLS_BOUND;
    return 0;
}

static int cl_listen(struct queue *q, int backlog)
{
    struct cl_sock *s = cl_sock(q);
    int ret;

    if (s->state == CLS_LISTEN)
        return 0;
    if (s->state == CLS_NEW) {
        s->local.sin_port = cl_ephemeral(s->cl);
        s->state = CLS_BOUND;
    }
    if (s->state != CLS_BOUND)
        return EINVAL;
    if ((ret = cl_pipes(s->cl)) != 0)
        return ret;
    ret = cl_shm_listen(s->local.sin_addr.s_addr, s->local.sin_port, &s->lm);
    if (ret)
        return ret;
    s->backlog = backlog < 1 ? 1 : (uint32_t)backlog > CL_BACKLOG_MAX ? CL_BACKLOG_MAX : (uint32_t)backlog;
    s->state = CLS_LISTEN;
    cl_activate(s);
    return 0;
}

/* ---- accept ------------------------------------------------------------- */

static void cl_serve_accepts(struct cl_sock *l)
{
    while (!list_empty(&l->accepts) && !list_empty(&l->ready)) {
        struct demi_op *op = list_entry(list_first(&l->accepts), struct demi_op, link);
        struct cl_sock *c = list_entry(list_first(&l->ready), struct cl_sock, link);
        int ret = qd_alloc(&rt.qds, &c->q);

        if (ret) { /* no qd (EMFILE): this accept fails, the connection stays */
            op_complete(&rt.ops, op, DEMI_OPC_FAILED, ret);
            continue;
        }
        list_del(&c->link);
        l->nready--;
        op->qr.qr_value.ares.qd = c->q.qd;
        op->qr.qr_value.ares.addr = c->remote;
        op_complete(&rt.ops, op, DEMI_OPC_ACCEPT, 0);
    }
}

/* One request in slot @sl (word @w, REQ): open the connector's pipe and
 * answer. Returns 1 when a connection was queued. */
static int cl_take_request(struct cl_sock *l, struct cl_slot *sl, uint32_t w)
{
    struct catloop *cl = l->cl;
    volatile struct cl_slot *v = sl;
    char name[CATMEM_NAME_MAX + 1];
    struct queue *pipe = NULL;
    struct cl_sock *c;
    int32_t pid = v->pid;
    uint32_t seq = v->seq, ip = v->ip;
    uint16_t port = v->port;
    int ret;

    /* The fields were read under word @w: if it moved meanwhile (the
     * connector gave up, another one claimed the slot), they may be mixed. */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&sl->word, memory_order_relaxed) != w)
        return 0;
    cl_pipe_name(name, sizeof(name), pid, seq);
    c = cl_sock_new(cl);
    ret = c ? catmem_pipe_open(cl->pipes, name, &pipe) : ENOMEM;
    if (ret) {
        /* ENOENT: the connector died since it asked. */
        sl->err = ret == ENOMEM ? ENOMEM : ECONNREFUSED;
        atomic_compare_exchange_strong(&sl->word, &w, CL_WORD(CL_GEN(w), CL_NAK));
        free(c);
        return 0;
    }
    if (!atomic_compare_exchange_strong(&sl->word, &w, CL_WORD(CL_GEN(w), CL_ACK))) {
        pipe->libos->ops->close(pipe); /* withdrawn while we opened it */
        free(c);
        return 0;
    }
    c->pipe = pipe;
    c->state = CLS_CONNECTED;
    c->local = l->local;
    if (c->local.sin_addr.s_addr == 0)
        c->local.sin_addr.s_addr = cl->local_ip;
    c->remote.sin_addr.s_addr = ip;
    c->remote.sin_port = port;
    list_add_tail(&l->ready, &c->link);
    l->nready++;
    return 1;
}

/* A slot answered (ACK, NAK) or half-claimed by a connector that died
 * before freeing it would be lost for good: free it. kill(pid, 0) is a
 * syscall, so only on the probe's cadence. */
static void cl_reclaim_slots(struct cl_sock *l)
{
    for (unsigned i = 0; i < CL_SLOTS; i++) {
        struct cl_slot *sl = &l->lm.shm->slot[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
        int32_t pid = ((volatile struct cl_slot *)sl)->pid;

        if (CL_ST(w) == CL_FREE || CL_ST(w) == CL_REQ || pid <= 0)
            continue;
        if (kill(pid, 0) != 0 && errno == ESRCH)
            atomic_compare_exchange_strong(&sl->word, &w, CL_WORD(CL_GEN(w), CL_FREE));
    }
}

static int cl_listen_step(struct cl_sock *l, bool probe)
{
    int n = 0;

    for (unsigned i = 0; i < CL_SLOTS && l->nready < l->backlog; i++) {
        struct cl_slot *sl = &l->lm.shm->slot[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
        if (CL_ST(w) == CL_REQ)
            n += cl_take_request(l, sl, w);
    }
    if (probe)
        cl_reclaim_slots(l);
    if (n)
        cl_serve_accepts(l);
    return n;
}

static int cl_accept(struct queue *q, struct demi_op *op)
{
    struct cl_sock *s = cl_sock(q);

    if (s->state != CLS_LISTEN)
        return EINVAL;
    list_add_tail(&s->accepts, &op->link);
    if (list_empty(&s->ready))
        cl_listen_step(s, false);
    cl_serve_accepts(s);
    return 0;
}

/* ---- connect ------------------------------------------------------------ */

/* Give our slot back: withdraw a request not answered yet, or free an
 * answered one. */
static void cl_slot_release(struct cl_sock *s)
{
    struct cl_slot *sl;
    uint32_t w;

    if (s->slot < 0 || !s->lm.shm)
        return;
    sl = &s->lm.shm->slot[s->slot];
    w = s->word;
    if (!atomic_compare_exchange_strong(&sl->word, &w, CL_WORD(CL_GEN(s->word), CL_FREE)) &&
        CL_GEN(w) == CL_GEN(s->word)) {
        /* Answered meanwhile (ACK or NAK, our generation): ours to free. */
        ((volatile struct cl_slot *)sl)->pid = 0;
        atomic_store_explicit(&sl->word, CL_WORD(CL_GEN(w), CL_FREE), memory_order_release);
    }
    s->slot = -1;
}

static void cl_connect_done(struct cl_sock *s, int err)
{
    struct demi_op *op = s->connect_op;

    s->connect_op = NULL;
    list_del(&s->active);
    cl_slot_release(s);
    cl_shm_close(&s->lm);
    if (err) {
        cl_pipe_close(s);
        s->state = CLS_DEAD;
    } else {
        s->state = CLS_CONNECTED;
    }
    if (op)
        op_complete(&rt.ops, op, err ? DEMI_OPC_FAILED : DEMI_OPC_CONNECT, err);
}

/* Claim a free slot: a CAS from FREE, then the request's fields, then REQ
 * (release: the fields are visible to whoever sees REQ). */
static bool cl_claim(struct cl_sock *s)
{
    for (unsigned i = 0; i < CL_SLOTS; i++) {
        struct cl_slot *sl = &s->lm.shm->slot[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_relaxed), claim;
        if (CL_ST(w) != CL_FREE)
            continue;
        claim = CL_WORD(CL_GEN(w) + 1, CL_CLAIM);
        if (!atomic_compare_exchange_strong(&sl->word, &w, claim))
            continue;
        sl->pid = (int32_t)getpid();
        sl->seq = s->pipe_seq;
        sl->ip = s->local.sin_addr.s_addr;
        sl->port = s->local.sin_port;
        sl->err = 0;
        s->slot = (int)i;
        s->word = CL_WORD(CL_GEN(claim), CL_REQ);
        atomic_store_explicit(&sl->word, s->word, memory_order_release);
        return true;
    }
    return false; /* all taken: try again at the next poll */
}

/* Returns 1 when the connect completed. */
static int cl_connect_step(struct cl_sock *s, bool probe)
{
    uint32_t w;

    if (s->slot < 0 && !cl_claim(s)) {
        /* every slot busy: the listener's backlog, retried */
    } else if (s->slot >= 0) {
        w = atomic_load_explicit(&s->lm.shm->slot[s->slot].word, memory_order_acquire);
        if (w == CL_WORD(CL_GEN(s->word), CL_ACK)) {
            cl_connect_done(s, 0);
            return 1;
        }
        if (w == CL_WORD(CL_GEN(s->word), CL_NAK)) {
            int err = s->lm.shm->slot[s->slot].err;
            cl_connect_done(s, err == ENOMEM ? ENOMEM : ECONNREFUSED);
            return 1;
        }
    }
    if (!cl_shm_alive(&s->lm, probe)) {
        cl_connect_done(s, ECONNREFUSED);
        return 1;
    }
    if (probe && clock_now_ns() >= s->deadline_ns) {
        cl_connect_done(s, ETIMEDOUT);
        return 1;
    }
    return 0;
}

static int cl_connect(struct queue *q, struct demi_op *op, const struct inet_sockaddr *sa)
{
    const struct sockaddr_in *addr = &sa->sin; /* TCP on AF_INET only: never AF_UNSPEC (api) */
    struct cl_sock *s = cl_sock(q);
    struct catloop *cl = s->cl;
    char name[CATMEM_NAME_MAX + 1];
    int ret;

    if (s->state == CLS_CONNECTING)
        return EALREADY;
    if (s->state == CLS_CONNECTED)
        return EISCONN;
    if (s->state != CLS_NEW && s->state != CLS_BOUND)
        return EINVAL;
    if ((ret = cl_pipes(cl)) != 0)
        return ret;
    if (s->state == CLS_NEW) {
        s->local.sin_addr.s_addr = cl->local_ip;
        s->local.sin_port = cl_ephemeral(cl);
    } else if (s->local.sin_addr.s_addr == 0) {
        s->local.sin_addr.s_addr = cl->local_ip;
    }
    s->remote = *addr;
    s->remote.sin_family = AF_INET;
    /* The listener of that address, else one on the wildcard address. */
    ret = cl_shm_open(addr->sin_addr.s_addr, addr->sin_port, &s->lm);
    if (ret == ECONNREFUSED && addr->sin_addr.s_addr != INADDR_ANY)
        ret = cl_shm_open(INADDR_ANY, addr->sin_port, &s->lm);
    if (ret) {
        s->state = CLS_DEAD;
        op_complete(&rt.ops, op, DEMI_OPC_FAILED, ret);
        return 0;
    }
    s->pipe_seq = cl->seq++;
    cl_pipe_name(name, sizeof(name), (int32_t)getpid(), s->pipe_seq);
    ret = catmem_pipe_create(cl->pipes, name, &s->pipe);
    if (ret) {
        cl_shm_close(&s->lm);
        return ret == EEXIST ? EADDRINUSE : ret;
    }
    s->connect_op = op;
    s->state = CLS_CONNECTING;
    s->deadline_ns = clock_fresh_ns() + CL_CONNECT_TIMEOUT_NS;
    s->next_check_ns = 0;
    cl_activate(s);
    cl_connect_step(s, false);
    return 0;
}

/* ---- data: the pipe's ------------------------------------------------------ */

static int cl_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                   const struct inet_sockaddr *dest)
{
    struct cl_sock *s = cl_sock(q);

    (void)dest;
    if (s->state != CLS_CONNECTED)
        return ENOTCONN;
    return s->pipe->libos->ops->push(s->pipe, op, sga, d, NULL);
}

static int cl_pop(struct queue *q, struct demi_op *op)
{
    struct cl_sock *s = cl_sock(q);

    if (s->state != CLS_CONNECTED)
        return ENOTCONN;
    return s->pipe->libos->ops->pop(s->pipe, op);
}

static void cl_cancel(struct list_node *head)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, head) {
        op_complete(&rt.ops, list_entry(pos, struct demi_op, link), DEMI_OPC_FAILED, ECANCELED);
    }
}

static void cl_sock_free(struct cl_sock *s);

static int cl_close(struct queue *q)
{
    struct cl_sock *s = cl_sock(q);

    if (s->state == CLS_CONNECTING)
        cl_connect_done(s, ECANCELED);
    cl_sock_free(s);
    return 0;
}

static void cl_sock_free(struct cl_sock *s)
{
    struct list_node *pos, *tmp;

    list_del(&s->active);
    if (s->state == CLS_LISTEN) {
        cl_cancel(&s->accepts);
        /* Accepted here but never handed out: the connector sees EOF. */
        list_for_each_safe (pos, tmp, &s->ready) {
            struct cl_sock *c = list_entry(pos, struct cl_sock, link);
            list_del(&c->link);
            cl_sock_free(c);
        }
        cl_shm_unlisten(&s->lm, s->local.sin_addr.s_addr, s->local.sin_port);
    }
    cl_pipe_close(s); /* cancels its ops; the peer reads what was pushed, then EOF */
    cl_shm_close(&s->lm);
    free(s);
}

/* ---- options and names --------------------------------------------------- */

static int cl_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    (void)q, (void)optval, (void)optlen;
    /* Accepted and without effect: no wire, no kernel buffers. */
    if ((level == SOL_SOCKET && (optname == SO_REUSEADDR || optname == SO_KEEPALIVE || optname == SO_LINGER ||
                                 optname == SO_RCVBUF || optname == SO_SNDBUF)) ||
        (level == IPPROTO_TCP && optname == TCP_NODELAY))
        return 0;
    return ENOPROTOOPT;
}

static int cl_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    (void)q, (void)level, (void)optname, (void)optval, (void)optlen;
    return ENOPROTOOPT;
}

static int cl_getpeername(struct queue *q, struct inet_sockaddr *addr)
{
    struct cl_sock *s = cl_sock(q);

    if (s->state != CLS_CONNECTED)
        return ENOTCONN;
    addr->sin = s->remote;
    return 0;
}

static int cl_getsockname(struct queue *q, struct inet_sockaddr *addr)
{
    struct cl_sock *s = cl_sock(q);

    if (s->state != CLS_NEW)
        addr->sin = s->local;
    return 0;
}

/* ---- the libOS ------------------------------------------------------------ */

static int cl_poll(struct libos *los)
{
    struct catloop *cl = container_of(los, struct catloop, base);
    struct list_node *pos, *tmp;
    uint64_t now = clock_now_ns(); /* the round's cached clock */
    int n = 0;

    list_for_each_safe (pos, tmp, &cl->active) {
        struct cl_sock *s = list_entry(pos, struct cl_sock, active);
        bool probe = now >= s->next_check_ns;
        if (probe)
            s->next_check_ns = now + cl->check_ns;
        n += s->state == CLS_LISTEN ? cl_listen_step(s, probe) : cl_connect_step(s, probe);
    }
    return n;
}

static bool cl_has_waiters(struct libos *los)
{
    struct catloop *cl = container_of(los, struct catloop, base);
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, &cl->active) {
        struct cl_sock *s = list_entry(pos, struct cl_sock, active);
        if (s->state == CLS_CONNECTING || !list_empty(&s->accepts))
            return true;
    }
    return false;
}

static void cl_destroy(struct libos *los)
{
    /* rt_shutdown closed every socket (listeners free their queued ones). */
    free(container_of(los, struct catloop, base));
}

static const struct libos_ops catloop_host_ops = {
    .name = "catloop",
    .socket = cl_socket,
    .bind = cl_bind,
    .listen = cl_listen,
    .accept = cl_accept,
    .connect = cl_connect,
    .close = cl_close,
    .push = cl_push,
    .pop = cl_pop,
    .setsockopt = cl_setsockopt,
    .getsockopt = cl_getsockopt,
    .getpeername = cl_getpeername,
    .getsockname = cl_getsockname,
    .poll = cl_poll,
    .has_waiters = cl_has_waiters,
    .destroy = cl_destroy,
};

int catloop_host_create(const struct demi_config *cfg, struct libos **out)
{
    struct catloop *cl = calloc(1, sizeof(*cl));

    if (!cl)
        return ENOMEM;
    cl->base.ops = &catloop_host_ops;
    cl->local_ip = cfg->has_local_ipv4 ? cfg->local_ipv4.s_addr : htonl(INADDR_LOOPBACK);
    cl->check_ns = (uint64_t)cfg->catmem_peer_check_us * 1000u;
    list_init(&cl->active);
    *out = &cl->base;
    return 0;
}
