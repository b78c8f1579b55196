/* SPDX-License-Identifier: MIT */
/*
 * shim_io.c: the data calls: read/write and every variant of them, by way
 * of one receive and one send over struct msghdr. Reads copy out of the
 * buffers pops delivered (and free each once drained); writes copy into
 * libdemi buffers, which the stack then sends without another copy.
 */
/* fcntl64/sendfile64 are defined here under their own names: no redirects. */
#undef _FILE_OFFSET_BITS
#include "shim/shim.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

static size_t iov_total(const struct iovec *iov, size_t n)
{
    size_t t = 0;

    for (size_t i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

/* Copy @n bytes from @src into @msg's iovec, starting @off bytes in. */
static void iov_put(const struct msghdr *msg, size_t off, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < msg->msg_iovlen && n > 0; i++) {
        size_t l = msg->msg_iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t c = l - off < n ? l - off : n;
        memcpy((uint8_t *)msg->msg_iov[i].iov_base + off, src, c);
        src += c;
        n -= c;
        off = 0;
    }
}

/* Copy @n bytes of @msg's iovec, from @off bytes in, to @dst. */
static void iov_get(const struct msghdr *msg, size_t off, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < msg->msg_iovlen && n > 0; i++) {
        size_t l = msg->msg_iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        size_t c = l - off < n ? l - off : n;
        memcpy(dst, (const uint8_t *)msg->msg_iov[i].iov_base + off, c);
        dst += c;
        n -= c;
        off = 0;
    }
}

static void shim_set_name(struct msghdr *msg, const struct sockaddr_in *a)
{
    if (!msg->msg_name)
        return;
    if (!a) {
        msg->msg_namelen = 0;
        return;
    }
    memcpy(msg->msg_name, a, msg->msg_namelen < sizeof(*a) ? msg->msg_namelen : sizeof(*a));
    msg->msg_namelen = sizeof(*a);
}

/* ---- receiving ----------------------------------------------------------- */

/* Stream: up to @want bytes into @msg from @off. >= 0 bytes, or -errno
 * (-EAGAIN: nothing yet). */
static ssize_t shim_recv_stream(struct shim_sock *s, struct msghdr *msg, size_t off, size_t want, bool peek)
{
    size_t got = 0;

    if (s->listening)
        return -ENOTCONN;
    if (s->rx_bytes == 0) {
        if (s->err && !s->err_told) {
            s->err_told = true;
            return -s->err;
        }
        if (s->eof || s->rd_shut || s->err)
            return 0;
        if (!s->connected && !s->connecting)
            return -ENOTCONN;
        return -EAGAIN;
    }
    for (uint32_t i = 0; i < s->rx_n && got < want; i++) {
        struct shim_rx *r = &s->rx[(s->rx_head + i) % s->rx_cap];
        uint32_t avail = r->sga.sga_segs[0].sgaseg_len - r->off;
        size_t n = avail < want - got ? avail : want - got;

        iov_put(msg, off + got, (const uint8_t *)r->sga.sga_segs[0].sgaseg_buf + r->off, n);
        got += n;
        if (peek)
            continue;
        r->off += (uint32_t)n;
    }
    if (!peek) {
        while (s->rx_n > 0) {
            struct shim_rx *r = &s->rx[s->rx_head];
            if (r->off < r->sga.sga_segs[0].sgaseg_len)
                break;
            DEMI(demi_sgafree(&r->sga));
            s->rx_head = (s->rx_head + 1) % s->rx_cap;
            s->rx_n--;
        }
        s->rx_bytes -= got;
        shim_post_pop(s);
    }
    return (ssize_t)got;
}

