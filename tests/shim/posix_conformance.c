/*
 * posix_conformance.c: the POSIX socket semantics a real server and client
 * rely on, checked one by one, so that the same binary run plainly on Linux
 * (the reference: every check passes there) and under the LD_PRELOAD shim
 * (tools/demirun) shows where the shim differs from Linux.
 *
 *   posix_conformance [IPV4_ADDR [BASE_PORT]]
 *
 * IPV4_ADDR defaults to 127.0.0.1; BASE_PORT to one derived from the PID
 * (ports are taken upwards from it, skipping ones in use). Output is TAP-like:
 * `ok N - what` or `not ok N - what: expected X, got Y`, then `1..N` and
 * `P passed, F failed`; the exit status is 1 if any check failed.
 *
 * Everything runs in one process and one thread that drives both ends of each
 * connection (non-blocking sockets and poll/epoll, or short blocking calls
 * whose other side is already queued), because the shim's catloop libOS runs
 * both ends in the process that polls it. The exceptions: a helper thread that
 * only sleeps and then writes an eventfd or a pipe (to wake a blocked wait),
 * a thread that only does file and pipe I/O, and one fork() test. Every wait
 * is bounded, so a bug gives `not ok`, never a hang: waits have timeouts, and
 * each call that may block runs under a 3 s alarm() whose handler (installed
 * without SA_RESTART) makes a stuck call fail with EINTR.
 *
 * SHIM_CONFORMANCE_LINUX=1 adds the checks only Linux passes by design (a
 * forked child using an inherited socket; the shim refuses that clearly).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 2000 /* the bound on any single wait */
#define GUARD_S 3    /* the watchdog on a call that may block */
#define SA(p) ((struct sockaddr *)(p))

/* ------------------------------------------------------------ reporting */

static int g_num, g_pass, g_fail;
static struct in_addr g_addr;
static unsigned g_port;
static volatile sig_atomic_t g_sigpipes, g_alarms;

/* expr under the watchdog: a call blocked GUARD_S seconds fails with EINTR. */
#define GUARDED(expr)                   \
    __extension__({                     \
        alarm(GUARD_S);                 \
        __typeof__(expr) g_r_ = (expr); \
        int g_e_ = errno;               \
        alarm(0);                       \
        errno = g_e_;                   \
        g_r_;                           \
    })

static void pass(const char *what)
{
    g_num++;
    g_pass++;
    printf("ok %d - %s\n", g_num, what);
    fflush(stdout);
}

static void fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *what, const char *fmt, ...)
{
    va_list ap;

    g_num++;
    g_fail++;
    printf("not ok %d - %s: ", g_num, what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void comment(const char *text)
{
    printf("# %s\n", text);
    fflush(stdout);
}

static const char *en(int e)
{
    static _Thread_local char buf[4][24];
    static _Thread_local int next;

    switch (e) {
    case 0:
        return "0";
    case EINTR:
        return "EINTR (blocked until the watchdog's alarm)";
        /* clang-format off */
#define X(n) \
    case n: \
        return #n;
        X(EAGAIN) X(EBADF) X(EINPROGRESS) X(ECONNREFUSED) X(ECONNRESET) X(EPIPE) X(ENOTCONN)
        X(EISCONN) X(EINVAL) X(EADDRINUSE) X(ENOTSOCK) X(EEXIST) X(ENOENT) X(EPERM)
        X(EOPNOTSUPP) X(EALREADY) X(ETIMEDOUT) X(EFAULT) X(ENOMEM) X(ENOBUFS)
        X(EMFILE) X(ENOSYS) X(EADDRNOTAVAIL) X(ENOPROTOOPT) X(EAFNOSUPPORT) X(EPROTONOSUPPORT)
        X(EDESTADDRREQ) X(EMSGSIZE) X(ENETUNREACH) X(EHOSTUNREACH) X(ESPIPE) X(EIO) X(ENXIO)
        X(ENODEV) X(ESRCH) X(ECHILD) X(ENOTTY) X(EACCES) X(ECONNABORTED) X(EPROTO)
#undef X
        /* clang-format on */
    }
    next = (next + 1) % 4;
    snprintf(buf[next], sizeof(buf[next]), "errno %d", e);
    return buf[next];
}

static void check_rc(const char *what, long rc, int err, long want)
{
    if (rc == want)
        pass(what);
    else if (rc < 0)
        fail(what, "expected %ld, got %ld/%s", want, rc, en(err));
    else
        fail(what, "expected %ld, got %ld", want, rc);
}

static void check_err2(const char *what, long rc, int err, int want1, int want2)
{
    if (rc == -1 && (err == want1 || err == want2))
        pass(what);
    else if (want1 == want2)
        fail(what, "expected -1/%s, got %ld/%s", en(want1), rc, rc == -1 ? en(err) : "-");
    else
        fail(what, "expected -1/%s or -1/%s, got %ld/%s", en(want1), en(want2), rc, rc == -1 ? en(err) : "-");
}

/* The call's result and errno, taken right after the call. */
#define CK_RC(what, expr, want)        \
    do {                               \
        errno = 0;                     \
        long r_ = (long)GUARDED(expr); \
        int e_ = errno;                \
        check_rc(what, r_, e_, want);  \
    } while (0)
#define CK_ERR(what, expr, want)              \
    do {                                      \
        errno = 0;                            \
        long r_ = (long)GUARDED(expr);        \
        int e_ = errno;                       \
        check_err2(what, r_, e_, want, want); \
    } while (0)
#define CK_ERR2(what, expr, w1, w2)       \
    do {                                  \
        errno = 0;                        \
        long r_ = (long)GUARDED(expr);    \
        int e_ = errno;                   \
        check_err2(what, r_, e_, w1, w2); \
    } while (0)
#define CK(what, cond, ...)          \
    do {                             \
        if (cond)                    \
            pass(what);              \
        else                         \
            fail(what, __VA_ARGS__); \
    } while (0)

/* ------------------------------------------------------------ helpers */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static struct sockaddr_in sa_of(struct in_addr a, unsigned port)
{
    struct sockaddr_in s;

    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    s.sin_addr = a;
    s.sin_port = htons((uint16_t)port);
    return s;
}

static int sa_eq(const struct sockaddr_in *x, const struct sockaddr_in *y)
{
    return x->sin_family == y->sin_family && x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static const char *sa_str(const struct sockaddr_in *s)
{
    static char buf[4][48];
    static int next;
    char a[INET_ADDRSTRLEN];

    next = (next + 1) % 4;
    inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
    snprintf(buf[next], sizeof(buf[next]), "%s:%u (family %u)", a, ntohs(s->sin_port), s->sin_family);
    return buf[next];
}

static unsigned next_port(void)
{
    if (g_port > 65000)
        g_port = 10000;
    return g_port++;
}

static int set_nb(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static short wait_ev(int fd, short ev, int ms)
{
    struct pollfd p = {fd, ev, 0};
    long deadline = now_ms() + ms;
    int n;

    for (;;) {
        n = poll(&p, 1, ms);
        if (n >= 0 || errno != EINTR)
            break;
        ms = (int)(deadline - now_ms());
        if (ms < 0)
            ms = 0;
    }
    return n > 0 ? p.revents : 0;
}

static int so_error(int fd)
{
    int v = -1;
    socklen_t l = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l) < 0)
        return -errno;
    return v;
}

/* Reads up to n bytes, waiting up to ms for each; stops at EOF or an error. */
static size_t read_upto(int fd, char *buf, size_t n, int ms, int *eof, int *err)
{
    size_t got = 0;

    *eof = 0;
    *err = 0;
    while (got < n) {
        if (!wait_ev(fd, POLLIN, ms))
            break;
        ssize_t r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0) {
            *eof = 1;
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            *err = errno;
            break;
        }
    }
    return got;
}

/* The peer of fd receives exactly want (n bytes): a check of its own. */
static void expect_bytes(const char *what, int fd, const char *want, size_t n)
{
    char buf[256];
    int eof, err;
    size_t got;

    if (n > sizeof(buf))
        n = sizeof(buf);
    got = read_upto(fd, buf, n, WAIT_MS, &eof, &err);
    if (got == n && memcmp(buf, want, n) == 0)
        pass(what);
    else if (got == n)
        fail(what, "expected \"%.*s\", got \"%.*s\"", (int)n, want, (int)n, buf);
    else
        fail(what, "expected %zu bytes \"%.*s\", got %zu bytes%s%s%s", n, (int)n, want, got, eof ? " then EOF" : "",
             err ? " then " : "", err ? en(err) : "");
}

static void fill(char *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)(x >> 11);
    }
}

