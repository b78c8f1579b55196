/* SPDX-License-Identifier: MIT */
/*
 * catloop_shm.c: a catloop listener's shared object (catloop_int.h): made
 * atomically under a temporary name and link()ed, as catmem's pipes are;
 * found stale when its lock byte is free; removed by its listener's close,
 * by the next listen or connect of its address, or by demi-config
 * --clean-shm (catloop_shm_clean).
 */
#include "libos/catloop_int.h"

#include "core/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CL_SHM_DIR "/dev/shm"
#define CL_CREATE_TRIES 8

/* ---- liveness: the listener's lock on byte 0 ---------------------------- */

static int cl_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};

    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

static bool cl_lock_held(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return true; /* cannot tell: do not declare anyone dead */
    return fl.l_type != F_UNLCK;
}

static void cl_path(char *buf, size_t len, uint32_t ip, uint16_t port)
{
    char a[INET_ADDRSTRLEN];
    struct in_addr in = {.s_addr = ip};

    inet_ntop(AF_INET, &in, a, sizeof(a));
    snprintf(buf, len, CATLOOP_SHM_PREFIX "%s-%u", a, (unsigned)ntohs(port));
}

/* The header, read with pread: a foreign or truncated object is never
 * mapped. 0 or EPROTO. */
static int cl_hdr_read(int fd, struct cl_lshm *hdr)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return errno;
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(*hdr) ||
        pread(fd, hdr, sizeof(*hdr), 0) != (ssize_t)sizeof(*hdr) || hdr->magic != CL_MAGIC ||
        hdr->version != CL_VERSION || hdr->nslots != CL_SLOTS)
        return EPROTO;
    return 0;
}

/* Remove @path, whose object @fd has no listener: take its lock ourselves
 * and check the name still names that object, so two cleaners never remove
 * a new listener's. 0, EBUSY (taken meanwhile), ESTALE (gone or replaced). */
static int cl_reap(const char *path, int fd)
{
    struct stat mine, now;
    int fd2, err = 0;

    if (cl_lock(fd) != 0)
        return EBUSY;
    fd2 = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd2 < 0)
        return errno == ENOENT ? ESTALE : errno;
    if (fstat(fd, &mine) != 0 || fstat(fd2, &now) != 0)
        err = errno;
    else if (mine.st_ino != now.st_ino || mine.st_dev != now.st_dev)
        err = ESTALE;
    close(fd2);
    if (err)
        return err;
    if (shm_unlink(path) != 0)
        return errno == ENOENT ? ESTALE : errno;
    log_info("catloop: removed stale %s%s", CL_SHM_DIR, path);
    return 0;
}

static int cl_map(struct cl_lmap *m, int fd)
{
    void *p = mmap(NULL, sizeof(struct cl_lshm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);

    if (p == MAP_FAILED)
        return errno;
    m->shm = p;
    m->fd = fd;
    return 0;
}

/* ---- listener ----------------------------------------------------------- */

int cl_shm_listen(uint32_t ip, uint16_t port, struct cl_lmap *m)
{
    static unsigned seq;
    char path[64], tmp[96], from[128], to[96];
    int fd, ret, tries;

    cl_path(path, sizeof(path), ip, port);
    snprintf(tmp, sizeof(tmp), "%s~%d~%u", path, (int)getpid(), seq++);
    snprintf(from, sizeof(from), CL_SHM_DIR "%s", tmp);
    snprintf(to, sizeof(to), CL_SHM_DIR "%s", path);
    fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        ret = errno;
        log_err("catloop: listen: cannot create %s: %s", from, strerror(ret));
        return ret;
    }
    ret = cl_lock(fd);
    if (ret == 0 && ftruncate(fd, (off_t)sizeof(struct cl_lshm)) < 0)
        ret = errno;
    if (ret == 0)
        ret = cl_map(m, fd);
    if (ret) {
        log_err("catloop: listen: cannot set up %s: %s", from, strerror(ret));
        shm_unlink(tmp);
        close(fd);
        return ret;
    }
    m->shm->version = CL_VERSION;
    m->shm->nslots = CL_SLOTS;
    m->shm->pid = (int32_t)getpid();
    m->shm->ip = ip;
    m->shm->port = port;
    atomic_store_explicit(&m->shm->magic, CL_MAGIC, memory_order_release);

    /* link() never replaces a name: a live listener keeps its address. */
    for (tries = 0; tries < CL_CREATE_TRIES; tries++) {
        struct cl_lshm old;
        int ofd;
        ret = link(from, to) == 0 ? 0 : errno;
        if (ret != EEXIST)
            break;
        ofd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
        if (ofd < 0)
            continue; /* removed meanwhile: try again */
        if (cl_hdr_read(ofd, &old) != 0 || cl_lock_held(ofd)) {
            close(ofd);
            break; /* a live listener, or not ours to remove */
        }
        cl_reap(path, ofd);
        close(ofd);
    }
    shm_unlink(tmp);
    if (ret) {
        munmap(m->shm, sizeof(struct cl_lshm));
        close(fd);
        m->shm = NULL;
        m->fd = -1;
        if (ret == EEXIST)
            return EADDRINUSE;
        log_err("catloop: listen: cannot link %s: %s", to, strerror(ret));
        return ret;
    }
    return 0;
}

