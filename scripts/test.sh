#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs the system programs the
# tests talk to (when run as root and they are missing), the npm packages,
# builds, and runs every test. Extra arguments filter test files by name.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

# Some tests hold a thousand client and server sockets open at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
npx tsc -p tsconfig.test.json
node scripts/run-tests.mjs "$@"