/* A bound TCP listener on g_addr and a fresh port (SO_REUSEADDR), or -1. */
static int mk_listener(struct sockaddr_in *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, r = -1;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    for (int tries = 0; tries < 50; tries++) {
        *out = sa_of(g_addr, next_port());
        r = bind(fd, SA(out), sizeof(*out));
        if (r == 0 || errno != EADDRINUSE)
            break;
    }
    if (r < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A UDP socket bound to g_addr and a fresh port, or -1. */
static int mk_udp(struct sockaddr_in *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), r = -1;

    if (fd < 0)
        return -1;
    for (int tries = 0; tries < 50; tries++) {
        *out = sa_of(g_addr, next_port());
        r = bind(fd, SA(out), sizeof(*out));
        if (r == 0 || errno != EADDRINUSE)
            break;
    }
    if (r < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * A connection to listener L at sa: *c the client, *s the accepted end,
 * both blocking. 0, or -1 after a `not ok` line saying why.
 */
static int tcp_pair_on(const char *what, int L, const struct sockaddr_in *sa, int *c, int *s)
{
    char why[160];
    int cf = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), sf = -1, e;
    short rev;

    *c = *s = -1;
    if (cf < 0) {
        snprintf(why, sizeof(why), "socket: %s", en(errno));
        goto bad;
    }
    if (connect(cf, SA(sa), sizeof(*sa)) < 0 && errno != EINPROGRESS) {
        snprintf(why, sizeof(why), "connect: %s", en(errno));
        goto bad;
    }
    if (!(wait_ev(L, POLLIN, WAIT_MS) & POLLIN)) {
        snprintf(why, sizeof(why), "no connection at the listener within 2 s");
        goto bad;
    }
    sf = GUARDED(accept(L, NULL, NULL));
    if (sf < 0) {
        snprintf(why, sizeof(why), "accept: %s", en(errno));
        goto bad;
    }
    rev = wait_ev(cf, POLLOUT, WAIT_MS);
    if (!(rev & POLLOUT) || (e = so_error(cf)) != 0) {
        snprintf(why, sizeof(why), "connect did not complete (revents 0x%x, SO_ERROR %s)", rev,
                 (rev & POLLOUT) ? en(so_error(cf)) : "-");
        goto bad;
    }
    set_nb(cf, 0);
    *c = cf;
    *s = sf;
    return 0;
bad:
    fail(what, "setting up a connection: %s", why);
    if (cf >= 0)
        close(cf);
    if (sf >= 0)
        close(sf);
    return -1;
}

static int tcp_pair(const char *what, int *c, int *s)
{
    struct sockaddr_in sa;
    int L = mk_listener(&sa), r;

    if (L < 0) {
        fail(what, "setting up a listener: %s", en(errno));
        *c = *s = -1;
        return -1;
    }
    r = tcp_pair_on(what, L, &sa, c, s);
    close(L);
    return r;
}

static void close_pair(int a, int b)
{
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
}

/* A fd number that is not open right now (a socket's, closed). */
static int closed_fd(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        fd = dup(0);
    close(fd);
    return fd;
}

static int tmp_file(void)
{
    char path[] = "/tmp/demi-posix-XXXXXX";
    int fd = mkstemp(path);

    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Helper threads leave SIGALRM to the main thread's blocked call. */
static void block_alarm(void)
{
    sigset_t ss;

    sigemptyset(&ss);
    sigaddset(&ss, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
}

static void on_alarm(int sig)
{
    (void)sig;
    g_alarms++;
}

static void on_sigpipe(int sig)
{
    (void)sig;
    g_sigpipes++;
}

/* ------------------------------------------------------------ connect, accept, names */

static void t_connect(void)
{
    struct sockaddr_in sa, got, cname, peer;
    socklen_t gl;
    int L, c, s, c2, s2, one = 1, r, e, tries = 0;
    short rev;

    comment("socket, bind, listen, connect, accept, accept4, names");
    L = socket(AF_INET, SOCK_STREAM, 0);
    CK("socket(AF_INET, SOCK_STREAM, 0) returns an fd", L >= 0, "expected an fd, got %d/%s", L, en(errno));
    if (L < 0)
        return;
    CK_RC("setsockopt(SO_REUSEADDR, 1) on a new socket", setsockopt(L, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    do {
        sa = sa_of(g_addr, next_port());
        r = bind(L, SA(&sa), sizeof(sa));
        e = errno;
    } while (r < 0 && e == EADDRINUSE && ++tries < 50);
    check_rc("bind(address, port)", r, e, 0);
    gl = sizeof(got);
    memset(&got, 0, sizeof(got));
    r = getsockname(L, SA(&got), &gl);
    CK("getsockname after bind: the bound address and port", r == 0 && gl == sizeof(got) && sa_eq(&got, &sa),
       "expected %s, got %s (rc %d, len %u)", sa_str(&sa), sa_str(&got), r, gl);
    CK_RC("listen(fd, 16)", listen(L, 16), 0);

    /* Non-blocking connect. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CK("socket(SOCK_STREAM | SOCK_NONBLOCK): O_NONBLOCK set", c >= 0 && (fcntl(c, F_GETFL) & O_NONBLOCK),
       "expected an fd with O_NONBLOCK, got fd %d, flags 0x%x", c, c >= 0 ? fcntl(c, F_GETFL) : 0);
    CK_ERR("non-blocking connect to a listener: -1/EINPROGRESS", connect(c, SA(&sa), sizeof(sa)), EINPROGRESS);
    rev = wait_ev(c, POLLOUT, WAIT_MS);
    CK("non-blocking connect: POLLOUT within 2 s, without POLLERR/POLLHUP",
       (rev & POLLOUT) && !(rev & (POLLERR | POLLHUP)), "expected POLLOUT, got revents 0x%x", rev);
    r = so_error(c);
    CK("non-blocking connect: getsockopt(SO_ERROR) == 0", r == 0, "expected 0, got %s", r < 0 ? en(-r) : en(r));
    gl = sizeof(cname);
    memset(&cname, 0, sizeof(cname));
    r = getsockname(c, SA(&cname), &gl);
    CK("getsockname after connect: our address and a non-zero ephemeral port",
       r == 0 && cname.sin_family == AF_INET && cname.sin_addr.s_addr == g_addr.s_addr && cname.sin_port != 0,
       "expected %s with a port, got %s (rc %d)", inet_ntoa(g_addr), sa_str(&cname), r);
    gl = sizeof(got);
    memset(&got, 0, sizeof(got));
    r = getpeername(c, SA(&got), &gl);
    CK("getpeername after connect: the listener's address", r == 0 && sa_eq(&got, &sa), "expected %s, got %s (rc %d)",
       sa_str(&sa), sa_str(&got), r);

    rev = wait_ev(L, POLLIN, WAIT_MS);
    CK("listener: POLLIN with a pending connection", rev & POLLIN, "expected POLLIN, got revents 0x%x", rev);
    gl = sizeof(peer);
    memset(&peer, 0, sizeof(peer));
    s = GUARDED(accept4(L, SA(&peer), &gl, SOCK_NONBLOCK | SOCK_CLOEXEC));
    CK("accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) returns an fd", s >= 0, "expected an fd, got %d/%s", s, en(errno));
    CK("accept4: the peer address is the client's getsockname", s >= 0 && gl == sizeof(peer) && sa_eq(&peer, &cname),
       "expected %s, got %s (len %u)", sa_str(&cname), sa_str(&peer), gl);
    if (s >= 0) {
        int fl = fcntl(s, F_GETFL), fd = fcntl(s, F_GETFD);
        CK("accept4(SOCK_NONBLOCK): F_GETFL has O_NONBLOCK", fl >= 0 && (fl & O_NONBLOCK),
           "expected O_NONBLOCK, got flags 0x%x", fl);
        CK("accept4(SOCK_CLOEXEC): F_GETFD has FD_CLOEXEC", fd >= 0 && (fd & FD_CLOEXEC),
           "expected FD_CLOEXEC, got 0x%x", fd);
        gl = sizeof(got);
        memset(&got, 0, sizeof(got));
        r = getsockname(s, SA(&got), &gl);
        CK("getsockname of an accepted socket: the listener's address", r == 0 && sa_eq(&got, &sa),
           "expected %s, got %s (rc %d)", sa_str(&sa), sa_str(&got), r);
        gl = sizeof(got);
        memset(&got, 0, sizeof(got));
        r = getpeername(s, SA(&got), &gl);
        CK("getpeername of an accepted socket: the client's address", r == 0 && sa_eq(&got, &cname),
           "expected %s, got %s (rc %d)", sa_str(&cname), sa_str(&got), r);
    }

    /* Blocking connect, then accept on a non-blocking listener. */
    c2 = socket(AF_INET, SOCK_STREAM, 0);
    CK_RC("blocking connect to a listening socket returns 0", connect(c2, SA(&sa), sizeof(sa)), 0);
    set_nb(L, 1);
    wait_ev(L, POLLIN, WAIT_MS);
    s2 = GUARDED(accept(L, NULL, NULL));
    CK("accept of a queued connection (non-blocking listener) returns an fd", s2 >= 0, "expected an fd, got %d/%s", s2,
       en(errno));
    if (s2 >= 0) {
        int fl = fcntl(s2, F_GETFL), fd = fcntl(s2, F_GETFD);
        CK("accept(): no O_NONBLOCK inherited from a non-blocking listener", fl >= 0 && !(fl & O_NONBLOCK),
           "expected flags without O_NONBLOCK, got 0x%x", fl);
        CK("accept(): no FD_CLOEXEC", fd == 0, "expected 0, got 0x%x", fd);
    }
    CK_ERR("accept on a non-blocking listener with nothing pending: -1/EAGAIN", accept(L, NULL, NULL), EAGAIN);
    if (c2 >= 0 && s2 >= 0) {
        char buf[1000], in[1000];
        fill(buf, sizeof(buf), 1);
        CK_RC("blocking write of 1000 B on a fresh connection", write(c2, buf, sizeof(buf)), 1000);
        int eof, err;
        size_t n = read_upto(s2, in, sizeof(in), WAIT_MS, &eof, &err);
        CK("the accepted end reads the 1000 B", n == 1000 && !memcmp(in, buf, 1000),
           "expected 1000 equal bytes, got %zu", n);
        CK_RC("blocking write back of 1000 B", write(s2, buf, sizeof(buf)), 1000);
        wait_ev(c2, POLLIN, WAIT_MS);
        /* Wait until all of it is there, then one blocking read takes it. */
        long dl = now_ms() + WAIT_MS;
        int avail = 0;
        while (ioctl(c2, FIONREAD, &avail) == 0 && avail < 1000 && now_ms() < dl)
            wait_ev(c2, POLLIN, 10), sleep_ms(1);
        CK_RC("blocking read of 1000 B already queued", read(c2, in, sizeof(in)), 1000);
    }
    close_pair(c2, s2);
    close_pair(c, s >= 0 ? s : -1);
    CK_RC("close(listener) returns 0", close(L), 0);

    /* Refused. */
    unsigned closed = next_port();
    struct sockaddr_in dead = sa_of(g_addr, closed);
    c = socket(AF_INET, SOCK_STREAM, 0);
    CK_ERR("blocking connect to a closed port: -1/ECONNREFUSED", connect(c, SA(&dead), sizeof(dead)), ECONNREFUSED);
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CK_ERR("non-blocking connect to a closed port: -1/EINPROGRESS", connect(c, SA(&dead), sizeof(dead)), EINPROGRESS);
    rev = wait_ev(c, POLLOUT, WAIT_MS);
    CK("non-blocking connect to a closed port: POLLOUT|POLLERR", (rev & POLLOUT) && (rev & POLLERR),
       "expected POLLOUT|POLLERR, got revents 0x%x", rev);
    r = so_error(c);
    CK("non-blocking connect to a closed port: SO_ERROR == ECONNREFUSED", r == ECONNREFUSED,
       "expected ECONNREFUSED, got %s", r < 0 ? en(-r) : en(r));
    r = so_error(c);
    CK("SO_ERROR is cleared by reading it", r == 0, "expected 0, got %s", r < 0 ? en(-r) : en(r));
    close(c);
}

/* ------------------------------------------------------------ data */

typedef ssize_t (*send_fn)(int fd, const char *buf, size_t n);
typedef ssize_t (*recv_fn)(int fd, char *buf, size_t n);

static ssize_t s_write(int fd, const char *b, size_t n)
{
    return write(fd, b, n);
}
static ssize_t s_send(int fd, const char *b, size_t n)
{
    return send(fd, b, n, MSG_NOSIGNAL);
}
static ssize_t s_sendto(int fd, const char *b, size_t n)
{
    return sendto(fd, b, n, MSG_NOSIGNAL, NULL, 0);
}
static ssize_t s_sendmsg(int fd, const char *b, size_t n)
{
    struct iovec iov[2] = {{(void *)b, n / 2}, {(void *)(b + n / 2), n - n / 2}};
    struct msghdr m;

    memset(&m, 0, sizeof(m));
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}
static ssize_t s_writev(int fd, const char *b, size_t n)
{
    size_t t = n / 3;
    struct iovec iov[3] = {{(void *)b, t}, {(void *)(b + t), t}, {(void *)(b + 2 * t), n - 2 * t}};

    return writev(fd, iov, 3);
}
static ssize_t r_read(int fd, char *b, size_t n)
{
    return read(fd, b, n);
}
static ssize_t r_recv(int fd, char *b, size_t n)
{
    return recv(fd, b, n, 0);
}
static ssize_t r_recvfrom(int fd, char *b, size_t n)
{
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);

    return recvfrom(fd, b, n, 0, SA(&from), &fl);
}
static ssize_t r_recvmsg(int fd, char *b, size_t n)
{
    struct iovec iov[2] = {{b, n / 2}, {b + n / 2, n - n / 2}};
    struct msghdr m;

    memset(&m, 0, sizeof(m));
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    return recvmsg(fd, &m, 0);
}
static ssize_t r_readv(int fd, char *b, size_t n)
{
    size_t t = n / 3;
    struct iovec iov[3] = {{b, t}, {b + t, t}, {b + 2 * t, n - 2 * t}};

    return readv(fd, iov, 3);
}

/* Moves n bytes s -> r with non-blocking sockets; "" or why it failed. */
static int transfer(int s, int r, size_t n, send_fn sf, recv_fn rf, uint32_t seed, char *why, size_t wl)
{
    char *src = malloc(n), *dst = malloc(n + 1);
    size_t sent = 0, got = 0;
    int ret = -1;

    if (!src || !dst) {
        snprintf(why, wl, "out of memory");
        goto out;
    }
    fill(src, n, seed);
    set_nb(s, 1);
    set_nb(r, 1);
    while (got < n) {
        struct pollfd pf[2] = {{s, sent < n ? POLLOUT : 0, 0}, {r, POLLIN, 0}};
        int k = poll(pf, 2, WAIT_MS);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(why, wl, "poll: %s", en(errno));
            goto out;
        }
        if (k == 0) {
            snprintf(why, wl, "stalled 2 s: sent %zu, received %zu of %zu", sent, got, n);
            goto out;
        }
        if (sent < n && (pf[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = sf(s, src + sent, n - sent);
            if (w > 0)
                sent += (size_t)w;
            else if (w == 0 || (errno != EAGAIN && errno != EINTR)) {
                snprintf(why, wl, "send at %zu returned %zd/%s", sent, w, en(errno));
                goto out;
            }
        }
        if (pf[1].revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t g = rf(r, dst + got, n + 1 - got);
            if (g > 0)
                got += (size_t)g;
            else if (g == 0) {
                snprintf(why, wl, "EOF after %zu of %zu", got, n);
                goto out;
            } else if (errno != EAGAIN && errno != EINTR) {
                snprintf(why, wl, "receive at %zu returned %s", got, en(errno));
                goto out;
            }
        }
    }
    if (got != n) {
        snprintf(why, wl, "received %zu bytes, %zu sent", got, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (src[i] != dst[i]) {
            snprintf(why, wl, "byte %zu differs: sent 0x%02x, received 0x%02x", i, (unsigned char)src[i],
                     (unsigned char)dst[i]);
            goto out;
        }
    ret = 0;
out:
    free(src);
    free(dst);
    return ret;
}

/* Sends @n pieces of @size bytes ('A', 'B', ...) on @fd, @ms apart. */
struct pieces {
    int fd, n, size, ms;
};

static void *pieces_main(void *arg)
{
    const struct pieces *pc = arg;
    char buf[4096];

    block_alarm();
    for (int i = 0; i < pc->n; i++) {
        sleep_ms(pc->ms);
        memset(buf, 'A' + i, (size_t)pc->size);
        if (send(pc->fd, buf, (size_t)pc->size, MSG_NOSIGNAL) != pc->size)
            perror("pieces send");
    }
    return NULL;
}

static void t_data(void)
{
    static const struct {
        const char *name;
        send_fn sf;
        recv_fn rf;
    } ways[] = {
        {"write/read", s_write, r_read},
        {"send/recv", s_send, r_recv},
        {"sendto/recvfrom", s_sendto, r_recvfrom},
        {"sendmsg/recvmsg (2 iovecs)", s_sendmsg, r_recvmsg},
        {"writev/readv (3 iovecs)", s_writev, r_readv},
    };
    static const size_t sizes[] = {1, 1000, 65536, 1 << 20};
    char what[128], why[160], buf[64];
    int a = -1, b = -1, avail, r;

    comment("TCP data: five ways, four sizes; MSG_PEEK, MSG_DONTWAIT, FIONREAD, FIONBIO, O_NONBLOCK, FD_CLOEXEC");
    for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            snprintf(what, sizeof(what), "TCP %s, %zu B, byte-exact (non-blocking, partial writes looped)",
                     ways[w].name, sizes[z]);
            if (a < 0 && tcp_pair(what, &a, &b) < 0)
                continue;
            if (transfer(a, b, sizes[z], ways[w].sf, ways[w].rf, (uint32_t)(w * 10 + z), why, sizeof(why)) == 0)
                pass(what);
            else {
                fail(what, "expected %zu exact bytes, got %s", sizes[z], why);
                close_pair(a, b);
                a = b = -1;
            }
        }
        close_pair(a, b);
        a = b = -1;
    }

    if (tcp_pair("TCP flags and ioctls", &a, &b) < 0)
        return;
    /* a and b are blocking here. */
    CK_ERR("recv(MSG_DONTWAIT) on an empty blocking socket: -1/EAGAIN", recv(b, buf, sizeof(buf), MSG_DONTWAIT),
           EAGAIN);
    set_nb(b, 1);
    CK_ERR("read on an empty non-blocking socket: -1/EAGAIN", read(b, buf, sizeof(buf)), EAGAIN);
    CK_ERR("recv on an empty non-blocking socket: -1/EAGAIN", recv(b, buf, sizeof(buf), 0), EAGAIN);
    set_nb(b, 0);
    avail = -1;
    r = ioctl(b, FIONREAD, &avail);
    CK("ioctl(FIONREAD) on an empty socket: 0", r == 0 && avail == 0, "expected 0, got %d (rc %d/%s)", avail, r,
       en(errno));
    CK_RC("send(\"hello\", MSG_NOSIGNAL) on a healthy connection", send(a, "hello", 5, MSG_NOSIGNAL), 5);
    long dl = now_ms() + WAIT_MS;
    avail = -1;
    while ((r = ioctl(b, FIONREAD, &avail)) == 0 && avail < 5 && now_ms() < dl)
        wait_ev(b, POLLIN, 10), sleep_ms(1);
    CK("ioctl(FIONREAD) after 5 B arrived: 5", r == 0 && avail == 5, "expected 5, got %d (rc %d)", avail, r);
    memset(buf, 0, sizeof(buf));
    CK_RC("recv(MSG_PEEK, 3) returns 3", recv(b, buf, 3, MSG_PEEK), 3);
    CK("recv(MSG_PEEK, 3): the first 3 bytes", !memcmp(buf, "hel", 3), "expected \"hel\", got \"%.3s\"", buf);
    memset(buf, 0, sizeof(buf));
    CK_RC("recv(MSG_PEEK, 64) returns all 5", recv(b, buf, sizeof(buf), MSG_PEEK), 5);
    avail = -1;
    ioctl(b, FIONREAD, &avail);
    CK("ioctl(FIONREAD) after MSG_PEEK: still 5", avail == 5, "expected 5, got %d", avail);
    memset(buf, 0, sizeof(buf));
    CK_RC("recv(MSG_DONTWAIT) after MSG_PEEK returns the same 5 B", recv(b, buf, sizeof(buf), MSG_DONTWAIT), 5);
    CK("the data read after MSG_PEEK is \"hello\"", !memcmp(buf, "hello", 5), "expected \"hello\", got \"%.5s\"", buf);
    CK_ERR("then recv(MSG_DONTWAIT): -1/EAGAIN", recv(b, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);

    /* MSG_WAITALL on a blocking socket: the whole request, though it comes
     * in three pieces 30 ms apart (another thread sends them). */
    {
        static char big[3000];
        struct pieces pc = {a, 3, 1000, 30};
        pthread_t t;
        pthread_create(&t, NULL, pieces_main, &pc);
        r = (int)GUARDED(recv(b, big, sizeof(big), MSG_WAITALL));
        pthread_join(t, NULL);
        CK("recv(MSG_WAITALL) of 3000 B sent in three pieces returns all 3000",
           r == 3000 && big[0] == 'A' && big[1000] == 'B' && big[2999] == 'C', "expected 3000 (A..B..C), got %d", r);
    }

    /* FIONBIO. */
    int on = 1;
    CK_RC("ioctl(FIONBIO, 1) returns 0", ioctl(b, FIONBIO, &on), 0);
    r = fcntl(b, F_GETFL);
    CK("after FIONBIO 1: F_GETFL has O_NONBLOCK", r >= 0 && (r & O_NONBLOCK), "expected O_NONBLOCK, got 0x%x", r);
    CK_ERR("after FIONBIO 1: read on empty -> -1/EAGAIN", read(b, buf, sizeof(buf)), EAGAIN);
    on = 0;
    CK_RC("ioctl(FIONBIO, 0) returns 0", ioctl(b, FIONBIO, &on), 0);
    r = fcntl(b, F_GETFL);
    CK("after FIONBIO 0: F_GETFL has no O_NONBLOCK", r >= 0 && !(r & O_NONBLOCK), "expected no O_NONBLOCK, got 0x%x",
       r);

    /* fcntl O_NONBLOCK. */
    r = fcntl(b, F_GETFL);
    CK_RC("fcntl(F_SETFL, O_NONBLOCK) returns 0", fcntl(b, F_SETFL, r | O_NONBLOCK), 0);
    r = fcntl(b, F_GETFL);
    CK("fcntl: F_GETFL shows O_NONBLOCK set", r >= 0 && (r & O_NONBLOCK), "expected O_NONBLOCK, got 0x%x", r);
    CK_ERR("fcntl O_NONBLOCK: recv on empty -> -1/EAGAIN", recv(b, buf, sizeof(buf), 0), EAGAIN);
    CK_RC("fcntl(F_SETFL, flags & ~O_NONBLOCK) returns 0", fcntl(b, F_SETFL, r & ~O_NONBLOCK), 0);
    r = fcntl(b, F_GETFL);
    CK("fcntl: F_GETFL shows O_NONBLOCK cleared", r >= 0 && !(r & O_NONBLOCK), "expected no O_NONBLOCK, got 0x%x", r);
    CK("fcntl: F_GETFL shows O_RDWR", r >= 0 && (r & O_ACCMODE) == O_RDWR, "expected O_RDWR, got 0x%x", r);

    /* FD_CLOEXEC. */
    CK_RC("fcntl(F_SETFD, FD_CLOEXEC) returns 0", fcntl(b, F_SETFD, FD_CLOEXEC), 0);
    CK_RC("fcntl(F_GETFD) returns FD_CLOEXEC", fcntl(b, F_GETFD), FD_CLOEXEC);
    CK_RC("fcntl(F_SETFD, 0) returns 0", fcntl(b, F_SETFD, 0), 0);
    CK_RC("fcntl(F_GETFD) returns 0 after clearing", fcntl(b, F_GETFD), 0);

    /* MSG_DONTWAIT with data; FIONREAD with 1000 B; the blocking socket still works. */
    char big[1000];
    fill(big, sizeof(big), 9);
    CK_RC("send 1000 B (blocking, MSG_NOSIGNAL)", send(a, big, sizeof(big), MSG_NOSIGNAL), 1000);
    dl = now_ms() + WAIT_MS;
    avail = -1;
    while ((r = ioctl(b, FIONREAD, &avail)) == 0 && avail < 1000 && now_ms() < dl)
        wait_ev(b, POLLIN, 10), sleep_ms(1);
    CK("ioctl(FIONREAD) after 1000 B arrived: 1000", r == 0 && avail == 1000, "expected 1000, got %d", avail);
    char in[1000];
    CK_RC("recv(MSG_DONTWAIT) with 1000 B queued returns 1000", recv(b, in, sizeof(in), MSG_DONTWAIT), 1000);
    CK("recv(MSG_DONTWAIT) of 1000 B queued: byte-exact", !memcmp(in, big, sizeof(big)),
       "expected the bytes sent, got different ones");
    close_pair(a, b);
}

/* ------------------------------------------------------------ socket options */

static int getint(int fd, int level, int opt, int *v)
{
    socklen_t l = sizeof(*v);

    *v = -12345;
    return getsockopt(fd, level, opt, v, &l);
}

static void check_opt(const char *what, int fd, int level, int opt, int set, int want)
{
    int v, r;

    r = setsockopt(fd, level, opt, &set, sizeof(set));
    if (r < 0) {
        fail(what, "expected setsockopt 0, got -1/%s", en(errno));
        return;
    }
    r = getint(fd, level, opt, &v);
    if (r < 0)
        fail(what, "expected getsockopt 0, got -1/%s", en(errno));
    else if (want == -1 ? !(v > 0) : v != want)
        fail(what, "expected %s%d, got %d", want == -1 ? "> 0, e.g. " : "", want == -1 ? set : want, v);
    else
        pass(what);
}

static void t_options(void)
{
    struct sockaddr_in sa, got;
    socklen_t gl;
    int a, b, v, r, u, L;

    comment("getsockopt/setsockopt, getsockname/getpeername");
    if (tcp_pair("socket options", &a, &b) < 0)
        return;
    check_opt("SO_REUSEADDR set 1, get 1", a, SOL_SOCKET, SO_REUSEADDR, 1, 1);
    check_opt("SO_KEEPALIVE set 1, get 1", a, SOL_SOCKET, SO_KEEPALIVE, 1, 1);
    check_opt("SO_KEEPALIVE set 0, get 0", a, SOL_SOCKET, SO_KEEPALIVE, 0, 0);
    check_opt("TCP_NODELAY set 1, get 1", a, IPPROTO_TCP, TCP_NODELAY, 1, 1);
    check_opt("TCP_NODELAY set 0, get 0", a, IPPROTO_TCP, TCP_NODELAY, 0, 0);
    check_opt("SO_RCVBUF set 65536 succeeds, get > 0", a, SOL_SOCKET, SO_RCVBUF, 65536, -1);
    check_opt("SO_SNDBUF set 65536 succeeds, get > 0", a, SOL_SOCKET, SO_SNDBUF, 65536, -1);
    check_opt("TCP_KEEPIDLE set 30, get 30", a, IPPROTO_TCP, TCP_KEEPIDLE, 30, 30);
    check_opt("TCP_KEEPINTVL set 5, get 5", a, IPPROTO_TCP, TCP_KEEPINTVL, 5, 5);
    check_opt("TCP_KEEPCNT set 4, get 4", a, IPPROTO_TCP, TCP_KEEPCNT, 4, 4);

    struct linger lg = {1, 5}, lgot = {-1, -1};
    socklen_t ll = sizeof(lgot);
    CK_RC("setsockopt(SO_LINGER {1, 5}) returns 0", setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    r = getsockopt(a, SOL_SOCKET, SO_LINGER, &lgot, &ll);
    CK("getsockopt(SO_LINGER) returns {1, 5}", r == 0 && ll == sizeof(lgot) && lgot.l_onoff == 1 && lgot.l_linger == 5,
       "expected {1, 5}, got {%d, %d} (rc %d, len %u)", lgot.l_onoff, lgot.l_linger, r, ll);
    lg.l_onoff = 0;
    setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));

    r = getint(a, SOL_SOCKET, SO_ERROR, &v);
    CK("SO_ERROR on a healthy connection: 0", r == 0 && v == 0, "expected 0, got %d (rc %d)", v, r);
    r = getint(a, SOL_SOCKET, SO_TYPE, &v);
    CK("SO_TYPE of a TCP socket: SOCK_STREAM", r == 0 && v == SOCK_STREAM, "expected %d, got %d (rc %d)", SOCK_STREAM,
       v, r);
    r = getint(a, SOL_SOCKET, SO_DOMAIN, &v);
    CK("SO_DOMAIN: AF_INET", r == 0 && v == AF_INET, "expected %d, got %d (rc %d)", AF_INET, v, r);
    r = getint(a, SOL_SOCKET, SO_ACCEPTCONN, &v);
    CK("SO_ACCEPTCONN on a connected socket: 0", r == 0 && v == 0, "expected 0, got %d (rc %d)", v, r);
    close_pair(a, b);

    L = mk_listener(&sa);
    if (L >= 0) {
        r = getint(L, SOL_SOCKET, SO_ACCEPTCONN, &v);
        CK("SO_ACCEPTCONN on a listener: 1", r == 0 && v == 1, "expected 1, got %d (rc %d)", v, r);
        r = getint(L, SOL_SOCKET, SO_REUSEADDR, &v);
        CK("SO_REUSEADDR set before bind reads back 1 on the listener", r == 0 && v == 1, "expected 1, got %d (rc %d)",
           v, r);
        close(L);
    }
    u = socket(AF_INET, SOCK_DGRAM, 0);
    r = getint(u, SOL_SOCKET, SO_TYPE, &v);
    CK("SO_TYPE of a UDP socket: SOCK_DGRAM", r == 0 && v == SOCK_DGRAM, "expected %d, got %d (rc %d)", SOCK_DGRAM, v,
       r);
    close(u);

    a = socket(AF_INET, SOCK_STREAM, 0);
    gl = sizeof(got);
    memset(&got, 0xff, sizeof(got));
    r = getsockname(a, SA(&got), &gl);
    CK("getsockname of a new socket: 0.0.0.0:0",
       r == 0 && got.sin_family == AF_INET && got.sin_port == 0 && got.sin_addr.s_addr == htonl(INADDR_ANY),
       "expected 0.0.0.0:0, got %s (rc %d)", sa_str(&got), r);
    gl = sizeof(got);
    CK_ERR("getpeername of an unconnected socket: -1/ENOTCONN", getpeername(a, SA(&got), &gl), ENOTCONN);
    close(a);
}

/* ------------------------------------------------------------ UDP */

static void t_udp(void)
{
    struct sockaddr_in a1, a2, from, got;
    socklen_t fl;
    char buf[1000], big[200];
    int u1, u2, u3, r;

    comment("UDP");
    u1 = mk_udp(&a1);
    u2 = mk_udp(&a2);
    CK("two UDP sockets bound", u1 >= 0 && u2 >= 0, "expected two fds, got %d, %d (%s)", u1, u2, en(errno));
    if (u1 < 0 || u2 < 0)
        return;
    CK_RC("sendto 9 B to the other socket", sendto(u1, "udp-hello", 9, 0, SA(&a2), sizeof(a2)), 9);
    short rev = wait_ev(u2, POLLIN, WAIT_MS);
    CK("UDP: POLLIN at the receiver", rev & POLLIN, "expected POLLIN, got revents 0x%x", rev);
    r = -1;
    ioctl(u2, FIONREAD, &r);
    CK("UDP: ioctl(FIONREAD) is the size of the queued datagram", r == 9, "expected 9, got %d", r);
    fl = sizeof(from);
    memset(&from, 0, sizeof(from));
    memset(buf, 0, sizeof(buf));
    r = (int)GUARDED(recvfrom(u2, buf, sizeof(buf), 0, SA(&from), &fl));
    CK("recvfrom returns the datagram", r == 9 && !memcmp(buf, "udp-hello", 9),
       "expected 9 B \"udp-hello\", got %d/%s \"%.9s\"", r, r < 0 ? en(errno) : "", buf);
    CK("recvfrom: the sender's address and port", fl == sizeof(from) && sa_eq(&from, &a1),
       "expected %s, got %s (len %u)", sa_str(&a1), sa_str(&from), fl);
    set_nb(u2, 1);
    fl = sizeof(from);
    CK_ERR("recvfrom on an empty non-blocking UDP socket: -1/EAGAIN", recvfrom(u2, buf, sizeof(buf), 0, SA(&from), &fl),
           EAGAIN);
    fl = sizeof(from);
    CK_ERR("recvfrom(MSG_DONTWAIT) on an empty blocking UDP socket: -1/EAGAIN",
           recvfrom(u1, buf, sizeof(buf), MSG_DONTWAIT, SA(&from), &fl), EAGAIN);

    /* Boundaries and truncation. */
    fill(big, sizeof(big), 5);
    sendto(u1, big, 100, 0, SA(&a2), sizeof(a2));
    sendto(u1, big, 200, 0, SA(&a2), sizeof(a2));
    wait_ev(u2, POLLIN, WAIT_MS);
    r = (int)recv(u2, buf, sizeof(buf), 0);
    int r2 = wait_ev(u2, POLLIN, WAIT_MS) ? (int)recv(u2, buf + 100, sizeof(buf) - 100, 0) : -2;
    CK("UDP keeps datagram boundaries: 100 B then 200 B",
       r == 100 && r2 == 200 && !memcmp(buf, big, 100) && !memcmp(buf + 100, big, 200),
       "expected 100 then 200, got %d then %d", r, r2);
    sendto(u1, big, 200, 0, SA(&a2), sizeof(a2));
    wait_ev(u2, POLLIN, WAIT_MS);
    {
        struct iovec iov = {buf, 50};
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        r = (int)recvmsg(u2, &m, 0);
        CK("recvmsg of a 200 B datagram into 50 B: 50 and MSG_TRUNC", r == 50 && (m.msg_flags & MSG_TRUNC),
           "expected 50 with MSG_TRUNC, got %d flags 0x%x", r, m.msg_flags);
    }
    CK_ERR("the truncated rest is discarded: next recv -1/EAGAIN", recv(u2, buf, sizeof(buf), 0), EAGAIN);

    /* connect()ed UDP. */
    CK_RC("connect() a UDP socket returns 0", connect(u1, SA(&a2), sizeof(a2)), 0);
    fl = sizeof(got);
    memset(&got, 0, sizeof(got));
    r = getpeername(u1, SA(&got), &fl);
    CK("getpeername of a connected UDP socket", r == 0 && sa_eq(&got, &a2), "expected %s, got %s (rc %d)", sa_str(&a2),
       sa_str(&got), r);
    CK_RC("send on a connected UDP socket", send(u1, "c1", 2, 0), 2);
    wait_ev(u2, POLLIN, WAIT_MS);
    fl = sizeof(from);
    memset(buf, 0, sizeof(buf));
    r = (int)recvfrom(u2, buf, sizeof(buf), 0, SA(&from), &fl);
    CK("connected UDP: the peer receives it from the connected socket's address",
       r == 2 && !memcmp(buf, "c1", 2) && sa_eq(&from, &a1), "expected \"c1\" from %s, got %d \"%.2s\" from %s",
       sa_str(&a1), r, buf, sa_str(&from));
    CK_RC("connect() the peer UDP socket back", connect(u2, SA(&a1), sizeof(a1)), 0);
    /* A datagram from a third socket must not reach connected u1. */
    u3 = socket(AF_INET, SOCK_DGRAM, 0);
    CK_RC("sendto from an unbound UDP socket", sendto(u3, "stray", 5, 0, SA(&a1), sizeof(a1)), 5);
    fl = sizeof(got);
    memset(&got, 0, sizeof(got));
    r = getsockname(u3, SA(&got), &fl);
    CK("sendto auto-binds: getsockname has a non-zero port", r == 0 && got.sin_port != 0,
       "expected a port, got %s (rc %d)", sa_str(&got), r);
    CK_RC("send on the connected peer", send(u2, "c2", 2, 0), 2);
    wait_ev(u1, POLLIN, WAIT_MS);
    memset(buf, 0, sizeof(buf));
    r = (int)GUARDED(recv(u1, buf, sizeof(buf), 0));
    CK("recv on a connected UDP socket: the connected peer's datagram", r == 2 && !memcmp(buf, "c2", 2),
       "expected \"c2\", got %d \"%.5s\"", r, buf);
    sleep_ms(20);
    CK_ERR("a connected UDP socket drops datagrams from other addresses", recv(u1, buf, sizeof(buf), MSG_DONTWAIT),
           EAGAIN);
    close(u3);
    close(u1);
    close(u2);
}

/* ------------------------------------------------------------ shutdown, close, reset */

static void t_shutdown(void)
{
    int a, b;
    char buf[64];
    struct sigaction ign, old;

    comment("shutdown, SIGPIPE, EPIPE");
    if (tcp_pair("shutdown", &a, &b) < 0)
        return;
    send(a, "abc", 3, MSG_NOSIGNAL);
    CK_RC("shutdown(SHUT_WR) returns 0", shutdown(a, SHUT_WR), 0);
    expect_bytes("after the peer's SHUT_WR: its data first", b, "abc", 3);
    wait_ev(b, POLLIN, WAIT_MS);
    CK_RC("after the peer's SHUT_WR: then read returns 0 (EOF)", read(b, buf, sizeof(buf)), 0);
    CK_RC("EOF is sticky: read returns 0 again", read(b, buf, sizeof(buf)), 0);
    short rev = wait_ev(b, POLLIN | POLLRDHUP, 0);
    CK("poll after the peer's SHUT_WR: POLLIN|POLLRDHUP", (rev & POLLIN) && (rev & POLLRDHUP),
       "expected POLLIN|POLLRDHUP, got 0x%x", rev);
    CK_RC("the side that got EOF can still send", send(b, "xyz", 3, MSG_NOSIGNAL), 3);
    expect_bytes("after SHUT_WR we still read what the peer sends", a, "xyz", 3);

    int before = g_sigpipes;
    CK_ERR("send(MSG_NOSIGNAL) after SHUT_WR: -1/EPIPE", send(a, "x", 1, MSG_NOSIGNAL), EPIPE);
    CK("send(MSG_NOSIGNAL) after SHUT_WR raises no SIGPIPE", g_sigpipes == before, "expected no SIGPIPE, got %d",
       (int)(g_sigpipes - before));
    before = g_sigpipes;
    CK_ERR("write after SHUT_WR: -1/EPIPE", write(a, "x", 1), EPIPE);
    CK("write after SHUT_WR raises SIGPIPE (caught by a handler)", g_sigpipes == before + 1,
       "expected 1 SIGPIPE, got %d", (int)(g_sigpipes - before));
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    CK_ERR("write after SHUT_WR with SIGPIPE ignored: -1/EPIPE", write(a, "x", 1), EPIPE);
    sigaction(SIGPIPE, &old, NULL);

    /* Both directions shut: POLLHUP. */
    CK_RC("close of the peer returns 0", close(b), 0);
    rev = wait_ev(a, POLLIN, WAIT_MS);
    CK("poll after our SHUT_WR and the peer's close: POLLIN|POLLHUP", (rev & POLLIN) && (rev & POLLHUP),
       "expected POLLIN|POLLHUP, got 0x%x", rev);
    CK_RC("after our SHUT_WR and the peer's close: read returns 0", read(a, buf, sizeof(buf)), 0);
    close(a);

    if (tcp_pair("shutdown(SHUT_RD)", &a, &b) < 0)
        return;
    CK_RC("shutdown(SHUT_RD) returns 0", shutdown(b, SHUT_RD), 0);
    CK_RC("after SHUT_RD, read returns 0 at once", read(b, buf, sizeof(buf)), 0);
    CK_RC("shutdown(SHUT_RDWR) returns 0", shutdown(a, SHUT_RDWR), 0);
    wait_ev(b, POLLIN, WAIT_MS);
    close_pair(a, b);
    a = socket(AF_INET, SOCK_STREAM, 0);
    CK_ERR("shutdown of an unconnected socket: -1/ENOTCONN", shutdown(a, SHUT_WR), ENOTCONN);
    close(a);
}

static void t_close(void)
{
    int a, b, r, e;
    char buf[64];

    comment("peer close, reset, SO_LINGER {1, 0}");
    if (tcp_pair("peer close", &a, &b) < 0)
        return;
    CK_RC("close() of a connected socket returns 0", close(b), 0);
    short rev = wait_ev(a, POLLIN, WAIT_MS);
    CK("after the peer's close: POLLIN", rev & POLLIN, "expected POLLIN, got 0x%x", rev);
    CK_RC("after the peer's close: read returns 0", read(a, buf, sizeof(buf)), 0);
    /* The closed peer answers data with RST; Linux reports EPIPE (CLOSE_WAIT) or ECONNRESET. */
    long dl = now_ms() + WAIT_MS;
    int nsent = 0;
    for (;;) {
        errno = 0;
        r = (int)GUARDED(send(a, "data", 4, MSG_NOSIGNAL));
        e = errno;
        if (r < 0 || now_ms() > dl)
            break;
        nsent++;
        wait_ev(a, POLLERR, 20);
    }
    CK("sends to a closed peer eventually fail with EPIPE or ECONNRESET", r < 0 && (e == EPIPE || e == ECONNRESET),
       "expected -1/EPIPE or ECONNRESET, got %d/%s after %d sends", r, en(e), nsent);
    close(a);

    if (tcp_pair("SO_LINGER {1, 0}", &a, &b) < 0)
        return;
    struct linger lg = {1, 0};
    CK_RC("setsockopt(SO_LINGER {1, 0})", setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    CK_RC("close() with SO_LINGER {1, 0} returns 0", close(a), 0);
    rev = wait_ev(b, POLLIN, WAIT_MS);
    CK("after the peer's abortive close: POLLIN|POLLERR|POLLHUP", (rev & POLLIN) && (rev & POLLERR) && (rev & POLLHUP),
       "expected POLLIN|POLLERR|POLLHUP, got 0x%x", rev);
    CK_ERR("after the peer's abortive close: read -1/ECONNRESET", read(b, buf, sizeof(buf)), ECONNRESET);
    CK_RC("the reset is reported once: the next read returns 0", read(b, buf, sizeof(buf)), 0);
    CK_ERR("send after the reset: -1/EPIPE", send(b, "x", 1, MSG_NOSIGNAL), EPIPE);
    close(b);

    if (tcp_pair("SO_LINGER {1, 0}, SO_ERROR", &a, &b) < 0)
        return;
    setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(a);
    wait_ev(b, POLLIN, WAIT_MS);
    r = so_error(b);
    CK("after the peer's abortive close: SO_ERROR == ECONNRESET", r == ECONNRESET, "expected ECONNRESET, got %s",
       r < 0 ? en(-r) : en(r));
    close(b);
}

/* ------------------------------------------------------------ epoll */

/* One epoll_wait: the tags (data.u64 < 8) reported, as a bit mask; -1 on error. */
static int ep_tags(int ep, int ms, uint32_t evs[8])
{
    struct epoll_event ev[16];
    int n, mask = 0;

    memset(evs, 0, 8 * sizeof(evs[0]));
    n = epoll_wait(ep, ev, 16, ms);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 < 8) {
            mask |= 1 << ev[i].data.u64;
            evs[ev[i].data.u64] = ev[i].events;
        } else
            mask |= 0x100;
    }
    return mask;
}

static void drain(int fd)
{
    char buf[4096];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

static void t_epoll(void)
{
    struct epoll_event ev, out[4];
    uint32_t evs[8];
    int a, b, ep, r, m, f, bad;
    long t0, dt;

    comment("epoll");
    ep = epoll_create1(EPOLL_CLOEXEC);
    CK("epoll_create1(EPOLL_CLOEXEC) returns an fd with FD_CLOEXEC", ep >= 0 && fcntl(ep, F_GETFD) == FD_CLOEXEC,
       "expected an fd with FD_CLOEXEC, got %d/%s", ep, en(errno));
    if (ep < 0)
        return;
    if (tcp_pair("epoll", &a, &b) < 0) {
        close(ep);
        return;
    }
    set_nb(b, 1);
    ev.events = EPOLLIN;
    ev.data.u64 = 0x1122334455667788ull;
    CK_RC("epoll_ctl ADD a socket", epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev), 0);
    CK_ERR("epoll_ctl ADD twice: -1/EEXIST", epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev), EEXIST);
    CK_ERR("epoll_ctl MOD of an fd not in the set: -1/ENOENT", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev), ENOENT);
    CK_ERR("epoll_ctl DEL of an fd not in the set: -1/ENOENT", epoll_ctl(ep, EPOLL_CTL_DEL, a, &ev), ENOENT);
    bad = closed_fd();
    CK_ERR("epoll_ctl ADD of a closed fd: -1/EBADF", epoll_ctl(ep, EPOLL_CTL_ADD, bad, &ev), EBADF);
    CK_ERR("epoll_ctl on a closed epoll fd: -1/EBADF", epoll_ctl(bad, EPOLL_CTL_ADD, b, &ev), EBADF);
    CK_ERR("epoll_ctl ADD of the epoll fd to itself: -1/EINVAL", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
    f = tmp_file();
    CK_ERR("epoll_ctl ADD of a regular file: -1/EPERM", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev), EPERM);
    CK_ERR("epoll_ctl with a non-epoll fd as epfd: -1/EINVAL", epoll_ctl(f, EPOLL_CTL_ADD, b, &ev), EINVAL);
    close(f);
    CK_ERR("epoll_wait(maxevents 0): -1/EINVAL", epoll_wait(ep, out, 0, 0), EINVAL);

    t0 = now_ms();
    CK_RC("epoll_wait timeout 0 with nothing ready returns 0", epoll_wait(ep, out, 4, 0), 0);
    dt = now_ms() - t0;
    CK("epoll_wait timeout 0 returns at once (< 100 ms)", dt < 100, "expected < 100 ms, got %ld ms", dt);
    t0 = now_ms();
    CK_RC("epoll_wait timeout 200 ms with nothing ready returns 0", epoll_wait(ep, out, 4, 200), 0);
    dt = now_ms() - t0;
    CK("epoll_wait timeout 200 ms takes about 200 ms", dt >= 190 && dt < 1500, "expected 200 ms, got %ld ms", dt);

    /* Level-triggered. */
    send(a, "x", 1, MSG_NOSIGNAL);
    memset(out, 0, sizeof(out));
    r = epoll_wait(ep, out, 4, WAIT_MS);
    CK("level-triggered EPOLLIN when data arrives", r == 1 && (out[0].events & EPOLLIN),
       "expected 1 EPOLLIN, got %d events 0x%x", r, out[0].events);
    CK("epoll data.u64 preserved", r == 1 && out[0].data.u64 == 0x1122334455667788ull,
       "expected 0x1122334455667788, got 0x%llx", (unsigned long long)out[0].data.u64);
    r = epoll_wait(ep, out, 4, 100);
    CK("level-triggered: EPOLLIN reported again while the data is unread", r == 1 && (out[0].events & EPOLLIN),
       "expected 1 EPOLLIN, got %d", r);
    drain(b);
    CK_RC("level-triggered: nothing once the data is read", epoll_wait(ep, out, 4, 100), 0);

    /* Edge-triggered. */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 1;
    CK_RC("epoll_ctl MOD to EPOLLIN|EPOLLET", epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev), 0);
    send(a, "y", 1, MSG_NOSIGNAL);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("edge-triggered: EPOLLIN on arrival", m == 2 && (evs[1] & EPOLLIN), "expected tag 1 EPOLLIN, got mask 0x%x", m);
    m = ep_tags(ep, 100, evs);
    CK("edge-triggered: not reported again while nothing new arrives (data unread)", m == 0,
       "expected no event, got mask 0x%x", m);
    send(a, "z", 1, MSG_NOSIGNAL);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("edge-triggered: reported again on a new arrival", m == 2 && (evs[1] & EPOLLIN),
       "expected tag 1 EPOLLIN, got mask 0x%x", m);
    m = ep_tags(ep, 100, evs);
    CK("edge-triggered: once per arrival", m == 0, "expected no event, got mask 0x%x", m);
    drain(b);

    /* One-shot. */
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 2;
    CK_RC("epoll_ctl MOD to EPOLLIN|EPOLLONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev), 0);
    send(a, "1", 1, MSG_NOSIGNAL);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("EPOLLONESHOT: reported once", m == 4, "expected tag 2, got mask 0x%x", m);
    send(a, "2", 1, MSG_NOSIGNAL);
    m = ep_tags(ep, 100, evs);
    CK("EPOLLONESHOT: not reported again, even on new data", m == 0, "expected no event, got mask 0x%x", m);
    CK_RC("EPOLLONESHOT: MOD re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev), 0);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("EPOLLONESHOT: reported after re-arming (data pending)", m == 4, "expected tag 2, got mask 0x%x", m);
    drain(b);

    /* epoll_pwait. */
    ev.events = EPOLLIN;
    ev.data.u64 = 3;
    epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev);
    send(a, "p", 1, MSG_NOSIGNAL);
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR1);
    memset(out, 0, sizeof(out));
    r = epoll_pwait(ep, out, 4, WAIT_MS, &ss);
    CK("epoll_pwait with a signal mask reports EPOLLIN", r == 1 && out[0].data.u64 == 3 && (out[0].events & EPOLLIN),
       "expected 1 event tag 3, got %d", r);
    r = epoll_pwait(ep, out, 4, WAIT_MS, NULL);
    CK("epoll_pwait with a NULL mask reports EPOLLIN", r == 1 && out[0].data.u64 == 3, "expected 1 event tag 3, got %d",
       r);
    drain(b);

    /* EPOLLOUT, DEL. */
    ev.events = EPOLLOUT;
    ev.data.u64 = 4;
    CK_RC("epoll_ctl ADD for EPOLLOUT", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev), 0);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("EPOLLOUT on a connected socket", m == 16 && evs[4] == EPOLLOUT,
       "expected tag 4 EPOLLOUT, got mask 0x%x events 0x%x", m, evs[4]);
    CK_RC("epoll_ctl DEL returns 0", epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL), 0);
    m = ep_tags(ep, 100, evs);
    CK("after DEL: no more events for that fd", m == 0, "expected no event, got mask 0x%x", m);

    /* EPOLLRDHUP. */
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = 5;
    epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev);
    shutdown(a, SHUT_WR);
    m = ep_tags(ep, WAIT_MS, evs);
    CK("EPOLLRDHUP (and EPOLLIN) on the peer's shutdown(SHUT_WR)",
       m == 32 && (evs[5] & EPOLLRDHUP) && (evs[5] & EPOLLIN),
       "expected tag 5 EPOLLIN|EPOLLRDHUP, got mask 0x%x events 0x%x", m, evs[5]);
    epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL);
    close_pair(a, b);

    /* EPOLLIN on a listener. */
    struct sockaddr_in sa;
    int L = mk_listener(&sa);
    if (L >= 0) {
        ev.events = EPOLLIN;
        ev.data.u64 = 6;
        epoll_ctl(ep, EPOLL_CTL_ADD, L, &ev);
        m = ep_tags(ep, 0, evs);
        CK("a listener without pending connections: no event", m == 0, "expected none, got mask 0x%x", m);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c, SA(&sa), sizeof(sa));
        m = ep_tags(ep, WAIT_MS, evs);
        CK("EPOLLIN on a listener with a pending connection", m == 64 && (evs[6] & EPOLLIN),
           "expected tag 6 EPOLLIN, got mask 0x%x", m);
        int s = GUARDED(accept(L, NULL, NULL));
        m = ep_tags(ep, 0, evs);
        CK("a listener: no event once the connection is accepted", m == 0, "expected none, got mask 0x%x", m);
        close_pair(c, s);
        close(L);
    }

    /* close() removes the fd. */
    if (tcp_pair("epoll and close", &a, &b) == 0) {
        ev.events = EPOLLOUT;
        ev.data.u64 = 7;
        epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
        m = ep_tags(ep, WAIT_MS, evs);
        CK("EPOLLOUT before close", m == 128, "expected tag 7, got mask 0x%x", m);
        close(a);
        m = ep_tags(ep, 100, evs);
        CK("close() of the only fd removes it from the epoll set", m == 0, "expected no event, got mask 0x%x", m);
        close(b);
    }
    CK_RC("close(epoll fd) returns 0", close(ep), 0);
}

