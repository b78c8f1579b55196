/* SPDX-License-Identifier: MIT */
/*
 * shim_socket.c: the socket calls other than data and waiting: socket,
 * bind, listen, accept, connect (where a socket's home is decided), close,
 * shutdown, names, options, fcntl, ioctl and dup.
 */
/* fcntl64 is defined here under its own name: no redirect. */
#undef _FILE_OFFSET_BITS
#include "shim/shim.h"

#include <demi/ext.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

static int fail(int err)
{
    errno = err;
    return -1;
}

static void shim_copy_addr(struct sockaddr *addr, socklen_t *alen, const struct sockaddr_in *sin)
{
    memcpy(addr, sin, *alen < sizeof(*sin) ? *alen : sizeof(*sin));
    *alen = sizeof(*sin);
}

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    int fd = SHIM_REAL(socket)(domain, type, protocol);
    struct shim_sock *s;

    if (fd < 0 || shim_in_demi || !shim.enabled || shim_forked() || domain != AF_INET ||
        (base != SOCK_STREAM && base != SOCK_DGRAM) ||
        (protocol != 0 && protocol != (base == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP)))
        return fd;
    s = shim_sock_new(base, type & SOCK_NONBLOCK);
    if (!s)
        return fd; /* the kernel's, then */
    shim_lock();
    if (shim_fd_attach(fd, s) != 0) {
        static bool told;
        if (!told)
            shim_log("fd %d is above the shim's table (%d): it stays on the kernel", fd, SHIM_MAX_FDS);
        told = true;
        free(s);
    }
    shim_unlock();
    return fd;
}

/* Where an undecided socket goes, for a bind to @ip (@dest false) or a
 * connect/sendto to it. Called locked. 1 = libdemi (materialized), 0 = the
 * kernel (record gone), -errno. */
static int shim_decide(int fd, struct shim_sock *s, uint32_t ip, bool dest)
{
    int ret;

    /* DEMI_SHIM_KERNEL first: a kernel address never starts libdemi. */
    if (dest ? !shim_dest_is_demi(ip) : !shim_bind_is_demi(ip)) {
        shim_to_kernel(fd, s);
        return 0;
    }
    if (shim_demi_ready())
        return -ENETDOWN;
    /* Now that libdemi's address is known. */
    if (dest ? !shim_dest_is_demi(ip) : !shim_bind_is_demi(ip)) {
        shim_to_kernel(fd, s);
        return 0;
    }
    ret = shim_materialize(s);
    return ret ? -ret : 1;
}

int shim_decide_dest(int fd, struct shim_sock *s, const struct sockaddr_in *dest)
{
    int ret;

    shim_lock();
    ret = s->kind == SHIM_UNDECIDED ? shim_decide(fd, s, dest->sin_addr.s_addr, true) : 1;
    shim_unlock();
    return ret < 0 ? fail(-ret) : 0;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct shim_sock *s = shim_lookup(fd);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    int ret;

    if (!s || (s->kind == SHIM_UNDECIDED && (!addr || len < sizeof(*sin) || addr->sa_family != AF_INET)))
        return SHIM_REAL(bind)(fd, addr, len);
    if (shim_forked())
        return shim_forked_error(fd);
    shim_lock();
    if (s->kind == SHIM_UNDECIDED) {
        ret = shim_decide(fd, s, sin->sin_addr.s_addr, false);
        if (ret <= 0) {
            shim_unlock();
            return ret < 0 ? fail(-ret) : SHIM_REAL(bind)(fd, addr, len);
        }
    }
    ret = DEMI(demi_bind(s->qd, addr, len));
    if (ret == 0) {
        s->local = *sin;
        s->has_local = true;
        if (s->type == SOCK_DGRAM)
            shim_post_pop(s); /* datagrams may come now */
    }
    shim_unlock();
    return ret ? fail(ret) : 0;
}

