/* SPDX-License-Identifier: MIT */
/*
 * shim_poll.c: poll, ppoll, select and pselect over libdemi sockets and
 * kernel fds together (the same spin as epoll: libdemi every round, the
 * kernel fds every DEMI_SHIM_KERNEL_POLL_US), and the signal bookkeeping
 * that lets every wait return EINTR when a handler ran.
 */
#include "shim/shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int fail(int err)
{
    errno = err;
    return -1;
}

static bool shim_any_demi(const struct pollfd *fds, nfds_t n)
{
    if (shim_in_demi || shim_forked())
        return false;
    for (nfds_t i = 0; i < n; i++) {
        struct shim_sock *s = shim_sock_of(fds[i].fd);
        if (s && s->kind == SHIM_DEMI)
            return true;
    }
    return false;
}

/* One look at every fd: libdemi ones from their state, kernel ones (into
 * @kfds, mapped back by @kidx) when @kernel. Returns the ready count. */
static int shim_poll_once(struct pollfd *fds, nfds_t n, struct pollfd *kfds, nfds_t *kidx, nfds_t nk, bool kernel,
                          const sigset_t *sigmask, int *err)
{
    int ready = 0;

    shim_lock();
    shim_pump();
    for (nfds_t i = 0; i < n; i++) {
        struct shim_sock *s = fds[i].fd >= 0 ? shim_sock_of(fds[i].fd) : NULL;
        if (s && s->kind == SHIM_DEMI) {
            fds[i].revents = (short)(shim_sock_events(s) & ((uint32_t)(uint16_t)fds[i].events | POLLERR | POLLHUP));
            if (fds[i].revents)
                ready++;
        }
    }
    shim_unlock();
    if (kernel && nk > 0) {
        static const struct timespec zero = {0, 0};
        int k = sigmask ? SHIM_REAL(ppoll)(kfds, nk, &zero, sigmask) : SHIM_REAL(poll)(kfds, nk, 0);
        if (k < 0) {
            *err = errno;
            return -1;
        }
        for (nfds_t j = 0; j < nk; j++) {
            fds[kidx[j]].revents = kfds[j].revents;
            if (kfds[j].revents)
                ready++;
        }
    }
    return ready;
}

static int shim_poll(struct pollfd *fds, nfds_t n, int timeout, const sigset_t *sigmask)
{
    struct pollfd kbuf[64], *kfds = kbuf;
    nfds_t kibuf[64], *kidx = kibuf, nk = 0;
    uint64_t last_k = 0;
    struct shim_wait w;
    int ready, err = 0;

    if (n > 64) {
        kfds = malloc(n * sizeof(*kfds));
        kidx = malloc(n * sizeof(*kidx));
        if (!kfds || !kidx) {
            free(kfds);
            free(kidx);
            return fail(ENOMEM);
        }
    }
    for (nfds_t i = 0; i < n; i++) {
        struct shim_sock *s = fds[i].fd >= 0 ? shim_sock_of(fds[i].fd) : NULL;
        fds[i].revents = 0;
        if (!s || s->kind != SHIM_DEMI) {
            kfds[nk] = fds[i];
            kidx[nk++] = i;
        }
    }
    shim_wait_init(&w, timeout);
    for (bool first = true;; first = false) {
        uint64_t now = shim_now_ns();
        bool kernel = first || timeout == 0 || now - last_k >= shim.kpoll_ns;
        ready = shim_poll_once(fds, n, kfds, kidx, nk, kernel, sigmask, &err);
        if (kernel)
            last_k = now;
        if (ready != 0 || timeout == 0)
            break;
        if (shim_wait_interrupted(&w)) {
            ready = -1;
            err = EINTR;
            break;
        }
        if (!shim_wait_round(&w))
            break;
    }
    if (kfds != kbuf) {
        free(kfds);
        free(kidx);
    }
    return ready < 0 ? fail(err) : ready;
}

/* glibc declares poll's array write-only (access attribute), yet poll
 * reads it: GCC would take our reads for reads of uninitialised memory. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (!shim_any_demi(fds, n))
        return SHIM_REAL(poll)(fds, n, timeout);
    return shim_poll(fds, n, timeout, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n)
        abort();
    return poll(fds, n, timeout);
}

static int shim_timespec_ms(const struct timespec *ts)
{
    if (!ts)
        return -1;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return -2;
    if (ts->tv_sec > 86400 * 24)
        return 86400 * 24 * 1000;
    return (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *sigmask)
{
    int ms;

    if (!shim_any_demi(fds, n))
        return SHIM_REAL(ppoll)(fds, n, ts, sigmask);
    ms = shim_timespec_ms(ts);
    if (ms == -2)
        return fail(EINVAL);
    return shim_poll(fds, n, ms, sigmask);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* select over poll: the sets become a pollfd array and back. */
