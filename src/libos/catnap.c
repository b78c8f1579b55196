/* SPDX-License-Identifier: MIT */
/*
 * catnap.c: the Linux sockets libOS. Non-blocking sockets and one
 * edge-triggered epoll set.
 *
 * Every operation is first tried at once (eager): a pop whose data is already
 * in the socket, a push with room in the send buffer complete inside the call,
 * with no poll round. What cannot finish waits on the socket's lists; an
 * epoll edge resumes it. With edge triggering a readiness edge that arrives
 * while nothing waits is lost, which is safe only because every new op tries
 * the socket itself before it waits: keep that invariant.
 */
#include "core/common.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "libos/sockopt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum cn_state {
    CN_NEW = 0,    /* created */
    CN_BOUND,      /* bind() done */
    CN_LISTENING,  /* TCP listen() done */
    CN_CONNECTING, /* TCP connect() in progress */
    CN_CONNECTED,  /* TCP established, or UDP with a default peer */
    CN_FAILED,     /* a connect failed: POSIX leaves the socket unusable */
};

struct cn_sock {
    struct queue q; /* first: the runtime sees a struct queue */
    int fd;
    uint8_t state;           /* enum cn_state */
    int err;                 /* sticky receive error (ECONNRESET) */
    struct list_node pops;   /* pending pops, FIFO */
    struct list_node pushes; /* pending pushes, in stream order */
    struct list_node accepts;
    struct demi_op *connect_op;
    bool shut_rd;     /* demi_shutdown(SHUT_RD): an empty queue is end of stream */
    bool shut_wr;     /* demi_shutdown(SHUT_WR): pushes fail with EPIPE */
    bool fin_pending; /* shutdown(2) SHUT_WR waits for s->pushes */
    bool user_bound;  /* demi_bind done: a UDP disconnect keeps the address */
};

struct catnap {
    struct libos base;
    int epfd;
    const struct demi_config *cfg;
};

#define CN_EVENTS_PER_POLL 64

static struct cn_sock *cn_sock(struct queue *q)
{
    return container_of(q, struct cn_sock, q);
}

static struct catnap *cn_of(struct queue *q)
{
    return container_of(q->libos, struct catnap, base);
}

/* Errors that mean the call itself was wrong: returned by the call, not
 * reported through a failed op. */
static bool cn_is_call_error(int err)
{
    return err == EDESTADDRREQ || err == EMSGSIZE || err == ENOTCONN || err == EINVAL || err == EISCONN ||
           err == EAFNOSUPPORT || err == EADDRNOTAVAIL || err == EALREADY || err == EACCES || err == EPERM;
}

static void cn_complete(struct demi_op *op, demi_opcode_t opc, int err)
{
    op_complete(&rt.ops, op, err ? DEMI_OPC_FAILED : opc, err);
}

/* ---- socket lifecycle -------------------------------------------------- */

/* A socket record for @fd, watched by the epoll set; NULL with errno set. */
static struct cn_sock *cn_sock_new(struct catnap *cn, int fd, uint8_t kind)
{
    struct cn_sock *s = calloc(1, sizeof(*s));
    struct epoll_event ev;

    if (!s)
        return NULL;
    s->fd = fd;
    s->q.kind = kind;
    s->q.libos = &cn->base;
    s->q.qd = -1;
    list_init(&s->pops);
    list_init(&s->pushes);
    list_init(&s->accepts);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = s;
    if (epoll_ctl(cn->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = errno;
        free(s);
        errno = err;
        return NULL;
    }
    return s;
}

static void cn_setopt_int(int fd, int level, int name, int value, const char *what)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
        log_warn("catnap: cannot set %s: %s", what, strerror(errno));
}

/* tcp_socket_options from the configuration. Keepalive and linger are applied
 * only when a file or the environment gave them, so the kernel's defaults
 * stay in force otherwise (Demikernel's sample file asks for linger 0, which
 * would turn every close into a reset). */
