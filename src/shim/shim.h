/* SPDX-License-Identifier: MIT */
/*
 * shim.h: libdemi-preload.so, the POSIX sockets + epoll shim that runs
 * unmodified programs over libdemi (tools/demirun, docs/shim.md).
 *
 * A program's AF_INET socket is, at first, a real kernel socket with a shim
 * record beside it (SHIM_UNDECIDED). bind, connect, listen or sendto decide
 * where it lives: on libdemi (the record gets a queue descriptor, the kernel
 * socket stays as the fd's placeholder and option store), or on the kernel
 * (the record goes, the program has its kernel socket). Readiness is computed
 * from libdemi's completions, which one pump drains for every thread: a pop
 * always waits on each connected socket, an accept on each listener, and the
 * bytes they bring wait in the record until read.
 *
 * One mutex serialises every call that touches a libdemi socket (libdemi is
 * single-threaded); calls on other fds take no lock.
 */
#ifndef DEMI_SHIM_H
#define DEMI_SHIM_H

#include "core/list.h"

#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

#define SHIM_MAX_FDS 65536          /* fds above this stay on the kernel (logged) */
#define SHIM_PUSH_MAX 64            /* pushes in flight per socket */
#define SHIM_CHUNK (64u * 1024)     /* bytes per push */
#define SHIM_RX_LIMIT (256u * 1024) /* received bytes held per socket before pops pause */
#define SHIM_TX_LIMIT (256u * 1024) /* bytes in pushes not yet taken by the stack */
#define SHIM_RX_BUFS 1024           /* received buffers held per socket before pops pause */
#define SHIM_SAVED_OPTS 16

/* The C library's own functions, found with dlsym(RTLD_NEXT). */
struct shim_real {
    int (*socket)(int, int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*close)(int);
    int (*shutdown)(int, int);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    ssize_t (*sendfile)(int, int, off_t *, size_t);
    int (*getsockname)(int, struct sockaddr *, socklen_t *);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*fcntl)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*epoll_create)(int);
    int (*epoll_create1)(int);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    sighandler_t (*signal)(int, sighandler_t);
};

extern struct shim_real shim_real;

/* The C library's @name. Resolved by the shim's constructor, or here when
 * another preloaded library (a sanitizer runtime) calls in before it ran. */
void shim_resolve(void);
#define SHIM_REAL(name) \
    (__builtin_expect(shim_real.name != NULL, 1) ? shim_real.name : (shim_resolve(), shim_real.name))

enum shim_kind {
    SHIM_UNDECIDED, /* a kernel socket so far: bind/connect/listen decide */
    SHIM_DEMI,      /* lives on libdemi; the kernel socket is a placeholder */
};

struct shim_rx {
    demi_sgarray_t sga; /* one pop's bytes (a datagram, for UDP) */
    uint32_t off;       /* bytes of it already read */
};

struct shim_acc {
    int qd;
    struct sockaddr_in addr;
};

struct shim_opt {
    int level, name, val;
    struct linger linger; /* SO_LINGER */
};

struct shim_sock {
    enum shim_kind kind;
    int type;      /* SOCK_STREAM or SOCK_DGRAM */
    int qd;        /* libdemi's queue, -1 while undecided */
    int refs;      /* fds that name this socket (dup) */
    bool nonblock; /* O_NONBLOCK: one per open file, shared by dups as in Linux */
    bool listening, connecting, connected;
    bool eof; /* the peer's FIN (or SHUT_RD) reached the reader */
    bool rd_shut, wr_shut;
    bool orphan;   /* closed by the program; waits for its pushes, then goes */
    bool err_told; /* read() has reported err once; later reads see EOF */
    int err;       /* the connection failed (ECONNRESET, ETIMEDOUT...) */
    int so_error;  /* pending SO_ERROR (a failed connect) */
    struct sockaddr_in local, peer;
    bool has_local, has_peer;

    /* receiving: pops deliver into a ring the reads drain */
    struct shim_rx *rx;
    uint32_t rx_cap, rx_head, rx_n;
    size_t rx_bytes, rx_limit;
    demi_qtoken_t pop_qt;
    bool pop_pending;

    /* sending: pushes the stack has not taken yet, oldest first */
    uint32_t tx_len[SHIM_PUSH_MAX];
    uint32_t tx_head, tx_n;
    size_t tx_bytes, tx_limit;

    /* accepting */
    struct shim_acc *acc;
    uint32_t acc_cap, acc_head, acc_n;
    demi_qtoken_t acc_qt;
    bool acc_pending;
    demi_qtoken_t conn_qt;

    /* options set while undecided, replayed on libdemi */
    struct shim_opt opts[SHIM_SAVED_OPTS];
    int nopts;

    struct list_node watchers; /* struct shim_epitem.in_sock */
    struct list_node orphan_link;
};

struct shim_epoll;

struct shim_epitem {
    struct list_node in_ep;    /* every libdemi item of the epoll */
    struct list_node in_sock;  /* the socket's watchers */
    struct list_node in_ready; /* the epoll's ready list, while maybe ready */
    struct shim_epoll *ep;
    struct shim_sock *s;
    int fd;
    uint32_t events;
    epoll_data_t data;
    bool disabled; /* EPOLLONESHOT fired: nothing until EPOLL_CTL_MOD */
};

