#!/usr/bin/env bash
# The balloon at run time through the API, on this host's /dev/kvm. The balloon test guest
# (guest-images/test-guests/balloon.c, `serve=1`) touches 192 of its 256 MiB and then follows the
# device's target as a driver does, keeping a statistics buffer with the device. Through curl:
#   - PUT /balloon with statistics every second, InstanceStart
#   - GET /balloon/statistics reports the guest's own figures (free and total memory)
#   - PATCH /balloon 128 MiB: the guest inflates, ember's VmRSS falls by about 128 MiB (115-145),
#     GET /balloon/statistics shows actual_pages 32768 and the guest's new total_memory
#   - PATCH /balloon/statistics 2 s: GET /balloon and GET /vm/config show it, bad values refused
#   - PATCH /balloon 0: the guest deflates (the released pages read zero) and touches them again,
#     ember's VmRSS rises by about as much, and a statistics round on the new 2 s timer reports
#     the guest's memory whole again
#   - SIGTERM stops the VM: exit status 0, the socket removed
#
#   balloon.sh EMBER BALLOON_GUEST [--validate PRISM SPEC]
#
# With --validate everything goes through Stoplight Prism as a validating proxy (lib.sh).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

ember=$1 guest=$2
shift 2
api_options "$@"

MIB=1048576
mem_mib=256 touch_mib=192 inflate_mib=128

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$EMBER_PID/status"
}

guest_said() {
	grep -q "$1" "$API_DIR/ember.out"
}

# GET /balloon/statistics answers 200 with every one of the given strings.
stats_show() {
	api GET /balloon/statistics
	[ "$API_STATUS" = 200 ] || return 1
	local want
	for want in "$@"; do
		case $API_BODY in
		*"$want"*) ;;
		*) return 1 ;;
		esac
	done
}

wait_stats() {
	wait_for 30 stats_show "$@" || fail "GET /balloon/statistics never showed $*: $API_BODY"
	API_CHECKS=$((API_CHECKS + 1))
}

# RSS went from $2 to $3 kB in step $1: the change must lie in [$4, $5] MiB.
expect_rss_change() {
	local delta=$(( ($3 - $2) / 1024 ))
	echo "  $1: $(( $2 / 1024 )) MiB -> $(( $3 / 1024 )) MiB RSS (change $delta MiB)"
	(( delta >= $4 && delta <= $5 )) || fail "$1 changed ember's RSS by $delta MiB, expected $4 to $5"
}

api_start "$ember"

# --- before the boot ---
expect PUT /boot-source "{\"kernel_image_path\": \"$guest\", \"boot_args\": \"serve=1 touch=$touch_mib\"}" 204
expect PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $mem_mib}" 204
expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1}' 204
expect GET /balloon/statistics "" 400 "before starting"
expect PUT /actions '{"action_type": "InstanceStart"}' 204

# --- running ---
wait_for 30 guest_said "^balloon: serving" || fail "the balloon guest did not start serving"
ram_end=$(sed -n 's/^balloon: serving, RAM ends at \([0-9]*\).*/\1/p' "$API_DIR/ember.out")
free=$((ram_end - touch_mib * MIB))
wait_stats '"target_pages":0,"actual_pages":0,"target_mib":0,"actual_mib":0' \
	"\"free_memory\":$free" "\"total_memory\":$ram_end"
echo "ok: the guest's statistics: free_memory $free, total_memory $ram_end"

before=$(rss_kb)
expect PATCH /balloon "{\"amount_mib\": $inflate_mib}" 204
pages=$((inflate_mib * 256))
wait_for 30 guest_said "^balloon: actual $pages pages" || fail "the guest did not inflate"
inflated=$(rss_kb)
expect_rss_change "inflate $inflate_mib MiB" "$before" "$inflated" -145 -115
expect GET /balloon "" 200 "\"amount_mib\":$inflate_mib"
wait_stats "\"target_pages\":$pages,\"actual_pages\":$pages,\"target_mib\":$inflate_mib,\"actual_mib\":$inflate_mib" \
	"\"total_memory\":$((ram_end - inflate_mib * MIB))"
echo "ok: inflated: actual_pages $pages, the guest's total_memory less the balloon"

expect PATCH /balloon/statistics '{"stats_polling_interval_s": 2}' 204
expect GET /balloon "" 200 '"stats_polling_interval_s":2'
expect GET /vm/config "" 200 "\"balloon\":{\"amount_mib\":$inflate_mib,\"deflate_on_oom\":false,\"stats_polling_interval_s\":2"
expect PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' 400 "turned off"
expect PATCH /balloon "{\"amount_mib\": $((mem_mib + 1))}" 400 "mem_size_mib"
expect PATCH /balloon '{"amount_mib": 1, "deflate_on_oom": true}' 400 "deflate_on_oom"

offered=$(grep -c '^balloon: statistics buffer' "$API_DIR/ember.out")
expect PATCH /balloon '{"amount_mib": 0}' 204
wait_for 30 guest_said "^balloon: actual 0 pages" || fail "the guest did not deflate"
deflated=$(rss_kb)
expect_rss_change "deflate and touch $inflate_mib MiB" "$inflated" "$deflated" 115 145
wait_stats '"target_pages":0,"actual_pages":0,"target_mib":0,"actual_mib":0' \
	"\"free_memory\":$free" "\"total_memory\":$ram_end"
now=$(grep -c '^balloon: statistics buffer' "$API_DIR/ember.out")
(( now > offered )) || fail "no statistics round after the interval changed"
echo "ok: deflated; statistics still polled on the new interval ($offered -> $now buffers)"

kill -TERM "$EMBER_PID"
set +e
wait "$EMBER_PID"
rc=$?
set -e
EMBER_PID=""
[ "$rc" = 0 ] || fail "ember exited with $rc after SIGTERM"
[ -e "$EMBER_SOCK" ] && fail "the API socket was left behind"
grep -q "balloon: failed" "$API_DIR/ember.out" && fail "the guest failed"
echo "ok: SIGTERM stopped the VM with status 0"
echo "$API_CHECKS passed, 0 failed"
