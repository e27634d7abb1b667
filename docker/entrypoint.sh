#!/bin/bash
# entrypoint.sh - start a millrace daemon in a container, with the settings a
# container needs (listen on all interfaces, data under /data, executors
# advertise their own address), or check one's health.
#
#   coordinator [ARGS...]   millrace-coordinator; ARGS come last and override
#   executor [ARGS...]      millrace-executor; ARGS come last and override
#   keygen DIR              make the cluster's CURVE key pair in DIR unless it is
#                           there, authorized as DIR/authorized/cluster.key
#                           (every daemon shares it); exit
#   healthcheck             exit 0 when the daemon in this container is well
#   anything else           run as given (e.g. `millrace submit ...`)
#
# Environment (all optional):
#   MILLRACE_HTTP            coordinator REST address (default 0.0.0.0:8080)
#   MILLRACE_BIND            coordinator control endpoint (default tcp://0.0.0.0:7070)
#   MILLRACE_DATA_ROOT       data root of both daemons (default /data)
#   MILLRACE_COORDINATOR_ENDPOINT  where executors find the coordinator
#                            (default tcp://coordinator:7070, the compose service)
#   MILLRACE_SHUFFLE_PORT    executor shuffle port (default 7071)
#   MILLRACE_ADVERTISE_HOST  the host peers use to reach this executor
#                            (default: this container's IP address)
#   MILLRACE_TOKEN           API token, read by the coordinator itself
#   MILLRACE_CURVE_KEYS      a key folder: both daemons run with --curve-keys on
#                            it (a missing pair stops them: never silently open)
#
# The daemon replaces this script (exec), so it is PID 1 and gets SIGTERM
# from `docker stop` directly; both daemons stop cleanly on it.
set -euo pipefail

data_root="${MILLRACE_DATA_ROOT:-/data}"
curve=()
if [ -n "${MILLRACE_CURVE_KEYS:-}" ]; then
  curve=(--curve-keys "$MILLRACE_CURVE_KEYS")
fi

# This container's address on its network: the first one `hostname -i`
# reports, else the hostname (which Docker's DNS resolves to the same).
own_host() {
  local ips
  ips="$(hostname -i 2>/dev/null || true)"
  for ip in $ips; do
    case "$ip" in
      127.*|::1|*:*) ;;
      *) printf '%s' "$ip"; return ;;
    esac
  done
  hostname
}

# A GET /healthz over bash's /dev/tcp: the runtime image carries no curl.
coordinator_healthy() {
  local port="${MILLRACE_HTTP:-0.0.0.0:8080}"
  port="${port##*:}"
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  local status
  IFS= read -r -t 5 status <&3 || return 1
  exec 3<&-
  case "$status" in
    "HTTP/1."[01]" 200"*) return 0 ;;
    *) return 1 ;;
  esac
}

# PID 1 is the daemon (it replaced this script); well while it runs.
pid1_is() {
  local argv0 state
  argv0="$(tr '\0' '\n' </proc/1/cmdline 2>/dev/null | head -n 1)"
  [ "${argv0##*/}" = "$1" ] || return 1
  state="$(awk '/^State:/ {print $2}' /proc/1/status)"
  [ "$state" != "Z" ]
}

case "${1:-coordinator}" in
  coordinator)
    shift || true
    exec millrace-coordinator --http "${MILLRACE_HTTP:-0.0.0.0:8080}" \
      --bind "${MILLRACE_BIND:-tcp://0.0.0.0:7070}" --data-root "$data_root" "${curve[@]}" "$@"
    ;;
  executor)
    shift
    port="${MILLRACE_SHUFFLE_PORT:-7071}"
    host="${MILLRACE_ADVERTISE_HOST:-$(own_host)}"
    exec millrace-executor \
      --coordinator "${MILLRACE_COORDINATOR_ENDPOINT:-tcp://coordinator:7070}" \
      --bind "tcp://0.0.0.0:$port" --advertise "tcp://$host:$port" \
      --data-root "$data_root" "${curve[@]}" "$@"
    ;;
  keygen)
    dir="${2:?keygen wants a folder}"
    if [ ! -f "$dir/secret.key" ]; then
      millrace keygen "$dir" >/dev/null
      mkdir -p -m 700 "$dir/authorized"
      cp "$dir/public.key" "$dir/authorized/cluster.key"
      echo "keygen: made the cluster's key pair in $dir"
    else
      echo "keygen: $dir already holds the cluster's key pair"
    fi
    ;;
  healthcheck)
    if pid1_is millrace-coordinator; then
      coordinator_healthy
    elif pid1_is millrace-executor; then
      exit 0
    else
      echo "healthcheck: no millrace daemon is running as PID 1" >&2
      exit 1
    fi
    ;;
  *)
    exec "$@"
    ;;
esac
