/* SPDX-License-Identifier: MIT */
/* api_sga.c: demi_sgaalloc and demi_sgafree of <demi/sga.h>. */
#include "api/api.h"

#include <demi/sga.h>

DEMI_EXPORT demi_sgarray_t demi_sgaalloc(size_t size)
{
    demi_sgarray_t sga;
    struct dbuf *d;

    memset(&sga, 0, sizeof(sga));
    if (!rt.initialised || size == 0 || size > MEM_HUGE_SIZE)
        return sga;
    d = mem_alloc(&rt.mem, (uint32_t)size);
    if (!d)
        return sga;
    sga.sga_buf = dbuf_app_handout(d);
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = d->data;
    sga.sga_segs[0].sgaseg_len = (uint32_t)size;
    return sga;
}

DEMI_EXPORT int demi_sgafree(demi_sgarray_t *sga)
{
    struct dbuf *d;

    if (!sga || !rt.initialised || !sga->sga_buf)
        return EINVAL;
    /* Only the tagged start of one of our in-use slots, still held by the
     * application, is accepted: a foreign pointer never reaches the pool, and
     * a second free finds the flag clear (or the tag changed) even while the
     * stack still holds the buffer. */
    d = mem_lookup_app(&rt.mem, sga->sga_buf);
    if (!d)
        return EINVAL;
    d->flags &= (uint16_t)~DBUF_F_APP;
    dbuf_put(d);
    return 0;
}
