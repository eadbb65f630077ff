#!/usr/bin/env bash
# SIGTERM and SIGINT stop a running VM cleanly: ember says so and exits 0, leaving no threads.
set -euo pipefail
ember=$1 guest=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/in"

for sig in TERM INT; do
	"$ember" run --kernel "$guest" <"$dir/in" >"$dir/out" 2>&1 &
	pid=$!
	exec 3>"$dir/in" # keep the guest's input open: it waits for lines forever
	for _ in $(seq 1 100); do grep -q "echo: ready" "$dir/out" && break; sleep 0.1; done
	grep -q "echo: ready" "$dir/out" || { echo "FAIL: guest never got ready"; cat "$dir/out"; exit 1; }
	kill -"$sig" "$pid"
	set +e
	wait "$pid"
	rc=$?
	set -e
	exec 3>&-
	[ "$rc" -eq 0 ] || { echo "FAIL: SIG$sig: exit status $rc"; cat "$dir/out"; exit 1; }
	grep -q "received, stopping the VM" "$dir/out" || { echo "FAIL: SIG$sig not reported"; cat "$dir/out"; exit 1; }
	echo "ok: SIG$sig stopped the VM with status 0"
done
