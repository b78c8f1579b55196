#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-redis.sh BUILD_DIR MODE: Debian's redis-server, unmodified, under
# tools/demirun, and its own clients (redis-cli, redis-benchmark). MODE is
# memif, af_packet or af_xdp (apps-lib.sh; DEMIRUN= for plain Linux).
#   - PING
#   - 200 keys and a 100 KiB value SET then GET in one redis-cli session,
#     every reply compared byte for byte with what was sent
#   - a 100 KiB random binary value (redis-cli -x SET, GET --raw), cmp'd
#   - redis-benchmark SET/GET, 20 connections, pipelined, every request done
#   - BGSAVE (redis forks; persistence on: --save '' --dir TMP): waits for
#     rdb_bgsave_in_progress:0 and rdb_last_bgsave_status:ok, the dump checked
#     by redis-check-rdb (as many keys as DBSIZE), and the server keeps
#     serving the same values after the fork
#   - the server also listens on 127.0.0.1, which stays on the kernel: a
#     plain Linux redis-cli there reads the same value
#   - SIGTERM: the server exits 0
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
mode=${2:-memif}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"
APPS_NAME=redis
# shellcheck source=tests/integration/apps-lib.sh
. "$here/apps-lib.sh"

apps_need redis-server redis-cli redis-benchmark redis-check-rdb base64
apps_init "$build" "$mode"
tmp=$APPS_TMP
port=$(apps_port)
mkdir -p "$tmp/rdb"
cli=(redis-cli -h "$APPS_IP" -p "$port")

# The data: 200 small values of growing length and one of 100 KiB (text,
# for the line-based session), and 100 KiB of random bytes for -x.
nkeys=200
big_size=102400
head -c 200000 /dev/urandom | base64 -w0 | tr -d '+/=' | head -c "$big_size" >"$tmp/big.txt"
head -c "$big_size" /dev/urandom >"$tmp/big.bin"
{
    for i in $(seq "$nkeys"); do
        echo "SET key:$i value-$i-$(head -c $((i * 4)) /dev/urandom | sha256sum | cut -c1-$((8 + i % 56)))"
    done
    echo "SET big $(cat "$tmp/big.txt")"
    for i in $(seq "$nkeys"); do echo "GET key:$i"; done
    echo "GET big"
    echo "DBSIZE"
} >"$tmp/session.in"
{
    for _ in $(seq $((nkeys + 1))); do echo OK; done
    grep '^SET key:' "$tmp/session.in" | cut -d' ' -f3
    cat "$tmp/big.txt"
    echo
    echo $((nkeys + 1))
} >"$tmp/session.expected"

# Also on 127.0.0.1, which the shim leaves to the kernel: one event loop
# over a libdemi listener and a kernel one.
binds=("$APPS_IP")
[ "$APPS_IP" != 127.0.0.1 ] && binds+=(127.0.0.1)
apps_server "$tmp/server.log" redis-server --port "$port" --bind "${binds[@]}" --save '' --dir "$tmp/rdb" \
    --appendonly no --protected-mode no --daemonize no --logfile '' --databases 1
server=$APPS_SERVER_PID
if ! apps_wait_log "$tmp/server.log" "Ready to accept connections" "$server"; then
    not_ok "redis: redis-server starts and listens on $APPS_IP:$port" "no 'Ready to accept connections'" \
        "$tmp/server.log"
    apps_finish
    exit 1
fi

name="redis: redis-cli PING -> PONG"
apps_client "${cli[@]}" PING </dev/null >"$tmp/ping.out" 2>"$tmp/ping.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/ping.out")" = PONG ]; then
    ok "$name"
else
    not_ok "$name" "$(apps_why redis-cli $rc "$tmp/ping.err"), got '$(head -c 80 "$tmp/ping.out")'" \
        "$tmp/ping.err" "$tmp/server.log"
fi

