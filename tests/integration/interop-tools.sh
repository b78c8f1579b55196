#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# interop-tools.sh BUILD_DIR [VARIANT]: everyday Linux tools against
# libdemi's TCP, over a veth pair between two network namespaces
# (netns-lib.sh; Linux 10.77.0.1, libdemi 10.77.0.2, nothing leaves the
# machine):
#   - Linux iperf3 -c -> examples/iperf3-demi --server (-n, -R, -t)
#   - examples/iperf3-demi --client -> Linux iperf3 -s -1 (both directions),
#     byte counts checked against iperf3's JSON
#   - curl -> examples/http-server: GET /, 100 MiB checked by SHA-256 against
#     the pattern made locally, 404, keep-alive (connection reused), HEAD
# VARIANT selects how libdemi reaches the interface: catpowder (default,
# AF_PACKET), catpowder-af_xdp (DEMI_RAW_SOCKET_MODE=af_xdp) or
# catnip-af_packet (LIBOS=catnip over DPDK's net_af_packet).
#
# libdemi runs with its defaults (a 2 ms minimum RTO; a late ACK from Linux
# costs one spurious timeout, undone, after which the connection's floor
# rises): set DEMI_TCP_RTO_MIN_US in the environment to try another floor.
#
# Needs root, iproute2, ethtool, iperf3, curl, python3 and sha256sum; fails
# (does not skip) when any is missing. Every process is bounded by timeout(1).
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
variant=${2:-catpowder}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/netns-lib.sh
. "$here/netns-lib.sh"
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"

# The libdemi processes inherit these through in_demi / demi_bg.
case $variant in
catpowder) export DEMI_RAW_SOCKET_MODE=af_packet ;;
catpowder-af_xdp) export DEMI_RAW_SOCKET_MODE=af_xdp ;;
catnip-af_packet) NETNS_DEMI_LIBOS=catnip DEMI_RAW_SOCKET_MODE=n/a ;;
*) netns_die "unknown variant '$variant' (catpowder, catpowder-af_xdp or catnip-af_packet)" ;;
esac
echo "# variant $variant (raw_socket.mode $DEMI_RAW_SOCKET_MODE, tcp.rto_min_us ${DEMI_TCP_RTO_MIN_US:-default})"

ex=$build/examples
limit=${INTEROP_TIMEOUT:-60} # seconds allowed to one process of a case
bulk=$((100 * 1024 * 1024))
for f in "$ex/iperf3-demi" "$ex/http-server"; do
    [ -x "$f" ] || netns_die "$f is not built"
done
netns_need iperf3 curl python3 sha256sum
netns_setup
tmp=$NETNS_TMP
ip_d=$NETNS_IP_DEMI

# Why a process failed, from its exit status and its log's last line.
why_rc() {
    local who=$1 rc=$2 log=$3
    if [ "$rc" -eq 124 ]; then
        echo "$who timed out after ${limit}s"
    else
        echo "$who exit $rc: $(tail -n 1 "$log" 2>/dev/null)"
    fi
}

# Start a libdemi server in the background; 0 once it printed "listening on".
start_demi() {
    local log=$1
    shift
    demi_bg "$log" timeout "$limit" "$@"
    netns_wait_for "$log" "listening on" "$NETNS_PID" 100
}

# json FILE EXPR: a value from iperf3's JSON output (python3 expression over d).
json() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

gbps() {
    awk -v b="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 1e-9; printf "%.2f", b * 8 / s / 1e9 }'
}

