#!/usr/bin/env bash
# The one set-up command: installs Ember's dependencies (Debian packages), builds build/ember,
# assembles the default guest from Debian packages (cloud kernel + busybox initramfs, cached in
# .cache/guest) and boots it.
#
#   scripts/quickstart.sh [--cpus N] [--memory SIZE] [--cmd 'shell command']
#
# With --cmd the guest runs that command and powers off; without it you get the guest's shell
# (on a host with a normal /dev/kvm). On a host whose KVM emulates guest supervisor mode (PVM),
# Linux would boot for minutes, so the same build/ember boots the guest inside the nested harness
# (QEMU TCG with nested AMD SVM, tests/nested/), running a short demo command.
set -euo pipefail
cd "$(dirname "$0")/.."

CPUS=2 MEMORY=512M CMD=""
while [ $# -gt 0 ]; do
	case "$1" in
	--cpus) CPUS=$2; shift 2 ;;
	--memory) MEMORY=$2; shift 2 ;;
	--cmd) CMD=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

say() { printf '\n==> %s\n' "$*"; }

say "Installing dependencies (Debian packages)"
scripts/install-deps.sh

say "Building build/ember"
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
build/ember --version

say "Assembling the default guest from Debian packages"
guest-images/debian/build-default-guest.sh
guest=.cache/guest

supervisor=$(build/ember caps --json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin).get("supervisor_mode", "native"))' ||
	echo native)

demo='echo "Hello from $(uname -sr) on $(nproc) vCPUs with $(awk "/MemTotal/ {print \$2}" /proc/meminfo) kB"'
if [ "$supervisor" = emulated ]; then
	say "This host's /dev/kvm emulates guest supervisor mode (PVM, see 'build/ember caps'):"
	echo "    a Linux kernel would need minutes to boot here. Booting the same guest with the same"
	echo "    build/ember inside the nested harness instead (QEMU TCG with an EPYC CPU model plus"
	echo "    SVM and NPT gives a genuine AMD /dev/kvm; about 20 s)."
	source tests/nested/lib.sh
	cmdline=$(nested_guest_cmdline "${CMD:-$demo}" reboot=k)
	exec tests/nested/run-in-l1.sh -- "$PWD/build/ember" run --kernel "$PWD/$guest/vmlinuz" \
		--initrd "$PWD/$guest/initramfs.cpio.gz" --cpus "$CPUS" --memory "$MEMORY" --cmdline "$cmdline"
fi

say "Booting the default guest: build/ember run --kernel $guest/vmlinuz --initrd $guest/initramfs.cpio.gz --cpus $CPUS --memory $MEMORY"
cmdline="console=ttyS0 reboot=k panic=1"
if [ -n "$CMD" ]; then
	cmdline="$cmdline quiet ember.cmd64=$(printf '%s' "$CMD" | base64 -w0)"
else
	echo "    (the guest's shell: 'poweroff' ends the VM; Ctrl-A x quits at once)"
fi
exec build/ember run --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
	--cpus "$CPUS" --memory "$MEMORY" --cmdline "$cmdline"
