# shellcheck shell=bash
# Helpers for tests that run inside L1 (see README.md). Source it:
#   source "$(dirname "$0")/lib.sh"     (from a script in tests/nested/)
# Functions are prefixed nested_. Nothing here exits the caller on its own, except
# nested_host_setup (exit 77: the test is skipped).

NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

nested_repo_root() {
    (cd "$NESTED_DIR/../.." && pwd)
}

# Cache root: $EMBER_CACHE, else <repo>/.cache (git-ignored). Holds debs/,
# guest/ (default guest), guest-amd64/, l1/.
nested_cache_root() {
    if [[ -n "${EMBER_CACHE:-}" ]]; then
        printf '%s\n' "$EMBER_CACHE"
    else
        printf '%s/.cache\n' "$(nested_repo_root)"
    fi
}

# True when we are the command run by run-in-l1.sh, inside L1.
nested_in_l1() {
    [[ "${EMBER_IN_L1:-}" == 1 ]]
}

# True when this machine can run L1 (QEMU installed); prints why not otherwise.
nested_l1_available() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 || {
        echo "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)" >&2
        return 1
    }
}

# Prints the directory of the default guest (flavour cloud, or amd64), building
# it first when needed. Call on the host: inside L1 the repository is read-only
# (writes land in L1's memory), so prepare images before entering L1.
nested_guest_dir() {
    local flavour=${1:-cloud} dir
    dir="$(nested_cache_root)/guest"
    [[ "$flavour" == cloud ]] || dir+="-$flavour"
    if ! nested_in_l1; then
        "$(nested_repo_root)/guest-images/debian/build-default-guest.sh" \
            --kernel-flavour "$flavour" --out "$dir" >&2 || return 1
    fi
    [[ -f "$dir/initramfs.cpio.gz" ]] || { echo "no guest image in $dir" >&2; return 1; }
    printf '%s\n' "$dir"
}

# The guest kernel to boot from guest dir $1: the PVH vmlinux when there is one.
nested_guest_kernel() {
    if [[ -f "$1/vmlinux" ]]; then
        printf '%s\n' "$1/vmlinux"
    else
        printf '%s\n' "$1/vmlinuz"
    fi
}

# The guest kernel of kind $1 (bzimage: vmlinuz, pvh: vmlinux, a test's --kernel) in guest dir
# $2; fails on any other kind.
nested_guest_kernel_of_kind() {
    case "$1" in
        bzimage) printf '%s\n' "$2/vmlinuz" ;;
        pvh) printf '%s\n' "$2/vmlinux" ;;
        *) return 1 ;;
    esac
}

# Prints the path of the ember binary: $EMBER_BIN, else the first of
# <repo>/build/ember and <repo>/builddir/ember that exists.
nested_ember_binary() {
    local root candidate
    root=$(nested_repo_root)
    for candidate in "${EMBER_BIN:-}" "$root/build/ember" "$root/builddir/ember"; do
        [[ -n "$candidate" && -x "$candidate" ]] && { printf '%s\n' "$candidate"; return 0; }
    done
    echo "no ember binary: build it (meson compile -C build) or set EMBER_BIN" >&2
    return 1
}

# Runs a command in L1: nested_run [run-in-l1.sh options] -- COMMAND [ARG...]
# Returns the command's status, or 125 when L1 failed.
# L1 is a Linux under QEMU's TCG emulation of SVM, and that emulation occasionally takes L1's
# own kernel down (e.g. "Fatal exception in interrupt" in L1 while a vCPU sat in KVM_RUN): that
# says nothing about Ember, so an L1 failure (125) gets one fresh L1; the command's own status
# is never retried.
nested_run() {
    local attempt rc
    for attempt in 1 2; do
        rc=0
        "$NESTED_DIR/run-in-l1.sh" "$@" || rc=$?
        [[ $rc -eq 125 && $attempt -eq 1 ]] || return "$rc"
        echo "nested: L1 itself failed (status 125, its console is above); booting a fresh L1" >&2
    done
}

