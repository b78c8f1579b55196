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
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
