#!/usr/bin/env bash
# setup.sh - what the benchmark needs beyond the project's own setup: PySpark
# (Spark's local mode; it brings its own jars and needs a Java 17+ runtime)
# in .venv, a JRE from Debian, and an optimised millrace build in build-bench/.
# The test suite needs none of this, so scripts/setup.sh does not install it.
#
#   bash bench/setup.sh            everything, then build build-bench/
#   bash bench/setup.sh --no-build packages only
#
# build-bench/ builds the working tree as it is, or, with MILLRACE_BENCH_REV
# set (a commit, e.g. HEAD), exactly that commit: exported with git archive
# into build-bench-src/, so uncommitted edits are not measured.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --no-build

if ! command -v java >/dev/null 2>&1; then
  echo "bench/setup: installing a Java runtime for Spark" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
fi

BENCH_TOOLS=(pyspark numpy)
stamp=".venv/.millrace-bench-tools"
if [ "$(cat "$stamp" 2>/dev/null)" != "${BENCH_TOOLS[*]}" ] || ! .venv/bin/python -c "import pyspark" 2>/dev/null; then
  echo "bench/setup: installing ${BENCH_TOOLS[*]} into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check "${BENCH_TOOLS[@]}"
  printf '%s' "${BENCH_TOOLS[*]}" >"$stamp"
fi

if [ "${1:-}" != "--no-build" ]; then
  build="${MILLRACE_BENCH_BUILD:-build-bench}"
  src=.
  if [ -n "${MILLRACE_BENCH_REV:-}" ]; then
    src=build-bench-src
    rev="$(git rev-parse --verify "$MILLRACE_BENCH_REV^{commit}")"
    if [ "$(cat "$src/.rev" 2>/dev/null)" != "$rev" ]; then
      rm -rf "$src" && mkdir -p "$src"
      git archive "$rev" | tar -x -C "$src"
      echo "$rev" >"$src/.rev"
    fi
  fi
  if [ "$(cat "$build/.src" 2>/dev/null)" != "$src" ]; then
    rm -rf "$build"
  fi
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    echo "$src" >"$build/.src"
  fi
  cmake --build "$build" -j"$(nproc)" --target millrace millrace-coordinator millrace-executor >/dev/null
fi
