#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# catloop-2proc.sh BUILD_DIR: LIBOS=catloop with catloop.mode host (TCP over
# shared-memory pipes between processes of one host): the examples
# tcp-ping-pong and tcp-push-pop as a server process and a client process;
# a client with no server (refused); a server killed with SIGKILL while its
# client is connected (the client must fail, not hang); and nothing of ours
# left in /dev/shm afterwards (a killed listener's object goes with the next
# connect to its address; the pipe of a client that exits without closing,
# with demi-config --clean-shm). Prints "ok - NAME" / "not ok - NAME (reason)" per
# case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
bin=$build/examples
limit=${EXAMPLES_TIMEOUT:-60}
export LIBOS=catloop DEMI_CATLOOP_MODE=host

tmp=$(mktemp -d)
server_pid=
passed=0
failed=0
port=$((30000 + $$ % 20000))

cleanup() {
    if [ -n "$server_pid" ]; then
        kill -9 "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() {
    echo "not ok - $1 ($2)"
    failed=$((failed + 1))
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; } | sed 's/^/# /' >&2; done
}

wait_ready() {
    for _ in $(seq 100); do
        grep -q "listening on" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Objects this run's servers and clients may leave: listeners of our
# ports, connection pipes of our processes.
leftovers() {
    ls /dev/shm 2>/dev/null | grep -E "^demi-catloop-127\.0\.0\.1-($port|$((port + 1))|$((port + 2))|$((port + 3)))\$|^demi-pipe-catloop-($*)-" || true
}

# bounded PIDFILE SECONDS CMD...: CMD under timeout(1), its own pid (not
# timeout's) in PIDFILE: its connection pipes are named after it.
bounded() {
    local pidfile=$1 secs=$2
    shift 2
    # shellcheck disable=SC2016
    timeout "$secs" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@"
}

# run_pair NAME PROGRAM PORT "CLIENT ARGS" CHECK_REGEX
run_pair() {
    local name=$1 prog=$2 p=$3 cargs=$4 check=$5 rc_s rc_c cpid left
    rm -f "$tmp"/*.log "$tmp"/*.pid
    bounded "$tmp/server.pid" "$limit" "$bin/$prog" --server 127.0.0.1 "$p" >"$tmp/server.log" 2>&1 &
    server_pid=$!
    if ! wait_ready "$tmp/server.log" "$server_pid"; then
        not_ok "$name" "server did not listen"
        return
    fi
    # shellcheck disable=SC2086
    bounded "$tmp/client.pid" "$limit" "$bin/$prog" --client 127.0.0.1 "$p" $cargs >"$tmp/client.log" 2>&1 &
    cpid=$!
    wait "$cpid"
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$server_pid" 2>/dev/null
    wait "$server_pid"
    rc_s=$?
    left=$(leftovers "$(cat "$tmp/server.pid")|$(cat "$tmp/client.pid")")
    if [ "$rc_c" -ne 0 ]; then
        not_ok "$name" "client exit $rc_c: $(tail -n 1 "$tmp/client.log")"
    elif [ "$rc_s" -ne 0 ]; then
        not_ok "$name" "server exit $rc_s: $(tail -n 1 "$tmp/server.log")"
    elif ! grep -Eq "$check" "$tmp/client.log"; then
        not_ok "$name" "client output does not match /$check/"
    elif [ -n "$left" ]; then
        not_ok "$name" "left in /dev/shm: $left"
    else
        ok "$name"
    fi
    server_pid=
}

run_pair "tcp-ping-pong 64 B x 10000" tcp-ping-pong "$port" "64 10000" "."
run_pair "tcp-push-pop 4096 B x 10000" tcp-push-pop "$((port + 1))" "4096 10000" "."

# No listener: the client fails at once with ECONNREFUSED.
rm -f "$tmp"/*.log
timeout 10 "$bin/tcp-ping-pong" --client 127.0.0.1 "$((port + 2))" 64 1 >"$tmp/client.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qi "refused" "$tmp/client.log"; then
    ok "connect with no listener is refused"
else
    not_ok "connect with no listener is refused" "exit $rc: $(tail -n 1 "$tmp/client.log")"
fi

# The server killed mid-stream: the client must end with an error soon.
rm -f "$tmp"/*.log
p=$((port + 3))
# No timeout(1) in front of this server: the kill must reach the server
# itself (cleanup kills it on every exit path).
"$bin/tcp-ping-pong" --server 127.0.0.1 "$p" >"$tmp/server.log" 2>&1 &
server_pid=$!
if wait_ready "$tmp/server.log" "$server_pid"; then
    bounded "$tmp/client.pid" 20 "$bin/tcp-ping-pong" --client 127.0.0.1 "$p" 64 100000000 >"$tmp/client.log" 2>&1 &
    cpid=$!
    sleep 0.5
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null
    server_pid=
    wait "$cpid"
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "reset by peer" "$tmp/client.log"; then
        ok "server killed: the client fails with ECONNRESET, no hang"
    else
        not_ok "server killed: the client fails, no hang" "client exit $rc"
    fi
    # The killed listener's object goes with the next connect to its
    # address. The client exited on its error without demi_close: its
    # connection pipe stays, as a pipe of any process that dies or exits
    # without closing (docs/catmem.md), until demi-config --clean-shm,
    # which never touches an object a live process holds.
    bounded "$tmp/client2.pid" 10 "$bin/tcp-ping-pong" --client 127.0.0.1 "$p" 64 1 >/dev/null 2>&1
    pids="$(cat "$tmp/client.pid")|$(cat "$tmp/client2.pid")"
    stale=$(leftovers "$pids")
    "$build/tools/demi-config" --clean-shm >"$tmp/clean.log" 2>&1
    left=$(leftovers "$pids")
    if [ -z "$left" ]; then
        ok "after the kill, demi-config --clean-shm leaves nothing in /dev/shm (it removed: ${stale:-nothing})"
    else
        not_ok "after the kill, demi-config --clean-shm leaves nothing in /dev/shm" "left: $left"
    fi
else
    not_ok "server killed: the client fails, no hang" "server did not listen"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
