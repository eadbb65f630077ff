#!/usr/bin/env bash
# Hostile requests (tests/api/api_fuzz.c) against a fresh `ember --api-sock`: each gets 400 with
# a fault_message, the server keeps serving, and 1,000 more requests leak no fds or memory.
#   bad-requests.sh EMBER API_FUZZ
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
ember=$1 fuzz=$2
api_start "$ember"
"$fuzz" "$EMBER_SOCK" "$EMBER_PID" || fail "api_fuzz found problems"
kill -0 "$EMBER_PID" || fail "ember died"
