#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# catpowder.sh BUILD_DIR: LIBOS=catpowder (libdemi's TCP/IP stack over
# AF_PACKET, or AF_XDP when DEMI_RAW_SOCKET_MODE=af_xdp is in the
# environment) against the Linux kernel's stack, over a veth pair between two
# network namespaces (netns-lib.sh). libdemi is 10.77.0.2, Linux 10.77.0.1.
# Covers ARP both ways, ICMP echo, TCP both ways with checksummed bulk data,
# TCP echo latency, UDP echo both ways, and refused connections both ways.
# A capture of the control packets (ARP, ICMP, SYN/FIN/RST) is kept in
# BUILD_DIR/meson-logs when a case fails.
#
# Needs root, iproute2, ethtool, netcat-openbsd, socat, iputils-ping and
# tcpdump; fails (does not skip) when any is missing.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/netns-lib.sh
. "$here/netns-lib.sh"
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"

mode=${DEMI_RAW_SOCKET_MODE:-af_packet}
case $mode in
af_packet | af_xdp) ;;
*) netns_die "DEMI_RAW_SOCKET_MODE=$mode: af_packet or af_xdp" ;;
esac
echo "# raw_socket.mode $mode"
ex=$build/examples
dnc=$build/tests/integration/demi-nc
limit=${CATPOWDER_TIMEOUT:-60} # seconds allowed to one process of a case
echo_size=$((10 * 1024 * 1024))
bulk_size=$((100 * 1024 * 1024))

for f in "$ex/tcp-echo" "$ex/udp-ping-pong" "$dnc"; do
    [ -x "$f" ] || netns_die "$f is not built"
done
netns_need nc socat ping tcpdump sha256sum ss head
netns_setup
tmp=$NETNS_TMP

# Control packets on the Linux end, for evidence and post-mortems.
linux_bg "$tmp/tcpdump.log" timeout 280 tcpdump -U -n -i "$IF_LINUX" -s 128 -w "$tmp/ctl.pcap" \
    'arp or icmp or (tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0)'
tcpdump_pid=$NETNS_PID
for _ in $(seq 50); do
    grep -q "listening on" "$tmp/tcpdump.log" 2>/dev/null && break
    sleep 0.1
done

# Start a libdemi server and wait for its "listening on" line.
start_demi_server() {
    local log=$1
    shift
    demi_bg "$log" timeout "$limit" "$@"
    netns_wait_for "$log" "listening on" "$NETNS_PID" 100
}

head -c "$echo_size" /dev/urandom >"$tmp/echo.in"
head -c "$bulk_size" /dev/urandom >"$tmp/bulk.in"

