#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples.sh BUILD_DIR: run every example program as a server process and a
# client process on 127.0.0.1 over catnap (Linux sockets), and the pipe
# examples (Demikernel's pipe-ping-pong and pipe-push-pop command lines) as
# two processes over LIBOS=catmem. Each case gets its own free port or pipe
# name and a time bound; servers are killed on every exit path.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
bin=$build/examples
limit=${EXAMPLES_TIMEOUT:-60} # seconds allowed to each process of a case
export LIBOS=catnap

tmp=$(mktemp -d)
server_pid=
passed=0
failed=0

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody is listening on, chosen by the kernel.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

# Wait until the server logs that it is listening (or dies).
wait_ready() {
    local log=$1 pid=$2 ready=${3:-listening on}
    for _ in $(seq 100); do
        grep -q "$ready" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Why a process failed, in a few words, from its exit status and last line.
reason() {
    local who=$1 rc=$2 log=$3
    if [ "$rc" -eq 124 ]; then
        echo "$who timed out after ${limit}s"
    else
        echo "$who exit $rc: $(tail -n 1 "$log" 2>/dev/null)"
    fi
}

report() {
    local name=$1 why=$2 slog=$3 clog=$4
    if [ -z "$why" ]; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name ($why)"
        failed=$((failed + 1))
        { echo "--- server log of '$name'"; cat "$slog"; echo "--- client log of '$name'"; cat "$clog"; } | sed 's/^/# /' >&2
    fi
}

# run_pair NAME PROGRAM "SERVER ARGS" "CLIENT ARGS" [CHECK_REGEX]
# Starts PROGRAM --server 127.0.0.1 PORT SERVER_ARGS, then the client, and
# passes if both exit 0 (and the client's output matches CHECK_REGEX).
run_pair() {
    local name=$1 prog=$2 sargs=$3 cargs=$4 check=${5:-}
    local port slog clog rc_s rc_c why=
    port=$(free_port)
    slog=$tmp/$prog-$port.server.log
    clog=$tmp/$prog-$port.client.log
    : >"$clog"

    # Word splitting of the argument strings is intended.
    # shellcheck disable=SC2086
    timeout "$limit" "$bin/$prog" --server 127.0.0.1 "$port" $sargs >"$slog" 2>&1 &
    server_pid=$!
    if ! wait_ready "$slog" "$server_pid"; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid"
        rc_s=$?
        server_pid=
        report "$name" "$(reason server "$rc_s" "$slog") before listening" "$slog" "$clog"
        return
    fi

    # shellcheck disable=SC2086
    timeout "$limit" "$bin/$prog" --client 127.0.0.1 "$port" $cargs >"$clog" 2>&1
    rc_c=$?
    # A client that failed may leave the server waiting: don't wait for it.
    [ "$rc_c" -ne 0 ] && kill "$server_pid" 2>/dev/null
    wait "$server_pid"
    rc_s=$?
    server_pid=

    if [ "$rc_c" -ne 0 ]; then
        why=$(reason client "$rc_c" "$clog")
    elif [ "$rc_s" -ne 0 ]; then
        why=$(reason server "$rc_s" "$slog")
    elif [ -n "$check" ] && ! grep -Eq "$check" "$clog"; then
        why="client output does not match /$check/"
    fi
    report "$name" "$why" "$slog" "$clog"
}

# run_pipe_pair NAME PROGRAM "ARGS" [CHECK_REGEX]
# PROGRAM --server PIPE ARGS and PROGRAM --client PIPE ARGS, two processes
# over LIBOS=catmem, with a pipe name in Demikernel's style (the programs
# add ":rx"/":tx"). Passes if both exit 0, the client's output matches
# CHECK_REGEX and no pipe of that name is left in /dev/shm.
pipe_seq=0
run_pipe_pair() {
    local name=$1 prog=$2 args=$3 check=${4:-}
    local pipe slog clog rc_s rc_c why= left
    pipe_seq=$((pipe_seq + 1))
    pipe="ex-$$-$pipe_seq"
    slog=$tmp/$prog-$pipe.server.log
    clog=$tmp/$prog-$pipe.client.log
    : >"$clog"

    # shellcheck disable=SC2086
    LIBOS=catmem timeout "$limit" "$bin/$prog" --server "$pipe" $args >"$slog" 2>&1 &
    server_pid=$!
    if ! wait_ready "$slog" "$server_pid" "serving pipe"; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid"
        rc_s=$?
        server_pid=
        report "$name" "$(reason server "$rc_s" "$slog") before creating its pipes" "$slog" "$clog"
        return
    fi
    # shellcheck disable=SC2086
    LIBOS=catmem timeout "$limit" "$bin/$prog" --client "$pipe" $args >"$clog" 2>&1
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$server_pid" 2>/dev/null
    wait "$server_pid"
    rc_s=$?
    server_pid=

    left=$(cd /dev/shm && ls -d "demi-pipe-$pipe"* 2>/dev/null)
    if [ "$rc_c" -ne 0 ]; then
        why=$(reason client "$rc_c" "$clog")
    elif [ "$rc_s" -ne 0 ]; then
        why=$(reason server "$rc_s" "$slog")
    elif [ -n "$check" ] && ! grep -Eq "$check" "$clog"; then
        why="client output does not match /$check/"
    elif [ -n "$left" ]; then
        why="left in /dev/shm: $left"
    fi
    report "$name" "$why" "$slog" "$clog"
}

# run_fail NAME EXPECTED_REGEX COMMAND...: COMMAND must fail with a clear message.
run_fail() {
    local name=$1 expect=$2 log rc why=
    shift 2
    log=$tmp/fail.log
    timeout "$limit" "$@" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        why="exited 0"
    elif [ "$rc" -eq 124 ]; then
        why="timed out"
    elif ! grep -Eq "$expect" "$log"; then
        why="message does not match /$expect/: $(tail -n 1 "$log")"
    fi
    report "$name" "$why" /dev/null "$log"
}

for prog in tcp-ping-pong tcp-push-pop udp-ping-pong udp-push-pop tcp-echo pipe-ping-pong pipe-push-pop; do
    if [ ! -x "$bin/$prog" ]; then
        echo "examples.sh: $bin/$prog is missing (build first)" >&2
        exit 1
    fi
done

run_pair "tcp-ping-pong 64 B x 1000" tcp-ping-pong "" "64 1000" "verified 1000 messages"
run_pair "tcp-ping-pong 4096 B x 100" tcp-ping-pong "" "4096 100" "verified 100 messages"
run_pair "tcp-push-pop 1 MiB in 1 KiB pushes" tcp-push-pop "1024 1024" "1024 1024" "sent 1048576 bytes"
run_pair "tcp-push-pop 1 MiB in 64 KiB pushes" tcp-push-pop "65536 16" "65536 16" "sent 1048576 bytes"
run_pair "udp-ping-pong 64 B x 1000" udp-ping-pong "64 1000" "64 1000" "verified 1000 datagrams"
run_pair "udp-ping-pong 8 KiB x 100" udp-ping-pong "8192 100" "8192 100" "verified 100 datagrams"
run_pair "udp-push-pop 64 B x 1000" udp-push-pop "64 1000" "64 1000" "sent 1000 datagrams"
run_pair "tcp-echo 1 connection" tcp-echo "--once" "--msgs 3000 --warmup 100 --conns 1" \
    "conns=1 msgs=3000 p50=[0-9.]+us p99=[0-9.]+us p999=[0-9.]+us"
run_pair "tcp-echo 16 connections" tcp-echo "--once" "--msgs 5000 --warmup 160 --conns 16 --size 512" \
    "conns=16 msgs=5000 p50=[0-9.]+us"
run_pipe_pair "pipe-ping-pong 64 B x 1024 (Demikernel's defaults)" pipe-ping-pong "" \
    "verified 1024 messages of 64 bytes"
run_pipe_pair "pipe-ping-pong 8 KiB x 500" pipe-ping-pong "8192 500" "verified 500 messages of 8192 bytes"
run_pipe_pair "pipe-push-pop 64 B x 1024 (Demikernel's defaults)" pipe-push-pop "" \
    "sent 1024 messages of 64 bytes"
run_pipe_pair "pipe-push-pop 64 KiB x 2000" pipe-push-pop "65536 2000" "sent 2000 messages of 65536 bytes"
run_fail "bad port is refused" "bad port" "$bin/tcp-ping-pong" --client 127.0.0.1 notaport
run_fail "bad address is refused" "bad IPv4 address" "$bin/tcp-echo" --server 1.2.3 80
run_fail "pipe name with '/' is refused" "bad pipe name: contains '/'" \
    env LIBOS=catmem "$bin/pipe-push-pop" --server a/b
run_fail "pipe client without a server gives up (ENOENT)" "demi_open_pipe.*No such file" \
    env LIBOS=catmem "$bin/pipe-push-pop" --client "ex-$$-nobody"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
