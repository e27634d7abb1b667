"""The window op end to end against PostgreSQL: `millrace run` computes
window columns over generated CSV data into a PostgreSQL warehouse, and
the same server computes the same windows with SQL over the same rows;
both are compared row by row (ordered by the unique id).

The data has NULLs in every column, many ties in the order column (rank,
dense_rank, percent_rank, cume_dist and range frames see peers; range
frames with offsets over an int and a decimal column, in both
directions), one partition holding most rows, forty single-row partitions, a NULL
partition, and an empty input.  Functions that depend on the order among
peers (row_number, lag, rows frames...) order by (o desc, id), which is
total.  A last test runs with a small --memory, so the sort under the
window spills, and checks the same answers.
"""
import csv
import decimal
import math
import random
import re
import sqlite3

import pytest

import pg
from conftest import run_cli

COLS = ["id", "g", "o", "v", "x", "d", "s"]
SCHEMA = ('{id: int64, g: int32, o: int32, v: int64, x: float64, d: "decimal(10,2)", '
          's: string}')
PG_TABLE = ("CREATE TABLE src (id bigint, g int, o int, v bigint, x double precision, "
            "d numeric(10,2), s text)")
WORDS = ["apple", "kiwi", "fig", "plum", "pear", "lime", "date", "yuzu"]

PEERS = "PARTITION BY g ORDER BY o"
ROWS = "PARTITION BY g ORDER BY o DESC, id"
ALL = "ORDER BY id"
NOKEY = "PARTITION BY g"

# (node, column, millrace window expression, PostgreSQL function, frame, kind)
# kind: i exact, f float, a6 avg rounded to 6 places (decimal(18,6)), fa avg of ints
FUNCS = [
    ("peers", "rk", "rank()", "rank()", "", "i"),
    ("peers", "dr", "dense_rank()", "dense_rank()", "", "i"),
    ("peers", "pr", "percent_rank()", "percent_rank()", "", "f"),
    ("peers", "cd", "cume_dist()", "cume_dist()", "", "f"),
    ("peers", "p_cnt", "count(*)", "count(*)", "", "i"),
    ("peers", "p_sv", "sum(v)", "sum(v)", "", "i"),
    ("peers", "p_av", "avg(d)", "avg(d)", "", "a6"),
    ("peers", "p_ax", "avg(x)", "avg(x)", "", "f"),
    ("peers", "p_mn", "min(x)", "min(x)", "", "f"),
    ("peers", "p_mx", "max(s)", "max(s)", "", "i"),
    ("peers", "p_cx", "count(x)", "count(x)", "range between current row and unbounded following", "i"),
    ("peers", "p_all", "sum(v)", "sum(v)", "range between unbounded preceding and unbounded following", "i"),
    ("peers", "p_lv", "last_value(o)", "last_value(o)", "", "i"),
    ("peers", "p_md", "max(d)", "max(d)", "range between current row and current row", "i"),
    ("peers", "ro", "sum(v)", "sum(v)", "range between 3 preceding and 2 following", "i"),
    ("peers", "ro2", "count(*)", "count(*)", "range between 5 following and unbounded following", "i"),
    ("peers", "ro3", "max(x)", "max(x)", "range between unbounded preceding and 2 preceding", "f"),
    ("peers", "ro4", "first_value(o)", "first_value(o)", "range 4 preceding", "i"),
    ("rdesc", "rd", "sum(v)", "sum(v)", "range between 1 preceding and 4 following", "i"),
    ("rdesc", "rdm", "min(d)", "min(d)", "range 2 preceding", "i"),
    ("rdec", "rdd", "count(*)", "count(*)", "range between 10 preceding and 10 following", "i"),
    ("rdec", "rds", "sum(v)", "sum(v)", "range between current row and 25 following", "i"),
    ("rows", "rn", "row_number()", "row_number()", "", "i"),
    ("rows", "nt", "ntile(4)", "ntile(4)", "", "i"),
    ("rows", "nt7", "ntile(7)", "ntile(7)", "", "i"),
    ("rows", "lg", "lag(v)", "lag(v)", "", "i"),
    ("rows", "lg2", "lag(d, 2, 0)", "lag(d, 2, 0)", "", "i"),
    ("rows", "ld", "lead(s, 1, 'none')", "lead(s, 1, 'none')", "", "i"),
    ("rows", "ld3", "lead(x, 3)", "lead(x, 3)", "", "f"),
    ("rows", "fv", "first_value(v)", "first_value(v)", "", "i"),
    ("rows", "lv", "last_value(v)", "last_value(v)", "", "i"),
    ("rows", "lvall", "last_value(v)", "last_value(v)", "rows between unbounded preceding and unbounded following", "i"),
    ("rows", "nv", "nth_value(x, 3)", "nth_value(x, 3)", "rows between unbounded preceding and current row", "f"),
    ("rows", "nv2", "nth_value(s, 2)", "nth_value(s, 2)", "rows between 1 preceding and 1 following", "i"),
    ("rows", "s5", "sum(v)", "sum(v)", "rows between 2 preceding and 2 following", "i"),
    ("rows", "a7", "avg(x)", "avg(x)", "rows between 6 preceding and current row", "f"),
    ("rows", "ad", "avg(d)", "avg(d)", "rows between 3 preceding and 1 following", "a6"),
    ("rows", "mn3", "min(v)", "min(v)", "rows between 1 following and 3 following", "i"),
    ("rows", "mxd", "max(d)", "max(d)", "rows between unbounded preceding and 1 preceding", "i"),
    ("rows", "c5", "count(x)", "count(x)", "rows between current row and unbounded following", "i"),
    ("rows", "sd", "sum(d)", "sum(d)", "rows 3 preceding", "i"),
    ("rows", "cs", "count(*)", "count(*)", "rows between 2 following and 5 following", "i"),
    ("rows", "fx", "first_value(x)", "first_value(x)", "rows between 2 following and unbounded following", "f"),
    ("rows", "mnf", "min(x)", "min(x)", "rows between 2 preceding and 2 preceding", "f"),
    ("whole", "w_rn", "row_number()", "row_number()", "", "i"),
    ("whole", "w_run", "sum(v)", "sum(v)", "", "i"),
    ("whole", "w_mv", "avg(v)", "avg(v)", "rows between 6 preceding and current row", "fa"),
    ("nokey", "k_cnt", "count(*)", "count(*)", "", "i"),
    ("nokey", "k_sum", "sum(d)", "sum(d)", "", "i"),
    ("nokey", "k_rk", "rank()", "rank()", "", "i"),
    ("nokey", "k_cd", "cume_dist()", "cume_dist()", "", "f"),
    ("nokey", "k_mx", "max(v)", "max(v)", "", "i"),
]
NODES = {"peers": ("t", "[g]", "[o]", PEERS),
         "rdesc": ("peers", "[g]", "[o desc]", "PARTITION BY g ORDER BY o DESC"),
         "rdec": ("rdesc", "[g]", "[d]", "PARTITION BY g ORDER BY d"),
         "rows": ("rdec", "[g]", "[o desc, id]", ROWS),
         "whole": ("rows", None, "[id]", ALL), "nokey": ("whole", "[g]", None, NOKEY)}


