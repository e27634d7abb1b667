"""Upsert as MERGE on SQLite and PostgreSQL: `dedupe` picks each key's
winning row, `delete_where` deletes keys (change data capture), ties on
the dedupe order and NULL keys fail the job and leave the table as it
was.  The expected table is computed by DuckDB over the same files."""
import random
import sqlite3

import duckdb
import pytest

import pg
from conftest import run_cli

PG_WAREHOUSE = 'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
COLS = "id, name, seq, op"
SCHEMA = "{id: int64, name: string, seq: int32, op: string}"
DUCK_COLUMNS = {"id": "BIGINT", "name": "VARCHAR", "seq": "INTEGER", "op": "VARCHAR"}

DAG = """version: 1
name: merge
%(warehouse)s
nodes:
  r:
    op: read
    format: csv
    path: %(csv)s
    schema: %(schema)s
  w:
    op: write
    input: r
    to: warehouse
    table: %(table)s
    mode: %(mode)s
%(extra)s
"""


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
def wh(request, tmp_path):
    """(warehouse block, env, table name, rows of the table) for one driver."""
    order = f"SELECT {COLS} FROM %s ORDER BY id"
    if request.param == "sqlite":
        path = tmp_path / "wh.db"
        yield (f"warehouse: {{path: {path}}}", None, "t",
               lambda: sqlite3.connect(path).execute(order % "t").fetchall())
        return
    server = request.getfixturevalue("pg_server")
    with pg.database(server) as dsn:
        yield (PG_WAREHOUSE, {"MILLRACE_WAREHOUSE_DSN": dsn}, "public.t",
               lambda: pg.query(dsn, order % "public.t"))


def field(v):
    return "" if v is None else str(v)


def run(tmp_path, wh, files, mode, extra=""):
    """Writes each list of rows of files as one CSV file (one task each)
    and runs the DAG; returns the CompletedProcess and the glob."""
    block, env, table, _ = wh
    d = tmp_path / f"in_{len(list(tmp_path.glob('in_*')))}"
    d.mkdir()
    for i, rows in enumerate(files):
        (d / f"{i}.csv").write_text("id,name,seq,op\n" + "".join(
            ",".join(field(v) for v in r) + "\n" for r in rows))
    dag = d / "dag.yaml"
    dag.write_text(DAG % {"warehouse": block, "csv": f'"{d}/*.csv"', "schema": SCHEMA,
                          "table": table, "mode": mode, "extra": extra})
    return run_cli("run", dag, "--executors", 2, env=env), str(d / "*.csv")


