#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# catnip.sh BUILD_DIR: LIBOS=catnip (libdemi's TCP/IP stack over DPDK).
#
# Two catnip processes over DPDK's net_memif (shared memory, no hugepages):
# TCP echo, TCP bulk transfer checked byte by byte, TCP and UDP ping-pong.
# Then catnip against the Linux kernel's TCP over net_tap, and over
# net_af_packet and net_af_xdp on a veth pair, inside a network namespace
# (those need root and iproute2; they are reported as skipped otherwise).
# And the errors a user meets first: a memif client with no server, a bad
# dpdk.eal_init.
#
# Every process is bounded by timeout(1); servers, namespaces, sockets and
# DPDK runtime directories are removed on every exit path.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
ex=$build/examples
limit=${CATNIP_TIMEOUT:-120} # seconds allowed to one process of a case

tmp=$(mktemp -d)
pids=()
netns=
passed=0
failed=0
skipped=0
run_id=$$

# DPDK keeps a runtime directory per --file-prefix (with --no-huge and no
# --in-memory, which memif needs): under /var/run/dpdk as root, else under
# XDG_RUNTIME_DIR or /tmp.
dpdk_rundir() {
    if [ "$(id -u)" -eq 0 ]; then
        echo /var/run/dpdk
    else
        echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk"
    fi
}

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
    rm -rf "$(dpdk_rundir)"/demi-"$run_id"-* /tmp/demi-memif-"$run_id"-*.sock "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in tcp-echo tcp-push-pop tcp-ping-pong udp-ping-pong; do
    if [ ! -x "$ex/$f" ]; then
        echo "catnip.sh: $ex/$f is missing (build first)" >&2
        exit 1
    fi
done

# One lcore per process when there are two, so the two pollers don't share.
if [ "$(nproc)" -ge 2 ]; then
    core_s=0
    core_c=1
else
    core_s=0
    core_c=0
fi

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

skip() {
    echo "ok - $1 # SKIP $2"
    skipped=$((skipped + 1))
}

# not_ok NAME REASON [LOG...]: the logs go to stderr, indented.
not_ok() {
    local name=$1 why=$2 log
    shift 2
    echo "not ok - $name ($why)"
    failed=$((failed + 1))
    for log in "$@"; do
        [ -s "$log" ] || continue
        echo "--- $(basename "$log") of '$name'"
        tail -n 30 "$log"
    done | sed 's/^/# /' >&2
}

reason() {
    local who=$1 rc=$2 log=$3
    if [ "$rc" -eq 124 ]; then
        echo "$who timed out after ${limit}s"
    else
        echo "$who exit $rc: $(grep -v '^EAL:' "$log" 2>/dev/null | tail -n 1)"
    fi
}