def maybe(rng, v, p=0.15):
    return None if rng.random() < p else v


def make_rows(n, seed=16):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        r = rng.random()
        g = (1 if r < 0.6 else None if r < 0.65 else 100 + i if i < 40 else rng.randint(2, 20))
        rows.append([i, g, maybe(rng, rng.randint(0, 30)), maybe(rng, rng.randint(-1000, 1000)),
                     maybe(rng, round(rng.uniform(-100, 100), 3)),
                     maybe(rng, decimal.Decimal(rng.randint(-99999, 99999)) / 100),
                     maybe(rng, rng.choice(WORDS))])
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLS)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


def dag_text(warehouse, funcs=FUNCS, nodes=NODES, last="nokey"):
    out = ["version: 1", "name: windows", "params: {data: x}", warehouse, "nodes:",
           f'  t: {{op: read, format: csv, path: "${{data}}/t.csv", schema: {SCHEMA}}}',
           f'  e: {{op: read, format: csv, path: "${{data}}/empty.csv", schema: {SCHEMA}}}']
    for node, (inp, part, order, _) in nodes.items():
        out += [f"  {node}:", "    op: window", f"    input: {inp}"]
        if part:
            out.append(f"    partition_by: {part}")
        if order:
            out.append(f"    order_by: {order}")
        out.append("    columns:")
        out += [f'      {c}: "{m} {fr}"' for n, c, m, _, fr, _ in funcs if n == node]
    out += ["  ew: {op: window, input: e, partition_by: [g], order_by: [o],",
            "       columns: {rn: row_number(), sv: sum(v)}}",
            f"  save: {{op: write, input: {last}, to: warehouse, table: win_out, mode: overwrite}}",
            "  save_empty: {op: write, input: ew, to: warehouse, table: win_empty, mode: overwrite}"]
    return "\n".join(out) + "\n"


