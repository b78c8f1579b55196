/* SPDX-License-Identifier: MIT */
/*
 * shim_core.c: the shim's state: the C library's functions, the lock, the
 * lazy demi_init, which sockets are libdemi's (the policy), the fd and qd
 * tables, readiness and the blocking calls' wait (the pump: shim_pump.c).
 */
#include "shim/shim.h"

#include "libos/runtime.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct shim_real shim_real;
struct shim_state shim = {.lock = PTHREAD_MUTEX_INITIALIZER};
__thread int shim_in_demi __attribute__((tls_model("initial-exec")));

void shim_log(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "libdemi-preload[%d]: ", (int)getpid());

    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf) - 1)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    /* Straight to the kernel: stdio may be the program's, and locked. */
    if ((shim_real.write ? shim_real.write : write)(2, buf, (size_t)n) < 0)
        return;
}

uint64_t shim_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void shim_lock(void)
{
    pthread_mutex_lock(&shim.lock);
    if (__builtin_expect(atomic_load_explicit(&shim.dead, memory_order_relaxed), 0) && gettid() != shim.exit_tid) {
        /* The process is exiting and libdemi going away under the thread
         * that called exit(): no other thread may touch it again. It
         * sleeps here until the process ends. */
        pthread_mutex_unlock(&shim.lock);
        for (;;)
            pause();
    }
}

void shim_unlock(void)
{
    pthread_mutex_unlock(&shim.lock);
}

/* ---- start-up ------------------------------------------------------------ */

#define REAL(name) shim_real.name = (__typeof__(shim_real.name))dlsym(RTLD_NEXT, #name)

void shim_resolve(void)
{
    REAL(socket);
    REAL(bind);
    REAL(listen);
    REAL(accept);
    REAL(accept4);
    REAL(connect);
    REAL(close);
    REAL(shutdown);
    REAL(read);
    REAL(write);
    REAL(readv);
    REAL(writev);
    REAL(recv);
    REAL(send);
    REAL(recvfrom);
    REAL(sendto);
    REAL(recvmsg);
    REAL(sendmsg);
    REAL(sendfile);
    REAL(getsockname);
    REAL(getpeername);
    REAL(getsockopt);
    REAL(setsockopt);
    REAL(fcntl);
    REAL(ioctl);
    REAL(dup);
    REAL(dup2);
    REAL(dup3);
    REAL(epoll_create);
    REAL(epoll_create1);
    REAL(epoll_ctl);
    REAL(epoll_wait);
    REAL(epoll_pwait);
    REAL(poll);
    REAL(ppoll);
    REAL(select);
    REAL(pselect);
    REAL(sigaction);
    REAL(signal);
}

/* DEMI_SHIM_KERNEL: CIDRs that stay on the kernel ("127.0.0.0/8" unless
 * set; "" = none). */
static void shim_parse_kernel_nets(const char *spec)
{
    char buf[512], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *slash = strchr(tok, '/');
        unsigned long bits = 32;
        struct in_addr a;

        if (slash) {
            *slash = '\0';
            bits = strtoul(slash + 1, NULL, 10);
        }
        if (inet_pton(AF_INET, tok, &a) != 1 || bits > 32 || shim.nkernel_nets == 16) {
            shim_log("DEMI_SHIM_KERNEL: '%s' is not an IPv4 CIDR (or more than 16): ignored", tok);
            continue;
        }
        shim.kernel_mask[shim.nkernel_nets] = bits ? htonl(~0u << (32 - bits)) : 0;
        shim.kernel_net[shim.nkernel_nets] = a.s_addr & shim.kernel_mask[shim.nkernel_nets];
        shim.nkernel_nets++;
    }
}

static uint64_t shim_env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long x;

    if (!v || !*v)
        return dflt;
    x = strtoull(v, &end, 10);
    if (*end) {
        shim_log("%s=%s is not a number: %llu used", name, v, (unsigned long long)dflt);
        return dflt;
    }
    return x;
}

static void shim_atfork_prepare(void)
{
    shim_lock();
}

static void shim_atfork_parent(void)
{
    shim_unlock();
}

/* The child shares the parent's devices and shared memory: it keeps its
 * kernel fds, and its copies of libdemi sockets refuse every call but close
 * (shim_forked_error). */
