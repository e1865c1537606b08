#!/usr/bin/env bash
# Starts Debian's PostgreSQL for the tests (the service's scaled-out database) and prints
# the URL to reach it. Idempotent.
set -euo pipefail
# Only the URL goes to standard output: the cluster tools print notices there on some
# machines (a fresh CI host did), and the caller captures this script's output as the URL.
exec 3>&1 1>&2
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
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "start-postgres: PostgreSQL $VERSION did not come up on 127.0.0.1:5432" >&2; exit 1; }
echo "postgres://postgres:dta-test@127.0.0.1:5432/postgres" >&3
