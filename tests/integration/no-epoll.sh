#!/usr/bin/env bash
# Ember waits only through io_uring: no thread (control loop, vCPUs, device threads) may make an
# epoll, select or poll syscall. Runs the hostile-virtio guest, which drives every virtio device
# (--rng --console virtio, and --disk when this ember has it) and reads stdin through
# virtio-console, under `strace -f` filtered to those syscalls, and fails if any shows up.
#
#   no-epoll.sh EMBER HOSTILE_VIRTIO_ELF
#
# Exit 0 pass, 1 fail, 77 skip (no strace, or no /dev/kvm).
set -uo pipefail

EMBER=${1:?usage: no-epoll.sh EMBER HOSTILE_VIRTIO_ELF}
GUEST=${2:?usage: no-epoll.sh EMBER HOSTILE_VIRTIO_ELF}
WAITS=epoll_create,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2
WAITS+=,select,pselect6,poll,ppoll

command -v strace >/dev/null ||
	{ echo "SKIP: strace is not installed (scripts/install-deps.sh)"; exit 77; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*"
	for f in out trace; do
		[ -s "$tmp/$f" ] && { echo "--- $f ---"; head -n 40 "$tmp/$f"; }
	done
	exit 1
}

# --seccomp-bpf: only the listed syscalls stop the tracee, so KVM_RUN exits stay fast.
trace() {
	strace -f --seccomp-bpf -qq -e signal=none -e trace="$WAITS" -o "$tmp/trace" "$@"
}

# The filter must see a select when there is one, or a silent trace proves nothing.
trace python3 -c 'import select; select.select([], [], [], 0)' ||
	fail "strace cannot trace on this host"
grep -q 'select' "$tmp/trace" || fail "strace did not see python's select(): the check is blind"

args=(run --kernel "$GUEST" --rng --console virtio --cmdline read-input)
if "$EMBER" run --help | grep -q -- '--disk SPEC'; then
	truncate -s 1M "$tmp/disk.img"
	args+=(--disk "path=$tmp/disk.img")
fi

printf 'ping\n' | timeout --kill-after=5 120 strace -f --seccomp-bpf -qq -e signal=none \
	-e trace="$WAITS" -o "$tmp/trace" "$EMBER" "${args[@]}" >"$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 124 ] && fail "timed out"
[ "$rc" -eq 0 ] || fail "ember ${args[*]} exited with status $rc"
grep -q "Ember survived" "$tmp/out" || fail "the guest did not finish its attacks"
grep -q "virtio-console input 'ping'" "$tmp/out" || fail "stdin did not reach virtio-console"
if grep -Eq "(^|[0-9] )(${WAITS//,/|})\(" "$tmp/trace"; then
	fail "epoll/select/poll syscalls made: $(grep -Eo "(${WAITS//,/|})\(" "$tmp/trace" |
		sort | uniq -c | tr '\n' ' ')"
fi
echo "ok: ember ${args[*]}: no epoll/select/poll syscalls in any thread"
