#!/bin/bash
# Boots the default Debian guest inside L1 (a genuine AMD SVM+NPT /dev/kvm under QEMU TCG) from
# a libvirt domain: `virsh -c test:///default define` must accept it, then `ember libvirt run
# --connect test:///default --define` defines it again (the test driver is in-process, no
# libvirtd, and its state ends with the process that opened it), reads libvirt's normalised
# form back through the C API and maps it (docs/libvirt.md). The domain looks like what
# `virsh dumpxml` prints for a q35 KVM guest, implicit devices included, with:
#   2 vCPUs as 1 socket x 2 cores, 768 MiB in MiB units, a read-only raw virtio disk with a
#   serial, virtio-rng, the virtio balloon libvirt adds to every domain.
# The guest must reach its ready line and see all of it: nproc, MemTotal, the disk's serial,
# read-only flag and first bytes, and the rng's PCI function; ember exits 0 after it powers off.
#
#   test-libvirt.sh [--kernel bzimage|pvh]
#
# On the host it prepares the guest image and re-runs itself inside L1; inside L1 it runs ember.
set -euo pipefail

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KERNEL=bzimage
ARGS=("$@")
nested_parse_options test-libvirt --kernel -- "$@" || exit 2
CPUS=2 MEMORY_MIB=768 SERIAL=ember-lv-01 MAGIC=EMBER-LIBVIRT-DISK

fail() {
    nested_report_failure "test-libvirt [$KERNEL]" "${LOG:-}" 60 "$@"
    exit 1
}

run_on_host() {
    nested_host_setup || fail "$NESTED_WHY"
    nested_run -- "${BASH_SOURCE[0]}" "${ARGS[@]}"
}

# What the guest runs: one EMBER-* line per fact, parsed below.
guest_command() {
    cat <<EOF
echo "EMBER-NPROC \$(nproc)"
echo "EMBER-MEMTOTAL-KB \$(awk '/^MemTotal:/ { print \$2 }' /proc/meminfo)"
echo "EMBER-DISK serial=\$(cat /sys/block/vda/serial) ro=\$(cat /sys/block/vda/ro) head=\$(head -c ${#MAGIC} /dev/vda)"
for d in /sys/bus/pci/devices/*; do echo "EMBER-PCI \$(cat \$d/vendor):\$(cat \$d/device)"; done
EOF
}

# The domain, as a file for `virsh define` / `ember libvirt run --define`.
write_domain() {
    local file=$1 kernel=$2 dir=$3 disk=$4 cmdline=$5
    cat >"$file" <<EOF
<domain type='kvm'>
  <name>debian-under-ember</name>
  <uuid>6a1e7b9c-2d4f-4a8e-9c3b-1f2e3d4c5b6a</uuid>
  <memory unit='MiB'>$MEMORY_MIB</memory>
  <currentMemory unit='MiB'>$MEMORY_MIB</currentMemory>
  <vcpu placement='static'>$CPUS</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$dir/initramfs.cpio.gz</initrd>
    <cmdline>$cmdline</cmdline>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' dies='1' cores='$CPUS' threads='1'/>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
      <serial>$SERIAL</serial>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='sata' index='0'/>
    <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
EOF
}

run_in_l1() {
    [[ -c /dev/kvm ]] || fail "no /dev/kvm in L1"
    local dir kernel start end ready nproc memkb disk
    dir=$(nested_guest_dir cloud) || fail "no guest image"
    kernel=$(nested_guest_kernel_of_kind "$KERNEL" "$dir") ||
        fail "--kernel must be bzimage or pvh"
    [[ -f "$kernel" ]] || fail "no $kernel"
    WORK=$(mktemp -d) # global: the EXIT trap runs after this function returns
    trap 'rm -rf "$WORK"' EXIT
    local work=$WORK
    LOG="$work/ember.log"
    { printf '%s' "$MAGIC"; head -c 65536 /dev/zero; } >"$work/disk.img"
    write_domain "$work/domain.xml" "$kernel" "$dir" "$work/disk.img" \
        "$(nested_guest_cmdline "$(guest_command)")"
    command -v virsh >/dev/null || fail "no virsh in L1 (libvirt-clients, scripts/install-deps.sh)"
    LOG="$work/virsh.log"
    virsh -c test:///default define "$work/domain.xml" </dev/null >"$LOG" 2>&1 ||
        fail "virsh refused the domain"
    grep -q "Domain 'debian-under-ember' defined" "$LOG" || fail "virsh did not define it"
    LOG="$work/ember.log"
    start=$(nested_now)
    nested_ember_logged "$LOG" 300 libvirt run --connect test:///default \
        --define "$work/domain.xml" --domain debian-under-ember || fail "$NESTED_WHY"
    end=$(nested_now)
    ! grep -q 'warning' "$LOG" || fail "ember warned about the domain"
    ready=$(nested_guest_ready_uptime "$LOG") || fail "no EMBER-GUEST-READY line"
    nproc=$(sed -n 's/^EMBER-NPROC \([0-9]*\).*/\1/p' "$LOG")
    [[ "$nproc" == "$CPUS" ]] || fail "guest saw '${nproc}' CPUs, expected $CPUS"
    memkb=$(sed -n 's/^EMBER-MEMTOTAL-KB \([0-9]*\).*/\1/p' "$LOG")
    # MemTotal is RAM minus what the kernel keeps: between 80 % and 100 % of <memory>.
    [[ -n "$memkb" && $memkb -le $((MEMORY_MIB * 1024)) && $memkb -ge $((MEMORY_MIB * 1024 * 8 / 10)) ]] ||
        fail "guest MemTotal ${memkb} kB for <memory> $MEMORY_MIB MiB"
    disk=$(grep '^EMBER-DISK' "$LOG") || fail "no disk line"
    [[ "$disk" == *"serial=$SERIAL ro=1 head=$MAGIC"* ]] || fail "disk: '$disk'"
    grep -q '^EMBER-PCI 0x1af4:0x1044' "$LOG" || fail "no virtio-rng on the PCI bus"
    grep -q '^EMBER-PCI 0x1af4:0x1045' "$LOG" || fail "no virtio-balloon on the PCI bus"
    [[ "$(nested_guest_exit_status "$LOG")" == 0 ]] || fail "guest command failed"
    echo "test-libvirt [$KERNEL]: ready at guest uptime $ready s, $nproc CPUs, $memkb kB," \
        "disk and rng seen, ember exit 0 after $(nested_seconds_between "$start" "$end") s wall"
    echo "1 passed, 0 failed"
}

nested_main