SHIM_EXPORT int listen(int fd, int backlog)
{
    struct shim_sock *s = shim_lookup(fd);
    int ret;

    if (!s)
        return SHIM_REAL(listen)(fd, backlog);
    if (shim_forked())
        return shim_forked_error(fd);
    if (s->type != SOCK_STREAM)
        return fail(EOPNOTSUPP);
    shim_lock();
    if (s->kind == SHIM_UNDECIDED) {
        ret = shim_decide(fd, s, htonl(INADDR_ANY), false);
        if (ret <= 0) {
            shim_unlock();
            return ret < 0 ? fail(-ret) : SHIM_REAL(listen)(fd, backlog);
        }
    }
    if (s->listening) { /* a second listen() changes the backlog only */
        shim_unlock();
        return 0;
    }
    if (!s->has_local) { /* Linux binds an unbound listener to an ephemeral port */
        struct sockaddr_in any = {.sin_family = AF_INET};
        ret = DEMI(demi_bind(s->qd, (const struct sockaddr *)&any, sizeof(any)));
        if (ret) {
            shim_unlock();
            return fail(ret);
        }
        s->local = any;
        s->has_local = true;
    }
    ret = DEMI(demi_listen(s->qd, backlog > 0 ? (backlog < 65535 ? backlog : 65535) : 1));
    if (ret == 0) {
        s->listening = true;
        shim_post_accept(s);
    }
    shim_unlock();
    return ret ? fail(ret) : 0;
}

/* A socket for connection @a: a kernel placeholder fd and a record. */
static int shim_adopt(struct shim_sock *l, const struct shim_acc *a, int flags)
{
    int kfd = SHIM_REAL(socket)(AF_INET, SOCK_STREAM | (flags & (SOCK_CLOEXEC | SOCK_NONBLOCK)), 0);
    struct shim_sock *ns;

    if (kfd < 0)
        return -errno;
    ns = shim_sock_new(SOCK_STREAM, flags & SOCK_NONBLOCK);
    if (!ns || shim_byqd_set(a->qd, ns) != 0 || shim_fd_attach(kfd, ns) != 0) {
        if (ns && a->qd < shim.byqd_cap && shim.byqd[a->qd] == ns)
            shim.byqd[a->qd] = NULL;
        free(ns);
        SHIM_REAL(close)(kfd);
        return kfd >= SHIM_MAX_FDS ? -EMFILE : -ENOMEM;
    }
    ns->kind = SHIM_DEMI;
    ns->qd = a->qd;
    ns->connected = true;
    ns->peer = a->addr;
    ns->has_peer = true;
    ns->local = l->local;
    shim_post_pop(ns);
    return kfd;
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    struct shim_sock *s = shim_lookup(fd);
    struct shim_wait w;
    bool waiting = false;
    int ret;

    if (!s || s->kind == SHIM_UNDECIDED)
        return SHIM_REAL(accept4)(fd, addr, alen, flags);
    if (shim_forked())
        return shim_forked_error(fd);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return fail(EINVAL);
    if (addr && !alen)
        return fail(EFAULT);
    shim_lock();
    for (;;) {
        if (!s->listening) {
            ret = -EINVAL;
            break;
        }
        if (s->acc_n == 0)
            shim_pump();
        if (s->acc_n > 0) {
            struct shim_acc a = s->acc[s->acc_head];
            ret = shim_adopt(s, &a, flags);
            if (ret >= 0) {
                s->acc_head = (s->acc_head + 1) % s->acc_cap;
                s->acc_n--;
                if (addr)
                    shim_copy_addr(addr, alen, &a.addr);
            }
            break;
        }
        if (s->nonblock) {
            ret = -EAGAIN;
            break;
        }
        shim_unlock();
        if (!waiting) {
            shim_wait_init(&w, -1);
            waiting = true;
        }
        shim_wait_round(&w);
        shim_lock();
    }
    shim_unlock();
    return ret < 0 ? fail(-ret) : ret;
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    return accept4(fd, addr, alen, 0);
}