static void shim_atfork_child(void)
{
    pthread_mutex_init(&shim.lock, NULL);
    if (shim.tried_init)
        shim.forked = true;
}

__attribute__((constructor)) static void shim_init(void)
{
    const char *on = getenv("DEMI_SHIM");
    const char *k = getenv("DEMI_SHIM_KERNEL");

    shim_resolve();
    shim.pid = getpid();
    shim.enabled = !(on && (!strcmp(on, "off") || !strcmp(on, "0")));
    shim_parse_kernel_nets(k ? k : "127.0.0.0/8");
    shim.spin_ns = shim_env_u64("DEMI_SHIM_SPIN_US", 1000) * 1000;
    shim.kpoll_ns = shim_env_u64("DEMI_SHIM_KERNEL_POLL_US", 20) * 1000;
    list_init(&shim.orphans);
    pthread_atfork(shim_atfork_prepare, shim_atfork_parent, shim_atfork_child);
}

int shim_forked_error(int fd)
{
    static bool told;

    if (!told) {
        told = true;
        shim_log("fd %d is a libdemi socket of process %d: a forked child cannot use it (it may close it); "
                 "see docs/shim.md",
                 fd, (int)shim.pid);
    }
    errno = EBADF;
    return -1;
}

/* At exit: libdemi's own exit work (the device drain, then its teardown)
 * runs next, in this thread, while the program's other threads may still be
 * inside their waits (memcached's workers): from here on they stop at the
 * lock (shim_lock). Sockets the program closed may still hold pushes the
 * stack has not taken (a full send queue): they get up to 2 s, as the
 * kernel would deliver them after the process ended. Registered after
 * demi_init, so it runs before libdemi's handlers. */
static void shim_atexit(void)
{
    uint64_t now = shim_now_ns(), end = now + 2000000000ull, give_up = now + 200000000ull;
    bool locked;

    if (shim_forked() || shim.init_err)
        return;
    /* Another thread releases the lock between two rounds of its wait; the
     * lock may also be this thread's own, if exit() ran in a signal
     * handler that interrupted the shim: then go on without it. */
    while (!(locked = pthread_mutex_trylock(&shim.lock) == 0) && shim_now_ns() < give_up)
        sched_yield();
    shim.exit_tid = gettid();
    atomic_store(&shim.dead, true);
    while (locked && !list_empty(&shim.orphans) && shim_now_ns() < end)
        shim_pump();
    if (locked)
        pthread_mutex_unlock(&shim.lock);
}

/* While demi_init runs, the lowest fds are taken, so the device's and
 * DPDK's descriptors land above them and the program's sockets get the low
 * numbers it would have had (wrk, for one, sizes its event loop by them). */
#define SHIM_LOW_FDS 64

static int shim_demi_init_high(const struct demi_args *args)
{
    int fillers[SHIM_LOW_FDS], n = 0, ret;

    while (n < SHIM_LOW_FDS) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        if (fd >= SHIM_LOW_FDS) {
            SHIM_REAL(close)(fd);
            break;
        }
        fillers[n++] = fd;
    }
    ret = DEMI(demi_init(args));
    while (n > 0)
        SHIM_REAL(close)(fillers[--n]);
    return ret;
}

/* demi_init at the first socket that libdemi takes: programs that never
 * open one (or only kernel ones) never start a device. */
int shim_demi_ready(void)
{
    struct demi_args args = {0, NULL, NULL};
    int ret;

    if (shim.tried_init)
        return shim.init_err;
    shim.tried_init = true;
    ret = shim_demi_init_high(&args);
    if (ret) {
        shim.init_err = ret;
        shim_log("demi_init failed (%s): sockets for libdemi fail with ENETDOWN; check LIBOS and CONFIG_PATH",
                 strerror(ret));
        return ret;
    }
    atexit(shim_atexit);
    if (rt.cfg.has_local_ipv4 && strcmp(getenv("LIBOS") ? getenv("LIBOS") : "", "catnap") != 0)
        shim.local_ip = rt.cfg.local_ipv4.s_addr;
    if (rt.cfg.ipv4_prefix_len)
        shim.netmask = htonl(~0u << (32 - rt.cfg.ipv4_prefix_len));
    return 0;
}

static bool shim_kernel_net(uint32_t ip)
{
    for (int i = 0; i < shim.nkernel_nets; i++)
        if ((ip & shim.kernel_mask[i]) == shim.kernel_net[i])
            return true;
    return false;
}

