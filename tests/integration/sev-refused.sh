#!/usr/bin/env bash
# `ember run --sev snp` on a host that cannot run an SEV-SNP guest (this one: no SNP VM type, no
# kvm_amd, no /dev/sev) is refused before any VM exists: exit status 1, one line, naming SEV-SNP.
# Also the three modes' usage checks. Usage: sev-refused.sh EMBER
set -euo pipefail
ember=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
expect="$(dirname "$0")/expect-run.sh"
: >"$dir/OVMF.fd"
: >"$dir/vmlinuz"

"$expect" --status 1 --lines 1 --expect "--sev snp: " --expect "SEV-SNP" -- \
	"$ember" run --sev snp --firmware "$dir/OVMF.fd" --kernel "$dir/vmlinuz"
"$expect" --status 1 --lines 1 --expect "--sev sev-es: " --expect "SEV-ES" -- \
	"$ember" run --sev sev-es --firmware "$dir/OVMF.fd"
"$expect" --status 1 --lines 1 --expect "lacks the ES bit" -- \
	"$ember" run --sev sev-es --sev-policy 0x1 --firmware "$dir/OVMF.fd"
"$expect" --status 2 --lines 1 --expect "--sev needs --firmware" -- \
	"$ember" run --sev snp --kernel "$dir/vmlinuz"
"$expect" --status 2 --lines 1 --expect "is not sev, sev-es or snp" -- \
	"$ember" run --sev tdx --firmware "$dir/OVMF.fd"
# The guest owner's companions: each named, in one line, before anything runs.
"$expect" --status 2 --lines 1 --expect "SNP has no launch session or LAUNCH_SECRET" -- \
	"$ember" run --sev snp --firmware "$dir/OVMF.fd" --sev-secret "$dir/secret"
"$expect" --status 2 --lines 1 --expect "--sev-secret needs --sev-measurement-out" -- \
	"$ember" run --sev sev --firmware "$dir/OVMF.fd" --sev-dh-cert "$dir/a" \
	--sev-session "$dir/b" --sev-secret "$dir/secret"
"$expect" --status 2 --lines 1 --expect "--sev-measurement-out needs --sev" -- \
	"$ember" run --kernel "$dir/vmlinuz" --sev-measurement-out "$dir/m"
echo "ok: confidential guests refused with one line"