static void cn_apply_tcp_options(const struct demi_config *cfg, int fd)
{
    cn_setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, cfg->nodelay, "TCP_NODELAY");
    if (!cfg->tcp_options_from_file)
        return;
    cn_setopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, cfg->keepalive_enabled, "SO_KEEPALIVE");
    if (cfg->keepalive_enabled && cfg->keepalive_time_ms >= 1000)
        cn_setopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)(cfg->keepalive_time_ms / 1000), "TCP_KEEPIDLE");
    if (cfg->keepalive_enabled && cfg->keepalive_interval > 0)
        cn_setopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)cfg->keepalive_interval, "TCP_KEEPINTVL");
    if (cfg->linger_enabled) {
        struct linger l = {.l_onoff = 1, .l_linger = (int)cfg->linger_seconds};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
            log_warn("catnap: cannot set SO_LINGER: %s", strerror(errno));
    }
}

static int cn_socket(struct libos *los, int domain, int type, int protocol, struct queue **q_out)
{
    struct catnap *cn = container_of(los, struct catnap, base);
    struct cn_sock *s;
    int fd, ret;

    fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return errno;
    if (type == SOCK_STREAM)
        cn_apply_tcp_options(cn->cfg, fd);
    s = cn_sock_new(cn, fd, type == SOCK_STREAM ? QUEUE_TCP : QUEUE_UDP);
    if (!s) {
        ret = errno;
        close(fd);
        return ret;
    }
    s->q.family = (uint8_t)domain;
    if (domain == AF_INET6) {
        /* The kernel's default (net.ipv6.bindv6only, 0 unless changed):
         * the api's address rules must agree with what the kernel does. */
        int v6only = 0;
        socklen_t len = sizeof(v6only);
        if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0)
            s->q.v6only = v6only != 0;
    }
    *q_out = &s->q;
    return 0;
}

static void cn_cancel_list(struct list_node *head)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, head) {
        struct demi_op *op = list_entry(pos, struct demi_op, link);
        if (op->qr.qr_opcode == DEMI_OPC_PUSH && op->u.push.buf) {
            dbuf_put(op->u.push.buf);
            op->u.push.buf = NULL;
        }
        cn_complete(op, op->qr.qr_opcode, ECANCELED);
    }
}

static int cn_close(struct queue *q)
{
    struct cn_sock *s = cn_sock(q);

    cn_cancel_list(&s->pops);
    cn_cancel_list(&s->accepts);
    cn_cancel_list(&s->pushes);
    if (s->connect_op) {
        cn_complete(s->connect_op, DEMI_OPC_CONNECT, ECANCELED);
        s->connect_op = NULL;
    }
    /* close() also leaves the epoll set (no dup of the fd exists). The kernel
     * sends what completed pushes queued, then FIN: a graceful close. */
    close(s->fd);
    free(s);
    return 0;
}

static int cn_bind(struct queue *q, const struct inet_sockaddr *addr)
{
    struct cn_sock *s = cn_sock(q);

    if (s->state != CN_NEW)
        return EINVAL;
    if (bind(s->fd, &addr->sa, inet_sockaddr_len(addr)) < 0)
        return errno;
    s->state = CN_BOUND;
    s->user_bound = true;
    return 0;
}

static int cn_listen(struct queue *q, int backlog)
{
    struct cn_sock *s = cn_sock(q);

    if (s->state == CN_LISTENING)
        return 0;
    if (s->state != CN_BOUND)
        return EINVAL;
    if (listen(s->fd, backlog) < 0)
        return errno;
    s->state = CN_LISTENING;
    return 0;
}

/* ---- accept ------------------------------------------------------------ */