/* ------------------------------------------------------------ mixed waiting */

struct waker {
    int fd;
    int ms;
    int is_eventfd;
};

static void *waker_main(void *arg)
{
    struct waker *w = arg;
    uint64_t one = 1;

    block_alarm();
    sleep_ms(w->ms);
    if (w->is_eventfd) {
        if (write(w->fd, &one, sizeof(one)) < 0)
            perror("waker eventfd");
    } else if (write(w->fd, "w", 1) < 0)
        perror("waker pipe");
    return NULL;
}

static void drain_all(int sock, int pr, int efd)
{
    char buf[64];
    uint64_t v;

    drain(sock);
    while (read(pr, buf, sizeof(buf)) > 0)
        ;
    while (read(efd, &v, sizeof(v)) > 0)
        ;
}

enum { K_EPOLL, K_POLL, K_SELECT };

/* One wait of the given kind on {sock: bit 1, pipe: bit 2, eventfd: bit 3}. */
static int mixed_wait(int kind, int ep, int sock, int pr, int efd, int ms)
{
    uint32_t evs[8];
    int mask = 0;

    if (kind == K_EPOLL)
        return ep_tags(ep, ms, evs);
    if (kind == K_POLL) {
        struct pollfd p[3] = {{sock, POLLIN, 0}, {pr, POLLIN, 0}, {efd, POLLIN, 0}};
        int n = poll(p, 3, ms);
        if (n < 0)
            return -1;
        for (int i = 0; i < 3; i++)
            if (p[i].revents & POLLIN)
                mask |= 2 << i;
            else if (p[i].revents)
                mask |= 0x100;
        return mask;
    }
    fd_set rs;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    int mx = sock > pr ? sock : pr;
    mx = mx > efd ? mx : efd;
    FD_ZERO(&rs);
    FD_SET(sock, &rs);
    FD_SET(pr, &rs);
    FD_SET(efd, &rs);
    int n = select(mx + 1, &rs, NULL, NULL, &tv);
    if (n < 0)
        return -1;
    mask = (FD_ISSET(sock, &rs) ? 2 : 0) | (FD_ISSET(pr, &rs) ? 4 : 0) | (FD_ISSET(efd, &rs) ? 8 : 0);
    return mask;
}

