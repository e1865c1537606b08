#!/usr/bin/env bash
# Starts Debian's PostgreSQL for the tests (the service's scaled-out database) and prints
# the URL to reach it. Idempotent.
set -euo pipefail
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | grep -q "^${VERSION} main"; then
  pg_createcluster "$VERSION" main >/dev/null
fi
if ! pg_lsclusters -h | grep -q "^${VERSION} main .* online"; then
  pg_ctlcluster "$VERSION" main start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.2
done
cd /tmp && runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'dta-test'" >/dev/null
echo "postgres://postgres:dta-test@127.0.0.1:5432/postgres"
