#!/bin/bash
# virtio-net, Ember next to QEMU, in the same nested run: L1 (QEMU TCG with an AMD SVM+NPT CPU,
# see tests/nested/README.md) boots once, then runs the default Debian guest alternately under
#   ember run --net tap=TAP
#   qemu-system-x86_64 -accel kvm -netdev tap,ifname=TAP,script=no,downscript=no
#                      -device virtio-net-pci   (userspace virtio-net, no vhost)
# on the same TAP setup: a network namespace created here, TAP 10.200.0.1/24 inside it, the guest
# 10.200.0.2. Nothing leaves that namespace. Each guest measures, with /proc/uptime:
#   tx    guest -> host TCP, bulk: BYTES of a file in the guest sent with sendfile() (busybox
#         `nc HOST PORT -e cat FILE`: 16 MiB per call, so the guest's TCP builds full TSO frames)
#         to a socat on the TAP side
#   tx1k  guest -> host TCP, small writes: BYTES from /dev/zero through busybox nc, which writes
#         the socket 1 KiB at a time (segment sizes then depend on how the guest's TCP merges
#         writes while earlier frames are in flight, see docs/performance.md)
#   rx    host -> guest TCP: BYTES from a socat on the TAP side to busybox nc in the guest
#   rr    small-packet round trips: busybox ping -A (next echo as soon as the reply is in),
#         18-byte payload (60-byte frames), PINGS of them
# Nested timings are for comparison only: everything in L1, both VMMs included, runs under TCG.
#
#   nested-net-compare.sh [--rounds N] [--bytes N] [--pings N] [--cpus N] [--l1-smp N]
#                         [--candidate PATH]
#
# --cpus is the L2 guest's vCPUs (default 2). --l1-smp is L1's (default 2, unlike the tests'
# 1): with one L1 CPU the guest's vCPU, the VMM's device thread and the TCP peer all wait for
# each other on it and the run measures L1's scheduler more than either VMM; with two, QEMU
# 7.2's multi-threaded TCG occasionally breaks a guest or L1 (tests/nested/README.md, "One L1
# vCPU"): a broken run is reported as FAILED and left out. --candidate PATH adds a second ember
# build ("ember-b", e.g. a change under test) to each round, so two builds meet the same L1.
#
# Prints one RESULT line per VM run (vmm round tx rx rr tx1k), then a Markdown table of medians and ratios to QEMU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/tests/nested/lib.sh"

ROUNDS=3 BYTES=16777216 PINGS=1000 CPUS=2 L1_SMP=2 CANDIDATE=
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --bytes) BYTES=${2:?}; shift 2 ;;
        --pings) PINGS=${2:?}; shift 2 ;;
        --cpus) CPUS=${2:?}; shift 2 ;;
        --l1-smp) L1_SMP=${2:?}; shift 2 ;;
        --candidate) CANDIDATE=${2:?}; shift 2 ;;
        *) echo "nested-net-compare: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
NS=ember-net-bench
TAP=tap-bench0
HOST_IP=10.200.0.1
GUEST_IP=10.200.0.2
MAC=02:00:0a:c8:00:02

die() { echo "nested-net-compare: $*" >&2; exit 1; }

guest_command() {
    cat <<EOF
ip link set eth0 up && ip addr add $GUEST_IP/24 dev eth0
ping -c 2 -W 5 $HOST_IP >/dev/null
up() { read u _ </proc/uptime; echo \$u; }
head -c $BYTES /dev/zero >/tmp/blob
t0=\$(up); timeout 300 nc $HOST_IP 5001 -e cat /tmp/blob; t1=\$(up)
echo "EMBER-BENCH-TX \$t0 \$t1"
rm /tmp/blob
t0=\$(up); head -c $BYTES /dev/zero | timeout 300 nc $HOST_IP 5003; t1=\$(up)
echo "EMBER-BENCH-TX1K \$t0 \$t1"
t0=\$(up); n=\$(timeout 300 nc $HOST_IP 5002 </dev/null | wc -c); t1=\$(up)
echo "EMBER-BENCH-RX \$t0 \$t1 \$n"
t0=\$(up); got=\$(timeout 300 ping -A -q -c $PINGS -s 18 $HOST_IP | sed -n 's/.* \([0-9]*\) packets received.*/\1/p'); t1=\$(up)
echo "EMBER-BENCH-RR \$t0 \$t1 \$got"
EOF
}