/* Accept one connection into @op. Returns EAGAIN when none is waiting. */
static int cn_accept_one(struct cn_sock *s, struct demi_op *op)
{
    struct catnap *cn = cn_of(&s->q);
    struct inet_sockaddr peer;
    socklen_t len = sizeof(peer);
    struct cn_sock *ns;
    int fd, ret;

    memset(&peer, 0, sizeof(peer));
    do
        fd = accept4(s->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    if (fd < 0)
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    cn_apply_tcp_options(cn->cfg, fd);
    ns = cn_sock_new(cn, fd, QUEUE_TCP);
    if (!ns) {
        ret = errno;
        close(fd);
        return ret;
    }
    ns->state = CN_CONNECTED;
    ns->q.family = s->q.family;
    ns->q.v6only = s->q.v6only; /* Linux's accepted socket inherits it */
    ret = qd_alloc(&rt.qds, &ns->q);
    if (ret) {
        cn_close(&ns->q);
        return ret;
    }
    op->qr.qr_value.ares.qd = ns->q.qd;
    {
        struct sockaddr_in sin; /* ares is packed: no pointer into it */
        inet_sockaddr_to_sin(&peer, &sin);
        op->qr.qr_value.ares.addr = sin;
    }
    cn_complete(op, DEMI_OPC_ACCEPT, 0);
    return 0;
}

static int cn_accept(struct queue *q, struct demi_op *op)
{
    struct cn_sock *s = cn_sock(q);
    int ret;

    if (s->state != CN_LISTENING)
        return EINVAL;
    if (list_empty(&s->accepts)) {
        ret = cn_accept_one(s, op);
        if (ret == 0)
            return 0;
        if (ret != EAGAIN) {
            cn_complete(op, DEMI_OPC_ACCEPT, ret);
            return 0;
        }
    }
    list_add_tail(&s->accepts, &op->link);
    return 0;
}

static int cn_progress_accepts(struct cn_sock *s)
{
    int n = 0;

    while (!list_empty(&s->accepts)) {
        struct demi_op *op = list_entry(list_first(&s->accepts), struct demi_op, link);
        int ret = cn_accept_one(s, op);
        if (ret == EAGAIN)
            break;
        if (ret)
            cn_complete(op, DEMI_OPC_ACCEPT, ret);
        n++;
    }
    return n;
}

/* ---- connect ----------------------------------------------------------- */

static int cn_connect(struct queue *q, struct demi_op *op, const struct inet_sockaddr *addr)
{
    struct cn_sock *s = cn_sock(q);

    if (s->state == CN_CONNECTING)
        return EALREADY;
    if (s->state == CN_LISTENING || s->state == CN_FAILED)
        return EINVAL;
    if (s->state == CN_CONNECTED && q->kind == QUEUE_TCP)
        return EISCONN;
    if (addr->sa.sa_family == AF_UNSPEC) {
        /* UDP only (the api): dissolve the default peer. Linux keeps an
         * address and port that bind gave, and frees those connect took. */
        if (connect(s->fd, &addr->sa, inet_sockaddr_len(addr)) < 0)
            return errno;
        if (s->state == CN_CONNECTED)
            s->state = s->user_bound ? CN_BOUND : CN_NEW;
        cn_complete(op, DEMI_OPC_CONNECT, 0);
        return 0;
    }
    if (connect(s->fd, &addr->sa, inet_sockaddr_len(addr)) == 0) {
        s->state = CN_CONNECTED;
        cn_complete(op, DEMI_OPC_CONNECT, 0);
        return 0;
    }
    if (errno == EINPROGRESS) {
        s->state = CN_CONNECTING;
        s->connect_op = op;
        return 0;
    }
    if (cn_is_call_error(errno))
        return errno;
    /* ECONNREFUSED, ENETUNREACH, ...: the connect happened and failed. */
    s->state = CN_FAILED;
    cn_complete(op, DEMI_OPC_CONNECT, errno);
    return 0;
}

static int cn_progress_connect(struct cn_sock *s)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (!s->connect_op)
        return 0;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        /* Spurious edge before the handshake finished: still in progress? */
        struct inet_sockaddr peer;
        socklen_t plen = sizeof(peer);
        if (getpeername(s->fd, &peer.sa, &plen) < 0 && errno == ENOTCONN)
            return 0;
    }
    s->state = err ? CN_FAILED : CN_CONNECTED;
    cn_complete(s->connect_op, DEMI_OPC_CONNECT, err);
    s->connect_op = NULL;
    return 1;
}

/* ---- push -------------------------------------------------------------- */

/* Send what is left of @op. 0 when all sent, EAGAIN when the socket is full,
 * else the error. */
