#!/usr/bin/env bash
# Install the Debian packages libdemi needs to build and test, if missing.
# Used by `make demo`, `make test` and .ci/run; safe to run again.
set -euo pipefail

PKGS=(
  gcc meson ninja-build pkg-config  # toolchain
  libyaml-dev                       # CONFIG_PATH parsing
  libpcap-dev                       # pcap capture of simulated links
  libcmocka-dev                     # unit tests
  dpdk-dev libdpdk-dev              # LIBOS=catnip (DPDK 22.11: net_memif, net_tap, PMDs)
  dpdk                              # dpdk-devbind.py, dpdk-hugepages.py (docs/catnip.md)
  scdoc man-db                      # man pages from man/*.scd; man -l to check them
  libxdp-dev libbpf-dev             # LIBOS=catpowder raw_socket.mode af_xdp; tc BPF loss in tests
  python3                           # test and report scripts
  clang libclang-rt-14-dev          # libFuzzer targets (tests/fuzz); the clang build of make test
  clang-format                      # .clang-format: make format, and make test's check
  iproute2 procps                   # integration tests: ss, ip, pkill
  ethtool netcat-openbsd socat tcpdump iputils-ping  # Linux peers of catpowder/catnip tests
  iperf3 curl                       # real tools against libdemi's iperf3 and HTTP examples
  hping3                            # SYN floods against libdemi (synflood.sh, soak.sh)
  redis-server redis-tools memcached libmemcached-tools nginx wrk sockperf  # unmodified apps under tools/demirun (tests/integration/apps-*.sh, bench/apps.sh)
  gnuplot-nox                       # make bench: the latency plot
  liblwip-dev                       # make bench: lwIP over memif, a packaged user-space stack's row (bench/lwip-rtt)
  liburing-dev                      # storage queues: LIBOS=cattree, demi_creat/demi_open (io_uring)
  fio e2fsprogs util-linux          # make bench: fio's io_uring row; storage fault tests: mkfs.ext4, losetup
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "libdemi: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "libdemi: these Debian packages are missing and I am not root:" >&2
    echo "    apt-get install ${missing[*]}" >&2
    echo "Run that as root (or with sudo), then run make again." >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