/* Datagram: one, truncated to @want (MSG_TRUNC in msg_flags). */
static ssize_t shim_recv_dgram(struct shim_sock *s, struct msghdr *msg, size_t want, int flags)
{
    struct shim_rx *r;
    uint32_t len;
    size_t n;

    if (s->rx_n == 0) {
        if (s->err) {
            int e = s->err;
            s->err = 0;
            return -e;
        }
        return -EAGAIN;
    }
    r = &s->rx[s->rx_head];
    len = r->sga.sga_segs[0].sgaseg_len;
    n = len < want ? len : want;
    iov_put(msg, 0, r->sga.sga_segs[0].sgaseg_buf, n);
    struct sockaddr_in from = r->sga.sga_addr;
    shim_set_name(msg, &from);
    if (len > want)
        msg->msg_flags |= MSG_TRUNC;
    if (!(flags & MSG_PEEK)) {
        s->rx_bytes -= len;
        DEMI(demi_sgafree(&r->sga));
        s->rx_head = (s->rx_head + 1) % s->rx_cap;
        s->rx_n--;
        shim_post_pop(s);
    }
    return (ssize_t)((flags & MSG_TRUNC) ? len : n);
}

ssize_t shim_recv(struct shim_sock *s, struct msghdr *msg, int flags)
{
    size_t want = iov_total(msg->msg_iov, msg->msg_iovlen), got = 0;
    bool peek = flags & MSG_PEEK;
    struct shim_wait w;
    bool waiting = false;
    ssize_t ret;

    msg->msg_flags = 0;
    shim_lock();
    for (;;) {
        if (s->rx_n == 0)
            shim_pump();
        if (s->type == SOCK_DGRAM) {
            ret = shim_recv_dgram(s, msg, want, flags);
        } else {
            /* MSG_WAITALL on a blocking socket: until all of it, the end
             * of the stream, or an error. */
            bool waitall = (flags & MSG_WAITALL) && !peek && !s->nonblock && !(flags & MSG_DONTWAIT);

            ret = shim_recv_stream(s, msg, got, want - got, peek);
            if (msg->msg_name)
                shim_set_name(msg, NULL);
            if (ret > 0)
                got += (size_t)ret;
            if (waitall && got < want && (ret > 0 || ret == -EAGAIN))
                ret = -EAGAIN; /* wait for the rest */
            else if (got > 0)
                ret = (ssize_t)got; /* what came, before the end or an error */
        }
        if (ret != -EAGAIN || s->nonblock || (flags & MSG_DONTWAIT) || want == 0)
            break;
        shim_unlock();
        if (!waiting) {
            shim_wait_init(&w, -1);
            waiting = true;
        }
        shim_wait_round(&w);
        shim_lock();
    }
    shim_unlock();
    if (ret == -EAGAIN && want == 0)
        ret = 0;
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

/* ---- sending ------------------------------------------------------------- */

/* The push just made: completed already (its token consumed), or counted as
 * in flight until the pump sees it. */
static void shim_push_track(struct shim_sock *s, demi_qtoken_t qt, uint32_t len)
{
    static const struct timespec zero = {0, 0};
    demi_qresult_t qr;

    if (DEMI(demi_wait(&qr, qt, &zero)) == 0) {
        if (qr.qr_opcode == DEMI_OPC_FAILED && qr.qr_ret != ECANCELED && !s->err)
            s->err = (int)qr.qr_ret;
        return;
    }
    s->tx_len[(s->tx_head + s->tx_n) % SHIM_PUSH_MAX] = len;
    s->tx_n++;
    s->tx_bytes += len;
}

/* One push of @len bytes of @msg from @off (to @dest for UDP). */
static int shim_push(struct shim_sock *s, const struct msghdr *msg, size_t off, uint32_t len,
                     const struct sockaddr_in *dest)
{
    demi_sgarray_t sga = DEMI(demi_sgaalloc(len ? len : 1));
    demi_qtoken_t qt;
    int ret;

    if (!sga.sga_buf)
        return ENOBUFS;
    iov_get(msg, off, sga.sga_segs[0].sgaseg_buf, len);
    sga.sga_segs[0].sgaseg_len = len;
    if (dest)
        ret = DEMI(demi_pushto(&qt, s->qd, &sga, (const struct sockaddr *)dest, sizeof(*dest)));
    else
        ret = DEMI(demi_push(&qt, s->qd, &sga));
    /* Free-protection: the stack holds its own reference until sent. */
    DEMI(demi_sgafree(&sga));
    if (ret == 0)
        shim_push_track(s, qt, len);
    return ret;
}

static ssize_t shim_send_dgram(struct shim_sock *s, const struct msghdr *msg, size_t total)
{
    const struct sockaddr_in *dest = NULL;
    int ret;

    if (msg->msg_name && msg->msg_namelen) {
        dest = msg->msg_name;
        if (msg->msg_namelen < sizeof(*dest) || dest->sin_family != AF_INET)
            return -EINVAL;
    } else if (!s->connected) {
        return -EDESTADDRREQ;
    }
    if (total > 65507)
        return -EMSGSIZE;
    ret = shim_push(s, msg, 0, (uint32_t)total, dest);
    if (ret == 0)
        shim_post_pop(s); /* the first datagram bound a port: replies may come */
    return ret ? -ret : (ssize_t)total;
}

static ssize_t shim_send_stream(struct shim_sock *s, const struct msghdr *msg, size_t total, int flags)
{
    size_t sent = 0;
    struct shim_wait w;
    bool waiting = false;

    for (;;) {
        if (s->err) {
            if (s->err_told)
                return sent ? (ssize_t)sent : -EPIPE;
            s->err_told = true;
            return sent ? (ssize_t)sent : -s->err;
        }
        if (s->wr_shut || s->listening || (!s->connected && !s->connecting))
            return sent ? (ssize_t)sent : -EPIPE;
        if (sent == total)
            return (ssize_t)sent;
        if (s->connected && shim_writable(s)) {
            size_t room = s->tx_limit - s->tx_bytes;
            size_t n = total - sent;
            int ret;
            if (n > room)
                n = room;
            if (n > SHIM_CHUNK)
                n = SHIM_CHUNK;
            ret = shim_push(s, msg, sent, (uint32_t)n, NULL);
            if (ret == 0) {
                sent += n;
                continue;
            }
            if (ret != ENOBUFS)
                return sent ? (ssize_t)sent : -ret;
            /* out of buffers: as a full send buffer */
        }
        shim_pump();
        if (s->connected && shim_writable(s) && !s->err)
            continue;
        if (s->nonblock || (flags & MSG_DONTWAIT))
            return sent ? (ssize_t)sent : -EAGAIN;
        shim_unlock();
        if (!waiting) {
            shim_wait_init(&w, -1);
            waiting = true;
        }
        shim_wait_round(&w);
        shim_lock();
    }
}

ssize_t shim_send(struct shim_sock *s, const struct msghdr *msg, int flags)
{
    size_t total = iov_total(msg->msg_iov, msg->msg_iovlen);
    ssize_t ret;

    shim_lock();
    if (s->type == SOCK_DGRAM)
        ret = shim_send_dgram(s, msg, total);
    else
        ret = shim_send_stream(s, msg, total, flags);
    shim_unlock();
    if (ret < 0) {
        if (ret == -EPIPE && !(flags & MSG_NOSIGNAL))
            raise(SIGPIPE);
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

/* ---- the interposers ----------------------------------------------------- */

/* An fd of libdemi's in a forked child, or undecided: NULL and the caller
 * goes to the kernel (undecided) or fails (forked). */
#define SHIM_IO_ENTRY(fd, s, kernel_call)  \
    struct shim_sock *s = shim_lookup(fd); \
    if (!s || s->kind == SHIM_UNDECIDED)   \
        return kernel_call;                \
    if (shim_forked())                     \
        return shim_forked_error(fd);

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(recvmsg)(fd, msg, flags))
    return shim_recv(s, msg, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(recvfrom)(fd, buf, len, flags, addr, alen))
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_name = addr, .msg_namelen = addr && alen ? *alen : 0, .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = shim_recv(s, &m, flags);
    if (n >= 0 && addr && alen)
        *alen = m.msg_namelen;
    return n;
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(recv)(fd, buf, len, flags))
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return shim_recv(s, &m, flags);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(read)(fd, buf, len))
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return shim_recv(s, &m, 0);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(readv)(fd, iov, n))
    if (n < 0 || n > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return shim_recv(s, &m, 0);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(sendmsg)(fd, msg, flags))
    return shim_send(s, msg, flags);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen)
{
    struct shim_sock *s = shim_lookup(fd);

    if (s && s->kind == SHIM_UNDECIDED && addr && alen >= sizeof(struct sockaddr_in) && addr->sa_family == AF_INET &&
        s->type == SOCK_DGRAM && !shim_forked()) {
        /* An unbound UDP socket's first datagram decides where it lives. */
        if (shim_decide_dest(fd, s, (const struct sockaddr_in *)addr) < 0)
            return -1;
        s = shim_lookup(fd);
    }
    if (!s || s->kind == SHIM_UNDECIDED)
        return SHIM_REAL(sendto)(fd, buf, len, flags, addr, alen);
    if (shim_forked())
        return shim_forked_error(fd);
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_name = (void *)addr, .msg_namelen = addr ? alen : 0, .msg_iov = &iov, .msg_iovlen = 1};
    if (s->type == SOCK_STREAM)
        m.msg_name = NULL, m.msg_namelen = 0; /* TCP ignores the address, as Linux does */
    return shim_send(s, &m, flags);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(send)(fd, buf, len, flags))
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return shim_send(s, &m, flags);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(write)(fd, buf, len))
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return shim_send(s, &m, 0);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    SHIM_IO_ENTRY(fd, s, SHIM_REAL(writev)(fd, iov, n))
    if (n < 0 || n > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return shim_send(s, &m, 0);
}

