#!/usr/bin/env python3
"""load_pg.py - load benchmark: millrace into PostgreSQL versus one `psql \\copy` stream.

Generates a lineitem-like CSV (16 columns, ~130 bytes a row, made by DuckDB),
then, against the same PostgreSQL server in the same run:

  1. psql \\copy of the CSV into a table with the same column types (one
     stream, the server parses the CSV);
  2. `millrace run` of a DAG that reads the CSV and writes it to the
     warehouse (executors parse the CSV in parallel byte ranges, stage
     through COPY FROM STDIN binary, and the coordinator commits with
     INSERT ... SELECT into the target in one transaction), timed end to
     end including cluster start and the commit;
  3. the same with MILLRACE_PG_COPY_FORMAT=text, to compare the two COPY
     formats end to end;
  4. bench/copy_format.c (compiled here against the build's static
     libraries): one task's staging per COPY format, and the commit, alone.

It prints rows/s for each, the ratio millrace / \\copy, and the machine
(nproc, CPU model).  Row counts of the loaded tables are checked.  This is a
benchmark, not a test: it takes a minute or two and nothing fails on speed.

  .venv/bin/python bench/load_pg.py [--rows 3000000] [--executors N] [--build build]

The server is $MILLRACE_BENCH_PG_DSN if set, else a private one started with
scripts/pg_test_server.sh (durability off, the same for both loaders).
"""
import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import psycopg

ROOT = Path(__file__).resolve().parents[1]

COLUMNS = [
    ("l_orderkey", "int64", "BIGINT"), ("l_partkey", "int32", "INTEGER"),
    ("l_suppkey", "int32", "INTEGER"), ("l_linenumber", "int32", "INTEGER"),
    ("l_quantity", "decimal(12,2)", "NUMERIC(12,2)"),
    ("l_extendedprice", "decimal(12,2)", "NUMERIC(12,2)"),
    ("l_discount", "decimal(12,2)", "NUMERIC(12,2)"), ("l_tax", "decimal(12,2)", "NUMERIC(12,2)"),
    ("l_returnflag", "string", "TEXT"), ("l_linestatus", "string", "TEXT"),
    ("l_shipdate", "date", "DATE"), ("l_commitdate", "date", "DATE"),
    ("l_receiptdate", "date", "DATE"), ("l_shipinstruct", "string", "TEXT"),
    ("l_shipmode", "string", "TEXT"), ("l_comment", "string", "TEXT"),
]

GENERATE = """
COPY (
  SELECT i // 4 AS l_orderkey,
         (hash(i) % 200000)::INTEGER + 1 AS l_partkey,
         (hash(i * 7) % 10000)::INTEGER + 1 AS l_suppkey,
         (i % 4)::INTEGER + 1 AS l_linenumber,
         ((hash(i * 3) % 5000) / 100.0 + 1)::DECIMAL(12,2) AS l_quantity,
         ((hash(i * 5) % 10000000) / 100.0 + 900)::DECIMAL(12,2) AS l_extendedprice,
         ((i % 11) / 100.0)::DECIMAL(12,2) AS l_discount,
         ((i % 9) / 100.0)::DECIMAL(12,2) AS l_tax,
         ['A', 'N', 'R'][(i % 3)::INTEGER + 1] AS l_returnflag,
         ['F', 'O'][(i % 2)::INTEGER + 1] AS l_linestatus,
         DATE '1992-01-02' + (hash(i * 11) % 2500)::INTEGER AS l_shipdate,
         DATE '1992-01-31' + (hash(i * 13) % 2500)::INTEGER AS l_commitdate,
         DATE '1992-01-04' + (hash(i * 17) % 2500)::INTEGER AS l_receiptdate,
         ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'][(i % 4)::INTEGER + 1]
           AS l_shipinstruct,
         ['TRUCK', 'MAIL', 'REG AIR', 'AIR', 'FOB', 'RAIL', 'SHIP'][(i % 7)::INTEGER + 1] AS l_shipmode,
         'carefully ' || ['final', 'ironic', 'even', 'bold'][(i % 4)::INTEGER + 1]
           || ' deposits sleep ' || (hash(i) % 100000)::VARCHAR AS l_comment
  FROM range(?) t(i)
) TO '@CSV@' (HEADER, DELIMITER ',')
"""


def dag_text(csv, table):
    schema = "".join(f"      {n}: {t}\n" for n, t, _ in COLUMNS)
    return f"""version: 1
name: load_pg_bench
warehouse:
  driver: postgres
  dsn: "${{env:MILLRACE_WAREHOUSE_DSN}}"
nodes:
  src:
    op: read
    format: csv
    path: {csv}
    csv: {{header: true}}
    schema:
{schema}  out:
    op: write
    input: src
    to: warehouse
    table: {table}
    mode: overwrite
"""


