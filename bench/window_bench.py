#!/usr/bin/env python3
"""window_bench.py - issue 16's window benchmark: millrace against DuckDB on
the same TPC-H-like lineitem file (bench/dags/window.yaml, and the same
query in SQL below), each result checked equal before a time is reported.

  .venv/bin/python bench/window_bench.py [--data data/tpch] [--scale 0.2] [--runs 3]

Generates lineitem with scripts/gen_tpch.py when --data has none. millrace:
`millrace run --executors 2` of the DAG (wall time of the command, cluster
start included); DuckDB: threads = 2, from connect to the result.  Prints
one JSON line with every run's seconds, the medians and their ratio.
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from tables import LINEITEM, duck_columns  # noqa: E402

QUERY = """
SELECT count(*) AS n, max(rn) AS max_rn, sum(running) AS sum_running, sum(mavg) AS sum_mavg
FROM (
  SELECT rn, running,
         avg(l_extendedprice) OVER (ORDER BY l_orderkey, l_linenumber
                                    ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS mavg
  FROM (
    SELECT l_orderkey, l_linenumber, l_extendedprice,
           row_number() OVER w AS rn, sum(l_quantity) OVER w AS running
    FROM {src}
    WINDOW w AS (PARTITION BY l_suppkey ORDER BY l_orderkey, l_linenumber)))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "tpch"))
    ap.add_argument("--scale", default="0.2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.environ.get("MILLRACE_BUILD", str(ROOT / "build")))
    a = ap.parse_args()
    data = Path(a.data)
    if not (data / "lineitem.csv").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tpch.py"), "--scale",
                        a.scale, "--out", str(data)], check=True)
    src = (f"read_csv('{data / LINEITEM[0]}', delim='|', header=false, quote='', escape='', "
           f"columns={duck_columns(LINEITEM[1])})")
    mill, duck, mres, dres = [], [], None, None
    with tempfile.TemporaryDirectory() as tmp:
        wh = Path(tmp) / "wh.db"
        for _ in range(a.runs):
            t = time.perf_counter()
            r = subprocess.run([str(Path(a.build) / "millrace"), "run",
                                str(ROOT / "bench" / "dags" / "window.yaml"), "--executors", "2",
                                "--param", f"data={data}", "--param", f"warehouse={wh}"],
                               capture_output=True, text=True)
            mill.append(time.perf_counter() - t)
            if r.returncode != 0:
                sys.exit(r.stdout + r.stderr)
            con = sqlite3.connect(wh)
            mres = con.execute("SELECT n, max_rn, sum_running, sum_mavg FROM window_totals").fetchone()
            con.close()
        for _ in range(a.runs):
            t = time.perf_counter()
            con = duckdb.connect()
            con.execute("SET threads = 2")
            dres = con.execute(QUERY.format(src=src)).fetchone()
            con.close()
            duck.append(time.perf_counter() - t)
    # the same answer: counts exact, decimal sums exact, the float sum of
    # averages to 9 significant digits (millrace's avg of a decimal is
    # decimal(18,6), DuckDB's a double)
    ok = (mres[0] == dres[0] and mres[1] == dres[1] and
          Decimal(str(mres[2])) == Decimal(str(dres[2])) and
          abs(float(mres[3]) - float(dres[3])) <= 1e-9 * abs(float(dres[3])) + 1e-6 * mres[0])
    if not ok:
        sys.exit(f"results differ: millrace {mres}, duckdb {dres}")
    m, d = statistics.median(mill), statistics.median(duck)
    print(json.dumps({"rows": mres[0], "millrace": mill, "duckdb": duck, "millrace_median": m,
                      "duckdb_median": d, "ratio_millrace_over_duckdb": m / d}))


if __name__ == "__main__":
    main()
