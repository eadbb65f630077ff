#!/bin/sh
# Builds and (optionally) runs the libFuzzer harness for the split virtqueue with clang,
# independently of the meson build (which uses gcc by default).
#   tests/fuzz/build-virtqueue-fuzz.sh [OUT_DIR] [SECONDS]
# With SECONDS, runs the fuzzer that long on a fresh corpus seeded with a few valid rings.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/virtqueue-fuzz}
seconds=${2:-}
cc=${CC_FUZZ:-clang}
if ! command -v "$cc" >/dev/null; then
	echo "build-virtqueue-fuzz: $cc not found (apt-get install clang)" >&2
	exit 1
fi
mkdir -p "$out/corpus"
"$cc" -std=c17 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$root" \
	"$root/tests/fuzz/virtqueue_fuzz.c" "$root/devices/virtio/virtqueue.c" \
	"$root/vmm/guest_mem.c" "$root/vmm/error.c" \
	-o "$out/virtqueue_fuzz"
echo "built $out/virtqueue_fuzz"

# Seeds: a queue of 4 with one 3-descriptor chain, and one indirect chain.
python3 - "$out/corpus" <<'PY'
import struct, sys
d = sys.argv[1]
def ring(qsize_log2, feat, descs, heads, avail_idx, data=b''):
    q = 1 << qsize_log2
    hdr = bytes([qsize_log2, feat, 63, 8])
    table = b''.join(struct.pack('<QIHH', *x) for x in descs).ljust(16 * q, b'\0')
    avail = struct.pack('<HH', 0, avail_idx) + b''.join(struct.pack('<H', h) for h in heads)
    avail = avail.ljust(6 + 2 * q, b'\0')
    return hdr + table + avail + data
open(d + '/seed-direct', 'wb').write(ring(2, 1, [(0x4000, 16, 1, 1), (0x4100, 64, 1, 2),
                                                  (0x4200, 1, 2, 0)], [0, 0], 2))
tbl = struct.pack('<QIHH', 0x5000, 16, 1, 1) + struct.pack('<QIHH', 0x5100, 32, 2, 0)
open(d + '/seed-indirect', 'wb').write(ring(3, 3, [(0x4000, 32, 4, 0)], [0], 1, tbl))
PY
if [ -n "$seconds" ]; then
	cd "$out"
	./virtqueue_fuzz -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 corpus
fi
