/* SPDX-License-Identifier: MIT */
/*
 * catmem_shm.c: the pipes' shared memory objects as files in /dev/shm: who
 * holds one (a lock byte per side), whether one is a libdemi pipe at all,
 * and removing those nobody holds any more: by the next create or open of
 * their name (catmem.c), and all of them at once (catmem_shm_clean, for
 * demi-config --clean-shm).
 *
 * Ownership is a lock, not a pid: each end holds an open-file-description
 * lock (F_OFD_SETLK) on one byte of the object, byte 0 the creator, byte 1
 * the opener. The kernel drops it when the process dies, however it dies,
 * before it even becomes a zombie; a pid can be reused, a lock cannot be
 * inherited by a stranger. The pids in the header are for messages only.
 *
 * Two kinds of name are libdemi's:
 *   demi-pipe-NAME          a pipe (linked complete: header valid, magic set)
 *   demi-pipe-NAME~PID~N    a creator's temporary name, linked to the real
 *                           one when built, then removed; left behind only
 *                           when PID died in between (a few µs). PID holds
 *                           byte 0 from just after it made the file, so the
 *                           pid in the name covers that first instant.
 * Anything else under demi-pipe- is not ours and is never removed.
 */
#include "libos/catmem_int.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- lock bytes --------------------------------------------------------- */

int cm_lock(int fd, int side)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = side, .l_len = 1};

    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

bool cm_lock_held(int fd, int side)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = side, .l_len = 1};

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return true; /* cannot tell: do not declare anyone dead */
    return fl.l_type != F_UNLCK;
}

bool cm_hdr_ok(const struct cm_shm *hdr, uint64_t obj_size)
{
    return hdr->magic == CM_MAGIC && hdr->version == CM_VERSION && hdr->hdr_size == CM_HDR_SIZE &&
           shmring_size_ok(hdr->ring_size) && obj_size >= CM_HDR_SIZE + 2 * hdr->ring_size;
}

int cm_hdr_read(int fd, struct cm_shm *hdr)
{
    struct stat st;

    memset(hdr, 0, sizeof(*hdr));
    if (fstat(fd, &st) < 0)
        return errno;
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)CM_HDR_SIZE ||
        pread(fd, hdr, sizeof(*hdr), 0) != (ssize_t)sizeof(*hdr) || !cm_hdr_ok(hdr, (uint64_t)st.st_size))
        return EPROTO;
    return 0;
}

int cm_reap(const char *path, int fd, int bytes)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = bytes};
    struct stat mine, now;
    int fd2, err = 0;

    if (fcntl(fd, F_OFD_SETLK, &fl) != 0)
        return EBUSY; /* someone holds it after all */
    fd2 = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd2 < 0)
        return errno == ENOENT ? ESTALE : errno; /* gone already, or we may not look */
    if (fstat(fd, &mine) != 0 || fstat(fd2, &now) != 0)
        err = errno;
    else if (mine.st_ino != now.st_ino || mine.st_dev != now.st_dev)
        err = ESTALE; /* removed, and the name is another object's now */
    close(fd2);
    if (err)
        return err;
    if (shm_unlink(path) != 0)
        return errno == ENOENT ? ESTALE : errno;
    log_info("catmem: removed stale %s%s", CATMEM_SHM_DIR, path);
    return 0;
}

/* ---- the whole directory ------------------------------------------------ */

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Whether @pipe (what follows "demi-pipe-") is a temporary name
 * NAME~PID~N; *@pid gets PID. */
static bool cm_tmp_name(const char *pipe, pid_t *pid)
{
    const char *t1 = strchr(pipe, '~'), *t2;
    char name[CATMEM_NAME_MAX + 1];
    size_t n;

    if (!t1 || (n = (size_t)(t1 - pipe)) > CATMEM_NAME_MAX)
        return false;
    t2 = strchr(t1 + 1, '~');
    if (!t2 || !all_digits(t1 + 1, (size_t)(t2 - t1 - 1)) || !all_digits(t2 + 1, strlen(t2 + 1)))
        return false;
    memcpy(name, pipe, n);
    name[n] = '\0';
    *pid = (pid_t)strtol(t1 + 1, NULL, 10);
    return catmem_name_ok(name) && *pid > 0;
}

