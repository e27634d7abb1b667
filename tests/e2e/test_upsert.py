"""Upsert through a DAG takes one row per key, on SQLite and PostgreSQL:
keys staged twice (by the tasks of two files) or NULL fail the job
with a message naming the key, and leave the table as it was; a clean
upsert gives the table DuckDB computes from the same files."""
import sqlite3

import duckdb
import pytest

import pg
from conftest import run_cli

PG_WAREHOUSE = 'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'

DAG = """version: 1
name: up
%(warehouse)s
nodes:
  r:
    op: read
    format: csv
    path: %(csv)s
    schema: {id: int64, name: string, qty: int32}
  w: {op: write, input: r, to: warehouse, table: %(table)s, mode: %(mode)s%(key)s}
"""


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
def wh(request, tmp_path):
    """(warehouse block, env, table name, rows of the table) for one driver."""
    if request.param == "sqlite":
        path = tmp_path / "wh.db"
        def rows():
            return sqlite3.connect(path).execute("SELECT id, name, qty FROM t ORDER BY id").fetchall()
        yield f"warehouse: {{path: {path}}}", None, "t", rows
        return
    server = request.getfixturevalue("pg_server")
    with pg.database(server) as dsn:
        yield (PG_WAREHOUSE, {"MILLRACE_WAREHOUSE_DSN": dsn}, "public.t",
               lambda: pg.query(dsn, "SELECT id, name, qty FROM public.t ORDER BY id"))


def write_csv(path, rows):
    path.write_text("id,name,qty\n" + "".join(f"{i},{n},{q}\n" for i, n, q in rows))


def run(tmp_path, wh, rows, mode):
    block, env, table, _ = wh
    # two files, so the rows come from two tasks
    d = tmp_path / f"in_{mode}_{len(list(tmp_path.glob('in_*')))}"
    d.mkdir()
    half = len(rows) // 2
    write_csv(d / "1.csv", rows[:half])
    write_csv(d / "2.csv", rows[half:])
    dag = tmp_path / f"{mode}.yaml"
    dag.write_text(DAG % {"warehouse": block, "csv": f'"{d}/*.csv"', "table": table,
                          "mode": mode, "key": ", key: [id]" if mode == "upsert" else ""})
    return run_cli("run", dag, "--executors", 2, env=env), d


def test_upsert_one_row_per_key(tmp_path, wh):
    rows = wh[3]
    first = [(i, f"a{i}", i) for i in range(1, 41)]
    r, _ = run(tmp_path, wh, first, "append")
    assert r.returncode == 0, r.stdout + r.stderr
    before = rows()

    # key 30 in both files (two tasks), key 7 twice in the second
    dup = [(i, f"b{i}", 100 + i) for i in range(30, 60)] + [(7, "x", 1), (7, "z", 3),
                                                             (30, "y", 2)]
    r, _ = run(tmp_path, wh, dup, "upsert")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "key (id)=(7) appears in 2 rows" in r.stderr and "2 keys in all" in r.stderr, r.stderr
    assert rows() == before

    r, _ = run(tmp_path, wh, [(50, "c", 1), ("", "no key", 2)], "upsert")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 row of the job has a NULL key (key: id)" in r.stderr, r.stderr
    assert rows() == before

    clean = [(i, f"b{i}", 100 + i) for i in range(30, 60)]
    r, csv = run(tmp_path, wh, clean, "upsert")
    assert r.returncode == 0, r.stdout + r.stderr
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id BIGINT, name VARCHAR, qty INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", before)
    files = str(csv / "*.csv")
    con.execute("DELETE FROM t WHERE id IN (SELECT id FROM read_csv(?, header=true))", [files])
    con.execute("INSERT INTO t SELECT id, name, qty FROM read_csv(?, header=true, "
                "columns={'id': 'BIGINT', 'name': 'VARCHAR', 'qty': 'INTEGER'})", [files])
    want = con.execute("SELECT id, name, qty FROM t ORDER BY id").fetchall()
    assert rows() == want
    assert len(want) == 59
