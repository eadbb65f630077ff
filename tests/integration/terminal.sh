#!/usr/bin/env bash
# On a terminal, ember puts stdin in raw mode: Enter (CR) reaches the guest as typed, Ctrl-A x
# quits with status 0, and the terminal comes back in its old mode. Runs ember on a pty (script).
set -euo pipefail
ember=$1 guest=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

set +e
{
	sleep 1 # let ember switch the pty to raw mode first
	printf 'hello tty\r'
	sleep 0.5
	printf '\001x'
	sleep 0.5
} | timeout 30 script -qec "$ember run --kernel $guest; echo EMBER-STATUS=\$?; stty -a | grep -o -- '-\?icanon'" /dev/null >"$out" 2>&1
set -e
tr -d '\r' <"$out" >"$out.clean"
fail() { echo "FAIL: $*"; cat "$out.clean"; rm -f "$out.clean"; exit 1; }
grep -q "echo: hello tty" "$out.clean" || fail "the typed line did not reach the guest"
grep -q "quit after" "$out.clean" && fail "the guest saw Ctrl-A x instead of ember"
grep -q "EMBER-STATUS=0" "$out.clean" || fail "Ctrl-A x did not end ember with status 0"
grep -qx "icanon" "$out.clean" || fail "the terminal was not restored to canonical mode"
rm -f "$out.clean"
echo "ok: typed input, Ctrl-A x and terminal restore"
