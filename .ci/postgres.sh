#!/usr/bin/env bash
# A throwaway local PostgreSQL for the store tests: `start` installs it (apt) if missing, starts it and prints the
# SQLAlchemy URL; `url` prints the URL; `stop` stops it. Idempotent: start twice or stop twice is fine.
# initdb refuses root, so as root the cluster belongs to the `postgres` user the package creates.
set -euo pipefail
PORT=${AGENTFACTORY_PG_PORT:-55432}
DIR=${AGENTFACTORY_PG_DIR:-/tmp/agentfactory-pg}
DB=agentfactory_test
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install() {
  [ -n "$(bindir)" ] && return 0
  command -v apt-get >/dev/null || { echo "postgres.sh: no PostgreSQL and no apt-get; install PostgreSQL" >&2; exit 1; }
  echo "postgres.sh: installing postgresql with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; }
}

# run a command as the cluster's owner: `postgres` when we are root, ourselves otherwise
as_owner() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }

running() { [ -n "$(bindir)" ] && [ -f "$DIR/data/PG_VERSION" ] && as_owner "'$(bindir)/pg_ctl' status -D '$DIR/data'" >/dev/null 2>&1; }

start() {
  install
  local bin; bin=$(bindir)
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_owner "'$bin/initdb' -A trust -U postgres -E UTF8 -D '$DIR/data'" >/dev/null
  fi
  if ! running; then
    as_owner "'$bin/pg_ctl' start -w -t 60 -D '$DIR/data' -l '$DIR/server.log' \
              -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off'" >/dev/null \
      || { cat "$DIR/server.log" >&2; exit 1; }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAq)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE $DB" >/dev/null
  fi
  echo "$URL"
}

stop() {
  if running; then as_owner "'$(bindir)/pg_ctl' stop -w -m fast -D '$DIR/data'" >/dev/null; fi
  return 0
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
