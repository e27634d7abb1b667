#!/usr/bin/env bash
# pg_test_server.sh - start or stop a throwaway PostgreSQL server for tests and benchmarks.
#
#   scripts/pg_test_server.sh start DIR   initdb into DIR/data, start on a free
#                                          loopback port, print
#                                          MILLRACE_TEST_PG_DSN=<libpq dsn>
#   scripts/pg_test_server.sh stop DIR    stop the server and remove DIR
#
# The server runs as the `postgres` OS user when started by root (PostgreSQL
# refuses to run as root), so DIR is created and chowned to that user; every
# folder above DIR must be traversable by it (a folder under /tmp made with
# mktemp -d is fine once it is chowned, as scripts/test.sh does).  Run by
# another user, the server runs as that user.
#
# Access: TCP on 127.0.0.1 only, trust authentication (no password), plus a
# Unix socket inside DIR.  Durability is switched off (fsync, full page
# writes, synchronous commit): the data is thrown away anyway, and tests and
# the load benchmark compare millrace with psql on the same server.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg_test_server: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin" \
    "(install the postgresql package: scripts/setup.sh does)" >&2
  exit 1
fi

# as_pg CMD...: runs CMD as the server's owner
if [ "$(id -u)" -eq 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  if ! as_pg test -w "$dir"; then
    echo "pg_test_server: $dir is not writable by the server's user (every folder above it" \
      "must be traversable by it)" >&2
    exit 1
  fi
  if ! as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1; then
    echo "pg_test_server: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
  fi
  # trust on loopback TCP and the private socket only
  as_pg sh -c "printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >'$dir/data/pg_hba.conf'"
  started=""
  for _ in 1 2 3 4 5; do
    port="$(free_port)"
    as_pg sh -c "cat >>'$dir/data/postgresql.conf'" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 60
EOF
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      started=1
      break
    fi
    # the port was taken between choosing and binding: choose again
  done
  if [ -z "$started" ]; then
    echo "pg_test_server: the server did not start; its log:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    exit 1
  fi
  echo "$port" >"$dir/port" 2>/dev/null || as_pg sh -c "echo $port >'$dir/port'"
  echo "MILLRACE_TEST_PG_DSN=host=127.0.0.1 port=$port user=postgres dbname=postgres"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  usage
  ;;
esac
