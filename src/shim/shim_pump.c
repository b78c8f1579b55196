/* SPDX-License-Identifier: MIT */
/*
 * shim_pump.c: libdemi's completions into socket state. A pop always waits
 * on each connected socket and an accept on each listener; the pump runs a
 * round of libdemi and applies what completed: bytes into the receive ring,
 * connections into the accept ring, connects, pushes the stack took. Then
 * the sockets' epoll items go on their ready lists (shim_notify).
 */
#include "shim/shim.h"

#include "libos/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void shim_post_pop(struct shim_sock *s)
{
    demi_qtoken_t qt;
    int ret;

    /* Bytes and buffers both bounded: a peer sending 1-byte segments or
     * datagrams must not pin the buffer pools (each holds a whole buffer). */
    if (s->pop_pending || s->eof || s->err || s->rx_bytes >= s->rx_limit || s->rx_n >= SHIM_RX_BUFS ||
        s->kind != SHIM_DEMI)
        return;
    if (s->type == SOCK_STREAM && !s->connected)
        return;
    ret = DEMI(demi_pop(&qt, s->qd));
    if (ret) {
        if (ret == ENOTCONN)
            s->eof = true;
        else
            s->err = ret;
        return;
    }
    s->pop_qt = qt;
    s->pop_pending = true;
}

void shim_post_accept(struct shim_sock *s)
{
    demi_qtoken_t qt;

    if (s->acc_pending || !s->listening)
        return;
    if (DEMI(demi_accept(&qt, s->qd)) == 0) {
        s->acc_qt = qt;
        s->acc_pending = true;
    }
}

static void shim_rx_append(struct shim_sock *s, const demi_sgarray_t *sga)
{
    if (s->rx_n == s->rx_cap) {
        uint32_t cap = s->rx_cap ? s->rx_cap * 2 : 8;
        struct shim_rx *r = malloc(cap * sizeof(*r));
        if (!r) { /* cannot hold it: the bytes are lost, the stream broken */
            DEMI(demi_sgafree((demi_sgarray_t *)sga));
            s->err = ENOMEM;
            return;
        }
        for (uint32_t i = 0; i < s->rx_n; i++)
            r[i] = s->rx[(s->rx_head + i) % s->rx_cap];
        free(s->rx);
        s->rx = r;
        s->rx_cap = cap;
        s->rx_head = 0;
    }
    s->rx[(s->rx_head + s->rx_n) % s->rx_cap] = (struct shim_rx){.sga = *sga, .off = 0};
    s->rx_n++;
    s->rx_bytes += sga->sga_segs[0].sgaseg_len;
}

static void shim_acc_append(struct shim_sock *s, const demi_accept_result_t *a)
{
    if (s->acc_n == s->acc_cap) {
        uint32_t cap = s->acc_cap ? s->acc_cap * 2 : 16;
        struct shim_acc *r = malloc(cap * sizeof(*r));
        if (!r) {
            DEMI(demi_close(a->qd));
            return;
        }
        for (uint32_t i = 0; i < s->acc_n; i++)
            r[i] = s->acc[(s->acc_head + i) % s->acc_cap];
        free(s->acc);
        s->acc = r;
        s->acc_cap = cap;
        s->acc_head = 0;
    }
    s->acc[(s->acc_head + s->acc_n) % s->acc_cap] = (struct shim_acc){.qd = a->qd, .addr = a->addr};
    s->acc_n++;
}

/* A completion of an op whose socket is gone (closed since). */
static void shim_stale(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP)
        DEMI(demi_sgafree(&qr->qr_value.sga));
    else if (qr->qr_opcode == DEMI_OPC_ACCEPT)
        DEMI(demi_close(qr->qr_value.ares.qd));
}

