#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# c99_consumer.sh BUILD_DIR: build c99_consumer.c the way an outside user
# would (strict C99, the oldest _POSIX_C_SOURCE the API supports, flags from
# the build tree's pkg-config file, BUILD_DIR/src/libdemi-uninstalled.pc),
# then run it on catnap.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
pcdir=$build/src
cc=${CC:-cc}

if [ ! -f "$pcdir/libdemi-uninstalled.pc" ]; then
    echo "c99_consumer: $pcdir/libdemi-uninstalled.pc not found (was meson setup run?)" >&2
    exit 1
fi
if ! flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs libdemi-uninstalled); then
    echo "c99_consumer: pkg-config --cflags --libs libdemi-uninstalled failed" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

read -r -a flagv <<<"$flags" # a list of options: split into words
cmd=("$cc" -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=199309L
     -o "$tmp/c99_consumer" "$here/c99_consumer.c" "${flagv[@]}")
echo "+ ${cmd[*]}"
if ! "${cmd[@]}"; then
    echo "c99_consumer: compiling as a C99 consumer failed" >&2
    exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "+ LIBOS=catnap $tmp/c99_consumer $port"
# Run against the shared library of the build tree, wherever pkg-config says it is.
libpath=
for opt in $(PKG_CONFIG_PATH=$pcdir pkg-config --libs-only-L libdemi-uninstalled); do
    libpath=$libpath${libpath:+:}${opt#-L}
done
LIBOS=catnap LD_LIBRARY_PATH=$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    timeout 30 "$tmp/c99_consumer" "$port"
