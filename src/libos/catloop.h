/* SPDX-License-Identifier: MIT */
/*
 * catloop.h: what tools and tests reach of LIBOS=catloop's host mode (TCP
 * over shared-memory pipes between processes). Private header.
 */
#ifndef DEMI_LIBOS_CATLOOP_H
#define DEMI_LIBOS_CATLOOP_H

#include "libos/catmem.h" /* struct catmem_clean */

#include <stdbool.h>
#include <stdio.h>

/* A listener's object: /dev/shm/demi-catloop-A.B.C.D-PORT. */
#define CATLOOP_SHM_PREFIX "/demi-catloop-"
/* Connection pipes are catmem pipes named catloop-PID-SEQ (the connector's
 * pid and counter): /dev/shm/demi-pipe-catloop-PID-SEQ. */
#define CATLOOP_PIPE_PREFIX "catloop-"

/*
 * demi-config --clean-shm: look at every /dev/shm/demi-catloop-* object and
 * remove those whose listener is gone (its lock byte free). Never removes a
 * live listener's, nor one that is not a catloop listener of this version.
 * One line per object on @out (if not NULL), as catmem_shm_clean writes
 * them; counts in @res. The connection pipes are catmem pipes:
 * catmem_shm_clean removes those. 0, or the errno of reading /dev/shm.
 */
int catloop_shm_clean(bool dry_run, FILE *out, struct catmem_clean *res);

#endif /* DEMI_LIBOS_CATLOOP_H */
