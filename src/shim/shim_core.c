/* SPDX-License-Identifier: MIT */
/*
 * shim_core.c: the shim's state: the C library's functions, the lock, the
 * lazy demi_init, which sockets are libdemi's (the policy), the fd and qd
 * tables, the pump that turns libdemi's completions into socket state, and
 * readiness.
 */
#include "shim/shim.h"

#include "core/runtime.h"

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
    if (__builtin_expect(atomic_load_explicit(&shim.dead, memory_order_relaxed), 0) &&
        gettid() != shim.exit_tid) {
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

static struct shim_sock *shim_byqd(int qd)
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
        const void *v = o->name == SO_LINGER && o->level == SOL_SOCKET ? (const void *)&o->linger
                                                                          : (const void *)&o->val;
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

static void shim_sock_free(struct shim_sock *s)
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

/* ---- completions --------------------------------------------------------- */

void shim_post_pop(struct shim_sock *s)
{
    demi_qtoken_t qt;
    int ret;

    if (s->pop_pending || s->eof || s->err || s->rx_bytes >= s->rx_limit || s->kind != SHIM_DEMI)
        return;
    if (s->type == SOCK_STREAM && !s->connected)
        return;
    ret = DEMI(demi_pop(&qt, s->qd));
    if (ret) {
        if (ret == ENOTCONN)
            s->eof = true;
        else
            s->err = ret;
        return;
    }
    s->pop_qt = qt;
    s->pop_pending = true;
}

void shim_post_accept(struct shim_sock *s)
{
    demi_qtoken_t qt;

    if (s->acc_pending || !s->listening)
        return;
    if (DEMI(demi_accept(&qt, s->qd)) == 0) {
        s->acc_qt = qt;
        s->acc_pending = true;
    }
}

static void shim_rx_append(struct shim_sock *s, const demi_sgarray_t *sga)
{
    if (s->rx_n == s->rx_cap) {
        uint32_t cap = s->rx_cap ? s->rx_cap * 2 : 8;
        struct shim_rx *r = malloc(cap * sizeof(*r));
        if (!r) { /* cannot hold it: the bytes are lost, the stream broken */
            DEMI(demi_sgafree((demi_sgarray_t *)sga));
            s->err = ENOMEM;
            return;
        }
        for (uint32_t i = 0; i < s->rx_n; i++)
            r[i] = s->rx[(s->rx_head + i) % s->rx_cap];
        free(s->rx);
        s->rx = r;
        s->rx_cap = cap;
        s->rx_head = 0;
    }
    s->rx[(s->rx_head + s->rx_n) % s->rx_cap] = (struct shim_rx){.sga = *sga, .off = 0};
    s->rx_n++;
    s->rx_bytes += sga->sga_segs[0].sgaseg_len;
}

static void shim_acc_append(struct shim_sock *s, const demi_accept_result_t *a)
{
    if (s->acc_n == s->acc_cap) {
        uint32_t cap = s->acc_cap ? s->acc_cap * 2 : 16;
        struct shim_acc *r = malloc(cap * sizeof(*r));
        if (!r) {
            DEMI(demi_close(a->qd));
            return;
        }
        for (uint32_t i = 0; i < s->acc_n; i++)
            r[i] = s->acc[(s->acc_head + i) % s->acc_cap];
        free(s->acc);
        s->acc = r;
        s->acc_cap = cap;
        s->acc_head = 0;
    }
    s->acc[(s->acc_head + s->acc_n) % s->acc_cap] = (struct shim_acc){.qd = a->qd, .addr = a->addr};
    s->acc_n++;
}

/* A completion of an op whose socket is gone (closed since). */
static void shim_stale(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP)
        DEMI(demi_sgafree(&qr->qr_value.sga));
    else if (qr->qr_opcode == DEMI_OPC_ACCEPT)
        DEMI(demi_close(qr->qr_value.ares.qd));
}

