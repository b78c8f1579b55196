#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# catpowder-ipv6.sh BUILD_DIR: libdemi's IPv6 layer (ipv6.c, icmp6.c, nd6.c)
# against the Linux kernel's, over the veth pair of netns-lib.sh, LIBOS=
# catpowder (AF_PACKET). libdemi is fd00:77::2 and its link-local address
# (from the MAC); Linux fd00:77::1. The kernel's IPv6 stays off on libdemi's
# end (it would own the same link-local address) and is turned on at the
# Linux end. Cases: libdemi's DAD then Linux ping -6 to the global and the
# link-local address (%iface) answered; Linux resolves libdemi by ND; libdemi
# resolves Linux by ND (Linux holds a permanent entry for libdemi, so it
# never solicits and libdemi's replies can leave only after libdemi's own NS
# was answered).
#
# UDP over IPv6 (ipv6_udp_cases, at the end): Linux's python3 sockets
# against demi-nc's UDP echo on [::], global, link-local and IPv4, and port
# unreachable.
#
# Needs root, iproute2, ethtool, iputils-ping. Skips, saying why, when the
# kernel has no IPv6; fails when a reply does not come.
set -u

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/netns-lib.sh
. "$here/netns-lib.sh"
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"

ex=$build/examples
limit=${CATPOWDER_TIMEOUT:-60}
IP6_LINUX=fd00:77::1
IP6_DEMI=fd00:77::2

[ -x "$ex/tcp-echo" ] || netns_die "$ex/tcp-echo is not built"
if [ ! -d /proc/sys/net/ipv6 ]; then
    echo "ok - # SKIP the kernel has no IPv6 (/proc/sys/net/ipv6 missing)"
    echo "0 passed, 0 failed"
    exit 0
fi
netns_need ping
netns_setup
tmp=$NETNS_TMP

# Linux's end speaks IPv6 (no DAD: the link is ours alone).
netns_run ip netns exec "$NS_LINUX" sysctl -qw "net.ipv6.conf.$IF_LINUX.disable_ipv6=0"
netns_run ip -n "$NS_LINUX" addr add "$IP6_LINUX/64" dev "$IF_LINUX" nodad
# libdemi's link-local address: fe80:: and the modified EUI-64 of its MAC.
ll_of_mac() {
    local IFS=:
    # shellcheck disable=SC2086
    set -- $1
    printf 'fe80::%x:%x:%x:%x' $(((0x$1 ^ 2) << 8 | 0x$2)) $((0x$3 << 8 | 0xff)) $((0xfe << 8 | 0x$4)) \
        $((0x$5 << 8 | 0x$6))
}
LL_DEMI=$(ll_of_mac "$NETNS_MAC_DEMI")
echo "# libdemi: $IP6_DEMI and $LL_DEMI ($NETNS_MAC_DEMI)"

demi_bg "$tmp/server.log" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info \
    timeout "$limit" "$ex/tcp-echo" --server "$NETNS_IP_DEMI" 7000
server=$NETNS_PID
if ! netns_wait_for "$tmp/server.log" "listening on" "$server" 100; then
    not_ok "ipv6: libdemi tcp-echo server starts on $IF_DEMI" "did not listen" "$tmp/server.log"
    echo "$passed passed, $failed failed"
    exit 1
fi

name="ipv6: libdemi's DAD finds $IP6_DEMI and $LL_DEMI unique"
for _ in $(seq 50); do
    [ "$(grep -c 'unique on the link' "$tmp/server.log")" -ge 2 ] && break
    sleep 0.1
done
if [ "$(grep -c 'unique on the link' "$tmp/server.log")" -ge 2 ]; then
    ok "$name"
else
    not_ok "$name" "no DAD result in the log" "$tmp/server.log"
fi

name="ipv6: Linux ping -6 -c 3 $IP6_DEMI answered by libdemi"
if in_linux timeout 20 ping -6 -c 3 -i 0.2 -W 2 "$IP6_DEMI" >"$tmp/ping-global.log" 2>&1 &&
    grep -q '3 received' "$tmp/ping-global.log"; then
    ok "$name"
else
    not_ok "$name" "$(grep -m1 'packet loss' "$tmp/ping-global.log")" "$tmp/ping-global.log" "$tmp/server.log"
fi

