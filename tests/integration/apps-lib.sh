# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# APPS_* are set here and read by the scripts that source this file:
# shellcheck disable=SC2034
#
# apps-lib.sh: the setup shared by the application tests (apps-redis.sh,
# apps-memcached.sh, apps-nginx.sh, apps-sockperf.sh, apps-iperf3.sh;
# bench/apps.sh measures the memif mode against Linux): unmodified Debian
# programs run under tools/demirun (the LD_PRELOAD shim), a server and its
# clients, in one of three modes:
#
#   memif      both ends under demirun, LIBOS=catnip over DPDK's net_memif:
#              two processes over shared memory (the pair of scripts/demo.sh:
#              server 10.99.0.1 on lcore 0, clients 10.99.0.2 on lcore 1, each
#              its own EAL --file-prefix, one memif socket per run). One client
#              process at a time (a memif server serves one peer).
#   af_packet  the server under demirun, LIBOS=catpowder on one end of a veth
#   af_xdp     pair in a network namespace (netns-lib.sh: libdemi 10.77.0.2),
#              raw_socket.mode af_packet or af_xdp; the clients on the Linux
#              kernel's stack in the other namespace (10.77.0.1).
#
# DEMIRUN names the wrapper (default BUILD/tools/demirun; missing: the test
# fails with "not ok - demirun missing"). DEMIRUN= (set and empty) runs the
# same scenario on plain Linux over the same path, which proves the client
# side's checks: memif -> both ends on loopback 127.0.0.1 (same cores);
# af_packet/af_xdp -> the server on the kernel's stack in the libdemi
# namespace, which then holds 10.77.0.2 itself.
#
# Use: set APPS_NAME (the test's name, for messages), source this file after
# report-lib.sh, call apps_init BUILD_DIR MODE, then
#   apps_need TOOL...                  fail loudly ("not ok - ... missing")
#   apps_server LOG CMD...             the server in the background
#                                      (APPS_SERVER_PID), stdin /dev/null
#   apps_wait_log LOG REGEX PID [N]    wait N tenths of a second for REGEX
#   apps_client CMD...                 one client in the foreground (the
#                                      caller redirects its input and output)
#   apps_kclient CMD...                the same, a plain Linux client on the
#                                      server's own host (its 127.0.0.1)
#   apps_stop PID                      TERM, KILL after 5 s, reap; its status
#   apps_finish                        "N passed, M failed" and the exit status
# $APPS_IP is the address the server binds and the clients connect to
# ($APPS_MODE the mode, $APPS_LABEL what it means);
# $APPS_TMP a temporary directory removed at exit with everything else
# (processes, namespaces, DPDK runtime directories).
#
# Every process runs under timeout(1) (a client APPS_TIMEOUT seconds, 30 by
# default; a server, which lives through the whole scenario,
# APPS_SERVER_TIMEOUT, 400) in its own process group; the server is pinned
# to core 0 and the clients to core 1 (taskset; EAL's -l agrees).

APPS_TIMEOUT=${APPS_TIMEOUT:-30}
APPS_SERVER_TIMEOUT=${APPS_SERVER_TIMEOUT:-400}
APPS_CORE_S=0
APPS_CORE_C=1
[ "$(nproc)" -ge 2 ] || APPS_CORE_C=0
APPS_NAME=${APPS_NAME:-apps}

apps_pids=()
apps_netns=0
APPS_TMP=
apps_dpdk_prefix=apps-$$
apps_memif_sock=/tmp/demi-apps-$$.sock
if [ "$(id -u)" -eq 0 ]; then
    apps_dpdk_rundir=/var/run/dpdk
else
    apps_dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

# A failure before any case could run: one "not ok" line, then the count.
apps_die() {
    echo "not ok - $APPS_NAME: $*"
    echo "${passed:-0} passed, $((${failed:-0} + 1)) failed"
    exit 1
}

apps_need() {
    local t missing=()
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    for t in "${missing[@]}"; do
        echo "not ok - $APPS_NAME: $t missing (scripts/install-deps.sh installs it)"
    done
    echo "${passed:-0} passed, $((${failed:-0} + ${#missing[@]})) failed"
    exit 1
}