@contextlib.contextmanager
def server():
    dsn = os.environ.get("MILLRACE_BENCH_PG_DSN")
    if dsn:
        yield dsn
        return
    folder = tempfile.mkdtemp(prefix="millrace-bench-pg-")
    script = ROOT / "scripts" / "pg_test_server.sh"
    out = subprocess.run([str(script), "start", folder], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"cannot start PostgreSQL: {out.stderr}")
    try:
        yield out.stdout.strip().split("=", 1)[1]
    finally:
        subprocess.run([str(script), "stop", folder], capture_output=True)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def count(dsn, table):
    with psycopg.connect(dsn) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--executors", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--build", default=str(ROOT / "build"))
    args = ap.parse_args()
    millrace = Path(args.build).resolve() / "millrace"
    if not millrace.exists():
        sys.exit(f"{millrace} is missing: build first")

    with tempfile.TemporaryDirectory(prefix="millrace-bench-") as tmp, server() as dsn:
        tmp = Path(tmp)
        csv = tmp / "lineitem.csv"
        t0 = time.perf_counter()
        duckdb.connect().execute(GENERATE.replace("@CSV@", str(csv)), [args.rows])
        size = csv.stat().st_size
        print(f"generated {args.rows:,} rows, {size / 1e6:.0f} MB of CSV in "
              f"{time.perf_counter() - t0:.1f} s")

        cols = ", ".join(f"{n} {pg}" for n, _, pg in COLUMNS)
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("DROP TABLE IF EXISTS lineitem_psql, lineitem_millrace, lineitem_text")
            con.execute(f"CREATE TABLE lineitem_psql ({cols})")
            con.execute("CHECKPOINT")

        t0 = time.perf_counter()
        subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc",
                        f"\\copy lineitem_psql FROM '{csv}' WITH (FORMAT csv, HEADER true)"],
                       check=True)
        t_psql = time.perf_counter() - t0
        assert count(dsn, "lineitem_psql") == args.rows

        results = {}
        for label, table, fmt in (("binary", "lineitem_millrace", "binary"),
                                  ("text", "lineitem_text", "text")):
            dag = tmp / f"load_{label}.yaml"
            dag.write_text(dag_text(csv, table))
            with psycopg.connect(dsn, autocommit=True) as con:
                con.execute("CHECKPOINT")
            env = dict(os.environ, MILLRACE_WAREHOUSE_DSN=dsn, MILLRACE_PG_COPY_FORMAT=fmt)
            t0 = time.perf_counter()
            r = subprocess.run([str(millrace), "run", str(dag), "--executors", str(args.executors)],
                               capture_output=True, text=True, env=env, cwd=tmp)
            elapsed = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit(f"millrace run failed:\n{r.stdout}\n{r.stderr}")
            n = count(dsn, table)
            assert n == args.rows, f"{table} has {n} rows, want {args.rows}"
            results[label] = elapsed

        def rate(sec):
            return args.rows / sec

        print(f"machine: nproc={os.cpu_count()}, CPU {cpu_model()}, "
              f"PostgreSQL on the same machine, {args.executors} executors")
        print(f"psql \\copy (1 stream, CSV)       {t_psql:7.2f} s  {rate(t_psql):>12,.0f} rows/s")
        for label in ("binary", "text"):
            print(f"millrace run (COPY {label:6})       {results[label]:7.2f} s  "
                  f"{rate(results[label]):>12,.0f} rows/s")
        print(f"ratio millrace(binary) / \\copy: {t_psql / results['binary']:.2f}")
        print(f"ratio COPY binary / text (millrace end to end): {results['text'] / results['binary']:.2f}")

        # the staging phase alone, per COPY format (one stream, rows from memory)
        exe = tmp / "copy_format"
        build = Path(args.build).resolve()
        libs = subprocess.run(["pkg-config", "--libs", "libpq", "sqlite3", "libpcre2-8", "yajl",
                               "libutf8proc", "nettle"], capture_output=True,
                              text=True, check=True).stdout.split()
        subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", f"-I{ROOT}",
                        str(ROOT / "bench" / "copy_format.c"), str(build / "libmr_warehouse.a"),
                        str(build / "libmr_core.a"), *libs, "-lm", "-lpthread", "-o", str(exe)],
                       check=True)
        print("one task's staging and the commit alone (rows built in memory, no CSV):")
        sys.stdout.flush()
        subprocess.run([str(exe), dsn, str(min(args.rows, 2_000_000))], check=True)
        with psycopg.connect(dsn, autocommit=True) as con:
            for t in ("lineitem_psql", "lineitem_millrace", "lineitem_text", "bench_text_0",
                      "bench_binary_1", "bench_text_2", "bench_binary_3"):
                con.execute(f"DROP TABLE IF EXISTS {t}")


if __name__ == "__main__":
    main()