name="ipv6: Linux resolved $IP6_DEMI to libdemi's MAC by ND"
in_linux ip -6 neigh show "$IP6_DEMI" dev "$IF_LINUX" >"$tmp/neigh.log" 2>&1
if grep -qi "lladdr $NETNS_MAC_DEMI" "$tmp/neigh.log"; then
    ok "$name"
else
    not_ok "$name" "neighbor entry: $(cat "$tmp/neigh.log")" "$tmp/neigh.log"
fi

name="ipv6: Linux ping -6 -c 3 $LL_DEMI%$IF_LINUX (link-local) answered by libdemi"
if in_linux timeout 20 ping -6 -c 3 -i 0.2 -W 2 "$LL_DEMI%$IF_LINUX" >"$tmp/ping-ll.log" 2>&1 &&
    grep -q '3 received' "$tmp/ping-ll.log"; then
    ok "$name"
else
    not_ok "$name" "$(grep -m1 'packet loss' "$tmp/ping-ll.log")" "$tmp/ping-ll.log" "$tmp/server.log"
fi
netns_stop "$server"

# A fresh libdemi (empty neighbor cache), a Linux that never solicits it.
name="ipv6: libdemi resolves $IP6_LINUX by ND (Linux holds a permanent entry for libdemi)"
in_linux ip -6 neigh flush dev "$IF_LINUX" >/dev/null 2>&1
in_linux ip -6 neigh replace "$IP6_DEMI" lladdr "$NETNS_MAC_DEMI" dev "$IF_LINUX" nud permanent
demi_bg "$tmp/server2.log" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info \
    timeout "$limit" "$ex/tcp-echo" --server "$NETNS_IP_DEMI" 7000
server=$NETNS_PID
if netns_wait_for "$tmp/server2.log" "listening on" "$server" 100; then
    sleep 1.5 # DAD
    if in_linux timeout 20 ping -6 -c 3 -i 0.2 -W 3 "$IP6_DEMI" >"$tmp/ping-nd.log" 2>&1 &&
        grep -q '3 received' "$tmp/ping-nd.log"; then
        ok "$name"
    else
        not_ok "$name" "$(grep -m1 'packet loss' "$tmp/ping-nd.log")" "$tmp/ping-nd.log" "$tmp/server2.log"
    fi
    netns_stop "$server"
else
    not_ok "$name" "server did not listen" "$tmp/server2.log"
fi

