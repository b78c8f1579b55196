#!/usr/bin/env bash
# run-posix.sh BUILD_DIR: the preload shim's differential conformance test.
#
#   (a) posix_conformance plainly on Linux over 127.0.0.1: the reference, every
#       check must pass (with SHIM_CONFORMANCE_LINUX=1, the Linux-only checks
#       too); a failure here is a wrong check or a broken machine.
#   (b) the same binary under BUILD_DIR/tools/demirun --libos catloop, over an
#       address the shim routes to libdemi: $DEMI_SHIM_ADDR, else 10.0.0.1,
#       which a config file written here makes catloop's local IPv4 address
#       (demikernel.local_ipv4_addr). No demirun is a failure, never a skip.
#       In a sanitizer build, the preload (built with ASan+UBSan too) is set
#       by hand after the sanitizer runtimes, which must come first.
#
# Exit status 0 only if both runs pass every check.
set -u

build=${1:?usage: run-posix.sh BUILD_DIR}
build=$(cd "$build" && pwd) || exit 1
prog=$build/tests/shim/posix_conformance
demirun=$build/tools/demirun
addr=${DEMI_SHIM_ADDR:-10.0.0.1}
failed=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-posix.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$prog" ]; then
    echo "not ok - posix_conformance not built: $prog"
    exit 1
fi

# run NAME LOG CMD...: the program's lines, indented, and one summary line.
run() {
    local name=$1 log=$2 rc
    shift 2
    timeout -k 5 55 "$@" >"$log" 2>&1
    rc=$?
    sed 's/^/    /' "$log"
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
        echo "ok - $name: $summary"
    else
        local why="exit status $rc"
        [ "$rc" -eq 124 ] && why="timed out after 55 s"
        [ "$rc" -gt 128 ] && [ "$rc" -ne 124 ] && why="killed by signal $((rc - 128))"
        echo "not ok - $name: ${summary:-no summary line}, $why"
        grep -E '^not ok' "$log" | sed 's/^/#   /'
        failed=$((failed + 1))
    fi
}

echo "# (a) Linux, 127.0.0.1"
run "Linux (plain, 127.0.0.1)" "$tmp/linux.log" env SHIM_CONFORMANCE_LINUX=1 "$prog" 127.0.0.1

echo "# (b) the preload shim: demirun --libos catloop, $addr"
if [ ! -x "$demirun" ]; then
    echo "not ok - demirun missing: $demirun"
    failed=$((failed + 1))
else
    cat >"$tmp/catloop.yaml" <<EOF
# catloop for posix_conformance: the stack's own address is the one the
# program connects and binds to.
demikernel:
  local_ipv4_addr: $addr
EOF
    if ldd "$prog" | grep -q libasan; then
        # A sanitizer build (make test runs one): the runtimes must come
        # first in LD_PRELOAD, so the program runs with the preload set by
        # hand (what demirun does), not through the demirun script.
        preload=$build/src/shim/libdemi-preload.so
        sanitizers=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)
        run "shim under ASan+UBSan (LD_PRELOAD, catloop, $addr)" "$tmp/shim.log" \
            env -u SHIM_CONFORMANCE_LINUX LIBOS=catloop CONFIG_PATH="$tmp/catloop.yaml" \
            LD_PRELOAD="$sanitizers:$preload" "$prog" "$addr"
    else
        run "shim (demirun --libos catloop, $addr)" "$tmp/shim.log" \
            env -u SHIM_CONFORMANCE_LINUX "$demirun" --libos catloop --config "$tmp/catloop.yaml" "$prog" "$addr"
    fi
fi

[ "$failed" -eq 0 ]