static void t_mixed(void)
{
    static const char *kinds[] = {"epoll", "poll", "select"};
    int a, b, p[2], efd, ep, m;
    struct epoll_event ev;
    uint64_t one = 1;
    char what[160];

    comment("one wait over a socket, a pipe and an eventfd");
    if (tcp_pair("mixed waiting", &a, &b) < 0)
        return;
    set_nb(b, 1);
    if (pipe2(p, O_NONBLOCK) < 0 || (efd = eventfd(0, EFD_NONBLOCK)) < 0) {
        fail("mixed waiting", "pipe2/eventfd: %s", en(errno));
        return;
    }
    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.u64 = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
    ev.data.u64 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev.data.u64 = 3;
    CK_RC("epoll_ctl ADD of an eventfd beside a socket and a pipe", epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), 0);

    for (int k = K_EPOLL; k <= K_SELECT; k++) {
        m = mixed_wait(k, ep, b, p[0], efd, 0);
        snprintf(what, sizeof(what), "%s over socket+pipe+eventfd: nothing ready -> nothing", kinds[k]);
        CK(what, m == 0, "expected mask 0, got 0x%x", m);

        if (write(p[1], "p", 1) != 1)
            perror("pipe write");
        m = mixed_wait(k, ep, b, p[0], efd, WAIT_MS);
        snprintf(what, sizeof(what), "%s over socket+pipe+eventfd: only the pipe ready", kinds[k]);
        CK(what, m == 4, "expected the pipe (0x4), got 0x%x", m);
        drain_all(b, p[0], efd);

        if (write(efd, &one, sizeof(one)) != sizeof(one))
            perror("eventfd write");
        m = mixed_wait(k, ep, b, p[0], efd, WAIT_MS);
        snprintf(what, sizeof(what), "%s over socket+pipe+eventfd: only the eventfd ready", kinds[k]);
        CK(what, m == 8, "expected the eventfd (0x8), got 0x%x", m);
        drain_all(b, p[0], efd);

        send(a, "s", 1, MSG_NOSIGNAL);
        m = mixed_wait(k, ep, b, p[0], efd, WAIT_MS);
        snprintf(what, sizeof(what), "%s over socket+pipe+eventfd: only the socket ready", kinds[k]);
        CK(what, m == 2, "expected the socket (0x2), got 0x%x", m);
        drain_all(b, p[0], efd);

        send(a, "s", 1, MSG_NOSIGNAL);
        wait_ev(b, POLLIN, WAIT_MS);
        if (write(p[1], "p", 1) != 1 || write(efd, &one, sizeof(one)) != sizeof(one))
            perror("write");
        m = mixed_wait(k, ep, b, p[0], efd, WAIT_MS);
        snprintf(what, sizeof(what), "%s over socket+pipe+eventfd: all three at once, in one call", kinds[k]);
        CK(what, m == 14, "expected all three (0xe), got 0x%x", m);
        drain_all(b, p[0], efd);

        /* A blocked wait woken by a kernel fd written from another thread. */
        struct waker w = {k == K_POLL ? p[1] : efd, 100, k != K_POLL};
        pthread_t t;
        long t0 = now_ms();
        pthread_create(&t, NULL, waker_main, &w);
        m = mixed_wait(k, ep, b, p[0], efd, WAIT_MS);
        long dt = now_ms() - t0;
        pthread_join(t, NULL);
        snprintf(what, sizeof(what), "%s blocked on socket+pipe+eventfd wakes when another thread writes the %s",
                 kinds[k], k == K_POLL ? "pipe" : "eventfd");
        int want = k == K_POLL ? 4 : 8;
        CK(what, m == want && dt >= 50 && dt < 1500, "expected 0x%x after ~100 ms, got 0x%x after %ld ms", want, m, dt);
        drain_all(b, p[0], efd);
    }

    /* An epoll fd in poll(). */
    if (write(p[1], "p", 1) != 1)
        perror("pipe write");
    short rev = wait_ev(ep, POLLIN, WAIT_MS);
    CK("poll() on an epoll fd: POLLIN when a member is ready", rev == POLLIN, "expected POLLIN, got 0x%x", rev);
    drain_all(b, p[0], efd);
    rev = wait_ev(ep, POLLIN, 0);
    CK("poll() on an epoll fd: nothing when no member is ready", rev == 0, "expected 0, got 0x%x", rev);

    close(ep);
    close(p[0]);
    close(p[1]);
    close(efd);
    close_pair(a, b);
}

