# Shared helpers of the API tests (sourced). They drive Ember only through `curl --unix-socket`.
#   api_start EMBER [ARGS...]   starts `EMBER --api-sock $API_SOCK ARGS` in the background
#                               (behind `${EMBER_WRAP[@]}` when set, e.g. ip netns exec NS)
#   api_netns_with_tap NS TAP   a network namespace with a TAP in it (root); 1 if impossible
#   api METHOD PATH [BODY]      one request; sets API_STATUS and API_BODY
#   expect METHOD PATH BODY STATUS [TEXT]   the request must answer STATUS (and contain TEXT)
#   api_options [--validate PRISM SPEC]   a test's own options: --validate puts Stoplight Prism in
#                               front as a validating proxy (below; api_validate_through PRISM
#                               SPEC); exits 77 (skipped) when prism or socat is missing
# API_SOCK is the socket curl talks to (the validating proxy's when one is in front).
#
# The validating proxy: `prism proxy SPEC ... --errors` turns a request or response that does not
# match the Swagger description into 422/500 with an sl-violations header, which `api` fails on:
# curl -> Unix socket -> socat -> prism (TCP) -> socat -> Ember's socket.
set -euo pipefail

API_DIR=$(mktemp -d)
API_SOCK=$API_DIR/api.sock
EMBER_SOCK=$API_DIR/api.sock
EMBER_PID=""
API_CHECKS=0
API_CLEANUP_PIDS=()
API_NETNS=""
EMBER_WRAP=()
API_PRISM="" API_SPEC=""

api_cleanup() {
	local pid
	for pid in "${API_CLEANUP_PIDS[@]}" $EMBER_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${API_CLEANUP_PIDS[@]}" $EMBER_PID; do
		wait "$pid" 2>/dev/null || true
	done
	[ -n "$API_NETNS" ] && ip netns del "$API_NETNS" 2>/dev/null
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
	"${EMBER_WRAP[@]}" "$ember" --api-sock "$EMBER_SOCK" "$@" </dev/null >"$API_DIR/ember.out" \
		2>"$API_DIR/ember.err" &
	EMBER_PID=$!
	wait_for 10 test -S "$EMBER_SOCK" || fail "the API socket never appeared"
	[ -z "$API_PRISM" ] || api_start_validating_proxy
}

api_options() {
	case ${1-} in
	"") ;;
	--validate) api_validate_through "$2" "$3" ;;
	*) echo "unknown option '$1' (only --validate PRISM SPEC)" >&2; exit 2 ;;
	esac
}

api_validate_through() {
	API_PRISM=${EMBER_PRISM:-$1} API_SPEC=$2
	[ -x "$API_PRISM" ] || { echo "SKIP: no prism at $API_PRISM (tests/api/install-prism.sh)"; exit 77; }
	command -v socat >/dev/null || { echo "SKIP: socat is not installed"; exit 77; }
	EMBER_SOCK=$API_DIR/ember.sock
	API_SOCK=$API_DIR/front.sock
}

api_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

api_start_validating_proxy() {
	local back front
	back=$(api_free_port)
	socat TCP-LISTEN:"$back",bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:"$EMBER_SOCK" \
		2>>"$API_DIR/socat.log" &
	API_CLEANUP_PIDS+=($!)
	front=$(api_free_port)
	while [ "$front" = "$back" ]; do front=$(api_free_port); done
	"$API_PRISM" proxy "$API_SPEC" "http://127.0.0.1:$back" --host 127.0.0.1 --port "$front" \
		--errors >"$API_DIR/prism.log" 2>&1 &
	API_CLEANUP_PIDS+=($!)
	socat UNIX-LISTEN:"$API_SOCK",fork TCP:127.0.0.1:"$front" 2>>"$API_DIR/socat.log" &
	API_CLEANUP_PIDS+=($!)
	wait_for 60 curl -s -o /dev/null --unix-socket "$API_SOCK" http://localhost/version ||
		fail "prism did not come up: $(tail -5 "$API_DIR/prism.log")"
}

api_netns_with_tap() {
	local ns=$1 tap=$2
	[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null || return 1
	ip netns add "$ns" 2>/dev/null || return 1
	API_NETNS=$ns
	ip -n "$ns" tuntap add dev "$tap" mode tap 2>/dev/null && ip -n "$ns" link set "$tap" up
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
