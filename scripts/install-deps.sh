#!/usr/bin/env bash
# Installs what building, booting and testing Ember needs, from Debian's packages. Idempotent:
# does nothing when everything is present. Needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
	# build
	gcc meson ninja-build pkg-config liburing-dev libseccomp-dev libjson-c-dev libssl-dev
	libhttp-parser-dev
	# libvirt front end (docs/libvirt.md): libvirt's C API (its test driver is in libvirt0 itself:
	# no daemon needed) and libxml2; virt-xml-validate checks the test fixtures
	libvirt-dev libxml2-dev libvirt-clients
	# unit tests
	libcriterion-dev acpica-tools
	# guest images and the nested harness
	busybox-static cpio gzip xz-utils zstd lz4 binutils qemu-system-x86 qemu-utils
	# firmware boot (docs/firmware.md): OVMF for --firmware and the nested firmware test
	ovmf
	# test tools and peers
	strace iproute2 socat jq fio e2fsprogs gnuplot-nox curl
)
# npm (for the API conformance proxy): this machine image may bring its own Node.js with npm;
# only a machine without one gets Debian's.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing() {
	local pkg
	for pkg in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed' ||
			echo "$pkg"
	done
}

main() {
	local todo
	todo=$(missing)
	[ -z "$todo" ] && return 0
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "ember: installing packages: $(echo $todo)" >&2
	"${sudo[@]}" apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends $todo >&2
}

main "$@"