# ------------------------------------------------ Linux iperf3 -> libdemi
# linux_client_case NAME IPERF3-ARGS BYTES: BYTES is what both sides must
# count, or "any" for a timed test. There, with -R, iperf3 (the receiver)
# stops counting at its TEST_END while bytes are still in flight, as against
# a Linux iperf3 server: received may be a little below sent.
port=5201
linux_client_case() {
    local name=$1 args=$2 expect=$3 slog clog spid rc_c rc_s why='' sent recv err secs summary
    port=$((port + 1))
    slog=$tmp/iperf-server-$port.log
    clog=$tmp/iperf-client-$port.json
    if ! start_demi "$slog" "$ex/iperf3-demi" --server "$ip_d" "$port" --once; then
        netns_stop "$NETNS_PID"
        not_ok "$name" "iperf3-demi server did not start" "$slog"
        return
    fi
    spid=$NETNS_PID
    # shellcheck disable=SC2086 # args is a list of words
    in_linux timeout "$limit" iperf3 -c "$ip_d" -p "$port" $args -J >"$clog" 2>&1
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid"
    rc_s=$?
    err=$(json "$clog" "d.get('error', '')")
    sent=$(json "$clog" "d['end']['sum_sent']['bytes']")
    recv=$(json "$clog" "d['end']['sum_received']['bytes']")
    secs=$(json "$clog" "d['end']['sum_received']['seconds']")
    # iperf3-demi's own line: its count, then what iperf3 reported to it.
    case " $args " in
    *" -R "*) summary="sent $sent bytes in .*(peer counted $recv)" ;;
    *) summary="received $recv bytes in .*(peer counted $sent)" ;;
    esac
    if [ "$rc_c" -ne 0 ]; then
        why=$(why_rc "iperf3 -c" "$rc_c" "$clog")
    elif [ -n "$err" ]; then
        why="iperf3 -c: $err"
    elif [ "$rc_s" -ne 0 ]; then
        why=$(why_rc "iperf3-demi server" "$rc_s" "$slog")
    elif [ -z "$sent" ] || [ -z "$recv" ] || [ "$sent" -eq 0 ] || [ "$recv" -eq 0 ]; then
        why="bytes sent '$sent', received '$recv'"
    elif [ "$expect" != any ] &&
        { [ "$recv" -ne "$sent" ] || [ "$sent" -lt "$expect" ] || [ "$sent" -gt $((expect + 131072)) ]; }; then
        # iperf3 checks -n after a write, so as sender it may send one more
        # 128 KiB block than asked; every byte sent must still arrive.
        why="sent $sent and received $recv bytes, expected $expect (up to one 128 KiB block more), all received"
    elif [ "$recv" -gt "$sent" ]; then
        why="received $recv bytes, more than the $sent sent"
    elif ! grep -q "$summary" "$slog"; then
        why="iperf3-demi's summary does not agree: $(grep -h 'bytes in' "$slog")"
    fi
    if [ -z "$why" ]; then
        ok "$name: $sent bytes, $(gbps "$recv" "$secs") Gbit/s"
        grep -h 'bytes in' "$slog" | sed 's/^/# /'
    else
        not_ok "$name" "$why" "$slog" "$clog"
    fi
}

linux_client_case "iperf3 -c -n 100M -> libdemi iperf3-demi server" "-n 100M" "$bulk"
linux_client_case "iperf3 -c -n 100M -R (libdemi sends) -> libdemi iperf3-demi server" "-n 100M -R" "$bulk"
linux_client_case "iperf3 -c -t 2 -> libdemi iperf3-demi server" "-t 2" any
linux_client_case "iperf3 -c -t 2 -R -> libdemi iperf3-demi server" "-t 2 -R" any

# A refused test ends cleanly on both sides, with iperf3 naming the reason.
name="iperf3 -c -P 2 -> libdemi iperf3-demi server refuses with an error state"
port=$((port + 1))
if start_demi "$tmp/iperf-p2.log" "$ex/iperf3-demi" --server "$ip_d" "$port" --once; then
    spid=$NETNS_PID
    in_linux timeout "$limit" iperf3 -c "$ip_d" -p "$port" -P 2 -n 1M >"$tmp/iperf-p2-client.log" 2>&1
    rc_c=$?
    wait "$spid"
    rc_s=$?
    if [ "$rc_c" -eq 1 ] && [ "$rc_s" -eq 1 ] &&
        grep -q "parallel streams too large" "$tmp/iperf-p2-client.log" &&
        grep -q "iperf3-demi runs one" "$tmp/iperf-p2.log"; then
        ok "$name"
    else
        not_ok "$name" "iperf3 exit $rc_c, iperf3-demi exit $rc_s" "$tmp/iperf-p2.log" "$tmp/iperf-p2-client.log"
    fi
