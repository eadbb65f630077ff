#!/bin/bash
# virtio-vsock in a real Linux guest: the default Debian guest under `ember run --vsock` inside L1
# (a genuine AMD SVM+NPT /dev/kvm under QEMU TCG), with Firecracker's host-side convention on
# Unix sockets. The peers are tests/nested/tools/vsock-echo (built static here, shipped to the
# guest on a read-only raw disk) and socat on the host side.
#
# Guest → host (the guest connects to CID 2):
#   - port 5000: socat echoes (UNIX-LISTEN:PATH_5000 EXEC:cat); the guest sends 100 MiB and checks
#     the sha256 of what comes back;
#   - port 5001: the host peer reads 1 MiB and closes while the guest is still sending 50 MiB:
#     the guest's sender ends (reset), nothing hangs;
#   - port 5002: the host peer never reads: the guest's writes block once the credit ember
#     advertises is used up (bounded), and the guest goes on;
#   - port 5999: nobody listens on PATH_5999: the connection is refused.
# Host → guest (the host connects to PATH and sends "CONNECT <port>\n"):
#   - port 1234: the guest echoes; the host sends 100 MiB and checks the sha256;
#   - port 1235: the guest never reads: the host's writes block after a bounded amount (ember
#     stops reading the Unix socket when the guest has no credit) while another 1 MiB echo on
#     1234 goes through; that stalled connection stays open until the VM powers off;
#   - port 1236: the guest reads 1 MiB and closes while the host sends 50 MiB;
#   - a host sender killed mid-transfer, a bad CONNECT line, a port nobody listens on;
#     afterwards an echo still works.
# Finally the guest powers off with the stalled connections open: ember must exit 0, and the
# Unix socket it listened on is gone.
#
#   test-virtio-vsock.sh [--mib N] [--g2h-peer socat|tool]
#     --mib       transfer size of the two echo tests (default 100)
#     --g2h-peer  the echo server on PATH_5000: socat (default) or vsock-echo (measurements)
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

MIB=100 G2H_PEER=socat
ARGS=("$@")
nested_parse_options test-virtio-vsock --mib --g2h-peer -- "$@" || exit 2
BIG=$((MIB << 20))
HALF=$((50 << 20))
CID=3

fail() {
    nested_report_failure test-virtio-vsock "${LOG:-}" 60 "$@"
    exit 1
}

run_on_host() {
    nested_host_setup || fail "$NESTED_WHY"
    command -v socat >/dev/null || fail "socat is needed on the host (apt-get install socat)"
    # Built here, read in L1 through its view of the host's root: the tool, and a raw disk
    # image holding it for the guest (its busybox has no AF_VSOCK client).
    EMBER_VSOCK_TOOL=$(mktemp /tmp/ember-vsock-echo.XXXXXX)
    EMBER_VSOCK_DISK=$(mktemp /tmp/ember-vsock-disk.XXXXXX)
    export EMBER_VSOCK_TOOL EMBER_VSOCK_DISK
    trap 'rm -f "$EMBER_VSOCK_TOOL" "$EMBER_VSOCK_DISK"' EXIT
    gcc -static -O2 -Wall -Wextra -Werror -o "$EMBER_VSOCK_TOOL" \
        "$NESTED_DIR/tools/vsock-echo.c" || fail "cannot build tools/vsock-echo.c"
    cp "$EMBER_VSOCK_TOOL" "$EMBER_VSOCK_DISK"
    truncate -s 2M "$EMBER_VSOCK_DISK"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# What the guest runs: one EMBER-VSOCK-* line per fact. Guest → host tests first, then the
# listeners for the host's tests, then it waits for the host's "done" connection.
guest_command() {
    local size
    size=$(stat -c %s "$EMBER_VSOCK_TOOL")
    cat <<EOF
T=/vsock-echo
head -c $size /dev/vda >\$T && chmod +x \$T || echo EMBER-VSOCK-FAIL tool
up() { cut -d' ' -f1 /proc/uptime; }
a=\$(up)
sum=\$(\$T gen $BIG 7 | \$T connect 2 5000 | sha256sum | cut -d' ' -f1)
echo "EMBER-VSOCK-G2H-ECHO \$sum \$a \$(up)"
\$T gen $HALF 3 | timeout 300 \$T connect 2 5001 >/dev/null 2>/tmp/err
echo "EMBER-VSOCK-G2H-PEERCLOSE rc=\$? \$(head -n1 /tmp/err)"
timeout 300 \$T connect 2 5002 blast 3 1 | sed 's/^/EMBER-VSOCK-G2H-STALL /'
timeout 60 \$T connect 2 5999 </dev/null 2>/tmp/err
echo "EMBER-VSOCK-G2H-REFUSED rc=\$? \$(head -n1 /tmp/err)"
\$T listen 1234 echo &
\$T listen 1235 stall &
\$T listen 1236 close-after 1048576 &
echo EMBER-VSOCK-LISTENING
timeout 900 \$T listen 1299 once
echo EMBER-VSOCK-DONE
EOF
}

# Starts a host-side server in its own process group (so the group can be ended).
start_server() {
    setsid "$@" </dev/null >/dev/null 2>&1 &
    SERVERS+=($!)
}

stop_servers() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill -- "-$pid" 2>/dev/null || true
    done
}

