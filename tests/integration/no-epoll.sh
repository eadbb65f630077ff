#!/usr/bin/env bash
# Ember waits only through io_uring: no thread (control loop, vCPUs, every device thread, the API
# thread) may make an epoll, select or poll syscall. Each run below goes under `strace -f`
# filtered to those syscalls, and fails if any shows up:
#
#   1. the hostile-virtio guest drives the virtio devices (--rng --console virtio --disk, and
#      --net on a TAP in a private network namespace when this host lets the test make one) and
#      reads stdin through virtio-console, with idle --balloon and --vsock devices beside it;
#   2. (with BALLOON_ELF) the balloon test guest (serve=1) inflates to --balloon size and keeps
#      its statistics buffer cycling on the device's 1 s timer, a host process knocks on the
#      vsock's Unix socket ("CONNECT 1234": refused, no driver), the API (--api-sock) changes
#      the balloon's target and the guest follows, and SIGTERM stops the VM (status 0).
#
#   no-epoll.sh EMBER HOSTILE_VIRTIO_ELF [BALLOON_ELF]
#
# Exit 0 pass, 1 fail, 77 skip (no strace, or no /dev/kvm).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EMBER=${1:?usage: no-epoll.sh EMBER HOSTILE_VIRTIO_ELF [BALLOON_ELF]}
GUEST=${2:?usage: no-epoll.sh EMBER HOSTILE_VIRTIO_ELF [BALLOON_ELF]}
BALLOON_GUEST=${3-}
WAITS=epoll_create,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2
WAITS+=,select,pselect6,poll,ppoll

command -v strace >/dev/null ||
	{ echo "SKIP: strace is not installed (scripts/install-deps.sh)"; exit 77; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }

tmp=$(mktemp -d)
netns=""
tracer="" ember_pid=""
cleanup() {
	[ -n "$ember_pid" ] && kill -KILL "$ember_pid" 2>/dev/null
	[ -n "$tracer" ] && kill "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null
	[ -n "$netns" ] && ip netns del "$netns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

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

check_trace() { # check_trace WHAT
	if grep -Eq "(^|[0-9] )(${WAITS//,/|})\(" "$tmp/trace"; then
		fail "$1: epoll/select/poll syscalls made: $(grep -Eo "(${WAITS//,/|})\(" "$tmp/trace" |
			sort | uniq -c | tr '\n' ' ')"
	fi
	echo "ok: $1: no epoll/select/poll syscalls in any thread"
}

# The filter must see a select when there is one, or a silent trace proves nothing.
trace python3 -c 'import select; select.select([], [], [], 0)' ||
	fail "strace cannot trace on this host"
grep -q 'select' "$tmp/trace" || fail "strace did not see python's select(): the check is blind"

# --- 1. hostile-virtio with every device ---
truncate -s 1M "$tmp/disk.img"
args=(run --kernel "$GUEST" --rng --console virtio --cmdline read-input
	--disk "path=$tmp/disk.img" --balloon size=0,stats=1,free_page_reporting=on
	--vsock "cid=3,uds=$tmp/idle.sock")
wrap=()
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null &&
	ip netns add "ember-noepoll-$$" 2>/dev/null; then
	netns=ember-noepoll-$$
	ip -n "$netns" tuntap add dev tap0 mode tap && ip -n "$netns" link set tap0 up ||
		fail "cannot create a TAP in network namespace $netns"
	wrap=(ip netns exec "$netns")
	args+=(--net tap=tap0)
else
	echo "note: cannot create a TAP in a network namespace here: no virtio-net thread"
fi

printf 'ping\n' | timeout --kill-after=5 120 "${wrap[@]}" strace -f --seccomp-bpf -qq \
	-e signal=none -e trace="$WAITS" -o "$tmp/trace" "$EMBER" "${args[@]}" >"$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 124 ] && fail "timed out"
[ "$rc" -eq 0 ] || fail "ember ${args[*]} exited with status $rc"
grep -q "Ember survived" "$tmp/out" || fail "the guest did not finish its attacks"
grep -q "virtio-console input 'ping'" "$tmp/out" || fail "stdin did not reach virtio-console"
check_trace "ember ${args[*]}"

[ -n "$BALLOON_GUEST" ] || exit 0

# --- 2. the balloon guest, the vsock socket and the API at work ---
wait_line() { # wait_line PATTERN: up to 30 s
	wait_for_line "$tmp/out" "$tracer" 30 "$1"
}

api() { # api METHOD PATH [BODY]: prints the HTTP status
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$tmp/api.sock" \
		-X "$1" ${3:+-H 'Content-Type: application/json' -d "$3"} "http://localhost$2"
}

args=(run --kernel "$BALLOON_GUEST" --memory 256M --cmdline "serve=1 touch=96"
	--balloon size=64,stats=1 --vsock "cid=3,uds=$tmp/v.sock" --api-sock "$tmp/api.sock")
strace -f --seccomp-bpf -qq -e signal=none -e trace="$WAITS" -o "$tmp/trace" \
	"$EMBER" "${args[@]}" </dev/null >"$tmp/out" 2>&1 &
tracer=$!
for _ in $(seq 1 100); do
	# By name: strace forks short-lived test children of its own before it starts ember.
	ember_pid=$(pgrep -P "$tracer" -x "$(basename "$EMBER")" | head -n 1)
	[ -n "$ember_pid" ] && break
	sleep 0.1
done
[ -n "$ember_pid" ] || fail "cannot find ember under strace"
wait_line "^balloon: actual 16384 pages" || fail "the balloon guest did not inflate"
wait_line "^balloon: statistics buffer 2 offered" ||
	fail "the balloon's statistics timer never returned the buffer"
answer=$(python3 - "$tmp/v.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 1234\n")
print("closed" if s.recv(64) == b"" else "answered")
EOF
) || fail "cannot talk to the vsock's Unix socket"
[ "$answer" = closed ] || fail "the vsock answered a CONNECT with no driver in the guest"
[ "$(api PATCH /balloon '{"amount_mib": 32}')" = 204 ] || fail "PATCH /balloon failed"
wait_line "^balloon: actual 8192 pages" || fail "the balloon guest did not follow the API"
kill -TERM "$ember_pid"
for _ in $(seq 1 300); do
	kill -0 "$tracer" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$tracer" 2>/dev/null && fail "ember did not stop on SIGTERM"
wait "$tracer"
rc=$?
tracer="" ember_pid=""
[ "$rc" -eq 0 ] || fail "ember ${args[*]} exited with status $rc after SIGTERM"
check_trace "ember ${args[*]}"
