# shellcheck shell=bash
# Helpers for the integration test scripts. Source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# wait_for_line FILE PID SECONDS PATTERN: waits until a line of FILE matches PATTERN (grep), for
# up to SECONDS or until process PID is gone. True if one does.
wait_for_line() {
	local file=$1 pid=$2 tenths=$(($3 * 10)) pattern=$4
	for _ in $(seq 1 "$tenths"); do
		grep -q "$pattern" "$file" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "$pattern" "$file"
}