static bool pid_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* One object: what it is, and (unless @dry_run) remove it if stale. */
static void cm_clean_one(const char *fname, bool dry_run, FILE *out, struct catmem_clean *res)
{
    const char *pipe = fname + strlen(CATMEM_SHM_PREFIX) - 1;
    char path[NAME_MAX + 2], why[160];
    struct cm_shm hdr;
    bool tmp, stale;
    pid_t pid = 0;
    int fd, err;

    snprintf(path, sizeof(path), "/%s", fname);
    tmp = strchr(pipe, '~') != NULL;
    if (tmp ? !cm_tmp_name(pipe, &pid) : !catmem_name_ok(pipe)) {
        res->foreign++;
        if (out)
            fprintf(out, "kept         %s%s: not a libdemi pipe name\n", CATMEM_SHM_DIR, path);
        return;
    }
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return; /* removed meanwhile */
        res->foreign++;
        if (out)
            fprintf(out, "kept         %s%s: cannot open it: %s\n", CATMEM_SHM_DIR, path, strerror(errno));
        return;
    }
    if (tmp) {
        /* Half-built: the header may be anything; the lock and the pid say. */
        stale = !cm_lock_held(fd, CM_CREATOR) && !pid_alive(pid);
        snprintf(why, sizeof(why), "%s (temporary name; creator pid %d %s)", stale ? "stale" : "in use", (int)pid,
                 stale ? "dead before it linked the pipe" : "alive");
    } else {
        bool c, o;
        err = cm_hdr_read(fd, &hdr);
        if (err) {
            close(fd);
            res->foreign++;
            if (out)
                fprintf(out, "kept         %s%s: not a libdemi pipe of version %u\n", CATMEM_SHM_DIR, path, CM_VERSION);
            return;
        }
        c = cm_lock_held(fd, CM_CREATOR);
        o = cm_lock_held(fd, CM_OPENER);
        stale = !c && !o;
        if (hdr.opened)
            snprintf(why, sizeof(why), "%s (creator pid %d %s, opener pid %d %s)", stale ? "stale" : "in use",
                     (int)hdr.pid[CM_CREATOR], c ? "alive" : "gone", (int)hdr.pid[CM_OPENER], o ? "alive" : "gone");
        else
            snprintf(why, sizeof(why), "%s (creator pid %d %s, never opened)", stale ? "stale" : "in use",
                     (int)hdr.pid[CM_CREATOR], c ? "alive" : "gone");
    }
    if (!stale) {
        res->live++;
        if (out)
            fprintf(out, "kept         %s%s: %s\n", CATMEM_SHM_DIR, path, why);
    } else if (dry_run) {
        res->stale++;
        if (out)
            fprintf(out, "would remove %s%s: %s\n", CATMEM_SHM_DIR, path, why);
    } else if ((err = cm_reap(path, fd, tmp ? 1 : 2)) == 0 || err == ESTALE) {
        /* ESTALE: another cleaner removed it first; it is gone all the same. */
        res->stale++;
        res->removed++;
        if (out)
            fprintf(out, "removed      %s%s: %s\n", CATMEM_SHM_DIR, path, why);
    } else if (err == EBUSY) {
        res->live++; /* a process took it between the look and the removal */
        if (out)
            fprintf(out, "kept         %s%s: in use (taken while we looked)\n", CATMEM_SHM_DIR, path);
    } else {
        res->stale++;
        res->failed++;
        if (out)
            fprintf(out, "FAILED       %s%s: %s; cannot remove it: %s\n", CATMEM_SHM_DIR, path, why, strerror(err));
    }
    close(fd);
}

int catmem_shm_clean(const char *prefix, bool dry_run, FILE *out, struct catmem_clean *res)
{
    const char *pfx = &CATMEM_SHM_PREFIX[1]; /* "demi-pipe-" */
    size_t plen = strlen(pfx), xlen = prefix ? strlen(prefix) : 0;
    struct dirent *de;
    DIR *dir;

    memset(res, 0, sizeof(*res));
    dir = opendir(CATMEM_SHM_DIR);
    if (!dir)
        return errno;
    /* Entries removed while we read are fine: readdir may or may not list
     * them, and a name we no longer find is skipped. */
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, pfx, plen) != 0 || strncmp(de->d_name + plen, prefix ? prefix : "", xlen) != 0)
            continue;
        cm_clean_one(de->d_name, dry_run, out, res);
    }
    closedir(dir);
    return 0;
}
