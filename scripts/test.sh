#!/usr/bin/env bash
# Runs every Ember test: unit (Criterion), integration (test guests on this host's /dev/kvm, bad
# input) and nested (real Linux guests inside QEMU TCG with a genuine AMD SVM+NPT /dev/kvm).
# Installs what it needs first. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The API tests validate every request and response with an off-the-shelf OpenAPI proxy (npm).
tests/api/install-prism.sh || echo "test: Prism unavailable; the validated API test will be skipped" >&2
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build

set +e
meson test -C build --print-errorlogs --num-processes 2 "$@"
rc=$?
set -e

# One closing line a person (and CI) can read, counted from meson's own log.
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    counts[r] = counts.get(r, 0) + 1
passed = counts.get("OK", 0) + counts.get("EXPECTEDFAIL", 0)
skipped = counts.get("SKIP", 0)
failed = sum(counts.values()) - passed - skipped
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
