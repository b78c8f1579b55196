#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh BUILD_DIR: Demikernel's own C tests and examples against libdemi.
#
# Each program is built exactly as it is in Demikernel's tree, unmodified,
# the way an outside user would build it: `cc -std=c99 -Wall -Wextra -Werror`
# with only libdemi's public include directories (include/ and the build's
# generated include/) and -ldemi. Then those that can run here run: on
# catnap (Linux sockets, two processes on 127.0.0.1) and catmem (pipes
# between two processes). README.md says where the sources come from.
#
# The sources are found in $DEMIKERNEL_SRC (a checkout of microsoft/demikernel)
# or, when it is not set, in tests/demikernel/src/ (same layout: tests/c/,
# examples/c/). A program whose source is missing is skipped with that
# reason, never reported as passed.
#
# Catloop between processes (LIBOS=catloop, catloop.mode host): the TCP
# programs run there too (DEMIKERNEL_CATLOOP=0 leaves them out); the UDP ones
# are skipped with the reason (catloop has no UDP between processes).
#
# Prints "ok - NAME", "not ok - NAME (reason)" or "ok - NAME # SKIP reason"
# per case, then "N passed, M failed, K skipped". Exit status 1 if any failed,
# 77 (a skip for meson) if nothing could run at all.
set -u

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=${DEMIKERNEL_SRC:-$here/src}
limit=${DEMIKERNEL_TIMEOUT:-60} # seconds allowed to each process
cc=${CC:-cc}

tmp=$(mktemp -d)
pids=()
shm_mine=() # names or globs of /dev/shm objects this run's (exited) programs left
passed=0
failed=0
skipped=0

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    # Demikernel's programs exit without demi_close: libdemi treats that as
    # the peer's death and leaves the objects (stale, taken by the next use
    # of the name or demi-config --clean-shm). These are this run's.
    for p in "${shm_mine[@]}"; do
        rm -f /dev/shm/$p # a name or a glob of this run's
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $1"; passed=$((passed + 1)); }
skip() { echo "ok - $1 # SKIP $2"; skipped=$((skipped + 1)); }
not_ok() {
    local name=$1 why=$2
    shift 2
    echo "not ok - $name ($why)"
    failed=$((failed + 1))
    local f
    for f in "$@"; do
        [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; } | sed 's/^/# /' >&2
    done
}

# The library: the shared object of this build tree.
libdir=$(dirname "$(find "$build" -name 'libdemi.so' -not -path '*/meson-private/*' | head -n 1)")
if [ ! -e "$libdir/libdemi.so" ]; then
    echo "demikernel: no libdemi.so under $build (build first)" >&2
    exit 1
fi
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cflags=(-std=c99 -Wall -Wextra -Werror -I"$top/include")
[ -d "$build/include" ] && cflags+=(-I"$build/include")

# build NAME SOURCES...: compile Demikernel's SOURCES (paths in its tree) into
# $tmp/NAME. Returns 2 (skipped) when a source is missing, 1 on failure.
built=()
build_prog() {
    local name=$1 f args=()
    shift
    for f in "$@"; do
        if [ ! -f "$src/$f" ]; then
            skip "build $name" "no $f in ${DEMIKERNEL_SRC:-tests/demikernel/src} (see tests/demikernel/README.md)"
            return 2
        fi
        args+=("$src/$f")
    done
    if "$cc" "${cflags[@]}" -o "$tmp/$name" "${args[@]}" -L"$libdir" -ldemi >"$tmp/$name.cc.log" 2>&1; then
        ok "build $name (${*}) with -std=c99 -Wall -Wextra -Werror"
        built+=("$name")
        return 0
    fi
    not_ok "build $name" "compiler: $(grep -m1 -E 'error' "$tmp/$name.cc.log")" "$tmp/$name.cc.log"
    return 1
}