name="redis: one redis-cli session SETs then GETs $nkeys keys and a 100 KiB value, replies byte for byte"
apps_client "${cli[@]}" <"$tmp/session.in" >"$tmp/session.out" 2>"$tmp/session.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$tmp/session.expected" "$tmp/session.out"; then
    ok "$name ($(stat -c %s "$tmp/session.in") bytes sent, $(stat -c %s "$tmp/session.out") received)"
else
    not_ok "$name" "$(apps_why redis-cli $rc "$tmp/session.err"); $(cmp "$tmp/session.expected" "$tmp/session.out" 2>&1 | head -n 1)" \
        "$tmp/session.err" "$tmp/server.log"
fi

# check_bin TAG: GET the binary value back and compare it.
check_bin() {
    local tag=$1 rc
    apps_client "${cli[@]}" --raw GET bin </dev/null >"$tmp/bin-$tag.out" 2>"$tmp/bin-$tag.err"
    rc=$?
    # --raw ends the value with a newline.
    if [ $rc -ne 0 ]; then
        apps_why redis-cli $rc "$tmp/bin-$tag.err"
    elif [ "$(stat -c %s "$tmp/bin-$tag.out")" -ne $((big_size + 1)) ]; then
        echo "got $(stat -c %s "$tmp/bin-$tag.out") bytes, want $((big_size + 1))"
    elif ! head -c "$big_size" "$tmp/bin-$tag.out" | cmp -s - "$tmp/big.bin"; then
        echo "value differs: $(head -c "$big_size" "$tmp/bin-$tag.out" | cmp - "$tmp/big.bin" 2>&1 | head -n 1)"
    fi
}

name="redis: redis-cli -x SET of 100 KiB random bytes, GET --raw returns them intact"
apps_client "${cli[@]}" -x SET bin <"$tmp/big.bin" >"$tmp/setbin.out" 2>"$tmp/setbin.err"
rc=$?
if [ $rc -ne 0 ] || [ "$(cat "$tmp/setbin.out")" != OK ]; then
    not_ok "$name" "SET: $(apps_why redis-cli $rc "$tmp/setbin.err"), got '$(head -c 80 "$tmp/setbin.out")'" \
        "$tmp/setbin.err" "$tmp/server.log"
else
    why=$(check_bin first)
    if [ -z "$why" ]; then
        ok "$name (sha256 $(sha "$tmp/big.bin" | cut -c1-16)...)"
    else
        not_ok "$name" "$why" "$tmp/bin-first.err" "$tmp/server.log"
    fi
fi

name="redis: redis-benchmark -t set,get -n 20000 -c 20 -P 4, every request answered"
apps_client redis-benchmark -h "$APPS_IP" -p "$port" -t set,get -n 20000 -c 20 -P 4 -d 64 -q \
    </dev/null >"$tmp/bench.out" 2>&1
rc=$?
# -q prints "SET: 123456.79 requests per second, p50=0.191 msec" (with \r
# progress lines before it).
tr '\r' '\n' <"$tmp/bench.out" | grep -E '^(SET|GET): [0-9.]+ requests per second' >"$tmp/bench.rps"
if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/bench.rps")" -eq 2 ] && ! grep -q ' 0.00 requests' "$tmp/bench.rps"; then
    ok "$name ($(tr '\n' ';' <"$tmp/bench.rps" | sed 's/;$//; s/;/; /'))"
else
    not_ok "$name" "$(apps_why redis-benchmark $rc "$tmp/bench.out")" "$tmp/bench.out" "$tmp/server.log"
fi

name="redis: BGSAVE (fork) with persistence on completes ok, dump checked by redis-check-rdb"
apps_client "${cli[@]}" DBSIZE </dev/null >"$tmp/dbsize.out" 2>&1
dbsize=$(tr -dc 0-9 <"$tmp/dbsize.out")
apps_client "${cli[@]}" BGSAVE </dev/null >"$tmp/bgsave.out" 2>&1
rc=$?
why=
if [ $rc -ne 0 ] || ! grep -q "Background saving started" "$tmp/bgsave.out"; then
    why="BGSAVE: $(apps_why redis-cli $rc "$tmp/bgsave.out")"