static int cn_send_op(struct cn_sock *s, struct demi_op *op)
{
    const struct sockaddr *dest = op->u.push.dest_len ? (const struct sockaddr *)&op->u.push.dest : NULL;
    socklen_t dlen = op->u.push.dest_len;

    while (op->u.push.off < op->u.push.len) {
        ssize_t n = sendto(s->fd, op->u.push.ptr + op->u.push.off, op->u.push.len - op->u.push.off,
                           MSG_NOSIGNAL | MSG_DONTWAIT, dest, dlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? EAGAIN : errno;
        }
        /* A datagram goes whole or not at all. */
        op->u.push.off += (uint32_t)n;
    }
    return 0;
}

static void cn_push_done(struct demi_op *op, int err)
{
    if (op->u.push.buf) {
        dbuf_put(op->u.push.buf);
        op->u.push.buf = NULL;
    }
    cn_complete(op, DEMI_OPC_PUSH, err);
}

static int cn_progress_pushes(struct cn_sock *s)
{
    int n = 0;

    while (!list_empty(&s->pushes)) {
        struct demi_op *op = list_entry(list_first(&s->pushes), struct demi_op, link);
        int ret = cn_send_op(s, op);
        if (ret == EAGAIN)
            return n;
        cn_push_done(op, ret);
        n++;
    }
    if (s->fin_pending) {
        /* demi_shutdown(SHUT_WR) came while pushes waited: the kernel's FIN
         * goes after their bytes. A connection gone meanwhile has nothing
         * left to shut (ENOTCONN), which no one is waiting to hear. */
        s->fin_pending = false;
        (void)shutdown(s->fd, SHUT_WR);
    }
    return n;
}

static int cn_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
                   const struct inet_sockaddr *dest)
{
    struct cn_sock *s = cn_sock(q);
    int ret;

    if (s->shut_wr)
        return EPIPE;
    if (q->kind == QUEUE_TCP && s->state != CN_CONNECTED)
        return ENOTCONN;
    if (q->kind == QUEUE_UDP && !dest && s->state != CN_CONNECTED)
        return EDESTADDRREQ;
    op->u.push.ptr = sga->sga_segs[0].sgaseg_buf;
    op->u.push.len = sga->sga_segs[0].sgaseg_len;
    if (dest) {
        BUILD_BUG_ON(sizeof(op->u.push.dest) < sizeof(*dest));
        memcpy(&op->u.push.dest, dest, sizeof(*dest));
        op->u.push.dest_len = (uint8_t)inet_sockaddr_len(dest);
    }
    /* Keep stream order: only the head of the queue may send. */
    if (list_empty(&s->pushes)) {
        ret = cn_send_op(s, op);
        if (ret == 0) {
            cn_complete(op, DEMI_OPC_PUSH, 0);
            return 0;
        }
        if (ret != EAGAIN) {
            if (cn_is_call_error(ret) && op->u.push.off == 0)
                return ret;
            cn_complete(op, DEMI_OPC_PUSH, ret);
            return 0;
        }
    }
    /* Free-protection: our buffer stays alive while the push waits, even if
     * the application frees it. Foreign memory is the caller's to keep
     * untouched until completion (API contract). */
    if (d) {
        dbuf_ref(d);
        op->u.push.buf = d;
    }
    list_add_tail(&s->pushes, &op->link);
    return 0;
}

/* ---- pop --------------------------------------------------------------- */

/* Receive into a fresh buffer for @op. 0 when @op completed (data, EOF or
 * error), EAGAIN when nothing is there. */
