#!/usr/bin/env bash
# A whole VM life cycle through the API with curl only: configure (boot source, machine config, a
# root drive, entropy, vsock and balloon devices and, when this host lets the test create a TAP in
# a network namespace, a network interface), InstanceStart, GET / says Running, the guest sees its
# PCI devices and the root= the drive added, PATCH /vm Paused stops the guest's tick counter and
# Resumed restarts it, the interface's rate limiters and the balloon's target change at run time,
# metrics are flushed, SendCtrlAltDel ends the VM (exit status 0), and pre-/post-boot rules hold.
#
#   lifecycle.sh EMBER TICKER_GUEST [--validate PRISM SPEC]
#
# With --validate every request and response goes through Stoplight Prism as a validating proxy
# (lib.sh: api_options). Exits 77 (skipped) when prism or socat is missing.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

ember=$1 guest=$2
shift 2
api_options "$@"

# A TAP in a private network namespace, with Ember inside it (root only; skipped otherwise).
netns=ember-api-$$
if api_netns_with_tap "$netns" tap0; then
	EMBER_WRAP=(ip netns exec "$netns")
	with_nic=1
else
	echo "note: cannot create a TAP in a network namespace here: no network interface part"
	with_nic=0
fi
disk=$API_DIR/disk.img
truncate -s 1M "$disk"

api_start "$ember"

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
expect PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\"}" 204
expect PUT /drives/other "{\"drive_id\": \"other\", \"path_on_host\": \"$disk\", \"is_root_device\": true}" 400 "root"
expect PUT /drives/rootfs "{\"drive_id\": \"other\", \"path_on_host\": \"$disk\", \"is_root_device\": false}" 400 "does not match"
expect PUT /entropy '{}' 204
expect PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$API_DIR/vsock.sock\"}" 204
expect GET /balloon "" 400 "no balloon"
expect PUT /balloon '{"amount_mib": 1000, "deflate_on_oom": true}' 400 "mem_size_mib"
expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": true, "stats_polling_interval_s": 1}' 204
expect GET /balloon "" 200 '"amount_mib":0,"deflate_on_oom":true,"stats_polling_interval_s":1'
expect PATCH /balloon '{"amount_mib": 8}' 400 "before starting"
if [ "$with_nic" = 1 ]; then
	expect PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02", "tx_rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}}' 204
fi
expect GET /vm/config "" 200 '"drives":[{"drive_id":"rootfs","is_root_device":true,"cache_type":"Writeback","is_read_only":false'
expect PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\"}" 400 "before starting"
expect PATCH /vm '{"state": "Paused"}' 400 "before starting"
expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 400 "before starting"
expect PUT /actions '{"action_type": "InstanceStart"}' 204

# --- running ---
expect GET / "" 200 '"state":"Running"'
wait_for 10 ticks_at_least 3 || fail "the guest never ticked"
grep -q "^ticker: .*cmdline='console=ttyS0 period_ms=50 root=/dev/vda rw'" "$API_DIR/ember.out" ||
	fail "the root drive is not on the command line: $(grep '^ticker' "$API_DIR/ember.out")"
grep -q '^ticker: pci .* 1af4:1042' "$API_DIR/ember.out" || fail "the guest has no virtio-blk device"
grep -q '^ticker: pci .* 1af4:1044' "$API_DIR/ember.out" || fail "the guest has no virtio-rng device"
ls -l "/proc/$EMBER_PID/fd" | grep -q "$disk" || fail "ember does not hold the drive's image open"
grep -q '^ticker: pci .* 1af4:1045' "$API_DIR/ember.out" || fail "the guest has no virtio-balloon device"
grep -q '^ticker: pci .* 1af4:1053' "$API_DIR/ember.out" || fail "the guest has no virtio-vsock device"
[ -S "$API_DIR/vsock.sock" ] || fail "the vsock's Unix socket is not there"
echo "ok: the guest has its drive (root=/dev/vda rw), entropy, balloon and vsock devices"
expect PATCH /balloon '{"amount_mib": 16}' 204
expect GET /balloon "" 200 '"amount_mib":16'
expect GET /balloon/statistics "" 200 '"target_pages":4096,"actual_pages":0,"target_mib":16,"actual_mib":0'
expect PATCH /balloon/statistics '{"stats_polling_interval_s": 2}' 204
expect PATCH /balloon/statistics '{"stats_polling_interval_s": 0}' 400 "turned off"
expect PUT /balloon '{"amount_mib": 0, "deflate_on_oom": true}' 400 "after starting"
expect GET /vm/config "" 200 '"balloon":{"amount_mib":16,"deflate_on_oom":true,"stats_polling_interval_s":2'
expect PATCH /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\"}" 400 "path_on_host"
expect PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$disk\", \"is_root_device\": false}" 400 "after starting"
if [ "$with_nic" = 1 ]; then
	grep -q '^ticker: pci .* 1af4:1041' "$API_DIR/ember.out" || fail "the guest has no virtio-net device"
	expect PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "rx_rate_limiter": {"ops": {"size": 1000, "refill_time": 1000}}, "tx_rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}}}' 204
	expect GET /vm/config "" 200 '"network-interfaces":[{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:10:00:02","rx_rate_limiter":{"ops":{"size":1000,"refill_time":1000}}}]'
	expect PATCH /network-interfaces/eth1 '{"iface_id": "eth1"}' 400 "eth1"
	echo "ok: virtio-net on tap0, rate limiters changed at run time"
fi
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