def load_pg(dsn, rows):
    import psycopg
    with psycopg.connect(dsn) as con:
        con.execute(PG_TABLE)
        with con.cursor() as cur:
            cur.executemany("INSERT INTO src VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


def pg_expected(dsn, funcs=FUNCS, nodes=NODES):
    sel = []
    for node, c, _, f, fr, kind in funcs:
        e = f"{f} OVER ({nodes[node][3]} {fr})"
        sel.append(f"round({e}, 6)" if kind == "a6" else e)
    return pg.query(dsn, f"SELECT id, {', '.join(sel)} FROM src ORDER BY id")


def same(a, b, kind):
    if a is None or b is None:
        return a is None and b is None
    if kind in ("f", "fa"):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def compare(got, want, funcs=FUNCS):
    assert len(got) == len(want)
    bad = []
    for g, w in zip(got, want):
        assert g[0] == w[0]
        for k, f in enumerate(funcs):
            if not same(g[k + 1], w[k + 1], f[5]):
                bad.append((g[0], f[1], g[k + 1], w[k + 1]))
    assert not bad, f"{len(bad)} differences, first: {bad[:10]}"


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def test_window_matches_postgres(tmp_path, pg_db):
    rows = make_rows(3000)
    write_csv(tmp_path / "t.csv", rows)
    write_csv(tmp_path / "empty.csv", [])
    dag = tmp_path / "windows.yaml"
    dag.write_text(dag_text('warehouse: {driver: postgres, dsn: "${env:MILLRACE_WAREHOUSE_DSN}"}'))
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("explain", dag, "--param", f"data={tmp_path}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"hash\(g\) into \d+ partitions", r.stdout)
    assert "sort peers (g, o) -> window peers (partition by g order by o: rk," in r.stdout
    assert "sort whole (id) -> window whole (order by id: w_rn, w_run, w_mv)" in r.stdout
    assert "all rows into 1 partition" in r.stdout
    r = run_cli("run", dag, "--param", f"data={tmp_path}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    load_pg(pg_db, rows)
    got = pg.query(pg_db, f"SELECT id, {', '.join(f[1] for f in FUNCS)} FROM win_out ORDER BY id")
    compare(got, pg_expected(pg_db))
    assert pg.query(pg_db, "SELECT count(*) FROM win_empty") == [(0,)]


SPILL_FUNCS = [
    ("w", "rn", "row_number()", "row_number()", "", "i"),
    ("w", "run", "sum(v)", "sum(v)", "", "i"),
    ("w", "mv", "avg(v)", "avg(v)", "rows between 6 preceding and current row", "fa"),
    ("w", "lg", "lag(s)", "lag(s)", "", "i"),
]
SPILL_NODES = {"w": ("t", "[g]", "[o, id]", "PARTITION BY g ORDER BY o, id")}
MEMORY, SLOTS = 256 * 1024, 2


def test_window_spills(cluster_factory, tmp_path, pg_db):
    """With 128 KiB per operator the sort under the window spills; the one
    large partition (60% of 60,000 rows) is held by the window, which does
    not spill (window.h says so), and the answers match PostgreSQL's."""
    d = tmp_path / "data"
    d.mkdir()
    rows = make_rows(60000, seed=7)
    write_csv(d / "t.csv", rows)
    write_csv(d / "empty.csv", [])
    c = cluster_factory(executors=2, executor_args=("--memory", str(MEMORY), "--slots",
                                                    str(SLOTS), "--spill-dir", str(tmp_path)))
    text = dag_text('warehouse: {driver: sqlite, path: "wh.db"}', SPILL_FUNCS, SPILL_NODES, "w")
    r = c.post("/v1/jobs", json={"dag": text, "params": {"data": "data"}})
    assert r.status_code == 201, r.text
    done = c.wait_job(r.json()["id"], timeout=240)
    assert done["state"] == "succeeded", done
    con = sqlite3.connect(tmp_path / "wh.db")
    got = con.execute("SELECT id, rn, run, mv, lg FROM win_out ORDER BY id").fetchall()
    con.close()
    load_pg(pg_db, rows)
    compare(got, pg_expected(pg_db, SPILL_FUNCS, SPILL_NODES), SPILL_FUNCS)
    logs = "".join(p.read_text() for p in tmp_path.glob("executor-*.log"))
    spilled = [int(m) for m in re.findall(r"operators spilled (\d+) bytes", logs)]
    assert spilled and sum(spilled) > 4 * MEMORY, logs[-3000:]
