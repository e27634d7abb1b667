"""Spilling end to end: executors started with a small --memory run an
aggregate, joins and a sort over input several times larger than their
operators' budget, and every result equals DuckDB's over the same files;
the executor logs show that the operators really spilled.  A distinct over
a union spills too (the union hands the task's budget on).

The budget per operator is --memory / --slots = 256 KiB / 2 = 128 KiB,
while the facts file is about 6 MB and the dimension file about 1.5 MB, so
the final aggregate (30000 groups), the join's build side and the sort
(which one reduce task does whole) all go over it many times.
"""
import csv
import random
import re
import sqlite3
from collections import Counter

import duckdb

FACTS = {"id": "BIGINT", "k": "BIGINT", "s": "VARCHAR", "amt": "DECIMAL(10,2)",
         "note": "VARCHAR"}
DIM = {"k": "BIGINT", "name": "VARCHAR", "w": "INTEGER"}
WORDS = ["alpha", "Ωmega", "naïve", "日本語", "a,b", 'say "hi"', "zeta", "🙂"]

DAG = """version: 1
name: spill
params: {data: x, warehouse: x}
warehouse: {driver: sqlite, path: "${warehouse}"}
nodes:
  facts: {op: read, format: csv, path: "${data}/facts.csv",
          schema: {id: int64, k: int64, s: string, amt: "decimal(10,2)", note: string}}
  dim: {op: read, format: csv, path: "${data}/dim.csv", schema: {k: int64, name: string, w: int32}}
  per_k: {op: aggregate, input: facts, group_by: [k],
          aggregates: {n: count(*), total: sum(amt), ds: count(distinct s), lo: min(note),
                       hi: max(amt)}}
  w_agg: {op: write, input: per_k, to: warehouse, table: agg}
  joined: {op: join, left: facts, right: dim, on: [k], how: inner}
  w_join: {op: write, input: joined, to: warehouse, table: joined}
  lj: {op: join, left: dim, right: facts, on: [k], how: left}
  lj_small: {op: select, input: lj, columns: {k: k, name: name, id: id}}
  w_lj: {op: write, input: lj_small, to: warehouse, table: left_joined}
  sorted: {op: sort, input: facts, by: [s nulls first, amt desc, id]}
  w_sort: {op: write, input: sorted, to: warehouse, table: sorted}
"""

MEMORY = 256 * 1024
SLOTS = 2


def maybe(rng, v, p=0.05):
    return None if rng.random() < p else v


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def make_data(d):
    rng = random.Random(7)
    facts = []
    for i in range(90000):
        # skewed: a fifth of the rows share key 1
        k = 1 if rng.random() < 0.2 else rng.randint(0, 30000)
        facts.append([i, maybe(rng, k), maybe(rng, rng.choice(WORDS) + str(rng.randint(0, 40))),
                      maybe(rng, f"{rng.randint(-99999, 999999) / 100:.2f}"),
                      maybe(rng, f"note {rng.randint(0, 10**9):09d} " + rng.choice(WORDS))])
    write_csv(d / "facts.csv", list(FACTS), facts)
    dim = [[k, maybe(rng, f"name of {k} " + rng.choice(WORDS)), rng.randint(-5, 5)]
           for k in range(0, 40000, 1)]
    dim += [[1, "second row for key 1", 0], [None, "null key", 1]]
    write_csv(d / "dim.csv", list(DIM), dim)


def duck(con, d):
    def rd(name, cols):
        spec = ", ".join(f"'{k}': '{v}'" for k, v in cols.items())
        return (f"read_csv('{d / name}', header=true, delim=',', quote='\"', escape='\"', "
                f"nullstr='', columns={{{spec}}})")
    con.execute(f"CREATE TABLE facts AS SELECT * FROM {rd('facts.csv', FACTS)}")
    con.execute(f"CREATE TABLE dim AS SELECT * FROM {rd('dim.csv', DIM)}")


def norm(v):
    if v is None:
        return None
    if isinstance(v, str):
        return v
    f = float(v)
    return int(f) if f == int(f) else round(f, 2)


def rows(cur):
    return [tuple(norm(v) for v in r) for r in cur.fetchall()]


def table(db, name):
    con = sqlite3.connect(db)
    try:
        return rows(con.execute(f'SELECT * FROM "{name}"'))
    finally:
        con.close()


