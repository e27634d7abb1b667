#!/usr/bin/env python3
"""sql_bench.py - the sql op's benchmark: TPC-H-like queries as sql nodes
against DuckDB on the same files, and the benchmark jobs written as sql nodes
against their hand-written DAGs.

  .venv/bin/python bench/sql_bench.py [--build build-bench] [--scale 0.1] [--runs 3]
                                      [--queries tpch_q1,tpch_q3,...] [--pairs q1,join,...]

Queries (bench/dags/sql/tpch_*.yaml, plus tpch_q1 = bench/dags/sql/q1.yaml):
each DAG reads lineitem (and orders) from the TPC-H-like CSV files
(scripts/gen_tpch.py), answers one query in a `sql` node and writes it to a
SQLite warehouse table. DuckDB runs the very same query text, with each
node name bound to a read_csv of the same file and column types (a WITH
clause in front of the query), into a DuckDB table. The first run of each
side is checked against the other (row multisets; decimals exact, averages
within 1e-9 relative, or half a unit of millrace's sixth decimal place) before any time is printed.

Pairs (--pairs): each job of bench/dags/ (q1, join, sort; tickit is
dags/tickit.yaml) against its sql version in bench/dags/sql/, the two
alternated run by run; the ratio is sql / hand-written per pair.

Time is the wall clock of the whole command (millrace's `millrace run`,
starting and stopping its local cluster of --executors executors; DuckDB's
Python interpreter, connect to close). Medians of --runs runs, the sides
alternated; the load average before and after is printed, since the
machine may be shared. The ratio printed is DuckDB / millrace: below 1,
DuckDB is faster. DuckDB's own job time (connect to close, without starting
Python and importing duckdb) is printed beside it.
"""
import argparse
import decimal
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SQL = BENCH / "dags" / "sql"
sys.path.insert(0, str(BENCH))
from duck_jobs import src  # noqa: E402
from tables import LINEITEM, ORDERS, TICKIT  # noqa: E402

QUERIES = ["tpch_q1", "tpch_q3", "tpch_q4", "tpch_q6", "tpch_q12", "tpch_q18"]
PAIRS = {"q1": (BENCH / "dags" / "q1.yaml", SQL / "q1.yaml"),
         "join": (BENCH / "dags" / "join.yaml", SQL / "join.yaml"),
         "sort": (BENCH / "dags" / "sort.yaml", SQL / "sort.yaml"),
         "tickit": (ROOT / "dags" / "tickit.yaml", SQL / "tickit.yaml")}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def query_dag(q):
    return SQL / ("q1.yaml" if q == "tpch_q1" else f"{q}.yaml")


def sql_node(dag):
    """(node id, query text, warehouse table) of a query DAG's one sql node."""
    doc = yaml.safe_load(dag.read_text())
    nodes = doc["nodes"]
    sid = next(k for k, n in nodes.items() if n["op"] == "sql")
    table = next(n["table"] for n in nodes.values() if n["op"] == "write" and n["input"] == sid)
    return sid, nodes[sid]["query"], table


def duck_query(dag, data):
    """The sql node's query with every read node bound to the same file."""
    doc = yaml.safe_load(dag.read_text())
    reads = {k: n for k, n in doc["nodes"].items() if n["op"] == "read"}
    files = {LINEITEM[0]: LINEITEM, ORDERS[0]: ORDERS}
    files.update({t[0]: t for t in TICKIT.values()})
    ctes = []
    for k, n in reads.items():
        table = files[os.path.basename(n["path"])]
        ctes.append(f"{k} AS (SELECT * FROM {src(data, table)})")
    return "WITH " + ",\n".join(ctes) + "\n" + sql_node(dag)[1]


def duck_main(a):
    """--duck: one DuckDB run (in its own interpreter, as it is timed)."""
    dag = Path(a.duck)
    _, _, table = sql_node(dag)
    db = Path(a.out) / "duck.db"
    for p in (db, Path(str(db) + ".wal")):
        if p.exists():
            p.unlink()
    t0 = time.perf_counter()
    con = duckdb.connect(str(db), config={"threads": a.threads})
    con.execute(f"CREATE TABLE {table} AS {duck_query(dag, a.data)}")
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def timed(cmd, cwd):
    t0 = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"failed (exit {r.returncode}): {' '.join(map(str, cmd))}\n"
                           f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return wall, r.stdout


