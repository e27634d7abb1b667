#!/usr/bin/env bash
# setup.sh - install what millrace needs and build it. Idempotent: quiet and
# quick when everything is already in place.
#
#   scripts/setup.sh            system packages, Python test tools, build/
#   scripts/setup.sh --no-build packages and tools only
#
# System packages come from Debian's archive (apt-get); Python test tools go
# into a virtualenv in .venv so nothing touches the system Python.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything a step of scripts/demo.sh or scripts/test.sh runs, installed
# without Recommends, so each need is named here (tests/fresh checks this
# list in a clean Debian container):
#   build: cmake, pkg-config, make, gcc, libc6-dev (only a Recommends of gcc)
#     and the -dev packages; protobuf-c-compiler generates the proto code;
#   tests: libcmocka-dev (unit), python3-venv (pytest in .venv), postgresql
#     (initdb, pg_ctl and psql for scripts/pg_test_server.sh and the
#     warehouse tests), sqlite3 (demo and tests read the warehouse with it),
#     zstd (tests/e2e/test_compressed.py writes .zst inputs with it);
#   fuzzing (scripts/fuzz.sh): clang and libclang-rt-14-dev, which holds
#     libFuzzer and clang's sanitizer runtimes;
#   base image (docker/build-base-image.sh): debootstrap and the archive's
#     keyring to check what it downloads;
#   tzdata: the time zone database AT TIME ZONE reads (core/tz.c), at run
#     time as well (the Dockerfile's runtime stage installs it too);
#   chromium and chromium-driver: the headless browser tests/e2e/test_ui.py
#     drives through Selenium.
PACKAGES=(cmake pkg-config make gcc libc6-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libyaml-dev libzstd-dev libsnappy-dev zlib1g-dev libsqlite3-dev libpq-dev postgresql libmicrohttpd-dev
  libcjson-dev libpcre2-dev libyajl-dev libutf8proc-dev nettle-dev libcmocka-dev
  libcurl4-openssl-dev libxml2-dev sqlite3 zstd python3-venv clang libclang-rt-14-dev
  debootstrap debian-archive-keyring tzdata chromium chromium-driver)
# The cluster test (tests/cluster) needs a Docker engine, which setup does not
# install (it needs a daemon and privileges); where Docker is present the
# Compose tool it drives is installed too.
if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1; then
  PACKAGES+=(docker-compose)
fi
# jsonschema, prometheus_client and schemathesis check the REST API
# (tests/e2e/test_api_full.py, test_openapi.py). schemathesis 3.39.16 runs on
# Python 3.11; it breaks with newer hypothesis releases, so both are pinned.
# pyzmq: a rogue peer in tests/e2e/test_security_cluster.py.
# numpy: the data generators (scripts/gen_tickit.py, gen_tpch.py) that the
# tests run. pyarrow writes the Parquet files the reader is tested on
# (tests/unit/test_parquet.c, tests/e2e/test_parquet.py). The benchmark's own tools (pyspark) come from bench/setup.sh.
# moto[server]: the S3-compatible server, with signature checks, and boto3
# the independent S3 client of tests/e2e/test_s3.py. selenium drives Chromium
# in tests/e2e/test_ui.py.
PY_TOOLS=(pytest duckdb requests "psycopg[binary]" jsonschema prometheus_client
  "schemathesis==3.39.16" "hypothesis==6.123.2" numpy pyzmq pyarrow "moto[server]" boto3
  selenium)

log() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=".venv/.millrace-tools"
want="${PY_TOOLS[*]}"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating .venv with ${want}"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${PY_TOOLS[@]}"
  printf '%s' "$want" >"$stamp"
fi

if [ "${1:-}" != "--no-build" ]; then
  build="${MILLRACE_BUILD_DIR:-build}"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" >/dev/null || cmake --build "$build" -j1
fi