# ------------------------------------------------------------ Linux -> libdemi
# One libdemi echo server answers ARP, ICMP and TCP for these cases.
if start_demi_server "$tmp/echo-server.log" "$ex/tcp-echo" --server "$NETNS_IP_DEMI" 7000; then
    server=$NETNS_PID

    name="arp: Linux resolves $NETNS_IP_DEMI to libdemi's MAC $NETNS_MAC_DEMI"
    in_linux ip neigh flush dev "$IF_LINUX" >/dev/null 2>&1
    in_linux timeout 10 ping -c 1 -W 2 "$NETNS_IP_DEMI" >"$tmp/arp.log" 2>&1
    in_linux ip neigh show "$NETNS_IP_DEMI" dev "$IF_LINUX" >>"$tmp/arp.log" 2>&1
    if grep -qi "lladdr $NETNS_MAC_DEMI" "$tmp/arp.log"; then
        ok "$name"
    else
        not_ok "$name" "neighbor entry: $(tail -n 1 "$tmp/arp.log")" "$tmp/arp.log"
    fi

    name="icmp: ping -c 3 $NETNS_IP_DEMI (56 and 1472 bytes) answered by libdemi"
    if in_linux timeout 20 ping -c 3 -i 0.2 -W 2 "$NETNS_IP_DEMI" >"$tmp/ping.log" 2>&1 &&
        in_linux timeout 20 ping -c 3 -i 0.2 -W 2 -s 1472 -M "do" "$NETNS_IP_DEMI" >>"$tmp/ping.log" 2>&1 &&
        [ "$(grep -c '3 received' "$tmp/ping.log")" -eq 2 ]; then
        ok "$name ($(grep rtt "$tmp/ping.log" | head -n 1 | cut -d= -f2 | cut -d/ -f2) ms avg)"
    else
        not_ok "$name" "$(grep -m1 'packet loss' "$tmp/ping.log")" "$tmp/ping.log"
    fi

    name="tcp: Linux nc -> libdemi tcp-echo server, $((echo_size >> 20)) MiB random data echoed intact"
    t0=$(now_ns)
    in_linux timeout "$limit" nc -N "$NETNS_IP_DEMI" 7000 <"$tmp/echo.in" >"$tmp/echo.out" 2>"$tmp/nc-echo.log"
    rc=$?
    t1=$(now_ns)
    if [ $rc -eq 0 ] && [ "$(sha "$tmp/echo.in")" = "$(sha "$tmp/echo.out")" ]; then
        ok "$name ($(rate $((2 * echo_size)) $((t1 - t0))) MB/s both directions together)"
    else
        not_ok "$name" "nc exit $rc, got $(stat -c %s "$tmp/echo.out") of $echo_size bytes" \
            "$tmp/nc-echo.log" "$tmp/echo-server.log"
    fi

    name="tcp: Linux connect to a closed libdemi port is refused (RST)"
    in_linux timeout 10 nc -z -w 5 "$NETNS_IP_DEMI" 7999 >"$tmp/nc-refused.log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && in_linux timeout 10 nc -v -w 5 "$NETNS_IP_DEMI" 7999 </dev/null 2>&1 |
        tee -a "$tmp/nc-refused.log" | grep -q "refused"; then
        ok "$name"
    else
        not_ok "$name" "nc -z exit $rc" "$tmp/nc-refused.log"
    fi

    name="tcp: libdemi echo server still serving after those cases"
    if kill -0 "$server" 2>/dev/null; then
        ok "$name"
    else
        wait "$server"
        not_ok "$name" "server exit $?" "$tmp/echo-server.log"
    fi
    netns_stop "$server"
else
    not_ok "tcp: libdemi tcp-echo server starts on $IF_DEMI" "did not listen" "$tmp/echo-server.log"
fi

name="tcp: Linux nc -> libdemi demi-nc --listen, $((bulk_size >> 20)) MiB one way, sha256 equal"
# demi-nc writes what it receives to stdout, its messages to stderr (the log).
demi_bg "$tmp/dnc-listen.log" sh -c "exec timeout $limit '$dnc' --listen $NETNS_IP_DEMI 7001 \
    --until-peer-eof --linger-ms 200 </dev/null >'$tmp/bulk-rx.out'"
server=$NETNS_PID
if netns_wait_for "$tmp/dnc-listen.log" "listening on" "$server" 100; then
    t0=$(now_ns)
    in_linux timeout "$limit" nc -N "$NETNS_IP_DEMI" 7001 <"$tmp/bulk.in" >/dev/null 2>"$tmp/nc-bulk.log"
    rc=$?
    wait "$server"
    src=$?
    t1=$(now_ns)
    if [ $rc -eq 0 ] && [ $src -eq 0 ] && [ "$(sha "$tmp/bulk.in")" = "$(sha "$tmp/bulk-rx.out")" ]; then
        ok "$name ($(rate "$bulk_size" $((t1 - t0))) MB/s)"
    else
        not_ok "$name" "nc exit $rc, demi-nc exit $src, got $(stat -c %s "$tmp/bulk-rx.out") bytes" \
            "$tmp/nc-bulk.log" "$tmp/dnc-listen.log"
    fi
else
    not_ok "$name" "demi-nc did not listen" "$tmp/dnc-listen.log"
fi

name="udp: Linux socat -> libdemi echo (demi-nc --udp --listen), 5 datagrams"
demi_bg "$tmp/udp-server.log" timeout "$limit" "$dnc" --udp --listen "$NETNS_IP_DEMI" 7002 --count 5 \
    --linger-ms 500