static void shim_dispatch(demi_qresult_t *qr)
{
    struct shim_sock *s = shim_byqd(qr->qr_qd);
    bool failed = qr->qr_opcode == DEMI_OPC_FAILED;
    int err = (int)qr->qr_ret;

    if (!s) {
        shim_stale(qr);
        return;
    }
    if (s->pop_pending && qr->qr_qt == s->pop_qt) {
        s->pop_pending = false;
        if (failed) {
            if (err != ECANCELED)
                s->err = err;
        } else if (s->type == SOCK_STREAM &&
                   (qr->qr_value.sga.sga_numsegs == 0 || qr->qr_value.sga.sga_segs[0].sgaseg_len == 0)) {
            s->eof = true;
            DEMI(demi_sgafree(&qr->qr_value.sga));
        } else if (s->type == SOCK_DGRAM && s->connected &&
                   (qr->qr_value.sga.sga_addr.sin_addr.s_addr != s->peer.sin_addr.s_addr ||
                    qr->qr_value.sga.sga_addr.sin_port != s->peer.sin_port)) {
            /* A connected UDP socket hears its peer only (as Linux). */
            DEMI(demi_sgafree(&qr->qr_value.sga));
            shim_post_pop(s);
        } else {
            shim_rx_append(s, &qr->qr_value.sga);
            shim_post_pop(s);
        }
    } else if (s->acc_pending && qr->qr_qt == s->acc_qt) {
        s->acc_pending = false;
        if (!failed) {
            shim_acc_append(s, &qr->qr_value.ares);
        } else if (err != ECANCELED) {
            static bool told;
            if (!told) /* EMFILE, ENOMEM: the connection stays queued; retried at each pump */
                shim_log("a listener's accept failed: %s (retrying; logged once)", strerror(err));
            told = true;
        }
        if (!failed || err != ECANCELED)
            shim_post_accept(s);
    } else if (s->connecting && qr->qr_qt == s->conn_qt) {
        s->connecting = false;
        if (failed) {
            s->so_error = err;
        } else {
            s->connected = true;
            shim_post_pop(s);
        }
    } else if (s->tx_n > 0) { /* pushes complete in order */
        s->tx_bytes -= s->tx_len[s->tx_head];
        s->tx_head = (s->tx_head + 1) % SHIM_PUSH_MAX;
        s->tx_n--;
        if (failed && err != ECANCELED && !s->err)
            s->err = err;
    }
    shim_notify(s);
}

/* Orphans whose last push the stack took: libdemi's close now. Freeing one
 * pumps (shim_sock_free), which may change any orphan: look again from the
 * start after each. */
static void shim_reap_orphans(void)
{
    for (;;) {
        struct list_node *pos, *tmp;
        struct shim_sock *done = NULL;

        list_for_each_safe (pos, tmp, &shim.orphans) {
            struct shim_sock *s = list_entry(pos, struct shim_sock, orphan_link);
            if (s->tx_n == 0 || s->err) {
                done = s;
                break;
            }
        }
        if (!done)
            return;
        list_del(&done->orphan_link);
        shim_sock_free(done);
    }
}

/* Make progress: poll libdemi once and apply every completion. Called with
 * the lock held; re-entered from shim_sock_free, where it only drains. */
void shim_pump(void)
{
    static const struct timespec zero = {0, 0};
    static int depth;
    demi_qresult_t qrs[32];

    if (!shim.tried_init || shim.init_err)
        return;
    if (atomic_load_explicit(&shim.dead, memory_order_relaxed) && depth == 0 && gettid() != shim.exit_tid)
        return;
    depth++;
    /* One round of every libOS, then the completion queue drained (a
     * wait on a non-empty queue does not poll again). rt_poll directly:
     * demi_wait_next_n's deadline would cost a clock read per round. */
    DEMI(rt_poll());
    for (int round = 0; round < 8 && !list_empty(&rt.ops.cq); round++) {
        int n = 0;
        if (DEMI(demi_wait_next_n(qrs, 32, &n, &zero)) != 0 || n == 0)
            break;
        for (int i = 0; i < n; i++)
            shim_dispatch(&qrs[i]);
    }
    if (depth == 1 && !list_empty(&shim.orphans))
        shim_reap_orphans();
    depth--;
}
