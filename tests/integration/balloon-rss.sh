#!/usr/bin/env bash
# virtio-balloon on this host's /dev/kvm: ember's resident memory follows the balloon. The
# balloon test guest (guest-images/test-guests/balloon.c) touches 256 MiB, then inflates the
# 128 MiB that --balloon size=128 asks for, reports the other 128 MiB free, deflates and touches
# everything again; it waits for a line on stdin after each step while this script reads
# ember's VmRSS from /proc/PID/status. Checks, for anonymous and memfd guest RAM:
#   - inflating 128 MiB lowers ember's RSS by about 128 MiB (115-140 MiB)
#   - reporting 128 MiB free lowers it by about as much again
#   - deflating and touching the memory again brings it back (+230 MiB or more)
#   - the guest saw zeros in every released page, out-of-RAM page numbers did no harm, the
#     statistics buffer came back on its 1 s timer, and ember exits 0
# Usage: balloon-rss.sh EMBER BALLOON_GUEST
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ember=$1 guest=$2
dir=$(mktemp -d)
pid=
cleanup() {
	exec 3>&- 2>/dev/null || true
	[[ -n "$pid" ]] && kill "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
passed=0 failed=0

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Waits (up to 60 s) for a line of the guest's output matching $1.
wait_line() {
	wait_for_line "$dir/out" "$pid" 60 "$1"
}

fail() {
	echo "FAIL [$backing]: $*"
	sed 's/^/  | /' "$dir/out"
	failed=$((failed + 1))
}

# RSS went from $2 to $3 kB in step $1: the change (negative: it fell) must lie in [$4, $5] MiB.
expect_change() {
	local what=$1 delta=$(( ($3 - $2) / 1024 ))
	echo "  $what: $(( $2 / 1024 )) MiB -> $(( $3 / 1024 )) MiB RSS (change $delta MiB)"
	if (( delta < $4 || delta > $5 )); then
		fail "$what changed RSS by $delta MiB, expected $4 to $5 MiB"
		return 1
	fi
}

run_backing() {
	backing=$1
	: >"$dir/out"
	rm -f "$dir/in"
	mkfifo "$dir/in"
	"$ember" run --kernel "$guest" --memory 512M --memory-backing "$backing" \
		--balloon size=128,free_page_reporting=on,stats=1 --cmdline "touch=256 wait=1" \
		<"$dir/in" >"$dir/out" 2>&1 &
	pid=$!
	exec 3>"$dir/in"
	local touched inflated reported retouched rc ok=1
	wait_line "balloon: touched" || { fail "the guest did not touch its memory"; ok=0; }
	if (( ok )); then
		touched=$(rss_kb "$pid"); echo >&3
		wait_line "balloon: inflated" || { fail "no inflate"; ok=0; }
	fi
	if (( ok )); then
		inflated=$(rss_kb "$pid"); echo >&3
		expect_change "inflate 128 MiB" "$touched" "$inflated" -140 -115 || ok=0
		wait_line "balloon: reported" || { fail "no free page report"; ok=0; }
	fi
	if (( ok )); then
		reported=$(rss_kb "$pid"); echo >&3
		expect_change "report 128 MiB free" "$inflated" "$reported" -140 -115 || ok=0
		wait_line "balloon: retouched" || { fail "no deflate"; ok=0; }
	fi
	if (( ok )); then
		retouched=$(rss_kb "$pid"); echo >&3
		expect_change "deflate and touch 256 MiB" "$reported" "$retouched" 230 280 || ok=0
	fi
	exec 3>&-
	set +e
	timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid"
	rc=$?
	set -e
	pid=
	if (( ok )); then
		if [[ $rc -ne 0 ]]; then
			fail "ember exited $rc"
		elif ! grep -q "balloon: stats buffer returned" "$dir/out" ||
		     ! grep -q "balloon: done" "$dir/out"; then
			fail "the guest did not finish"
		else
			echo "ok: $backing: RSS followed inflate, report and deflate"
			passed=$((passed + 1))
		fi
	fi
}

run_backing anon
run_backing memfd
echo "$passed passed, $failed failed"
(( failed == 0 ))