# Stop one process we started (its process group: timeout(1) made one) and
# reap it; returns its exit status.
apps_stop() {
    local pid=$1 rc
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        # A reaped zombie still answers kill -0 until waited for: check state.
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; then
        kill -KILL -- "-$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    apps_forget "$pid"
    return $rc
}

# Drop a reaped process from the list apps_cleanup stops.
apps_forget() {
    local keep=() p
    for p in "${apps_pids[@]}"; do
        [ "$p" != "$1" ] && keep+=("$p")
    done
    apps_pids=("${keep[@]}")
}

apps_cleanup() {
    local p
    for p in "${apps_pids[@]}"; do
        apps_stop "$p"
    done
    apps_pids=()
    [ "$apps_netns" -eq 1 ] && netns_cleanup
    apps_netns=0
    rm -rf "$apps_dpdk_rundir/$apps_dpdk_prefix"-* "$apps_memif_sock"
    [ -n "$APPS_TMP" ] && rm -rf "$APPS_TMP"
    return 0
}

# The YAML of one end of the memif pair, with its subnet (the shim routes
# it; scripts/memif-config.sh).
# shellcheck source=scripts/memif-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/memif-config.sh"
apps_catnip_config() {
    memif_config "$@" "$apps_dpdk_prefix" "$apps_memif_sock" 24
}

# apps_init BUILD_DIR MODE
apps_init() {
    local build=$1 mode=$2
    APPS_MODE=$mode
    case $mode in
    memif | af_packet | af_xdp) ;;
    *) apps_die "mode '$mode': memif, af_packet or af_xdp" ;;
    esac
    APPS_DEMIRUN=${DEMIRUN-$build/tools/demirun}
    if [ -n "$APPS_DEMIRUN" ] && [ ! -x "$APPS_DEMIRUN" ]; then
        apps_die "demirun missing ($APPS_DEMIRUN is not built; DEMIRUN= runs the scenario on plain Linux)"
    fi
    apps_need timeout taskset python3 sha256sum cmp
    trap apps_cleanup EXIT
    trap 'exit 130' INT TERM

    if [ "$mode" = memif ]; then
        APPS_TMP=$(mktemp -d /tmp/demi-apps.XXXXXX) || apps_die "mktemp failed"
        if [ -n "$APPS_DEMIRUN" ]; then
            APPS_IP=10.99.0.1
            apps_catnip_config server 10.99.0.1 10.99.0.2 "$APPS_CORE_S" "$APPS_TMP/server.yaml"
            apps_catnip_config client 10.99.0.2 10.99.0.1 "$APPS_CORE_C" "$APPS_TMP/client.yaml"
            APPS_SERVER_PRE=(timeout -k 5 "$APPS_SERVER_TIMEOUT" taskset -c "$APPS_CORE_S"
                "$APPS_DEMIRUN" --libos catnip --config "$APPS_TMP/server.yaml" --)
            APPS_CLIENT_PRE=(timeout -k 5 "$APPS_TIMEOUT" taskset -c "$APPS_CORE_C"
                "$APPS_DEMIRUN" --libos catnip --config "$APPS_TMP/client.yaml" --)
            APPS_KCLIENT_PRE=(timeout -k 5 "$APPS_TIMEOUT" taskset -c "$APPS_CORE_C")
            APPS_LABEL="both ends under demirun, catnip over DPDK net_memif (server 10.99.0.1 lcore $APPS_CORE_S, client 10.99.0.2 lcore $APPS_CORE_C)"
        else
            APPS_IP=127.0.0.1
            APPS_SERVER_PRE=(timeout -k 5 "$APPS_SERVER_TIMEOUT" taskset -c "$APPS_CORE_S")
            APPS_CLIENT_PRE=(timeout -k 5 "$APPS_TIMEOUT" taskset -c "$APPS_CORE_C")
            APPS_KCLIENT_PRE=("${APPS_CLIENT_PRE[@]}")
            APPS_LABEL="plain Linux over loopback 127.0.0.1 (DEMIRUN empty; server core $APPS_CORE_S, client core $APPS_CORE_C)"
        fi
    else
        local here
        here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
        # shellcheck source=tests/integration/netns-lib.sh
        . "$here/netns-lib.sh"
        netns_setup
        apps_netns=1
        trap apps_cleanup EXIT # netns_setup installed its own
        trap 'exit 130' INT TERM
        APPS_TMP=$NETNS_TMP
        NETNS_TMP= # ours to remove (apps_cleanup), after the namespaces
        APPS_IP=$NETNS_IP_DEMI
        if [ -n "$APPS_DEMIRUN" ]; then
            cat >"$APPS_TMP/catpowder.yaml" <<EOF
