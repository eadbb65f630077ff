#!/usr/bin/env bash
# `ember run --firmware` on this host's /dev/kvm with a 64 KiB firmware image made here: the image
# must be mapped so that it ends at 4 GiB and the BSP must start at the reset vector (real mode,
# F000:FFF0 with CS base 0xFFFF0000). The image's reset vector jumps to code that selects fw_cfg's
# signature (port 0x510), reads its first byte from port 0x511 and writes it to the test exit
# port: ember must exit with status 0x51 ('Q' of "QEMU"). Also the bad-image messages.
# Usage: firmware-reset-vector.sh EMBER
set -euo pipefail
ember=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
expect="$(dirname "$0")/expect-run.sh"
size=$((64 * 1024))

# 16-bit code at image offset size-0x80 (CS:IP F000:FF80):
#   mov dx,0x510; xor ax,ax; out dx,ax      select FW_CFG_SIGNATURE
#   mov dx,0x511; in al,dx                  its first byte
#   movzx eax,al; mov dx,0x501; out dx,eax  exit with it
#   hlt; jmp $-1
code='\xba\x10\x05\x31\xc0\xef\xba\x11\x05\xec\x66\x0f\xb6\xc0\xba\x01\x05\x66\xef\xf4\xeb\xfd'
# At the reset vector (offset size-0x10, IP 0xFFF0): jmp short to 0xFF80 (rel8 -0x72).
reset='\xeb\x8e'
head -c $size /dev/zero >"$dir/fw.fd"
printf "$code" | dd of="$dir/fw.fd" bs=1 seek=$((size - 0x80)) conv=notrunc status=none
printf "$reset" | dd of="$dir/fw.fd" bs=1 seek=$((size - 0x10)) conv=notrunc status=none

"$expect" --status 81 -- "$ember" run --firmware "$dir/fw.fd"

: >"$dir/empty.fd"
"$expect" --status 1 --lines 1 --expect "firmware '$dir/empty.fd' is empty" -- \
	"$ember" run --firmware "$dir/empty.fd"
head -c 5000 /dev/zero >"$dir/odd.fd"
"$expect" --status 1 --lines 1 --expect "not a whole number of 4 KiB pages" -- \
	"$ember" run --firmware "$dir/odd.fd"
"$expect" --status 1 --lines 1 --expect "cannot open firmware '$dir/none.fd'" -- \
	"$ember" run --firmware "$dir/none.fd"
"$expect" --status 1 --lines 1 --expect "cannot open kernel '$dir/none'" -- \
	"$ember" run --firmware "$dir/fw.fd" --kernel "$dir/none"
"$expect" --status 1 --lines 1 --expect "--initrd needs --kernel" -- \
	"$ember" run --firmware "$dir/fw.fd" --initrd "$dir/fw.fd"
"$expect" --status 1 --lines 1 --expect "not supported yet" -- \
	"$ember" run --firmware "$dir/fw.fd" --memory 3G
echo "ok: firmware boots from its reset vector; bad images refused with one line"
