#!/usr/bin/env python3
"""scan_bench.py - one core's scan, filter and group-by over a CSV file of 1 GB or more: millrace vs DuckDB.

The job is TPC-H Q1's shape (bench/dags/q1.yaml: lineitem's CSV read and
typed, filtered on the ship date, grouped by return flag and line status
with four sums, three averages and a count) over a TPC-H-like lineitem file
of at least 1 GB (scripts/gen_tpch.py, scale 1.5 by default: about 1.15 GB).

Two settings, each run --runs times on both engines in turn:

  1 core   `millrace run --executors 1` and DuckDB with 1 thread, each pinned
           to one CPU with taskset (the coordinator, the CLI and the executor
           share that core): MB/s per core directly.
  all      `millrace run --executors 1` (its executor runs one task per core)
           and DuckDB with a thread per core, unpinned: MB/s, and MB/s
           divided by the cores.

The file is read once beforehand so both engines read it from the page
cache. Results are checked equal before any figure is printed. Prints file
MB/s (file size / median wall time of the whole command, cluster start and
commit included) and the ratio millrace / DuckDB; writes
bench/results/scan.json.

  .venv/bin/python bench/scan_bench.py [--scale 1.5] [--runs 3] [--build build-bench]
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

PY = sys.executable


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.5,
                    help="TPC-H-like scale; lineitem must come out at 1 GB or more (default 1.5)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--work", default=str(ROOT / "data" / "bench"))
    ap.add_argument("--json", default=str(BENCH / "results" / "scan.json"))
    a = ap.parse_args()
    millrace = Path(a.build).resolve() / "millrace"
    if not millrace.exists():
        sys.exit(f"scan_bench: {millrace} is missing (bash bench/setup.sh builds it)")
    if not shutil.which("taskset"):
        sys.exit("scan_bench: taskset (util-linux) is needed to pin each engine to one core")
    work = Path(a.work).resolve()
    data = work / f"tpch-sf{a.scale:g}"
    if not (data / ".complete").exists():
        subprocess.run([PY, str(ROOT / "scripts" / "gen_tpch.py"), "--scale", f"{a.scale:g}",
                        "--out", str(data)], check=True)
        (data / ".complete").write_text("ok")
    csv = data / "lineitem.csv"
    size = csv.stat().st_size
    if size < 1e9:
        sys.exit(f"scan_bench: {csv} is {size / 1e6:.0f} MB; give a --scale that makes 1 GB or more")
    with open(csv, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    cores = os.cpu_count() or 1
    out = work / "out" / "scan"
    settings = {"1 core": {"pin": ["taskset", "-c", "0"], "threads": 1, "cores": 1},
                "all cores": {"pin": [], "threads": cores, "cores": cores}}
    res = {"machine": machine(), "file": str(csv), "file_mb": size / 1e6, "runs": a.runs,
           "load_before": loadavg(), "settings": {}}
    for name, st in settings.items():
        times = {"millrace": [], "duckdb": []}
        for r in range(a.runs):
            for eng in (["millrace", "duckdb"] if r % 2 == 0 else ["duckdb", "millrace"]):
                d = out / eng
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir(parents=True)
                if eng == "millrace":
                    cmd = st["pin"] + [millrace, "run", BENCH / "dags" / "q1.yaml", "--executors", 1,
                                       "--param", f"data={data}", "--param", f"warehouse={d / 'wh.db'}"]
                else:
                    cmd = st["pin"] + [PY, BENCH / "duck_jobs.py", "q1", "--data", data, "--out", d,
                                       "--threads", st["threads"]]
                m = measured(cmd, cwd=work)
                if m["rc"] != 0:
                    sys.exit(f"scan_bench: {eng} failed:\n{m['out'][-2000:]}\n{m['err'][-2000:]}")
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
                    sys.exit(f"scan_bench: millrace and DuckDB differ: {diff}")
        s = {}
        for eng, ms in times.items():
            wall = statistics.median(m["wall"] for m in ms)
            s[eng] = {"wall": wall, "mb_s": size / 1e6 / wall,
                      "mb_s_per_core": size / 1e6 / wall / st["cores"],
                      "cpu": statistics.median(m["cpu"] for m in ms),
                      "peak_rss_mb": max(m["peak_rss"] for m in ms) / 2**20,
                      "walls": [round(m["wall"], 3) for m in ms]}
        s["ratio"] = s["millrace"]["mb_s"] / s["duckdb"]["mb_s"]
        res["settings"][name] = s
    res["load_after"] = loadavg()
    mach = res["machine"]
    print(f"machine: {mach['nproc']} cores, {mach['cpu']}, {mach['ram_gb']} GB RAM; load average "
          f"before {res['load_before']}, after {res['load_after']}")
    print(f"file: {csv} ({size / 1e6:,.0f} MB, from the page cache); medians of {a.runs} runs; "
          f"results checked equal")
    print(f"{'setting':10} {'engine':9} {'wall s':>7} {'MB/s':>7} {'MB/s/core':>10} {'cpu s':>7} "
          f"{'peak MB':>8}")
    for name, s in res["settings"].items():
        for eng in ("millrace", "duckdb"):
            e = s[eng]
            print(f"{name:10} {eng:9} {e['wall']:7.2f} {e['mb_s']:7.0f} {e['mb_s_per_core']:10.0f} "
                  f"{e['cpu']:7.2f} {e['peak_rss_mb']:8.0f}")
        print(f"{name:10} ratio millrace / DuckDB (MB/s): {s['ratio']:.2f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