static void shim_dispatch(demi_qresult_t *qr)
{
    struct shim_sock *s = shim_byqd(qr->qr_qd);
    bool failed = qr->qr_opcode == DEMI_OPC_FAILED;
    int err = (int)qr->qr_ret;

    if (!s) {
        shim_stale(qr);
        return;
    }
    if (s->pop_pending && qr->qr_qt == s->pop_qt) {
        s->pop_pending = false;
        if (failed) {
            if (err != ECANCELED)
                s->err = err;
        } else if (s->type == SOCK_STREAM &&
                   (qr->qr_value.sga.sga_numsegs == 0 || qr->qr_value.sga.sga_segs[0].sgaseg_len == 0)) {
            s->eof = true;
            DEMI(demi_sgafree(&qr->qr_value.sga));
        } else if (s->type == SOCK_DGRAM && s->connected &&
                   (qr->qr_value.sga.sga_addr.sin_addr.s_addr != s->peer.sin_addr.s_addr ||
                    qr->qr_value.sga.sga_addr.sin_port != s->peer.sin_port)) {
            /* A connected UDP socket hears its peer only (as Linux). */
            DEMI(demi_sgafree(&qr->qr_value.sga));
            shim_post_pop(s);
        } else {
            shim_rx_append(s, &qr->qr_value.sga);
            shim_post_pop(s);
        }
    } else if (s->acc_pending && qr->qr_qt == s->acc_qt) {
        s->acc_pending = false;
        if (!failed) {
            shim_acc_append(s, &qr->qr_value.ares);
        } else if (err != ECANCELED) {
            static bool told;
            if (!told) /* EMFILE, ENOMEM: the connection stays queued; retried at each pump */
                shim_log("a listener's accept failed: %s (retrying; logged once)", strerror(err));
            told = true;
        }
        if (!failed || err != ECANCELED)
            shim_post_accept(s);
    } else if (s->connecting && qr->qr_qt == s->conn_qt) {
        s->connecting = false;
        if (failed) {
            s->so_error = err;
        } else {
            s->connected = true;
            shim_post_pop(s);
        }
    } else if (s->tx_n > 0) { /* pushes complete in order */
        s->tx_bytes -= s->tx_len[s->tx_head];
        s->tx_head = (s->tx_head + 1) % SHIM_PUSH_MAX;
        s->tx_n--;
        if (failed && err != ECANCELED && !s->err)
            s->err = err;
    }
    shim_notify(s);
}

/* Orphans whose last push the stack took: libdemi's close now. Freeing one
 * pumps (shim_sock_free), which may change any orphan: look again from the
 * start after each. */
static void shim_reap_orphans(void)
{
    for (;;) {
        struct list_node *pos, *tmp;
        struct shim_sock *done = NULL;

        list_for_each_safe(pos, tmp, &shim.orphans) {
            struct shim_sock *s = list_entry(pos, struct shim_sock, orphan_link);
            if (s->tx_n == 0 || s->err) {
                done = s;
                break;
            }
        }
        if (!done)
            return;
        list_del(&done->orphan_link);
        shim_sock_free(done);
    }
}

/* Make progress: poll libdemi once and apply every completion. Called with
 * the lock held; re-entered from shim_sock_free, where it only drains. */
void shim_pump(void)
{
    static const struct timespec zero = {0, 0};
    static int depth;
    demi_qresult_t qrs[32];

    if (!shim.tried_init || shim.init_err)
        return;
    if (atomic_load_explicit(&shim.dead, memory_order_relaxed) && depth == 0 && gettid() != shim.exit_tid)
        return;
    depth++;
    /* One round of every libOS, then the completion queue drained (a
     * wait on a non-empty queue does not poll again). rt_poll directly:
     * demi_wait_next_n's deadline would cost a clock read per round. */
    DEMI(rt_poll());
    for (int round = 0; round < 8 && !list_empty(&rt.ops.cq); round++) {
        int n = 0;
        if (DEMI(demi_wait_next_n(qrs, 32, &n, &zero)) != 0 || n == 0)
            break;
        for (int i = 0; i < n; i++)
            shim_dispatch(&qrs[i]);
    }
    if (depth == 1 && !list_empty(&shim.orphans))
        shim_reap_orphans();
    depth--;
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