void cl_shm_unlisten(struct cl_lmap *m, uint32_t ip, uint16_t port)
{
    char path[64];

    if (!m->shm)
        return;
    /* Requests waiting are refused; a connector between its claim and its
     * request sees the flag (or our lock gone) and refuses itself. */
    atomic_store_explicit(&m->shm->closed, 1, memory_order_release);
    for (unsigned i = 0; i < CL_SLOTS; i++) {
        struct cl_slot *sl = &m->shm->slot[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
        if (CL_ST(w) == CL_REQ) {
            sl->err = ECONNREFUSED;
            atomic_compare_exchange_strong(&sl->word, &w, CL_WORD(CL_GEN(w), CL_NAK));
        }
    }
    /* We hold the lock: the name is still ours. */
    cl_path(path, sizeof(path), ip, port);
    shm_unlink(path);
    cl_shm_close(m);
}

/* ---- connector ---------------------------------------------------------- */

int cl_shm_open(uint32_t ip, uint16_t port, struct cl_lmap *m)
{
    struct cl_lshm hdr;
    char path[64];
    int fd, ret;

    cl_path(path, sizeof(path), ip, port);
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? ECONNREFUSED : errno;
    if (cl_hdr_read(fd, &hdr) != 0) {
        log_err("catloop: %s%s is not a catloop listener of this version (%u)", CL_SHM_DIR, path, CL_VERSION);
        close(fd);
        return ECONNREFUSED;
    }
    if (!cl_lock_held(fd)) {
        cl_reap(path, fd); /* its listener was killed */
        close(fd);
        return ECONNREFUSED;
    }
    if ((ret = cl_map(m, fd)) != 0) {
        close(fd);
        return ret;
    }
    if (atomic_load_explicit(&m->shm->closed, memory_order_acquire)) {
        cl_shm_close(m);
        return ECONNREFUSED;
    }
    return 0;
}

void cl_shm_close(struct cl_lmap *m)
{
    if (m->shm)
        munmap(m->shm, sizeof(struct cl_lshm));
    if (m->fd >= 0)
        close(m->fd);
    m->shm = NULL;
    m->fd = -1;
}

bool cl_shm_alive(const struct cl_lmap *m, bool probe)
{
    if (atomic_load_explicit(&m->shm->closed, memory_order_acquire))
        return false;
    return !probe || cl_lock_held(m->fd);
}

/* ---- demi-config --clean-shm -------------------------------------------- */

int catloop_shm_clean(bool dry_run, FILE *out, struct catmem_clean *res)
{
    const char *pfx = &CATLOOP_SHM_PREFIX[1];
    struct dirent *de;
    DIR *dir;

    memset(res, 0, sizeof(*res));
    dir = opendir(CL_SHM_DIR);
    if (!dir)
        return errno;
    while ((de = readdir(dir)) != NULL) {
        char path[NAME_MAX + 2];
        struct cl_lshm hdr;
        bool tmp;
        int fd, err;

        if (strncmp(de->d_name, pfx, strlen(pfx)) != 0)
            continue;
        snprintf(path, sizeof(path), "/%s", de->d_name);
        tmp = strchr(de->d_name, '~') != NULL;
        fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0) {
            if (errno != ENOENT) {
                res->foreign++;
                if (out)
                    fprintf(out, "kept         %s%s: cannot open it: %s\n", CL_SHM_DIR, path, strerror(errno));
            }
            continue;
        }
        /* A temporary one (NAME~PID~N) may be half-built: its lock says. */
        if (!tmp && cl_hdr_read(fd, &hdr) != 0) {
            res->foreign++;
            if (out)
                fprintf(out, "kept         %s%s: not a catloop listener of version %u\n", CL_SHM_DIR, path, CL_VERSION);
        } else if (cl_lock_held(fd)) {
            res->live++;
            if (out)
                fprintf(out, "kept         %s%s: in use (listener pid %d alive)\n", CL_SHM_DIR, path,
                        tmp ? 0 : (int)hdr.pid);
        } else if (dry_run) {
            res->stale++;
            if (out)
                fprintf(out, "would remove %s%s: stale (listener gone)\n", CL_SHM_DIR, path);
        } else if ((err = cl_reap(path, fd)) == 0 || err == ESTALE) {
            res->stale++;
            res->removed++;
            if (out)
                fprintf(out, "removed      %s%s: stale (listener gone)\n", CL_SHM_DIR, path);
        } else if (err == EBUSY) {
            res->live++;
            if (out)
                fprintf(out, "kept         %s%s: in use (taken while we looked)\n", CL_SHM_DIR, path);
        } else {
            res->stale++;
            res->failed++;
            if (out)
                fprintf(out, "FAILED       %s%s: stale; cannot remove it: %s\n", CL_SHM_DIR, path, strerror(err));
        }
        close(fd);
    }
    closedir(dir);
    return 0;
}