wait_ready() {
    local log=$1 pid=$2
    for _ in $(seq 200); do
        grep -q "listening on" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# memif_env ROLE IP N: sets menv, the environment of one catnip process on
# memif pair N. The two ends share a socket (abstract by default: no file)
# and each has its own EAL file prefix, so two DPDK processes coexist
# without hugepages.
# With server_mtu / client_mtu set above 1500, that end runs with jumbo
# frames (docs/catnip.md): the MTU, enable_jumbo_frames, EAL memory for the
# larger mbufs, memif buffers that hold a frame, and its counters at exit.
server_mtu=1500
client_mtu=1500
memif_env() {
    local role=$1 ip=$2 n=$3 core=$core_c wait=5000 mtu=$client_mtu mem="" bsize=""
    if [ "$role" = server ]; then
        core=$core_s
        wait=0 # its link comes up when the client connects
        mtu=$server_mtu
    fi
    if [ "$mtu" -gt 1500 ]; then
        mem="-m 256 "
        bsize=",bsize=9216"
    fi
    menv=(LIBOS=catnip "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=$ip" "DEMI_DPDK_LINK_WAIT_MS=$wait"
        "DEMI_DPDK_EAL_INIT=demi -l $core --no-huge $mem--no-pci --no-telemetry --log-level=warning --file-prefix=demi-$run_id-$n-$role --vdev=net_memif0,role=$role,socket=/tmp/demi-memif-$run_id-$n.sock$bsize")
    if [ "$mtu" -gt 1500 ]; then
        menv+=("DEMI_INETSTACK_CONFIG_MTU=$mtu" DEMI_INETSTACK_CONFIG_ENABLE_JUMBO_FRAMES=true DEMI_STATS=1)
    fi
}

# run_pair NAME PROGRAM "SERVER ARGS" "CLIENT ARGS" [CLIENT_REGEX [SERVER_REGEX]]
# Server and client as two catnip processes over a fresh memif pair.
pair_n=0
run_pair() {
    local name=$1 prog=$2 sargs=$3 cargs=$4 ccheck=${5:-} scheck=${6:-}
    local slog clog spid rc_s rc_c why='' port=7000
    pair_n=$((pair_n + 1))
    slog=$tmp/$pair_n-$prog.server.log
    clog=$tmp/$pair_n-$prog.client.log
    : >"$clog"

    memif_env server 10.99.0.1 $pair_n
    # The argument strings are lists of words.
    # shellcheck disable=SC2086
    timeout "$limit" env "${menv[@]}" "$ex/$prog" --server 10.99.0.1 $port $sargs >"$slog" 2>&1 &
    spid=$!
    pids+=("$spid")
    if ! wait_ready "$slog" "$spid"; then
        kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        not_ok "$name" "$(reason server "$rc_s" "$slog") before listening" "$slog"
        return
    fi
    memif_env client 10.99.0.2 $pair_n
    # shellcheck disable=SC2086
    timeout "$limit" env "${menv[@]}" "$ex/$prog" --client 10.99.0.1 $port $cargs >"$clog" 2>&1
    rc_c=$?
    # A client that failed may leave the server waiting: don't wait for it.
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid"
    rc_s=$?
    if [ "$rc_c" -ne 0 ]; then
        why=$(reason client "$rc_c" "$clog")
    elif [ "$rc_s" -ne 0 ]; then
        why=$(reason server "$rc_s" "$slog")
    elif [ -n "$ccheck" ] && ! grep -Eq "$ccheck" "$clog"; then
        why="client output does not match /$ccheck/"
    elif [ -n "$scheck" ] && ! grep -Eq "$scheck" "$slog"; then
        why="server output does not match /$scheck/"
    fi
    if [ -z "$why" ]; then
        ok "$name"
        grep -h '^tcp-echo: libos=' "$clog" | sed 's/^/# /'
    else
        not_ok "$name" "$why" "$slog" "$clog"
    fi
    rm -rf "$(dpdk_rundir)"/demi-"$run_id"-"$pair_n"-* /tmp/demi-memif-"$run_id"-"$pair_n".sock
}

# run_fail NAME REGEX ENV...: demi_init must fail with a message matching REGEX.
run_fail() {
    local name=$1 expect=$2 log=$tmp/fail-$RANDOM.log rc why=
    shift 2
    timeout "$limit" env "$@" "$ex/tcp-echo" --client 10.99.0.1 7000 --msgs 1 >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        why="exited 0"
    elif [ "$rc" -eq 124 ]; then
        why="timed out"
    elif ! grep -Eq "$expect" "$log"; then
        why="message does not match /$expect/: $(tail -n 1 "$log")"
    fi
    if [ -z "$why" ]; then ok "$name"; else not_ok "$name" "$why" "$log"; fi
}

# ---- catnip <-> catnip over net_memif -------------------------------------

run_pair "tcp-echo 64 B x 100000 over memif" tcp-echo "--once" "--msgs 100000 --warmup 1000 --conns 1" \
    "conns=1 msgs=100000 p50=[0-9.]+us"
run_pair "tcp-echo 1 KiB x 20000, 8 connections over memif" tcp-echo "--once" \
    "--size 1024 --msgs 20000 --warmup 80 --conns 8" "conns=8 msgs=20000 p50=[0-9.]+us"
run_pair "tcp-push-pop 256 MiB in 64 KiB pushes, byte-exact, over memif" tcp-push-pop "65536 4096" \
    "65536 4096" "sent 268435456 bytes" "received 268435456 bytes"
run_pair "tcp-push-pop 16 MiB in 1 KiB pushes (zero copy), byte-exact, over memif" tcp-push-pop \
    "1024 16384" "1024 16384" "sent 16777216 bytes" "received 16777216 bytes"
run_pair "tcp-ping-pong 4096 B x 2000 over memif" tcp-ping-pong "" "4096 2000" "verified 2000 messages"
run_pair "udp-ping-pong 64 B x 10000 over memif" udp-ping-pong "64 10000" "64 10000" \
    "verified 10000 datagrams"
run_pair "udp-ping-pong 1472 B x 2000 over memif" udp-ping-pong "1472 2000" "1472 2000" \
    "verified 2000 datagrams"

# ---- jumbo frames over net_memif ----------------------------------------------

# counter NAME LOG: a counter the process printed at exit (DEMI_STATS=1).
counter() {
    sed -n "s/^  $1  *\([0-9][0-9]*\) .*/\1/p" "$2" | head -n 1
}

# jumbo_frames_used NAME LOG BYTES: BYTES of payload came in fewer than
# BYTES / 4000 frames, impossible with 1500-byte frames (and 2 KiB mbufs).
jumbo_frames_used() {
    local name=$1 log=$2 bytes=$3 rx
    rx=$(counter eth_rx "$log")
    if [ -z "$rx" ]; then
        not_ok "$name: jumbo frames" "no eth_rx counter printed at exit" "$log"
    elif [ "$rx" -ge $((bytes / 4000)) ]; then
        not_ok "$name: jumbo frames" "$rx frames for $bytes bytes: not jumbo" "$log"
    else
        ok "$name: $bytes bytes in $rx frames"
    fi
}

server_mtu=9000 client_mtu=9000
name="tcp-push-pop 64 MiB in 64 KiB pushes, MTU 9000 both ends, byte-exact, over memif"
run_pair "$name" tcp-push-pop "65536 1024" "65536 1024" "sent 67108864 bytes" "received 67108864 bytes"
jumbo_frames_used "$name" "$tmp/$pair_n-tcp-push-pop.server.log" 67108864
run_pair "tcp-ping-pong 16 KiB x 2000, MTU 9000 both ends, over memif" tcp-ping-pong "" "16384 2000" \
    "verified 2000 messages"
run_pair "udp-ping-pong 8000 B x 2000 (one frame each), MTU 9000 both ends, over memif" udp-ping-pong \
    "8000 2000" "8000 2000" "verified 2000 datagrams"
# A jumbo end and a standard one: the standard end's MSS option (1460)
# keeps the jumbo end's segments within 1500 bytes.
server_mtu=1500 client_mtu=9000
run_pair "tcp-push-pop 16 MiB, jumbo client, standard server: MSS negotiated, byte-exact" tcp-push-pop \
    "65536 256" "65536 256" "sent 16777216 bytes" "received 16777216 bytes"
server_mtu=1500 client_mtu=1500

# ---- errors -----------------------------------------------------------------

run_fail "memif client without a server fails naming the port" \
    "DPDK port 0 \\(net_memif0\\): cannot start: .*a memif client needs its server" \
    LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.99.0.2 DEMI_DPDK_LINK_WAIT_MS=1000 \
    DEMI_DPDK_EAL_INIT="demi -l $core_c --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=demi-$run_id-x-client --vdev=net_memif0,role=client,socket=/tmp/demi-memif-$run_id-x.sock"
run_fail "no DPDK port fails clearly" "no DPDK port: pass a --vdev or a PCI device" \
    LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.99.0.2 \
    DEMI_DPDK_EAL_INIT="demi -l $core_c --no-huge --no-pci --no-telemetry --no-shconf --log-level=warning"
run_fail "bad dpdk.eal_init fails clearly" "rte_eal_init failed" \
    LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.99.0.2 \
    DEMI_DPDK_EAL_INIT="demi --no-huge --no-such-eal-option"
run_fail "missing local address fails clearly" "needs demikernel.local_ipv4_addr" LIBOS=catnip \
    DEMI_DPDK_EAL_INIT="demi --no-huge"
run_fail "a jumbo MTU without enable_jumbo_frames fails naming both keys" \
    "inetstack_config.mtu 9000 is a jumbo MTU .*enable_jumbo_frames: true" LIBOS=catnip \
    DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.99.0.2 DEMI_INETSTACK_CONFIG_MTU=9000 DEMI_DPDK_EAL_INIT="demi --no-huge"

# ---- catnip <-> the Linux kernel over net_tap and net_af_packet ------------

# Inside a namespace of its own: the kernel end has 10.98.0.1, catnip
# 10.98.0.2. linux_case NAME DEVARGS KERNEL_IF EXTRA_ENV...: a catnip
# tcp-echo server on the DPDK port, catnap (the kernel's TCP) as client, then
# a catnip udp-ping-pong server with a catnap client.
ns_exec() {
    ip netns exec "$netns" "$@"
}

linux_case() {
    local name=$1 vdev=$2 kif=$3
    shift 3
    local slog clog spid rc_c rc_s why prog sargs cargs ccheck
    local eal="demi -l $core_s --no-huge --no-pci --no-telemetry --no-shconf --log-level=warning --vdev=$vdev"
    for prog in tcp-echo udp-ping-pong; do
        if [ "$prog" = tcp-echo ]; then
            sargs="--once"
            cargs="--msgs 20000 --warmup 100 --size 1000"
            ccheck="msgs=20000 p50="
        else
            sargs="1000 2000"
            cargs="1000 2000"
            ccheck="verified 2000 datagrams"
        fi
        slog=$tmp/$kif-$prog.server.log
        clog=$tmp/$kif-$prog.client.log
        : >"$clog"
        # shellcheck disable=SC2086
        ns_exec timeout "$limit" env LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.98.0.2 \
            DEMI_DPDK_LINK_WAIT_MS=0 DEMI_DPDK_EAL_INIT="$eal" "$@" \
            "$ex/$prog" --server 10.98.0.2 7000 $sargs >"$slog" 2>&1 &
        spid=$!
        pids+=("$spid")
        if ! wait_ready "$slog" "$spid"; then
            kill "$spid" 2>/dev/null
            wait "$spid"
            rc_s=$?
            not_ok "$name: $prog" "$(reason server "$rc_s" "$slog") before listening" "$slog"
            continue
        fi
        # The kernel end of the device: up, with an address.
        for _ in $(seq 50); do
            ns_exec ip link show "$kif" >/dev/null 2>&1 && break
            sleep 0.1
        done
        if ! ns_exec ip addr replace 10.98.0.1/24 dev "$kif" || ! ns_exec ip link set "$kif" up; then
            kill "$spid" 2>/dev/null
            wait "$spid"
            not_ok "$name: $prog" "cannot configure $kif" "$slog"
            continue
        fi
        # shellcheck disable=SC2086
        ns_exec timeout "$limit" env LIBOS=catnap "$ex/$prog" --client 10.98.0.2 7000 $cargs >"$clog" 2>&1
        rc_c=$?
        [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        why=
        if [ "$rc_c" -ne 0 ]; then
            why=$(reason client "$rc_c" "$clog")
        elif [ "$rc_s" -ne 0 ]; then
            why=$(reason server "$rc_s" "$slog")
        elif ! grep -Eq "$ccheck" "$clog"; then
            why="client output does not match /$ccheck/"
        fi
        if [ -z "$why" ]; then
            ok "$name: $prog, Linux client"
        else
            not_ok "$name: $prog, Linux client" "$why" "$slog" "$clog"
        fi
    done
}

# tso_case: TCP segmentation offload over net_tap. A catnip client
# sends 64 MiB in 64 KiB pushes to the Linux kernel's TCP (a catnap
# tcp-push-pop server in the namespace checks every byte); catnip's
# tcp_tx_tso counter must have risen. A port that does not offer TSO (the
# log line of demi_init says so) is a skip that says why, never a pass.
tso_case() {
    local name="net_tap, TCP segmentation offload: tcp-push-pop 64 MiB catnip -> Linux TCP, byte-exact"
    local slog=$tmp/tso.server.log clog=$tmp/tso.client.log spid cpid rc_c rc_s why='' tso segs
    local eal="demi -l $core_s --no-huge --no-pci --no-telemetry --no-shconf --log-level=warning --vdev=net_tap0,iface=dtap0"
    ns_exec timeout "$limit" env LIBOS=catnap "$ex/tcp-push-pop" --server 0.0.0.0 7001 65536 1024 >"$slog" 2>&1 &
    spid=$!
    pids+=("$spid")
    if ! wait_ready "$slog" "$spid"; then
        kill "$spid" 2>/dev/null
        wait "$spid"
        rc_s=$?
        not_ok "$name" "$(reason server "$rc_s" "$slog") before listening" "$slog"
        return
    fi
    # The client creates dtap0; it retries ARP until the kernel end is up.
    ns_exec timeout "$limit" env LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.98.0.2 DEMI_DPDK_LINK_WAIT_MS=0 \
        DEMI_DPDK_EAL_INIT="$eal" DEMI_STATS=1 DEMI_LOG=info \
        "$ex/tcp-push-pop" --client 10.98.0.1 7001 65536 1024 >"$clog" 2>&1 &
    cpid=$!
    pids+=("$cpid")
    for _ in $(seq 50); do
        ns_exec ip link show dtap0 >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ! ns_exec ip addr replace 10.98.0.1/24 dev dtap0 || ! ns_exec ip link set dtap0 up; then
        kill "$cpid" "$spid" 2>/dev/null
        wait "$cpid" "$spid"
        not_ok "$name" "cannot configure dtap0" "$clog"
        return
    fi
    wait "$cpid"
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid"
    rc_s=$?
    if grep -q "TCP segmentation offload not offered" "$clog"; then
        skip "$name" "$(grep -o 'driver [^)]*' "$clog" | head -n 1) does not offer RTE_ETH_TX_OFFLOAD_TCP_TSO here"
        return
    fi
    tso=$(counter tcp_tx_tso "$clog")
    segs=$(counter tcp_tx_tso_segs "$clog")
    if [ "$rc_c" -ne 0 ]; then
        why=$(reason client "$rc_c" "$clog")
    elif [ "$rc_s" -ne 0 ]; then
        why=$(reason server "$rc_s" "$slog")
    elif ! grep -q "received 67108864 bytes" "$slog"; then
        why="server output does not match /received 67108864 bytes/"
    elif ! grep -q "TCP segmentation offload in use" "$clog"; then
        why="demi_init did not log the offload in use"
    elif [ -z "$tso" ] || [ "$tso" -eq 0 ]; then
        why="tcp_tx_tso did not rise (${tso:-not printed})"
    fi
    if [ -z "$why" ]; then
        ok "$name: $tso frames cut into $segs segments"
    else
        not_ok "$name" "$why" "$slog" "$clog"
    fi
}

# ipv6_ping_case: Linux ping -6 over net_tap to catnip's global address
# (demikernel.local_ipv6_addr fd00:98::2) and its link-local one (from the
# port's MAC), after catnip's DAD. The tap's kernel end starts with the
# port's own MAC, so it would make the same link-local address: its DAD
# probe, sent while catnip's was running, made catnip find its own address
# a duplicate (CI saw it). So the tap is born with IPv6 off (the
# namespace's default), gets another MAC, and only then IPv6. Linux's NS
# for catnip go to the solicited-node group (multicast) and must reach the
# port.
ipv6_ping_case() {
    local name="net_tap, IPv6: Linux ping -6 to catnip's global and link-local addresses"
    local slog=$tmp/ping6.server.log plog=$tmp/ping6.log spid ll why=''
    local eal="demi -l $core_s --no-huge --no-pci --no-telemetry --no-shconf --log-level=warning --vdev=net_tap0,iface=dtap6"
    if [ ! -d /proc/sys/net/ipv6 ] || ! command -v ping >/dev/null 2>&1; then
        skip "$name" "needs the kernel's IPv6 and iputils-ping"
        return
    fi
    ns_exec sysctl -qw net.ipv6.conf.default.disable_ipv6=1 # for dtap6, made by catnip
    ns_exec timeout "$limit" env LIBOS=catnip DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.98.0.2 \
        DEMI_DEMIKERNEL_LOCAL_IPV6_ADDR=fd00:98::2 DEMI_LIBDEMI_LOG_LEVEL=info DEMI_DPDK_LINK_WAIT_MS=0 \
        DEMI_DPDK_EAL_INIT="$eal" "$ex/tcp-echo" --server 10.98.0.2 7000 >"$slog" 2>&1 &
    spid=$!
    pids+=("$spid")
    if ! wait_ready "$slog" "$spid"; then
        kill "$spid" 2>/dev/null
        wait "$spid"
        not_ok "$name" "$(reason server $? "$slog") before listening" "$slog"
        return
    fi
    for _ in $(seq 50); do
        ns_exec ip link show dtap6 >/dev/null 2>&1 && break
        sleep 0.1
    done
    ns_exec sysctl -qw net.ipv6.conf.default.disable_ipv6=0
    # IPv6 off while the MAC changes: the link-local address is made anew
    # from the new MAC when it comes back on.
    if ! ns_exec sysctl -qw net.ipv6.conf.dtap6.disable_ipv6=1 ||
        ! ns_exec ip link set dtap6 address 02:00:00:98:00:01 ||
        ! ns_exec sysctl -qw net.ipv6.conf.dtap6.disable_ipv6=0 ||
        ! ns_exec ip addr replace fd00:98::1/64 dev dtap6 nodad || ! ns_exec ip link set dtap6 up; then
        kill "$spid" 2>/dev/null
        wait "$spid"
        not_ok "$name" "cannot configure dtap6" "$slog"
        return
    fi
    # catnip's DAD: both addresses found unique (1 s each, at once); and
    # Linux's own (its link-local address, the source of a ping to ours, is
    # tentative until then).
    for _ in $(seq 50); do
        [ "$(grep -c 'unique on the link' "$slog")" -ge 2 ] &&
            ns_exec ip -6 addr show dev dtap6 scope link | grep -q inet6 &&
            ! ns_exec ip -6 addr show dev dtap6 tentative | grep -q inet6 && break
        sleep 0.1
    done
    ll=$(sed -n 's/.*IPv6 address \(fe80::[0-9a-f:]*\) is unique on the link.*/\1/p' "$slog" | head -n 1)
    if [ -z "$ll" ] || ! grep -q 'fd00:98::2 is unique on the link' "$slog"; then
        why="no DAD result for both addresses in catnip's log"
    elif ! ns_exec timeout 20 ping -6 -c 3 -i 0.2 -W 2 fd00:98::2 >"$plog" 2>&1 || ! grep -q '3 received' "$plog"; then
        why="global: $(grep -m1 'packet loss' "$plog")"
    elif ! ns_exec timeout 20 ping -6 -c 3 -i 0.2 -W 2 "$ll%dtap6" >>"$plog" 2>&1 ||
        [ "$(grep -c '3 received' "$plog")" -ne 2 ]; then
        why="link-local $ll: $(grep 'packet loss' "$plog" | tail -n 1)"
    elif ! ns_exec ip -6 neigh show fd00:98::2 dev dtap6 | grep -q lladdr; then
        why="Linux has no neighbor entry for fd00:98::2 (ND)"
    fi
    kill "$spid" 2>/dev/null
    wait "$spid"
    if [ -z "$why" ]; then
        ok "$name ($ll; $(grep rtt "$plog" | head -n 1 | cut -d= -f2 | cut -d/ -f2) ms avg)"
    else
        not_ok "$name" "$why" "$plog" "$slog"
    fi
}

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
    skip "catnip over net_tap against Linux TCP" "needs root and iproute2"
    skip "catnip over net_af_packet against Linux TCP" "needs root and iproute2"
elif ! ip netns add "demi-catnip-$run_id" 2>/dev/null; then
    skip "catnip over net_tap against Linux TCP" "cannot create a network namespace"
    skip "catnip over net_af_packet against Linux TCP" "cannot create a network namespace"
else
    netns=demi-catnip-$run_id
    ns_exec ip link set lo up
    if [ -c /dev/net/tun ]; then
        linux_case "net_tap" "net_tap0,iface=dtap0" dtap0
        linux_case "net_tap, TCP/UDP checksums offloaded" "net_tap0,iface=dtap0" dtap0 \
            DEMI_INETSTACK_CONFIG_TCP_CHECKSUM_OFFLOAD=true DEMI_INETSTACK_CONFIG_UDP_CHECKSUM_OFFLOAD=true
        tso_case
        ipv6_ping_case
    else
        skip "catnip over net_tap against Linux TCP" "no /dev/net/tun"
    fi
    # A veth pair: catnip on one end through AF_PACKET, the kernel on the
    # other (without checksum offload, so AF_PACKET sees complete frames).
    if ns_exec ip link add dveth0 type veth peer name dveth1 2>/dev/null; then
        ns_exec ip link set dveth0 up
        ns_exec ip link set dveth1 up
        if command -v ethtool >/dev/null 2>&1 &&
            ns_exec ethtool -K dveth0 tx off rx off >/dev/null 2>&1 &&
            ns_exec ethtool -K dveth1 tx off rx off >/dev/null 2>&1; then
            linux_case "net_af_packet on a veth pair" "net_af_packet0,iface=dveth0" dveth1
            # The same veth end through AF_XDP (DPDK's net_af_xdp PMD,
            # copy mode: veth has no AF_XDP zero-copy).
            linux_case "net_af_xdp on a veth pair" "net_af_xdp0,iface=dveth0,start_queue=0,queue_count=1" dveth1
        else
            skip "catnip over net_af_packet against Linux TCP" "needs ethtool to turn veth offloads off"
        fi
    else
        skip "catnip over net_af_packet and net_af_xdp against Linux TCP" "cannot create a veth pair"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
