#!/usr/bin/env bash
# A whole VM life cycle through the API with curl only: configure, InstanceStart, GET / says
# Running, PATCH /vm Paused stops the guest's tick counter and Resumed restarts it, metrics are
# flushed, SendCtrlAltDel ends the VM (exit status 0), and pre-/post-boot rules hold.
#
#   lifecycle.sh EMBER TICKER_GUEST [--validate PRISM SPEC]
#
# With --validate every request and response goes through Stoplight Prism as a validating proxy
# (`prism proxy SPEC ... --errors`: a schema violation turns the answer into 422/500 with an
# sl-violations header): curl -> Unix socket -> socat -> prism (TCP) -> socat -> Ember's socket.
# Exits 77 (skipped) when prism or socat is missing.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

ember=$1 guest=$2
shift 2
if [ "${1-}" = --validate ]; then
	prism=${EMBER_PRISM:-$2} spec=$3
	[ -x "$prism" ] || { echo "SKIP: no prism at $prism (tests/api/install-prism.sh)"; exit 77; }
	command -v socat >/dev/null || { echo "SKIP: socat is not installed"; exit 77; }
	EMBER_SOCK=$API_DIR/ember.sock
	API_SOCK=$API_DIR/front.sock
	validating=1
else
	validating=0
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

start_validating_proxy() {
	local back front
	back=$(free_port)
	socat TCP-LISTEN:"$back",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$EMBER_SOCK" \
		2>>"$API_DIR/socat.log" &
	API_CLEANUP_PIDS+=($!)
	front=$(free_port)
	while [ "$front" = "$back" ]; do front=$(free_port); done
	"$prism" proxy "$spec" "http://127.0.0.1:$back" --host 127.0.0.1 --port "$front" --errors \
		>"$API_DIR/prism.log" 2>&1 &
	API_CLEANUP_PIDS+=($!)
	socat UNIX-LISTEN:"$API_SOCK",fork TCP:127.0.0.1:"$front" 2>>"$API_DIR/socat.log" &
	API_CLEANUP_PIDS+=($!)
	wait_for 60 curl -s -o /dev/null --unix-socket "$API_SOCK" http://localhost/version ||
		fail "prism did not come up: $(tail -5 "$API_DIR/prism.log")"
}

api_start "$ember"
[ "$validating" = 1 ] && start_validating_proxy

# --- before the boot ---
expect GET / "" 200 '"state":"Not started"'
expect GET /version "" 200 firecracker_version
expect GET /machine-config "" 200 '"vcpu_count":1'
expect PUT /boot-source "{\"kernel_image_path\": \"$guest\", \"boot_args\": \"console=ttyS0 period_ms=50\"}" 204
expect PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' 204
expect PATCH /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 204
expect GET /machine-config "" 200 '"mem_size_mib":128'
expect PUT /logger "{\"log_path\": \"$API_DIR/ember.log\", \"level\": \"Info\", \"show_level\": true}" 204
expect PUT /metrics "{\"metrics_path\": \"$API_DIR/metrics.json\"}" 204
expect GET /vm/config "" 200 '"boot-source"'
expect PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$guest\", \"is_root_device\": true, \"is_read_only\": true}" 400 "drives"
expect PATCH /vm '{"state": "Paused"}' 400 "before starting"
expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 400 "before starting"
expect PUT /actions '{"action_type": "InstanceStart"}' 204

# --- running ---
expect GET / "" 200 '"state":"Running"'
wait_for 10 ticks_at_least 3 || fail "the guest never ticked"
expect PUT /boot-source "{\"kernel_image_path\": \"$guest\"}" 400 "after starting"
expect PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' 400 "after starting"
expect PUT /actions '{"action_type": "InstanceStart"}' 400 "after starting"

expect PATCH /vm '{"state": "Paused"}' 204
expect GET / "" 200 '"state":"Paused"'
sleep 0.2 # a tick printed just before the pause may still be on its way through the pipe
paused_at=$(ticks)
sleep 1
[ "$(ticks)" = "$paused_at" ] || fail "the guest ticked while paused ($paused_at -> $(ticks))"
echo "ok: paused at tick $paused_at, still $paused_at one second later"

expect PATCH /vm '{"state": "Resumed"}' 204
expect GET / "" 200 '"state":"Running"'
wait_for 10 ticks_at_least $((paused_at + 5)) || fail "the guest did not tick after resume"
echo "ok: resumed, now at tick $(ticks)"

expect PUT /actions '{"action_type": "FlushMetrics"}' 204
grep -q '"vcpu":{"exit_io_in"' "$API_DIR/metrics.json" || fail "no metrics line: $(cat "$API_DIR/metrics.json")"
grep -q '"guest_ready_us":[0-9]' "$API_DIR/metrics.json" || fail "no guest_ready_us"
grep -q 'microVM paused' "$API_DIR/ember.log" || fail "the log has no pause line"

expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
set +e
wait_for 20 bash -c "! kill -0 $EMBER_PID 2>/dev/null"
wait "$EMBER_PID"
rc=$?
set -e
EMBER_PID=""
[ "$rc" = 0 ] || fail "ember exited with $rc after Ctrl-Alt-Del"
grep -q 'ticker: ctrl-alt-del' "$API_DIR/ember.out" || fail "the guest never saw Ctrl-Alt-Del"
[ "$(wc -l <"$API_DIR/metrics.json")" -ge 2 ] || fail "no metrics line at exit"
[ -e "$EMBER_SOCK" ] && fail "the API socket was left behind"
echo "ok: SendCtrlAltDel ended the VM with status 0"
echo "$API_CHECKS passed, 0 failed"
