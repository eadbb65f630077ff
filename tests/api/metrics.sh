#!/usr/bin/env bash
# The devices' metrics after real guest I/O, configured through the API with curl only:
#
#  1. the blk-bench guest (benches/blk/blk-bench-guest.c) does exactly N 4 KiB random reads and N
#     writes at queue depth 1 on drive "scratch", then powers off. Metrics lines come every
#     50 ms and at exit: the sum of block_scratch's deltas over all lines must be N reads,
#     N writes, N*4096 bytes each way, and equal the last line's totals (ember.devices), the
#     "block" aggregate must equal block_scratch, and no request may have failed;
#  2. the virtio-rng guest (guest-images/test-guests/virtio-rng.c) takes random bytes from the
#     entropy device: the "entropy" deltas must add up to the device's total, non-zero.
#
#   metrics.sh EMBER BLK_BENCH_GUEST VIRTIO_RNG_GUEST
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

ember=$1 blk_guest=$2 rng_guest=$3
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
n=2000

# Boots KERNEL with BOOT_ARGS and the devices the rest of the arguments PUT (PATH BODY pairs),
# with metrics every 50 ms, and waits for the guest to power off (status 0).
run_vm() {
	local kernel=$1 args=$2
	shift 2
	rm -f "$API_DIR/metrics.json"
	api_start "$ember" --metrics-period-ms 50
	expect PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"boot_args\": \"$args\"}" 204
	expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}' 204
	expect PUT /metrics "{\"metrics_path\": \"$API_DIR/metrics.json\"}" 204
	while [ $# -gt 0 ]; do
		expect PUT "$1" "$2" 204
		shift 2
	done
	expect PUT /actions '{"action_type": "InstanceStart"}' 204
	set +e
	wait_for 60 bash -c "! kill -0 $EMBER_PID 2>/dev/null"
	wait "$EMBER_PID"
	local rc=$?
	set -e
	EMBER_PID=""
	[ "$rc" = 0 ] || fail "$(basename "$kernel") ended with status $rc"
	[ -s "$API_DIR/metrics.json" ] || fail "no metrics lines"
}

# sum GROUP FIELD: the field's deltas added over every line; last PATH: a jq path in the last line.
sum() { jq -s "map(.\"$1\".$2 // 0) | add" "$API_DIR/metrics.json"; }
last() { jq -s "last | $1" "$API_DIR/metrics.json"; }
check() { # check WHAT ACTUAL EXPECTED
	API_CHECKS=$((API_CHECKS + 1))
	[ "$2" = "$3" ] || fail "$1: $2, expected $3 ($(wc -l <"$API_DIR/metrics.json") lines; last: $(tail -n 1 "$API_DIR/metrics.json"))"
}

# --- 1. block ---
disk=$API_DIR/scratch.img
truncate -s 8M "$disk"
run_vm "$blk_guest" "console=ttyS0 ops=randread,randwrite qd=1 n=$n warmup=0" \
	/drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$disk\", \"is_root_device\": false}"
grep -q "^BLK-BENCH op=randwrite qd=1 n=$n .* errors=0" "$API_DIR/ember.out" ||
	fail "the guest did not finish its I/O: $(grep BLK-BENCH "$API_DIR/ember.out")"
lines=$(wc -l <"$API_DIR/metrics.json")
check "block_scratch.read_count (sum)" "$(sum block_scratch read_count)" "$n"
check "block_scratch.write_count (sum)" "$(sum block_scratch write_count)" "$n"
check "block_scratch.read_bytes (sum)" "$(sum block_scratch read_bytes)" $((n * 4096))
check "block_scratch.write_bytes (sum)" "$(sum block_scratch write_bytes)" $((n * 4096))
check "block_scratch.invalid_reqs_count (sum)" "$(sum block_scratch invalid_reqs_count)" 0
check "block_scratch.execute_fails (sum)" "$(sum block_scratch execute_fails)" 0
check "block.read_count (sum)" "$(sum block read_count)" "$n"
check "block.write_bytes (sum)" "$(sum block write_bytes)" $((n * 4096))
check "ember.devices.block_scratch.reads" "$(last .ember.devices.block_scratch.reads)" "$n"
check "ember.devices.block_scratch.requests" "$(last .ember.devices.block_scratch.requests)" $((2 * n))
kicks=$(sum block_scratch queue_event_count)
check "block_scratch.queue_event_count (sum) = ember.devices.block_scratch.kicks" \
	"$kicks" "$(last .ember.devices.block_scratch.kicks)"
[ "$kicks" -gt 0 ] || fail "no queue events counted"
check "a line per group per device" "$(last 'has("net") and has("vsock") and has("balloon") and has("entropy")')" true
echo "ok: block_scratch: $n reads and $n writes of 4 KiB over $lines lines, $kicks queue events"

# --- 2. entropy ---
run_vm "$rng_guest" "console=ttyS0" /entropy '{}'
bytes=$(sum entropy entropy_bytes)
check "entropy.entropy_bytes (sum) = ember.devices.entropy.bytes" "$bytes" \
	"$(last .ember.devices.entropy.bytes)"
check "entropy.entropy_event_count (sum) = ember.devices.entropy.requests" \
	"$(sum entropy entropy_event_count)" "$(last .ember.devices.entropy.requests)"
[ "$bytes" -gt 0 ] || fail "the entropy device served no bytes"
check "entropy.host_rng_fails (sum)" "$(sum entropy host_rng_fails)" 0
echo "ok: entropy: $bytes bytes in $(sum entropy entropy_event_count) requests"
echo "$API_CHECKS passed, 0 failed"
