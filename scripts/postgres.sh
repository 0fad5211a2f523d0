#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests (the trail's PostgreSQL suite).
#   bash scripts/postgres.sh start   # idempotent; prints the database URL on stdout
#   bash scripts/postgres.sh stop
# Installs Debian's postgresql when initdb/pg_ctl are missing (needs root for apt-get). The
# server never runs as root: as root it runs as the `postgres` user (created if missing).
# Data in $VASOGUIDE_PG_DIR (default /tmp/vasoguide-pg-$UID), port $VASOGUIDE_PG_PORT (54329),
# trust authentication on 127.0.0.1 only, fsync on (the durability test needs real commits).
set -euo pipefail
cmd=${1:-start}
dir=${VASOGUIDE_PG_DIR:-/tmp/vasoguide-pg-$(id -u)}
port=${VASOGUIDE_PG_PORT:-54329}
db=vasoguide_test
url="postgresql+psycopg://postgres@127.0.0.1:${port}/${db}"

find_bin() {
  for d in "" /usr/local/bin /usr/lib/postgresql/*/bin; do
    if [ -z "$d" ]; then command -v "$1" 2>/dev/null && return 0
    elif [ -x "$d/$1" ]; then echo "$d/$1"; return 0; fi
  done
  return 1
}
if ! find_bin initdb >/dev/null || ! find_bin pg_ctl >/dev/null; then
  echo "postgres.sh: installing postgresql (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends postgresql >&2
fi
initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl); psql=$(find_bin psql || true)

as_owner() {  # run as the non-root cluster owner
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown postgres "$dir"; }
      chmod 700 "$dir"
      as_owner "$initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 >/dev/null
    fi
    if ! as_owner "$pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_owner "$pg_ctl" -D "$dir" -w -t 30 -l "$dir/server.log" start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=100" >/dev/null
    fi
    if [ -n "$psql" ]; then
      exists=$(as_owner "$psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" postgres)
      [ "$exists" = 1 ] || as_owner "$psql" -h 127.0.0.1 -p "$port" -U postgres -qc \
        "CREATE DATABASE $db" postgres >/dev/null
    fi
    echo "$url"
    ;;
  stop)
    [ -f "$dir/PG_VERSION" ] && as_owner "$pg_ctl" -D "$dir" -m fast stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
