#!/bin/bash
# Runs a command inside "L1": a QEMU TCG virtual machine with an emulated AMD
# EPYC CPU (SVM + NPT), whose kernel therefore offers a genuine AMD /dev/kvm.
# The host's root file system is visible in L1 (read-only, under a writable
# tmpfs overlay), so host binaries such as build/ember work unchanged there.
#
#   run-in-l1.sh [options] -- COMMAND [ARG...]
#
# Options:
#   --timeout SEC     give up after SEC seconds (default 600)
#   --mem SIZE        L1 memory (QEMU -m syntax, default 4G)
#   --smp N           L1 vCPUs (default 1: see "One L1 vCPU" in README.md)
#   --cwd DIR         directory the command starts in (default: the current one)
#   --env NAME=VALUE  set a variable for the command (repeatable); EMBER_* variables
#                     of the caller are passed on automatically
#   --modules A,B     extra L1 modules to load (vhost_net, veth, bridge, loop...)
#   --share DIR       make host directory DIR writable in L1, at the same path
#                     (repeatable); elsewhere writes only reach L1's memory
#   --scratch DIR     use DIR (must exist, no spaces) as the scratch directory and keep it
#   --keep            keep the scratch directory (its path is printed)
#   --console         copy L1's serial console to stderr while it runs
#   --bzimage         boot the bzImage even if the PVH vmlinux is available
#   -q, --quiet       do not print the timing line
#
# The command's stdout and stderr stream to this script's stdout and stderr.
# Inside L1, EMBER_SCRATCH names the scratch directory: files written there are
# on the host afterwards. Exit status: the command's, or 125 when L1 did not
# boot, timed out, or the command did not report a status (the console log is
# then printed). EMBER_L1_QEMU names the QEMU that runs L1 (default:
# qemu-system-x86_64 on PATH), e.g. a newer build to compare its SVM emulation.
set -euo pipefail

NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$NESTED_DIR/../.." && pwd)
HARNESS_FAILURE=125
L1_QEMU=${EMBER_L1_QEMU:-qemu-system-x86_64}
# shellcheck source=../../guest-images/debian/kernel-lib.sh
source "$REPO_ROOT/guest-images/debian/kernel-lib.sh"

# CPU flags of QEMU's EPYC model that TCG cannot emulate; removing them keeps
# QEMU quiet and the L1 kernel from seeing features that do not work.
TCG_MISSING_FLAGS=(sha-ni fxsr-opt misalignsse 3dnowprefetch osvw topoext nrip-save xsavec rdseed)

say() { printf 'run-in-l1: %s\n' "$*" >&2; }
die() { say "error: $*"; exit "$HARNESS_FAILURE"; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "$1"; }

