#!/usr/bin/env python3
"""parquet_write_bench.py - writing Parquet: millrace (read parquet, write to: parquet) vs DuckDB COPY TO parquet.

A synthetic table of --rows rows (int64 key, int32, float64, decimal(12,2),
a low-cardinality text column, a unique text column, date, timestamp, about
a tenth of the values NULL) made once by DuckDB into one snappy Parquet
file; then each engine reads it and writes it out again as snappy Parquet,
one core each (`millrace run --executors 1`, DuckDB with 1 thread), --runs
times in turn. Both outputs are checked equal (count and sums by DuckDB)
before timing counts. Prints the median wall times, rows per second and the
output sizes.

  .venv/bin/python bench/parquet_write_bench.py [--rows 2000000] [--runs 3] [--build build]
"""
import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]

MAKE = """COPY (SELECT i::BIGINT AS id,
    CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919 % 1000003)::INTEGER END AS qty,
    CASE WHEN i % 11 = 0 THEN NULL ELSE i / 7.0 END AS ratio,
    CASE WHEN i % 12 = 0 THEN NULL ELSE (i % 100000 / 100.0)::DECIMAL(12,2) END AS price,
    CASE WHEN i % 13 = 0 THEN NULL ELSE ['north', 'south', 'east', 'west'][i % 4 + 1] END AS region,
    CASE WHEN i % 14 = 0 THEN NULL ELSE 'customer-' || i END AS name,
    DATE '2020-01-01' + (i % 2000)::INTEGER AS day,
    TIMESTAMP '2020-01-01' + to_microseconds(i * 1000) AS ts
  FROM range(?) t(i)) TO '{out}' (FORMAT parquet, COMPRESSION snappy)"""

DAG = """version: 1
name: bench_parquet_write
warehouse: {{path: {wh}}}
nodes:
  r: {{op: read, format: parquet, path: {src}}}
  w: {{op: write, input: r, to: parquet, path: {out}, mode: overwrite}}
"""

CHECK = ("SELECT count(*), count(qty), sum(qty), sum(price), count(region), "
         "sum(length(name)), min(day), max(ts), round(sum(ratio), 3) FROM read_parquet('{}')")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--work", default=str(ROOT / "data" / "bench" / "pqwrite"))
    a = ap.parse_args()
    millrace = Path(a.build).resolve() / "millrace"
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"src-{a.rows}.parquet"
    if not src.exists():
        duckdb.connect().execute(MAKE.format(out=src), [a.rows])
    (work / "job.yaml").write_text(DAG.format(wh=work / "wh.db", src=src, out=work / "mr"))
    duck_out = work / "duck.parquet"
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    times = {"millrace": [], "duckdb": []}
    for r in range(a.runs):
        for eng in (["millrace", "duckdb"] if r % 2 == 0 else ["duckdb", "millrace"]):
            t0 = time.perf_counter()
            if eng == "millrace":
                p = subprocess.run(pin + [str(millrace), "run", str(work / "job.yaml"),
                                           "--executors", "1"], capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"millrace failed: {p.stderr[-2000:]}")
            else:
                con = duckdb.connect()
                con.execute("SET threads = 1")
                con.execute(f"COPY (SELECT * FROM read_parquet('{src}')) TO '{duck_out}' "
                            "(FORMAT parquet, COMPRESSION snappy)")
                con.close()
            times[eng].append(time.perf_counter() - t0)
    con = duckdb.connect()
    mine = con.execute(CHECK.format(f"{work / 'mr'}/*.parquet")).fetchall()
    theirs = con.execute(CHECK.format(duck_out)).fetchall()
    if mine != theirs:
        sys.exit(f"outputs differ: {mine} vs {theirs}")
    mr_size = sum(p.stat().st_size for p in (work / "mr").glob("*.parquet"))
    for eng, size in (("millrace", mr_size), ("duckdb", duck_out.stat().st_size)):
        w = statistics.median(times[eng])
        print(f"parquet write {a.rows:,} rows, 1 core, snappy: {eng:8} {w:6.2f} s  "
              f"{a.rows / 1e6 / w:6.2f} Mrows/s  output {size / 1e6:7.1f} MB")
    print(f"ratio DuckDB / millrace wall time: "
          f"{statistics.median(times['duckdb']) / statistics.median(times['millrace']):.2f}")


if __name__ == "__main__":
    main()
