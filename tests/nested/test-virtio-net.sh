#!/bin/bash
# Boots the default Debian guest with `ember run --net tap=...` inside L1 (a genuine AMD SVM+NPT
# /dev/kvm under QEMU TCG) and checks virtio-net end to end with real peers:
#   - the guest binds virtio_net to 1af4:1041, eth0 has the MAC and MTU given on the command line
#     and its link is up;
#   - ping both ways (guest -> host and host -> guest);
#   - TCP both ways, with each side connecting: the guest sends 100000 lines to a socat on the host
#     side, fetches 1 MiB of random bytes from it, and accepts a connection the host side opens
#     to it; every payload's md5 is compared;
#   - receive and transmit interrupts fired, and ember reported no dropped frame;
#   - then the host side deletes the TAP under the running VM: ember says so once, the guest's
#     eth0 loses its carrier (status field + configuration interrupt), a ping fails, and the VM
#     still powers off normally (ember exits 0).
#
#   test-virtio-net.sh [--cpus N] [--keep-log FILE]
#
# Network isolation: everything on the host side happens inside a network namespace this test
# creates in L1 (the TAP, its address 10.200.0.1/24, socat, ping); the guest is 10.200.0.2. No
# traffic leaves that namespace. On the host it prepares the guest image and re-runs itself in L1.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

CPUS=2 KEEP_LOG=
ARGS=("$@")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cpus) CPUS=${2:?}; shift 2 ;;
        --keep-log) KEEP_LOG=${2:?}; shift 2 ;;
        *) echo "test-virtio-net: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
NS=ember-net-test
TAP=tap-ember0
HOST_IP=10.200.0.1
GUEST_IP=10.200.0.2
MAC=02:00:0a:c8:00:02
MTU=1400

fail() {
    echo "test-virtio-net: FAIL: $*" >&2
    if [[ -n "${LOG:-}" && -f "$LOG" ]]; then
        echo "--- ember output ---" >&2
        cat "$LOG" >&2
    fi
    echo "0 passed, 1 failed"
    exit 1
}

run_on_host() {
    nested_l1_available || exit 77
    nested_ember_binary >/dev/null || fail "no ember binary"
    nested_guest_dir cloud >/dev/null || fail "cannot build the default guest"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# What the guest runs: one EMBER-* line per fact.
guest_command() {
    cat <<EOF
ip link set eth0 up && ip addr add $GUEST_IP/24 dev eth0
d=\$(readlink /sys/class/net/eth0/device)
echo "EMBER-NET-IF \$(cat /sys/class/net/eth0/address) \$(cat /sys/class/net/eth0/mtu) \$(cat /sys/class/net/eth0/carrier) \$(basename \$(readlink /sys/class/net/eth0/device/driver))"
(nc -l -p 6000 </dev/null >/tmp/in6000; echo "EMBER-NET-ACCEPTED \$(md5sum </tmp/in6000 | cut -d' ' -f1) \$(wc -c </tmp/in6000)") &
listener=\$!
echo "EMBER-NET-PING \$(ping -c 3 -W 5 $HOST_IP | grep -c 'bytes from')"
seq 1 100000 | nc $HOST_IP 5001
echo "EMBER-NET-SENT \$?"
nc $HOST_IP 5002 </dev/null >/tmp/in5002
echo "EMBER-NET-FETCHED \$(md5sum </tmp/in5002 | cut -d' ' -f1) \$(wc -c </tmp/in5002)"
for i in \$(seq 1 120); do kill -0 \$listener 2>/dev/null || break; sleep 1; done
wait \$listener 2>/dev/null
grep -E 'virtio[0-9]+-(input|output)' /proc/interrupts | sed 's/^/EMBER-IRQ /'
echo EMBER-NET-DELETE-TAP-NOW
for i in \$(seq 1 60); do [ "\$(cat /sys/class/net/eth0/carrier)" = 0 ] && break; sleep 1; done
echo "EMBER-NET-CARRIER-AFTER-DELETE \$(cat /sys/class/net/eth0/carrier)"
ping -c 1 -W 2 $HOST_IP >/dev/null 2>&1
echo "EMBER-NET-PING-AFTER-DELETE \$?"
EOF
}

# Sum of the count columns of the EMBER-IRQ line for queue kind $1 (input/output).
irq_count() {
    awk -v kind="$1" '/^EMBER-IRQ/ && $0 ~ ("virtio[0-9]+-" kind) {
        n = 0; for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; else break; print n; exit }' "$LOG"
}

setup_netns() {
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" tuntap add dev "$TAP" mode tap
    ip -n "$NS" link set "$TAP" mtu "$MTU"
    ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
    ip -n "$NS" link set "$TAP" up
}

in_ns() { ip netns exec "$NS" "$@"; }