/* _FORTIFY_SOURCE builds (Debian's) call these instead. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr, socklen_t *alen);
ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count);
SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (len > buflen)
        abort();
    return read(fd, buf, len);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    if (len > buflen)
        abort();
    return recv(fd, buf, len, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                                   socklen_t *alen)
{
    if (len > buflen)
        abort();
    return recvfrom(fd, buf, len, flags, addr, alen);
}

/* sendfile by copy: the file's bytes into libdemi buffers. */
static ssize_t shim_sendfile(struct shim_sock *s, int in_fd, off_t *offset, size_t count)
{
    enum { CHUNK = 256 * 1024 };
    off_t pos = offset ? *offset : lseek(in_fd, 0, SEEK_CUR);
    size_t done = 0;
    uint8_t *buf;

    if (pos < 0)
        return -1;
    buf = malloc(CHUNK);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    while (done < count) {
        size_t want = count - done < CHUNK ? count - done : CHUNK;
        ssize_t n = pread(in_fd, buf, want, pos + (off_t)done), sent;
        struct iovec iov;
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

        if (n <= 0) {
            if (n < 0 && done == 0) {
                free(buf);
                return -1;
            }
            break;
        }
        iov = (struct iovec){buf, (size_t)n};
        sent = shim_send(s, &m, 0);
        if (sent < 0) {
            if (done == 0) {
                free(buf);
                return -1;
            }
            break;
        }
        done += (size_t)sent;
        if (sent < n)
            break; /* the socket is full (non-blocking) */
    }
    free(buf);
    if (offset)
        *offset = pos + (off_t)done;
    else
        lseek(in_fd, pos + (off_t)done, SEEK_SET);
    return (ssize_t)done;
}

SHIM_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    SHIM_IO_ENTRY(out_fd, s, SHIM_REAL(sendfile)(out_fd, in_fd, offset, count))
    if (shim_lookup(in_fd)) {
        errno = EINVAL; /* a socket is no file to send from, as in Linux */
        return -1;
    }
    return shim_sendfile(s, in_fd, offset, count);
}

SHIM_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
    return sendfile(out_fd, in_fd, offset, count);
}
