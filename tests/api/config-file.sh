#!/usr/bin/env bash
# Firecracker's own config files (shared/firecracker-api), paths replaced by the ticker guest's
# and a scratch disk image: vm_config.json (a root drive, io_engine Sync) boots the same VM as the
# equivalent flags (--disk, --io-engine sync, root=/dev/vda rw on the command line; the guest
# lists its PCI functions, so the disk is part of the comparison) with `ember --config-file
# --no-api` and `ember run --config-file`; vm_config_network.json boots with its network interface
# when a TAP can be made in a network namespace (root); the two vm_config_missing_* files are
# refused naming the missing field, and a config file with --api-sock boots at once and serves
# the API.
#   config-file.sh EMBER TICKER_GUEST SHARED_FIRECRACKER_API_DIR
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
ember=$1 guest=$2 data=$3
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
passed=0

disk=$API_DIR/rootfs.img
truncate -s 1M "$disk"

# prep IN OUT [extra jq filter]: the guest as kernel, ticks=3 so it ends by itself, the scratch
# disk as every drive.
prep() {
	jq --arg k "$guest" --arg d "$disk" \
		'."boot-source".kernel_image_path = $k | ."boot-source".boot_args += " ticks=3"
		 | .drives = [.drives[]? | .path_on_host = $d] | '"${3:-.}" "$1" >"$2"
}

# run NAME STATUS TEXT CMD...: CMD must exit with STATUS and print TEXT (stdout+stderr).
run() {
	local name=$1 status=$2 text=$3 rc
	shift 3
	set +e
	timeout --kill-after=5 60 "$@" </dev/null >"$API_DIR/$name.out" 2>&1
	rc=$?
	set -e
	[ "$rc" = "$status" ] || fail "$name: exit status $rc, expected $status: $(tail -5 "$API_DIR/$name.out")"
	grep -qF -- "$text" "$API_DIR/$name.out" || fail "$name: no '$text' in: $(tail -5 "$API_DIR/$name.out")"
	passed=$((passed + 1))
	echo "ok: $name"
}

cmdline='console=ttyS0 reboot=k panic=1 ticks=3 root=/dev/vda rw'
expected="ticker: cpus=2 mem_mib=1024 cmdline='$cmdline'"
prep "$data/vm_config.json" "$API_DIR/vm_config.json"
run flags 0 "$expected" "$ember" run --kernel "$guest" --cpus 2 --memory 1024 \
	--cmdline "$cmdline" --disk path="$disk" --io-engine sync
grep -q '^ticker: pci .* 1af4:1042' "$API_DIR/flags.out" || fail "the flags' VM has no virtio-blk"
run config_no_api 0 "$expected" "$ember" --config-file "$API_DIR/vm_config.json" --no-api
run run_config 0 "$expected" "$ember" run --config-file "$API_DIR/vm_config.json"
for name in flags config_no_api run_config; do
	grep -E '^(ticker|tick)' "$API_DIR/$name.out" >"$API_DIR/$name.guest"
done
cmp -s "$API_DIR/flags.guest" "$API_DIR/config_no_api.guest" ||
	fail "the config file's VM differs from the flags' VM: $(diff "$API_DIR/flags.guest" "$API_DIR/config_no_api.guest")"
cmp -s "$API_DIR/flags.guest" "$API_DIR/run_config.guest" || fail "ember run --config-file differs"
echo "ok: vm_config.json boots the same VM as the flags"

prep "$data/vm_config.json" "$API_DIR/no_image.json" '.drives[0].path_on_host = "/nonexistent.img"'
run drive_without_image 1 "drives[0]: drive 'rootfs': cannot open path_on_host '/nonexistent.img'" \
	"$ember" --config-file "$API_DIR/no_image.json" --no-api
prep "$data/vm_config.json" "$API_DIR/two_roots.json" '.drives += [.drives[0] | .drive_id = "second"]'
run two_root_drives 1 "drives[1]: drive 'rootfs' is already the root device" \
	"$ember" --config-file "$API_DIR/two_roots.json" --no-api
prep "$data/vm_config.json" "$API_DIR/pmem.json" '.pmem = [{"id": "p", "path_on_host": "/x"}]'
run pmem_refused 1 "'pmem': Ember does not support pmem devices" \
	"$ember" --config-file "$API_DIR/pmem.json" --no-api
for field in mem_size_mib vcpu_count; do
	prep "$data/vm_config_missing_$field.json" "$API_DIR/missing_$field.json"
	run "missing_$field" 1 "missing field '$field'" "$ember" --config-file "$API_DIR/missing_$field.json" --no-api
done
prep "$data/vm_config_smt_true.json" "$API_DIR/smt.json" '.drives = []'
run smt 0 "ticker: cpus=2 mem_mib=1024" "$ember" --config-file "$API_DIR/smt.json" --no-api
prep "$data/vm_config_network.json" "$API_DIR/network.json"
if api_netns_with_tap "ember-cfg-$$" tap0; then
	run network 0 "ticker: pci" ip netns exec "ember-cfg-$$" "$ember" --config-file "$API_DIR/network.json" --no-api
	grep -q '^ticker: pci .* 1af4:1041' "$API_DIR/network.out" || fail "network: no virtio-net device"
else
	echo "note: cannot create a TAP in a network namespace here: vm_config_network.json not booted"
fi
prep "$data/vm_config_network.json" "$API_DIR/bad_mac.json" '."network-interfaces"[0].guest_mac = "01:00:5e:00:00:01"'
run network_bad_mac 1 "network-interfaces[0]: guest_mac" "$ember" --config-file "$API_DIR/bad_mac.json" --no-api
prep "$data/vm_config.json" "$API_DIR/devices.json" '.entropy = {} | .balloon = {"amount_mib": 2048, "deflate_on_oom": true}'
run balloon_too_big 1 "balloon: amount_mib 2048 is more than the guest's memory" \
	"$ember" --config-file "$API_DIR/devices.json" --no-api
printf '{"boot-source": ' >"$API_DIR/broken.json"
run invalid_json 1 "invalid JSON" "$ember" --config-file "$API_DIR/broken.json" --no-api
run no_file 1 "/nonexistent.json" "$ember" --config-file /nonexistent.json --no-api
run needs_api_or_no_api 2 "--api-sock" "$ember" --config-file "$API_DIR/vm_config.json"
run no_api_needs_file 2 "--no-api needs --config-file" "$ember" --no-api
run not_with_flags 2 "cannot be combined" "$ember" run --config-file "$API_DIR/vm_config.json" --cpus 2

# A logger from the file, and an API on a VM that booted from it.
prep "$data/vm_config.json" "$API_DIR/api.json" \
	".drives = [] | .\"boot-source\".boot_args = \"console=ttyS0\" | .logger = {\"log_path\": \"$API_DIR/file.log\", \"level\": \"Info\"}"
api_start "$ember" --config-file "$API_DIR/api.json"
expect GET / "" 200 '"state":"Running"'
expect GET /vm/config "" 200 '"vcpu_count":2'
wait_for 10 ticks_at_least 2 || fail "the config file's VM did not tick"
expect PUT /actions '{"action_type": "SendCtrlAltDel"}' 204
wait "$EMBER_PID" || fail "ember exited with $? after Ctrl-Alt-Del"
EMBER_PID=""
grep -q "microVM stopped with exit status 0" "$API_DIR/file.log" || fail "no log from the file's logger"
passed=$((passed + API_CHECKS + 1))
echo "ok: config file + API socket"
echo "$passed passed, 0 failed"
