#!/bin/sh
# SPDX-License-Identifier: MIT
#
# man/check.sh SRCDIR BUILDDIR/man STATE SCDOC: the man pages' check (meson
# test --suite man). STATE is -Dman (enabled, auto, disabled), SCDOC whether
# meson found scdoc (found, missing).
#
#   1. every function declared in include/demi/*.h (and version.h.in) has a
#      page or an alias page, and the SYNOPSIS of the page that documents it
#      shows its prototype as the header declares it (attributes and SAL
#      markers aside) and an #include of a header that declares it;
#   2. every tool in tools/ has a section 1 page, and every man/*.scd is
#      built (listed in man/meson.build);
#   3. every page and alias renders with man -l and groff -ww without a
#      warning, an alias opening the page it names;
#   4. every SEE ALSO reference names one of our pages or a system page we
#      know of, and libdemi(7) refers to every other page.
#
# Exit 0 when all hold, 77 (meson: skipped) when the pages are not built
# and -Dman is not enabled, 1 otherwise, with one line per problem.
set -u
src=$(cd "$1" && pwd) || exit 1
out=$(cd "$2" 2>/dev/null && pwd) || out=$2
state=$3
scdoc=$4

if [ "$scdoc" != found ]; then
    if [ "$state" = enabled ]; then
        echo "FAIL: -Dman=enabled but scdoc was not found: apt-get install scdoc" >&2
        exit 1
    fi
    if [ "$state" = disabled ]; then
        echo "SKIP: man pages not built (-Dman=disabled)"
    else
        echo "SKIP: man pages not built: scdoc not found (apt-get install scdoc; -Dman=enabled makes this an error)"
    fi
    exit 77