else
    # Poll for at most 20 s, and stop at the first failed client.
    done_ok=0
    deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ]; do
        apps_client "${cli[@]}" INFO persistence </dev/null >"$tmp/info.out" 2>&1
        rc=$?
        [ $rc -ne 0 ] && break
        if grep -q '^rdb_bgsave_in_progress:0' "$tmp/info.out" &&
            grep -q '^rdb_last_bgsave_status:ok' "$tmp/info.out" &&
            ! grep -q '^rdb_last_bgsave_time_sec:-1' "$tmp/info.out"; then
            done_ok=1
            break
        fi
        sleep 0.25
    done
    if [ $rc -ne 0 ]; then
        why="INFO persistence: $(apps_why redis-cli $rc "$tmp/info.out")"
    elif [ $done_ok -ne 1 ]; then
        why="INFO persistence never said done and ok: $(grep -E '^rdb_(bgsave_in_progress|last_bgsave_status)' "$tmp/info.out" | tr '\r\n' '  ')"
    elif ! timeout 30 redis-check-rdb "$tmp/rdb/dump.rdb" >"$tmp/check-rdb.out" 2>&1; then
        why="redis-check-rdb failed: $(tail -n 1 "$tmp/check-rdb.out")"
    else
        keys=$(sed -n 's/.*\[info\] \([0-9]*\) keys read.*/\1/p' "$tmp/check-rdb.out")
        [ -n "$dbsize" ] && [ "$keys" = "$dbsize" ] || why="dump has ${keys:-?} keys, DBSIZE said ${dbsize:-?}"
    fi
fi
if [ -z "$why" ]; then
    ok "$name ($keys keys, $(stat -c %s "$tmp/rdb/dump.rdb") bytes)"
else
    not_ok "$name" "$why" "$tmp/info.out" "$tmp/server.log"
fi

name="redis: after BGSAVE the server still serves: PING, the 100 KiB values intact"
why=
apps_alive "$server" || why="server gone"
if [ -z "$why" ]; then
    apps_client "${cli[@]}" PING </dev/null >"$tmp/ping2.out" 2>&1
    [ "$(cat "$tmp/ping2.out")" = PONG ] || why="PING got '$(head -c 80 "$tmp/ping2.out")'"
fi
[ -z "$why" ] && why=$(check_bin after)
if [ -z "$why" ]; then
    apps_client "${cli[@]}" --raw GET big </dev/null >"$tmp/big-after.out" 2>&1
    printf '\n' | cat "$tmp/big.txt" - | cmp -s - "$tmp/big-after.out" || why="GET big differs"
fi
if [ -z "$why" ]; then
    ok "$name"
else
    not_ok "$name" "$why" "$tmp/server.log"
fi

name="redis: the same server on 127.0.0.1 (the kernel's): a plain Linux redis-cli GETs the 100 KiB value intact"
apps_kclient redis-cli -h 127.0.0.1 -p "$port" --raw GET bin </dev/null >"$tmp/bin-kernel.out" 2>"$tmp/bin-kernel.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(stat -c %s "$tmp/bin-kernel.out")" -eq $((big_size + 1)) ] &&
    head -c "$big_size" "$tmp/bin-kernel.out" | cmp -s - "$tmp/big.bin"; then
    ok "$name"
else
    not_ok "$name" "$(apps_why redis-cli $rc "$tmp/bin-kernel.err"), $(stat -c %s "$tmp/bin-kernel.out") bytes" \
        "$tmp/bin-kernel.err" "$tmp/server.log"
fi

name="redis: SIGTERM -> redis-server exits 0"
if apps_alive "$server"; then
    apps_stop "$server"
    rc=$?
    if [ $rc -eq 0 ]; then
        ok "$name"
    else
        not_ok "$name" "exit $rc" "$tmp/server.log"
    fi
else
    wait "$server"
    not_ok "$name" "the server had already exited ($?)" "$tmp/server.log"
fi

apps_finish
