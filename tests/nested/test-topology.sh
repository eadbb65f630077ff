#!/bin/bash
# Boots the default Debian guest with Ember inside L1 (a genuine AMD SVM+NPT /dev/kvm) with a
# --topology and checks what the guest kernel made of it, from sysfs (the guest has busybox, no
# lscpu): every CPU's physical_package_id, core_id, thread_siblings_list, core_cpus_list and its
# L3 shared_cpu_list. Expected: S distinct packages, C distinct core ids per package, T threads
# per core (consecutive CPU numbers), and L3 shared by groups of (l3-cores x T) CPUs.
#
#   test-topology.sh --topology sockets=S,cores=C,threads=T[,l3-cores=N] [--template NAME]
#
# The L1's CPU model is family 17h model 01h, for which Linux ties the L3 to ApicId[3]; shapes
# with L3 domains smaller than a socket use --template epyc-milan (family 19h: Linux reads the
# L3 sharing from CPUID 0x8000001D). S, C, T, N should be powers of two: the expected core ids
# are then plain counters.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

SPEC= TEMPLATE=
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --topology) SPEC=${2:?}; shift 2 ;;
        --template) TEMPLATE=${2:?}; shift 2 ;;
        *) echo "test-topology: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ -n "$SPEC" ]] || { echo "test-topology: --topology is required" >&2; exit 2; }
NAME="$SPEC${TEMPLATE:+ $TEMPLATE}"

spec_value() { # spec_value KEY DEFAULT
    local v
    v=$(tr ',' '\n' <<<"$SPEC" | sed -n "s/^$1=//p")
    printf '%s\n' "${v:-$2}"
}
S=$(spec_value sockets 1) C=$(spec_value cores 1) T=$(spec_value threads 1)
N=$(spec_value l3-cores "$C")
CPUS=$((S * C * T))

fail() {
    echo "test-topology [$NAME]: FAIL: $*" >&2
    [[ -n "${LOG:-}" && -f "$LOG" ]] && { echo "--- ember output ---" >&2; cat "$LOG" >&2; }
    echo "0 passed, 1 failed"
    exit 1
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || fail "no ember binary"
    nested_guest_dir cloud >/dev/null || fail "cannot build the guest"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# One line per CPU: EMBER-TOPO cpuN package core_id thread_siblings core_cpus l3_shared
guest_command() {
    cat <<'EOF'
for d in /sys/devices/system/cpu/cpu[0-9]*; do
  t=$d/topology
  echo "EMBER-TOPO ${d##*/} $(cat $t/physical_package_id) $(cat $t/core_id) $(cat $t/thread_siblings_list) $(cat $t/core_cpus_list 2>/dev/null || echo -) $(cat $d/cache/index3/shared_cpu_list 2>/dev/null || echo none)"
done
exit 3
EOF
}

range() { # range FIRST COUNT -> "a-b" or "a"
    if (( $2 == 1 )); then echo "$1"; else echo "$1-$(($1 + $2 - 1))"; fi
}

check_cpu() { # check_cpu INDEX PACKAGE CORE SIBLINGS CORE_CPUS L3
    local i=$1 pkg=$2 core=$3 sib=$4 corecpus=$5 l3=$6
    local want_pkg=$((i / (C * T))) want_core=$(((i / T) % C))
    local want_sib want_l3
    want_sib=$(range $((i - i % T)) "$T")
    want_l3=$(range $((i - i % (N * T))) $((N * T)))
    [[ "$pkg" == "$want_pkg" ]] || fail "cpu$i: package $pkg, expected $want_pkg"
    [[ "$core" == "$want_core" ]] || fail "cpu$i: core_id $core, expected $want_core"
    [[ "$sib" == "$want_sib" ]] || fail "cpu$i: thread siblings $sib, expected $want_sib"
    [[ "$corecpus" == - || "$corecpus" == "$want_sib" ]] ||
        fail "cpu$i: core_cpus_list $corecpus, expected $want_sib"
    [[ "$l3" == "$want_l3" ]] || fail "cpu$i: L3 shared by $l3, expected $want_l3"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local dir start end lines
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    LOG=$(mktemp)
    trap 'rm -f "$LOG" "$LOG.cpus"' EXIT
    local extra=()
    [[ -n "$TEMPLATE" ]] && extra+=(--cpu-template "$TEMPLATE")
    start=$(nested_now)
    nested_ember_logged "$LOG" 600 run --kernel "$dir/vmlinuz" \
        --initrd "$dir/initramfs.cpio.gz" --cpus "$CPUS" --topology "$SPEC" --memory 512M \
        "${extra[@]}" --cmdline "$(nested_guest_cmdline "$(guest_command)")" || fail "$NESTED_WHY"
    end=$(nested_now)
    lines=$(grep -c '^EMBER-TOPO ' "$LOG" || true)
    [[ "$lines" == "$CPUS" ]] || fail "guest listed $lines CPUs, expected $CPUS"
    # (a file, not process substitution: L1's chroot has no /dev/fd)
    grep '^EMBER-TOPO ' "$LOG" | tr -d '\r' >"$LOG.cpus"
    while read -r _ cpu pkg core sib corecpus l3; do
        check_cpu "${cpu#cpu}" "$pkg" "$core" "$sib" "$corecpus" "$l3"
    done <"$LOG.cpus"
    echo "test-topology [$NAME]: $S socket(s) x $C cores x $T threads, L3 per $N cores as" \
        "expected on all $CPUS CPUs; ember exit 0 after $(nested_seconds_between "$start" "$end") s"
    head -n 4 "$LOG.cpus" | sed 's/^/  /'
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
