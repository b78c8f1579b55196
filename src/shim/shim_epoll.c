/* SPDX-License-Identifier: MIT */
/*
 * shim_epoll.c: epoll over libdemi sockets and kernel fds together.
 *
 * Every epoll the program creates is a real kernel epoll, which holds the
 * program's kernel fds; its libdemi sockets are items of our own, kept as
 * the kernel keeps them: a socket whose state changed puts its items on
 * their epoll's ready list (shim_notify), and a wait reports from that list
 * only, so a wait costs O(ready), not O(registered). Level-triggered items
 * stay on the list while ready; edge-triggered and one-shot ones leave it
 * when reported, until the socket's next change.
 *
 * A wait polls libdemi every round and the kernel epoll every
 * DEMI_SHIM_KERNEL_POLL_US (20 µs) while it spins: a libdemi event is seen
 * at once, a kernel event within that, and idle kernel fds cost nothing.
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

void shim_notify(struct shim_sock *s)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, &s->watchers) {
        struct shim_epitem *it = list_entry(pos, struct shim_epitem, in_sock);
        if (!list_linked(&it->in_ready) && !it->disabled)
            list_add_tail(&it->ep->ready, &it->in_ready);
    }
}

static void shim_epitem_free(struct shim_epitem *it)
{
    list_del(&it->in_ep);
    list_del(&it->in_sock);
    if (list_linked(&it->in_ready))
        list_del(&it->in_ready);
    free(it);
}

/* @s is gone (closed): its items leave every epoll, as the kernel drops a
 * closed file's. Locked. */
void shim_epoll_drop_sock(struct shim_sock *s)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, &s->watchers)
        shim_epitem_free(list_entry(pos, struct shim_epitem, in_sock));
}

/* @s turned out to be a kernel socket: its items move to the kernel epolls. */
void shim_epoll_to_kernel(struct shim_sock *s)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, &s->watchers) {
        struct shim_epitem *it = list_entry(pos, struct shim_epitem, in_sock);
        struct epoll_event ev = {.events = it->events, .data = it->data};
        if (SHIM_REAL(epoll_ctl)(it->ep->kfd, EPOLL_CTL_ADD, it->fd, &ev) == 0)
            it->ep->nkernel++;
        shim_epitem_free(it);
    }
}

static struct shim_epoll *shim_epoll_new(int kfd)
{
    struct shim_epoll *ep;

    if (kfd < 0 || kfd >= SHIM_MAX_FDS)
        return NULL;
    ep = calloc(1, sizeof(*ep));
    if (!ep)
        return NULL;
    ep->kfd = kfd;
    list_init(&ep->items);
    list_init(&ep->ready);
    atomic_store_explicit(&shim.eps[kfd], ep, memory_order_release);
    return ep;
}

/* close(@fd) of an epoll. An epoll that never held a libdemi socket (one
 * of DPDK's threads', say) goes without the lock: such a thread may run
 * while the lock's holder waits for it inside demi_init. */
void shim_epoll_forget(int fd)
{
    struct shim_epoll *ep = atomic_exchange(&shim.eps[fd], NULL);
    struct list_node *pos, *tmp;

    if (!ep)
        return;
    if (!list_empty(&ep->items)) {
        shim_lock();
        list_for_each_safe (pos, tmp, &ep->items)
            shim_epitem_free(list_entry(pos, struct shim_epitem, in_ep));
        shim_unlock();
    }
    free(ep);
}

SHIM_EXPORT int epoll_create1(int flags)
{
    int kfd = SHIM_REAL(epoll_create1)(flags);

    if (kfd >= 0 && !shim_in_demi && shim.enabled)
        shim_epoll_new(kfd); /* no lock: see shim_epoll_forget */
    return kfd;
}

SHIM_EXPORT int epoll_create(int size)
{
    if (size <= 0)
        return fail(EINVAL);
    return epoll_create1(0);
}

static struct shim_epitem *shim_epitem_find(struct shim_epoll *ep, struct shim_sock *s, int fd)
{
    struct list_node *pos, *tmp;

    list_for_each_safe (pos, tmp, &s->watchers) {
        struct shim_epitem *it = list_entry(pos, struct shim_epitem, in_sock);
        if (it->ep == ep && it->fd == fd)
            return it;
    }
    return NULL;
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    struct shim_epoll *ep = shim_in_demi ? NULL : shim_epoll_of(epfd);
    struct shim_sock *s = shim_lookup(fd);
    struct shim_epitem *it;
    int ret = 0;