static int cn_recv_op(struct cn_sock *s, struct demi_op *op)
{
    struct dbuf *d, *small;
    struct inet_sockaddr from;
    socklen_t flen = sizeof(from);
    ssize_t n;

    if (s->err) {
        cn_complete(op, DEMI_OPC_POP, s->err);
        return 0;
    }
    /* Receive into a 64 KiB buffer so bulk reads take few syscalls; a short
     * message is then moved into a small one so held pops cost 2 KiB. */
    d = dbuf_alloc(&rt.mem.pools[MEM_LARGE]);
    if (!d)
        d = dbuf_alloc(&rt.mem.pools[MEM_SMALL]);
    if (!d) {
        log_warn("catnap: pop on qd %d: buffer pools exhausted", s->q.qd);
        cn_complete(op, DEMI_OPC_POP, ENOMEM);
        return 0;
    }
    memset(&from, 0, sizeof(from));
    do
        n = recvfrom(s->fd, d->data, dbuf_tailroom(d), MSG_DONTWAIT, &from.sa, &flen);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EWOULDBLOCK || errno == EAGAIN) && s->shut_rd) {
        /* After SHUT_RD an empty queue is end of stream. Linux's TCP says
         * so itself (recv returns 0); its UDP says EAGAIN. */
        n = 0;
    } else if (n < 0) {
        int err = errno == EWOULDBLOCK ? EAGAIN : errno;
        dbuf_put(d);
        if (err == EAGAIN)
            return EAGAIN;
        if (s->q.kind == QUEUE_TCP)
            s->err = err; /* a reset ends the stream for every later pop */
        cn_complete(op, DEMI_OPC_POP, err);
        return 0;
    }
    if ((size_t)n <= MEM_SMALL_SIZE && d->pool == &rt.mem.pools[MEM_LARGE] &&
        (small = dbuf_alloc(&rt.mem.pools[MEM_SMALL])) != NULL) {
        memcpy(small->data, d->data, (size_t)n);
        dbuf_put(d);
        d = small;
    }
    /* n == 0 on TCP is the end of stream: a real, zero-length sga. */
    d->len = (uint32_t)n;
    op->qr.qr_value.sga.sga_buf = dbuf_app_handout(d);
    op->qr.qr_value.sga.sga_numsegs = 1;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_buf = d->data;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_len = (uint32_t)n;
    if (s->q.kind == QUEUE_UDP)
        inet_sockaddr_to_sga(&op->qr.qr_value.sga, d, &from);
    cn_complete(op, DEMI_OPC_POP, 0);
    return 0;
}

static int cn_pop(struct queue *q, struct demi_op *op)
{
    struct cn_sock *s = cn_sock(q);

    if (q->kind == QUEUE_TCP && s->state != CN_CONNECTED && s->state != CN_CONNECTING)
        return ENOTCONN;
    if (list_empty(&s->pops) && cn_recv_op(s, op) == 0)
        return 0;
    list_add_tail(&s->pops, &op->link);
    return 0;
}

static int cn_progress_pops(struct cn_sock *s)
{
    int n = 0;

    while (!list_empty(&s->pops)) {
        struct demi_op *op = list_entry(list_first(&s->pops), struct demi_op, link);
        if (cn_recv_op(s, op) == EAGAIN)
            break;
        n++;
    }
    return n;
}

/* ---- options ----------------------------------------------------------- */

static int cn_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    socklen_t want = libos_sockopt_size(level, optname);

    if (want == 0)
        return ENOPROTOOPT;
    if (optlen != want)
        return EINVAL;
    if (level == IPPROTO_TCP && q->kind != QUEUE_TCP)
        return ENOPROTOOPT;
    if (setsockopt(cn_sock(q)->fd, level, optname, optval, optlen) < 0)
        return errno;
    return 0;
}

static int cn_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    socklen_t want = libos_sockopt_size(level, optname);

    if (want == 0)
        return ENOPROTOOPT;
    if (*optlen < want)
        return EINVAL;
    if (level == IPPROTO_TCP && q->kind != QUEUE_TCP)
        return ENOPROTOOPT;
    *optlen = want;
    if (getsockopt(cn_sock(q)->fd, level, optname, optval, optlen) < 0)
        return errno;
    return 0;
}

static int cn_getpeername(struct queue *q, struct inet_sockaddr *addr)
{
    socklen_t len = sizeof(*addr);

    if (getpeername(cn_sock(q)->fd, &addr->sa, &len) < 0)
        return errno;
    return 0;
}