def duck_oracle(before, files_glob, dedupe_sql, delete_sql):
    """The table after the MERGE, computed by DuckDB from the same files."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id BIGINT, name VARCHAR, seq INTEGER, op VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", before)
    con.execute("CREATE TABLE src AS SELECT * FROM read_csv(?, header=true, columns=?)",
                [files_glob, DUCK_COLUMNS])
    con.execute("DELETE FROM t WHERE id IN (SELECT id FROM src)")
    con.execute(f"""INSERT INTO t SELECT {COLS} FROM (
                      SELECT *, row_number() OVER (PARTITION BY id ORDER BY {dedupe_sql}) AS rn
                      FROM src) WHERE rn = 1 AND NOT coalesce({delete_sql}, false)""")
    return con.execute(f"SELECT {COLS} FROM t ORDER BY id").fetchall()


def seed(tmp_path, wh, n=40):
    first = [(i, f"old{i}", 0, "u") for i in range(1, n + 1)]
    r, _ = run(tmp_path, wh, [first[: n // 2], first[n // 2:]], "append")
    assert r.returncode == 0, r.stdout + r.stderr
    return wh[3]()


def change_rows(rng, n):
    """n change rows over keys 1..60: several per key, seq sometimes NULL,
    names that sort differently bytewise and by a language's collation
    ('B' < 'a' in bytes), op 'd' (delete), 'u' or NULL; no two rows of a key
    tie on (seq, name)."""
    seen, rows = set(), []
    while len(rows) < n:
        r = (rng.randint(1, 60), rng.choice(["a", "B", "b", "A", "ab", "é"]),
             rng.choice([None, 1, 2, 3, 4]), rng.choice(["d", "u", "u", None]))
        if (r[0], r[1], r[2]) not in seen:
            seen.add((r[0], r[1], r[2]))
            rows.append(r)
    return rows


def test_merge_dedupe_and_delete(tmp_path, wh):
    before = seed(tmp_path, wh)
    rng = random.Random(18)
    rows = change_rows(rng, 240)
    extra = ('    key: [id]\n    dedupe: {order_by: ["seq desc", "name"]}\n'
             '    delete_where: "op = \'d\'"\n')
    r, files = run(tmp_path, wh, [rows[:80], rows[80:160], rows[160:]], "upsert", extra)
    assert r.returncode == 0, r.stdout + r.stderr
    # seq desc puts NULLs first (PostgreSQL's default for desc), names by bytes
    want = duck_oracle(before, files, "seq DESC NULLS FIRST, name ASC NULLS LAST",
                       "op = 'd'")
    assert wh[3]() == want
    deleted = {i for i, *_ in before} - {i for i, *_ in want}
    assert deleted, "the data should delete some of the seeded keys"
    assert any(n in ("B", "A") for _, n, _, _ in want) and any(n in ("a", "b") for _, n, _, _ in want)


def test_merge_dedupe_only(tmp_path, wh):
    before = seed(tmp_path, wh)
    rows = change_rows(random.Random(7), 150)
    extra = '    key: [id]\n    dedupe: {order_by: ["seq nulls first", "name desc"]}\n'
    r, files = run(tmp_path, wh, [rows[:75], rows[75:]], "upsert", extra)
    assert r.returncode == 0, r.stdout + r.stderr
    want = duck_oracle(before, files, "seq ASC NULLS FIRST, name DESC NULLS FIRST",
                       "false")
    assert wh[3]() == want


def test_merge_delete_without_dedupe(tmp_path, wh):
    before = seed(tmp_path, wh)
    rows = [(3, "x", 1, "d"), (5, "y", 1, "u"), (50, "z", 1, "u"), (51, "q", 1, "d"),
            (7, "n", 1, None)]
    extra = '    key: [id]\n    delete_where: "op = \'d\'"\n'
    r, files = run(tmp_path, wh, [rows[:2], rows[2:]], "upsert", extra)
    assert r.returncode == 0, r.stdout + r.stderr
    want = duck_oracle(before, files, "id", "op = 'd'")
    got = wh[3]()
    assert got == want
    assert 3 not in {i for i, *_ in got} and (7, "n", 1, None) in got

    # without dedupe a key written twice still fails, naming it
    r, _ = run(tmp_path, wh, [[(8, "a", 1, "u")], [(8, "b", 2, "d")]], "upsert", extra)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "key (id)=(8) appears in 2 rows" in r.stderr and "dedupe" in r.stderr, r.stderr
    assert wh[3]() == got


def test_merge_tie_and_null_key_fail(tmp_path, wh):
    before = seed(tmp_path, wh)
    extra = '    key: [id]\n    dedupe: {order_by: ["seq desc"]}\n    delete_where: "op = \'d\'"\n'
    # key 5 ties on seq across two tasks; key 9 ties too; key 6 does not
    files = [[(5, "a", 2, "u"), (6, "a", 1, "u"), (9, "a", None, "u")],
             [(5, "b", 2, "d"), (6, "b", 2, "u"), (9, "b", None, "u"), (5, "c", 1, "u")]]
    r, _ = run(tmp_path, wh, files, "upsert", extra)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("(write node 'w'): upsert: key (id)=(5) has 2 rows that tie for first "
            "place under dedupe order_by [seq desc], and 2 keys in all have such a tie") \
        in r.stderr, r.stderr
    assert wh[3]() == before

    r, _ = run(tmp_path, wh, [[(5, "a", 2, "u")], [(None, "b", 1, "u"), (None, "c", 2, "d")]],
               "upsert", extra)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "(write node 'w'): upsert: 2 rows of the job have a NULL key (key: id)" in r.stderr, \
        r.stderr
    assert wh[3]() == before


def test_merge_validation_positions(tmp_path):
    dag = tmp_path / "bad.yaml"
    dag.write_text("""version: 1
name: bad
nodes:
  r: {op: read, format: csv, path: in.csv, schema: {id: int64, v: string}}
  w:
    op: write
    input: r
    to: warehouse
    table: t
    mode: upsert
    key: [id]
    dedupe: {order_by: ["vv desc"]}
    delete_where: "v"
    on_schema_change: sometimes
""")
    (tmp_path / "in.csv").write_text("id,v\n1,a\n")
    r = run_cli("validate", dag)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{dag}:12:25: error: unknown column 'vv' in the input of the write" in r.stderr, r.stderr
    assert f"{dag}:13:19: error: delete_where must be a boolean expression, not string" in r.stderr
    assert f"{dag}:14:23: error: unknown on_schema_change 'sometimes'" in r.stderr, r.stderr