server=$NETNS_PID
if netns_wait_for "$tmp/udp-server.log" "listening on" "$server" 100; then
    bad=0
    for i in 1 2 3 4 5; do
        msg=$(printf 'datagram-%d-%0*d' "$i" $((i * 200)) 0)
        got=$(printf '%s' "$msg" | in_linux timeout 10 socat -t 1 - "UDP:$NETNS_IP_DEMI:7002" 2>>"$tmp/udp-client.log")
        if [ "$got" != "$msg" ]; then
            echo "datagram $i (${#msg} bytes): got ${#got} bytes back" >>"$tmp/udp-client.log"
            bad=$((bad + 1))
        fi
    done
    wait "$server"
    src=$?
    if [ $bad -eq 0 ] && [ $src -eq 0 ]; then
        ok "$name"
    else
        not_ok "$name" "$bad datagrams wrong, server exit $src" "$tmp/udp-client.log" "$tmp/udp-server.log"
    fi
else
    not_ok "$name" "server did not start" "$tmp/udp-server.log"
fi

# ------------------------------------------------------------ libdemi -> Linux
name="tcp: libdemi demi-nc -> Linux socat server, $((bulk_size >> 20)) MiB, sha256 equal"
linux_bg "$tmp/socat-bulk.log" timeout "$limit" socat -u \
    "TCP-LISTEN:7101,bind=$NETNS_IP_LINUX,reuseaddr" "CREATE:$tmp/bulk-tx.out"
server=$NETNS_PID
if netns_wait_listen 7101; then
    t0=$(now_ns)
    in_demi timeout "$limit" "$dnc" --connect "$NETNS_IP_LINUX" 7101 --linger-ms 1000 \
        <"$tmp/bulk.in" >/dev/null 2>"$tmp/dnc-bulk.log"
    rc=$?
    wait "$server"
    src=$?
    t1=$(now_ns)
    if [ $rc -eq 0 ] && [ $src -eq 0 ] && [ "$(sha "$tmp/bulk.in")" = "$(sha "$tmp/bulk-tx.out")" ]; then
        # demi-nc's own figure stops when the last byte is queued; ours
        # includes the 1 s linger, so report demi-nc's.
        ok "$name ($(grep -o '[0-9.]* MB/s' "$tmp/dnc-bulk.log" | tail -n 1))"
    else
        not_ok "$name" "demi-nc exit $rc, socat exit $src, got $(stat -c %s "$tmp/bulk-tx.out" 2>/dev/null) bytes" \
            "$tmp/dnc-bulk.log" "$tmp/socat-bulk.log"
    fi
else
    netns_stop "$server"
    not_ok "$name" "socat did not listen" "$tmp/socat-bulk.log"
fi

name="tcp: libdemi tcp-echo client <-> Linux socat echo, 2000 x 64 B round trips"
linux_bg "$tmp/socat-echo.log" timeout "$limit" socat "TCP-LISTEN:7102,bind=$NETNS_IP_LINUX,reuseaddr,fork" PIPE
server=$NETNS_PID
if netns_wait_listen 7102 &&
    in_demi timeout "$limit" "$ex/tcp-echo" --client "$NETNS_IP_LINUX" 7102 --size 64 --msgs 2000 \
        --warmup 100 >"$tmp/echo-client.log" 2>&1; then
    ok "$name ($(grep -o 'p50=[^ ]*' "$tmp/echo-client.log") $(grep -o 'p99=[^ ]*' "$tmp/echo-client.log"))"
else
    not_ok "$name" "client failed" "$tmp/echo-client.log" "$tmp/socat-echo.log"
fi
netns_stop "$server"

name="udp: libdemi udp-ping-pong client -> Linux socat echo, 200 x 512 B verified"
linux_bg "$tmp/socat-udp.log" timeout "$limit" socat "UDP4-RECVFROM:7103,bind=$NETNS_IP_LINUX,fork" PIPE
server=$NETNS_PID
if netns_wait_listen -u 7103 &&
    in_demi timeout "$limit" "$ex/udp-ping-pong" --client "$NETNS_IP_LINUX" 7103 512 200 \
        >"$tmp/udp-ping-pong.log" 2>&1; then
    ok "$name"
else
    not_ok "$name" "client failed" "$tmp/udp-ping-pong.log" "$tmp/socat-udp.log"
fi
netns_stop "$server"