/* demi_shutdown: shutdown(2), with libdemi's contract where Linux's
 * differs: a listener or a connect in progress is ENOTCONN on every libOS
 * (Linux stops a listener on SHUT_RD and aborts a connect), and the FIN of
 * SHUT_WR goes after the pushes still waiting (Linux's shutdown would fail
 * them with EPIPE). */
static int cn_shutdown(struct queue *q, int how)
{
    struct cn_sock *s = cn_sock(q);
    bool rd = how != SHUT_WR, wr = how != SHUT_RD;
    bool defer = wr && !list_empty(&s->pushes);

    if (s->state != CN_CONNECTED)
        return ENOTCONN;
    if (rd || !defer) {
        int kernel_how = rd && wr && !defer ? SHUT_RDWR : rd ? SHUT_RD : SHUT_WR;
        if (shutdown(s->fd, kernel_how) < 0)
            return errno;
    } else {
        /* Nothing to call now: still ask whether there is a connection. */
        struct inet_sockaddr peer;
        socklen_t plen = sizeof(peer);
        if (getpeername(s->fd, &peer.sa, &plen) < 0)
            return errno;
    }
    if (wr) {
        s->shut_wr = true;
        s->fin_pending |= defer;
    }
    if (rd) {
        s->shut_rd = true;
        cn_progress_pops(s); /* a pop already waiting sees end of stream */
    }
    return 0;
}

static int cn_getsockname(struct queue *q, struct inet_sockaddr *addr)
{
    socklen_t len = sizeof(*addr);

    if (getsockname(cn_sock(q)->fd, &addr->sa, &len) < 0)
        return errno;
    return 0;
}

/* ---- event loop -------------------------------------------------------- */

static int cn_handle_events(struct epoll_event *evs, int nev)
{
    int n = 0;

    for (int i = 0; i < nev; i++) {
        struct cn_sock *s = evs[i].data.ptr;
        uint32_t e = evs[i].events;

        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            n += cn_progress_connect(s);
            n += cn_progress_pushes(s);
        }
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
            if (s->state == CN_LISTENING)
                n += cn_progress_accepts(s);
            else
                n += cn_progress_pops(s);
        }
    }
    return n;
}

static int cn_wait_events(struct catnap *cn, int timeout_ms)
{
    struct epoll_event evs[CN_EVENTS_PER_POLL];
    int nev = epoll_wait(cn->epfd, evs, CN_EVENTS_PER_POLL, timeout_ms);

    if (nev <= 0)
        return 0;
    return cn_handle_events(evs, nev);
}

static int cn_poll(struct libos *los)
{
    return cn_wait_events(container_of(los, struct catnap, base), 0);
}

static int cn_block(struct libos *los, int64_t timeout_ns)
{
    int ms = timeout_ns <= 0 ? 0 : (int)((timeout_ns + 999999) / 1000000);

    return cn_wait_events(container_of(los, struct catnap, base), ms);
}

static void cn_destroy(struct libos *los)
{
    struct catnap *cn = container_of(los, struct catnap, base);

    close(cn->epfd);
    free(cn);
}

static const struct libos_ops catnap_ops = {
    .name = "catnap",
    .socket = cn_socket,
    .bind = cn_bind,
    .listen = cn_listen,
    .accept = cn_accept,
    .connect = cn_connect,
    .close = cn_close,
    .push = cn_push,
    .pop = cn_pop,
    .setsockopt = cn_setsockopt,
    .getsockopt = cn_getsockopt,
    .getpeername = cn_getpeername,
    .shutdown = cn_shutdown,
    .getsockname = cn_getsockname,
    .poll = cn_poll,
    .block = cn_block,
    .destroy = cn_destroy,
};

int catnap_create(const struct demi_config *cfg, struct libos **out)
{
    struct catnap *cn = calloc(1, sizeof(*cn));

    if (!cn)
        return ENOMEM;
    cn->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (cn->epfd < 0) {
        int err = errno;
        free(cn);
        return err;
    }
    cn->base.ops = &catnap_ops;
    cn->cfg = cfg;
    *out = &cn->base;
    return 0;
}
