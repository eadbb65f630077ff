#!/bin/bash
# Assembles Ember's default Linux guest from Debian packages (no kernel compile).
#
#   build-default-guest.sh [--out DIR] [--kernel-flavour cloud|amd64] [--force]
#
# Outputs in DIR (default: ${EMBER_CACHE:-<repo>/.cache}/guest, or .../guest-amd64
# for the amd64 flavour):
#   vmlinuz             the package's bzImage
#   vmlinux             the uncompressed ELF kernel inside it (has the PVH entry
#                       note: Debian builds with CONFIG_PVH=y); absent if extraction fails
#   initramfs.cpio.gz   static busybox + guest-init.sh as /init + virtio modules
#   kernel-release      uname -r of the kernel
#   stamp               package version + script hashes; the build is skipped
#                       while it matches (use --force to rebuild anyway)
# Needs: apt (Debian sources), dpkg-deb, busybox-static, cpio, gzip, xz, lz4, zstd.
set -euo pipefail

# shellcheck disable=SC2034  # read by kernel-lib.sh
DK_PROG=build-default-guest
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kernel-lib.sh
source "$SCRIPT_DIR/kernel-lib.sh"

# Modules the guest may need for Ember's virtio devices; their dependencies
# (virtio, virtio_ring, vsock, failover...) come along through modules.dep.
GUEST_MODULES=(
    virtio_pci virtio_mmio
    virtio_blk virtio_net virtio_console virtio-rng virtio_balloon virtio_scsi
    vmw_vsock_virtio_transport virtiofs
    ext4
)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

parse_args() {
    OUT_DIR=""
    FLAVOUR=cloud
    FORCE=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --out) OUT_DIR=${2:?--out needs a directory}; shift 2 ;;
            --kernel-flavour|--kernel-flavor) FLAVOUR=${2:?--kernel-flavour needs cloud or amd64}; shift 2 ;;
            --force) FORCE=1; shift ;;
            -h|--help) usage 0 ;;
            *) dk_log "unknown argument '$1'"; usage 2 ;;
        esac
    done
    case "$FLAVOUR" in
        cloud) META=linux-image-cloud-amd64; DEFAULT_NAME=guest ;;
        amd64) META=linux-image-amd64; DEFAULT_NAME=guest-amd64 ;;
        *) dk_die "--kernel-flavour must be cloud or amd64, not '$FLAVOUR'" ;;
    esac
    [[ -n "$OUT_DIR" ]] || OUT_DIR="$(dk_cache_root)/$DEFAULT_NAME"
}

# Builds the initramfs root in $1 from the extracted package tree $2.
assemble_initramfs_root() {
    local root=$1 pkgroot=$2 release=$3
    dk_make_initramfs_skeleton "$root" "$SCRIPT_DIR/guest-init.sh"
    dk_install_busybox "$root"
    dk_copy_modules "$pkgroot" "$root" "$release" "${GUEST_MODULES[@]}"
}

build() {
    local pkg=$1 work=$2
    local deb pkgroot="$work/pkg" initroot="$work/initramfs" release
    deb=$(dk_download_package "$pkg" "$(dk_cache_root)/debs")
    dk_extract_deb "$deb" "$pkgroot"
    release=$(dk_kernel_release "$pkgroot")

    cp "$pkgroot/boot/vmlinuz-$release" "$OUT_DIR/vmlinuz"
    rm -f "$OUT_DIR/vmlinux"
    if dk_extract_vmlinux "$OUT_DIR/vmlinuz" "$OUT_DIR/vmlinux"; then
        dk_has_pvh_note "$OUT_DIR/vmlinux" || dk_log "warning: vmlinux has no PVH note"
    else
        dk_log "warning: no vmlinux extracted; only the bzImage is available"
    fi
    assemble_initramfs_root "$initroot" "$pkgroot" "$release"
    dk_pack_initramfs "$initroot" "$OUT_DIR/initramfs.cpio.gz"
    printf '%s\n' "$release" >"$OUT_DIR/kernel-release"
}

main() {
    parse_args "$@"
    dk_require_tools apt-get apt-cache dpkg-deb cpio gzip xz busybox od file
    dk_cached_build "$OUT_DIR" "$META" "$FORCE" build \
        "${BASH_SOURCE[0]}" "$SCRIPT_DIR/kernel-lib.sh" "$SCRIPT_DIR/guest-init.sh"
}

main "$@"
