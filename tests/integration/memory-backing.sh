#!/usr/bin/env bash
# Guest RAM backing on this host's /dev/kvm (docs/epyc.md). The touch guest writes every 4 KiB
# page of 64 MiB from CPL3 and holds; meanwhile this script reads ember's own
# /proc/PID/smaps for the guest RAM mapping. Checks:
#   - anon (THP on): AnonHugePages backs the touched RAM; --memory-stats agrees and KVM maps
#     2M pages
#   - anon,thp=off: no AnonHugePages, KVM maps 4K pages only
#   - memfd: THP when shmem_enabled allows it, otherwise the report says why not
#   - hugetlb2m without enough pool pages: exit 1 and one line naming the pool and nr_hugepages
#   - hugetlb2m with a pool (created for the test when we are root, then restored)
# Usage: memory-backing.sh EMBER TOUCH_GUEST
set -euo pipefail
ember=$1 guest=$2
dir=$(mktemp -d)
pool=/sys/kernel/mm/hugepages/hugepages-2048kB
saved_pool=
cleanup() {
	[[ -n "$saved_pool" ]] && echo "$saved_pool" >"$pool/nr_hugepages" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
passed=0 failed=0 skipped=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; [[ -f "$dir/out" ]] && sed 's/^/  | /' "$dir/out"; failed=$((failed + 1)); }
skip() { echo "skip: $*"; skipped=$((skipped + 1)); }

MEM_MIB=256
TOUCH_MIB=64

# KiB of the fields matching regex $2 in the smaps entry of pid $1 whose mapping is exactly MEM_MIB long.
smaps_field() {
	local want=$((MEM_MIB * 1024 * 1024)) inside=0 sum=0 a b rest
	while read -r a b rest; do
		if [[ $a =~ ^([0-9a-f]+)-([0-9a-f]+)$ ]]; then
			inside=0
			(( 16#${BASH_REMATCH[2]} - 16#${BASH_REMATCH[1]} == want )) && inside=1
		elif (( inside )) && [[ $a =~ ^($2):$ ]]; then
			sum=$((sum + b))
		fi
	done <"/proc/$1/smaps"
	echo "$sum"
}

# Runs the touch guest with extra ember arguments; leaves the live smaps value of field $1 in
# $live_kb, ember's output in $dir/out and its status in $rc.
run_touch() {
	local field=$1
	shift
	"$ember" run --kernel "$guest" --memory ${MEM_MIB}M --memory-stats \
		--cmdline "touch=$TOUCH_MIB hold=1" "$@" </dev/null >"$dir/out" 2>&1 &
	local pid=$!
	live_kb=
	for _ in $(seq 1 200); do
		grep -q "touch: holding" "$dir/out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -q "touch: holding" "$dir/out"; then
		live_kb=$(smaps_field "$pid" "$field")
	fi
	set +e
	wait "$pid"
	rc=$?
	set -e
}

report_mib() { # the "N MiB <what>" number of the --memory-stats line
	sed -n "s/.*[ (]\([0-9][0-9]*\) MiB $1.*/\1/p" "$dir/out" | head -n1
}

# --- anon with THP
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled; then
	skip "THP is disabled on this host"
else
	run_touch AnonHugePages
	thp=$(report_mib "in THP")
	if [[ $rc -ne 0 || -z "$live_kb" ]]; then
		fail "anon: ember exited $rc before the guest held its memory"
	elif (( live_kb < TOUCH_MIB * 1024 / 2 )); then
		fail "anon: smaps shows only ${live_kb} kB AnonHugePages for $TOUCH_MIB MiB touched"
	elif (( ${thp:-0} < TOUCH_MIB / 2 )) || ! grep -q "KVM maps 4K x [0-9]*, 2M x [1-9]" "$dir/out"; then
		fail "anon: --memory-stats disagrees (THP ${thp:-?} MiB)"
	else
		ok "anon+THP: ${live_kb} kB AnonHugePages in ember's smaps; $(grep -o 'KVM maps.*' "$dir/out")"
	fi
fi

# --- anon without THP
run_touch AnonHugePages --memory-backing anon,thp=off
if [[ $rc -ne 0 || -z "$live_kb" ]]; then
	fail "anon,thp=off: ember exited $rc"
elif (( live_kb != 0 )) || ! grep -q "2M x 0 " "$dir/out"; then
	fail "anon,thp=off: ${live_kb} kB AnonHugePages, or KVM mapped 2M pages"
else
	ok "anon,thp=off: no huge pages; $(grep -o 'KVM maps.*' "$dir/out")"
fi

# --- memfd
run_touch ShmemPmdMapped --memory-backing memfd
if [[ $rc -ne 0 || -z "$live_kb" ]]; then
	fail "memfd: ember exited $rc"
elif grep -qE '\[(never|deny)\]' /sys/kernel/mm/transparent_hugepage/shmem_enabled; then
	if grep -q "THP refused by shmem_enabled" "$dir/out"; then
		ok "memfd: works; the report says shmem_enabled refuses THP"
	else
		fail "memfd: THP refused by the host but the report does not say so"
	fi
elif (( live_kb >= TOUCH_MIB * 1024 / 2 )); then
	ok "memfd+THP: ${live_kb} kB ShmemPmdMapped"
else
	fail "memfd: only ${live_kb} kB ShmemPmdMapped"
fi

# --- hugetlb2m without (enough of) a pool: one clear line, exit 1
free_pages=$(cat "$pool/free_hugepages" 2>/dev/null || echo 0)
need_mib=$(( (free_pages + 8) * 2 ))
set +e
"$ember" run --kernel "$guest" --memory ${need_mib}M --memory-backing hugetlb2m </dev/null >"$dir/out" 2>&1
rc=$?
set -e
if [[ $rc -eq 1 && $(wc -l <"$dir/out") -eq 1 ]] &&
   grep -q "hugetlb2m: cannot reserve $((need_mib / 2)) huge page(s) of 2 MiB ($free_pages of" "$dir/out" &&
   grep -q "nr_hugepages" "$dir/out"; then
	ok "hugetlb2m without a pool: $(cat "$dir/out")"
else
	fail "hugetlb2m without a pool: exit $rc"
fi

# --- hugetlb2m with a pool
want_pages=$((MEM_MIB / 2))
if (( free_pages < want_pages )) && [[ -w "$pool/nr_hugepages" ]]; then
	saved_pool=$(cat "$pool/nr_hugepages")
	echo $((saved_pool + want_pages - free_pages)) >"$pool/nr_hugepages" 2>/dev/null || true
	free_pages=$(cat "$pool/free_hugepages")
fi
if (( free_pages < want_pages )); then
	skip "hugetlb2m with a pool: $free_pages free 2M pages, need $want_pages (run as root)"
else
	run_touch "Shared_Hugetlb|Private_Hugetlb" --memory-backing hugetlb2m
	if [[ $rc -ne 0 || -z "$live_kb" ]]; then
		fail "hugetlb2m: ember exited $rc"
	elif (( live_kb < TOUCH_MIB * 1024 )); then
		fail "hugetlb2m: only ${live_kb} kB in hugetlb pages"
	else
		ok "hugetlb2m: ${live_kb} kB hugetlb pages in ember's smaps; $(grep -o 'KVM maps.*' "$dir/out")"
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