elapsed() { nested_seconds_between "$1" "$(nested_now)"; }

# Waits (up to $1 s) until the guest's echo listener answers.
wait_for_guest() {
    local deadline=$(($(date +%s) + $1))
    until echo ping | "$T" uds-connect "$UDS" 1234 2>/dev/null | grep -q ping; do
        (($(date +%s) < deadline)) || fail "the guest's listener never answered on $UDS"
        kill -0 "$EMBER_PID" 2>/dev/null || fail "ember exited early"
        sleep 1
    done
}

host_echo_test() {
    local start got want
    want=$("$T" gen "$BIG" 9 | sha256sum | cut -d' ' -f1)
    start=$(nested_now)
    got=$("$T" gen "$BIG" 9 | "$T" uds-connect "$UDS" 1234 | sha256sum | cut -d' ' -f1) || true
    H2G_SECONDS=$(elapsed "$start")
    [[ "$got" == "$want" ]] || fail "host → guest echo of $MIB MiB: sha256 $got, expected $want"
}

# The guest never reads on 1235: the host's writes must block after a bounded amount, and the
# stalled connection stays open (until after poweroff) while another echo works.
host_stall_test() {
    local line written sum
    "$T" uds-connect "$UDS" 1235 blast 5 3600 >"$WORK/h2g-stall" &
    STALL_PID=$!
    for _ in $(seq 120); do
        [[ -s "$WORK/h2g-stall" ]] && break
        sleep 1
    done
    line=$(cat "$WORK/h2g-stall")
    [[ "$line" == "BLAST written="*" result=timeout" ]] || fail "host → stalled guest: '$line'"
    written=${line#BLAST written=}
    written=${written%% *}
    H2G_STALL_BYTES=$written
    # The guest's credit (256 KiB) plus what the Unix socket buffers, not a byte-eating loop.
    ((written >= 262144 && written < 4194304)) ||
        fail "host → stalled guest: the host wrote $written bytes before blocking"
    sum=$("$T" gen 1048576 4 | "$T" uds-connect "$UDS" 1234 | sha256sum | cut -d' ' -f1) || true
    [[ "$sum" == "$("$T" gen 1048576 4 | sha256sum | cut -d' ' -f1)" ]] ||
        fail "an echo next to the stalled connection failed"
}

host_abort_tests() {
    local rc start
    start=$(nested_now)
    set +e
    "$T" gen "$HALF" 5 | timeout 300 "$T" uds-connect "$UDS" 1236 >/dev/null 2>"$WORK/err"
    rc=$?
    set -e
    [[ $rc -ne 124 ]] || fail "host → guest closing mid-stream: the host sender hung"
    H2G_PEERCLOSE="rc=$rc $(head -n1 "$WORK/err") ($(elapsed "$start") s)"
    # A host sender killed mid-transfer.
    local pid
    setsid sh -c "\"$T\" gen $BIG 6 | \"$T\" uds-connect \"$UDS\" 1234" >/dev/null 2>&1 &
    pid=$!
    sleep 5
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A bad CONNECT line and a port nobody listens on are closed; echo still works.
    printf 'CONNECT nope\n' | timeout 30 socat -t 5 - "UNIX-CONNECT:$UDS" >/dev/null 2>&1 || true
    ! timeout 60 "$T" uds-connect "$UDS" 4444 </dev/null 2>/dev/null ||
        fail "CONNECT to a port without a guest listener was accepted"
    [[ "$(echo after | "$T" uds-connect "$UDS" 1234)" == after ]] ||
        fail "echo after the aborted connections failed"
}

check_guest_lines() {
    local line sum want a b
    tr -d '\r' <"$LOG" >"$LOG.lines" # the serial console ends lines with CR LF
    LOG="$LOG.lines"
    grep -q '^EMBER-VSOCK-DONE' "$LOG" || fail "the guest script did not finish"
    ! grep -q '^EMBER-VSOCK-FAIL' "$LOG" || fail "$(grep '^EMBER-VSOCK-FAIL' "$LOG")"
    line=$(grep '^EMBER-VSOCK-G2H-ECHO' "$LOG") || fail "no guest → host echo result"
    read -r _ sum a b <<<"$line"
    want=$("$T" gen "$BIG" 7 | sha256sum | cut -d' ' -f1)
    [[ "$sum" == "$want" ]] || fail "guest → host echo of $MIB MiB: sha256 $sum, expected $want"
    G2H_SECONDS=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }')
    line=$(grep '^EMBER-VSOCK-G2H-PEERCLOSE' "$LOG") || fail "no peer-close result"
    [[ "$line" != *"rc=124"* && "$line" != *"rc=0 "* ]] ||
        fail "guest → host, peer closing mid-stream: '$line'"
    G2H_PEERCLOSE=${line#EMBER-VSOCK-G2H-PEERCLOSE }
    line=$(grep '^EMBER-VSOCK-G2H-STALL' "$LOG") || fail "no guest → stalled host result"
    [[ "$line" == *"result=timeout" ]] || fail "guest → stalled host: '$line'"
    G2H_STALL_BYTES=${line#*written=}
    G2H_STALL_BYTES=${G2H_STALL_BYTES%% *}
    ((G2H_STALL_BYTES >= 262144 && G2H_STALL_BYTES < 4194304)) ||
        fail "guest → stalled host: the guest wrote $G2H_STALL_BYTES bytes before blocking"
    line=$(grep '^EMBER-VSOCK-G2H-REFUSED' "$LOG") || fail "no refused result"
    [[ "$line" == *"rc=1 "* ]] || fail "guest → host port without listener: '$line'"
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    [[ -x "${EMBER_VSOCK_TOOL:-}" ]] || fail "no vsock-echo tool (run this script on the host)"
    local ember guest_dir start rc
    ember=$(nested_ember_binary) || fail "no ember binary"
    guest_dir=$(nested_guest_dir cloud) || fail "no guest image"
    T=$EMBER_VSOCK_TOOL
    WORK=$(mktemp -d /tmp/ember-vsock.XXXXXX)
    LOG="$WORK/ember.log"
    UDS="$WORK/v.sock"
    SERVERS=()
    trap stop_servers EXIT
    if [[ "$G2H_PEER" == socat ]]; then
        start_server socat -t 30 "UNIX-LISTEN:${UDS}_5000,fork" EXEC:cat
    else
        start_server "$T" uds-serve "${UDS}_5000" echo
    fi
    start_server "$T" uds-serve "${UDS}_5001" close-after 1048576
    start_server "$T" uds-serve "${UDS}_5002" stall
    start=$(nested_now)
    timeout 1200 "$ember" run --kernel "$guest_dir/vmlinuz" --initrd "$guest_dir/initramfs.cpio.gz" \
        --cpus 2 --memory 512M --disk "path=$EMBER_VSOCK_DISK,readonly=on" \
        --vsock "cid=$CID,uds=$UDS" \
        --cmdline "$(nested_guest_cmdline "$(guest_command)")" </dev/null >"$LOG" 2>&1 &
    EMBER_PID=$!
    wait_for_guest 900
    host_echo_test
    host_stall_test
    host_abort_tests
    # The guest's barrier: it accepts and exits at once (so our own write may fail).
    echo "done" | "$T" uds-connect "$UDS" 1299 >/dev/null 2>&1 || true
    set +e
    wait "$EMBER_PID"
    rc=$?
    set -e
    kill "$STALL_PID" 2>/dev/null || true
    [[ $rc -ne 124 ]] || fail "ember timed out"
    [[ $rc -eq 0 ]] || fail "ember exited with status $rc"
    [[ ! -e "$UDS" ]] || fail "ember left its socket $UDS behind"
    grep -q "virtio-vsock" "$LOG" && fail "ember reported a problem: $(grep virtio-vsock "$LOG")"
    check_guest_lines
    echo "test-virtio-vsock: $MIB MiB echo guest → host ($G2H_PEER) in $G2H_SECONDS s, host → guest" \
        "in $H2G_SECONDS s (nested, TCG; each echo moves the data both ways); stalled peers" \
        "blocked after $G2H_STALL_BYTES (guest) / $H2G_STALL_BYTES (host) bytes; peer closing" \
        "mid-stream: guest sender $G2H_PEERCLOSE, host sender $H2G_PEERCLOSE;" \
        "$(elapsed "$start") s wall"
    echo "1 passed, 0 failed"
}

nested_main
