"""on_schema_change on SQLite and PostgreSQL: a table with extra defaulted
columns takes appends without them; fail (the default) refuses a table
that lacks a written column or has one without a default; add_columns
adds the missing ones; recreate (with overwrite) drops and creates the
table; each inside the commit's transaction, so a failing post_sql
leaves the table exactly as it was."""
import sqlite3

import pytest

import pg
from conftest import run_cli

PG_WAREHOUSE = 'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'

DAG = """version: 1
name: schema_change
%(warehouse)s
nodes:
  r:
    op: read
    format: csv
    path: %(csv)s
    schema: {id: int64, name: string, qty: int32}
  w:
    op: write
    input: r
    to: warehouse
    table: %(table)s
    mode: %(mode)s
%(extra)s
%(post)s
"""


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


class Sqlite:
    table = "t"
    now_default = "TEXT DEFAULT CURRENT_TIMESTAMP"

    def __init__(self, path):
        self.path = path
        self.block = f"warehouse: {{path: {path}}}"
        self.env = None

    def sql(self, script):
        con = sqlite3.connect(self.path)
        con.executescript(script)
        con.close()

    def rows(self, cols="*"):
        return sqlite3.connect(self.path).execute(f"SELECT {cols} FROM t ORDER BY 1").fetchall()

    def columns(self):
        return [r[1] for r in sqlite3.connect(self.path).execute("PRAGMA table_info(t)")]


class Postgres:
    table = "public.t"
    now_default = "timestamp DEFAULT now()"

    def __init__(self, dsn):
        self.dsn = dsn
        self.block = PG_WAREHOUSE
        self.env = {"MILLRACE_WAREHOUSE_DSN": dsn}

    def sql(self, script):
        import psycopg
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(script)

    def rows(self, cols="*"):
        return [tuple(r) for r in pg.query(self.dsn, f"SELECT {cols} FROM public.t ORDER BY 1")]

    def columns(self):
        return [r[0] for r in pg.query(
            self.dsn, "SELECT column_name FROM information_schema.columns WHERE "
                      "table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position")]


@pytest.fixture(params=["sqlite", "postgres"])
def wh(request, tmp_path):
    if request.param == "sqlite":
        yield Sqlite(tmp_path / "wh.db")
        return
    with pg.database(request.getfixturevalue("pg_server")) as dsn:
        yield Postgres(dsn)


def run(tmp_path, wh, rows, mode="append", on_schema_change=None, post_sql=None):
    d = tmp_path / f"in_{len(list(tmp_path.glob('in_*')))}"
    d.mkdir()
    (d / "a.csv").write_text("id,name,qty\n" + "".join(f"{i},{n},{q}\n" for i, n, q in rows))
    extra = f"    on_schema_change: {on_schema_change}\n" if on_schema_change else ""
    post = f"post_sql:\n  - {post_sql}\n" if post_sql else ""
    dag = d / "dag.yaml"
    dag.write_text(DAG % {"warehouse": wh.block, "csv": f'"{d}/a.csv"', "table": wh.table,
                          "mode": mode, "extra": extra, "post": post})
    return run_cli("run", dag, "--executors", 2, env=wh.env)


def test_append_fills_defaulted_columns(tmp_path, wh):
    wh.sql(f"CREATE TABLE t (id BIGINT, name TEXT, qty INTEGER, loaded_at {wh.now_default}, "
           f"source TEXT DEFAULT 'millrace')")
    r = run(tmp_path, wh, [(1, "a", 10), (2, "b", 20)])
    assert r.returncode == 0, r.stdout + r.stderr
    got = wh.rows()
    assert [g[:3] for g in got] == [(1, "a", 10), (2, "b", 20)]
    assert all(g[3] is not None and g[4] == "millrace" for g in got), got