in_ns() { ip netns exec "$NS" "$@"; }

setup_netns() {
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" tuntap add dev "$TAP" mode tap
    ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
    ip -n "$NS" link set "$TAP" up
}

# The guest's oops from its first line when there is one (a nested guest can die), else the end.
log_excerpt() {
    if grep -qE 'BUG:|Oops|general protection|double fault|Kernel panic' "$1"; then
        sed -nE '/BUG:|Oops|general protection|double fault|Kernel panic/,$p' "$1" | head -n 80
    else
        tail -n 20 "$1"
    fi
}

# One VM under $1 (ember, ember-b or qemu); prints "RESULT vmm round tx_MBps rx_MBps rr_per_s", or
# "FAILED vmm round why" (the comparison goes on with the other runs).
run_one() {
    local vmm=$1 round=$2 dir log cmdline
    dir=$(nested_guest_dir cloud)
    log="$WORK/$vmm-$round.log"
    cmdline=$(nested_guest_cmdline "$(guest_command)")
    setup_netns
    in_ns socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$WORK/from-guest",creat,trunc &
    in_ns socat -u OPEN:"$WORK/blob" TCP-LISTEN:5002,reuseaddr &
    in_ns socat -u TCP-LISTEN:5003,reuseaddr OPEN:"$WORK/from-guest-1k",creat,trunc &
    set +e
    case "$vmm" in
        ember | ember-b)
            local binary=$EMBER
            [[ "$vmm" == ember ]] || binary=$CANDIDATE
            in_ns timeout -k 30 1200 "$binary" run --kernel "$dir/vmlinuz" \
                --initrd "$dir/initramfs.cpio.gz" --cpus "$CPUS" --memory 512M \
                --net "tap=$TAP,mac=$MAC" --cmdline "$cmdline" </dev/null >"$log" 2>&1 ;;
        qemu)
            in_ns timeout -k 30 1200 qemu-system-x86_64 -accel kvm -cpu host -m 512M -smp "$CPUS" \
                -nodefaults -no-user-config -display none -no-reboot -serial stdio \
                -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.cpio.gz" -append "$cmdline" \
                -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
                -device "virtio-net-pci,netdev=n0,mac=$MAC" </dev/null >"$log" 2>&1 ;;
    esac
    local rc=$?
    set -e
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$NS"
    sed -i 's/\r$//' "$log"
    local arrived arrived_1k
    arrived=$(stat -c %s "$WORK/from-guest" 2>/dev/null || echo 0)
    arrived_1k=$(stat -c %s "$WORK/from-guest-1k" 2>/dev/null || echo 0)
    rm -f "$WORK/from-guest" "$WORK/from-guest-1k"
    awk -v vmm="$vmm" -v round="$round" -v bytes="$BYTES" -v pings="$PINGS" -v arrived="$arrived" \
        -v arrived_1k="$arrived_1k" '
        /^EMBER-BENCH-TX / { if (arrived == bytes) tx = bytes / ($3 - $2) / 1e6; else tx = -1 }
        /^EMBER-BENCH-TX1K / { if (arrived_1k == bytes) tx1k = bytes / ($3 - $2) / 1e6; else tx1k = -1 }
        /^EMBER-BENCH-RX / { if ($4 == bytes) rx = bytes / ($3 - $2) / 1e6; else rx = -1 }
        /^EMBER-BENCH-RR / { if ($4 == pings) rr = pings / ($3 - $2); else rr = -1 }
        END { if (tx == "" || tx1k == "" || rx == "" || rr == "") exit 1
              printf "RESULT %s %d %.2f %.2f %.0f %.2f\n", vmm, round, tx, rx, rr, tx1k }' "$log" ||
        { echo "FAILED $vmm $round (exit $rc): $(grep -E 'EMBER-|ember:' "$log" | tail -4 | tr '\n' ' ')"
          log_excerpt "$log" | sed 's/^/  | /'; }
}

