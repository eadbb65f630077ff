#!/usr/bin/env bash
# Guests past 255 vCPUs: the smp test guest brings up 300 vCPUs (or KVM_CAP_MAX_VCPUS if this
# KVM allows fewer) with INIT/SIPI in x2APIC mode; each AP reads its own 32-bit APIC id and
# checks in. Every APIC id from 0 to N-1 must check in exactly once. Prints how long the run
# took (no assertion on it). Usage: smp-many.sh EMBER SMP_ELF
set -uo pipefail
ember=$1
guest=$2
want=300

max=$("$ember" caps --json | grep -o '"KVM_CAP_MAX_VCPUS": *[0-9]*' | grep -o '[0-9]*$')
if [ -n "$max" ] && [ "$max" -lt "$want" ]; then
	echo "this KVM allows $max vCPUs (KVM_CAP_MAX_VCPUS): testing $max"
	want=$max
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s%N)
timeout --kill-after=5 120 "$ember" run --kernel "$guest" --cpus "$want" --memory 64M \
	</dev/null >"$out" 2>&1
rc=$?
end=$(date +%s%N)

fail() {
	echo "FAIL: $*"
	tail -20 "$out"
	exit 1
}
[ "$rc" -eq 0 ] || fail "ember exited with status $rc"
grep -qF "smp: MADT lists $want CPUs" "$out" || fail "the MADT does not list $want CPUs"
grep -qF "smp: $want/$want CPUs checked in" "$out" || fail "not every CPU checked in"
ids=$(sed -n 's/^cpu [0-9]* (apic \([0-9]*\)) checked in$/\1/p' "$out" | sort -n | uniq)
[ "$(echo "$ids" | wc -l)" -eq "$want" ] || fail "$(echo "$ids" | wc -l) distinct APIC ids"
[ "$(echo "$ids" | head -1)" -eq 0 ] && [ "$(echo "$ids" | tail -1)" -eq $((want - 1)) ] ||
	fail "APIC ids are not 0..$((want - 1))"
echo "ok: $want vCPUs (APIC ids 0-$((want - 1))) checked in; ember ran" \
	"$(((end - start) / 1000000)) ms"