else
    netns_stop "$NETNS_PID"
    not_ok "$name" "iperf3-demi server did not start" "$tmp/iperf-p2.log"
fi

# ------------------------------------------------ libdemi -> Linux iperf3 -s
# demi_client_case NAME [--reverse]
demi_client_case() {
    local name=$1 rev=${2:-} slog clog spid rc_c rc_s why='' field got
    port=$((port + 1))
    slog=$tmp/linux-iperf-server-$port.json
    clog=$tmp/demi-iperf-client-$port.log
    linux_bg "$slog" timeout "$limit" iperf3 -s -1 -J -p "$port"
    spid=$NETNS_PID
    if ! netns_wait_listen "$port" 100; then
        netns_stop "$spid"
        not_ok "$name" "iperf3 -s did not listen" "$slog"
        return
    fi
    # shellcheck disable=SC2086 # rev is empty or one word
    in_demi timeout "$limit" "$ex/iperf3-demi" --client "$NETNS_IP_LINUX" "$port" --bytes "$bulk" $rev >"$clog" 2>&1
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid"
    rc_s=$?
    # The Linux server's own count: what it received, or with -R what it sent.
    if [ -n "$rev" ]; then field=sum_sent; else field=sum_received; fi
    got=$(json "$slog" "d['end']['$field']['bytes']")
    if [ "$rc_c" -ne 0 ]; then
        why=$(why_rc "iperf3-demi client" "$rc_c" "$clog")
    elif [ "$rc_s" -ne 0 ]; then
        why=$(why_rc "iperf3 -s" "$rc_s" "$slog")
    elif [ -n "$(json "$slog" "d.get('error', '')")" ]; then
        why="iperf3 -s: $(json "$slog" "d.get('error', '')")"
    elif [ -z "$rev" ] && [ "$got" != "$bulk" ]; then
        why="iperf3 -s counted $got bytes ($field), expected $bulk"
    elif [ -n "$rev" ] && { [ "$got" -lt "$bulk" ] || [ "$got" -gt $((bulk + 131072)) ]; }; then
        # As sender iperf3 checks -n after a write, so it may send one more
        # block (128 KiB by default) than asked; what counts is that libdemi
        # received exactly what it sent.
        why="iperf3 -s sent $got bytes ($field), expected $bulk up to one 128 KiB block more"
    elif ! grep -Eq "(sent|received) $got bytes in .*peer counted $got\)" "$clog"; then
        why="iperf3-demi's summary does not match iperf3's $got bytes: $(tail -n 1 "$clog")"
    fi
    if [ -z "$why" ]; then
        ok "$name: $got bytes, $(sed -n 's/.*= \([0-9.]*\) Gbit\/s.*/\1/p' "$clog") Gbit/s"
        grep -h 'bytes in' "$clog" | sed 's/^/# /'
    else
        not_ok "$name" "$why" "$clog" "$slog"
    fi
}

demi_client_case "libdemi iperf3-demi --client -> iperf3 -s -1, 100 MiB, counts match iperf3's JSON"
demi_client_case "libdemi iperf3-demi --client --reverse (Linux sends) -> iperf3 -s -1, 100 MiB, counts match" --reverse

