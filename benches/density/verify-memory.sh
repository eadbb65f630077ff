#!/usr/bin/env bash
# Cross-checks the density benchmark's memory figure by hand: runs `ember bench density` for one
# VMM with --hold, and while the VMs are held sums /proc/PID/smaps_rollup (Pss) over their pids
# with awk and takes the /proc/meminfo growth (Slab, PageTables, SecPageTables, KernelStack)
# against a baseline read by this script before the benchmark started. Prints both figures and
# fails when they differ by more than TOLERANCE percent.
#   verify-memory.sh EMBER [N=300] [VMM=ember] [TOLERANCE=5]
set -euo pipefail

ember=${1:?usage: verify-memory.sh EMBER [N] [VMM] [TOLERANCE]}
n=${2:-300}
vmm=${3:-ember}
tolerance=${4:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
kernel_kib() { echo $(( $(meminfo Slab) + $(meminfo PageTables) + $(meminfo SecPageTables) + $(meminfo KernelStack) )); }

sleep 2 # let the memory of earlier VMs settle, as the benchmark does
base=$(kernel_kib)
"$ember" bench density --vmm "$vmm" --count "$n" --single 0 --idle-seconds 1 --mem-points 1 \
	--settle 0 --hold 30 --no-progress --out "$out/run" >"$out/log" 2>&1 &
bench=$!

for _ in $(seq 600); do
	[ -e "$out/run/holding-$vmm" ] && break
	kill -0 $bench 2>/dev/null || { cat "$out/log"; echo "FAIL: benchmark ended early"; exit 1; }
	sleep 0.5
done
[ -e "$out/run/holding-$vmm" ] || { echo "FAIL: the VMs were never held"; kill $bench; exit 1; }

pids=$(cat "$out/run/pids-$vmm.txt")
count=$(echo "$pids" | wc -l)
pss=$(for p in $pids; do cat "/proc/$p/smaps_rollup"; done | awk '$1 == "Pss:" { s += $2 } END { print s }')
grown=$(( $(kernel_kib) - base ))
kill -TERM $bench # ends the hold early: the benchmark tears down and writes its report
wait $bench || true
grep -E "stopped|failed" "$out/log" || true

ours=$(awk -v p="$pss" -v k="$grown" -v c="$count" 'BEGIN { printf "%.1f", (p + k) / c }')
theirs=$(jq -r ".vmms.$vmm.memory.per_vm_kib" "$out/run/results.json")
theirs_vms=$(jq -r ".vmms.$vmm.memory.vms" "$out/run/results.json")
diff=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { d = (a - b) / b * 100; printf "%.1f", d < 0 ? -d : d }')
echo "$vmm: by hand ${ours} KiB/VM over $count VMs (PSS $pss KiB, kernel growth $grown KiB);" \
	"benchmark ${theirs} KiB/VM over $theirs_vms VMs; difference ${diff}%"
awk -v d="$diff" -v t="$tolerance" 'BEGIN { exit !(d <= t) }' || { echo "FAIL: more than ${tolerance}% apart"; exit 1; }
echo "PASS"
