#!/bin/bash
# Boots the default Debian guest with Ember inside L1 (a genuine AMD SVM+NPT /dev/kvm under QEMU
# TCG) and checks that it reaches user space, sees every vCPU, and that the guest's way of ending
# (ACPI power-off after its command, or `reboot -f` through the i8042 with reboot=k) ends ember
# with status 0.
#
#   test-ember-boot.sh [--flavour cloud|amd64] [--kernel bzimage|pvh] [--cpus N] [--memory SIZE]
#                      [--end poweroff|reboot]
#
# On the host it prepares the guest image and re-runs itself inside L1; inside L1 it runs ember.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FLAVOUR=cloud KERNEL=bzimage CPUS=4 MEMORY=512M END=poweroff
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --flavour) FLAVOUR=${2:?}; shift 2 ;;
        --kernel) KERNEL=${2:?}; shift 2 ;;
        --cpus) CPUS=${2:?}; shift 2 ;;
        --memory) MEMORY=${2:?}; shift 2 ;;
        --end) END=${2:?}; shift 2 ;;
        *) echo "test-ember-boot: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
NAME="$FLAVOUR/$KERNEL/${CPUS}cpu/$END"

fail() {
    echo "test-ember-boot [$NAME]: FAIL: $*" >&2
    [[ -n "${LOG:-}" && -f "$LOG" ]] && { echo "--- ember output ---" >&2; cat "$LOG" >&2; }
    echo "0 passed, 1 failed"
    exit 1
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || fail "no ember binary"
    nested_guest_dir "$FLAVOUR" >/dev/null || fail "cannot build the $FLAVOUR guest"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

guest_command() {
    case "$END" in
        poweroff) echo 'echo "EMBER-NPROC $(nproc)"; exit 3' ;;
        reboot) echo 'echo "EMBER-NPROC $(nproc)"; reboot -f' ;;
        *) fail "--end must be poweroff or reboot" ;;
    esac
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local dir kernel start end ready nproc status
    dir=$(nested_guest_dir "$FLAVOUR") || fail "no $FLAVOUR guest image"
    case "$KERNEL" in
        bzimage) kernel="$dir/vmlinuz" ;;
        pvh) kernel="$dir/vmlinux" ;;
        *) fail "--kernel must be bzimage or pvh" ;;
    esac
    [[ -f "$kernel" ]] || fail "no $kernel"
    LOG=$(mktemp)
    trap 'rm -f "$LOG"' EXIT
    start=$(nested_now)
    nested_ember_logged "$LOG" 300 run --kernel "$kernel" --initrd "$dir/initramfs.cpio.gz" \
        --cpus "$CPUS" --memory "$MEMORY" \
        --cmdline "$(nested_guest_cmdline "$(guest_command)" reboot=k)" || fail "$NESTED_WHY"
    end=$(nested_now)
    ready=$(nested_guest_ready_uptime "$LOG") || fail "no EMBER-GUEST-READY line"
    nproc=$(sed -n 's/^EMBER-NPROC \([0-9]*\).*/\1/p' "$LOG")
    [[ "$nproc" == "$CPUS" ]] || fail "guest saw '${nproc}' online CPUs, expected $CPUS"
    if [[ "$END" == poweroff ]]; then
        status=$(nested_guest_exit_status "$LOG") || fail "no EMBER-GUEST-EXIT line"
        [[ "$status" == 3 ]] || fail "guest command status $status, expected 3"
    fi
    echo "test-ember-boot [$NAME]: ready at guest uptime $ready s, $nproc CPUs," \
        "ember exit 0 after $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
