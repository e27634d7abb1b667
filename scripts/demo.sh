#!/usr/bin/env bash
# demo.sh - set up, build, generate the TICKIT sample data, run the TICKIT
# example DAG on a local cluster into the embedded SQLite warehouse, and show
# what landed there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scale="${TICKIT_SCALE:-1}"
if [ ! -f data/tickit/.scale ] || [ "$(cat data/tickit/.scale)" != "$scale" ]; then
  echo "generating TICKIT data at scale $scale into data/tickit" >&2
  .venv/bin/python scripts/gen_tickit.py --scale "$scale" --out data/tickit
  printf '%s' "$scale" >data/tickit/.scale
fi
build/millrace run dags/tickit.yaml
echo
echo "Who buys the most tickets (millrace.db, view top_buyers):"
sqlite3 -header -column millrace.db "SELECT * FROM top_buyers"
echo
echo "Which genre sells best (millrace.db, view top_genres):"
sqlite3 -header -column millrace.db "SELECT * FROM top_genres"
