#!/bin/bash
# Boots the default Debian guest with `ember run --rng` inside L1 (a genuine AMD SVM+NPT /dev/kvm
# under QEMU TCG) and checks the whole virtio-pci path from the guest's side:
#   - the PCI bus enumerates (host bridge 1b36:0008, virtio-rng 1af4:1044 bound to virtio-pci),
#   - the hw_random core picked virtio_rng.0,
#   - /dev/hwrng yields bytes (64 KiB, and 32 bytes that are not all zero),
#   - the request queue's MSI-X interrupt fired (kicks arrive through ioeventfds, completions
#     through irqfds),
#   - ember exits 0 after the guest powers off.
#
#   test-virtio-rng.sh [--kernel bzimage|pvh] [--cpus N]
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
        *) echo "test-virtio-rng: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
NAME="$KERNEL/${CPUS}cpu"
RNG_BYTES=65536

fail() {
    echo "test-virtio-rng [$NAME]: FAIL: $*" >&2
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

# What the guest runs: one EMBER-* line per fact, parsed below.
guest_command() {
    cat <<EOF
for d in /sys/bus/pci/devices/*; do
    echo "EMBER-PCI \${d##*/} \$(cat \$d/vendor):\$(cat \$d/device) \$(basename "\$(readlink \$d/driver)")"
done
echo "EMBER-RNG-CURRENT \$(cat /sys/class/misc/hw_random/rng_current)"
echo "EMBER-RNG-BYTES \$(head -c $RNG_BYTES /dev/hwrng | wc -c)"
echo "EMBER-RNG-HEX \$(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n')"
grep -i virtio /proc/interrupts | sed 's/^/EMBER-IRQ /'
EOF
}

# The count column(s) of the /proc/interrupts line for the request queue, summed.
request_irqs() {
    awk '/^EMBER-IRQ/ && /virtio[0-9]+-(input|request)/ {
        n = 0; for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; else break; print n; exit }' "$LOG"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local ember dir kernel rc current bytes hex irqs start end
    ember=$(nested_ember_binary) || fail "no ember binary"
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    case "$KERNEL" in
        bzimage) kernel="$dir/vmlinuz" ;;
        pvh) kernel="$dir/vmlinux" ;;
        *) fail "--kernel must be bzimage or pvh" ;;
    esac
    [[ -f "$kernel" ]] || fail "no $kernel"
    LOG=$(mktemp)
    trap 'rm -f "$LOG"' EXIT
    start=$(nested_now)
    set +e
    timeout 300 "$ember" run --kernel "$kernel" --initrd "$dir/initramfs.cpio.gz" \
        --cpus "$CPUS" --rng --cmdline "$(nested_guest_cmdline "$(guest_command)")" \
        </dev/null >"$LOG" 2>&1
    rc=$?
    set -e
    end=$(nested_now)
    [[ $rc -ne 124 ]] || fail "ember timed out"
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    nested_guest_ready_uptime "$LOG" >/dev/null || fail "no EMBER-GUEST-READY line"
    grep -q '^EMBER-PCI [0-9a-f:.]* 0x1b36:0x0008' "$LOG" || fail "no host bridge on bus 0"
    grep -q '^EMBER-PCI [0-9a-f:.]* 0x1af4:0x1044 virtio-pci' "$LOG" ||
        fail "no virtio-rng function bound to virtio-pci"
    current=$(sed -n 's/^EMBER-RNG-CURRENT \(.*\)/\1/p' "$LOG")
    [[ "$current" == virtio_rng.* ]] || fail "hw_random uses '$current', not virtio_rng"
    bytes=$(sed -n 's/^EMBER-RNG-BYTES \([0-9]*\).*/\1/p' "$LOG")
    [[ "$bytes" == "$RNG_BYTES" ]] || fail "/dev/hwrng gave '${bytes}' bytes, expected $RNG_BYTES"
    hex=$(sed -n 's/^EMBER-RNG-HEX \([0-9a-f]*\).*/\1/p' "$LOG")
    [[ ${#hex} -eq 64 ]] || fail "/dev/hwrng gave '${hex}', expected 32 bytes"
    [[ "$hex" =~ [1-9a-f] ]] || fail "/dev/hwrng gave 32 zero bytes"
    irqs=$(request_irqs)
    [[ -n "$irqs" && "$irqs" -gt 0 ]] || fail "no MSI-X interrupts on the request queue"
    [[ "$(nested_guest_exit_status "$LOG")" == 0 ]] || fail "guest command failed"
    echo "test-virtio-rng [$NAME]: $bytes bytes from /dev/hwrng ($irqs queue interrupts)," \
        "ember exit 0 after $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
