#!/usr/bin/env bash
# Installs Stoplight Prism (the OpenAPI/Swagger validating proxy the API tests put in front of
# Ember) from the npm registry into $EMBER_CACHE/prism (default <repo>/.cache/prism), and checks
# that socat is there to bridge Prism's TCP to Ember's Unix socket. Idempotent.
set -euo pipefail
PRISM_VERSION=5.14.2
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${EMBER_CACHE:-$root/.cache}/prism
bin=$dir/node_modules/.bin/prism
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$PRISM_VERSION" ]; then
	exit 0
fi
command -v npm >/dev/null || { echo "install-prism.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@stoplight/prism-cli@$PRISM_VERSION" >&2
"$bin" --version >/dev/null
command -v socat >/dev/null || echo "install-prism.sh: also install socat (apt-get install socat)" >&2
