#!/usr/bin/env python3
"""run.py - millrace against PySpark (local mode), DuckDB and psql \\copy on five ETL jobs.

  bash bench/run.sh [--scale S] [--runs N] [--spark-runs N] [--jobs q1,join,...]

Jobs (bench/dags/ and dags/tickit.yaml are millrace's side of each):
  q1      scan, filter and group-by over lineitem (TPC-H Q1's shape), CSV -> table
  join    lineitem joined to orders, revenue per priority and ship mode, CSV -> table
  sort    every order by total price (desc), written out as CSV
  tickit  the TICKIT pipeline end to end (seven tables, joins, aggregates, views)
  load    lineitem's CSV loaded into PostgreSQL (millrace vs one psql \\copy stream)

Every engine reads the same files with the same column types and does the
same work. Where each result goes:
  millrace  `millrace run` on a local cluster (coordinator + --executors
            executors, default 2) into a SQLite warehouse file (load: into
            PostgreSQL; sort: CSV files)
  duckdb    bench/duck_jobs.py: SQL into a DuckDB database file (sort: COPY to
            CSV; load: a DuckDB table -- DuckDB cannot reach PostgreSQL here)
  spark     bench/spark_jobs.py: local[nproc], DataFrame API, Parquet out
            (sort: CSV); no load job (no PostgreSQL JDBC driver ships with
            pyspark)
  psql      `psql \\copy` of the same CSV into a table of the same types, on
            the same throwaway server (scripts/pg_test_server.sh)

Before any time is reported, the first run of every engine is checked
against the others: row counts, every aggregate (decimals and counts exact
up to float rounding, floats within 1e-9 relative), the sort's full order.
A job whose results differ is reported as such, without times.

Time is wall-clock of the whole command, start to exit ("end to end":
millrace's includes starting and stopping its cluster, Spark's the JVM, DuckDB's
the Python interpreter); each engine's own job time (millrace's submit to
commit, Spark's with the session already up, DuckDB's connect to close) is
also kept. Peak memory is the largest sum of resident set sizes over the
command's whole process tree (millrace's CLI, coordinator and executors;
Spark's Python driver and JVM), sampled from /proc every 50 ms; for the load
job, the PostgreSQL server's own memory is not counted for either side.
CPU is the user + system time of the tree (also from /proc: the last
50 ms of each process is missed).

Medians over --runs runs (engines interleaved, rotated each run) go to a
table on stdout and to bench/results/latest.json, with the machine, the
load average before and after (the machine may be shared), and millrace's
time breakdown from its daemons' logs (cluster start, each stage, commit).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
from tables import LINEITEM  # noqa: E402

PY = sys.executable
JOBS = ["q1", "join", "sort", "tickit", "load"]
ENGINES = {"q1": ["millrace", "duckdb", "spark"], "join": ["millrace", "duckdb", "spark"],
           "sort": ["millrace", "duckdb", "spark"], "tickit": ["millrace", "duckdb", "spark"],
           "load": ["millrace", "psql", "duckdb"]}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine

def machine():
    cpu = platform.processor() or "unknown"
    mem = 0
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass

    def version(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "n/a"
    import numpy
    try:
        import pyspark
        spark = pyspark.__version__
    except ImportError:
        spark = "not installed"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pyspark": spark, "numpy": numpy.__version__,
            "java": version(["java", "-version"]), "psql": version(["psql", "--version"]),
            "millrace": built_from()}


def built_from():
    """The commit build-bench was made from (bench/setup.sh), '+ working tree'
    when it was the working tree."""
    src = ROOT / "build-bench-src" / ".rev"
    build_src = ROOT / "build-bench" / ".src"
    if build_src.exists() and build_src.read_text().strip() == "build-bench-src" and src.exists():
        return src.read_text().strip()[:12]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return f"{head} + working tree"


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


# ---------------------------------------------------------------- measuring

class TreeSampler(threading.Thread):
    """Largest total RSS of a process and all its descendants, and their
    CPU time, sampled from /proc (the whole table scanned every 5th sample to
    find new members, the known ones read in between). CPU is each member's
    last seen user + system time: getrusage cannot see grandchildren that
    their parent never waits for (Spark's JVM)."""

    def __init__(self, root, interval=0.05):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = 0
        self.cpu_ticks = {}
        self.members = {root}
        self.stop = threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.hz = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _stat(pid):
        """(ppid, rss pages, user + system ticks) of pid."""
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
        fields = s[s.rindex(b")") + 2:].split()
        return int(fields[1]), int(fields[21]), int(fields[11]) + int(fields[12])

    def _sample(self, pids):
        stats = {}
        for p in pids:
            try:
                stats[p] = self._stat(p)
            except (OSError, ValueError, IndexError):
                pass
        return stats

    def _scan(self):
        stats = self._sample(int(d) for d in os.listdir("/proc") if d.isdigit())
        kids = {}
        for p, st in stats.items():
            kids.setdefault(st[0], []).append(p)
        members, frontier = {self.root}, [self.root]
        while frontier:
            p = frontier.pop()
            for c in kids.get(p, ()):
                if c not in members:
                    members.add(c)
                    frontier.append(c)
        self.members = members
        return {p: stats[p] for p in members if p in stats}

    def run(self):
        k = 0
        while not self.stop.is_set():
            stats = self._scan() if k % 5 == 0 else self._sample(list(self.members))
            self.peak = max(self.peak, sum(st[1] for st in stats.values()) * self.page)
            for p, st in stats.items():
                self.cpu_ticks[p] = max(self.cpu_ticks.get(p, 0), st[2])
            k += 1
            self.stop.wait(self.interval)

    @property
    def cpu(self):
        return sum(self.cpu_ticks.values()) / self.hz


def measured(cmd, env=None, cwd=None, timeout=3600):
    """Runs cmd; returns dict(wall, peak_rss, cpu, rc, out, err)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=cwd)
    sampler = TreeSampler(p.pid)
    sampler.start()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    return {"wall": wall, "peak_rss": sampler.peak, "cpu": sampler.cpu, "rc": p.returncode,
            "out": out, "err": err}


# ---------------------------------------------------------------- millrace's breakdown

TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z info\s+coordinator: (.*)$")


def breakdown(logdir):
    """Phases of one `millrace run` from its coordinator's log: cluster start
    (coordinator up to job submitted), each stage, the commit, stop."""
    path = Path(logdir) / "coordinator.log"
    if not path.exists():
        return None
    events = []
    for line in path.read_text().splitlines():
        m = TS.match(line)
        if m:
            t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
            events.append((t, m.group(2)))
    if not events:
        return None
    first = events[0][0]

    def at(pattern):
        for t, msg in events:
            if re.search(pattern, msg):
                return t
        return None
    sub, start, commit, done, stop = (at(r" submitted"), at(r" started$"), at(r" committing"),
                                      at(r" succeeded"), at(r"stopping"))
    out = {}
    if sub:
        out["cluster_start"] = sub - first
    if start and commit:
        out["stages"] = commit - start
        # each stage from its first task dispatched to its end
        first = {}
        for t, msg in events:
            m = re.search(r"stage=(\d+) task=\d+ attempt=\d+ ->", msg)
            if m:
                first.setdefault(m.group(1), t)
            m = re.search(r"stage=(\d+) done", msg)
            if m and m.group(1) in first:
                out[f"stage_{m.group(1)}"] = t - first[m.group(1)]
    if commit and done:
        out["commit"] = done - commit
    if done and stop:
        out["stop"] = stop - done
    # task time per stage from the executors' logs: the sum of task durations
    tasks = {}
    for ex in Path(logdir).glob("executor-*.log"):
        for line in ex.read_text().splitlines():
            m = re.search(r"stage=(\d+) task=\d+ attempt=\d+ done .* in (\d+) ms", line)
            if m:
                tasks[m.group(1)] = tasks.get(m.group(1), 0) + int(m.group(2)) / 1000
    for s, v in tasks.items():
        out[f"stage_{s}_task_seconds"] = v
    return out


# ---------------------------------------------------------------- the engines' commands

class Bench:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.millrace = Path(a.build).resolve() / "millrace"
        self.tpch = work / f"tpch-sf{a.scale:g}"
        self.tickit = work / f"tickit-s{a.tickit_scale:g}"
        self.out = work / "out"
        self.dsn = None

    def outdir(self, job, engine):
        d = self.out / job / engine
        return d

    def command(self, job, engine):
        """(argv, env) of one run of job on engine, its output folder clean."""
        out = self.outdir(job, engine)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        env = dict(os.environ)
        data = self.tickit if job == "tickit" else self.tpch
        if engine == "millrace":
            dag = {"q1": BENCH / "dags" / "q1.yaml", "join": BENCH / "dags" / "join.yaml",
                   "sort": BENCH / "dags" / "sort.yaml", "tickit": ROOT / "dags" / "tickit.yaml",
                   "load": BENCH / "dags" / "load_pg.yaml"}[job]
            cmd = [self.millrace, "run", dag, "--executors", self.a.executors, "--keep-logs",
                   "--param", f"data={data}"]
            if job == "sort":
                cmd += ["--param", f"out={out / 'sorted'}"]
            elif job == "load":
                env["MILLRACE_WAREHOUSE_DSN"] = self.dsn
            else:
                cmd += ["--param", f"warehouse={out / 'wh.db'}"]
            return cmd, env
        if engine == "duckdb":
            return [PY, BENCH / "duck_jobs.py", job, "--data", data, "--out", out,
                    "--threads", self.a.cores], env
        if engine == "spark":
            return [PY, BENCH / "spark_jobs.py", job, "--data", data, "--out", out,
                    "--cores", self.a.cores], env
        if engine == "psql":
            self.pg("DROP TABLE IF EXISTS lineitem_psql")
            self.pg(f"CREATE TABLE lineitem_psql ({pg_columns()})")
            self.pg("CHECKPOINT")
            return ["psql", self.dsn, "-v", "ON_ERROR_STOP=1", "-qc",
                    f"\\copy lineitem_psql FROM '{self.tpch / 'lineitem.csv'}' "
                    f"WITH (FORMAT csv, DELIMITER '|')"], env
        raise ValueError(engine)

    def pg(self, sql):
        import psycopg
        with psycopg.connect(self.dsn, autocommit=True) as con:
            cur = con.execute(sql)
            return cur.fetchall() if cur.description else None

    def run_once(self, job, engine):
        if job == "load" and engine == "millrace":
            self.pg("CHECKPOINT")
        cmd, env = self.command(job, engine)
        r = measured(cmd, env=env, cwd=self.work)
        if r["rc"] != 0:
            raise RuntimeError(f"{engine} failed on {job} (exit {r['rc']}):\n"
                               f"$ {' '.join(map(str, cmd))}\n{r['out'][-3000:]}\n{r['err'][-3000:]}")
        rec = {"wall": r["wall"], "peak_rss": r["peak_rss"], "cpu": r["cpu"]}
        if engine == "millrace":
            m = re.search(r"succeeded in ([\d.]+) s", r["out"])
            rec["job"] = float(m.group(1)) if m else None
            m = re.search(r"daemon logs are in (\S+)", r["err"] + r["out"])
            if m:
                rec["breakdown"] = breakdown(m.group(1))
                shutil.rmtree(m.group(1), ignore_errors=True)
        elif engine in ("duckdb", "spark"):
            info = json.loads(r["out"].strip().splitlines()[-1])
            rec["job"] = info["seconds"]
            if "startup" in info:
                rec["startup"] = info["startup"]
        else:
            rec["job"] = r["wall"]
        return rec

    # ------------------------------------------------------------ results

    def results(self, job, engine):
        """The job's output on engine, normalised for comparison."""
        out = self.outdir(job, engine)
        if job == "sort":
            files = {"millrace": sorted((out / "sorted").glob("part-*.csv")),
                     "duckdb": [out / "sorted.csv"],
                     "spark": sorted((out / "sorted").glob("part-*.csv"))}[engine]
            return {"sorted": sort_digest(files)}
        if job == "load":
            if engine == "duckdb":
                con = duckdb.connect(str(out / "duck.db"), read_only=True)
                row = con.execute(LOAD_DIGEST.format(t="lineitem")).fetchone()
                con.close()
            else:
                t = "lineitem_millrace" if engine == "millrace" else "lineitem_psql"
                row = self.pg(LOAD_DIGEST.format(t=t))[0]
            return {"lineitem": [norm(row)]}
        queries = QUERIES[job]
        res = {}
        if engine == "millrace":
            con = sqlite3.connect(out / "wh.db")
            for name, q in queries.items():
                res[name] = sorted(norm(r) for r in con.execute(render(q, lambda n: f'"{n}"')))
            con.close()
        elif engine == "duckdb":
            con = duckdb.connect(str(out / "duck.db"), read_only=True)
            for name, q in queries.items():
                res[name] = sorted(norm(r) for r in con.execute(render(q, lambda n: f'"{n}"')).fetchall())
            con.close()
        else:
            con = duckdb.connect()
            for name, q in queries.items():
                res[name] = sorted(norm(r) for r in con.execute(
                    render(q, lambda n: f"read_parquet('{out / n}/*.parquet')")).fetchall())
            con.close()
        return res


# what is compared per job: {t(name)} is an output table
QUERIES = {
    "q1": {"q1": "SELECT l_returnflag, l_linestatus, sum_qty, sum_base_price, sum_disc_price, "
                 "sum_charge, avg_qty, avg_price, avg_disc, count_order FROM {t(q1)}"},
    "join": {"revenue": "SELECT o_orderpriority, l_shipmode, revenue, lines, avg_qty FROM {t(revenue)}"},
}

TICKIT_QUERIES = {
    "users": "SELECT count(*), count(DISTINCT userid), sum(length(fullname)), "
             "sum(CASE WHEN email = lower(email) THEN 1 ELSE 0 END), "
             "sum(CASE WHEN likesports THEN 1 ELSE 0 END), count(likeopera) FROM {t(users)}",
    "venue": "SELECT count(*), count(venueseats), sum(venueseats) FROM {t(venue)}",
    "category": "SELECT catid, catgroup, catname FROM {t(category)}",
    "date": "SELECT count(*), sum(CASE WHEN holiday THEN 1 ELSE 0 END), sum(week) FROM {t(date)}",
    "event": "SELECT count(*), sum(eventid), sum(catid) FROM {t(event)}",
    "sales": "SELECT count(*), sum(qtysold), sum(pricepaid), sum(commission) FROM {t(sales)}",
    "buyer_tickets": "SELECT count(*), sum(tickets), sum(spent), sum(purchases), max(tickets) "
                     "FROM {t(buyer_tickets)}",
    "top10": "SELECT buyerid, tickets FROM {t(buyer_tickets)} ORDER BY tickets DESC, buyerid LIMIT 10",
    "genre_sales": "SELECT catgroup, catname, tickets, revenue, events FROM {t(genre_sales)}",
}
QUERIES["tickit"] = TICKIT_QUERIES

LOAD_DIGEST = ("SELECT count(*), sum(l_orderkey), sum(l_extendedprice), sum(l_quantity), "
               "count(DISTINCT l_shipdate), max(l_comment), min(l_shipinstruct) FROM {t}")


def render(query, table):
    """The query with each {t(name)} replaced by table(name): the engine's
    spelling of that output table."""
    return re.sub(r"\{t\((\w+)\)\}", lambda m: table(m.group(1)), query)


def norm(row):
    """Numbers to float (decimals come back as Decimal, REAL or text), the
    rest as is."""
    out = []
    for v in row:
        if v is None or isinstance(v, (str, bool)):
            out.append(v)
        else:
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(str(v))
    return tuple(out)


def sort_digest(files):
    """Count, total price and an order-sensitive checksum of the sorted
    output; also whether it is in (totalprice desc, orderkey) order."""
    n, total, check, ordered = 0, 0, 0, True
    prev = None
    for f in files:
        with open(f, encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split(",")
            ki, pi = header.index("o_orderkey"), header.index("o_totalprice")
            for line in fh:
                parts = line.split(",", max(ki, pi) + 1)
                key, cents = int(parts[ki]), int(round(float(parts[pi]) * 100))
                if prev is not None and (cents > prev[0] or (cents == prev[0] and key < prev[1])):
                    ordered = False
                prev = (cents, key)
                n += 1
                total += cents
                check = (check * 1_000_003 + key) % (1 << 61)
    return [(n, total, check, ordered)]


def close(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def compare(base, other):
    """'' when equal, else what differs."""
    for name in base:
        x, y = base[name], other.get(name)
        if y is None or len(x) != len(y):
            return f"{name}: {len(x)} rows vs {0 if y is None else len(y)}"
        for rx, ry in zip(x, y):
            if len(rx) != len(ry) or not all(close(a, b) for a, b in zip(rx, ry)):
                return f"{name}: {rx} vs {ry}"
    return ""


def pg_columns():
    pg = {"int32": "INTEGER", "int64": "BIGINT", "string": "TEXT", "date": "DATE"}
    return ", ".join(f"{n} {t.replace('decimal', 'NUMERIC') if t.startswith('decimal') else pg[t]}"
                     for n, t in LINEITEM[1])


# ---------------------------------------------------------------- main

def generate(b, a):
    for folder, cmd in ((b.tpch, [PY, ROOT / "scripts" / "gen_tpch.py", "--scale", f"{a.scale:g}",
                                  "--out", b.tpch]),
                        (b.tickit, [PY, ROOT / "scripts" / "gen_tickit.py", "--scale",
                                    f"{a.tickit_scale:g}", "--out", b.tickit])):
        stamp = folder / ".complete"
        if stamp.exists():
            continue
        log(f"generating {folder.name} ...")
        t0 = time.perf_counter()
        subprocess.run([str(c) for c in cmd], check=True)
        stamp.write_text("ok")
        log(f"  {time.perf_counter() - t0:.0f} s")


def summarise(runs):
    def med(key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(vals) if vals else None
    s = {"wall": med("wall"), "job": med("job"), "cpu": med("cpu"),
         "peak_rss_mb": max(r["peak_rss"] for r in runs) / 2**20, "runs": len(runs),
         "walls": [round(r["wall"], 3) for r in runs]}
    if any("startup" in r for r in runs):
        s["startup"] = med("startup")
    bds = [r["breakdown"] for r in runs if r.get("breakdown")]
    if bds:
        keys = sorted({k for bd in bds for k in bd})
        s["breakdown"] = {k: statistics.median([bd[k] for bd in bds if k in bd]) for k in keys}
    return s


def fmt_s(v):
    return "-" if v is None else f"{v:.2f}"


def report(res, mach):
    lines = []
    lines.append(f"machine: {mach['nproc']} cores, {mach['cpu']}, {mach['ram_gb']} GB RAM; "
                 f"load average before {res['load_before']}, after {res['load_after']}")
    lines.append(f"data: TPC-H-like scale {res['scale']} ({res['sizes']['tpch_mb']:.0f} MB), "
                 f"TICKIT scale {res['tickit_scale']} ({res['sizes']['tickit_mb']:.0f} MB); "
                 f"medians of {res['runs']} runs (Spark: {res['spark_runs']})")
    lines.append("")
    hdr = (f"{'job':8} {'engine':9} {'wall s':>8} {'job s':>8} {'cpu s':>7} {'peak MB':>8}  "
           f"{'peer/millrace (wall)':>20}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for job, jr in res["jobs"].items():
        if "error" in jr:
            lines.append(f"{job:8} {jr['error']}")
            continue
        mr = jr["engines"].get("millrace", {}).get("wall")
        for eng, s in jr["engines"].items():
            ratio = "" if eng == "millrace" or not mr else f"{s['wall'] / mr:.2f}x"
            lines.append(f"{job:8} {eng:9} {fmt_s(s['wall']):>8} {fmt_s(s['job']):>8} "
                         f"{fmt_s(s['cpu']):>7} {s['peak_rss_mb']:8.0f}  {ratio:>20}")
        lines.append(f"{'':8} checked: {jr['checked']}")
    lines.append("")
    lines.append("peer/millrace > 1: millrace is faster. wall = the whole command; job = the "
                 "engine's own job time (millrace: submit to commit; Spark: session already up).")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.5, help="TPC-H-like scale factor (default 0.5)")
    ap.add_argument("--tickit-scale", type=float, default=None,
                    help="TICKIT scale (default: 10 x --scale)")
    ap.add_argument("--runs", type=int, default=3, help="runs per engine and job (default 3)")
    ap.add_argument("--spark-runs", type=int, default=None,
                    help="runs of Spark per job (default: --runs)")
    ap.add_argument("--jobs", default=",".join(JOBS), help="comma-separated subset of " + ",".join(JOBS))
    ap.add_argument("--engines", default="millrace,duckdb,spark,psql")
    ap.add_argument("--executors", type=int, default=2, help="millrace executors (default 2)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                    help="DuckDB threads and Spark local[N] (default: every core)")
    ap.add_argument("--build", default=str(ROOT / "build-bench"))
    ap.add_argument("--work", default=str(ROOT / "data" / "bench"),
                    help="data and outputs (default data/bench)")
    ap.add_argument("--json", default=str(BENCH / "results" / "latest.json"))
    a = ap.parse_args()
    if a.tickit_scale is None:
        a.tickit_scale = a.scale * 10
    spark_runs = a.spark_runs or a.runs
    jobs = [j for j in a.jobs.split(",") if j]
    for j in jobs:
        if j not in JOBS:
            sys.exit(f"run.py: unknown job {j!r} (jobs: {', '.join(JOBS)})")
    wanted = set(a.engines.split(","))
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    b = Bench(a, work)
    if not b.millrace.exists():
        sys.exit(f"run.py: {b.millrace} is missing (bench/run.sh builds it)")
    mach = machine()
    generate(b, a)

    def size(folder):
        return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
    res = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "machine": mach,
           "scale": a.scale, "tickit_scale": a.tickit_scale, "runs": a.runs,
           "spark_runs": spark_runs, "executors": a.executors, "cores": a.cores,
           "sizes": {"tpch_mb": size(b.tpch), "tickit_mb": size(b.tickit),
                     "lineitem_rows": sum(1 for _ in open(b.tpch / "lineitem.csv", "rb"))},
           "load_before": loadavg(), "jobs": {}}

    pgdir = None
    if "load" in jobs:
        pgdir = tempfile.mkdtemp(prefix="millrace-bench-pg-")
        r = subprocess.run([str(ROOT / "scripts" / "pg_test_server.sh"), "start", pgdir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"run.py: cannot start PostgreSQL: {r.stderr}")
        b.dsn = r.stdout.strip().split("=", 1)[1]
    try:
        for job in jobs:
            engines = [e for e in ENGINES[job] if e in wanted]
            log(f"== {job}: {', '.join(engines)}")
            jr = {"engines": {}}
            runs = {e: [] for e in engines}
            try:
                # first run of each engine, then the check, then the rest
                for e in engines:
                    runs[e].append(b.run_once(job, e))
                    log(f"  {e:9} {runs[e][-1]['wall']:7.2f} s")
                base = b.results(job, engines[0])
                diffs = []
                for e in engines[1:]:
                    d = compare(base, b.results(job, e))
                    if d:
                        diffs.append(f"{e} differs from {engines[0]}: {d}")
                if diffs:
                    jr["error"] = "RESULTS DIFFER -- " + "; ".join(diffs)
                    log("  " + jr["error"])
                    res["jobs"][job] = jr
                    continue
                jr["checked"] = f"{' = '.join(engines)} ({', '.join(base)})"
                for r in range(1, max(a.runs, spark_runs)):
                    order = engines[r % len(engines):] + engines[:r % len(engines)]
                    for e in order:
                        if len(runs[e]) >= (spark_runs if e == "spark" else a.runs):
                            continue
                        runs[e].append(b.run_once(job, e))
                        log(f"  {e:9} {runs[e][-1]['wall']:7.2f} s")
            except RuntimeError as ex:
                jr["error"] = f"FAILED -- {ex}"
                log("  " + jr["error"])
                res["jobs"][job] = jr
                continue
            for e in engines:
                jr["engines"][e] = summarise(runs[e])
            mr = jr["engines"].get("millrace")
            if mr:
                jr["ratios"] = {e: round(s["wall"] / mr["wall"], 3) for e, s in jr["engines"].items()
                                if e != "millrace"}
                jr["ratios_job"] = {e: round(s["job"] / mr["job"], 3) for e, s in jr["engines"].items()
                                    if e != "millrace" and s.get("job") and mr.get("job")}
            res["jobs"][job] = jr
    finally:
        if pgdir:
            subprocess.run([str(ROOT / "scripts" / "pg_test_server.sh"), "stop", pgdir],
                           capture_output=True)
    res["load_after"] = loadavg()
    text = report(res, mach)
    print(text)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    res["table"] = text
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    log(f"written {a.json}")
    if any("error" in jr for jr in res["jobs"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