def norm(v):
    if isinstance(v, float):
        return v
    if isinstance(v, decimal.Decimal):
        return float(v) if v != v.to_integral_value() else int(v)
    if isinstance(v, (int, str)) or v is None:
        return v
    return str(v)


def same(a, b):
    """Equal; numbers where one is a float (DuckDB's averages are doubles,
    millrace's avg of a decimal is a decimal of scale 6, as PostgreSQL's
    numeric) within half a unit of that sixth place plus 1e-9 relative."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) or isinstance(b, float)) and \
            abs(a - b) <= 5e-7 + 1e-9 * max(abs(a), abs(b))
    return a == b


def compare(name, got, want):
    got = sorted((tuple(norm(v) for v in r) for r in got), key=repr)
    want = sorted((tuple(norm(v) for v in r) for r in want), key=repr)
    if len(got) != len(want):
        raise RuntimeError(f"{name}: millrace {len(got)} rows, DuckDB {len(want)}")
    # sort both by their non-float columns so float noise does not reorder
    key = lambda r: repr(tuple(v if not isinstance(v, float) else 0 for v in r))  # noqa: E731
    for g, w in zip(sorted(got, key=key), sorted(want, key=key)):
        if len(g) != len(w) or not all(same(x, y) for x, y in zip(g, w)):
            raise RuntimeError(f"{name}: rows differ: millrace {g}, DuckDB {w}")
    return len(got)


class Runner:
    def __init__(self, a, work):
        self.a, self.work = a, work
        self.millrace = Path(a.build).resolve() / "millrace"
        self.tpch = work / f"tpch-sf{a.scale:g}"
        self.tickit = work / f"tickit-s{a.tickit_scale:g}"

    def generate(self):
        for folder, cmd in ((self.tpch, [ROOT / "scripts" / "gen_tpch.py", "--scale",
                                         f"{self.a.scale:g}", "--out", self.tpch]),
                            (self.tickit, [ROOT / "scripts" / "gen_tickit.py", "--scale",
                                           f"{self.a.tickit_scale:g}", "--out", self.tickit])):
            if not (folder / ".done").exists():
                log(f"generating {folder.name} ...")
                folder.mkdir(parents=True, exist_ok=True)
                subprocess.run([sys.executable, *map(str, cmd)], check=True)
                (folder / ".done").write_text("ok\n")

    def millrace_cmd(self, dag, out, tickit=False):
        out.mkdir(parents=True, exist_ok=True)
        cmd = [self.millrace, "run", dag, "--executors", self.a.executors,
               "--param", f"data={self.tickit if tickit else self.tpch}"]
        if "sort" in dag.name:
            shutil.rmtree(out / "sorted", ignore_errors=True)
            return cmd + ["--param", f"out={out / 'sorted'}"]
        return cmd + ["--param", f"warehouse={out / 'wh.db'}"]

    def duck_cmd(self, dag, out):
        out.mkdir(parents=True, exist_ok=True)
        return [sys.executable, Path(__file__), "--duck", dag, "--data", self.tpch,
                "--out", out, "--threads", self.a.cores]

    def queries(self, names):
        rows = []
        for q in names:
            dag = query_dag(q)
            mo, do = self.work / "sqlout" / q / "millrace", self.work / "sqlout" / q / "duckdb"
            times = {"millrace": [], "duckdb": []}
            inner = []  # DuckDB's own time, connect to close
            for i in range(self.a.runs):
                order = ["millrace", "duckdb"] if i % 2 == 0 else ["duckdb", "millrace"]
                for side in order:
                    cmd = self.millrace_cmd(dag, mo) if side == "millrace" else self.duck_cmd(dag, do)
                    wall, out = timed(cmd, self.work)
                    times[side].append(wall)
                    if side == "duckdb":
                        inner.append(json.loads(out.strip().splitlines()[-1])["seconds"])
                if i == 0:
                    _, _, table = sql_node(dag)
                    with sqlite3.connect(mo / "wh.db") as c:
                        got = c.execute(f"SELECT * FROM {table}").fetchall()
                    con = duckdb.connect(str(do / "duck.db"), read_only=True)
                    want = con.execute(f"SELECT * FROM {table}").fetchall()
                    con.close()
                    n = compare(q, got, want)
            m, d = statistics.median(times["millrace"]), statistics.median(times["duckdb"])
            rows.append({"query": q, "rows": n, "millrace": m, "duckdb": d, "ratio": d / m,
                         "duckdb_job": statistics.median(inner), "runs": times})
            log(f"{q}: {n} rows, millrace {m:.2f} s, DuckDB {d:.2f} s, DuckDB/millrace {d / m:.2f}")
        return rows

    def pairs(self, names):
        rows = []
        for job in names:
            hand, sql = PAIRS[job]
            tickit = job == "tickit"
            times = {"hand": [], "sql": []}
            for i in range(self.a.runs):
                for side in (["hand", "sql"] if i % 2 == 0 else ["sql", "hand"]):
                    dag = hand if side == "hand" else sql
                    out = self.work / "sqlout" / f"pair_{job}" / side
                    times[side].append(timed(self.millrace_cmd(dag, out, tickit), self.work)[0])
            ratios = [s / h for s, h in zip(times["sql"], times["hand"])]
            r = statistics.median(ratios)
            rows.append({"job": job, "hand": statistics.median(times["hand"]),
                         "sql": statistics.median(times["sql"]), "ratio": r, "runs": times})
            log(f"{job}: hand-written {rows[-1]['hand']:.2f} s, sql {rows[-1]['sql']:.2f} s, "
                f"sql/hand {r:.3f} (pairs {min(ratios):.3f}..{max(ratios):.3f})")
        return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--scale", type=float, default=0.1, help="TPC-H-like scale (default 0.1)")
    ap.add_argument("--tickit-scale", type=float, default=0.2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--queries", default=",".join(QUERIES))
    ap.add_argument("--pairs", default="", help="comma-separated subset of " + ",".join(PAIRS))
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--work", default=str(ROOT / "data" / "bench"))
    ap.add_argument("--json", default=str(BENCH / "results" / "sql_latest.json"))
    # one DuckDB run, as sql_bench.py runs it in a process of its own
    ap.add_argument("--duck", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.duck:
        return duck_main(a)
    for q in filter(None, a.queries.split(",")):
        if q not in QUERIES:
            ap.error(f"unknown query {q!r} (one of {', '.join(QUERIES)})")
    for p in filter(None, a.pairs.split(",")):
        if p not in PAIRS:
            ap.error(f"unknown pair {p!r} (one of {', '.join(PAIRS)})")
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    r = Runner(a, work)
    r.generate()
    before = loadavg()
    res = {"scale": a.scale, "tickit_scale": a.tickit_scale, "runs": a.runs, "nproc": os.cpu_count(),
           "duckdb": duckdb.__version__, "load_before": before}
    res["queries"] = r.queries([q for q in a.queries.split(",") if q])
    res["pairs"] = r.pairs([p for p in a.pairs.split(",") if p])
    res["load_after"] = loadavg()
    print(f"TPC-H-like scale {a.scale:g}, {a.runs} runs, medians of whole-command wall time; "
          f"load average {before[0]:.1f} before, {res['load_after'][0]:.1f} after")
    if res["queries"]:
        print(f"{'query':10} {'rows':>5} {'millrace s':>11} {'DuckDB s':>9} {'DuckDB/millrace':>16}"
              f" {'DuckDB job s':>13}")
        for q in res["queries"]:
            print(f"{q['query']:10} {q['rows']:>5} {q['millrace']:>11.2f} {q['duckdb']:>9.2f} "
                  f"{q['ratio']:>16.2f} {q['duckdb_job']:>13.2f}")
    if res["pairs"]:
        print(f"{'job':8} {'hand s':>7} {'sql s':>7} {'sql/hand':>9}")
        for p in res["pairs"]:
            print(f"{p['job']:8} {p['hand']:>7.2f} {p['sql']:>7.2f} {p['ratio']:>9.3f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