parse_args() {
    TIMEOUT=600 MEM=4G SMP=1 CWD=$PWD MODULES="" SCRATCH="" KEEP=0 CONSOLE=0 BZIMAGE=0 QUIET=0
    ENV_VARS=() SHARES=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --timeout) TIMEOUT=${2:?}; shift 2 ;;
            --mem) MEM=${2:?}; shift 2 ;;
            --smp) SMP=${2:?}; shift 2 ;;
            --cwd) CWD=${2:?}; shift 2 ;;
            --env) [[ "${2:?}" == *=* ]] || die "--env wants NAME=VALUE, not '$2'"; ENV_VARS+=("$2"); shift 2 ;;
            --modules) MODULES=${2:?}; shift 2 ;;
            --share) SHARES+=("$(realpath -e "${2:?}")") || die "--share: no directory '$2'"; shift 2 ;;
            --scratch) SCRATCH=$(realpath -e "${2:?}") || die "--scratch: no directory '$2'"; KEEP=1; shift 2 ;;
            --keep) KEEP=1; shift ;;
            --console) CONSOLE=1; shift ;;
            --bzimage) BZIMAGE=1; shift ;;
            -q|--quiet) QUIET=1; shift ;;
            -h|--help) usage 0 ;;
            --) shift; break ;;
            *) say "unknown option '$1'"; usage 2 ;;
        esac
    done
    [[ $# -gt 0 ]] || { say "no command given"; usage 2; }
    COMMAND=("$@")
    [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, not '$TIMEOUT'"
    local path
    for path in "$SCRATCH" "${SHARES[@]}"; do
        [[ "$path" != *[[:space:],]* ]] || die "path '$path' has a space or comma (the L1 command line cannot carry it)"
    done
}

prepare_l1_image() {
    L1_DIR="$(dk_cache_root)/l1"
    "$NESTED_DIR/build-l1.sh" --out "$L1_DIR" >&2 || die "cannot prepare the L1 image"
    L1_KERNEL="$L1_DIR/vmlinux"
    [[ $BZIMAGE -eq 0 && -f "$L1_KERNEL" ]] || L1_KERNEL="$L1_DIR/vmlinuz"
}

make_scratch() {
    if [[ -z "$SCRATCH" ]]; then
        SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ember-nested.XXXXXX")
    fi
    rm -f "$SCRATCH"/{status,l1-ready,l1-done,l1.log,console.log}
    : >"$SCRATCH/stdout"
    : >"$SCRATCH/stderr"
}

# The job script L1 runs in the chroot: cwd, environment, then the command.
# printf %q quoting is bash's, hence bash runs it.
write_job() {
    local var
    {
        echo '# written by run-in-l1.sh'
        echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        echo 'export HOME=/root TERM=dumb LANG=C.UTF-8'
        printf 'export EMBER_SCRATCH=%q EMBER_IN_L1=1\n' "$SCRATCH"
        while IFS= read -r var; do
            printf 'export %s=%q\n' "$var" "${!var}"
        done < <(compgen -e | grep -E '^EMBER_' | grep -v -x -E 'EMBER_SCRATCH|EMBER_IN_L1' || true)
        for var in "${ENV_VARS[@]}"; do
            printf 'export %s=%q\n' "${var%%=*}" "${var#*=}"
        done
        printf 'cd %q || exit 126\n' "$CWD"
        printf 'exec'
        printf ' %q' "${COMMAND[@]}"
        printf '\n'
    } >"$SCRATCH/job.sh"
}

cpu_model() {
    local model="EPYC,+svm,+npt" flag
    for flag in "${TCG_MISSING_FLAGS[@]}"; do
        model+=",-$flag"
    done
    printf '%s\n' "$model"
}

kernel_cmdline() {
    local cmdline="console=ttyS0 quiet panic=-1 ember_l1.scratch=$SCRATCH"
    [[ -n "$MODULES" ]] && cmdline+=" ember_l1.modules=$MODULES"
    if [[ ${#SHARES[@]} -gt 0 ]]; then
        cmdline+=" ember_l1.shares=$(IFS=,; echo "${SHARES[*]}")"
    fi
    printf '%s\n' "$cmdline"
}

qemu_command() {
    QEMU_ARGS=("$L1_QEMU" -accel tcg -cpu "$(cpu_model)" -smp "$SMP" -m "$MEM"
        -nodefaults -no-user-config -display none -no-reboot
        -serial "file:$SCRATCH/console.log"
        -kernel "$L1_KERNEL" -initrd "$L1_DIR/initramfs.cpio.gz" -append "$(kernel_cmdline)"
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$SCRATCH,mount_tag=scratch,security_model=none,multidevs=remap")
    local index=0 share
    for share in "${SHARES[@]}"; do
        QEMU_ARGS+=(-virtfs "local,path=$share,mount_tag=share$index,security_model=none,multidevs=remap")
        index=$((index + 1))
    done
}

now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Streams a growing file to file descriptor $2 until process $3 has exited.
stream_file() {
    # shellcheck disable=SC2261  # $2 is never 2: a dup of the original stdout/stderr
    tail -n +1 -s 0.2 -f --pid="$3" "$1" 2>/dev/null >&"$2" &
    STREAMERS+=($!)
}

# Boots L1 and waits for it, enforcing the timeout. Sets STARTED, READY_AT, ENDED, TIMED_OUT.
run_l1() {
    STREAMERS=() TIMED_OUT=0 READY_AT=""
    STARTED=$(now)
    "${QEMU_ARGS[@]}" </dev/null >"$SCRATCH/qemu.log" 2>&1 &
    QEMU_PID=$!
    stream_file "$SCRATCH/stdout" "$OUT_FD" "$QEMU_PID"
    stream_file "$SCRATCH/stderr" "$ERR_FD" "$QEMU_PID"
    [[ $CONSOLE -eq 1 ]] && stream_file "$SCRATCH/console.log" "$ERR_FD" "$QEMU_PID"
    local deadline=$((${STARTED%.*} + TIMEOUT))
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        [[ -z "$READY_AT" && -e "$SCRATCH/l1-ready" ]] && READY_AT=$(now)
        if (($(date +%s) >= deadline)); then
            TIMED_OUT=1
            kill "$QEMU_PID" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$QEMU_PID" 2>/dev/null || true
    ENDED=$(now)
    wait "${STREAMERS[@]}" 2>/dev/null || true
}

show_failure() {
    say "$1; L1 console (last 40 lines):"
    tail -n 40 "$SCRATCH/console.log" >&2 2>/dev/null || true
    [[ -s "$SCRATCH/qemu.log" ]] && { say "QEMU said:"; cat "$SCRATCH/qemu.log" >&2; }
    return 0
}

report_timing() {
    [[ $QUIET -eq 1 ]] && return 0
    local line
    line="total $(seconds_between "$STARTED" "$ENDED") s"
    if [[ -n "$READY_AT" ]]; then
        line="L1 boot $(seconds_between "$STARTED" "$READY_AT") s (kernel uptime $(cat "$SCRATCH/l1-ready") s)"
        [[ -f "$SCRATCH/l1-done" ]] &&
            line+=", command $(seconds_between "$(cat "$SCRATCH/l1-ready")" "$(cat "$SCRATCH/l1-done")") s"
        line+=", total $(seconds_between "$STARTED" "$ENDED") s"
    fi
    say "$line"
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [[ -n "${QEMU_PID:-}" ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 1 ]]; then
        say "scratch kept: $SCRATCH"
    elif [[ -n "${SCRATCH:-}" && -d "$SCRATCH" ]]; then
        rm -rf "$SCRATCH"
    fi
}

main() {
    parse_args "$@"
    # Duplicates of our stdout/stderr for the streamers (whose own stderr is discarded).
    exec {OUT_FD}>&1 {ERR_FD}>&2
    command -v "$L1_QEMU" >/dev/null || die "$L1_QEMU not found (apt-get install qemu-system-x86)"
    prepare_l1_image
    make_scratch
    trap cleanup EXIT
    write_job
    qemu_command
    run_l1
    report_timing
    if [[ $TIMED_OUT -eq 1 ]]; then
        show_failure "timed out after $TIMEOUT s"
        exit "$HARNESS_FAILURE"
    fi
    if [[ ! -s "$SCRATCH/status" ]]; then
        show_failure "the command reported no exit status (L1 failed?)"
        exit "$HARNESS_FAILURE"
    fi
    exit "$(cat "$SCRATCH/status")"
}

main "$@"
