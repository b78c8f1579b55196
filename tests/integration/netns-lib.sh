# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# netns-lib.sh: helpers for tests that put libdemi (LIBOS=catpowder) and the
# Linux kernel's stack on the two ends of a veth pair, each end in its own
# network namespace. Source it, call netns_setup, run things with in_linux /
# in_demi; cleanup runs on EXIT (namespaces deleted, processes killed).
#
#   namespace $NS_LINUX: $IF_LINUX, 10.77.0.1/24, the kernel's stack (peer)
#   namespace $NS_DEMI:  $IF_DEMI, no kernel IPv4 address, IPv6 off: libdemi
#                        owns 10.77.0.2 there through AF_PACKET
#
# Why no kernel address on libdemi's side: AF_PACKET shares the interface
# with the kernel, which sees every frame too. Given 10.77.0.2 it would answer
# ARP for it and reset every TCP segment sent to a port it does not know.
# Offloads are off on both ends so frames are at most one MTU and carry
# finished checksums (veth otherwise passes 64 KiB TSO/GRO frames).
#
# Needs root (or CAP_NET_ADMIN + CAP_NET_RAW) and iproute2, ethtool. A setup
# failure is a test failure: CI runs as root, where everything is available.

NETNS_IP_LINUX=10.77.0.1
NETNS_IP_DEMI=10.77.0.2
NETNS_PREFIX=24
NS_LINUX=demi-$$-a
NS_DEMI=demi-$$-b
IF_LINUX=dl$$ # interface names: at most 15 characters
IF_DEMI=dd$$
NETNS_TMO=${NETNS_TMO:-30} # seconds allowed to one setup command

netns_pids=()

# Remember a background process to kill at exit.
netns_track() {
    netns_pids+=("$@")
}

netns_cleanup() {
    local pid ns
    for pid in "${netns_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${netns_pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    netns_pids=()
    # Anything still running inside our namespaces was started by us.
    for ns in "$NS_LINUX" "$NS_DEMI"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -9 "$pid" 2>/dev/null
        done
    done
    # Deleting a namespace removes its veth end, and with it the peer.
    ip netns del "$NS_LINUX" 2>/dev/null
    ip netns del "$NS_DEMI" 2>/dev/null
    [ -n "${NETNS_TMP:-}" ] && rm -rf "$NETNS_TMP"
    return 0
}

netns_die() {
    echo "not ok - netns setup: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

# Run a setup command with a time bound; die naming it on failure.
netns_run() {
    local out
    if ! out=$(timeout "$NETNS_TMO" "$@" 2>&1); then
        netns_die "'$*' failed: $out"
    fi
}

netns_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            netns_die "'$t' is not installed (scripts/install-deps.sh installs it)"
    done
}

# Offloads that would hand AF_PACKET oversized frames or unfinished checksums.
netns_offloads_off() {
    local ns=$1 ifc=$2 feature
    for feature in tso gso gro tx rx sg; do
        # A feature a driver lacks is not an error; one that stays on is.
        timeout "$NETNS_TMO" ip netns exec "$ns" ethtool -K "$ifc" "$feature" off >/dev/null 2>&1
    done
    if timeout "$NETNS_TMO" ip netns exec "$ns" ethtool -k "$ifc" 2>/dev/null |
        grep -Eq '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload): on'; then
        netns_die "cannot turn segmentation offloads off on $ifc"
    fi
}

