#!/bin/bash
# virtio-blk in a real Linux guest: the default Debian guest under `ember run` inside L1 (a
# genuine AMD SVM+NPT /dev/kvm under QEMU TCG), with two disks:
#   vda  a read-only ext4 "tools" image (readonly=on) holding mke2fs with its libraries (the
#        guest's busybox cannot make ext4) and /pattern, 64 MiB of known data made on the host;
#   vdb  a 320 MiB sparse raw image, queues=2, serial=ember-data-01.
# Run 1 (io_uring engine): the guest sees vda and vdb with the right sizes, serial, read-only
# flag and queue count; a write to vda fails; it makes ext4 on the first 256 MiB of vdb, copies
# the 64 MiB into a file there, writes the first 16 MiB raw at 272 MiB, syncs and powers off.
# The host then finds exactly that data: the file through debugfs, the raw range with cmp;
# e2fsck finds the file system clean; the read-only image is unchanged.
# Run 2 (--io-engine sync): the guest compares the file with the original again and
# blkdiscards 8 MiB of the raw range; the host sees the image's allocated blocks (stat %b)
# shrink by those 8 MiB, zeros there, and the rest of the raw range intact.
#
#   test-virtio-blk.sh [--kernel bzimage|pvh]
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KERNEL=bzimage
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --kernel) KERNEL=${2:?}; shift 2 ;;
        *) echo "test-virtio-blk: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

MIB=$((1 << 20))
TOOLS_MIB=100 DISK_MIB=320 FS_MIB=256 FILE_MIB=64 RAW_AT_MIB=272 RAW_MIB=16 DISCARD_MIB=8
SERIAL=ember-data-01

fail() {
    echo "test-virtio-blk [$KERNEL]: FAIL: $*" >&2
    [[ -n "${LOG:-}" && -f "$LOG" ]] && { echo "--- ember output ---" >&2; tail -n 60 "$LOG" >&2; }
    echo "0 passed, 1 failed"
    exit 1
}

# The known data: 10-byte decimal lines, each unique, so a misplaced block shows.
pattern() { { seq -w 100000000 199999999 || true; } | head -c "$1"; } # seq dies of SIGPIPE

