#!/usr/bin/env bash
# test.sh - set up, build and run the whole test suite: unit tests (ctest)
# and end-to-end tests (pytest) on a normal -Werror build, then all of it
# again on a build with AddressSanitizer and UndefinedBehaviorSanitizer,
# then a short run of every libFuzzer target (scripts/fuzz.sh), then the
# Release build with gcc and with clang (compiled only, to keep every build
# type warning-free with both compilers), then the fresh-machine check
# (tests/fresh: setup, quick suite and demo in a clean Debian container) and
# the docker-compose cluster test when a Docker engine is present.
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    the normal build only (no sanitizers, no fuzzing,
#                              no Release builds, no containers)
#   MILLRACE_E2E="tests/e2e/test_run.py ..." scripts/test.sh --quick
#                              only these end-to-end tests (default tests/e2e)
#
# Builds: build/ (gcc, RelWithDebInfo), build-asan/ (gcc, Debug with
# sanitizers), build-release-gcc/ and build-release-clang/ (Release, compile
# only), build-fuzz/ (clang, scripts/fuzz.sh).  With -Werror, a warning in
# any of them fails the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-build
jobs="$(nproc)"

# PostgreSQL for the warehouse tests (test_warehouse_pg, tests/e2e/test_postgres.py):
# one throwaway server for both passes, stopped when this script exits.  A
# server already named by MILLRACE_TEST_PG_DSN is used as it is.
if [ -z "${MILLRACE_TEST_PG_DSN:-}" ]; then
  pg_dir="$(mktemp -d /tmp/millrace-pg.XXXXXX)"
  trap 'scripts/pg_test_server.sh stop "$pg_dir"' EXIT
  pg_line="$(scripts/pg_test_server.sh start "$pg_dir")"
  export MILLRACE_TEST_PG_DSN="${pg_line#MILLRACE_TEST_PG_DSN=}"
fi

run_suite() {
  local dir="$1"; shift
  echo "== build $dir $*"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null || cmake --build "$dir" -j1
  echo "== unit tests ($dir)"
  (cd "$dir" && ctest --output-on-failure -j"$jobs")
  echo "== end-to-end tests ($dir)"
  # shellcheck disable=SC2086 # a list of paths
  MILLRACE_BUILD="$PWD/$dir" .venv/bin/python -m pytest -q ${MILLRACE_E2E:-tests/e2e}
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMR_SANITIZE=OFF
if [ "${1:-}" != "--quick" ]; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMR_SANITIZE=ON
  echo "== fuzz: every parser's libFuzzer target (tests/fuzz/) for ${FUZZ_SECONDS:-15}s each"
  scripts/fuzz.sh
  # Release (-O3) finds warnings the other levels do not (gcc's flow
  # analysis); clang warns about other things.  Compiled, not tested.
  for cc in gcc clang; do
    echo "== build build-release-$cc (Release with $cc; compile only)"
    CC="$cc" cmake -S . -B "build-release-$cc" -DCMAKE_BUILD_TYPE=Release -DMR_SANITIZE=OFF >/dev/null
    cmake --build "build-release-$cc" -j"$jobs" >/dev/null || cmake --build "build-release-$cc" -j1
  done
fi
docker_skip() { # why a Docker check cannot run here, or nothing
  if [ "${1:-}" = "--quick" ]; then
    echo "--quick"
  elif ! command -v docker >/dev/null; then
    echo "no docker command"
  elif ! docker info >/dev/null 2>&1; then
    echo "\`docker info\` fails: no Docker engine reachable"
  fi
}
# A clean Debian container runs setup, the quick suite and the demo from the
# committed tree, so a package this machine has by accident but setup.sh
# does not install fails here (tests/fresh/run.sh). MILLRACE_SKIP_FRESH=1
# skips it on purpose.
fresh_skip="$(docker_skip "${1:-}")"
if [ -n "$fresh_skip" ]; then
  :
elif [ -n "${MILLRACE_SKIP_FRESH:-}" ]; then
  fresh_skip="MILLRACE_SKIP_FRESH is set"
elif ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  fresh_skip="not a git checkout (the check runs the committed tree)"
fi
if [ -z "$fresh_skip" ]; then
  echo "== fresh machine: setup, quick suite and demo in a clean container (tests/fresh)"
  tests/fresh/run.sh
else
  echo "== fresh-machine check skipped: $fresh_skip"
fi
# The docker-compose cluster (tests/cluster): real images, a real cluster.
# Runs whenever a Docker engine and the Compose tool are usable; says why not
# otherwise. MILLRACE_SKIP_CLUSTER=1 skips it on purpose.
cluster_skip="$(docker_skip "${1:-}")"
if [ -n "$cluster_skip" ]; then
  :
elif [ -n "${MILLRACE_SKIP_CLUSTER:-}" ]; then
  cluster_skip="MILLRACE_SKIP_CLUSTER is set"
elif ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  cluster_skip="no Compose tool (docker compose or docker-compose)"
fi
if [ -z "$cluster_skip" ]; then
  echo "== cluster test: docker-compose.yml with real Docker (tests/cluster)"
  .venv/bin/python -m pytest -q -s tests/cluster
else
  echo "== cluster test skipped: $cluster_skip"
fi
echo "== all tests passed"
