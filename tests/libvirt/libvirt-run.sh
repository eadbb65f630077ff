#!/usr/bin/env bash
# Integration tests of `ember libvirt run` and `ember run --libvirt-xml` on this host's /dev/kvm.
#
#   libvirt-run.sh EMBER GUEST_DIR CASE
#
# Writes a node description for libvirt's test driver (test:///PATH/node.xml: an in-process
# fake hypervisor whose domains come from that file; nothing is installed or started) defining
# domains around Ember's freestanding test guests in GUEST_DIR, then reads one of them through
# libvirt's C API and boots it. CASE picks the domain and what must happen (see run_case).
# The define cases use test:///default instead, whose state lives only as long as the process
# that opened it: `virsh define` checks that libvirt accepts the file, and `ember libvirt run
# --define` defines it again in its own process and boots what libvirt reads back.
set -uo pipefail

EMBER=${1:?ember binary}
GUESTS=${2:?test guest directory}
CASE=${3:?case}

WORK=$(mktemp -d /tmp/ember-libvirt.XXXXXX)
OUT="$WORK/out"
trap 'rm -rf "$WORK"' EXIT

fail() {
	echo "FAIL [$CASE]: $*"
	echo "--- output ---"
	cat "$OUT" 2>/dev/null
	exit 1
}

# A shut-off domain (test:runstate 5) on the test driver.
domain() {
	local name=$1 kernel=$2 extra=$3 devices=$4
	cat <<EOF
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>$name</name>
    <memory unit='MiB'>64</memory>
    <os>
      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
      <kernel>$GUESTS/$kernel.elf</kernel>
    </os>
    $extra
    <features><acpi/><apic/></features>
    <on_reboot>restart</on_reboot>
    <devices>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <controller type='usb' index='0' model='qemu-xhci'/>
      <controller type='pci' index='0' model='pcie-root'/>
      <serial type='pty'><target type='isa-serial' port='0'/></serial>
      <console type='pty'><target type='serial' port='0'/></console>
      <input type='mouse' bus='ps2'/>
      <input type='keyboard' bus='ps2'/>
      $devices
    </devices>
    <test:runstate>${RUNSTATE:-5}</test:runstate>
  </domain>
EOF
}