name="udp: libdemi demi-nc --udp -> Linux socat echo, 5 datagrams"
linux_bg "$tmp/socat-udp.log" timeout "$limit" socat "UDP4-RECVFROM:7104,bind=$NETNS_IP_LINUX,fork" PIPE
server=$NETNS_PID
if netns_wait_listen -u 7104; then
    for i in 1 2 3 4 5; do printf 'line-%d-%0*d\n' "$i" $((i * 250)) 0; done >"$tmp/udp.in"
    in_demi timeout "$limit" "$dnc" --udp --connect "$NETNS_IP_LINUX" 7104 --bind "$NETNS_IP_DEMI" \
        <"$tmp/udp.in" >"$tmp/udp.out" 2>"$tmp/dnc-udp.log"
    rc=$?
    if [ $rc -eq 0 ] && cmp -s "$tmp/udp.in" "$tmp/udp.out"; then
        ok "$name"
    else
        not_ok "$name" "demi-nc exit $rc, replies differ" "$tmp/dnc-udp.log" "$tmp/socat-udp.log"
    fi
else
    not_ok "$name" "socat did not bind" "$tmp/socat-udp.log"
fi
netns_stop "$server"

name="tcp: libdemi connect to a closed Linux port fails with ECONNREFUSED"
t0=$(now_ns)
in_demi timeout 20 "$dnc" --connect "$NETNS_IP_LINUX" 7199 </dev/null >/dev/null 2>"$tmp/dnc-refused.log"
rc=$?
t1=$(now_ns)
if [ $rc -eq 1 ] && grep -q "Connection refused" "$tmp/dnc-refused.log"; then
    ok "$name (in $(((t1 - t0) / 1000000)) ms)"
else
    not_ok "$name" "demi-nc exit $rc" "$tmp/dnc-refused.log"
fi

# ------------------------------------------------------------ jumbo frames
# MTU 9000 on both veth ends and in libdemi (AF_PACKET; AF_XDP frames here
# hold at most 4 KiB): Linux's TCP and ours agree on 8960-byte segments.
if [ "$mode" = af_packet ]; then
    name="jumbo: MTU 9000 both ends, Linux nc -> libdemi tcp-echo, $((echo_size >> 20)) MiB intact in jumbo frames"
    ip -n "$NS_LINUX" link set "$IF_LINUX" mtu 9000 && ip -n "$NS_DEMI" link set "$IF_DEMI" mtu 9000
    if start_demi_server "$tmp/jumbo-server.log" env DEMI_INETSTACK_CONFIG_MTU=9000 \
        DEMI_INETSTACK_CONFIG_ENABLE_JUMBO_FRAMES=true DEMI_STATS=1 \
        "$ex/tcp-echo" --server "$NETNS_IP_DEMI" 7400 --once; then
        server=$NETNS_PID
        in_linux timeout "$limit" nc -N "$NETNS_IP_DEMI" 7400 <"$tmp/echo.in" >"$tmp/jumbo.out" 2>"$tmp/nc-jumbo.log"
        rc=$?
        wait "$server"
        rx=$(counter "$tmp/jumbo-server.log" eth_rx)
        if [ $rc -ne 0 ] || [ "$(sha "$tmp/echo.in")" != "$(sha "$tmp/jumbo.out")" ]; then
            not_ok "$name" "nc exit $rc, got $(stat -c %s "$tmp/jumbo.out") of $echo_size bytes" \
                "$tmp/nc-jumbo.log" "$tmp/jumbo-server.log"
        elif [ "$rx" = n/a ] || [ "$rx" -ge $((echo_size / 3000)) ]; then
            # 1500-byte frames would take some 7 200 data frames alone.
            not_ok "$name" "$rx frames received for $echo_size bytes: not jumbo" "$tmp/jumbo-server.log"
        else
            ok "$name ($rx frames received)"
        fi
    else
        not_ok "$name" "the server did not start" "$tmp/jumbo-server.log"
    fi
    ip -n "$NS_LINUX" link set "$IF_LINUX" mtu 1500
    ip -n "$NS_DEMI" link set "$IF_DEMI" mtu 1500
fi

# ------------------------------------------------------------ start-up errors
# expect_init_error NAME PATTERN [VAR=VALUE...] [-- PREFIX COMMAND...]:
# demi-nc must fail to start with PATTERN in its messages.
expect_init_error() {
    local name=$1 pattern=$2 log=$tmp/init-error.log rc
    shift 2
    local vars=() pre=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        vars+=("$1")
        shift
    done
    [ "${1:-}" = -- ] && shift && pre=("$@")
    in_demi "${vars[@]}" timeout 20 "${pre[@]}" "$dnc" --connect "$NETNS_IP_LINUX" 7199 </dev/null \
        >/dev/null 2>"$log"
    rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$pattern" "$log"; then
        ok "$name"
    else
        not_ok "$name" "exit $rc, no '$pattern'" "$log"
    fi
}