# An ext4 image with mke2fs, its libraries, the dynamic loader, mke2fs.conf and the pattern.
build_tools_image() {
    local out=$1 stage lib
    stage=$(mktemp -d)
    mkdir -p "$stage/lib"
    cp /usr/sbin/mke2fs /etc/mke2fs.conf "$stage/"
    for lib in $(ldd /usr/sbin/mke2fs | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
        cp -L "$lib" "$stage/lib/"
    done
    cp "$EMBER_BLK_EXPECTED" "$stage/pattern"
    rm -f "$out"
    mke2fs -q -F -t ext4 -L ember-tools -d "$stage" "$out" ${TOOLS_MIB}M >/dev/null
    rm -rf "$stage"
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || fail "no ember binary"
    nested_guest_dir cloud >/dev/null || fail "cannot build the default guest"
    command -v debugfs >/dev/null || fail "debugfs (e2fsprogs) is needed on the host"
    # Made here, read in L1 through its view of the host's root.
    EMBER_BLK_TOOLS=$(mktemp /tmp/ember-blk-tools.XXXXXX)
    EMBER_BLK_EXPECTED=$(mktemp /tmp/ember-blk-expected.XXXXXX)
    export EMBER_BLK_TOOLS EMBER_BLK_EXPECTED
    trap 'rm -f "$EMBER_BLK_TOOLS" "$EMBER_BLK_EXPECTED"' EXIT
    pattern $((FILE_MIB * MIB)) >"$EMBER_BLK_EXPECTED"
    build_tools_image "$EMBER_BLK_TOOLS"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

guest_run1() {
    cat <<EOF
T=/mnt/tools
for d in vda vdb; do
    q=\$(ls /sys/block/\$d/mq 2>/dev/null | wc -l)
    echo "EMBER-BLK-DEV \$d size=\$(cat /sys/block/\$d/size) ro=\$(cat /sys/block/\$d/ro) queues=\$q serial=\$(cat /sys/block/\$d/serial 2>/dev/null)"
done
mkdir -p \$T /mnt/data
mount -t ext4 -o ro /dev/vda \$T || echo EMBER-BLK-FAIL mount-tools
if dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; then
    echo EMBER-BLK-RO-WRITE accepted
else
    echo EMBER-BLK-RO-WRITE refused
fi
MKE2FS_CONFIG=\$T/mke2fs.conf \$T/lib/ld-linux-x86-64.so.2 --library-path \$T/lib \$T/mke2fs \
    -q -F -t ext4 -L ember-data /dev/vdb ${FS_MIB}M || echo EMBER-BLK-FAIL mkfs
mount -t ext4 /dev/vdb /mnt/data || echo EMBER-BLK-FAIL mount-data
cp \$T/pattern /mnt/data/pattern || echo EMBER-BLK-FAIL copy
sync
echo "EMBER-BLK-FILE \$(wc -c < /mnt/data/pattern)"
umount /mnt/data || echo EMBER-BLK-FAIL umount
dd if=\$T/pattern of=/dev/vdb bs=1M count=$RAW_MIB seek=$RAW_AT_MIB conv=fsync 2>/dev/null ||
    echo EMBER-BLK-FAIL raw-write
grep -i virtio /proc/interrupts | sed 's/^/EMBER-IRQ /'
umount \$T
echo EMBER-BLK-DONE
EOF
}

guest_run2() {
    cat <<EOF
mkdir -p /mnt/tools /mnt/data
mount -t ext4 -o ro /dev/vda /mnt/tools || echo EMBER-BLK-FAIL mount-tools
mount -t ext4 -o ro /dev/vdb /mnt/data || echo EMBER-BLK-FAIL mount-data
cmp /mnt/tools/pattern /mnt/data/pattern && echo EMBER-BLK-REREAD ok || echo EMBER-BLK-REREAD differs
umount /mnt/data /mnt/tools
blkdiscard -o $((RAW_AT_MIB * MIB)) -l $((DISCARD_MIB * MIB)) /dev/vdb && echo EMBER-BLK-DISCARD ok
sync
echo EMBER-BLK-DONE
EOF
}

# Boots the guest with the two disks: run_ember LOG COMMAND [ember options...]
run_ember() {
    local log=$1 command=$2 rc
    shift 2
    set +e
    timeout 600 "$EMBER" run --kernel "$GUEST_KERNEL" --initrd "$GUEST_DIR/initramfs.cpio.gz" \
        --cpus 2 --memory 512M \
        --disk "path=$WORK/tools.img,readonly=on" \
        --disk "path=$WORK/data.img,queues=2,serial=$SERIAL" "$@" \
        --cmdline "$(nested_guest_cmdline "$command" ember.modules=ext4)" </dev/null >"$log" 2>&1
    rc=$?
    set -e
    [[ $rc -ne 124 ]] || fail "ember timed out"
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    nested_guest_ready_uptime "$log" >/dev/null || fail "no EMBER-GUEST-READY line"
    grep -q '^EMBER-BLK-DONE' "$log" || fail "the guest command did not finish"
    ! grep '^EMBER-BLK-FAIL' "$log" || fail "a guest step failed"
}

check_devices() {
    local vda vdb
    vda=$(grep '^EMBER-BLK-DEV vda' "$LOG") || fail "the guest has no vda"
    vdb=$(grep '^EMBER-BLK-DEV vdb' "$LOG") || fail "the guest has no vdb"
    [[ "$vda" == *" size=$((TOOLS_MIB * 2048)) ro=1 "* ]] ||
        fail "vda: '$vda' (expected $TOOLS_MIB MiB, read-only)"
    [[ "$vdb" == *" size=$((DISK_MIB * 2048)) ro=0 queues=2 serial=$SERIAL"* ]] ||
        fail "vdb: '$vdb'"
    grep -q '^EMBER-BLK-RO-WRITE refused' "$LOG" || fail "a write to the read-only vda worked"
}

# Does data.img hold, at MiB $1, $2 MiB of the pattern from its MiB $3 (or zeros: "zero")?
# Files, not <(...): L1's /dev has no /dev/fd. Sets DIFF to a description otherwise.
same_bytes() {
    local at=$1 count=$2 from=$3
    dd if="$WORK/data.img" of="$WORK/got" bs=1M skip="$at" count="$count" 2>/dev/null
    if [[ "$from" == zero ]]; then
        dd if=/dev/zero of="$WORK/want" bs=1M count="$count" 2>/dev/null
    else
        dd if="$WORK/expected" of="$WORK/want" bs=1M skip="$from" count="$count" 2>/dev/null
    fi
    cmp -s "$WORK/got" "$WORK/want" && return 0
    DIFF="$(cmp -l "$WORK/got" "$WORK/want" | wc -l) bytes differ, first at $(cmp "$WORK/got" "$WORK/want" | sed 's/.*differ: //')"
    return 1
}

check_run1_on_image() {
    local got
    got=$(sed -n 's/^EMBER-BLK-FILE \([0-9]*\).*/\1/p' "$LOG")
    [[ "$got" == $((FILE_MIB * MIB)) ]] || fail "the guest wrote '$got' bytes, not $FILE_MIB MiB"
    debugfs -R "dump /pattern $WORK/extracted" "$WORK/data.img" >/dev/null 2>&1 ||
        fail "debugfs cannot dump /pattern from the image"
    cmp -s "$WORK/extracted" "$WORK/expected" ||
        fail "the file in the image differs from what the guest wrote ($(cmp "$WORK/extracted" "$WORK/expected" 2>&1 | head -n1))"
    e2fsck -fn "$WORK/data.img" >"$WORK/fsck.log" 2>&1 ||
        fail "e2fsck finds the guest's file system damaged: $(tail -n 3 "$WORK/fsck.log")"
    same_bytes $RAW_AT_MIB $RAW_MIB 0 ||
        fail "the raw range at $RAW_AT_MIB MiB differs from what the guest wrote: $DIFF"
    [[ "$(md5sum <"$WORK/tools.img")" == "$TOOLS_MD5" ]] || fail "the read-only image changed"
}

check_run2_on_image() {
    local before=$1 freed want
    grep -q '^EMBER-BLK-REREAD ok' "$LOG" || fail "re-reading the file: $(grep '^EMBER-BLK-REREAD' "$LOG")"
    grep -q '^EMBER-BLK-DISCARD ok' "$LOG" || fail "blkdiscard failed in the guest"
    AFTER=$(stat -c %b "$WORK/data.img")
    freed=$(( (before - AFTER) * $(stat -c %B "$WORK/data.img") ))
    want=$((DISCARD_MIB * MIB))
    [[ $freed -ge $want ]] ||
        fail "blkdiscard freed $freed bytes on the host (stat %b $before -> $AFTER), expected $want"
    same_bytes $RAW_AT_MIB $DISCARD_MIB zero || fail "the discarded range does not read zeros: $DIFF"
    same_bytes $((RAW_AT_MIB + DISCARD_MIB)) $((RAW_MIB - DISCARD_MIB)) $DISCARD_MIB ||
        fail "the raw data after the discarded range changed: $DIFF"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    [[ -f "${EMBER_BLK_TOOLS:-}" ]] || fail "no tools image (run this script on the host)"
    EMBER=$(nested_ember_binary) || fail "no ember binary"
    GUEST_DIR=$(nested_guest_dir cloud) || fail "no guest image"
    case "$KERNEL" in
        bzimage) GUEST_KERNEL="$GUEST_DIR/vmlinuz" ;;
        pvh) GUEST_KERNEL="$GUEST_DIR/vmlinux" ;;
        *) fail "--kernel must be bzimage or pvh" ;;
    esac
    # L1's /tmp is a tmpfs overlay: it has hole punching (the scratch 9p share has not).
    WORK=$(mktemp -d /tmp/ember-blk.XXXXXX)
    LOG="$WORK/ember.log"
    cp "$EMBER_BLK_TOOLS" "$WORK/tools.img"
    TOOLS_MD5=$(md5sum <"$WORK/tools.img")
    truncate -s ${DISK_MIB}M "$WORK/data.img"
    ln -s "$EMBER_BLK_EXPECTED" "$WORK/expected"
    local start end before
    start=$(nested_now)
    run_ember "$LOG" "$(guest_run1)"
    check_devices
    check_run1_on_image
    cp "$LOG" "$WORK/run1.log"
    before=$(stat -c %b "$WORK/data.img")
    run_ember "$LOG" "$(guest_run2)" --io-engine sync
    check_run2_on_image "$before"
    end=$(nested_now)
    echo "test-virtio-blk [$KERNEL]: vda (ro) + vdb; ext4 + $FILE_MIB MiB file and $RAW_MIB MiB raw" \
        "found on the host; re-read with --io-engine sync; blkdiscard: stat %b $before ->" \
        "$AFTER; $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
