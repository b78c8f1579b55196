#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# stats-at-exit.sh BUILD_DIR: libdemi.stats (DEMI_STATS=1) prints the
# statistics once, on every libOS, however the program ends: at exit
# (catnap, catloop), on SIGTERM and on SIGINT (a catnap echo server killed
# while it serves), the signal's own exit status kept (143, 130); with
# DEMI_STATS=0 nothing is printed.
# Prints "ok - NAME" / "not ok - NAME (reason)", then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
echo_bin=$build/examples/tcp-echo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=report-lib.sh
. "$(dirname "$0")/report-lib.sh"

port=$((20000 + $$ % 20000))

# A catnap client to a closed port: demi_init, a refused connect, exit(1).
DEMI_STATS=1 LIBOS=catnap timeout 20 "$echo_bin" --client 127.0.0.1 9 --msgs 1 >"$tmp/exit.log" 2>&1
if [ "$(grep -c '^libdemi: statistics of process [0-9]* (at exit)' "$tmp/exit.log")" -eq 1 ] &&
    grep -Eq '^  connect +[0-9]+ ops  latency p50 <' "$tmp/exit.log"; then
    ok "catnap: at exit, once, with the connect latencies"
else
    not_ok "catnap: at exit, once, with the connect latencies" "no statistics" "$tmp/exit.log"
fi

DEMI_STATS=1 LIBOS=catloop DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.9.9.9 timeout 20 "$echo_bin" --client 10.9.9.9 9 \
    --msgs 1 >"$tmp/loop.log" 2>&1
if grep -q '^libdemi: statistics of process [0-9]* (at exit)' "$tmp/loop.log" &&
    grep -Eq '^  tcp_conn_refused +[0-9]+' "$tmp/loop.log"; then
    ok "catloop: at exit, with the stack's counters"
else
    not_ok "catloop: at exit, with the stack's counters" "no counters" "$tmp/loop.log"
fi

for sig in TERM INT; do
    want=$((128 + $(kill -l "$sig")))
    # A background job of a non-interactive shell starts with SIGINT
    # ignored (libdemi then leaves it so): give it the default back. The
    # server is bounded by timeout's KILL should the signal not end it.
    timeout -s KILL 60 env --default-signal=INT DEMI_STATS=1 LIBOS=catnap \
        "$echo_bin" --server 127.0.0.1 "$port" >"$tmp/$sig.log" 2>&1 &
    tpid=$!
    spid=$!
    for _ in $(seq 50); do grep -q "listening on" "$tmp/$sig.log" && break; sleep 0.1; done
    LIBOS=catnap timeout 20 "$echo_bin" --client 127.0.0.1 "$port" --msgs 500 >"$tmp/$sig.client" 2>&1
    spid=$(pgrep -P "$(pgrep -P "$tpid" | head -n 1)" | head -n 1) # timeout -> env -> tcp-echo (env execs)
    [ -n "$spid" ] || spid=$(pgrep -P "$tpid" | head -n 1)
    kill -s "$sig" "$spid"
    wait "$tpid"
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -q "^libdemi: statistics of process $spid (SIG$sig)" "$tmp/$sig.log" &&
        grep -Eq '^  pop +[0-9]+ ops' "$tmp/$sig.log"; then
        ok "catnap server: on SIG$sig, then exit status $rc"
    else
        not_ok "catnap server: on SIG$sig, then exit status $want" "status $rc" "$tmp/$sig.log"
    fi
    port=$((port + 1))
done

DEMI_STATS=0 LIBOS=catnap timeout 20 "$echo_bin" --client 127.0.0.1 9 --msgs 1 >"$tmp/off.log" 2>&1
if ! grep -q "statistics of process" "$tmp/off.log"; then
    ok "DEMI_STATS=0: nothing"
else
    not_ok "DEMI_STATS=0: nothing" "printed" "$tmp/off.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
