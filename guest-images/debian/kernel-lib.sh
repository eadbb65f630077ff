# shellcheck shell=bash
# Shared helpers for assembling boot images from Debian kernel packages.
# Sourced (not executed) by build-default-guest.sh and tests/nested/build-l1.sh.
# Everything comes from Debian packages: apt-get download + dpkg-deb -x, no compiling.
#
# Functions are prefixed dk_ ("Debian kernel").

dk_log() { printf '%s: %s\n' "${DK_PROG:-kernel-lib}" "$*" >&2; }
dk_die() { dk_log "error: $*"; exit 1; }

# Root of the git work tree (this file lives in guest-images/debian/).
dk_repo_root() {
    local here
    here=$(dirname "${BASH_SOURCE[0]}")
    (cd "$here/../.." && pwd)
}

# The cache root: $EMBER_CACHE, else <repo>/.cache (git-ignored).
dk_cache_root() {
    if [[ -n "${EMBER_CACHE:-}" ]]; then
        printf '%s\n' "$EMBER_CACHE"
    else
        printf '%s/.cache\n' "$(dk_repo_root)"
    fi
}

dk_require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || dk_die "missing tool '$tool' (apt-get install it)"
    done
}

# Prints the versioned image package a metapackage depends on, e.g.
# linux-image-cloud-amd64 -> linux-image-6.1.0-56-cloud-amd64.
# `apt-get download` of the metapackage would only fetch an empty package.
dk_resolve_image_package() {
    local meta=$1 pkg
    pkg=$(dk_first_image_dependency "$meta")
    if [[ -z "$pkg" && $(id -u) -eq 0 ]]; then
        dk_log "apt cannot resolve $meta; running apt-get update once"
        apt-get update -qq >&2 || true
        pkg=$(dk_first_image_dependency "$meta")
    fi
    [[ -n "$pkg" ]] || dk_die "cannot resolve package $meta (apt-get update? Debian sources configured?)"
    printf '%s\n' "$pkg"
}

dk_first_image_dependency() {
    apt-cache depends "$1" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1 || true
}

# Candidate version of a package, e.g. 6.1.192-2.
dk_package_version() {
    apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1 || true
}

# Downloads package $1 into directory $2 (kept as a cache) and prints the .deb path.
dk_download_package() {
    local pkg=$1 dir=$2 deb
    mkdir -p "$dir"
    deb=$(dk_find_deb "$pkg" "$dir")
    if [[ -z "$deb" ]]; then
        dk_log "downloading $pkg"
        # Sandbox user root: the _apt user may not be able to write the cache dir.
        (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) ||
            dk_die "apt-get download $pkg failed"
        deb=$(dk_find_deb "$pkg" "$dir")
        [[ -n "$deb" ]] || dk_die "apt-get download $pkg produced no .deb in $dir"
    fi
    printf '%s\n' "$deb"
}

