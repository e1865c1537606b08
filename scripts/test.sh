#!/usr/bin/env bash
# The test command: set-up, type-check, lint, then every test (unit, integration with
# the real firewall in a network namespace, the real keystore, the real service).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== type-check"
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p browser/tsconfig.json   # the browser library: DOM types only, no Node
echo "== lint"
npx eslint --max-warnings 0 .
echo "== services"
DTA_TEST_PG_URL="$(bash scripts/start-postgres.sh)"
export DTA_TEST_PG_URL
if [[ ! "$DTA_TEST_PG_URL" =~ ^postgres://[^[:space:]]+$ ]]; then
  echo "test.sh: scripts/start-postgres.sh printed no PostgreSQL URL: '$DTA_TEST_PG_URL'" >&2
  exit 1
fi
echo "== service bundle"   # the tests start the service as it ships (tests/kit/service-bundle.ts)
node --import tsx scripts/build-service.ts
echo "== tests"
bash scripts/with-keyring.sh node --import tsx scripts/run-tests.ts "$@"
