#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cattree-faults.sh BUILD_DIR: storage queues (<demi/storage.h>) when the
# file system or the disk fails them, through cattree-fault-driver (the
# public API, as an application):
#   - no space: a 16 MiB ext4 in a loop device, cattree.prealloc_mib 1,
#     64 KiB records pushed 4 at a time until a push fails with ENOSPC;
#     the pushes after it keep failing with ENOSPC (no crash, no hang); once
#     space is freed the same queue takes pushes again; every record
#     acknowledged is intact after reopening, and the reopened log takes
#     appends;
#   - a failing disk: cattree.fault_write_eio=N makes the Nth write fail
#     with EIO: that push (or that group's pushes) and every later one
#     report EIO, the earlier records are intact after reopening, and the
#     reopened log takes appends (one push at a time, and 8 in flight);
#   - a read-only file system (a read-only bind mount): demi_creat and
#     demi_open for writing fail with EROFS, demi_open O_RDONLY reads;
#   - a file that is not a log: EILSEQ.
# Root for the loop device and the mounts; without them those cases are
# skipped with the reason (never passed).
# Prints "ok - NAME", "ok - NAME # SKIP why" or "not ok - NAME (reason)",
# then "N passed, M failed" (skips are in neither).
set -u

build=$(cd "${1:-build}" && pwd)
# Whole demi_sgaalloc buffers of 8 KiB and more are written in place here
# whatever the disk (cattree.zero_copy auto turns that off on a disk with
# 4 KiB physical blocks, as this VM's): both write paths are tested.
export DEMI_CATTREE_ZERO_COPY=on
drv=$build/tests/integration/cattree-fault-driver
[ -x "$drv" ] || { echo "not ok - $drv is not built"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d -p /var/tmp cattree-faults.XXXXXX)
loopdev=
mounts=()
skipped=0

cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}"; done
    [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=report-lib.sh
. "$(dirname "$0")/report-lib.sh"

skip() {
    echo "ok - $1 # SKIP $2"
    skipped=$((skipped + 1))
}

# field LOG NAME: the value the driver printed as "NAME value".
field() {
    awk -v n="$2" '$1 == n { v = $2 } END { print v }' "$1"
}

# all_are LIST ERR: every comma-separated item of LIST is ERR.
all_are() {
    [ -n "$1" ] && [ -z "$(echo "$1" | tr ',' '\n' | grep -vx "$2")" ]
}

# run LOG CMD...: the driver under a time limit (a hang is a failure).
run() {
    local log=$1
    shift
    timeout -s KILL 120 "$drv" "$@" >"$log" 2>&1
}

# Without storage queues (libdemi built without liburing, or io_uring
# refused by the kernel) there is nothing to test: skipped, with the reason.
run "$tmp/probe.log" open "$tmp/probe.log.log" creat
if [ "$(field "$tmp/probe.log" open)" = ENOTSUP ]; then
    echo "# SKIP storage queues are not available here (libdemi without liburing, or io_uring refused)"
    exit 77
fi

# ---- a file that is not a log -------------------------------------------
printf 'just some text, not a log\n%.0s' $(seq 300) >"$tmp/text.txt"
run "$tmp/text.log" open "$tmp/text.txt" rdonly
if [ "$(field "$tmp/text.log" open)" = EILSEQ ]; then
    ok "not a log: demi_open says EILSEQ"
else
    not_ok "not a log: demi_open says EILSEQ" "open $(field "$tmp/text.log" open)" "$tmp/text.log"
fi

# ---- a failing disk: the Nth write fails with EIO ------------------------
# check_eio NAME FAULT DEPTH WANT_ACKED LEN: pushes of LEN bytes (from 8 KiB
# on, written zero-copy from the application's buffer) with write FAULT
# failing; WANT_ACKED acknowledged (when set), then EIO for the rest.
check_eio() {
    local name=$1 log=$tmp/$1 fault=$2 depth=$3 want_acked=$4 len=$5 rc acked first later records
    DEMI_CATTREE_FAULT_WRITE_EIO=$fault run "$log.push" push "$log" creat 0 200 "$len" "$depth"
    rc=$?
    acked=$(field "$log.push" acked)
    first=$(field "$log.push" first_error)
    later=$(field "$log.push" later_errors)
    if [ $rc -ne 0 ]; then
        not_ok "EIO at write $fault, depth $depth, $len B: pushes report it" "driver exit $rc (3: a wait hung)" "$log.push"
        return
    fi
    if [ "$first" = EIO ] && all_are "$later" EIO && [ "$(field "$log.push" close)" = ok ] &&
        { [ -z "$want_acked" ] || [ "$acked" = "$want_acked" ]; } && ! grep -q "after a failure" "$log.push"; then
        ok "EIO at write $fault, depth $depth, $len B: $acked acknowledged, then EIO for that push and every later one"
    else
        not_ok "EIO at write $fault, depth $depth, $len B: pushes report it" \
            "acked $acked (want ${want_acked:-any}), first $first, later $later" "$log.push"
        return
    fi
    run "$log.verify" verify "$log" "$len"
    rc=$?
    records=$(field "$log.verify" records)
    if [ $rc -eq 0 ] && [ "${records:-0}" -ge "$acked" ]; then
        ok "EIO at write $fault, depth $depth, $len B: reopened, $records record(s) intact (>= $acked acknowledged)"
    else
        not_ok "EIO at write $fault, depth $depth, $len B: acknowledged records intact" \
            "exit $rc, $records records, intact $(field "$log.verify" intact), $acked acknowledged" "$log.verify"
        return
    fi
    # Reopened without the fault, the log takes appends after them.
    run "$log.append" push "$log" append "$records" 20 "$len" "$depth"
    rc=$?
    if [ $rc -eq 0 ] && [ "$(field "$log.append" acked)" = 20 ] && run "$log.verify2" verify "$log" "$len" &&
        [ "$(field "$log.verify2" records)" = $((records + 20)) ]; then
        ok "EIO at write $fault, depth $depth, $len B: reopened, 20 appends after the $records records"
    else
        not_ok "EIO at write $fault, depth $depth, $len B: reopened, appends work" \
            "exit $rc, acked $(field "$log.append" acked), then $(field "$log.verify2" records) records" \
            "$log.append" "$log.verify2"
    fi
}
check_eio eio-d1 5 1 4 1000
check_eio eio-d1-first 1 1 0 1000
check_eio eio-d8 3 8 "" 1000
check_eio eio-d8-zerocopy 4 8 "" 16384

# ---- cattree.zero_copy: on, off, and auto by the disk's physical block ----
# 64 KiB demi_sgaalloc pushes, 4 in flight: written in place (on), copied
# (off), and under auto in place only where the disk under $tmp has 512-byte
# physical blocks (sysfs, as libdemi reads it); each log read back whole.
pbs_of() {
    local dev f
    dev=$(stat -c '%Hd:%Ld' "$1") || return
    for f in /sys/dev/block/$dev/queue/physical_block_size /sys/dev/block/$dev/../queue/physical_block_size; do
        [ -r "$f" ] && { cat "$f"; return; }
    done
    echo 0
}
pbs=$(pbs_of "$tmp")
for mode in on off auto; do
    log=$tmp/zc-$mode.log
    DEMI_CATTREE_ZERO_COPY=$mode run "$log.push" push "$log" creat 0 64 65536 4
    rc=$?
    run "$log.verify" verify "$log" 65536
    vrc=$?
    zc=$(field "$log.push" zero_copy)
    case $mode in
    on) want=64 ;;
    off) want=0 ;;
    auto) if [ "$pbs" = 512 ]; then want=64; else want=0; fi ;;
    esac
    if [ $rc -eq 0 ] && [ $vrc -eq 0 ] && [ "$(field "$log.push" acked)" = 64 ] &&
        [ "$(field "$log.verify" intact)" = 64 ] && [ "$zc" = "$want" ]; then
        ok "cattree.zero_copy $mode: 64 records of 64 KiB acknowledged and intact, $zc written in place (physical block $pbs B)"
    else
        not_ok "cattree.zero_copy $mode: $want of 64 written in place, all intact" \
            "exit $rc/$vrc, acked $(field "$log.push" acked), intact $(field "$log.verify" intact), zero_copy '$zc'" \
            "$log.push" "$log.verify"
    fi
done

# ---- root only from here: mounts and loop devices -------------------------
if [ "$(id -u)" -ne 0 ]; then
    skip "read-only file system: EROFS" "needs root (a bind mount)"
    skip "no space: ENOSPC" "needs root (a loop device and a mount)"
    echo "$passed passed, $failed failed ($skipped skipped)"
    [ "$failed" -eq 0 ]
    exit
fi

# ---- a read-only file system ---------------------------------------------
mkdir -p "$tmp/rw" "$tmp/ro"
run "$tmp/ro-make.log" push "$tmp/rw/a.log" creat 0 10 500 1
if ! mount --bind "$tmp/rw" "$tmp/ro" 2>"$tmp/mount.err"; then
    skip "read-only file system: EROFS" "mount --bind failed: $(head -n 1 "$tmp/mount.err")"
else
    mounts+=("$tmp/ro")
    if ! mount -o remount,bind,ro "$tmp/ro" 2>"$tmp/mount.err"; then
        skip "read-only file system: EROFS" "remount,bind,ro failed: $(head -n 1 "$tmp/mount.err")"
    else
        res=""
        for m in creat:new.log rdwr:a.log wronly:a.log creat:a.log rdonly:a.log; do
            run "$tmp/ro-${m%%:*}.log" open "$tmp/ro/${m#*:}" "${m%%:*}"
            res="$res ${m%%:*}=$(field "$tmp/ro-${m%%:*}.log" open)"
        done
        run "$tmp/ro-verify.log" verify "$tmp/ro/a.log" 500
        if [ "$res" = " creat=EROFS rdwr=EROFS wronly=EROFS creat=EROFS rdonly=ok" ] &&
            [ "$(field "$tmp/ro-verify.log" records)" = 10 ] && [ "$(field "$tmp/ro-make.log" acked)" = 10 ]; then
            ok "read-only file system: demi_creat, O_RDWR, O_WRONLY say EROFS; O_RDONLY reads the 10 records"
        else
            not_ok "read-only file system: EROFS for writing, reads work" \
                "$res; $(field "$tmp/ro-verify.log" records) records read" "$tmp/ro-make.log" "$tmp/ro-verify.log"
        fi
    fi