dk_find_deb() {
    local pkg=$1 dir=$2 version
    version=$(dk_package_version "$pkg")
    version=${version//:/%3a}
    local candidate="$dir/${pkg}_${version}_amd64.deb"
    [[ -f "$candidate" ]] && printf '%s\n' "$candidate"
    return 0
}

# Extracts a .deb into a directory (the package's file tree, no scripts run).
dk_extract_deb() {
    local deb=$1 dest=$2
    mkdir -p "$dest"
    dpkg-deb -x "$deb" "$dest" || dk_die "dpkg-deb -x $deb failed"
}

# The kernel release (uname -r) of an extracted image package tree.
dk_kernel_release() {
    local root=$1 dir
    for dir in "$root"/lib/modules/*/; do
        basename "$dir"
        return 0
    done
    dk_die "no lib/modules/<release> in $root"
}

# Reads a little-endian unsigned integer of $3 bytes at byte offset $2 of file $1.
dk_read_le() {
    od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' '
}

# Writes the uncompressed ELF vmlinux held inside bzImage $1 to $2.
# Uses the boot-protocol header (Documentation/x86/boot.rst, protocol >= 2.08):
# the protected-mode code starts at (setup_sects + 1) * 512, and the compressed
# kernel sits at payload_offset (0x248) within it, payload_length (0x24c) bytes
# long. The build appends the uncompressed size as the last 4 bytes; strip it
# so that every decompressor sees a clean stream, and check the size after.
# Returns 1 (without output) when the image has no usable payload.
dk_extract_vmlinux() {
    local bzimage=$1 out=$2
    local magic version setup_sects payload_offset payload_length start
    magic=$(od -An -c -j 0x202 -N 4 "$bzimage" | tr -d ' ')
    [[ "$magic" == "HdrS" ]] || { dk_log "$bzimage: not a bzImage"; return 1; }
    version=$(dk_read_le "$bzimage" 0x206 2)
    ((version >= 0x208)) || { dk_log "$bzimage: boot protocol too old"; return 1; }
    setup_sects=$(dk_read_le "$bzimage" 0x1f1 1)
    ((setup_sects == 0)) && setup_sects=4
    payload_offset=$(dk_read_le "$bzimage" 0x248 4)
    payload_length=$(dk_read_le "$bzimage" 0x24c 4)
    start=$(((setup_sects + 1) * 512 + payload_offset))

    local tmp="$out.tmp" expected_size
    expected_size=$(dk_read_le "$bzimage" $((start + payload_length - 4)) 4)
    tail -c +$((start + 1)) "$bzimage" | head -c $((payload_length - 4)) >"$tmp.z"
    if ! dk_decompress_by_magic "$tmp.z" >"$tmp" 2>/dev/null; then
        rm -f "$tmp" "$tmp.z"
        dk_log "$bzimage: cannot decompress the kernel payload"
        return 1
    fi
    rm -f "$tmp.z"
    if [[ $(stat -c %s "$tmp") -ne $expected_size || $(head -c 4 "$tmp" | od -An -tx1 | tr -d ' ') != 7f454c46 ]]; then
        rm -f "$tmp"
        dk_log "$bzimage: decompressed payload is not the expected ELF"
        return 1
    fi
    mv "$tmp" "$out"
}

# Decompresses file $1 to stdout, choosing the tool from its leading magic bytes.
dk_decompress_by_magic() {
    local file=$1 head
    head=$(head -c 6 "$file" | od -An -tx1 | tr -d ' \n')
    case "$head" in
        1f8b*) gzip -dc "$file" ;;
        fd377a585a00) xz -dc "$file" ;;
        28b52ffd*) zstd -dcq "$file" ;;
        02214c18*) lz4 -dcq "$file" ;;
        5d0000*) xz --format=lzma -dc "$file" ;;
        425a68*) bzip2 -dc "$file" ;;
        894c5a4f*) lzop -dc "$file" ;;
        *) dk_log "unknown compression magic $head"; return 1 ;;
    esac
}

# True when ELF file $1 carries the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18),
# which lets QEMU (and Ember) enter the kernel directly in 32-bit mode.
dk_has_pvh_note() {
    command -v readelf >/dev/null 2>&1 || return 1
    readelf -n "$1" 2>/dev/null | grep -A1 -E '^ *Xen ' | grep -q -E '0x00000012|PHYS32_ENTRY'
}

# Module name as the kernel spells it: dashes become underscores.
dk_module_key() {
    local name=${1##*/}
    name=${name%.ko*}
    printf '%s\n' "${name//-/_}"
}

# Generates modules.dep (and .alias, .symbols) for a module tree with busybox
# depmod; Debian's image packages ship no modules.dep (postinst makes it).
dk_depmod() {
    local root=$1 release=$2
    busybox depmod -b "$root" "$release" || dk_die "depmod failed for $root"
}

# Copies the named modules and everything they depend on from the full tree
# $src_root into $dest_root (same lib/modules/<release>/ layout), then runs depmod
# on the result. Names not found are reported, not fatal (some configs build them in).
# Modules compressed as .ko.xz/.ko.zst are decompressed: busybox insmod cannot
# load compressed modules.
dk_copy_modules() {
    local src_root=$1 dest_root=$2 release=$3
    shift 3
    local src="$src_root/lib/modules/$release" dest="$dest_root/lib/modules/$release"
    [[ -f "$src/modules.dep" ]] || dk_depmod "$src_root" "$release"
    mkdir -p "$dest"
    local name
    for name in "$@"; do
        dk_copy_module_with_deps "$src" "$dest" "$name"
    done
    cp "$src/modules.builtin" "$src/modules.order" "$dest/" 2>/dev/null || true
    dk_decompress_modules "$dest"
    dk_depmod "$dest_root" "$release" >/dev/null
}

dk_copy_module_with_deps() {
    local src=$1 dest=$2 name=$3 key line path
    key=$(dk_module_key "$name")
    line=$(dk_modules_dep_line "$src/modules.dep" "$key")
    if [[ -z "$line" ]]; then
        if grep -q -E "/${key//_/[-_]}\.ko" "$src/modules.builtin" 2>/dev/null; then
            return 0
        fi
        dk_log "note: module $name not in this kernel (skipped)"
        return 0
    fi
    for path in ${line/:/}; do
        [[ -f "$dest/$path" ]] && continue
        mkdir -p "$dest/$(dirname "$path")"
        cp "$src/$path" "$dest/$path"
    done
}

# The modules.dep line ("path: dep dep...") of the module with key $2.
dk_modules_dep_line() {
    local depfile=$1 key=$2 pattern
    pattern=${key//_/[-_]}
    grep -E "(^|/)${pattern}\.ko(\.xz|\.zst|\.gz)?:" "$depfile" | head -n1 || true
}

dk_decompress_modules() {
    local dir=$1 ko
    while IFS= read -r -d '' ko; do
        case "$ko" in
            *.ko.xz) xz -d "$ko" ;;
            *.ko.zst) zstd -dq --rm "$ko" ;;
            *.ko.gz) gzip -d "$ko" ;;
        esac
    done < <(find "$dir" -name '*.ko.*' -print0)
}