fi
for tool in man groff perl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool is needed to check the man pages (apt-get install man-db groff-base perl)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# The built pages as man(1) lays them out, so that ".so man3/x.3" resolves.
for f in "$out"/*.[137]; do
    [ -e "$f" ] || continue
    sec=${f##*.}
    mkdir -p "$tmp/man$sec"
    ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$tmp/man$sec/"
done

# 1. Functions: NAME<TAB>HEADER<TAB>normalised prototype, one per line.
# Comments and preprocessor lines go first; what is left splits into
# declarations at ';', '{' and '}'.
perl -e '
    for my $h (@ARGV) {
        open(my $fh, "<", $h) or die "$h: $!";
        local $/; my $t = <$fh>;
        (my $name = $h) =~ s{.*/}{}; $name =~ s/\.in$//;
        $t =~ s{/\*.*?\*/}{ }gs; $t =~ s{//[^\n]*}{}g;
        $t =~ s{^\s*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
        for my $d (split /[;{}]/, $t) {
            next unless $d =~ /\b(demi_[a-z0-9_]+)\s*\(/;
            next if $d =~ /\btypedef\b/;
            my $fn = $1;
            $d =~ s/\bATTR_NONNULL\s*\([^)]*\)//g; $d =~ s/\bATTR_NODISCARD\b//g;
            $d =~ s/\b_(?:In_reads_bytes|In_reads|Out_writes_to)_\s*\([^()]*(?:\([^()]*\)[^()]*)*\)//g;
            $d =~ s/\b_(?:In|Out|In_opt|In_z|Deref_pre_z)_(?=\W)//g;
            $d =~ s/\bextern\b//g;
            $d =~ s/\s+/ /g; $d =~ s/\s*([(),*\[\]])\s*/$1/g; $d =~ s/^ | $//g;
            print "$fn\t$name\t$d\n";
        }
    }' $(ls "$src"/include/demi/*.h "$src"/include/demi/*.h.in 2>/dev/null) > "$tmp/decls"
if [ ! -s "$tmp/decls" ]; then
    fail "no function declarations found in $src/include/demi"
fi

# The page that documents NAME.3: itself, or the page its alias names.
target_of() {
    p=$out/$1.3
    [ -e "$p" ] || return 1
    if head -n 1 "$p" | grep -q '^\.so '; then
        t=$(head -n 1 "$p" | sed 's|^\.so man3/||')
        echo "${t%.3}"
    else
        echo "$1"
    fi
}

# SYNOPSIS of a page source, normalised as the declarations are.
synopsis() {
    perl -e '
        local $/; my $t = <STDIN>;
        my ($s) = $t =~ /^# SYNOPSIS\n(.*?)^# /ms or exit 0;
        $s =~ s/^```.*\n//mg; $s =~ s/\\\\/\\/g;
        for my $inc ($s =~ /#include\s*<(demi\/[a-z]+\.h)>/g) { print "INCLUDE $inc\n" }
        $s =~ s{/\*.*?\*/}{ }gs; $s =~ s{^\s*#(?:[^\n]*\\\n)*[^\n]*}{}mg;
        for my $d (split /;/, $s) {
            $d =~ s/\s+/ /g; $d =~ s/\s*([(),*\[\]])\s*/$1/g; $d =~ s/^ | $//g;
            print "PROTO $d\n" if $d =~ /\(/;
        }' < "$1"
}

# A function declared in two headers is checked once: its page must show
# the prototype of one of them (their parameter names may differ).
cut -f1 "$tmp/decls" | sort -u > "$tmp/names"
while read -r fn; do
    header=$(grep "^$fn	" "$tmp/decls" | cut -f2 | tr '\n' ' ')
    if ! page=$(target_of "$fn"); then
        fail "$fn ($header): no page $fn.3 and no alias (man/meson.build: man_pages or man_aliases)"
        continue
    fi
    scd=$src/man/$page.3.scd
    if [ ! -e "$scd" ]; then
        fail "$fn: alias to $page.3, which has no source $scd"
        continue
    fi
    synopsis "$scd" > "$tmp/syn"
    shown=no
    grep "^$fn	" "$tmp/decls" | cut -f3 > "$tmp/protos"
    while read -r proto; do
        grep -qxF "PROTO $proto" "$tmp/syn" && shown=yes
    done < "$tmp/protos"
    [ "$shown" = yes ] ||
        fail "$fn: the SYNOPSIS of man/$page.3.scd does not show the prototype of $header: $(head -n 1 "$tmp/protos")"
    # The function's own header, or another that declares it too.
    included=no
    for inc in $(sed -n 's|^INCLUDE demi/||p' "$tmp/syn"); do
        grep -q "^$fn	$inc	" "$tmp/decls" && included=yes
    done
    [ "$included" = yes ] ||
        fail "$fn: the SYNOPSIS of man/$page.3.scd includes no header that declares it"
done < "$tmp/names"

# 2. Tools and sources.
for t in "$src"/tools/*.c "$src"/tools/*.in; do
    [ -e "$t" ] || continue
    name=$(basename "$t"); name=${name%.c}; name=${name%.in}
    [ -e "$out/$name.1" ] || fail "tool $name: no page $name.1 (man/$name.1.scd)"
done
for s in "$src"/man/*.scd; do
    page=$(basename "$s" .scd)
    [ -e "$out/$page" ] || fail "man/$page.scd is not built: add it to man_pages in man/meson.build"
done

# 3. Rendering. man-db runs the page through groff; -ww turns on every
# warning, and anything on stderr is one.
cd "$tmp" || exit 1
for f in man*/*; do
    if ! MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -E UTF-8 -l "$f" > "$tmp/rendered" 2> "$tmp/err" ||
        [ -s "$tmp/err" ]; then
        fail "$f: man -l warns: $(head -n 3 "$tmp/err" | tr '\n' ' ')"
    fi
    if [ "$(grep -c . "$tmp/rendered")" -lt 5 ]; then
        fail "$f: renders to almost nothing (an alias to a missing page?)"
    fi
    if ! groff -s -man -ww -z -I "$tmp" "$f" 2> "$tmp/err" || [ -s "$tmp/err" ]; then
        fail "$f: groff -man -ww warns: $(head -n 3 "$tmp/err" | tr '\n' ' ')"
    fi
done

# 4. SEE ALSO. System pages we refer to; man -w confirms them where the
# system's pages are installed.
system_pages="accept.2 bind.2 close.2 connect.2 epoll_wait.2 ftruncate.2
    getpeername.2 getsockname.2 getsockopt.2 listen.2 mmap.2 poll.2 recv.2
    select.2 send.2 setsockopt.2 shutdown.2 socket.2 clock_gettime.2
    malloc.3 shm_open.3 socket.7 tcp.7 udp.7 ip.7 ipv6.7 recvfrom.2 ld.so.8 ss.8
    tcpdump.8"
for s in "$src"/man/*.scd; do
    page=$(basename "$s" .scd)
    perl -ne 'if (/^# /) { $in = /^# SEE ALSO/; next }
              print "$1.$2\n" while $in && /\*([A-Za-z0-9_.:-]+)\*\((\d)\)/g' "$s" > "$tmp/refs"
    [ -s "$tmp/refs" ] || fail "man/$page.scd: no SEE ALSO references"
    while read -r ref; do
        [ "$ref" != "$page" ] || fail "man/$page.scd: SEE ALSO names the page itself"
        [ -e "$out/$ref" ] && continue
        case " $(echo $system_pages) " in
        *" $ref "*)
            # A system page: check it when the system has its section's pages.
            if man -w "${ref##*.}" "${ref%.*}" >/dev/null 2>&1; then :; else
                echo "note: man/$page.scd refers to ${ref%.*}(${ref##*.}), not installed here"
            fi ;;
        *) fail "man/$page.scd: SEE ALSO ${ref%.*}(${ref##*.}) is no page of ours nor a known system page" ;;
        esac
    done < "$tmp/refs"
done
# libdemi(7) is the way in: it names every other page (not the aliases).
for s in "$src"/man/*.scd; do
    page=$(basename "$s" .scd)
    [ "$page" = libdemi.7 ] && continue
    ref="*${page%.*}*(${page##*.})"
    grep -qF "$ref" "$src/man/libdemi.7.scd" || fail "libdemi(7) SEE ALSO does not name ${page%.*}(${page##*.})"
done

n_pages=$(ls "$src"/man/*.scd | wc -l)
n_funcs=$(cut -f1 "$tmp/decls" | sort -u | wc -l)
if [ "$fails" -gt 0 ]; then
    echo "man-check: $fails problem(s)"
    exit 1
fi
echo "man-check: $n_pages pages, $(ls "$out" | grep -c '\.[137]$') with aliases, $n_funcs functions documented, all render clean"
exit 0
