/* SPDX-License-Identifier: MIT */
/*
 * catloop_int.h: what catloop_host.c (the sockets) and catloop_shm.c (a
 * listener's shared object) share. Private header.
 *
 * A listener on A.B.C.D:PORT publishes /dev/shm/demi-catloop-A.B.C.D-PORT:
 * a header and CL_SLOTS request slots. A connector creates a catmem pipe of
 * its own (catloop-PID-SEQ; the pipe carries both directions, EOF and peer
 * death: catmem.c), claims a free slot with a compare-and-swap and writes
 * its pid, counter and address there; the listener's poll finds the
 * request, opens the pipe and answers ACK (or NAK), which completes the
 * connect. One slot per connector in flight: catmem's rings are
 * single-producer, so connectors never share anything but the slot array,
 * and a CAS on a slot is the only read-modify-write in the protocol.
 */
#ifndef DEMI_LIBOS_CATLOOP_INT_H
#define DEMI_LIBOS_CATLOOP_INT_H

#include "libos/catloop.h"

#include "core/common.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CL_MAGIC 0x706f6f6c74616364ull /* "dcatloop" */
#define CL_VERSION 1u
#define CL_SLOTS 64u /* connects in flight to one listener */

/* A slot's word: a generation (bumped at every claim, so a stale compare-
 * and-swap never matches a newer request) and a state. */
enum cl_slot_state { CL_FREE = 0, CL_CLAIM, CL_REQ, CL_ACK, CL_NAK };
#define CL_ST(w) ((w)&0xfu)
#define CL_GEN(w) ((w) >> 4)
#define CL_WORD(gen, st) ((uint32_t)((gen) << 4) | (uint32_t)(st))

struct cl_slot {
    _Atomic uint32_t word;
    int32_t pid;  /* the connector; 0 while it fills the slot in */
    uint32_t seq; /* its pipe is catloop-PID-SEQ */
    uint32_t ip;  /* its address, network order (accept's result) */
    uint16_t port;
    uint16_t pad_;
    int32_t err; /* NAK: the connect's error */
    uint8_t pad2_[40];
};
BUILD_BUG_ON(sizeof(struct cl_slot) != 64);

/* The listener's object. Layout is ABI between libdemi builds of the same
 * CL_VERSION. Byte 0 carries the listener's lock (F_OFD_SETLK): the kernel
 * drops it when the process dies, however it dies. */
struct cl_lshm {
    _Atomic uint64_t magic; /* CL_MAGIC once filled (before the link) */
    uint32_t version;
    uint32_t nslots;
    int32_t pid;             /* the listener: for messages only */
    _Atomic uint32_t closed; /* the listener closed: refuse */
    uint32_t ip;             /* what it listens on, network order */
    uint16_t port;
    uint8_t pad_[34];
    struct cl_slot slot[CL_SLOTS];
};
BUILD_BUG_ON(offsetof(struct cl_lshm, slot) != 64);

struct demi_config;
struct libos;

/* catloop_host.c: the libOS of catloop.mode host. */
int catloop_host_create(const struct demi_config *cfg, struct libos **out);

/* One mapping of a listener's object (the listener's or a connector's). */
struct cl_lmap {
    struct cl_lshm *shm; /* NULL: none */
    int fd;
};

/* Listener: publish the object for @ip:@port (network order). EADDRINUSE
 * when a live listener has it; one whose listener is gone is removed first. */
int cl_shm_listen(uint32_t ip, uint16_t port, struct cl_lmap *m);
/* Listener: refuse what waits, mark closed, remove the name, unmap. */
void cl_shm_unlisten(struct cl_lmap *m, uint32_t ip, uint16_t port);
/* Connector: map the live listener of @ip:@port. ECONNREFUSED when there
 * is none (a stale object is removed on the way). */
int cl_shm_open(uint32_t ip, uint16_t port, struct cl_lmap *m);
void cl_shm_close(struct cl_lmap *m);
/* Whether the listener is still there: its closed flag, and with @probe
 * its lock (a syscall). */
bool cl_shm_alive(const struct cl_lmap *m, bool probe);

#endif /* DEMI_LIBOS_CATLOOP_INT_H */
