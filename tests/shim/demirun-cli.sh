#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demirun-cli.sh BUILD_DIR: tools/demirun's command line. --help says which
# sockets libdemi takes; bad use fails with a message and status 127; each
# option sets its variable; --off preloads nothing; and a real program runs
# with every shim variable set (libdemi's DEMI_* check must leave them alone).
set -u
build=$(cd "${1:?usage: demirun-cli.sh BUILD_DIR}" && pwd) || exit 1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/../integration/report-lib.sh"
demirun=$build/tools/demirun
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demirun-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf 'demikernel:\n  local_ipv4_addr: 10.0.0.1\n' >"$tmp/loop.yaml"

if [ ! -x "$demirun" ]; then
    echo "not ok - demirun missing: $demirun"
    exit 1
fi

"$demirun" --help >"$tmp/help" 2>&1
if [ $? -eq 0 ] && grep -q "Which sockets libdemi takes" "$tmp/help" && grep -q "127.0.0.0/8" "$tmp/help"; then
    ok "demirun --help: exit 0, says which sockets libdemi takes"
else
    not_ok "demirun --help" "no exit 0 or no policy text" "$tmp/help"
fi

expect_fail() { # NAME PATTERN ARGS...
    local name=$1 pattern=$2 rc
    shift 2
    env -u LIBOS "$demirun" "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -eq 127 ] && grep -q "$pattern" "$tmp/out"; then
        ok "$name: status 127, '$pattern'"
    else
        not_ok "$name" "status $rc" "$tmp/out"
    fi
}
expect_fail "no program" "no program to run" --libos catloop
expect_fail "unknown option" "unknown option --bogus" --bogus true
expect_fail "no libOS" "no libOS" true
expect_fail "unreadable config" "not readable" --libos catloop --config "$tmp/none.yaml" true
expect_fail "option without its value" "needs a name" --libos

"$demirun" --libos catloop --config "$tmp/loop.yaml" --spin-us 7 --kernel 192.0.2.0/24 env >"$tmp/env" 2>&1
if grep -qx "LIBOS=catloop" "$tmp/env" && grep -qx "CONFIG_PATH=$tmp/loop.yaml" "$tmp/env" &&
    grep -qx "DEMI_SHIM_SPIN_US=7" "$tmp/env" && grep -qx "DEMI_SHIM_KERNEL=192.0.2.0/24" "$tmp/env" &&
    grep -q "^LD_PRELOAD=.*libdemi-preload.so" "$tmp/env"; then
    ok "options set LIBOS, CONFIG_PATH, DEMI_SHIM_SPIN_US, DEMI_SHIM_KERNEL and LD_PRELOAD"
else
    not_ok "options set their variables" "missing from env" "$tmp/env"
fi

"$demirun" --off env >"$tmp/env-off" 2>&1
if ! grep -q "libdemi-preload" "$tmp/env-off"; then
    ok "--off preloads nothing"
else
    not_ok "--off" "the shim is preloaded" "$tmp/env-off"
fi

# A real program, every shim variable set: its sockets still reach libdemi.
prog=$build/tests/shim/posix_conformance
timeout -k 5 60 env DEMI_SHIM_KERNEL_POLL_US=5 "$demirun" --libos catloop --config "$tmp/loop.yaml" \
    --spin-us 10 --kernel "" "$prog" 10.0.0.1 >"$tmp/prog" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -qE '^[0-9]+ passed, 0 failed$' "$tmp/prog"; then
    ok "posix_conformance with --spin-us, --kernel \"\" and DEMI_SHIM_KERNEL_POLL_US: $(tail -1 "$tmp/prog")"
else
    not_ok "posix_conformance with every shim variable" "status $rc" "$tmp/prog"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