# Host-side peers, all inside the namespace; results land in $WORK.
start_peers() {
    head -c 1048576 /dev/urandom >"$WORK/to-guest"
    head -c 262144 /dev/urandom >"$WORK/to-guest-2"
    in_ns socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$WORK/from-guest",creat,trunc &
    in_ns socat -u OPEN:"$WORK/to-guest" TCP-LISTEN:5002,reuseaddr &
    # The host side connects to the guest's listener, retrying until the guest is up.
    in_ns socat -u OPEN:"$WORK/to-guest-2" TCP:$GUEST_IP:6000,retry=300,interval=0.5 &
    (for _ in $(seq 1 300); do
        if in_ns busybox ping -c 2 -W 2 $GUEST_IP >"$WORK/host-ping" 2>&1; then exit 0; fi
        sleep 0.5
    done) &
    # When the guest is done with the traffic, the TAP goes away under the running VM.
    (for _ in $(seq 1 1200); do
        if grep -q '^EMBER-NET-DELETE-TAP-NOW' "$LOG" 2>/dev/null; then
            ip -n "$NS" link del "$TAP"
            exit 0
        fi
        sleep 0.5
    done) &
}

md5() { md5sum <"$1" | cut -d' ' -f1; }

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    [[ -c /dev/net/tun ]] || fail "no /dev/net/tun in L1 (tun module)"
    command -v ip >/dev/null || fail "ip(8) is not installed (iproute2)"
    command -v socat >/dev/null || fail "socat is not installed"
    local ember dir rc start end line
    ember=$(nested_ember_binary) || fail "no ember binary"
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    WORK=$(mktemp -d)
    LOG="$WORK/ember.log"
    trap 'set +e; kill $(jobs -p) 2>/dev/null; ip netns del "$NS" 2>/dev/null; [[ -n "$KEEP_LOG" ]] && cp "$LOG" "$KEEP_LOG"; rm -rf "$WORK"' EXIT
    setup_netns
    start_peers
    start=$(nested_now)
    set +e
    in_ns timeout 400 "$ember" run --kernel "$dir/vmlinuz" --initrd "$dir/initramfs.cpio.gz" \
        --cpus "$CPUS" --memory 512M --net "tap=$TAP,mac=$MAC,mtu=$MTU" \
        --cmdline "$(nested_guest_cmdline "$(guest_command)")" </dev/null >"$LOG" 2>&1
    rc=$?
    set -e
    end=$(nested_now)
    sed -i 's/\r$//' "$LOG" # the serial console ends lines with CR LF
    [[ $rc -ne 124 ]] || fail "ember timed out"
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    nested_guest_ready_uptime "$LOG" >/dev/null || fail "no EMBER-GUEST-READY line"

    line=$(grep '^EMBER-NET-IF' "$LOG") || fail "no eth0 in the guest"
    [[ "$line" == "EMBER-NET-IF $MAC $MTU 1 virtio_net" ]] ||
        fail "eth0 is '$line', expected MAC $MAC, MTU $MTU, carrier 1, driver virtio_net"
    [[ "$(sed -n 's/^EMBER-NET-PING \([0-9]*\).*/\1/p' "$LOG")" == 3 ]] ||
        fail "guest -> host ping: $(grep EMBER-NET-PING "$LOG")"
    grep -q 'bytes from' "$WORK/host-ping" || fail "host -> guest ping: $(cat "$WORK/host-ping")"
    grep -q '^EMBER-NET-SENT 0' "$LOG" || fail "guest -> host transfer failed"
    [[ "$(md5 "$WORK/from-guest")" == "$(seq 1 100000 | md5sum | cut -d' ' -f1)" ]] ||
        fail "guest -> host data differs ($(wc -c <"$WORK/from-guest") bytes arrived)"
    [[ "$(grep '^EMBER-NET-FETCHED' "$LOG")" == "EMBER-NET-FETCHED $(md5 "$WORK/to-guest") 1048576" ]] ||
        fail "host -> guest data differs: $(grep EMBER-NET-FETCHED "$LOG")"
    [[ "$(grep '^EMBER-NET-ACCEPTED' "$LOG")" == "EMBER-NET-ACCEPTED $(md5 "$WORK/to-guest-2") 262144" ]] ||
        fail "host-initiated connection: $(grep EMBER-NET-ACCEPTED "$LOG")"
    local rx_irqs tx_irqs
    rx_irqs=$(irq_count input)
    tx_irqs=$(irq_count output)
    [[ -n "$rx_irqs" && "$rx_irqs" -gt 0 ]] || fail "no receive interrupts"
    [[ -n "$tx_irqs" ]] || fail "no transmit interrupt line"
    ! grep -q 'dropped a frame\|needs a reset' "$LOG" || fail "ember reported a problem"
    grep -q "virtio-net net0: TAP '$TAP' is gone" "$LOG" || fail "ember did not notice the TAP go"
    grep -q '^EMBER-NET-CARRIER-AFTER-DELETE 0' "$LOG" ||
        fail "the guest's carrier stayed up after the TAP was deleted"
    grep -q '^EMBER-NET-PING-AFTER-DELETE [1-9]' "$LOG" || fail "a ping worked without a TAP"
    [[ "$(nested_guest_exit_status "$LOG")" == 0 ]] || fail "guest command failed"
    echo "test-virtio-net [${CPUS}cpu]: ping both ways, TCP both ways (100000 lines out, 1 MiB" \
        "and 256 KiB in, md5 equal), $rx_irqs rx / $tx_irqs tx interrupts, TAP deleted:" \
        "link down, VM unharmed;" \
        "ember exit 0 after $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

if nested_in_l1; then
    run_in_l1
else
    run_on_host
fi
