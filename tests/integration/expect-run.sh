#!/usr/bin/env bash
# Runs one command (usually `ember run ...` on a test guest) and checks its exit status and the
# lines it printed.
#   expect-run.sh --status N [--expect TEXT]... [--reject TEXT]... [--lines N] [--timeout S] -- CMD...
# --expect TEXT  the combined stdout+stderr must contain TEXT (fixed string)
# --reject TEXT  ... must not contain TEXT
# --lines N      the output must be exactly N lines (used for one-line error messages)
set -uo pipefail

status=0 timeout_s=30 lines=""
expects=() rejects=()
while [ $# -gt 0 ]; do
	case "$1" in
	--status) status=$2; shift 2 ;;
	--expect) expects+=("$2"); shift 2 ;;
	--reject) rejects+=("$2"); shift 2 ;;
	--lines) lines=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "expect-run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout --kill-after=5 "$timeout_s" "$@" </dev/null >"$out" 2>&1
rc=$?

fail() {
	echo "FAIL: $*"
	echo "command: $*"
	echo "--- output ---"
	cat "$out"
	echo "--------------"
	exit 1
}

[ "$rc" -eq 124 ] && fail "timed out after ${timeout_s}s"
[ "$rc" -eq "$status" ] || fail "exit status $rc, expected $status"
for t in "${expects[@]}"; do
	grep -qF -- "$t" "$out" || fail "output lacks '$t'"
done
for t in "${rejects[@]}"; do
	grep -qF -- "$t" "$out" && fail "output contains '$t'"
done
if [ -n "$lines" ]; then
	n=$(wc -l <"$out")
	[ "$n" -eq "$lines" ] || fail "output has $n lines, expected $lines"
fi
echo "ok: status $rc"
cat "$out"
exit 0
