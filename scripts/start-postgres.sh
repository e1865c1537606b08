#!/usr/bin/env bash
# Starts Debian's PostgreSQL for the tests (the service's scaled-out database) and prints
# the URL to reach it. Idempotent.
#
# Only the URL goes to standard output, because the caller captures it as the URL:
# pg_ctlcluster prints notices such as "Removed stale pid file." on stdout (a fresh CI host
# did). The cluster tools run with stdout sent to stderr, so the server they start does not
# inherit the caller's capture pipe either (which would keep "$(...)" waiting forever).
set -euo pipefail

start_cluster() {
  local version="$1"
  if ! pg_lsclusters -h | grep -q "^${version} main"; then
    pg_createcluster "$version" main
  fi
  if ! pg_lsclusters -h | grep -q "^${version} main .* online"; then
    pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.2
  done
  (cd /tmp && runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'dta-test'")
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "start-postgres: PostgreSQL $version did not come up on 127.0.0.1:5432"; return 1; }
}

VERSION="$(ls /usr/lib/postgresql | sort -V | tail -1)"
start_cluster "$VERSION" >&2
echo "postgres://postgres:dta-test@127.0.0.1:5432/postgres"
