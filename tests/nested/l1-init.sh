#!/bin/sh
# /init of the L1 test VM (busybox sh, PID 1). See tests/nested/README.md.
#
# L1 runs under QEMU TCG with an emulated AMD CPU (SVM + NPT), so it has a
# genuine AMD /dev/kvm. It:
#   1. loads 9p, overlay, tun, kvm + kvm-amd (and ember_l1.modules=a,b);
#   2. mounts the host's root (9p tag "hostroot", read-only) under a tmpfs
#      overlay, so host paths work unchanged and writes stay in L1 memory;
#   3. mounts the scratch directory (9p tag "scratch", read-write) at its host
#      path (ember_l1.scratch=PATH), and the extra shares (tags share0, share1...,
#      ember_l1.shares=PATH0,PATH1) at theirs;
#   4. chroots into that root and runs SCRATCH/job.sh (written by the harness) with
#      stdout/stderr appended to SCRATCH/stdout and SCRATCH/stderr;
#   5. writes the exit status to SCRATCH/status and powers off.
# Progress lines go to the console (ttyS0) and SCRATCH/l1.log.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
NEWROOT=/newroot
BASE_MODULES="virtio_pci 9pnet_virtio 9p overlay tun kvm kvm_amd"
P9_OPTS="trans=virtio,version=9p2000.L,msize=512000"

log() {
    echo "ember-l1: $*"
    [ -n "${SCRATCH_LOG:-}" ] && echo "ember-l1: $*" >>"$SCRATCH_LOG"
}

# Prints the value of kernel parameter $1, or nothing.
cmdline_param() {
    for word in $(cat /proc/cmdline); do
        case "$word" in
            "$1="*) echo "${word#*=}"; return 0 ;;
        esac
    done
    return 1
}

uptime_seconds() {
    read -r up _ </proc/uptime
    echo "$up"
}

mount_pseudo_filesystems() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
}

load_modules() {
    extra=$(cmdline_param ember_l1.modules | tr ',' ' ')
    # shellcheck disable=SC2086
    modprobe -a $BASE_MODULES $extra || log "warning: some modules failed to load"
    [ -c /dev/kvm ] || log "warning: no /dev/kvm (kvm_amd did not load?)"
}

# Host root read-only (cache=loose: it does not change under us) below a tmpfs
# upper layer. Without overlay support, fall back to the bare read-only root.
mount_host_root() {
    mkdir -p /lower /rw "$NEWROOT"
    mount -t 9p -o "$P9_OPTS,ro,cache=loose" hostroot /lower || return 1
    mount -t tmpfs -o mode=0755 tmpfs /rw
    mkdir -p /rw/upper /rw/work
    if ! mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay "$NEWROOT"; then
        log "warning: overlay failed; the host root is read-only"
        mount --bind /lower "$NEWROOT"
    fi
}

mount_system_dirs() {
    mount -t proc proc "$NEWROOT/proc"
    mount -t sysfs sysfs "$NEWROOT/sys"
    mount -t devtmpfs devtmpfs "$NEWROOT/dev"
    mkdir -p "$NEWROOT/dev/pts" "$NEWROOT/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$NEWROOT/dev/pts"
    mount -t tmpfs tmpfs "$NEWROOT/dev/shm"
    mount -t tmpfs tmpfs "$NEWROOT/run"
}

# Mounts 9p tag $1 read-write at host path $2 inside the new root.
mount_share() {
    mkdir -p "$NEWROOT$2" 2>/dev/null
    mount -t 9p -o "$P9_OPTS" "$1" "$NEWROOT$2"
}

mount_shares() {
    index=0
    for path in $(cmdline_param ember_l1.shares | tr ',' ' '); do
        mount_share "share$index" "$path" || log "warning: cannot mount share $path"
        index=$((index + 1))
    done
}

run_job() {
    uptime_seconds >"$SCRATCH/l1-ready"
    log "ready after $(uptime_seconds) s; running the job"
    chroot "$NEWROOT" /bin/bash "$SCRATCH_HOST/job.sh" </dev/null >>"$SCRATCH/stdout" 2>>"$SCRATCH/stderr"
    status=$?
    uptime_seconds >"$SCRATCH/l1-done"
    echo "$status" >"$SCRATCH/status.tmp" && mv "$SCRATCH/status.tmp" "$SCRATCH/status"
    log "job exited with status $status"
}

power_off() {
    sync
    poweroff -f
    while :; do sleep 3600; done
}

main() {
    mount_pseudo_filesystems
    SCRATCH_HOST=$(cmdline_param ember_l1.scratch) || { log "error: no ember_l1.scratch= parameter"; power_off; }
    load_modules
    mount_host_root || { log "error: cannot mount the host root (9p)"; power_off; }
    mount_system_dirs
    mount_share scratch "$SCRATCH_HOST" || { log "error: cannot mount the scratch directory"; power_off; }
    # The scratch directory as this init sees it (the job sees SCRATCH_HOST).
    SCRATCH="$NEWROOT$SCRATCH_HOST"
    SCRATCH_LOG="$SCRATCH/l1.log"
    mount_shares
    run_job
    power_off
}

main