def test_spilling_operators_match_duckdb(cluster_factory, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    make_data(d)
    assert (d / "facts.csv").stat().st_size > 20 * MEMORY // SLOTS
    c = cluster_factory(executors=2, executor_args=("--memory", str(MEMORY), "--slots",
                                                    str(SLOTS), "--spill-dir", str(tmp_path)))
    r = c.post("/v1/jobs", json={"dag": DAG, "params": {"data": "data", "warehouse": "wh.db"}})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"], timeout=240)
    assert done["state"] == "succeeded", done

    con = duckdb.connect()
    duck(con, d)
    db = tmp_path / "wh.db"
    want = rows(con.execute(
        "SELECT k, count(*) AS n, sum(amt) AS total, count(DISTINCT s) AS ds, min(note) AS lo, "
        "max(amt) AS hi FROM facts GROUP BY k"))
    assert Counter(table(db, "agg")) == Counter(want)
    want = rows(con.execute(
        "SELECT f.id, f.k, f.s, f.amt, f.note, d.name, d.w FROM facts f JOIN dim d ON f.k = d.k"))
    got = table(db, "joined")
    assert len(got) > 80000 and Counter(got) == Counter(want)
    want = rows(con.execute(
        "SELECT d.k, d.name, f.id FROM dim d LEFT JOIN facts f ON d.k = f.k"))
    assert Counter(table(db, "left_joined")) == Counter(want)
    want = rows(con.execute(
        "SELECT * FROM facts ORDER BY s NULLS FIRST, amt DESC NULLS FIRST, id"))
    assert table(db, "sorted") == want

    logs = "".join(p.read_text() for p in tmp_path.glob("executor-*.log"))
    spilled = [int(m) for m in re.findall(r"operators spilled (\d+) bytes", logs)]
    assert spilled and sum(spilled) > 4 * MEMORY, logs[-3000:]
    assert f"budget {MEMORY // SLOTS} bytes per operator" in logs


UNION_DAG = """version: 1
name: spill_union
params: {data: x, warehouse: x}
warehouse: {driver: sqlite, path: "${warehouse}"}
nodes:
  a: {op: read, format: csv, path: "${data}/facts.csv",
      schema: {id: int64, k: int64, s: string, amt: "decimal(10,2)", note: string}}
  b: {op: read, format: csv, path: "${data}/facts_b.csv",
      schema: {id: int64, k: int64, s: string, amt: "decimal(10,2)", note: string}}
  both: {op: union, inputs: [a, b], distinct: true}
  w: {op: write, input: both, to: warehouse, table: u}
"""


def test_distinct_over_a_union_spills(cluster_factory, tmp_path):
    """The scan stage runs a distinct over the union of the two reads: it
    gets the task's budget through the union and spills (stage 0's tasks
    say so in the executor logs); the rows equal DuckDB's UNION."""
    d = tmp_path / "data"
    d.mkdir()
    make_data(d)
    # the second input: the first half of the facts again (duplicates) and
    # new rows
    lines = (d / "facts.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    half = lines[: len(lines) // 2]
    extra = [l.replace(",", ",7", 1) for l in lines[1: len(lines) // 4]]
    (d / "facts_b.csv").write_text("".join(half + extra), encoding="utf-8")
    c = cluster_factory(executors=2, executor_args=("--memory", str(MEMORY), "--slots",
                                                    str(SLOTS), "--spill-dir", str(tmp_path)))
    r = c.post("/v1/jobs", json={"dag": UNION_DAG, "params": {"data": "data", "warehouse": "wh.db"}})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"], timeout=240)
    assert done["state"] == "succeeded", done

    con = duckdb.connect()
    duck(con, d)
    spec = ", ".join(f"'{k}': '{v}'" for k, v in FACTS.items())
    con.execute(f"CREATE TABLE facts_b AS SELECT * FROM read_csv('{d / 'facts_b.csv'}', "
                f"header=true, delim=',', quote='\"', escape='\"', nullstr='', "
                f"columns={{{spec}}})")
    want = rows(con.execute("SELECT * FROM facts UNION SELECT * FROM facts_b"))
    assert Counter(table(tmp_path / "wh.db", "u")) == Counter(want)

    logs = "".join(p.read_text() for p in tmp_path.glob("executor-*.log"))
    spilled = [int(m) for m in re.findall(r"stage=0 task=\d+ attempt=\d+ operators spilled (\d+) "
                                          r"bytes", logs)]
    assert spilled and max(spilled) > 4 * MEMORY // SLOTS, logs[-3000:]
