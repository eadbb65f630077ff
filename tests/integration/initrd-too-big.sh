#!/usr/bin/env bash
# An initrd larger than guest RAM must be refused with one line, exit status 1.
set -euo pipefail
ember=$1 guest=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
truncate -s 200M "$dir/initrd.img" # sparse: costs no disk
exec "$(dirname "$0")/expect-run.sh" --status 1 --expect "does not fit" --lines 1 -- \
	"$ember" run --kernel "$guest" --initrd "$dir/initrd.img" --memory 64M