    if (!ep || !s || s->kind == SHIM_UNDECIDED || shim_forked()) {
        ret = SHIM_REAL(epoll_ctl)(epfd, op, fd, ev);
        if (ep && ret == 0)
            ep->nkernel += op == EPOLL_CTL_ADD ? 1 : op == EPOLL_CTL_DEL ? -1 : 0;
        return ret;
    }
    if (epfd == fd)
        return fail(EINVAL);
    if (op != EPOLL_CTL_DEL && !ev)
        return fail(EFAULT);
    shim_lock();
    it = shim_epitem_find(ep, s, fd);
    switch (op) {
    case EPOLL_CTL_ADD:
        if (it) {
            ret = EEXIST;
            break;
        }
        it = calloc(1, sizeof(*it));
        if (!it) {
            ret = ENOMEM;
            break;
        }
        it->ep = ep;
        it->s = s;
        it->fd = fd;
        it->events = ev->events;
        it->data = ev->data;
        list_add_tail(&ep->items, &it->in_ep);
        list_add_tail(&s->watchers, &it->in_sock);
        list_init(&it->in_ready);
        list_add_tail(&ep->ready, &it->in_ready); /* look at it at the next wait */
        break;
    case EPOLL_CTL_MOD:
        if (!it) {
            ret = ENOENT;
            break;
        }
        it->events = ev->events;
        it->data = ev->data;
        it->disabled = false;
        if (!list_linked(&it->in_ready))
            list_add_tail(&ep->ready, &it->in_ready);
        break;
    case EPOLL_CTL_DEL:
        if (!it) {
            ret = ENOENT;
            break;
        }
        shim_epitem_free(it);
        break;
    default:
        ret = EINVAL;
    }
    shim_unlock();
    return ret ? fail(ret) : 0;
}

/* Ready libdemi items into @evs. Locked. */
static int shim_epoll_collect(struct shim_epoll *ep, struct epoll_event *evs, int max)
{
    struct list_node again, *pos, *tmp;
    int n = 0;

    list_init(&again);
    list_for_each_safe (pos, tmp, &ep->ready) {
        struct shim_epitem *it = list_entry(pos, struct shim_epitem, in_ready);
        uint32_t ev;

        if (n == max)
            break;
        ev = shim_sock_events(it->s) & (it->events | EPOLLERR | EPOLLHUP);
        list_del(&it->in_ready);
        if (!ev || it->disabled)
            continue;
        evs[n].events = ev;
        evs[n].data = it->data;
        n++;
        if (it->events & EPOLLONESHOT)
            it->disabled = true;
        else if (!(it->events & EPOLLET))
            list_add_tail(&again, &it->in_ready); /* level: still ready until it is not */
    }
    /* Reported level-triggered items go behind the others (fairness). */
    while (!list_empty(&again)) {
        struct list_node *f = list_first(&again);
        list_del(f);
        list_add_tail(&ep->ready, f);
    }
    return n;
}

static int shim_epoll_wait(struct shim_epoll *ep, struct epoll_event *evs, int max, int timeout,
                           const sigset_t *sigmask)
{
    struct shim_wait w;
    bool kernel_seen = false;
    int n, k;

    if (max <= 0)
        return fail(EINVAL);
    shim_wait_init(&w, timeout);
    for (;;) {
        shim_lock();
        shim_pump();
        n = shim_epoll_collect(ep, evs, max);
        shim_unlock();
        if (ep->nkernel > 0 && n < max) {
            uint64_t now = shim_now_ns();
            if (!kernel_seen || n > 0 || now - ep->last_kpoll_ns >= shim.kpoll_ns) {
                k = sigmask ? SHIM_REAL(epoll_pwait)(ep->kfd, evs + n, max - n, 0, sigmask)
                            : SHIM_REAL(epoll_wait)(ep->kfd, evs + n, max - n, 0);
                ep->last_kpoll_ns = now;
                kernel_seen = true;
                if (k < 0 && n == 0)
                    return -1;
                if (k > 0)
                    n += k;
            }
        }
        if (n > 0 || timeout == 0)
            return n;
        if (shim_wait_interrupted(&w))
            return fail(EINTR);
        if (!shim_wait_round(&w))
            return 0;
    }
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
    struct shim_epoll *ep = shim_in_demi ? NULL : shim_epoll_of(epfd);

    if (!ep || list_empty(&ep->items) || shim_forked())
        return SHIM_REAL(epoll_wait)(epfd, evs, max, timeout);
    return shim_epoll_wait(ep, evs, max, timeout, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *sigmask)
{
    struct shim_epoll *ep = shim_in_demi ? NULL : shim_epoll_of(epfd);

    if (!ep || list_empty(&ep->items) || shim_forked())
        return SHIM_REAL(epoll_pwait)(epfd, evs, max, timeout, sigmask);
    return shim_epoll_wait(ep, evs, max, timeout, sigmask);
}