/* bind: INADDR_ANY and libdemi's own address are libdemi's. */
bool shim_bind_is_demi(uint32_t ip)
{
    if (ip == htonl(INADDR_ANY))
        return true;
    if (shim_kernel_net(ip))
        return false;
    return shim.local_ip == 0 || ip == shim.local_ip;
}

/* connect, sendto: libdemi's subnet (everything, if the subnet is not
 * configured), except DEMI_SHIM_KERNEL. */
bool shim_dest_is_demi(uint32_t ip)
{
    if (shim_kernel_net(ip))
        return false;
    if (shim.local_ip == 0 || shim.netmask == 0 || ip == shim.local_ip)
        return true;
    return (ip & shim.netmask) == (shim.local_ip & shim.netmask);
}

/* ---- sockets and tables -------------------------------------------------- */

struct shim_sock *shim_sock_new(int type, bool nonblock)
{
    struct shim_sock *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->type = type;
    s->qd = -1;
    s->nonblock = nonblock;
    s->rx_limit = SHIM_RX_LIMIT;
    s->tx_limit = SHIM_TX_LIMIT;
    list_init(&s->watchers);
    list_init(&s->orphan_link);
    return s;
}

int shim_fd_attach(int fd, struct shim_sock *s)
{
    if ((unsigned)fd >= SHIM_MAX_FDS)
        return EMFILE;
    s->refs++;
    atomic_store_explicit(&shim.fds[fd], s, memory_order_release);
    return 0;
}

void shim_fd_detach(int fd)
{
    atomic_store_explicit(&shim.fds[fd], NULL, memory_order_release);
}

int shim_byqd_set(int qd, struct shim_sock *s)
{
    if (qd < 0)
        return EINVAL;
    if (qd >= shim.byqd_cap) {
        int cap = shim.byqd_cap ? shim.byqd_cap : 1024;
        struct shim_sock **t;
        while (cap <= qd)
            cap *= 2;
        t = realloc(shim.byqd, (size_t)cap * sizeof(*t));
        if (!t)
            return ENOMEM;
        memset(t + shim.byqd_cap, 0, (size_t)(cap - shim.byqd_cap) * sizeof(*t));
        shim.byqd = t;
        shim.byqd_cap = cap;
    }
    shim.byqd[qd] = s;
    return 0;
}

struct shim_sock *shim_byqd(int qd)
{
    return qd >= 0 && qd < shim.byqd_cap ? shim.byqd[qd] : NULL;
}

/* A libdemi socket of @s's type, with the options the program set while
 * it was undecided. Returns 0 or a positive errno. */
int shim_materialize(struct shim_sock *s)
{
    int qd, ret;

    if (shim_demi_ready())
        return ENETDOWN;
    ret = DEMI(demi_socket(&qd, AF_INET, s->type, 0));
    if (ret)
        return ret;
    ret = shim_byqd_set(qd, s);
    if (ret) {
        DEMI(demi_close(qd));
        return ret;
    }
    s->qd = qd;
    s->kind = SHIM_DEMI;
    for (int i = 0; i < s->nopts; i++) {
        const struct shim_opt *o = &s->opts[i];
        const void *v =
            o->name == SO_LINGER && o->level == SOL_SOCKET ? (const void *)&o->linger : (const void *)&o->val;
        socklen_t len = o->name == SO_LINGER && o->level == SOL_SOCKET ? sizeof(o->linger) : sizeof(o->val);
        DEMI(demi_setsockopt(qd, o->level, o->name, v, len)); /* best effort: checked when first set */
    }
    return 0;
}

/* The program's socket is the kernel's after all: forget the record. */
void shim_to_kernel(int fd, struct shim_sock *s)
{
    shim_epoll_to_kernel(s);
    if (fd >= 0)
        shim_fd_detach(fd);
    if (s->refs > 1) /* dup'ed while undecided: every fd naming it */
        for (int i = 0; i < SHIM_MAX_FDS; i++)
            if (shim_sock_of(i) == s)
                shim_fd_detach(i);
    free(s->rx);
    free(s->acc);
    free(s);
}

