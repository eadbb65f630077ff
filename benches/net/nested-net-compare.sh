#!/bin/bash
# virtio-net, Ember next to QEMU, in the same nested run: L1 (QEMU TCG with an AMD SVM+NPT CPU,
# see tests/nested/README.md) boots once, then runs the default Debian guest alternately under
#   ember run --net tap=TAP
#   qemu-system-x86_64 -accel kvm -netdev tap,ifname=TAP,script=no,downscript=no
#                      -device virtio-net-pci   (userspace virtio-net, no vhost)
# on the same TAP setup: a network namespace created here, TAP 10.200.0.1/24 inside it, the guest
# 10.200.0.2. Nothing leaves that namespace. Each guest measures, with /proc/uptime:
#   tx    guest -> host TCP: BYTES from /dev/zero through busybox nc to a socat on the TAP side
#   rx    host -> guest TCP: BYTES from a socat on the TAP side to busybox nc in the guest
#   rr    small-packet round trips: busybox ping -A (next echo as soon as the reply is in),
#         18-byte payload (60-byte frames), PINGS of them
# Nested timings are for comparison only: everything in L1, both VMMs included, runs under TCG.
#
#   nested-net-compare.sh [--rounds N] [--bytes N] [--pings N] [--cpus N]
#
# Prints one RESULT line per VM run, then a Markdown table of medians and Ember/QEMU ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/tests/nested/lib.sh"

ROUNDS=3 BYTES=16777216 PINGS=1000 CPUS=2
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --bytes) BYTES=${2:?}; shift 2 ;;
        --pings) PINGS=${2:?}; shift 2 ;;
        --cpus) CPUS=${2:?}; shift 2 ;;
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
t0=\$(up); head -c $BYTES /dev/zero | timeout 300 nc $HOST_IP 5001; t1=\$(up)
echo "EMBER-BENCH-TX \$t0 \$t1"
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

# One VM under $1 (ember or qemu); prints "RESULT vmm round tx_MBps rx_MBps rr_per_s", or
# "FAILED vmm round why" (the comparison goes on with the other runs).
run_one() {
    local vmm=$1 round=$2 dir log cmdline
    dir=$(nested_guest_dir cloud)
    log="$WORK/$vmm-$round.log"
    cmdline=$(nested_guest_cmdline "$(guest_command)")
    setup_netns
    in_ns socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$WORK/from-guest",creat,trunc &
    in_ns socat -u OPEN:"$WORK/blob" TCP-LISTEN:5002,reuseaddr &
    set +e
    case "$vmm" in
        ember)
            in_ns timeout -k 30 1200 "$EMBER" run --kernel "$dir/vmlinuz" \
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
    local arrived
    arrived=$(stat -c %s "$WORK/from-guest" 2>/dev/null || echo 0)
    awk -v vmm="$vmm" -v round="$round" -v bytes="$BYTES" -v pings="$PINGS" -v arrived="$arrived" '
        /^EMBER-BENCH-TX/ { if (arrived == bytes) tx = bytes / ($3 - $2) / 1e6; else tx = -1 }
        /^EMBER-BENCH-RX/ { if ($4 == bytes) rx = bytes / ($3 - $2) / 1e6; else rx = -1 }
        /^EMBER-BENCH-RR/ { if ($4 == pings) rr = pings / ($3 - $2); else rr = -1 }
        END { if (tx == "" || rx == "" || rr == "") exit 1
              printf "RESULT %s %d %.2f %.2f %.0f\n", vmm, round, tx, rx, rr }' "$log" ||
        { echo "FAILED $vmm $round (exit $rc): $(grep -E 'EMBER-|ember:' "$log" | tail -4 | tr '\n' ' ')"
          log_excerpt "$log" | sed 's/^/  | /'; }
}

run_in_l1() {
    [[ -c /dev/kvm && -c /dev/net/tun ]] || die "L1 lacks /dev/kvm or /dev/net/tun"
    EMBER=$(nested_ember_binary) || die "no ember binary"
    WORK=$(mktemp -d)
    trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$WORK"; true' EXIT
    head -c "$BYTES" /dev/zero >"$WORK/blob"
    for round in $(seq 1 "$ROUNDS"); do
        run_one ember "$round"
        run_one qemu "$round"
    done
}

# Medians per VMM and the Ember/QEMU ratios, from the RESULT lines in file $1.
summarize() {
    awk -v bytes="$BYTES" -v pings="$PINGS" -v cpus="$CPUS" '
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        # A negative value is a phase that failed its check: left out.
        $1 == "RESULT" { k = $2; runs[k]++
                         if ($4 > 0) tx[k, ++ntx[k]] = $4
                         if ($5 > 0) rx[k, ++nrx[k]] = $5
                         if ($6 > 0) rr[k, ++nrr[k]] = $6 }
        END {
            for (k in runs) {
                for (i = 1; i <= ntx[k]; i++) a[i] = tx[k, i]; mtx[k] = median(a, ntx[k])
                for (i = 1; i <= nrx[k]; i++) a[i] = rx[k, i]; mrx[k] = median(a, nrx[k])
                for (i = 1; i <= nrr[k]; i++) a[i] = rr[k, i]; mrr[k] = median(a, nrr[k]) }
            printf "| metric (median of %d Ember and %d QEMU runs) | Ember | QEMU | Ember / QEMU |\n", runs["ember"], runs["qemu"]
            printf "|---|---|---|---|\n"
            printf "| guest -> host TCP, MB/s (%d MiB) | %.2f | %.2f | %.2f |\n", bytes / 1048576, mtx["ember"], mtx["qemu"], mtx["ember"] / mtx["qemu"]
            printf "| host -> guest TCP, MB/s (%d MiB) | %.2f | %.2f | %.2f |\n", bytes / 1048576, mrx["ember"], mrx["qemu"], mrx["ember"] / mrx["qemu"]
            printf "| small-packet round trips/s (ping -A, 60-byte frames, %d) | %.0f | %.0f | %.2f |\n", pings, mrr["ember"], mrr["qemu"], mrr["ember"] / mrr["qemu"]
            printf "\n(L2 guest: %d vCPUs, 512 MiB; both VMMs in the same L1 boot, alternating.)\n", cpus
        }' "$1"
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || die "no ember binary"
    nested_guest_dir cloud >/dev/null || die "cannot build the default guest"
    OUT=$(mktemp)
    trap 'rm -f "$OUT"' EXIT
    local rc=0
    nested_run --timeout 3600 -- "${BASH_SOURCE[0]}" "${ARGS[@]}" | tee "$OUT" || rc=$?
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
