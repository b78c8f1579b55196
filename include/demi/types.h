/* SPDX-License-Identifier: MIT */
/**
 * @file demi/types.h
 * Data types of the PDPIX API. Layouts are ABI-identical to Demikernel's:
 * every struct is packed, and tests/unit/test_abi.c pins the sizes.
 */
#ifndef DEMI_TYPES_H_IS_INCLUDED
#define DEMI_TYPES_H_IS_INCLUDED

#include <demi/cc.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __linux__
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum number of segments in a scatter-gather array. */
#define DEMI_SGARRAY_MAXSIZE 1

/** Names one asynchronous operation; consumed by exactly one successful wait. */
typedef uint64_t demi_qtoken_t;

/** One segment of a scatter-gather array. */
typedef struct __attribute__((__packed__)) demi_sgaseg {
    void *sgaseg_buf;    /**< Start of the segment's bytes. */
    uint32_t sgaseg_len; /**< Number of bytes. */
} demi_sgaseg_t;

/** Scatter-gather array: the unit of data exchanged with a queue. */
typedef struct __attribute__((__packed__)) demi_sgarray {
    void *sga_buf;                                /**< Reserved for the library. */
    uint32_t sga_numsegs;                         /**< Segments in use. */
    demi_sgaseg_t sga_segs[DEMI_SGARRAY_MAXSIZE]; /**< The segments. */
    struct sockaddr_in sga_addr;                  /**< UDP: sender on pop. */
} demi_sgarray_t;

/** What a completed operation was. */
typedef enum demi_opcode {
    DEMI_OPC_INVALID = 0,
    DEMI_OPC_PUSH,
    DEMI_OPC_POP,
    DEMI_OPC_ACCEPT,
    DEMI_OPC_CONNECT,
    DEMI_OPC_CLOSE,
    DEMI_OPC_FAILED
} demi_opcode_t;

/** Result of an accept: the new queue and its peer. */
typedef struct __attribute__((__packed__)) demi_accept_result {
    int32_t qd;
    struct sockaddr_in addr;
} demi_accept_result_t;

/** Result of a completed operation, filled by the wait calls. */
typedef struct __attribute__((__packed__)) demi_qresult {
    enum demi_opcode qr_opcode; /**< Kind of operation, or DEMI_OPC_FAILED. */
    int32_t qr_qd;              /**< Queue the operation was on. */
    demi_qtoken_t qr_qt;        /**< Token of the operation. */
    int64_t qr_ret;             /**< 0, or a positive errno when failed. */
    union {
        demi_sgarray_t sga;        /**< DEMI_OPC_POP. */
        demi_accept_result_t ares; /**< DEMI_OPC_ACCEPT. */
    } qr_value;
} demi_qresult_t;

/** Callback type of struct demi_args (name, name length, value). */
typedef void (*demi_callback_t)(const char *, uint32_t, uint64_t);

/** Arguments of demi_init(). */
struct __attribute__((__packed__)) demi_args {
    int argc;
    char *const *argv;
    demi_callback_t callback;
};

#ifdef __cplusplus
}
#endif

#endif /* DEMI_TYPES_H_IS_INCLUDED */