static int shim_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, int ms, const sigset_t *sigmask)
{
    struct pollfd pf[FD_SETSIZE];
    nfds_t n = 0;
    int ready;

    if (nfds < 0 || nfds > FD_SETSIZE)
        return fail(EINVAL);
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (rd && FD_ISSET(fd, rd))
            ev |= POLLIN;
        if (wr && FD_ISSET(fd, wr))
            ev |= POLLOUT;
        if (ex && FD_ISSET(fd, ex))
            ev |= POLLPRI;
        if (ev)
            pf[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    ready = shim_poll(pf, n, ms, sigmask);
    if (ready < 0)
        return -1;
    for (nfds_t i = 0; i < n; i++)
        if (pf[i].revents & POLLNVAL)
            return fail(EBADF);
    if (rd)
        FD_ZERO(rd);
    if (wr)
        FD_ZERO(wr);
    if (ex)
        FD_ZERO(ex);
    ready = 0;
    for (nfds_t i = 0; i < n; i++) {
        short r = pf[i].revents;
        if (rd && (r & (POLLIN | POLLHUP | POLLERR)) && (pf[i].events & POLLIN))
            FD_SET(pf[i].fd, rd), ready++;
        if (wr && (r & (POLLOUT | POLLERR)) && (pf[i].events & POLLOUT))
            FD_SET(pf[i].fd, wr), ready++;
        if (ex && (r & POLLPRI) && (pf[i].events & POLLPRI))
            FD_SET(pf[i].fd, ex), ready++;
    }
    return ready;
}

static bool shim_set_has_demi(int nfds, const fd_set *rd, const fd_set *wr, const fd_set *ex)
{
    if (shim_in_demi || shim_forked() || nfds <= 0)
        return false;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
        if ((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) || (ex && FD_ISSET(fd, ex))) {
            struct shim_sock *s = shim_sock_of(fd);
            if (s && s->kind == SHIM_DEMI)
                return true;
        }
    }
    return false;
}

SHIM_EXPORT int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    int ms;

    if (!shim_set_has_demi(nfds, rd, wr, ex))
        return SHIM_REAL(select)(nfds, rd, wr, ex, tv);
    if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
        return fail(EINVAL);
    ms = tv ? (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000) : -1;
    return shim_select(nfds, rd, wr, ex, ms, NULL);
}

SHIM_EXPORT int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
                        const sigset_t *sigmask)
{
    int ms;

    if (!shim_set_has_demi(nfds, rd, wr, ex))
        return SHIM_REAL(pselect)(nfds, rd, wr, ex, ts, sigmask);
    ms = shim_timespec_ms(ts);
    if (ms == -2)
        return fail(EINVAL);
    return shim_select(nfds, rd, wr, ex, ms, sigmask);
}

/* ---- signals --------------------------------------------------------------
 * A spinning wait never sleeps in the kernel, so no signal interrupts it:
 * handlers are wrapped to count their runs, and a wait that sees the count
 * move returns EINTR, as epoll_wait, poll and select do (redis and nginx
 * notice SIGTERM that way). */

static struct sigaction shim_app_sa[NSIG];

static void shim_sig_trampoline(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *sa = &shim_app_sa[sig];

    atomic_fetch_add(&shim.signals, 1);
    if (sa->sa_flags & SA_SIGINFO)
        sa->sa_sigaction(sig, si, uc);
    else if (sa->sa_handler != SIG_IGN && sa->sa_handler != SIG_DFL)
        sa->sa_handler(sig);
}

static bool shim_sig_wrappable(const struct sigaction *act)
{
    if (!act)
        return false;
    if (act->sa_flags & SA_SIGINFO)
        return act->sa_sigaction != NULL;
    return act->sa_handler != SIG_IGN && act->sa_handler != SIG_DFL;
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct sigaction prev_app, mine, prev;
    int ret;

    if (shim_in_demi || !shim.enabled || sig <= 0 || sig >= NSIG)
        return SHIM_REAL(sigaction)(sig, act, old);
    prev_app = shim_app_sa[sig]; /* the program's, while the trampoline is installed */
    if (shim_sig_wrappable(act)) {
        shim_app_sa[sig] = *act; /* before the trampoline can run with it */
        mine = *act;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = shim_sig_trampoline;
        ret = SHIM_REAL(sigaction)(sig, &mine, &prev);
        if (ret != 0)
            shim_app_sa[sig] = prev_app;
    } else {
        ret = SHIM_REAL(sigaction)(sig, act, &prev);
    }
    if (ret != 0)
        return ret;
    if (old) {
        *old = prev;
        if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction == shim_sig_trampoline)
            *old = prev_app; /* the program sees its own handler, never ours */
    }
    return 0;
}

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;

    if (shim_in_demi || !shim.enabled)
        return SHIM_REAL(signal)(sig, handler);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}
