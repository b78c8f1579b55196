#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demo.sh [BUILD_DIR]: TCP echo round-trip latency between two processes,
# one table row per (path, message size). Run by `make demo` after the build.
#
# Each row starts `tcp-echo --server ... --once` in the background, runs the
# client against it and reads the percentiles from the client's summary
# line. Every process is bounded by timeout(1); the server is killed on every
# exit path; any failed run makes the script exit non-zero.
#
# Paths: catnap (the Linux kernel's TCP over loopback), and catnip (libdemi's
# TCP/IP stack over DPDK's net_memif: two processes over shared memory, no
# hugepages, one lcore each). The catnip rows need no configuration: the
# script writes the two YAML files (docs/catnip.md) into its temp directory.
# The last column is catnap's p50 over the row's p50 at the same size.
#
# Tunables (environment): DEMO_MSGS (100000), DEMO_WARMUP (1000),
# DEMO_TIMEOUT (120 s per process).
set -u -o pipefail

build=${1:-build}
echo_bin=$build/examples/tcp-echo
msgs=${DEMO_MSGS:-100000}
warmup=${DEMO_WARMUP:-1000}
limit=${DEMO_TIMEOUT:-120}

tmp=$(mktemp -d)
server_pid=
failures=0
declare -A p50_of # "LABEL|SIZE" -> p50 in us, for the ratio column
baseline="catnap (Linux TCP)"

# DPDK's runtime directories (one per EAL --file-prefix) and the memif socket
# of the catnip rows.
dpdk_prefix=demi-demo-$$
memif_sock=/tmp/demi-memif-demo-$$.sock
if [ "$(id -u)" -eq 0 ]; then
    dpdk_rundir=/var/run/dpdk
else
    dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$tmp" "$dpdk_rundir/$dpdk_prefix"-* "$memif_sock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "demo: $*" >&2
    exit 1
}

# A port nobody is listening on: ask the kernel, or guess from a random base.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

human_size() {
    if [ "$1" -ge 1024 ] && [ $(($1 % 1024)) -eq 0 ]; then
        echo "$(($1 / 1024)) KiB"
    else
        echo "$1 B"
    fi
}

# The value of KEY=VALUEus in a tcp-echo summary line.
field() {
    sed -n "s/.* $1=\([0-9.]*\)us.*/\1/p" <<<"$2"
}

print_header() {
    echo "libdemi demo: TCP echo between two processes, 64 B and 1 KiB messages, $msgs round trips"
    printf '%-25s %-7s %-10s %-10s %-10s %s\n' path size p50 p99 p999 "catnap p50 / p50"
}

# The ratio column of a row: catnap's p50 at the same size over this one's.
ratio() {
    local label=$1 size=$2 p50=$3 base=${p50_of["$baseline|$2"]:-}
    if [ "$label" = "$baseline" ] || [ -z "$base" ] || [ -z "$p50" ]; then
        echo "-"
    else
        awk -v a="$base" -v b="$p50" 'BEGIN { if (b > 0) printf "%.1fx\n", a / b; else print "-" }'
    fi
}

# demo_row LABEL SIZE IP SERVER_ENV CLIENT_ENV
# One measured row. SERVER_ENV and CLIENT_ENV are VAR=VALUE words (LIBOS,
# CONFIG_PATH, ...) given to each side through env(1), so a path whose two
# ends need different configurations is one more call.
demo_row() {
    local label=$1 size=$2 ip=$3 senv=$4 cenv=$5
    local port slog clog line rc
    port=$(free_port)
    slog=$tmp/server-$port.log
    clog=$tmp/client-$port.log

    # The env strings are lists of assignments: split them into words.
    # shellcheck disable=SC2086
    timeout "$limit" env $senv "$echo_bin" --server "$ip" "$port" --once >"$slog" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$slog" && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q "listening on" "$slog"; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=
        row_failed "$label" "$size" "server did not start: $(tail -n 1 "$slog")"
        return
    fi

    # shellcheck disable=SC2086
    timeout "$limit" env $cenv "$echo_bin" --client "$ip" "$port" --size "$size" \
        --msgs "$msgs" --warmup "$warmup" --conns 1 >"$clog" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && kill "$server_pid" 2>/dev/null
    wait "$server_pid"
    local src=$?
    server_pid=
    if [ "$rc" -ne 0 ]; then
        row_failed "$label" "$size" "client exit $rc: $(tail -n 1 "$clog")"
        return
    fi
    if [ "$src" -ne 0 ]; then
        row_failed "$label" "$size" "server exit $src: $(tail -n 1 "$slog")"
        return
    fi

    line=$(grep '^tcp-echo: libos=' "$clog")
    p50_of["$label|$size"]=$(field p50 "$line")
    printf '%-25s %-7s %-10s %-10s %-10s %s\n' "$label" "$(human_size "$size")" \
        "$(field p50 "$line") us" "$(field p99 "$line") us" "$(field p999 "$line") us" \
        "$(ratio "$label" "$size" "$(field p50 "$line")")"
}

row_failed() {
    printf '%-25s %-7s FAILED: %s\n' "$1" "$(human_size "$2")" "$3"
    failures=$((failures + 1))
}

[ -x "$echo_bin" ] || die "$echo_bin not found: build first (make, or ninja -C $build)"

catnap="LIBOS=catnap"

# catnip_config ROLE IP PEER_IP LCORE FILE: one end of the memif pair
# (scripts/memif-config.sh).
# shellcheck source=scripts/memif-config.sh
. "$(dirname "$0")/memif-config.sh"
catnip_config() {
    memif_config "$@" "$dpdk_prefix" "$memif_sock"
}

# Two pollers, one core each when there are two.
client_lcore=1
[ "$(nproc)" -ge 2 ] || client_lcore=0
catnip_config server 10.99.0.1 10.99.0.2 0 "$tmp/catnip-server.yaml"
catnip_config client 10.99.0.2 10.99.0.1 "$client_lcore" "$tmp/catnip-client.yaml"
catnip_server="LIBOS=catnip CONFIG_PATH=$tmp/catnip-server.yaml"
catnip_client="LIBOS=catnip CONFIG_PATH=$tmp/catnip-client.yaml"

print_header
demo_row "$baseline" 64 127.0.0.1 "$catnap" "$catnap"
demo_row "$baseline" 1024 127.0.0.1 "$catnap" "$catnap"
demo_row "catnip (DPDK memif)" 64 10.99.0.1 "$catnip_server" "$catnip_client"
demo_row "catnip (DPDK memif)" 1024 10.99.0.1 "$catnip_server" "$catnip_client"

if [ "$failures" -ne 0 ]; then
    echo "demo: $failures run(s) failed" >&2
    exit 1
fi
