#!/bin/bash
# Sanity check of the default guest image with a known-good VMM: boots it under
# QEMU with KVM (inside L1, on the emulated AMD SVM+NPT) and checks that it
# reaches EMBER-GUEST-READY, sees all its vCPUs and reports its command's status.
# A stand-in until Ember itself can boot the guest.
#
#   qemu-guest-smoke.sh [--flavour cloud|amd64] [--smp N] [--bzimage]
#
# On the host it prepares the images and re-runs itself inside L1
# (run-in-l1.sh); inside L1 (or on any machine with a usable /dev/kvm,
# with EMBER_IN_L1=1) it runs the check. Exit status 0 = pass.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FLAVOUR=cloud SMP=4 BZIMAGE=0
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --flavour) FLAVOUR=${2:?}; shift 2 ;;
        --smp) SMP=${2:?}; shift 2 ;;
        --bzimage) BZIMAGE=1; shift ;;
        *) echo "qemu-guest-smoke: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

fail() {
    echo "qemu-guest-smoke: FAIL: $*" >&2
    [[ -n "${LOG:-}" && -f "$LOG" ]] && { echo "--- guest console ---" >&2; cat "$LOG" >&2; }
    echo "0 passed, 1 failed"
    exit 1
}

run_on_host() {
    nested_l1_available || exit 77
    nested_guest_dir "$FLAVOUR" >/dev/null || fail "cannot build the $FLAVOUR guest"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm"
    local dir kernel start end ready status nproc
    dir=$(nested_guest_dir "$FLAVOUR") || fail "no $FLAVOUR guest image"
    kernel=$(nested_guest_kernel "$dir")
    [[ $BZIMAGE -eq 1 ]] && kernel="$dir/vmlinuz"
    LOG=$(mktemp)
    trap 'rm -f "$LOG"' EXIT
    start=$(nested_now)
    timeout 300 qemu-system-x86_64 -accel kvm -cpu host -m 512 -smp "$SMP" \
        -nodefaults -no-user-config -display none -no-reboot -serial stdio \
        -kernel "$kernel" -initrd "$dir/initramfs.cpio.gz" \
        -append "$(nested_guest_cmdline 'echo "EMBER-NPROC $(nproc)"; exit 3')" \
        </dev/null >"$LOG" 2>/dev/null || fail "QEMU failed or timed out"
    end=$(nested_now)

    ready=$(nested_guest_ready_uptime "$LOG") || fail "no EMBER-GUEST-READY line"
    nproc=$(sed -n 's/^EMBER-NPROC \([0-9]*\).*/\1/p' "$LOG")
    [[ "$nproc" == "$SMP" ]] || fail "guest saw '${nproc}' CPUs, expected $SMP"
    status=$(nested_guest_exit_status "$LOG") || fail "no EMBER-GUEST-EXIT line"
    [[ "$status" == 3 ]] || fail "guest command status $status, expected 3"
    echo "qemu-guest-smoke: $FLAVOUR guest ($(basename "$kernel")) ready at uptime $ready s," \
        "$nproc CPUs, QEMU wall time $(nested_seconds_between "$start" "$end") s"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