struct shim_epoll {
    int kfd;                /* the kernel epoll: every kernel fd of the set */
    int nkernel;            /* kernel fds added (an upper bound: the kernel drops closed ones) */
    struct list_node items; /* libdemi sockets */
    struct list_node ready;
    uint64_t last_kpoll_ns;
};

struct shim_state {
    pthread_mutex_t lock;
    bool enabled;    /* DEMI_SHIM != off */
    bool tried_init; /* demi_init ran (lazily, at the first libdemi socket) */
    int init_err;
    pid_t pid;         /* the process that loaded the shim */
    bool forked;       /* a child forked after libdemi started: its libdemi sockets are the parent's */
    uint32_t local_ip; /* libdemi's address (network order); 0: the libOS takes any */
    uint32_t netmask;  /* network order; 0: subnet unknown, every destination is libdemi's */
    uint32_t kernel_net[16], kernel_mask[16]; /* DEMI_SHIM_KERNEL */
    int nkernel_nets;
    uint64_t spin_ns;  /* busy-poll this long before yielding the CPU */
    uint64_t kpoll_ns; /* while spinning, look at kernel fds this often */
    _Atomic(struct shim_sock *) fds[SHIM_MAX_FDS];
    _Atomic(struct shim_epoll *) eps[SHIM_MAX_FDS];
    struct shim_sock **byqd; /* qd -> socket, for completions */
    int byqd_cap;
    struct list_node orphans;
    _Atomic uint64_t signals; /* handler runs seen (EINTR for waits) */
    _Atomic bool dead;        /* exit() began: only exit_tid may use libdemi */
    pid_t exit_tid;
};

extern struct shim_state shim;
extern __thread int shim_in_demi __attribute__((tls_model("initial-exec")));

/* A call into libdemi: the shim's own interposers step aside inside it. */
#define DEMI(call)                    \
    ({                                \
        shim_in_demi++;               \
        __typeof__(call) r_ = (call); \
        shim_in_demi--;               \
        r_;                           \
    })

static inline struct shim_sock *shim_sock_of(int fd)
{
    if ((unsigned)fd >= SHIM_MAX_FDS)
        return NULL;
    return atomic_load_explicit(&shim.fds[fd], memory_order_acquire);
}

static inline struct shim_epoll *shim_epoll_of(int fd)
{
    if ((unsigned)fd >= SHIM_MAX_FDS)
        return NULL;
    return atomic_load_explicit(&shim.eps[fd], memory_order_acquire);
}

/* The interposers' first question: is this fd the shim's business? */
static inline struct shim_sock *shim_lookup(int fd)
{
    if (shim_in_demi)
        return NULL;
    return shim_sock_of(fd);
}

/* shim_core.c, shim_pump.c */
void shim_lock(void);
void shim_unlock(void);
uint64_t shim_now_ns(void);
static inline bool shim_forked(void)
{
    return shim.forked;
}
int shim_byqd_set(int qd, struct shim_sock *s);
int shim_decide_dest(int fd, struct shim_sock *s, const struct sockaddr_in *dest);
int shim_forked_error(int fd);
int shim_demi_ready(void);
bool shim_bind_is_demi(uint32_t ip);
bool shim_dest_is_demi(uint32_t ip);
struct shim_sock *shim_sock_new(int type, bool nonblock);
int shim_fd_attach(int fd, struct shim_sock *s);
void shim_fd_detach(int fd);
int shim_materialize(struct shim_sock *s);
void shim_to_kernel(int fd, struct shim_sock *s);
void shim_sock_release(struct shim_sock *s);
void shim_sock_free(struct shim_sock *s);
struct shim_sock *shim_byqd(int qd);
void shim_pump(void);
void shim_notify(struct shim_sock *s);
uint32_t shim_sock_events(const struct shim_sock *s);
void shim_post_pop(struct shim_sock *s);
void shim_post_accept(struct shim_sock *s);
bool shim_writable(const struct shim_sock *s);

/* A blocking call's wait between two tries (the lock is not held). */
struct shim_wait {
    uint64_t start_ns, deadline_ns;
    uint64_t signals;
    uint32_t rounds;
    bool yielding; /* past the spin: yield (and read the clock) every round */
};
void shim_wait_init(struct shim_wait *w, int timeout_ms);
bool shim_wait_round(struct shim_wait *w); /* false: deadline passed */
bool shim_wait_interrupted(const struct shim_wait *w);

/* shim_io.c */
ssize_t shim_recv(struct shim_sock *s, struct msghdr *msg, int flags);
ssize_t shim_send(struct shim_sock *s, const struct msghdr *msg, int flags);

/* shim_epoll.c */
void shim_epoll_drop_sock(struct shim_sock *s);
void shim_epoll_to_kernel(struct shim_sock *s);
void shim_epoll_forget(int fd);

/* shim_log.c-like helpers in shim_core.c */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* DEMI_SHIM_H */