static int shim_connect_tcp(struct shim_sock *s, const struct sockaddr *addr, socklen_t len)
{
    struct shim_wait w;
    demi_qtoken_t qt;
    int ret;

    if (s->connected)
        return -EISCONN;
    if (s->connecting)
        return -EALREADY;
    if (s->listening)
        return -EISCONN;
    s->so_error = 0;
    ret = DEMI(demi_connect(&qt, s->qd, addr, len));
    if (ret)
        return -ret;
    s->connecting = true;
    s->conn_qt = qt;
    s->peer = *(const struct sockaddr_in *)addr;
    s->has_peer = true;
    shim_pump();
    if (s->nonblock)
        return s->connected ? 0 : -EINPROGRESS;
    shim_wait_init(&w, -1);
    while (s->connecting) {
        shim_unlock();
        shim_wait_round(&w);
        shim_lock();
        shim_pump();
    }
    if (s->so_error) {
        ret = s->so_error;
        s->so_error = 0;
        s->has_peer = false;
        return -ret;
    }
    return 0;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct shim_sock *s = shim_lookup(fd);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    int ret;

    if (!s || (s->kind == SHIM_UNDECIDED && (!addr || len < sizeof(*sin) || addr->sa_family != AF_INET)))
        return SHIM_REAL(connect)(fd, addr, len);
    if (shim_forked())
        return shim_forked_error(fd);
    if (!addr || len < sizeof(*sin) || addr->sa_family != AF_INET)
        return fail(addr && addr->sa_family == AF_UNSPEC ? EOPNOTSUPP : EAFNOSUPPORT);
    shim_lock();
    if (s->kind == SHIM_UNDECIDED) {
        ret = shim_decide(fd, s, sin->sin_addr.s_addr, true);
        if (ret <= 0) {
            shim_unlock();
            return ret < 0 ? fail(-ret) : SHIM_REAL(connect)(fd, addr, len);
        }
    }
    if (s->type == SOCK_STREAM) {
        ret = shim_connect_tcp(s, addr, len);
    } else {
        static const struct timespec zero = {0, 0};
        demi_qtoken_t qt;
        demi_qresult_t qr;
        ret = -DEMI(demi_connect(&qt, s->qd, addr, len));
        if (ret == 0 && DEMI(demi_wait(&qr, qt, &zero)) == 0 && qr.qr_opcode == DEMI_OPC_FAILED)
            ret = -(int)qr.qr_ret;
        if (ret == 0) {
            s->connected = true;
            s->peer = *sin;
            s->has_peer = true;
            shim_post_pop(s);
        }
    }
    shim_notify(s);
    shim_unlock();
    return ret < 0 ? fail(-ret) : 0;
}

/* The last reference to @s went with @fd. Locked. */
static void shim_unref(struct shim_sock *s)
{
    if (--s->refs > 0)
        return;
    if (shim_forked()) { /* the parent's: no libdemi call here */
        shim_epoll_drop_sock(s);
        return;
    }
    if (s->kind == SHIM_UNDECIDED) {
        shim_to_kernel(-1, s);
        return;
    }
    shim_sock_release(s);
}

SHIM_EXPORT int close(int fd)
{
    struct shim_sock *s;

    if (shim_in_demi)
        return SHIM_REAL(close)(fd);
    if (shim_epoll_of(fd))
        shim_epoll_forget(fd);
    s = shim_sock_of(fd);
    if (s) {
        shim_lock();
        if (shim_sock_of(fd) == s) {
            shim_fd_detach(fd);
            shim_unref(s);
        }
        shim_unlock();
    }
    return SHIM_REAL(close)(fd);
}

SHIM_EXPORT int shutdown(int fd, int how)
{
    struct shim_sock *s = shim_lookup(fd);
    int ret = 0;

    if (!s || s->kind == SHIM_UNDECIDED)
        return SHIM_REAL(shutdown)(fd, how);
    if (shim_forked())
        return shim_forked_error(fd);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return fail(EINVAL);
    shim_lock();
    if (s->listening) {
        /* Linux: 0; SHUT_RD stops the listener (accept then fails with
         * EINVAL). libdemi's listener stays until close. */
        if (how != SHUT_WR)
            s->listening = false;
        shim_notify(s);
        shim_unlock();
        return 0;
    }
    if (s->type == SOCK_STREAM && !s->connected)
        ret = ENOTCONN;
    else
        ret = DEMI(demi_shutdown(s->qd, how));
    if (ret == 0) {
        if (how != SHUT_WR)
            s->rd_shut = true;
        if (how != SHUT_RD)
            s->wr_shut = true;
        shim_notify(s);
    }
    shim_unlock();
    return ret ? fail(ret) : 0;
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *alen)
{
    struct shim_sock *s = shim_lookup(fd);
    struct sockaddr_in sin;
    socklen_t l = sizeof(sin);
    int ret;

    if (!s || s->kind == SHIM_UNDECIDED)
        return SHIM_REAL(getsockname)(fd, addr, alen);
    if (shim_forked())
        return shim_forked_error(fd);
    if (!addr || !alen)
        return fail(EFAULT);
    shim_lock();
    ret = DEMI(demi_getsockname(s->qd, (struct sockaddr *)&sin, &l));
    shim_unlock();
    if (ret)
        return fail(ret);
    shim_copy_addr(addr, alen, &sin);
    return 0;
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *alen)
{
    struct shim_sock *s = shim_lookup(fd);

    if (!s || s->kind == SHIM_UNDECIDED)
        return SHIM_REAL(getpeername)(fd, addr, alen);
    if (shim_forked())
        return shim_forked_error(fd);
    if (!addr || !alen)
        return fail(EFAULT);
    if (!s->has_peer || (s->type == SOCK_STREAM && !s->connected))
        return fail(ENOTCONN);
    shim_copy_addr(addr, alen, &s->peer);
    return 0;
}