run_in_l1() {
    [[ -c /dev/kvm && -c /dev/net/tun ]] || die "L1 lacks /dev/kvm or /dev/net/tun"
    EMBER=$(nested_ember_binary) || die "no ember binary"
    WORK=$(mktemp -d)
    trap 'ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"' EXIT  # (errexit holds in traps too)
    [[ -z "$CANDIDATE" || -x "$CANDIDATE" ]] || die "--candidate $CANDIDATE: not an executable"
    head -c "$BYTES" /dev/zero >"$WORK/blob"
    for round in $(seq 1 "$ROUNDS"); do
        run_one ember "$round"
        [[ -z "$CANDIDATE" ]] || run_one ember-b "$round"
        run_one qemu "$round"
    done
}

# Medians per VMM and their ratios to QEMU, from the RESULT lines in file $1 (an "Ember B"
# pair of columns when a candidate build ran).
summarize() {
    awk -v bytes="$BYTES" -v pings="$PINGS" -v cpus="$CPUS" -v l1smp="$L1_SMP" '
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        function ratio(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "-" }
        function row(name, fmt, m,   line) {
            line = sprintf("| %s | " fmt " | " fmt " | %s |", name, m["ember"], m["qemu"], ratio(m["ember"], m["qemu"]))
            if (cand) line = line sprintf(" " fmt " | %s |", m["ember-b"], ratio(m["ember-b"], m["qemu"]))
            print line }
        # A negative value is a phase that failed its check: left out.
        $1 == "RESULT" { k = $2; runs[k]++
                         if ($4 > 0) tx[k, ++ntx[k]] = $4
                         if ($5 > 0) rx[k, ++nrx[k]] = $5
                         if ($6 > 0) rr[k, ++nrr[k]] = $6
                         if ($7 > 0) t1k[k, ++nt1k[k]] = $7 }
        $1 == "FAILED" { failed[$2]++ }
        END {
            cand = ("ember-b" in runs)
            for (k in runs) {
                for (i = 1; i <= ntx[k]; i++) a[i] = tx[k, i]; mtx[k] = median(a, ntx[k])
                for (i = 1; i <= nrx[k]; i++) a[i] = rx[k, i]; mrx[k] = median(a, nrx[k])
                for (i = 1; i <= nrr[k]; i++) a[i] = rr[k, i]; mrr[k] = median(a, nrr[k])
                for (i = 1; i <= nt1k[k]; i++) a[i] = t1k[k, i]; mt1k[k] = median(a, nt1k[k]) }
            head = sprintf("| metric (medians: Ember %d, QEMU %d runs", runs["ember"], runs["qemu"])
            if (cand) head = head sprintf(", Ember B %d", runs["ember-b"])
            head = head ") | Ember | QEMU | Ember / QEMU |"
            if (cand) head = head " Ember B | B / QEMU |"
            print head
            print cand ? "|---|---|---|---|---|---|" : "|---|---|---|---|"
            row(sprintf("guest -> host TCP, bulk (sendfile), MB/s (%d MiB)", bytes / 1048576), "%.2f", mtx)
            row(sprintf("guest -> host TCP, 1 KiB writes (nc), MB/s (%d MiB)", bytes / 1048576), "%.2f", mt1k)
            row(sprintf("host -> guest TCP, MB/s (%d MiB)", bytes / 1048576), "%.2f", mrx)
            row(sprintf("small-packet round trips/s (ping -A, 60-byte frames, %d)", pings), "%.0f", mrr)
            printf "\n(L2 guest: %d vCPUs, 512 MiB; L1: %d vCPUs; the VMMs alternate in one L1 boot", cpus, l1smp
            for (k in failed) printf "; %s: %d failed run(s)", k, failed[k]
            print ".)"
        }' "$1"
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || die "no ember binary"
    nested_guest_dir cloud >/dev/null || die "cannot build the default guest"
    OUT=$(mktemp)
    trap 'rm -f "$OUT"' EXIT
    local rc=0
    nested_run --timeout 3600 --smp "$L1_SMP" -- "${BASH_SOURCE[0]}" "${ARGS[@]}" | tee "$OUT" || rc=$?
    [[ $rc -eq 0 ]] || echo "nested-net-compare: the L1 part ended with status $rc" >&2
    grep -q '^RESULT ember' "$OUT" && grep -q '^RESULT qemu' "$OUT" || die "no results"
    echo
    summarize "$OUT"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
