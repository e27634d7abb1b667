#!/bin/bash
# docker-entrypoint.sh - start PostgreSQL the way the official image does:
# on the first start (no PG_VERSION in $PGDATA) create the cluster from the
# POSTGRES_* variables, then run the server in the foreground.
#
# First start, in order: initdb as POSTGRES_USER (default postgres) with
# POSTGRES_PASSWORD and POSTGRES_INITDB_ARGS; allow password logins from any
# host (POSTGRES_HOST_AUTH_METHOD, default scram-sha-256) and listen on all
# addresses; start a temporary server on the Unix socket only, create
# POSTGRES_DB (default: the user's name), run /docker-entrypoint-initdb.d/
# (*.sh, *.sql, *.sql.gz); stop it. Each POSTGRES_* variable may instead be
# given as a file with the _FILE suffix (Docker secrets).
#
# Started as root, it fixes the ownership of the data folder and the socket
# folder and re-runs itself as the postgres user; the server never runs as
# root. A container that exits half way through the first start leaves a
# data folder the next start refuses to reuse silently (initdb fails on a
# non-empty folder), as the official image does.
set -Eeuo pipefail

log() { printf 'docker-entrypoint: %s\n' "$*" >&2; }

# VAR or VAR_FILE (not both) into VAR, with a default.
file_env() {
  local var="$1" def="${2:-}" file="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file:-}" ]; then
    log "both $var and $file are set; set one"
    exit 1
  fi
  local val="$def"
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!file:-}" ]; then
    val="$(<"${!file}")"
  fi
  export "$var=$val"
  unset "$file"
}

init_cluster() {
  umask 077
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    log "the database is not initialized and no superuser password is set:"
    log "set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to allow"
    log "every connection without a password, which is unsafe)"
    exit 1
  fi

  log "initializing a new cluster in $PGDATA"
  local pwargs=() pwfile=""
  if [ -n "$POSTGRES_PASSWORD" ]; then
    pwfile="$(mktemp)" # private to postgres (umask 077 below); removed at once
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    pwargs=(--pwfile="$pwfile")
  fi
  # POSTGRES_INITDB_ARGS is a string of options: split it like a shell would.
  local rc=0
  eval 'initdb --username="$POSTGRES_USER" "${pwargs[@]}" '"$POSTGRES_INITDB_ARGS" >/dev/null || rc=$?
  [ -z "$pwfile" ] || rm -f "$pwfile"
  [ "$rc" -eq 0 ] || exit "$rc"

  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A temporary server only local processes can reach, for the setup steps.
  PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD" \
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      */\*) ;;
      *) log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  log "initialized; starting the server"
}

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
    # Only the top folder: a volume's contents already belong to postgres.
    [ "$(stat -c %u "$PGDATA")" = 999 ] || chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA" 2>/dev/null || true
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    init_cluster
  fi
  unset POSTGRES_PASSWORD PGPASSWORD
fi

exec "$@"
