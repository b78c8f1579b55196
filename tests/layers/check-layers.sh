#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-layers.sh SRC_DIR VIEWS_DIR: the layer rule of src/meson.build holds
# for the compiler, not only by habit. For every pair of layers, a one-line
# file that includes a header of the other layer is compiled with the
# include view the library's layer is built with (VIEWS_DIR/LAYER): it must
# compile when that layer is allowed (itself and the layers below; the api:
# core, mem, libos) and fail when it is not. Then every source file of the
# library is checked the same way: none includes a layer its view lacks
# (a real upward include would already have failed the build).
# Prints "ok - NAME" / "not ok - NAME (reason)", then "N passed, M failed".
set -u
src=$(cd "$1" && pwd)
views=$(cd "$2" && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1 ($2)"; failed=$((failed + 1)); }

layers="core mem net dev libos api"
# A header of each layer that stands alone.
declare -A probe=([core]=core/list.h [mem]=mem/dbuf.h [net]=net/checksum.h [dev]=dev/loopback.h
    [libos]=libos/runtime.h [api]=api/api.h)
declare -A allowed=([core]="core" [mem]="core mem" [net]="core mem net" [dev]="core mem net dev"
    [libos]="core mem net dev libos" [api]="core mem libos api")

for layer in $layers; do
    [ -d "$views/$layer" ] || { not_ok "view of $layer" "no $views/$layer"; continue; }
    good=
    bad=
    for other in $layers; do
        printf '#include "%s"\n' "${probe[$other]}" >"$tmp/p.c"
        if "$cc" -fsyntax-only -D_GNU_SOURCE -I"$src/../include" -I"$views/$layer" "$tmp/p.c" 2>"$tmp/err"; then
            case " ${allowed[$layer]} " in
            *" $other "*) good+=" $other" ;;
            *) bad+=" $other compiled (an upward include would too)" ;;
            esac
        else
            case " ${allowed[$layer]} " in
            *" $other "*) bad+=" $other failed: $(grep -m1 error "$tmp/err")" ;;
            *) good+=" !$other" ;;
            esac
        fi
    done
    if [ -z "$bad" ]; then ok "$layer sees${good}"; else not_ok "$layer" "${bad# }"; fi
done

# Every include of every library source against its layer's view.
viol=
for layer in $layers; do
    for f in "$src/$layer"/*.[ch]; do
        for inc in $(sed -n 's/^#include "\([a-z_]*\)\/[a-z_0-9]*\.h".*/\1/p' "$f" | sort -u); do
            case " ${allowed[$layer]} " in
            *" $inc "*) ;;
            *) viol+=" ${f#$src/} includes $inc/;" ;;
            esac
        done
    done
done
if [ -z "$viol" ]; then ok "no source includes a layer above its own"; else not_ok "sources" "$viol"; fi
# The library's own compile lines: the view and no other path into src/
# (Meson adds -Isrc unless implicit_include_directories is false).
ninja_file=$views/../../build.ninja
if [ -f "$ninja_file" ]; then
    wide=$(awk -v src="$src" '/^build src\/libdemi_(core|mem|net|dev|libos|api|dpdk)\.a\.p\// { t = $2; next }
        t && /^ ARGS = / { n = split($0, a, " "); for (i = 1; i <= n; i++)
            if (a[i] == "-I../src" || a[i] == "-Isrc" || a[i] == "-I" src) { print t; break } t = "" }' "$ninja_file" |
        head -n 3 | tr '\n' ' ')
    nlines=$(awk '/^build src\/libdemi_(core|mem|net|dev|libos|api|dpdk)\.a\.p\// { t = 1; next }
        t && /^ ARGS = / { n++; t = 0 } END { print n + 0 }' "$ninja_file")
    if [ "$nlines" -eq 0 ]; then
        not_ok "compile lines" "no layer library's compile line found in $ninja_file"
    elif [ -z "$wide" ]; then
        ok "every layer library compiles with its view only ($nlines compile lines)"
    else
        not_ok "compile lines" "-I to all of src/ in: $wide"
    fi
else
    not_ok "compile lines" "no $ninja_file"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
