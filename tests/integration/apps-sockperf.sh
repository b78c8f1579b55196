#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-sockperf.sh BUILD_DIR MODE: Debian's sockperf, unmodified, under
# tools/demirun: one sockperf server on a TCP and a UDP port (epoll), the
# sockperf client against it. MODE is memif, af_packet or af_xdp
# (apps-lib.sh; DEMIRUN= for plain Linux).
#   - ping-pong TCP 64 B and 8 KiB, UDP 64 B and 1400 B (--full-rtt, 2 s
#     each): sockperf's summary, and its own checks of the replies' sequence
#     numbers: no dropped (UDP: under 1 %), duplicated or out-of-order
#     message
#   - throughput TCP 1460 B and UDP 1472 B (2 s each): a nonzero message rate
#     and bandwidth
#   - the server is still running after all of it
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
mode=${2:-memif}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"
APPS_NAME=sockperf
# shellcheck source=tests/integration/apps-lib.sh
. "$here/apps-lib.sh"

apps_need sockperf
apps_init "$build" "$mode"
tmp=$APPS_TMP
port=$(apps_port)
secs=${SOCKPERF_SECONDS:-2}

printf 'T:%s:%s\nU:%s:%s\n' "$APPS_IP" "$port" "$APPS_IP" "$port" >"$tmp/feed"
apps_server "$tmp/server.log" sockperf server -f "$tmp/feed"
server=$APPS_SERVER_PID
if ! apps_wait_log "$tmp/server.log" "to block on socket" "$server"; then
    not_ok "sockperf: server starts on TCP and UDP $APPS_IP:$port" "no 'to block on socket'" "$tmp/server.log"
    apps_finish
    exit 1
fi

# sockperf colours some lines; the logs are kept plain.
plain() {
    sed 's/\x1b\[[0-9;]*m//g' "$1"
}

# pingpong PROTO SIZE
pingpong() {
    local proto=$1 size=$2 log=$tmp/pp-$1-$2.log rc name opt=()
    [ "$proto" = tcp ] && opt=(--tcp)
    name="sockperf: ping-pong $proto $size B for ${secs} s, replies in sequence"
    apps_client sockperf ping-pong "${opt[@]}" -i "$APPS_IP" -p "$port" -m "$size" -t "$secs" --full-rtt \
        </dev/null >"$log.raw" 2>&1
    rc=$?
    plain "$log.raw" >"$log"
    local rtt drop dup ooo recv p50 p99
    rtt=$(sed -n 's/.*Summary: Round trip is \([0-9.]*\) usec.*/\1/p' "$log")
    read -r drop dup ooo < <(sed -n 's/.*# dropped messages = \([0-9]*\); # duplicated messages = \([0-9]*\); # out-of-order messages = \([0-9]*\).*/\1 \2 \3/p' "$log")
    recv=$(sed -n 's/.*\[Valid Duration\].*ReceivedMessages=\([0-9]*\).*/\1/p' "$log")
    p50=$(awk '$3 == "percentile" && $4 == "50.000" { print $6 }' "$log")
    p99=$(awk '$3 == "percentile" && $4 == "99.000" { print $6 }' "$log")
    local why=
    if [ $rc -ne 0 ]; then
        why=$(apps_why sockperf $rc "$log")
    elif [ -z "$rtt" ] || [ -z "$recv" ] || [ "${recv:-0}" -eq 0 ]; then
        why="no round trips measured"
    elif [ "${dup:-1}" -ne 0 ] || [ "${ooo:-1}" -ne 0 ]; then
        why="$dup duplicated, $ooo out-of-order"
    elif [ "$proto" = tcp ] && [ "${drop:-1}" -ne 0 ]; then
        why="$drop dropped over TCP"
    elif [ "$proto" = udp ] && [ $((${drop:-0} * 100)) -ge "$recv" ]; then
        why="$drop of $recv dropped"
    fi
    if [ -z "$why" ]; then
        ok "$name ($recv round trips, p50 $p50 us, p99 $p99 us, $drop dropped)"
    else
        not_ok "$name" "$why" "$log" "$tmp/server.log"
    fi
}

# throughput PROTO SIZE
throughput() {
    local proto=$1 size=$2 log=$tmp/tp-$1-$2.log rc name opt=()
    [ "$proto" = tcp ] && opt=(--tcp)
    name="sockperf: throughput $proto $size B for ${secs} s, nonzero rate"
    apps_client sockperf throughput "${opt[@]}" -i "$APPS_IP" -p "$port" -m "$size" -t "$secs" \
        </dev/null >"$log.raw" 2>&1
    rc=$?
    plain "$log.raw" >"$log"
    local mps mbps
    mps=$(sed -n 's/.*Summary: Message Rate is \([0-9]*\) .*/\1/p' "$log")
    mbps=$(sed -n 's/.*Summary: BandWidth is \([0-9.]*\) MBps.*/\1/p' "$log")
    if [ $rc -eq 0 ] && [ -n "$mps" ] && [ "$mps" -gt 0 ] && awk -v b="$mbps" 'BEGIN { exit !(b > 0) }'; then
        ok "$name ($mps msg/s, $mbps MB/s)"
    else
        not_ok "$name" "$(apps_why sockperf $rc "$log"), rate '${mps:-}'" "$log" "$tmp/server.log"
    fi
}

pingpong tcp 64
pingpong tcp 8192
pingpong udp 64
pingpong udp 1400
throughput tcp 1460
throughput udp 1472
# The server after a throughput run: answers at once again.
pingpong tcp 64

name="sockperf: the server is still running after every client"
if apps_alive "$server"; then
    ok "$name"
else
    wait "$server"
    not_ok "$name" "server exit $?" "$tmp/server.log"
fi
apps_stop "$server"

apps_finish
