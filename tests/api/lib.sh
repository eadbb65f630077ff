# Shared helpers of the API tests (sourced). They drive Ember only through `curl --unix-socket`.
#   api_start EMBER [ARGS...]   starts `EMBER --api-sock $API_SOCK ARGS` in the background
#   api METHOD PATH [BODY]      one request; sets API_STATUS and API_BODY
#   expect METHOD PATH BODY STATUS [TEXT]   the request must answer STATUS (and contain TEXT)
# API_SOCK is the socket curl talks to (the validating proxy's when one is in front).
set -euo pipefail

API_DIR=$(mktemp -d)
API_SOCK=$API_DIR/api.sock
EMBER_SOCK=$API_DIR/api.sock
EMBER_PID=""
API_CHECKS=0
API_CLEANUP_PIDS=()

api_cleanup() {
	local pid
	for pid in "${API_CLEANUP_PIDS[@]}" $EMBER_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${API_CLEANUP_PIDS[@]}" $EMBER_PID; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$API_DIR"
}
trap api_cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$API_DIR"/ember.out "$API_DIR"/ember.err; do
		[ -f "$f" ] && { echo "--- $f ---"; tail -n 30 "$f"; }
	done
	exit 1
}

wait_for() { # wait_for SECONDS COMMAND...
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

api_start() {
	local ember=$1
	shift
	"$ember" --api-sock "$EMBER_SOCK" "$@" </dev/null >"$API_DIR/ember.out" 2>"$API_DIR/ember.err" &
	EMBER_PID=$!
	wait_for 10 test -S "$EMBER_SOCK" || fail "the API socket never appeared"
}

api() {
	local method=$1 path=$2 body=${3-}
	local args=(-s -S --max-time 20 -o "$API_DIR/body" -D "$API_DIR/headers" -w '%{http_code}'
		--unix-socket "$API_SOCK" -X "$method" "http://localhost$path")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' -H 'Accept: application/json' -d "$body")
	[ -z "$body" ] && args+=(-H 'Accept: application/json')
	API_STATUS=$(curl "${args[@]}") || API_STATUS=000
	API_BODY=$(cat "$API_DIR/body" 2>/dev/null || true)
	# A validating proxy reports schema violations in this header.
	if grep -qi '^sl-violations:' "$API_DIR/headers" 2>/dev/null; then
		fail "$method $path: schema violations: $(grep -i '^sl-violations:' "$API_DIR/headers")"
	fi
}

expect() {
	local method=$1 path=$2 body=$3 status=$4 text=${5-}
	api "$method" "$path" "$body"
	API_CHECKS=$((API_CHECKS + 1))
	[ "$API_STATUS" = "$status" ] ||
		fail "$method $path $body: status $API_STATUS, expected $status: $API_BODY"
	if [ "$status" = 400 ]; then
		case $API_BODY in
		*'"fault_message"'*) ;;
		*) fail "$method $path: a 400 without a fault_message: $API_BODY" ;;
		esac
	fi
	if [ -n "$text" ]; then
		case $API_BODY in
		*"$text"*) ;;
		*) fail "$method $path: '$text' not in: $API_BODY" ;;
		esac
	fi
}

ticks() { # how many "tick N" lines the guest printed
	grep -c '^tick ' "$API_DIR/ember.out" 2>/dev/null || true
}

ticks_at_least() {
	[ "$(ticks)" -ge "$1" ]
}