/* ------------------------------------------------------------ poll, select */

static void t_poll(void)
{
    int a, b, bad, r;
    struct pollfd pf[2];
    long t0, dt;
    fd_set rs, ws;
    struct timeval tv;

    comment("poll, ppoll, select, pselect");
    if (tcp_pair("poll", &a, &b) < 0)
        return;
    short rev = wait_ev(a, POLLOUT, WAIT_MS);
    CK("poll POLLOUT on a connected socket: revents == POLLOUT", rev == POLLOUT, "expected 0x%x, got 0x%x", POLLOUT,
       rev);
    rev = wait_ev(b, POLLIN, 0);
    CK("poll POLLIN with no data, timeout 0: nothing", rev == 0, "expected 0, got 0x%x", rev);
    t0 = now_ms();
    rev = wait_ev(b, POLLIN, 100);
    dt = now_ms() - t0;
    CK("poll POLLIN with no data, timeout 100 ms: nothing after ~100 ms", rev == 0 && dt >= 95 && dt < 1500,
       "expected 0 after 100 ms, got 0x%x after %ld ms", rev, dt);
    send(a, "q", 1, MSG_NOSIGNAL);
    rev = wait_ev(b, POLLIN, WAIT_MS);
    CK("poll POLLIN with data: revents == POLLIN", rev == POLLIN, "expected 0x%x, got 0x%x", POLLIN, rev);
    rev = wait_ev(b, POLLIN | POLLOUT, WAIT_MS);
    CK("poll POLLIN|POLLOUT with data: both", rev == (POLLIN | POLLOUT), "expected 0x%x, got 0x%x", POLLIN | POLLOUT,
       rev);

    bad = closed_fd();
    pf[0] = (struct pollfd){bad, POLLIN, 0};
    pf[1] = (struct pollfd){-1, POLLIN, 0x7};
    r = poll(pf, 2, 0);
    CK("poll on a closed fd: POLLNVAL, counted", r == 1 && pf[0].revents == POLLNVAL,
       "expected 1 and POLLNVAL, got %d and 0x%x", r, pf[0].revents);
    CK("poll ignores fd -1 (revents 0)", pf[1].revents == 0, "expected 0, got 0x%x", pf[1].revents);

    struct timespec ts = {2, 0};
    pf[0] = (struct pollfd){b, POLLIN, 0};
    r = ppoll(pf, 1, &ts, NULL);
    CK("ppoll POLLIN with data", r == 1 && pf[0].revents == POLLIN, "expected 1 POLLIN, got %d 0x%x", r, pf[0].revents);

    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(b, &rs);
    FD_SET(a, &ws);
    tv = (struct timeval){2, 0};
    r = select((a > b ? a : b) + 1, &rs, &ws, NULL, &tv);
    CK("select: the read set has the socket with data, the write set the connected socket",
       r == 2 && FD_ISSET(b, &rs) && FD_ISSET(a, &ws), "expected 2 with both set, got %d (r %d, w %d)", r,
       FD_ISSET(b, &rs), FD_ISSET(a, &ws));
    drain(b);
    FD_ZERO(&rs);
    FD_SET(b, &rs);
    tv = (struct timeval){0, 100000};
    t0 = now_ms();
    r = select(b + 1, &rs, NULL, NULL, &tv);
    dt = now_ms() - t0;
    CK("select with nothing readable, 100 ms: returns 0 after ~100 ms, set cleared",
       r == 0 && !FD_ISSET(b, &rs) && dt >= 95 && dt < 1500, "expected 0 after 100 ms, got %d after %ld ms", r, dt);
    send(a, "q", 1, MSG_NOSIGNAL);
    FD_ZERO(&rs);
    FD_SET(b, &rs);
    ts = (struct timespec){2, 0};
    r = pselect(b + 1, &rs, NULL, NULL, &ts, NULL);
    CK("pselect: the socket with data", r == 1 && FD_ISSET(b, &rs), "expected 1, got %d", r);
    drain(b);
    FD_ZERO(&rs);
    FD_SET(bad, &rs);
    tv = (struct timeval){0, 0};
    CK_ERR("select on a closed fd: -1/EBADF", select(bad + 1, &rs, NULL, NULL, &tv), EBADF);
    close_pair(a, b);
}