/* The options libdemi implements itself; every other one lives on the
 * kernel placeholder socket, which validates it as Linux does. */
static bool shim_demi_opt(int level, int name)
{
    if (level == SOL_SOCKET)
        return name == SO_LINGER || name == SO_KEEPALIVE || name == SO_REUSEADDR || name == SO_RCVBUF ||
               name == SO_SNDBUF;
    if (level == IPPROTO_TCP)
        return name == TCP_NODELAY || name == TCP_KEEPIDLE || name == TCP_KEEPINTVL || name == TCP_KEEPCNT;
    return false;
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct shim_sock *s = shim_lookup(fd);
    int ret;

    if (!s || shim_forked())
        return SHIM_REAL(setsockopt)(fd, level, name, val, len);
    /* The kernel first: Linux's validation, and the store for the rest. */
    if (SHIM_REAL(setsockopt)(fd, level, name, val, len) != 0)
        return -1;
    if (!shim_demi_opt(level, name))
        return 0;
    shim_lock();
    if (s->kind == SHIM_UNDECIDED) {
        if (s->nopts < SHIM_SAVED_OPTS) {
            struct shim_opt *o = &s->opts[s->nopts++];
            o->level = level;
            o->name = name;
            if (level == SOL_SOCKET && name == SO_LINGER && len >= sizeof(struct linger))
                o->linger = *(const struct linger *)val;
            else if (len >= sizeof(int))
                o->val = *(const int *)val;
            else
                s->nopts--;
        }
        ret = 0;
    } else {
        ret = DEMI(demi_setsockopt(s->qd, level, name, val, len));
        if (ret == ENOPROTOOPT || ret == ENOTSUP)
            ret = 0; /* this libOS lacks it: the kernel socket keeps the value */
        if (ret == 0 && level == SOL_SOCKET && name == SO_RCVBUF && len >= sizeof(int) && *(const int *)val > 0)
            s->rx_limit = (size_t) * (const int *)val;
        if (ret == 0 && level == SOL_SOCKET && name == SO_SNDBUF && len >= sizeof(int) && *(const int *)val > 0)
            s->tx_limit = (size_t) * (const int *)val;
    }
    shim_unlock();
    return ret ? fail(ret) : 0;
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct shim_sock *s = shim_lookup(fd);
    int v;

    if (!s || s->kind == SHIM_UNDECIDED || shim_forked())
        return SHIM_REAL(getsockopt)(fd, level, name, val, len);
    if (!val || !len)
        return fail(EFAULT);
    if (level == SOL_SOCKET && (name == SO_ERROR || name == SO_ACCEPTCONN)) {
        shim_lock();
        if (name == SO_ACCEPTCONN) {
            v = s->listening;
        } else if (s->so_error) {
            v = s->so_error;
            s->so_error = 0;
        } else if (s->err && !s->err_told) {
            v = s->err;
            s->err_told = true;
        } else {
            v = 0;
        }
        shim_unlock();
        if (*len < sizeof(int))
            return fail(EINVAL);
        memcpy(val, &v, sizeof(v));
        *len = sizeof(v);
        return 0;
    }
    if (level == IPPROTO_TCP && name == TCP_INFO) {
        if (SHIM_REAL(getsockopt)(fd, level, name, val, len) != 0)
            return -1;
        if (*len >= 1) /* the state, at least, is ours */
            ((struct tcp_info *)val)->tcpi_state = s->connected ? 1 /* ESTABLISHED */ : s->listening ? 10 : 7;
        return 0;
    }
    /* Every other option reads back from the kernel placeholder, which
     * holds what the program set, in Linux's own terms (SO_RCVBUF doubled). */
    return SHIM_REAL(getsockopt)(fd, level, name, val, len);
}