demikernel:
  local_ipv4_addr: $NETNS_IP_DEMI
raw_socket:
  linux_interface_name: $IF_DEMI
  mode: $mode
inetstack_config:
  ipv4_prefix_len: $NETNS_PREFIX
EOF
            APPS_SERVER_PRE=(ip netns exec "$NS_DEMI" timeout -k 5 "$APPS_SERVER_TIMEOUT" taskset -c "$APPS_CORE_S"
                "$APPS_DEMIRUN" --libos catpowder --config "$APPS_TMP/catpowder.yaml" --)
            APPS_LABEL="server under demirun, catpowder $mode on veth $IF_DEMI ($NETNS_IP_DEMI), clients on Linux in another namespace ($NETNS_IP_LINUX)"
        else
            netns_run ip -n "$NS_DEMI" addr add "$NETNS_IP_DEMI/$NETNS_PREFIX" dev "$IF_DEMI"
            APPS_SERVER_PRE=(ip netns exec "$NS_DEMI" timeout -k 5 "$APPS_SERVER_TIMEOUT" taskset -c "$APPS_CORE_S")
            APPS_LABEL="plain Linux server in the namespace on $IF_DEMI ($NETNS_IP_DEMI; DEMIRUN empty), clients on Linux in another namespace ($NETNS_IP_LINUX)"
        fi
        APPS_CLIENT_PRE=(ip netns exec "$NS_LINUX" timeout -k 5 "$APPS_TIMEOUT" taskset -c "$APPS_CORE_C")
        APPS_KCLIENT_PRE=(ip netns exec "$NS_DEMI" timeout -k 5 "$APPS_TIMEOUT" taskset -c "$APPS_CORE_C")
    fi
    echo "# $APPS_NAME, mode $mode: $APPS_LABEL"
}

# A TCP port to use: the kernel's choice on loopback (what matters for the
# plain Linux runs; libdemi's ports are its own).
apps_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

apps_server() {
    local log=$1
    shift
    "${APPS_SERVER_PRE[@]}" "$@" </dev/null >"$log" 2>&1 &
    APPS_SERVER_PID=$!
    apps_pids+=("$APPS_SERVER_PID")
}

# In the background and waited for, so that a TERM to the test (meson's
# timeout) runs apps_cleanup at once, which stops the client too. <&0: the
# caller's input (a background command would otherwise read /dev/null).
apps_client() {
    local pid rc
    "${APPS_CLIENT_PRE[@]}" "$@" <&0 &
    pid=$!
    apps_pids+=("$pid")
    wait "$pid"
    rc=$?
    apps_forget "$pid"
    return $rc
}

apps_kclient() {
    local pid rc
    "${APPS_KCLIENT_PRE[@]}" "$@" <&0 &
    pid=$!
    apps_pids+=("$pid")
    wait "$pid"
    rc=$?
    apps_forget "$pid"
    return $rc
}

# apps_wait_log LOG REGEX PID [TENTHS]: 0 once LOG matches REGEX (grep -E);
# 1 if PID died or time ran out.
apps_wait_log() {
    local log=$1 re=$2 pid=$3 tries=${4:-150}
    for _ in $(seq "$tries"); do
        grep -Eq -- "$re" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -Eq -- "$re" "$log" 2>/dev/null
}

# Is the server still running? (not a zombie).
apps_alive() {
    kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# Why a client failed, from its status and its log's last line.
apps_why() {
    local who=$1 rc=$2 log=${3:-}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "$who timed out after ${APPS_TIMEOUT}s"
    else
        echo "$who exit $rc${log:+: $(grep . "$log" 2>/dev/null | tail -n 1 | cut -c1-160)}"
    fi
}

apps_finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
