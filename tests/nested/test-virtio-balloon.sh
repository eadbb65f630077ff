#!/bin/bash
# virtio-balloon with the real Linux driver: the default Debian guest under `ember run --balloon`
# inside L1 (a genuine AMD SVM+NPT /dev/kvm under QEMU TCG), while this script reads ember's
# VmRSS from /proc/PID/status. The guest stops after each step until a line arrives on its
# console (ember's stdin, a FIFO here), so every measurement is taken at a known point.
#
# Boot 1: --balloon size=0,free_page_reporting=on,stats=2
#   - virtio_balloon binds and negotiates STATS_VQ and REPORTING (features in sysfs)
#   - the guest writes 256 MiB into a tmpfs (ember's RSS grows), deletes it, and Linux's free
#     page reporting (blocks of 2 MiB and more, ~2 s after they are freed) hands the memory
#     back: ember's RSS falls by at least 192 MiB of the 256, back near where it started
#   - the statistics and reporting queues' interrupts fired (the device returned buffers)
# Boot 2: --balloon size=128 (no reporting: freed memory stays with ember)
#   - the guest unloads virtio_balloon (deflating what it took at boot), fills nearly all of its
#     free memory once and frees it, so the pages the balloon will take are resident on the host
#   - loading virtio_balloon inflates to the 128 MiB target: MemTotal drops by 128 MiB and
#     ember's RSS by 100-140 MiB
#   - unloading it deflates (MemTotal comes back) and the guest can fill 200 MiB again
#
#   test-virtio-balloon.sh [--kernel bzimage|pvh] [--cpus N]
#
# On the host it prepares the guest image and re-runs itself inside L1; inside L1 it runs ember.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KERNEL=bzimage CPUS=2
ARGS=("$@")
nested_parse_options test-virtio-balloon --kernel --cpus -- "$@" || exit 2
NAME="$KERNEL/${CPUS}cpu"
STEP_TIMEOUT=300   # seconds for one guest step in L2 (TCG underneath)

