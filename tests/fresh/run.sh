#!/usr/bin/env bash
# run.sh - the README's promise on a fresh machine: in a clean Debian bookworm
# container, a clean export of the committed tree runs scripts/setup.sh, the
# quick test suite and the TICKIT demo; any failure fails this script.
#
#   tests/fresh/run.sh
#
# Why: a developer's machine has packages installed by accident; a step that
# needs one that scripts/setup.sh does not install passes there and fails for
# every new user.  Here nothing is installed but Debian's minimal base, so
# such a step fails.
#
# What runs in the container, as root, in /src (`git archive HEAD`: no build
# folder, no .venv, no data, no uncommitted change):
#   1. bash scripts/setup.sh          every Debian package and Python tool, then
#                                     the build (build/, RelWithDebInfo, gcc)
#   2. bash scripts/test.sh --quick   every unit test and the end-to-end
#                                     tests that use each outside tool (see
#                                     E2E below), with a PostgreSQL server
#                                     that scripts/pg_test_server.sh starts
#                                     as the postgres user
#   3. bash scripts/demo.sh           TICKIT data, the example DAG, the answers
# and, right after setup, a libFuzzer link check (clang -fsanitize=fuzzer
# on a one-line target): the full fuzz run is too slow to repeat here, but
# the packages it needs are checked.
# Nothing is cached between runs but the base image itself: packages, Python
# tools and the build come from scratch each time.  Measured on 2 cores
# shared with other work: 5.5 minutes in all at load 4 (setup 4: packages,
# Python tools, the build; the quick suite 1; the demo 6 s), 8.5 at load 6.
#
# The base image is debian:bookworm-slim (MILLRACE_BASE_IMAGE): pulled
# from a registry if it was, else built once by docker/build-base-image.sh
# (debootstrap; needs root, so sudo is used when not root).  The host's
# proxy variables (http_proxy, https_proxy, no_proxy, upper and lower case)
# and pip index settings are handed to the container, and the host's CA
# bundle (/etc/ssl/certs/ca-certificates.crt, or MILLRACE_FRESH_CA) is
# trusted by apt and pip inside, so a TLS-inspecting proxy works.
#
# Environment: MILLRACE_FRESH_TIMEOUT (seconds for the whole run in the
# container, default 1500), MILLRACE_FRESH_KEEP=1 keeps the container for a
# look after a failure (docker rm -f it afterwards).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The end-to-end tests run in the container: not all of them (the host runs
# them all; here they would take 4 minutes on 2 cores), but between them
# every outside package the suite uses: PostgreSQL, psql and psycopg
# (test_postgres), numpy through scripts/gen_tickit.py and DuckDB
# (test_tickit), schemathesis, hypothesis, jsonschema, prometheus_client and
# requests (test_openapi), the CLI and SQLite (test_run).
E2E="tests/e2e/test_postgres.py tests/e2e/test_tickit.py tests/e2e/test_openapi.py tests/e2e/test_run.py"

image="${MILLRACE_BASE_IMAGE:-debian:bookworm-slim}"
ca="${MILLRACE_FRESH_CA:-/etc/ssl/certs/ca-certificates.crt}"
limit="${MILLRACE_FRESH_TIMEOUT:-1500}"
name="millrace-fresh-$$"
log() { printf 'fresh: %s\n' "$*" >&2; }

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine reachable (docker info fails)"
  exit 1
fi
if ! docker image inspect "$image" >/dev/null 2>&1; then
  log "base image $image is missing: building it with docker/build-base-image.sh"
  if [ "$(id -u)" -eq 0 ]; then
    MILLRACE_BASE_IMAGE="$image" docker/build-base-image.sh
  else
    sudo MILLRACE_BASE_IMAGE="$image" docker/build-base-image.sh
  fi
fi

commit="$(git rev-parse --short HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  log "note: uncommitted changes are not part of this check (it runs commit $commit)"
fi

# /src (build, .venv, data), /tmp (test files, PostgreSQL) and pip's cache
# are in memory: the container's overlay file system makes the unit tests
# that write large files several times slower.  Packages still install on
# the image's own file system.
args=(--detach --name "$name" --workdir /src --env DEBIAN_FRONTEND=noninteractive
  --tmpfs /src:rw,exec,size=8g --tmpfs /tmp:rw,exec,mode=1777,size=8g
  --tmpfs /root/.cache:rw,size=4g)
for v in http_proxy https_proxy no_proxy ftp_proxy all_proxy \
         HTTP_PROXY HTTPS_PROXY NO_PROXY FTP_PROXY ALL_PROXY \
         PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && args+=(--env "$v=${!v}")
done
if [ -f "$ca" ]; then
  # Mounted beside the system bundle, not over it: a package that installs
  # ca-certificates rewrites that file, which a read-only mount would fail.
  inca=/usr/local/share/millrace-host-ca.crt
  args+=(--volume "$(realpath "$ca"):$inca:ro"
    --env "PIP_CERT=$inca" --env "REQUESTS_CA_BUNDLE=$inca" --env "SSL_CERT_FILE=$inca"
    --env "CURL_CA_BUNDLE=$inca")
fi

cleanup() {
  if [ -n "${MILLRACE_FRESH_KEEP:-}" ]; then
    log "container $name kept (docker rm -f $name)"
  else
    docker rm -f "$name" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

docker run "${args[@]}" "$image" sleep infinity >/dev/null
if [ -f "$ca" ]; then
  # apt trusts it before its first download (for https mirrors and proxies).
  docker exec "$name" sh -c "printf 'Acquire::https::CAInfo \"%s\";\n' $inca \
    >/etc/apt/apt.conf.d/99millrace-host-ca"
fi
# dpkg syncs every file it unpacks; on a container's overlay that is most
# of the install time, and a throwaway container needs no crash safety.
docker exec "$name" sh -c 'echo force-unsafe-io >/etc/dpkg/dpkg.cfg.d/millrace-unsafe-io'
docker exec "$name" mkdir -p /src
git archive --format=tar HEAD | docker exec -i "$name" tar -x -C /src
log "commit $commit in a clean $image container ($name)"

# Each step is timed; the first failure ends the run with its output.
steps='
set -euo pipefail
step() {
  local what="$1"; shift
  local t0=$SECONDS
  echo "== fresh: $what"
  "$@"
  echo "== fresh: $what took $((SECONDS - t0))s"
}
fuzz_link() {
  printf "%s\n" "#include <stddef.h>" "#include <stdint.h>" \
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }" \
    >/tmp/fuzz_link.c
  clang -fsanitize=fuzzer,address,undefined /tmp/fuzz_link.c -o /tmp/fuzz_link
  /tmp/fuzz_link -runs=10 2>/dev/null
}
step "scripts/setup.sh" bash scripts/setup.sh
step "libFuzzer links (the packages scripts/fuzz.sh needs)" fuzz_link
step "scripts/test.sh --quick (e2e: $E2E)" env MILLRACE_E2E="$E2E" PYTEST_ADDOPTS=--durations=8 \
  bash scripts/test.sh --quick
step "scripts/demo.sh" bash scripts/demo.sh
'
t0=$SECONDS
if timeout "$limit" docker exec --env E2E="$E2E" "$name" bash -c "$steps"; then
  log "passed in $((SECONDS - t0))s: setup, quick suite and demo on a clean $image"
else
  rc=$?
  [ "$rc" -eq 124 ] && log "timed out after ${limit}s"
  log "FAILED after $((SECONDS - t0))s: a step above fails on a fresh machine" \
    "(a package scripts/setup.sh does not install?)"
  exit 1
fi
