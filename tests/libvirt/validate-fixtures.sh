#!/usr/bin/env bash
# The unit tests' domain fixtures are real libvirt XML: libvirt's own schema (virt-xml-validate,
# from libvirt-clients) accepts each one. Skips (77) without the validator.
#   validate-fixtures.sh FIXTURE_DIR
set -uo pipefail
dir=${1:?fixture directory}
command -v virt-xml-validate >/dev/null || { echo "virt-xml-validate is not installed"; exit 77; }
failed=0
for f in "$dir"/*.xml; do
	if out=$(virt-xml-validate "$f" domain 2>&1); then
		echo "ok: ${f##*/}"
	else
		echo "FAIL: ${f##*/}: $out"
		failed=1
	fi
done
exit $failed