/* ------------------------------------------------------------ dup */

static void t_dup(void)
{
    int a, b, a2, a3, p[2], x, r;
    char buf[16];
    struct sockaddr_in got;
    socklen_t gl;

    comment("dup, dup2, dup3, F_DUPFD_CLOEXEC");
    if (tcp_pair("dup", &a, &b) < 0)
        return;
    a2 = dup(a);
    CK("dup of a socket returns a new fd", a2 >= 0 && a2 != a, "expected a new fd, got %d/%s", a2, en(errno));
    CK_RC("send through the dup", send(a2, "d1", 2, MSG_NOSIGNAL), 2);
    expect_bytes("dup: the peer receives what was sent through the dup", b, "d1", 2);
    CK_RC("send through the original", send(a, "d2", 2, MSG_NOSIGNAL), 2);
    expect_bytes("dup: the peer receives what was sent through the original", b, "d2", 2);
    send(b, "r1", 2, MSG_NOSIGNAL);
    expect_bytes("the dup reads what the peer sends", a2, "r1", 2);
    r = fcntl(a, F_GETFL);
    fcntl(a, F_SETFL, r | O_NONBLOCK);
    r = fcntl(a2, F_GETFL);
    CK("O_NONBLOCK is shared between dups (one open file description)", r >= 0 && (r & O_NONBLOCK),
       "expected O_NONBLOCK on the dup, got 0x%x", r);
    fcntl(a, F_SETFL, r & ~O_NONBLOCK);
    CK_RC("close of the original returns 0", close(a), 0);
    CK_RC("the dup still sends", send(a2, "d3", 2, MSG_NOSIGNAL), 2);
    expect_bytes("dup: after closing the original, the peer receives what the dup sends", b, "d3", 2);
    send(b, "r2", 2, MSG_NOSIGNAL);
    expect_bytes("the dup still reads", a2, "r2", 2);
    CK_ERR("closing one of two dups does not close the connection (peer: no EOF)",
           recv(b, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);

    /* dup2 onto an open fd. */
    if (pipe(p) == 0) {
        r = dup2(a2, p[1]);
        CK("dup2 onto an open fd returns that fd", r == p[1], "expected %d, got %d/%s", p[1], r, en(errno));
        wait_ev(p[0], POLLIN, WAIT_MS);
        CK_RC("dup2 closed what was there (the pipe's only write end: EOF)", read(p[0], buf, sizeof(buf)), 0);
        gl = sizeof(got);
        CK_RC("the dup2 target is now the socket (getsockname)", getsockname(p[1], SA(&got), &gl), 0);
        CK_RC("send through the dup2 target", send(p[1], "d4", 2, MSG_NOSIGNAL), 2);
        expect_bytes("dup2: the peer receives what was sent through the dup2 target", b, "d4", 2);
        close(p[0]);
        x = p[1];
    } else
        x = -1;
    CK_RC("dup2(fd, fd) returns fd", dup2(a2, a2), a2);
    CK_ERR("dup3(fd, fd, 0): -1/EINVAL", dup3(a2, a2, 0), EINVAL);
    int nul = open("/dev/null", O_RDONLY);
    a3 = dup3(a2, nul, O_CLOEXEC);
    CK("dup3(O_CLOEXEC) onto an open fd returns it, with FD_CLOEXEC", a3 == nul && fcntl(a3, F_GETFD) == FD_CLOEXEC,
       "expected %d with FD_CLOEXEC, got %d (F_GETFD %d)", nul, a3, a3 >= 0 ? fcntl(a3, F_GETFD) : -1);
    CK_RC("send through the dup3", send(a3, "d5", 2, MSG_NOSIGNAL), 2);
    expect_bytes("dup3: the peer receives what was sent through the dup3 target", b, "d5", 2);
    int a4 = fcntl(a2, F_DUPFD_CLOEXEC, 200);
    CK("fcntl(F_DUPFD_CLOEXEC, 200): an fd >= 200 with FD_CLOEXEC", a4 >= 200 && fcntl(a4, F_GETFD) == FD_CLOEXEC,
       "expected >= 200 with FD_CLOEXEC, got %d", a4);
    CK_RC("send through the F_DUPFD_CLOEXEC copy", send(a4, "d6", 2, MSG_NOSIGNAL), 2);
    expect_bytes("F_DUPFD_CLOEXEC: the peer receives what was sent through the copy", b, "d6", 2);
    close(a2);
    if (x >= 0)
        close(x);
    close(a3);
    set_nb(b, 1);
    CK_ERR("with one dup left the connection stays open", recv(b, buf, sizeof(buf), 0), EAGAIN);
    CK_RC("close of the last dup returns 0", close(a4), 0);
    wait_ev(b, POLLIN, WAIT_MS);
    CK_RC("closing the last dup closes the connection: peer reads 0", recv(b, buf, sizeof(buf), 0), 0);
    close(b);
}

/* ------------------------------------------------------------ bad use */

static void t_bad(void)
{
    struct sockaddr_in sa, got, any = sa_of(g_addr, 0);
    socklen_t gl;
    char buf[16];
    int bad, f, p[2], s, s2, L, r, v;

    comment("bad use: closed fds, non-sockets, wrong states");
    bad = closed_fd();
    CK_ERR("read on a closed fd: -1/EBADF", read(bad, buf, sizeof(buf)), EBADF);
    CK_ERR("write on a closed fd: -1/EBADF", write(bad, "x", 1), EBADF);
    CK_ERR("close on a closed fd: -1/EBADF", close(bad), EBADF);
    CK_ERR("send on a closed fd: -1/EBADF", send(bad, "x", 1, MSG_NOSIGNAL), EBADF);
    CK_ERR("recv on a closed fd: -1/EBADF", recv(bad, buf, sizeof(buf), 0), EBADF);
    CK_ERR("getsockopt on a closed fd: -1/EBADF", getint(bad, SOL_SOCKET, SO_TYPE, &v), EBADF);
    CK_ERR("fcntl(F_GETFL) on a closed fd: -1/EBADF", fcntl(bad, F_GETFL), EBADF);
    CK_ERR("dup on a closed fd: -1/EBADF", dup(bad), EBADF);

    f = tmp_file();
    gl = sizeof(got);
    CK_ERR("bind on a regular file: -1/ENOTSOCK", bind(f, SA(&any), sizeof(any)), ENOTSOCK);
    CK_ERR("listen on a regular file: -1/ENOTSOCK", listen(f, 1), ENOTSOCK);
    CK_ERR("accept on a regular file: -1/ENOTSOCK", accept(f, NULL, NULL), ENOTSOCK);
    CK_ERR("connect on a regular file: -1/ENOTSOCK", connect(f, SA(&any), sizeof(any)), ENOTSOCK);
    CK_ERR("getsockname on a regular file: -1/ENOTSOCK", getsockname(f, SA(&got), &gl), ENOTSOCK);
    v = 1;
    CK_ERR("setsockopt on a regular file: -1/ENOTSOCK", setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)),
           ENOTSOCK);
    CK_ERR("recv on a regular file: -1/ENOTSOCK", recv(f, buf, sizeof(buf), 0), ENOTSOCK);
    close(f);
    if (pipe(p) == 0) {
        CK_ERR("send on a pipe: -1/ENOTSOCK", send(p[1], "x", 1, MSG_NOSIGNAL), ENOTSOCK);
        CK_ERR("getsockopt on a pipe: -1/ENOTSOCK", getint(p[0], SOL_SOCKET, SO_TYPE, &v), ENOTSOCK);
        CK_ERR("shutdown on a pipe: -1/ENOTSOCK", shutdown(p[0], SHUT_RDWR), ENOTSOCK);
        close(p[0]);
        close(p[1]);
    }

    /* listen on an unbound socket: Linux binds it to 0.0.0.0 and an ephemeral port. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    CK_RC("listen on an unbound TCP socket returns 0 (Linux auto-binds)", listen(s, 4), 0);
    gl = sizeof(got);
    memset(&got, 0, sizeof(got));
    r = getsockname(s, SA(&got), &gl);
    CK("listen on an unbound socket: getsockname is 0.0.0.0 and a non-zero port",
       r == 0 && got.sin_addr.s_addr == htonl(INADDR_ANY) && got.sin_port != 0,
       "expected 0.0.0.0:<port>, got %s (rc %d)", sa_str(&got), r);
    close(s);

    s = socket(AF_INET, SOCK_STREAM, 0);
    CK_ERR("accept on a new, unbound socket: -1/EINVAL", accept(s, NULL, NULL), EINVAL);
    close(s);
    L = mk_listener(&sa);
    close(L);
    s = socket(AF_INET, SOCK_STREAM, 0);
    r = bind(s, SA(&sa), sizeof(sa));
    CK("bind for the accept check", r == 0, "expected 0, got %d/%s", r, en(errno));
    CK_ERR("accept on a bound, non-listening socket: -1/EINVAL", accept(s, NULL, NULL), EINVAL);
    struct sockaddr_in sa2 = sa_of(g_addr, next_port());
    CK_ERR("bind of an already bound socket: -1/EINVAL", bind(s, SA(&sa2), sizeof(sa2)), EINVAL);
    close(s);

    L = mk_listener(&sa);
    s = socket(AF_INET, SOCK_STREAM, 0);
    v = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
    CK_ERR("bind to the address of a listener (both SO_REUSEADDR): -1/EADDRINUSE", bind(s, SA(&sa), sizeof(sa)),
           EADDRINUSE);
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    CK_RC("connect (blocking) for the EISCONN check", connect(s, SA(&sa), sizeof(sa)), 0);
    CK_ERR("connect twice: -1/EISCONN", connect(s, SA(&sa), sizeof(sa)), EISCONN);
    wait_ev(L, POLLIN, WAIT_MS);
    s2 = GUARDED(accept(L, NULL, NULL));
    close_pair(s, s2);
    close(L);

    s = socket(AF_INET, SOCK_STREAM, 0);
    int before = g_sigpipes;
    CK_ERR("send(MSG_NOSIGNAL) on an unconnected TCP socket: -1/EPIPE", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
    CK_ERR("write on an unconnected TCP socket: -1/EPIPE", write(s, "x", 1), EPIPE);
    CK("write on an unconnected TCP socket raises SIGPIPE", g_sigpipes == before + 1, "expected 1 SIGPIPE, got %d",
       (int)(g_sigpipes - before));
    CK_ERR("recv on an unconnected TCP socket: -1/ENOTCONN", recv(s, buf, sizeof(buf), 0), ENOTCONN);
    CK_ERR("read on an unconnected TCP socket: -1/ENOTCONN", read(s, buf, sizeof(buf)), ENOTCONN);
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    CK_ERR("listen on a UDP socket: -1/EOPNOTSUPP", listen(s, 1), EOPNOTSUPP);
    CK_ERR("send on an unconnected UDP socket: -1/EDESTADDRREQ", send(s, "x", 1, 0), EDESTADDRREQ);
    close(s);
}

/* ------------------------------------------------------------ sendfile */