# ------------------------------------------------ curl -> libdemi http-server
name="curl -> libdemi http-server"
port=8080
hlog=$tmp/http-server.log
url=http://$ip_d:$port
python3 -c 'import sys
n = int(sys.argv[1])
sys.stdout.write("".join("%015x\n" % k for k in range(n // 16 + 1))[:n])' "$bulk" >"$tmp/pattern"
if start_demi "$hlog" "$ex/http-server" --server "$ip_d" "$port"; then
    hpid=$NETNS_PID

    name="curl GET / from libdemi http-server"
    if in_linux timeout "$limit" curl -sS --fail "$url/" >"$tmp/index.out" 2>"$tmp/curl-index.log" &&
        head -n 1 "$tmp/index.out" | grep -qx "libdemi http-server"; then
        ok "$name"
    else
        not_ok "$name" "curl exit or content: $(head -c 80 "$tmp/index.out")" "$tmp/curl-index.log" "$hlog"
    fi

    name="curl GET /bytes/$bulk from libdemi http-server, SHA-256 matches the pattern"
    in_linux timeout "$limit" curl -sS --fail -o "$tmp/bytes.out" \
        -w '%{size_download} %{time_total} %{speed_download}\n' "$url/bytes/$bulk" >"$tmp/curl-bytes.log" 2>&1
    rc=$?
    read -r size t_total speed <"$tmp/curl-bytes.log"
    if [ "$rc" -ne 0 ]; then
        not_ok "$name" "$(why_rc curl "$rc" "$tmp/curl-bytes.log")" "$tmp/curl-bytes.log" "$hlog"
    elif [ "$(sha256sum <"$tmp/bytes.out")" != "$(sha256sum <"$tmp/pattern")" ]; then
        not_ok "$name" "SHA-256 differs ($size bytes received)" "$hlog"
    else
        ok "$name: $(gbps "$size" "$t_total") Gbit/s (${speed%.*} B/s)"
    fi
    rm -f "$tmp/bytes.out"

    name="curl GET /nope from libdemi http-server -> 404"
    code=$(in_linux timeout "$limit" curl -sS -o /dev/null -w '%{http_code}' "$url/nope" 2>"$tmp/curl-404.log")
    if [ "$code" = 404 ]; then ok "$name"; else not_ok "$name" "status '$code'" "$tmp/curl-404.log" "$hlog"; fi

    name="curl keep-alive: two URLs over one connection to libdemi http-server"
    in_linux timeout "$limit" curl -sS -v --fail -o "$tmp/ka1.out" "$url/" -o "$tmp/ka2.out" "$url/bytes/100000" \
        >"$tmp/curl-ka.log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        not_ok "$name" "$(why_rc curl "$rc" "$tmp/curl-ka.log")" "$tmp/curl-ka.log" "$hlog"
    elif ! grep -q "Re-using existing connection" "$tmp/curl-ka.log"; then
        not_ok "$name" "curl opened a second connection" "$tmp/curl-ka.log" "$hlog"
    elif ! cmp -s "$tmp/ka2.out" <(head -c 100000 "$tmp/pattern") || ! cmp -s "$tmp/ka1.out" "$tmp/index.out"; then
        not_ok "$name" "content differs" "$tmp/curl-ka.log" "$hlog"
    else
        ok "$name"
    fi

    name="curl HEAD /bytes/$bulk from libdemi http-server: headers, no body"
    in_linux timeout "$limit" curl -sS -I "$url/bytes/$bulk" >"$tmp/head.out" 2>"$tmp/curl-head.log"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q "^HTTP/1.1 200" "$tmp/head.out" &&
        grep -qi "^Content-Length: $bulk" "$tmp/head.out"; then
        ok "$name"
    else
        not_ok "$name" "curl exit $rc: $(head -n 1 "$tmp/head.out")" "$tmp/head.out" "$tmp/curl-head.log" "$hlog"
    fi

    name="libdemi http-server still serving after the curl cases"
    if kill -0 "$hpid" 2>/dev/null; then ok "$name"; else not_ok "$name" "it exited" "$hlog"; fi
    netns_stop "$hpid"
else
    netns_stop "$NETNS_PID"
    not_ok "$name" "http-server did not start" "$hlog"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