write_node() {
	cat >"$WORK/node.xml" <<EOF
<node>
$(domain hello hello \
	"<metadata><ember:vsock xmlns:ember='urn:ember:libvirt:1' uds='$WORK/hello.vsock'/></metadata>
	 <currentMemory unit='MiB'>48</currentMemory>" \
	"<memballoon model='virtio' autodeflate='on'/>
	 <vsock model='virtio'><cid auto='no' address='7'/></vsock>")
$(domain exit-status exit-status "" "<memballoon model='none'/>")
$(domain hostile hostile-virtio "" \
	"<disk type='file' device='disk'><driver name='qemu' type='raw'/>
	   <source file='$GUESTS/hello.elf'/><target dev='vda' bus='virtio'/><readonly/></disk>
	 <console type='pty'><target type='virtio' port='0'/></console>
	 <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
	 <memballoon model='none'/>")
$(domain smp smp "<vcpu placement='static'>8</vcpu>
	<cpu mode='host-passthrough'><topology sockets='2' cores='2' threads='2'/></cpu>" \
	"<memballoon model='none'/>")
$(domain pinned smp "<vcpu placement='static' cpuset='0-1'>2</vcpu>" "<memballoon model='none'/>")
$(domain desktop hello "" "<graphics type='vnc' port='-1'/><sound model='ich9'/>
	 <interface type='network'><source network='default'/><model type='virtio'/></interface>
	 <memballoon model='none'/>")
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>uefi</name>
    <memory unit='MiB'>64</memory>
    <os>
      <type arch='x86_64'>hvm</type>
      <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
    </os>
    <devices><graphics type='vnc' port='-1'/></devices>
    <test:runstate>5</test:runstate>
  </domain>
$(RUNSTATE=1 domain running hello "" "<memballoon model='none'/>")
</node>
EOF
}

# run STATUS COMMAND...: runs it (stdin closed) and checks its exit status.
run() {
	local want=$1 rc
	shift
	timeout --kill-after=5 60 "$@" </dev/null >"$OUT" 2>&1
	rc=$?
	[[ $rc -ne 124 ]] || fail "timed out"
	[[ $rc -eq $want ]] || fail "exit status $rc, expected $want"
}

expect() { grep -qF -- "$1" "$OUT" || fail "output lacks '$1'"; }
reject() { ! grep -qF -- "$1" "$OUT" || fail "output has '$1'"; }
lines() { [[ $(wc -l <"$OUT") -eq $1 ]] || fail "output is not $1 line(s)"; }

run_case() {
	local uri="test://$WORK/node.xml"
	local lv=("$EMBER" libvirt run --connect "$uri" --domain)
	case "$CASE" in
	hello) # implicit devices, a balloon (currentMemory), a vsock from the metadata
		run 0 "${lv[@]}" hello
		expect "Hello from Ember test guest"
		reject "warning"
		[[ ! -e "$WORK/hello.vsock" ]] || fail "the vsock socket was not removed" ;;
	exit_status)
		run 42 "${lv[@]}" exit-status ;;
	devices) # virtio-rng, a read-only virtio-blk disk and the virtio console from the domain
		run 0 "${lv[@]}" hostile
		expect "virtio-rng, virtio-blk and virtio-console work" ;;
	topology)
		run 0 "${lv[@]}" smp
		expect "smp: 8/8 CPUs checked in" ;;
	pinning) # vcpu cpuset 0-1: vCPU i on host CPU i
		run 0 "${lv[@]}" pinned
		expect "smp: 2/2 CPUs checked in" ;;
	tuning_flags) # Ember's own tuning on top of the domain
		run 0 "${lv[@]}" pinned --dedicated-cores --halt-poll-ns 0 --memory-backing memfd
		expect "smp: 2/2 CPUs checked in" ;;
	unsupported) # everything at once, one line, nothing booted
		run 1 "${lv[@]}" desktop
		lines 1
		# libvirt adds a <video> for the <graphics> by itself
		expect "ember: libvirt domain 'desktop': 4 things Ember cannot honour:"
		expect "/domain/devices/graphics (Ember has no display)"
		expect "/domain/devices/video (Ember has no display adapter)"
		expect "/domain/devices/sound (Ember has no sound card)"
		expect "/domain/devices/interface/@type"
		expect "(--libvirt-lenient ignores them)"
		reject "Hello from Ember" ;;
	lenient)
		run 0 "${lv[@]}" desktop --libvirt-lenient
		expect "ember: warning: libvirt domain 'desktop': ignoring /domain/devices/graphics"
		expect "Hello from Ember test guest" ;;
	fatal) # no lenient way around a firmware boot: only the fatal items are named
		run 1 "${lv[@]}" uefi --libvirt-lenient
		lines 1
		expect "1 thing Ember cannot honour: /domain/os (no <kernel>"
		reject "graphics" ;;
	running)
		run 1 "${lv[@]}" running
		expect "is running under libvirt" ;;
	no_such_domain)
		run 1 "${lv[@]}" nosuch
		lines 1
		expect "ember: libvirt: domain 'nosuch': Domain not found" ;;
	bad_connection)
		run 1 "$EMBER" libvirt run --connect "test:///$WORK/missing.xml" --domain hello
		lines 1
		expect "cannot connect to libvirt" ;;
	usage)
		run 2 "$EMBER" libvirt run --connect "$uri"
		expect "--domain or --define is required" ;;
	define) # libvirt's per-process test:///default: define and read back in ember's process
		command -v virsh >/dev/null || { echo "SKIP [$CASE]: no virsh"; exit 77; }
		domain hello hello "" "<memballoon model='none'/>" | grep -v 'test:runstate' \
			>"$WORK/hello.xml"
		# virsh (the same libvirt parser) accepts it; its definition ends with virsh.
		run 0 virsh -c test:///default define "$WORK/hello.xml"
		expect "Domain 'hello' defined"
		run 0 "$EMBER" libvirt run --connect test:///default --define "$WORK/hello.xml"
		expect "Hello from Ember test guest"
		reject "warning" ;;
	define_invalid) # libvirt's own refusal, one line
		printf '%s\n' "<domain type='test'><name>bad</name>" >"$WORK/bad.xml"
		run 1 "$EMBER" libvirt run --connect test:///default --define "$WORK/bad.xml"
		lines 1
		expect "ember: libvirt: cannot define a domain from '$WORK/bad.xml': " ;;
	xml_file) # a domain as a file, as `virsh dumpxml` would print it
		domain hello hello "" "<memballoon model='none'/>" | grep -v 'test:runstate' \
			>"$WORK/hello.xml"
		run 0 "$EMBER" run --libvirt-xml "$WORK/hello.xml" --memory-stats
		expect "Hello from Ember test guest"
		expect "KVM maps" ;;
	xml_file_conflict)
		run 2 "$EMBER" run --libvirt-xml "$WORK/node.xml" --cpus 2
		lines 1
		expect "--libvirt-xml cannot be combined with '--cpus'" ;;
	xml_file_not_a_domain)
		run 1 "$EMBER" run --libvirt-xml "$WORK/node.xml"
		lines 1
		expect "the root element is <node>, not <domain>" ;;
	*)
		echo "libvirt-run.sh: unknown case '$CASE'" >&2
		exit 2 ;;
	esac
	echo "ok [$CASE]"
	cat "$OUT"
}

write_node
run_case