# Runs `timeout SEC ember ARG...` with stdin closed and stdout and stderr in file LOG:
# nested_ember_logged LOG SEC ARG... Returns 0 when ember exited 0; otherwise 1, with the reason
# ("ember timed out", "ember exited with status N", "no ember binary") in NESTED_WHY.
nested_ember_logged() {
    local log=$1 seconds=$2 ember rc=0
    shift 2
    NESTED_WHY="no ember binary"
    ember=$(nested_ember_binary) || return 1
    timeout "$seconds" "$ember" "$@" </dev/null >"$log" 2>&1 || rc=$?
    NESTED_WHY=
    [[ $rc -ne 124 ]] || { NESTED_WHY="ember timed out"; return 1; }
    [[ $rc -eq 0 ]] || { NESTED_WHY="ember exited with status $rc"; return 1; }
}

# Guest kernel command line that runs shell command $1 in the default guest
# (base64-encoded, so any text works); later arguments are added before it.
nested_guest_cmdline() {
    local command=$1
    shift
    printf 'console=ttyS0 quiet panic=-1 %s%sember.cmd64=%s\n' "$*" "${*:+ }" \
        "$(printf '%s' "$command" | base64 -w0)"
}

# Prints the uptime (seconds) from the "EMBER-GUEST-READY <uptime>" line of
# console log $1; fails when the guest never got ready.
nested_guest_ready_uptime() {
    local uptime
    uptime=$(sed -n 's/^EMBER-GUEST-READY \([0-9.]*\).*/\1/p' "$1" | head -n1)
    [[ -n "$uptime" ]] && printf '%s\n' "$uptime"
}

# Prints the guest command's status from the "EMBER-GUEST-EXIT <status>" line of
# console log $1; fails when there is none.
nested_guest_exit_status() {
    local status
    status=$(sed -n 's/^EMBER-GUEST-EXIT \([0-9]*\).*/\1/p' "$1" | head -n1)
    [[ -n "$status" ]] && printf '%s\n' "$status"
}

nested_now() { date +%s.%N; }
nested_seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# The host half of a test script, before it re-runs itself in L1 (nested_run): exits 77 (skip)
# when L1 cannot run here; returns 1 with the reason in NESTED_WHY when there is no ember binary
# or the default guest (flavour $1, default cloud) cannot be built.
nested_host_setup() {
    local flavour=${1:-cloud}
    nested_l1_available || exit 77
    NESTED_WHY="no ember binary"
    nested_ember_binary >/dev/null || return 1
    NESTED_WHY="cannot build the $flavour guest"
    nested_guest_dir "$flavour" >/dev/null || return 1
    NESTED_WHY=
}

# A test's failure report: "$1: FAIL: <the rest>" and the last $3 lines of ember's output, the
# file $2 if it exists ($3 as for tail -n: +1 for all of it), on stderr; then the summary line
# meson's log shows. The caller exits.
nested_report_failure() {
    local who=$1 log=$2 lines=$3
    shift 3
    echo "$who: FAIL: $*" >&2
    if [[ -n "$log" && -f "$log" ]]; then
        echo "--- ember output ---" >&2
        tail -n "$lines" "$log" >&2
    fi
    echo "0 passed, 1 failed"
}

# The end of every test script: the L1 half inside L1, else the host half (functions run_in_l1
# and run_on_host of the script).
nested_main() {
    if nested_in_l1; then
        run_in_l1
    else
        run_on_host
    fi
}

# A test's options: nested_parse_options WHO --NAME... -- ARG...
# Each "--name VALUE" among the ARGs whose --name is one of the listed options sets the variable
# NAME (upper case, '-' as '_'; its default is set before the call). Anything else: a message
# naming WHO and status 2 (the caller exits 2, a usage error).
nested_parse_options() {
    local who=$1 allowed=" " var
    shift
    while [[ $# -gt 0 && "$1" != -- ]]; do
        allowed+="$1 "
        shift
    done
    shift
    while [[ $# -gt 0 ]]; do
        if [[ "$allowed" != *" $1 "* ]]; then
            echo "$who: unknown argument '$1'" >&2
            return 2
        fi
        [[ $# -ge 2 && -n "$2" ]] || { echo "$who: $1 needs a value" >&2; return 2; }
        var=${1#--}
        var=${var^^}
        printf -v "${var//-/_}" '%s' "$2"
        shift 2
    done
}