void shim_sock_free(struct shim_sock *s)
{
    shim_epoll_drop_sock(s);
    if (s->kind == SHIM_DEMI) {
        for (uint32_t i = 0; i < s->rx_n; i++)
            DEMI(demi_sgafree(&s->rx[(s->rx_head + i) % s->rx_cap].sga));
        for (uint32_t i = 0; i < s->acc_n; i++)
            DEMI(demi_close(s->acc[(s->acc_head + i) % s->acc_cap].qd));
        shim.byqd[s->qd] = NULL;
        DEMI(demi_close(s->qd));
        /* The ops close cancelled complete now: drain them while the qd
         * maps to nothing, before another socket can be given it. */
        shim_pump();
    }
    if (list_linked(&s->orphan_link))
        list_del(&s->orphan_link);
    free(s->rx);
    free(s->acc);
    free(s);
}

/* The last fd of @s closed. Bytes still in pushes the stack has not taken
 * go first (close(2) never discards written data), then libdemi's close. */
void shim_sock_release(struct shim_sock *s)
{
    if (s->kind == SHIM_DEMI && s->tx_n > 0 && !s->err) {
        s->orphan = true;
        list_add_tail(&shim.orphans, &s->orphan_link);
        shim_epoll_drop_sock(s);
        return;
    }
    shim_sock_free(s);
}

/* ---- readiness ----------------------------------------------------------- */

bool shim_writable(const struct shim_sock *s)
{
    return s->tx_n < SHIM_PUSH_MAX && s->tx_bytes < s->tx_limit;
}

/* What poll(2) would report for @s (EPOLL* bits equal POLL* bits). */
uint32_t shim_sock_events(const struct shim_sock *s)
{
    uint32_t ev = 0;

    if (s->kind == SHIM_UNDECIDED)
        return s->type == SOCK_STREAM ? EPOLLOUT | EPOLLWRNORM | EPOLLHUP : EPOLLOUT | EPOLLWRNORM;
    if (s->listening)
        return s->acc_n ? EPOLLIN | EPOLLRDNORM : 0;
    if (s->type == SOCK_DGRAM) {
        ev = EPOLLOUT | EPOLLWRNORM;
        if (s->rx_n)
            ev |= EPOLLIN | EPOLLRDNORM;
        if (s->err)
            ev |= EPOLLERR;
        return ev;
    }
    if (s->connecting)
        return 0;
    if (s->so_error)
        return EPOLLOUT | EPOLLERR | EPOLLHUP;
    if (!s->connected)
        return EPOLLOUT | EPOLLWRNORM | EPOLLHUP;
    if (s->rx_n || s->eof || s->rd_shut || s->err)
        ev |= EPOLLIN | EPOLLRDNORM;
    if (s->eof || s->rd_shut)
        ev |= EPOLLRDHUP;
    if (s->err && !s->err_told)
        ev |= EPOLLERR;
    if (s->err)
        ev |= EPOLLHUP | EPOLLOUT | EPOLLWRNORM;
    else if (shim_writable(s))
        ev |= EPOLLOUT | EPOLLWRNORM;
    if ((s->eof || s->rd_shut) && s->wr_shut)
        ev |= EPOLLHUP;
    return ev;
}

/* ---- blocking calls ------------------------------------------------------ */

void shim_wait_init(struct shim_wait *w, int timeout_ms)
{
    w->start_ns = shim_now_ns();
    w->deadline_ns = timeout_ms < 0 ? UINT64_MAX : w->start_ns + (uint64_t)timeout_ms * 1000000ull;
    w->signals = atomic_load(&shim.signals);
    w->rounds = 0;
    w->yielding = false;
}

/* Between two tries of a blocking call: spin for DEMI_SHIM_SPIN_US, then
 * give the CPU away each round (a kernel-bypass device has nothing to sleep
 * on). False once the deadline passed. */
bool shim_wait_round(struct shim_wait *w)
{
    uint64_t now;

    /* A round is a fraction of a µs: the clock every 16th is enough. */
    if ((++w->rounds & 15) != 0 && !w->yielding)
        return true;
    now = shim_now_ns();
    if (now >= w->deadline_ns)
        return false;
    if (now - w->start_ns > shim.spin_ns) {
        w->yielding = true;
        sched_yield();
    }
    return true;
}

bool shim_wait_interrupted(const struct shim_wait *w)
{
    return atomic_load(&shim.signals) != w->signals;
}