expect_init_error "errors: no CAP_NET_RAW -> EPERM naming the capability" "needs CAP_NET_RAW" \
    -- setpriv --bounding-set=-net_raw --inh-caps=-net_raw
expect_init_error "errors: unknown interface -> ENODEV naming it" 'no interface named "nosuch0"' \
    DEMI_RAW_SOCKET_LINUX_INTERFACE_NAME=nosuch0
expect_init_error "errors: demikernel.local_link_addr differs from the interface's MAC" \
    "MAC mismatch: demikernel.local_link_addr is 02:00:00:00:00:99 but interface $IF_DEMI has MAC" \
    DEMI_DEMIKERNEL_LOCAL_LINK_ADDR=02:00:00:00:00:99
expect_init_error "errors: no raw_socket.linux_interface_name -> names the key" \
    "needs raw_socket.linux_interface_name" DEMI_RAW_SOCKET_LINUX_INTERFACE_NAME=
if [ "$mode" = af_xdp ]; then
    expect_init_error "errors: af_xdp on a queue the interface lacks -> EINVAL naming the key" \
        "check raw_socket.xdp_queue" DEMI_RAW_SOCKET_XDP_QUEUE=7
    expect_init_error "errors: af_xdp zero-copy on veth (no driver support) -> EOPNOTSUPP, use copy" \
        "set raw_socket.xdp_bind: copy" DEMI_RAW_SOCKET_XDP_BIND=zero_copy
    name="errors: a second AF_XDP socket on the same queue -> EBUSY naming the cause"
    demi_bg "$tmp/xdp-holder.log" timeout 20 "$ex/tcp-echo" --server "$NETNS_IP_DEMI" 7300 --once
    holder=$NETNS_PID
    if netns_wait_for "$tmp/xdp-holder.log" "listening on" "$holder" 100; then
        expect_init_error "$name" "another AF_XDP socket has this queue"
    else
        not_ok "$name" "the first socket did not start" "$tmp/xdp-holder.log"
    fi
    netns_stop "$holder"
fi
in_demi_ip() { ip -n "$NS_DEMI" "$@"; }
in_demi_ip addr add "$NETNS_IP_DEMI/32" dev "$IF_DEMI"
expect_init_error "errors: warns when the kernel also owns $NETNS_IP_DEMI on $IF_DEMI" \
    "the Linux kernel also has $NETNS_IP_DEMI on $IF_DEMI"
in_demi_ip addr del "$NETNS_IP_DEMI/32" dev "$IF_DEMI"
in_demi_ip link set "$IF_DEMI" down
expect_init_error "errors: interface down -> ENETDOWN with the command to fix it" \
    "interface $IF_DEMI is down (ip link set $IF_DEMI up)"
in_demi_ip link set "$IF_DEMI" up

# What the capture saw of ARP: libdemi asked for Linux's address (it had no
# static entry, so every libdemi->Linux case above depended on the answer).
netns_stop "$tcpdump_pid"
tcpdump -n -e -r "$tmp/ctl.pcap" arp >"$tmp/arp-capture.log" 2>&1
name="arp: libdemi asks who-has $NETNS_IP_LINUX from $NETNS_MAC_DEMI and gets Linux's reply"
if grep -qi "^[0-9:.]* $NETNS_MAC_DEMI > ff:ff:ff:ff:ff:ff.*Request who-has $NETNS_IP_LINUX tell $NETNS_IP_DEMI" "$tmp/arp-capture.log" &&
    grep -qi "> $NETNS_MAC_DEMI.*Reply $NETNS_IP_LINUX is-at" "$tmp/arp-capture.log"; then
    ok "$name"
else
    not_ok "$name" "not in the capture" "$tmp/arp-capture.log"
fi

if [ $failed -gt 0 ] && [ -d "$build/meson-logs" ]; then
    cp "$tmp/ctl.pcap" "$build/meson-logs/catpowder-ctl.pcap" 2>/dev/null &&
        echo "# control-packet capture: $build/meson-logs/catpowder-ctl.pcap" >&2
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