fi

# ---- no space: a small ext4 in a loop device -------------------------------
mkdir -p "$tmp/mnt"
why=""
if ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
    why="mkfs.ext4 or losetup missing"
elif ! truncate -s 16M "$tmp/fs.img" || ! mkfs.ext4 -q -F -m 0 "$tmp/fs.img" >"$tmp/mkfs.log" 2>&1; then
    why="mkfs.ext4 failed: $(tail -n 1 "$tmp/mkfs.log")"
elif ! loopdev=$(losetup -f --show "$tmp/fs.img" 2>"$tmp/losetup.err"); then
    loopdev=
    why="no loop device: $(head -n 1 "$tmp/losetup.err")"
elif ! mount "$loopdev" "$tmp/mnt" 2>"$tmp/mount.err"; then
    why="mount of $loopdev failed: $(head -n 1 "$tmp/mount.err")"
fi
if [ -n "$why" ]; then
    skip "no space: ENOSPC" "$why"
else
    mounts+=("$tmp/mnt")
    log=$tmp/mnt/full.log
    # Room to give back later: the driver removes it after 5 pushes fail.
    dd if=/dev/zero of="$tmp/mnt/filler" bs=1M count=2 status=none conv=fsync
    CATTREE_DRIVER_FREE=$tmp/mnt/filler DEMI_CATTREE_PREALLOC_MIB=1 \
        run "$tmp/nospc.push" push "$log" creat 0 1000 65536 4
    rc=$?
    acked=$(field "$tmp/nospc.push" acked)
    first=$(field "$tmp/nospc.push" first_error)
    later=$(field "$tmp/nospc.push" later_errors)
    after=$(field "$tmp/nospc.push" after_free)
    if [ $rc -eq 0 ] && [ "$first" = ENOSPC ] && all_are "$later" ENOSPC && [ "${acked:-0}" -gt 0 ] &&
        [ "$(field "$tmp/nospc.push" close)" = ok ] && ! grep -q "after a failure" "$tmp/nospc.push"; then
        ok "no space: $acked records of 64 KiB acknowledged, then ENOSPC, and ENOSPC for the 5 pushes after"
    else
        not_ok "no space: a push fails with ENOSPC, later ones too" \
            "exit $rc (3: a wait hung), acked $acked, first $first, later $later" "$tmp/nospc.push"
    fi
    if [ $rc -eq 0 ] && all_are "$after" ok; then
        ok "no space: 2 MiB freed, the same queue takes the next 5 pushes"
    else
        not_ok "no space: space freed, the same queue takes pushes again (docs/cattree.md)" \
            "exit $rc, after freeing: ${after:-nothing}" "$tmp/nospc.push"
    fi
    run "$tmp/nospc.verify" verify "$log" 65536
    rc=$?
    records=$(field "$tmp/nospc.verify" records)
    want=$((${acked:-0} + $(echo "$after" | tr ',' '\n' | grep -cx ok)))
    if [ $rc -eq 0 ] && [ "${records:-0}" -ge "$want" ]; then
        ok "no space: reopened, $records record(s) intact (>= $want acknowledged)"
    else
        not_ok "no space: acknowledged records intact" \
            "exit $rc, $records records, intact $(field "$tmp/nospc.verify" intact), $want acknowledged" \
            "$tmp/nospc.verify"
    fi
    # Appends go on after the records there, in a reopened log.
    DEMI_CATTREE_PREALLOC_MIB=1 run "$tmp/nospc.append" push "$log" append "${records:-0}" 10 65536 4
    rc=$?
    run "$tmp/nospc.verify2" verify "$log" 65536
    if [ $rc -eq 0 ] && [ "$(field "$tmp/nospc.append" acked)" = 10 ] &&
        [ "$(field "$tmp/nospc.verify2" records)" = $((${records:-0} + 10)) ]; then
        ok "no space: reopened, the log takes 10 more records after its $records"
    else
        not_ok "no space: reopened, appends work again" \
            "exit $rc, acked $(field "$tmp/nospc.append" acked), then $(field "$tmp/nospc.verify2" records) records" \
            "$tmp/nospc.append" "$tmp/nospc.verify2"
    fi
fi

echo "$passed passed, $failed failed ($skipped skipped)"
[ "$failed" -eq 0 ]