is_built() {
    local b
    for b in "${built[@]}"; do [ "$b" = "$1" ] && return 0; done
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for CHECK PID: until the shell command CHECK succeeds (10 s), or PID dies.
wait_for() {
    local check=$1 pid=$2
    for _ in $(seq 100); do
        eval "$check" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# A UDP port bound on this host (Demikernel's UDP servers print nothing
# until the first datagram, so readiness is read from /proc).
udp_bound() { grep -qi ":$(printf '%04X' "$1") " /proc/net/udp; }

why_exit() {
    local who=$1 rc=$2 log=$3
    if [ "$rc" -eq 124 ]; then
        echo "$who timed out after ${limit}s"
    else
        echo "$who exit $rc: $(tail -n 1 "$log" 2>/dev/null)"
    fi
}

# pair NAME LIBOS PROG READY_CHECK "SERVER ARGS" "CLIENT ARGS"
# Server first, client once READY_CHECK holds; both must exit 0 in time.
# PAIR_SENV / PAIR_CENV: VAR=VALUE words for the server's / client's
# environment only (catnip: each end its own CONFIG_PATH).
pair() {
    local name=$1 libos=$2 prog=$3 ready=$4 sargs=$5 cargs=$6
    local slog=$tmp/$prog.$libos.server.log clog=$tmp/$prog.$libos.client.log spid rc_s rc_c
    if ! is_built "$prog"; then
        skip "$name" "$prog was not built"
        return
    fi
    # The programs' own pids (not timeout's) name what they leave in /dev/shm.
    # shellcheck disable=SC2086,SC2016 # the argument strings are word lists
    LIBOS=$libos env ${PAIR_SENV:-} timeout "$limit" bash -c 'echo $$ >"$0.pid"; exec "$@"' "$slog" "$tmp/$prog" $sargs >"$slog" 2>&1 &
    spid=$!
    pids+=("$spid")
    if ! wait_for "$ready" "$spid"; then
        kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        not_ok "$name" "$(why_exit server "$rc_s" "$slog") before it was ready" "$slog"
        return
    fi
    # shellcheck disable=SC2086,SC2016
    LIBOS=$libos env ${PAIR_CENV:-} timeout "$limit" bash -c 'echo $$ >"$0.pid"; exec "$@"' "$clog" "$tmp/$prog" $cargs >"$clog" 2>&1
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid"
    rc_s=$?
    # Catloop connections are catmem pipes named after the connector's pid.
    for f in "$slog.pid" "$clog.pid"; do
        [ -s "$f" ] && shm_mine+=("demi-pipe-catloop-$(cat "$f")-*")
    done
    if [ "$rc_c" -ne 0 ]; then
        not_ok "$name" "$(why_exit client "$rc_c" "$clog")" "$slog" "$clog"
    elif [ "$rc_s" -ne 0 ]; then
        not_ok "$name" "$(why_exit server "$rc_s" "$slog")" "$slog" "$clog"
    else
        ok "$name"
    fi
}

# single NAME LIBOS PROG ARGS...: one process, exit 0, no "FAILED" line.
single() {
    local name=$1 libos=$2 prog=$3 log rc
    shift 3
    log=$tmp/$prog.$libos.log
    if ! is_built "$prog"; then
        skip "$name" "$prog was not built"
        return
    fi
    LIBOS=$libos timeout "$limit" "$tmp/$prog" "$@" >"$log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        not_ok "$name" "$(why_exit "$prog" "$rc" "$log")" "$log"
    elif grep -q "FAILED" "$log"; then
        not_ok "$name" "$(grep -m1 FAILED "$log")" "$log"
    else
        ok "$name"
    fi
}

# A TCP port listening on this host.
tcp_listening() { grep -qi ":$(printf '%04X' "$1") 00000000:0000 0A " /proc/net/tcp; }

# The network cases of one libOS, two processes on 127.0.0.1, with
# Demikernel's command lines (MODE IP PORT for TCP; MODE LOCAL-IP
# LOCAL-PORT [REMOTE-IP REMOTE-PORT] [size] [count] for UDP).
net_cases() {
    local libos=$1 port cport
    port=$(free_port)
    pair "tcp-push-pop over $libos (64 B x 1024, Demikernel's defaults)" "$libos" tcp-push-pop \
        "tcp_listening $port" "--server 127.0.0.1 $port" "--client 127.0.0.1 $port"
    port=$(free_port)
    pair "tcp-ping-pong over $libos (64 KiB in 64 B messages)" "$libos" tcp-ping-pong \
        "tcp_listening $port" "--server 127.0.0.1 $port" "--client 127.0.0.1 $port"
    # The client pushes without waiting for the server, and UDP drops what
    # the receiver has no room for (on catnap, Linux's socket buffer: some
    # 270 small datagrams by default; the server prints a line per pop and
    # falls behind on two cores). 150 fit, whatever the scheduling.
    port=$(free_port)
    cport=$(free_port)
    pair "udp-push-pop over $libos (64 B x 150)" "$libos" udp-push-pop "udp_bound $port" \
        "--server 127.0.0.1 $port 64 150" "--client 127.0.0.1 $cport 127.0.0.1 $port 64 150"
    port=$(free_port)
    cport=$(free_port)
    pair "udp-ping-pong over $libos (64 B x 1000)" "$libos" udp-ping-pong "udp_bound $port" \
        "--server 127.0.0.1 $port 127.0.0.1 $cport 64 1000" "--client 127.0.0.1 $cport 127.0.0.1 $port 64 1000"
}

echo "# Demikernel sources: $src"
echo "# libdemi: $libdir/libdemi.so; flags: ${cflags[*]}"

# ---- build: every program, unmodified ------------------------------------
build_prog sizes tests/c/sizes.c
build_prog syscalls tests/c/syscalls.c
build_prog tcp-push-pop examples/c/tcp-push-pop.c examples/c/common.c
build_prog udp-push-pop examples/c/udp-push-pop.c examples/c/common.c
build_prog pipe-push-pop examples/c/pipe-push-pop.c
build_prog pipe-ping-pong examples/c/pipe-ping-pong.c
build_prog tcp-ping-pong examples/c/tcp-ping-pong.c examples/c/common.c
build_prog udp-ping-pong examples/c/udp-ping-pong.c examples/c/common.c

# ---- run ------------------------------------------------------------------
single "sizes: the ABI of demi/types.h" catnap sizes
# Invalid calls of every function must fail, not crash: on both libOSes.
single "syscalls: invalid calls fail (catnap)" catnap syscalls
single "syscalls: invalid calls fail (catmem)" catmem syscalls

net_cases catnap

# Pipes: the server creates NAME:rx (and NAME:tx) and the client opens them
# at once, so the client starts once the server's objects exist.
pipe=dk-$$
pair "pipe-push-pop over catmem (64 B x 1024)" catmem pipe-push-pop \
    "[ -e '/dev/shm/demi-pipe-$pipe-pp:rx' ]" "--server $pipe-pp" "--client $pipe-pp"
pair "pipe-ping-pong over catmem (64 B x 1024)" catmem pipe-ping-pong \
    "[ -e '/dev/shm/demi-pipe-$pipe-png:tx' ]" "--server $pipe-png" "--client $pipe-png"
shm_mine+=("demi-pipe-$pipe-*")

# Catloop between processes (catloop.mode host: TCP over catmem pipes, as
# Demikernel's catloop was). A listener is ready once its rendezvous object
# exists. Catloop has no UDP between processes (ENOTSUP, as Demikernel's).
if [ "${DEMIKERNEL_CATLOOP:-1}" = 1 ]; then
    port=$(free_port)
    shm_mine+=("demi-catloop-127.0.0.1-$port")
    DEMI_CATLOOP_MODE=host pair "tcp-push-pop over catloop, two processes (64 B x 1024)" catloop tcp-push-pop \
        "[ -e /dev/shm/demi-catloop-127.0.0.1-$port ]" "--server 127.0.0.1 $port" "--client 127.0.0.1 $port"
    port=$(free_port)
    shm_mine+=("demi-catloop-127.0.0.1-$port")
    DEMI_CATLOOP_MODE=host pair "tcp-ping-pong over catloop, two processes (64 KiB in 64 B messages)" catloop \
        tcp-ping-pong "[ -e /dev/shm/demi-catloop-127.0.0.1-$port ]" "--server 127.0.0.1 $port" \
        "--client 127.0.0.1 $port"
else
    for prog in tcp-push-pop tcp-ping-pong; do
        skip "$prog over catloop, two processes" "DEMIKERNEL_CATLOOP=0"
    done
fi
for prog in udp-push-pop udp-ping-pong; do
    skip "$prog over catloop, two processes" "catloop has no UDP between processes (ENOTSUP, as Demikernel's catloop)"
done

# Catnip: libdemi's stack over DPDK, two processes joined by net_memif (no
# NIC, no hugepages: scripts/memif-config.sh), 10.99.0.1 and 10.99.0.2.
# The server is ready once its memif socket (abstract: ss -xl) listens and
# a second has passed for its own listen.
if [ ! -e "$build/src/libdemi_dpdk.a" ]; then
    for prog in tcp-push-pop udp-push-pop; do
        skip "$prog over catnip (memif), two processes" "this libdemi is built without DPDK"
    done
elif [ "${DEMIKERNEL_CATNIP:-1}" = 1 ]; then
    # shellcheck source=scripts/memif-config.sh
    . "$here/../../scripts/memif-config.sh"
    for prog in tcp-push-pop udp-push-pop; do
        sock=$tmp/memif-$prog.sock
        memif_config server 10.99.0.1 10.99.0.2 0 "$tmp/catnip-s.yaml" "dk$$-$prog" "$sock"
        memif_config client 10.99.0.2 10.99.0.1 1 "$tmp/catnip-c.yaml" "dk$$-$prog" "$sock"
        if [ "$prog" = tcp-push-pop ]; then
            sargs="--server 10.99.0.1 12345" cargs="--client 10.99.0.1 12345" what="64 B x 1024"
        else
            sargs="--server 10.99.0.1 12345 64 150" cargs="--client 10.99.0.2 12346 10.99.0.1 12345 64 150"
            what="64 B x 150"
        fi
        PAIR_SENV="CONFIG_PATH=$tmp/catnip-s.yaml" PAIR_CENV="CONFIG_PATH=$tmp/catnip-c.yaml" \
            pair "$prog over catnip (DPDK net_memif), two processes ($what)" catnip "$prog" \
            "ss -xl | grep -qF '$sock' && sleep 1" "$sargs" "$cargs"
    done
else
    skip "tcp-push-pop, udp-push-pop over catnip" "DEMIKERNEL_CATNIP=0"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
# Nothing ran at all (no sources): meson's "skipped", not a pass.
[ "$passed" -gt 0 ] || exit 77
