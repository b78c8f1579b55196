# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# memif-config.sh: sourced by scripts/demo.sh, bench/run-bench.sh,
# bench/apps.sh and tests/integration/apps-lib.sh, which all run a catnip
# pair over DPDK's net_memif: two processes on one machine over shared
# memory, no hugepages, no NIC (docs/catnip.md explains every line).

# memif_config ROLE IP PEER_IP LCORE FILE DPDK_PREFIX MEMIF_SOCK [PREFIX_LEN]:
# the YAML of one end of the pair. ROLE is server or client; each end gets
# its own EAL file prefix (DPDK_PREFIX-ROLE) and lcore; the server does not
# wait for its link (it comes up when the client connects), the client
# waits 5 s for the server. PREFIX_LEN, if given, is
# inetstack_config.ipv4_prefix_len (the preload shim routes that subnet).
# MEMIF_MTU, if set above 1500 in the environment, makes a jumbo pair: that
# MTU with enable_jumbo_frames, memif buffers that hold a whole frame, and
# the EAL memory the larger mbufs need (docs/catnip.md, Jumbo frames).
memif_config() {
    local role=$1 ip=$2 peer=$3 lcore=$4 file=$5 prefix=$6 sock=$7 plen=${8:-}
    local mac=02:00:00:00:01:02 peer_mac=02:00:00:00:01:01 wait=5000
    local mtu=${MEMIF_MTU:-1500} mem="" vdev_extra=""
    if [ "$role" = server ]; then
        mac=02:00:00:00:01:01 peer_mac=02:00:00:00:01:02 wait=0
    fi
    if [ "$mtu" -gt 1500 ]; then
        mem='"-m", "256", '
        vdev_extra=",bsize=$(((mtu + 18 + 1023) / 1024 * 1024))"
    fi
    {
        cat <<EOF
demikernel:
  local_ipv4_addr: $ip
  local_link_addr: "$mac"
dpdk:
  eal_init: ["", "-l", "$lcore", "--no-huge", ${mem}"--no-pci", "--no-telemetry", "--log-level=warning",
             "--file-prefix=$prefix-$role",
             "--vdev=net_memif0,role=$role,socket=$sock,mac=$mac$vdev_extra"]
  link_wait_ms: $wait
inetstack_config:
EOF
        if [ -n "$plen" ]; then
            echo "  ipv4_prefix_len: $plen"
        fi
        if [ "$mtu" -gt 1500 ]; then
            printf '  mtu: %s\n  enable_jumbo_frames: true\n' "$mtu"
        fi
        cat <<EOF
  arp_table:
    "$peer_mac": "$peer"
EOF
    } >"$file"
}