def test_fail_is_the_default(tmp_path, wh):
    # the table lacks qty: refused, naming it, nothing changes
    wh.sql("CREATE TABLE t (id BIGINT, name TEXT); INSERT INTO t VALUES (1, 'old')")
    r = run(tmp_path, wh, [(2, "b", 20)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'exists without column "qty"' in r.stderr and "add_columns" in r.stderr, r.stderr
    assert wh.rows() == [(1, "old")] and wh.columns() == ["id", "name"]

    # an extra column without a default: refused too
    wh.sql("DROP TABLE t; CREATE TABLE t (id BIGINT, name TEXT, qty INTEGER, note TEXT)")
    r = run(tmp_path, wh, [(2, "b", 20)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "note has no default" in r.stderr, r.stderr
    assert wh.rows() == []


def test_add_columns(tmp_path, wh):
    wh.sql("CREATE TABLE t (id BIGINT, note TEXT, name TEXT); "
           "INSERT INTO t VALUES (1, 'kept', 'old')")
    r = run(tmp_path, wh, [(2, "b", 20), (3, "c", 30)], on_schema_change="add_columns")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh.columns() == ["id", "note", "name", "qty"]
    assert wh.rows("id, note, name, qty") == [(1, "kept", "old", None), (2, None, "b", 20),
                                              (3, None, "c", 30)]
    # upsert with add_columns, into the table as it is now: nothing to add
    r = run(tmp_path, wh, [(3, "c2", 31)], mode="upsert\n    key: [id]",
            on_schema_change="add_columns")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh.rows("id, name, qty")[-1] == (3, "c2", 31)


def test_add_columns_rolls_back_with_post_sql(tmp_path, wh):
    wh.sql("CREATE TABLE t (id BIGINT, name TEXT); INSERT INTO t VALUES (1, 'old')")
    r = run(tmp_path, wh, [(2, "b", 20)], on_schema_change="add_columns",
            post_sql="SELECT * FROM no_such_table")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "post_sql statement 1" in r.stderr, r.stderr
    assert wh.columns() == ["id", "name"] and wh.rows() == [(1, "old")]


def test_recreate(tmp_path, wh):
    wh.sql("CREATE TABLE t (id TEXT, legacy TEXT); INSERT INTO t VALUES ('x', 'y')")
    # a failing post_sql: the drop and the new table roll back
    r = run(tmp_path, wh, [(2, "b", 20)], mode="overwrite", on_schema_change="recreate",
            post_sql="SELECT * FROM no_such_table")
    assert r.returncode == 1, r.stdout + r.stderr
    assert wh.columns() == ["id", "legacy"] and wh.rows() == [("x", "y")]

    r = run(tmp_path, wh, [(2, "b", 20), (1, "a", 10)], mode="overwrite",
            on_schema_change="recreate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh.columns() == ["id", "name", "qty"]
    assert wh.rows() == [(1, "a", 10), (2, "b", 20)]

    # a table that fits is overwritten, not recreated: its extra defaulted column stays
    wh.sql("ALTER TABLE t ADD COLUMN source TEXT DEFAULT 'm'")
    r = run(tmp_path, wh, [(5, "e", 50)], mode="overwrite", on_schema_change="recreate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh.columns() == ["id", "name", "qty", "source"]
    assert [g[:3] for g in wh.rows()] == [(5, "e", 50)]


def test_validate_checks_without_altering(tmp_path, wh):
    """`millrace validate` checks tables (a rolled-back check): a table that
    add_columns would change passes and stays as it is; with fail it is an
    error naming the column."""
    wh.sql("CREATE TABLE t (id BIGINT, name TEXT); INSERT INTO t VALUES (1, 'old')")
    (tmp_path / "a.csv").write_text("id,name,qty\n2,b,20\n")
    for change, code in (("add_columns", 0), ("recreate", 0), ("fail", 2)):
        dag = tmp_path / f"{change}.yaml"
        dag.write_text(DAG % {"warehouse": wh.block, "csv": f'"{tmp_path}/a.csv"',
                              "table": wh.table, "mode": "overwrite",
                              "extra": f"    on_schema_change: {change}\n", "post": ""})
        r = run_cli("validate", dag, env=wh.env)
        assert r.returncode == code, (change, r.stdout + r.stderr)
        if code:
            assert 'without column "qty"' in r.stderr, r.stderr
        assert wh.columns() == ["id", "name"] and wh.rows() == [(1, "old")]