static void t_sendfile(void)
{
    const size_t n = 300 * 1024;
    char *src = malloc(n), *dst = malloc(n + 1);
    int f, a, b;
    off_t off = 0;
    size_t got = 0, w = 0;
    char why[128] = "";

    comment("sendfile");
    f = tmp_file();
    fill(src, n, 42);
    while (w < n) {
        ssize_t k = write(f, src + w, n - w);
        if (k <= 0)
            break;
        w += (size_t)k;
    }
    if (w != n || tcp_pair("sendfile", &a, &b) < 0) {
        if (w != n)
            fail("sendfile", "writing the temp file: %s", en(errno));
        close(f);
        free(src);
        free(dst);
        return;
    }
    set_nb(a, 1);
    set_nb(b, 1);
    while (got < n) {
        struct pollfd pf[2] = {{a, (size_t)off < n ? POLLOUT : 0, 0}, {b, POLLIN, 0}};
        int k = poll(pf, 2, WAIT_MS);
        if (k <= 0) {
            snprintf(why, sizeof(why), "stalled: sent %lld, received %zu", (long long)off, got);
            break;
        }
        if ((size_t)off < n && (pf[0].revents & POLLOUT)) {
            ssize_t s = sendfile(a, f, &off, n - (size_t)off);
            if (s < 0 && errno != EAGAIN) {
                snprintf(why, sizeof(why), "sendfile at %lld: %s", (long long)off, en(errno));
                break;
            }
        }
        if (pf[1].revents & POLLIN) {
            ssize_t g = recv(b, dst + got, n + 1 - got, 0);
            if (g > 0)
                got += (size_t)g;
            else if (g == 0 || errno != EAGAIN) {
                snprintf(why, sizeof(why), "recv at %zu: %zd/%s", got, g, en(errno));
                break;
            }
        }
    }
    CK("sendfile of a 300 KiB regular file to a TCP socket: byte-exact at the peer",
       got == n && !memcmp(src, dst, n) && !why[0], "expected %zu exact bytes, got %zu%s%s", n, got, why[0] ? ": " : "",
       why);
    CK("sendfile advances *offset", (size_t)off == n, "expected %zu, got %lld", n, (long long)off);
    CK("sendfile with an offset leaves the file position alone", lseek(f, 0, SEEK_CUR) == (off_t)n,
       "expected %zu (after the write), got %lld", n, (long long)lseek(f, 0, SEEK_CUR));
    lseek(f, 0, SEEK_SET);
    CK_RC("sendfile with a NULL offset, 1000 B", sendfile(a, f, NULL, 1000), 1000);
    CK("sendfile with a NULL offset advances the file position", lseek(f, 0, SEEK_CUR) == 1000,
       "expected 1000, got %lld", (long long)lseek(f, 0, SEEK_CUR));
    int eof, err;
    size_t k = read_upto(b, dst, 1000, WAIT_MS, &eof, &err);
    CK("sendfile with a NULL offset: the peer gets the file's first 1000 B", k == 1000 && !memcmp(dst, src, 1000),
       "expected 1000 exact bytes, got %zu", k);
    close_pair(a, b);
    close(f);
    free(src);
    free(dst);
}

/* ------------------------------------------------------------ threads */

struct file_worker {
    atomic_int stop;
    int iterations;
    char result[128];
};

static void *file_worker_main(void *arg)
{
    struct file_worker *w = arg;
    const size_t n = 256 * 1024;
    char *src = malloc(n), *back = malloc(n);
    int p[2];
    long dl = now_ms() + 10000;

    block_alarm();
    snprintf(w->result, sizeof(w->result), "ok");
    if (!src || !back || pipe(p) < 0) {
        snprintf(w->result, sizeof(w->result), "setup: %s", en(errno));
        goto out;
    }
    for (int it = 0; (it < 3 || !atomic_load(&w->stop)) && now_ms() < dl; it++) {
        int f = tmp_file();
        fill(src, n, (uint32_t)it);
        if (f < 0 || write(f, src, n) != (ssize_t)n || lseek(f, 0, SEEK_SET) != 0 || read(f, back, n) != (ssize_t)n ||
            memcmp(src, back, n)) {
            snprintf(w->result, sizeof(w->result), "file round trip %d failed: %s", it, en(errno));
            if (f >= 0)
                close(f);
            break;
        }
        close(f);
        for (int i = 0; i < 64; i++) {
            char c = (char)i, d = 0;
            if (write(p[1], &c, 1) != 1 || read(p[0], &d, 1) != 1 || c != d) {
                snprintf(w->result, sizeof(w->result), "pipe round trip failed: %s", en(errno));
                goto done;
            }
        }
        w->iterations = it + 1;
    }
done:
    close(p[0]);
    close(p[1]);
out:
    free(src);
    free(back);
    return NULL;
}