netns_setup() {
    [ "$(id -u)" -eq 0 ] || netns_die "needs root (network namespaces, CAP_NET_RAW)"
    netns_need ip ethtool timeout
    trap netns_cleanup EXIT
    trap 'exit 130' INT TERM
    NETNS_TMP=$(mktemp -d /tmp/demi-netns.XXXXXX) || netns_die "mktemp failed"

    netns_run ip netns add "$NS_LINUX"
    netns_run ip netns add "$NS_DEMI"
    netns_run ip link add "$IF_LINUX" netns "$NS_LINUX" type veth peer name "$IF_DEMI" netns "$NS_DEMI"
    netns_run ip -n "$NS_LINUX" link set lo up
    netns_run ip -n "$NS_DEMI" link set lo up

    # Linux side: an ordinary host.
    netns_run ip netns exec "$NS_LINUX" sysctl -qw "net.ipv6.conf.$IF_LINUX.disable_ipv6=1"
    netns_run ip -n "$NS_LINUX" addr add "$NETNS_IP_LINUX/$NETNS_PREFIX" dev "$IF_LINUX"
    netns_offloads_off "$NS_LINUX" "$IF_LINUX"
    netns_run ip -n "$NS_LINUX" link set "$IF_LINUX" up

    # libdemi side: the kernel keeps out of IP (no address, no IPv6).
    netns_run ip netns exec "$NS_DEMI" sysctl -qw "net.ipv6.conf.$IF_DEMI.disable_ipv6=1"
    netns_offloads_off "$NS_DEMI" "$IF_DEMI"
    netns_run ip -n "$NS_DEMI" link set "$IF_DEMI" up

    NETNS_MAC_DEMI=$(ip -n "$NS_DEMI" -o link show "$IF_DEMI" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    [ -n "$NETNS_MAC_DEMI" ] || netns_die "no MAC on $IF_DEMI"
    export NETNS_MAC_DEMI
    netns_demi_env
}

in_linux() {
    ip netns exec "$NS_LINUX" "$@"
}

# The libdemi end's environment. NETNS_DEMI_LIBOS picks the libOS on
# $IF_DEMI: catpowder (the default; raw_socket.mode from the caller's
# environment) or catnip (DPDK's net_af_packet on the same interface, no
# hugepages, one lcore; each process its own EAL, --no-shconf).
netns_demi_env() {
    NETNS_DEMI_ENV=(DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR="$NETNS_IP_DEMI")
    case ${NETNS_DEMI_LIBOS:-catpowder} in
    catpowder)
        NETNS_DEMI_ENV+=(LIBOS=catpowder DEMI_RAW_SOCKET_LINUX_INTERFACE_NAME="$IF_DEMI")
        ;;
    catnip)
        NETNS_DEMI_ENV+=(LIBOS=catnip DEMI_DPDK_LINK_WAIT_MS=2000
            "DEMI_DPDK_EAL_INIT=demi -l 0 --no-huge --no-pci --no-telemetry --no-shconf --log-level=warning --vdev=net_af_packet0,iface=$IF_DEMI")
        ;;
    *) netns_die "NETNS_DEMI_LIBOS=$NETNS_DEMI_LIBOS: catpowder or catnip" ;;
    esac
}

# Run a libdemi program on the libdemi end (environment: netns_demi_env).
# Only one libdemi process may use the interface at a time: each sees every
# frame, and one would reset the other's TCP connections.
in_demi() {
    ip netns exec "$NS_DEMI" env "${NETNS_DEMI_ENV[@]}" "$@"
}

# Background variants: output to LOG, pid in NETNS_PID (the process itself:
# ip netns exec and env exec, so killing it reaches the program, or timeout,
# which passes the signal on). Tracked for cleanup.
linux_bg() {
    local log=$1
    shift
    ip netns exec "$NS_LINUX" "$@" >"$log" 2>&1 &
    NETNS_PID=$!
    netns_track "$NETNS_PID"
}

demi_bg() {
    local log=$1
    shift
    ip netns exec "$NS_DEMI" env "${NETNS_DEMI_ENV[@]}" "$@" >"$log" 2>&1 &
    NETNS_PID=$!
    netns_track "$NETNS_PID"
}

# Stop a background process (if still running) and reap it; returns its status.
netns_stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# Wait until a file contains a pattern (or the process dies / time runs out).
netns_wait_for() {
    local file=$1 pattern=$2 pid=$3 tries=${4:-100}
    for _ in $(seq "$tries"); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
        sleep 0.1
    done
    return 1
}

# Wait until a TCP (or with -u UDP) port is bound in the Linux namespace.
netns_wait_listen() {
    local opt=-Hltn
    if [ "$1" = -u ]; then
        opt=-Hlun
        shift
    fi
    local port=$1 tries=${2:-100}
    for _ in $(seq "$tries"); do
        in_linux ss $opt "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}