# ------------------------------------------------------- TCP over IPv6
# Linux's everyday tools against libdemi's TCP over IPv6 (same addresses):
# nc -6 both ways sha256-equal, curl -6 against examples/http-server and
# iperf3 -6 against examples/iperf3-demi both ways, IPV6_BULK_MIB (default
# 100) MiB each; refused connections both ways; loss.sh's loss cases over IPv6 (its
# BPF classifier on Linux's end, libdemi's transmit fault injector). A libdemi
# without TCP over IPv6 (demi_socket(AF_INET6, SOCK_STREAM) EAFNOSUPPORT) is
# a skip naming it, never a pass.
ipv6_tcp_cases() {
    local dnc=$build/tests/integration/demi-nc bulk=$((${IPV6_BULK_MIB:-100} << 20)) v6env log rc src name
    v6env=(env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info)
    netns_need nc socat curl iperf3 python3 tc sha256sum
    [ -x "$dnc" ] || netns_die "$dnc is not built"
    in_linux ip -6 neigh flush dev "$IF_LINUX" >/dev/null 2>&1

    # The probe, and libdemi's refused connect: demi-nc to a closed port.
    name="tcp6: libdemi connect to closed [$IP6_LINUX]:7199 fails with ECONNREFUSED"
    in_demi "${v6env[@]}" timeout 20 "$dnc" --connect "$IP6_LINUX" 7199 </dev/null >/dev/null 2>"$tmp/t6-refused.log"
    rc=$?
    if grep -q "demi_socket: Address family not supported" "$tmp/t6-refused.log"; then
        echo "ok - tcp6: all TCP over IPv6 cases # SKIP TCP over IPv6 not in this build" \
            "(demi_socket(AF_INET6, SOCK_STREAM): EAFNOSUPPORT)"
        return
    fi
    if [ $rc -eq 1 ] && grep -q "Connection refused" "$tmp/t6-refused.log"; then
        ok "$name"
    else
        not_ok "$name" "demi-nc exit $rc" "$tmp/t6-refused.log"
    fi

    head -c "$bulk" /dev/urandom >"$tmp/t6-bulk.in"

    # Linux nc -6 -> libdemi demi-nc --listen.
    name="tcp6: Linux nc -6 -> libdemi demi-nc --listen [$IP6_DEMI]:7001, $((bulk >> 20)) MiB, sha256 equal"
    demi_bg "$tmp/t6-listen.log" "${v6env[@]}" sh -c "exec timeout $limit '$dnc' --listen $IP6_DEMI 7001 \
        --until-peer-eof --linger-ms 200 </dev/null >'$tmp/t6-rx.out'"
    src=$NETNS_PID
    if netns_wait_for "$tmp/t6-listen.log" "listening on" "$src" 100 && ipv6_dad_done "$tmp/t6-listen.log"; then
        t0=$(now_ns)
        in_linux timeout "$limit" nc -6 -N "$IP6_DEMI" 7001 <"$tmp/t6-bulk.in" >/dev/null 2>"$tmp/t6-nc.log"
        rc=$?
        wait "$src"
        src=$?
        t1=$(now_ns)
        if [ $rc -eq 0 ] && [ $src -eq 0 ] && [ "$(sha "$tmp/t6-bulk.in")" = "$(sha "$tmp/t6-rx.out")" ]; then
            ok "$name ($(rate "$bulk" $((t1 - t0))) MB/s)"
        else
            not_ok "$name" "nc exit $rc, demi-nc exit $src, got $(stat -c %s "$tmp/t6-rx.out") bytes" \
                "$tmp/t6-nc.log" "$tmp/t6-listen.log"
        fi
    else
        netns_stop "$src"
        not_ok "$name" "demi-nc did not listen or its DAD did not end" "$tmp/t6-listen.log"
    fi
    rm -f "$tmp/t6-rx.out"

    # libdemi demi-nc --connect -> Linux nc -6 -l.
    name="tcp6: libdemi demi-nc --connect -> Linux nc -6 -l [$IP6_LINUX]:7101, $((bulk >> 20)) MiB, sha256 equal"
    linux_bg "$tmp/t6-ncl.log" sh -c "exec timeout $limit nc -6 -l $IP6_LINUX 7101 </dev/null >'$tmp/t6-tx.out'"
    src=$NETNS_PID
    if netns_wait_listen 7101; then
        in_demi "${v6env[@]}" timeout "$limit" "$dnc" --connect "$IP6_LINUX" 7101 --linger-ms 1000 \
            <"$tmp/t6-bulk.in" >/dev/null 2>"$tmp/t6-connect.log"
        rc=$?
        wait "$src"
        src=$?
        if [ $rc -eq 0 ] && [ "$(sha "$tmp/t6-bulk.in")" = "$(sha "$tmp/t6-tx.out")" ]; then
            ok "$name ($(grep -o '[0-9.]* MB/s' "$tmp/t6-connect.log" | tail -n 1))"
        else
            not_ok "$name" "demi-nc exit $rc, nc exit $src, got $(stat -c %s "$tmp/t6-tx.out") bytes" \
                "$tmp/t6-connect.log" "$tmp/t6-ncl.log"
        fi
    else
        netns_stop "$src"
        not_ok "$name" "nc -6 -l did not listen" "$tmp/t6-ncl.log"
    fi
    rm -f "$tmp/t6-tx.out"

    ipv6_http_cases "$bulk"
    ipv6_iperf3_cases "$bulk"
    ipv6_loss_cases
}

# ipv6_dad_done LOG: libdemi's log says both its addresses are in use.
ipv6_dad_done() {
    for _ in $(seq 50); do
        [ "$(grep -c 'unique on the link' "$1")" -ge 2 ] && return 0
        sleep 0.1
    done
    return 1
}

# ipv6_start_demi LOG PROGRAM ARGS...: a libdemi server on IPv6, listening
# and past DAD; its pid in NETNS_PID.
ipv6_start_demi() {
    local log=$1
    shift
    demi_bg "$log" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info timeout "$limit" "$@"
    netns_wait_for "$log" "listening on" "$NETNS_PID" 100 && ipv6_dad_done "$log"
}

