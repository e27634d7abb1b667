#!/usr/bin/env python3
"""parquet_bench.py - a Parquet scan, filter and group-by: millrace vs DuckDB on the same file.

TPC-H Q1's shape (bench/dags/q1_parquet.yaml) over a TPC-H-like lineitem
(scripts/gen_tpch.py) that DuckDB converts once into one snappy Parquet file
(DuckDB's default row groups of 122,880 rows). Both engines read only the
seven columns the query uses. Two settings, each run --runs times on both
engines in turn, as bench/scan_bench.py does:

  1 core   `millrace run --executors 1` and DuckDB with 1 thread, each pinned
           to one CPU with taskset
  all      `millrace run --executors 1` (one task per core) and DuckDB with a
           thread per core, unpinned

Results are checked equal first. Prints the medians and the ratio millrace /
DuckDB of rows per second (above 1: millrace is faster); writes
bench/results/parquet_scan.json.

  .venv/bin/python bench/parquet_bench.py [--scale 0.5] [--runs 3] [--build build-bench]
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
from run import QUERIES, compare, loadavg, machine, measured, norm, render  # noqa: E402
from tables import LINEITEM, Q1_SHIPDATE, duck_columns  # noqa: E402

PY = sys.executable

DUCK_Q1 = """
import sys, time, duckdb
path, db, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect(db)
con.execute(f"SET threads = {threads}")
con.execute(f'''CREATE TABLE q1 AS
    SELECT l_returnflag, l_linestatus,
           sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
           sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
           sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
           avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price,
           avg(l_discount) AS avg_disc, count(*) AS count_order
    FROM read_parquet('{path}')
    WHERE l_shipdate <= DATE '%s'
    GROUP BY l_returnflag, l_linestatus''')
con.close()
""" % Q1_SHIPDATE


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--work", default=str(ROOT / "data" / "bench"))
    ap.add_argument("--json", default=str(BENCH / "results" / "parquet_scan.json"))
    a = ap.parse_args()
    millrace = Path(a.build).resolve() / "millrace"
    if not millrace.exists():
        sys.exit(f"parquet_bench: {millrace} is missing (bash bench/setup.sh builds it)")
    work = Path(a.work).resolve()
    data = work / f"tpch-sf{a.scale:g}"
    if not (data / ".complete").exists():
        subprocess.run([PY, str(ROOT / "scripts" / "gen_tpch.py"), "--scale", f"{a.scale:g}",
                        "--out", str(data)], check=True)
        (data / ".complete").write_text("ok")
    pq_file = data / "lineitem.parquet"
    if not pq_file.exists():
        con = duckdb.connect()
        con.execute(f"""COPY (SELECT * FROM read_csv('{data / LINEITEM[0]}', delim='|',
                        header=false, quote='', escape='', columns={duck_columns(LINEITEM[1])}))
                        TO '{pq_file}.tmp' (FORMAT parquet, COMPRESSION snappy)""")
        con.close()
        os.replace(f"{pq_file}.tmp", pq_file)
    rows = duckdb.connect().execute(f"SELECT count(*) FROM '{pq_file}'").fetchone()[0]
    size = pq_file.stat().st_size
    with open(pq_file, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    cores = os.cpu_count() or 1
    out = work / "out" / "parquet"
    settings = {"1 core": {"pin": ["taskset", "-c", "0"] if shutil.which("taskset") else [],
                           "threads": 1, "cores": 1},
                "all cores": {"pin": [], "threads": cores, "cores": cores}}
    res = {"machine": machine(), "file": str(pq_file), "file_mb": size / 1e6, "rows": rows,
           "runs": a.runs, "load_before": loadavg(), "settings": {}}
    for name, st in settings.items():
        times = {"millrace": [], "duckdb": []}
        for r in range(a.runs):
            for eng in (["millrace", "duckdb"] if r % 2 == 0 else ["duckdb", "millrace"]):
                d = out / eng
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir(parents=True)
                if eng == "millrace":
                    cmd = st["pin"] + [millrace, "run", BENCH / "dags" / "q1_parquet.yaml",
                                       "--executors", 1, "--param", f"data={data}",
                                       "--param", f"warehouse={d / 'wh.db'}"]
                else:
                    cmd = st["pin"] + [PY, "-c", DUCK_Q1, pq_file, d / "duck.db", st["threads"]]
                m = measured(cmd, cwd=work)
                if m["rc"] != 0:
                    sys.exit(f"parquet_bench: {eng} failed:\n{m['out'][-2000:]}\n{m['err'][-2000:]}")
                times[eng].append(m)
                print(f"  {name:9} {eng:8} {m['wall']:6.2f} s", file=sys.stderr, flush=True)
            if r == 0:
                q = QUERIES["q1"]["q1"]
                con = sqlite3.connect(out / "millrace" / "wh.db")
                mine = {"q1": sorted(norm(x) for x in con.execute(render(q, lambda n: n)))}
                con.close()
                con = duckdb.connect(str(out / "duckdb" / "duck.db"), read_only=True)
                theirs = {"q1": sorted(norm(x) for x in con.execute(render(q, lambda n: n)).fetchall())}
                con.close()
                diff = compare(mine, theirs)
                if diff:
                    sys.exit(f"parquet_bench: millrace and DuckDB differ: {diff}")
        s = {}
        for eng, ms in times.items():
            wall = statistics.median(m["wall"] for m in ms)
            s[eng] = {"wall": wall, "mrows_s": rows / 1e6 / wall,
                      "mrows_s_per_core": rows / 1e6 / wall / st["cores"],
                      "cpu": statistics.median(m["cpu"] for m in ms),
                      "peak_rss_mb": max(m["peak_rss"] for m in ms) / 2**20,
                      "walls": [round(m["wall"], 3) for m in ms]}
        s["ratio"] = s["duckdb"]["wall"] / s["millrace"]["wall"]
        res["settings"][name] = s
    res["load_after"] = loadavg()
    mach = res["machine"]
    print(f"machine: {mach['nproc']} cores, {mach['cpu']}, {mach['ram_gb']} GB RAM; load average "
          f"before {res['load_before']}, after {res['load_after']}")
    print(f"file: {pq_file} ({size / 1e6:,.0f} MB snappy Parquet, {rows:,} rows, from the page "
          f"cache); medians of {a.runs} runs; results checked equal")
    print(f"{'setting':10} {'engine':9} {'wall s':>7} {'Mrows/s':>8} {'per core':>9} {'cpu s':>7} "
          f"{'peak MB':>8}")
    for name, s in res["settings"].items():
        for eng in ("millrace", "duckdb"):
            e = s[eng]
            print(f"{name:10} {eng:9} {e['wall']:7.2f} {e['mrows_s']:8.2f} "
                  f"{e['mrows_s_per_core']:9.2f} {e['cpu']:7.2f} {e['peak_rss_mb']:8.0f}")
        print(f"{name:10} ratio millrace / DuckDB (rows/s): {s['ratio']:.2f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
