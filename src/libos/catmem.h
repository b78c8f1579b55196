/* SPDX-License-Identifier: MIT */
/*
 * catmem.h: the shared-memory pipe libOS, as the API layer and tests see it.
 * Private header; the application's side is <demi/pipe.h>.
 */
#ifndef DEMI_LIBOS_CATMEM_H
#define DEMI_LIBOS_CATMEM_H

#include "libos/runtime.h"

#include <stdbool.h>
#include <stdio.h>

/* Longest pipe name (without the terminating NUL). */
#define CATMEM_NAME_MAX 128

/* Where POSIX shared memory objects live on Linux (glibc's shm_open). */
#define CATMEM_SHM_DIR "/dev/shm"
/* Prefix of a pipe's shared memory object: /dev/shm/demi-pipe-NAME. */
#define CATMEM_SHM_PREFIX "/demi-pipe-"

/* A pipe name is 1..CATMEM_NAME_MAX bytes of anything but '/', '~' and
 * ASCII control characters. catmem_name_problem says what is wrong with
 * @name ("empty", "contains '/'", ...) or NULL when it is a good name. */
const char *catmem_name_problem(const char *name);
bool catmem_name_ok(const char *name);

/* The runtime's pipe libOS, created and added to the runtime on first use
 * (LIBOS=catmem creates it at demi_init). 0 or a positive errno. */
int catmem_instance(struct libos **out);

/* Create the pipe @name (EEXIST if a live one exists; a stale one left by a
 * dead creator is removed first) or open the one a creator made (ENOENT,
 * EBUSY). @q_out gets the queue, without a qd yet. */
int catmem_pipe_create(struct libos *los, const char *name, struct queue **q_out);
int catmem_pipe_open(struct libos *los, const char *name, struct queue **q_out);

/* What catmem_shm_clean found under /dev/shm/demi-pipe-*. */
struct catmem_clean {
    unsigned stale;   /* nobody holds them: removed (dry run: to be) */
    unsigned removed; /* of those, removed */
    unsigned failed;  /* of those, could not be removed */
    unsigned live;    /* a live creator or opener holds them: kept */
    unsigned foreign; /* not a libdemi pipe (of this version), or not ours to open: kept */
};

/*
 * demi-config --clean-shm: look at every pipe object under /dev/shm whose
 * pipe name starts with @prefix (NULL or "": all) and remove those no live
 * process holds: neither its creator nor its opener (a temporary
 * NAME~PID~N one: its creator PID is dead). Never removes one a live
 * process holds, nor one that is not a libdemi pipe of this version. With
 * @dry_run, removes nothing. One line per object on @out (if not NULL):
 * "removed", "would remove", "kept" or "FAILED", its path and why. Counts
 * in @res. 0, or the errno of reading /dev/shm.
 */
int catmem_shm_clean(const char *prefix, bool dry_run, FILE *out, struct catmem_clean *res);

/* demi_pipe_sgaalloc on the pipe @q: reserve @size bytes in place in its
 * outgoing ring and describe them in @sga. 0 or a positive errno. */
int catmem_sgaalloc(struct queue *q, size_t size, demi_sgarray_t *sga);

#endif /* DEMI_LIBOS_CATMEM_H */