ipv6_http_cases() {
    local bulk=$1 url="http://[$IP6_DEMI]:8080" hlog=$tmp/t6-http.log hpid rc name code
    python3 -c 'import sys
n = int(sys.argv[1])
sys.stdout.write("".join("%015x\n" % k for k in range(n // 16 + 1))[:n])' "$bulk" >"$tmp/t6-pattern"
    if ! ipv6_start_demi "$hlog" "$ex/http-server" --server "$IP6_DEMI" 8080; then
        netns_stop "$NETNS_PID"
        not_ok "tcp6: curl -6 -> libdemi http-server" "http-server did not start" "$hlog"
        return
    fi
    hpid=$NETNS_PID
    name="tcp6: curl -6 GET $url/ from libdemi http-server"
    if in_linux timeout "$limit" curl -6 -sS --fail "$url/" >"$tmp/t6-index.out" 2>"$tmp/t6-curl.log" &&
        head -n 1 "$tmp/t6-index.out" | grep -qx "libdemi http-server"; then
        ok "$name"
    else
        not_ok "$name" "curl exit or content: $(head -c 80 "$tmp/t6-index.out")" "$tmp/t6-curl.log" "$hlog"
    fi
    name="tcp6: curl -6 GET /bytes/$bulk from libdemi http-server, SHA-256 matches the pattern"
    in_linux timeout "$limit" curl -6 -sS --fail -o "$tmp/t6-bytes.out" -w '%{speed_download}\n' \
        "$url/bytes/$bulk" >"$tmp/t6-curl-bytes.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ "$(sha "$tmp/t6-bytes.out")" = "$(sha "$tmp/t6-pattern")" ]; then
        ok "$name ($(awk '{ printf "%.1f", $1 / 1e6 }' "$tmp/t6-curl-bytes.log") MB/s)"
    else
        not_ok "$name" "curl exit $rc, $(stat -c %s "$tmp/t6-bytes.out" 2>/dev/null) bytes" \
            "$tmp/t6-curl-bytes.log" "$hlog"
    fi
    rm -f "$tmp/t6-bytes.out"
    name="tcp6: curl -6 GET /nope from libdemi http-server -> 404"
    code=$(in_linux timeout "$limit" curl -6 -sS -o /dev/null -w '%{http_code}' "$url/nope" 2>"$tmp/t6-404.log")
    if [ "$code" = 404 ]; then ok "$name"; else not_ok "$name" "status '$code'" "$tmp/t6-404.log" "$hlog"; fi
    name="tcp6: libdemi http-server still serving after the curl -6 cases"
    if kill -0 "$hpid" 2>/dev/null; then ok "$name"; else not_ok "$name" "it exited" "$hlog"; fi
    netns_stop "$hpid"
}

# json FILE EXPR: a value from iperf3's JSON output.
ipv6_json() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

ipv6_iperf3_cases() {
    local bulk=$1 port=5300 args name slog clog spid rc_c rc_s sent recv got
    for args in "-n $((bulk >> 20))M" "-n $((bulk >> 20))M -R"; do
        port=$((port + 1))
        name="tcp6: Linux iperf3 -6 -c $args -> libdemi iperf3-demi server, all bytes counted"
        slog=$tmp/t6-iperf-$port.log
        clog=$tmp/t6-iperf-$port.json
        if ! ipv6_start_demi "$slog" "$ex/iperf3-demi" --server "$IP6_DEMI" "$port" --once; then
            netns_stop "$NETNS_PID"
            not_ok "$name" "iperf3-demi did not start" "$slog"
            continue
        fi
        spid=$NETNS_PID
        # shellcheck disable=SC2086 # args is a list of words
        in_linux timeout "$limit" iperf3 -6 -c "$IP6_DEMI" -p "$port" $args -J >"$clog" 2>&1
        rc_c=$?
        [ $rc_c -ne 0 ] && kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        sent=$(ipv6_json "$clog" "d['end']['sum_sent']['bytes']")
        recv=$(ipv6_json "$clog" "d['end']['sum_received']['bytes']")
        # As sender iperf3 may send one 128 KiB block more than -n.
        if [ $rc_c -eq 0 ] && [ $rc_s -eq 0 ] && [ -n "$sent" ] && [ "$sent" = "$recv" ] &&
            [ "$sent" -ge "$bulk" ] && [ "$sent" -le $((bulk + 131072)) ]; then
            ok "$name ($sent bytes; $(grep -h -o '= [0-9.]* Gbit/s' "$slog"))"
        else
            not_ok "$name" "iperf3 exit $rc_c, iperf3-demi exit $rc_s, sent '$sent' received '$recv'" "$slog" "$clog"
        fi
    done
    port=$((port + 1))
    name="tcp6: libdemi iperf3-demi --client -> Linux iperf3 -s -1, $((bulk >> 20)) MiB, count matches iperf3's JSON"
    slog=$tmp/t6-iperf-s-$port.json
    clog=$tmp/t6-iperf-c-$port.log
    linux_bg "$slog" timeout "$limit" iperf3 -s -1 -J -p "$port"
    spid=$NETNS_PID
    if netns_wait_listen "$port"; then
        in_demi "${v6env[@]}" timeout "$limit" "$ex/iperf3-demi" --client "$IP6_LINUX" "$port" --bytes "$bulk" \
            >"$clog" 2>&1
        rc_c=$?
        [ $rc_c -ne 0 ] && kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        got=$(ipv6_json "$slog" "d['end']['sum_received']['bytes']")
        if [ $rc_c -eq 0 ] && [ $rc_s -eq 0 ] && [ "$got" = "$bulk" ]; then
            ok "$name ($(grep -h -o '= [0-9.]* Gbit/s' "$clog"))"
        else
            not_ok "$name" "iperf3-demi exit $rc_c, iperf3 -s exit $rc_s, iperf3 counted '$got'" "$clog" "$slog"
        fi
    else
        netns_stop "$spid"
        not_ok "$name" "iperf3 -s did not listen" "$slog"
    fi
}

# loss.sh's cases over IPv6, with its BPF classifier (bpf/drop.bpf.c, IPv4
# and IPv6 TCP) on Linux's end and libdemi's transmit fault injector,
# IPV6_LOSS_PPM (default 20000 = 2 %) each:
#   1. Linux nc -6 -> libdemi: Linux's data lost on its egress (tc),
#      libdemi's ACKs by its injector.
#   2. libdemi -> Linux: libdemi's data lost at Linux's ingress (tc), Linux's
#      ACKs on its egress (tc).
#   3. libdemi -> Linux: libdemi's data duplicated, reordered, corrupted and
#      lost by its injector; Linux must reject the corrupted ones by checksum.
#   4. Linux nc -6 -> libdemi: Linux's data lost on egress (tc); libdemi's
#      ACKs duplicated, reordered and corrupted.
# Each moves IPV6_LOSS_SIZE_MIB (default 100) MiB, sha256-compared; a case
# fails when a loss source that should have dropped something did not.
ipv6_loss_cases() {
    local ppm=${IPV6_LOSS_PPM:-20000} mib=${IPV6_LOSS_SIZE_MIB:-100} obj=$build/tests/integration/drop.bpf.o
    local ctl=$build/tests/integration/drop-ctl dir id prog_in='' prog_out=''
    if [ ! -e "$obj" ] || [ ! -x "$ctl" ]; then
        echo "ok - tcp6 loss cases # SKIP $obj and drop-ctl not built (need clang and libbpf)"
        return
    fi
    head -c $((mib << 20)) /dev/urandom >"$tmp/t6-loss.in"
    # One drop is one segment: Linux TCP builds GSO packets even with GSO off.
    in_linux ip link set dev "$IF_LINUX" gso_max_segs 1
    in_linux tc qdisc add dev "$IF_LINUX" clsact
    for dir in ingress egress; do
        in_linux tc filter add dev "$IF_LINUX" "$dir" bpf da obj "$obj" sec tc
        id=$(in_linux tc filter show dev "$IF_LINUX" "$dir" | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -n 1)
        if [ "$dir" = ingress ]; then prog_in=$id; else prog_out=$id; fi
    done
    if [ -z "$prog_in" ] || [ -z "$prog_out" ]; then
        not_ok "tcp6 loss: BPF drop programs on $IF_LINUX" "tc filter add failed"
        return
    fi
    echo "# tcp6 loss: $ppm ppm each, $mib MiB per transfer"
    ipv6_drop "$ppm" 0
    ipv6_loss_rx "tcp6 loss 1: Linux nc -6 -> libdemi, Linux's data lost (tc egress), libdemi's ACKs (injector)" \
        7201 DEMI_FAULT_TX_LOSS_PPM="$ppm"
    ipv6_drop "$ppm" "$ppm"
    ipv6_loss_tx "tcp6 loss 2: libdemi -> Linux, libdemi's data lost (tc ingress), Linux's ACKs (tc egress)" 7202
    ipv6_drop 0 0
    ipv6_loss_tx "tcp6 loss 3: libdemi -> Linux, libdemi's data duplicated, reordered, corrupted and lost (injector)" \
        7203 DEMI_FAULT_TX_LOSS_PPM=$((ppm / 2)) DEMI_FAULT_TX_DUP_PPM="$ppm" DEMI_FAULT_TX_REORDER_PPM="$ppm" \
        DEMI_FAULT_TX_CORRUPT_PPM="$ppm"
    ipv6_drop "$ppm" 0
    ipv6_loss_rx "tcp6 loss 4: Linux nc -6 -> libdemi, Linux's data lost (tc egress), libdemi's ACKs duplicated, reordered, corrupted" \
        7204 DEMI_FAULT_TX_DUP_PPM="$ppm" DEMI_FAULT_TX_REORDER_PPM="$ppm" DEMI_FAULT_TX_CORRUPT_PPM="$ppm"
    ipv6_drop 0 0
    in_linux tc qdisc del dev "$IF_LINUX" clsact 2>/dev/null
}

# ipv6_drop EGRESS_PPM INGRESS_PPM: the two programs' rates (counters
# zeroed); egress drops are "stolen", so Linux TCP does not resend at once.
ipv6_drop() {
    "$ctl" "$prog_out" set "$1" stolen >/dev/null || netns_die "drop-ctl $prog_out set failed"
    "$ctl" "$prog_in" set "$2" shot >/dev/null || netns_die "drop-ctl $prog_in set failed"
}

# TCP segments the two programs dropped since the last ipv6_drop.
ipv6_tc_drops() {
    echo $(($("$ctl" "$prog_out" show | awk '{ print $4 }') + $("$ctl" "$prog_in" show | awk '{ print $4 }')))
}

# The "fault injection:" line's WORD count, from libdemi's log.
ipv6_fault_field() {
    sed -n "s/.*fault injection:.* $2 \([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1
}

# ipv6_loss_rx NAME PORT FAULT_ENV...: Linux nc -6 sends to libdemi demi-nc.
ipv6_loss_rx() {
    local name=$1 port=$2 log=$tmp/t6-loss-$2.log src rc t0 t1 fd td
    shift 2
    demi_bg "$log" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info DEMI_STATS=1 \
        DEMI_FAULT_SEED=$$ "$@" sh -c "exec timeout $limit '$dnc' --listen $IP6_DEMI $port --until-peer-eof \
        --linger-ms 200 </dev/null >'$tmp/t6-loss.out'"
    src=$NETNS_PID
    if ! netns_wait_for "$log" "listening on" "$src" 100; then
        netns_stop "$src"
        not_ok "$name" "demi-nc did not listen" "$log"
        return
    fi
    t0=$(now_ns)
    in_linux timeout "$limit" nc -6 -N "$IP6_DEMI" "$port" <"$tmp/t6-loss.in" >/dev/null 2>"$tmp/t6-loss-nc.log"
    rc=$?
    wait "$src"
    src=$?
    t1=$(now_ns)
    td=$(ipv6_tc_drops)
    fd=$(ipv6_fault_field "$log" offered)
    if [ $rc -ne 0 ] || [ $src -ne 0 ] || [ "$(sha "$tmp/t6-loss.in")" != "$(sha "$tmp/t6-loss.out")" ]; then
        not_ok "$name" "nc exit $rc, demi-nc exit $src, got $(stat -c %s "$tmp/t6-loss.out") bytes" \
            "$tmp/t6-loss-nc.log" "$log"
    elif [ "$td" -le 0 ] || [ -z "$fd" ]; then
        not_ok "$name" "no loss: tc dropped $td, libdemi's injector line '${fd:-none}'" "$log"
    else
        ok "$name ($(rate "$(stat -c %s "$tmp/t6-loss.in")" $((t1 - t0))) MB/s; tc dropped $td;" \
            "libdemi's injector: offered $fd, dropped $(ipv6_fault_field "$log" dropped)," \
            "duplicated $(ipv6_fault_field "$log" duplicated), corrupted $(ipv6_fault_field "$log" corrupted))"
    fi
    rm -f "$tmp/t6-loss.out"
}

# ipv6_loss_tx NAME PORT FAULT_ENV...: libdemi demi-nc sends to Linux socat.
ipv6_loss_tx() {
    local name=$1 port=$2 log=$tmp/t6-loss-$2.log spid rc src fd td
    shift 2
    linux_bg "$tmp/t6-loss-socat.log" timeout "$limit" socat -u "TCP6-LISTEN:$port,bind=[$IP6_LINUX],reuseaddr" \
        "CREATE:$tmp/t6-loss.out"
    spid=$NETNS_PID
    if ! netns_wait_listen "$port"; then
        netns_stop "$spid"
        not_ok "$name" "socat did not listen" "$tmp/t6-loss-socat.log"
        return
    fi
    in_demi env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info DEMI_STATS=1 \
        DEMI_FAULT_SEED=$$ "$@" timeout "$limit" "$dnc" --connect "$IP6_LINUX" "$port" --linger-ms 2000 \
        <"$tmp/t6-loss.in" >/dev/null 2>"$log"
    rc=$?
    wait "$spid"
    src=$?
    td=$(ipv6_tc_drops)
    fd=$(ipv6_fault_field "$log" offered)
    if [ $rc -ne 0 ] || [ $src -ne 0 ] || [ "$(sha "$tmp/t6-loss.in")" != "$(sha "$tmp/t6-loss.out")" ]; then
        not_ok "$name" "demi-nc exit $rc, socat exit $src, got $(stat -c %s "$tmp/t6-loss.out" 2>/dev/null) bytes" \
            "$log" "$tmp/t6-loss-socat.log"
    elif [ "$td" -le 0 ] &&
        [ $(($(ipv6_fault_field "$log" dropped) + $(ipv6_fault_field "$log" corrupted) + 0)) -le 0 ]; then
        not_ok "$name" "no loss: tc dropped $td, libdemi's injector '${fd:-no line}'" "$log"
    else
        ok "$name ($(grep -o '[0-9.]* MB/s' "$log" | tail -n 1); tc dropped $td;" \
            "libdemi's injector: offered ${fd:-0}, dropped $(ipv6_fault_field "$log" dropped)," \
            "duplicated $(ipv6_fault_field "$log" duplicated), reordered $(ipv6_fault_field "$log" reordered)," \
            "corrupted $(ipv6_fault_field "$log" corrupted))"
    fi
    rm -f "$tmp/t6-loss.out"
}

# ------------------------------------------------------- UDP over IPv6
# Linux's sockets (python3) against demi-nc --udp --listen :: (an echo that
# replies to demi_sga_source's whole source): datagrams of 1 to 1452 bytes
# (the most one IPv6 packet of a 1500 MTU holds) to the global and the
# link-local address come back byte-exact from the address they went to; a
# dual-stack [::] socket echoes an IPv4 sender too (its source mapped); a
# datagram to a closed port draws libdemi's ICMPv6 port unreachable, which
# Linux's connected socket reports as ECONNREFUSED. A libdemi without UDP
# over IPv6 is a skip naming it, never a pass.
ipv6_udp_client() { # ADDR PORT SCOPE_IF COUNT: prints "ok N" or the failure
    in_linux timeout 60 python3 - "$@" <<'PY'
import os, socket, sys
addr, port, scope, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET if '.' in addr else socket.AF_INET6
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(3)
dst = (addr, port) if fam == socket.AF_INET else (addr, port, 0, socket.if_nametoindex(scope) if scope else 0)
s.connect(dst)
sizes = [1, 1452, 7, 1000, 64] + [1 + (k * 331) % 1452 for k in range(count)]
for k, n in enumerate(sizes[:count]):
    msg = os.urandom(n)
    s.send(msg)
    try:
        got, frm = s.recvfrom(2048)
    except socket.timeout:
        print("datagram %d (%d bytes): no echo in 3 s" % (k, n)); sys.exit(1)
    if got != msg:
        print("datagram %d: %d bytes back, not the %d sent" % (k, len(got), n)); sys.exit(1)
    if frm[0].split('%')[0] != addr or frm[1] != port:
        print("datagram %d: echoed from %r" % (k, frm)); sys.exit(1)
print("ok %d" % count)
PY
}

ipv6_udp_cases() {
    local dnc=$build/tests/integration/demi-nc log=$tmp/u6-echo.log out name n=20 spid rc
    netns_need python3
    [ -x "$dnc" ] || netns_die "$dnc is not built"
    in_linux ip -6 neigh flush dev "$IF_LINUX" >/dev/null 2>&1
    # Three clients: global, link-local, IPv4.
    demi_bg "$log" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info \
        timeout "$limit" "$dnc" --udp --listen :: 7300 --count $((3 * n))
    spid=$NETNS_PID
    if grep -q "demi_socket: Address family not supported" "$log" ||
        ! { netns_wait_for "$log" "listening on" "$spid" 100 && ipv6_dad_done "$log"; }; then
        if grep -q "demi_socket: Address family not supported" "$log"; then
            echo "ok - udp6: all UDP over IPv6 cases # SKIP UDP over IPv6 not in this build" \
                "(demi_socket(AF_INET6, SOCK_DGRAM): EAFNOSUPPORT)"
        else
            not_ok "udp6: demi-nc --udp --listen :: 7300 starts and passes DAD" "did not" "$log"
        fi
        netns_stop "$spid"
        return
    fi
    name="udp6: Linux sends $n datagrams (1 to 1452 bytes) to [$IP6_DEMI]:7300, each echoed byte-exact"
    out=$(ipv6_udp_client "$IP6_DEMI" 7300 "" $n 2>&1)
    if [ "$out" = "ok $n" ]; then ok "$name"; else not_ok "$name" "$out" "$log"; fi
    name="udp6: Linux sends $n datagrams to [$LL_DEMI%$IF_LINUX]:7300 (link-local), each echoed byte-exact"
    out=$(ipv6_udp_client "$LL_DEMI" 7300 "$IF_LINUX" $n 2>&1)
    if [ "$out" = "ok $n" ]; then ok "$name"; else not_ok "$name" "$out" "$log"; fi
    name="udp6: Linux sends $n IPv4 datagrams to $NETNS_IP_DEMI:7300, echoed by the dual-stack [::] socket"
    out=$(ipv6_udp_client "$NETNS_IP_DEMI" 7300 "" $n 2>&1)
    if [ "$out" = "ok $n" ]; then ok "$name"; else not_ok "$name" "$out" "$log"; fi
    name="udp6: demi-nc echoed $((3 * n)) datagrams and exited 0"
    wait "$spid"
    rc=$?
    if [ $rc -eq 0 ] && grep -q "$((3 * n)) datagrams echoed" "$log"; then ok "$name"; else
        not_ok "$name" "exit $rc" "$log"
    fi

    # A closed port: libdemi (running, nothing on 7301) answers port unreachable.
    name="udp6: a datagram to closed [$IP6_DEMI]:7301 draws ICMPv6 port unreachable (Linux: ECONNREFUSED)"
    demi_bg "$log.2" env DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR="$IP6_DEMI" DEMI_LIBDEMI_LOG_LEVEL=info \
        timeout "$limit" "$dnc" --udp --listen :: 7300 --count 1
    spid=$NETNS_PID
    if netns_wait_for "$log.2" "listening on" "$spid" 100 && ipv6_dad_done "$log.2"; then
        out=$(in_linux timeout 20 python3 - "$IP6_DEMI" <<'PY' 2>&1
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 7301))
for _ in range(3):
    s.send(b"anyone?")
    try:
        s.recv(100)
        print("an answer came"); sys.exit(1)
    except ConnectionRefusedError:
        print("refused"); sys.exit(0)
    except socket.timeout:
        pass
print("no ICMPv6 in 9 s")
PY
)
        if [ "$out" = refused ]; then ok "$name"; else not_ok "$name" "$out" "$log.2"; fi
    else
        not_ok "$name" "demi-nc did not start" "$log.2"
    fi
    netns_stop "$spid"
}

ipv6_tcp_cases
ipv6_udp_cases
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
