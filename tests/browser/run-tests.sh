#!/bin/sh
# Runs the browser tests (CTest's browser_tests): installs playwright-core as
# package-lock.json pins it when node_modules is missing or older than the lock
# file, then Node's test runner, which prints TAP ("# pass N", "# fail N") and
# exits non-zero when a test fails.
set -eu
cd "$(dirname "$0")"
node=${CGW_NODE:-node}
npm=${CGW_NPM:-npm}

major=$("$node" -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "browser tests: Node.js 20 or later is needed (playwright-core), found $("$node" --version)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  "$npm" ci --no-audit --no-fund
fi
exec "$node" --test --test-reporter=tap ./*.test.js
