#!/bin/bash
# Boots the default Debian guest with `ember run --console virtio` inside L1 (a genuine AMD
# SVM+NPT /dev/kvm under QEMU TCG), kernel command line console=hvc0, and no ember.cmd: the
# guest's init then runs an interactive shell on its console, hvc0. Checks, from the host side
# of ember's stdin/stdout only:
#   - the guest's output reaches ember's stdout through virtio-console (its ready line
#     included: init prints it on hvc0, COM1 stays silent with console=hvc0),
#   - input typed into ember's stdin reaches the guest's shell, which runs it: it prints the
#     active console (hvc0) and an arithmetic result only a shell produces, then powers off,
#   - ember exits 0.
#
#   test-virtio-console.sh [--kernel bzimage|pvh] [--cpus N]
#
# On the host it prepares the guest image and re-runs itself inside L1; inside L1 it runs ember.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KERNEL=bzimage CPUS=2
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --kernel) KERNEL=${2:?}; shift 2 ;;
        --cpus) CPUS=${2:?}; shift 2 ;;
        *) echo "test-virtio-console: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
NAME="$KERNEL/${CPUS}cpu"
READY_TIMEOUT=240   # seconds until the guest's ready line, in L1 (TCG)
# Typed at the guest's shell prompt. The echo of the typed line shows "$((6 * 7))" literally;
# only the shell's own output has 42 in it.
TYPED='echo "EMBER-VCON-SHELL $((6 * 7)) $(cat /sys/class/tty/console/active)"; poweroff -f'

fail() {
    echo "test-virtio-console [$NAME]: FAIL: $*" >&2
    [[ -n "${LOG:-}" && -f "$LOG" ]] && { echo "--- ember output ---" >&2; cat "$LOG" >&2; }
    echo "0 passed, 1 failed"
    exit 1
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || fail "no ember binary"
    nested_guest_dir cloud >/dev/null || fail "cannot build the default guest"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# Waits until the guest's ready line is in $LOG, or ember died, or the timeout passed.
wait_for_ready() {
    local pid=$1 i
    for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
        grep -q '^EMBER-GUEST-READY' "$LOG" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local ember dir kernel rc pid start end
    ember=$(nested_ember_binary) || fail "no ember binary"
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    case "$KERNEL" in
        bzimage) kernel="$dir/vmlinuz" ;;
        pvh) kernel="$dir/vmlinux" ;;
        *) fail "--kernel must be bzimage or pvh" ;;
    esac
    [[ -f "$kernel" ]] || fail "no $kernel"
    LOG=$(mktemp)
    FIFO=$(mktemp -u)
    mkfifo "$FIFO"
    trap 'rm -f "$LOG" "$FIFO"' EXIT
    start=$(nested_now)
    # stdin is a FIFO that stays open, like a terminal nobody has typed into yet.
    timeout 300 "$ember" run --kernel "$kernel" --initrd "$dir/initramfs.cpio.gz" \
        --cpus "$CPUS" --console virtio --cmdline "console=hvc0 quiet panic=-1" \
        <"$FIFO" >"$LOG" 2>&1 &
    pid=$!
    exec 3>"$FIFO"
    if ! wait_for_ready "$pid"; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        fail "no EMBER-GUEST-READY line on ember's stdout (hvc0 output did not arrive)"
    fi
    printf '%s\n' "$TYPED" >&3
    set +e
    wait "$pid"
    rc=$?
    set -e
    exec 3>&-
    end=$(nested_now)
    [[ $rc -ne 124 ]] || fail "ember timed out (the typed command did not power the guest off)"
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    tr -d '\r' <"$LOG" >"$LOG.clean" && mv "$LOG.clean" "$LOG"
    grep -q 'EMBER-VCON-SHELL 42 hvc0' "$LOG" ||
        fail "the shell's answer (EMBER-VCON-SHELL 42 hvc0) is missing: input did not reach it"
    grep -E '^EMBER-GUEST-READY|EMBER-VCON-SHELL 42' "$LOG" | sed 's/^/  guest: /'
    echo "test-virtio-console [$NAME]: ready at uptime $(nested_guest_ready_uptime "$LOG") s on" \
        "hvc0, typed command ran, ember exit 0 after $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