fail() {
    nested_report_failure "test-virtio-balloon [$NAME]" "${LOG:-}" +1 "$@"
    [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null
    exit 1
}

run_on_host() {
    nested_host_setup || fail "$NESTED_WHY"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# Shell snippets for the guest (busybox sh).
GUEST_FIND='for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0005 ] && B=$d; done
[ -n "$B" ] || exit 11
echo "EMBER-BAL-DEV $(basename "$(readlink $B/driver)") $(cat $B/features)"
mkdir -p /mnt/t && mount -t tmpfs -o size=90% tmpfs /mnt/t || exit 12
mem() { awk "/^$1:/ { print \$2 }" /proc/meminfo; }'

guest_reporting() {
    cat <<EOF
$GUEST_FIND
sleep 4
echo EMBER-BAL-START; read -r _
dd if=/dev/zero of=/mnt/t/fill bs=1M count=256 2>/dev/null || exit 13
echo EMBER-BAL-TOUCHED; read -r _
rm /mnt/t/fill
echo EMBER-BAL-FREED; read -r _
grep -E 'virtio[0-9]+-(stats|reporting)' /proc/interrupts | sed 's/^/EMBER-IRQ /'
echo "EMBER-BAL-UPTIME \$(cut -d' ' -f1 /proc/uptime)"
EOF
}

guest_inflate() {
    cat <<EOF
$GUEST_FIND
rmmod virtio_balloon || exit 14
fill=\$(( \$(mem MemFree) / 1024 - 48 ))
dd if=/dev/zero of=/mnt/t/fill bs=1M count=\$fill 2>/dev/null || exit 15
rm /mnt/t/fill
t0=\$(mem MemTotal)
echo "EMBER-BAL-FILLED \$fill"; read -r _
modprobe virtio_balloon || exit 16
i=0
while [ \$i -lt 600 ] && [ \$(( t0 - \$(mem MemTotal) )) -lt 131072 ]; do sleep 0.5; i=\$((i + 1)); done
echo "EMBER-BAL-INFLATED \$(( (t0 - \$(mem MemTotal)) / 1024 ))"; read -r _
rmmod virtio_balloon || exit 17
echo "EMBER-BAL-DEFLATED \$(( (t0 - \$(mem MemTotal)) / 1024 ))"
dd if=/dev/zero of=/mnt/t/fill bs=1M count=200 2>/dev/null || exit 18
echo EMBER-BAL-REFILLED; read -r _
EOF
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"
}

# Waits for a line starting with $1 in $LOG (ember must stay alive meanwhile).
wait_line() {
    local i
    for ((i = 0; i < STEP_TIMEOUT * 4; i++)); do
        if tr -d '\r' <"$LOG" | grep -q "^$1"; then
            echo "  $(nested_seconds_between "$T0" "$(nested_now)") s: $1" >&2
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || fail "ember ended before '$1'"
        sleep 0.25
    done
    fail "no '$1' line within $STEP_TIMEOUT s"
}

field() { # the words after marker $1
    tr -d '\r' <"$LOG" | sed -n "s/^$1 //p" | head -n1
}

mib() { echo $(( $1 / 1024 )); }

# Starts ember with balloon options $1 and guest command $2; stdin is a FIFO on fd 3.
start_ember() {
    local kernel=$3
    : >"$LOG"
    rm -f "$FIFO"
    mkfifo "$FIFO"
    # No `timeout` wrapper: $PID must be ember itself (its RSS is measured); finish_ember and
    # wait_line bound the waits instead.
    "$EMBER" run --kernel "$kernel" --initrd "$DIR/initramfs.cpio.gz" \
        --cpus "$CPUS" --memory 512M --balloon "$1" \
        --cmdline "$(nested_guest_cmdline "$2")" <"$FIFO" >"$LOG" 2>&1 &
    PID=$!
    exec 3>"$FIFO"
}

finish_ember() {
    local rc i
    wait_line EMBER-GUEST-EXIT
    exec 3>&-
    for ((i = 0; i < STEP_TIMEOUT * 4; i++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.25
    done
    kill -0 "$PID" 2>/dev/null && fail "ember did not exit after the guest's command ended"
    set +e
    wait "$PID"
    rc=$?
    set -e
    PID=
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    local status
    status=$(tr -d '\r' <"$LOG" | sed -n 's/^EMBER-GUEST-EXIT \([0-9]*\).*/\1/p' | head -n1)
    [[ "$status" == 0 ]] || fail "guest command failed (EMBER-GUEST-EXIT ${status:-missing})"
}

irqs_of() { # the summed count column(s) of the EMBER-IRQ line for queue $1
    tr -d '\r' <"$LOG" | awk -v q="$1" '/^EMBER-IRQ/ && $0 ~ ("virtio[0-9]+-" q) {
        n = 0; for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; else break; print n; exit }'
}

boot_reporting() {
    local rss0 rss1 rss2 i features
    start_ember size=0,free_page_reporting=on,stats=2 "$(guest_reporting)" "$1"
    wait_line EMBER-BAL-DEV
    features=$(field EMBER-BAL-DEV)
    [[ "$features" == virtio_balloon* ]] || fail "virtio_balloon did not bind ($features)"
    # sysfs features: one character per bit from bit 0; STATS_VQ is bit 1, REPORTING bit 5.
    features=${features#* }
    [[ "${features:1:1}" == 1 && "${features:5:1}" == 1 ]] ||
        fail "STATS_VQ or REPORTING not negotiated (features $features)"
    wait_line EMBER-BAL-START
    rss0=$(rss_kb); echo >&3
    wait_line EMBER-BAL-TOUCHED
    rss1=$(rss_kb); echo >&3
    wait_line EMBER-BAL-FREED
    # Reporting runs ~2 s after the pages were freed, in batches: wait until RSS has fallen by
    # 192 MiB and then stayed put for 5 s (at most 120 s).
    local last=0 steady=0
    for ((i = 0; i < 240 && steady < 10; i++)); do
        sleep 0.5
        rss2=$(rss_kb)
        if (( rss1 - rss2 >= 192 * 1024 && rss2 - last < 1024 && last - rss2 < 1024 )); then
            steady=$((steady + 1))
        else
            steady=0
        fi
        last=$rss2
    done
    echo >&3
    finish_ember
    echo "  reporting: RSS $(mib "$rss0") MiB at start, $(mib "$rss1") MiB with 256 MiB" \
        "written, $(mib "$rss2") MiB after freeing it (fell $(mib $((rss1 - rss2)))" \
        "MiB in $((i / 2)) s)"
    (( rss1 - rss0 >= 192 * 1024 )) || fail "writing 256 MiB raised RSS by only $(mib $((rss1 - rss0))) MiB"
    (( rss1 - rss2 >= 192 * 1024 )) || fail "RSS fell by only $(mib $((rss1 - rss2))) MiB after freeing 256 MiB"
    (( rss2 <= rss0 + 64 * 1024 )) || fail "RSS did not fall back ($(mib "$rss2") MiB, $(mib "$rss0") MiB at start)"
    local stats report
    stats=$(irqs_of stats) report=$(irqs_of reporting)
    echo "  interrupts: stats queue ${stats:-none}, reporting queue ${report:-none}"
    [[ -n "$stats" && "$stats" -gt 0 ]] || fail "the statistics buffer never came back"
    [[ -n "$report" && "$report" -gt 0 ]] || fail "no free page report was returned"
}

boot_inflate() {
    local rss0 rss1 rss2 inflated deflated
    start_ember size=128 "$(guest_inflate)" "$1"
    wait_line EMBER-BAL-FILLED
    rss0=$(rss_kb); echo >&3
    wait_line EMBER-BAL-INFLATED
    rss1=$(rss_kb); echo >&3
    wait_line EMBER-BAL-REFILLED
    rss2=$(rss_kb); echo >&3
    finish_ember
    inflated=$(field EMBER-BAL-INFLATED) deflated=$(field EMBER-BAL-DEFLATED)
    echo "  inflate: guest filled and freed $(field EMBER-BAL-FILLED) MiB; RSS $(mib "$rss0") MiB," \
        "$(mib "$rss1") MiB with the balloon at 128 MiB (fell $(mib $((rss0 - rss1))) MiB," \
        "MemTotal -$inflated MiB), $(mib "$rss2") MiB after deflating and writing 200 MiB" \
        "(MemTotal -$deflated MiB)"
    [[ "$inflated" -ge 127 && "$inflated" -le 129 ]] || fail "MemTotal fell by $inflated MiB, not 128"
    (( rss0 - rss1 >= 100 * 1024 && rss0 - rss1 <= 140 * 1024 )) ||
        fail "inflating 128 MiB changed RSS by $(mib $((rss0 - rss1))) MiB, expected a drop of 100-140"
    [[ "$deflated" -le 1 ]] || fail "MemTotal did not come back after deflating (-$deflated MiB)"
    (( rss2 > rss1 )) || fail "RSS did not grow again after deflating and writing"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local kernel start end
    EMBER=$(nested_ember_binary) || fail "no ember binary"
    DIR=$(nested_guest_dir cloud) || fail "no guest image"
    kernel=$(nested_guest_kernel_of_kind "$KERNEL" "$DIR") ||
        fail "--kernel must be bzimage or pvh"
    [[ -f "$kernel" ]] || fail "no $kernel"
    LOG=$(mktemp)
    FIFO=$(mktemp -u)
    trap 'rm -f "$LOG" "$FIFO"' EXIT
    start=$(nested_now)
    T0=$start
    boot_reporting "$kernel"
    boot_inflate "$kernel"
    end=$(nested_now)
    echo "test-virtio-balloon [$NAME]: free page reporting and inflate/deflate moved ember's RSS," \
        "$(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

nested_main
