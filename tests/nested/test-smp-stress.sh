#!/bin/bash
# An SMP guest under sustained load: the default Debian guest with --cpus N under ember inside L1
# (a genuine AMD SVM+NPT /dev/kvm under QEMU TCG) runs N busybox loops that fork and exec
# `ls` for S seconds, each pinned to its own CPU with `taskset`, so every vCPU keeps creating
# and tearing down address spaces: TLB-shootdown IPIs, wake-up IPIs, PV EOI, steal time and
# halt/kick all stay busy at once. The guest must finish with every CPU online, every loop
# having made progress, no oops or RCU stall on the console, and ember must exit 0.
#
#   test-smp-stress.sh [--cpus N] [--load-seconds S]       (defaults: 8 vCPUs, 20 s)
#
# This is the load under which L2 guests used to break when L1 ran on two TCG threads (see
# "One L1 vCPU" in README.md); it checks the guest survives, not how fast it is.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

CPUS=8 LOAD_SECONDS=20
ARGS=("$@")
nested_parse_options test-smp-stress --cpus --load-seconds -- "$@" || exit 2
[[ "$CPUS" =~ ^[1-9][0-9]*$ && "$LOAD_SECONDS" =~ ^[1-9][0-9]*$ ]] ||
    { echo "test-smp-stress: --cpus and --load-seconds take positive integers" >&2; exit 2; }
NAME="${CPUS} vCPUs, ${LOAD_SECONDS} s"

fail() {
    nested_report_failure "test-smp-stress [$NAME]" "${LOG:-}" 60 "$@"
    exit 1
}

run_on_host() {
    nested_host_setup || fail "$NESTED_WHY"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# One "EMBER-LOOP cpu iterations" line per loop, then the online CPUs.
guest_command() {
    cat <<EOF
end=\$(( \$(cut -d. -f1 /proc/uptime) + $LOAD_SECONDS ))
cpu=0
while [ \$cpu -lt \$(nproc) ]; do
  taskset -c \$cpu sh -c 'n=0; while [ \$(cut -d. -f1 /proc/uptime) -lt '\$end' ]; do ls / >/dev/null; n=\$((n + 1)); done; echo "EMBER-LOOP '\$cpu' \$n"' &
  cpu=\$((cpu + 1))
done
wait
echo "EMBER-ONLINE \$(cat /sys/devices/system/cpu/online)"
EOF
}

check_log() {
    local log=$1 loops bad online
    ! grep -Eq 'Oops|BUG:|RCU stall|rcu_.*detected stall|Kernel panic|general protection' "$log" ||
        fail "the guest's kernel complained (console above)"
    loops=$(grep -c '^EMBER-LOOP ' "$log" || true)
    [[ "$loops" == "$CPUS" ]] || fail "$loops of $CPUS loops reported"
    bad=$(awk '/^EMBER-LOOP / && $3 + 0 < 1 { print "cpu" $2 }' "$log" | tr '\n' ' ')
    [[ -z "$bad" ]] || fail "no progress on $bad"
    online=$(sed -n 's/^EMBER-ONLINE \([0-9,-]*\).*/\1/p' "$log" | tr -d '\r')
    [[ "$online" == "0-$((CPUS - 1))" || ($CPUS == 1 && "$online" == 0) ]] ||
        fail "online CPUs '$online', expected 0-$((CPUS - 1))"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local dir start end status
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    LOG=$(mktemp)
    trap 'rm -f "$LOG"' EXIT
    start=$(nested_now)
    nested_ember_logged "$LOG" $((LOAD_SECONDS * 10 + 300)) run --kernel "$dir/vmlinuz" \
        --initrd "$dir/initramfs.cpio.gz" --cpus "$CPUS" --memory 512M \
        --cmdline "$(nested_guest_cmdline "$(guest_command)")" || fail "$NESTED_WHY"
    end=$(nested_now)
    status=$(nested_guest_exit_status "$LOG") || fail "the guest never finished its command"
    [[ "$status" == 0 ]] || fail "the guest's command ended with status $status"
    check_log "$LOG"
    echo "test-smp-stress [$NAME]: all $CPUS loops made progress" \
        "($(awk '/^EMBER-LOOP / { s += $3 } END { print s }' "$LOG") ls runs), CPUs 0-$((CPUS - 1))" \
        "online, no kernel complaint; ember exit 0 after $(nested_seconds_between "$start" "$end") s"
    echo "1 passed, 0 failed"
}

nested_main
