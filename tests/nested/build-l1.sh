#!/bin/bash
# Prepares the L1 test VM's kernel and initramfs from Debian's generic
# linux-image-amd64 (it has 9p, overlay, tun and kvm-amd as modules; the cloud
# flavour lacks 9p and tun). Cached; rebuilt only when the package or these
# scripts change.
#
#   build-l1.sh [--out DIR] [--force]
#
# Outputs in DIR (default ${EMBER_CACHE:-<repo>/.cache}/l1): vmlinux (PVH ELF,
# when extraction works), vmlinuz, initramfs.cpio.gz, kernel-release, stamp.
set -euo pipefail

# shellcheck disable=SC2034  # read by kernel-lib.sh
DK_PROG=build-l1
NESTED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../guest-images/debian/kernel-lib.sh
source "$NESTED_DIR/../../guest-images/debian/kernel-lib.sh"

# Loaded at boot: see BASE_MODULES in l1-init.sh.
L1_BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay tun kvm kvm_amd)
# Shipped for tests that ask for them (run-in-l1.sh --modules).
L1_EXTRA_MODULES=(vhost_net vhost_vsock veth bridge loop ext4 virtio_net virtio_blk
    virtio_console virtio-rng)

parse_args() {
    OUT_DIR=""
    FORCE=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --out) OUT_DIR=${2:?--out needs a directory}; shift 2 ;;
            --force) FORCE=1; shift ;;
            -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
            *) dk_die "unknown argument '$1' (see --help)" ;;
        esac
    done
    [[ -n "$OUT_DIR" ]] || OUT_DIR="$(dk_cache_root)/l1"
}

build() {
    local pkg=$1 work=$2
    local deb pkgroot="$work/pkg" initroot="$work/initramfs" release
    deb=$(dk_download_package "$pkg" "$(dk_cache_root)/debs")
    dk_extract_deb "$deb" "$pkgroot"
    release=$(dk_kernel_release "$pkgroot")

    cp "$pkgroot/boot/vmlinuz-$release" "$OUT_DIR/vmlinuz"
    rm -f "$OUT_DIR/vmlinux"
    if ! dk_extract_vmlinux "$OUT_DIR/vmlinuz" "$OUT_DIR/vmlinux" || ! dk_has_pvh_note "$OUT_DIR/vmlinux"; then
        rm -f "$OUT_DIR/vmlinux"
        dk_log "warning: no PVH vmlinux; L1 will boot the bzImage"
    fi
    dk_make_initramfs_skeleton "$initroot" "$NESTED_DIR/l1-init.sh"
    mkdir -p "$initroot/lower" "$initroot/rw" "$initroot/newroot"
    dk_install_busybox "$initroot"
    dk_copy_modules "$pkgroot" "$initroot" "$release" "${L1_BOOT_MODULES[@]}" "${L1_EXTRA_MODULES[@]}"
    dk_pack_initramfs "$initroot" "$OUT_DIR/initramfs.cpio.gz"
    printf '%s\n' "$release" >"$OUT_DIR/kernel-release"
}

main() {
    parse_args "$@"
    dk_require_tools apt-get apt-cache dpkg-deb cpio gzip xz busybox od file
    DK_QUIET_WHEN_CURRENT=1 dk_cached_build "$OUT_DIR" linux-image-amd64 "$FORCE" build \
        "${BASH_SOURCE[0]}" "$NESTED_DIR/l1-init.sh" "$NESTED_DIR/../../guest-images/debian/kernel-lib.sh"
}

main "$@"