static void t_threads(void)
{
    struct file_worker w;
    pthread_t t;
    int a, b;
    char why[160];

    comment("a second thread doing file and pipe I/O beside socket traffic");
    if (tcp_pair("threads", &a, &b) < 0)
        return;
    memset(&w, 0, sizeof(w));
    atomic_init(&w.stop, 0);
    if (pthread_create(&t, NULL, file_worker_main, &w) != 0) {
        fail("threads", "pthread_create failed");
        close_pair(a, b);
        return;
    }
    int r1 = transfer(a, b, 1 << 20, s_write, r_read, 99, why, sizeof(why));
    int r2 = r1 == 0 ? transfer(b, a, 1 << 20, s_send, r_recv, 98, why, sizeof(why)) : -1;
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    CK("main thread: 1 MiB each way over TCP while another thread does file I/O", r1 == 0 && r2 == 0,
       "expected exact bytes, got %s", why);
    CK("the other thread: temp-file and pipe round trips all exact", !strcmp(w.result, "ok") && w.iterations >= 3,
       "expected ok over >= 3 iterations, got \"%s\" after %d", w.result, w.iterations);
    close_pair(a, b);
}

/* ------------------------------------------------------------ fork */

static void t_fork(void)
{
    struct sockaddr_in sa;
    int L, a, b, p[2], c, s, st = 0, linux_only;
    char msg[256], buf[64];
    size_t got = 0;
    const char *env = getenv("SHIM_CONFORMANCE_LINUX");

    comment("fork");
    linux_only = env && !strcmp(env, "1");
    L = mk_listener(&sa);
    if (L < 0) {
        fail("fork", "listener: %s", en(errno));
        return;
    }
    if (tcp_pair_on("fork", L, &sa, &a, &b) < 0 || pipe(p) < 0) {
        close(L);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork() returns a pid", "got -1/%s", en(errno));
        return;
    }
    if (pid == 0) {
        long sent = -2;
        /* Under the shim, libdemi's TCP segment count in the child, before
         * and after its closes: they must not enter libdemi, whose device
         * (a memif ring, an AF_XDP umem) the child shares with the parent
         * (a FIN sent, or the parent's frames taken, by the child). */
        int (*counter)(const char *, uint64_t *) =
            (int (*)(const char *, uint64_t *))dlsym(RTLD_DEFAULT, "demi_stats_counter");
        uint64_t tx0 = 0, tx1 = 0;
        close(p[0]);
        if (counter)
            counter("tcp_tx", &tx0);
        if (linux_only)
            sent = send(a, "from-child", 10, MSG_NOSIGNAL);
        int ca = close(a), ea = errno;
        int cb = close(b), eb = errno;
        int cl = close(L), el = errno;
        if (counter)
            counter("tcp_tx", &tx1);
        int n = snprintf(msg, sizeof(msg), "child close %d %d %d errnos %d %d %d sent %ld tcp_tx %llu %llu %d", ca, cb,
                         cl, ea, eb, el, sent, (unsigned long long)tx0, (unsigned long long)tx1, counter != NULL);
        ssize_t w = write(p[1], msg, (size_t)n);
        _exit(w == n ? 0 : 3);
    }
    close(p[1]);
    long dl = now_ms() + 5000;
    while (got < sizeof(msg) - 1 && now_ms() < dl) {
        if (!wait_ev(p[0], POLLIN, 1000))
            continue;
        ssize_t r = read(p[0], msg + got, sizeof(msg) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    msg[got] = 0;
    close(p[0]);
    pid_t wp = 0;
    for (dl = now_ms() + 5000; (wp = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < dl;)
        sleep_ms(10);
    if (wp == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    CK("fork: the child writes to a pipe the parent reads", !strncmp(msg, "child close", 11),
       "expected \"child close ...\", got \"%s\"", msg);
    int ca = -9, cb = -9, cl = -9, ea = 0, eb = 0, el = 0, shimmed = 0;
    long sent = -9;
    unsigned long long tx0 = 0, tx1 = 1;
    sscanf(msg, "child close %d %d %d errnos %d %d %d sent %ld tcp_tx %llu %llu %d", &ca, &cb, &cl, &ea, &eb, &el,
           &sent, &tx0, &tx1, &shimmed);
    if (shimmed)
        CK("fork (libdemi only): the child's closes sent nothing through libdemi (its tcp_tx unchanged)", tx0 == tx1,
           "tcp_tx went from %llu to %llu in the child", tx0, tx1);
    CK("fork: in the child, close() of the inherited sockets and listener returns 0", ca == 0 && cb == 0 && cl == 0,
       "expected 0 0 0, got %d/%s %d/%s %d/%s", ca, en(ea), cb, en(eb), cl, en(el));
    CK("fork: the child exits with status 0", wp == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "expected exit 0, got %s status 0x%x", wp == pid ? "exit" : "a hang (killed)", st);
    if (linux_only) {
        CK("fork (Linux only): the child's send on an inherited socket succeeded", sent == 10, "expected 10, got %ld",
           sent);
        expect_bytes("fork (Linux only): the parent's peer reads what the child sent", b, "from-child", 10);
    }
    sleep_ms(50);
    CK_ERR("fork: the child's close did not end the parent's connection (peer: no EOF)",
           recv(b, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
    CK_RC("fork: the parent still sends on its connection", send(a, "after-fork", 10, MSG_NOSIGNAL), 10);
    expect_bytes("fork: the parent's peer receives it", b, "after-fork", 10);
    CK_RC("fork: the parent's accepted end still sends", send(b, "reply", 5, MSG_NOSIGNAL), 5);
    expect_bytes("fork: the parent's client end receives it", a, "reply", 5);
    if (tcp_pair_on("fork: the parent's listener still accepts after the child exited", L, &sa, &c, &s) == 0) {
        pass("fork: the parent's listener still accepts after the child exited");
        send(c, "new", 3, MSG_NOSIGNAL);
        expect_bytes("fork: the connection accepted after the child exited carries data", s, "new", 3);
        close_pair(c, s);
    }
    close_pair(a, b);
    close(L);
}

/* ------------------------------------------------------------ dual stack */

/* A dual-stack server, as nginx or redis configured to listen on :: too: an
 * AF_INET listener on g_addr (libdemi's, under the shim) and an AF_INET6 one
 * on ::1 (the kernel's: the shim leaves AF_INET6 alone) in one poll set;
 * a client of each, data both ways, the AF_INET6 names whole; a UDP
 * datagram over ::1 with its sender. A machine without IPv6 skips. */
static void t_dual_stack(void)
{
    struct sockaddr_in6 sa6, name6;
    struct sockaddr_in sa4;
    socklen_t len;
    char buf[16];
    int L4, L6, c6, s6 = -1, c4, s4, one = 1, tries;

    L6 = socket(AF_INET6, SOCK_STREAM, 0);
    if (L6 < 0 && errno == EAFNOSUPPORT) {
        comment("dual stack: no IPv6 on this machine, skipped");
        return;
    }
    CK("dual stack: socket(AF_INET6, SOCK_STREAM)", L6 >= 0, "got %s", en(errno));
    if (L6 < 0)
        return;
    setsockopt(L6, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa6, 0, sizeof(sa6));
    sa6.sin6_family = AF_INET6;
    sa6.sin6_addr = in6addr_loopback;
    for (tries = 0; tries < 50; tries++) {
        sa6.sin6_port = htons((uint16_t)next_port());
        if (bind(L6, SA(&sa6), sizeof(sa6)) == 0 || errno != EADDRINUSE)
            break;
    }
    CK_RC("dual stack: listen on [::1]", listen(L6, 16), 0);
    L4 = mk_listener(&sa4);
    CK("dual stack: the AF_INET listener beside it", L4 >= 0, "got %s", en(errno));
    if (L4 < 0) {
        close(L6);
        return;
    }
    len = sizeof(name6);
    CK_RC("dual stack: getsockname of the AF_INET6 listener", getsockname(L6, SA(&name6), &len), 0);
    CK("dual stack: ... is a whole sockaddr_in6 at [::1] and its port",
       len == sizeof(name6) && name6.sin6_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&name6.sin6_addr) &&
           name6.sin6_port == sa6.sin6_port,
       "got len %u family %d port %u", (unsigned)len, name6.sin6_family, ntohs(name6.sin6_port));

    c6 = socket(AF_INET6, SOCK_STREAM, 0);
    CK_RC("dual stack: connect to [::1]", connect(c6, SA(&sa6), sizeof(sa6)), 0);
    {
        struct pollfd p[2] = {{.fd = L4, .events = POLLIN}, {.fd = L6, .events = POLLIN}};
        int n = GUARDED(poll(p, 2, WAIT_MS));
        CK("dual stack: one poll over both listeners sees the IPv6 one ready (only)",
           n == 1 && (p[1].revents & POLLIN) && !(p[0].revents & POLLIN), "got %d, revents 0x%x 0x%x", n, p[0].revents,
           p[1].revents);
    }
    len = sizeof(name6);
    s6 = GUARDED(accept(L6, SA(&name6), &len));
    CK("dual stack: accept on [::1] gives the client's sockaddr_in6",
       s6 >= 0 && len == sizeof(name6) && name6.sin6_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&name6.sin6_addr),
       "got fd %d (%s), len %u", s6, en(errno), (unsigned)len);
    CK_RC("dual stack: the IPv6 client sends", send(c6, "six", 3, MSG_NOSIGNAL), 3);
    if (s6 >= 0)
        expect_bytes("dual stack: the IPv6 server reads it", s6, "six", 3);
    if (tcp_pair_on("dual stack: an IPv4 client of the AF_INET listener", L4, &sa4, &c4, &s4) == 0) {
        CK_RC("dual stack: the IPv4 client sends", send(c4, "four", 4, MSG_NOSIGNAL), 4);
        expect_bytes("dual stack: the IPv4 server reads it", s4, "four", 4);
        if (s6 >= 0) {
            CK_RC("dual stack: the IPv6 server answers", send(s6, "ok6", 3, MSG_NOSIGNAL), 3);
            expect_bytes("dual stack: the IPv6 client reads the answer", c6, "ok6", 3);
        }
        close_pair(c4, s4);
    }
    close(c6);
    if (s6 >= 0)
        close(s6);
    close(L4);
    close(L6);

    /* UDP over ::1: recvfrom gives the sender whole. */
    {
        int u1 = socket(AF_INET6, SOCK_DGRAM, 0), u2 = socket(AF_INET6, SOCK_DGRAM, 0);
        struct sockaddr_in6 a1, a2, from;
        socklen_t fl = sizeof(from);
        memset(&a1, 0, sizeof(a1));
        a1.sin6_family = AF_INET6;
        a1.sin6_addr = in6addr_loopback;
        a2 = a1;
        CK_RC("dual stack: bind a UDP socket to [::1]:0", bind(u1, SA(&a1), sizeof(a1)), 0);
        CK_RC("dual stack: bind another", bind(u2, SA(&a2), sizeof(a2)), 0);
        len = sizeof(a1);
        getsockname(u1, SA(&a1), &len);
        len = sizeof(a2);
        getsockname(u2, SA(&a2), &len);
        CK_RC("dual stack: sendto [::1] over UDP", sendto(u2, "dgram", 5, 0, SA(&a1), sizeof(a1)), 5);
        wait_ev(u1, POLLIN, WAIT_MS);
        CK_RC("dual stack: recvfrom over UDP", recvfrom(u1, buf, sizeof(buf), MSG_DONTWAIT, SA(&from), &fl), 5);
        CK("dual stack: ... from the sender's [::1]:port", fl == sizeof(from) && from.sin6_port == a2.sin6_port,
           "got len %u port %u, want %u", (unsigned)fl, ntohs(from.sin6_port), ntohs(a2.sin6_port));
        close(u1);
        close(u2);
    }
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    struct sigaction sa;
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1";

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (inet_pton(AF_INET, addr, &g_addr) != 1) {
        fprintf(stderr, "usage: %s [IPV4_ADDR [BASE_PORT]]: bad address %s\n", argv[0], addr);
        return 2;
    }
    g_port = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 10000 + (unsigned)(getpid() * 7919u) % 20000;
    if (g_port == 0 || g_port > 65000) {
        fprintf(stderr, "%s: bad base port %s\n", argv[0], argv[2]);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0; /* no SA_RESTART: the watchdog interrupts a stuck call */
    sigaction(SIGALRM, &sa, NULL);
    printf("# posix_conformance: %s, ports from %u, pid %d\n", addr, g_port, (int)getpid());

    t_connect();
    t_data();
    t_options();
    t_udp();
    t_shutdown();
    t_close();
    t_epoll();
    t_mixed();
    t_poll();
    t_dup();
    t_bad();
    t_sendfile();
    t_threads();
    t_fork();
    t_dual_stack();

    printf("1..%d\n", g_num);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
