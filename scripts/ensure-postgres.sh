#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with trust auth and a `test`
# database: use the running one, start an installed one, or install Debian's.
set -uo pipefail
answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1 || ! answers; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "PostgreSQL missing and not root: PG tests will be skipped" >&2; exit 0; }
    echo "==> installing PostgreSQL from Debian"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! grep -q "hocvuso-trust" "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust # hocvuso-trust\nlocal all all trust # hocvuso-trust' "$hba"
  fi
  sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" /etc/postgresql/$ver/main/postgresql.conf
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
  for _ in $(seq 1 30); do answers && break; sleep 1; done
fi
if answers; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null 2>&1 || true
  echo "==> PostgreSQL ready on 127.0.0.1:5432"
else
  echo "warning: PostgreSQL did not start; PG tests will be skipped" >&2
fi
