#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-install.sh BUILD_DIR: install BUILD_DIR into a scratch root and use
# it as a program built elsewhere would (docs/install.md):
#   - only the library, headers, tools, man pages and examples are installed;
#   - pkg-config --cflags gives -I<includedir> only (no DPDK flags), --libs
#     -L<libdir> -ldemi;
#   - a C99 program built with -Werror against the installed headers, linked
#     dynamically and statically (libdemi.a + --static's Libs.private), runs a
#     TCP round trip over LIBOS=catnap and sees the right version;
#   - the installed tools run: demi-config --version, demirun --help.
# Prints "ok - NAME" / "not ok - NAME (reason)", then "N passed, M failed".
set -u

build=$(cd "${1:-build-release}" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1 ($2)"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; exit $?; }

option() {
    python3 -c 'import json, sys; print({o["name"]: o["value"] for o in json.load(open(sys.argv[1]))}[sys.argv[2]])' \
        "$build/meson-info/intro-buildoptions.json" "$1"
}
prefix=$(option prefix)
libdir_rel=$(option libdir)
dest=$tmp/root
root=$dest$prefix
libdir=$root/$libdir_rel

if ! meson install -C "$build" --destdir "$dest" >"$tmp/install.log" 2>&1; then
    not_ok "meson install" "$(tail -n 3 "$tmp/install.log" | tr '\n' ' ')"
    finish
fi

# ---- what is installed
(cd "$root" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$tmp/files"
extra=$(grep -v -E "^(include/demi/[a-z_]+\.h|$libdir_rel/(libdemi\.so(\.[0-9]+)*|libdemi\.a|libdemi-preload\.so|pkgconfig/libdemi\.pc)|bin/(demi-config|demi-stat|demirun|demi-logcheck)|share/man/man[137]/[A-Za-z_0-9.-]+\.[137]|share/doc/libdemi/.+)$" "$tmp/files")
missing=
for f in include/demi/libos.h include/demi/sga.h include/demi/wait.h include/demi/types.h include/demi/cc.h \
    include/demi/version.h include/demi/pipe.h include/demi/ext.h include/demi/stats.h include/demi/storage.h \
    "$libdir_rel/libdemi.so" "$libdir_rel/libdemi.a" "$libdir_rel/libdemi-preload.so" "$libdir_rel/pkgconfig/libdemi.pc" \
    bin/demi-config bin/demi-stat bin/demirun bin/demi-logcheck share/doc/libdemi/examples/Makefile \
    share/doc/libdemi/examples/tcp-ping-pong.c; do
    grep -qxF "$f" "$tmp/files" || missing+=" $f"
done
if [ -f "$src/man/meson.build" ]; then
    for f in share/man/man7/libdemi.7 share/man/man3/demi_push.3 share/man/man1/demirun.1; do
        grep -qxF "$f" "$tmp/files" || missing+=" $f"
    done
fi
name="installed: the library, headers, tools and man pages, nothing else ($(wc -l <"$tmp/files") files)"
if [ -n "$extra" ]; then
    not_ok "$name" "not expected: $(echo "$extra" | head -n 5 | tr '\n' ' ')"
elif [ -n "$missing" ]; then
    not_ok "$name" "missing:$missing"
else
    ok "$name"
fi

# ---- pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc() { pkg-config --define-variable=prefix="$root" "$@" libdemi; }
cflags=$(pc --cflags)
libs=$(pc --libs)
name="pkg-config --cflags libdemi is -I<includedir> only"
if [ "$(echo $cflags)" = "-I$root/include" ]; then ok "$name"; else not_ok "$name" "got: $cflags"; fi
name="pkg-config --libs libdemi is -L<libdir> -ldemi"
if [ "$(echo $libs)" = "-L$libdir -ldemi" ]; then ok "$name"; else not_ok "$name" "got: $libs"; fi

# ---- a program built against the installed tree
cat >"$tmp/prog.c" <<'C'
/* A TCP round trip over the installed libdemi, strict C99. */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/version.h>
#include <demi/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int wait_one(demi_qtoken_t qt, demi_qresult_t *qr)
{
    int rc = demi_wait(qr, qt, NULL);
    if (rc == 0 && qr->qr_ret != 0)
        rc = (int)qr->qr_ret;
    return rc;
}

int main(int argc, char **argv)
{
    struct demi_args args;
    struct sockaddr_in a;
    demi_qtoken_t aqt, cqt, qt;
    demi_qresult_t qr;
    demi_sgarray_t sga;
    int lqd, cqd, sqd, rc;
    static const char msg[] = "installed";

    if (argc != 2) {
        printf("usage: prog PORT\n");
        return 2;
    }
    memset(&args, 0, sizeof(args));
    args.argc = argc;
    args.argv = argv;
    if (strcmp(demi_version(), DEMI_VERSION_STRING) != 0) {
        printf("version: headers %s, library %s\n", DEMI_VERSION_STRING, demi_version());
        return 1;
    }
    if ((rc = demi_init(&args)) != 0 || (rc = demi_socket(&lqd, AF_INET, SOCK_STREAM, 0)) != 0 ||
        (rc = demi_socket(&cqd, AF_INET, SOCK_STREAM, 0)) != 0) {
        printf("init/socket: %s\n", strerror(rc));
        return 1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    if ((rc = demi_bind(lqd, (const struct sockaddr *)&a, sizeof(a))) != 0 || (rc = demi_listen(lqd, 4)) != 0 ||
        (rc = demi_accept(&aqt, lqd)) != 0 ||
        (rc = demi_connect(&cqt, cqd, (const struct sockaddr *)&a, sizeof(a))) != 0 ||
        (rc = wait_one(cqt, &qr)) != 0 || (rc = wait_one(aqt, &qr)) != 0) {
        printf("connect/accept: %s\n", strerror(rc));
        return 1;
    }
    sqd = qr.qr_value.ares.qd;
    sga = demi_sgaalloc(sizeof(msg));
    if (sga.sga_numsegs != 1) {
        printf("demi_sgaalloc failed\n");
        return 1;
    }
    memcpy(sga.sga_segs[0].sgaseg_buf, msg, sizeof(msg));
    if ((rc = demi_push(&qt, cqd, &sga)) != 0 || (rc = wait_one(qt, &qr)) != 0) {
        printf("push: %s\n", strerror(rc));
        return 1;
    }
    demi_sgafree(&sga);
    if ((rc = demi_pop(&qt, sqd)) != 0 || (rc = wait_one(qt, &qr)) != 0) {
        printf("pop: %s\n", strerror(rc));
        return 1;
    }
    if (qr.qr_value.sga.sga_segs[0].sgaseg_len != sizeof(msg) ||
        memcmp(qr.qr_value.sga.sga_segs[0].sgaseg_buf, msg, sizeof(msg)) != 0) {
        printf("pop: other bytes than pushed\n");
        return 1;
    }
    demi_sgafree(&qr.qr_value.sga);
    demi_close(sqd);
    demi_close(cqd);
    demi_close(lqd);
    printf("round trip ok, libdemi %s\n", demi_version());
    return 0;
}
C
strict=(-std=c99 -D_POSIX_C_SOURCE=200112L -Wall -Wextra -Wpedantic -Werror)
# run NAME BINARY [ENV...]: the program's round trip, bounded.
run_prog() {
    local name=$1 bin=$2 out port
    shift 2
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if out=$(env LIBOS=catnap "$@" timeout 20 "$bin" "$port" 2>&1) && echo "$out" | grep -q "round trip ok"; then
        ok "$name ($(echo "$out" | tail -n 1))"
    else
        not_ok "$name" "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
    fi
}
name="a C99 program built with -Werror against the installed headers, linked dynamically"
# shellcheck disable=SC2046
if cc "${strict[@]}" $cflags "$tmp/prog.c" -o "$tmp/prog-dyn" $libs 2>"$tmp/cc.log"; then
    run_prog "$name" "$tmp/prog-dyn" LD_LIBRARY_PATH="$libdir"
else
    not_ok "$name" "$(head -n 3 "$tmp/cc.log" | tr '\n' ' ')"
fi

# Static: libdemi.a, then what Libs.private names (shared system and DPDK
# libraries; a fully static binary is not supported: docs/install.md).
name="the same program linked statically with libdemi.a (pkg-config --static)"
private=$(pc --static --libs | sed "s|-L$libdir||; s|-ldemi||")
# shellcheck disable=SC2086
if cc "${strict[@]}" $cflags "$tmp/prog.c" -o "$tmp/prog-static" -L"$libdir" -Wl,-Bstatic -ldemi -Wl,-Bdynamic \
    -Wl,--as-needed $private 2>"$tmp/cc.log"; then
    if ldd "$tmp/prog-static" | grep -q libdemi; then
        not_ok "$name" "still needs $(ldd "$tmp/prog-static" | grep libdemi | awk '{print $1}')"
    else
        run_prog "$name" "$tmp/prog-static"
    fi
else
    not_ok "$name" "$(head -n 3 "$tmp/cc.log" | tr '\n' ' ')"
fi

# ---- the installed examples, built by their own Makefile
name="the installed examples build with their Makefile and pkg-config (-Werror)"
exdir=$root/share/doc/libdemi/examples
if [ ! -f "$exdir/Makefile" ]; then
    not_ok "$name" "no $exdir/Makefile"
else
    cp -r "$exdir" "$tmp/examples"
    if make -C "$tmp/examples" CFLAGS="-O2 -Werror" PKG_CONFIG="pkg-config --define-variable=prefix=$root" \
        >"$tmp/ex.log" 2>&1; then
        ok "$name ($(find "$tmp/examples" -maxdepth 1 -type f -perm -u+x | wc -l) programs)"
    else
        not_ok "$name" "$(grep -m1 -E 'error|Error' "$tmp/ex.log")"
    fi
fi

# ---- the installed tools
want=$(sed -n 's/^#define DEMI_VERSION_STRING "\(.*\)"$/\1/p' "$root/include/demi/version.h")
got=$("$root/bin/demi-config" --version 2>&1)
name="demi-config --version"
if [ "$got" = "libdemi $want" ]; then ok "$name ($got)"; else not_ok "$name" "got \"$got\", want \"libdemi $want\""; fi
name="demirun --help, preloading the installed library"
preload=$(sed -n 's/^preload=//p' "$root/bin/demirun" | tr -d "'\"" | head -n 1)
if "$root/bin/demirun" --help >/dev/null 2>&1 && [ "$preload" = "$prefix/$libdir_rel/libdemi-preload.so" ]; then
    ok "$name ($preload)"
else
    not_ok "$name" "exit $? or preload \"$preload\""
fi
finish
