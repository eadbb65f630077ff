#!/usr/bin/env bash
# Runs the real `ember` binary: one `sev measure` (an SNP known answer), `sev verify-report` on the
# Milan report (verified, exit 0), the same report with one bit flipped (exit 1, one line), and a
# usage error (exit 2). Skips (exit 77) when the shared SEV vectors are absent.
#   sev-cli-test.sh EMBER VECTORS_DIR
set -uo pipefail

ember=$1 vectors=$2
if [ ! -f "$vectors/README.md" ]; then
	echo "SKIP: SEV vectors not found at $vectors"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

check() { # NAME WANT_STATUS WANT_TEXT CMD...
	local name=$1 want_status=$2 want_text=$3
	shift 3
	"$@" >"$tmp/out" 2>&1
	local rc=$?
	if [ "$rc" -ne "$want_status" ] || ! grep -qF -- "$want_text" "$tmp/out"; then
		echo "FAIL $name: status $rc (want $want_status), output:"
		sed 's/^/    /' "$tmp/out"
		failures=$((failures + 1))
	else
		echo "ok   $name"
	fi
}

att=$vectors/attestation
check measure_snp 0 \
	e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b \
	"$ember" sev measure --mode snp --firmware "$vectors/snp-measure/ovmf_AmdSev_suffix.bin" \
	--vcpus 1 --vcpu-type EPYC-v4 --vmm-type qemu --guest-features 0x21
check verify_report 0 "verified: certificate chain" \
	"$ember" sev verify-report "$att/report_milan.hex" --vcek "$att/vcek_milan.der" \
	--ask "$att/ask_milan.pem" --ark "$att/ark_milan.pem"

# Flip bit 7 of byte 21 (hex digits 42-43) of the report.
hex=$(tr -d ' \n\r\t' <"$att/report_milan.hex")
byte=$(printf '%02x' $((0x${hex:42:2} ^ 0x80)))
printf '%s\n' "${hex:0:42}$byte${hex:44}" >"$tmp/tampered.hex"
check verify_tampered 1 "FAILED: report signature does not verify" \
	"$ember" sev verify-report "$tmp/tampered.hex" --vcek "$att/vcek_milan.der" --quiet
lines=$(wc -l <"$tmp/out")
if [ "$lines" -ne 1 ]; then
	echo "FAIL verify_tampered: $lines lines of output, expected one"
	failures=$((failures + 1))
fi
check usage_error 2 "--mode is required" "$ember" sev measure --firmware /dev/null

[ "$failures" -eq 0 ] || exit 1
exit 0
