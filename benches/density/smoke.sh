#!/usr/bin/env bash
# Small-N smoke test of `ember bench density`: five idle VMs of Ember and of QEMU microvm (and of
# kvmtool when lkvm is on PATH), a one-second idle window, then a check that the report is
# complete: every field of results.json for both VMMs, the CSV rows, summary.md and the plots.
#   smoke.sh EMBER [OUT_DIR]
# Exit status: 0 pass, 1 fail, 77 skip (no usable /dev/kvm, QEMU or jq).
set -uo pipefail

ember=${1:?usage: smoke.sh EMBER [OUT_DIR]}
count=5 single=3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v jq >/dev/null || skip "jq is not installed"

if [ $# -ge 2 ]; then
	out=$2
	mkdir -p "$out"
else
	out=$(mktemp -d)
	trap 'rm -rf "$out" "$out.log"' EXIT
fi

timeout --kill-after=10 300 "$ember" bench density --count "$count" --concurrency 2 \
	--single "$single" --idle-seconds 1 --settle 0.2 --mem-points 2 --no-progress \
	--out "$out" </dev/null >"$out.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$out.log"; fail "ember bench density exited with $rc"; }

json=$out/results.json
[ -s "$json" ] || fail "no results.json"

# check JQ_FILTER DESCRIPTION: the filter must yield true.
check() {
	local got
	got=$(jq -e "$1" "$json" 2>&1) || fail "$2 (jq: $1 -> $got)"
}
is_num='type == "number"'

check '.schema == "ember-density/1"' "schema"
check '(.command | type == "string") and (.started | type == "string")' "command and date"
check '.host.limits | length >= 5 and all(.[]; has("name") and has("value") and has("ok"))' \
	"host limits"
check ".host.cpus | $is_num" "host CPUs"
check ".config.count.ember == $count and .config.concurrency == 2" "config"
check '.goals | has("concurrent_vms") and has("memory_per_vm_kib") and has("launches_per_second") and has("single_ttr_median_ms")' \
	"goals"

for vmm in ember qemu; do
	v=".vmms.$vmm"
	check "$v.available == true" "$vmm: available"
	check "$v.version | type == \"string\" and length > 0" "$vmm: version"
	check "$v.command | type == \"string\" and length > 0" "$vmm: command"
	check "$v.single.launches == $single and $v.single.ready == $single" "$vmm: single launches"
	for f in min p50 p90 p99 max mean; do
		check "$v.single.ttr_ms.$f | $is_num and . > 0" "$vmm: single.ttr_ms.$f"
		check "$v.density.ttr_ms.$f | $is_num and . > 0" "$vmm: density.ttr_ms.$f"
		check "$v.density.exec_ms.$f | $is_num" "$vmm: density.exec_ms.$f"
	done
	check "$v.density.requested == $count and $v.density.ready == $count" "$vmm: all VMs ready"
	check "$v.density.complete == true and $v.density.stop_reason == null" "$vmm: complete"
	check "$v.density.launch_rate_per_s | $is_num and . > 0" "$vmm: launch rate"
	check "$v.density.launch_seconds | $is_num and . > 0" "$vmm: launch seconds"
	check "$v.memory.vms == $count" "$vmm: memory sampled over every VM"
	for f in per_vm_kib pss_per_vm_kib kernel_per_vm_kib mem_free_drop_per_vm_kib; do
		check "$v.memory.$f | $is_num" "$vmm: memory.$f"
	done
	check "$v.memory.pss_per_vm_kib > 0 and $v.memory.per_vm_kib > 0" "$vmm: memory is positive"
	for f in slab page_tables sec_page_tables kernel_stack total; do
		check "$v.memory.kernel_kib.$f | $is_num" "$vmm: memory.kernel_kib.$f"
	done
	check "$v.memory.kernel_kib.total == ($v.memory.kernel_kib.slab + $v.memory.kernel_kib.page_tables + $v.memory.kernel_kib.sec_page_tables + $v.memory.kernel_kib.kernel_stack)" \
		"$vmm: kernel total is the sum of its parts"
	check "$v.memory.points | length >= 2 and (last.vms == $count)" "$vmm: memory points"
	check "$v.cpu.vms == $count and ($v.cpu.idle_seconds >= 0.9)" "$vmm: CPU window"
	for f in vmm_cpu_seconds cpu_percent cpu_percent_per_vm host_busy_percent; do
		check "$v.cpu.$f | $is_num" "$vmm: cpu.$f"
	done
	check "$v.teardown.vms == $count and ($v.teardown.seconds | $is_num) and $v.teardown.killed == 0" \
		"$vmm: teardown"
	rows=$(grep -c "^$vmm,density," "$out/results.csv")
	[ "$rows" -eq "$count" ] || fail "$vmm: results.csv has $rows density rows, not $count"
	rows=$(grep -c "^$vmm,single," "$out/results.csv")
	[ "$rows" -eq "$single" ] || fail "$vmm: results.csv has $rows single rows, not $single"
done
# Ember also reports its own boot timer (guest-ready-us).
check ".vmms.ember.density.self_ready_ms.p50 | $is_num and . > 0" "ember: self-reported ready"
check ".vmms.ember.single.self_ready_ms.p50 | $is_num and . > 0" "ember: self-reported ready (single)"
check '.vmms.kvmtool.available == true or (.vmms.kvmtool.reason | test("not found"))' \
	"kvmtool: run, or reported as not found"

grep -q '^vmm,phase,index,pid,state,exec_ms,ttr_ms,self_ready_ms,pss_kib,rss_kib,pss_anon_kib,idle_cpu_ms,error$' \
	"$out/results.csv" || fail "results.csv header"
for word in "Ember" "QEMU microvm" "Launch rate" "Host memory per idle VM" "Teardown"; do
	grep -q "$word" "$out/summary.md" || fail "summary.md lacks '$word'"
done
if [ "$(jq -r '.files.plot_note' "$json")" = "null" ]; then
	for png in ttr.png mem.png; do
		head -c 8 "$out/$png" | od -An -c | grep -q 'P   N   G' || fail "$png is not a PNG"
	done
else
	command -v gnuplot >/dev/null && fail "plots missing: $(jq -r '.files.plot_note' "$json")"
fi
pgrep -f "density-idle" >/dev/null && fail "VMs left running after the benchmark"
echo "PASS: density smoke (ember and qemu, $count VMs each)"
