#!/usr/bin/env bash
# run.sh - the benchmark suite in one command: set up (bench/setup.sh), build
# build-bench/, generate the data, run every job on millrace, DuckDB, PySpark
# (local mode) and psql \copy, check the results agree, print the table and
# write bench/results/latest.json. Options go to bench/run.py (--help).
#
#   bash bench/run.sh [--scale 0.5] [--runs 3] [--spark-runs N] [--jobs q1,join,sort,tickit,load]
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
exec .venv/bin/python bench/run.py --build "${MILLRACE_BENCH_BUILD:-build-bench}" "$@"