/* F_DUPFD, dup: @nfd names @s too. */
static int shim_dup_attach(int nfd, struct shim_sock *s)
{
    if (nfd < 0 || !s)
        return nfd;
    shim_lock();
    if (shim_fd_attach(nfd, s) != 0) {
        shim_unlock();
        SHIM_REAL(close)(nfd);
        return fail(EMFILE);
    }
    shim_unlock();
    return nfd;
}

static int shim_fcntl(int fd, int cmd, void *arg)
{
    struct shim_sock *s = shim_lookup(fd);
    int ret = SHIM_REAL(fcntl)(fd, cmd, arg);

    if (!s || ret < 0)
        return ret;
    if (cmd == F_SETFL)
        s->nonblock = ((long)arg & O_NONBLOCK) != 0;
    else if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return shim_dup_attach(ret, s);
    return ret;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return shim_fcntl(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...);

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return shim_fcntl(fd, cmd, arg);
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    struct shim_sock *s;
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    s = shim_lookup(fd);
    if (!s || s->kind == SHIM_UNDECIDED || shim_forked()) {
        int ret = SHIM_REAL(ioctl)(fd, req, arg);
        if (s && ret == 0 && req == FIONBIO && arg)
            s->nonblock = *(int *)arg != 0;
        return ret;
    }
    if (req == FIONBIO) {
        if (!arg)
            return fail(EFAULT);
        if (SHIM_REAL(ioctl)(fd, req, arg) != 0)
            return -1;
        s->nonblock = *(int *)arg != 0;
        return 0;
    }
    if (req == FIONREAD || req == SIOCOUTQ) {
        int v;
        if (!arg)
            return fail(EFAULT);
        shim_lock();
        shim_pump();
        if (req == SIOCOUTQ)
            v = (int)s->tx_bytes;
        else if (s->type == SOCK_DGRAM)
            v = s->rx_n ? (int)s->rx[s->rx_head].sga.sga_segs[0].sgaseg_len : 0;
        else if (s->listening)
            v = -1;
        else
            v = s->rx_bytes > INT32_MAX ? INT32_MAX : (int)s->rx_bytes;
        shim_unlock();
        if (v < 0)
            return fail(EINVAL);
        *(int *)arg = v;
        return 0;
    }
    return SHIM_REAL(ioctl)(fd, req, arg);
}

SHIM_EXPORT int dup(int fd)
{
    return shim_dup_attach(SHIM_REAL(dup)(fd), shim_lookup(fd));
}

/* dup2/dup3 onto @nfd: what @nfd named is closed first, as the kernel does. */
static int shim_dup_onto(int fd, int nfd, int ret)
{
    struct shim_sock *s = shim_lookup(fd), *t;

    if (ret < 0 || shim_in_demi)
        return ret;
    if (shim_epoll_of(nfd))
        shim_epoll_forget(nfd);
    shim_lock();
    t = shim_sock_of(nfd);
    if (t) {
        shim_fd_detach(nfd);
        shim_unref(t);
    }
    if (s && shim_fd_attach(nfd, s) != 0) {
        shim_unlock();
        SHIM_REAL(close)(nfd);
        return fail(EMFILE);
    }
    shim_unlock();
    return ret;
}

SHIM_EXPORT int dup2(int fd, int nfd)
{
    if (fd == nfd)
        return SHIM_REAL(dup2)(fd, nfd);
    return shim_dup_onto(fd, nfd, SHIM_REAL(dup2)(fd, nfd));
}

SHIM_EXPORT int dup3(int fd, int nfd, int flags)
{
    return shim_dup_onto(fd, nfd, SHIM_REAL(dup3)(fd, nfd, flags));
}