# Installs static busybox as /bin/busybox with a symlink for every applet.
dk_install_busybox() {
    local root=$1 busybox applet
    busybox=$(command -v busybox) || dk_die "busybox not found (apt-get install busybox-static)"
    file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
        dk_die "$busybox is not static (apt-get install busybox-static)"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin}
    cp "$busybox" "$root/bin/busybox"
    for applet in $("$busybox" --list-full); do
        [[ -e "$root/$applet" || -L "$root/$applet" ]] && continue
        ln -s /bin/busybox "$root/$applet"
    done
}

# Creates the usual mount points and /init of an initramfs root.
dk_make_initramfs_skeleton() {
    local root=$1 init_script=$2
    mkdir -p "$root"/{dev,proc,sys,tmp,run,root,etc,mnt}
    install -m 0755 "$init_script" "$root/init"
}

# One newc cpio header + name for a file-less entry (directory, device node...).
# newc: "070701" then 13 8-digit hex fields, the NUL-terminated name, padding to 4.
dk_cpio_entry() {
    local name=$1 mode=$2 rdev_major=$3 rdev_minor=$4 ino=$5
    local namesize=$((${#name} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
        "$ino" "$mode" 0 0 1 0 0 0 0 "$rdev_major" "$rdev_minor" "$namesize" 0 "$name"
    local pad=$(((4 - (110 + namesize) % 4) % 4))
    head -c "$pad" /dev/zero
}

# Packs directory $1 into gzip'd newc cpio $2, owned by root. /dev/console is
# added as a hand-written entry so that building needs no mknod (no root):
# the kernel opens it for init's stdin/stdout before init runs.
dk_pack_initramfs() {
    local root=$1 out=$2
    {
        (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
        dk_cpio_entry dev/console $((0020600)) 5 1 999999
        dk_cpio_entry TRAILER!!! 0 0 0 0
    } | gzip -9n >"$out.tmp"
    mv "$out.tmp" "$out"
}

# Stamp: what the outputs were built from. Rebuild when it changes.
dk_stamp_text() {
    local meta=$1 pkg=$2 version=$3
    shift 3
    printf 'package %s %s %s\n' "$meta" "$pkg" "$version"
    sha256sum "$@" | sed 's|  .*/| |'
}

# Prints "package version" recorded in stamp $1 for metapackage $2, provided that
# apt's package lists are not newer than the stamp (then apt cannot know of a
# newer kernel). Saves the apt-cache queries (~1 s) on every cached run.
dk_stamp_package() {
    local stamp=$1 meta=$2 newer
    [[ -f "$stamp" ]] || return 1
    newer=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -newer "$stamp" 2>/dev/null | head -n1)
    [[ -z "$newer" ]] || return 1
    sed -n "1s/^package $meta \([^ ]*\) \([^ ]*\)\$/\1 \2/p" "$stamp" | grep .
}

# True when stamp file $1 holds exactly text $2 and all later arguments exist.
dk_stamp_matches() {
    local stamp=$1 text=$2 f
    shift 2
    [[ -f "$stamp" && "$(cat "$stamp")" == "$text" ]] || return 1
    for f in "$@"; do
        [[ -e "$f" ]] || return 1
    done
}

# The common flow of an image build, skipped while the stamp says it is current:
#   dk_cached_build OUT_DIR META FORCE BUILD_FUNCTION [FILE...]
# FILEs (scripts, init) are hashed into the stamp. BUILD_FUNCTION is called as
# BUILD_FUNCTION PACKAGE WORK_DIR and writes OUT_DIR/{vmlinuz,initramfs.cpio.gz}.
dk_cached_build() {
    local out=$1 meta=$2 force=$3 build_function=$4
    shift 4
    mkdir -p "$out"
    dk_lock_cache "$out"
    local pkg version cached stamp_text
    if cached=$(dk_stamp_package "$out/stamp" "$meta"); then
        read -r pkg version <<<"$cached"
    else
        pkg=$(dk_resolve_image_package "$meta")
        version=$(dk_package_version "$pkg")
    fi
    stamp_text=$(dk_stamp_text "$meta" "$pkg" "$version" "$@")
    if [[ $force -eq 0 ]] && dk_stamp_matches "$out/stamp" "$stamp_text" "$out/vmlinuz" "$out/initramfs.cpio.gz"; then
        [[ "${DK_QUIET_WHEN_CURRENT:-0}" == 1 ]] || dk_log "up to date: $out ($pkg $version)"
        return 0
    fi
    dk_log "assembling $out from $pkg $version"
    rm -f "$out/stamp"
    DK_WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ember-image.XXXXXX")
    trap 'rm -rf "$DK_WORK_DIR"' EXIT
    "$build_function" "$pkg" "$DK_WORK_DIR"
    rm -rf "$DK_WORK_DIR"
    trap - EXIT
    printf '%s\n' "$stamp_text" >"$out/stamp"
    dk_log "done: $out"
}

# Takes an exclusive lock on the cache for the rest of the calling process, so
# that parallel test runs do not assemble the same image twice.
dk_lock_cache() {
    local dir=$1
    mkdir -p "$dir"
    exec {DK_LOCK_FD}>"$dir/.lock"
    flock "$DK_LOCK_FD"
}
